"""Migrations: old schemas stamped 0001 are repaired, the models match the migrations, the
schema check names the fix, and new revisions are numbered and tidy.

Every test takes `database_url`, a fresh empty database (SQLite, and PostgreSQL where the
shared conftest provides one).
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import make_url, select

from digest import pipeline
from digest.config import Settings
from digest.core.vocabulary import DeliveryStatus, utcnow
from digest.errors import SchemaOutOfDate
from digest.mail import transport_from_url
from digest.store import db, schema
from digest.store.models import Base, Delivery, Edition, Source, Subscriber, Topic

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "fixtures" / "schemas"

# The shapes a database stamped 0001 can have, by the file its schema is built from.
OLD_SHAPES = ["0001-e58ff1a-no-claimed-at", "0001-cf2fec8-dry-run"]


def columns(url: str, table: str) -> set[str]:
    with db.get_engine(url).connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def table_shapes(url: str) -> dict[str, list[tuple[str, str, bool, object]]]:
    """Every table's columns: name, type, nullability and default, in order."""
    with db.get_engine(url).connect() as conn:
        inspector = sa.inspect(conn)
        return {
            table: [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ]
            for table in inspector.get_table_names()
        }


def create_old_schema(url: str, shape: str) -> None:
    """Run the SQL an old 0001 produced: its tables, and the stamp 0001."""
    dialect = make_url(url).get_backend_name()
    sql = (SCHEMAS / f"{shape}.{dialect}.sql").read_text()
    statements = [s.strip() for s in sql.split(";\n")]
    with db.get_engine(url).begin() as conn:
        for statement in statements:
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            body = "\n".join(lines).strip()
            if body and body.upper() not in ("BEGIN", "COMMIT"):
                conn.exec_driver_sql(body)


FEED = "https://news.example.org/feed"

# The tables with the JSON lists that revision 0003 moves into rows, for plain SQL.
OLD = {
    "sources": sa.table(
        "sources",
        sa.column("id", sa.Integer()),
        sa.column("url", sa.String()),
        sa.column("name", sa.String()),
        sa.column("topics", sa.JSON()),
        sa.column("created_at", sa.DateTime()),
        sa.column("error_count", sa.Integer()),
    ),
    "articles": sa.table(
        "articles",
        sa.column("id", sa.Integer()),
        sa.column("source_id", sa.Integer()),
        sa.column("key", sa.String()),
        sa.column("link", sa.String()),
        sa.column("title", sa.Text()),
        sa.column("categories", sa.JSON()),
        sa.column("published_at", sa.DateTime()),
        sa.column("first_seen_at", sa.DateTime()),
        sa.column("content_html", sa.Text()),
        sa.column("body_text", sa.Text()),
        sa.column("summary", sa.Text()),
        sa.column("is_teaser", sa.Boolean()),
    ),
    "subscribers": sa.table(
        "subscribers",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String()),
        sa.column("status", sa.String()),
        sa.column("frequency", sa.String()),
        sa.column("hour", sa.Integer()),
        sa.column("timezone", sa.String()),
        sa.column("topics", sa.JSON()),
        sa.column("created_at", sa.DateTime()),
        sa.column("confirmed_at", sa.DateTime()),
        sa.column("last_article_id", sa.Integer()),
        sa.column("last_sent_at", sa.DateTime()),
    ),
    "editions": sa.table(
        "editions",
        sa.column("id", sa.Integer()),
        sa.column("content_key", sa.String()),
        sa.column("created_at", sa.DateTime()),
        sa.column("subject", sa.String()),
        sa.column("article_ids", sa.JSON()),
        sa.column("html", sa.Text()),
        sa.column("text", sa.Text()),
    ),
}


def naive(when: datetime) -> datetime:
    """UTC without its zone, as the columns store it."""
    return when.astimezone(UTC).replace(tzinfo=None)


def insert_row(database_url: str, table: sa.TableClause, /, **values: object) -> int:
    with db.get_engine(database_url).begin() as conn:
        return conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()


