"""Faults with real processes: a Celery worker killed mid-send, an SMTP server down at
first, redis-server stopped and started again mid-send. Everyone receives the digest."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_sink import Sink, free_port
from sqlalchemy import insert, select
from test_deferral import LateServer

from digest.core.vocabulary import SubscriberStatus, utcnow
from digest.store import db
from digest.store.models import Article, Delivery, Source, Subscriber

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def add_readers(database_url: str, count: int) -> list[str]:
    addresses = [f"reader{i:05d}@example.org" for i in range(count)]
    now = utcnow()
    with db.session_scope(database_url) as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": a,
                    "status": SubscriberStatus.CONFIRMED,
                    "frequency": "daily",
                    "hour": 7,
                    "timezone": "UTC",
                    "created_at": now,
                    "confirmed_at": now,
                    "last_article_id": 0,
                }
                for a in addresses
            ],
        )
    return addresses


def received(sink: Sink) -> Counter[str]:
    with sink.lock:
        return Counter(r for _, rcpts in sink.envelopes for r in rcpts)


def ledger(database_url: str) -> Counter[str]:
    with db.session_scope(database_url) as session:
        return Counter(str(s) for s in session.scalars(select(Delivery.status)))


def wait_for_everyone(
    sink: Sink, addresses: list[str], database_url: str, timeout: float = 120
) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while set(received(sink)) != set(addresses):
        assert time.monotonic() < deadline, (
            f"{len(set(received(sink)))} of {len(addresses)}; ledger {ledger(database_url)}"
        )
        time.sleep(0.2)
    return received(sink)


def task_errors(folder: Path) -> list[str]:
    """Tasks that raised in the workers' logs (a database connection shared by two worker
    processes showed up there first: a batch sent and never recorded)."""
    return [
        line
        for log in sorted(folder.glob("worker*.log"))
        for line in log.read_text().splitlines()
        if "raised unexpected" in line
    ]


def test_a_worker_killed_mid_send_loses_nobody(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    cli, smtp, samples_url, env, start_worker, tmp_path
) -> None:
    sink, _ = smtp
    # A claim timeout well past any pause of a live sender on a loaded machine: only the
    # dead worker's copies look abandoned, so duplicates are bounded by what was in flight
    # at the kill. (A live sender that stalls past it would lose its copies to another and
    # send at most the one in its hands: test_concurrent_delivery.)
    env["DIGEST_CLAIM_TIMEOUT"] = "10"
    first = start_worker()
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    cli("gather")
    addresses = add_readers(env["DIGEST_DATABASE_URL"], 600)
    queued = json.loads(cli("send", "--now", "--no-wait", "--json").stdout)
    assert queued["planned"] == 600
    deadline = time.monotonic() + 60
    while sum(received(sink).values()) < 100:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, mid-batch
    first.wait(10)
    at_kill = sum(received(sink).values())
    assert at_kill < 600, "the send finished before the kill: nothing was tested"

    start_worker()
    # The next send plans nothing new and picks up what the dead worker left.
    result = cli("send", "--now", "--json")
    summary = json.loads(result.stdout)
    assert summary["failed"] == 0, summary
    print(result.stdout, result.stderr)
    got = wait_for_everyone(sink, addresses, env["DIGEST_DATABASE_URL"])
    duplicates = sum(got.values()) - len(addresses)
    # At most the copies in flight at the kill: two pool processes, a batch of 100 each.
    assert duplicates <= 2 * 100, duplicates
    assert task_errors(tmp_path) == []


def test_smtp_down_at_first_under_celery_fails_nothing(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    cli, samples_url, env, start_worker, tmp_path
) -> None:
    server = LateServer()
    env["DIGEST_SMTP_URL"] = server.url
    env["DIGEST_RETRY_BASE_DELAY"] = "0.5"
    env["DIGEST_RETRY_MAX_DELAY"] = "1"
    # Nobody dies here: a claim timeout a loaded machine cannot outrun by accident (the
    # takeover of a stalled sender's copies is tested in test_concurrent_delivery).
    env["DIGEST_CLAIM_TIMEOUT"] = "10"
    start_worker()
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    cli("gather")
    addresses = add_readers(env["DIGEST_DATABASE_URL"], 200)
    env["DIGEST_SEND_RETRY_WAIT"] = "30"
    server.start_after(4.0)
    try:
        result = cli("send", "--now", "--json")
        summary = json.loads(result.stdout)
        assert (summary["sent"], summary["failed"]) == (200, 0), summary
        assert received(server.sink) == Counter(addresses)
        assert task_errors(tmp_path) == []
    finally:
        time.sleep(0.2)
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A redis-server of this test's own (it is stopped mid-test), without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    start()
    yield f"redis://127.0.0.1:{port}/0", start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_redis_stopped_and_started_again_mid_send(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    cli, smtp, samples_url, env, start_worker, own_redis, tmp_path
) -> None:
    sink, _ = smtp
    url, start_redis = own_redis
    env["DIGEST_BROKER_URL"] = url
    env["DIGEST_CLAIM_TIMEOUT"] = "4"  # the sweep's pace; longer than a live sender pauses
    # Ten batches: most of them are still in Redis's queue when it goes.
    env["DIGEST_DELIVERY_BATCH_SIZE"] = "100"
    worker = start_worker()
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    cli("gather")
    addresses = add_readers(env["DIGEST_DATABASE_URL"], 1000)
    send = subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--now", "--json"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while sum(received(sink).values()) < 50:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    subprocess.run(["redis-cli", "-u", url, "shutdown", "nosave"], capture_output=True)
    time.sleep(2)
    start_redis()  # type: ignore[operator]  # a fixture that is a callable
    # Celery's worker may itself die of the lost connection (kombu's Redis transport can
    # raise on a channel it has just closed: "Unrecoverable error"); its supervisor starts
    # it again, as the compose file's restart policy does. The copies wait in the ledger.
    deadline = time.monotonic() + 180
    while send.poll() is None and time.monotonic() < deadline:
        if worker.poll() is not None:
            worker = start_worker()
        with contextlib.suppress(subprocess.TimeoutExpired):
            send.wait(timeout=0.5)
    out, errors = send.communicate(timeout=5)
    got = wait_for_everyone(sink, addresses, env["DIGEST_DATABASE_URL"])
    assert send.returncode == 0, out + errors
    assert "Traceback" not in errors
    # The batches Redis lost with its queue were queued again, and the CLI said so.
    assert "queued" in errors and "again" in errors, errors
    assert sum(got.values()) - len(addresses) <= 2 * 100


def test_send_gives_up_waiting_without_progress_and_says_so(cli, env) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    # No worker runs: nothing moves. The CLI says what it waits for and exits 1; the copies
    # stay pending in the ledger for a worker, beat's sweep or the next send.
    env["DIGEST_SEND_WAIT_TIMEOUT"] = "2"
    with db.session_scope(env["DIGEST_DATABASE_URL"]) as session:
        source = Source(url="https://example.org/feed.xml", name="Kestrel Vale Herald")
        session.add(source)
        session.flush()
        session.add(
            Article(
                source_id=source.id,
                key="ferry-1",
                link="https://example.org/ferry-1",
                title="Ferry timetable change",
                body_text="The winter ferry leaves half an hour later.",
                summary="The winter ferry leaves half an hour later.",
                first_seen_at=utcnow(),
            )
        )
    add_readers(env["DIGEST_DATABASE_URL"], 5)
    result = cli("send", "--now", check=False)
    assert result.returncode == 1
    said = " ".join((result.stdout + result.stderr).split())
    assert "no progress for 2 s" in said and "5 pending" in said, said
    assert "Traceback" not in result.stderr
