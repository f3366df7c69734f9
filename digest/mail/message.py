"""One subscriber's digest as a multipart/alternative message with list headers (RFC 2369, 8058)."""

from __future__ import annotations

import base64
import hmac
import re
import unicodedata
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from digest.errors import InvalidInput

# Folding a long Subject at 78 columns makes Python break right after "Subject:", which
# readers show as a leading space; header lines up to 998 octets are valid (RFC 5322
# 2.1.1). Bodies are still encoded under SMTP's 78 (quoted-printable wants 76).
HEADER_POLICY = SMTP.clone(max_line_length=998)


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def message_id_for(
    edition_id: int, subscriber_id: int, domain: str, secret: str | None = None
) -> str:
    """Stable per (edition, subscriber): a retried send carries the same Message-ID. With
    the secret it ends in a keyed tag, so nobody can guess the Message-ID of a copy sent
    to someone else (a forged DSN quoting one cannot suppress that subscriber)."""
    if secret is None:
        return f"<digest.e{edition_id}.s{subscriber_id}@{domain}>"
    mac = hmac.new(secret.encode(), f"message-id:{edition_id}:{subscriber_id}".encode(), "sha256")
    tag = base64.b32encode(mac.digest()[:10]).decode().lower()
    return f"<digest.e{edition_id}.s{subscriber_id}.{tag}@{domain}>"


_ATEXT_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


def list_id_for(list_name: str, base_url: str) -> str:
    """The List-Id value (RFC 2919): the list's name as a phrase, then `<label.host>`.

    The id is what mail filters match, so it is plain ASCII whatever the name: letters
    and digits (accents dropped), one hyphen between words. The phrase is the name as
    it stands when it is only atoms, a quoted string when it holds specials (a comma, a
    quote), and an RFC 2047 encoded word when it is not ASCII.
    """
    host = urlsplit(base_url).hostname or "localhost"
    name = _one_line(list_name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    label = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if not name:
        phrase = ""
    elif not name.isascii():
        phrase = Header(name, "utf-8").encode(maxlinelen=998)
    elif _ATEXT_PHRASE.fullmatch(name):
        phrase = name
    else:
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    list_id = f"<{label or 'digest'}.{host}>"
    return f"{phrase} {list_id}" if phrase else list_id


def _one_line(value: str) -> str:
    # Feed titles end up in Subject: a newline there would let a feed inject headers.
    return " ".join(value.split())


def build_message(
    *,
    sender: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    list_id: str,
    unsubscribe_url: str,
    date: datetime,
    unsubscribe_mailto: str | None = None,
) -> EmailMessage:
    msg = _addressed(sender, to_address, to_name, subject, message_id, date)
    msg["List-Id"] = _one_line(list_id)
    msg["List-Unsubscribe"] = list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "list"
    return _with_bodies(msg, text, html)


def list_unsubscribe(url: str, mailto: str | None) -> str:
    """The List-Unsubscribe value (RFC 2369): the one-click HTTPS link first (RFC 8058 uses
    it), then the mailto: one where the list has an address for it."""
    entries = [f"<{url}>"]
    if mailto:
        entries.append(f"<mailto:{_one_line(mailto)}?subject=unsubscribe>")
    return ", ".join(entries)


def build_transactional_message(
    *,
    sender: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """A mail to one person about their subscription (confirm, welcome): no list headers."""
    msg = _addressed(sender, to_address, to_name, subject, message_id, date)
    msg["Auto-Submitted"] = "auto-generated"
    return _with_bodies(msg, text, html)


def _addressed(
    sender: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _one_line(sender)
    try:
        local, _, domain = to_address.rpartition("@")
        msg["To"] = Address(display_name=_one_line(to_name or ""), username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise InvalidInput(f"cannot address a message to {to_address!r}: {exc}") from None
    msg["Subject"] = _one_line(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    return msg


def _with_bodies(msg: EmailMessage, text: str, html: str) -> EmailMessage:
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    msg.policy = HEADER_POLICY
    return msg
