"""Gathering: fetch a source URL and turn it into feed entries, whether it is a feed or a page."""

from __future__ import annotations

from collections.abc import Callable

from digest.gather.feeds import FeedEntry, FeedError, ParsedFeed, looks_like_feed, parse_feed
from digest.gather.fetch import Fetched, FetchError, fetch
from digest.gather.pages import parse_article_page

__all__ = [
    "FeedEntry",
    "FeedError",
    "FetchError",
    "Fetched",
    "ParsedFeed",
    "fetch",
    "parse_article_page",
    "parse_feed",
    "read_source",
]

_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_HTML_STARTS = (b"<!doctype html", b"<html")


def _looks_like_html(body: bytes, content_type: str) -> bool:
    if content_type in _HTML_MEDIA_TYPES:
        return True
    head = body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(_HTML_STARTS)


def read_source(url: str, *, fetcher: Callable[[str], Fetched] = fetch) -> ParsedFeed:
    """Fetch ``url`` and parse it as a feed, or as a single article page when it is HTML."""
    fetched = fetcher(url)
    if looks_like_feed(fetched.body, fetched.content_type):
        return parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type)
    if _looks_like_html(fetched.body, fetched.content_type):
        entry = parse_article_page(fetched.body, url=fetched.url)
        return ParsedFeed(title=entry.title, link=fetched.url, entries=[entry])
    kind = fetched.content_type or "no content type"
    raise FeedError(f"{url}: neither a feed nor an HTML page ({kind})")
