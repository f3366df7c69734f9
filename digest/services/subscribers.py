"""Subscribers: adding with validated addresses and schedules, signed link tokens,
unsubscribing, and the life of a subscription a person runs themselves: sign up, confirm,
change preferences, leave, come back.

Suppression: an address that unsubscribed or bounced is never mailed again, whatever an
admin or an import says, until its owner signs up again and confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from digest.config import Settings
from digest.core import events
from digest.core.addresses import normalize_email
from digest.core.links import (
    PREFERENCES,
    UNSUBSCRIBE,
    ConfirmToken,
    read_confirm_token,
    read_token,
)
from digest.core.preferences import Preferences, clean_name, preferences_from_form
from digest.core.schedule import (
    MONDAY,
    WEEKDAYS,
    Schedule,
    check_schedule,
    day_of_month_text,
)
from digest.core.topics import normalize_topics
from digest.core.vocabulary import SUPPRESSED, Frequency, MailKind, SubscriberStatus, utcnow
from digest.errors import AlreadyExists, FieldErrors, InvalidField, InvalidInput, NotFound
from digest.services import webhooks
from digest.services.paging import clean_filter, page_of
from digest.services.topics import checked_topics
from digest.store import subscribers as store_subscribers
from digest.store.db import Session, session_scope
from digest.store.models import Subscriber
from digest.store.topics import known_topics, topics_named, unknown_topics_problem


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


# --- the use cases of the admin pages, the API and the CLI, each in its own transaction -----

SCHEDULE_KEYS = ("frequency", "weekday", "day_of_month", "hour", "timezone")


def subscriber_row(sub: Subscriber) -> dict[str, Any]:
    """A subscriber as every listing shows it (the API's and `subscribers list --json`'s
    keys)."""
    return {
        "id": sub.id,
        "email": sub.email,
        "name": sub.name,
        "status": str(sub.status),
        "frequency": str(sub.frequency),
        "weekday": WEEKDAYS[sub.weekday],
        "day_of_month": day_of_month_text(sub.day_of_month),
        "hour": sub.hour,
        "timezone": sub.timezone,
        "topics": sub.topic_names,
        "created_at": sub.created_at,
        "confirmed_at": sub.confirmed_at,
        "unsubscribed_at": sub.unsubscribed_at,
        "last_sent_at": sub.last_sent_at,
        "hard_bounces": sub.hard_bounces,
        "soft_bounces": sub.soft_bounces,
    }


def check_status(value: str | None) -> SubscriberStatus | None:
    """A subscriber status as typed (None when not given), or InvalidField("status")."""
    if value is None or value == "":
        return None
    try:
        return SubscriberStatus(value)
    except ValueError:
        raise InvalidField(
            "status", f"must be one of {', '.join(SubscriberStatus)}, not {value!r}"
        ) from None


def subscriber_listing(
    settings: Settings,
    *,
    q: str | None = None,
    status: str | None = None,
    topic: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of subscribers (every one without `limit`), searched by address or name and
    filtered by status and topic: `items`, `total`, `limit`, `offset`."""
    q, status, topic = clean_filter(q), clean_filter(status), clean_filter(topic)
    wanted = check_status(status)
    with session_scope(settings.database_url) as session:
        total, rows = store_subscribers.subscriber_page(
            session,
            q=q,
            status=wanted,
            topic=topic.lower() if topic else None,
            limit=limit,
            offset=offset,
        )
        return page_of(total, [subscriber_row(s) for s in rows], limit, offset)


def _subscriber(session: Session, subscriber_id: int) -> Subscriber:
    sub = store_subscribers.subscriber_by_id(session, subscriber_id)
    if sub is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return sub


def subscriber_details(settings: Settings, subscriber_id: int) -> dict[str, Any]:
    with session_scope(settings.database_url) as session:
        return subscriber_row(_subscriber(session, subscriber_id))


def create_subscriber(settings: Settings, values: Mapping[str, Any]) -> dict[str, Any]:
    """Add a subscriber as `digest subscribers add` does; status pending or confirmed
    (the default). Keys: email, name, status, the schedule's and topics."""
    status = check_status(values.get("status")) or SubscriberStatus.CONFIRMED
    if status not in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
        raise InvalidField("status", "a new subscriber is pending or confirmed")
    try:
        email = normalize_email(str(values.get("email") or ""))
    except InvalidInput as exc:
        raise InvalidField("email", str(exc)) from None
    schedule = check_schedule(**{k: values.get(k) for k in SCHEDULE_KEYS})
    topics = checked_topics(list(values.get("topics") or []))
    with session_scope(settings.database_url) as session:
        sub = add_subscriber(
            session,
            email,
            name=values.get("name"),
            confirmed=status == SubscriberStatus.CONFIRMED,
            frequency=schedule.frequency,
            hour=schedule.hour,
            timezone=schedule.timezone,
            weekday=schedule.weekday,
            day_of_month=schedule.day_of_month,
            topics=topics,
        )
        return subscriber_row(sub)


