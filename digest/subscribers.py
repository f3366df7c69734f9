"""Subscribers: adding with validated addresses, signed link tokens, unsubscribing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import AlreadyExists, InvalidInput, NotFound
from digest.links import read_token
from digest.models import Frequency, Subscriber, SubscriberStatus, utcnow
from digest.sources import topics_named


def normalize_email(address: str) -> str:
    """The canonical form of an address, or InvalidInput saying why it is not one."""
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{address!r} is not a valid email address: {exc}") from None
    # An IDN domain is kept in its ASCII (punycode) form: a Unicode domain cannot go in a
    # To header or RCPT TO without SMTPUTF8, and Python would emit an encoded-word there.
    return (result.ascii_email or result.normalized).lower()


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (use Area/City, e.g. Europe/Paris)"
        ) from None
    return name


def add_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    confirmed: bool = False,
    frequency: str = Frequency.DAILY,
    hour: int = 7,
    timezone: str = "UTC",
    topics: list[str] | None = None,
    now: datetime | None = None,
) -> Subscriber:
    address = normalize_email(email)
    if frequency not in set(Frequency):
        raise InvalidInput(f"frequency must be one of {', '.join(Frequency)}, not {frequency!r}")
    if not 0 <= hour <= 23:
        raise InvalidInput(f"hour must be between 0 and 23, not {hour}")
    if session.scalar(select(Subscriber).where(Subscriber.email == address)):
        raise AlreadyExists(f"{address} is already a subscriber")
    now = now or utcnow()
    subscriber = Subscriber(
        email=address,
        name=" ".join(name.split())[:200] if name else None,
        status=SubscriberStatus.CONFIRMED if confirmed else SubscriberStatus.PENDING,
        confirmed_at=now if confirmed else None,
        frequency=frequency,
        hour=hour,
        timezone=check_timezone(timezone),
        topics=topics_named(session, topics or []),
        created_at=now,
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def list_subscribers(session: Session) -> list[Subscriber]:
    return list(session.scalars(select(Subscriber).order_by(Subscriber.id)))


def remove_subscriber(session: Session, email: str) -> None:
    """Forget a subscriber entirely, with their delivery history."""
    session.delete(find_subscriber(session, email))


def find_subscriber(session: Session, email: str) -> Subscriber:
    address = normalize_email(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        raise NotFound(f"no subscriber {email}")
    return subscriber


def subscriber_for_token(session: Session, secret: str, purpose: str, token: str) -> Subscriber:
    """The subscriber a link was made for, or InvalidInput/NotFound saying why not."""
    subscriber = session.get(Subscriber, read_token(secret, purpose, token))
    if subscriber is None:
        raise NotFound("this subscription no longer exists")
    return subscriber


def unsubscribe(session: Session, subscriber_id: int, *, now: datetime | None = None) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("this subscription no longer exists")
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = now or utcnow()
    return subscriber
