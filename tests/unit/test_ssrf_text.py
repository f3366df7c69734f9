"""Text from feeds and pages is inert once stored: no terminal escape sequences, no control
characters (tab and newline kept where they belong), in titles, authors, categories,
summaries and bodies alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from digest.gather.feeds import FeedEntry, parse_feed
from digest.gather.pages import parse_article_page
from digest.pipeline.gather import article_from_entry

HYPERLINK = "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07"
CLEAR = "\x1b[2J"
CONTROLS = "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), *range(0x7F, 0xA0)])
LONG = (
    "The council met on Tuesday evening to discuss the new harbour plans, which would "
    "bring ferries back to the old quay for the first time in forty years. "
)


def controls_in(text: str | None) -> list[str]:
    return [hex(ord(ch)) for ch in text or "" if ch in CONTROLS]


def article_fields(entry: FeedEntry) -> dict[str, str | None]:
    article = article_from_entry(entry, 1, datetime(2026, 2, 20, tzinfo=UTC))
    return {
        "title": article.title,
        "author": article.author,
        "categories": " ".join(article.categories),
        "content_html": article.content_html,
        "body_text": article.body_text,
        "summary": article.summary,
        "link": article.link,
    }


def test_escape_sequences_in_an_rss_feed_are_not_stored() -> None:
    rss = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>{CLEAR}Town news{HYPERLINK}</title>
<item>
  <title>{CLEAR}Harbour plans {HYPERLINK}</title>
  <author>\x1b[31mAna Editor\x1b[0m</author>
  <category>Harbour\x07</category>
  <link>https://news.example/harbour</link>
  <description>&lt;p&gt;{LONG}\x1b[5m{LONG}&#27;[2J&lt;/p&gt;</description>
</item></channel></rss>""".encode()
    feed = parse_feed(rss, url="https://news.example/feed.xml")
    assert feed.title == "Town newsclick"
    (entry,) = feed.entries
    assert entry.title == "Harbour plans click"
    assert entry.author == "Ana Editor"
    fields = article_fields(entry)
    for name, value in fields.items():
        assert controls_in(value) == [], name
    assert "&#27;" not in (fields["content_html"] or "")
    assert fields["categories"] == "Harbour"


def test_control_characters_in_a_json_feed_are_not_stored() -> None:
    item = {
        "id": "1",
        "url": "https://news.example/ferries",
        "title": f"Ferries{CONTROLS}return",
        "authors": [{"name": f"Bo{CLEAR} Writer"}],
        "tags": [f"Transport{CONTROLS}"],
        "content_text": f"{LONG}\r\n\r\n{LONG}\x00\x1b[2K{LONG}\tend",
    }
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})
    (entry,) = parse_feed(body.encode(), url="https://news.example/feed.json").entries
    assert entry.title == "Ferriesreturn"
    assert entry.author == "Bo Writer"
    assert entry.categories == ("Transport",)
    fields = article_fields(entry)
    for name, value in fields.items():
        assert controls_in(value) == [], name
    assert "\tend" in entry.content_html  # a tab stays where the text had it


def test_a_link_with_control_characters_is_dropped() -> None:
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Story</title><link>https://news.example/a{HYPERLINK}</link>
<description>{LONG}</description></item></channel></rss>""".encode()
    (entry,) = parse_feed(rss, url="https://news.example/feed.xml").entries
    assert entry.link is None


@pytest.mark.parametrize("form", ["&#27;[2J", "&#x1B;[2J", "\x9b2J"])
def test_an_article_page_with_escape_sequences_is_stored_inert(form: str) -> None:
    page = f"""<!doctype html><html lang="en"><head>
<title>{form}Quay reopens | Town News</title></head><body><article>
<h1>{form}Quay reopens</h1><p>{LONG}{form}{LONG}</p><p>{LONG}</p></article></body></html>"""
    entry = parse_article_page(page, url="https://news.example/quay")
    fields = article_fields(entry)
    for name, value in fields.items():
        assert controls_in(value) == [], name
    assert "&#27;" not in entry.content_html and "&#x1B;" not in entry.content_html
