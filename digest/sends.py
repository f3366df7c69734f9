"""Sends as a whole: the error budget that pauses one, resume and cancel, and the reports
of `digest sends list` and `digest sends show`.

The budget: every copy that fails for good (not a bounce: a refusal of our server, our
login, our message) adds one to the send's `failures_in_row`, and a copy accepted sets
it back to 0. At `DIGEST_ERROR_BUDGET` the send is paused with the reason; claims only
take copies of active sends (`active_send`), so every worker stops taking its copies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.db import session_scope
from digest.errors import InvalidInput, NotFound
from digest.models import Delivery, DeliveryStatus, Send, SendStatus


def active_send() -> ColumnElement[bool]:
    """A condition for claims: the delivery's send is neither paused nor cancelled."""
    return Delivery.send_id.in_(select(Send.id).where(Send.status == SendStatus.ACTIVE))


class ErrorBudget:
    """Counts failures in a row per send for one batch of copies."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.error_budget
        self.dirty: set[int] = set()  # sends whose counter this batch raised

    def failed(self, session: Session, send_id: int, error: str) -> bool:
        """One more failure in a row; True when it paused the send."""
        self.dirty.add(send_id)
        session.execute(
            update(Send).where(Send.id == send_id).values(failures_in_row=Send.failures_in_row + 1)
        )
        count = session.scalar(select(Send.failures_in_row).where(Send.id == send_id)) or 0
        if count < self.limit:
            return False
        paused = session.execute(
            update(Send)
            .where(Send.id == send_id, Send.status == SendStatus.ACTIVE)
            .values(
                status=SendStatus.PAUSED,
                paused_reason=f"{count} copies in a row failed; the last: {error}"[:2000],
            )
        )
        return paused.rowcount == 1  # type: ignore[attr-defined]

    def accepted(self, session: Session, send_id: int) -> None:
        """A copy went out: the row of failures is broken (one write only when needed)."""
        session.execute(
            update(Send)
            .where(Send.id == send_id, Send.failures_in_row > 0)
            .values(failures_in_row=0)
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
                .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.PENDING)
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
            .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.PENDING)
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
