"""CSV import speed: `digest subscribers import` against a plain bulk insert of the same rows.

One run, in a temporary directory removed afterwards:

* writes N generated rows (default 100,000) to a CSV file with every column;
* in a fresh child process, imports it into a fresh database with the function the CLI
  calls (`digest.services.importing.import_file`: streamed, checked, batched bulk writes);
* in another fresh child, the floor: the same file read by `csv.reader` and inserted in
  batches of the same size with one plain `INSERT` each (no checks, no topics), into a
  second fresh database;
* imports the file a second time (every row unchanged);

and prints each time, the ratio import / plain insert, and each child's peak memory
(`ru_maxrss`, the interpreter and libraries included). Limits: the import within 10 s
and 150 MB.

    .venv/bin/python bench/import.py
    .venv/bin/python bench/import.py --rows 100000 --database-url postgresql+psycopg://...

This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LIMIT_SECONDS = 10.0
LIMIT_MB = 150.0
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
TOPICS = ["city", "harbour", "arts", "transport", "sport"]


def write_rows(path: Path, rows: int) -> None:
    rng = random.Random(6)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["email", "name", "status", "frequency", "weekday", "day_of_month", "hour",
             "timezone", "topics"]
        )  # fmt: skip
        for i in range(rows):
            frequency = rng.choice(["daily", "weekly", "monthly"])
            writer.writerow(
                [
                    f"reader{i}@harwick{i % 97}.example",
                    f"Reader {i}",
                    rng.choice(["confirmed", "confirmed", "pending"]),
                    frequency,
                    rng.choice(["monday", "friday"]),
                    rng.choice(["1", "15", "last"]),
                    str(rng.randrange(24)),
                    rng.choice(ZONES),
                    "|".join(rng.sample(TOPICS, rng.randrange(3))),
                ]
            )


def child_import(url: str, path: Path) -> dict[str, float]:
    from digest.services import importing

    start = time.perf_counter()
    result = importing.import_file(url, path)
    seconds = time.perf_counter() - start
    assert not result.errors, result.errors[:3]
    return {
        "seconds": seconds,
        "imported": result.imported,
        "unchanged": result.unchanged,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_plain(url: str, path: Path) -> dict[str, float]:
    from sqlalchemy import insert

    from digest.core.vocabulary import utcnow
    from digest.services.importing import BATCH_SIZE
    from digest.store.db import session_scope
    from digest.store.models import Subscriber

    start = time.perf_counter()
    now = utcnow()
    count = 0
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        batch: list[dict[str, object]] = []

        def flush() -> None:
            with session_scope(url) as session:
                session.execute(insert(Subscriber), batch)
            batch.clear()

        for email, name, status, frequency, _, _, hour, zone, _ in reader:
            batch.append(
                {"email": email, "name": name, "status": status, "frequency": frequency,
                 "hour": int(hour), "timezone": zone, "created_at": now}
            )  # fmt: skip
            count += 1
            if len(batch) >= BATCH_SIZE:
                flush()
        if batch:
            flush()
    return {
        "seconds": time.perf_counter() - start,
        "imported": count,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(mode: str, url: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--database-url", url, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def fresh_database(url: str | None, folder: Path, name: str) -> str:
    from digest.store import schema

    if url is None:
        url = f"sqlite:///{folder / name}.db"
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    schema.upgrade(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database (dropped and made again)"
    )
    parser.add_argument("--child", choices=["import", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = child_import if args.child == "import" else child_plain
        print(json.dumps(work(args.database_url, args.file)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "subscribers.csv"
        write_rows(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        plain = run_child("plain", fresh_database(args.database_url, folder, "plain"), path)
        url = fresh_database(args.database_url, folder, "import")
        first = run_child("import", url, path)
        second = run_child("import", url, path)
    assert first["imported"] == args.rows and second["unchanged"] == args.rows
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.rows:,} rows ({size_mb:.1f} MB of CSV) into {kind}")
    print(f"  plain bulk insert   {plain['seconds']:6.2f} s   peak {plain['peak_mb']:5.0f} MB")
    print(f"  import (new rows)   {first['seconds']:6.2f} s   peak {first['peak_mb']:5.0f} MB")
    print(f"  import again (same) {second['seconds']:6.2f} s   peak {second['peak_mb']:5.0f} MB")
    print(f"  ratio import / plain insert: {first['seconds'] / plain['seconds']:.2f}")
    ok_time = first["seconds"] <= LIMIT_SECONDS and second["seconds"] <= LIMIT_SECONDS
    ok_mem = max(first["peak_mb"], second["peak_mb"]) <= LIMIT_MB
    verdict = "met" if ok_time and ok_mem else "NOT met"
    print(f"  limits {LIMIT_SECONDS:g} s and {LIMIT_MB:g} MB: {verdict}")


if __name__ == "__main__":
    main()
