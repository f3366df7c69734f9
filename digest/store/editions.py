"""Editions as the pipeline writes and reads them: found by their content key, written
once by whoever comes first, filled in with the rendered digest, their articles in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from digest.store.db import insert_ignore
from digest.store.models import (
    Article,
    Delivery,
    DeliveryTally,
    Edition,
    EditionArticle,
    Topic,
    source_topics,
)
from digest.store.retention import tally_counts


def get_edition(session: Session, edition_id: int) -> Edition:
    """The edition's row (it must exist: a delivery refers to it)."""
    return session.get_one(Edition, edition_id)


def edition_by_key(session: Session, content_key: str) -> Edition | None:
    """The edition of this content key, if one was written."""
    return session.scalar(select(Edition).where(Edition.content_key == content_key))


def add_edition(session: Session, content_key: str, now: datetime) -> Edition:
    """The edition of this content key, written empty now unless it exists.

    Two planners may write the same edition at once: the unique key keeps one row, and
    both get it (to fill in when it is still empty).
    """
    session.execute(
        insert_ignore(session, Edition).values(
            content_key=content_key, created_at=now, subject="", html="", text=""
        )
    )
    return session.scalars(select(Edition).where(Edition.content_key == content_key)).one()


def fill_edition(session: Session, edition: Edition, subject: str, html: str, text: str) -> None:
    """Write the rendered digest into the edition's row (and reload it)."""
    session.execute(
        update(Edition)
        .where(Edition.id == edition.id)
        .values(subject=subject[:300], html=html, text=text)
        .execution_options(synchronize_session=False)
    )
    session.refresh(edition)


def add_edition_articles(session: Session, edition: Edition, article_ids: Sequence[int]) -> None:
    """The edition's articles at their places (0: first), where not written already."""
    rows = [
        {"edition_id": edition.id, "article_id": article_id, "position": position}
        for position, article_id in enumerate(article_ids)
    ]
    if rows:
        session.execute(insert_ignore(session, EditionArticle), rows)
    session.expire(edition, ["entries"])  # loaded with the edition, before these rows


def edition_page(session: Session, *, limit: int, offset: int = 0) -> tuple[int, list[Any]]:
    """How many editions there are, and a page of them (id, subject, created_at), newest
    first."""
    total = session.scalar(select(func.count()).select_from(Edition)) or 0
    rows = list(
        session.execute(
            select(Edition.id, Edition.subject, Edition.created_at)
            .order_by(Edition.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return total, rows


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each edition's deliveries counted by state (only the states it has): the ledger's
    rows and the counts folded from pruned ones."""
    counts: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
    for edition_id, status, n in session.execute(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(Delivery.edition_id.in_(edition_ids))
        .group_by(Delivery.edition_id, Delivery.status)
    ):
        key = str(getattr(status, "value", status))
        counts[edition_id][key] = counts[edition_id].get(key, 0) + n
    for edition_id, status, n in tally_counts(
        session, DeliveryTally.edition_id, DeliveryTally.edition_id.in_(edition_ids)
    ):
        counts[edition_id][status.value] = counts[edition_id].get(status.value, 0) + n
    return counts


def edition_topics(session: Session, edition_ids: list[int]) -> dict[int, tuple[list[str], bool]]:
    """Each edition's topics, those of its articles' sources, in alphabetical order, and
    whether it also holds articles of a source without a topic."""
    found: dict[int, set[str]] = {i: set() for i in edition_ids}
    untopiced: set[int] = set()
    rows = session.execute(
        select(EditionArticle.edition_id, Topic.name)
        .join(Article, Article.id == EditionArticle.article_id)
        .outerjoin(source_topics, source_topics.c.source_id == Article.source_id)
        .outerjoin(Topic, Topic.id == source_topics.c.topic_id)
        .where(EditionArticle.edition_id.in_(edition_ids))
        .distinct()
    )
    for edition_id, name in rows:
        if name is None:
            untopiced.add(edition_id)
        else:
            found[edition_id].add(name)
    return {i: (sorted(found[i]), i in untopiced) for i in edition_ids}


def edition_by_id(session: Session, edition_id: int) -> Edition | None:
    return session.get(Edition, edition_id)