def change_subscriber(
    settings: Settings, subscriber_id: int, values: Mapping[str, Any]
) -> dict[str, Any]:
    """Change what is given (None leaves it as it is): name, schedule, topics, status.
    Status "unsubscribed" suppresses; nobody but the person brings a suppressed address
    back, so "confirmed" is refused for one."""
    with session_scope(settings.database_url) as session:
        sub = _subscriber(session, subscriber_id)
        if any(values.get(k) is not None for k in SCHEDULE_KEYS):
            current = {
                "frequency": str(sub.frequency),
                "weekday": sub.weekday,
                "day_of_month": sub.day_of_month,
                "hour": sub.hour,
                "timezone": sub.timezone,
            }
            given = {k: v for k, v in values.items() if k in SCHEDULE_KEYS and v is not None}
            apply_schedule(sub, check_schedule(**{**current, **given}))
        if values.get("name") is not None:
            sub.name = clean_name(values["name"])
        if values.get("topics") is not None:
            topics = checked_topics(list(values["topics"]))
            # As when adding one: a topic no source has is refused, but those they hold.
            held = set(sub.topic_names)
            fresh = [t for t in normalize_topics(topics) if t not in held]
            problem = unknown_topics_problem(session, fresh)
            if problem:
                raise InvalidField("topics", problem)
            sub.topics = topics_named(session, topics)
        status = check_status(values.get("status"))
        if status is not None and status != sub.status:
            if status == SubscriberStatus.UNSUBSCRIBED:
                unsubscribe(session, sub.id)
            elif status == SubscriberStatus.CONFIRMED and sub.status == SubscriberStatus.PENDING:
                sub.status = SubscriberStatus.CONFIRMED
                sub.confirmed_at = utcnow()
                webhooks.record_subscriber(session, events.SUBSCRIBER_CONFIRMED, sub)
            else:
                raise InvalidField(
                    "status",
                    f"cannot go from {sub.status} to {status}: only the person can bring a "
                    "suppressed address back, by signing up",
                )
        session.flush()
        return subscriber_row(sub)


def delete_subscriber(settings: Settings, subscriber_id: int) -> None:
    """Forget a subscriber entirely, with their delivery history."""
    with session_scope(settings.database_url) as session:
        session.delete(_subscriber(session, subscriber_id))


# --- the public pages: a person's own sign-up, confirmation, preferences, leaving ----------


class MailQueue(Protocol):
    """Writes a transactional mail's row in the session and answers its id (the pipeline's
    `queue_mail`); whoever called dispatches it once the transaction has committed."""

    def __call__(
        self,
        session: Session,
        settings: Settings,
        sub: Subscriber,
        kind: MailKind,
        *,
        preferences: dict[str, Any] | None = None,
    ) -> int: ...


def sign_up_from_form(
    settings: Settings,
    email: str,
    form: Mapping[str, Any],
    topics: list[str],
    *,
    queue_mail: MailQueue,
) -> tuple[str, int]:
    """The sign-up form sent: the address and the id of the mail to send (a confirmation
    link, or the preferences link of an address already confirmed). FieldErrors names
    every bad field, the address's included; nothing is written then."""
    with session_scope(settings.database_url) as session:
        choosable = known_topics(session)
        errors: dict[str, str] = {}
        address = ""
        try:
            address = normalize_email(email)
        except InvalidInput as exc:
            errors["email"] = str(exc)
        prefs = None
        try:
            prefs = preferences_from_form(form, topics, choosable)
        except FieldErrors as exc:
            errors.update(exc.errors)
        if errors or prefs is None:
            raise FieldErrors(errors)
        outcome = sign_up(session, address, prefs)
        sub = _subscriber(session, outcome.subscriber_id)
        mail_id = queue_mail(session, settings, sub, outcome.mail, preferences=prefs.as_dict())
    return address, mail_id


