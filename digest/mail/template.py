"""An edition's message serialised once, each subscriber's copy a join of bytes.

The headers, the text part and the HTML part are serialised once per edition with `8bit`
transfer encoding (quoted-printable soft breaks would split a placeholder, base64 would
destroy it), dot-stuffed once for SMTP's DATA, and split at the placeholders. A copy is
the segments joined with the subscriber's values: a few microseconds, against
milliseconds for building and encoding an `EmailMessage` per subscriber.

Safety is kept per value: the To header goes through the same `Address` encoding as
`build_message` (a name with quotes, commas or line breaks cannot add a header or an
address), the other per-copy values are made here (Message-ID, Date, the signed link)
and carry no line break. A line over 998 octets is not allowed in an 8bit body (RFC 5322
2.1.1): long lines are wrapped at a space where that does not change what the reader
sees, and where no such space exists the copy falls back to `build_message`
(quoted-printable), as it does for a server that does not announce 8BITMIME.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from digest.core.placeholders import NAME, PREFERENCES_URL, UNSUBSCRIBE_URL, fill
from digest.errors import InvalidInput
from digest.mail.message import HEADER_POLICY, _one_line, build_message, list_unsubscribe

# The longest line allowed in a message, CRLF excluded (RFC 5322 2.1.1).
MAX_LINE = 998

# Slots: per-copy headers, then the body placeholders of each part.
TO, DATE, MESSAGE_ID, LIST_UNSUBSCRIBE = "TO", "DATE", "MESSAGE_ID", "LIST_UNSUBSCRIBE"
_TEXT = {NAME: "T_NAME", UNSUBSCRIBE_URL: "T_UNSUBSCRIBE", PREFERENCES_URL: "T_PREFERENCES"}
_HTML = {NAME: "H_NAME", UNSUBSCRIBE_URL: "H_UNSUBSCRIBE", PREFERENCES_URL: "H_PREFERENCES"}


def _token(slot: str) -> str:
    return f"__DIGEST_SLOT_{slot}__"


_SLOT = re.compile(rb"__DIGEST_SLOT_([A-Z_]+?)__")


@dataclass(frozen=True)
class Recipient:
    """What differs from one copy to the next."""

    address: str
    name: str | None
    message_id: str
    unsubscribe_url: str
    preferences_url: str
    date: datetime


@dataclass
class OutgoingCopy:
    """One subscriber's copy: the envelope, and the message as bytes.

    `stuffed` is the message dot-stuffed with CRLF line ends, ready for DATA on a server
    that announced 8BITMIME; None when this copy must be encoded on its own. `fallback`
    builds the copy as a quoted-printable `EmailMessage`, for a server without 8BITMIME.
    """

    mail_from: str
    rcpt: str
    message_id: str
    stuffed: bytes | None
    fallback: Callable[[], EmailMessage]
    _plain: bytes | None = field(default=None, repr=False)

    def plain(self) -> bytes:
        """The message as a file holds it (not dot-stuffed)."""
        if self._plain is None:
            if self.stuffed is None:
                self._plain = self.fallback().as_bytes()
            else:
                self._plain = self.stuffed.replace(b"\r\n..", b"\r\n.")
                if self._plain.startswith(b".."):
                    self._plain = self._plain[1:]
        return self._plain


def _wrap_text_line(line: str, limit: int) -> list[str] | None:
    """A plain-text line broken at spaces into lines of at most `limit` bytes."""
    out: list[str] = []
    while len(line.encode()) > limit:
        head = line.encode()[:limit].decode(errors="ignore")
        cut = head.rfind(" ")
        if cut <= 0:
            return None
        out.append(line[:cut])
        line = line[cut + 1 :]
    out.append(line)
    return out


def _html_break_points(line: str) -> list[int]:
    """Spaces where a line break renders the same: in text, or between a tag's attributes;
    never inside a quoted attribute value."""
    points, in_tag, quote = [], False, ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif in_tag and ch in "\"'":
            quote = ch
        elif ch == "<":
            in_tag = True
        elif ch == ">":
            in_tag = False
        elif ch == " ":
            points.append(i)
    return points


def _wrap_html_line(line: str, limit: int) -> list[str] | None:
    points = _html_break_points(line)  # found over the whole line: a tag may span a cut
    out: list[str] = []
    start = 0
    while len(line[start:].encode()) > limit:
        fitting = [p for p in points if p > start and len(line[start:p].encode()) <= limit]
        if not fitting:
            return None
        out.append(line[start : fitting[-1]])
        start = fitting[-1] + 1
    out.append(line[start:])
    return out


def wrap_long_lines(body: str, *, html: bool, limit: int) -> str | None:
    """The body with every line at most `limit` bytes, or None where that cannot be done
    without changing what the reader sees (a long URL, preformatted text)."""
    if html and "<pre" in body.lower():
        if any(len(line.encode()) > limit for line in body.splitlines()):
            return None
        return body
    lines: list[str] = []
    for line in body.split("\n"):
        if len(line.encode()) <= limit:
            lines.append(line)
            continue
        wrapped = (_wrap_html_line if html else _wrap_text_line)(line, limit)
        if wrapped is None:
            return None
        lines += wrapped
    return "\n".join(lines)


def _fold(name: str, value: object) -> bytes:
    header = HEADER_POLICY.header_factory(name, value)
    return HEADER_POLICY.fold_binary(name, header)


_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9'-]+( [A-Za-z0-9'-]+)*")


def to_header(address: str, name: str | None) -> bytes:
    """The To header line, encoded as `build_message` encodes it.

    The common case (an ASCII dot-atom address, a name of letters and spaces, or none)
    needs no encoding and skips the header machinery; anything else goes through it.
    """
    display = _one_line(name or "")
    if len(address) < 300 and _PLAIN_ADDRESS.fullmatch(address):
        if not display:
            return f"To: {address}\r\n".encode()
        if len(display) < 70 and _PLAIN_NAME.fullmatch(display):
            return f"To: {display} <{address}>\r\n".encode()
    local, _, domain = address.rpartition("@")
    try:
        value = Address(display_name=display, username=local, domain=domain)
        folded = _fold("To", value)
    except (ValueError, IndexError) as exc:
        raise InvalidInput(f"cannot address a message to {address!r}: {exc}") from None
    return folded


# Room kept on each line of the template for the values that fill its placeholders.
VALUE_ROOM = 400


@dataclass(frozen=True)
class MessageTemplate:
    """An edition's message with slots; `copy_for` fills them for one subscriber."""

    mail_from: str
    segments: tuple[bytes, ...]  # dot-stuffed, CRLF; one more than slots
    slots: tuple[str, ...]
    at_line_start: tuple[bool, ...]
    eight_bit: bool  # False: the body could not be kept under 998 octets a line
    sender: str
    subject: str
    html: str
    text: str
    list_id: str
    unsubscribe_mailto: str | None = None  # the second List-Unsubscribe entry, if set
    anonymous: str = "there"  # the name in the greeting of a subscriber who gave none

    def copy_for(self, r: Recipient) -> OutgoingCopy:
        def fallback() -> EmailMessage:
            html, text = fill(
                self.html,
                self.text,
                name=_one_line(r.name or "") or None,
                unsubscribe_url=r.unsubscribe_url,
                preferences_url=r.preferences_url,
                anonymous=self.anonymous,
            )
            return build_message(
                sender=self.sender,
                to_address=r.address,
                to_name=r.name,
                subject=self.subject,
                html=html,
                text=text,
                message_id=r.message_id,
                list_id=self.list_id,
                unsubscribe_url=r.unsubscribe_url,
                date=r.date,
                unsubscribe_mailto=self.unsubscribe_mailto,
            )

        to = to_header(r.address, r.name)  # validates the address before anything is sent
        stuffed = self._fill(r, to) if self.eight_bit else None
        return OutgoingCopy(self.mail_from, r.address, r.message_id, stuffed, fallback)

    def _fill(self, r: Recipient, to: bytes) -> bytes | None:
        display = _one_line(r.name or "") or self.anonymous
        values = {
            TO: to[4:-2],  # "To: " ... CRLF: the template has its own
            DATE: format_datetime(r.date).encode(),
            MESSAGE_ID: _header_value(r.message_id),
            LIST_UNSUBSCRIBE: _header_value(
                list_unsubscribe(r.unsubscribe_url, self.unsubscribe_mailto)
            ),
            "T_NAME": display.encode(),
            "T_UNSUBSCRIBE": _header_value(r.unsubscribe_url),
            "T_PREFERENCES": _header_value(r.preferences_url),
            "H_NAME": html_lib.escape(display).encode(),
            "H_UNSUBSCRIBE": html_lib.escape(r.unsubscribe_url).encode(),
            "H_PREFERENCES": html_lib.escape(r.preferences_url).encode(),
        }
        if max(len(values[s]) for s in values if s.startswith(("T_", "H_"))) > VALUE_ROOM // 2:
            return None  # a value that could push a line past 998 octets: encode this copy
        parts = [self.segments[0]]
        for slot, start, segment in zip(
            self.slots, self.at_line_start, self.segments[1:], strict=True
        ):
            value = values[slot]
            if start and value.startswith(b"."):
                parts.append(b".")
            parts.append(value)
            parts.append(segment)
        return b"".join(parts)


