"""Two worker processes given the same deliveries at the same moment: each copy goes out once.

This is what happens when a task is handed out twice (a broker's visibility timeout, a retry
racing its original): both processes walk the same ids and race to claim each row. The
claim is one atomic UPDATE ... WHERE status = 'pending', so whichever commits first wins
and the other sees zero rows changed, on SQLite (one writer at a time) and on PostgreSQL
(the second UPDATE waits for the row lock, then re-reads the row and no longer matches).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from smtp_sink import Sink
from sqlalchemy import select

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.mail import SmtpTransport
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Article, Delivery, Source

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COPIES = 300

# Each worker imports everything and connects, says "ready", waits for "go" on stdin, then
# delivers every id it was given and prints its report.
WORKER = """
import json, sys
from digest import pipeline
from digest.store import db
from digest.config import Settings
from digest.mail import SmtpTransport

settings = Settings()
ids = json.loads(sys.argv[1])
with db.get_engine(settings.database_url).connect():
    pass
print("ready", flush=True)
sys.stdin.readline()
transport = SmtpTransport(settings.smtp_url)
try:
    report = pipeline.deliver_batch(settings, ids, transport)
finally:
    transport.close()
print(json.dumps({"sent": report.sent, "skipped": report.skipped,
                  "failed": report.failed, "deferred": list(report.deferred)}), flush=True)
"""


def seed_send(database_url: str, smtp_url: str, count: int, **extra: object) -> Settings:
    """Settings, one article and `count` confirmed readers (reader000@...)."""
    settings = Settings(
        database_url=database_url,
        smtp_url=smtp_url,
        base_url="https://news.example.org",
        secret_key="race-secret",
        DIGEST_FROM="Digest <digest@news.example.org>",
        templates_dir=ROOT / "templates",
        **extra,  # type: ignore[arg-type]  # keyword arguments from a dict
    )
    schema.upgrade(database_url)
    with db.session_scope(database_url) as session:
        source = Source(url="https://example.org/feed.xml", name="Harbour News")
        session.add(source)
        session.flush()
        session.add(
            Article(
                source_id=source.id,
                key="harbour-1",
                link="https://example.org/harbour",
                title="Harbour expansion approved",
                body_text="The council approved the harbour expansion.",
                summary="The council approved the harbour expansion.",
                first_seen_at=utcnow(),
            )
        )
        for i in range(count):
            add_subscriber(session, f"reader{i:03d}@example.org", confirmed=True)
    return settings


def test_two_processes_delivering_the_same_copies_send_each_once(
    database_url: str, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    sink, smtp_url = smtp
    settings = seed_send(database_url, smtp_url, COPIES)
    addresses = [f"reader{i:03d}@example.org" for i in range(COPIES)]
    plan = pipeline.plan_send(settings, kind="now")
    assert len(plan.delivery_ids) == COPIES

    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        PYTHONPATH=str(ROOT),
        DIGEST_DATABASE_URL=database_url,
        DIGEST_SMTP_URL=smtp_url,
        DIGEST_BASE_URL=settings.base_url,
        DIGEST_SECRET_KEY=settings.secret_key,
        DIGEST_FROM=settings.from_address,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(plan.delivery_ids)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line.strip() == "ready", line + (worker.stderr.read() if worker.stderr else "")
        for worker in workers:  # both start at once
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=180) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]

    assert [r["failed"] for r in reports] == [[], []]
    assert [r["deferred"] for r in reports] == [[], []]
    assert sum(r["sent"] for r in reports) == COPIES
    assert sum(r["skipped"] for r in reports) == COPIES  # each lost every race it did not win
    received = Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)
    assert received == Counter(addresses)  # every subscriber exactly one message
    with db.session_scope(database_url) as session:
        rows = list(session.scalars(select(Delivery)))
        assert len(rows) == COPIES
        assert {row.status for row in rows} == {DeliveryStatus.SENT}
        assert {row.attempts for row in rows} == {1}  # claimed once, by one of the two
        assert len({row.message_id for row in rows}) == COPIES


def test_a_sender_that_stalls_past_the_claim_timeout_sends_none_of_what_was_taken_over(
    database_url: str, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    # Sender A claims the batch, then stalls before its first copy (a slow first render
    # on a loaded machine) for longer than the claim timeout. Sender B (the sweep) takes the
    # copies over and sends them. When A wakes it must send none of them and must not
    # overwrite B's record: every subscriber gets exactly one message.
    sink, smtp_url = smtp
    settings = seed_send(database_url, smtp_url, 6, claim_timeout=0.5)
    addresses = [f"reader{i:03d}@example.org" for i in range(6)]
    ids = pipeline.plan_send(settings, kind="now").delivery_ids
    reports: dict[str, pipeline.DeliveryReport] = {}

    def stalling_compose(*args):  # type: ignore[no-untyped-def]  # a stand-in with the patched function's arguments
        if "B" not in reports:
            time.sleep(settings.claim_timeout * 1.5)  # A's claim now looks abandoned
            other = SmtpTransport(smtp_url)
            try:
                reports["B"] = pipeline.deliver_batch(settings, ids, other)
            finally:
                other.close()
        return pipeline.compose(*args)

    transport = SmtpTransport(smtp_url)
    try:
        reports["A"] = pipeline.deliver_batch(settings, ids, transport, compose=stalling_compose)
    finally:
        transport.close()

    assert (reports["B"].sent, reports["B"].skipped) == (6, 0)
    assert (reports["A"].sent, reports["A"].skipped, reports["A"].failed) == (0, 6, [])
    received = Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)
    assert received == Counter(addresses)
    with db.session_scope(database_url) as session:
        rows = list(session.scalars(select(Delivery)))
        assert {row.status for row in rows} == {DeliveryStatus.SENT}
        assert {row.attempts for row in rows} == {2}  # claimed by A, taken over by B
