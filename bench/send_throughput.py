"""Send throughput: the project's in-process send against the physical limit on this machine.

One run measures, all on loopback and in temporary directories:

* raw SMTP: ``smtplib`` sending pre-built small messages over one connection into an
  aiosmtpd sink that only counts (the ceiling for one sequential sender), and the same
  with messages padded to the size of a real digest copy;
* plan: ``digest.pipeline.plan_send(settings, kind="now")`` for N confirmed subscribers in a
  fresh SQLite database (one shared edition: render + CSS inlining once, N ledger rows);
* deliver: ``digest.pipeline.deliver_in_process`` over ``SmtpTransport`` into the same sink;
* with ``--outbox``: delivery into ``OutboxTransport`` against plain writes of the same bytes.

The sink runs in a child process, so the sender and the receiver do not share one GIL.
Articles come from the bundled sample feeds (served on 127.0.0.1 and gathered with the
project's own code) or, with ``--articles synthetic``, are inserted directly.

    .venv/bin/python bench/send_throughput.py --subscribers 2000
    .venv/bin/python bench/send_throughput.py --subscribers 2000 --outbox --profile 30

This is a measurement, not a test: it asserts only that every message arrived.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing as mp
import os
import platform
import pstats
import smtplib
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

T = TypeVar("T")

SENDER = "bench@localhost"


# --- the sink -----------------------------------------------------------------------------


class CountingHandler:
    """An aiosmtpd handler that accepts every message and only counts messages and bytes."""

    def __init__(self, count: Synchronized[int], size: Synchronized[int]) -> None:
        self.count = count
        self.size = size

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.count.get_lock():
            self.count.value += 1
        with self.size.get_lock():
            self.size.value += len(envelope.content or b"")
        return "250 OK"


def _run_sink(
    port: int,
    count: Synchronized[int],
    size: Synchronized[int],
    ready: EventType,
    stop: EventType,
) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(count, size), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        stop.wait(timeout=3600)  # bounded even if the parent dies without telling us
    finally:
        controller.stop()


@dataclass
class Sink:
    url: str
    count: Synchronized[int]
    size: Synchronized[int]

    def reset(self) -> None:
        with self.count.get_lock():
            self.count.value = 0
        with self.size.get_lock():
            self.size.value = 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_sink() -> Iterator[Sink]:
    """A counting SMTP server on 127.0.0.1 in a child process, for the duration of the block."""
    ctx = mp.get_context("spawn")
    count: Synchronized[int] = ctx.Value("q", 0)  # type: ignore[assignment]  # ctx.Value is typed as SynchronizedBase
    size: Synchronized[int] = ctx.Value("q", 0)  # type: ignore[assignment]  # ctx.Value is typed as SynchronizedBase
    ready, stop = ctx.Event(), ctx.Event()
    port = _free_port()
    proc = ctx.Process(
        target=_run_sink, args=(port, count, size, ready, stop), name="smtp-sink", daemon=True
    )
    proc.start()
    try:
        if not ready.wait(timeout=30):
            raise RuntimeError("the SMTP sink did not start within 30 s")
        yield Sink(f"smtp://127.0.0.1:{port}", count, size)
    finally:
        stop.set()
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)


# --- measurements -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    messages: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def small_messages(n: int, body_bytes: int = 200) -> list[bytes]:
    """n pre-serialized plain-text messages, each a few hundred bytes, distinct recipients."""
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"
    body = (line * (body_bytes // len(line) + 1))[:body_bytes]
    out = []
    for i in range(n):
        msg = EmailMessage(policy=SMTP)
        msg["From"] = SENDER
        msg["To"] = f"reader{i:06d}@example.test"
        msg["Subject"] = f"Raw message {i}"
        msg["Message-ID"] = f"<raw.{i}@localhost>"
        msg.set_content(body)
        out.append(msg.as_bytes())
    return out


def raw_smtp(url: str, messages: list[bytes]) -> float:
    """Seconds to send pre-built messages over one smtplib connection (connect included)."""
    host, _, port = url.removeprefix("smtp://").partition(":")
    start = time.perf_counter()
    with smtplib.SMTP(host, int(port), timeout=30) as conn:
        for i, data in enumerate(messages):
            conn.sendmail(SENDER, [f"reader{i:06d}@example.test"], data)
    return time.perf_counter() - start


def raw_file_writes(directory: Path, blobs: list[bytes]) -> float:
    """Seconds to write each blob with the same write-to-temp-then-rename as the outbox."""
    directory.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, data in enumerate(blobs):
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, directory / f"raw-{i:06d}.eml")
    return time.perf_counter() - start


# --- the project's side -------------------------------------------------------------------


def make_settings(workdir: Path, smtp_url: str | None) -> Any:
    from digest.config import Settings

    return Settings(
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        smtp_url=smtp_url,
        outbox_dir=workdir / "outbox",
        templates_dir=REPO / "templates",
        base_url="http://localhost:8000",
        secret_key="bench-secret-key",
        broker_url=None,
    )


def add_sample_articles(settings: Any) -> int:
    """Serve the bundled samples on loopback and gather them with the project's own code."""
    from digest import pipeline
    from digest.runtime.samples import allowing_samples, seed_samples, serve_samples

    with serve_samples() as base:
        seed_samples(settings.database_url, base, subscribers=False)
        results = pipeline.gather_all(allowing_samples(settings, base))
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"gathering the samples failed: {errors}")
    return sum(r.new for r in results)


