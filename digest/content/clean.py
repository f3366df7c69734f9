"""Turn feed and page HTML into something safe to email and something plain to summarise.

``sanitize_html`` makes third-party HTML safe to embed in a digest email, ``html_to_text``
flattens HTML into paragraphs of plain text, and ``article_body`` additionally strips the
page furniture (navigation, share buttons, "Read also" blocks, "Latest" lists...) that
extractors and feeds leave around the actual article.
"""

from __future__ import annotations

import re

import nh3
from lxml import etree
from lxml import html as lxml_html

__all__ = ["article_body", "html_to_text", "sanitize_html", "strip_boilerplate"]

# --- sanitize_html -------------------------------------------------------------------------

_ALLOWED_TAGS = {
    "p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote",
    "h2", "h3", "h4", "img", "figure", "figcaption", "code", "pre",
}  # fmt: skip
# Whole subtree goes: their text is code, widget chrome or fallback noise, never prose.
_DROP_WITH_CONTENT = {
    "script", "style", "iframe", "form", "noscript", "template", "object", "embed",
    "svg", "math", "textarea", "select", "button", "title",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_IMAGE_SCHEMES = ("http://", "https://")


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    # nh3 applies one scheme list to every URL attribute; images must not get mailto:.
    if attr == "src" and tag == "img":
        return value if value.strip().lower().startswith(_IMAGE_SCHEMES) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes={scheme.rstrip(":/") for scheme in _LINK_SCHEMES},
    # Relative URLs mean nothing inside an email client, so they are dropped.
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_SRCLESS_IMG = re.compile(r'<img(?: alt="[^"]*")?\s*/?>')


def sanitize_html(html: str) -> str:
    """Return *html* reduced to a conservative, email-safe subset.

    Images are kept (digests commonly show a lead image) but only with an http(s) ``src``
    and ``alt``; sizes and styles are stripped so the email template controls layout.
    Links keep only http, https and mailto targets and get ``rel="noopener noreferrer"``.
    """
    if not html or not html.strip():
        return ""
    # An image whose src was rejected is left as a bare tag that would render as a broken
    # image; nh3 keeps at most src and alt on img, so a src-less one looks exactly like this.
    return _SRCLESS_IMG.sub("", _CLEANER.clean(html)).strip()


# --- html_to_text --------------------------------------------------------------------------

_SKIP_TAGS = _DROP_WITH_CONTENT | {"head", "audio", "video", "canvas", "option", "datalist"}
_PARAGRAPH_TAGS = {
    "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
    "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "html", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "ul",
}  # fmt: skip
_LINE_TAGS = {"br", "li", "dt", "tr", "caption"}
_CELL_TAGS = {"td", "th"}

# Break markers placed between text pieces; the strongest one between two texts wins.
_LINE, _PARAGRAPH = 1, 2
_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
_SPACES = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """Flatten *html* to plain text.

    Block elements become paragraphs separated by one blank line, ``<br>`` and list items
    become single line breaks, whitespace is collapsed within lines and the contents of
    script/style-like elements are dropped.
    """
    if not html or not html.strip():
        return ""
    try:
        # Bytes plus an explicit encoding: lxml refuses str input that carries an XML
        # encoding declaration, which some feeds include.
        root = lxml_html.document_fromstring(html.encode("utf-8", "ignore"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return ""

    pieces: list[str | int] = []
    pre_depth = 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag == "pre":
                pre_depth += 1
            _append_break(pieces, tag)
            if el.text:
                pieces.extend(_text_pieces(el.text, pre_depth > 0))
        else:
            if tag not in _SKIP_TAGS:
                if tag == "pre":
                    pre_depth -= 1
                if tag != "br":
                    _append_break(pieces, tag)
            if el.tail:
                pieces.extend(_text_pieces(el.tail, pre_depth > 0))
    return _assemble(pieces)


def _append_break(pieces: list[str | int], tag: str) -> None:
    if tag == "br":
        # Feeds often separate paragraphs with "<br><br>" instead of <p>.
        for i in range(len(pieces) - 1, -1, -1):
            piece = pieces[i]
            if piece == _LINE:
                pieces[i] = _PARAGRAPH
                return
            if not isinstance(piece, str) or piece.strip():
                break
    if tag in _PARAGRAPH_TAGS:
        pieces.append(_PARAGRAPH)
    elif tag in _LINE_TAGS:
        pieces.append(_LINE)
    elif tag in _CELL_TAGS:
        pieces.append(" ")


def _text_pieces(text: str, preformatted: bool) -> list[str | int]:
    if not preformatted:
        return [text.replace("\n", " ")]
    out: list[str | int] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append(_LINE)
        out.append(line)
    return out


def _assemble(pieces: list[str | int]) -> str:
    paragraphs: list[list[str]] = [[]]
    line: list[str] = []
    pending = 0

    def flush_line() -> None:
        text = _SPACES.sub(" ", "".join(line)).strip()
        if text:
            paragraphs[-1].append(text)
        line.clear()

    for piece in pieces:
        if isinstance(piece, int):
            pending = max(pending, piece)
            continue
        if pending:
            flush_line()
            if pending == _PARAGRAPH and paragraphs[-1]:
                paragraphs.append([])
            pending = 0
        line.append(piece)
    flush_line()
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


# --- article_body --------------------------------------------------------------------------

# Lines that are page chrome wherever they appear.
_NAV_LINE = re.compile(
    r"skip to (?:main )?(?:content|navigation)|(?:main )?menu|home|search|close|"
    r"share(?: this(?: article| story| page)?| on \w+| via \w+)?|"
    r"advertisement|advertising|advert|sponsored(?: content)?|"
    r"subscribe(?: now| today| to our newsletter)?|sign (?:in|up|out)|log ?(?:in|out)|"
    r"register|my account|print|comments?|back to top"
)
# Headings that introduce a run of links to other articles.
_LINKS_HEADING = re.compile(
    r"read (?:also|more|next)|also read|see also|related(?: articles| stories| content| "
    r"coverage| links| topics)?|more (?:from|on|in|about) .{1,60}|more stories|"
    r"recommended(?: for you)?|you (?:may|might) also (?:like|be interested in)"
)
# "Read also: <headline>" on a single line.
_LINK_PREFIX = re.compile(r"(?:read (?:also|more|next)|also read|see also|related)\s*:\s*\S")
# Headings of page-wide lists that follow the article: nothing after them is body text.
_END_HEADING = re.compile(
    r"latest(?: news| stories| articles| headlines)?|most (?:read|popular|viewed|shared)|"
    r"trending(?: now)?|top stories"
)

_KEY_TRIM_END = re.compile(r"[\s:：»›>|•·–—-]+$")
_KEY_TRIM_START = re.compile(r"^[\s»›>|•·*–—-]+")
_SENTENCE_END = re.compile(r"[.。;；][\"'”’»)\]]*$")
_MAX_LINK_LINE = 120  # chars; longer lines are prose, not a linked headline
_MAX_TWIN_LINE = 160  # chars; a short line shown twice in a row is a caption/credit


def _key(line: str) -> str:
    line = _KEY_TRIM_START.sub("", _KEY_TRIM_END.sub("", line))
    return _SPACES.sub(" ", line).casefold()


def _is_link_like(line: str) -> bool:
    # Linked headlines are short and, unlike body sentences, do not end with a full stop.
    return len(line) <= _MAX_LINK_LINE and not _SENTENCE_END.search(line.rstrip())


def strip_boilerplate(text: str, *, title: str | None = None) -> str:
    """Remove page furniture from plain text as produced by :func:`html_to_text`."""
    paragraphs = [p.split("\n") for p in text.split("\n\n")]
    lines = [(n, line.strip()) for n, p in enumerate(paragraphs) for line in p if line.strip()]
    keys = [_key(line) for _, line in lines]
    title_key = _key(title) if title else None

    twins: set[int] = set()
    for i in range(len(lines) - 1):
        if keys[i] and keys[i] == keys[i + 1] and len(lines[i][1]) <= _MAX_TWIN_LINE:
            twins.update((i, i + 1))

    kept: list[list[str]] = [[] for _ in paragraphs]
    seen: set[str] = set()
    in_link_run = False
    seen_prose = False
    for i, (n, line) in enumerate(lines):
        key = keys[i]
        if in_link_run:
            if _is_link_like(line) and not _END_HEADING.fullmatch(key):
                continue
            in_link_run = False
        if _END_HEADING.fullmatch(key):
            # A "Latest" link near the top is site navigation, not the end of the article.
            if seen_prose:
                break
            continue
        if _LINKS_HEADING.fullmatch(key) and _is_link_like(line):
            in_link_run = True
            continue
        if (
            not key
            or _NAV_LINE.fullmatch(key)
            or _LINK_PREFIX.match(key)
            or key == title_key
            or key in seen
            or i in twins
        ):
            seen.add(key)
            continue
        seen.add(key)
        kept[n].append(line)
        seen_prose = seen_prose or not _is_link_like(line)
    return "\n\n".join("\n".join(p) for p in kept if p)


def article_body(html: str, *, title: str | None = None) -> str:
    """Return the article's body paragraphs from page or feed *html*, joined by blank lines.

    The headline (when it equals *title*), navigation and share chrome, "Read also"-style
    link blocks, trailing "Latest"/"Most read" lists and duplicated lines are removed; the
    dek (standfirst) stays.
    """
    return strip_boilerplate(html_to_text(html), title=title)
