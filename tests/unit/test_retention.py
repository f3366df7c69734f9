"""Retention: settled deliveries past DIGEST_DELIVERY_RETENTION_DAYS are folded into counts
and deleted in batches, and every report shows the same totals after it as before; a DSN
about a pruned copy is refused, an unsubscribe link still works; old articles no edition
holds are forgotten, and a feed still listing them does not bring them back.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from digest.config import Settings
from digest.core.links import UNSUBSCRIBE, make_token
from digest.core.verp import return_path
from digest.core.vocabulary import (
    DeliveryStatus,
    SendKind,
    SubscriberStatus,
    utcnow,
)
from digest.errors import NotFound
from digest.pipeline import gather, reports
from digest.pipeline.retention import PruneReport, prune
from digest.services import activity, bounces, editions, sends, subscribers
from digest.store import db, schema, stats
from digest.store import webhooks as store_webhooks
from digest.store.models import (
    Article,
    Delivery,
    DeliveryTally,
    Edition,
    EditionArticle,
    ForgottenArticle,
    Send,
    Source,
    Subscriber,
)

ROOT = Path(__file__).resolve().parents[2]
DSN = ROOT / "tests" / "fixtures" / "dsn"
NOW = utcnow()
BOUNCES = "bounces@news.example.org"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def settings_for(url: str, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "outbox_dir": tmp_path / "outbox",
        "templates_dir": ROOT / "templates",
        "secret_key": "retention-test-key",
        "bounce_address": BOUNCES,
        "delivery_retention_days": 90,
        "article_retention_days": 365,
        "prune_batch_size": 3,
    }
    values.update(changes)
    return Settings(**values)


@dataclass
class Ledger:
    """A list with a send four months old and one last week."""

    settings: Settings
    old_send: int
    new_send: int
    old_edition: int
    new_edition: int
    subscribers: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)  # by the subscriber's name


# The old send's copies: (name, state, days ago it was accepted).
OLD_COPIES = [
    ("ada", DeliveryStatus.SENT, 120.0),
    ("bo", DeliveryStatus.SENT, 120.0),
    ("cy", DeliveryStatus.SENT, 119.9),
    ("di", DeliveryStatus.SENT, 119.0),  # the next day
    ("ed", DeliveryStatus.SENT, 119.0),
    ("fay", DeliveryStatus.FAILED, None),
    ("gus", DeliveryStatus.FAILED, None),
    ("hal", DeliveryStatus.BOUNCED, None),
    ("ivy", DeliveryStatus.SKIPPED, None),
    ("jo", DeliveryStatus.CANCELLED, None),
    ("kit", DeliveryStatus.PENDING, None),  # of a paused send: still on its way, kept
]


@pytest.fixture
def ledger(migrated_database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    settings = settings_for(migrated_database_url, tmp_path)
    with db.session_scope(migrated_database_url) as session:
        source = Source(url="https://harwick.example/feed", name="Harwick News")
        session.add(source)
        session.flush()
        old_article = Article(source_id=source.id, key="ferry", title="Ferry timetable")
        new_article = Article(source_id=source.id, key="market", title="Winter market")
        session.add_all([old_article, new_article])
        session.flush()
        old_edition = Edition(content_key="old", subject="Ferry", html="<p>f</p>", text="f")
        new_edition = Edition(content_key="new", subject="Market", html="<p>m</p>", text="m")
        session.add_all([old_edition, new_edition])
        session.flush()
        session.add_all(
            [
                EditionArticle(edition_id=old_edition.id, article_id=old_article.id, position=0),
                EditionArticle(edition_id=new_edition.id, article_id=new_article.id, position=0),
            ]
        )
        old_send = Send(created_at=ago(120.1), kind=SendKind.DUE)
        new_send = Send(created_at=ago(7), kind=SendKind.DUE)
        session.add_all([old_send, new_send])
        session.flush()
        names = [name for name, _, _ in OLD_COPIES]
        subs = {
            name: Subscriber(
                email=f"{name}@saltmarsh.example",
                status=SubscriberStatus.CONFIRMED,
                confirmed_at=ago(200),
                created_at=ago(200),
            )
            for name in names
        }
        session.add_all(subs.values())
        session.flush()
        found = Ledger(
            settings,
            old_send.id,
            new_send.id,
            old_edition.id,
            new_edition.id,
            subscribers={n: s.id for n, s in subs.items()},
        )
        rows: dict[str, Delivery] = {}
        for name, status, sent in OLD_COPIES:
            rows[name] = Delivery(
                edition_id=old_edition.id,
                subscriber_id=subs[name].id,
                send_id=old_send.id,
                status=status,
                attempts=1,
                created_at=ago(120.1),
                claimed_at=ago(120.05) if status != DeliveryStatus.PENDING else None,
                sent_at=ago(sent) if sent is not None else None,
                last_error="550 mailbox closed" if status == DeliveryStatus.FAILED else None,
                message_id=f"<digest.old.{name}@news.example.org>",
            )
        # Last week's send: everyone but kit got it.
        for name in names[:-1]:
            rows[f"{name}-new"] = Delivery(
                edition_id=new_edition.id,
                subscriber_id=subs[name].id,
                send_id=new_send.id,
                status=DeliveryStatus.SENT,
                attempts=1,
                created_at=ago(7),
                claimed_at=ago(7),
                sent_at=ago(6.99),
                message_id=f"<digest.new.{name}@news.example.org>",
            )
        session.add_all(rows.values())
        session.flush()
        found.deliveries = {name: d.id for name, d in rows.items()}
    yield found


def what_reports_show(settings: Settings) -> dict[str, Any]:
    """Every count of deliveries the CLI, the admin, the API, the metrics and webhooks read."""
    listing = sends.send_listing(settings)["items"]
    ids = [row["id"] for row in listing]
    with db.session_scope(settings.database_url) as session:
        metrics = stats.metrics_snapshot(session, NOW).deliveries
        hooks = {i: store_webhooks.copy_counts(session, i) for i in ids}
    return {
        "editions": {e["id"]: e["deliveries"] for e in editions.edition_listing(settings)["items"]},
        "sends": listing,
        "send_status": {i: reports.send_status(settings, i) for i in ids},
        "send_detail_totals": {i: sends.send_detail(settings, i)["total"] for i in ids},
        "per_day": activity.daily_activity(settings, days=200, now=NOW).deliveries,
        "metrics": {str(k): v for k, v in metrics.items()},
        "webhooks": hooks,
    }


def ledger_ids(settings: Settings) -> set[int]:
    with db.session_scope(settings.database_url) as session:
        return set(session.scalars(select(Delivery.id)))


def test_folding_keeps_every_total_the_reports_show(ledger: Ledger) -> None:
    before = what_reports_show(ledger.settings)
    # The old send is in the reports as it was: 10 settled copies and one still pending.
    old = next(s for s in before["sends"] if s["id"] == ledger.old_send)
    assert (old["sent"], old["failed"], old["bounced"], old["total"]) == (5, 2, 1, 11)
    assert sum(before["per_day"]) == 5 + 10

    report = prune(ledger.settings, now=NOW)

    assert report.deliveries == {
        DeliveryStatus.SENT: 5,
        DeliveryStatus.FAILED: 2,
        DeliveryStatus.BOUNCED: 1,
        DeliveryStatus.SKIPPED: 1,
        DeliveryStatus.CANCELLED: 1,
    }
    # The old send's rows are gone but its pending copy; last week's are all there.
    left = ledger_ids(ledger.settings)
    assert ledger.deliveries["kit"] in left
    assert not {ledger.deliveries[n] for n, _, _ in OLD_COPIES[:-1]} & left
    assert {v for k, v in ledger.deliveries.items() if k.endswith("-new")} <= left
    assert report.deliveries_left == len(left) == 11
    assert what_reports_show(ledger.settings) == before

    # A second prune finds nothing more and changes no figure.
    again = prune(ledger.settings, now=NOW)
    assert again.deliveries_folded == 0 and again.batches == 0
    assert what_reports_show(ledger.settings) == before


def test_each_batch_is_a_transaction_of_its_own(ledger: Ledger) -> None:
    """Batches of 3 rows: another connection sees the ledger shrink batch by batch, and
    the counts of what it left plus the tallies are the send's whole at every step."""
    seen: list[tuple[int, int]] = []

    def look(_: PruneReport) -> None:
        with db.session_scope(ledger.settings.database_url) as session:
            rows = session.scalar(select(func.count()).where(Delivery.send_id == ledger.old_send))
            folded = session.scalar(
                select(func.sum(DeliveryTally.count)).where(
                    DeliveryTally.send_id == ledger.old_send
                )
            )
        seen.append((int(rows or 0), int(folded or 0)))

    report = prune(ledger.settings, now=NOW, on_batch=look)
    assert report.batches == len(seen) >= 4  # 10 rows to fold, at most 3 per batch
    assert [rows for rows, _ in seen] == sorted((rows for rows, _ in seen), reverse=True)
    assert all(rows + folded == 11 for rows, folded in seen)
    assert seen[-1] == (1, 10)


