"""Editions: one rendered digest per distinct set of articles, shared by all who get it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.content import Doc, related_for_all
from digest.db import insert_ignore
from digest.models import Article, Edition, EditionArticle, Source
from digest.render import DigestContent, DigestItem, Link, Mailing, render_edition, subject_for

READ_ALSO = 3
# On the bundled samples, 0.1 keeps every same-story link (tram, harbour, library, jazz)
# and drops the ones that only share the town's vocabulary (ferry timetable -> tram test).
RELATED_MIN_SCORE = 0.1
LATEST = 5
RELATED_POOL = 500  # earlier articles considered for "Read also"


def _when(article: Article) -> datetime:
    return article.published_at or article.first_seen_at


def _newest_first(session: Session, article_ids: Sequence[int]) -> list[Article]:
    articles = list(session.scalars(select(Article).where(Article.id.in_(article_ids))))
    return sorted(articles, key=lambda a: (_when(a), a.id), reverse=True)


def digest_order(session: Session, article_ids: Sequence[int]) -> list[int]:
    """The ids in the order the digest shows them (newest first), without loading bodies."""
    rows = session.execute(
        select(Article.id, Article.published_at, Article.first_seen_at).where(
            Article.id.in_(article_ids)
        )
    )
    when = {i: published or seen for i, published, seen in rows}
    return sorted(when, key=lambda i: (when[i], i), reverse=True)


def edition_content(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> DigestContent:
    """The digest for these articles: summaries, "Read also" from earlier ones, "Latest"."""
    articles = _newest_first(session, article_ids)
    chosen = {a.id for a in articles}
    pool = list(
        session.scalars(
            select(Article)
            .where(Article.id.not_in(chosen))
            .order_by(Article.id.desc())
            .limit(RELATED_POOL)
        )
    )
    by_id = {a.id: a for a in [*articles, *pool]}
    docs = [
        Doc(
            id=a.id,
            title=a.title,
            text=a.body_text,
            categories=tuple(a.categories),
            published=_when(a),
        )
        for a in by_id.values()
    ]
    related = related_for_all(docs, k=READ_ALSO, min_score=RELATED_MIN_SCORE)
    sources = {s.id: s.name for s in session.scalars(select(Source))}
    items = tuple(
        DigestItem(
            title=a.title,
            url=a.link,
            source=sources.get(a.source_id, ""),
            published=a.published_at,
            author=a.author,
            summary=a.summary,
            language=a.language,
            image_url=a.image_url,
            read_also=tuple(
                Link(by_id[r].title, by_id[r].link, sources.get(by_id[r].source_id))
                for r in related.get(a.id, [])
                if by_id[r].link
            ),
        )
        for a in articles
    )
    shown = chosen | {r for a in articles for r in related.get(a.id, [])}
    latest = tuple(
        Link(a.title, a.link, sources.get(a.source_id))
        for a in sorted(pool, key=lambda a: (_when(a), a.id), reverse=True)
        if a.id not in shown and a.link
    )[:LATEST]
    return DigestContent(list_name=settings.list_name, date=now, items=items, latest=latest)


def content_key(article_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(article_ids))).encode()).hexdigest()


def get_or_create_edition(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> Edition:
    """One edition per distinct set of articles; rendered here, once, for all who get it."""
    key = content_key(article_ids)
    edition = session.scalar(select(Edition).where(Edition.content_key == key))
    if edition is not None:
        return edition
    content = edition_content(session, article_ids, settings, now)
    rendered = render_edition(
        content, settings.templates_dir, mailing=Mailing.from_settings(settings)
    )
    values = {
        "content_key": key,
        "created_at": now,
        "subject": rendered.subject[:300],
        "html": rendered.html,
        "text": rendered.text,
    }
    # Two planners may build the same edition at once; the unique keys decide who wins, and
    # both write the same article rows.
    session.execute(insert_ignore(session, Edition).values(**values))
    edition = session.scalars(select(Edition).where(Edition.content_key == key)).one()
    rows = [
        {"edition_id": edition.id, "article_id": article_id, "position": position}
        for position, article_id in enumerate(digest_order(session, article_ids))
    ]
    if rows:
        session.execute(insert_ignore(session, EditionArticle), rows)
    session.expire(edition, ["entries"])  # loaded with the edition, before these rows
    return edition


def render_subject(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> str:
    """The subject alone: no "Read also" scoring or rendering, which a dry run needs not."""
    titles = [a.title for a in _newest_first(session, article_ids)]
    items = tuple(DigestItem(t, None, "", None, None, "") for t in titles)
    content = DigestContent(list_name=settings.list_name, date=now, items=items)
    return subject_for(content, Mailing.from_settings(settings))
