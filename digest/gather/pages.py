"""Extract the one article on a web page: for page sources, section pages and full text.

trafilatura finds the article's text, author, date and categories. The page's own
metadata decides the rest, since sites get it wrong in known ways: the headline comes
from ``og:title`` or the article's ``h1`` with the site's name cut off; the link from
``<link rel=canonical>`` or ``og:url``, else the URL fetched (never ``<base href>``); the
language from ``<html lang>`` or ``og:locale``; the lead image from ``og:image``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

from digest.errors import FeedError
from digest.gather.feeds import (
    FeedEntry,
    absolute_http_url,
    clean_text,
    entry_link,
    iso_to_utc,
    title_from_text,
)
from digest.gather.identity import article_key
from digest.gather.text import inert_markup, language_tag, tidy

# Menus, sign-in forms and cookie banners come back from the extractor as short lines; real
# article text has at least one sentence-length line: eight words, or for languages
# written without spaces (Chinese, Japanese) that many characters of their scripts.
_MIN_SENTENCE_WORDS = 8
_MIN_SENTENCE_CJK_CHARS = 25
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "original_date": True,
    # Guessing dates from running text picks up any year mentioned in the story.
    "extensive_search": False,
}
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-{1,2}|–|—|::|·|•|»|«|/)\s+")
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+){2,}$")  # night-buses-return, not COVID-19
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")


@dataclass(frozen=True)
class PageMeta:
    """What the page's head says about itself."""

    canonical: str | None
    titles: tuple[str, ...]  # og:title, twitter:title: the site's headline for sharing
    h1: str | None
    html_title: str | None
    site_names: tuple[str, ...]
    language: str | None
    image: str | None


def read_meta(tree: lxml.html.HtmlElement, url: str) -> PageMeta:
    def meta(*names: str) -> list[str]:
        found = []
        for element in tree.iterfind(".//meta"):
            key = (element.get("property") or element.get("name") or "").strip().lower()
            if key in names and (content := clean_text(element.get("content"))):
                found.append(content)
        return found

    canonical = None
    for element in tree.iterfind(".//link[@href]"):
        if "canonical" in (element.get("rel") or "").lower().split():
            canonical = element.get("href")
            break
    canonical = _usable_canonical(canonical, url) or _usable_canonical(
        next(iter(meta("og:url")), None), url
    )
    h1 = None
    for path in (".//article//h1", ".//main//h1", ".//h1"):
        heading = tree.find(path)
        if heading is not None and (text := clean_text(heading.text_content())):
            h1 = text
            break
    title_element = tree.find(".//title")
    html_title = clean_text(title_element.text_content()) if title_element is not None else None
    host = (urlsplit(url).hostname or "").lower()
    root = tree.getroottree().getroot()
    declared = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    declared += meta("og:locale") + meta("content-language", "language", "dc.language")
    for element in tree.iterfind(".//meta[@http-equiv]"):
        if element.get("http-equiv", "").lower() == "content-language":
            declared.append(element.get("content"))
    images = meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
    return PageMeta(
        canonical=canonical,
        titles=tuple(meta("og:title", "twitter:title")),
        h1=h1,
        html_title=html_title or None,
        site_names=tuple(
            dict.fromkeys(
                [*meta("og:site_name", "application-name"), host, host.removeprefix("www.")]
            )
        ),
        language=next((tag for d in declared if (tag := language_tag(d))), None),
        image=next((i for image in images if (i := absolute_http_url(image, url))), None),
    )


def site_name(tree: lxml.html.HtmlElement, url: str) -> str:
    """The name of the site a page is on: its ``og:site_name`` (or ``application-name``),
    else the host of ``url`` (the page's own address, canonical where it names one)
    without ``www.``: what a page source is named after, never its first article's
    headline."""
    return read_meta(tree, url).site_names[0].removeprefix("www.")[:200]


def _usable_canonical(href: str | None, url: str) -> str | None:
    canonical = absolute_http_url(href, url)
    if canonical is None:
        return None
    # A canonical link to the home page from an article is a site-wide template error.
    if urlsplit(canonical).path in ("", "/") and urlsplit(url).path not in ("", "/"):
        return None
    return canonical


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _is_site_name(part: str, site_names: tuple[str, ...]) -> bool:
    squashed = _squash(part)
    if not squashed:
        return True
    if _DOMAIN.match(part.strip()):
        return True
    for name in site_names:
        other = _squash(name)
        if squashed == other or (other and len(squashed) >= 4 and other.startswith(squashed)):
            return True
    return False


