"""The squashed baseline: an empty database gets the schema in one step, and that schema is
exactly the one the chain of revisions builds, on SQLite and on PostgreSQL; a database
with any table still goes through the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import make_url

from digest.store import baseline, db, manifest, schema
from digest.store.models import Base


@pytest.fixture
def other_database_url(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A second empty database of the same kind as `database_url`."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create()
    yield url
    server.drop(url)


def _plain(value: Any) -> Any:
    """A reflected value made comparable: dicts sorted, types as their DDL."""
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, sa.types.TypeEngine):
        return str(value)
    return value


def shape(url: str) -> dict[str, Any]:
    """Everything the inspector tells of the schema: per table its columns in order (name,
    type, nullability, default, autoincrement...), primary key, foreign keys, indexes,
    unique and check constraints; on PostgreSQL its sequences too."""
    with db.get_engine(url).connect() as conn:
        inspector = sa.inspect(conn)
        found: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": _plain(inspector.get_columns(table)),
                "primary key": _plain(inspector.get_pk_constraint(table)),
                "foreign keys": sorted(_plain(inspector.get_foreign_keys(table))),
                "indexes": sorted(_plain(inspector.get_indexes(table))),
                "unique": sorted(_plain(inspector.get_unique_constraints(table))),
                "checks": sorted(_plain(inspector.get_check_constraints(table))),
            }
        if conn.dialect.name == "postgresql":
            found["sequences"] = sorted(inspector.get_sequence_names())
        return found


def stamp(url: str) -> list[str]:
    with db.get_engine(url).connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def diff_with(url: str, metadata: sa.MetaData) -> list[Any]:
    with db.get_engine(url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_the_baseline_makes_what_the_chain_makes(
    database_url: str, other_database_url: str
) -> None:
    command.upgrade(schema.alembic_config(database_url), baseline.REVISION)
    assert schema.create_from_baseline(other_database_url)

    chain, squashed = shape(database_url), shape(other_database_url)
    assert "alembic_version" in squashed and "deliveries" in squashed
    assert squashed == chain
    assert stamp(other_database_url) == stamp(database_url) == [baseline.REVISION]
    assert diff_with(database_url, baseline.metadata) == []


def test_the_baseline_is_a_shipped_revision() -> None:
    shipped = [e.revision for e in manifest.read_manifest(schema.MIGRATIONS)]
    assert baseline.REVISION in shipped


@pytest.fixture
def alembic_upgrades(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The targets of every Alembic upgrade run while the test runs."""
    targets: list[str] = []
    real = command.upgrade

    def recording(config: Any, revision: str, **options: Any) -> None:
        targets.append(revision)
        real(config, revision, **options)

    monkeypatch.setattr(command, "upgrade", recording)
    return targets


def test_init_on_an_empty_database_takes_one_step(
    database_url: str, alembic_upgrades: list[str]
) -> None:
    schema.upgrade(database_url)  # what `digest init` runs

    state = schema.require_current_schema(database_url)
    # The chain runs only for the revisions after the baseline's, if there are any.
    assert alembic_upgrades == ([] if state.head == baseline.REVISION else ["head"])
    assert diff_with(database_url, Base.metadata) == []


def test_the_whole_chain_still_builds_what_the_models_describe(database_url: str) -> None:
    command.upgrade(schema.alembic_config(database_url), "head")
    assert schema.schema_state(database_url).is_current
    assert diff_with(database_url, Base.metadata) == []


def test_a_database_with_any_table_goes_through_the_chain(
    database_url: str, alembic_upgrades: list[str]
) -> None:
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    assert not schema.create_from_baseline(database_url)

    schema.upgrade(database_url)

    assert alembic_upgrades == ["head"]
    assert schema.schema_state(database_url).is_current
    assert "notes" in sa.inspect(db.get_engine(database_url)).get_table_names()


def test_a_baseline_that_fails_half_way_leaves_no_table(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sa.Connection) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(baseline, "stamp", broken)  # after every CREATE TABLE
    with pytest.raises(RuntimeError, match="the disk is full"):
        schema.upgrade(database_url)
    assert sa.inspect(db.get_engine(database_url)).get_table_names() == []

    monkeypatch.undo()
    schema.upgrade(database_url)
    assert schema.schema_state(database_url).is_current


def test_two_inits_at_once_on_an_empty_database(database_url: str) -> None:
    schema.upgrade(database_url)  # the engine and the file exist; then start afresh
    with db.get_engine(database_url).begin() as conn:
        made_by_init = sa.MetaData()
        made_by_init.reflect(conn)  # the baseline's tables and those of later revisions
        made_by_init.drop_all(conn)
    start = threading.Barrier(2)
    made: list[bool] = []
    errors: list[BaseException] = []

    def init() -> None:
        start.wait()
        try:
            made.append(schema.create_from_baseline(database_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=init) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(made) == [False, True]
    assert stamp(database_url) == [baseline.REVISION]


def test_after_init_the_sqlite_file_alone_holds_the_schema(tmp_path: Path) -> None:
    # A pooled connection stays open after `upgrade`: the write-ahead log must not keep
    # the tables out of the file (a backup, or a test's template, copies the file only).
    path = tmp_path / "digest.db"
    schema.upgrade(f"sqlite:///{path}")
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    assert schema.schema_state(f"sqlite:///{copy}").is_current
