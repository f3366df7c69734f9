"""Gather: fetch each source and store the entries it has not sent before."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.content import article_body, article_language, sanitize_html, summarize
from digest.db import session_scope
from digest.errors import NotFound
from digest.gather import FeedEntry, FeedError, Fetched, FetchError, fetch, read_source
from digest.models import Article, Source, utcnow
from digest.sources import default_source_name

Fetcher = Callable[[str], Fetched]
# Turns a feed entry into the article row to store; raising leaves that entry out.
EntryProcessor = Callable[[FeedEntry, int, datetime], Article]


@dataclass(frozen=True)
class GatherResult:
    source_id: int
    name: str
    new: int = 0
    seen: int = 0
    error: str | None = None


def article_from_entry(entry: FeedEntry, source_id: int, now: datetime) -> Article:
    """Sanitize, extract the body and summarize once, when the article is first seen."""
    content = sanitize_html(entry.content_html)
    body = article_body(entry.content_html, title=entry.title)  # classes mark the clutter
    language = article_language(getattr(entry, "language", None), f"{entry.title}\n{body}")
    return Article(
        source_id=source_id,
        key=entry.key,
        link=entry.link,
        title=entry.title,
        author=entry.author,
        categories=list(entry.categories),
        published_at=entry.published,
        first_seen_at=now,
        content_html=content,
        body_text=body,
        summary=summarize(body, title=entry.title, language=language),
        language=language,
        is_teaser=entry.is_teaser,
    )


@dataclass
class Stored:
    new: int = 0
    seen: int = 0
    failed: list[str] = field(default_factory=list)  # entries a bug kept out, with why


def store_entries(
    session: Session,
    source: Source,
    entries: Sequence[FeedEntry],
    now: datetime,
    *,
    process: EntryProcessor = article_from_entry,
) -> Stored:
    """Insert entries not seen before (same key in this source, or same link anywhere).

    An entry that cannot be processed is left out and reported; the others are stored.
    """
    keys = [e.key for e in entries]
    links = [e.link for e in entries if e.link]
    known_keys = set(
        session.scalars(
            select(Article.key).where(Article.source_id == source.id, Article.key.in_(keys))
        )
    )
    known_links = (
        set(session.scalars(select(Article.link).where(Article.link.in_(links))))
        if links
        else set()
    )
    stored = Stored()
    # Oldest first, so article ids grow with publication order.
    for entry in sorted(entries, key=lambda e: e.published.timestamp() if e.published else 0):
        if entry.key in known_keys or (entry.link and entry.link in known_links):
            stored.seen += 1
            continue
        try:
            article = process(entry, source.id, now)
        except Exception as exc:  # one hostile entry must not keep out its neighbours
            stored.failed.append(f"{entry.title[:80]!r}: {type(exc).__name__}: {exc}")
            continue
        session.add(article)
        known_keys.add(entry.key)
        if entry.link:
            known_links.add(entry.link)
        stored.new += 1
    return stored


def gather_source(
    db_url: str,
    source_id: int,
    *,
    fetcher: Fetcher,
    now: datetime | None = None,
    process: EntryProcessor = article_from_entry,
) -> GatherResult:
    """Fetch one source and store its new articles; any failure is recorded on the source."""
    now = now or utcnow()
    with session_scope(db_url) as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFound(f"no source with id {source_id}")
        name, url = source.name, source.url
    try:
        parsed = read_source(url, fetcher=fetcher)
        with session_scope(db_url) as session:
            source = session.get(Source, source_id)
            if source is None:
                raise NotFound(f"no source with id {source_id}")
            stored = store_entries(session, source, parsed.entries, now, process=process)
            if parsed.title and source.name == default_source_name(source.url):
                source.name = parsed.title[:200]  # nobody named it: the feed's title is better
            source.last_fetched_at = source.last_ok_at = now
            error = None
            if stored.failed:
                count = len(stored.failed)
                error = f"{count} entr{'y' if count == 1 else 'ies'} left out: " + "; ".join(
                    stored.failed
                )
            source.last_error = error[:2000] if error else None
            source.error_count = 1 if error else 0
            return GatherResult(source_id, source.name, stored.new, stored.seen, error)
    except (FetchError, FeedError) as exc:
        return _record_failure(db_url, source_id, name, str(exc), now)
    except NotFound:
        raise
    except Exception as exc:  # a bug met on one hostile source must not stop the others
        error = f"unexpected {type(exc).__name__}: {exc}"
        return _record_failure(db_url, source_id, name, error, now)


def _record_failure(
    db_url: str, source_id: int, name: str, error: str, now: datetime
) -> GatherResult:
    with session_scope(db_url) as session:
        source = session.get(Source, source_id)
        if source is not None:
            source.last_fetched_at = now
            source.last_error = error[:2000]
            source.error_count += 1
    return GatherResult(source_id, name, error=error)


def source_ids(db_url: str) -> list[int]:
    with session_scope(db_url) as session:
        return list(session.scalars(select(Source.id).order_by(Source.id)))


def settings_fetcher(settings: Settings, client: httpx.Client | None = None) -> Fetcher:
    """The fetcher every source is read with: the limits come from the settings."""
    return partial(
        fetch, timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes, client=client
    )


def gather_all(
    settings: Settings,
    *,
    on_result: Callable[[GatherResult], None] | None = None,
    fetcher: Fetcher | None = None,
    process: EntryProcessor = article_from_entry,
) -> list[GatherResult]:
    """Gather every source in turn over one HTTP client; one source's failure is its own."""
    results = []
    with httpx.Client() as client:
        fetcher = fetcher or settings_fetcher(settings, client)
        for source_id in source_ids(settings.database_url):
            result = gather_source(
                settings.database_url, source_id, fetcher=fetcher, process=process
            )
            results.append(result)
            if on_result:
                on_result(result)
    return results
