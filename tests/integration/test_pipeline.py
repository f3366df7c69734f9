"""The stages joined, run in-process: sample sources over loopback HTTP, SQLite or
PostgreSQL, outbox or a real SMTP server. No broker: this is the path `make run` takes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.mail import OutboxTransport, SmtpTransport
from digest.runtime.samples import seed_samples, serve_samples
from digest.services.sources import add_source
from digest.services.subscribers import add_subscriber, find_subscriber, unsubscribe
from digest.store import db, schema
from digest.store.models import Article, Delivery, Edition, Send, Source

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ARTICLES = 18  # 7 RSS + 5 Atom + 4 JSON Feed + 2 article pages


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    s = Settings(
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
        base_url="https://news.example.org",
        secret_key="test-secret",
        DIGEST_FROM="Digest <digest@news.example.org>",
        templates_dir=ROOT / "templates",
        retry_base_delay=0,  # retries go round at once
    )
    schema.upgrade(s.database_url)
    return s


@pytest.fixture
def samples(settings: Settings) -> Iterator[str]:
    with serve_samples() as base:
        seed_samples(settings.database_url, base, subscribers=False)
        yield base


def subscribe(settings: Settings, email: str, topics: list[str] | None = None) -> int:
    with db.session_scope(settings.database_url) as session:
        return add_subscriber(session, email, confirmed=True, topics=topics).id


def outbox_messages(settings: Settings) -> list:  # type: ignore[type-arg]
    return [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted(settings.outbox_dir.glob("*.eml"))
    ]


def send_now(settings: Settings, **collaborators: Any) -> pipeline.SendPlan:
    plan = pipeline.plan_send(settings, kind="now")
    transport = OutboxTransport(settings.outbox_dir)
    pipeline.deliver_in_process(settings, plan.delivery_ids, transport, **collaborators)
    return plan


def test_gather_stores_clean_articles_and_dedupes_on_the_next_run(settings, samples) -> None:  # type: ignore[no-untyped-def]
    results = pipeline.gather_all(settings)
    assert [r.error for r in results] == [None] * 5
    assert sum(r.new for r in results) == SAMPLE_ARTICLES

    with db.session_scope(settings.database_url) as session:
        articles = list(session.scalars(select(Article)))
        for a in articles:
            assert a.summary, a.title
            for junk in ("Skip to content", "Read also", "Latest"):
                assert junk not in a.summary
                assert junk not in a.body_text
            assert "<script" not in a.content_html and "onerror" not in a.content_html
            assert "javascript:" not in a.content_html
        hostile = next(a for a in articles if "heat-pump" in a.title)
        assert "alert" not in hostile.content_html

    again = pipeline.gather_all(settings)
    assert sum(r.new for r in again) == 0
    assert sum(r.seen for r in again) == SAMPLE_ARTICLES


def test_a_broken_source_records_its_error_and_spares_the_others(settings, samples) -> None:  # type: ignore[no-untyped-def]
    with db.session_scope(settings.database_url) as session:
        add_source(session, f"{samples}/missing.rss", name="Missing")
        add_source(session, f"{samples}/subscribers.json", name="Not a feed")
        add_source(session, "http://127.0.0.1:9/feed.xml", name="Closed port")
    results = {r.name: r for r in pipeline.gather_all(settings)}
    assert "404" in (results["Missing"].error or "")
    assert results["Not a feed"].error
    assert "127.0.0.1:9" in (results["Closed port"].error or "")
    assert sum(r.new for r in results.values()) == SAMPLE_ARTICLES
    with db.session_scope(settings.database_url) as session:
        broken = session.scalar(select(Source).where(Source.name == "Missing"))
        assert broken is not None and broken.error_count == 1 and "404" in (broken.last_error or "")
        assert broken.last_ok_at is None


def test_send_now_gives_each_subscriber_their_topics_once(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    everyone = subscribe(settings, "all@example.org")
    culture = subscribe(settings, "culture@example.org", ["culture"])
    culture_too = subscribe(settings, "culture2@example.org", ["Culture"])

    plan = send_now(settings)
    assert len(plan.delivery_ids) == 3
    # Identical content is rendered once and shared.
    assert len(plan.editions) == 2
    messages = {m["To"].addresses[0].addr_spec: m for m in outbox_messages(settings)}
    assert set(messages) == {"all@example.org", "culture@example.org", "culture2@example.org"}

    with db.session_scope(settings.database_url) as session:
        culture_ids = set(
            session.scalars(
                select(Article.id)
                .join(Source)
                .where(Source.name.in_(["Culture Notes", "Library page"]))
            )
        )
        editions = {e.id: e for e in session.scalars(select(Edition))}
        by_sub = {
            d.subscriber_id: editions[d.edition_id] for d in session.scalars(select(Delivery))
        }
    assert set(by_sub[culture].article_ids) == culture_ids
    assert by_sub[culture] is by_sub[culture_too]
    assert len(by_sub[everyone].article_ids) == SAMPLE_ARTICLES
    html = messages["culture@example.org"].get_body(("html",)).get_content()
    assert "Jazz Festival" in html and "tram" not in html.lower().split("latest")[0]

    # Nothing new: nobody is mailed again.
    again = send_now(settings)
    assert again.delivery_ids == [] and again.nothing_new == 3
    assert len(outbox_messages(settings)) == 3


def test_only_new_articles_go_out_in_the_next_digest(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    subscribe(settings, "reader@example.org")
    send_now(settings)
    with db.session_scope(settings.database_url) as session:
        source = session.scalar(select(Source).where(Source.name == "Harbour Log"))
        assert source is not None
        fresh = Article(
            source_id=source.id,
            key="fresh-1",
            link="https://harbour.example.org/fresh",
            title="Harbour crane arrives by sea",
            summary="The first electric crane arrived on a barge on Friday morning.",
            first_seen_at=utcnow(),
        )
        session.add(fresh)
    plan = send_now(settings)
    assert len(plan.delivery_ids) == 1
    with db.session_scope(settings.database_url) as session:
        edition = session.get(Edition, max(plan.editions))
        assert edition is not None and edition.article_ids == [fresh.id]
        assert "Harbour crane arrives by sea" in edition.subject
    assert len(outbox_messages(settings)) == 2


def test_dry_run_writes_nothing(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    subscribe(settings, "a@example.org")
    subscribe(settings, "b@example.org", ["harbour"])
    plan = pipeline.plan_send(settings, kind="now", dry_run=True)
    assert plan.send_id is None and plan.delivery_ids == []
    assert sorted(c.email for c in plan.copies) == ["a@example.org", "b@example.org"]
    assert {c.email: c.articles for c in plan.copies}["a@example.org"] == SAMPLE_ARTICLES
    with db.session_scope(settings.database_url) as session:
        for table in (Send, Edition, Delivery):
            assert session.scalar(select(func.count()).select_from(table)) == 0
    assert not settings.outbox_dir.exists()
    # The dry run's subjects are the ones the real send then uses.
    real = pipeline.plan_send(settings, kind="now")
    assert {c.email: c.subject for c in real.copies} == {c.email: c.subject for c in plan.copies}


def test_a_retried_batch_never_mails_anyone_twice(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    for i in range(3):
        subscribe(settings, f"r{i}@example.org")
    plan = pipeline.plan_send(settings, kind="now")
    transport = OutboxTransport(settings.outbox_dir)
    first = pipeline.deliver_batch(settings, plan.delivery_ids, transport)
    second = pipeline.deliver_batch(settings, plan.delivery_ids, transport)
    assert first.sent == 3 and second.sent == 0 and second.skipped == 3
    # Planning the same content again adds no ledger rows.
    assert pipeline.plan_send(settings, kind="now").delivery_ids == []
    assert len(outbox_messages(settings)) == 3


def test_who_leaves_between_planning_and_sending_gets_nothing(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    subscribe(settings, "stays@example.org")
    leaves = subscribe(settings, "leaves@example.org")
    plan = pipeline.plan_send(settings, kind="now")
    with db.session_scope(settings.database_url) as session:
        unsubscribe(session, leaves)
    report = pipeline.deliver_batch(
        settings, plan.delivery_ids, OutboxTransport(settings.outbox_dir)
    )
    assert report.sent == 1 and report.skipped == 1
    assert [m["To"].addresses[0].addr_spec for m in outbox_messages(settings)] == [
        "stays@example.org"
    ]
    assert pipeline.send_status(settings, plan.send_id or 0) == {
        DeliveryStatus.SENT: 1,
        DeliveryStatus.SKIPPED: 1,
    }


def test_scheduled_send_only_reaches_subscribers_whose_hour_has_come(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    now = utcnow()
    # Signed up before the last hour's slot but after yesterday's later slot.
    created = now - timedelta(hours=2)
    with db.session_scope(settings.database_url) as session:
        due_hour = (now - timedelta(hours=1)).hour
        later_hour = (now + timedelta(hours=2)).hour
        add_subscriber(session, "due@example.org", confirmed=True, hour=due_hour, now=created)
        add_subscriber(session, "later@example.org", confirmed=True, hour=later_hour, now=created)
        add_subscriber(session, "pending@example.org", confirmed=False, hour=due_hour, now=created)
    plan = pipeline.plan_send(settings, kind="due", now=now)
    assert [c.email for c in plan.copies] == ["due@example.org"]


def test_temporary_smtp_failure_is_retried_and_a_refused_recipient_bounced(
    settings, samples, smtp
) -> None:  # type: ignore[no-untyped-def]
    sink, url = smtp
    sink.replies["later@example.org"] = ["451 4.7.1 greylisted", "451 4.7.1 greylisted"]
    sink.replies["gone@example.org"] = ["550 5.1.1 no such user"]
    pipeline.gather_all(settings)
    for address in ("ok@example.org", "later@example.org", "gone@example.org"):
        subscribe(settings, address)
    plan = pipeline.plan_send(settings, kind="now")
    transport = SmtpTransport(url)
    report = pipeline.deliver_in_process(settings, plan.delivery_ids, transport)
    transport.close()
    # A 550 to RCPT is a bounce: one attempt, the subscriber suppressed, nothing failed.
    assert (report.sent, report.bounced, report.failed, report.deferred) == (2, 1, [], {})
    assert sorted(r for _, rcpts in sink.envelopes for r in rcpts) == [
        "later@example.org",
        "ok@example.org",
    ]
    with db.session_scope(settings.database_url) as session:
        later = find_subscriber(session, "later@example.org")
        row = session.scalar(select(Delivery).where(Delivery.subscriber_id == later.id))
        assert row is not None and row.attempts == 3 and row.status == DeliveryStatus.SENT
        gone = find_subscriber(session, "gone@example.org")
        assert gone.status == "bounced"
        row = session.scalar(select(Delivery).where(Delivery.subscriber_id == gone.id))
        assert row is not None and (row.status, row.attempts) == (DeliveryStatus.BOUNCED, 1)
        assert "550 5.1.1 no such user" in (row.last_error or "")


def test_preview_renders_without_writing(settings, samples) -> None:  # type: ignore[no-untyped-def]
    assert pipeline.preview(settings) is None
    pipeline.gather_all(settings)
    # The latest few: "Read also" links the earlier sample articles on the same stories.
    latest_few = settings.model_copy(update={"max_articles": 2})
    subject, html, text = pipeline.preview(latest_few) or ("", "", "")
    assert subject.startswith("Digest, ") and "Read also" in html and "Read also:" in text
    assert len(html.encode()) < 102 * 1024
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 0


def test_a_copy_left_unsent_by_a_stopped_send_is_taken_over_later(settings, samples) -> None:  # type: ignore[no-untyped-def]
    pipeline.gather_all(settings)
    subscribe(settings, "patient@example.org")
    abandoned = pipeline.plan_send(settings, kind="now")  # the process stops before sending
    assert len(abandoned.delivery_ids) == 1

    soon = pipeline.plan_send(settings, kind="now")
    assert soon.delivery_ids == [] and soon.in_flight == 1  # maybe still on its way

    later = utcnow() + timedelta(seconds=settings.claim_timeout + 1)
    taken_over = pipeline.plan_send(settings, kind="now", now=later)
    assert taken_over.delivery_ids == abandoned.delivery_ids and taken_over.in_flight == 0
    pipeline.deliver_in_process(
        settings, taken_over.delivery_ids, OutboxTransport(settings.outbox_dir)
    )
    assert len(outbox_messages(settings)) == 1
    assert pipeline.send_status(settings, taken_over.send_id or 0) == {DeliveryStatus.SENT: 1}


def test_an_entry_that_breaks_processing_is_left_out_and_reported(settings, samples) -> None:  # type: ignore[no-untyped-def]
    def choke_on_jazz(entry, source_id, now):  # type: ignore[no-untyped-def]
        if "Jazz Festival" in entry.content_html:
            raise ValueError("cannot summarize this")
        return pipeline.article_from_entry(entry, source_id, now)

    results = {r.name: r for r in pipeline.gather_all(settings, process=choke_on_jazz)}
    culture = results["Culture Notes"]
    assert culture.new == 2  # its two other entries are stored
    assert culture.error is not None
    assert culture.error.startswith("2 entries left out (2 broke processing): ")
    assert "ValueError: cannot summarize this" in culture.error
    assert f"digest sources show {culture.source_id}` lists them all" in culture.error
    assert sum(r.new for r in results.values()) == SAMPLE_ARTICLES - 2
    assert [name for name, r in results.items() if r.error] == ["Culture Notes"]

    # Once the bug is gone, the next gather picks the two up: nothing was lost.
    again = {r.name: r for r in pipeline.gather_all(settings)}
    assert again["Culture Notes"].new == 2 and again["Culture Notes"].error is None


def test_removing_a_source_and_a_subscriber_takes_their_rows_along(settings, samples) -> None:  # type: ignore[no-untyped-def]
    from digest.services.sources import remove_source
    from digest.services.subscribers import remove_subscriber

    pipeline.gather_all(settings)
    subscribe(settings, "leaving@example.org")
    send_now(settings)
    with db.session_scope(settings.database_url) as session:
        courier = session.scalar(select(Source).where(Source.name == "Harwick Courier"))
        assert courier is not None
        remove_source(session, str(courier.id))
        remove_subscriber(session, "leaving@example.org")
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == SAMPLE_ARTICLES - 7
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_a_bug_met_on_one_copy_fails_that_copy_only(settings, samples) -> None:  # type: ignore[no-untyped-def]
    def choke_on_zed(settings, rendered, sub, message_id, now):  # type: ignore[no-untyped-def]
        if sub.name == "Zed":
            raise KeyError("placeholder")
        return pipeline.compose(settings, rendered, sub, message_id, now)

    pipeline.gather_all(settings)
    with db.session_scope(settings.database_url) as session:
        for email, name in (
            ("a@example.org", "Ann"),
            ("z@example.org", "Zed"),
            ("b@example.org", "Bo"),
        ):
            add_subscriber(session, email, name=name, confirmed=True)
    plan = send_now(settings, compose=choke_on_zed)
    report = pipeline.send_status(settings, plan.send_id or 0)
    assert report == {DeliveryStatus.SENT: 2, DeliveryStatus.FAILED: 1}
    (failure,) = pipeline.failed_deliveries(settings, plan.send_id or 0)
    assert failure == ("z@example.org", "unexpected KeyError: 'placeholder'")
    assert len(outbox_messages(settings)) == 2


def test_taking_over_a_copy_of_someone_not_due_counts_nobody_in_flight(settings, samples) -> None:  # type: ignore[no-untyped-def]
    # A send --now that is never delivered, then, after the claim timeout, a scheduled send
    # before the subscriber's hour has come: the abandoned copy is taken over, and the
    # report counts it as such (it once said in_flight = -1).
    pipeline.gather_all(settings)
    now = utcnow()
    with db.session_scope(settings.database_url) as session:
        later_hour = (now + timedelta(hours=2)).hour
        created = now - timedelta(hours=2)
        add_subscriber(session, "later@example.org", confirmed=True, hour=later_hour, now=created)
    abandoned = pipeline.plan_send(settings, kind="now", now=now)
    after_timeout = now + timedelta(seconds=settings.claim_timeout + 1)
    due = pipeline.plan_send(settings, kind="due", now=after_timeout)
    assert due.in_flight == 0
    assert due.taken_over == 1 and due.delivery_ids == abandoned.delivery_ids
    assert due.copies == [] and due.nothing_new == 0
