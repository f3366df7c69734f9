"""What an HTML page is: one article, or a section page whose main content is a list of
article links. Decided by what the page says of itself and by what its main content is,
never by how many links it carries: article pages link to related stories, menus and
sections too.

The evidence, strongest first:

1. Structured data. JSON-LD (``<script type="application/ld+json">``) or microdata naming
   one ``NewsArticle``, ``Article``, ``BlogPosting`` (or a kind of them): an article. A
   ``CollectionPage``, an ``ItemList`` or three articles and more: a section page.
2. The page's head: ``og:type`` ``article``, or an ``article:published_time``: an article.
3. The main content: paragraphs of running text (three of sentence length, or two and a
   body of some length) make an article; several cards of linked headlines
   (``<article>`` elements with a link in their heading) and no such text make a section.
4. With none of that: five article links and more make a section page; fewer, an article
   with a few links around it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import lxml.html

from digest.gather.discover import article_address, home_address

ARTICLE = "article"
SECTION = "section"

# schema.org's Article and the types under it that a news or blog page names.
_ARTICLE_TYPES = frozenset(
    t.lower()
    for t in (
        "Article",
        "NewsArticle",
        "AnalysisNewsArticle",
        "AskPublicNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "ReviewNewsArticle",
        "SatiricalArticle",
        "ScholarlyArticle",
        "MedicalScholarlyArticle",
        "TechArticle",
        "Report",
        "BlogPosting",
        "LiveBlogPosting",
        "SocialMediaPosting",
        "DiscussionForumPosting",
    )
)
_LISTING_TYPES = frozenset(("collectionpage", "itemlist", "searchresultspage"))
# Three or more articles described on one page are a list of them.
_LISTED_ARTICLES = 3
_SECTION_LINKS = 5
_CARDS = 4
# A paragraph of running text: this many words, or for scripts written without spaces
# (Chinese, Japanese, Thai...) this many letters.
_PARAGRAPH_WORDS = 25
_PARAGRAPH_LETTERS = 40
_ARTICLE_PARAGRAPHS = 3
_ARTICLE_CHARS = 1200
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)


@dataclass(frozen=True)
class Verdict:
    """A page's kind (article or section, or None: nothing tells) and why, in words."""

    kind: str | None
    reason: str


