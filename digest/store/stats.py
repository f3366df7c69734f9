"""Counts read for the metrics: one query per figure, nothing kept in a process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.core.vocabulary import DeliveryStatus
from digest.store.models import Article, Delivery, Source, Subscriber, WebhookEvent
from digest.store.retention import tally_status_counts


@dataclass(frozen=True)
class MetricsSnapshot:
    # (name, error_count, last_ok_at, last_fetched_at, paused) per source
    sources: list[tuple[str, int, datetime | None, datetime | None, bool]]
    articles_per_source: dict[int, int]
    source_names: dict[int, str]
    deliveries: dict[Any, int]  # by DeliveryStatus
    subscribers: dict[Any, int]  # by SubscriberStatus
    sent_last_minute: int
    signups_day: int
    signups: int
    webhook_events: dict[Any, int]  # by WebhookEventStatus


def _counts(session: Session, column: Any) -> dict[Any, int]:
    return {
        key: int(n) for key, n in session.execute(select(column, func.count()).group_by(column))
    }


def metrics_snapshot(session: Session, now: datetime) -> MetricsSnapshot:
    """Every figure the metrics endpoint shows, read in one transaction."""
    sources = [
        (row.name, row.error_count, row.last_ok_at, row.last_fetched_at, row.paused)
        for row in session.execute(
            select(
                Source.name,
                Source.error_count,
                Source.last_ok_at,
                Source.last_fetched_at,
                Source.paused,
            )
        )
    ]
    sent_last_minute = session.scalar(
        select(func.count()).where(
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= now - timedelta(minutes=1),
        )
    )
    signups_day = session.scalar(
        select(func.count()).where(Subscriber.created_at >= now - timedelta(days=1))
    )
    signups = session.scalar(select(func.count()).select_from(Subscriber))
    deliveries = _counts(session, Delivery.status)
    for status, n in tally_status_counts(session).items():  # pruned rows, folded
        deliveries[status] = deliveries.get(status, 0) + n
    return MetricsSnapshot(
        sources=sources,
        articles_per_source=_counts(session, Article.source_id),
        source_names={i: n for i, n in session.execute(select(Source.id, Source.name))},
        deliveries=deliveries,
        subscribers=_counts(session, Subscriber.status),
        sent_last_minute=int(sent_last_minute or 0),
        signups_day=int(signups_day or 0),
        signups=int(signups or 0),
        webhook_events=_counts(session, WebhookEvent.status),
    )
