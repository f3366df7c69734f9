"""Subscribers: adding with validated addresses and schedules, signed link tokens,
unsubscribing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import AlreadyExists, InvalidField, InvalidInput, NotFound
from digest.links import read_token
from digest.models import Frequency, Subscriber, SubscriberStatus, utcnow
from digest.schedule import LAST_DAY, MAX_DAY_OF_MONTH, MONDAY, WEEKDAYS
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


@dataclass(frozen=True)
class Schedule:
    """A checked schedule, in the form the subscribers table stores it."""

    frequency: Frequency
    weekday: int  # 0 Monday ... 6 Sunday
    day_of_month: int  # 1-28, or LAST_DAY
    hour: int
    timezone: str

    @property
    def weekday_name(self) -> str:
        return WEEKDAYS[self.weekday]

    @property
    def day_of_month_text(self) -> str:
        return day_of_month_text(self.day_of_month)


def day_of_month_text(day: int) -> str:
    """How a stored day of the month is written in forms, CSV and JSON: "1"-"28" or "last"."""
    return "last" if day == LAST_DAY else str(day)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_schedule(
    *,
    frequency: str | None = None,
    weekday: str | int | None = None,
    day_of_month: str | int | None = None,
    hour: str | int | None = None,
    timezone: str | None = None,
) -> Schedule:
    """Check a schedule as typed in a form, a CSV row or on the command line.

    Blank or missing values take the defaults (daily, Monday, the 1st, 7 o'clock, UTC).
    `weekday` is a name ("monday"...) or 0-6; `day_of_month` is 1-28 or "last".
    A bad value raises InvalidField naming the field.
    """
    freq_text = "daily" if _blank(frequency) else str(frequency).strip()
    try:
        freq = Frequency(freq_text)
    except ValueError:
        raise InvalidField(
            "frequency", f"must be one of {', '.join(Frequency)}, not {frequency!r}"
        ) from None
    return Schedule(
        frequency=freq,
        weekday=_check_weekday(weekday),
        day_of_month=_check_day_of_month(day_of_month),
        hour=_check_hour(hour),
        timezone=_check_zone(timezone),
    )


def _check_weekday(value: str | int | None) -> int:
    if _blank(value):
        return MONDAY
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
    elif isinstance(value, str) and value.strip() in WEEKDAYS:
        return WEEKDAYS.index(value.strip())
    raise InvalidField("weekday", f"must be one of {', '.join(WEEKDAYS)}, not {value!r}")


def _check_day_of_month(value: str | int | None) -> int:
    if _blank(value):
        return 1
    if isinstance(value, str) and value.strip().lower() == "last":
        return LAST_DAY
    try:
        day = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        day = 0
    if 1 <= day <= MAX_DAY_OF_MONTH:
        return day
    raise InvalidField("day_of_month", f"must be 1-{MAX_DAY_OF_MONTH} or last, not {value!r}")


def _check_hour(value: str | int | None) -> int:
    if _blank(value):
        return 7
    try:
        hour = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        hour = -1
    if 0 <= hour <= 23:
        return hour
    raise InvalidField("hour", f"must be a whole number between 0 and 23, not {value!r}")


def _check_zone(value: str | None) -> str:
    if _blank(value):
        return "UTC"
    try:
        return check_timezone(str(value).strip())
    except InvalidInput as exc:
        raise InvalidField("timezone", str(exc)) from None


def apply_schedule(subscriber: Subscriber, schedule: Schedule) -> None:
    """Store a checked schedule on a subscriber (sign-up, preferences, import)."""
    subscriber.frequency = schedule.frequency
    subscriber.weekday = schedule.weekday
    subscriber.day_of_month = schedule.day_of_month
    subscriber.hour = schedule.hour
    subscriber.timezone = schedule.timezone


def clean_name(name: str | None) -> str | None:
    return " ".join(name.split())[:200] or None if name else None


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
) -> Subscriber:
    address = normalize_email(email)
    schedule = check_schedule(
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        hour=hour,
        timezone=timezone,
    )
    if session.scalar(select(Subscriber).where(Subscriber.email == address)):
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
