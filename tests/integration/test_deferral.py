"""Temporary failures defer copies, they do not fail them: a real SMTP server (aiosmtpd)
that is down for a while, or answers 451, and the in-process send that outlasts it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from smtp_sink import Sink, free_port
from sqlalchemy import func, select

from digest import pipeline, wiring
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendKind, utcnow
from digest.runtime import dispatch
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Article, Delivery, Send, Source

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class LateServer:
    """An SMTP server on a fixed port that may start later than the send."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def start_after(self, seconds: float) -> None:
        threading.Timer(seconds, self.start).start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def received(self) -> Counter[str]:
        return Counter(r for _, rcpts in self.sink.envelopes for r in rcpts)


@pytest.fixture
def server() -> Iterator[LateServer]:
    s = LateServer()
    yield s
    time.sleep(0.1)
    s.stop()


def make_settings(database_url: str, smtp_url: str, tmp_path: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "smtp_url": smtp_url,
        "outbox_dir": tmp_path / "outbox",
        "base_url": "https://news.example.org",
        "secret_key": "deferral-secret",
        "DIGEST_FROM": "Digest <digest@news.example.org>",
        "templates_dir": ROOT / "templates",
        "retry_base_delay": 0.3,
        "retry_max_delay": 1.0,
        "delivery_batch_size": 25,
    }
    values.update(extra)
    settings = Settings(**values)  # type: ignore[arg-type]  # keyword arguments from a dict
    schema.upgrade(database_url)
    return settings


def seed(settings: Settings, count: int, article: int = 1) -> list[str]:
    addresses = [f"reader{i:03d}@example.org" for i in range(count)]
    with db.session_scope(settings.database_url) as session:
        source = session.scalar(select(Source)) or Source(
            url="https://example.org/feed.xml", name="Kestrel Vale Herald"
        )
        session.add(source)
        session.flush()
        session.add(
            Article(
                source_id=source.id,
                key=f"ferry-{article}",
                link=f"https://example.org/ferry-{article}",
                title=f"Ferry timetable change {article}",
                body_text="The winter ferry leaves half an hour later.",
                summary="The winter ferry leaves half an hour later.",
                first_seen_at=utcnow(),
            )
        )
        for address in addresses:
            if article == 1:
                add_subscriber(session, address, confirmed=True)
    return addresses


def statuses(settings: Settings) -> Counter[DeliveryStatus]:
    with db.session_scope(settings.database_url) as session:
        return Counter(session.scalars(select(Delivery.status)))


def send_now(settings: Settings) -> dispatch.SendOutcome:
    return dispatch.send(settings, dispatch.InProcess(settings), kind=SendKind.NOW)


def test_smtp_down_at_first_defers_then_delivers_everything(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    settings = make_settings(database_url, server.url, tmp_path, send_retry_wait=30)
    addresses = seed(settings, 60)
    server.start_after(2.0)
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 60}
    assert server.received() == Counter(addresses)  # everyone once, nobody failed
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.max(Delivery.attempts))) >= 2


