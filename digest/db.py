"""Engine and sessions; the schema with Alembic: `upgrade` creates or migrates it,
`require_current_schema` checks it, `new_revision` writes the next migration."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Insert, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from digest.config import DATABASE_EXAMPLES
from digest.core.redact import mask_url
from digest.errors import ConfigError, InvalidInput, SchemaOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the CLI read while a worker writes; the busy timeout makes writers wait
    # instead of failing when several processes share one file.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# Every engine this process made, so a forked child can drop the connections it inherited.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child (a Celery pool process, a gather process): start each engine's
    pool afresh without closing the parent's connections. Two processes writing on one
    inherited socket interleave their statements: a commit answered for the other
    process, a batch sent but never recorded and so sent again."""
    for engine in list(_engines):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


def close_all() -> None:
    """Close every pooled connection of this process. The last connection to a SQLite
    file folds its write-ahead log back into the file: a copy of `digest.db` alone then
    holds everything."""
    for engine in list(_engines):
        engine.dispose()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """The engine for a URL; a malformed URL or a missing driver raises ConfigError."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise _engine_error(url, exc) from None
    _engines.add(engine)
    return engine


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _engine_error(url: str, exc: Exception) -> ConfigError:
    shown = mask_url(url)
    if isinstance(exc, ImportError):
        hint = ""
        if make_url(url).get_backend_name() == "postgresql":
            hint = "; use postgresql+psycopg://... and pip install 'digest[postgres]'"
        return ConfigError(
            f"DIGEST_DATABASE_URL: the database driver for {shown!r} is not installed "
            f"({_first_line(exc)}){hint}"
        )
    return ConfigError(
        f"DIGEST_DATABASE_URL: cannot use {shown!r} ({_first_line(exc)}); use {DATABASE_EXAMPLES}"
    )


def _sqlite_problem(path: str, reason: str) -> str:
    """Say why SQLite could not open a file, in terms of the file and its folder."""
    file = Path(path)
    folder = file.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if file.is_dir():
        return f"{file} is a folder, not a file"
    if "not a database" in reason:
        return f"the file {file} is not an SQLite database"
    if "readonly" in reason or "unable to open" in reason:
        return f"{reason} (can this user write to {file} and to the folder {folder}?)"
    return reason


def connection_error(url: str, exc: DBAPIError) -> ConfigError:
    """A ConfigError naming DIGEST_DATABASE_URL for a database that cannot be opened."""
    shown = mask_url(url)
    reason = _first_line(exc.orig if exc.orig is not None else exc)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            reason = _sqlite_problem(path, reason)
        return ConfigError(
            f"DIGEST_DATABASE_URL: cannot open the SQLite database {shown}: {reason}"
        )
    return ConfigError(f"DIGEST_DATABASE_URL: cannot connect to the database {shown}: {reason}")


def check_connection(url: str) -> None:
    """Open a connection and run a trivial query; raise ConfigError if the database cannot
    be reached, opened or read (a wrong host, a missing folder, a file that is not SQLite)."""
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise connection_error(url, exc) from None


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignore(session: Session, table: type[DeclarativeBase]) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING in the session's dialect: a unique key decides races."""
    # The dialect's own module: the engine has loaded it already, the other one is not needed.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def alembic_config(url: str, migrations_dir: Path = MIGRATIONS) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Create the database or bring it to the newest schema (what `digest init` runs)."""
    from alembic import command

    check_connection(url)
    command.upgrade(alembic_config(url), "head")


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
    the next number (0003, 0004...); the file goes into `migrations_dir`/versions and its
    path is returned. `migrations_dir` is the package's migrations unless a copy is given.
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
    return path
