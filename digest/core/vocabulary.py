"""The words the domain is spoken in: the states a subscriber, a copy, a send, a mail and
a webhook event go through, and the kinds of sources and sends. The database stores these
values as they are written here."""

from __future__ import annotations

import enum
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # suppressed after bounces: never contacted again


# Never mailed again, whatever an admin or an import says, until the person signs up again.
SUPPRESSED = frozenset({SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED})


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SendKind(enum.StrEnum):
    NOW = "now"  # an admin's `send --now`: everyone confirmed (or one), whatever the schedule
    DUE = "due"  # a scheduled dispatch: those whose local slot has come


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # planned, not yet handed to a transport
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    # A temporary failure (4xx, no connection, a timeout): tried again at next_attempt_at,
    # until the retry window since the copy was planned is over.
    DEFERRED = "deferred"
    FAILED = "failed"  # a permanent answer, or the retry window is over; not retried
    SKIPPED = "skipped"  # the subscriber left between planning and sending
    BOUNCED = "bounced"  # refused for good by the recipient's server (5xx, or a DSN)
    CANCELLED = "cancelled"  # its send was cancelled before it went out


# Copies still on their way: planned, being sent, or waiting for their next attempt.
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)
# Copies that reached their end.
SETTLED = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.CANCELLED,
)


class SendStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # stopped by the error budget (or by hand) until `digest sends resume`
    CANCELLED = "cancelled"


class MailKind(enum.StrEnum):
    """Transactional mails: one person, one event; not digest editions."""

    CONFIRM = "confirm"  # please confirm your subscription
    WELCOME = "welcome"  # you are subscribed
    PREFERENCES = "preferences"  # a known address signed up again: here is your link


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class WebhookEventStatus(enum.StrEnum):
    PENDING = "pending"  # not delivered yet: due at next_attempt_at
    SENDING = "sending"  # claimed by a sender
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # out of attempts


# What a source is: a feed, one article page, or a page listing articles (a section).
SOURCE_KINDS = ("feed", "article", "section")
# When an entry's own page is fetched for its full text: for teasers, always, or never.
FULL_TEXT_MODES = ("auto", "always", "never")
