"""Turn a fetched feed body (RSS 0.9x/1.0/2.0, Atom or JSON Feed) into uniform FeedEntry records.

Content is kept raw here: sanitizing HTML is the job of a later stage, which needs the original
markup to decide what to keep.
"""

from __future__ import annotations

import html
import json
import re
import time
import xml.sax
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html

from digest.errors import FeedError
from digest.gather.identity import article_key
from digest.gather.text import has_controls, language_tag, tidy
from digest.gather.urls import clean_link

_FEED_MEDIA_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
    }
)
# Generic types carry feeds too, but also other documents, so they are confirmed by sniffing.
_GENERIC_MEDIA_TYPES = frozenset({"application/xml", "text/xml", "application/json"})
_JSON_MEDIA_TYPES = frozenset({"application/feed+json", "application/json"})
_SNIFF_BYTES = 2048
_FIRST_ROOT_TAG = re.compile(rb"<(rss|feed|rdf:rdf|html)[\s>]")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n\s*\n")
_UTF8_BOM = b"\xef\xbb\xbf"
UNTITLED = "(untitled)"


@dataclass(frozen=True)
class FeedEntry:
    key: str  # see digest.gather.identity: stable across fetches, fits the column
    link: str | None  # absolute http(s) URL
    title: str  # plain text; "(untitled)" if the entry has none
    published: datetime | None  # aware UTC: published, else updated
    author: str | None
    categories: tuple[str, ...]
    content_html: str  # fullest body available, unsanitized
    is_teaser: bool  # only a summary/description was available
    language: str | None = None  # as declared by the feed or page, BCP 47 (text.language_tag)
    image_url: str | None = None  # lead image, absolute http(s)
    full_text: bool = False  # the content came from fetching the article's page


@dataclass(frozen=True)
class LeftOut:
    """An entry of a source that was not stored, and why.

    ``code`` sorts the reasons: ``stored`` (this source stored it before), ``duplicate``
    (twice in the feed, or the same link as an article of another source), ``empty`` (no
    title, link, image or text), ``sanitizer`` (nothing of it is left once sanitized), ``error``
    (processing it broke), ``unreadable`` (a section's article page could not be read),
    ``later`` (past what one gather of a section takes)."""

    title: str
    link: str | None
    code: str
    reason: str
    article_id: int | None = None  # the stored article it duplicates
    source_id: int | None = None  # and that article's source

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "link": self.link,
            "code": self.code,
            "reason": self.reason,
            "article_id": self.article_id,
            "source_id": self.source_id,
        }


_LEFT_OUT_WORDS = {
    "stored": "stored before",
    "duplicate": "duplicates",
    "empty": "empty",
    "sanitizer": "refused by the sanitizer",
    "error": "broke processing",
    "unreadable": "pages not read",
    "later": "for the next gather",
}


def left_out_summary(codes: Iterable[str]) -> str:
    """``18 stored before, 2 duplicates``: the codes of left-out entries, counted in
    words ('' for none)."""
    counts: dict[str, int] = {}
    for code in codes:
        counts[code] = counts.get(code, 0) + 1
    return ", ".join(f"{n} {_LEFT_OUT_WORDS.get(code, code)}" for code, n in counts.items())


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[FeedEntry]
    # What the feed had but no entry came of: each with its reason.
    left_out: list[LeftOut] = field(default_factory=list)


def _head(body: bytes) -> bytes:
    return body[:_SNIFF_BYTES].removeprefix(_UTF8_BOM).lstrip()


def _sniffed_root(body: bytes) -> str | None:
    """The first of rss/feed/rdf:RDF/html tags near the start, so pages are told from feeds."""
    match = _FIRST_ROOT_TAG.search(_head(body).lower())
    return match.group(1).decode() if match else None


