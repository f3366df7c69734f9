"""source kinds set by hand and why, and the accounting of a source's last read

A source's kind is "article" for one article page (it was "page"); it can be set by hand
and is then kept (kind_origin "set"), and the source says why it is of its kind. Each read
records how many entries the source had, how many were stored, and every one left out
with its reason.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 01:16:02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind_origin", sa.String(length=10), server_default="found", nullable=False)
        )
        batch_op.add_column(sa.Column("kind_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_entries", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_stored", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_left_out", sa.JSON(), nullable=True))
    op.execute("UPDATE sources SET kind = 'article' WHERE kind = 'page'")


def downgrade() -> None:
    op.execute("UPDATE sources SET kind = 'page' WHERE kind = 'article'")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_left_out")
        batch_op.drop_column("last_stored")
        batch_op.drop_column("last_entries")
        batch_op.drop_column("kind_reason")
        batch_op.drop_column("kind_origin")
