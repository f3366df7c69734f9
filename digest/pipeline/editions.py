"""Editions: one rendered digest per distinct set of articles, shared by all who get it.

An edition is made of the articles new to its readers (its candidates). At most
``max_articles`` of them are shown: the newest by publication date, undated ones after
the dated ones, with every source given its share so one busy source cannot crowd out
the others (`choose_items`). The rest are counted in an "and N more" line that links to
the whole edition in the web archive; they are stored with the edition after the shown
ones, so the archive lists them and nobody gets them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from digest import wiring
from digest.config import Settings
from digest.content import Doc, related_for_all, summarize
from digest.content.related import LEAD_CHARS
from digest.core.items import Candidate, choose_items, content_key
from digest.render.edition import (
    DigestContent,
    DigestItem,
    Link,
    render_edition,
    subject_for,
)
from digest.store.db import insert_ignore
from digest.store.models import Article, Edition, EditionArticle, Source, UTCDateTime

READ_ALSO = 3
LATEST = 5
FUTURE_SLACK = timedelta(days=1)
# Earlier articles considered for "Read also", newest first: about a year of a busy list.
RELATED_POOL = 10_000
# New articles an edition is chosen from; more than this many since the last digest are
# not counted in "and N more" (they were never candidates).
CANDIDATES = 1000


def published_or_seen() -> ColumnElement[datetime]:
    """SQL for an article's publication date, or when it was first seen if it has none."""
    return func.coalesce(Article.published_at, Article.first_seen_at, type_=UTCDateTime())


def _candidates(session: Session, article_ids: Sequence[int]) -> list[Candidate]:
    rows = session.execute(
        select(Article.id, Article.source_id, Article.published_at, Article.first_seen_at).where(
            Article.id.in_(article_ids)
        )
    )
    return [Candidate(*row) for row in rows]


def digest_order(
    session: Session, article_ids: Sequence[int], settings: Settings
) -> tuple[list[int], list[int]]:
    """The ids the digest shows, in its order, and the ids left out, without loading bodies."""
    return choose_items(_candidates(session, article_ids), settings.max_articles)


def _summary(article: Article, settings: Settings) -> str:
    if not article.body_text:
        return article.summary
    return (
        summarize(
            article.body_text,
            title=article.title,
            language=article.language,
            max_sentences=settings.summary_sentences,
            max_words=settings.summary_words,
            from_body=True,
        )
        or article.summary
    )


def edition_content(
    session: Session,
    article_ids: Sequence[int],
    settings: Settings,
    now: datetime,
    *,
    more_url: str | None = None,
) -> DigestContent:
    """The digest for these articles: the chosen ones with summaries and "Read also" from
    earlier articles, "Latest", and how many were left out."""
    shown_ids, left_out = digest_order(session, article_ids, settings)
    by_id = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(shown_ids)))}
    articles = [by_id[i] for i in shown_ids]
    shown = set(shown_ids)

    # Never another item of this email; those left out of it are fair game (earlier ones).
    pool_query = (
        select(
            Article.id,
            Article.title,
            func.substr(Article.body_text, 1, LEAD_CHARS),
            published_or_seen(),
            Article.language,
            Article.link,
            Article.source_id,
        )
        .where(Article.link.is_not(None))  # a link needs somewhere to go
        .order_by(Article.id.desc())
        .limit(RELATED_POOL)
    )
    if shown:
        pool_query = pool_query.where(Article.id.not_in(shown))
    pool_rows = session.execute(pool_query).all()
    targets = [
        Doc(
            id=a.id,
            title=a.title,
            text=a.body_text[:LEAD_CHARS],
            published=a.published_at or a.first_seen_at,
            language=a.language,
        )
        for a in articles
    ]
    archive = [
        Doc(id=r[0], title=r[1], text=r[2] or "", published=r[3], language=r[4]) for r in pool_rows
    ]
    related = related_for_all(targets, archive, k=READ_ALSO)
    pool = {r[0]: r for r in pool_rows}

    sources = {s.id: s.name for s in session.scalars(select(Source))}
    items = tuple(
        DigestItem(
            title=a.title,
            url=a.link,
            source=sources.get(a.source_id, ""),
            published=a.published_at,
            author=a.author,
            summary=_summary(a, settings),
            read_also=tuple(
                Link(pool[r][1], pool[r][5], sources.get(pool[r][6])) for r in related.get(a.id, [])
            ),
            language=a.language,
            image_url=a.image_url,
        )
        for a in articles
    )
    linked = {r for ids in related.values() for r in ids}
    latest = tuple(
        Link(title, link, sources.get(source_id))
        for _, title, link, source_id in session.execute(
            select(Article.id, Article.title, Article.link, Article.source_id)
            .where(
                # Dated articles only: an undated one is as likely a page about the site.
                Article.published_at.is_not(None),
                # A wrong date far ahead would keep an article at the top for ever.
                Article.published_at <= now + FUTURE_SLACK,
                Article.link.is_not(None),
                Article.id.not_in(shown | linked),
            )
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(LATEST)
        )
    )
    return DigestContent(
        list_name=settings.list_name,
        date=now,
        items=items,
        latest=latest,
        more=len(left_out),
        more_url=more_url if left_out else None,
    )


def archive_url(settings: Settings, edition_id: int) -> str | None:
    """Where the whole edition can be read on the web, or None with the archive turned off."""
    # DIGEST_ARCHIVE is the web archive's setting; the archive is on unless it says no.
    if not getattr(settings, "archive", True):
        return None
    return f"{settings.base_url.rstrip('/')}/archive/{edition_id}"


def get_or_create_edition(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> Edition:
    """One edition per distinct set of articles; rendered here, once, for all who get it.

    The row is written first, so that its id gives the archive link of "and N more", and
    filled in with the rendered digest in the same transaction.
    """
    key = content_key(article_ids)
    edition = session.scalar(select(Edition).where(Edition.content_key == key))
    if edition is not None:
        return edition
    # Two planners may build the same edition at once; the unique keys decide who wins, and
    # both write the same rows.
    session.execute(
        insert_ignore(session, Edition).values(
            content_key=key, created_at=now, subject="", html="", text=""
        )
    )
    edition = session.scalars(select(Edition).where(Edition.content_key == key)).one()
    if not edition.html:
        content = edition_content(
            session, article_ids, settings, now, more_url=archive_url(settings, edition.id)
        )
        rendered = render_edition(content, settings.templates_dir, mailing=wiring.mailing(settings))
        session.execute(
            update(Edition)
            .where(Edition.id == edition.id)
            .values(subject=rendered.subject[:300], html=rendered.html, text=rendered.text)
            .execution_options(synchronize_session=False)
        )
        session.refresh(edition)
    shown, left_out = digest_order(session, article_ids, settings)
    rows = [
        {"edition_id": edition.id, "article_id": article_id, "position": position}
        for position, article_id in enumerate([*shown, *left_out])
    ]
    if rows:
        session.execute(insert_ignore(session, EditionArticle), rows)
    session.expire(edition, ["entries"])  # loaded with the edition, before these rows
    return edition


def render_subject(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> str:
    """The subject alone: no "Read also" scoring or rendering, which a dry run needs not."""
    shown, left_out = digest_order(session, article_ids, settings)
    rows = session.execute(select(Article.id, Article.title).where(Article.id.in_(shown)))
    titles: dict[int, str] = {article_id: title for article_id, title in rows}
    items = tuple(DigestItem(titles[i], None, "", None, None, "") for i in shown)
    content = DigestContent(list_name=settings.list_name, date=now, items=items, more=len(left_out))
    return subject_for(content, wiring.mailing(settings))
