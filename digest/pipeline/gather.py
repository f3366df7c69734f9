"""Gather: fetch each source and store the entries it has not sent before.

Sources are fetched at once on a pool of threads (at most `gather_per_host` requests to
one host at a time); what they bring is written by the calling thread alone, one source
at a time. A source that fails backs off exponentially (up to a day, or as long as the
server asked with Retry-After); paused sources and those backing off are skipped.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx

from digest import wiring
from digest.config import Settings
from digest.content import article_body, article_language, sanitize_html, summarize
from digest.core.retry import backoff_until
from digest.core.vocabulary import utcnow
from digest.errors import FeedError, FetchError, InvalidInput
from digest.gather import (
    FeedEntry,
    Fetched,
    Fetcher,
    LeftOut,
    SourceFetcher,
    SourceRead,
    as_source_fetcher,
    html_to_text,
    needs_full_text,
    read,
    read_article,
    with_full_text,
)
from digest.gather.addresses import AddressRefused
from digest.gather.feeds import left_out_summary
from digest.gather.fetch import retry_after_time
from digest.gather.urls import host_of, link_variants, same_article_key
from digest.services.sources import default_source_name
from digest.store import articles, gathering
from digest.store.db import Session, commit_without_sync, get_engine, session_scope
from digest.store.models import Article, Source

# Turns a feed entry into the article row to store; raising leaves that entry out.
EntryProcessor = Callable[[FeedEntry, int, datetime], Article]
# A section page yields at most this many new articles per gather; the rest come next time.
MAX_SECTION_ARTICLES = 20
# Fewer sources than this are gathered in this process: forking costs more than it saves.
PROCESSES_FROM = 50


@dataclass(frozen=True)
class GatherResult:
    source_id: int
    name: str
    new: int = 0
    seen: int = 0  # entries stored before, by this source or another
    error: str | None = None
    # ok; not modified (the server answered 304); skipped (paused, or backing off until
    # retry_after); failed (error says why).
    status: str = "ok"
    kind: str | None = None
    note: str | None = None
    retry_after: str | None = None  # ISO 8601 UTC: the source is left alone until then
    full_text: int = 0  # new articles whose text came from their page
    entries: int = 0  # what the source had: its feed's entries, or a section's links
    left_out: int = 0  # of those, not stored now (reasons on the source's row)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class EntryRefused(Exception):
    """An entry that is left out for what it is, not for a fault: ``code`` as in LeftOut."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def article_from_entry(entry: FeedEntry, source_id: int, now: datetime) -> Article:
    """Sanitize, extract the body and summarize once, when the article is first seen."""
    content = sanitize_html(entry.content_html)
    if entry.link is None and html_to_text(entry.content_html) and not html_to_text(content):
        # Nothing to read and nowhere to go: a body of scripts, forms or frames alone.
        raise EntryRefused("sanitizer", "nothing of its text is left once sanitized")
    body = article_body(entry.content_html, title=entry.title)  # classes mark the clutter
    language = article_language(entry.language, f"{entry.title}\n{body}")
    return Article(
        source_id=source_id,
        key=entry.key,
        link=entry.link,
        title=entry.title,
        author=entry.author,
        categories=list(entry.categories),
        published_at=entry.published,  # undated: first_seen_at stands in
        first_seen_at=now,
        content_html=content,
        body_text=body,
        summary=summarize(body, title=entry.title, language=language, from_body=True),
        language=language,
        is_teaser=entry.is_teaser,
        image_url=entry.image_url,
        full_text=entry.full_text,
    )


# --- what is new ------------------------------------------------------------------------------


# (article id, source id) of a stored article
Found = tuple[int | None, int]  # None: the article was pruned since (its key and link kept)


def _article(article_id: int | None) -> str:
    return f"article {article_id}" if article_id is not None else "an article pruned since"


def known_links(session: Session, links: Iterable[str]) -> dict[str, Found]:
    """Of ``links``, the `same_article_key`s of those stored under any of their forms, by
    any source (``?utm_source=``, ``amp/``, ``m.`` and ``www.`` make no new article),
    each with the article that has it and its source."""
    variants = sorted({v for link in links for v in link_variants(link)})
    found: dict[str, Found] = {}
    for link, where in articles.stored_links(session, variants).items():
        found.setdefault(same_article_key(link), where)
    return found


