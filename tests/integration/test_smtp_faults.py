"""In-process sends through network faults between us and a real SMTP server (aiosmtpd):
a server that accepts the connection and then says nothing, and connections cut in the
middle of DATA. A TCP proxy on loopback makes the faults; nothing is failed, nobody is
lost, and a message cut before its final dot is never counted as sent."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_sink import Sink
from sqlalchemy import func, select
from test_deferral import make_settings, seed, send_now

from digest.core.vocabulary import DeliveryStatus
from digest.store import db
from digest.store.models import Delivery

pytestmark = pytest.mark.integration


class Proxy:
    """Forwards loopback TCP to the SMTP server. While `silent` is set, connections are
    accepted and then left without a word; the first `cut` connections are closed as soon
    as the client has sent `cut_after` bytes of message data."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.silent = False
        self.cut = 0
        self.cut_after = 2000
        self.latency = 0.0  # seconds added to each answer of the server
        self.connections = 0
        self.open = 0  # connections being forwarded now
        self.peak = 0  # the most of them open at once
        self.count_lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"smtp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.silent:
                self.held.append(client)  # never answered, never closed while the test runs
                continue
            cut = self.cut > 0
            self.cut -= 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(
                target=self._pipe, args=(upstream, client, None, self.latency), daemon=True
            ).start()
            with self.count_lock:
                self.open += 1
                self.peak = max(self.peak, self.open)
            threading.Thread(
                target=self._forward,
                args=(client, upstream, self.cut_after if cut else None),
                daemon=True,
            ).start()

    def _forward(self, client: socket.socket, upstream: socket.socket, limit: int | None) -> None:
        """The client's side of a connection, counted open until the client is done."""
        try:
            self._pipe(client, upstream, limit)
        finally:
            with self.count_lock:
                self.open -= 1

    @staticmethod
    def _pipe(
        src: socket.socket, dst: socket.socket, limit: int | None, latency: float = 0.0
    ) -> None:
        seen = 0
        data_started = False
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                if limit is not None:
                    data_started = data_started or b"DATA\r\n" in chunk
                    if data_started:
                        seen += len(chunk)
                        if seen > limit:  # cut in the middle of the message
                            dst.sendall(chunk[: len(chunk) // 2])
                            break
                if latency:
                    time.sleep(latency)
                dst.sendall(chunk)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for s in self.held:
            s.close()


@pytest.fixture
def proxy(smtp: tuple[Sink, str]) -> Iterator[Proxy]:
    p = Proxy(int(smtp[1].rsplit(":", 1)[1]))
    yield p
    p.close()


def received(sink: Sink) -> Counter[str]:
    with sink.lock:
        return Counter(r for _, rcpts in sink.envelopes for r in rcpts)


def test_a_server_that_answers_nothing_times_out_and_the_copies_wait(
    database_url: str, smtp: tuple[Sink, str], proxy: Proxy, tmp_path: Path
) -> None:
    sink, _ = smtp
    settings = make_settings(
        database_url, proxy.url, tmp_path, smtp_timeout=0.5, send_retry_wait=30
    )
    addresses = seed(settings, 10)
    proxy.silent = True
    threading.Timer(2.0, lambda: setattr(proxy, "silent", False)).start()
    started = time.monotonic()
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 10}  # nothing failed
    assert received(sink) == Counter(addresses)
    assert time.monotonic() - started >= 2.0
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.min(Delivery.attempts))) >= 2


def test_a_copy_answered_late_after_its_final_dot_is_sent_once(
    database_url: str, smtp: tuple[Sink, str], tmp_path: Path
) -> None:
    """The server takes two copies, then answers their final dot after the command timeout:
    they count as sent on the first attempt and nobody gets a second copy."""
    sink, url = smtp
    settings = make_settings(database_url, url, tmp_path, smtp_timeout=0.3, send_retry_wait=30)
    addresses = seed(settings, 6)
    for slow in addresses[1:3]:
        sink.late[slow] = 1.0
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 6}
    assert received(sink) == Counter(addresses)
    with db.session_scope(settings.database_url) as session:
        assert session.scalar(select(func.max(Delivery.attempts))) == 1


def test_connections_cut_in_the_middle_of_data_lose_nobody_and_send_nobody_twice(
    database_url: str, smtp: tuple[Sink, str], proxy: Proxy, tmp_path: Path
) -> None:
    sink, _ = smtp
    settings = make_settings(database_url, proxy.url, tmp_path, send_retry_wait=30)
    addresses = seed(settings, 12)
    proxy.cut = 3  # the first three connections die mid-message
    outcome = send_now(settings)
    assert outcome.status == {DeliveryStatus.SENT: 12}
    # A message cut before its final dot was never accepted: each address exactly once.
    assert received(sink) == Counter(addresses)
    assert proxy.connections >= 4
    with db.session_scope(settings.database_url) as session:
        retried = session.scalar(select(func.count()).where(Delivery.attempts >= 2))
    assert retried >= 1