def source_values(url: str, name: str, now: datetime, topics: list[str]) -> dict[str, object]:
    return {
        "url": url,
        "name": name,
        "topics": topics,
        "created_at": naive(now - timedelta(days=5)),
        "error_count": 0,
    }


def article_values(source_id: int, key: str, title: str, seen: datetime) -> dict[str, object]:
    return {
        "source_id": source_id,
        "key": key,
        "link": f"https://news.example.org/{key}",
        "title": title,
        "categories": [],
        "first_seen_at": naive(seen),
        "content_html": "",
        "body_text": "",
        "summary": f"{title}.",
        "is_teaser": False,
    }


def subscriber_values(email: str, now: datetime, **values: object) -> dict[str, object]:
    return {
        "email": email,
        "status": "confirmed",
        "frequency": "daily",
        "hour": 7,
        "timezone": "UTC",
        "created_at": naive(now - timedelta(days=3)),
        "confirmed_at": naive(now - timedelta(days=3)),
        "last_article_id": 0,
        **values,
    }


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        outbox_dir=tmp_path / "outbox",
        base_url="https://news.example.org",
        secret_key="test-secret",
        DIGEST_FROM="Digest <digest@news.example.org>",
        templates_dir=ROOT / "templates",
    )


@pytest.mark.parametrize("shape", OLD_SHAPES)
def test_init_repairs_an_old_0001_schema_and_the_next_send_goes_out(
    database_url: str, tmp_path: Path, shape: str
) -> None:
    create_old_schema(database_url, shape)
    assert schema.schema_state(database_url).current == "0001"
    assert "dry_run" in columns(database_url, "sends")

    # History from before the upgrade: Ada had the harbour article in an earlier digest.
    # Plain SQL: sources, subscribers and editions still have their JSON lists here.
    now = utcnow()
    source = insert_row(
        database_url, OLD["sources"], **source_values(FEED, "Harwick News", now, [])
    )
    old = insert_row(
        database_url,
        OLD["articles"],
        **article_values(source, "harbour", "Harbour expansion approved", now - timedelta(days=2)),
    )
    new = insert_row(
        database_url,
        OLD["articles"],
        **article_values(source, "tram", "Tram route opens in spring", now - timedelta(days=1)),
    )
    ada = insert_row(
        database_url,
        OLD["subscribers"],
        **subscriber_values(
            "ada@example.org",
            now,
            topics=[],
            last_article_id=old,
            last_sent_at=naive(now - timedelta(days=2)),
        ),
    )
    insert_row(
        database_url,
        OLD["subscribers"],
        **subscriber_values("pending@example.org", now, topics=[], status="pending"),
    )
    edition = insert_row(
        database_url,
        OLD["editions"],
        content_key="earlier",
        created_at=naive(now - timedelta(days=2)),
        subject="Harbour expansion approved",
        article_ids=[old],
        html="<p>earlier</p>",
        text="earlier",
    )
    ids = {"ada": ada, "edition": edition, "old": old, "new": new}
    # The old `sends` has a NOT NULL dry_run the model no longer knows: plain SQL.
    sends = sa.table(
        "sends",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("kind", sa.String()),
        sa.column("dry_run", sa.Boolean()),
    )
    deliveries = sa.table(
        "deliveries",
        sa.column("edition_id", sa.Integer()),
        sa.column("subscriber_id", sa.Integer()),
        sa.column("send_id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("attempts", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("sent_at", sa.DateTime()),
    )
    earlier = (now - timedelta(days=2)).replace(tzinfo=None)
    with db.get_engine(database_url).begin() as conn:
        send_id = conn.execute(
            sends.insert()
            .values(created_at=earlier, kind="now", dry_run=False)
            .returning(sends.c.id)
        ).scalar_one()
        conn.execute(
            deliveries.insert().values(
                edition_id=ids["edition"],
                subscriber_id=ids["ada"],
                send_id=send_id,
                status="sent",
                attempts=1,
                created_at=earlier,
                sent_at=earlier,
            )
        )

    schema.upgrade(database_url)  # what `digest init` runs

    schema.require_current_schema(database_url)
    assert "claimed_at" in columns(database_url, "deliveries")
    assert "dry_run" not in columns(database_url, "sends")
    with db.session_scope(database_url) as session:
        kept = session.scalars(select(Delivery)).one()
        assert (kept.subscriber_id, kept.status, kept.claimed_at) == (ids["ada"], "sent", None)

    settings = settings_for(database_url, tmp_path)
    plan = pipeline.plan_send(settings, kind="now")
    assert [c.email for c in plan.copies] == ["ada@example.org"]
    transport = transport_from_url(None, tmp_path / "outbox")
    report = pipeline.deliver_in_process(settings, plan.delivery_ids, transport)
    assert (report.sent, report.failed, report.deferred) == (1, [], {})

    sent = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(sent) == 1
    message = message_from_bytes(sent[0].read_bytes(), policy=default)
    assert message["To"] == "ada@example.org"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "1. Tram route opens in spring" in text
    # Only what is new for Ada; the earlier article may come back under "Latest" only.
    assert "Tram route opens in spring" in message["Subject"]
    assert "Harbour" not in message["Subject"]
    assert "2. " not in text
    with db.session_scope(database_url) as session:
        copies = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [d.status for d in copies] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
        assert session.get(Subscriber, ids["ada"]).last_article_id == ids["new"]  # type: ignore[union-attr]  # the row exists


def test_0002_changes_nothing_on_a_database_made_by_todays_0001(database_url: str) -> None:
    command.upgrade(schema.alembic_config(database_url), "0001")
    before = table_shapes(database_url)
    command.upgrade(schema.alembic_config(database_url), "0002")
    assert table_shapes(database_url) == before
    assert schema.schema_state(database_url).current == "0002"


def test_the_migrations_build_what_the_models_describe(database_url: str) -> None:
    schema.upgrade(database_url)
    with db.get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_the_schema_check_says_to_run_init(database_url: str) -> None:
    with pytest.raises(SchemaOutOfDate, match=r"has no schema yet: run `digest init`"):
        schema.require_current_schema(database_url)
    state = schema.schema_state(database_url)
    assert (state.current, state.is_current) == (None, False)

    command.upgrade(schema.alembic_config(database_url), "0001")
    with pytest.raises(SchemaOutOfDate) as raised:
        schema.require_current_schema(database_url)
    message = str(raised.value)
    assert "\n" not in message
    assert "at revision 0001" in message
    assert "run `digest init`" in message
    state = schema.schema_state(database_url)
    assert (state.current, state.is_current) == ("0001", False)

    schema.upgrade(database_url)
    state = schema.require_current_schema(database_url)
    assert state.is_current and state.current == state.head


def test_the_schema_check_on_a_revision_it_does_not_know(database_url: str) -> None:
    schema.upgrade(database_url)
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaOutOfDate, match=r"revision 0099, which this version of digest"):
        schema.require_current_schema(database_url)