def known_keys(session: Session, source_id: int, keys: Sequence[str]) -> dict[str, int | None]:
    """Of ``keys``, those the source has stored already, with their article ids."""
    return articles.known_keys(session, source_id, keys)


def stored_before(entry: FeedEntry, article_id: int | None, source_id: int) -> LeftOut:
    reason = f"stored before as {_article(article_id)}"
    return LeftOut(entry.title, entry.link, "stored", reason, article_id, source_id)


def split_new(
    session: Session, source_id: int, entries: Sequence[FeedEntry]
) -> tuple[list[FeedEntry], list[LeftOut]]:
    """The entries not stored before (same key in this source, or same link anywhere),
    and those that were, each with the article it is."""
    keys = known_keys(session, source_id, [e.key for e in entries])
    links = known_links(session, [e.link for e in entries if e.link])
    new: list[FeedEntry] = []
    left_out: list[LeftOut] = []
    taken: dict[str, FeedEntry] = {}
    for entry in entries:
        link_key = same_article_key(entry.link) if entry.link else None
        if entry.key in keys:
            left_out.append(stored_before(entry, keys[entry.key], source_id))
        elif (first := taken.get(entry.key)) is not None:
            reason = f"the same entry as {first.title[:80]!r} of this gather"
            left_out.append(LeftOut(entry.title, entry.link, "duplicate", reason))
        elif link_key and link_key in links:
            article_id, other = links[link_key]
            if other == source_id:
                left_out.append(stored_before(entry, article_id, source_id))
            else:
                reason = f"the same link as {_article(article_id)} of source {other}"
                left_out.append(
                    LeftOut(entry.title, entry.link, "duplicate", reason, article_id, other)
                )
        else:
            taken[entry.key] = entry
            if link_key:
                links[link_key] = (0, source_id)  # taken by this gather
            new.append(entry)
    return new, left_out


@dataclass
class Stored:
    new: int = 0
    left_out: list[LeftOut] = field(default_factory=list)  # with why, stored before or not
    articles: list[Article] = field(default_factory=list)  # made, not yet added


def make_articles(
    entries: Sequence[FeedEntry],
    source_id: int,
    now: datetime,
    *,
    left_out: Sequence[LeftOut] = (),
    process: EntryProcessor = article_from_entry,
) -> Stored:
    """The article rows of new ``entries`` (CPU only: no database, no lock held).

    An entry that cannot be processed is left out with its reason; the others are made.
    """
    stored = Stored(left_out=list(left_out))
    # Oldest first, so article ids grow with publication order.
    for entry in sorted(entries, key=lambda e: e.published.timestamp() if e.published else 0):
        try:
            stored.articles.append(process(entry, source_id, now))
        except EntryRefused as exc:
            stored.left_out.append(LeftOut(entry.title, entry.link, exc.code, str(exc)))
        except Exception as exc:  # one hostile entry must not keep out its neighbours
            reason = f"processing it broke: {type(exc).__name__}: {exc}"
            stored.left_out.append(LeftOut(entry.title, entry.link, "error", reason[:500]))
    stored.new = len(stored.articles)
    return stored


# --- one source -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceState:
    """What gathering needs to know of a source, read before fetching it."""

    id: int
    name: str
    url: str
    kind: str
    full_text_mode: str
    etag: str | None
    last_modified: str | None
    paused: bool
    retry_after: datetime | None
    read_before: bool = False  # it was read once: its kind is known
    kind_origin: str = "found"  # found (by reading it), set (by hand), auto (find it again)

    @classmethod
    def of(cls, source: Source) -> SourceState:
        return cls(
            source.id,
            source.name,
            source.url,
            source.kind or "feed",
            source.full_text_mode or "auto",
            source.etag,
            source.last_modified,
            source.paused,
            source.retry_after,
            source.last_ok_at is not None,
            source.kind_origin or "found",
        )

    @property
    def read_as(self) -> str:
        """The kind to read it as: the one set by hand or found before, or auto."""
        if self.kind_origin == "set":
            return self.kind
        if self.kind_origin == "auto" or (not self.read_before and self.kind == "feed"):
            return "auto"
        return self.kind

    def skip_reason(self, now: datetime) -> str | None:
        if self.paused:
            return "paused"
        if self.retry_after and self.retry_after > now:
            return f"backing off until {self.retry_after:%Y-%m-%d %H:%M} UTC"
        return None


