"""Sends as a whole: the error budget that pauses one, resume and cancel, and the reports
of `digest sends list` and `digest sends show`.

The budget: every copy that fails for good (not a bounce: a refusal of our server, our
login, our message) adds one to the send's `failures_in_row`, and a copy accepted sets
it back to 0. At `DIGEST_ERROR_BUDGET` the send is paused with the reason; claims only
take copies of active sends (`active_send`), so every worker stops taking its copies,
and a batch that used up the budget on its own puts its remaining copies back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendStatus
from digest.errors import InvalidInput, NotFound
from digest.store import sends as store_sends
from digest.store.db import session_scope
from digest.store.models import Delivery, Send

# Copies of a send not yet on their way: what resume hands out and cancel stops.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.DEFERRED)


def active_send() -> ColumnElement[bool]:
    """A condition for claims: the delivery's send is neither paused nor cancelled."""
    return Delivery.send_id.in_(select(Send.id).where(Send.status == SendStatus.ACTIVE))


class ErrorBudget:
    """Counts copies that failed in a row, per send, one batch at a time.

    `outcome` is told each copy's end in the order sent (True: accepted, False: failed;
    bounces and deferrals are neither); `exhausted` says when this batch alone used up
    the budget, so the sender stops at once; `record` writes the batch's counts and pauses
    the sends over their budget, in the batch's own transaction.
    """

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.error_budget
        self.outcomes: list[tuple[int, bool, str]] = []  # delivery id, accepted, error
        self.run = 0  # failures in a row within this batch

    def outcome(self, delivery_id: int, accepted: bool, error: str = "") -> None:
        self.outcomes.append((delivery_id, accepted, error))
        self.run = 0 if accepted else self.run + 1

    @property
    def exhausted(self) -> bool:
        return self.run >= self.limit

    def record(self, session: Session) -> None:
        if not self.outcomes:
            return
        ids = [i for i, _, _ in self.outcomes]
        if all(ok for _, ok, _ in self.outcomes):  # the common case: one statement
            session.execute(
                update(Send)
                .where(
                    Send.failures_in_row > 0,
                    Send.id.in_(select(Delivery.send_id).where(Delivery.id.in_(ids))),
                )
                .values(failures_in_row=0)
                .execution_options(synchronize_session=False)
            )
            return
        rows = session.execute(select(Delivery.id, Delivery.send_id).where(Delivery.id.in_(ids)))
        send_of: dict[int, int] = {delivery_id: send_id for delivery_id, send_id in rows}
        per_send: dict[int, list[tuple[bool, str]]] = {}
        for delivery_id, ok, error in self.outcomes:
            per_send.setdefault(send_of[delivery_id], []).append((ok, error))
        for send_id, seen in per_send.items():
            trailing = 0
            for ok, _ in reversed(seen):
                if ok:
                    break
                trailing += 1
            value = trailing if trailing < len(seen) else Send.failures_in_row + trailing
            session.execute(
                update(Send)
                .where(Send.id == send_id)
                .values(failures_in_row=value)
                .execution_options(synchronize_session=False)
            )
            count = session.scalar(select(Send.failures_in_row).where(Send.id == send_id)) or 0
            if count >= self.limit:
                last_error = next(e for ok, e in reversed(seen) if not ok)
                session.execute(
                    update(Send)
                    .where(Send.id == send_id, Send.status == SendStatus.ACTIVE)
                    .values(
                        status=SendStatus.PAUSED,
                        paused_reason=(
                            f"{count} copies in a row failed (DIGEST_ERROR_BUDGET={self.limit}); "
                            f"the last: {last_error}"
                        )[:2000],
                    )
                    .execution_options(synchronize_session=False)
                )


def _get(session: Session, send_id: int) -> Send:
    send = session.get(Send, send_id)
    if send is None:
        raise NotFound(f"no send #{send_id}; `digest sends list` shows them")
    return send


def pause_reason(settings: Settings, send_id: int) -> str | None:
    """Why the send is paused, or None when it is not."""
    with session_scope(settings.database_url) as session:
        send = _get(session, send_id)
        if send.status != SendStatus.PAUSED:
            return None
        return send.paused_reason or "paused"


