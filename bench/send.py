"""End-to-end send through Celery against what this machine can do with plain smtplib.

One run, all on loopback and in a temporary directory:

1. a lean SMTP sink (asyncio, in its own process: answers the verbs, reads DATA to the
   final dot without parsing, counts messages);
2. a real redis-server and a Celery worker (`digest worker`, prefork, `--concurrency C`);
3. N confirmed subscribers imported with `digest subscribers import` (a CSV written
   here), a few articles inserted directly;
4. the ceiling: C processes, each one smtplib connection, send N pre-built messages of the
   size of a digest copy (`sendmail` on bytes);
5. `digest send --now` as a real process, timed from start to exit (planning, rendering,
   queueing, delivery by the workers, and the CLI seeing every copy settled).

It prints messages/s for both, the ratio, the peak RSS (VmHWM) of every process (the CLI,
the worker and its pool, the sink), and how many times premailer ran (counted in every
process through a sitecustomize module on the children's PYTHONPATH).

    .venv/bin/python bench/send.py                      # 10,000 subscribers
    .venv/bin/python bench/send.py --subscribers 100000
    .venv/bin/python bench/send.py --concurrency 4

A measurement, not a test: it checks only that every message arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SITECUSTOMIZE = """
import os
_log = os.environ.get("BENCH_PREMAILER_LOG")
if _log:
    try:
        import premailer
    except ImportError:
        premailer = None
    if premailer is not None:
        _transform = premailer.Premailer.transform

        def transform(self, *args, **kwargs):
            with open(_log, "a") as fh:
                fh.write(f"{os.getpid()}\\n")
            return _transform(self, *args, **kwargs)

        premailer.Premailer.transform = transform
