"""What every gathering process shares about a host: how many requests are open to it, and
its robots.txt.

In one process (`digest gather` without workers) a semaphore per host and a dict are
enough. Gathering workers on several processes or machines each fetch their own sources,
so the limit per host and the robots.txt they read are kept in Redis (the broker's, when it
is Redis):

- a **slot** is a lease in a sorted set per host, scored with its expiry by Redis's own
  clock, taken and freed by atomic scripts; a process killed mid-fetch frees its slots when
  their lease ends (the fetch deadline and a margin), never holding a host shut;
- **robots.txt** bodies are kept for an hour, so a gather of a thousand page sources of one
  site asks for it once, not once per source.

Redis going away does not stop a gather: the process says so in its log and limits itself
alone until Redis answers again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

ROBOTS_TTL = 3600  # seconds a robots.txt read by one process serves the others
LEASE_MARGIN = 5.0  # seconds a slot outlives its fetch's deadline
POLL = 0.02  # seconds between tries for a slot of a busy host
RETRY_REDIS = 30.0  # seconds without asking a Redis that did not answer


class HostGate(Protocol):
    def slot(self, host: str) -> Any:
        """A context manager: held while one request to `host` is open."""

    def robots(self, origin: str) -> str | None:
        """The robots.txt body read earlier for this origin; "" for none; None: not known."""

    def keep_robots(self, origin: str, body: str) -> None: ...


class LocalGate:
    """At most `per_host` requests at once per host within this process."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._robots: dict[str, str] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            gate = self._hosts.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with gate:
            yield

    def robots(self, origin: str) -> str | None:
        return self._robots.get(origin)

    def keep_robots(self, origin: str, body: str) -> None:
        self._robots[origin] = body


# KEYS[1]: the host's leases; ARGV: limit, token, lease seconds. Expired leases go first;
# the time is Redis's, so machines whose clocks differ still agree on what has expired.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
  return 1
end
return 0
"""


class RedisGate:
    """At most `per_host` requests at once per host across every process on this Redis."""

    def __init__(self, url: str, per_host: int, lease: float, prefix: str = "digest") -> None:
        import redis

        self.per_host = per_host
        self.lease = lease
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._acquire = self.client.register_script(_ACQUIRE)
        self.local = LocalGate(per_host)  # while Redis does not answer
        self._down_until = 0.0
        self._warned = False

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    def _up(self) -> bool:
        """Whether to ask Redis: not for RETRY_REDIS seconds after it failed to answer
        (each try would wait for its connect timeout)."""
        return time.monotonic() >= self._down_until

    def _unreachable(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + RETRY_REDIS
        if not self._warned:
            self._warned = True
            log.warning("Redis does not answer (%s): hosts are limited by this process alone", exc)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        import redis

        key, token = self._key("host", host), uuid.uuid4().hex
        args: list[int | float | str] = [self.per_host, token, self.lease]
        shared = False
        try:
            while self._up() and not self._acquire(keys=[key], args=args):
                time.sleep(POLL)
            shared = self._up()
        except redis.RedisError as exc:
            self._unreachable(exc)
        if not shared:
            with self.local.slot(host):
                yield
            return
        self._warned = False
        try:
            yield
        finally:
            with contextlib.suppress(redis.RedisError):  # else the lease ends by itself
                self.client.zrem(key, token)

    def robots(self, origin: str) -> str | None:
        import redis

        if not self._up():
            return None
        try:
            body = self.client.get(self._key("robots", origin))
        except redis.RedisError as exc:
            self._unreachable(exc)
            return None  # read it again
        if isinstance(body, bytes):  # the client does not decode its answers
            return body.decode("utf-8", "replace")
        return body

    def keep_robots(self, origin: str, body: str) -> None:
        import redis

        if not self._up():
            return
        try:
            self.client.set(self._key("robots", origin), body.encode(), ex=ROBOTS_TTL)
        except redis.RedisError as exc:
            self._unreachable(exc)


_shared: dict[tuple[str, int, float], RedisGate] = {}
_shared_lock = threading.Lock()


def host_gate(per_host: int, redis_url: str | None, fetch_timeout: float) -> HostGate:
    """Shared through Redis when there is one (one client per process, reused by every
    gather task), else this process's own, new for each gather."""
    if not redis_url:
        return LocalGate(per_host)
    key = (redis_url, per_host, fetch_timeout)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RedisGate(redis_url, per_host, lease=fetch_timeout + LEASE_MARGIN)
        return _shared[key]
