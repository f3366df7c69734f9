"""repair: schedule columns and transactional mails where 0006 once came right after 0003

An earlier `main` shipped 0006 (deferred copies) directly after 0003; 0004 (weekly and
monthly schedules) and 0005 (transactional mails) came later, before it in the chain. A
database stamped 0006 by that earlier commit is taken to have 0004 and 0005 and never
gets them. This revision adds what they add where it is missing, as they add it, and
changes nothing on a database that has them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _inspector() -> sa.engine.reflection.Inspector:
    return sa.inspect(op.get_bind())


def upgrade() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0012 looks at what exists: run it against a database")
    have = {c["name"] for c in _inspector().get_columns("subscribers")}
    missing = [
        column
        for column in (
            sa.Column("weekday", sa.Integer(), server_default="0", nullable=False),
            sa.Column("day_of_month", sa.Integer(), server_default="1", nullable=False),
            sa.Column("slot_checked_at", sa.DateTime(), nullable=True),
        )
        if column.name not in have
    ]
    if missing:
        with op.batch_alter_table("subscribers", schema=None) as batch_op:
            for column in missing:
                batch_op.add_column(column)
    if "transactional_mails" not in _inspector().get_table_names():
        op.create_table(
            "transactional_mails",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("subscriber_id", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("to_address", sa.String(length=320), nullable=False),
            sa.Column("subject", sa.String(length=300), nullable=False),
            sa.Column("html", sa.Text(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.Column("message_id", sa.String(length=300), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("claimed_at", sa.DateTime(), nullable=True),
            sa.Column("sent_at", sa.DateTime(), nullable=True),
            sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            "ix_transactional_mails_subscriber_id", "transactional_mails", ["subscriber_id"]
        )


def downgrade() -> None:
    # What this adds belongs to 0004 and 0005, whose downgrades remove it.
    pass
