"""topics and edition articles as rows

Topics become rows (`topics`), linked to sources and subscribers by `source_topics` and
`subscriber_topics`; an edition's articles move to `edition_articles`, with each one's
place in the digest. The JSON lists they replace (sources.topics, subscribers.topics,
editions.article_ids) are copied into the new tables, then dropped.

An edition's ids that name an article no longer stored (its source was removed) are not
copied: the edition keeps its rendered HTML, text and content_key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:18:48.851989
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000  # ids per IN list, under any database's limit on bound parameters

# The tables as this revision sees them, whatever the models say later.
sources = sa.table("sources", sa.column("id", sa.Integer()), sa.column("topics", sa.JSON()))
subscribers = sa.table("subscribers", sa.column("id", sa.Integer()), sa.column("topics", sa.JSON()))
editions = sa.table("editions", sa.column("id", sa.Integer()), sa.column("article_ids", sa.JSON()))
articles = sa.table(
    "articles",
    sa.column("id", sa.Integer()),
    sa.column("published_at", sa.DateTime()),
    sa.column("first_seen_at", sa.DateTime()),
)
topics = sa.table("topics", sa.column("id", sa.Integer()), sa.column("name", sa.String()))
source_topics = sa.table(
    "source_topics", sa.column("source_id", sa.Integer()), sa.column("topic_id", sa.Integer())
)
subscriber_topics = sa.table(
    "subscriber_topics",
    sa.column("subscriber_id", sa.Integer()),
    sa.column("topic_id", sa.Integer()),
)
edition_articles = sa.table(
    "edition_articles",
    sa.column("edition_id", sa.Integer()),
    sa.column("article_id", sa.Integer()),
    sa.column("position", sa.Integer()),
)


def _normalize(names: Any) -> list[str]:
    """Lowercase, trimmed, unique: the rule of digest.sources.normalize_topics in 0003, cut
    to the 200 characters topics.name holds (the JSON lists had no limit)."""
    seen: dict[str, None] = {}
    for name in names if isinstance(names, list) else []:
        cleaned = " ".join(str(name).split()).lower()[:200].rstrip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _insert(conn: sa.Connection, table: sa.TableClause, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])


def _move_topics(conn: sa.Connection) -> None:
    owners = {
        "source": dict(conn.execute(sa.select(sources.c.id, sources.c.topics)).all()),
        "subscriber": dict(conn.execute(sa.select(subscribers.c.id, subscribers.c.topics)).all()),
    }
    named = {kind: {i: _normalize(v) for i, v in rows.items()} for kind, rows in owners.items()}
    names = sorted({n for rows in named.values() for ns in rows.values() for n in ns})
    _insert(conn, topics, [{"name": name} for name in names])
    topic_ids = dict(conn.execute(sa.select(topics.c.name, topics.c.id)).all())
    for kind, link in (("source", source_topics), ("subscriber", subscriber_topics)):
        rows = [
            {f"{kind}_id": owner, "topic_id": topic_ids[name]}
            for owner, owner_names in sorted(named[kind].items())
            for name in owner_names
        ]
        _insert(conn, link, rows)


def _move_edition_articles(conn: sa.Connection) -> None:
    listed = {
        edition_id: [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []
        for edition_id, ids in conn.execute(sa.select(editions.c.id, editions.c.article_ids))
    }
    wanted = sorted({i for ids in listed.values() for i in ids})
    when: dict[int, datetime] = {}
    for chunk in _chunks(wanted):
        query = sa.select(articles.c.id, articles.c.published_at, articles.c.first_seen_at)
        for article_id, published, seen in conn.execute(query.where(articles.c.id.in_(chunk))):
            when[article_id] = published or seen
    rows = []
    for edition_id, ids in sorted(listed.items()):
        # The digest's order: newest first (published, else first seen), then highest id.
        kept = sorted({i for i in ids if i in when}, key=lambda i: (when[i], i), reverse=True)
        rows += [
            {"edition_id": edition_id, "article_id": article_id, "position": position}
            for position, article_id in enumerate(kept)
        ]
    _insert(conn, edition_articles, rows)


def upgrade() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0003 copies the JSON lists into rows: run it against a database")
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "source_topics",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "topic_id"),
    )
    op.create_index("ix_source_topics_topic_id", "source_topics", ["topic_id"], unique=False)
    op.create_table(
        "subscriber_topics",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["topic_id"], ["topics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", "topic_id"),
    )
    op.create_index(
        "ix_subscriber_topics_topic_id", "subscriber_topics", ["topic_id"], unique=False
    )
    op.create_table(
        "edition_articles",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["edition_id"], ["editions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("edition_id", "article_id"),
    )
    op.create_index(
        "ix_edition_articles_article_id", "edition_articles", ["article_id"], unique=False
    )

    conn = op.get_bind()
    _move_topics(conn)
    _move_edition_articles(conn)

    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("article_ids")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("topics")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("topics")


def _names_by_owner(conn: sa.Connection, link: sa.TableClause, owner: str) -> dict[int, list[str]]:
    query = (
        sa.select(link.c[owner], topics.c.name)
        .join(topics, topics.c.id == link.c.topic_id)
        .order_by(link.c[owner], topics.c.name)
    )
    names: dict[int, list[str]] = {}
    for owner_id, name in conn.execute(query):
        names.setdefault(owner_id, []).append(name)
    return names


def _fill(
    conn: sa.Connection, table: sa.TableClause, column: str, values: Iterable[tuple[int, Any]]
) -> None:
    statement = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("value", type_=sa.JSON())})
    )
    rows = [{"row_id": row_id, "value": value} for row_id, value in values]
    for start in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[start : start + CHUNK])


def downgrade() -> None:
    """Back to the JSON lists: topics sorted by name, an edition's ids ascending (ids of
    articles removed since the upgrade are lost)."""
    if op.get_context().as_sql:
        raise RuntimeError("0003 copies the rows back into JSON lists: run it against a database")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topics", sa.JSON(), nullable=True))
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topics", sa.JSON(), nullable=True))

    conn = op.get_bind()
    for table, link, owner in (
        (sources, source_topics, "source_id"),
        (subscribers, subscriber_topics, "subscriber_id"),
    ):
        names = _names_by_owner(conn, link, owner)
        ids = conn.execute(sa.select(table.c.id)).scalars()
        _fill(conn, table, "topics", [(i, names.get(i, [])) for i in ids])
    article_ids: dict[int, list[int]] = {}
    query = sa.select(edition_articles.c.edition_id, edition_articles.c.article_id).order_by(
        edition_articles.c.edition_id, edition_articles.c.article_id
    )
    for edition_id, article_id in conn.execute(query):
        article_ids.setdefault(edition_id, []).append(article_id)
    ids = conn.execute(sa.select(editions.c.id)).scalars()
    _fill(conn, editions, "article_ids", [(i, article_ids.get(i, [])) for i in ids])

    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.alter_column("article_ids", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.alter_column("topics", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column("topics", existing_type=sa.JSON(), nullable=False)

    op.drop_index("ix_edition_articles_article_id", table_name="edition_articles")
    op.drop_table("edition_articles")
    op.drop_index("ix_subscriber_topics_topic_id", table_name="subscriber_topics")
    op.drop_table("subscriber_topics")
    op.drop_index("ix_source_topics_topic_id", table_name="source_topics")
    op.drop_table("source_topics")
    op.drop_table("topics")
