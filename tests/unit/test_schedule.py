"""When a subscriber's digest falls due: local-hour slots across time zones, weeks and DST."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from digest.core.schedule import LAST_DAY, ScheduleInfo, due_subscribers, is_due, latest_slot, since

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
    assert [i.subscriber_id for i in due_subscribers(infos, now)] == [1, 3]
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


# --- weekly on a chosen weekday, monthly on a day or the last day ---------------------------

LAST = LAST_DAY
# (case, frequency, weekday, day_of_month, hour, timezone, now, expected newest slot).
# The expected slots are worked out by hand from each zone's offsets, not via zoneinfo.
SLOT_TABLE = [
    # America/New_York, spring forward on Sunday 2026-03-08 (02:00 EST -> 03:00 EDT).
    ("ny-gap-daily-2am", "daily", 0, 1, 2, "America/New_York",
     utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 7, 0)),  # 02:00 missing: 03:00 EDT
    ("ny-sunday-edt", "weekly", 6, 1, 7, "America/New_York",
     utc(2026, 3, 8, 11, 0), utc(2026, 3, 8, 11, 0)),  # 07:00 EDT
    ("ny-sunday-before-is-last-week-est", "weekly", 6, 1, 7, "America/New_York",
     utc(2026, 3, 8, 10, 59), utc(2026, 3, 1, 12, 0)),  # 07:00 EST a week before
    # America/New_York, fall back on Sunday 2026-11-01 (01:00-02:00 happens twice).
    ("ny-repeat-daily-1am", "daily", 0, 1, 1, "America/New_York",
     utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 5, 0)),  # the first 01:00 (EDT)
    ("ny-repeat-monthly-1st", "monthly", 0, 1, 1, "America/New_York",
     utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 5, 0)),
    ("ny-last-of-october", "monthly", 0, LAST, 7, "America/New_York",
     utc(2026, 11, 1, 12, 0), utc(2026, 10, 31, 11, 0)),  # Oct 31 07:00 EDT
    ("ny-last-of-november-est", "monthly", 0, LAST, 7, "America/New_York",
     utc(2026, 12, 1, 0, 0), utc(2026, 11, 30, 12, 0)),  # Nov 30 07:00 EST
    # Europe/Berlin: month ends, February, leap day (DST starts 2026-03-29).
    ("berlin-last-of-march-cest", "monthly", 0, LAST, 7, "Europe/Berlin",
     utc(2026, 3, 31, 5, 0), utc(2026, 3, 31, 5, 0)),
    ("berlin-last-before-march-31", "monthly", 0, LAST, 7, "Europe/Berlin",
     utc(2026, 3, 15, 0, 0), utc(2026, 2, 28, 6, 0)),  # Feb 28 07:00 CET
    ("berlin-last-jan-31", "monthly", 0, LAST, 7, "Europe/Berlin",
     utc(2026, 2, 27, 0, 0), utc(2026, 1, 31, 6, 0)),
    ("berlin-28th-in-february", "monthly", 0, 28, 7, "Europe/Berlin",
     utc(2026, 2, 28, 6, 0), utc(2026, 2, 28, 6, 0)),
    ("berlin-leap-day-is-last", "monthly", 0, LAST, 7, "Europe/Berlin",
     utc(2028, 3, 10, 0, 0), utc(2028, 2, 29, 6, 0)),
    ("berlin-before-leap-day-slot", "monthly", 0, LAST, 7, "Europe/Berlin",
     utc(2028, 2, 29, 5, 59), utc(2028, 1, 31, 6, 0)),
    ("berlin-28th-in-leap-february", "monthly", 0, 28, 7, "Europe/Berlin",
     utc(2028, 2, 29, 12, 0), utc(2028, 2, 28, 6, 0)),
    ("berlin-monthly-across-dst-gap", "monthly", 0, 29 - 1, 2, "Europe/Berlin",
     utc(2026, 4, 1, 0, 0), utc(2026, 3, 28, 1, 0)),  # Mar 28 02:00 CET
    ("berlin-wednesday", "weekly", 2, 1, 9, "Europe/Berlin",
     utc(2026, 3, 10, 0, 0), utc(2026, 3, 4, 8, 0)),  # Wed Mar 4 09:00 CET
    # Australia/Lord_Howe: +10:30 in winter, +11 in summer, clocks move half an hour.
    ("lord-howe-summer", "daily", 0, 1, 7, "Australia/Lord_Howe",
     utc(2026, 1, 10, 0, 0), utc(2026, 1, 9, 20, 0)),
    ("lord-howe-winter", "daily", 0, 1, 7, "Australia/Lord_Howe",
     utc(2026, 7, 10, 0, 0), utc(2026, 7, 9, 20, 30)),
    ("lord-howe-gap-2am", "daily", 0, 1, 2, "Australia/Lord_Howe",
     utc(2026, 10, 3, 18, 0), utc(2026, 10, 3, 15, 30)),  # 02:00 missing: 02:30 +11
    ("lord-howe-after-repeat-2am", "daily", 0, 1, 2, "Australia/Lord_Howe",
     utc(2026, 4, 4, 18, 0), utc(2026, 4, 4, 15, 30)),  # 02:00 +10:30, after 01:30-02:00 twice
    ("lord-howe-sunday-of-change", "weekly", 6, 1, 1, "Australia/Lord_Howe",
     utc(2026, 4, 5, 0, 0), utc(2026, 4, 4, 14, 0)),  # 01:00 +11 on Sunday Apr 5
    # Asia/Kathmandu: +05:45 all year.
    ("kathmandu-daily", "daily", 0, 1, 7, "Asia/Kathmandu",
     utc(2026, 3, 10, 1, 15), utc(2026, 3, 10, 1, 15)),
    ("kathmandu-daily-a-minute-early", "daily", 0, 1, 7, "Asia/Kathmandu",
     utc(2026, 3, 10, 1, 14), utc(2026, 3, 9, 1, 15)),
    ("kathmandu-friday-midnight", "weekly", 4, 1, 0, "Asia/Kathmandu",
     utc(2026, 3, 12, 18, 15), utc(2026, 3, 12, 18, 15)),
    ("kathmandu-friday-a-minute-early", "weekly", 4, 1, 0, "Asia/Kathmandu",
     utc(2026, 3, 12, 18, 14), utc(2026, 3, 5, 18, 15)),
    ("kathmandu-new-year", "monthly", 0, LAST, 23, "Asia/Kathmandu",
     utc(2027, 1, 1, 0, 0), utc(2026, 12, 31, 17, 15)),
    ("kathmandu-20th-across-year-end", "monthly", 0, 20, 23, "Asia/Kathmandu",
     utc(2027, 1, 15, 0, 0), utc(2026, 12, 20, 17, 15)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("frequency", "weekday", "day", "hour", "timezone", "now", "slot"),
    [case[1:] for case in SLOT_TABLE],
    ids=[case[0] for case in SLOT_TABLE],
)
def test_slot_table(
    frequency: str, weekday: int, day: int, hour: int, timezone: str, now: datetime, slot: datetime
) -> None:
    found = latest_slot(frequency, hour, timezone, now, weekday=weekday, day_of_month=day)
    assert found == slot
    schedule = {"frequency": frequency, "hour": hour, "timezone": timezone}
    before = ScheduleInfo(1, since=slot - SECOND, weekday=weekday, day_of_month=day, **schedule)
    after = ScheduleInfo(1, since=slot, weekday=weekday, day_of_month=day, **schedule)
    assert is_due(before, now)
    assert not is_due(after, now)


def test_downtime_over_several_slots_gives_one_digest_then_waits_for_the_next_slot() -> None:
    # Weekly on Wednesday 09:00 Berlin; sent on 4 March, then nothing ran until 26 March.
    sent = utc(2026, 3, 4, 8, 5)
    weekly = ScheduleInfo(1, "weekly", 9, "Europe/Berlin", sent, weekday=2)
    back = utc(2026, 3, 26, 12, 0)  # Thursday: the slots of the 11th, 18th and 25th passed
    assert is_due(weekly, back)
    after = ScheduleInfo(1, "weekly", 9, "Europe/Berlin", back, weekday=2)
    assert not is_due(after, back + timedelta(minutes=1))
    assert not is_due(after, utc(2026, 4, 1, 6, 59))  # Wed 1 April 08:59 CEST
    assert is_due(after, utc(2026, 4, 1, 7, 0))  # 09:00 CEST


def test_nothing_new_at_the_slot_waits_for_the_next_slot() -> None:
    # Berlin, 07:00: the 07:00 send found nothing new and recorded it (slot_checked_at).
    slot = utc(2026, 3, 10, 6, 0)
    checked = since(utc(2026, 3, 9, 6, 0), None, utc(2026, 1, 1), slot_checked_at=slot)
    assert checked == slot
    berlin = ScheduleInfo(1, "daily", 7, "Europe/Berlin", checked)
    assert not is_due(berlin, utc(2026, 3, 10, 16, 1))  # the next article, 17:01 local
    assert is_due(berlin, slot + DAY)
    # Without the record the last digest decides, as before.
    assert since(utc(2026, 3, 9, 6, 0), None, utc(2026, 1, 1)) == utc(2026, 3, 9, 6, 0)
    assert since(None, None, utc(2026, 1, 1), slot_checked_at=None) == utc(2026, 1, 1)


MONTHLY_ZONES = ["Australia/Lord_Howe", "Asia/Kathmandu", "America/New_York", "Europe/Berlin"]


@pytest.mark.parametrize("timezone", MONTHLY_ZONES)
@pytest.mark.parametrize("day", [1, 28, LAST])
def test_monthly_sweep_sends_once_a_month_on_the_day(timezone: str, day: int) -> None:
    # Hourly ticks through 2027 and 2028 (a leap year), sending whenever due.
    zone = ZoneInfo(timezone)
    start, end = utc(2026, 12, 20), utc(2028, 12, 31, 14)
    since_ = start
    sends = []
    for i in range(int((end - start) / timedelta(hours=1))):
        now = start + timedelta(hours=i)
        if is_due(ScheduleInfo(1, "monthly", 7, timezone, since_, day_of_month=day), now):
            sends.append(now.astimezone(zone))
            since_ = now
    months = [(s.year, s.month) for s in sends]
    assert len(months) == len(set(months)), "never twice in one local month"
    assert {(y, m) for y in (2027, 2028) for m in range(1, 13)} <= set(months)
    for local in sends:
        last = calendar.monthrange(local.year, local.month)[1]
        assert local.day == (last if day == LAST else day)
        assert local.hour == 7  # within the hour after the local 07:00
    if day == LAST:
        assert date(2028, 2, 29) in [s.date() for s in sends]
