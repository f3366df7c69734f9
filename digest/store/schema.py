"""The schema with Alembic: `upgrade` creates or migrates it, `require_current_schema`
checks it, `new_revision` writes the next migration."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import DBAPIError

from digest.errors import InvalidInput, SchemaOutOfDate
from digest.store import baseline, manifest
from digest.store.db import check_connection, get_engine

if TYPE_CHECKING:
    from alembic.config import Config


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, migrations_dir: Path = MIGRATIONS) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Create the database or bring it to the newest schema (what `digest init` runs).

    A database without any table gets the baseline's schema in one step (digest.store.
    baseline), then the revisions after it; any other goes through the chain.
    """
    check_connection(url)
    if create_from_baseline(url) and shipped_head() == baseline.REVISION:
        return  # Alembic is not even loaded
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    checkpoint(url)


def checkpoint(url: str) -> None:
    """Into SQLite's file itself, as the chain leaves it: a copy of digest.db alone (a
    backup, a test's template) then holds the schema, though a pooled connection stays
    open. Nothing to do on other databases."""
    with get_engine(url).connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# The key of the PostgreSQL advisory lock that two `digest init` on one empty database
# take in turn (the second then finds the tables and leaves them to the chain).
BASELINE_LOCK = 0x6469676573740001


def create_from_baseline(url: str) -> bool:
    """On a database without any table, create the baseline's tables and stamp them with
    its revision, all or nothing; True when it did, False when the database has tables."""
    with get_engine(url).connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite opens no transaction for CREATE: without this, each one stands alone.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BASELINE_LOCK})
        if inspect(conn).get_table_names():
            conn.rollback()
            return False
        baseline.create(conn)
        conn.commit()
    checkpoint(url)
    return True