def test_a_dry_run_counts_what_would_go_and_changes_nothing(ledger: Ledger) -> None:
    before = ledger_ids(ledger.settings)
    report = prune(ledger.settings, now=NOW, dry_run=True)
    assert report.deliveries_folded == 10
    assert report.deliveries[DeliveryStatus.SENT] == 5
    assert report.deliveries_left == len(before) - 10
    assert ledger_ids(ledger.settings) == before
    with db.session_scope(ledger.settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(DeliveryTally)) == 0


def test_a_retention_of_zero_keeps_the_ledger(ledger: Ledger, tmp_path: Path) -> None:
    settings = ledger.settings.model_copy(update={"delivery_retention_days": 0})
    before = ledger_ids(settings)
    report = prune(settings, now=NOW)
    assert report.delivery_cutoff is None and report.deliveries_folded == 0
    assert ledger_ids(settings) == before


def test_a_longer_retention_keeps_the_old_send(ledger: Ledger) -> None:
    settings = ledger.settings.model_copy(update={"delivery_retention_days": 180})
    assert prune(settings, now=NOW).deliveries_folded == 0


def dsn_for(to: str, recipient: str, message_id: str) -> bytes:
    text = (DSN / "hard-mailbox-closed.eml").read_text()
    for key, value in {"to": to, "recipient": recipient, "message_id": message_id}.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()


