"""What an HTML page offers besides itself: the site's feeds, and links to its articles.

Used when a source URL is a home or section page rather than a feed or an article.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import lxml.html

from digest.gather.feeds import absolute_http_url, clean_text
from digest.gather.urls import clean_link, same_article_key

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
    "application/xml",
    "text/xml",
)
# Tried in this order when a page names no feed; the usual places of common site engines.
COMMON_FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml")
MAX_SECTION_LINKS = 30
_NOT_ARTICLES = re.compile(
    r"/(?:tag|tags|category|categories|author|authors|search|login|signin|register|account"
    r"|subscribe|newsletter|about|contact|privacy|terms|imprint|impressum|page|feed|rss)(?:/|$)",
    re.IGNORECASE,
)
_FILES = re.compile(r"\.(?:jpe?g|png|gif|webp|svg|pdf|zip|mp3|mp4|css|js|xml|json)$", re.I)
_DATED = re.compile(r"/(?:19|20)\d\d/")
_ID = re.compile(r"\d{4,}")
_CHROME = ("nav", "header", "footer", "aside", "form")


def _tree(html: bytes | str) -> lxml.html.HtmlElement | None:
    from trafilatura.utils import load_html

    return load_html(html) if html else None


_SECOND_LEVELS = frozenset(("co", "com", "org", "net", "gov", "ac", "edu", "or", "ne", "go"))


def site_domain(host: str) -> str:
    """The site a host belongs to: ``uk.news.yahoo.com`` and ``uk.yahoo.com`` are both
    ``yahoo.com``; ``www.bbc.co.uk`` is ``bbc.co.uk`` (a country's second level kept)."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2 or all(label.isdigit() for label in labels):
        return ".".join(labels)
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS else 2
    return ".".join(labels[-keep:])


def feed_links(html: bytes | str, url: str) -> list[str]:
    """Feeds the page names in ``<link rel="alternate" type=...>``, in page order."""
    tree = _tree(html)
    if tree is None:
        return []
    found: list[str] = []
    for element in tree.iterfind(".//link[@href]"):
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        link = absolute_http_url(element.get("href"), url)
        if "alternate" in rel and kind in FEED_TYPES and link and link not in found:
            found.append(link)
    # Comment feeds are feeds too, but not of the site's articles.
    return sorted(found, key=lambda link: "comment" in link.lower())


def common_feed_urls(url: str) -> list[str]:
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}{path}" for path in COMMON_FEED_PATHS]


def article_address(link: str) -> bool:
    """Whether the address has an article's shape: a slug, a date or an id in its path,
    and is no tag, author, search or account page."""
    parts = urlsplit(link)
    path = parts.path.rstrip("/")
    if not path or _NOT_ARTICLES.search(path + "/") or _FILES.search(path):
        return False
    last = path.rsplit("/", 1)[-1]
    slug = last.count("-") >= 2 or last.count("_") >= 2
    numbered = bool(_ID.search(f"{last}?{parts.query}"))
    return slug or bool(_DATED.search(path + "/")) or numbered


def home_address(link: str) -> bool:
    """Whether the address is a site's home page: its root, or an index file there."""
    path = urlsplit(link).path
    return path in ("", "/") or bool(re.fullmatch(r"/(?:index|default|home)\.\w+", path))


def _looks_like_article(link: str, text: str, page: str) -> bool:
    if same_article_key(link) == same_article_key(page):
        return False
    headline = len(text.split()) >= 3 or len(text) >= 12
    return headline and article_address(link)


def section_links(html: bytes | str, url: str, limit: int = MAX_SECTION_LINKS) -> list[str]:
    """Links on a section page that look like its articles: same site, a headline as the
    link text, a slug, a date or an id in the path; menus, headers and footers left out."""
    tree = _tree(html)
    if tree is None:
        return []
    site = site_domain(urlsplit(url).hostname or "")
    found: dict[str, None] = {}
    for anchor in tree.iterfind(".//a[@href]"):
        if any(parent.tag in _CHROME for parent in anchor.iterancestors()):
            continue
        link = absolute_http_url(anchor.get("href"), url)
        if link is None or site_domain(urlsplit(link).hostname or "") != site:
            continue
        text = clean_text(anchor.text_content())
        if _looks_like_article(link, text, url):
            found.setdefault(clean_link(link), None)
            if len(found) >= limit:
                break
    return list(found)
