"""Confirmation and welcome mails through a real SMTP server: a 4xx is tried again, a
5xx or too many 4xx fail that mail with its last error, and nobody gets one twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from smtp_sink import Sink

from digest import db
from digest.config import Settings
from digest.mail import SmtpTransport
from digest.models import MailKind, MailStatus, TransactionalMail
from digest.pipeline.transactional import MAX_ATTEMPTS, queue_mail, send_mail_in_process
from digest.subscribers import add_subscriber

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
    db.upgrade(s.database_url)
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
