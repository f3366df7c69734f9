"""Scheduled sends against a real database: a slot with nothing new is used up, so the
subscriber waits for their next slot instead of being mailed when the next article comes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import pipeline
from digest.config import Settings
from digest.services.subscribers import add_subscriber, subscriber_listing
from digest.store import db, schema
from digest.store.models import Article, Source, Subscriber

ROOT = Path(__file__).resolve().parents[2]
SLOT = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 07:00 in Berlin


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    s = Settings(
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
        secret_key="test-secret",
        templates_dir=ROOT / "templates",
    )
    schema.upgrade(s.database_url)
    return s


def add_article(settings: Settings, title: str, seen: datetime) -> None:
    with db.session_scope(settings.database_url) as session:
        source = session.query(Source).first()
        if source is None:
            source = Source(url="https://harwick.example/feed.xml", name="Harwick Post")
            session.add(source)
            session.flush()
        session.add(
            Article(source_id=source.id, key=title, title=title, first_seen_at=seen, summary="")
        )


def test_nothing_new_at_the_slot_waits_for_the_next_slot(settings: Settings) -> None:
    with db.session_scope(settings.database_url) as session:
        add_subscriber(
            session,
            "greta@example.org",
            confirmed=True,
            hour=7,
            timezone="Europe/Berlin",
            now=SLOT - timedelta(days=1),
        )
    at_slot = pipeline.plan_send(settings, kind="due", now=SLOT + timedelta(seconds=30))
    assert at_slot.copies == [] and at_slot.nothing_new == 1
    with db.session_scope(settings.database_url) as session:
        sub = session.query(Subscriber).one()
        assert sub.slot_checked_at == SLOT + timedelta(seconds=30)

    # The next article arrives at 17:01 Berlin time: no digest until tomorrow's 07:00.
    add_article(settings, "Ferry timetable changes", SLOT + timedelta(hours=10, minutes=1))
    evening = pipeline.plan_send(settings, kind="due", now=SLOT + timedelta(hours=10, minutes=2))
    assert evening.copies == [] and evening.nothing_new == 0
    before = pipeline.plan_send(settings, kind="due", now=SLOT + timedelta(days=1, seconds=-1))
    assert before.copies == []
    tomorrow = pipeline.plan_send(settings, kind="due", now=SLOT + timedelta(days=1, seconds=30))
    assert [c.email for c in tomorrow.copies] == ["greta@example.org"]


def test_a_dry_run_does_not_use_up_the_slot(settings: Settings) -> None:
    with db.session_scope(settings.database_url) as session:
        add_subscriber(
            session, "otto@example.org", confirmed=True, hour=7, timezone="Europe/Berlin",
            now=SLOT - timedelta(days=1),
        )  # fmt: skip
    pipeline.plan_send(settings, kind="due", dry_run=True, now=SLOT + timedelta(seconds=30))
    pipeline.plan_send(settings, kind="now", now=SLOT + timedelta(seconds=40))
    add_article(settings, "Library reopens", SLOT + timedelta(minutes=5))
    later = pipeline.plan_send(settings, kind="due", dry_run=True, now=SLOT + timedelta(minutes=6))
    assert [c.email for c in later.copies] == ["otto@example.org"]


def test_weekly_and_monthly_subscribers_are_due_on_their_day(settings: Settings) -> None:
    created = datetime(2026, 2, 1, tzinfo=UTC)
    with db.session_scope(settings.database_url) as session:
        add_subscriber(
            session, "wed@example.org", confirmed=True, frequency="weekly",
            weekday="wednesday", hour=9, timezone="Asia/Kathmandu", now=created,
        )  # fmt: skip
        add_subscriber(
            session, "last@example.org", confirmed=True, frequency="monthly",
            day_of_month="last", hour=9, timezone="Asia/Kathmandu", now=created,
        )  # fmt: skip
    add_article(settings, "Harbour walk", datetime(2026, 2, 27, tzinfo=UTC))
    # Wednesday 2026-03-04 09:00 in Kathmandu is 03:15 UTC; Feb 28 09:00 is 03:15 UTC.
    early = pipeline.plan_send(
        settings, kind="due", dry_run=True, now=datetime(2026, 2, 28, 3, 14, tzinfo=UTC)
    )
    assert [c.email for c in early.copies] == ["wed@example.org"]  # Wednesday the 25th
    on_28th = pipeline.plan_send(
        settings, kind="due", dry_run=True, now=datetime(2026, 2, 28, 3, 15, tzinfo=UTC)
    )
    assert sorted(c.email for c in on_28th.copies) == ["last@example.org", "wed@example.org"]
    rows = {r["email"]: r for r in subscriber_listing(settings)["items"]}
    assert rows["wed@example.org"]["weekday"] == "wednesday"
    assert rows["last@example.org"]["day_of_month"] == "last"
