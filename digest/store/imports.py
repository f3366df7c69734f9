"""Bulk reads and writes of subscribers for imports and exports, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.orm import Session

from digest.store.db import insert_ignore
from digest.store.models import Subscriber, Topic, subscriber_topics

# The columns an export writes (and an import compares).
FIELDS = (
    Subscriber.id,
    Subscriber.email,
    Subscriber.name,
    Subscriber.status,
    Subscriber.frequency,
    Subscriber.weekday,
    Subscriber.day_of_month,
    Subscriber.hour,
    Subscriber.timezone,
)
# What an import reads of a known address: its columns, and when it was suppressed.
KNOWN_FIELDS = (*FIELDS, Subscriber.unsubscribed_at, Subscriber.bounced_at)


def known_by_email(session: Session, emails: Sequence[str]) -> dict[str, Row[*tuple[Any, ...]]]:
    """The rows (KNOWN_FIELDS) of those of these addresses that are subscribers already."""
    query = select(*KNOWN_FIELDS).where(Subscriber.email.in_(list(emails)))
    return {row.email: row for row in session.execute(query)}


def topics_of(session: Session, subscriber_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each subscriber's topic names, sorted."""
    found: dict[int, list[str]] = {}
    for sid, name in session.execute(
        select(subscriber_topics.c.subscriber_id, Topic.name)
        .join(Topic, Topic.id == subscriber_topics.c.topic_id)
        .where(subscriber_topics.c.subscriber_id.in_(list(subscriber_ids)))
        .order_by(Topic.name)
    ):
        found.setdefault(sid, []).append(name)
    return found


def update_subscribers(session: Session, updates: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key: each dict holds "id" and the columns that change."""
    session.execute(update(Subscriber), updates)


def clear_topics(session: Session, subscriber_ids: Iterable[int]) -> None:
    session.execute(
        delete(subscriber_topics).where(subscriber_topics.c.subscriber_id.in_(list(subscriber_ids)))
    )


def insert_subscribers(session: Session, values: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new subscribers; their ids by address.

    A plain executemany INSERT, then one SELECT for the ids: much faster than INSERT ...
    RETURNING in insertmanyvalues batches.
    """
    session.execute(insert(Subscriber), values)
    emails = [v["email"] for v in values]
    query = select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(emails))
    return {email: sid for email, sid in session.execute(query)}


def topic_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    """The ids of these topics, created where missing."""
    session.execute(insert_ignore(session, Topic), [{"name": n} for n in names])
    query = select(Topic.name, Topic.id).where(Topic.name.in_(list(names)))
    return {name: i for name, i in session.execute(query)}


def link_topics(session: Session, links: list[tuple[int, int]]) -> None:
    """Add (subscriber id, topic id) links."""
    session.execute(
        insert(subscriber_topics), [{"subscriber_id": s, "topic_id": t} for s, t in links]
    )


def subscribers_after(session: Session, last_id: int, limit: int) -> list[Row[*tuple[Any, ...]]]:
    """The next `limit` subscribers (FIELDS) after this id, in id order."""
    query = select(*FIELDS).where(Subscriber.id > last_id).order_by(Subscriber.id).limit(limit)
    return list(session.execute(query).all())