def test_the_schema_check_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(SchemaOutOfDate, match="no schema yet"):
        schema.require_current_schema(f"sqlite:///{path}")
    assert not path.exists()


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """The project's migrations, copied so a new revision does not land in the package."""
    copy = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def revision_ids(versions: Path) -> list[str]:
    return sorted(p.name.split("_", 1)[0] for p in versions.glob("*.py"))


def test_new_revision_writes_the_next_numbered_migration_of_the_model_changes(
    database_url: str, migrations_copy: Path
) -> None:
    schema.upgrade(database_url)
    head = schema.schema_state(database_url).head
    package_files = sorted(p.name for p in (schema.MIGRATIONS / "versions").glob("*.py"))
    # The database lacks a column the models have: the new revision adds it.
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("ALTER TABLE subscribers DROP COLUMN last_sent_at"))

    path = schema.new_revision(database_url, "add  subscribers.last_sent_at", migrations_copy)

    number = f"{int(head) + 1:04d}"
    assert path.parent == migrations_copy / "versions"
    assert path.name.startswith(f"{number}_add_subscribers")
    assert revision_ids(migrations_copy / "versions")[-1] == number
    assert sorted(p.name for p in (schema.MIGRATIONS / "versions").glob("*.py")) == package_files
    module = runpy.run_path(str(path))
    assert (module["revision"], module["down_revision"]) == (number, head)
    source = path.read_text()
    assert '"""add subscribers.last_sent_at' in source
    assert 'batch_op.add_column(sa.Column("last_sent_at", sa.DateTime(), nullable=True))' in source
    assert "digest.models" not in source
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(ROOT / "pyproject.toml")]
    subprocess.run([*ruff, "check", "--no-cache", *config, str(path)], check=True)
    subprocess.run([*ruff, "format", "--check", "--no-cache", *config, str(path)], check=True)

    # The copy now has the new head: applying it brings the database in line with the models.
    command.upgrade(schema.alembic_config(database_url, migrations_copy), "head")
    assert "last_sent_at" in columns(database_url, "subscribers")
    assert schema.schema_state(database_url, migrations_copy).is_current


