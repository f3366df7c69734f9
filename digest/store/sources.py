"""Queries about sources: finding them by address or number, all of them, their topics."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from digest.errors import NotFound
from digest.store.models import Article, Source


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


def source_page(
    session: Session, *, q: str | None = None, limit: int | None = None, offset: int = 0
) -> tuple[int, list[tuple[Source, int]]]:
    """How many sources match `q` (in the name or the URL, any case), and a page of them in
    id order, each with its article count (counted by the database)."""
    query = select(Source)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(Source.name).like(like), func.lower(Source.url).like(like))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    articles = (
        select(Article.source_id, func.count().label("n")).group_by(Article.source_id).subquery()
    )
    page = (
        query.add_columns(func.coalesce(articles.c.n, 0))
        .options(selectinload(Source.topics))
        .outerjoin(articles, articles.c.source_id == Source.id)
        .order_by(Source.id)
        .offset(offset)
    )
    if limit is not None:
        page = page.limit(limit)
    return total, [(s, int(n)) for s, n in session.execute(page)]


def source_by_id(session: Session, source_id: int) -> Source | None:
    return session.get(Source, source_id)


def article_count(session: Session, source_id: int) -> int:
    return session.scalar(select(func.count()).where(Article.source_id == source_id)) or 0


def newest_articles(session: Session, source_id: int, limit: int) -> list[Article]:
    """A source's articles, the last stored first."""
    return list(
        session.scalars(
            select(Article)
            .where(Article.source_id == source_id)
            .order_by(Article.id.desc())
            .limit(limit)
        )
    )
