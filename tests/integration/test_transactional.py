"""Confirmation and welcome mails through a real SMTP server: a 4xx is tried again, a
5xx or too many 4xx fail that mail with its last error, and nobody gets one twice."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from smtp_sink import Sink

from digest.config import Settings
from digest.core.vocabulary import MailKind, MailStatus, SendKind, utcnow
from digest.mail import SmtpTransport
from digest.pipeline.transactional import (
    MAX_ATTEMPTS,
    due_mails,
    queue_mail,
    send_mail_in_process,
)
from digest.runtime import dispatch
from digest.runtime.dispatch import InProcess
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import TransactionalMail

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    s = Settings(
        database_url=database_url,
        secret_key="transactional-secret",
        templates_dir=ROOT / "templates",
        base_url="https://news.example.org",
        DIGEST_FROM="Harwick Digest <digest@news.example.org>",
        retry_base_delay=0,
    )
    schema.upgrade(s.database_url)
    return s


def queued(settings: Settings, email: str) -> int:
    with db.session_scope(settings.database_url) as session:
        sub = add_subscriber(session, email, name="Tam")
        return queue_mail(session, settings, sub, MailKind.CONFIRM)


def deliver(settings: Settings, mail_id: int, url: str) -> tuple[MailStatus | None, list[float]]:
    waits: list[float] = []
    transport = SmtpTransport(url)
    try:
        status = send_mail_in_process(settings, mail_id, transport, sleep=waits.append)
    finally:
        transport.close()
    return status, waits


def stored(settings: Settings, mail_id: int) -> TransactionalMail:
    with db.session_scope(settings.database_url) as session:
        return session.get_one(TransactionalMail, mail_id)


def test_a_greylisted_confirmation_is_tried_again_and_arrives_once(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    sink.replies["tam@example.org"] = ["451 4.7.1 greylisted", "451 4.7.1 greylisted"]
    mail_id = queued(settings, "tam@example.org")
    status, waits = deliver(settings, mail_id, url)
    assert status == MailStatus.SENT and len(waits) == 2
    row = stored(settings, mail_id)
    assert (row.attempts, row.status) == (3, MailStatus.SENT)
    [message] = sink.messages
    assert message["Subject"].startswith("Please confirm") and "/confirm/" in str(
        message.get_body(("plain",)).get_content()
    )
    # Sending the same mail again sends nothing: it is settled.
    assert deliver(settings, mail_id, url)[0] is None and len(sink.messages) == 1


def test_a_4xx_to_the_end_fails_the_mail_with_its_last_error(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    sink.replies["tam@example.org"] = ["452 4.2.2 mailbox full"] * (MAX_ATTEMPTS + 1)
    mail_id = queued(settings, "tam@example.org")
    status, waits = deliver(settings, mail_id, url)
    assert status == MailStatus.FAILED and len(waits) == MAX_ATTEMPTS - 1
    row = stored(settings, mail_id)
    assert row.attempts == MAX_ATTEMPTS and "452" in (row.last_error or "")
    assert sink.messages == []


def test_a_5xx_fails_at_once_and_spares_the_next_mail(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    sink.replies["gone@example.org"] = ["550 5.1.1 no such user"]
    gone, fine = queued(settings, "gone@example.org"), queued(settings, "fine@example.org")
    assert deliver(settings, gone, url) == (MailStatus.FAILED, [])
    assert "550" in (stored(settings, gone).last_error or "")
    assert deliver(settings, fine, url)[0] == MailStatus.SENT
    assert [m["To"].addresses[0].addr_spec for m in sink.messages] == ["fine@example.org"]


# --- the sweep: mails nobody is sending -----------------------------------------------------


def stuck(
    settings: Settings,
    email: str,
    status: MailStatus,
    *,
    age: float,
    claimed: float | None = None,
    attempts: int = 0,
) -> int:
    """A mail queued `age` seconds ago, last claimed (or handed out) `claimed` seconds ago."""
    mail_id = queued(settings, email)
    now = utcnow()
    with db.session_scope(settings.database_url) as session:
        row = session.get_one(TransactionalMail, mail_id)
        row.status, row.attempts = status, attempts
        row.created_at = now - timedelta(seconds=age)
        row.claimed_at = None if claimed is None else now - timedelta(seconds=claimed)
    return mail_id


def settled(settings: Settings, mail_id: int, timeout: float = 10) -> TransactionalMail:
    """The row once its sender has recorded the outcome (the mail arrives just before)."""
    deadline = time.monotonic() + timeout
    row = stored(settings, mail_id)
    while row.status in (MailStatus.PENDING, MailStatus.SENDING) and time.monotonic() < deadline:
        time.sleep(0.05)
        row = stored(settings, mail_id)
    return row


def recipients(sink: Sink) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in sink.messages)


def test_the_sweep_sends_what_a_lost_queue_or_a_dead_sender_left_once(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    sink, url = smtp
    # A grace of 20 s (the claim timeout, shorter than a minute); a retry of attempt 1 may
    # be drawn up to 60 s after it.
    settings = settings.model_copy(update={"claim_timeout": 20.0, "retry_base_delay": 60.0})
    lost = stuck(settings, "lost@example.org", MailStatus.PENDING, age=25)  # broker was down
    stuck(settings, "fresh@example.org", MailStatus.PENDING, age=5)  # its sender has it
    dead = stuck(settings, "dead@example.org", MailStatus.SENDING, age=90, claimed=30, attempts=1)
    stuck(settings, "busy@example.org", MailStatus.SENDING, age=90, claimed=10, attempts=1)
    overdue = stuck(
        settings, "late@example.org", MailStatus.PENDING, age=200, claimed=85, attempts=1
    )
    stuck(settings, "later@example.org", MailStatus.PENDING, age=200, claimed=70, attempts=1)
    stuck(settings, "done@example.org", MailStatus.SENT, age=300, claimed=300, attempts=1)
    stuck(settings, "over@example.org", MailStatus.FAILED, age=300, claimed=300, attempts=5)
    due = due_mails(settings)
    assert due == [lost, dead, overdue]
    dispatcher = InProcess(settings, transport=lambda: SmtpTransport(url))
    assert dispatcher.send_stuck_mails() == 3
    assert recipients(sink) == ["dead@example.org", "late@example.org", "lost@example.org"]
    for mail_id in due:
        assert stored(settings, mail_id).status == MailStatus.SENT
    assert stored(settings, dead).attempts == 2
    # A second sweeper that found the same mails before they went sends none of them again,
    # and the next sweep finds nothing (the fresh and busy ones are not due yet).
    for mail_id in due:
        dispatcher.send_transactional(mail_id)
    assert dispatcher.send_stuck_mails() == 0 and len(sink.messages) == 3


def test_a_send_of_everyone_hands_out_stuck_mails_in_this_process_too(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    # No workers, no beat: the web process that queued this confirmation died before
    # sending it. The next `digest run` (a send of everyone) sends it, once.
    sink, url = smtp
    stuck(settings, "orphan@example.org", MailStatus.PENDING, age=700)
    dispatcher = InProcess(settings, transport=lambda: SmtpTransport(url))
    outcome = dispatch.send(settings, dispatcher, kind=SendKind.NOW)
    assert outcome.mails_picked_up == 1 and recipients(sink) == ["orphan@example.org"]
    # Handed out: stamped, so a sweep right after leaves the row alone even if unsent.
    assert dispatch.send(settings, dispatcher, kind=SendKind.NOW).mails_picked_up == 0
    assert len(sink.messages) == 1


def test_on_the_workers_a_4xx_is_retried_and_beats_sweep_sends_stuck_mails(
    env: dict[str, str], worker, smtp: tuple[Sink, str]
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    sink, _ = smtp
    settings = Settings(
        database_url=env["DIGEST_DATABASE_URL"],
        secret_key=env["DIGEST_SECRET_KEY"],
        templates_dir=ROOT / "templates",
        base_url=env["DIGEST_BASE_URL"],
        claim_timeout=float(env["DIGEST_CLAIM_TIMEOUT"]),
        DIGEST_FROM=env["DIGEST_FROM"],
    )
    client = Celery("client", broker=env["DIGEST_BROKER_URL"])
    try:
        # The task: a greylisting server answers 451 once; the worker tries again later.
        sink.replies["grey@example.org"] = ["451 4.7.1 greylisted, come back later"]
        grey = queued(settings, "grey@example.org")
        client.send_task("digest.send_transactional", args=[grey])
        sink.wait_for(1)
        assert recipients(sink) == ["grey@example.org"]
        row = settled(settings, grey)
        assert (row.attempts, row.status) == (2, MailStatus.SENT)
        # Queued while the broker was down (no task), and claimed by a worker that died.
        lost = stuck(settings, "lost@example.org", MailStatus.PENDING, age=30)
        dead = stuck(settings, "dead@example.org", MailStatus.SENDING, age=30, claimed=30)
        # Beat's sweep, sent by name as beat sends it; twice, as two sweeps a minute apart
        # that both found the mails would.
        client.send_task("digest.sweep")
        client.send_task("digest.sweep")
        sink.wait_for(3)
        time.sleep(1.5)  # anything sent twice would have arrived by now
    finally:
        client.close()
    assert recipients(sink) == ["dead@example.org", "grey@example.org", "lost@example.org"]
    assert {settled(settings, i).status for i in (lost, dead)} == {MailStatus.SENT}


def test_digest_serve_without_workers_sends_what_a_dead_web_process_left(
    settings: Settings, smtp: tuple[Sink, str]
) -> None:
    from fastapi.testclient import TestClient

    from digest.web import create_app

    # The web process that queued these died before sending them; the one started after it
    # sweeps (no broker: no beat), one try each. A 4xx leaves its mail for a later sweep.
    sink, url = smtp
    settings = settings.model_copy(
        update={"smtp_url": url, "claim_timeout": 1.0, "retry_base_delay": 600.0}
    )
    sink.replies["grey@example.org"] = ["451 4.7.1 greylisted"]
    orphan = stuck(settings, "orphan@example.org", MailStatus.PENDING, age=30)
    grey = stuck(settings, "grey@example.org", MailStatus.PENDING, age=30)
    with TestClient(create_app(settings, sweep_interval=0.1)):
        sink.wait_for(1, timeout=10)
        row = settled(settings, orphan)
        deadline = time.monotonic() + 10
        while stored(settings, grey).attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # several sweeps more: the greylisted one waits for its backoff
    assert row.status == MailStatus.SENT and recipients(sink) == ["orphan@example.org"]
    late = stored(settings, grey)
    assert (late.status, late.attempts) == (MailStatus.PENDING, 1) and "451" in (
        late.last_error or ""
    )
