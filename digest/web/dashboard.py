"""What the dashboard shows, read from the database in a few grouped queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.pipeline.reports import source_rows
from digest.services import sends
from digest.store.db import session_scope
from digest.store.models import Delivery, Subscriber
from digest.web.charts import Series, daily_chart

DAYS = 30


def _day(value: object) -> date | None:
    """func.date() answers a date on PostgreSQL and a 'YYYY-MM-DD' string on SQLite."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        return date.fromisoformat(value[:10])
    return None


def per_day(session: Session, column: Any, since: datetime, *where: Any) -> dict[date, int]:
    day = func.date(column)
    rows = session.execute(select(day, func.count()).where(column >= since, *where).group_by(day))
    counts: dict[date, int] = {}
    for value, n in rows:
        d = _day(value)
        if d is not None:
            counts[d] = counts.get(d, 0) + n
    return counts


def activity(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    first = (now - timedelta(days=DAYS - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    with session_scope(settings.database_url) as session:
        delivered = per_day(
            session, Delivery.sent_at, since, Delivery.status == DeliveryStatus.SENT
        )
        signups = per_day(session, Subscriber.created_at, since)
        left = per_day(session, Subscriber.unsubscribed_at, since)
        by_status = {
            str(getattr(s, "value", s)): n
            for s, n in session.execute(
                select(Subscriber.status, func.count()).group_by(Subscriber.status)
            )
        }
    series = [
        Series("deliveries", [delivered.get(d, 0) for d in days], "#93c5fd", bars=True),
        Series("sign-ups", [signups.get(d, 0) for d in days], "#047857"),
        Series("unsubscribes", [left.get(d, 0) for d in days], "#b91c1c"),
    ]
    return {
        "chart": daily_chart(
            days, series, f"Deliveries, sign-ups and unsubscribes, last {DAYS} days"
        ),
        "totals": {s.name: sum(s.values) for s in series},
        "subscribers": by_status,
    }


def overview(settings: Settings) -> dict[str, Any]:
    return {
        **activity(settings),
        "sources": source_rows(settings),
        "sends": sends.send_rows(settings, limit=10),
    }