def resend_confirmation(settings: Settings, address: str, *, queue_mail: MailQueue) -> list[int]:
    """A new confirmation link for a known address (its preferences link if it is already
    confirmed); the mails to send (none for an unknown address)."""
    with session_scope(settings.database_url) as session:
        sub = store_subscribers.subscriber_by_email(session, address)
        if sub is None:
            return []
        prefs = Preferences.of(sub)
        outcome = sign_up(session, address, prefs)
        return [queue_mail(session, settings, sub, outcome.mail, preferences=prefs.as_dict())]


def confirmation_address(settings: Settings, token: str) -> str:
    """The address a confirmation link is for (nothing changes: GET never confirms)."""
    found = read_confirm_token(settings.secret_key, token, settings.confirm_max_age)
    with session_scope(settings.database_url) as session:
        sub = store_subscribers.subscriber_by_id(session, found.subscriber_id)
        if sub is None:
            raise InvalidInput("this subscription no longer exists; sign up again")
        return sub.email


@dataclass(frozen=True)
class Confirmed:
    subscriber_id: int
    email: str
    mail_ids: list[int]  # the welcome, when this confirmed it


def confirm_from_link(settings: Settings, token: str, *, queue_mail: MailQueue) -> Confirmed:
    """Confirm the subscription of a confirmation link, welcoming a new subscriber."""
    found = read_confirm_token(settings.secret_key, token, settings.confirm_max_age)
    with session_scope(settings.database_url) as session:
        sub, newly = confirm(session, found)
        mail_ids = [queue_mail(session, settings, sub, MailKind.WELCOME)] if newly else []
        return Confirmed(sub.id, sub.email, mail_ids)


@dataclass(frozen=True)
class PreferencesPage:
    """What the preferences page shows a person: who, their choices, the topics to choose
    from (the sources', and their own), and what was wrong with what they sent."""

    subscriber_id: int
    email: str
    status: SubscriberStatus
    values: dict[str, Any]
    topics: list[str]
    errors: dict[str, str] = field(default_factory=dict)


def _preferences_page(
    session: Session, sub: Subscriber, errors: dict[str, str] | None = None
) -> PreferencesPage:
    choosable = sorted(set(known_topics(session)) | set(sub.topic_names))
    return PreferencesPage(
        sub.id, sub.email, sub.status, Preferences.of(sub).as_dict(), choosable, errors or {}
    )


def preferences_for_link(settings: Settings, token: str) -> PreferencesPage:
    with session_scope(settings.database_url) as session:
        sub = subscriber_for_token(session, settings.secret_key, PREFERENCES, token)
        return _preferences_page(session, sub)


def save_preferences_from_form(
    settings: Settings, token: str, form: Mapping[str, Any], topics: list[str]
) -> PreferencesPage:
    """The preferences form sent: saved, or the page with `errors` (nothing saved)."""
    with session_scope(settings.database_url) as session:
        sub = subscriber_for_token(session, settings.secret_key, PREFERENCES, token)
        choosable = sorted(set(known_topics(session)) | set(sub.topic_names))
        try:
            prefs = preferences_from_form(form, topics, choosable)
        except FieldErrors as exc:
            return _preferences_page(session, sub, exc.errors)
        update_preferences(session, sub.id, prefs)
        session.flush()
        return _preferences_page(session, sub)


def unsubscribe_link_state(settings: Settings, token: str) -> tuple[str, SubscriberStatus]:
    """The address and status of an unsubscribe link's subscriber (nothing changes)."""
    with session_scope(settings.database_url) as session:
        sub = subscriber_for_token(session, settings.secret_key, UNSUBSCRIBE, token)
        return sub.email, sub.status


def unsubscribe_by_link(settings: Settings, token: str) -> str:
    """Unsubscribe the subscriber of an unsubscribe link; their address."""
    with session_scope(settings.database_url) as session:
        sub = subscriber_for_token(session, settings.secret_key, UNSUBSCRIBE, token)
        return unsubscribe(session, sub.id).email


def new_subscriber(
    settings: Settings,
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
    new_topics: bool = False,
) -> dict[str, Any]:
    """`digest subscribers add`: `add_subscriber` in a transaction of its own, refused in
    its words (unlike `create_subscriber`); the subscriber as listings show them."""
    with session_scope(settings.database_url) as session:
        sub = add_subscriber(
            session,
            email,
            name=name,
            confirmed=confirmed,
            frequency=frequency,
            hour=hour,
            timezone=timezone,
            weekday=weekday,
            day_of_month=day_of_month,
            topics=topics,
            new_topics=new_topics,
        )
        return subscriber_row(sub)
