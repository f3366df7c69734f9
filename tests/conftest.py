"""Databases for the tests: every test that takes `database_url` runs on SQLite and on a
real PostgreSQL server that this test run starts (or the one DIGEST_TEST_POSTGRES_URL names).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL, make_url

from digest.store import db, schema

# DIGEST_TEST_DATABASES=sqlite runs one side only, for a quicker local run.
DATABASES = [
    name.strip()
    for name in os.environ.get("DIGEST_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
]
# The tests serve feeds, pages and webhook receivers on loopback, which fetches refuse unless
# allowed (digest.gather.addresses); the tests of that rule pass allow lists of their own.
os.environ["DIGEST_FETCH_ALLOW_NETWORKS"] = "127.0.0.0/8,::1"
# The unprivileged account the server runs as when the tests run as root (PostgreSQL refuses
# root); Debian's postgresql package creates it.
SERVER_USER = "postgres"


def _unavailable(message: str) -> None:
    """Skip locally; under CI=true a missing server or driver is an error, not a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_binaries() -> tuple[Path, Path] | None:
    """initdb and pg_ctl from PATH, or else from the newest /usr/lib/postgresql/*/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb), Path(pg_ctl)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for bin_dir in reversed(versions):
        if (Path(bin_dir) / "initdb").exists() and (Path(bin_dir) / "pg_ctl").exists():
            return Path(bin_dir) / "initdb", Path(bin_dir) / "pg_ctl"
    return None


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    url: URL  # postgresql+psycopg://... of its maintenance database
    prefix: str  # names of this run's databases start with it
    _count: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _template: str | None = None

    def database_url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def execute(self, *statements: str) -> None:
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]  # psycopg wants a LiteralString

    def new_name(self) -> str:
        return f"{self.prefix}{next(self._count)}"

    def create(self, template: str = "template0") -> str:
        """A new database copied from `template`; returns its SQLAlchemy URL."""
        name = self.new_name()
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.database_url(name)

    def migrated_template(self) -> str:
        """The name of a database migrated to the newest schema, made on first use."""
        if self._template is None:
            name = self.new_name() + "_template"
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            url = self.database_url(name)
            schema.upgrade(url)
            db.get_engine(url).dispose()  # a template must have no open connections
            self._template = name
        return self._template

    def drop(self, url: str) -> None:
        """Close this process's connections to it, end any other process's, and drop it."""
        db.get_engine(url).dispose()
        db.get_engine.cache_clear()
        name = make_url(url).database
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _require_driver() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")


def _run_as(user: str | None) -> dict[str, Any]:
    return {} if user is None else {"user": user, "group": pwd.getpwnam(user).pw_gid}


@contextlib.contextmanager
def _throwaway_cluster() -> Iterator[URL]:
    binaries = _server_binaries()
    if binaries is None:
        _unavailable("PostgreSQL server is not installed (apt-get install postgresql)")
        raise AssertionError("unreachable")
    initdb, pg_ctl = binaries
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            _unavailable(f"running as root and there is no {SERVER_USER!r} user to run the server")
        user = SERVER_USER
    # Not under pytest's tmp dir: that one is private to the user running the tests.
    base = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    as_user = _run_as(user)
    try:
        subprocess.run(
            [initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            cwd=base,
            **as_user,
        )
        port = _free_port()
        options = " ".join(
            [
                f"-p {port}",
                f"-k {sockets}",
                "-c listen_addresses=127.0.0.1",
                # A throwaway cluster: durability buys nothing here and costs time.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        started = subprocess.run(
            [pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"],
            capture_output=True,
            text=True,
            cwd=base,
            **as_user,
        )
        if started.returncode != 0:
            text = log.read_text() if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start:\n{started.stdout}{started.stderr}\n{text}")
        try:
            yield URL.create(
                "postgresql+psycopg",
                username="postgres",
                host="127.0.0.1",
                port=port,
                database="postgres",
            )
        finally:
            subprocess.run(
                [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                capture_output=True,
                cwd=base,
                **as_user,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test run: DIGEST_TEST_POSTGRES_URL's, or a throwaway
    cluster (initdb into a temp dir, loopback port, trust auth) stopped and deleted at the end.
    """
    _require_driver()
    prefix = f"digest_test_{os.getpid()}_"
    given = os.environ.get("DIGEST_TEST_POSTGRES_URL")
    if given:
        url = make_url(given).set(drivername="postgresql+psycopg")
        server = PostgresServer(url, prefix)
        yield server
        if server._template is not None:
            server.drop(server.database_url(server._template))
        return
    with _throwaway_cluster() as url:
        yield PostgresServer(url, prefix)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'digest.db'}"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (not migrated: call digest.db.upgrade), dropped afterwards.

    Parametrized: the test runs once on SQLite (a file in tmp_path) and once on PostgreSQL.
    """
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "digest.db"
    schema.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=DATABASES)
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like database_url, but already at the newest schema (a copy of a migrated template)."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), tmp_path / "digest.db")
        yield _sqlite_url(tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create(template=server.migrated_template())
    yield url
    server.drop(url)
