"""Gather throughput: 1,000 feeds on 100 loopback hosts, and full-text extraction speed.

One run measures, all on loopback and in a temporary directory:

* the bound: what no gatherer can beat on this machine, measured in the same run. The
  waiting: requests x the server's latency / the fetches at once (the threads of every
  gathering process, or the per-host limit of every host, whichever is fewer); plus the
  CPU time of the work itself, done alone in this process on the same feed bodies (no
  network, no database): reading each feed (``digest.gather.read``) and making each
  entry's article (``article_from_entry``: sanitised, body extracted, language,
  summary). Both gathers below are printed as ratios to that bound.
* ``digest gather``: the command a user runs, as a subprocess (under a pseudo-terminal by
  default, so its progress bar is drawn as a user sees it), against a database prepared
  with N feed sources spread over H hosts (127.0.0.1 ... 127.0.0.H, N/H feeds each). Its
  time is the subprocess's wall clock: start-up, settings, the gather, the table.
* ``gather_all``: the library's ``digest.pipeline.gather_all`` on an identical database,
  in this process. The server answers each request after a fixed delay (200 ms) with 20
  items, and runs in a child process so it does not share the gatherer's GIL. The old
  limit is shown too: the same feeds fetched one after another (a sample of them, scaled
  to N). Peak memory is the largest process's maximum resident set size.
* extraction: ``digest.gather.parse_article_page`` (trafilatura plus the page's own
  metadata: headline, canonical link, language, image) against ``trafilatura.bare_extraction``
  alone, on the same pages, in pages per second on one core.
* full text: a feed of teasers gathered with ``--full-text never`` and ``auto``: the
  characters of text stored per article.

    .venv/bin/python bench/gather.py
    .venv/bin/python bench/gather.py --feeds 200 --hosts 20 --delay 0.2

It exits 1 when a figure misses its limit: ``digest gather`` over 1.5 times the bound (or
over 150 MB), gather_all over 15 s, extraction ratio under 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LOAD_BEFORE = 0.0
WORDS = [
    *("harbour", "ferry", "council", "market", "bridge", "library", "quay", "timetable"),
    *("budget", "school", "choir", "festival", "repairs", "commuters", "residents", "evening"),
    *("tickets", "weather", "river", "station", "tram", "museum", "garden"),
]


def sentence(seed: int, length: int = 14) -> str:
    words = [WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(length)]
    return " ".join(words).capitalize() + "."


def feed_body(host: int, feed: int, items: int = 20) -> bytes:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    parts = []
    for i in range(items):
        text = " ".join(sentence(host * 1000 + feed * 50 + i + k) for k in range(6))
        when = format_datetime(start - timedelta(hours=i), usegmt=True)
        parts.append(
            f"<item><title>Story {i} of feed {feed} on host {host}</title>"
            f"<link>http://127.0.0.{host}/story/{feed}-{i}</link><guid>h{host}f{feed}i{i}</guid>"
            f"<pubDate>{when}</pubDate><description>{escape(text)}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed} on host {host}</title><link>http://127.0.0.{host}/</link>"
        f"{''.join(parts)}</channel></rss>"
    ).encode()


def article_html(seed: int, *, teaser_host: int | None = None) -> str:
    paragraphs = "".join(
        f"<p>{' '.join(sentence(seed * 13 + p * 5 + k, 12 + k) for k in range(4))}</p>"
        for p in range(8)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Article {seed} | Bench Courier</title>"
        f'<meta property="og:title" content="Article {seed}">'
        f'<meta property="og:image" content="/img/{seed}.jpg">'
        f'<meta property="article:published_time" content="2026-02-{1 + seed % 27:02d}T08:00:00Z">'
        f'<link rel="canonical" href="/news/article-{seed}"></head><body>'
        f'<header><nav><a href="/">Home</a><a href="/sport">Sport</a></nav></header>'
        f"<main><article><h1>Article {seed}</h1>{paragraphs}</article></main>"
        f"<aside><h2>Latest</h2><ul><li><a href='/x'>Another story entirely</a></li></ul></aside>"
        f"<footer>All rights reserved</footer></body></html>"
    )


def teaser_feed(items: int, port: int) -> bytes:
    parts = "".join(
        f"<item><title>Article {i}</title><link>http://127.0.0.1:{port}/teaser/{i}</link>"
        f"<description>{escape(sentence(i))} …</description></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>'
        f"<link>http://127.0.0.1/</link>{parts}</channel></rss>"
    ).encode()


# --- the server (a child process) ---------------------------------------------------------


def serve(hosts: int, port: int, delay: float, ready: mp.synchronize.Event) -> None:  # type: ignore[name-defined]  # multiprocessing loads its synchronize module
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = int(writer.get_extra_info("sockname")[0].rsplit(".", 1)[1])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                await asyncio.sleep(delay)
                if path.startswith("/feed/"):
                    body, kind = feed_body(host, int(path.rsplit("/", 1)[1])), "application/rss+xml"
                elif path == "/teasers.xml":
                    body, kind = teaser_feed(20, port), "application/rss+xml"
                elif path.startswith("/teaser/"):
                    body, kind = article_html(int(path.rsplit("/", 1)[1])).encode(), "text/html"
                else:
                    body, kind = b"", "text/plain"
                status = b"200 OK" if body else b"404 Not Found"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: "
                    + kind.encode()
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [
            await asyncio.start_server(answer, f"127.0.0.{h}", port, backlog=512)
            for h in range(1, hosts + 1)
        ]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the measurements ---------------------------------------------------------------------


def settings_for(folder: Path, name: str, **extra: object):  # type: ignore[no-untyped-def]  # an untyped helper
    from digest.config import Settings
    from digest.store import schema

    settings = Settings(database_url=f"sqlite:///{folder / name}", **extra)  # type: ignore[arg-type]  # keyword arguments from a dict
    schema.upgrade(settings.database_url)
    return settings


def add_sources(settings, urls: list[str], full_text: str = "never") -> None:  # type: ignore[no-untyped-def]  # an untyped helper
    from digest.store.db import session_scope
    from digest.store.models import Source

    with session_scope(settings.database_url) as session:
        session.add_all(Source(url=url, name=url, full_text_mode=full_text) for url in urls)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the gathering processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def feed_urls(args: argparse.Namespace, port: int) -> list[str]:
    per_host = args.feeds // args.hosts
    hosts = range(1, args.hosts + 1)
    return [f"http://127.0.0.{h}:{port}/feed/{f}" for f in range(per_host) for h in hosts]


def _served_body(url: str) -> bytes:
    """What the server answers for a feed URL, made here without the network."""
    host = int(url.split("//", 1)[1].split(":", 1)[0].rsplit(".", 1)[1])
    return feed_body(host, int(url.rsplit("/", 1)[1]))


def measure_bound(args: argparse.Namespace, urls: list[str]) -> dict[str, float]:
    """The lower bound of a gather of `urls`, measured here: the waiting, spread over the
    fetches the settings allow at once, and the CPU time of the work itself (reading
    each feed, making each entry's article) done alone, in this process, on one core."""
    from digest.config import Settings
    from digest.gather import Fetched, as_source_fetcher, read
    from digest.pipeline import article_from_entry
    from digest.pipeline.gather import PROCESSES_FROM

    settings = Settings()
    processes = settings.gather_processes or os.cpu_count() or 1
    if len(urls) < PROCESSES_FROM:
        processes = 1
    hosts = len({u.split("/")[2] for u in urls})
    at_once = min(
        settings.gather_concurrency * processes, settings.gather_per_host * hosts, len(urls)
    )
    bodies = {url: _served_body(url) for url in urls}

    def fetcher(url: str) -> Fetched:
        return Fetched(url, 200, bodies[url], "application/rss+xml", None, None)

    source = as_source_fetcher(fetcher)
    now = datetime.now(UTC)
    for entry in read(urls[0], fetcher=source).entries[:2]:  # imports and caches warmed
        article_from_entry(entry, 1, now)
    started = time.process_time()
    reads = [read(url, fetcher=source) for url in urls]
    reading = time.process_time() - started
    started = time.process_time()
    for got in reads:
        for entry in got.entries:
            article_from_entry(entry, 1, now)
    making = time.process_time() - started
    waiting = len(urls) * args.delay / at_once
    return {
        "at_once": at_once,
        "processes": processes,
        "threads": settings.gather_concurrency,
        "waiting": waiting,
        "reading": reading,
        "making": making,
        "bound": waiting + reading + making,
    }


def _stored(settings) -> tuple[int, int]:  # type: ignore[no-untyped-def]  # an untyped helper
    """Articles stored, and sources whose last gather failed."""
    from sqlalchemy import func, select

    from digest.store.db import get_engine, session_scope
    from digest.store.models import Article, Source

    with session_scope(settings.database_url) as session:
        stored = session.scalar(select(func.count()).select_from(Article)) or 0
        failed = session.scalar(select(func.count()).where(Source.last_error.is_not(None))) or 0
    get_engine(settings.database_url).dispose()
    return stored, failed


@dataclass
class Ran:
    seconds: float  # wall clock, from the start of the process to its end
    code: int
    cpu: float  # the process and every child it waited for
    peak_mb: float  # the largest of them
    output: bytes


def _run_command(command: list[str], env: dict[str, str], tty: bool) -> Ran:
    """Run `command` as a user would; under a pseudo-terminal (80 x 24) with `tty`, so
    that Rich draws its live progress bar, else with its output to pipes."""
    import threading

    output = bytearray()
    if tty:
        import fcntl
        import pty
        import struct
        import termios

        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        streams: dict[str, Any] = {"stdin": follower, "stdout": follower, "stderr": follower}
    else:
        leader, follower = os.pipe()
        streams = {"stdin": subprocess.DEVNULL, "stdout": follower, "stderr": follower}

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the last writer of the terminal has gone
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, **streams)
    os.close(follower)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    reader.join(10)
    os.close(leader)
    return Ran(
        elapsed,
        child.returncode,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        bytes(output),
    )


