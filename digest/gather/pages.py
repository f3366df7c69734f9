"""Extract the one article on a plain web page, for sources that publish no feed."""

from __future__ import annotations

import lxml.etree

from digest.gather.feeds import (
    FeedEntry,
    FeedError,
    absolute_http_url,
    clean_text,
    iso_to_utc,
)
from digest.gather.identity import article_key

# Menus, sign-in forms and cookie banners come back from the extractor as short lines; real
# article text has at least one sentence-length line.
_MIN_SENTENCE_WORDS = 8
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "original_date": True,
    # Guessing dates from running text picks up any year mentioned in the story.
    "extensive_search": False,
}


def parse_article_page(html: bytes | str, *, url: str) -> FeedEntry:
    """Return the main article of an HTML page as a (non-teaser) FeedEntry."""
    # Imported here: trafilatura takes a quarter second to import, which every CLI
    # command would otherwise pay.
    import trafilatura

    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_links=True,
        include_images=False,
        date_extraction_params=_DATE_PARAMS,
    )
    lines = (document.text or "").splitlines() if document is not None else []
    if document is None or not any(len(line.split()) >= _MIN_SENTENCE_WORDS for line in lines):
        raise FeedError(f"no article text found at {url}")

    title = clean_text(document.title) or "(untitled)"
    link = absolute_http_url(document.url, url) or url
    return FeedEntry(
        key=article_key(None, link, title, ""),
        link=link,
        title=title,
        published=iso_to_utc(document.date),
        author=clean_text(document.author) or None,
        categories=tuple(
            dict.fromkeys(clean_text(c) for c in [*document.categories, *document.tags] if c)
        ),
        content_html=_body_html(document.body, title, url),
        is_teaser=False,
    )


def _body_html(body: lxml.etree._Element, title: str, url: str) -> str:
    # Lets one extraction pass yield both metadata and HTML; extract(output_format="html")
    # would mean parsing the page twice.
    from trafilatura.htmlprocessing import convert_to_html

    html_body = convert_to_html(body).find("body")
    if html_body is None:
        return ""
    # The body leaves its page, so relative links would break in an email.
    for anchor in html_body.iter("a"):
        href = absolute_http_url(anchor.get("href"), url)
        if href:
            anchor.set("href", href)
        else:
            anchor.attrib.pop("href", None)
    blocks = list(html_body)
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
