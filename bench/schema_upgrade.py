"""What `digest init` costs on an empty database: the whole chain of revisions (Alembic,
0001 to the head) against the baseline (digest.store.baseline: the tables in one step, then
the revisions after it). Prints the median of several runs, each on a new database, in
this process (Alembic already imported) and as a new process (imports included).

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
from collections.abc import Callable, Iterator
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


def measure(
    kind: str, server: str | None, runs: int, how: str, step: Callable[[str], None] | None
) -> float:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            with new_database(kind, server, n, Path(tmp)) as url:
                start = time.perf_counter()
                if step is not None:
                    step(url)
                else:
                    code = COLD[how].format(url=url)
                    subprocess.run([sys.executable, "-c", code], check=True)
                times.append(time.perf_counter() - start)
                assert schema.schema_state(url).is_current
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgres", help="a maintenance database URL (databases are made)")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    print(f"fresh upgrade to {schema.shipped_head()}, median of {args.runs} runs (ms)")
    print(f"{'database':<12}{'where':<14}{'chain':>9}{'baseline':>10}{'ratio':>8}")
    for kind in kinds:
        warm = {how: measure(kind, args.postgres, args.runs, how, f) for how, f in
                (("chain", chain), ("baseline", baseline))}  # fmt: skip
        cold = {how: measure(kind, args.postgres, args.runs, how, None) for how in COLD}
        for where, found in (("in process", warm), ("new process", cold)):
            a, b = found["chain"] * 1000, found["baseline"] * 1000
            print(f"{kind:<12}{where:<14}{a:>9.1f}{b:>10.1f}{a / b:>7.1f}x")


if __name__ == "__main__":
    main()