def resume(settings: Settings, send_id: int) -> list[int]:
    """Make a paused send active again; returns its copies still to send."""
    with session_scope(settings.database_url) as session:
        send = _get(session, send_id)
        if send.status == SendStatus.CANCELLED:
            raise InvalidInput(f"send #{send_id} was cancelled; it cannot be resumed")
        send.status = SendStatus.ACTIVE
        send.paused_reason = None
        send.failures_in_row = 0
        return list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.send_id == send_id, Delivery.status.in_(WAITING))
                .order_by(Delivery.id)
            )
        )


def cancel(settings: Settings, send_id: int) -> int:
    """Stop a send for good: its copies not yet sent are marked cancelled; returns how many."""
    with session_scope(settings.database_url) as session:
        send = _get(session, send_id)
        send.status = SendStatus.CANCELLED
        result = session.execute(
            update(Delivery)
            .where(Delivery.send_id == send_id, Delivery.status.in_(WAITING))
            .values(status=DeliveryStatus.CANCELLED, last_error="send cancelled")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


# --- reports ------------------------------------------------------------------------------

COUNTED = ("sent", "deferred", "failed", "bounced", "pending", "sending", "skipped", "cancelled")


def _rate(sent: int, first: datetime | None, last: datetime | None) -> float | None:
    if not sent or first is None or last is None:
        return None
    seconds = (last - first).total_seconds()
    return round(sent / seconds, 1) if seconds > 0 else None


def _rows(session: Session, send_ids: list[int] | None) -> list[dict[str, Any]]:
    query = select(Send).order_by(Send.id.desc())
    if send_ids is not None:
        query = query.where(Send.id.in_(send_ids))
    sends = list(session.scalars(query))
    ids = [s.id for s in sends]
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(COUNTED, 0) for i in ids}
    for send_id, status, n in session.execute(
        select(Delivery.send_id, Delivery.status, func.count())
        .where(Delivery.send_id.in_(ids))
        .group_by(Delivery.send_id, Delivery.status)
    ):
        counts[send_id][str(getattr(status, "value", status))] = n
    spans = {
        send_id: (first, last)
        for send_id, first, last in session.execute(
            select(Delivery.send_id, func.min(Delivery.claimed_at), func.max(Delivery.sent_at))
            .where(Delivery.send_id.in_(ids), Delivery.status == DeliveryStatus.SENT)
            .group_by(Delivery.send_id)
        )
    }
    rows = []
    for s in sends:
        c = counts[s.id]
        first, last = spans.get(s.id, (None, None))
        rows.append(
            {
                "id": s.id,
                "created_at": s.created_at,
                "kind": s.kind.value,
                "status": s.status.value,
                "paused_reason": s.paused_reason,
                **c,
                "total": sum(c.values()),
                "rate_per_s": _rate(c["sent"], first, last),
            }
        )
    return rows


def send_rows(settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    with session_scope(settings.database_url) as session:
        ids = list(session.scalars(select(Send.id).order_by(Send.id.desc()).limit(limit)))
        return _rows(session, ids)


def send_detail(settings: Settings, send_id: int) -> dict[str, Any]:
    """One send's counts and rate, and its errors grouped by message (most frequent first)."""
    with session_scope(settings.database_url) as session:
        _get(session, send_id)
        row = _rows(session, [send_id])[0]
        errors = session.execute(
            select(Delivery.status, Delivery.last_error, func.count().label("n"))
            .where(
                Delivery.send_id == send_id,
                Delivery.last_error.is_not(None),
                Delivery.status != DeliveryStatus.SENT,
            )
            .group_by(Delivery.status, Delivery.last_error)
            .order_by(func.count().desc())
            .limit(20)
        )
        row["errors"] = [
            {"status": str(getattr(st, "value", st)), "error": e, "count": n} for st, e, n in errors
        ]
        return row


def send_listing(settings: Settings, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of sends, newest first, with their counts and rates."""
    with session_scope(settings.database_url) as session:
        total = store_sends.count_sends(session)
        rows = _rows(session, store_sends.send_ids(session, limit=limit, offset=offset))
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


SETTLED = ("sent", "failed", "bounced", "skipped", "cancelled")


def send_progress(settings: Settings, send_id: int) -> dict[str, Any]:
    """`send_detail`, with how many copies are settled and whether the send is done (all
    settled, or paused or cancelled: it goes no further by itself, nothing left to watch)."""
    detail = send_detail(settings, send_id)
    settled = sum(detail.get(s, 0) for s in SETTLED)
    detail["settled"] = settled
    detail["done"] = settled >= detail["total"] or detail["status"] != "active"
    return detail
