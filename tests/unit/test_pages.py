"""Extraction of the main article from a plain web page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import FeedError
from digest.gather.pages import parse_article_page

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
PAGE_URL = "https://gazette.example.com/2024/08/swimming-baths?ref=home"


def test_article_page() -> None:
    entry = parse_article_page((FIXTURES / "article.html").read_bytes(), url=PAGE_URL)
    assert entry.title == "The old swimming baths get a second life"
    # The canonical link is the key, so tracking parameters do not create duplicates.
    assert entry.key == entry.link == "https://gazette.example.com/2024/08/swimming-baths"
    assert entry.author == "Paula Grünberg"
    assert entry.published == datetime(2024, 8, 19, 5, 0, tzinfo=UTC)
    assert set(entry.categories) == {"City", "Architecture"}
    assert not entry.is_teaser

    body = entry.content_html
    assert body.startswith("<p>")
    assert body.count("<p>") == 5
    assert "reopen next spring as a covered market" in body
    assert "brass locker key she had kept since 1974" in body
    for chrome in (
        "Skip to content",
        "Subscribe",
        "Read also",
        "Canal path lighting",
        "Latest",
        "Bus drivers vote",
        "All rights reserved",
    ):
        assert chrome not in body
    assert "<h1>" not in body  # the headline is the title, not repeated in the body


def test_article_page_from_str_without_canonical() -> None:
    html = (FIXTURES / "article.html").read_text(encoding="utf-8")
    html = html.replace(
        '<link rel="canonical" href="https://gazette.example.com/2024/08/swimming-baths">', ""
    )
    entry = parse_article_page(html, url=PAGE_URL)
    # The URL fetched, without its tracking parameter.
    assert entry.key == entry.link == "https://gazette.example.com/2024/08/swimming-baths"


@pytest.mark.parametrize(
    "html",
    [
        (FIXTURES / "no_article.html").read_bytes(),
        b"<html><head><title>Empty</title></head><body></body></html>",
        b"",
    ],
)
def test_page_without_article_raises(html: bytes) -> None:
    with pytest.raises(FeedError, match=r"no article text found at https://gazette\.example\.com/"):
        parse_article_page(html, url="https://gazette.example.com/login")
