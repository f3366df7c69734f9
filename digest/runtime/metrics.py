"""Prometheus metrics, read from the database at each scrape.

Every number comes from the tables, not from counters in one process, so any `digest
serve` of a deployment answers the same and a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.store import stats
from digest.store.db import session_scope

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


def _value(status: object) -> str:
    return str(getattr(status, "value", status))


def broker_queue_depth(broker_url: str) -> int | None:
    """Messages waiting in Celery's default queue on Redis, or None when unreachable."""
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1)
        return int(client.llen("celery"))
    except redis.RedisError:
        return None


class DatabaseCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with session_scope(self.settings.database_url) as session:
            snapshot = stats.metrics_snapshot(session, now)
        sources = snapshot.sources
        articles = snapshot.articles_per_source
        names = snapshot.source_names
        deliveries = snapshot.deliveries
        subscribers = snapshot.subscribers
        sent_last_minute = snapshot.sent_last_minute
        signups_day = snapshot.signups_day
        signups = snapshot.signups
        events = snapshot.webhook_events

        errors = GaugeMetricFamily(
            "digest_source_errors",
            "Failed gathers in a row of each source (0: the last one worked)",
            labels=["source"],
        )
        last_ok = GaugeMetricFamily(
            "digest_source_last_success_timestamp_seconds",
            "When each source was last gathered without an error",
            labels=["source"],
        )
        last_run = GaugeMetricFamily(
            "digest_source_last_gather_timestamp_seconds",
            "When each source was last gathered, with or without an error",
            labels=["source"],
        )
        paused = GaugeMetricFamily(
            "digest_source_paused", "1 for a paused source", labels=["source"]
        )
        for name, error_count, ok_at, fetched_at, is_paused in sources:
            errors.add_metric([name], error_count)
            paused.add_metric([name], 1 if is_paused else 0)
            if ok_at is not None:
                last_ok.add_metric([name], ok_at.timestamp())
            if fetched_at is not None:
                last_run.add_metric([name], fetched_at.timestamp())
        yield from (errors, last_ok, last_run, paused)

        per_source = GaugeMetricFamily(
            "digest_articles", "Articles stored, by source", labels=["source"]
        )
        for source_id, n in articles.items():
            per_source.add_metric([names.get(source_id, str(source_id))], n)
        yield per_source

        by_status = GaugeMetricFamily(
            "digest_deliveries", "Digest copies by state", labels=["status"]
        )
        for status in DeliveryStatus:
            by_status.add_metric([status.value], deliveries.get(status, 0))
        yield by_status

        yield GaugeMetricFamily(
            "digest_send_rate_per_second",
            "Copies accepted by the mail server over the last minute, per second",
            value=(sent_last_minute or 0) / 60,
        )
        queue = GaugeMetricFamily(
            "digest_queue_depth",
            "Work waiting: copies not settled, and broker messages",
            labels=["queue"],
        )
        queue.add_metric(["deliveries"], sum(deliveries.get(s, 0) for s in QUEUED))
        if self.settings.broker_url:
            depth = broker_queue_depth(self.settings.broker_url)
            if depth is not None:
                queue.add_metric(["broker"], depth)
        yield queue

        subs = GaugeMetricFamily("digest_subscribers", "Subscribers by status", labels=["status"])
        for subscriber_status, n in subscribers.items():
            subs.add_metric([_value(subscriber_status)], n)
        yield subs
        yield GaugeMetricFamily(
            "digest_signups", "Subscriber rows ever created (sign-ups and adds)", value=signups or 0
        )
        yield GaugeMetricFamily(
            "digest_signups_last_day", "Sign-ups in the last 24 hours", value=signups_day or 0
        )

        hooks = GaugeMetricFamily(
            "digest_webhook_events", "Webhook events by state", labels=["status"]
        )
        for event_status, n in events.items():
            hooks.add_metric([_value(event_status)], n)
        yield hooks


def render(settings: Settings) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(settings))
    return generate_latest(registry)
