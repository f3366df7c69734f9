"""weekly and monthly schedules

Subscribers gain `weekday` (0 Monday ... 6 Sunday, for weekly digests; existing rows get
Monday, the day weekly digests went out until now), `day_of_month` (1-28, or -1 for the
last day, for monthly digests; default 1) and `slot_checked_at` (when a scheduled send
last found them due with nothing new, so they wait for their next slot).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weekday", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("day_of_month", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("slot_checked_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("slot_checked_at")
        batch_op.drop_column("day_of_month")
        batch_op.drop_column("weekday")