"""


# --- the sink -----------------------------------------------------------------------------


def _sink_main(port: int, count: Any, ready: Any) -> None:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 0\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    while True:
                        chunk = await reader.readuntil(b"\r\n.\r\n")
                        if chunk:
                            break
                    with count.get_lock():
                        count.value += 1
                    writer.write(b"250 accepted\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 22)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- peak memory ------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples VmHWM (the kernel's own peak) of chosen processes and their descendants."""

    def __init__(self) -> None:
        self.roots: dict[int, str] = {}
        self.peaks: dict[tuple[int, str], int] = {}
        self.cpu: dict[tuple[int, str], float] = {}  # CPU seconds so far, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, pid: int, label: str) -> None:
        self.roots[pid] = label

    def _children(self, pid: int) -> list[int]:
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def _sample(self) -> None:
        for root, label in list(self.roots.items()):
            todo = [(root, label)]
            while todo:
                pid, name = todo.pop()
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                self.cpu[(pid, name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        kb = int(line.split()[1])
                        key = (pid, name)
                        self.peaks[key] = max(self.peaks.get(key, 0), kb)
                todo += [(c, f"{label} child") for c in self._children(pid)]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.05)

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


# --- the ceiling --------------------------------------------------------------------------


def _ceiling_sender(port: int, messages: list[bytes], start: Any) -> None:
    start.wait()
    conn = smtplib.SMTP("127.0.0.1", port)
    for i, data in enumerate(messages):
        conn.sendmail("bench@localhost", [f"reader{i}@example.org"], data)
    conn.quit()


def ceiling(port: int, n: int, size: int, connections: int, count: Any) -> float:
    body = (b"The council met on Tuesday to discuss the harbour budget. " * 2000)[:size]
    lines = b"\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
    per = [n // connections + (1 if i < n % connections else 0) for i in range(connections)]
    start = mp.Event()
    procs = []
    for share in per:
        msgs = [
            b"From: bench@localhost\r\nTo: reader%d@example.org\r\nSubject: x\r\n\r\n" % i + lines
            for i in range(share)
        ]
        procs.append(mp.Process(target=_ceiling_sender, args=(port, msgs, start)))
    for p in procs:
        p.start()
    before = count.value
    time.sleep(0.5)
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    assert count.value - before == n, (count.value - before, n)
    return n / elapsed


# --- the deployment -------------------------------------------------------------------------


def start_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def seed(database_url: str) -> None:
    """The schema, a source and eight articles (inserted directly: one edition)."""
    from digest.core.vocabulary import utcnow
    from digest.store import db, schema
    from digest.store.models import Article, Source

    schema.upgrade(database_url)
    now = utcnow()
    paragraph = (
        "The council met on Tuesday to discuss the harbour budget, the bridge repairs and "
        "the reopening of the library, and agreed to publish the figures next week. "
    )
    with db.session_scope(database_url) as session:
        source = Source(url="http://127.0.0.1/feed.xml", name="Bench Gazette")
        session.add(source)
        session.flush()
        for i in range(8):
            session.add(
                Article(
                    source_id=source.id,
                    key=f"bench-{i}",
                    link=f"http://127.0.0.1/articles/{i}.html",
                    title=f"Bench article {i}: the council and the harbour budget",
                    author="A. Writer",
                    published_at=now,
                    first_seen_at=now,
                    content_html=f"<p>{paragraph * 12}</p>",
                    body_text=paragraph * 12,
                    summary=paragraph * 2,
                )
            )


def import_subscribers(n: int, work: Path, env: dict[str, str]) -> None:
    """N confirmed subscribers, imported the way an admin would: `digest subscribers import`."""
    path = work / "subscribers.csv"
    with path.open("w") as fh:
        fh.write("email,name,status,frequency,hour,timezone\n")
        for i in range(n):
            fh.write(f"reader{i:06d}@example.org,Reader {i},confirmed,daily,7,UTC\n")
    done = subprocess.run(
        [sys.executable, "-m", "digest", "subscribers", "import", str(path), "--json"],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 or json.loads(done.stdout)["imported"] != n:
        raise SystemExit(f"the import failed:\n{done.stdout}\n{done.stderr}")


def copy_size(settings: Any) -> int:
    """The size of one copy of the edition the send will make, rendered here without
    storing it (so the send itself renders it, and premailer's count is the send's)."""
    from digest.core.vocabulary import utcnow
    from digest.mail.message import list_id_for
    from digest.mail.template import Recipient, build_template
    from digest.pipeline import edition_content
    from digest.render.edition import render_edition
    from digest.store import db
    from digest.store.models import Article

    now = utcnow()
    with db.session_scope(settings.database_url) as session:
        ids = [a.id for a in session.query(Article).order_by(Article.id.desc())]
        rendered = render_edition(
            edition_content(session, ids, settings, now), settings.templates_dir
        )
    template = build_template(
        sender=settings.from_address,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        list_id=list_id_for(settings.list_name, settings.base_url),
    )
    copy = template.copy_for(
        Recipient(
            "reader000001@example.org", "Reader 1", "<x@y>", "https://a/u", "https://a/p", now
        )
    )
    return len(copy.plain())


def run(args: argparse.Namespace) -> int:
    from digest.config import Settings

    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    premailer_log = work / "premailer.log"
    premailer_log.touch()
    smtp_port, redis_port = free_port(), free_port()
    database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if args.batch:
        env["DIGEST_DELIVERY_BATCH_SIZE"] = str(args.batch)
    env.update(
        PYTHONPATH=f"{work / 'site'}{os.pathsep}{REPO}",
        BENCH_PREMAILER_LOG=str(premailer_log),
        DIGEST_DATABASE_URL=database_url,
        DIGEST_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
        DIGEST_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        DIGEST_BASE_URL="https://news.example.org",
        DIGEST_SECRET_KEY="bench-secret",
        DIGEST_FROM="Bench Digest <digest@news.example.org>",
        DIGEST_TEMPLATES_DIR=str(REPO / "templates"),
    )
    settings = Settings(
        database_url=database_url,
        base_url=env["DIGEST_BASE_URL"],
        DIGEST_FROM=env["DIGEST_FROM"],
        templates_dir=REPO / "templates",
    )
    peaks = PeakRss()
    count = mp.Value("q", 0)
    ready = mp.Event()
    sink = mp.Process(target=_sink_main, args=(smtp_port, count, ready), daemon=True)
    sink.start()
    ready.wait(10)
    peaks.watch(sink.pid or 0, "smtp sink")
    redis = start_redis(redis_port, work)
    worker: subprocess.Popen[bytes] | None = None
    try:
        seed(database_url)
        t = time.perf_counter()
        import_subscribers(args.subscribers, work, env)
        print(f"imported {args.subscribers} subscribers in {time.perf_counter() - t:.1f} s")
        size = copy_size(settings)
        rate_ceiling = ceiling(smtp_port, args.subscribers, size, args.concurrency, count)
        print(f"ceiling: {rate_ceiling:,.0f} msg/s ({args.concurrency} connections, {size} B)")

        log = (work / "worker.log").open("w")
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "digest", "worker", "--loglevel=WARNING",
                f"--concurrency={args.concurrency}", "--without-gossip", "--without-mingle",
            ],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        peaks.watch(worker.pid, "celery worker")
        # Wait until the worker answers before timing.
        deadline = time.monotonic() + 60
        while True:
            ping = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "workers", "inspect", "ping", "-t", "1"],
                cwd=work, env=env, capture_output=True, text=True,
            )  # fmt: skip
            if ping.returncode == 0 and "pong" in ping.stdout:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start:\n" + (work / "worker.log").read_text())
        before = count.value
        peaks._sample()
        cpu_before = dict(peaks.cpu)
        premailer_before = len(premailer_log.read_text().split())
        t0 = time.perf_counter()
        arrivals: dict[str, float] = {}

        def watch_arrivals() -> None:  # when the first and the last copy reached the sink
            while "last" not in arrivals and time.perf_counter() - t0 < 3600:
                got = count.value - before
                if got and "first" not in arrivals:
                    arrivals["first"] = time.perf_counter() - t0
                if got >= args.subscribers:
                    arrivals["last"] = time.perf_counter() - t0
                time.sleep(0.005)

        watcher = threading.Thread(target=watch_arrivals, daemon=True)
        watcher.start()
        profile = (
            ["-m", "cProfile", "-o", str(Path(args.profile).resolve())] if args.profile else []
        )
        cli = subprocess.Popen(
            [sys.executable, *profile, "-m", "digest", "send", "--now", "--json"],
            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        peaks.watch(cli.pid, "digest send")
        out, errors = cli.communicate(timeout=3600)
        elapsed = time.perf_counter() - t0
        if cli.returncode != 0:
            print(out, errors, file=sys.stderr)
            return 1
        summary = json.loads(out)
        arrived = count.value - before
        rate = args.subscribers / elapsed
        premailer_runs = len(premailer_log.read_text().split()) - premailer_before
        peaks.stop()
        print(f"digest send --now: {rate:,.0f} msg/s ({elapsed:.2f} s for {arrived} messages)")
        print(f"ratio to the ceiling: {rate / rate_ceiling:.2f} (target >= 0.70)")
        watcher.join(5)
        first, last = arrivals.get("first", 0.0), arrivals.get("last", elapsed)
        print(
            f"timeline: first copy at {first:.2f} s, last at {last:.2f} s, the command "
            f"ended at {elapsed:.2f} s; between first and last "
            f"{args.subscribers / max(last - first, 1e-9):,.0f} msg/s"
        )
        print(f"sent {summary.get('sent')}, failed {summary.get('failed')}, arrived {arrived}")
        print(f"premailer ran {premailer_runs} time(s) during the send (target 1)")
        print("peak RSS (VmHWM) and CPU seconds during the send, per process:")
        for (pid, label), kb in sorted(peaks.peaks.items(), key=lambda x: x[0][1]):
            used = peaks.cpu.get((pid, label), 0.0) - cpu_before.get((pid, label), 0.0)
            print(f"  {label:22} pid {pid:>7}  {kb / 1024:7.1f} MB  {used:6.2f} s CPU")
        assert arrived == args.subscribers, (arrived, args.subscribers)
        return 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
        redis.terminate()
        redis.wait(10)
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--batch", type=int, help="DIGEST_DELIVERY_BATCH_SIZE (default: the project's)"
    )
    parser.add_argument("--database-url", help="default: SQLite in the temporary folder")
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of the `digest send` process to FILE"
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
