"""Queries about subscribers."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from digest.core.vocabulary import SubscriberStatus
from digest.store.models import Subscriber, Topic


def by_email(session: Session, address: str) -> Subscriber | None:
    """The subscriber of this (normalized) address, or None."""
    return session.scalar(select(Subscriber).where(Subscriber.email == address))


def all_subscribers(session: Session) -> list[Subscriber]:
    return list(session.scalars(select(Subscriber).order_by(Subscriber.id)))


def add(session: Session, subscriber: Subscriber) -> Subscriber:
    session.add(subscriber)
    session.flush()
    return subscriber


def subscriber_page(
    session: Session,
    *,
    q: str | None = None,
    status: SubscriberStatus | None = None,
    topic: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, list[Subscriber]]:
    """How many subscribers match (`q` in the address or the name, any case; this status;
    this topic), and a page of them in id order, their topics loaded."""
    query = select(Subscriber)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(Subscriber.email).like(like), func.lower(Subscriber.name).like(like))
        )
    if status is not None:
        query = query.where(Subscriber.status == status)
    if topic:
        query = query.where(Subscriber.topics.any(Topic.name == topic))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.options(selectinload(Subscriber.topics)).order_by(Subscriber.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return total, list(session.scalars(page))


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def subscriber_by_email(session: Session, address: str) -> Subscriber | None:
    """The subscriber of a normalized address."""
    return session.scalar(select(Subscriber).where(Subscriber.email == address))


def count_by_status(session: Session) -> dict[str, int]:
    return {
        str(getattr(s, "value", s)): n
        for s, n in session.execute(
            select(Subscriber.status, func.count()).group_by(Subscriber.status)
        )
    }
