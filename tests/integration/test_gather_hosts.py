"""Gathering processes share their limit per host and the robots.txt they read through a
real Redis; a killed process frees its slots, and a Redis that goes away leaves each
process limiting itself."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web_site import Site, serve_site

from digest.gather.fetch import Fetcher
from digest.gather.hosts import LocalGate, RedisGate, host_gate

ROOT = Path(__file__).resolve().parents[2]

# One gathering process: `threads` fetches of slow pages at once, its host gate shared
# through Redis (or its own, with "-").
CHILD = """
import sys, threading
import httpx
from digest.gather.fetch import Fetcher
from digest.gather.hosts import host_gate

base, redis_url, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
gate = host_gate(2, None if redis_url == "-" else redis_url, 5.0)
with Fetcher(client=httpx.Client(), per_host=2, gate=gate) as fetcher:
    work = [
        threading.Thread(target=fetcher, args=(f"{base}/slow/{sys.argv[4]}-{i}",))
        for i in range(threads)
    ]
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start fetching together
    for t in work:
        t.start()
    for t in work:
        t.join()
"""


@pytest.fixture
def web() -> Iterator[Site]:
    """A site of its own for each test: its counts start at nothing."""
    with serve_site() as served:
        yield served


def gather_in_two_processes(web: Site, redis_url: str) -> None:
    for name in ("a", "b"):
        for i in range(4):
            web.add(f"/slow/{name}-{i}", "a slow page", delay=0.3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, web.base, redis_url, "4", name],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        assert child.wait(60) == 0
    assert len(web.requests) == 8


def test_two_processes_keep_to_one_limit_per_host(web: Site, redis_url: str) -> None:
    gather_in_two_processes(web, redis_url)
    assert web.most_open == 2  # both processes, two at a time between them

    web.reset()
    gather_in_two_processes(web, "-")  # each its own gate: the host sees both limits
    assert web.most_open == 4


def test_a_killed_process_frees_its_slot_when_its_lease_ends(redis_url: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from digest.gather.hosts import RedisGate\n"
            "gate = RedisGate(sys.argv[1], per_host=1, lease=1.5, prefix='lease-test')\n"
            "with gate.slot('news.example.org'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(60)\n",
            redis_url,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)

    gate = RedisGate(redis_url, per_host=1, lease=1.5, prefix="lease-test")
    # The dead process's lease is still there, and says until when.
    ((_, expiry),) = gate.client.zrange("lease-test:host:news.example.org", 0, -1, withscores=True)
    started = time.monotonic()
    with gate.slot("news.example.org"):
        seconds, micro = gate.client.time()
        assert seconds + micro / 1e6 >= expiry  # taken once the dead lease ran out ...
    assert time.monotonic() - started < 10  # ... and not much later: nothing held it shut
    with gate.slot("other.example.org"):  # another host was never held
        pass


def test_robots_txt_is_read_once_for_every_process(web: Site, redis_url: str) -> None:
    web.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    first, second = (
        Fetcher(client=httpx.Client(), gate=RedisGate(redis_url, 2, lease=10, prefix=p))
        for p in ("robots-test", "robots-test")
    )
    assert first.allowed(f"{web.base}/news/one")
    assert not second.allowed(f"{web.base}/private/two")  # the rules the first one read
    assert len(web.hits("/robots.txt")) == 1
    # A gather without Redis reads it itself.
    assert not Fetcher(client=httpx.Client()).allowed(f"{web.base}/private/two")
    assert len(web.hits("/robots.txt")) == 2


def test_a_site_without_robots_txt_is_said_once_too(web: Site, redis_url: str) -> None:
    for prefix in ("none-test", "none-test"):
        fetcher = Fetcher(client=httpx.Client(), gate=RedisGate(redis_url, 2, 10, prefix=prefix))
        assert fetcher.allowed(f"{web.base}/news/one")
    assert len(web.hits("/robots.txt")) == 1  # a 404: there is none, and all may know


def test_without_redis_each_process_limits_itself(
    web: Site, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as s:  # a port where nothing answers
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gate = RedisGate(f"redis://127.0.0.1:{port}/0", per_host=1, lease=10)
    web.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    fetcher = Fetcher(client=httpx.Client(), gate=gate)
    with caplog.at_level(logging.WARNING, logger="digest.gather.hosts"):
        started = time.monotonic()
        assert not fetcher.allowed(f"{web.base}/private/one")  # read here, all the same
        for _ in range(5):
            with gate.slot("news.example.org"):
                pass
        assert time.monotonic() - started < 3  # not a connect timeout per request
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "limited by this process alone" in warnings[0]
    assert isinstance(gate.local, LocalGate)


def test_the_gate_follows_the_settings(redis_url: str) -> None:
    assert isinstance(host_gate(3, None, 5.0), LocalGate)
    shared = host_gate(3, redis_url, 5.0)
    assert isinstance(shared, RedisGate) and shared.per_host == 3 and shared.lease == 10.0
    assert host_gate(3, redis_url, 5.0) is shared  # one client per process
