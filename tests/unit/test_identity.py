"""An article's identity: GUID, else link, else a hash of title and content; keys too long
for the column become a hash of themselves, and still tell articles apart."""

from __future__ import annotations

import re

from digest.gather.identity import MAX_KEY_LENGTH, article_key
from digest.store.models import Article

HASHED = re.compile(r"sha256:[0-9a-f]{64}")
LINK = "https://courier.example/2026/03/ferry-timetable"


def long_key(tail: str, length: int = MAX_KEY_LENGTH + 1) -> str:
    base = "https://courier.example/track?ref="
    return base + "x" * (length - len(base) - len(tail)) + tail


def test_the_key_is_the_guid_else_the_link_else_a_hash_of_the_text() -> None:
    assert article_key("urn:uuid:4f1c", LINK, "Ferry", "Later") == "urn:uuid:4f1c"
    assert article_key("  ", LINK, "Ferry", "Later") == LINK  # a blank GUID is no GUID
    assert article_key(None, LINK, "Ferry", "Later") == LINK
    by_text = article_key(None, None, "Ferry", "Later")
    assert HASHED.fullmatch(by_text)
    assert by_text == article_key(None, None, "Ferry", "Later")
    assert by_text != article_key(None, None, "Ferry", "Earlier")


def test_keys_that_fit_the_column_are_kept_as_they_are() -> None:
    fits = long_key("end", MAX_KEY_LENGTH)
    assert len(fits) == MAX_KEY_LENGTH
    assert article_key(fits, None, "t", "c") == fits
    assert article_key(None, fits, "t", "c") == fits


def test_an_over_long_key_becomes_a_stable_hash_that_tells_keys_apart() -> None:
    one, other = long_key("a"), long_key("b")  # the same up to their last character
    assert len(one) == len(other) == MAX_KEY_LENGTH + 1
    key = article_key(one, None, "t", "c")
    assert HASHED.fullmatch(key) and len(key) <= MAX_KEY_LENGTH
    assert article_key(one, None, "other title", "other text") == key  # same input, same key
    assert article_key(None, one, "t", "c") == key  # as a GUID or as a link: the same key
    assert article_key(other, None, "t", "c") != key
    assert article_key(long_key("a", 5000), None, "t", "c") not in (key, long_key("a", 5000))


def test_the_limit_is_the_width_of_the_stored_key() -> None:
    assert Article.__table__.c.key.type.length == MAX_KEY_LENGTH
