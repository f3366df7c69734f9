"""Sends as a whole: resume and cancel, and the reports of `digest sends list` and
`digest sends show`.

A send is paused by its error budget (`digest.core.budget`, written down by
`digest.store.sends.record_error_budget`): claims only take copies of active sends, so
every worker stops taking its copies. Resume makes it active again; cancel stops it for
good.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendStatus
from digest.errors import InvalidInput, NotFound
from digest.store import sends as store_sends
from digest.store.db import Session, session_scope
from digest.store.models import Send

# Copies of a send not yet on their way: what resume hands out and cancel stops.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.DEFERRED)


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
        return store_sends.waiting_copies(session, send_id, WAITING)


def cancel(settings: Settings, send_id: int) -> int:
    """Stop a send for good: its copies not yet sent are marked cancelled; returns how many."""
    with session_scope(settings.database_url) as session:
        send = _get(session, send_id)
        send.status = SendStatus.CANCELLED
        return store_sends.cancel_copies(session, send_id, WAITING)


# --- reports ------------------------------------------------------------------------------

COUNTED = ("sent", "deferred", "failed", "bounced", "pending", "sending", "skipped", "cancelled")


def _rate(sent: int, first: datetime | None, last: datetime | None) -> float | None:
    if not sent or first is None or last is None:
        return None
    seconds = (last - first).total_seconds()
    return round(sent / seconds, 1) if seconds > 0 else None


def _rows(session: Session, send_ids: list[int]) -> list[dict[str, Any]]:
    sends = store_sends.sends_by_id(session, send_ids)
    counts = store_sends.copy_counts(session, [s.id for s in sends], COUNTED)
    spans = store_sends.sent_spans(session, [s.id for s in sends])
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
        return _rows(session, store_sends.latest_ids(session, limit))


def send_detail(settings: Settings, send_id: int) -> dict[str, Any]:
    """One send's counts and rate, and its errors grouped by message (most frequent first)."""
    with session_scope(settings.database_url) as session:
        _get(session, send_id)
        row = _rows(session, [send_id])[0]
        errors = store_sends.error_counts(session, send_id, limit=20)
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