def hard_bounces(settings: Settings, subscriber_id: int) -> tuple[int, SubscriberStatus]:
    with db.session_scope(settings.database_url) as session:
        sub = session.get_one(Subscriber, subscriber_id)
        return sub.hard_bounces, sub.status


def test_a_dsn_about_a_pruned_copy_is_refused_and_counts_nothing(ledger: Ledger) -> None:
    settings = ledger.settings
    prune(settings, now=NOW)
    ada = ledger.subscribers["ada"]
    pruned = ledger.deliveries["ada"]
    by_return_path = dsn_for(
        return_path(BOUNCES, settings.secret_key, pruned),
        "ada@saltmarsh.example",
        "<nothing@example.org>",
    )
    with pytest.raises(NotFound, match=rf"delivery {pruned} .* no longer kept.*90 days"):
        bounces.process_dsn(settings, by_return_path)
    by_message_id = dsn_for(
        "bounces@news.example.org", "ada@saltmarsh.example", "<digest.old.ada@news.example.org>"
    )
    with pytest.raises(NotFound, match="no delivery found for this DSN"):
        bounces.process_dsn(settings, by_message_id)
    assert hard_bounces(settings, ada) == (0, SubscriberStatus.CONFIRMED)

    # Last week's copy of the same subscriber is still there: its DSN counts.
    kept = ledger.deliveries["ada-new"]
    done = bounces.process_dsn(
        settings,
        dsn_for(
            return_path(BOUNCES, settings.secret_key, kept),
            "ada@saltmarsh.example",
            "<other@example.org>",
        ),
    )
    assert done["delivery_id"] == kept and done["result"] == "hard bounce"
    assert hard_bounces(settings, ada) == (1, SubscriberStatus.BOUNCED)