def looks_like_feed(body: bytes, content_type: str) -> bool:
    """Guess from the media type and the first bytes whether ``body`` is a feed."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _FEED_MEDIA_TYPES:
        return True
    if _head(body).startswith(b"{"):
        return True
    root = _sniffed_root(body)
    if media_type in _GENERIC_MEDIA_TYPES:
        return root != "html"
    return root is not None and root != "html"


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed body fetched from ``url``; raise FeedError if it holds no feed."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    head = _head(body)
    if not head:
        raise FeedError("not a feed: the response body is empty")
    if head.startswith(b"{") or (media_type in _JSON_MEDIA_TYPES and not head.startswith(b"<")):
        feed = _parse_json_feed(body, url)
    else:
        feed = _parse_xml_feed(body, url, media_type)
    entries, left_out = _dedupe(feed.entries)
    return ParsedFeed(feed.title, feed.link, entries, [*feed.left_out, *left_out])


def _dedupe(entries: Iterable[FeedEntry]) -> tuple[list[FeedEntry], list[LeftOut]]:
    """The entries with something in them, each once; and those left out, with why."""
    seen: dict[str, FeedEntry] = {}
    left_out = []
    for entry in entries:
        if (
            entry.link is None
            and entry.title == UNTITLED
            and entry.image_url is None
            and not html_to_text(entry.content_html)
        ):
            left_out.append(LeftOut(entry.title, None, "empty", "no title, link, image or text"))
        elif (first := seen.get(entry.key)) is not None:
            reason = f"the feed has it twice: the same id or link as {first.title[:80]!r}"
            left_out.append(LeftOut(entry.title, entry.link, "duplicate", reason))
        else:
            seen[entry.key] = entry
    return list(seen.values()), left_out


# --- shared helpers ---------------------------------------------------------------------------


def clean_text(value: str | None) -> str:
    return _WHITESPACE.sub(" ", tidy(value or "")).strip()


def title_from_text(text: str, limit: int = 80) -> str:
    """A title for an entry that has none: its first sentence or words, else "(untitled)"."""
    text = clean_text(text)
    if not text:
        return UNTITLED
    sentence = re.split(r"(?<=[.!?。！？])\s", text, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0] if " " in sentence[:limit] else sentence[:limit]
    return cut.rstrip(",;:") + "…"


def html_to_text(value: str) -> str:
    if "<" not in value and "&" not in value:
        return clean_text(value)
    try:
        return clean_text(lxml.html.fragment_fromstring(value, create_parent="div").text_content())
    except Exception:  # lxml rejects some fragments outright; fall back to crude stripping
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", value)))


def absolute_http_url(link: str | None, base: str) -> str | None:
    """Resolve ``link`` against ``base``; drop anything that is not http(s), or that has a
    control character in it."""
    link = (link or "").strip()
    if not link or has_controls(link):
        return None
    resolved = urljoin(base, link)
    parts = urlsplit(resolved)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return resolved


def entry_link(link: str | None, base: str) -> str | None:
    """An entry's link, absolute and without tracking parameters (see urls.clean_link)."""
    resolved = absolute_http_url(link, base)
    return clean_link(resolved) if resolved else None


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    cleaned = (clean_text(v) for v in values if v)
    return tuple(dict.fromkeys(v for v in cleaned if v))


# --- RSS / Atom via feedparser ----------------------------------------------------------------


def _parse_xml_feed(body: bytes, url: str, media_type: str) -> ParsedFeed:
    headers = {"content-location": url}
    if media_type:
        headers["content-type"] = media_type
    # sanitize_html=False: content stays raw for the sanitizing stage; relative URIs in content
    # are still resolved against the feed URL so the later stage gets working links.
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    if not parsed.get("version") and not parsed.entries:
        if _sniffed_root(body) == "html":
            reason = "got an HTML page, not RSS, Atom or JSON Feed"
        else:
            problem = parsed.get("bozo_exception")
            # Other bozo reasons (content type, encoding) would hide the real problem here.
            if not isinstance(problem, xml.sax.SAXException):
                problem = "no RSS, Atom or JSON Feed elements found"
            reason = f"could not parse XML or JSON ({problem})"
        raise FeedError(f"not a feed: {reason}")
    if parsed.get("bozo") and _cut_short(body):
        # What a loose parser makes of half a feed would be stored for good, cut short.
        raise FeedError("the feed ends early (truncated XML: its root element is never closed)")
    channel = parsed.feed
    language = language_tag(channel.get("language")) or language_tag(
        (channel.get("title_detail") or {}).get("language")
    )
    entries = [_xml_entry(e, url, language) for e in parsed.entries]
    return ParsedFeed(
        title=_detail_text(channel, "title") or None,
        link=absolute_http_url(channel.get("link"), url),
        entries=entries,
    )


_CLOSING_ROOT = re.compile(rb"</(?:[\w-]+:)?(?:rss|feed|rdf)\s*>\s*$", re.IGNORECASE)


def _cut_short(body: bytes) -> bool:
    tail = body[-256:].rstrip(b"\x00 \t\r\n")
    tail = re.sub(rb"(?:<!--.*?-->\s*)+$", b"", tail, flags=re.DOTALL)
    return not _CLOSING_ROOT.search(tail)


def _detail_text(node: Any, field: str) -> str:
    value = node.get(field) or ""
    detail = node.get(f"{field}_detail") or {}
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        return html_to_text(value)
    return clean_text(value)


