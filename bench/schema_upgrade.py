"""What `digest init` costs on an empty database: the whole chain of revisions (Alembic,
0001 to the head) against the baseline (digest.store.baseline: the tables in one step, then
the revisions after it). Prints the median and the fastest of several runs, each on a new
database, in this process (Alembic already imported) and as a new process (imports
included). On a shared machine the fastest run is the one least disturbed.

    .venv/bin/python bench/schema_upgrade.py [--runs 9]
    .venv/bin/python bench/schema_upgrade.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, make_url, text

from digest.store import db, schema


def chain(url: str) -> None:
    command.upgrade(schema.alembic_config(url), "head")


def baseline(url: str) -> None:
    schema.upgrade(url)


COLD = {
    "chain": "from alembic import command; from digest.store import schema; "
    "command.upgrade(schema.alembic_config({url!r}), 'head')",
    "baseline": "from digest.store import schema; schema.upgrade({url!r})",
}


@contextmanager
def new_database(kind: str, server: str | None, n: int, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench{n}.db'}"
        return
    assert server is not None
    name = f"digest_bench_schema_{n}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        db.get_engine(url).dispose()
        db.get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_once(kind: str, server: str | None, n: int, folder: Path, how: str, cold: bool) -> float:
    with new_database(kind, server, n, folder) as url:
        start = time.perf_counter()
        if cold:
            subprocess.run([sys.executable, "-c", COLD[how].format(url=url)], check=True)
        else:
            (chain if how == "chain" else baseline)(url)
        elapsed = time.perf_counter() - start
        assert schema.schema_state(url).is_current
    return elapsed


def measure(kind: str, server: str | None, runs: int, cold: bool) -> dict[str, list[float]]:
    """Chain and baseline taken in turns, so that both meet the same load."""
    times: dict[str, list[float]] = {"chain": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            for how in times:
                times[how].append(run_once(kind, server, n, Path(tmp), how, cold))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgres", help="a maintenance database URL (databases are made)")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    print(f"fresh upgrade to {schema.shipped_head()}, {args.runs} runs, ms: median / fastest")
    print(f"{'database':<12}{'where':<13}{'chain':>17}{'baseline':>17}{'ratio':>15}")
    for kind in kinds:
        for where, cold in (("in process", False), ("new process", True)):
            found = measure(kind, args.postgres, args.runs, cold)
            a, a_min = statistics.median(found["chain"]), min(found["chain"])
            b, b_min = statistics.median(found["baseline"]), min(found["baseline"])
            chain_ms = f"{a * 1000:.1f} / {a_min * 1000:.1f}"
            baseline_ms = f"{b * 1000:.1f} / {b_min * 1000:.1f}"
            ratio = f"{a / b:.1f} / {a_min / b_min:.1f}x"
            print(f"{kind:<12}{where:<13}{chain_ms:>17}{baseline_ms:>17}{ratio:>15}")


if __name__ == "__main__":
    main()
