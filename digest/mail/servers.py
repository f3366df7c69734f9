"""Several SMTP servers, each with its own rate limits, behind the one Transport interface.

`DIGEST_SMTP_URL` may name several servers separated by spaces, each with options in its
query string: `smtp://relay-a:25?rate=100/second,20000/hour&pool=4 smtp://relay-b:587`.
`pool` is how many connections one sending process keeps to that server and sends over
at once (the sender hands copies over from as many threads): over a network where each
reply takes a round trip, one connection waits most of the time.
A copy goes to the next server in turn that has room under its limits; a server that
cannot be reached is left alone for a while and its copies go to the others. When every
server is at its limit, the copy waits for the first free slot if that comes within
`max_wait` seconds, else it is deferred (`RateLimited`) to when a slot frees up, so a
batch never sits on its claims for an hour.

The limits count every sender at once: with a Redis URL (the broker's, when it is Redis)
the counters live in Redis and every worker process on every machine shares them; with
none they live in this process (the in-process default has only this one sender).
Counting uses the moving window of the `limits` library (exact: never more than the
rate in any window, where a fixed or sliding-counter window lets twice the rate through
across a boundary): one round trip a copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from digest.core.smtp_urls import ServerSpec, needs_pool, parse_servers
from digest.errors import RateLimited, SoftBounce, TemporaryError, TransportDown
from digest.mail.transports import OutboxTransport, SmtpTransport, Transport

if TYPE_CHECKING:
    from digest.mail.template import OutgoingCopy

# How long a server that could not be reached is skipped before it is tried again.
DOWN_FOR = 30.0


class Limiter:
    """Counts copies per server against its rates, in Redis or in this process."""

    def __init__(self, storage_url: str | None) -> None:
        self.storage = storage_from_string(storage_url or "memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)

    def take(self, spec: ServerSpec) -> float:
        """Count one copy for this server and return 0, or return how many seconds until
        it has room. Each hit is atomic (a Lua script in Redis), so senders racing for the
        last slot cannot both take it; a copy refused by a later rate has used a slot of
        the earlier ones, which errs on the side of sending slower."""
        for rate in spec.rates:
            if not self.strategy.hit(rate, "digest-smtp", spec.key):
                stats = self.strategy.get_window_stats(rate, "digest-smtp", spec.key)
                return max(0.01, min(stats.reset_time - time.time(), rate.get_expiry()))
        return 0.0


class _Server:
    """One server: its idle connections, and a slot for each connection it may have."""

    def __init__(self, spec: ServerSpec, connect: Callable[[str], Transport]) -> None:
        self.spec = spec
        self.connect = connect
        self.idle: list[Transport] = []
        self.slots = threading.BoundedSemaphore(spec.pool)
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_reason = ""

    def checkout(self) -> Transport | None:
        """An idle connection (or a new one), None when all `pool` are in use."""
        if not self.slots.acquire(blocking=False):
            return None
        with self.lock:
            return self.idle.pop() if self.idle else self.connect(self.spec.url)

    def checkin(self, transport: Transport) -> None:
        with self.lock:
            self.idle.append(transport)
        self.slots.release()

    def close(self) -> None:
        with self.lock:
            for transport in self.idle:
                transport.close()
            self.idle.clear()


class ServerPool:
    """A Transport over several SMTP servers with rate limits and several connections each
    (see the module notes). `width` tells the sender how many copies it may hand over at
    once from as many threads (digest.pipeline.deliver does)."""

    def __init__(
        self,
        specs: list[ServerSpec],
        *,
        limiter: Limiter,
        max_wait: float = 1.0,
        connect: Callable[[str], Transport] = SmtpTransport,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.servers = [_Server(s, connect) for s in specs]
        self.width = sum(s.pool for s in specs)
        self.limiter = limiter
        self.max_wait = max_wait
        self.sleep = sleep
        self._next = 0
        self._lock = threading.Lock()

    def send(self, msg: EmailMessage) -> None:
        self._route(lambda t: t.send(msg))

    def send_copy(self, copy: OutgoingCopy) -> None:
        self._route(lambda t: t.send_copy(copy))

    def _route(self, send: Callable[[Transport], Any]) -> None:
        waited = 0.0
        while True:
            with self._lock:
                start, self._next = self._next, (self._next + 1) % len(self.servers)
            order = self.servers[start:] + self.servers[:start]
            now = time.monotonic()
            room_in: list[float] = []
            errors: list[str] = []
            busy = False
            last: TemporaryError | None = None
            for server in order:
                if server.down_until > now:
                    errors.append(server.down_reason)
                    continue
                conn = server.checkout()
                if conn is None:  # every connection to it is busy with another copy
                    busy = True
                    continue
                try:
                    wait = self.limiter.take(server.spec)
                    if wait:
                        room_in.append(wait)
                        continue
                    send(conn)
                except SoftBounce:
                    raise  # the recipient's server said no: another relay will not help
                except TransportDown as exc:
                    # Unreachable: leave it alone for a while, the next server may take it.
                    server.down_until = time.monotonic() + DOWN_FOR
                    server.down_reason = f"{server.spec.shown}: {exc}"
                    errors.append(server.down_reason)
                    continue
                except TemporaryError as exc:  # refusing us for now: try the next one
                    last = exc
                    errors.append(f"{server.spec.shown}: {exc}")
                    continue
                finally:
                    server.checkin(conn)
                return
            if busy:  # more senders than connections: wait for one to come back
                self.sleep(0.001)
                continue
            if not room_in:
                if last is not None:
                    raise TemporaryError("; ".join(errors)) from last
                raise TransportDown("; ".join(errors) or "no SMTP server to send with")
            pause = min(room_in)
            if waited + pause > self.max_wait:
                raise RateLimited(
                    f"every SMTP server is at its rate limit for {pause:.1f} s more",
                    datetime.now(UTC) + timedelta(seconds=pause),
                )
            self.sleep(pause)
            waited += pause

    def close(self) -> None:
        for server in self.servers:
            server.close()


def transport_from_url(
    smtp_url: str | None,
    outbox_dir: Path,
    limits_url: str | None = None,
    timeout: float = 30.0,
    data_timeout: float = 0.0,
) -> Transport:
    """The outbox without a URL; one SMTP server; or several servers and rate limits (see
    digest.mail.servers), counted in Redis at `limits_url` when given."""
    if not smtp_url:
        return OutboxTransport(outbox_dir)
    if needs_pool(smtp_url):
        return ServerPool(
            parse_servers(smtp_url),
            limiter=Limiter(limits_url),
            connect=lambda url: SmtpTransport(url, timeout=timeout, data_timeout=data_timeout),
        )
    return SmtpTransport(smtp_url, timeout=timeout, data_timeout=data_timeout)
