"""Outgoing webhooks against a real HTTP receiver on loopback: events written with the
change they report, signed, retried with backoff, every attempt recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, update

from digest.config import Settings
from digest.core import events
from digest.core.vocabulary import WebhookEventStatus, utcnow
from digest.pipeline import webhooks as webhook_delivery
from digest.runtime.dispatch import InProcess
from digest.services import webhooks
from digest.services.subscribers import add_subscriber, unsubscribe
from digest.store import db
from digest.store.models import Subscriber, WebhookAttempt, WebhookEvent

SECRET = "shared-webhook-secret"


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to give, then 204


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    box = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            box.requests.append((dict(self.headers.items()), body))
            self.send_response(box.answers.pop(0) if box.answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    box.url = f"http://127.0.0.1:{server.server_port}/hooks"
    yield box
    server.shutdown()


@pytest.fixture
def settings(migrated_database_url: str, receiver: Receiver) -> Settings:
    receiver.requests.clear()
    receiver.answers.clear()
    return Settings(database_url=migrated_database_url, retry_base_delay=30)


def test_an_unsubscribe_is_posted_signed_and_recorded(
    settings: Settings, receiver: Receiver
) -> None:
    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SUBSCRIBER_UNSUBSCRIBED], SECRET)
        sub = add_subscriber(session, "ana@example.org", confirmed=True)
        unsubscribe(session, sub.id)
    InProcess(settings).deliver_webhooks()
    ((headers, body),) = receiver.requests
    assert events.verify(
        SECRET, headers[events.TIMESTAMP_HEADER], body, headers[events.SIGNATURE_HEADER]
    )
    assert not events.verify(
        "another secret",
        headers[events.TIMESTAMP_HEADER],
        body,
        headers[events.SIGNATURE_HEADER],
    )
    event = json.loads(body)
    assert event["event"] == "subscriber.unsubscribed"
    assert event["data"]["email"] == "ana@example.org" and event["data"]["status"] == "unsubscribed"
    with db.session_scope(settings.database_url) as session:
        row = session.scalars(select(WebhookEvent)).one()
        assert row.status == WebhookEventStatus.DELIVERED and row.attempts == 1
        (attempt,) = session.scalars(select(WebhookAttempt)).all()
        assert attempt.status_code == 204 and attempt.error is None


def test_an_event_is_rolled_back_with_its_change(settings: Settings, receiver: Receiver) -> None:
    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SUBSCRIBER_UNSUBSCRIBED], SECRET)
        add_subscriber(session, "bo@example.org", confirmed=True)
    with pytest.raises(RuntimeError), db.session_scope(settings.database_url) as session:
        sub = session.scalars(select(Subscriber)).one()
        unsubscribe(session, sub.id)
        raise RuntimeError("the process dies before the commit")
    with db.session_scope(settings.database_url) as session:
        assert session.scalars(select(WebhookEvent)).all() == []
        assert session.scalars(select(Subscriber)).one().status == "confirmed"


def test_a_failing_receiver_is_retried_later_and_each_try_recorded(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.answers[:] = [500]
    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SUBSCRIBER_UNSUBSCRIBED], SECRET)
        unsubscribe(session, add_subscriber(session, "cy@example.org", confirmed=True).id)
    assert webhook_delivery.deliver_due(settings) == {"pending": 1}
    with db.session_scope(settings.database_url) as session:
        event = session.scalars(select(WebhookEvent)).one()
        # Backoff: not due again for about retry_base_delay (half to all of it).
        assert event.next_attempt_at is not None
        assert event.next_attempt_at >= utcnow() + timedelta(seconds=14)
        assert event.last_error == "HTTP 500"
    assert webhook_delivery.deliver_due(settings) == {}  # not due yet: nothing sent
    with db.session_scope(settings.database_url) as session:
        session.execute(update(WebhookEvent).values(next_attempt_at=utcnow()))
    assert webhook_delivery.deliver_due(settings) == {"delivered": 1}
    assert len(receiver.requests) == 2
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same event, re-signed
    with db.session_scope(settings.database_url) as session:
        codes = [
            a.status_code
            for a in session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))
        ]
        assert codes == [500, 204]


def test_bad_webhooks_are_refused_by_field(settings: Settings) -> None:
    from digest.errors import InvalidField

    with db.session_scope(settings.database_url) as session:
        with pytest.raises(InvalidField) as bad_event:
            webhooks.add_webhook(session, "https://hooks.example.org", ["subscriber.deleted"])
        with pytest.raises(InvalidField) as bad_url:
            webhooks.add_webhook(session, "ftp://hooks.example.org", ["send.finished"])
    assert bad_event.value.field == "events" and bad_url.value.field == "url"


def test_a_finished_send_is_reported_once(
    settings: Settings, receiver: Receiver, samples_url: str, tmp_path: Path
) -> None:
    from digest import pipeline
    from digest.core.vocabulary import SendKind
    from digest.runtime import dispatch
    from digest.services.sources import add_source

    settings = settings.model_copy(update={"outbox_dir": tmp_path / "outbox"})
    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SEND_FINISHED], SECRET)
        add_source(session, f"{samples_url}/harbour-log.atom")
        add_subscriber(session, "dee@example.org", confirmed=True)
        add_subscriber(session, "eli@example.org", confirmed=True)
    pipeline.gather_all(settings)
    outcome = dispatch.send(settings, InProcess(settings), kind=SendKind.NOW)
    InProcess(settings).deliver_webhooks()
    ((_, body),) = receiver.requests
    event = json.loads(body)
    assert event["event"] == "send.finished"
    assert event["data"] == {"send_id": outcome.plan.send_id, "kind": "now", "counts": {"sent": 2}}


def test_the_workers_deliver_events_too(
    env: dict[str, str], worker, cli, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    receiver.requests.clear()
    settings = Settings(
        database_url=env["DIGEST_DATABASE_URL"], broker_url=env["DIGEST_BROKER_URL"]
    )
    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SUBSCRIBER_UNSUBSCRIBED], SECRET)
        unsubscribe(session, add_subscriber(session, "fay@example.org", confirmed=True).id)
    # With a broker, `digest webhooks deliver` hands the due events to the workers.
    assert "handed out" in cli("webhooks", "deliver").stdout
    deadline = time.monotonic() + 30
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    ((headers, body),) = receiver.requests
    assert headers[events.EVENT_HEADER] == "subscriber.unsubscribed"
    assert events.verify(
        SECRET, headers[events.TIMESTAMP_HEADER], body, headers[events.SIGNATURE_HEADER]
    )


def test_the_web_process_delivers_events_without_workers(
    settings: Settings, receiver: Receiver
) -> None:
    from fastapi.testclient import TestClient

    from digest.web import create_app

    with db.session_scope(settings.database_url) as session:
        webhooks.add_webhook(session, receiver.url, [events.SUBSCRIBER_UNSUBSCRIBED], SECRET)
        unsubscribe(session, add_subscriber(session, "gil@example.org", confirmed=True).id)
    # No broker: `digest serve` sweeps due events itself, every sweep interval.
    with TestClient(create_app(settings, sweep_interval=0.1)):
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    ((headers, _),) = receiver.requests
    assert headers[events.EVENT_HEADER] == "subscriber.unsubscribed"
    with db.session_scope(settings.database_url) as session:
        assert session.scalars(select(WebhookEvent)).one().status == WebhookEventStatus.DELIVERED
