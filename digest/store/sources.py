"""Queries about sources: finding them by address or number, all of them, their topics."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from digest.errors import NotFound
from digest.store.models import Source


def by_url(session: Session, url: str) -> Source | None:
    return session.scalar(select(Source).where(Source.url == url))


def all_sources(session: Session, *, with_topics: bool = False) -> list[Source]:
    """Every source in the order they were added."""
    query = select(Source).order_by(Source.id)
    if with_topics:
        query = query.options(selectinload(Source.topics))
    return list(session.scalars(query))


def urls(session: Session) -> set[str]:
    return set(session.scalars(select(Source.url)))


def find(session: Session, url_or_id: str) -> Source:
    """The source of this number or address; NotFound when there is none."""
    cond = Source.id == int(url_or_id) if url_or_id.isdigit() else Source.url == url_or_id
    source = session.scalar(select(Source).where(cond))
    if source is None:
        raise NotFound(f"no source {url_or_id}")
    return source


def add(session: Session, source: Source) -> Source:
    session.add(source)
    session.flush()
    return source


def remove(session: Session, source: Source) -> None:
    session.delete(source)
