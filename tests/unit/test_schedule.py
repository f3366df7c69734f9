"""When a subscriber's digest falls due: local-hour slots across time zones, weeks and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from digest.schedule import ScheduleInfo, due_subscribers, is_due, latest_slot

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
TICK = timedelta(minutes=15)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def info(
    since: datetime,
    *,
    frequency: str = "daily",
    hour: int = 7,
    timezone: str = "UTC",
    subscriber_id: int = 1,
) -> ScheduleInfo:
    return ScheduleInfo(subscriber_id, frequency, hour, timezone, since)


# Local 07:00 on Tuesday 2026-03-10, written out in UTC by hand (not via zoneinfo).
DAILY_SLOTS = [
    ("UTC", utc(2026, 3, 10, 7, 0)),
    ("Europe/Berlin", utc(2026, 3, 10, 6, 0)),  # CET, +01:00 (DST starts 29 March)
    ("America/New_York", utc(2026, 3, 10, 11, 0)),  # EDT, -04:00 (DST started 8 March)
    ("Asia/Tokyo", utc(2026, 3, 9, 22, 0)),  # +09:00: the previous UTC day
    ("Pacific/Kiritimati", utc(2026, 3, 9, 17, 0)),  # +14:00
    ("Pacific/Pago_Pago", utc(2026, 3, 10, 18, 0)),  # -11:00
    ("America/St_Johns", utc(2026, 3, 10, 9, 30)),  # NDT, -02:30
]


@pytest.mark.parametrize(("timezone", "slot"), DAILY_SLOTS)
def test_daily_slot_is_the_local_hour(timezone: str, slot: datetime) -> None:
    assert latest_slot("daily", 7, timezone, slot) == slot
    assert latest_slot("daily", 7, timezone, slot + DAY - SECOND) == slot
    # A moment before the slot still belongs to the previous day's slot.
    assert latest_slot("daily", 7, timezone, slot - SECOND) == slot - DAY
    result = latest_slot("daily", 7, timezone, slot + timedelta(hours=3))
    assert result.utcoffset() == timedelta(0)
    assert result.astimezone(ZoneInfo(timezone)).time() == time(7)


@pytest.mark.parametrize(("timezone", "slot"), DAILY_SLOTS)
def test_daily_due_from_the_slot_on(timezone: str, slot: datetime) -> None:
    yesterday = info(slot - timedelta(hours=20), timezone=timezone)
    assert not is_due(yesterday, slot - SECOND)
    assert is_due(yesterday, slot)
    assert is_due(yesterday, slot + timedelta(hours=5))


def test_latest_slot_accepts_now_in_any_zone() -> None:
    now = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 00:00 UTC
    assert latest_slot("daily", 7, "Europe/Berlin", now) == utc(2026, 3, 9, 6, 0)


def test_weekly_slot_is_monday_local_time() -> None:
    monday = utc(2026, 3, 9, 7, 0)  # Monday 08:00 in Berlin
    assert date(2026, 3, 9).weekday() == 0
    assert latest_slot("weekly", 8, "Europe/Berlin", monday) == monday
    # All week up to the next Monday's slot the newest slot stays the same.
    for hours in (1, 30, 24 * 3, 24 * 6 + 23):
        assert latest_slot("weekly", 8, "Europe/Berlin", monday + timedelta(hours=hours)) == monday
    assert latest_slot("weekly", 8, "Europe/Berlin", monday + 7 * DAY - SECOND) == monday
    assert latest_slot("weekly", 8, "Europe/Berlin", monday + 7 * DAY) == monday + 7 * DAY
    # Just before Monday's slot the previous Monday is the newest.
    assert latest_slot("weekly", 8, "Europe/Berlin", monday - SECOND) == monday - 7 * DAY


def test_weekly_uses_the_local_weekday() -> None:
    # Monday 07:00 in Tokyo is Sunday 22:00 UTC.
    slot = utc(2026, 3, 8, 22, 0)
    assert slot.weekday() == 6
    assert latest_slot("weekly", 7, "Asia/Tokyo", slot) == slot
    # Monday 07:00 in Pago Pago is Monday 18:00 UTC, not anything earlier on Monday UTC.
    assert latest_slot("weekly", 7, "Pacific/Pago_Pago", utc(2026, 3, 9, 17, 59)) == utc(
        2026, 3, 2, 18, 0
    )
    weekly = info(utc(2026, 3, 3), frequency="weekly", hour=7, timezone="Asia/Tokyo")
    assert not is_due(weekly, slot - SECOND)
    assert is_due(weekly, slot)


def test_subscribed_after_todays_slot_waits_for_tomorrow() -> None:
    slot = utc(2026, 3, 10, 6, 0)  # 07:00 Berlin
    joined = info(slot + timedelta(hours=1), timezone="Europe/Berlin")
    assert not is_due(joined, slot + timedelta(hours=2))
    assert not is_due(joined, slot + DAY - SECOND)
    assert is_due(joined, slot + DAY)


def test_subscribed_before_todays_slot_is_due_today() -> None:
    slot = utc(2026, 3, 10, 6, 0)
    joined = info(slot - timedelta(minutes=1), timezone="Europe/Berlin")
    assert is_due(joined, slot)


def test_already_sent_after_the_slot_is_not_due_again() -> None:
    slot = utc(2026, 3, 10, 6, 0)
    sent = info(slot + timedelta(minutes=5), timezone="Europe/Berlin")
    for later in (timedelta(minutes=6), timedelta(hours=6), DAY - SECOND):
        assert not is_due(sent, slot + later)
    assert is_due(sent, slot + DAY)


def test_sent_exactly_at_the_slot_is_not_due_again() -> None:
    slot = utc(2026, 3, 10, 6, 0)
    assert not is_due(info(slot, timezone="Europe/Berlin"), slot + timedelta(hours=1))


def test_spring_forward_missing_hour_falls_due_right_after_the_gap() -> None:
    # Berlin 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC); 02:00
    # does not exist. The slot is the first moment after the gap, once.
    berlin = ZoneInfo("Europe/Berlin")
    slot = latest_slot("daily", 2, "Europe/Berlin", utc(2026, 3, 29, 12, 0))
    assert slot == utc(2026, 3, 29, 1, 0)
    assert slot.astimezone(berlin).time() == time(3, 0)
    # Before the gap the newest slot is the previous day's 02:00 CET.
    assert latest_slot("daily", 2, "Europe/Berlin", slot - SECOND) == utc(2026, 3, 28, 1, 0)
    # The next day's 02:00 CEST.
    assert latest_slot("daily", 2, "Europe/Berlin", utc(2026, 3, 30, 12, 0)) == utc(
        2026, 3, 30, 0, 0
    )
    sent_day_before = info(utc(2026, 3, 28, 1, 0), hour=2, timezone="Europe/Berlin")
    assert not is_due(sent_day_before, slot - SECOND)
    assert is_due(sent_day_before, slot)
    sent_today = info(slot, hour=2, timezone="Europe/Berlin")
    assert not is_due(sent_today, utc(2026, 3, 29, 23, 59))


def test_fall_back_repeated_hour_falls_due_once() -> None:
    # Berlin 2026-10-25: 02:00-03:00 happens twice, at 00:00 UTC (CEST) and 01:00 UTC (CET).
    first, second = utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0)
    berlin = ZoneInfo("Europe/Berlin")
    assert first.astimezone(berlin).time() == second.astimezone(berlin).time() == time(2)
    assert latest_slot("daily", 2, "Europe/Berlin", first) == first
    assert latest_slot("daily", 2, "Europe/Berlin", second) == first
    assert latest_slot("daily", 2, "Europe/Berlin", second + timedelta(minutes=30)) == first
    sent_at_first = info(first + timedelta(minutes=1), hour=2, timezone="Europe/Berlin")
    assert not is_due(sent_at_first, second)
    assert not is_due(sent_at_first, second + timedelta(minutes=59))
    assert not is_due(sent_at_first, utc(2026, 10, 25, 23, 59))
    # The next slot is 02:00 CET on the 26th.
    assert is_due(sent_at_first, utc(2026, 10, 26, 1, 0))


def test_due_subscribers_picks_only_those_due() -> None:
    now = utc(2026, 3, 10, 6, 30)  # 07:30 Berlin, 02:30 New York, 15:30 Tokyo
    yesterday = utc(2026, 3, 9, 12, 0)
    infos = [
        info(yesterday, timezone="Europe/Berlin", subscriber_id=1),  # due since 06:00 UTC
        info(yesterday, timezone="America/New_York", subscriber_id=2),  # not until 11:00
        info(yesterday, timezone="Asia/Tokyo", subscriber_id=3),  # slot 22:00 UTC yesterday
        info(now - timedelta(minutes=10), timezone="Europe/Berlin", subscriber_id=4),  # sent
        info(yesterday, frequency="weekly", timezone="Europe/Berlin", subscriber_id=5),  # Tue
    ]
    assert due_subscribers(infos, now) == [1, 3]
    assert due_subscribers([], now) == []


def expected_sends(
    ticks: list[datetime], frequency: str, hour: int, zone: ZoneInfo
) -> list[datetime]:
    """Independent oracle: the first tick on each local day (or Monday) at which the local
    wall clock has reached `hour`."""
    result = []
    for previous, tick in pairwise(ticks):
        local, before = tick.astimezone(zone), previous.astimezone(zone)
        if frequency == "weekly" and local.weekday() != 0:
            continue
        reached = local.time() >= time(hour)
        reached_before = before.date() == local.date() and before.time() >= time(hour)
        if reached and not reached_before:
            result.append(tick)
    return result


SWEEP_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/St_Johns",
]
# Two weeks around each of the 2026 transitions (EU and US in spring, EU and US in autumn).
SWEEP_STARTS = [utc(2026, 3, 2), utc(2026, 3, 22), utc(2026, 10, 19)]


@pytest.mark.parametrize("start", SWEEP_STARTS, ids=lambda d: d.date().isoformat())
@pytest.mark.parametrize("timezone", SWEEP_ZONES)
@pytest.mark.parametrize("hour", [0, 2, 7, 23])
@pytest.mark.parametrize("frequency", ["daily", "weekly"])
def test_dispatcher_sweep_sends_once_per_period(
    frequency: str, hour: int, timezone: str, start: datetime
) -> None:
    zone = ZoneInfo(timezone)
    ticks = [start + i * TICK for i in range(14 * 24 * 4 + 1)]
    since = start
    sends: list[datetime] = []
    for now in ticks:
        if is_due(info(since, frequency=frequency, hour=hour, timezone=timezone), now):
            sends.append(now)
            since = now

    assert sends == expected_sends(ticks, frequency, hour, zone)
    local_sends = [s.astimezone(zone) for s in sends]
    for local in local_sends:
        assert local.time() >= time(hour)
        assert local.hour <= hour + 1  # on time: only the DST gap pushes it an hour later
    days = [local.date() for local in local_sends]
    assert len(days) == len(set(days)), "never twice on one local day"
    # Local days wholly inside the sweep: each gets its send (daily) or each Monday does.
    first_day = start.astimezone(zone).date() + DAY
    whole_days = [first_day + i * DAY for i in range(13)]
    if frequency == "daily":
        assert set(whole_days) <= set(days)
        assert len(days) >= 13
        assert days == [days[0] + i * DAY for i in range(len(days))]
        # Consecutive sends are about a day apart (23-25 hours across a DST change).
        for a, b in pairwise(sends):
            assert timedelta(hours=23) <= b - a <= timedelta(hours=25)
    else:
        assert all(day.weekday() == 0 for day in days)
        assert {d for d in whole_days if d.weekday() == 0} <= set(days)
        assert len(days) in (1, 2)
        for a, b in pairwise(days):
            assert b - a == 7 * DAY
