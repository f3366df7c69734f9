"""The pure parts of gathering: URLs, text, titles, teasers, backoff, OPML, discovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.core.retry import backoff_until
from digest.errors import BadUrl, FeedError, OpmlError
from digest.gather import FeedEntry, needs_full_text, with_full_text
from digest.gather.discover import feed_links, section_links
from digest.gather.feeds import parse_feed, title_from_text
from digest.gather.fetch import retry_after_time
from digest.gather.opml import OpmlEntry, parse_opml, write_opml
from digest.gather.pages import strip_site_name
from digest.gather.text import language_tag, tidy
from digest.gather.urls import check_http_url, clean_link, same_article_key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://exa mple.com/feed", "cannot contain spaces"),
        ("ftp://example.com/feed", "must be an http:// or https:// URL"),
        ("example.com/feed", "must be an http:// or https:// URL"),
        ("https://", "has no host name"),
        ("https://exa_mple.com/", "is not a valid host name"),
        ("https://example.com:99999/", "port is not a number"),
        ("", "empty"),
    ],
)
def test_bad_source_urls_are_named(url: str, problem: str) -> None:
    with pytest.raises(BadUrl, match=problem):
        check_http_url(url)


def test_good_source_urls_pass_trimmed() -> None:
    assert check_http_url("  https://bücher.example/feed ") == "https://bücher.example/feed"
    assert check_http_url("http://127.0.0.1:8080/rss") == "http://127.0.0.1:8080/rss"


def test_clean_link_drops_trackers_and_keeps_the_rest_as_written() -> None:
    assert clean_link("HTTPS://Example.COM:443/a?utm_source=x&id=3&fbclid=9#top") == (
        "https://example.com/a?id=3"
    )
    assert (
        clean_link("https://example.com/news?article123") == "https://example.com/news?article123"
    )
    assert clean_link("https://example.com/s?q=a%20b&gclid=1") == "https://example.com/s?q=a%20b"


def test_one_article_under_several_urls_has_one_comparison_key() -> None:
    key = same_article_key("https://example.com/news/story?id=4")
    for variant in (
        "http://www.example.com/news/story/?id=4&utm_medium=social",
        "https://m.example.com/news/story?id=4",
        "https://amp.example.com/news/story/amp?id=4",
        "https://example.com/amp/news/story?id=4&amp=1",
    ):
        assert same_article_key(variant) == key, variant
    assert same_article_key("https://example.com/news/story?id=5") != key
    assert same_article_key("https://example.org/news/story?id=4") != key


@pytest.mark.parametrize(
    ("declared", "tag"),
    [
        ("de-DE", "de"),
        ("en_us", "en"),
        ("zh-CN", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh", "zh"),
        ("sr-Latn-RS", "sr-Latn"),
        ("English", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tags(declared: str | None, tag: str | None) -> None:
    assert language_tag(declared) == tag


def test_tidy() -> None:
    assert tidy("Wa\u0308h\u00adrend\u200b\ufeff") == "Während"
    assert tidy("می\u200cخواهم") == "می\u200cخواهم"  # a joiner that Persian needs stays


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Night buses return | Harbour Courier", "Night buses return"),
        ("Night buses return -- Courier.net", "Night buses return"),
        ("Harbour Courier » Night buses return", "Night buses return"),
        ("Night buses return - Harbour Courier", "Night buses return"),
        ("Left - right: a debate | Harbour Courier", "Left - right: a debate"),
        ("No site name here", "No site name here"),
    ],
)
def test_strip_site_name(title: str, expected: str) -> None:
    assert strip_site_name(title, ("Harbour Courier", "courier.net")) == expected


def test_title_from_text() -> None:
    assert title_from_text("First sentence here. Second one.") == "First sentence here."
    long = "word " * 40
    assert title_from_text(long).endswith("…") and len(title_from_text(long)) <= 81
    assert title_from_text("") == "(untitled)"


def entry(content: str, *, teaser: bool = True, dated: bool = True) -> FeedEntry:
    return FeedEntry(
        key="k",
        link="https://example.com/a",
        title="A",
        published=NOW if dated else None,
        author=None,
        categories=(),
        content_html=content,
        is_teaser=teaser,
    )


def test_which_entries_get_their_page() -> None:
    long_text = "<p>" + "A full paragraph of the article. " * 30 + "</p>"
    assert needs_full_text(entry("Short summary."), "auto")
    assert needs_full_text(entry(long_text + "<p>Read more</p>", teaser=False), "auto")
    assert needs_full_text(entry(long_text[:-4] + " and so on…</p>", teaser=False), "auto")
    assert needs_full_text(entry(long_text, teaser=False, dated=False), "auto")
    assert not needs_full_text(entry(long_text, teaser=False), "auto")
    assert needs_full_text(entry(long_text, teaser=False), "always")
    assert not needs_full_text(entry("Short…"), "never")


def test_full_text_keeps_the_feeds_metadata() -> None:
    page = FeedEntry(
        key="p",
        link="https://example.com/a",
        title="Page title",
        published=NOW - timedelta(days=1),
        author="Page Author",
        categories=("page",),
        content_html="<p>" + "The whole story. " * 20 + "</p>",
        is_teaser=False,
        language="de",
        image_url="https://example.com/i.jpg",
        full_text=True,
    )
    merged = with_full_text(entry("Short…"), page)
    assert merged.full_text and not merged.is_teaser and "whole story" in merged.content_html
    assert merged.title == "A" and merged.published == NOW  # the feed's
    assert merged.author == "Page Author" and merged.image_url == "https://example.com/i.jpg"
    shorter = with_full_text(entry("<p>" + "Longer feed text. " * 40 + "</p>"), page)
    assert not shorter.full_text and "Longer feed text" in shorter.content_html


def test_backoff_doubles_up_to_a_day_and_obeys_retry_after() -> None:
    assert backoff_until(1, NOW, 600) is None
    assert backoff_until(2, NOW, 600) == NOW + timedelta(minutes=10)
    assert backoff_until(4, NOW, 600) == NOW + timedelta(minutes=40)
    assert backoff_until(30, NOW, 600) == NOW + timedelta(days=1)
    asked = NOW + timedelta(hours=3)
    assert backoff_until(1, NOW, 600, asked) == asked
    assert backoff_until(1, NOW, 600, NOW + timedelta(days=90)) == NOW + timedelta(days=7)


def test_retry_after_header() -> None:
    assert retry_after_time("120", NOW) == NOW + timedelta(minutes=2)
    assert retry_after_time("Mon, 02 Mar 2026 10:00:00 GMT", NOW) == NOW + timedelta(hours=1)
    assert retry_after_time("soon", NOW) is None


def test_a_feed_cut_short_is_an_error_and_a_whole_one_is_not() -> None:
    whole = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>\n'
    assert parse_feed(whole, url="https://example.com/f").title == "T"
    with pytest.raises(FeedError, match="ends early"):
        parse_feed(whole[:60] + b"<item><title>cut", url="https://example.com/f")


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="City">
      <outline text="Courier" type="rss" xmlUrl="https://courier.example/feed"/>
      <outline text="No address" type="rss" htmlUrl="https://nofeed.example/"/>
    </outline>
    <outline text="Tech blog" type="rss" xmlUrl="https://blog.example/atom.xml"
             category="/tech/web,science"/>
  </body>
</opml>"""


