"""Subscribers: adding with validated addresses, signed link tokens, unsubscribing, and the
life of a subscription a person runs themselves: sign up, confirm, change preferences,
leave, come back.

Suppression: an address that unsubscribed or bounced is never mailed again, whatever an
admin or an import says, until its owner signs up again and confirms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import AlreadyExists, InvalidInput, NotFound
from digest.links import ConfirmToken, read_token
from digest.models import (
    SUPPRESSED,
    Frequency,
    MailKind,
    Source,
    Subscriber,
    SubscriberStatus,
    Topic,
    source_topics,
    utcnow,
)
from digest.sources import normalize_topics, topics_named

NAME_MAX_LENGTH = 200


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
    existing = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if existing is not None and existing.status in SUPPRESSED:
        raise AlreadyExists(suppressed_reason(existing))
    if existing is not None:
        raise AlreadyExists(f"{address} is already a subscriber")
    now = now or utcnow()
    subscriber = Subscriber(
        email=address,
        name=clean_name(name),
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


def clean_name(name: str | None) -> str | None:
    return " ".join(name.split())[:NAME_MAX_LENGTH] or None if name else None


def suppressed_reason(sub: Subscriber) -> str:
    """Why an admin cannot add (or import) this address again."""
    what = "bounced" if sub.status == SubscriberStatus.BOUNCED else "unsubscribed"
    when = f" on {sub.unsubscribed_at:%Y-%m-%d}" if sub.unsubscribed_at else ""
    return (
        f"{sub.email} {what}{when} and is suppressed: only its owner can subscribe it again, "
        "by signing up"
    )


# --- preferences, as a person gives them in a form ----------------------------------------


@dataclass
class Preferences:
    """What a person chooses on the sign-up and preferences forms."""

    name: str | None = None
    frequency: str = Frequency.DAILY.value
    hour: int = 7
    timezone: str = "UTC"
    topics: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, sub: Subscriber) -> Preferences:
        return cls(
            name=sub.name,
            frequency=str(sub.frequency),
            hour=sub.hour,
            timezone=sub.timezone,
            topics=sub.topic_names,
        )


class FieldErrors(InvalidInput):
    """Bad values in a form, by field name: the page shows each message at its field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def known_topics(session: Session) -> list[str]:
    """The topics a person can choose: those of the sources."""
    return list(
        session.scalars(
            select(Topic.name)
            .join(source_topics, source_topics.c.topic_id == Topic.id)
            .join(Source, Source.id == source_topics.c.source_id)
            .distinct()
            .order_by(Topic.name)
        )
    )


def _one(form: Mapping[str, Any], key: str, default: str = "") -> str:
    value = form.get(key, default)
    if isinstance(value, list | tuple):
        value = value[-1] if value else default
    return str(value).strip()


def preferences_from_form(
    form: Mapping[str, Any], topics: Sequence[str], choosable: Sequence[str]
) -> Preferences:
    """Preferences from form fields (name, frequency, hour, timezone, topics), or
    FieldErrors naming each bad field and why."""
    errors: dict[str, str] = {}
    prefs = Preferences(name=clean_name(_one(form, "name")))
    frequency = _one(form, "frequency", Frequency.DAILY.value).lower()
    if frequency in set(Frequency):
        prefs.frequency = frequency
    else:
        errors["frequency"] = f"choose one of {', '.join(Frequency)}"
    hour = _one(form, "hour", "7")
    if hour.isdigit() and 0 <= int(hour) <= 23:
        prefs.hour = int(hour)
    else:
        errors["hour"] = f"the hour is a whole number from 0 to 23, not {hour!r}"
    timezone = _one(form, "timezone", "UTC") or "UTC"
    try:
        prefs.timezone = check_timezone(timezone)
    except InvalidInput as exc:
        errors["timezone"] = str(exc)
    wanted = normalize_topics([str(t) for t in topics])
    unknown = [t for t in wanted if t not in set(choosable)]
    if unknown:
        errors["topics"] = f"no such topic: {', '.join(unknown)}"
    prefs.topics = wanted
    if errors:
        raise FieldErrors(errors)
    return prefs


def apply_preferences(session: Session, sub: Subscriber, prefs: Preferences) -> None:
    sub.name = clean_name(prefs.name)
    sub.frequency = Frequency(prefs.frequency)
    sub.hour = prefs.hour
    sub.timezone = check_timezone(prefs.timezone)
    sub.topics = topics_named(session, prefs.topics)


def update_preferences(session: Session, subscriber_id: int, prefs: Preferences) -> Subscriber:
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFound("this subscription no longer exists")
    apply_preferences(session, sub, prefs)
    return sub


# --- sign-up and confirmation ---------------------------------------------------------------


@dataclass(frozen=True)
class SignUp:
    """What a sign-up did: which subscriber, and which mail they are sent."""

    subscriber_id: int
    mail: MailKind  # CONFIRM: new, pending or suppressed; PREFERENCES: already confirmed


def sign_up(
    session: Session, email: str, prefs: Preferences, *, now: datetime | None = None
) -> SignUp:
    """A person's own sign-up. A new address becomes a pending row; a known one never gets a
    second row: pending or suppressed, it is mailed a new confirmation link (which carries
    these preferences); confirmed, it stays confirmed and is mailed its preferences link."""
    address = normalize_email(email)
    sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if sub is None:
        sub = Subscriber(email=address, status=SubscriberStatus.PENDING, created_at=now or utcnow())
        apply_preferences(session, sub, prefs)
        session.add(sub)
        session.flush()
        return SignUp(sub.id, MailKind.CONFIRM)
    if sub.status == SubscriberStatus.CONFIRMED:
        return SignUp(sub.id, MailKind.PREFERENCES)
    return SignUp(sub.id, MailKind.CONFIRM)


def confirm(
    session: Session, token: ConfirmToken, *, now: datetime | None = None
) -> tuple[Subscriber, bool]:
    """Confirm the subscription a genuine, unexpired link was made for, with the preferences
    it carries. Returns the subscriber and whether this confirmed it (False: it already was).

    A suppressed address comes back only with a link made after it left: an old link from
    before the unsubscribe does not undo it.
    """
    sub = session.get(Subscriber, token.subscriber_id)
    if sub is None:
        raise NotFound("this subscription no longer exists; sign up again")
    if sub.status == SubscriberStatus.CONFIRMED:
        return sub, False
    left = sub.unsubscribed_at
    if (
        sub.status in SUPPRESSED
        and left is not None
        and token.issued_at < left.replace(microsecond=0)
    ):
        raise InvalidInput("this link is older than your unsubscribe; sign up again to come back")
    try:
        prefs = Preferences(**token.preferences) if token.preferences else Preferences.of(sub)
        apply_preferences(session, sub, prefs)
    except (TypeError, InvalidInput):
        raise InvalidInput("this link is invalid or has been tampered with") from None
    sub.status = SubscriberStatus.CONFIRMED
    sub.confirmed_at = now or utcnow()
    sub.unsubscribed_at = None
    return sub, True