def add_synthetic_articles(settings: Any, count: int = 8) -> int:
    """A Source and `count` Article rows inserted directly, with plausible text."""
    from digest.core.vocabulary import utcnow
    from digest.store.db import session_scope
    from digest.store.models import Article, Source
    from digest.store.topics import topics_named

    now = utcnow()
    paragraph = (
        "The council met on Tuesday to discuss the harbour budget, the bridge repairs and "
        "the reopening of the library, and agreed to publish the figures next week. "
    )
    with session_scope(settings.database_url) as session:
        source = Source(
            url="http://127.0.0.1/feed.xml",
            name="Bench Gazette",
            topics=topics_named(session, ["city"]),
        )
        session.add(source)
        session.flush()
        for i in range(count):
            body = paragraph * 12
            session.add(
                Article(
                    source_id=source.id,
                    key=f"bench-{i}",
                    link=f"http://127.0.0.1/articles/{i}.html",
                    title=f"Bench article {i}: the council and the harbour budget",
                    author="A. Writer",
                    categories=["city", "harbour"],
                    published_at=now,
                    first_seen_at=now,
                    content_html=f"<p>{body}</p>",
                    body_text=body,
                    summary=paragraph * 2,
                )
            )
    return count


def add_subscribers(settings: Any, n: int) -> None:
    """n confirmed subscribers in one bulk INSERT."""
    from sqlalchemy import insert

    from digest.core.vocabulary import SubscriberStatus, utcnow
    from digest.store.db import session_scope
    from digest.store.models import Subscriber

    now = utcnow()
    rows = [
        {
            "email": f"reader{i:06d}@example.test",
            "name": f"Reader {i}",
            "status": SubscriberStatus.CONFIRMED,
            "frequency": "daily",
            "hour": 7,
            "timezone": "UTC",
            "created_at": now,
            "confirmed_at": now,
            "last_article_id": 0,
        }
        for i in range(n)
    ]
    with session_scope(settings.database_url) as session:
        session.execute(insert(Subscriber), rows)


def reset_deliveries(settings: Any, delivery_ids: list[int]) -> None:
    """Put delivered rows back to pending, so the same plan can be delivered again."""
    from sqlalchemy import update

    from digest.core.vocabulary import DeliveryStatus
    from digest.store.db import session_scope
    from digest.store.models import Delivery

    with session_scope(settings.database_url) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids))
            .values(status=DeliveryStatus.PENDING, attempts=0, sent_at=None, message_id=None)
        )


def profiled(fn: Callable[[], T], top: int, title: str) -> T:
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n--- profile: {title} ---\n{out.getvalue()}", file=sys.stderr)
    return result


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU(s) ({cpu}), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def print_table(rows: list[Row], ratios: list[tuple[str, float]]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"\n{'step':<{width}}  {'messages':>8}  {'seconds':>8}  {'msg/s':>9}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 9}  ----")
    for r in rows:
        print(f"{r.name:<{width}}  {r.messages:>8}  {r.seconds:>8.3f}  {r.rate:>9.0f}  {r.note}")
    if ratios:
        print()
        for label, value in ratios:
            print(f"{label}: {value:.1f}x")


