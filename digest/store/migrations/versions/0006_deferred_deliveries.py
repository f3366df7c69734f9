"""deferred deliveries

A delivery that met a temporary failure is `deferred` (the status column is a VARCHAR
without a CHECK constraint, so the new value needs no change) until `next_attempt_at`.
The index lets the sweeper and the claim find due copies without reading the ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.create_index(
            "ix_deliveries_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    # Deferred copies go back to pending: the old code sends those.
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'deferred'")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_status_next_attempt")
        batch.drop_column("next_attempt_at")
