"""build_message: MIME structure, addressing, header injection, list headers and line lengths."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from digest.core.addresses import normalize_email
from digest.mail.message import build_message, domain_of, list_id_for, message_id_for

SENDER = "Harwick Digest <digest@news.example.org>"
DATE = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
UNSUBSCRIBE_URL = "https://news.example.org/unsubscribe/eyJpZCI6N30.abc-DEF_123"
TEXT = "Good morning Ann,\n\nHarbour expansion approved.\nhttps://news.example.org/a/1\n"
HTML = "<html><body><p>Good morning Ann,</p><p>Harbour expansion approved.</p></body></html>"


def build(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "sender": SENDER,
        "to_address": "ann@example.org",
        "to_name": "Ann Lee",
        "subject": "Harwick Digest: harbour expansion approved",
        "html": HTML,
        "text": TEXT,
        "message_id": message_id_for(3, 7, "news.example.org"),
        "list_id": list_id_for("Harwick Digest", "https://news.example.org"),
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "date": DATE,
    }
    arguments.update(overrides)
    return build_message(**arguments)


def content(part: EmailMessage) -> str:
    """A part's decoded text with the wire's CRLF line ends turned back into \\n."""
    return str(part.get_content()).replace("\r\n", "\n")


def parse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_block(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_multipart_alternative_text_then_html() -> None:
    parsed = parse(build())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content_charset() == "utf-8"
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(parts[0]) == TEXT
    assert content(parts[1]).rstrip("\n") == HTML
    assert parsed.get_body(preferencelist=("html",)) is parts[1]


def test_headers() -> None:
    raw = build().as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == SENDER
    assert parsed["From"].addresses[0].addr_spec == "digest@news.example.org"
    assert parsed["To"] == "Ann Lee <ann@example.org>"
    assert parsed["Subject"] == "Harwick Digest: harbour expansion approved"
    assert parsed["Date"].datetime == DATE
    assert parsed["Message-ID"] == "<digest.e3.s7@news.example.org>"
    assert parsed["List-Id"] == "Harwick Digest <harwick-digest.news.example.org>"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["MIME-Version"] == "1.0"
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert len(parsed.get_all(name) or []) == 1, name
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_date_in_another_zone_keeps_the_instant() -> None:
    local = DATE.astimezone(timezone(timedelta(hours=-5)))
    assert parse(build(date=local))["Date"].datetime == DATE


def test_message_id_is_stable() -> None:
    assert message_id_for(3, 7, "news.example.org") == "<digest.e3.s7@news.example.org>"
    assert message_id_for(3, 7, "news.example.org") == message_id_for(3, 7, "news.example.org")
    assert message_id_for(3, 8, "news.example.org") != message_id_for(3, 7, "news.example.org")
    assert message_id_for(4, 7, "news.example.org") != message_id_for(3, 7, "news.example.org")
    a = parse(build(date=DATE))
    b = parse(build(date=DATE + timedelta(hours=1)))
    assert a["Message-ID"] == b["Message-ID"] == message_id_for(3, 7, "news.example.org")


def test_domain_of_and_list_id() -> None:
    assert domain_of(SENDER) == "news.example.org"
    assert domain_of("digest@lists.example.com") == "lists.example.com"
    assert domain_of("") == "localhost"
    assert list_id_for("Lakeside Weekly!", "https://lake.example.com/x") == (
        "Lakeside Weekly! <lakeside-weekly.lake.example.com>"
    )


def test_to_without_a_name_is_the_bare_address() -> None:
    for name in (None, "", "   "):
        parsed = parse(build(to_name=name))
        assert parsed["To"].addresses[0].display_name == ""
        assert parsed["To"].addresses[0].addr_spec == "ann@example.org"


@pytest.mark.parametrize(
    "name",
    [
        'Ann "The Boss" Lee',
        "Lee, Ann",
        "Jörg Müller",
        'Zoë, "Chief" O\'Brien 山田',
        "Ann (work) <boss@evil.example>",
    ],
)
def test_display_name_is_encoded_and_round_trips(name: str) -> None:
    raw = build(to_name=name).as_bytes()
    to_lines = [line for line in header_block(raw) if line.startswith(b"To:")]
    assert len(to_lines) == 1
    assert to_lines[0].isascii()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    addresses = parsed["To"].addresses
    assert len(addresses) == 1, "a comma or quote in the name must not split the address"
    assert addresses[0].display_name == name
    assert addresses[0].addr_spec == "ann@example.org"


def test_display_name_with_a_line_break_stays_on_one_line() -> None:
    parsed = parse(build(to_name="Ann\r\nBcc: evil@example.com"))
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].addr_spec == "ann@example.org"
    assert len(parsed["To"].addresses) == 1


def test_idn_recipient_gets_an_ascii_address() -> None:
    # normalize_email keeps IDN domains in ASCII form, so the To header is a real address
    # (not an RFC 2047 encoded-word inside the domain, which no server would accept).
    address = normalize_email("User@Bücher.Example")
    raw = build(to_address=address).as_bytes()
    assert raw.isascii()
    assert b"=?" not in b"".join(line for line in header_block(raw) if line.startswith(b"To:"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "user@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "subject",
    [
        "Harbour news\nBcc: evil@example.com",
        "Harbour news\r\nBcc: evil@example.com",
        "Harbour news\rBcc: evil@example.com",
        "Harbour news\r\n\r\nBcc: evil@example.com",
    ],
)
def test_subject_with_line_breaks_is_one_header_line(subject: str) -> None:
    raw = build(subject=subject).as_bytes()
    subject_lines = [line for line in header_block(raw) if line.startswith(b"Subject:")]
    assert subject_lines == [b"Subject: Harbour news Bcc: evil@example.com"]
    assert not any(line.lower().startswith(b"bcc:") for line in header_block(raw))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Harbour news Bcc: evil@example.com"
    assert len(list(parsed.iter_parts())) == 2


@pytest.mark.parametrize(
    "subject",
    [
        "Harwick Digest: " + " ".join(["harbour expansion approved after long consultation"] * 6),
        "Harwick Digest:" + "x" * 120,
        " ".join(["Harwick Digest: Ünïcödé Straßenbahn tram route reopens, café owners"] * 3),
    ],
)
def test_long_subject_parses_back_without_a_leading_space(subject: str) -> None:
    assert len(subject) > 78
    parsed = parse(build(subject=subject))
    assert parsed["Subject"] == subject
    assert not parsed["Subject"].startswith(" ")


def test_body_lines_are_short_and_quoted_printable() -> None:
    long_line = "The council approved the harbour expansion " * 12
    text = f"{long_line}\n\nShort line.\n{'é' * 200}\n"
    html = f"<p>{long_line}</p><p>{'ü' * 150}</p><p>Plain =equals= sign</p>"
    msg = build(text=text, html=html, subject="Harwick Digest: " + "long subject " * 20)
    raw = msg.as_bytes()
    header_end = raw.index(b"\r\n\r\n")
    body_lines = raw[header_end + 4 :].split(b"\r\n")
    too_long = [line for line in body_lines if len(line) > 78]
    assert too_long == []
    assert raw.isascii()
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    # Only the top-level header block may hold a line over 78 (RFC 5322 allows 998).
    assert max(len(line) for line in header_block(raw)) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    plain, rich = parsed.iter_parts()
    assert content(plain) == text
    assert content(rich).rstrip("\n") == html


@pytest.mark.parametrize(
    ("name", "header", "shown"),
    [
        ("Harwick Digest", b"Harwick Digest <harwick-digest.news.example.org>", None),
        # A comma is not allowed in an atom: the name becomes a quoted string.
        ("Harwick, Digest", b'"Harwick, Digest" <harwick-digest.news.example.org>', None),
        # Not ASCII: an encoded word for the name only; the id stays plain ASCII.
        (
            "Nachrichten aus Köln",
            b"Nachrichten aus =?utf-8?q?K=C3=B6ln?= <nachrichten-aus-koln.news.example.org>",
            "Nachrichten aus Köln <nachrichten-aus-koln.news.example.org>",
        ),
        ("أخبار الميناء", None, "أخبار الميناء <digest.news.example.org>"),
    ],
)
def test_list_id_is_valid_for_any_list_name(
    name: str, header: bytes | None, shown: str | None
) -> None:
    raw = build(list_id=list_id_for(name, "https://news.example.org")).as_bytes()
    line = next(x for x in raw.split(b"\r\n") if x.startswith(b"List-Id: "))
    assert line.isascii()
    if header is not None:
        assert line == b"List-Id: " + header
    parsed = str(email.message_from_bytes(raw, policy=email.policy.default)["List-Id"])
    assert parsed == (shown or header.decode())  # type: ignore[union-attr]  # bytes here
    assert re.fullmatch(r".*<[a-z0-9-]+\.news\.example\.org>", parsed)