def digest_command() -> list[str]:
    installed = Path(sys.executable).with_name("digest")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "digest"]


def measure_command(args: argparse.Namespace, urls: list[str], folder: Path) -> dict[str, float]:
    """`digest gather` in a subprocess against a database prepared with `urls`; before it,
    the same command on a database without sources: what starting and ending cost."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_FETCH_ALLOW_NETWORKS"] = os.environ["DIGEST_FETCH_ALLOW_NETWORKS"]
    command = [*digest_command(), "gather"]
    empty = settings_for(folder, "command-empty.db")
    env["DIGEST_DATABASE_URL"] = empty.database_url
    startup = min(_run_command(command, env, args.tty).seconds for _ in range(3))

    settings = settings_for(folder, "command.db")
    add_sources(settings, urls)
    env["DIGEST_DATABASE_URL"] = settings.database_url
    ran = _run_command(command, env, args.tty)
    stored, failed = _stored(settings)
    if ran.code not in (0, 1):
        print(ran.output.decode(errors="replace")[-3000:], file=sys.stderr)
    return {
        "seconds": ran.seconds,
        "startup": startup,
        "cpu": ran.cpu,
        "peak_mb": ran.peak_mb,
        "articles": stored,
        "failed": failed,
        "code": ran.code,
    }


def measure_gather(args: argparse.Namespace, urls: list[str], folder: Path) -> dict[str, float]:
    import httpx

    from digest import pipeline
    from digest.gather import fetch
    from digest.gather.fetch import GuardedTransport

    # The old limit, measured: one after another, as gathering did first (a sample, scaled).
    sample = urls[: args.sequential_sample]
    started = time.perf_counter()
    with httpx.Client() as client, GuardedTransport() as transport:
        for url in sample:
            fetch(url, client=client, transport=transport)
    sequential = (time.perf_counter() - started) / len(sample) * len(urls)

    settings = settings_for(folder, "gather.db")
    add_sources(settings, urls)
    cpu_before = _cpu()
    started = time.perf_counter()
    results = pipeline.gather_all(settings)
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    failed = [r for r in results if r.status != "ok"]
    stored = sum(r.new for r in results)
    if failed:
        print(f"{len(failed)} sources failed, e.g. {failed[0].error}", file=sys.stderr)
    peak_mb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    return {
        "cpu": cpu,
        "feeds": len(urls),
        "articles": stored,
        "failed": len(failed),
        "seconds": elapsed,
        "sequential": sequential,
        "peak_mb": peak_mb,
    }


def measure_extraction(pages: int, rounds: int) -> dict[str, float]:
    import trafilatura

    from digest.gather import parse_article_page

    documents = [(f"https://bench.example/news/article-{i}", article_html(i)) for i in range(pages)]

    def rate(function) -> float:  # type: ignore[no-untyped-def]  # an untyped helper
        times = []
        for _ in range(rounds):
            started = time.process_time()
            for url, html in documents:
                function(html, url)
            times.append(time.process_time() - started)
        return pages / statistics.median(times)

    def ours(html: str, url: str) -> None:
        parse_article_page(html, url=url)

    def alone(html: str, url: str) -> None:
        trafilatura.bare_extraction(html, url=url, with_metadata=True, include_links=True)

    alone(*documents[0][::-1])  # imports and caches warmed for both
    ours(*documents[0][::-1])
    return {"ours": rate(ours), "trafilatura": rate(alone)}


def measure_full_text(port: int, folder: Path) -> dict[str, float]:
    from sqlalchemy import func, select

    from digest import pipeline
    from digest.store.db import session_scope
    from digest.store.models import Article

    figures = {}
    for mode in ("never", "auto"):
        settings = settings_for(folder, f"teasers-{mode}.db")
        add_sources(settings, [f"http://127.0.0.1:{port}/teasers.xml"], full_text=mode)
        pipeline.gather_all(settings)
        with session_scope(settings.database_url) as session:
            figures[mode] = session.scalar(select(func.avg(func.length(Article.body_text)))) or 0
            figures[f"{mode}_full"] = session.scalar(
                select(func.count()).where(Article.full_text.is_(True))
            )
    return figures


def main() -> int:
    # The feeds are served on 127.0.0.x, which fetches refuse unless allowed.
    os.environ["DIGEST_FETCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each answer")
    parser.add_argument("--sequential-sample", type=int, default=25)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--tty",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run digest gather under a pseudo-terminal (its live progress bar drawn)",
    )
    parser.add_argument("--limit-bound", type=float, default=1.5, help="digest gather / bound")
    parser.add_argument("--limit-seconds", type=float, default=15.0, help="gather_all")
    parser.add_argument("--limit-mb", type=float, default=150.0)
    parser.add_argument("--limit-ratio", type=float, default=0.8)
    args = parser.parse_args()

    global LOAD_BEFORE
    LOAD_BEFORE = os.getloadavg()[0]
    port = free_port()
    ready = mp.get_context("spawn").Event()
    server = mp.get_context("spawn").Process(
        target=serve, args=(args.hosts, port, args.delay, ready), daemon=True
    )
    server.start()
    if not ready.wait(30):
        print("the loopback server did not start", file=sys.stderr)
        return 2
    urls = feed_urls(args, port)
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            c = measure_command(args, urls, folder)
            g = measure_gather(args, urls, folder)
            full = measure_full_text(port, folder)
    finally:
        server.terminate()
        server.join(10)
    b = measure_bound(args, urls)
    e = measure_extraction(args.pages, args.rounds)

    print(f"gather: {g['feeds']} feeds on {args.hosts} hosts, {args.delay * 1000:.0f} ms each")
    print(
        f"  bound             {b['bound']:7.2f} s   = {g['feeds']} requests x"
        f" {args.delay * 1000:.0f} ms / {b['at_once']:.0f} at once ({b['processes']:.0f}"
        f" processes x {b['threads']:.0f} threads) {b['waiting']:.2f} s"
        f"\n{'':22}+ CPU alone in this process: reading the feeds {b['reading']:.2f} s,"
        f" making the articles {b['making']:.2f} s"
    )
    tty = "under a pseudo-terminal" if args.tty else "output to pipes"
    print(
        f"  digest gather     {c['seconds']:7.2f} s   {c['seconds'] / b['bound']:.2f}x the bound"
        f"   (limit {args.limit_bound:g}x; a subprocess, {tty}; exit {c['code']})"
        f"\n{'':22}start-up and end alone (no sources) {c['startup']:.2f} s;"
        f" CPU {c['cpu']:.2f} s, all processes; peak {c['peak_mb']:.1f} MB;"
        f" stored {c['articles']} articles, {c['failed']} sources failed"
        f"\n  gather_all        {g['seconds']:7.2f} s   {g['seconds'] / b['bound']:.2f}x the bound"
        f"   (limit {args.limit_seconds:g} s; in this process)"
        f"\n{'':22}CPU {g['cpu']:.2f} s, all processes; stored {g['articles']} articles,"
        f" {g['failed']} sources failed"
        f"\n  one after another {g['sequential']:7.2f} s   (measured on"
        f" {args.sequential_sample}, scaled)   speed-up {g['sequential'] / g['seconds']:.1f}x"
        f"\n  peak memory       {g['peak_mb']:7.1f} MB  (limit {args.limit_mb:g} MB,"
        " the largest process)"
        f"\n  load average before: {LOAD_BEFORE:.1f} on {os.cpu_count()} cores"
    )
    ratio = e["ours"] / e["trafilatura"]
    print(
        f"extraction, one core: parse_article_page {e['ours']:.1f} pages/s,"
        f" trafilatura alone {e['trafilatura']:.1f} pages/s, ratio {ratio:.2f}"
        f" (limit {args.limit_ratio:g})"
    )
    print(
        f"teaser feed (20 entries): text per article {full['never']:.0f} chars with"
        f" --full-text never, {full['auto']:.0f} chars with auto"
        f" ({full['auto_full']:.0f} of 20 from their page)"
    )
    if c["seconds"] > args.limit_bound * b["bound"] or c["failed"] or c["code"]:
        ok = False
    if g["seconds"] > args.limit_seconds or g["peak_mb"] > args.limit_mb or g["failed"]:
        ok = False
    if c["peak_mb"] > args.limit_mb or ratio < args.limit_ratio:
        ok = False
    print("within limits" if ok else "OUTSIDE LIMITS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