@dataclass
class Collected:
    """What one fetch of a source brought, before anything is written."""

    state: SourceState
    read: SourceRead | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    total: int = 0  # what the source had: feed entries, or a section's article links
    left_out: list[LeftOut] = field(default_factory=list)  # of those, not taken, and why
    full_text: int = 0
    error: str | None = None
    retry_after: str | None = None  # the server's Retry-After header
    refused: list[str] = field(default_factory=list)  # pages whose address is refused


def _each(
    function: Callable[[str], FeedEntry], urls: Sequence[str], workers: int
) -> list[FeedEntry | Exception]:
    """``function`` over ``urls`` on a few threads; each outcome an entry or an exception."""
    if len(urls) <= 1:
        workers = 1

    def attempt(url: str) -> FeedEntry | Exception:
        try:
            return function(url)
        except Exception as exc:  # one bad page must not cost the others
            return exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(attempt, urls))


def collect(
    db_url: str, state: SourceState, fetcher: SourceFetcher, *, per_host: int = 4
) -> Collected:
    """Fetch and read one source, follow its section links or fetch its entries' full
    text, and keep what is new. Reads the database, writes nothing: safe on any thread."""
    collected = Collected(state)
    try:
        got = read(
            state.url,
            kind=state.read_as,
            fetcher=fetcher,
            etag=state.etag,
            last_modified=state.last_modified,
        )
        collected.read = got
        if got.not_modified:
            return collected
        if got.kind == "section":
            _collect_section(db_url, collected, got, fetcher, per_host)
            return collected
        collected.total = len(got.entries) + len(got.left_out)
        collected.left_out = list(got.left_out)
        # Only this source's keys here: the links are compared when storing (`store`).
        with session_scope(db_url) as session:
            known = known_keys(session, state.id, [e.key for e in got.entries])
        new = [e for e in got.entries if e.key not in known]
        collected.left_out += [
            stored_before(e, known[e.key], state.id) for e in got.entries if e.key in known
        ]
        wanted = [e for e in new if needs_full_text(e, state.full_text_mode)]
        pages = _each(lambda u: read_article(u, fetcher), [e.link or "" for e in wanted], per_host)
        fuller = {}
        for entry, page in zip(wanted, pages, strict=True):
            if not isinstance(page, Exception):
                fuller[entry.key] = with_full_text(entry, page)
            elif isinstance(page, AddressRefused):  # kept as the feed has it, and said why
                collected.refused.append(f"full text not fetched: {page}")
        collected.entries = [fuller.get(e.key, e) for e in new]
        collected.full_text = sum(1 for e in collected.entries if e.full_text)
    except FetchError as exc:
        collected.error, collected.retry_after = str(exc), exc.retry_after
    except FeedError as exc:
        collected.error = str(exc)
    except Exception as exc:  # a bug met on one hostile source must not stop the others
        collected.error = f"unexpected {type(exc).__name__}: {exc}"
    return collected


