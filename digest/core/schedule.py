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
from zoneinfo import ZoneInfo

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
