"""Gathering: fetch a source URL and turn it into feed entries, whether it is a feed, an
article page or a section page whose article links are followed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol, TypedDict, runtime_checkable

from digest.errors import FeedError, FetchError
from digest.gather.discover import common_feed_urls, feed_links, section_links
from digest.gather.feeds import (
    FeedEntry,
    LeftOut,
    ParsedFeed,
    html_to_text,
    looks_like_feed,
    parse_feed,
)
from digest.gather.fetch import Fetched, Fetcher, fetch
from digest.gather.kinds import ARTICLE, SECTION, Verdict, page_kind
from digest.gather.pages import page_tree, parse_article_page, site_name

__all__ = [
    "FeedEntry",
    "FeedError",
    "FetchError",
    "Fetched",
    "Fetcher",
    "LeftOut",
    "ParsedFeed",
    "SourceFetcher",
    "SourceRead",
    "as_source_fetcher",
    "fetch",
    "html_to_text",
    "needs_full_text",
    "parse_article_page",
    "parse_feed",
    "read",
    "read_article",
    "read_source",
    "with_full_text",
]

_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_HTML_STARTS = (b"<!doctype html", b"<html")
_TEASER_CHARS = 500
_TEASER_ENDINGS = re.compile(
    r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|read more|continue reading|more|weiterlesen|lire la suite"
    r"|leer más|leggi tutto|続きを読む|阅读全文|더보기)\W*$",
    re.IGNORECASE,
)
_MAX_FEEDS_TRIED = 3


@runtime_checkable
class SourceFetcher(Protocol):
    def __call__(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched: ...

    def page(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched: ...


@dataclass(frozen=True)
class SourceRead:
    """One fetch of a source, read."""

    kind: str  # feed, article or section, as found out now
    url: str  # what was read: the source's URL, or the feed found on its page
    title: str | None = None  # a feed's title, or an article page's site name
    entries: list[FeedEntry] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # section: article links to follow
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    note: str | None = None  # what discovery found, for the user
    reason: str | None = None  # why it is of its kind, when that was found out now
    left_out: list[LeftOut] = field(default_factory=list)  # entries the feed's parse dropped


class _Validators(TypedDict):
    """What a conditional GET sends back next time."""

    etag: str | None
    last_modified: str | None


def _looks_like_html(body: bytes, content_type: str) -> bool:
    if content_type in _HTML_MEDIA_TYPES:
        return True
    head = body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(_HTML_STARTS)


class _Plain:
    """A bare ``fetcher(url)`` callable, seen as a SourceFetcher (no conditions, no robots)."""

    def __init__(self, fetcher: Callable[[str], Fetched]) -> None:
        self.fetcher = fetcher

    def __call__(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        return self.fetcher(url)

    def page(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        return self.fetcher(url)


def as_source_fetcher(fetcher: SourceFetcher | Callable[[str], Fetched]) -> SourceFetcher:
    return fetcher if isinstance(fetcher, SourceFetcher) else _Plain(fetcher)


def read_source(url: str, *, fetcher: Callable[[str], Fetched] = fetch) -> ParsedFeed:
    """Fetch ``url`` and parse it as a feed, or as a single article page when it is HTML."""
    fetched = fetcher(url)
    if looks_like_feed(fetched.body, fetched.content_type):
        return parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type)
    if _looks_like_html(fetched.body, fetched.content_type):
        entry = parse_article_page(fetched.html(), url=fetched.url)
        return ParsedFeed(title=entry.title, link=fetched.url, entries=[entry])
    kind = fetched.content_type or "no content type"
    raise FeedError(f"{url}: neither a feed nor an HTML page ({kind})")


def read(
    url: str,
    *,
    kind: str = "auto",
    fetcher: SourceFetcher | Callable[[str], Fetched],
    etag: str | None = None,
    last_modified: str | None = None,
    probe: bool = True,
) -> SourceRead:
    """Fetch a source (conditionally, with the etag and date of the last fetch) and read it.

    ``kind`` is what the source is (feed, article or section: found before, or set by
    hand), or ``auto`` to find out. A feed gives its entries. With ``auto``, an HTML page
    is an article or a section page by what it is (`digest.gather.kinds.page_kind`); an
    article is read as one, and a section page, or a page with no article, has its feeds
    looked for (``<link rel=alternate>``, then with ``probe`` the common paths) and the
    first that reads is used; with none, it is watched as a section page. A known feed
    that answers with a page follows the feed that page names (the feed moved), else it
    is an error: it does not turn into a page because of one odd answer."""
    get = as_source_fetcher(fetcher)
    fetch_it = get.page if kind in (ARTICLE, SECTION) else get
    fetched = fetch_it(url, etag=etag, last_modified=last_modified)
    if fetched.not_modified:
        return SourceRead(kind, url, not_modified=True, etag=etag, last_modified=last_modified)
    cache: _Validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    if looks_like_feed(fetched.body, fetched.content_type):
        parsed = parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type)
        return SourceRead(
            "feed", url, parsed.title, parsed.entries, left_out=parsed.left_out, **cache
        )
    if not _looks_like_html(fetched.body, fetched.content_type):
        media = fetched.content_type or "no content type"
        raise FeedError(f"{url}: neither a feed nor an HTML page ({media})")
    html = fetched.html()
    links = section_links(html, fetched.url)
    if kind == SECTION:
        return SourceRead(SECTION, url, links=links, **cache)
    if kind == ARTICLE:
        page = parse_article_page(html, url=fetched.url)
        site = site_name(page_tree(html), page.link or fetched.url)
        return SourceRead(ARTICLE, url, site, [page], **cache)
    article_error = None
    entry: FeedEntry | None = None
    if kind == "auto":
        try:
            entry = parse_article_page(html, url=fetched.url)
        except FeedError as exc:
            article_error = exc
        tree = page_tree(html)
        address = entry.link if entry and entry.link else fetched.url
        verdict = page_kind(tree, address, len(links), entry.content_html if entry else None)
        if verdict.kind == ARTICLE and entry is not None:
            site = site_name(tree, address)
            return SourceRead(ARTICLE, url, site, [entry], reason=verdict.reason, **cache)
    else:  # a feed before: it may have moved, it is no page
        probe = False
        verdict = Verdict(None, "")
    candidates = feed_links(html, fetched.url)[:_MAX_FEEDS_TRIED]
    if probe:
        candidates += [c for c in common_feed_urls(fetched.url) if c not in candidates]
    for candidate in candidates:
        try:
            found = get(candidate)
            if not looks_like_feed(found.body, found.content_type):
                continue
            parsed = parse_feed(found.body, url=found.url, content_type=found.content_type)
        except (FetchError, FeedError):
            continue
        return SourceRead(
            "feed",
            candidate,
            parsed.title,
            parsed.entries,
            etag=found.etag,
            last_modified=found.last_modified,
            note=f"found the feed {candidate} on {url}",
            reason=f"{url} names the feed {candidate}",
            left_out=parsed.left_out,
        )
    if kind == "feed":
        raise FeedError(f"{url}: expected a feed, got an HTML page that names none")
    if links and verdict.kind == SECTION:
        note = f"no feed found: watching {url} as a section page ({len(links)} article links)"
        return SourceRead(SECTION, url, links=links, note=note, reason=verdict.reason, **cache)
    raise article_error or FeedError(f"no article text found at {url}")


def read_article(url: str, fetcher: SourceFetcher) -> FeedEntry:
    """An article page (robots.txt permitting), as an entry."""
    fetched = fetcher.page(url)
    if not _looks_like_html(fetched.body, fetched.content_type):
        raise FeedError(f"{url}: not an HTML page ({fetched.content_type or 'no content type'})")
    return parse_article_page(fetched.html(), url=fetched.url)


def needs_full_text(entry: FeedEntry, mode: str) -> bool:
    """Whether to fetch the entry's page: always; never; or (auto) when the feed gave only
    a teaser (short, or ending in an ellipsis or "read more") or no date."""
    if entry.link is None or entry.full_text or mode == "never":
        return False
    if mode == "always" or entry.published is None:
        return True
    text = html_to_text(entry.content_html)
    return bool(_TEASER_ENDINGS.search(text)) or (entry.is_teaser and len(text) < _TEASER_CHARS)


def with_full_text(entry: FeedEntry, page: FeedEntry) -> FeedEntry:
    """The entry with its page's text; the feed's metadata kept where the page lacks it."""
    feed_text = html_to_text(entry.content_html)
    page_text = html_to_text(page.content_html)
    better = len(page_text) > len(feed_text)
    return replace(
        entry,
        content_html=page.content_html if better else entry.content_html,
        is_teaser=entry.is_teaser and not better,
        full_text=better,
        published=entry.published or page.published,
        author=entry.author or page.author,
        categories=entry.categories or page.categories,
        language=entry.language or page.language,
        image_url=entry.image_url or page.image_url,
    )
