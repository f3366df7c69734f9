"""A test send: the next digest as a subscriber would get it, mailed to any address.

It uses up nothing: no edition, no ledger row, no change to what is new for anyone. The
copy is made by the same preview and message builder as a real one (its links are the
subscriber's, or inert ones for a copy of the latest articles), with "[Test]" before the
subject, and handed straight to the configured transport.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from digest import wiring
from digest.config import Settings
from digest.core.addresses import normalize_email
from digest.core.links import subscriber_links
from digest.core.vocabulary import utcnow
from digest.errors import DigestError, InvalidField, InvalidInput
from digest.mail import Transport
from digest.mail.message import build_message, domain_of, list_id_for
from digest.pipeline.reports import preview

TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class TestSend:
    to: str
    subject: str
    as_subscriber: str | None
    latest: bool  # the latest articles were sent: the subscriber had nothing new
    message_id: str


def send_test(
    settings: Settings,
    to: str,
    *,
    as_subscriber: str | None = None,
    transport: Callable[[], Transport] | None = None,
) -> TestSend:
    """Mail the digest `as_subscriber` would get next (else the latest articles) to `to`."""
    try:
        address = normalize_email(to)
    except InvalidInput as exc:
        raise InvalidField("email", str(exc)) from None
    result = None
    if as_subscriber:
        try:
            result = preview(settings, email=as_subscriber)
        except DigestError as exc:
            raise InvalidField("as", str(exc)) from None
    latest = result is None
    if result is None:
        result = preview(settings, email=None)
    if result is None:
        raise InvalidInput("there are no articles yet: gather first")
    subject, html, text = result
    links = subscriber_links(settings.base_url, settings.secret_key, 0)
    message_id = f"<digest.test.{secrets.token_hex(8)}@{domain_of(settings.from_address)}>"
    msg = build_message(
        sender=settings.from_address,
        to_address=address,
        to_name=None,
        subject=TEST_PREFIX + subject,
        html=html,
        text=text,
        message_id=message_id,
        list_id=list_id_for(settings.list_name, settings.base_url),
        unsubscribe_url=links.unsubscribe,
        date=utcnow(),
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )
    make = transport or (lambda: wiring.transport_for(settings))
    sender = make()
    try:
        sender.send(msg)
    finally:
        sender.close()
    return TestSend(address, TEST_PREFIX + subject, as_subscriber, latest, message_id)


# A test send handed to a worker comes back as plain data (a queue carries JSON): the
# TestSend's fields, or the error to raise again on this side.


def answer(settings: Settings, to: str, as_subscriber: str | None) -> dict[str, Any]:
    """send_test as plain data: what a worker hands back."""
    try:
        return asdict(send_test(settings, to, as_subscriber=as_subscriber))
    except DigestError as exc:
        field = exc.field if isinstance(exc, InvalidField) else None
        return {
            "error": exc.reason if isinstance(exc, InvalidField) else str(exc),
            "field": field,
            "input": isinstance(exc, InvalidInput),
        }


def from_answer(answered: dict[str, Any]) -> TestSend:
    """The TestSend a worker answered, or its error raised as the same kind."""
    if "error" not in answered:
        return TestSend(**answered)
    if answered.get("field"):
        raise InvalidField(answered["field"], answered["error"])
    if answered.get("input"):
        raise InvalidInput(answered["error"])
    raise DigestError(answered["error"])