def _types(node: dict[str, Any]) -> list[str]:
    """A node's @type names as written (``NewsArticle``, from ``schema:NewsArticle`` or
    ``https://schema.org/NewsArticle`` too)."""
    kind = node.get("@type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    return [re.split(r"[/:#]", k)[-1] for k in names if isinstance(k, str)]


def _top_nodes(data: Any) -> list[dict[str, Any]]:
    """The objects a JSON-LD block describes: itself, its list's items, its @graph's,
    and a page's main entity (never its publisher, author or the site it is part of)."""
    if isinstance(data, list):
        return [n for item in data for n in _top_nodes(item)]
    if not isinstance(data, dict):
        return []
    nodes: list[dict[str, Any]] = [data]
    if isinstance(data.get("@graph"), list):
        nodes += [n for item in data["@graph"] for n in _top_nodes(item)]
    main = data.get("mainEntity")
    if isinstance(main, (dict, list)):
        nodes += _top_nodes(main)
    return nodes


def structured_data(tree: lxml.html.HtmlElement) -> Verdict:
    """What the page's JSON-LD and microdata say it is."""
    articles: dict[str, None] = {}
    listing = None
    named = None
    for script in tree.iterfind(".//script[@type]"):
        if script.get("type", "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text_content() or "null")
        except ValueError:
            continue
        for node in _top_nodes(data):
            types = _types(node)
            article = next((t for t in types if t.lower() in _ARTICLE_TYPES), None)
            if article:
                title = node.get("headline") or node.get("name") or node.get("url") or ""
                articles.setdefault(str(title)[:200] or f"#{len(articles)}", None)
                named = named or article
            elif listing is None:
                listing = next((t for t in types if t.lower() in _LISTING_TYPES), None)
    if len(articles) >= _LISTED_ARTICLES:
        return Verdict(SECTION, f"its JSON-LD describes {len(articles)} articles")
    if articles:
        return Verdict(ARTICLE, f"its JSON-LD says it is a {named}")
    if listing:
        return Verdict(SECTION, f"its JSON-LD says it is a {listing}")
    return _microdata(tree)


def _microdata(tree: lxml.html.HtmlElement) -> Verdict:
    found = []
    for element in tree.iterfind(".//*[@itemtype]"):
        for kind in (element.get("itemtype") or "").split():
            name = kind.rstrip("/").rsplit("/", 1)[-1]
            if name.lower() in _ARTICLE_TYPES:
                found.append(name)
                break
    if len(found) >= _LISTED_ARTICLES:
        return Verdict(SECTION, f"its microdata marks {len(found)} articles")
    if found:
        return Verdict(ARTICLE, f"its microdata marks it as a {found[0]}")
    return Verdict(None, "")


def head_says(tree: lxml.html.HtmlElement) -> Verdict:
    """What the page's Open Graph and article meta tags say."""
    for element in tree.iterfind(".//meta"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        value = (element.get("content") or "").strip().lower()
        if key == "og:type" and value == "article":
            return Verdict(ARTICLE, "its og:type is article")
        if key == "article:published_time" and value:
            return Verdict(ARTICLE, "it has an article:published_time")
    return Verdict(None, "")


def _is_paragraph(text: str) -> bool:
    return len(text.split()) >= _PARAGRAPH_WORDS or len(_UNSPACED.findall(text)) >= (
        _PARAGRAPH_LETTERS
    )


@dataclass(frozen=True)
class Prose:
    """The running text of a page's main content, as the article extractor found it."""

    paragraphs: int  # of sentence length, mostly not link text
    chars: int  # of text in all, links included

    @property
    def is_article(self) -> bool:
        if self.paragraphs >= _ARTICLE_PARAGRAPHS:
            return True
        return self.paragraphs >= 2 and self.chars >= _ARTICLE_CHARS

    def __str__(self) -> str:
        count = "1 paragraph" if self.paragraphs == 1 else f"{self.paragraphs} paragraphs"
        return f"{count} of running text ({self.chars:,} characters)"


def prose(body_html: str) -> Prose:
    """How much running text an extracted body holds: its paragraphs of sentence length
    (not mostly a link's text) and its characters."""
    if not body_html.strip():
        return Prose(0, 0)
    root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    paragraphs = chars = 0
    for block in root.iter("p", "blockquote", "li", "dd", "pre", "td"):
        if any(p.tag in ("p", "li", "blockquote") for p in block.iterancestors()):
            continue
        text = " ".join(block.text_content().split())
        linked = sum(len(" ".join(a.text_content().split())) for a in block.iter("a"))
        if _is_paragraph(text) and linked < len(text) / 2:
            paragraphs += 1
    chars = len(" ".join(root.text_content().split()))
    return Prose(paragraphs, chars)


def _cards(tree: lxml.html.HtmlElement) -> int:
    """``<article>`` elements with a linked heading: a list of teasers."""
    count = 0
    for element in tree.iter("article"):
        if any(parent.tag == "article" for parent in element.iterancestors()):
            continue
        for heading in element.iter("h1", "h2", "h3", "h4"):
            parent = heading.getparent()
            if heading.find(".//a[@href]") is not None or (
                parent is not None and parent.tag == "a"
            ):
                count += 1
                break
    return count


def page_kind(tree: lxml.html.HtmlElement, url: str, links: int, body_html: str | None) -> Verdict:
    """An article or a section page, and why. ``url`` is the page's address (its
    canonical one where it names it), ``links`` how many article links it has
    (`digest.gather.discover.section_links`), ``body_html`` the article the extractor
    found on it (None: it found none)."""
    text = prose(body_html) if body_html is not None else Prose(0, 0)
    said = structured_data(tree)
    if said.kind is None:
        said = head_says(tree)
    if said.kind == ARTICLE and body_html is not None:
        return said
    if said.kind == SECTION and not (text.is_article and links < _SECTION_LINKS):
        return said
    many = links >= _SECTION_LINKS
    if home_address(url) and many:
        return Verdict(SECTION, f"it is the site's home page and links {links} articles")
    if text.is_article:
        return Verdict(ARTICLE, f"its main content is {text}")
    cards = _cards(tree)
    if cards >= _CARDS and many:
        return Verdict(SECTION, f"its main content is {cards} linked headlines")
    if text.paragraphs and article_address(url):
        return Verdict(ARTICLE, f"its address is an article's and its main content {text}")
    if many:
        return Verdict(SECTION, f"it links {links} articles and its own text is {text}")
    if body_html is not None:
        return Verdict(ARTICLE, f"its main content is {text}")
    if links:
        return Verdict(SECTION, f"it has no article text and links {links} articles")
    return Verdict(None, "no article text and no article links")
