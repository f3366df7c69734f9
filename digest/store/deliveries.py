"""Queries of deliveries: the copies of editions, one per subscriber and send."""

from __future__ import annotations

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
