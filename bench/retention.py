"""What retention does to the size of the database: a list of N subscribers gets one digest a
day for D days, its ledger written as the planner and the senders leave it (a row per copy:
sent, with its Message-ID, claim and acceptance times; a few failed and bounced), once
without pruning and once with `digest.pipeline.retention.prune` after each day's send.
Prints, for both, the ledger's rows, the tallies' rows and the database's size (on
SQLite the file, and the file after VACUUM; on PostgreSQL pg_database_size and the
deliveries table with its indexes, with a VACUUM of the ledger after each prune standing
for the autovacuum a day between two prunes gives), and how long the daily prunes took
(the VACUUM not included).

The sends themselves are not made here (bench/send.py measures them): the rows are
written in bulk, so that a month of a large list takes minutes, not hours.

    .venv/bin/python bench/retention.py --subscribers 20000 --days 30 --retention-days 7
    .venv/bin/python bench/retention.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, make_url, select, text

from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, SendKind, SubscriberStatus
from digest.pipeline.retention import prune
from digest.store import db, schema
from digest.store.models import (
    Article,
    Delivery,
    DeliveryTally,
    Edition,
    EditionArticle,
    Send,
    Source,
    Subscriber,
)

START = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
ROWS_PER_INSERT = 10_000
# One copy in a hundred fails for good, one in two hundred bounces.
FAILED_EVERY, BOUNCED_EVERY = 100, 200


@contextmanager
def new_database(server: str | None, label: str, folder: Path) -> Iterator[str]:
    if server is None:
        yield f"sqlite:///{folder / f'{label}.db'}"
        return
    name = f"digest_bench_retention_{label}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        db.close_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed(url: str, subscribers: int) -> tuple[int, list[int]]:
    """A source and N confirmed subscribers; their ids."""
    with db.session_scope(url) as session:
        source = Source(url="https://bench.example/feed", name="Bench", created_at=START)
        session.add(source)
        session.flush()
        rows = [
            {
                "email": f"reader{i}@bench.example",
                "status": SubscriberStatus.CONFIRMED,
                "created_at": START,
                "confirmed_at": START,
            }
            for i in range(subscribers)
        ]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            session.execute(insert(Subscriber), rows[start : start + ROWS_PER_INSERT])
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        return source.id, ids


def one_day(url: str, source_id: int, subscriber_ids: list[int], day: int) -> None:
    """The day's article, edition, send and one copy per subscriber, as left once sent."""
    at = START + timedelta(days=day)
    with db.session_scope(url) as session:
        article = Article(
            source_id=source_id,
            key=f"story-{day}",
            link=f"https://bench.example/story-{day}",
            title=f"Story of day {day}",
            first_seen_at=at - timedelta(hours=3),
            body_text="A paragraph of the day's story. " * 40,
        )
        edition = Edition(
            content_key=f"day-{day}",
            created_at=at,
            subject=f"Bench digest, day {day}",
            html="<html><body>" + "<p>An edition of about twenty items.</p>" * 400 + "</body>",
            text="An edition of about twenty items.\n" * 400,
        )
        send = Send(created_at=at, kind=SendKind.DUE)
        session.add_all([article, edition, send])
        session.flush()
        session.add(EditionArticle(edition_id=edition.id, article_id=article.id, position=0))
        batch: list[dict[str, object]] = []
        for n, subscriber_id in enumerate(subscriber_ids):
            status = (
                DeliveryStatus.BOUNCED
                if n % BOUNCED_EVERY == 7
                else DeliveryStatus.FAILED
                if n % FAILED_EVERY == 3
                else DeliveryStatus.SENT
            )
            sent = status == DeliveryStatus.SENT
            batch.append(
                {
                    "edition_id": edition.id,
                    "subscriber_id": subscriber_id,
                    "send_id": send.id,
                    "status": status,
                    "attempts": 1,
                    "last_error": None if sent else "550 5.1.1 mailbox unavailable",
                    "message_id": f"<digest.e{edition.id}.s{subscriber_id}.abcdefghij234567"
                    "@bench.example>",
                    "created_at": at,
                    "claimed_at": at + timedelta(seconds=n // 500),
                    "sent_at": at + timedelta(seconds=n // 500 + 1) if sent else None,
                    "next_attempt_at": at,
                }
            )
            if len(batch) == ROWS_PER_INSERT:
                session.execute(insert(Delivery), batch)
                batch = []
        if batch:
            session.execute(insert(Delivery), batch)


def sizes(url: str) -> dict[str, int]:
    engine = db.get_engine(url)
    found: dict[str, int] = {}
    with db.session_scope(url) as session:
        found["ledger rows"] = session.scalar(select(func.count()).select_from(Delivery)) or 0
        found["tally rows"] = session.scalar(select(func.count()).select_from(DeliveryTally)) or 0
    if engine.dialect.name == "sqlite":
        path = Path(make_url(url).database or "")
        db.close_all()
        with create_engine(url).connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        found["file bytes"] = path.stat().st_size
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM")
        found["file bytes after VACUUM"] = path.stat().st_size
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        with engine.connect() as conn:
            found["database bytes"] = int(
                conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0
            )
            found["deliveries table + indexes bytes"] = int(
                conn.exec_driver_sql("SELECT pg_total_relation_size('deliveries')").scalar() or 0
            )
    return found


def run(
    url: str, subscribers: int, days: int, retention_days: int, batch: int, pruning: bool
) -> tuple[dict[str, int], list[float], float]:
    schema.upgrade(url)
    settings = Settings(
        database_url=url,
        delivery_retention_days=retention_days,
        article_retention_days=0,
        prune_batch_size=batch,
    )
    source_id, ids = seed(url, subscribers)
    prunes: list[float] = []
    began = time.perf_counter()
    for day in range(days):
        one_day(url, source_id, ids, day)
        if pruning:
            started = time.perf_counter()
            prune(settings, now=START + timedelta(days=day, hours=1))
            prunes.append(time.perf_counter() - started)
            if url.startswith("postgresql"):
                # A day passes between two prunes, and autovacuum has its turn in it
                # (it marks the deleted rows' space free for the next day's rows); here
                # the days follow each other in seconds, so VACUUM stands for it.
                with (
                    db.get_engine(url)
                    .connect()
                    .execution_options(isolation_level="AUTOCOMMIT") as conn
                ):
                    conn.exec_driver_sql("VACUUM deliveries")
    return sizes(url), prunes, time.perf_counter() - began


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--retention-days", type=int, default=7)
    parser.add_argument("--batch", type=int, default=5000, help="DIGEST_PRUNE_BATCH_SIZE")
    parser.add_argument("--postgres", help="a server URL; else SQLite in a temporary folder")
    args = parser.parse_args()
    print(
        f"{args.subscribers:,} subscribers, {args.days} daily sends, retention "
        f"{args.retention_days} days, batches of {args.batch}, "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, pruning in (("kept", False), ("pruned", True)):
            with new_database(args.postgres, label, Path(folder)) as url:
                found, prunes, took = run(
                    url, args.subscribers, args.days, args.retention_days, args.batch, pruning
                )
                results[label] = found
                line = f"{label:>7}: {took:.0f} s in all"
                if prunes:
                    line += (
                        f"; daily prune median {statistics.median(prunes):.2f} s, "
                        f"longest {max(prunes):.2f} s"
                    )
                print(line)
            db.close_all()
    print(f"{'':>34} {'no pruning':>14} {'pruned':>14}")
    for key in results["kept"]:
        kept, pruned = results["kept"][key], results["pruned"][key]
        show = mib if "bytes" in key else (lambda n: f"{n:,}")
        print(f"{key:>34} {show(kept):>14} {show(pruned):>14}")


if __name__ == "__main__":
    main()
