"""repair: the deferred copies' column and index where the earlier chain never added them

Until a recent `main`, the revisions ran 0003, 0004, 0005, 0006 (deferred copies), 0007;
they now run 0003, 0006, 0004, 0005, 0007, so that a database stamped 0006 right after
0003 (as one earlier commit shipped it) still gets 0004 and 0005. A database stamped 0004
or 0005 by the older chain has no 0006 yet, though the new chain takes it as done. This
revision adds what 0006 adds where it is missing, as 0006 adds it, and changes nothing
where it exists. (A database stamped 0006 by the older chain has 0004 and 0005 as well:
the migrations environment restamps it 0005 first, where the new chain has the same
tables: `digest.db.restamp_older_chain`.)

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


def upgrade() -> None:
    if op.get_context().as_sql:
        raise RuntimeError("0012 looks at what exists: run it against a database")
    inspector = sa.inspect(op.get_bind())
    has_column = "next_attempt_at" in {c["name"] for c in inspector.get_columns("deliveries")}
    has_index = "ix_deliveries_status_next_attempt" in {
        i["name"] for i in inspector.get_indexes("deliveries")
    }
    if has_column and has_index:
        return
    with op.batch_alter_table("deliveries") as batch:
        if not has_column:
            batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        if not has_index:
            batch.create_index(
                "ix_deliveries_status_next_attempt", ["status", "next_attempt_at"], unique=False
            )


def downgrade() -> None:
    # What this adds belongs to 0006, whose downgrade removes it.
    pass
