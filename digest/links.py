"""Signed links a subscriber follows from a digest or a web page: one shape for mail and web.

A link is ``{base_url}/{purpose}/{token}``; the token signs the subscriber id with the
purpose in the salt, so an unsubscribe token cannot be replayed as another kind. Unsubscribe
links must keep working in old mail (RFC 8058 clients may POST long after delivery), so
these tokens do not expire.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from digest.errors import InvalidInput

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"


def make_token(secret: str, purpose: str, subscriber_id: int) -> str:
    return URLSafeSerializer(secret, salt=f"digest.{purpose}").dumps(subscriber_id)


def read_token(secret: str, purpose: str, token: str) -> int:
    """The subscriber id a token was made for, or InvalidInput when it is not genuine."""
    try:
        value = URLSafeSerializer(secret, salt=f"digest.{purpose}").loads(token)
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
