"""The schema the migrations build up to revision `REVISION`, made in one step.

`digest init` on a database without any table creates these tables and stamps the
database `REVISION` instead of running 0001 to `REVISION` one by one; the revisions after
it, if any, then run as usual. A database with a table of any kind goes through the chain
as before, so every database an earlier version made still upgrades the way it did.

Frozen like a revision file: it is what the chain makes at `REVISION`, not what the
models say today, and it imports nothing from the models. tests/unit/test_schema_baseline.py
checks on SQLite and PostgreSQL that it makes exactly what the chain makes (tables, column
order, types, nullability, defaults, keys, indexes). To squash again later, write the
schema of a newer revision here and move `REVISION` to it; the test then compares with
the chain at that revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.schema import SchemaItem

REVISION = "0012"

metadata = sa.MetaData()


def _table(name: str, *items: SchemaItem) -> sa.Table:
    return sa.Table(name, metadata, *items)


def _cascade(column: str, target: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint([column], [target], ondelete="CASCADE")


# Alembic's own table, as alembic.runtime.migration makes it.
version_table = _table(
    "alembic_version",
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)

# Columns in the order the chain leaves them: a column a revision added comes last.
_table(
    "sources",
    Column("id", Integer(), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("last_fetched_at", DateTime(), nullable=True),
    Column("last_ok_at", DateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("error_count", Integer(), nullable=False),
    Column("etag", String(500), nullable=True),
    Column("last_modified", String(200), nullable=True),
    Column("kind", String(20), nullable=False, server_default="feed"),
    Column("full_text_mode", String(10), nullable=False, server_default="auto"),
    Column("retry_after", DateTime(), nullable=True),
    Column("not_modified", Boolean(), nullable=False, server_default=sa.false()),
    Column("paused", Boolean(), nullable=False, server_default=sa.false()),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("url"),
)
_table(
    "articles",
    Column("id", Integer(), nullable=False),
    Column("source_id", Integer(), nullable=False),
    Column("key", String(2000), nullable=False),
    Column("link", String(2000), nullable=True),
    Column("title", Text(), nullable=False),
    Column("author", String(500), nullable=True),
    Column("categories", sa.JSON(), nullable=False),
    Column("published_at", DateTime(), nullable=True),
    Column("first_seen_at", DateTime(), nullable=False),
    Column("content_html", Text(), nullable=False),
    Column("body_text", Text(), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("is_teaser", Boolean(), nullable=False),
    Column("language", String(35), nullable=True),
    Column("image_url", String(2000), nullable=True),
    Column("full_text", Boolean(), nullable=False, server_default=sa.false()),
    _cascade("source_id", "sources.id"),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("source_id", "key"),
    Index("ix_articles_first_seen_at", "first_seen_at"),
    Index("ix_articles_link", "link"),
)
_table(
    "subscribers",
    Column("id", Integer(), nullable=False),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    Column("frequency", String(20), nullable=False),
    Column("hour", Integer(), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("confirmed_at", DateTime(), nullable=True),
    Column("unsubscribed_at", DateTime(), nullable=True),
    Column("last_article_id", Integer(), nullable=False),
    Column("last_sent_at", DateTime(), nullable=True),
    Column("weekday", Integer(), nullable=False, server_default="0"),
    Column("day_of_month", Integer(), nullable=False, server_default="1"),
    Column("slot_checked_at", DateTime(), nullable=True),
    Column("hard_bounces", Integer(), nullable=False, server_default="0"),
    Column("soft_bounces", Integer(), nullable=False, server_default="0"),
    Column("last_bounce", Text(), nullable=True),
    Column("bounced_at", DateTime(), nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("email"),
)
_table(
    "topics",
    Column("id", Integer(), nullable=False),
    Column("name", String(200), nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("name"),
)
_table(
    "source_topics",
    Column("source_id", Integer(), nullable=False),
    Column("topic_id", Integer(), nullable=False),
    _cascade("source_id", "sources.id"),
    _cascade("topic_id", "topics.id"),
    PrimaryKeyConstraint("source_id", "topic_id"),
    Index("ix_source_topics_topic_id", "topic_id"),
)
_table(
    "subscriber_topics",
    Column("subscriber_id", Integer(), nullable=False),
    Column("topic_id", Integer(), nullable=False),
    _cascade("subscriber_id", "subscribers.id"),
    _cascade("topic_id", "topics.id"),
    PrimaryKeyConstraint("subscriber_id", "topic_id"),
    Index("ix_subscriber_topics_topic_id", "topic_id"),
)
_table(
    "editions",
    Column("id", Integer(), nullable=False),
    Column("content_key", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("html", Text(), nullable=False),
    Column("text", Text(), nullable=False),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("content_key"),
)
_table(
    "edition_articles",
    Column("edition_id", Integer(), nullable=False),
    Column("article_id", Integer(), nullable=False),
    Column("position", Integer(), nullable=False),
    _cascade("article_id", "articles.id"),
    _cascade("edition_id", "editions.id"),
    PrimaryKeyConstraint("edition_id", "article_id"),
    Index("ix_edition_articles_article_id", "article_id"),
)
_table(
    "sends",
    Column("id", Integer(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False, server_default="active"),
    Column("paused_reason", Text(), nullable=True),
    Column("failures_in_row", Integer(), nullable=False, server_default="0"),
    PrimaryKeyConstraint("id"),
)
_table(
    "deliveries",
    Column("id", Integer(), nullable=False),
    Column("edition_id", Integer(), nullable=False),
    Column("subscriber_id", Integer(), nullable=False),
    Column("send_id", Integer(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("message_id", String(300), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("claimed_at", DateTime(), nullable=True),
    Column("sent_at", DateTime(), nullable=True),
    Column("next_attempt_at", DateTime(), nullable=True),
    _cascade("edition_id", "editions.id"),
    _cascade("send_id", "sends.id"),
    _cascade("subscriber_id", "subscribers.id"),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("edition_id", "subscriber_id"),
    Index("ix_deliveries_send_status", "send_id", "status"),
    Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
    Index("ix_deliveries_message_id", "message_id"),
)
_table(
    "transactional_mails",
    Column("id", Integer(), nullable=False),
    Column("subscriber_id", Integer(), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("html", Text(), nullable=False),
    Column("text", Text(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("message_id", String(300), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("claimed_at", DateTime(), nullable=True),
    Column("sent_at", DateTime(), nullable=True),
    _cascade("subscriber_id", "subscribers.id"),
    PrimaryKeyConstraint("id"),
    Index("ix_transactional_mails_subscriber_id", "subscriber_id"),
)
_table(
    "admin_users",
    Column("id", Integer(), nullable=False),
    Column("email", String(320), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("last_login_at", DateTime(), nullable=True),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("email"),
)
_table(
    "api_tokens",
    Column("id", Integer(), nullable=False),
    Column("admin_user_id", Integer(), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("last_used_at", DateTime(), nullable=True),
    _cascade("admin_user_id", "admin_users.id"),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("token_hash"),
    Index("ix_api_tokens_admin_user_id", "admin_user_id"),
)
_table(
    "webhooks",
    Column("id", Integer(), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("events", sa.JSON(), nullable=False),
    Column("active", Boolean(), nullable=False, server_default=sa.true()),
    Column("created_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("id"),
)
_table(
    "webhook_events",
    Column("id", Integer(), nullable=False),
    Column("webhook_id", Integer(), nullable=False),
    Column("event", String(50), nullable=False),
    Column("key", String(200), nullable=False),
    Column("body", Text(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(), nullable=True),
    Column("claimed_at", DateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("created_at", DateTime(), nullable=False),
    Column("delivered_at", DateTime(), nullable=True),
    _cascade("webhook_id", "webhooks.id"),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("webhook_id", "key"),
    Index("ix_webhook_events_status_next_attempt", "status", "next_attempt_at"),
)
_table(
    "webhook_attempts",
    Column("id", Integer(), nullable=False),
    Column("event_id", Integer(), nullable=False),
    Column("attempted_at", DateTime(), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("error", Text(), nullable=True),
    Column("duration_ms", Integer(), nullable=False),
    _cascade("event_id", "webhook_events.id"),
    PrimaryKeyConstraint("id"),
    Index("ix_webhook_attempts_event_id", "event_id"),
)


def create(conn: sa.Connection) -> None:
    """Create the tables and stamp them `REVISION`, on the caller's transaction."""
    metadata.create_all(conn, checkfirst=False)
    stamp(conn)


def stamp(conn: sa.Connection) -> None:
    conn.execute(version_table.insert().values(version_num=REVISION))
