"""What planning a send reads of the subscribers: the confirmed ones a range at a time,
the sources their topics allow, and the slots found with nothing new."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from digest.core.vocabulary import SubscriberStatus
from digest.store.models import Subscriber, Topic, source_topics, subscriber_topics


def topic_sources(session: Session, subscriber_ids: Sequence[int]) -> list[tuple[int, int | None]]:
    """(subscriber id, source id) for each source sharing a topic with each of these
    subscribers, in one query: their topics, each joined to the sources that have it.

    A subscriber with topics has at least one row (a None source where no source has
    that topic); one with none has no row.
    """
    rows = session.execute(
        select(subscriber_topics.c.subscriber_id, source_topics.c.source_id)
        .outerjoin(source_topics, source_topics.c.topic_id == subscriber_topics.c.topic_id)
        .where(subscriber_topics.c.subscriber_id.in_(subscriber_ids))
        .distinct()
    )
    return [(subscriber_id, source_id) for subscriber_id, source_id in rows]


def confirmed_subscribers(
    session: Session, *, after: int, limit: int, topic: str | None = None
) -> list[Subscriber]:
    """The next `limit` confirmed subscribers with ids above `after`, by ascending id;
    with a topic, only those who chose it."""
    query = select(Subscriber).where(
        Subscriber.status == SubscriberStatus.CONFIRMED, Subscriber.id > after
    )
    if topic is not None:
        query = query.where(Subscriber.topics.any(Topic.name == topic))
    return list(session.scalars(query.order_by(Subscriber.id).limit(limit)))


def mark_slot_checked(session: Session, subscriber_ids: Sequence[int], now: datetime) -> None:
    """These subscribers' slots came with nothing new: used up now."""
    session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_(subscriber_ids))
        .values(slot_checked_at=now)
        .execution_options(synchronize_session=False)
    )
