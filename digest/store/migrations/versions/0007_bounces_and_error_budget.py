"""bounces and the error budget

Subscribers count their bounces (hard ones in all, soft ones in a row) and keep the last
one's reason; a send carries its status (active, paused, cancelled), why it was paused,
and how many copies in a row have failed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("hard_bounces", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("soft_bounces", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_bounce", sa.Text(), nullable=True))
        batch.add_column(sa.Column("bounced_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("sends") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("failures_in_row", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("failures_in_row")
        batch.drop_column("paused_reason")
        batch.drop_column("status")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("bounced_at")
        batch.drop_column("last_bounce")
        batch.drop_column("soft_bounces")
        batch.drop_column("hard_bounces")