def test_an_unsubscribe_link_works_when_every_copy_was_pruned(ledger: Ledger) -> None:
    settings = ledger.settings.model_copy(update={"delivery_retention_days": 1})
    prune(settings, now=NOW)
    bo = ledger.subscribers["bo"]
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).where(Delivery.subscriber_id == bo)) == 0
    token = make_token(settings.secret_key, UNSUBSCRIBE, bo)
    assert subscribers.unsubscribe_by_link(settings, token) == "bo@saltmarsh.example"
    assert hard_bounces(settings, bo)[1] == SubscriberStatus.UNSUBSCRIBED


def test_the_archive_keeps_every_edition(ledger: Ledger) -> None:
    prune(ledger.settings.model_copy(update={"delivery_retention_days": 1}), now=NOW)
    shown = editions.edition_details(ledger.settings, ledger.old_edition)
    assert shown["html"] == "<p>f</p>" and shown["article_ids"]


def test_old_articles_in_no_edition_are_forgotten_and_not_gathered_again(
    ledger: Ledger,
) -> None:
    settings = ledger.settings
    url = settings.database_url
    with db.session_scope(url) as session:
        source = session.scalars(select(Source)).one()
        for i in range(7):  # a year and more ago, in no edition
            session.add(
                Article(
                    source_id=source.id,
                    key=f"old-{i}",
                    link=f"https://harwick.example/old-{i}",
                    title=f"Old story {i}",
                    first_seen_at=ago(400 + i),
                )
            )
        session.add(
            Article(
                source_id=source.id,
                key="recent",
                link="https://harwick.example/recent",
                title="Recent story",
                first_seen_at=ago(3),
            )
        )
        # The edition's article is as old, and stays: the edition holds it.
        session.execute(
            Article.__table__.update().where(Article.key == "ferry").values(first_seen_at=ago(500))
        )
        source_id = source.id

    dry = prune(settings, now=NOW, dry_run=True, read_also_pool=1)
    assert dry.articles == 7
    report = prune(settings, now=NOW, read_also_pool=1)
    assert report.articles == 7 and report.batches >= 3  # 3 per batch
    with db.session_scope(url) as session:
        keys = set(session.scalars(select(Article.key)))
        assert keys == {"ferry", "market", "recent"}
        assert session.scalar(select(func.count()).select_from(ForgottenArticle)) == 7
        # The feed still lists two of them, under their key or their link: not new.
        assert gather.known_keys(session, source_id, ["old-1", "brand-new"]) == {
            "old-1": None
        }  # stored, and pruned since
        known = gather.known_links(
            session, ["https://harwick.example/old-2?utm_source=feed", "https://x.example/n"]
        )
        assert [k.rpartition("/")[2] for k in known] == ["old-2"]


def test_the_newest_articles_stay_for_read_also(ledger: Ledger) -> None:
    with db.session_scope(ledger.settings.database_url) as session:
        source = session.scalars(select(Source)).one()
        for i in range(3):
            session.add(
                Article(
                    source_id=source.id,
                    key=f"old-{i}",
                    link=f"https://harwick.example/old-{i}",
                    title=f"Old story {i}",
                    first_seen_at=ago(400),
                )
            )
    # The two newest with a link stay, whatever their age: old-0 goes.
    report = prune(ledger.settings, now=NOW, read_also_pool=2)
    assert report.articles == 1
    with db.session_scope(ledger.settings.database_url) as session:
        assert "old-0" not in set(session.scalars(select(Article.key)))