def restamp_older_chain(conn: Connection) -> None:
    """The revisions run 0003, 0004, 0005, 0006, 0007; some earlier commits of main ran
    them 0003, 0006, 0004, 0005, 0007. A database stamped 0004 or 0005 by that order has
    0006's column already, and this chain would add it again: it is stamped 0006 instead,
    and revision 0012 adds what 0004 or 0005 would have (it adds only what is missing).
    (A database stamped 0006 by that order lacks 0004 and 0005: 0012 adds them too.)
    Alembic's environment calls this on its connection before it reads the stamp."""
    found = inspect(conn)
    if not found.has_table("alembic_version") or not found.has_table("deliveries"):
        return
    stamped = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    columns = {c["name"] for c in found.get_columns("deliveries")}
    if stamped in (["0004"], ["0005"]) and "next_attempt_at" in columns:
        conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against the migrations this code ships."""

    current: str | None  # the revision stamped in the database; None: no schema at all
    head: str  # the newest revision shipped
    known: bool  # whether `current` is one of the shipped revisions (None counts as known)

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def _missing_sqlite_file(url: str) -> bool:
    """An SQLite URL naming a file that does not exist (connecting would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    return not Path(database).exists()


_REVISION = re.compile(r"^revision(?:\s*:[^=\n]+)?\s*=\s*[\"']([\w-]+)[\"']\s*$", re.M)


_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:[^=\n]+)?\s*=\s*(?:None|[\"']([\w-]+)[\"'])\s*$", re.M
)


def shipped_head(migrations_dir: Path = MIGRATIONS) -> str | None:
    """The newest shipped revision, read from the files' `revision = "..."` and
    `down_revision = ...` lines without loading Alembic (which costs every command about
    70 ms); None when the files are not a plain chain this reading understands (a merge, a
    tuple, a revision set some other way): then Alembic is asked."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations_dir / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _at_revision(url: str, head: str) -> bool:
    """Whether the database is stamped with exactly this one revision (a cheap read)."""
    with get_engine(url).connect() as conn:
        try:
            stamped = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        except DBAPIError:  # no schema yet, or not ours: the full check says which
            return False
    return [tuple(row) for row in stamped] == [(head,)]


def schema_state(url: str, migrations_dir: Path = MIGRATIONS) -> SchemaState:
    """Read the database's revision and compare it with the newest shipped one.

    Changes nothing (for SQLite, does not even create a missing file). Errors connecting to
    the database are raised as they come. A database at the newest revision, what nearly
    every command finds, is told without loading Alembic.
    """
    head = shipped_head(migrations_dir)
    if head is not None and not _missing_sqlite_file(url):
        check_connection(url)  # a missing folder, a wrong host: one line naming the setting
        if _at_revision(url, head):
            return SchemaState(current=head, head=head, known=True)
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config(url, migrations_dir))
    head = script.get_current_head()
    assert head is not None, "no migrations found"
    if _missing_sqlite_file(url) and Path(make_url(url).database or "").parent.is_dir():
        return SchemaState(current=None, head=head, known=True)
    check_connection(url)  # a missing folder, a wrong host: one line naming the setting
    with get_engine(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return SchemaState(current=None, head=head, known=True)
        current = MigrationContext.configure(conn).get_current_revision()
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:
        known = False
    return SchemaState(current=current, head=head, known=known)


def require_current_schema(url: str, migrations_dir: Path = MIGRATIONS) -> SchemaState:
    """Return the state when the database is at the newest revision; else raise
    SchemaOutOfDate whose one-line message says what to do (mostly: run `digest init`).

    Everything but `digest init` and `digest run` calls this instead of migrating.
    """
    state = schema_state(url, migrations_dir)
    if state.is_current:
        return state
    if state.current is None:
        raise SchemaOutOfDate("the database has no schema yet: run `digest init` to create it")
    if not state.known:
        raise SchemaOutOfDate(
            f"the database schema is at revision {state.current}, which this version of "
            f"digest does not know (its newest is {state.head}): install the newer digest"
        )
    raise SchemaOutOfDate(
        f"the database schema is at revision {state.current}, this version of digest needs "
        f"{state.head}: run `digest init` to upgrade it"
    )


def _next_rev_id(migrations_dir: Path, url: str) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url, migrations_dir))
    numbers = [int(s.revision) for s in script.walk_revisions() if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def _ruff() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    binary = shutil.which("ruff")
    return [binary] if binary else None


def _tidy(path: Path) -> None:
    """Sort imports, drop unused ones and format, with the project's line length.

    Without ruff installed the file is left as the template wrote it.
    """
    ruff = _ruff()
    if ruff is None:
        return
    options = ["--quiet", "--line-length", "100", "--target-version", "py311"]
    check = [*ruff, "check", "--fix", "--select", "I,F401", *options, str(path)]
    subprocess.run(check, check=False, capture_output=True)
    subprocess.run([*ruff, "format", *options, str(path)], check=True, capture_output=True)


def new_revision(url: str, message: str, migrations_dir: Path = MIGRATIONS) -> Path:
    """Write the next migration, autogenerated by comparing the models with the database at
    `url`, which must be at the newest revision (else SchemaOutOfDate). The revision id is
    the next number (0003, 0004...); the file goes into `migrations_dir`/versions, its entry
    at the end of the folder's manifest (digest.store.manifest), and its path is returned.
    `migrations_dir` is the package's migrations unless a copy is given.
    """
    from argparse import Namespace

    from alembic import command

    if not message.strip():
        raise InvalidInput("a new revision needs a message saying what it changes")
    require_current_schema(url, migrations_dir)
    rev_id = _next_rev_id(migrations_dir, url)
    cfg = alembic_config(url, migrations_dir)
    cfg.cmd_opts = Namespace(quiet=True)  # the caller prints the returned path
    script = command.revision(
        cfg,
        message=re.sub(r"\s+", " ", message.strip()),
        autogenerate=True,
        rev_id=rev_id,
    )
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    _tidy(path)
    try:
        manifest.append(migrations_dir, path)
    except manifest.ManifestError as exc:
        raise InvalidInput(f"wrote {path}, but did not list it: {exc}") from None
    return path
