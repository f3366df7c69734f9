"""Articles as the pipeline reads and writes them: the links and keys already stored,
adding new ones, an edition's candidates and shown rows, the pool of earlier articles
for "Read also", the latest ones, and what is new for a subscriber.

Values go to the database at most `CHUNK` per IN list, under any database's limit on
bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, inspect, select
from sqlalchemy.orm import QueryableAttribute, Session

from digest.core.items import Candidate
from digest.store.models import Article, ForgottenArticle, Source, UTCDateTime

CHUNK = 5000


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def published_or_seen() -> ColumnElement[datetime]:
    """SQL for an article's publication date, or when it was first seen if it has none."""
    return func.coalesce(Article.published_at, Article.first_seen_at, type_=UTCDateTime())


# --- gathering ------------------------------------------------------------------------------


def _among(
    session: Session, column: QueryableAttribute[Any], values: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN values`. On SQLite the values go as one JSON array that `json_each`
    unpacks, instead of one bound parameter each: a gather asks about some 800 forms of
    a feed's links per source, and binding each cost more than the search itself."""
    if session.get_bind().dialect.name == "sqlite":
        each = func.json_each(json.dumps(list(values))).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(values)


def stored_links(session: Session, links: Sequence[str]) -> dict[str, tuple[int | None, int]]:
    """Of these links (exact strings), those some article of any source has, or had
    before it was pruned (`ForgottenArticle`): each with the id of its first such article
    (None: pruned) and that article's source."""
    found: dict[str, tuple[int | None, int]] = {}
    for chunk in _chunks(links):
        rows = session.execute(
            select(Article.link, Article.id, Article.source_id)
            .where(_among(session, Article.link, chunk))
            .order_by(Article.id)
        )
        for link, article_id, source_id in rows:
            if link:
                found.setdefault(link, (article_id, source_id))
        pruned = session.execute(
            select(ForgottenArticle.link, ForgottenArticle.source_id).where(
                _among(session, ForgottenArticle.link, chunk)
            )
        )
        for link, source_id in pruned:
            if link:
                found.setdefault(link, (None, source_id))
    return found


def known_keys(session: Session, source_id: int, keys: Sequence[str]) -> dict[str, int | None]:
    """Of these entry keys, those the source has stored already, with their article ids
    (None: stored, and pruned since)."""
    found: dict[str, int | None] = {}
    for chunk in _chunks(keys):
        pruned = session.scalars(
            select(ForgottenArticle.key).where(
                ForgottenArticle.source_id == source_id,
                _among(session, ForgottenArticle.key, chunk),
            )
        )
        found.update(dict.fromkeys(pruned))
        rows = session.execute(
            select(Article.key, Article.id).where(
                Article.source_id == source_id, _among(session, Article.key, chunk)
            )
        )
        found.update({key: article_id for key, article_id in rows})
    return found


_COLUMNS = frozenset(attribute.key for attribute in inspect(Article).column_attrs)


def add_articles(session: Session, articles: Iterable[Article]) -> None:
    """Insert new article rows now, in one ORM bulk INSERT: each row's column defaults
    apply as in a flush, without a unit of work tracking every row (the rows made for a
    source are not kept in the session)."""
    rows = [{k: v for k, v in vars(a).items() if k in _COLUMNS} for a in articles]
    if rows:
        session.execute(insert(Article), rows)


# --- editions -------------------------------------------------------------------------------


def candidates(session: Session, article_ids: Sequence[int]) -> list[Candidate]:
    """What choosing an edition's items needs of these articles (no bodies loaded)."""
    rows = session.execute(
        select(Article.id, Article.source_id, Article.published_at, Article.first_seen_at).where(
            Article.id.in_(article_ids)
        )
    )
    return [Candidate(*row) for row in rows]


def articles_by_id(session: Session, article_ids: Collection[int]) -> dict[int, Article]:
    """These articles' rows, by id."""
    return {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(article_ids)))}


def titles(session: Session, article_ids: Collection[int]) -> dict[int, str]:
    """These articles' titles, by id."""
    rows = session.execute(select(Article.id, Article.title).where(Article.id.in_(article_ids)))
    return {article_id: title for article_id, title in rows}


@dataclass(frozen=True)
class PoolArticle:
    """An earlier article "Read also" may point to: its lead, date, language and link."""

    id: int
    title: str
    lead: str
    published: datetime
    language: str | None
    link: str
    source_id: int


def related_pool(
    session: Session,
    *,
    leaving_out: Collection[int],
    limit: int,
    lead_chars: int,
    sources: Collection[int] | None = None,
) -> list[PoolArticle]:
    """The `limit` newest articles with a link, of these sources (None: any), but those
    `leaving_out`, with the first `lead_chars` of their text."""
    query = (
        select(
            Article.id,
            Article.title,
            func.substr(Article.body_text, 1, lead_chars),
            published_or_seen(),
            Article.language,
            Article.link,
            Article.source_id,
        )
        .where(Article.link.is_not(None))  # a link needs somewhere to go
        .order_by(Article.id.desc())
        .limit(limit)
    )
    if leaving_out:
        query = query.where(Article.id.not_in(leaving_out))
    if sources is not None:
        query = query.where(Article.source_id.in_(list(sources)))
    return [
        PoolArticle(row[0], row[1], row[2] or "", row[3], row[4], row[5], row[6])
        for row in session.execute(query)
    ]


def latest(
    session: Session,
    *,
    leaving_out: Collection[int],
    until: datetime,
    limit: int,
    sources: Collection[int] | None = None,
) -> list[tuple[str, str, int]]:
    """The `limit` latest dated articles with a link, of these sources (None: any),
    published up to `until`, but those `leaving_out`: (title, link, source id), newest
    first."""
    query = (
        select(Article.title, Article.link, Article.source_id)
        .where(
            Article.published_at.is_not(None),
            Article.published_at <= until,
            Article.link.is_not(None),
            Article.id.not_in(leaving_out),
        )
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit)
    )
    if sources is not None:
        query = query.where(Article.source_id.in_(list(sources)))
    rows = session.execute(query)
    return [(title, link, source_id) for title, link, source_id in rows if link is not None]


def source_names(session: Session) -> dict[int, str]:
    """Every source's name, by id."""
    return {s.id: s.name for s in session.scalars(select(Source))}


# --- what is new --------------------------------------------------------------------------


def new_article_ids(
    session: Session,
    *,
    after: int,
    sources: Collection[int] | None,
    published_since: datetime | None,
    limit: int,
) -> tuple[int, ...]:
    """Ids of the articles stored after the id `after` (newest first, at most `limit`):
    of these sources (None: any), published (or first seen) since a time when given."""
    query = select(Article.id).where(Article.id > after)
    if sources is not None:
        query = query.where(Article.source_id.in_(sources))
    if published_since is not None:
        query = query.where(published_or_seen() >= published_since)
    return tuple(session.scalars(query.order_by(Article.id.desc()).limit(limit)))


def article_rows(
    session: Session,
    *,
    source_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored articles, newest first (by date, else first seen): what extraction kept."""
    when = func.coalesce(Article.published_at, Article.first_seen_at)
    query = select(Article).order_by(when.desc(), Article.id.desc()).limit(limit)
    if source_id is not None:
        query = query.where(Article.source_id == source_id)
    if since is not None:
        # A date without a zone is taken as UTC, like every time stored.
        query = query.where(when >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    return [
        {
            "id": a.id,
            "source_id": a.source_id,
            "title": a.title,
            "link": a.link,
            "published_at": a.published_at,
            "first_seen_at": a.first_seen_at,
            "author": a.author,
            "language": a.language,
            "image_url": a.image_url,
            "summary": a.summary,
            "text": a.body_text,
            "full_text": a.full_text,
            "is_teaser": a.is_teaser,
        }
        for a in session.scalars(query)
    ]


def newest_ids(session: Session, limit: int) -> list[int]:
    """The newest articles by publication (or first sight): not by id, which follows the
    order in which the sources' fetches happened to finish."""
    query = select(Article.id).order_by(published_or_seen().desc(), Article.id.desc()).limit(limit)
    return list(session.scalars(query))
