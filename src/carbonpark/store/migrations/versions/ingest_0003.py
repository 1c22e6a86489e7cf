"""ingest: queue of changed reading ranges whose aggregates must be recomputed

An ingest batch that stores or corrects readings inserts, in its own transaction, one row
per meter and run of timestamps (no more than a day apart) into ``ingest_dirty_ranges``.
The re-aggregation after the commit (``carbonpark.services.ingest.drain_dirty``) deletes the
rows it took in the same transaction as the activity data and accounting runs it rewrites,
so a crash between the two leaves them queued for the next drain. No unique key: two
workers touching the same meter never wait on each other; the drain merges the ranges.

Revision ID: ingest_0003
Revises: ingest_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ingest_dirty_ranges",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("first_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("queued_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("ingest_dirty_ranges")