def _collect_section(
    db_url: str, collected: Collected, got: SourceRead, fetcher: SourceFetcher, per_host: int
) -> None:
    """A section page's article links: those not stored yet read as articles (at most
    MAX_SECTION_ARTICLES a gather); a page whose links all fail is an error."""
    collected.total = len(got.links)
    if not got.links:
        collected.error = f"the section page {got.url} links no articles now"
        return
    with session_scope(db_url) as session:
        stored = known_links(session, got.links)
    fresh: list[str] = []
    for link in got.links:
        if (where := stored.get(same_article_key(link))) is not None:
            reason = f"stored before as {_article(where[0])}"
            if where[1] != collected.state.id:
                reason += f" of source {where[1]}"
            code = "stored" if where[1] == collected.state.id else "duplicate"
            collected.left_out.append(LeftOut(link, link, code, reason, *where))
        elif len(fresh) < MAX_SECTION_ARTICLES:
            fresh.append(link)
        else:
            reason = f"for the next gather: {MAX_SECTION_ARTICLES} articles are read at a time"
            collected.left_out.append(LeftOut(link, link, "later", reason))
    pages = _each(lambda u: read_article(u, fetcher), fresh, per_host)
    failed = []
    for link, outcome in zip(fresh, pages, strict=True):
        if isinstance(outcome, Exception):
            reason = f"its page could not be read: {outcome}"
            collected.left_out.append(LeftOut(link, link, "unreadable", reason[:500]))
            failed.append(f"{link}: {outcome}")
        else:
            collected.entries.append(outcome)
    if fresh and not collected.entries:
        count = len(fresh)
        links = "link" if count == 1 else f"{count} links"
        collected.error = f"none of the section's new article {links} could be read: {failed[0]}"
        if count > 1:
            collected.error += f"; `digest sources show {collected.state.id}` lists them all"


def store(
    db_url: str,
    collected: Collected,
    now: datetime,
    *,
    process: EntryProcessor = article_from_entry,
    backoff_base: float = 600.0,
) -> GatherResult:
    """Write what `collect` brought, and the outcome on the source's row."""
    state = collected.state
    made = None
    if collected.error is None and collected.read is not None and not collected.read.not_modified:
        # What is new, and its rows, before the write: a write transaction holds SQLite's
        # one lock, and other processes storing their sources wait for it.
        with session_scope(db_url) as session:
            new, known = split_new(session, state.id, collected.entries)
        made = make_articles(new, state.id, now, left_out=known, process=process)
    with session_scope(db_url) as session:
        source = gathering.get_source(session, state.id)
        if collected.error is not None or collected.read is None:
            failure = collected.error or "nothing was read"
            asked = retry_after_time(collected.retry_after, now)
            retry = backoff_until(source.error_count + 1, now, backoff_base, asked)
            gathering.record_failure(session, source, now, failure, retry)
            if collected.total:  # a section page read whose every article link failed
                left = [e.as_dict() for e in collected.left_out]
                gathering.record_entries(session, source, collected.total, 0, left)
            return GatherResult(
                source.id,
                source.name,
                error=failure,
                status="failed",
                kind=source.kind,
                retry_after=retry.isoformat() if retry else None,
            )
        got = collected.read
        gathering.record_fetched(session, source, now, not_modified=got.not_modified)
        if got.not_modified:
            return GatherResult(source.id, source.name, status="not modified", kind=source.kind)
        note = got.note
        url = None
        if got.url != source.url:  # a feed found on the page: read it from now on
            if not gathering.url_taken(session, got.url):
                url = got.url
            else:
                note = f"{note}; another source already reads it"
        stored = made or Stored()  # made above: the read brought a modified source
        articles.add_articles(session, stored.articles)
        # Nobody named it: the feed's title is better.
        named = got.title if got.title and source.name == default_source_name(state.url) else None
        left_out = [*collected.left_out, *stored.left_out]
        error = _left_out_error(left_out, stored.new, collected.total, source.id)
        if collected.refused:
            error = "; ".join([error, *collected.refused] if error else collected.refused)
        gathering.record_read(
            session,
            source,
            url=url,
            kind=got.kind,
            kind_reason=got.reason,
            etag=got.etag,
            last_modified=got.last_modified,
            name=named,
            error=error,
            entries=collected.total,
            stored=stored.new,
            left_out=[e.as_dict() for e in left_out],
        )
        return GatherResult(
            source.id,
            source.name,
            stored.new,
            sum(1 for e in left_out if e.code in ("stored", "duplicate")),
            error,
            kind=source.kind,
            note=note,
            full_text=sum(1 for e in collected.entries if e.full_text),
            entries=collected.total,
            left_out=len(left_out),
        )


