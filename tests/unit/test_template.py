"""The edition's message serialised once: each copy a join of bytes that parses to the same
message `build_message` makes, with no header injection, dot-stuffed once, lines ≤ 998."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from digest.core.addresses import normalize_email
from digest.core.placeholders import NAME, PREFERENCES_URL, UNSUBSCRIBE_URL
from digest.mail.message import list_id_for, message_id_for
from digest.mail.template import MAX_LINE, Recipient, build_template

SENDER = "Harwick Digest <digest@news.example.org>"
DATE = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
TEXT = (
    f"Good morning {NAME},\n\nHarbour expansion approved.\n.A line that starts with a dot\n"
    f"{NAME}\nPreferences: {PREFERENCES_URL}\nUnsubscribe: {UNSUBSCRIBE_URL}\n"
)
HTML = (
    f"<html><body><p>Good morning {NAME},</p>\n<p>Harbour expansion approved.</p>\n"
    f'.<a href="{UNSUBSCRIBE_URL}">Unsubscribe</a>\n</body></html>'
)


def template(text: str = TEXT, html: str = HTML, subject: str = "Harwick: harbour") -> object:
    return build_template(
        sender=SENDER,
        subject=subject,
        html=html,
        text=text,
        list_id=list_id_for("Harwick Digest", "https://news.example.org"),
    )


def recipient(address: str = "ann@example.org", name: str | None = "Ann Lee") -> Recipient:
    return Recipient(
        address=address,
        name=name,
        message_id=message_id_for(3, 7, "news.example.org"),
        unsubscribe_url="https://news.example.org/unsubscribe/MQ.abc-DEF_123",
        preferences_url="https://news.example.org/preferences/MQ.xyz",
        date=DATE,
    )


def unstuffed(data: bytes) -> bytes:
    """What a server stores after DATA: every line's leading dot of a pair removed."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(msg: EmailMessage, kind: str) -> str:
    return str(msg.get_body((kind,)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]  # the message has that part


def both(r: Recipient, **kwargs: str) -> tuple[EmailMessage, EmailMessage, bytes]:
    """The copy from the template (as the server stores it) and the per-copy fallback."""
    copy = template(**kwargs).copy_for(r)  # type: ignore[attr-defined]  # template() is typed as the base class
    assert copy.stuffed is not None
    return parse(unstuffed(copy.stuffed)), copy.fallback(), copy.stuffed


@pytest.mark.parametrize(
    "name",
    [
        None,
        "Ann Lee",
        ".Dot Leading",
        'Ann "The Boss" Lee',
        "Lee, Ann",
        "Jörg Müller",
        "Ann\r\nBcc: evil@example.com",
        "Ann (work) <boss@evil.example>",
    ],
)
def test_a_copy_is_the_message_build_message_makes(name: str | None) -> None:
    got, expected, raw = both(recipient(name=name))
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert str(got[header]) == str(expected[header]), header
    assert got["Bcc"] is None and len(got["To"].addresses) == 1
    assert got["To"].addresses[0].addr_spec == "ann@example.org"
    for kind in ("plain", "html"):
        assert body_of(got, kind) == body_of(expected, kind)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.isascii()
    assert b"Content-Transfer-Encoding: 8bit" in body
    assert b"quoted-printable" not in raw


def test_lines_starting_with_a_dot_are_stuffed_once() -> None:
    _, _, raw = both(recipient(name=".Dot Leading"))
    assert b"\r\n..A line that starts with a dot\r\n" in raw
    assert b"\r\n..Dot Leading\r\n" in raw  # a name filled in at the start of a line
    assert b"\r\n..<a href=" in raw
    assert b"\r\n.\r\n" not in raw  # nothing that would end DATA early


def test_idn_address_is_ascii_and_a_bad_address_is_refused() -> None:
    copy = template().copy_for(recipient(address=normalize_email("User@Bücher.Example")))  # type: ignore[attr-defined]  # template() is typed as the base class
    assert parse(copy.plain())["To"].addresses[0].addr_spec == "user@xn--bcher-kva.example"
    with pytest.raises(Exception, match="cannot address"):
        template().copy_for(recipient(address="ann@exa mple@org\r\nBcc: x"))  # type: ignore[attr-defined]  # template() is typed as the base class


def test_long_lines_are_wrapped_at_spaces_and_read_the_same() -> None:
    words = "The council approved the harbour expansion " * 60
    text = f"{NAME}\n{words}\n"
    html = f'<p class="summary" title="{"a b " * 100}">{words}</p>'
    got, expected, raw = both(recipient(), text=text, html=html)
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
    assert body_of(got, "plain").split() == body_of(expected, "plain").split()
    assert body_of(got, "plain") != body_of(expected, "plain")  # it was wrapped
    # The breaks fall between words and attributes, never inside the quoted attribute.
    assert ("a b " * 100) in body_of(got, "html")
    assert body_of(got, "html").split() == body_of(expected, "html").split()


def test_an_unbreakable_long_line_falls_back_to_a_per_copy_encoding() -> None:
    url = "https://example.org/" + "x" * 1500
    copy = template(text=f"{NAME}\n{url}\n").copy_for(recipient())  # type: ignore[attr-defined]  # template() is typed as the base class
    assert copy.stuffed is None
    raw = copy.plain()
    body = raw.partition(b"\r\n\r\n")[2]
    assert b"quoted-printable" in raw and max(len(line) for line in body.split(b"\r\n")) <= 78
    assert url in parse(raw).get_body(("plain",)).get_content()
