"""Sends as the pipeline writes them: a new send, an empty one taken back, which sends
may go on (`active_send`), and a batch's error budget recorded on its sends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from digest.core.budget import ErrorBudget
from digest.core.vocabulary import SendKind, SendStatus
from digest.store.models import Delivery, Send


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