def _left_out_error(
    left_out: Sequence[LeftOut], stored: int, total: int, source_id: int
) -> str | None:
    """What the source's row says of the entries left out for a fault (empty, refused,
    broke, unreadable), in one line with a count and the first of them (`digest sources
    show` lists them all), or of a source that had entries and stored none: None when
    nothing was lost but what was stored before."""
    faults = [e for e in left_out if e.code in ("error", "sanitizer", "unreadable", "empty")]
    if faults:
        count = len(faults)
        said = f"{count} entr{'y' if count == 1 else 'ies'} left out"
        if count > 1:
            said += f" ({left_out_summary(e.code for e in faults)})"
        first = faults[0]
        said += f": {first.title[:80]!r}: {first.reason}"
        if count > 1:
            said += f"; `digest sources show {source_id}` lists them all"
        return said
    if total and not stored and not any(e.code in ("stored", "later") for e in left_out):
        return f"none of its {total} entries stored: " + left_out_summary(e.code for e in left_out)
    return None


def source_state(db_url: str, source_id: int) -> SourceState:
    with session_scope(db_url) as session:
        return SourceState.of(gathering.get_source(session, source_id))


def _skipped(state: SourceState, reason: str) -> GatherResult:
    retry = state.retry_after.isoformat() if state.retry_after and not state.paused else None
    return GatherResult(
        state.id, state.name, status="skipped", kind=state.kind, note=reason, retry_after=retry
    )


def gather_source(
    db_url: str,
    source_id: int,
    *,
    fetcher: Fetcher | Callable[[str], Fetched],
    now: datetime | None = None,
    process: EntryProcessor = article_from_entry,
    backoff_base: float = 600.0,
) -> GatherResult:
    """Fetch one source and store its new articles; any failure is recorded on the source."""
    now = now or utcnow()
    state = source_state(db_url, source_id)
    if reason := state.skip_reason(now):
        return _skipped(state, reason)
    collected = collect(db_url, state, as_source_fetcher(fetcher))
    return store(db_url, collected, now, process=process, backoff_base=backoff_base)


def source_ids(db_url: str) -> list[int]:
    with session_scope(db_url) as session:
        return gathering.source_ids(session)


@dataclass(frozen=True)
class SourceCheck:
    url: str  # the URL to add: the one given, or the feed found on its page
    kind: str
    summary: str  # what was found, in a sentence
    reason: str | None = None  # why it is of its kind


def check_source(settings: Settings, url: str, kind: str = "auto") -> SourceCheck:
    """Fetch a URL about to be added and say what it is, and why: a feed, an article
    page, a page whose site has a feed (then the feed is added), or a section page.
    ``kind`` given (feed, article, section) reads it as that, as a source set so would be."""
    with wiring.fetcher_for(settings) as fetcher:
        try:
            got = read(url, kind=kind, fetcher=fetcher)
        except (FetchError, FeedError) as exc:
            raise InvalidInput(f"{exc}") from None
    reason = got.reason or ("set by hand" if kind != "auto" else None)
    why = f" ({reason})" if reason else ""
    if got.kind == "article":
        title = got.entries[0].title if got.entries else ""
        summary = f"{url} is an article page{why}: {title!r}"
    elif got.kind == "section":
        count = len(got.links)
        summary = f"{url} is a section page{why}, with {count} article links"
        if got.note:
            summary = f"{got.note}{why}"
    else:
        count = len(got.entries)
        named = f" {got.title!r}" if got.title else ""
        summary = f"{got.url} is a feed{named} with {count} entr{'y' if count == 1 else 'ies'}"
        if got.note:
            summary = f"{got.note}: a feed{named} with {count} entries"
        if got.left_out:
            summary += f" ({left_out_summary(e.code for e in got.left_out)} left out)"
    return SourceCheck(got.url, got.kind, summary, reason)


def _by_host(states: Sequence[SourceState], shares: int) -> list[list[SourceState]]:
    """The sources in `shares` groups of about equal size, each host in one group only, so
    the limit per host holds across processes."""
    hosts: dict[str, list[SourceState]] = {}
    for state in states:
        hosts.setdefault(host_of(state.url), []).append(state)
    groups: list[list[SourceState]] = [[] for _ in range(shares)]
    for same_host in sorted(hosts.values(), key=len, reverse=True):
        min(groups, key=len).extend(same_host)
    return [g for g in groups if g]


