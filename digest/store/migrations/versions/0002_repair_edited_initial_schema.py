"""repair databases made by earlier versions of 0001

Revision 0001 was edited after it shipped, so three schemas carry the stamp 0001:

- as first shipped: no deliveries.claimed_at, and sends.dry_run (NOT NULL boolean);
- after the first edit: deliveries.claimed_at, and still sends.dry_run;
- today's: deliveries.claimed_at, no sends.dry_run.

This revision looks at the columns that exist and brings each to today's schema; on a
database made by today's 0001 it does nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0002 looks at the columns that exist: run it against a database")
    if "claimed_at" not in _columns("deliveries"):
        with op.batch_alter_table("deliveries", schema=None) as batch_op:
            batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
    if "dry_run" in _columns("sends"):
        with op.batch_alter_table("sends", schema=None) as batch_op:
            batch_op.drop_column("dry_run")


def downgrade() -> None:
    # Today's 0001 already has today's columns: there is no older shape to go back to.
    pass
