"""delivery tallies and forgotten articles, so that pruning keeps what the reports show

Settled deliveries past DIGEST_DELIVERY_RETENTION_DAYS are deleted in batches; each
batch writes their counts by send, edition, state and day sent into `delivery_tallies`,
which the reports add to the ledger's rows. Articles past DIGEST_ARTICLE_RETENTION_DAYS
that no edition holds are deleted, and their key and link kept in `forgotten_articles`,
so that a feed still listing one does not bring it back as new.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:11:16
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_claimed_at", sa.DateTime(), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.Column("folded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["edition_id"], ["editions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["send_id"], ["sends.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_tallies_edition_id", "delivery_tallies", ["edition_id"])
    op.create_index("ix_delivery_tallies_send_id", "delivery_tallies", ["send_id"])
    op.create_index("ix_delivery_tallies_sent_on", "delivery_tallies", ["sent_on"])
    op.create_table(
        "forgotten_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=2000), nullable=False),
        sa.Column("link", sa.String(length=2000), nullable=True),
        sa.Column("forgotten_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "key"),
    )
    op.create_index("ix_forgotten_articles_link", "forgotten_articles", ["link"])


def downgrade() -> None:
    op.drop_index("ix_forgotten_articles_link", table_name="forgotten_articles")
    op.drop_table("forgotten_articles")
    op.drop_index("ix_delivery_tallies_sent_on", table_name="delivery_tallies")
    op.drop_index("ix_delivery_tallies_send_id", table_name="delivery_tallies")
    op.drop_index("ix_delivery_tallies_edition_id", table_name="delivery_tallies")
    op.drop_table("delivery_tallies")