def test_opml_sources_folders_and_bad_outlines() -> None:
    read = parse_opml(OPML)
    assert [(s.url, s.title, s.topics) for s in read.sources] == [
        ("https://courier.example/feed", "Courier", ("City",)),
        ("https://blog.example/atom.xml", "Tech blog", ("tech", "web", "science")),
    ]
    assert read.problems == [("line 7", "outline 'No address' has no xmlUrl")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>hi</body></html>", "the root element is <html>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml><body><outline", "not an OPML file"),
    ],
)
def test_not_opml(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_opml_round_trip() -> None:
    entries = [
        OpmlEntry("https://a.example/feed?x=1&y=2", "A & B <news>", ("city", "sport")),
        OpmlEntry("https://b.example/rss", "B", ()),
    ]
    read = parse_opml(write_opml(entries, title="Sources", now=NOW).encode())
    assert [(s.url, s.title, s.topics) for s in read.sources] == [
        ("https://a.example/feed?x=1&y=2", "A & B <news>", ("city", "sport")),
        ("https://b.example/rss", "B", ()),
    ]


def test_feed_and_article_links_on_a_home_page() -> None:
    html = """<html><head>
      <link rel="alternate" type="application/rss+xml" href="/comments/feed">
      <link rel="alternate" type="application/atom+xml" href="/atom.xml">
      <link rel="stylesheet" href="/s.css"></head><body>
      <nav><a href="/2026/03/menu-item-story">A story in the menu bar here</a></nav>
      <main>
        <a href="/2026/03/quay-opens-to-the-public">The quay opens to the public</a>
        <a href="https://www.example.com/news/ferry-timetable-changes">Ferry timetable changes</a>
        <a href="/news/item?utm_source=home&amp;id=123456">A story known by its number</a>
        <a href="/tag/harbour">Harbour</a>
        <a href="/about">About us and our history</a>
        <a href="https://other.example/2026/03/elsewhere-story-here">Elsewhere entirely</a>
        <a href="/logo.png">Our logo image file</a>
      </main></body></html>"""
    assert feed_links(html, "https://example.com/") == [
        "https://example.com/atom.xml",
        "https://example.com/comments/feed",
    ]
    assert section_links(html, "https://example.com/") == [
        "https://example.com/2026/03/quay-opens-to-the-public",
        "https://www.example.com/news/ferry-timetable-changes",
        "https://example.com/news/item?id=123456",
    ]
