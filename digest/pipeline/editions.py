"""Editions: one rendered digest per distinct set of articles, shared by all who get it.

An edition is made of the articles new to its readers (its candidates). At most
``max_articles`` of them are shown: the newest by publication date, undated ones after
the dated ones, with every source given its share so one busy source cannot crowd out
the others (`choose_items`). The rest are counted in an "and N more" line that links to
the whole edition in the web archive; they are stored with the edition after the shown
ones, so the archive lists them and nobody gets them again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from digest import wiring
from digest.config import Settings
from digest.content import Doc, related_for_all, summarize
from digest.content.related import LEAD_CHARS
from digest.core.items import choose_items, content_key
from digest.render.edition import (
    DigestContent,
    DigestItem,
    Link,
    render_edition,
    subject_for,
)
from digest.store import articles as stored
from digest.store import editions
from digest.store.db import Session
from digest.store.models import Article, Edition

READ_ALSO = 3
LATEST = 5
FUTURE_SLACK = timedelta(days=1)
# Earlier articles considered for "Read also", newest first: about a year of a busy list.
RELATED_POOL = 10_000
# New articles an edition is chosen from; more than this many since the last digest are
# not counted in "and N more" (they were never candidates).
CANDIDATES = 1000


def digest_order(
    session: Session, article_ids: Sequence[int], settings: Settings
) -> tuple[list[int], list[int]]:
    """The ids the digest shows, in its order, and the ids left out, without loading bodies."""
    return choose_items(stored.candidates(session, article_ids), settings.max_articles)


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
    sources: Collection[int] | None = None,
) -> DigestContent:
    """The digest for these articles: the chosen ones with summaries and "Read also" from
    earlier articles, "Latest", and how many were left out.

    "Read also" and "Latest" are drawn from `sources` only, the sources of the readers'
    topics (None: every source, for readers who chose no topic)."""
    shown_ids, left_out = digest_order(session, article_ids, settings)
    by_id = stored.articles_by_id(session, shown_ids)
    articles = [by_id[i] for i in shown_ids]
    shown = set(shown_ids)

    # Never another item of this email; those left out of it are fair game (earlier ones).
    pool_rows = stored.related_pool(
        session, leaving_out=shown, limit=RELATED_POOL, lead_chars=LEAD_CHARS, sources=sources
    )
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
        Doc(id=r.id, title=r.title, text=r.lead, published=r.published, language=r.language)
        for r in pool_rows
    ]
    related = related_for_all(targets, archive, k=READ_ALSO)
    pool = {r.id: r for r in pool_rows}

    names = stored.source_names(session)
    items = tuple(
        DigestItem(
            title=a.title,
            url=a.link,
            source=names.get(a.source_id, ""),
            published=a.published_at,
            author=a.author,
            summary=_summary(a, settings),
            read_also=tuple(
                Link(pool[r].title, pool[r].link, names.get(pool[r].source_id))
                for r in related.get(a.id, [])
            ),
            language=a.language,
            image_url=a.image_url,
        )
        for a in articles
    )
    linked = {r for ids in related.values() for r in ids}
    # Dated articles only (an undated one is as likely a page about the site), and none
    # dated far ahead (a wrong date would keep an article at the top for ever).
    latest = tuple(
        Link(title, link, names.get(source_id))
        for title, link, source_id in stored.latest(
            session,
            leaving_out=shown | linked,
            until=now + FUTURE_SLACK,
            limit=LATEST,
            sources=sources,
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
    session: Session,
    article_ids: Sequence[int],
    settings: Settings,
    now: datetime,
    *,
    sources: Collection[int] | None = None,
) -> Edition:
    """One edition per distinct set of articles and readers' sources (`sources`: those of
    their topics, None for every source); rendered here, once, for all who get it.

    The row is written first, so that its id gives the archive link of "and N more", and
    filled in with the rendered digest in the same transaction.
    """
    key = content_key(article_ids, sources)
    edition = editions.edition_by_key(session, key)
    if edition is not None:
        return edition
    # Two planners may build the same edition at once; the unique keys decide who wins, and
    # both write the same rows.
    edition = editions.add_edition(session, key, now)
    if not edition.html:
        content = edition_content(
            session,
            article_ids,
            settings,
            now,
            more_url=archive_url(settings, edition.id),
            sources=sources,
        )
        rendered = render_edition(content, settings.templates_dir, mailing=wiring.mailing(settings))
        editions.fill_edition(session, edition, rendered.subject, rendered.html, rendered.text)
    shown, left_out = digest_order(session, article_ids, settings)
    editions.add_edition_articles(session, edition, [*shown, *left_out])
    return edition


def render_subject(
    session: Session, article_ids: Sequence[int], settings: Settings, now: datetime
) -> str:
    """The subject alone: no "Read also" scoring or rendering, which a dry run needs not."""
    shown, left_out = digest_order(session, article_ids, settings)
    titles = stored.titles(session, shown)
    items = tuple(DigestItem(titles[i], None, "", None, None, "") for i in shown)
    content = DigestContent(list_name=settings.list_name, date=now, items=items, more=len(left_out))
    return subject_for(content, wiring.mailing(settings))
