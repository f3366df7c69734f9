"""Engine and sessions; the schema with Alembic: `upgrade` creates or migrates it,
`require_current_schema` checks it, `new_revision` writes the next migration."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Engine, Insert, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.orm import Session as Session  # the unit of work the layers above pass on

from digest.config import DATABASE_EXAMPLES
from digest.core.redact import mask_url
from digest.errors import ConfigError

if TYPE_CHECKING:
    pass


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


def _sqlite_commits_unsynced(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def commit_without_sync(url: str) -> None:
    """For a process that only gathers: its SQLite connections from now on commit without
    waiting for the disk (`synchronous=NORMAL`; in WAL mode the file never corrupts, and
    a power cut loses at most the last commits). A gather's commit is one source's new
    articles: one lost is fetched again by the next gather, while an fsync per source
    (about 5 ms here) holds SQLite's one write lock, which the other gathering processes
    wait for. Other databases, and other processes, are left as they are."""
    if url.startswith("sqlite"):
        engine = get_engine(url)
        if not event.contains(engine, "connect", _sqlite_commits_unsynced):
            event.listen(engine, "connect", _sqlite_commits_unsynced)


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


@lru_cache(maxsize=8)
def _sessions(engine: Engine) -> sessionmaker[Session]:
    # One factory per engine: each sessionmaker makes a Session subclass, and setting up
    # its events cost more than a gather's query of a source's keys.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _sessions(get_engine(url))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def affected_rows(result: object) -> int:
    """The rows an UPDATE or DELETE matched. `Session.execute` is typed to return a plain
    Result; for those statements it is a CursorResult, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(result).__name__}")
    return result.rowcount


def insert_ignore(session: Session, table: type[DeclarativeBase]) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING in the session's dialect: a unique key decides races."""
    # The dialect's own module: the engine has loaded it already, the other one is not needed.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
