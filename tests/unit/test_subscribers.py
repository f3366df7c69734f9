"""Subscribers: address validation, time zones, signed link tokens, adding and unsubscribing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.core.addresses import normalize_email
from digest.core.links import PREFERENCES, UNSUBSCRIBE, make_token, read_token
from digest.core.schedule import check_timezone
from digest.core.vocabulary import SubscriberStatus
from digest.errors import AlreadyExists, InvalidInput, NotFound
from digest.services.subscribers import add_subscriber, find_subscriber, unsubscribe
from digest.store.db import session_scope
from digest.store.models import Subscriber

SECRET = "test-secret"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ann@example.org", "ann@example.org"),
        ("Ann.Lee@Example.ORG", "ann.lee@example.org"),
        ("  bob+digest@example.org \n", "bob+digest@example.org"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
        # An IDN domain is stored in its ASCII form so it can go in headers and RCPT TO.
        ("User@Bücher.Example", "user@xn--bcher-kva.example"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
    ],
)
def test_normalize_email_accepts_and_lowercases(given: str, expected: str) -> None:
    assert normalize_email(given) == expected


def test_normalize_email_is_idempotent_for_idn() -> None:
    once = normalize_email("Kontakt@Straße.example")
    assert once == "kontakt@xn--strae-oqa.example"  # IDNA 2008: ß is kept, not mapped to ss
    assert normalize_email(once) == once
    assert once.isascii()


@pytest.mark.parametrize(
    "address",
    [
        "",
        "plainaddress",
        "@example.org",
        "ann@",
        "ann@@example.org",
        "ann example@example.org",
        "ann@example..org",
        "ann@-example.org",
        "Ann <ann@example.org>",
    ],
)
def test_normalize_email_rejects_malformed(address: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_email(address)
    assert repr(address) in str(info.value)
    assert "not a valid email address" in str(info.value)


@pytest.mark.parametrize(
    "address",
    ["ann@example.org\r\nBcc: x@y", "ann@example.org\nBcc: x@y", "ann@example.org\rBcc: x@y"],
)
def test_normalize_email_rejects_header_injection(address: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_email(address)
    # The message names the address with the line break escaped, not as a raw new line.
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    assert "Bcc: x@y" in str(info.value)


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"])
def test_check_timezone_accepts_known_zones(name: str) -> None:
    assert check_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "Europe/Nowhere", "", "../../etc/passwd", "CEST+2"]
)
def test_check_timezone_rejects_unknown_zones(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_timezone(name)
    assert repr(name) in str(info.value)
    assert "Area/City" in str(info.value)


def test_token_roundtrip() -> None:
    for subscriber_id in (1, 42, 10**9):
        token = make_token(SECRET, UNSUBSCRIBE, subscriber_id)
        assert read_token(SECRET, UNSUBSCRIBE, token) == subscriber_id
    # Stable: a link in old mail keeps working.
    assert make_token(SECRET, UNSUBSCRIBE, 7) == make_token(SECRET, UNSUBSCRIBE, 7)


def test_token_for_one_purpose_is_rejected_for_another() -> None:
    token = make_token(SECRET, UNSUBSCRIBE, 7)
    with pytest.raises(InvalidInput):
        read_token(SECRET, PREFERENCES, token)
    other = make_token(SECRET, PREFERENCES, 7)
    assert other != token
    with pytest.raises(InvalidInput):
        read_token(SECRET, UNSUBSCRIBE, other)


def test_token_signed_with_another_secret_is_rejected() -> None:
    token = make_token("another-secret", UNSUBSCRIBE, 7)
    with pytest.raises(InvalidInput, match="invalid or has been tampered with"):
        read_token(SECRET, UNSUBSCRIBE, token)


def test_tampered_tokens_are_rejected() -> None:
    token_7 = make_token(SECRET, UNSUBSCRIBE, 7)
    token_8 = make_token(SECRET, UNSUBSCRIBE, 8)
    payload_7, _, signature_7 = token_7.rpartition(".")
    payload_8, _, _ = token_8.rpartition(".")
    # Another subscriber's id with this signature.
    swapped = f"{payload_8}.{signature_7}"
    # A character changed in the middle of the signature (the last one may only carry
    # padding bits, so changing it might not change the decoded bytes).
    middle = len(signature_7) // 2
    flipped = "A" if signature_7[middle] != "A" else "B"
    bad_signature = f"{payload_7}.{signature_7[:middle]}{flipped}{signature_7[middle + 1 :]}"
    for token in (swapped, bad_signature, "", "garbage", token_7 + "x", "." + signature_7):
        with pytest.raises(InvalidInput):
            read_token(SECRET, UNSUBSCRIBE, token)


def test_correctly_signed_non_integer_payload_is_rejected() -> None:
    token = URLSafeSerializer(SECRET, salt=f"digest.{UNSUBSCRIBE}").dumps("7")
    with pytest.raises(InvalidInput):
        read_token(SECRET, UNSUBSCRIBE, token)


@pytest.fixture
def db_url(migrated_database_url: str) -> str:
    """A fresh database at the newest schema, on SQLite and on PostgreSQL."""
    return migrated_database_url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_scope(db_url) as s:
        yield s


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_add_subscriber_stores_normalized_values(db_url: str) -> None:
    with session_scope(db_url) as session:
        added = add_subscriber(
            session,
            "  Ann.Lee@Example.ORG ",
            name="  Ann \n Lee ",
            frequency="weekly",
            hour=23,
            timezone="Asia/Tokyo",
            topics=["Harbour", " harbour ", "Culture"],
            now=NOW,
            new_topics=True,  # no source has them yet
        )
        subscriber_id = added.id
    with session_scope(db_url) as session:
        stored = session.get(Subscriber, subscriber_id)
        assert stored is not None
        assert stored.email == "ann.lee@example.org"
        assert stored.name == "Ann Lee"
        assert stored.status == SubscriberStatus.PENDING
        assert stored.confirmed_at is None
        assert (stored.frequency, stored.hour, stored.timezone) == ("weekly", 23, "Asia/Tokyo")
        assert stored.topic_names == ["culture", "harbour"]  # sorted by name
        assert stored.created_at == NOW
        assert stored.unsubscribed_at is None
        assert find_subscriber(session, "ANN.LEE@example.org").id == subscriber_id


def test_add_confirmed_subscriber(session: Session) -> None:
    added = add_subscriber(session, "bob@example.org", confirmed=True, now=NOW)
    assert added.status == SubscriberStatus.CONFIRMED
    assert added.confirmed_at == NOW
    assert (added.frequency, added.hour, added.timezone) == ("daily", 7, "UTC")


def test_duplicate_address_is_rejected(db_url: str) -> None:
    with session_scope(db_url) as session:
        add_subscriber(session, "ann@example.org")
    with session_scope(db_url) as session, pytest.raises(AlreadyExists, match=r"ann@example\.org"):
        add_subscriber(session, "  ANN@Example.org")
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_duplicate_idn_address_in_either_form_is_rejected(session: Session) -> None:
    add_subscriber(session, "user@bücher.example")
    with pytest.raises(AlreadyExists):
        add_subscriber(session, "USER@xn--bcher-kva.example")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"hour": 24}, "hour"),
        ({"hour": -1}, "hour"),
        ({"frequency": "yearly"}, "frequency"),
        ({"frequency": "weekly", "weekday": "mondays"}, "weekday"),
        ({"frequency": "monthly", "day_of_month": 29}, "day_of_month"),
        ({"frequency": "Daily"}, "frequency"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"email": "not-an-address"}, "not a valid email address"),
    ],
)
def test_add_subscriber_rejects_bad_input(
    db_url: str, kwargs: dict[str, object], words: str
) -> None:
    arguments: dict[str, object] = {"email": "ann@example.org", **kwargs}
    email = str(arguments.pop("email"))
    with session_scope(db_url) as session, pytest.raises(InvalidInput, match=words):
        add_subscriber(session, email, **arguments)  # type: ignore[arg-type]  # keyword arguments from a dict
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


@pytest.mark.parametrize("hour", [0, 23])
def test_add_subscriber_accepts_boundary_hours(session: Session, hour: int) -> None:
    assert add_subscriber(session, f"h{hour}@example.org", hour=hour).hour == hour


def test_unsubscribe_sets_status_and_time_once(db_url: str) -> None:
    with session_scope(db_url) as session:
        subscriber_id = add_subscriber(session, "ann@example.org", confirmed=True, now=NOW).id
    first = datetime(2026, 3, 11, 8, 30, tzinfo=UTC)
    with session_scope(db_url) as session:
        result = unsubscribe(session, subscriber_id, now=first)
        assert result.id == subscriber_id
    with session_scope(db_url) as session:
        stored = session.get(Subscriber, subscriber_id)
        assert stored is not None
        assert stored.status == SubscriberStatus.UNSUBSCRIBED
        assert stored.unsubscribed_at == first
    # A second click (or a mail client's RFC 8058 POST) changes nothing.
    with session_scope(db_url) as session:
        again = unsubscribe(session, subscriber_id, now=datetime(2026, 4, 1, tzinfo=UTC))
        assert again.status == SubscriberStatus.UNSUBSCRIBED
    with session_scope(db_url) as session:
        stored = session.get(Subscriber, subscriber_id)
        assert stored is not None
        assert stored.unsubscribed_at == first


def test_unsubscribe_without_now_uses_the_current_time(session: Session) -> None:
    subscriber = add_subscriber(session, "ann@example.org")
    before = datetime.now(UTC)
    unsubscribe(session, subscriber.id)
    assert subscriber.unsubscribed_at is not None
    assert before <= subscriber.unsubscribed_at <= datetime.now(UTC)


def test_unsubscribe_unknown_subscriber(session: Session) -> None:
    with pytest.raises(NotFound):
        unsubscribe(session, 12345)


def test_token_unsubscribes_the_right_subscriber(session: Session) -> None:
    ann = add_subscriber(session, "ann@example.org", confirmed=True)
    bob = add_subscriber(session, "bob@example.org", confirmed=True)
    token = make_token(SECRET, UNSUBSCRIBE, bob.id)
    unsubscribe(session, read_token(SECRET, UNSUBSCRIBE, token))
    assert bob.status == SubscriberStatus.UNSUBSCRIBED
    assert ann.status == SubscriberStatus.CONFIRMED


def test_a_topic_no_source_has_is_refused_naming_the_topics_there_are(db_url: str) -> None:
    from digest.errors import InvalidField
    from digest.services.sources import add_source

    with session_scope(db_url) as session:
        add_source(session, "https://harbour.example.org/feed", topics=["harbour", "ships"])
    with session_scope(db_url) as session, pytest.raises(InvalidField) as caught:
        add_subscriber(session, "ann@example.org", topics=["Harbour", "Gardening"])
    assert caught.value.field == "topics"
    assert str(caught.value) == (
        "topics: no source has the topic 'gardening'; the topics are: harbour, ships"
    )
    with session_scope(db_url) as session:
        assert add_subscriber(session, "ann@example.org", topics=["SHIPS"]).topic_names == ["ships"]


def test_changing_to_a_topic_no_source_has_is_refused_and_held_ones_are_kept(
    db_url: str, tmp_path: object
) -> None:
    # The admin's and the API's change of a subscriber refuse what `subscribers add` does;
    # a topic the subscriber already holds (made with --new-topic) stays choosable.
    from digest.config import Settings
    from digest.errors import InvalidField
    from digest.services.sources import add_source
    from digest.services.subscribers import change_subscriber

    settings = Settings(database_url=db_url, secret_key="test-secret")
    with session_scope(db_url) as session:
        add_source(session, "https://harbour.example.org/feed", topics=["harbour", "ships"])
        ann = add_subscriber(session, "ann@example.org", topics=["lighthouses"], new_topics=True)
        ann_id = ann.id
    with pytest.raises(InvalidField) as caught:
        change_subscriber(settings, ann_id, {"topics": ["harbour", "World"]})
    assert caught.value.field == "topics"
    assert str(caught.value) == (
        "topics: no source has the topic 'world'; the topics are: harbour, ships"
    )
    with session_scope(db_url) as session:
        assert find_subscriber(session, "ann@example.org").topic_names == ["lighthouses"]
    changed = change_subscriber(settings, ann_id, {"topics": ["Ships", "lighthouses"]})
    assert changed["topics"] == ["lighthouses", "ships"]
