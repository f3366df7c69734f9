"""What happened day by day: copies delivered, sign-ups and unsubscribes (the dashboard)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.core.vocabulary import DeliveryStatus
from digest.store.models import Delivery, Subscriber
from digest.store.retention import sent_per_day


def _day(value: object) -> date | None:
    """func.date() answers a date on PostgreSQL and a 'YYYY-MM-DD' string on SQLite."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        return date.fromisoformat(value[:10])
    return None


def _per_day(session: Session, column: Any, since: datetime, *where: Any) -> dict[date, int]:
    day = func.date(column)
    rows = session.execute(select(day, func.count()).where(column >= since, *where).group_by(day))
    counts: dict[date, int] = {}
    for value, n in rows:
        d = _day(value)
        if d is not None:
            counts[d] = counts.get(d, 0) + n
    return counts


def delivered_per_day(session: Session, since: datetime) -> dict[date, int]:
    """Copies sent, by the day they were sent (UTC): the ledger's and those folded into
    counts (whose day is whole: the day of `since` counts from its start)."""
    counts = _per_day(session, Delivery.sent_at, since, Delivery.status == DeliveryStatus.SENT)
    for day, n in sent_per_day(session, since.date()).items():
        counts[day] = counts.get(day, 0) + n
    return counts


def signups_per_day(session: Session, since: datetime) -> dict[date, int]:
    return _per_day(session, Subscriber.created_at, since)


def unsubscribes_per_day(session: Session, since: datetime) -> dict[date, int]:
    return _per_day(session, Subscriber.unsubscribed_at, since)
