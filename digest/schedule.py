"""Who is due a digest at a given moment: subscriber preferences and a clock in, ids out.

A subscriber's digest falls due at a *slot*: their local hour each day (daily) or each
Monday (weekly). They are due when the newest slot at or before now is later than the
last time they were sent one (or subscribed, for a first digest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKLY_WEEKDAY = 0  # Monday


@dataclass(frozen=True)
class ScheduleInfo:
    subscriber_id: int
    frequency: str  # "daily" or "weekly"
    hour: int
    timezone: str
    since: datetime  # last digest sent, or when the subscription started


def since(
    last_sent_at: datetime | None, confirmed_at: datetime | None, created_at: datetime
) -> datetime:
    """Where a subscriber's schedule counts from: their last digest, else their confirmation
    (a first digest falls due at the first slot after they confirmed), else sign-up."""
    return last_sent_at or confirmed_at or created_at


def latest_slot(frequency: str, hour: int, timezone: str, now: datetime) -> datetime:
    """The newest moment at or before `now` when this schedule falls due, in UTC."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    day = local_now.date()
    for _ in range(8):
        if frequency != "weekly" or day.weekday() == WEEKLY_WEEKDAY:
            # fold=0 and normalising through UTC handles DST gaps and repeats.
            slot = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
            if slot <= now:
                return slot
        day -= timedelta(days=1)
    raise AssertionError("a slot exists within eight days")


def is_due(info: ScheduleInfo, now: datetime) -> bool:
    return latest_slot(info.frequency, info.hour, info.timezone, now) > info.since


def due_subscribers(infos: Iterable[ScheduleInfo], now: datetime) -> list[int]:
    return [info.subscriber_id for info in infos if is_due(info, now)]