def test_new_revision_needs_the_database_at_head(database_url: str, migrations_copy: Path) -> None:
    command.upgrade(schema.alembic_config(database_url), "0001")
    with pytest.raises(SchemaOutOfDate, match="run `digest init`"):
        schema.new_revision(database_url, "something", migrations_copy)
    assert revision_ids(migrations_copy / "versions") == revision_ids(
        schema.MIGRATIONS / "versions"
    )


def history_at_0002(database_url: str, now: datetime) -> dict[str, int]:
    """A database at 0002 with topics and an edition in the JSON lists, in plain SQL.

    The edition lists an article removed since (id 9999) and one published before it was
    seen, so that its digest order differs from its ids' order.
    """
    command.upgrade(schema.alembic_config(database_url), "0002")
    sources = OLD["sources"]
    harbour = insert_row(
        database_url,
        sources,
        **source_values(FEED, "Harwick News", now, ["Harbour", " transport "]),
    )
    culture = insert_row(
        database_url,
        sources,
        **source_values("https://culture.example.org/feed", "Culture", now, ["culture"]),
    )
    plain = insert_row(
        database_url, sources, **source_values("https://plain.example.org/", "Plain", now, [])
    )
    articles = OLD["articles"]
    crane = insert_row(
        database_url,
        articles,
        **article_values(harbour, "crane", "Harbour crane arrives", now - timedelta(days=3)),
    )
    jazz_values = article_values(culture, "jazz", "Jazz festival", now - timedelta(days=2))
    jazz = insert_row(
        database_url,
        articles,
        **{**jazz_values, "published_at": naive(now - timedelta(days=4))},
    )
    tram = insert_row(
        database_url,
        articles,
        **article_values(harbour, "tram", "Tram route opens", now - timedelta(days=1)),
    )
    subscribers = OLD["subscribers"]
    ada = insert_row(
        database_url,
        subscribers,
        **subscriber_values(
            "ada@example.org",
            now,
            topics=["HARBOUR"],
            last_article_id=jazz,
            last_sent_at=naive(now - timedelta(days=2)),
        ),
    )
    bob = insert_row(
        database_url,
        subscribers,
        **subscriber_values("bob@example.org", now, topics=["culture", "Transport"]),
    )
    cy = insert_row(
        database_url, subscribers, **subscriber_values("cy@example.org", now, topics=[])
    )
    edition = insert_row(
        database_url,
        OLD["editions"],
        content_key="earlier",
        created_at=naive(now - timedelta(days=2)),
        subject="Harbour crane arrives",
        article_ids=[crane, jazz, 9999],
        html="<p>earlier</p>",
        text="earlier",
    )
    return {
        "harbour": harbour,
        "culture": culture,
        "plain": plain,
        "crane": crane,
        "jazz": jazz,
        "tram": tram,
        "ada": ada,
        "bob": bob,
        "cy": cy,
        "edition": edition,
    }


