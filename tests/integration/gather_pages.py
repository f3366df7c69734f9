"""Feeds and article pages for the gathering tests, built from a few parameters."""

from __future__ import annotations

from html import escape

LOREM = [
    "The ferry between the two harbour towns will run every half hour from the first of May,"
    " the transport board decided on Tuesday after a long evening of questions.",
    "Commuters had asked for a later last crossing for years, and the board now promises a"
    " boat at half past eleven on Fridays and Saturdays as well.",
    "The new timetable costs the towns more than they had planned, so the fare for a single"
    " crossing goes up by twenty cents while season tickets keep their price.",
    "Skippers say the older of the two boats needs a new engine before the summer, and the"
    " repairs will be done in the winter weeks when fewer people travel.",
]


def article_page(
    headline: str,
    paragraphs: list[str] | None = None,
    *,
    lang: str | None = "en",
    title_tag: str | None = None,
    og_title: str | None = None,
    site: str = "Harbour Courier",
    canonical: str | None = None,
    og_url: str | None = None,
    base: str | None = None,
    date: str | None = None,
    image: str | None = None,
    author: str | None = None,
    charset: str = "utf-8",
    feed: str | None = None,
) -> str:
    head = [f'<meta charset="{charset}">', f"<title>{escape(title_tag or headline)}</title>"]
    if og_title:
        head.append(f'<meta property="og:title" content="{escape(og_title)}">')
    head.append(f'<meta property="og:site_name" content="{escape(site)}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if og_url:
        head.append(f'<meta property="og:url" content="{og_url}">')
    if base:
        head.append(f'<base href="{base}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}">')
    if image:
        head.append(f'<meta property="og:image" content="{image}">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    if feed:
        head.append(f'<link rel="alternate" type="application/rss+xml" href="{feed}">')
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs or LOREM)
    lang_attribute = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attribute}><head>{''.join(head)}</head><body>"
        f'<header><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav></header>'
        f"<main><article><h1>{escape(headline)}</h1>{body}</article></main>"
        f"<footer>All rights reserved</footer></body></html>"
    )


def section_page(links: list[tuple[str, str]], *, feed: str | None = None) -> str:
    alternate = f'<link rel="alternate" type="application/rss+xml" href="{feed}">' if feed else ""
    items = "".join(
        f'<li><h2><a href="{href}">{escape(text)}</a></h2></li>' for href, text in links
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>Local news</title>{alternate}</head>"
        f"<body><nav><a href='/about'>About us</a></nav><main><ul>{items}</ul></main></body></html>"
    )


def rss(items: list[dict[str, str]], *, title: str = "Harbour Courier", extra: str = "") -> str:
    parts = []
    for item in items:
        fields = "".join(
            f"<{name}>{escape(value)}</{name}>"
            for name, value in item.items()
            if name in ("title", "link", "guid", "description", "pubDate", "author")
        )
        parts.append(f"<item>{fields}{item.get('raw', '')}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>{escape(title)}</title><link>http://example.invalid/</link>{extra}"
        f"{''.join(parts)}</channel></rss>"
    )


def linked_article_page(headline: str, links: list[tuple[str, str]], *, json_ld: str = "") -> str:
    """An article page with a "Read also" and a "Latest" block of article links below its
    body, as news sites make them: many links, one article."""
    blocks = "".join(f'<li><a href="{href}">{escape(text)}</a></li>' for href, text in links)
    script = f'<script type="application/ld+json">{json_ld}</script>' if json_ld else ""
    body = "".join(f"<p>{escape(p)}</p>" for p in LOREM)
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{escape(headline)}</title>{script}"
        "</head><body><header><nav><a href='/'>Home</a></nav></header>"
        f"<main><h1>{escape(headline)}</h1><p><em>A short dek under the headline.</em></p>"
        f"{body}<h3>Read also:</h3><ul>{blocks[: len(blocks) // 2]}</ul>"
        f"<h3>Latest</h3><ul>{blocks[len(blocks) // 2 :]}</ul></main></body></html>"
    )


def card_section_page(links: list[tuple[str, str]], teaser: str = "") -> str:
    """A section page of teaser cards: each an <article> with a linked headline."""
    cards = "".join(
        f'<article><h3><a href="{href}">{escape(text)}</a></h3><p>{escape(teaser)}</p></article>'
        for href, text in links
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Harbour news</title>"
        '<meta property="og:type" content="website"></head>'
        f"<body><main><h1>Harbour news</h1>{cards}</main></body></html>"
    )
