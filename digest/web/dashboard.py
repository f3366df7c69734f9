"""What the dashboard shows: the last days' activity as a chart, and the totals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.config import Settings
from digest.services import sends, sources
from digest.services.activity import daily_activity
from digest.web.charts import Series, daily_chart

DAYS = 30


def activity(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    found = daily_activity(settings, DAYS, now)
    series = [
        Series("deliveries", found.deliveries, "#93c5fd", bars=True),
        Series("sign-ups", found.signups, "#047857"),
        Series("unsubscribes", found.unsubscribes, "#b91c1c"),
    ]
    return {
        "chart": daily_chart(
            found.days, series, f"Deliveries, sign-ups and unsubscribes, last {DAYS} days"
        ),
        "totals": {s.name: sum(s.values) for s in series},
        "subscribers": found.subscribers,
    }


def overview(settings: Settings) -> dict[str, Any]:
    return {
        **activity(settings),
        "sources": sources.source_listing(settings)["items"],
        "sends": sends.send_listing(settings, limit=10)["items"],
    }
