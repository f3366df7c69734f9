"""Real components for the integration tests: redis-server, an aiosmtpd SMTP server,
the sample HTTP server and a Celery worker process."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from smtp_sink import Sink, free_port

from digest.runtime.samples import serve_samples
from digest.store.schema import upgrade

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _first_digest_reaches_the_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bundled samples have fixed publication dates, and a first digest holds what was
    # published in the last DIGEST_FIRST_DIGEST_DAYS: reach back far enough for all of them.
    monkeypatch.setenv("DIGEST_FIRST_DIGEST_DAYS", "100000")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture(scope="session")
def samples_url() -> Iterator[str]:
    with serve_samples() as base:
        yield base


_redis_db = itertools.count(1)


@pytest.fixture
def env(
    tmp_path: Path, database_url: str, smtp: tuple[Sink, str], redis_url: str
) -> dict[str, str]:
    """The environment of a deployment: its own database (SQLite or PostgreSQL, empty: the
    CLI creates the schema), the broker, the SMTP server."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update(
        DIGEST_DATABASE_URL=database_url,
        # Each test gets its own Redis database so queued work never leaks between tests.
        DIGEST_BROKER_URL=f"{redis_url.rsplit('/', 1)[0]}/{next(_redis_db) % 16}",
        DIGEST_SMTP_URL=smtp[1],
        DIGEST_BASE_URL="https://news.example.org",
        DIGEST_SECRET_KEY="integration-secret",
        DIGEST_FROM="Harwick Digest <digest@news.example.org>",
        DIGEST_LIST_NAME="Harwick Digest",
        DIGEST_RETRY_BASE_DELAY="0.5",
        # Short, so a test can watch work of a killed worker being taken over.
        DIGEST_VISIBILITY_TIMEOUT="3",
        DIGEST_CLAIM_TIMEOUT="2",
        DIGEST_OUTBOX_DIR=str(tmp_path / "outbox"),
        DIGEST_FIRST_DIGEST_DAYS="100000",  # the samples' dates are fixed
        DIGEST_FETCH_ALLOW_NETWORKS=os.environ["DIGEST_FETCH_ALLOW_NETWORKS"],  # loopback
    )
    # What `digest init` does when a deployment is set up; every other command expects it.
    upgrade(environ["DIGEST_DATABASE_URL"])
    return environ


WorkerFactory = Callable[[], subprocess.Popen[str]]


@pytest.fixture
def start_worker(env: dict[str, str], tmp_path: Path) -> Iterator[WorkerFactory]:
    """Starts real Celery worker processes (through `digest worker`) for this test."""
    procs: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        log_path = tmp_path / f"worker{len(procs)}.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "digest",
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=2",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"w{len(procs)}.{os.getpid()}@%h",
                ],
                cwd=tmp_path,
                env={**env, "PYTHONPATH": str(ROOT)},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # so a test can kill the worker with its children
            )
        procs.append(proc)
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("Celery worker did not start:\n" + log_path.read_text())
            time.sleep(0.1)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def worker(start_worker: WorkerFactory) -> subprocess.Popen[str]:
    return start_worker()


CLI = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> CLI:
    """Run the real `digest` command line in its own process, in this test's deployment."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"digest {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`digest serve` as a real process on a loopback port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("digest serve did not start")
        time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(10)
