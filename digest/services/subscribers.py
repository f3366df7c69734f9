"""Subscribers: adding with validated addresses and schedules, signed link tokens,
unsubscribing, and the life of a subscription a person runs themselves: sign up, confirm,
change preferences, leave, come back.

Suppression: an address that unsubscribed or bounced is never mailed again, whatever an
admin or an import says, until its owner signs up again and confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.core import events
from digest.core.addresses import normalize_email
from digest.core.links import ConfirmToken, read_token
from digest.core.preferences import Preferences, clean_name
from digest.core.schedule import (
    MONDAY,
    Schedule,
    check_schedule,
)
from digest.core.vocabulary import SUPPRESSED, Frequency, MailKind, SubscriberStatus, utcnow
from digest.errors import AlreadyExists, InvalidField, InvalidInput, NotFound
from digest.services import webhooks
from digest.store import subscribers as store_subscribers
from digest.store.db import Session
from digest.store.models import Subscriber
from digest.store.topics import topics_named, unknown_topics_problem


def apply_schedule(subscriber: Subscriber, schedule: Schedule) -> None:
    """Store a checked schedule on a subscriber (sign-up, preferences, import)."""
    subscriber.frequency = schedule.frequency
    subscriber.weekday = schedule.weekday
    subscriber.day_of_month = schedule.day_of_month
    subscriber.hour = schedule.hour
    subscriber.timezone = schedule.timezone


def add_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    confirmed: bool = False,
    frequency: str = Frequency.DAILY,
    hour: int = 7,
    timezone: str = "UTC",
    weekday: str | int = MONDAY,
    day_of_month: str | int = 1,
    topics: list[str] | None = None,
    now: datetime | None = None,
    new_topics: bool = False,
) -> Subscriber:
    """Add a subscriber. A topic no source has is refused (nothing would reach them
    through it) unless `new_topics` says to create it."""
    address = normalize_email(email)
    schedule = check_schedule(
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        hour=hour,
        timezone=timezone,
    )
    if topics and not new_topics:
        problem = unknown_topics_problem(session, topics)
        if problem:
            raise InvalidField("topics", problem)
    existing = store_subscribers.by_email(session, address)
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
        topics=topics_named(session, topics or []),
        created_at=now,
    )
    apply_schedule(subscriber, schedule)
    return store_subscribers.add(session, subscriber)


def list_subscribers(session: Session) -> list[Subscriber]:
    return store_subscribers.all_subscribers(session)


def remove_subscriber(session: Session, email: str) -> None:
    """Forget a subscriber entirely, with their delivery history."""
    session.delete(find_subscriber(session, email))


def find_subscriber(session: Session, email: str) -> Subscriber:
    address = normalize_email(email)
    subscriber = store_subscribers.by_email(session, address)
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
        webhooks.record_subscriber(session, events.SUBSCRIBER_UNSUBSCRIBED, subscriber)
    return subscriber


def suppressed_reason(sub: Subscriber) -> str:
    """Why an admin cannot add (or import) this address again."""
    bounced = sub.status == SubscriberStatus.BOUNCED
    what = "bounced" if bounced else "unsubscribed"
    at = sub.bounced_at if bounced else sub.unsubscribed_at
    when = f" on {at:%Y-%m-%d}" if at else ""
    return (
        f"{sub.email} {what}{when} and is suppressed: only its owner can subscribe it again, "
        "by signing up"
    )


# --- preferences, as a person gives them in a form ----------------------------------------


def apply_preferences(session: Session, sub: Subscriber, prefs: Preferences) -> None:
    """Store preferences (checked again: they may come from a link) on a subscriber."""
    apply_schedule(sub, prefs.schedule())
    sub.name = clean_name(prefs.name)
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
    sub = store_subscribers.by_email(session, address)
    if sub is None:
        sub = Subscriber(email=address, status=SubscriberStatus.PENDING, created_at=now or utcnow())
        apply_preferences(session, sub, prefs)
        store_subscribers.add(session, sub)
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
    before the unsubscribe or the hard bounce does not undo it (a bounced address comes
    back by signing up again, which mails a new link).
    """
    sub = session.get(Subscriber, token.subscriber_id)
    if sub is None:
        raise NotFound("this subscription no longer exists; sign up again")
    if sub.status == SubscriberStatus.CONFIRMED:
        return sub, False
    if sub.status in SUPPRESSED:
        # Tokens carry whole seconds: a link made in the same second as the suppression is
        # taken as made after it.
        for left, what in ((sub.unsubscribed_at, "unsubscribe"), (sub.bounced_at, "bounce")):
            if left is not None and token.issued_at < left.replace(microsecond=0):
                raise InvalidInput(
                    f"this link is older than your {what}; sign up again to come back"
                )
    try:
        prefs = Preferences(**token.preferences) if token.preferences else Preferences.of(sub)
        apply_preferences(session, sub, prefs)
    except (TypeError, InvalidInput):
        raise InvalidInput("this link is invalid or has been tampered with") from None
    if sub.status == SubscriberStatus.BOUNCED:
        # Back by their own sign-up: the bounces that suppressed the address are behind
        # it, or the first soft bounce would suppress it again at once.
        sub.hard_bounces = sub.soft_bounces = 0
    sub.status = SubscriberStatus.CONFIRMED
    sub.confirmed_at = now or utcnow()
    sub.unsubscribed_at = sub.bounced_at = None
    webhooks.record_subscriber(session, events.SUBSCRIBER_CONFIRMED, sub)
    return sub, True