def test_a_database_at_0013_upgrades_and_prunes(database_url: str, tmp_path: Path) -> None:
    """A database made before 0015, with a ledger, upgrades with `digest init` and its
    old copies fold like any others."""
    command.upgrade(schema.alembic_config(database_url), "0013")
    db.close_all()
    with db.get_engine(database_url).begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sources (id, url, name, created_at, error_count, kind, "
            "full_text_mode, not_modified, paused) VALUES "
            "(1, 'https://harwick.example/feed', 'Harwick', '2026-01-01 00:00:00', 0, "
            "'feed', 'auto', false, false)"
        )
        conn.exec_driver_sql(
            "INSERT INTO subscribers (id, email, status, frequency, hour, weekday, "
            "day_of_month, timezone, created_at, last_article_id, hard_bounces, "
            "soft_bounces) VALUES (1, 'ada@saltmarsh.example', 'confirmed', 'daily', 7, 0, "
            "1, 'UTC', '2026-01-01 00:00:00', 0, 0, 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO editions (id, content_key, created_at, subject, html, text) VALUES "
            "(1, 'k', '2026-01-02 00:00:00', 'Ferry', '<p>f</p>', 'f')"
        )
        conn.exec_driver_sql(
            "INSERT INTO sends (id, created_at, kind, status, failures_in_row) VALUES "
            "(1, '2026-01-02 00:00:00', 'due', 'active', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO deliveries (id, edition_id, subscriber_id, send_id, status, "
            "attempts, created_at, claimed_at, sent_at) VALUES (1, 1, 1, 1, 'sent', 1, "
            "'2026-01-02 00:00:00', '2026-01-02 00:00:01', '2026-01-02 00:00:02')"
        )
    schema.upgrade(database_url)
    assert schema.schema_state(database_url).current == schema.shipped_head()
    settings = settings_for(database_url, tmp_path)
    before = what_reports_show(settings)
    assert before["editions"] == {1: {"sent": 1}}
    report = prune(settings, now=datetime.fromisoformat("2026-06-01T00:00:00+00:00"))
    assert report.deliveries == {DeliveryStatus.SENT: 1}
    assert what_reports_show(settings)["editions"] == {1: {"sent": 1}}
    assert sends.send_listing(settings)["items"][0]["sent"] == 1


def test_the_prune_command_shows_what_would_go_then_prunes(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from digest.cli import app
    from digest.config import get_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_BROKER_URL", raising=False)
    env = {
        "DIGEST_DATABASE_URL": ledger.settings.database_url,
        "DIGEST_SECRET_KEY": ledger.settings.secret_key,
        "DIGEST_PRUNE_BATCH_SIZE": "4",
        "COLUMNS": "120",
    }
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        dry = runner.invoke(app, ["prune", "--dry-run"], env=env)
        assert dry.exit_code == 0, dry.output
        assert "Would prune" in dry.stdout
        rows = {
            cells[0]: cells[1]
            for line in dry.stdout.splitlines()
            if len(cells := [c.strip() for c in line.split("│") if c.strip()]) == 3
        }
        assert rows["deliveries sent"] == "5" and rows["deliveries in all"] == "10"
        assert "deliveries would be left: 11" in dry.stdout
        assert len(ledger_ids(ledger.settings)) == 21  # nothing changed

        done = runner.invoke(app, ["prune", "--json"], env=env)
        assert done.exit_code == 0, done.output
        report = json.loads(done.stdout)
        assert report["deliveries_folded"] == 10 and report["deliveries_left"] == 11
        assert report["batches"] >= 3
        assert len(ledger_ids(ledger.settings)) == 11
    finally:
        get_settings.cache_clear()
