"""Queries of deliveries: the copies of editions, one per subscriber and send."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.core.vocabulary import DeliveryStatus
from digest.store.models import Delivery, Subscriber


def delivery_page(
    session: Session,
    *,
    send_id: int | None = None,
    edition_id: int | None = None,
    status: DeliveryStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[tuple[Delivery, str]]]:
    """How many deliveries match, and a page of them in id order with each address."""
    query = select(Delivery, Subscriber.email).join(
        Subscriber, Subscriber.id == Delivery.subscriber_id
    )
    if send_id is not None:
        query = query.where(Delivery.send_id == send_id)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: list[Any] = list(session.execute(query.order_by(Delivery.id).limit(limit).offset(offset)))
    return total, [(d, email) for d, email in rows]


def status_counts(session: Session, send_id: int) -> dict[DeliveryStatus, int]:
    """How many deliveries of one send are in each state."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.send_id == send_id)
        .group_by(Delivery.status)
    )
    return {DeliveryStatus(status): n for status, n in rows}


def status_counts_of(
    session: Session, delivery_ids: Sequence[int], *, besides_send: int | None = None
) -> dict[DeliveryStatus, int]:
    """How many of these deliveries (leaving out those of `besides_send`) are in each
    state; read a thousand ids at a time, under any database's limit on parameters."""
    counts: Counter[DeliveryStatus] = Counter()
    for start in range(0, len(delivery_ids), 1000):
        query = select(Delivery.status, func.count()).where(
            Delivery.id.in_(delivery_ids[start : start + 1000])
        )
        if besides_send is not None:
            query = query.where(Delivery.send_id != besides_send)
        rows = session.execute(query.group_by(Delivery.status))
        counts.update({DeliveryStatus(status): n for status, n in rows})
    return dict(counts)


def next_deferred_attempt(session: Session) -> datetime | None:
    """When the earliest deferred copy is tried again, if any is deferred."""
    return session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.DEFERRED)
    )


def failed_of_send(session: Session, send_id: int) -> list[tuple[str, str]]:
    """The address and error of each copy of a send that failed, in id order."""
    rows = session.execute(
        select(Subscriber.email, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
    )
    return [(email, error or "") for email, error in rows]