def _gather_threads(
    settings: Settings,
    states: Sequence[SourceState],
    now: datetime,
    process: EntryProcessor,
    fetcher: Fetcher | None,
    done: Callable[[GatherResult], None],
) -> None:
    """Fetch on a pool of threads, store here, one source at a time."""
    db_url = settings.database_url
    limits = httpx.Limits(max_connections=settings.gather_concurrency * 2)
    with httpx.Client(limits=limits) as client:
        fetcher = fetcher or wiring.fetcher_for(settings, client)
        per_host = settings.gather_per_host
        with ThreadPoolExecutor(max_workers=settings.gather_concurrency) as pool:
            futures = [pool.submit(collect, db_url, s, fetcher, per_host=per_host) for s in states]
            for future in as_completed(futures):
                result = store(
                    db_url,
                    future.result(),
                    now,
                    process=process,
                    backoff_base=settings.gather_backoff_base,
                )
                done(result)


def _gather_share(
    settings: Settings,
    states: list[SourceState],
    now: datetime,
    process: EntryProcessor,
    results: Any,
) -> None:
    """One forked process's share: its results go back through the queue, then None."""
    # The parent's pooled connections must not be used, nor closed, from here.
    get_engine(settings.database_url).dispose(close=False)
    commit_without_sync(settings.database_url)
    try:
        _gather_threads(settings, states, now, process, None, lambda r: results.put(asdict(r)))
    finally:
        results.put(None)


def _gather_processes(
    settings: Settings,
    states: list[SourceState],
    now: datetime,
    process: EntryProcessor,
    done: Callable[[GatherResult], None],
    processes: int,
) -> None:
    """Parsing feeds and making articles is CPU work: spread it over `processes`
    processes (forked, so nothing needs pickling but the results)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    get_engine(settings.database_url).dispose()  # no open connection crosses the fork
    workers = [
        context.Process(target=_gather_share, args=(settings, share, now, process, results))
        for share in _by_host(states, processes)
    ]
    for worker in workers:
        worker.start()
    seen: set[int] = set()
    finished = 0
    while finished < len(workers):
        try:
            item = results.get(timeout=1.0)
        except queue.Empty:
            if not any(w.is_alive() for w in workers) and results.empty():
                break
            continue
        if item is None:
            finished += 1
        else:
            seen.add(item["source_id"])
            done(GatherResult(**item))
    for worker in workers:
        worker.join(5)
    for state in states:  # a process that died left these unreported
        if state.id not in seen:
            done(GatherResult(state.id, state.name, error="gathering stopped", status="failed"))


def gather_all(
    settings: Settings,
    *,
    on_result: Callable[[GatherResult], None] | None = None,
    fetcher: Fetcher | None = None,
    process: EntryProcessor = article_from_entry,
    now: datetime | None = None,
) -> list[GatherResult]:
    """Gather every source: fetched at once (a limit per host), stored as they arrive.

    Many sources are shared out over one process per CPU core (DIGEST_GATHER_PROCESSES),
    each with its pool of threads; a few are gathered in this process."""
    now = now or utcnow()
    with session_scope(settings.database_url) as session:
        states = [SourceState.of(s) for s in gathering.sources(session)]
    results: list[GatherResult] = []

    def done(result: GatherResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    due = []
    for state in states:
        if reason := state.skip_reason(now):
            done(_skipped(state, reason))
        else:
            due.append(state)
    processes = settings.gather_processes or os.cpu_count() or 1
    if (
        processes > 1
        and fetcher is None
        and len(due) >= PROCESSES_FROM
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        _gather_processes(settings, due, now, process, done, processes)
    else:
        _gather_threads(settings, due, now, process, fetcher, done)
    order = {state.id: i for i, state in enumerate(states)}
    return sorted(results, key=lambda r: order.get(r.source_id, 0))
