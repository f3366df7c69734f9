"""Bounces, DSNs, DKIM and the error budget as a user meets them: the real `digest`
command in its own process (no broker: the send runs in that process), a real aiosmtpd
server on loopback, `digest serve` over real HTTP for the webhook."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dkim
import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from smtp_sink import Sink, free_port
from sqlalchemy import select

from digest import pipeline
from digest.config import Settings
from digest.core.verp import delivery_for_address
from digest.mail.dkim import dns_record
from digest.runtime.samples import seed_samples, serve_samples
from digest.services.subscribers import add_subscriber
from digest.store import db, schema
from digest.store.models import Delivery, Subscriber

ROOT = Path(__file__).resolve().parents[2]
DSN = ROOT / "tests" / "fixtures" / "dsn"
SECRET = "bounce-secret"
BOUNCES = "bounces@news.example.org"


@dataclass
class RawSink(Sink):
    """The sink, keeping each accepted message's bytes, and refusing every MAIL FROM
    while `refuse_sender` is set (a relay that no longer lets us send)."""

    raw: list[bytes] = field(default_factory=list)
    refuse_sender: str | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            self.raw.append(envelope.original_content)
        return reply


@dataclass
class Deployment:
    env: dict[str, str]
    sink: RawSink
    settings: Settings
    tmp: Path

    def digest(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=self.tmp,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def subscribe(self, *emails: str) -> None:
        with db.session_scope(self.settings.database_url) as session:
            for email in emails:
                add_subscriber(session, email, confirmed=True)

    def subscriber(self, email: str) -> Subscriber:
        with db.session_scope(self.settings.database_url) as session:
            sub = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
            session.expunge(sub)
            return sub

    def delivery_of(self, email: str) -> Delivery:
        with db.session_scope(self.settings.database_url) as session:
            row = session.scalars(
                select(Delivery).join(Subscriber).where(Subscriber.email == email)
            ).one()
            session.expunge(row)
            return row


@pytest.fixture(scope="module")
def samples_base() -> Iterator[str]:
    with serve_samples() as base:
        yield base


@pytest.fixture
def deployment(database_url: str, tmp_path: Path, samples_base: str) -> Iterator[Deployment]:
    sink = RawSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
        DIGEST_DATABASE_URL=database_url,
        DIGEST_SMTP_URL=f"smtp://127.0.0.1:{port}",
        DIGEST_BASE_URL="https://news.example.org",
        DIGEST_SECRET_KEY=SECRET,
        DIGEST_FROM="Harwick Digest <digest@news.example.org>",
        DIGEST_BOUNCE_ADDRESS=BOUNCES,
        DIGEST_RETRY_BASE_DELAY="0.2",
        DIGEST_FIRST_DIGEST_DAYS="100000",  # the samples' dates are fixed; the clock is not
    )
    settings = Settings(
        database_url=database_url,
        base_url="https://news.example.org",
        secret_key=SECRET,
        templates_dir=ROOT / "templates",
        first_digest_days=100_000,
    )
    schema.upgrade(database_url)
    seed_samples(database_url, samples_base, subscribers=False)
    pipeline.gather_all(settings)
    yield Deployment(env, sink, settings, tmp_path)
    controller.stop()


def send_id_of(result: subprocess.CompletedProcess[str]) -> int:
    return int(json.loads(result.stdout)["send_id"])


def test_a_550_for_one_domain_bounces_once_suppresses_and_is_not_contacted_again(
    deployment: Deployment,
) -> None:
    d = deployment
    d.subscribe("ana@harwick.example", "ben@harwick.example", "cleo@harwick.example")
    d.subscribe("dora@closed.example", "emil@closed.example")
    for gone in ("dora@closed.example", "emil@closed.example"):
        d.sink.replies[gone] = ["550 5.1.1 mailbox closed"] * 3

    result = d.digest("send", "--now", "--json")
    assert result.returncode == 0, result.stderr  # sent or bounced: nothing failed
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["bounced"], summary["failed"]) == (3, 2, 0)
    assert "2 message(s) bounced" in result.stderr
    # Exactly one attempt each: one of the three refusals was used.
    assert [len(d.sink.replies[g]) for g in ("dora@closed.example", "emil@closed.example")] == [
        2,
        2,
    ]
    assert sorted(to[0] for _, to in d.sink.envelopes) == [
        "ana@harwick.example",
        "ben@harwick.example",
        "cleo@harwick.example",
    ]
    for email in ("dora@closed.example", "emil@closed.example"):
        sub = d.subscriber(email)
        assert (sub.status, sub.hard_bounces) == ("bounced", 1)
        assert "550 5.1.1 mailbox closed" in (sub.last_bounce or "")
        row = d.delivery_of(email)
        assert (row.status, row.attempts) == ("bounced", 1)
    assert d.subscriber("ana@harwick.example").status == "confirmed"

    # Each envelope sender is the signed VERP address of that copy's delivery.
    for mail_from, (rcpt,) in d.sink.envelopes:
        assert delivery_for_address(BOUNCES, SECRET, mail_from) == d.delivery_of(rcpt).id
    assert all(re.search(rb"^Return-Path: <bounces\+\d+-", m, re.M) for m in d.sink.raw)

    # A suppressed address is never contacted again.
    again = d.digest("send", "--now", "--to", "dora@closed.example")
    assert again.returncode == 1 and "dora@closed.example is bounced" in again.stderr
    d.digest("send", "--now")
    assert len(d.sink.replies["dora@closed.example"]) == 2

    shown = json.loads(d.digest("sends", "show", str(summary["send_id"]), "--json").stdout)
    assert (shown["sent"], shown["bounced"], shown["failed"], shown["pending"]) == (3, 2, 0, 0)
    assert shown["errors"][0]["count"] == 2 and "550" in shown["errors"][0]["error"]
    listed = d.digest("sends", "list")
    assert listed.returncode == 0 and "bounced" in listed.stdout


def fill(name: str, **values: str) -> str:
    text = (DSN / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def test_dsns_from_a_file_stdin_and_the_webhook_feed_the_same_path(
    deployment: Deployment,
) -> None:
    d = deployment
    people = ["fay@saltmarsh.example", "gus@saltmarsh.example", "hal@saltmarsh.example"]
    people += ["ida@saltmarsh.example", "jon@saltmarsh.example"]
    d.subscribe(*people)
    assert d.digest("send", "--now").returncode == 0
    sender_of = {to[0]: mail_from for mail_from, to in d.sink.envelopes}

    # A hard DSN from a file: found by its return path, the subscriber suppressed.
    hard = d.tmp / "hard.eml"
    hard.write_text(
        fill(
            "hard-mailbox-closed.eml",
            to=sender_of["fay@saltmarsh.example"],
            recipient="fay@saltmarsh.example",
            message_id="<unrelated@elsewhere.example>",
        )
    )
    result = d.digest("bounces", "process", str(hard), "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["found_by"], row["result"], row["suppressed"]) == (
        "return path",
        "hard bounce",
        True,
    )
    assert d.subscriber("fay@saltmarsh.example").status == "bounced"
    assert d.delivery_of("fay@saltmarsh.example").status == "bounced"

    # A soft one on stdin, found by the Message-ID it returns: counted, not yet suppressed.
    gus = d.delivery_of("gus@saltmarsh.example")
    soft = fill(
        "soft-mailbox-full.eml",
        to="postmaster@news.example.org",
        recipient="gus@saltmarsh.example",
        message_id=gus.message_id or "",
    )
    result = d.digest("bounces", "process", "-", "--json", stdin=soft)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["found_by"], row["result"], row["suppressed"]) == (
        "Message-ID",
        "soft bounce",
        False,
    )
    sub = d.subscriber("gus@saltmarsh.example")
    assert (sub.status, sub.soft_bounces) == ("confirmed", 1)

    # Forged: someone else's delivery id under a made-up signature, or a guessed
    # Message-ID reported for another address. Nobody is suppressed.
    hal = d.delivery_of("hal@saltmarsh.example")
    forged_verp = fill(
        "hard-mailbox-closed.eml",
        to=f"bounces+{hal.id}-0123456789@news.example.org",
        recipient="hal@saltmarsh.example",
        message_id="<nothing@example.org>",
    )
    forged_mid = fill(
        "hard-mailbox-closed.eml",
        to="bounces@news.example.org",
        recipient="mallory@elsewhere.example",
        message_id=hal.message_id or "",
    )
    # The Message-ID it would have had without its keyed tag, reported for hal himself.
    assert hal.message_id and re.fullmatch(
        r"<digest\.e\d+\.s\d+\.[a-z2-7]{16}@[^>]+>", hal.message_id
    )
    guessed = fill(
        "hard-mailbox-closed.eml",
        to="bounces@news.example.org",
        recipient="hal@saltmarsh.example",
        message_id=re.sub(r"\.[a-z2-7]{16}@", "@", hal.message_id),
    )
    for forged in (forged_verp, forged_mid, guessed):
        result = d.digest("bounces", "process", "-", stdin=forged)
        assert result.returncode == 1
        assert "no delivery found for this DSN" in result.stderr
        assert "Traceback" not in result.stderr
    assert d.subscriber("hal@saltmarsh.example").status == "confirmed"

    # Not a DSN, or no file: a clear error, nothing changed.
    result = d.digest("bounces", "process", "-", stdin=fill("not-a-dsn.eml", to="x@example.org"))
    assert result.returncode == 1 and "not a delivery status notification" in result.stderr
    result = d.digest("bounces", "process", str(d.tmp / "missing.eml"))
    assert result.returncode == 1 and "cannot read" in result.stderr

    # The webhook, over real HTTP, behind its token.
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        cwd=d.tmp,
        env={**d.env, "DIGEST_WEBHOOK_TOKEN": "hook-token-7"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        ida = fill(
            "hard-mailbox-closed.eml",
            to=sender_of["ida@saltmarsh.example"],
            recipient="ida@saltmarsh.example",
            message_id="<x@example.org>",
        ).encode()
        url = f"{base}/webhooks/bounce"
        assert httpx.post(url, content=ida).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert httpx.post(url, content=ida, headers=wrong).status_code == 401
        assert d.subscriber("ida@saltmarsh.example").status == "confirmed"
        good = {"Authorization": "Bearer hook-token-7"}
        response = httpx.post(url, content=ida, headers=good)
        assert response.status_code == 200, response.text
        assert response.json()["suppressed"] is True
        assert d.subscriber("ida@saltmarsh.example").status == "bounced"
        # The same DSN again counts once.
        assert httpx.post(url, content=ida, headers=good).json()["result"] == "already recorded"
        assert d.subscriber("ida@saltmarsh.example").hard_bounces == 1
        bad = httpx.post(url, content=b"hello", headers=good)
        assert bad.status_code == 400 and "not a delivery status" in bad.json()["error"]
        unknown = httpx.post(url, content=forged_verp.encode(), headers=good)
        assert unknown.status_code == 422
    finally:
        proc.terminate()
        proc.wait(10)
    assert d.subscriber("jon@saltmarsh.example").status == "confirmed"


def test_copies_are_dkim_signed_on_the_way_out(deployment: Deployment) -> None:
    d = deployment
    key = ed25519.Ed25519PrivateKey.generate()
    key_file = d.tmp / "dkim.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    record = dns_record(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    d.env.update(DIGEST_DKIM_KEY_FILE=str(key_file), DIGEST_DKIM_SELECTOR="tide")
    d.subscribe("kit@harwick.example", "lou@harwick.example")
    result = d.digest("send", "--now")
    assert result.returncode == 0, result.stderr
    assert len(d.sink.raw) == 2

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"tide._domainkey.news.example.org." else b""

    for raw in d.sink.raw:
        assert b"DKIM-Signature:" in raw
        assert dkim.verify(raw, dnsfunc=dnsfunc)

    # A bad key stops the send before anything is planned, in one line.
    key_file.write_text("not a key")
    d.subscribe("max@harwick.example")
    result = d.digest("send", "--now")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: DIGEST_DKIM_KEY_FILE: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(d.sink.raw) == 2


def paused_send(d: Deployment) -> int:
    d.subscribe(*(f"reader{i}@harwick.example" for i in range(5)))
    d.env.update(DIGEST_ERROR_BUDGET="2")
    d.sink.refuse_sender = "553 5.7.1 this relay no longer sends for news.example.org"
    result = d.digest("send", "--now", "--json")
    assert result.returncode == 1
    assert "paused" in result.stderr and "2 copies in a row failed" in result.stderr
    send_id = send_id_of(result)
    shown = json.loads(d.digest("sends", "show", str(send_id), "--json").stdout)
    assert (shown["status"], shown["failed"], shown["pending"], shown["sent"]) == (
        "paused",
        2,
        3,
        0,
    )
    assert "DIGEST_ERROR_BUDGET=2" in shown["paused_reason"]
    return send_id


def test_the_error_budget_pauses_a_send_and_resume_goes_on(deployment: Deployment) -> None:
    d = deployment
    send_id = paused_send(d)
    assert d.sink.raw == []
    d.sink.refuse_sender = None
    result = d.digest("sends", "resume", str(send_id), "--json")
    assert result.returncode == 1  # two copies did fail, and it says so
    assert "2 message(s) failed permanently" in result.stderr
    shown = json.loads(result.stdout)
    assert (shown["status"], shown["sent"], shown["failed"], shown["pending"]) == (
        "active",
        3,
        2,
        0,
    )
    assert len(d.sink.raw) == 3


def test_a_cancelled_send_sends_nothing_more(deployment: Deployment) -> None:
    d = deployment
    send_id = paused_send(d)
    d.sink.refuse_sender = None
    result = d.digest("sends", "cancel", str(send_id))
    assert result.returncode == 0 and "3 copies will not be sent" in result.stdout
    result = d.digest("sends", "resume", str(send_id))
    assert result.returncode == 1 and "was cancelled" in result.stderr
    d.digest("send", "--now")  # the ledger keeps them: the edition is not sent again
    shown = json.loads(d.digest("sends", "show", str(send_id), "--json").stdout)
    assert (shown["status"], shown["cancelled"], shown["sent"]) == ("cancelled", 3, 0)
    assert d.sink.raw == []
    missing = d.digest("sends", "show", "999")
    assert missing.returncode == 1 and "no send #999" in missing.stderr


Run = Callable[..., subprocess.CompletedProcess[str]]


def test_the_summary_line_of_a_send_counts_the_bounced_copies(deployment: Deployment) -> None:
    # A bounce is the address's fault, not the send's: the exit status stays 0 (README),
    # and the summary line says how many bounced next to sent, deferred and failed.
    d = deployment
    d.subscribe("ana@harwick.example", "dora@closed.example")
    d.sink.replies["dora@closed.example"] = ["550 5.1.1 mailbox closed"]
    result = d.digest("send", "--now")
    assert result.returncode == 0, result.stderr
    assert "1 sent, 0 deferred, 0 failed, 1 bounced." in result.stdout
    assert "1 message(s) bounced" in result.stderr
