"""Several SMTP servers and rate limits, with real aiosmtpd servers: copies take turns,
a server that is down loses nothing, a rate spreads a send, a limit reached for an hour
defers instead of holding the batch, and a server without 8BITMIME still gets each copy
right; and Celery worker processes keep to one rate counted in Redis."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from smtp_sink import Sink, free_port
from sqlalchemy import select, update
from test_deferral import make_settings, seed, send_now
from test_send_faults import add_readers
from test_smtp_faults import Proxy, received

from digest.config import Settings
from digest.core.smtp_urls import ServerSpec, parse_servers
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.mail.servers import Limiter
from digest.store import db
from digest.store.models import Delivery, Subscriber

pytestmark = pytest.mark.integration


class Server:
    def __init__(self, **options: object) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def received(self) -> Counter[str]:
        with self.sink.lock:
            return Counter(r for _, rcpts in self.sink.envelopes for r in rcpts)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started = [Server(), Server()]
    yield started
    for s in started:
        s.controller.stop()


def test_two_servers_take_turns(database_url: str, servers: list[Server], tmp_path: Path) -> None:
    a, b = servers
    settings = make_settings(database_url, f"{a.url} {b.url}", tmp_path)
    addresses = seed(settings, 20)
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 20}
    assert a.received() + b.received() == Counter(addresses)
    # Copies go out two at a time (one connection each): both servers carry a share.
    assert min(a.received().total(), b.received().total()) >= 5


def test_a_server_that_is_down_sends_its_share_through_the_other(
    database_url: str, servers: list[Server], tmp_path: Path
) -> None:
    a, _ = servers
    closed = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    settings = make_settings(database_url, f"{closed} {a.url}", tmp_path, send_retry_wait=0)
    addresses = seed(settings, 30)
    outcome = send_now(settings)
    # Nothing deferred, nothing failed: the live server took every copy at once.
    assert outcome.status == {DeliveryStatus.SENT: 30}
    assert a.received() == Counter(addresses)


def test_every_server_down_defers_and_loses_nothing(database_url: str, tmp_path: Path) -> None:
    urls = " ".join(f"smtp://127.0.0.1:{free_port()}" for _ in range(2))
    settings = make_settings(database_url, urls, tmp_path, send_retry_wait=0)
    seed(settings, 5)
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.DEFERRED: 5}
    with db.session_scope(settings.database_url) as session:
        errors = set(session.scalars(select(Delivery.last_error)))
    assert errors and all(u.split("//")[1] in e for e in errors for u in urls.split()), errors


def test_a_rate_spreads_the_send(database_url: str, servers: list[Server], tmp_path: Path) -> None:
    a, _ = servers
    settings = make_settings(database_url, f"{a.url}?rate=10/second", tmp_path, send_retry_wait=30)
    addresses = seed(settings, 25)
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 25}
    assert a.received() == Counter(addresses)
    times = sorted(a.sink.arrived)
    assert times[-1] - times[0] >= 1.2  # 25 copies at 10 a second: not in one burst
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 12, busiest


def test_a_limit_reached_for_the_hour_defers_the_rest_to_when_there_is_room(
    database_url: str, servers: list[Server], tmp_path: Path
) -> None:
    a, _ = servers
    settings = make_settings(database_url, f"{a.url}?rate=5/hour", tmp_path, send_retry_wait=0)
    seed(settings, 8)
    before = utcnow()
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 5, DeliveryStatus.DEFERRED: 3}
    assert a.received().total() == 5
    with db.session_scope(settings.database_url) as session:
        waiting = list(
            session.execute(
                select(Delivery.next_attempt_at, Delivery.last_error).where(
                    Delivery.status == DeliveryStatus.DEFERRED
                )
            )
        )
    for next_at, error in waiting:
        assert 0 < (next_at - before).total_seconds() <= 3601
        assert "rate limit" in error


def test_a_server_without_8bitmime_gets_each_copy_encoded_on_its_own(
    database_url: str, tmp_path: Path
) -> None:
    # decode_data=True: aiosmtpd does not announce 8BITMIME (RFC 6152).
    old = Server(decode_data=True)
    modern = Server()
    try:
        outcomes = []
        for server in (old, modern):
            settings = make_settings(database_url, server.url, tmp_path)
            if not outcomes:
                seed(settings, 3)
            with db.session_scope(settings.database_url) as session:  # the same send again
                session.execute(Delivery.__table__.delete())
                session.execute(update(Subscriber).values(last_article_id=0))
            outcomes.append(send_now(settings))
        assert [o.status for o in outcomes] == [{DeliveryStatus.SENT: 3}] * 2
        assert set(old.sink.bodies) == {""} and set(modern.sink.bodies) == {"BODY=8BITMIME"}
        for a, b in zip(old.sink.messages, modern.sink.messages, strict=True):
            old_raw, new_raw = a.as_bytes(policy=default), b.as_bytes(policy=default)
            assert max(old_raw) < 128, "a 7-bit server was sent 8-bit bytes"
            for part_a, part_b in zip(a.walk(), b.walk(), strict=True):
                if not part_a.is_multipart():
                    assert part_a.get_content() == part_b.get_content()
            assert len(new_raw) > 0
    finally:
        old.controller.stop()
        modern.controller.stop()


def test_server_options_are_checked_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate 'lots' is not a rate"):
        parse_servers("smtp://a.example.org?rate=lots")
    with pytest.raises(ValueError, match="unknown option 'poll'"):
        parse_servers("smtp://a.example.org?poll=2")
    with pytest.raises(ValueError, match="pool '0' is not a number of connections"):
        parse_servers("smtp://a.example.org?pool=0")
    with pytest.raises(ValueError, match="smtp://"):
        parse_servers("smtp://a.example.org ftp://b.example.org")
    specs = parse_servers("smtp://u:secret@a.example.org:2525?rate=5/second,100/hour")
    assert [str(r) for r in specs[0].rates] == ["5 per 1 second", "100 per 1 hour"]
    assert "secret" not in specs[0].shown
    with pytest.raises(ValueError, match="not a rate"):
        Settings(smtp_url="smtp://a.example.org?rate=5/fortnight", _env_file=None)  # type: ignore[call-arg]  # pydantic-settings' own argument


def test_the_limiter_counts_each_server_on_its_own() -> None:
    limiter = Limiter(None)
    a = ServerSpec(
        "smtp://a.example.org?rate=2/minute", parse_servers("smtp://a?rate=2/minute")[0].rates
    )
    b = ServerSpec("smtp://b.example.org?rate=2/minute", a.rates)
    assert [limiter.take(a) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take(a)
    assert 0 < wait <= 60
    assert limiter.take(b) == 0.0


def test_worker_processes_share_one_rate_through_redis(  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    cli, smtp, samples_url, env, start_worker
) -> None:
    # Two worker processes (concurrency 2) take small batches at once; counted in each
    # process they would send at twice the rate, counted in Redis they keep to it.
    sink, smtp_url = smtp
    env["DIGEST_SMTP_URL"] = f"{smtp_url}?rate=30/second"
    env["DIGEST_DELIVERY_BATCH_SIZE"] = "10"
    env["DIGEST_CLAIM_TIMEOUT"] = "10"
    start_worker()
    cli("sources", "add", f"{samples_url}/harbour-log.atom")
    cli("gather")
    addresses = add_readers(env["DIGEST_DATABASE_URL"], 120)
    summary = json.loads(cli("send", "--now", "--json").stdout)
    assert (summary["sent"], summary["failed"]) == (120, 0), summary
    with sink.lock:
        times = sorted(sink.arrived)
        got = Counter(r for _, rcpts in sink.envelopes for r in rcpts)
    assert got == Counter(addresses)
    # Counted per process, two processes would take 120 copies in about one second. The
    # arrival times are the sink's (a loaded machine delivers some in bursts), so the
    # busiest second is checked with room to spare; the span cannot shrink that way.
    busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
    assert busiest <= 45, busiest
    assert times[-1] - times[0] >= 2.5, times[-1] - times[0]  # 120 copies at 30 a second


def test_a_pool_of_connections_sends_at_once_over_a_slow_network(
    database_url: str, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    # Each reply of the server crosses a link that adds 15 ms (a relay in another data
    # centre): one connection waits most of the time; four send four copies at once.
    sink, smtp_url = smtp
    proxy = Proxy(int(smtp_url.rsplit(":", 1)[1]))
    proxy.latency = 0.015
    try:
        peaks = {}
        for pool in (1, 4):
            settings = make_settings(database_url, f"{proxy.url}?pool={pool}", tmp_path)
            if not peaks:
                addresses = seed(settings, 40)
            with db.session_scope(settings.database_url) as session:  # the same send again
                session.execute(Delivery.__table__.delete())
                session.execute(update(Subscriber).values(last_article_id=0))
            proxy.peak = 0
            outcome = send_now(settings)
            peaks[pool] = proxy.peak
            assert outcome.status == {DeliveryStatus.SENT: 40}
        assert received(sink) == Counter(addresses * 2)  # each once per send
        # Counted at the link, not by the clock: the pool holds its four connections open
        # at once (how much faster that is, bench/send_throughput.py measures).
        assert peaks == {1: 1, 4: 4}, peaks
    finally:
        proxy.close()