def test_0003_moves_topics_and_edition_articles_into_rows(
    database_url: str, tmp_path: Path
) -> None:
    now = utcnow()
    ids = history_at_0002(database_url, now)

    schema.upgrade(database_url)  # what `digest init` runs

    schema.require_current_schema(database_url)
    assert "topics" not in columns(database_url, "sources")
    assert "topics" not in columns(database_url, "subscribers")
    assert "article_ids" not in columns(database_url, "editions")
    with db.session_scope(database_url) as session:
        assert list(session.scalars(select(Topic.name).order_by(Topic.name))) == [
            "culture",
            "harbour",
            "transport",
        ]
        source_topics = {s.id: s.topic_names for s in session.scalars(select(Source))}
        assert source_topics == {
            ids["harbour"]: ["harbour", "transport"],
            ids["culture"]: ["culture"],
            ids["plain"]: [],
        }
        subscriber_topics = {s.id: s.topic_names for s in session.scalars(select(Subscriber))}
        assert subscriber_topics == {
            ids["ada"]: ["harbour"],
            ids["bob"]: ["culture", "transport"],
            ids["cy"]: [],
        }
        edition = session.get_one(Edition, ids["edition"])
        # Digest order (newest first by publication, else first sight); 9999 is gone.
        assert edition.article_ids == [ids["crane"], ids["jazz"]]
        assert [e.position for e in edition.entries] == [0, 1]

    settings = settings_for(database_url, tmp_path)
    plan = pipeline.plan_send(settings, kind="now")
    copies = {c.email: c.articles for c in plan.copies}
    # Ada: the harbour source, after her mark; Bob: harbour (transport) and culture; Cy: all.
    assert copies == {"ada@example.org": 1, "bob@example.org": 3, "cy@example.org": 3}
    transport = transport_from_url(None, tmp_path / "outbox")
    report = pipeline.deliver_in_process(settings, plan.delivery_ids, transport)
    assert (report.sent, report.failed, report.deferred) == (3, [], {})
    with db.session_scope(database_url) as session:
        marks = {s.email: s.last_article_id for s in session.scalars(select(Subscriber))}
    assert set(marks.values()) == {ids["tram"]}


def test_0003_downgrade_puts_the_json_lists_back(database_url: str) -> None:
    now = utcnow()
    ids = history_at_0002(database_url, now)
    schema.upgrade(database_url)

    command.downgrade(schema.alembic_config(database_url), "0002")

    assert schema.schema_state(database_url).current == "0002"
    with db.get_engine(database_url).connect() as conn:
        sources = dict(conn.execute(select(OLD["sources"].c.id, OLD["sources"].c.topics)).all())
        subscribers = dict(
            conn.execute(select(OLD["subscribers"].c.id, OLD["subscribers"].c.topics)).all()
        )
        editions = dict(
            conn.execute(select(OLD["editions"].c.id, OLD["editions"].c.article_ids)).all()
        )
        tables = set(sa.inspect(conn).get_table_names())
    assert sources == {
        ids["harbour"]: ["harbour", "transport"],
        ids["culture"]: ["culture"],
        ids["plain"]: [],
    }
    assert subscribers == {
        ids["ada"]: ["harbour"],
        ids["bob"]: ["culture", "transport"],
        ids["cy"]: [],
    }
    assert editions == {ids["edition"]: sorted([ids["crane"], ids["jazz"]])}
    assert not tables & {"topics", "source_topics", "subscriber_topics", "edition_articles"}
    # And up again.
    schema.upgrade(database_url)
    assert schema.schema_state(database_url).is_current


def test_a_database_stamped_0006_when_it_followed_0003_gets_0004_and_0005(
    database_url: str,
) -> None:
    # What main once shipped: 0001-0003, then 0006 (the deferred copies' column and index),
    # stamped 0006. Made here by hand so that this test does not depend on today's chain.
    command.upgrade(schema.alembic_config(database_url), "0003")
    with db.get_engine(database_url).begin() as conn:
        when = sa.DateTime().compile(dialect=conn.dialect)  # as 0006 wrote it on each
        conn.execute(sa.text(f"ALTER TABLE deliveries ADD COLUMN next_attempt_at {when}"))
        conn.execute(
            sa.text(
                "CREATE INDEX ix_deliveries_status_next_attempt "
                "ON deliveries (status, next_attempt_at)"
            )
        )
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    assert schema.schema_state(database_url).current == "0006"

    schema.upgrade(database_url)  # what `digest init` runs
    assert {"weekday", "day_of_month", "slot_checked_at"} <= columns(database_url, "subscribers")
    assert "transactional_mails" in sa.inspect(db.get_engine(database_url)).get_table_names()
    with db.get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.parametrize("stamp", ["0004", "0005"])
