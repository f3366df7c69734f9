"""Signed links a subscriber follows from a digest or a web page: one shape for mail and web.

A link is ``{base_url}/{purpose}/{token}``; the token signs the subscriber id with the
purpose in the salt, so an unsubscribe token cannot be replayed as another kind. Unsubscribe
links must keep working in old mail (RFC 8058 clients may POST long after delivery), so
these tokens do not expire. A confirmation link does (`DIGEST_CONFIRM_MAX_AGE`): its token
is timed, and carries the preferences the person asked for, so confirming applies what
they chose then, whoever signed the address up since.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from digest.errors import ExpiredLink, InvalidInput

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
CONFIRM = "confirm"


@functools.lru_cache(maxsize=32)
def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    # One per secret and purpose: a send makes two tokens per copy.
    return URLSafeSerializer(secret, salt=f"digest.{purpose}")


def make_token(secret: str, purpose: str, subscriber_id: int) -> str:
    return _serializer(secret, purpose).dumps(subscriber_id)


def read_token(secret: str, purpose: str, token: str) -> int:
    """The subscriber id a token was made for, or InvalidInput when it is not genuine."""
    try:
        value = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise InvalidInput("this link is invalid or has been tampered with") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("this link is invalid or has been tampered with")
    return value


def link_path(secret: str, purpose: str, subscriber_id: int) -> str:
    """The site-relative path of a subscriber's link, as the web pages use it."""
    return f"/{purpose}/{make_token(secret, purpose, subscriber_id)}"


def link_url(base_url: str, secret: str, purpose: str, subscriber_id: int) -> str:
    """The absolute URL of a subscriber's link, as a digest carries it."""
    return base_url.rstrip("/") + link_path(secret, purpose, subscriber_id)


@dataclass(frozen=True)
class SubscriberLinks:
    unsubscribe: str
    preferences: str


def subscriber_links(base_url: str, secret: str, subscriber_id: int) -> SubscriberLinks:
    """Every link a digest carries for one subscriber."""
    return SubscriberLinks(
        unsubscribe=link_url(base_url, secret, UNSUBSCRIBE, subscriber_id),
        preferences=link_url(base_url, secret, PREFERENCES, subscriber_id),
    )


def _signer_stamping(issued_at: datetime) -> type[TimestampSigner]:
    """A timestamp signer that stamps a given time instead of the clock's."""
    stamp = int(issued_at.timestamp())

    class StampedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return StampedSigner


@dataclass(frozen=True)
class ConfirmToken:
    subscriber_id: int
    preferences: dict[str, Any]
    issued_at: datetime


def make_confirm_token(
    secret: str,
    subscriber_id: int,
    preferences: dict[str, Any] | None = None,
    *,
    issued_at: datetime | None = None,
) -> str:
    """A timed token for /confirm/<token>; `issued_at` is for tests of expiry."""
    payload = {"s": subscriber_id, "p": preferences or {}}
    salt = f"digest.{CONFIRM}"
    if issued_at is None:
        return URLSafeTimedSerializer(secret, salt=salt).dumps(payload)
    return URLSafeTimedSerializer(secret, salt=salt, signer=_signer_stamping(issued_at)).dumps(
        payload
    )


def read_confirm_token(secret: str, token: str, max_age: int) -> ConfirmToken:
    """What a confirmation link was made for; ExpiredLink when too old, InvalidInput when
    it is not genuine."""
    serializer = URLSafeTimedSerializer(secret, salt=f"digest.{CONFIRM}")
    try:
        payload, stamp = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise ExpiredLink("this confirmation link has expired") from None
    except BadSignature:
        raise InvalidInput("this link is invalid or has been tampered with") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("s"), int)
        or isinstance(payload.get("s"), bool)
        or not isinstance(payload.get("p"), dict)
    ):
        raise InvalidInput("this link is invalid or has been tampered with")
    return ConfirmToken(payload["s"], payload["p"], stamp.astimezone(UTC))


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/{CONFIRM}/{token}"
