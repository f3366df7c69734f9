"""Who is due a digest at a given moment: subscriber preferences and a clock in, ids out.

A subscriber's digest falls due at a *slot*: their local hour each day (daily), on their
weekday each week (weekly), or on their day of the month (monthly: 1-28, or the last day
of each month). They are due when the newest slot at or before now is later than `since`:
the last time they were sent a digest, or the last time a scheduled send found them due
with nothing new (that slot is used up: they wait for the next one instead of being
mailed when the next article arrives), or when the subscription started.

Downtime needs no special case: only the *newest* slot counts, so a subscriber whose
slots passed while nothing ran is due once when something runs again, not once per slot.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.core.vocabulary import Frequency
from digest.errors import InvalidField, InvalidInput

MONDAY = 0
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# `Subscriber.day_of_month` stores 1-28, or LAST_DAY for the last day of each month.
LAST_DAY = -1
MAX_DAY_OF_MONTH = 28


@dataclass(frozen=True)
class ScheduleInfo:
    subscriber_id: int
    frequency: str  # "daily", "weekly" or "monthly"
    hour: int
    timezone: str
    since: datetime  # see the module docstring
    weekday: int = MONDAY  # weekly: 0 Monday ... 6 Sunday
    day_of_month: int = 1  # monthly: 1-28, or LAST_DAY


def since(
    last_sent_at: datetime | None,
    confirmed_at: datetime | None,
    created_at: datetime,
    slot_checked_at: datetime | None = None,
) -> datetime:
    """Where a subscriber's schedule counts from: the later of their last digest and the
    last slot found with nothing new for them; else their confirmation (a first digest
    falls due at the first slot after they confirmed), else sign-up."""
    done = [t for t in (last_sent_at, slot_checked_at) if t is not None]
    return max(done) if done else (confirmed_at or created_at)


def _day_in_month(year: int, month: int, day_of_month: int) -> date:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if day_of_month == LAST_DAY else min(day_of_month, last))


def _previous_month(day: date) -> tuple[int, int]:
    return (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)


def _candidate_days(frequency: str, today: date, weekday: int, day_of_month: int) -> list[date]:
    """The local dates of the newest two slots on or before `today`, newest first."""
    if frequency == "weekly":
        newest = today - timedelta(days=(today.weekday() - weekday) % 7)
        return [newest, newest - timedelta(days=7)]
    if frequency == "monthly":
        this_month = _day_in_month(today.year, today.month, day_of_month)
        earlier = _day_in_month(*_previous_month(today), day_of_month)
        if this_month <= today:
            return [this_month, earlier]
        return [earlier, _day_in_month(*_previous_month(earlier), day_of_month)]
    return [today, today - timedelta(days=1)]


def latest_slot(
    frequency: str,
    hour: int,
    timezone: str,
    now: datetime,
    *,
    weekday: int = MONDAY,
    day_of_month: int = 1,
) -> datetime:
    """The newest moment at or before `now` when this schedule falls due, in UTC."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    for day in _candidate_days(frequency, today, weekday, day_of_month):
        # fold=0 and normalising through UTC handles DST gaps and repeats: a local hour
        # that does not exist falls due right after the gap, a repeated one the first time.
        slot = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
        if slot <= now:
            return slot
    raise AssertionError("the slot before the newest candidate is always in the past")


def is_due(info: ScheduleInfo, now: datetime) -> bool:
    slot = latest_slot(
        info.frequency,
        info.hour,
        info.timezone,
        now,
        weekday=info.weekday,
        day_of_month=info.day_of_month,
    )
    return slot > info.since


def due_subscribers(infos: Iterable[ScheduleInfo], now: datetime) -> list[ScheduleInfo]:
    """Those whose local slot has come since they were last sent (or checked), in order."""
    return [info for info in infos if is_due(info, now)]


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
    if value is None or _blank(value):
        return 1
    if isinstance(value, str) and value.strip().lower() == "last":
        return LAST_DAY
    try:
        day = int(value)
    except (TypeError, ValueError):
        day = 0
    if 1 <= day <= MAX_DAY_OF_MONTH:
        return day
    raise InvalidField("day_of_month", f"must be 1-{MAX_DAY_OF_MONTH} or last, not {value!r}")


def _check_hour(value: str | int | None) -> int:
    if value is None or _blank(value):
        return 7
    try:
        hour = int(value)
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
