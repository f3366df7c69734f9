"""Outgoing webhook events: their names, and the signature a receiver checks.

Receivers check `X-Digest-Signature: sha256=HEX` where HEX is
HMAC-SHA256(secret, f"{X-Digest-Timestamp}.{body}"), and refuse old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from digest.errors import InvalidField

SUBSCRIBER_CONFIRMED = "subscriber.confirmed"


SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"


SUBSCRIBER_BOUNCED = "subscriber.bounced"


SEND_FINISHED = "send.finished"


EVENTS = (SUBSCRIBER_CONFIRMED, SUBSCRIBER_UNSUBSCRIBED, SUBSCRIBER_BOUNCED, SEND_FINISHED)


SIGNATURE_HEADER = "X-Digest-Signature"


TIMESTAMP_HEADER = "X-Digest-Timestamp"


EVENT_HEADER = "X-Digest-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for this body sent at this time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def check_events(events: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
    if not chosen:
        raise InvalidField("events", f"choose at least one of {', '.join(EVENTS)}")
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise InvalidField("events", f"unknown event {unknown[0]!r}; use {', '.join(EVENTS)}")
    return chosen


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidField("url", f"{url!r} is not an http:// or https:// URL")
    if len(url) > 2000:
        raise InvalidField("url", "at most 2000 characters")
    return url