def strip_site_name(title: str, site_names: tuple[str, ...]) -> str:
    """``Headline | Example News`` → ``Headline``; also after ``--``, ``-``, ``—``, ``·``,
    and with the site's name in front. The headline's own dashes stay."""
    spans, at = [], 0
    for separator in _TITLE_SEPARATORS.finditer(title):
        spans.append((at, separator.start()))
        at = separator.end()
    spans.append((at, len(title)))
    while len(spans) > 1 and _is_site_name(title[slice(*spans[-1])], site_names):
        spans.pop()
    while len(spans) > 1 and _is_site_name(title[slice(*spans[0])], site_names):
        spans.pop(0)
    return title[spans[0][0] : spans[-1][1]]


def _is_headline(text: str | None, site_names: tuple[str, ...]) -> bool:
    if not text:
        return False
    if _SLUG.match(text):  # a URL slug, not words
        return False
    return not _is_site_name(text, site_names)


def headline(meta: PageMeta, extracted: str | None) -> str | None:
    """The article's own headline, without the site's name; None if the page has none."""
    candidates = [
        *(strip_site_name(t, meta.site_names) for t in meta.titles),
        meta.h1,
        strip_site_name(meta.html_title, meta.site_names) if meta.html_title else None,
        strip_site_name(extracted, meta.site_names) if extracted else None,
    ]
    return next((c for c in candidates if _is_headline(c, meta.site_names)), None)


def has_article_text(text: str) -> bool:
    return any(
        len(line.split()) >= _MIN_SENTENCE_WORDS
        or len(_CJK.findall(line)) >= _MIN_SENTENCE_CJK_CHARS
        for line in text.splitlines()
    )


def _tree(html: bytes | str) -> lxml.html.HtmlElement | None:
    from trafilatura.utils import load_html

    return load_html(inert_markup(html))


def page_tree(html: bytes | str) -> lxml.html.HtmlElement:
    """The page's element tree (an empty one when nothing parses)."""
    tree = _tree(html) if html else None
    return tree if tree is not None else lxml.html.fromstring("<html></html>")


def parse_article_page(html: bytes | str, *, url: str) -> FeedEntry:
    """Return the main article of an HTML page as a (non-teaser) FeedEntry."""
    # Imported here: trafilatura takes a quarter second to import, which every CLI
    # command would otherwise pay.
    import trafilatura
    from trafilatura.settings import Document

    tree = _tree(html) if html else None
    if tree is None:
        raise FeedError(f"no article text found at {url}")
    meta = read_meta(tree, url)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_links=True,
        include_images=False,
        date_extraction_params=_DATE_PARAMS,
    )
    # A Document (a dict only when asked for one with as_dict), or None: nothing found.
    if not isinstance(document, Document) or not has_article_text(tidy(document.text or "")):
        raise FeedError(f"no article text found at {url}")

    link = entry_link(meta.canonical, url) or entry_link(url, url) or url
    blocks = _body_html(document.body, url)
    title = headline(meta, clean_text(document.title)) or title_from_text(document.text or "")
    body = _without_headline(blocks, title)
    return FeedEntry(
        key=article_key(None, link, title, ""),
        link=link,
        title=title,
        published=iso_to_utc(document.date),
        author=clean_text(document.author) or None,
        categories=tuple(
            dict.fromkeys(
                clean_text(c) for c in [*(document.categories or []), *(document.tags or [])] if c
            )
        ),
        content_html=tidy(body),
        is_teaser=False,
        language=meta.language,
        image_url=meta.image or absolute_http_url(document.image, url),
        full_text=True,
    )


def _body_html(body: lxml.etree._Element, url: str) -> list[lxml.etree._Element]:
    # Lets one extraction pass yield both metadata and HTML; extract(output_format="html")
    # would mean parsing the page twice.
    from trafilatura.htmlprocessing import convert_to_html

    html_body = convert_to_html(body).find("body")
    if html_body is None:
        return []
    # The body leaves its page, so relative links would break in an email.
    for anchor in html_body.iter("a"):
        href = absolute_http_url(anchor.get("href"), url)
        if href:
            anchor.set("href", href)
        else:
            anchor.attrib.pop("href", None)
    return list(html_body)


def _without_headline(blocks: list[lxml.etree._Element], title: str) -> str:
    # The headline is kept as FeedEntry.title; repeating it atop the body would show it twice.
    if (
        blocks
        and blocks[0].tag in ("h1", "h2")
        and clean_text("".join(blocks[0].itertext())) == title
    ):
        blocks = blocks[1:]
    return "\n".join(
        lxml.etree.tostring(block, encoding="unicode", method="html").strip() for block in blocks
    )
