"""What the dashboard shows: day by day, the copies delivered, the sign-ups and the
unsubscribes, and the subscribers by status now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from digest.config import Settings
from digest.core.vocabulary import utcnow
from digest.store import activity, subscribers
from digest.store.db import session_scope


@dataclass(frozen=True)
class Activity:
    days: list[date]  # the oldest first, today last
    deliveries: list[int]  # one count per day
    signups: list[int]
    unsubscribes: list[int]
    subscribers: dict[str, int]  # by status, now


def daily_activity(settings: Settings, days: int = 30, now: datetime | None = None) -> Activity:
    """The last `days` days, today included, read in a few grouped queries."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    every = [first + timedelta(days=i) for i in range(days)]
    with session_scope(settings.database_url) as session:
        delivered = activity.delivered_per_day(session, since)
        signups = activity.signups_per_day(session, since)
        left = activity.unsubscribes_per_day(session, since)
        by_status = subscribers.count_by_status(session)
    return Activity(
        days=every,
        deliveries=[delivered.get(d, 0) for d in every],
        signups=[signups.get(d, 0) for d in every],
        unsubscribes=[left.get(d, 0) for d in every],
        subscribers=by_status,
    )
