"""Parsing of RSS 0.91, RSS 1.0, RSS 2.0, Atom and JSON Feed bodies into FeedEntry records."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import FeedError
from digest.gather.feeds import FeedEntry, ParsedFeed, looks_like_feed, parse_feed

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str, url: str, content_type: str = "") -> ParsedFeed:
    return parse_feed(load(name), url=url, content_type=content_type)


def by_title(feed: ParsedFeed) -> dict[str, FeedEntry]:
    return {e.title: e for e in feed.entries}


def assert_utc(value: datetime | None, expected: datetime) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == UTC.utcoffset(None)
    assert value == expected


def test_rss091_description_only_entries_are_teasers() -> None:
    feed = parse("rss091.xml", "https://ferry.example.org/rss")
    assert feed.title == "Eastharbour Ferry Notices"
    assert feed.link == "https://ferry.example.org/"
    assert [e.title for e in feed.entries] == [
        "Winter timetable for the island crossing",
        "Pier 3 closed for repairs",
    ]
    pier = feed.entries[1]
    # No GUID in RSS 0.91: the link is the key.
    assert pier.key == pier.link == "https://ferry.example.org/notices/pier-3"
    assert pier.is_teaser
    assert "café" in pier.content_html  # declared ISO-8859-1 is decoded
    assert pier.published is None


def test_rss10_rdf() -> None:
    feed = parse("rss10.rdf", "https://library.example.net/news.rdf", "application/rdf+xml")
    assert feed.title == "Northgate Library News"
    room, seeds = feed.entries
    assert room.key == "https://library.example.net/news/reading-room"
    assert room.author == "Marta Lindqvist"
    assert room.categories == ("Buildings",)
    assert_utc(room.published, datetime(2024, 3, 4, 8, 30, tzinfo=UTC))
    assert_utc(seeds.published, datetime(2024, 3, 11, 14, 0, tzinfo=UTC))
    assert seeds.is_teaser


def test_rss20_full_content_and_metadata() -> None:
    feed = parse("rss20.xml", "https://news.example.com/feed.xml", "application/rss+xml")
    assert feed.title == "Riverton City Desk"
    assert feed.link == "https://news.example.com/"
    tram = feed.entries[0]
    assert tram.title == "Tram line 4 opens to the eastern suburbs"
    assert tram.key == "riverton-desk-1001"
    assert tram.link == "https://news.example.com/2024/05/tram-line-4"
    assert tram.author == "Ines Haug"
    assert tram.categories == ("Transport", "Trams")
    assert_utc(tram.published, datetime(2024, 5, 14, 6, 15, tzinfo=UTC))
    assert not tram.is_teaser
    # content:encoded wins over the one-line description.
    assert "forty minutes to nineteen" in tram.content_html
    assert tram.content_html.count("<p>") == 3


def test_rss20_teaser_with_relative_link() -> None:
    feed = parse("rss20.xml", "https://news.example.com/feed.xml")
    cranes = by_title(feed)["Harbour cranes to be painted in their original colours"]
    assert cranes.is_teaser
    assert cranes.link == "https://news.example.com/2024/05/harbour-cranes"
    assert cranes.key == cranes.link
    assert cranes.author == "Tomas Ekberg"
    assert "<em>rust red</em>" in cranes.content_html
    assert_utc(cranes.published, datetime(2024, 5, 13, 17, 0, tzinfo=UTC))


def test_rss20_repeated_guid_keeps_first() -> None:
    feed = parse("rss20.xml", "https://news.example.com/feed.xml")
    keys = [e.key for e in feed.entries]
    assert len(keys) == len(set(keys)) == 4
    assert "Tram line 4 opens (updated)" not in by_title(feed)


def test_rss20_key_falls_back_to_hash_without_guid_or_link() -> None:
    feed = parse("rss20.xml", "https://news.example.com/feed.xml")
    notice = by_title(feed)["Notice: council meeting moved"]
    assert notice.link is None
    expected = hashlib.sha256(f"{notice.title}\n{notice.content_html}".encode()).hexdigest()
    assert notice.key == "sha256:" + expected


def test_keys_are_stable_across_parses() -> None:
    for name in ("rss20.xml", "atom.xml", "jsonfeed11.json", "rss091.xml"):
        first = parse(name, "https://news.example.com/feed")
        again = parse(name, "https://news.example.com/feed")
        assert [e.key for e in first.entries] == [e.key for e in again.entries]


def test_script_in_content_is_left_raw() -> None:
    feed = parse("rss20.xml", "https://news.example.com/feed.xml")
    garden = by_title(feed)["Community garden sign-up"]
    assert garden.key == "riverton-desk-1004"
    assert garden.published is None  # "not a real date"
    assert not garden.is_teaser
    assert "<script>" in garden.content_html  # sanitizing happens in a later stage


def test_atom() -> None:
    feed = parse("atom.xml", "https://quarter.example.org/atom.xml", "application/atom+xml")
    assert feed.title == "Lighthouse Quarter Weekly"
    assert feed.link == "https://quarter.example.org/"
    market, tours = feed.entries
    assert market.title == "Fish market moves indoors"  # type="html" title becomes plain text
    assert market.key == "tag:quarter.example.org,2024:fish-market"
    assert market.link == "https://quarter.example.org/articles/fish-market"
    assert market.author == "Lea Marchetti"
    assert market.categories == ("market", "Food and drink")
    assert_utc(market.published, datetime(2024, 6, 1, 11, 45, tzinfo=UTC))
    assert not market.is_teaser
    assert "old rope works, a long brick hall" in market.content_html
    # Only <updated> and <summary>.
    assert_utc(tours.published, datetime(2024, 5, 28, 12, 0, tzinfo=UTC))
    assert tours.is_teaser
    assert tours.content_html == "Guided climbs of the 142 steps start again on Sundays."


def test_json_feed_11() -> None:
    feed = parse("jsonfeed11.json", "https://cycling.example.net/feed.json")
    assert feed.title == "Valley Cycling Club"
    assert feed.link == "https://cycling.example.net/"
    ride, racks, linked, bad = feed.entries

    assert ride.key == "2024-07-ride-report"
    assert ride.link == "https://cycling.example.net/reports/lake-loop"
    assert ride.author == "Jonas Frei"
    assert ride.categories == ("rides", "reports")
    assert_utc(ride.published, datetime(2024, 7, 7, 16, 30, tzinfo=UTC))
    assert ride.content_html.startswith("<p>Twenty-three riders")
    assert not ride.is_teaser

    assert racks.key == "42"
    assert racks.link == "https://cycling.example.net/notices/new-bike-racks"
    assert racks.author == "Club Secretary"
    assert_utc(racks.published, datetime(2024, 7, 1, 9, 0, tzinfo=UTC))
    assert racks.content_html == (
        "<p>The station now has sixty covered racks.</p>\n"
        "<p>They are free to use &amp; open day and night &lt;24h&gt;.</p>"
    )
    assert not racks.is_teaser

    assert linked.link == "https://elsewhere.example.com/story"
    assert linked.is_teaser
    assert linked.content_html == "<p>A short note pointing to another site.</p>"

    assert bad.title == "No title and a link that is not http."  # its text stands in
    assert bad.link is None  # javascript: is never kept
    assert bad.published is None


def test_json_feed_10_author_object() -> None:
    feed = parse("jsonfeed10.json", "https://bakery.example.com/feed.json", "application/json")
    (rye,) = feed.entries
    assert rye.author == "Ruth Amsel"
    assert rye.key == "https://bakery.example.com/diary/rye"
    assert_utc(rye.published, datetime(2024, 2, 20, 6, 0, tzinfo=UTC))


def test_json_feed_with_bom_and_whitespace() -> None:
    body = b"\xef\xbb\xbf\n  " + load("jsonfeed10.json")
    assert looks_like_feed(body, "")
    assert parse_feed(body, url="https://bakery.example.com/feed.json").title


def test_malformed_xml_still_yields_entries() -> None:
    feed = parse("malformed.xml", "https://circus.example.com/rss", "text/xml")
    assert feed.title == "Bread & Circus Weekly"
    jugglers, tent = feed.entries
    assert jugglers.title == "Jugglers & acrobats return to the square"
    assert jugglers.key == "https://circus.example.com/jugglers"
    assert tent.link == "https://circus.example.com/tent"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the response body is empty"),
        (b"  \n\t ", "the response body is empty"),
        (b"\x00\x01\x02 not xml at all \xff\xfe", "could not parse XML or JSON"),
        (b"<?xml version='1.0'?><inventory><box/></inventory>", "no RSS, Atom or JSON Feed"),
        (b'{"name": "not a feed"}', 'JSON without a JSON Feed "items" list'),
        (b'{"items": [', "could not parse XML or JSON"),
    ],
)
def test_non_feeds_raise_feed_error(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match="not a feed") as info:
        parse_feed(body, url="https://example.org/feed")
    assert message in str(info.value)


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="got an HTML page"):
        parse("article.html", "https://gazette.example.com/", "text/html")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"anything", "application/rss+xml", True),
        (b"anything", "application/feed+json", True),
        (b'<?xml version="1.0"?>\n<rss version="2.0">', "text/html", True),
        (b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">', "", True),
        (b"<rdf:RDF xmlns:rdf='x'>", "application/octet-stream", True),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "text/plain", True),
        (b'<?xml version="1.0"?>\n<rss>', "text/xml", True),
        (b"<!DOCTYPE html><html><head>", "text/html", False),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">', "text/xml", False),
        (b"plain words", "text/plain", False),
    ],
)
def test_looks_like_feed(body: bytes, content_type: str, expected: bool) -> None:
    assert looks_like_feed(body, content_type) is expected