def _header_value(value: str) -> bytes:
    """A value we made ourselves (a Message-ID, a signed link): one line of ASCII."""
    if not value.isascii() or any(c in value for c in "\r\n"):
        raise InvalidInput(f"{value!r} cannot go in a header")
    return value.encode()


def build_template(
    *,
    sender: str,
    subject: str,
    html: str,
    text: str,
    list_id: str,
    unsubscribe_mailto: str | None = None,
    anonymous: str = "there",
) -> MessageTemplate:
    """Serialise an edition once: headers, text and HTML parts, 8bit, with slots."""
    limit = MAX_LINE - VALUE_ROOM
    wrapped_text = wrap_long_lines(text, html=False, limit=limit)
    wrapped_html = wrap_long_lines(html, html=True, limit=limit)
    eight_bit = wrapped_text is not None and wrapped_html is not None
    body_text, body_html = wrapped_text or "", wrapped_html or ""
    for placeholder, slot in _TEXT.items():
        body_text = body_text.replace(placeholder, _token(slot))
    for placeholder, slot in _HTML.items():
        body_html = body_html.replace(placeholder, _token(slot))
    body = EmailMessage(policy=HEADER_POLICY)
    body.set_content(body_text, cte="8bit")
    body.add_alternative(body_html, subtype="html", cte="8bit")
    head = b"".join(
        [
            _fold("From", _one_line(sender)),
            b"To: " + _token(TO).encode() + b"\r\n",
            _fold("Subject", _one_line(subject)),
            b"Date: " + _token(DATE).encode() + b"\r\n",
            b"Message-ID: " + _token(MESSAGE_ID).encode() + b"\r\n",
            _fold("List-Id", _one_line(list_id)),
            b"List-Unsubscribe: " + _token(LIST_UNSUBSCRIBE).encode() + b"\r\n",
            _fold("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            _fold("Auto-Submitted", "auto-generated"),
            _fold("Precedence", "list"),
        ]
    )
    raw = head + body.as_bytes(policy=HEADER_POLICY)
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    stuffed = raw.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    pieces = _SLOT.split(stuffed)
    segments, slots = tuple(pieces[0::2]), tuple(p.decode() for p in pieces[1::2])
    at_line_start = tuple(seg.endswith(b"\n") for seg in segments[:-1])
    return MessageTemplate(
        mail_from=parseaddr(sender)[1],
        segments=segments,
        slots=slots,
        at_line_start=at_line_start,
        eight_bit=eight_bit,
        sender=sender,
        subject=subject,
        html=html,
        text=text,
        list_id=list_id,
        unsubscribe_mailto=unsubscribe_mailto,
        anonymous=anonymous,
    )
