"""Read delivery status notifications (RFC 3464) with the standard `email` package.

A DSN is a `multipart/report; report-type=delivery-status` message: a human part, a
`message/delivery-status` part (one block of per-message fields, then one block per
recipient with Action, Status, Final-Recipient, Diagnostic-Code), and usually the
returned message or its headers (`message/rfc822`, `text/rfc822-headers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, message_from_string
from email.message import Message
from email.policy import default
from email.utils import collapse_rfc2231_value

from digest.errors import InvalidInput

# Headers where the address the DSN was sent to can show up (the VERP return path).
RECIPIENT_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True)
class RecipientReport:
    recipient: str  # the address in Final-Recipient (or Original-Recipient)
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # e.g. 5.1.1
    diagnostic: str

    @property
    def hard(self) -> bool:
        return self.status.startswith("5")

    @property
    def is_bounce(self) -> bool:
        """A copy that did not arrive: failed, with a 4.x.x or 5.x.x status."""
        return self.action == "failed" and self.status[:1] in ("4", "5")


@dataclass(frozen=True)
class Dsn:
    recipients: tuple[RecipientReport, ...]
    addressed_to: tuple[str, ...]  # where the DSN went: the VERP address, if any
    original_message_id: str | None  # from the returned message or its headers


def _address(value: str | None) -> str:
    # "rfc822; ana@example.org" -> "ana@example.org"
    if not value:
        return ""
    _, _, address = str(value).partition(";")
    return (address or str(value)).strip().strip("<>")


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    # Some senders label it text/plain inside: parse the blocks by hand.
    text = payload if isinstance(payload, str) else ""
    return [message_from_string(block.strip() + "\n") for block in re.split(r"\r?\n\r?\n", text)]


def _returned_message_id(msg: Message) -> str | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
        elif ctype == "text/rfc822-headers":
            raw = part.get_payload(decode=True)  # bytes, for a part that is not multipart
            headers = message_from_bytes(
                raw.lstrip() if isinstance(raw, bytes) else b"", policy=default
            )
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    return None


def parse_dsn(data: bytes) -> Dsn:
    """The recipients a DSN reports on; InvalidInput when the message is not a DSN."""
    if not data.strip():
        raise InvalidInput("the message is empty")
    msg = message_from_bytes(data, policy=default)
    if msg.get_content_type() != "multipart/report" or (
        collapse_rfc2231_value(msg.get_param("report-type") or "").lower() != "delivery-status"
    ):
        found = msg.get_content_type()
        raise InvalidInput(
            "not a delivery status notification: expected multipart/report; "
            f"report-type=delivery-status, got {found}"
        )
    status_part = next(
        (p for p in msg.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        raise InvalidInput("the report has no message/delivery-status part")
    reports = []
    for block in _blocks(status_part)[1:]:  # the first block is about the message
        recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        status = str(block.get("Status") or "").strip().split()[0:1]
        code = status[0] if status else ""
        if not recipient or not _STATUS.match(code):
            continue
        reports.append(
            RecipientReport(
                recipient=recipient,
                action=str(block.get("Action") or "").strip().lower(),
                status=code,
                diagnostic=" ".join(str(block.get("Diagnostic-Code") or "").split()),
            )
        )
    if not reports:
        raise InvalidInput("the report names no recipient with an Action and a Status")
    addressed = tuple(str(v) for h in RECIPIENT_HEADERS for v in msg.get_all(h, []))
    return Dsn(tuple(reports), addressed, _returned_message_id(msg))