def _struct_to_utc(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        # feedparser already normalizes parsed dates to UTC.
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _xml_image(entry: Any, url: str) -> str | None:
    candidates = [t.get("url") for t in entry.get("media_thumbnail") or []]
    candidates += [
        m.get("url")
        for m in entry.get("media_content") or []
        if m.get("medium") == "image" or (m.get("type") or "").startswith("image/")
    ]
    candidates += [
        e.get("href")
        for e in entry.get("enclosures") or []
        if (e.get("type") or "").startswith("image/")
    ]
    image = entry.get("image")
    if isinstance(image, dict):
        candidates.append(image.get("href") or image.get("url"))
    for candidate in candidates:
        if found := absolute_http_url(candidate, url):
            return found
    return None


def _xml_language(entry: Any, feed_language: str | None) -> str | None:
    for detail in [*(entry.get("content") or []), entry.get("summary_detail") or {}]:
        if found := language_tag(detail.get("language")):
            return found
    return feed_language


def _xml_entry(entry: Any, url: str, feed_language: str | None = None) -> FeedEntry:
    title = _detail_text(entry, "title")
    bodies = [c.get("value") or "" for c in entry.get("content") or []]
    full = max(bodies, key=len, default="")
    content = tidy(full or entry.get("summary") or "")
    title = title or title_from_text(html_to_text(content))
    link = entry_link(entry.get("link"), url)
    author_detail = entry.get("author_detail") or {}
    author = clean_text(author_detail.get("name") or entry.get("author")) or None
    # dict.get skips feedparser's deprecated updated->published key aliasing.
    published = _struct_to_utc(dict.get(entry, "published_parsed")) or _struct_to_utc(
        dict.get(entry, "updated_parsed")
    )
    categories = _unique(t.get("label") or t.get("term") for t in entry.get("tags") or [])
    return FeedEntry(
        key=article_key(entry.get("id"), link, title, content),
        link=link,
        title=title,
        published=published,
        author=author,
        categories=categories,
        content_html=content,
        is_teaser=not full.strip(),
        language=_xml_language(entry, feed_language),
        image_url=_xml_image(entry, url),
    )


# --- JSON Feed 1.0 / 1.1 --------------------------------------------------------------------


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"not a feed: could not parse XML or JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FeedError('not a feed: JSON without a JSON Feed "items" list')
    feed_authors = _json_authors(data)
    language = language_tag(_str(data.get("language")))
    entries = []
    left_out = []
    for position, item in enumerate(data["items"], 1):
        if isinstance(item, dict):
            entries.append(_json_entry(item, url, feed_authors, language))
        else:
            reason = f"item {position} is {type(item).__name__}, not a JSON object"
            left_out.append(LeftOut(f"item {position}", None, "empty", reason))
    return ParsedFeed(
        title=clean_text(_str(data.get("title"))) or None,
        link=absolute_http_url(_str(data.get("home_page_url")), url),
        entries=entries,
        left_out=left_out,
    )


def _str(value: Any) -> str | None:
    # JSON Feeds in the wild put numbers where strings belong (ids especially).
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _json_authors(node: dict[str, Any]) -> str | None:
    authors = node.get("authors")
    if not isinstance(authors, list):  # JSON Feed 1.0 has a single "author" object
        authors = [node.get("author")]
    names = _unique(_str(a.get("name")) for a in authors if isinstance(a, dict))
    return ", ".join(names) or None


def iso_to_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def text_to_html(text: str) -> str:
    paragraphs = (p.strip() for p in _BLANK_LINE.split(text.replace("\r\n", "\n")))
    return "\n".join(
        "<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs if p
    )


def _json_entry(
    item: dict[str, Any], url: str, feed_authors: str | None, language: str | None = None
) -> FeedEntry:
    title = clean_text(_str(item.get("title")))
    link = entry_link(_str(item.get("url")), url) or entry_link(_str(item.get("external_url")), url)
    full = _str(item.get("content_html")) or ""
    if not full.strip() and (text := _str(item.get("content_text"))):
        full = text_to_html(text)
    # JSON Feed summaries are plain text, unlike RSS descriptions.
    content = tidy(full or text_to_html(_str(item.get("summary")) or ""))
    title = title or title_from_text(html_to_text(content))
    tags = found if isinstance(found := item.get("tags"), list) else []
    image = absolute_http_url(_str(item.get("image")), url) or absolute_http_url(
        _str(item.get("banner_image")), url
    )
    return FeedEntry(
        key=article_key(_str(item.get("id")), link, title, content),
        link=link,
        title=title,
        published=iso_to_utc(_str(item.get("date_published")))
        or iso_to_utc(_str(item.get("date_modified"))),
        author=_json_authors(item) or feed_authors,
        categories=_unique(_str(t) for t in tags),
        content_html=content,
        is_teaser=not full.strip(),
        language=language_tag(_str(item.get("language"))) or language,
        image_url=image,
    )
