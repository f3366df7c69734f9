"""Engine and sessions, and `upgrade` to create or migrate the schema with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from digest.config import DATABASE_EXAMPLES, mask_url
from digest.errors import ConfigError

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


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """The engine for a URL; a malformed URL or a missing driver raises ConfigError."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise _engine_error(url, exc) from None


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


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Create the database or bring it to the newest schema."""
    from alembic import command

    check_connection(url)
    command.upgrade(alembic_config(url), "head")


def needs_upgrade(url: str) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    check_connection(url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with get_engine(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        return MigrationContext.configure(conn).get_current_revision() != head
