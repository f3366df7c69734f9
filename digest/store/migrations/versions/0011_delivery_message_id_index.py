"""an index on deliveries.message_id

A DSN that carries no signed return path finds its copy by the exact Message-ID it
quotes; after a large send bounces arrive by the thousand, and each lookup must not read
the whole ledger.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_message_id", ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_message_id")