def run(args: argparse.Namespace) -> int:
    from digest import pipeline
    from digest.mail import OutboxTransport, SmtpTransport
    from digest.store import schema

    n = args.subscribers
    n_raw = args.raw or n
    rows: list[Row] = []
    print(f"machine: {machine()}")
    print(f"subscribers: {n}, raw messages: {n_raw}, articles: {args.articles}")

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp, smtp_sink() as sink:
        workdir = Path(tmp)

        # (a) the physical limit: pre-built small messages over one connection.
        small = small_messages(n_raw)
        seconds = raw_smtp(sink.url, small)
        if sink.count.value != n_raw:
            raise RuntimeError(f"raw: the sink got {sink.count.value} of {n_raw} messages")
        rows.append(Row("raw SMTP, small", n_raw, seconds, f"{len(small[0])} B each"))
        raw_small = rows[-1]

        # (b) the project: a fresh database, N subscribers, a few articles.
        settings = make_settings(workdir, sink.url)
        _, seconds = timed(lambda: schema.upgrade(settings.database_url))
        setup = f"schema {seconds:.2f} s"
        _, seconds = timed(lambda: add_subscribers(settings, n))
        setup += f", {n} subscribers {seconds:.2f} s"
        adder = add_sample_articles if args.articles == "samples" else add_synthetic_articles
        articles, seconds = timed(lambda: adder(settings))
        setup += f", {articles} articles {seconds:.2f} s"
        print(f"setup: {setup}")

        def plan() -> Any:
            return pipeline.plan_send(settings, kind="now")

        send_plan, seconds = timed(
            (lambda: profiled(plan, args.profile, "plan_send")) if args.profile else plan
        )
        if len(send_plan.delivery_ids) != n:
            raise RuntimeError(f"plan: {len(send_plan.delivery_ids)} deliveries, expected {n}")
        rows.append(
            Row("plan_send", n, seconds, f"{len(send_plan.editions)} edition(s), {n} ledger rows")
        )
        plan_row = rows[-1]

        sink.reset()
        transport = SmtpTransport(sink.url)

        def deliver() -> Any:
            try:
                return pipeline.deliver_in_process(settings, send_plan.delivery_ids, transport)
            finally:
                transport.close()

        report, seconds = timed(
            (lambda: profiled(deliver, args.profile, "deliver_in_process (SMTP)"))
            if args.profile
            else deliver
        )
        if report.sent != n or sink.count.value != n:
            raise RuntimeError(f"deliver: sent {report.sent}, sink got {sink.count.value} of {n}")
        average = sink.size.value // n
        rows.append(Row("deliver (SMTP)", n, seconds, f"{average} B each on average"))
        deliver_row = rows[-1]

        # The same physical limit with messages as large as a real digest copy.
        sink.reset()
        large = small_messages(n_raw, body_bytes=max(200, average - 300))
        seconds = raw_smtp(sink.url, large)
        rows.append(Row("raw SMTP, digest-sized", n_raw, seconds, f"{len(large[0])} B each"))
        raw_large = rows[-1]

        ratios = [
            ("raw SMTP (small) rate / deliver rate", raw_small.rate / deliver_row.rate),
            (
                "raw SMTP (small) rate / (plan + deliver) rate",
                raw_small.rate / (n / (plan_row.seconds + deliver_row.seconds)),
            ),
            ("raw SMTP (digest-sized) rate / deliver rate", raw_large.rate / deliver_row.rate),
        ]

        # (c) optional: the outbox transport against plain file writes of the same bytes.
        if args.outbox:
            reset_deliveries(settings, send_plan.delivery_ids)
            outbox = workdir / "outbox"
            _, seconds = timed(
                lambda: pipeline.deliver_in_process(
                    settings, send_plan.delivery_ids, OutboxTransport(outbox)
                )
            )
            files = sorted(outbox.glob("*.eml"))
            if len(files) != n:
                raise RuntimeError(f"outbox: {len(files)} files, expected {n}")
            rows.append(Row("deliver (outbox)", n, seconds, f"{outbox}"))
            outbox_row = rows[-1]
            blobs = [f.read_bytes() for f in files]
            seconds = raw_file_writes(workdir / "raw-files", blobs)
            rows.append(Row("raw file writes", n, seconds, "same bytes, temp file + rename"))
            raw_writes = rows[-1]
            ratios.append(
                ("raw file writes rate / outbox deliver rate", raw_writes.rate / outbox_row.rate)
            )

    print_table(rows, ratios)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=2000, help="N (default 2000)")
    parser.add_argument(
        "--raw", type=int, default=0, help="messages for the raw SMTP runs (default: N)"
    )
    parser.add_argument(
        "--outbox", action="store_true", help="also compare OutboxTransport with raw writes"
    )
    parser.add_argument(
        "--articles",
        choices=["samples", "synthetic"],
        default="samples",
        help="gather the bundled samples on loopback (default) or insert rows directly",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="profile plan and SMTP delivery with cProfile; print TOP lines to stderr "
        "(slows the measured steps down)",
    )
    args = parser.parse_args(argv)
    if args.subscribers < 1 or args.raw < 0:
        parser.error("--subscribers must be at least 1 and --raw not negative")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