def test_451_for_one_recipient_in_five_all_delivered_after_retries(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    settings = make_settings(database_url, server.url, tmp_path, send_retry_wait=30)
    addresses = seed(settings, 50)
    for address in addresses[::5]:
        server.sink.replies[address] = ["451 4.7.1 greylisted", "451 4.7.1 greylisted"]
    server.start()
    seen: list[dispatch.Progress] = []
    outcome = dispatch.send(
        settings, dispatch.InProcess(settings), kind=SendKind.NOW, on_progress=seen.append
    )
    assert outcome.status == {DeliveryStatus.SENT: 50}
    # The progress bar counts each copy once, retries included, and never overshoots.
    assert max(p.done for p in seen) == seen[-1].done == 50
    assert {p.total for p in seen} == {50}
    assert server.received() == Counter(addresses)
    with db.session_scope(settings.database_url) as session:
        attempts = dict(session.execute(select(Delivery.subscriber_id, Delivery.attempts)).all())
    assert sorted(Counter(attempts.values()).items()) == [(1, 40), (3, 10)]


def test_a_deferred_copy_goes_with_the_next_send_and_only_sent_ones_count_delivered(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    # The send does not wait (retry wait 0): it defers, says when, and exits; the next
    # send, with nothing new planned, picks the deferred copies up.
    settings = make_settings(
        database_url, server.url, tmp_path, send_retry_wait=0, retry_base_delay=0.05
    )
    addresses = seed(settings, 10)
    first = send_now(settings)
    assert first.status == {DeliveryStatus.DEFERRED: 10}
    assert first.next_attempt is not None
    server.sink.replies[addresses[0]] = ["550 5.1.1 no such mailbox"]
    server.start()
    time.sleep(0.2)
    second = send_now(settings)
    assert second.plan.send_id is None and second.plan.in_flight == 10
    assert second.picked_up == 10
    # A 550 to RCPT is a hard bounce: that copy is bounced, its subscriber suppressed.
    assert second.status == {DeliveryStatus.SENT: 9, DeliveryStatus.BOUNCED: 1}
    assert pipeline.failed_deliveries(settings, first.plan.send_id or 0) == []
    # Planning again: the nine who were sent it have nothing new, and nobody counts as
    # delivered; the bounced address is no longer a recipient at all.
    again = pipeline.plan_send(settings, kind="now")
    assert (again.nothing_new, again.already_delivered, again.already_failed) == (9, 0, 0)
    assert again.planned == 0
    assert again.send_id is None
    assert server.received() == Counter(addresses[1:])


def test_the_in_process_send_defers_under_the_retry_policy_of_the_settings(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    # The workers' tasks build their policy from the same settings (test_retry_policy).
    settings = make_settings(
        database_url,
        server.url,
        tmp_path,
        send_retry_wait=0,
        retry_base_delay=1000,
        retry_max_delay=5000,
    )
    policy = wiring.retry_policy(settings)
    seed(settings, 4)
    outcome = send_now(settings)  # the server never starts: every copy meets a refusal
    assert outcome.status == {DeliveryStatus.DEFERRED: 4}
    with db.session_scope(settings.database_url) as session:
        rows = session.execute(select(Delivery.claimed_at, Delivery.next_attempt_at)).all()
    waits = [(after - claimed).total_seconds() for claimed, after in rows]
    # The first attempt failed: between half and all of the base delay, with jitter.
    assert all(policy.base_delay / 2 <= w <= policy.base_delay + 5 for w in waits), waits


def test_the_end_of_the_retry_window_fails_a_copy_with_its_last_error(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    settings = make_settings(database_url, server.url, tmp_path, retry_window=0)
    seed(settings, 3)
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.FAILED: 3}
    errors = [e for _, e in pipeline.failed_deliveries(settings, outcome.plan.send_id or 0)]
    assert all(e.startswith("gave up after 0 s of retries: cannot connect") for e in errors)


def test_a_dispatch_with_nobody_due_writes_no_send(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, "smtp://127.0.0.1:25", tmp_path)
    seed(settings, 3)
    now = utcnow()
    with db.session_scope(settings.database_url) as session:
        from digest.store.models import Subscriber

        for sub in session.scalars(select(Subscriber)):
            sub.hour = (now + timedelta(hours=3)).hour
            sub.created_at = sub.confirmed_at = now - timedelta(minutes=5)
    plan = pipeline.plan_send(settings, kind="due", now=now)
    assert plan.send_id is None and plan.delivery_ids == []
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Send)) == 0


def test_planning_reads_subscribers_in_ranges(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, "smtp://127.0.0.1:25", tmp_path)
    seed(settings, 25)
    plan = pipeline.plan_send(settings, kind="now", chunk_size=7)  # four ranges, one short
    assert plan.planned == 25 and len(plan.delivery_ids) == 25 and len(plan.editions) == 1


def test_a_streamed_plan_hands_out_each_range_once_it_is_written(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, "smtp://127.0.0.1:25", tmp_path)
    seed(settings, 25)
    handed: list[list[int]] = []

    def hand_out(ids: list[int]) -> None:
        # Another connection sees them: a worker could claim them now.
        with db.session_scope(settings.database_url) as session:
            found = session.scalars(select(Delivery.id).where(Delivery.id.in_(ids))).all()
        assert sorted(found) == ids
        handed.append(ids)

    plan = pipeline.plan_send(settings, kind="now", chunk_size=7, on_chunk=hand_out)
    assert [len(ids) for ids in handed] == [7, 7, 7, 4]
    assert sorted(i for ids in handed for i in ids) == plan.delivery_ids
    assert len(plan.delivery_ids) == 25


def test_a_streamed_plan_starts_with_a_short_range(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, "smtp://127.0.0.1:25", tmp_path)
    seed(settings, 150)
    handed: list[list[int]] = []
    plan = pipeline.plan_send(settings, kind="now", on_chunk=handed.append)  # ranges of 1,000
    first = pipeline.plan.FIRST_RANGE
    assert [len(ids) for ids in handed] == [first, 150 - first]
    assert sorted(i for ids in handed for i in ids) == plan.delivery_ids


def test_two_sends_at_once_mail_everyone_once(
    database_url: str, server: LateServer, tmp_path: Path
) -> None:
    settings = make_settings(database_url, server.url, tmp_path)
    addresses = seed(settings, 200)
    server.start()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SMTP_URL": server.url,
        "DIGEST_BASE_URL": settings.base_url,
        "DIGEST_SECRET_KEY": settings.secret_key,
        "DIGEST_FROM": settings.from_address,
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "--now", "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert server.received() == Counter(addresses)
    assert statuses(settings) == Counter({DeliveryStatus.SENT: 200})