def test_a_database_stamped_0004_or_0005_after_0006_upgrades(database_url: str, stamp: str) -> None:
    # Earlier commits of main ran 0003, 0006, 0004, 0005: a database stamped 0004 or 0005
    # then already had 0006's column and index, which today's chain would add again. Made
    # from today's 0006 (which holds 0003-0006), with what that stamp lacked taken away.
    command.upgrade(schema.alembic_config(database_url), "0006")
    with db.get_engine(database_url).begin() as conn:
        if stamp == "0004":  # 0005's table came later
            conn.execute(sa.text("DROP TABLE transactional_mails"))
        conn.execute(sa.text(f"UPDATE alembic_version SET version_num = '{stamp}'"))
    assert not schema.schema_state(database_url).is_current

    schema.upgrade(database_url)  # what `digest init` runs
    assert schema.schema_state(database_url).is_current
    assert "transactional_mails" in sa.inspect(db.get_engine(database_url)).get_table_names()
    with db.get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_a_database_stamped_0004_by_this_chain_is_left_to_it(database_url: str) -> None:
    command.upgrade(schema.alembic_config(database_url), "0004")
    schema.upgrade(database_url)
    assert schema.schema_state(database_url).is_current
    assert "next_attempt_at" in columns(database_url, "deliveries")


def test_the_quick_reading_of_the_head_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema.alembic_config("sqlite://"))
    assert schema.shipped_head() == script.get_current_head()


def test_a_chain_the_quick_reading_does_not_understand_is_left_to_alembic(
    database_url: str, migrations_copy: Path
) -> None:
    schema.upgrade(database_url)
    head = schema.schema_state(database_url).head
    versions = migrations_copy / "versions"
    # A merge revision (a tuple of parents) is valid Alembic the regular reading refuses.
    (versions / "9999_merge.py").write_text(
        f'revision = "9999"\ndown_revision = ("{head}",)\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\ndef downgrade() -> None:\n    pass\n"
    )
    assert schema.shipped_head(migrations_copy) is None
    state = schema.schema_state(database_url, migrations_copy)
    assert (state.current, state.head, state.is_current) == (head, "9999", False)
    command.upgrade(schema.alembic_config(database_url, migrations_copy), "head")
    assert schema.schema_state(database_url, migrations_copy).is_current


def test_the_quick_check_sees_a_database_behind_or_ahead(database_url: str) -> None:
    command.upgrade(schema.alembic_config(database_url), "0008")
    state = schema.schema_state(database_url)
    assert (state.current, state.known, state.is_current) == ("0008", True, False)
    schema.upgrade(database_url)
    with db.get_engine(database_url).begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    state = schema.schema_state(database_url)
    assert (state.current, state.known, state.is_current) == ("0999", False, False)


def test_0014_names_page_sources_articles_and_keeps_their_kind_as_found(database_url: str) -> None:
    command.upgrade(schema.alembic_config(database_url), "0013")
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        for url, kind in (("https://a.example/story", "page"), ("https://b.example/feed", "feed")):
            conn.execute(
                sa.text(
                    "INSERT INTO sources (url, name, created_at, error_count, kind,"
                    " full_text_mode, not_modified, paused)"
                    " VALUES (:url, :url, :now, 0, :kind, 'auto', false, false)"
                ),
                {"url": url, "kind": kind, "now": datetime(2026, 12, 1)},
            )
    engine.dispose()

    schema.upgrade(database_url)  # what `digest init` runs

    with db.session_scope(database_url) as session:
        rows = {
            s.url: (s.kind, s.kind_origin, s.last_entries) for s in session.scalars(select(Source))
        }
    assert rows == {
        "https://a.example/story": ("article", "found", None),
        "https://b.example/feed": ("feed", "found", None),
    }
