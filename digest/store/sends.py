"""Sends: a new send, an empty one taken back, which sends may go on (`active_send`), a
batch's error budget recorded on its sends; resume, cancel and the reports' counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from digest.core.budget import ErrorBudget
from digest.core.vocabulary import DeliveryStatus, SendKind, SendStatus
from digest.store.models import Delivery, DeliveryTally, Send
from digest.store.retention import tally_counts, tally_spans


def active_send() -> ColumnElement[bool]:
    """A condition on deliveries, for claims: the delivery's send is neither paused nor
    cancelled."""
    return Delivery.send_id.in_(select(Send.id).where(Send.status == SendStatus.ACTIVE))


def add_send(session: Session, kind: SendKind, now: datetime) -> int:
    """Write a new (active) send of this kind, created now; returns its id."""
    send = Send(created_at=now, kind=kind)
    session.add(send)
    session.flush()
    return send.id


def delete_send(session: Session, send_id: int) -> None:
    """Remove a send (one whose every copy existed already: it delivers nothing)."""
    session.execute(delete(Send).where(Send.id == send_id))


def record_error_budget(session: Session, budget: ErrorBudget) -> None:
    """Write what one batch did to its sends' failures in a row, and pause the sends it
    took to their limit, in the batch's own transaction (digest.core.budget says how)."""
    if not budget.outcomes:
        return
    ids = budget.delivery_ids
    if budget.all_accepted:  # the common case: one statement
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
    for send_id, run in budget.runs(send_of).items():
        value = Send.failures_in_row + run.failures if run.carried else run.failures
        session.execute(
            update(Send)
            .where(Send.id == send_id)
            .values(failures_in_row=value)
            .execution_options(synchronize_session=False)
        )
        count = session.scalar(select(Send.failures_in_row).where(Send.id == send_id)) or 0
        reason = budget.pause_reason(count, run.last_error)
        if reason is not None:
            session.execute(
                update(Send)
                .where(Send.id == send_id, Send.status == SendStatus.ACTIVE)
                .values(status=SendStatus.PAUSED, paused_reason=reason)
                .execution_options(synchronize_session=False)
            )


def waiting_copies(session: Session, send_id: int, waiting: Sequence[DeliveryStatus]) -> list[int]:
    """The send's copies in these (not yet on their way) states, in id order."""
    return list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.send_id == send_id, Delivery.status.in_(waiting))
            .order_by(Delivery.id)
        )
    )


def cancel_copies(session: Session, send_id: int, waiting: Sequence[DeliveryStatus]) -> int:
    """Mark the send's waiting copies cancelled; how many."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.send_id == send_id, Delivery.status.in_(waiting))
        .values(status=DeliveryStatus.CANCELLED, last_error="send cancelled")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def latest_ids(session: Session, limit: int) -> list[int]:
    return list(session.scalars(select(Send.id).order_by(Send.id.desc()).limit(limit)))


def sends_by_id(session: Session, send_ids: Sequence[int]) -> list[Send]:
    """These sends, newest first."""
    query = select(Send).where(Send.id.in_(list(send_ids))).order_by(Send.id.desc())
    return list(session.scalars(query))


def copy_counts(
    session: Session, send_ids: Sequence[int], statuses: Sequence[str]
) -> dict[int, dict[str, int]]:
    """Each send's copies by status value (every one of `statuses` present, 0 if none),
    the ledger's rows and the counts folded from pruned ones."""
    counts: dict[int, dict[str, int]] = {i: dict.fromkeys(statuses, 0) for i in send_ids}
    for send_id, status, n in session.execute(
        select(Delivery.send_id, Delivery.status, func.count())
        .where(Delivery.send_id.in_(list(send_ids)))
        .group_by(Delivery.send_id, Delivery.status)
    ):
        key = str(getattr(status, "value", status))
        counts[send_id][key] = counts[send_id].get(key, 0) + n
    for send_id, status, n in tally_counts(
        session, DeliveryTally.send_id, DeliveryTally.send_id.in_(list(send_ids))
    ):
        counts[send_id][status.value] = counts[send_id].get(status.value, 0) + n
    return counts


def sent_spans(
    session: Session, send_ids: Sequence[int]
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """From the first claim to the last acceptance of each send's sent copies (those in
    the ledger and those folded into counts)."""
    spans = {
        send_id: (first, last)
        for send_id, first, last in session.execute(
            select(Delivery.send_id, func.min(Delivery.claimed_at), func.max(Delivery.sent_at))
            .where(Delivery.send_id.in_(list(send_ids)), Delivery.status == DeliveryStatus.SENT)
            .group_by(Delivery.send_id)
        )
    }
    for send_id, (first, last) in tally_spans(session, send_ids).items():
        kept_first, kept_last = spans.get(send_id, (None, None))
        spans[send_id] = (
            min((t for t in (first, kept_first) if t is not None), default=None),
            max((t for t in (last, kept_last) if t is not None), default=None),
        )
    return spans


def error_counts(session: Session, send_id: int, *, limit: int) -> list[Any]:
    """The send's errors grouped by status and message, the most frequent first."""
    return list(
        session.execute(
            select(Delivery.status, Delivery.last_error, func.count().label("n"))
            .where(
                Delivery.send_id == send_id,
                Delivery.last_error.is_not(None),
                Delivery.status != DeliveryStatus.SENT,
            )
            .group_by(Delivery.status, Delivery.last_error)
            .order_by(func.count().desc())
            .limit(limit)
        )
    )


def count_sends(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Send)) or 0


def send_ids(session: Session, *, limit: int, offset: int = 0) -> list[int]:
    """The ids of a page of sends, newest first."""
    return list(
        session.scalars(select(Send.id).order_by(Send.id.desc()).limit(limit).offset(offset))
    )
