"""article language, lead image and full text; source kind, mode, backoff and pause

Articles learn their language (BCP 47 tag, from the page or detected), their lead image
(a URL, never stored bytes) and whether their text came from the article page rather
than the feed. Sources learn what they are (`feed`, `page` or `section`), whether to
fetch full text (`auto`, `always`, `never`), until when a failing source is left alone
(`retry_after`), whether the last fetch answered 304, and whether an admin paused them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 17:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("language", sa.String(35), nullable=True))
        batch.add_column(sa.Column("image_url", sa.String(2000), nullable=True))
        batch.add_column(
            sa.Column("full_text", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="feed"))
        batch.add_column(
            sa.Column("full_text_mode", sa.String(10), nullable=False, server_default="auto")
        )
        batch.add_column(sa.Column("retry_after", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("not_modified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        for column in ("paused", "not_modified", "retry_after", "full_text_mode", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("articles") as batch:
        for column in ("full_text", "image_url", "language"):
            batch.drop_column(column)
