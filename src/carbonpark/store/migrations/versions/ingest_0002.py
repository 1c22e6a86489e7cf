"""ingest: the ingest batch of each reading (readings.batch_id) and of each correction

Each committed ingest batch is attested by one ledger entry ``ingest_batch:<id>``; the batch
id stored with each reading lets ``ledger verify`` rebuild that entry from the store. A
corrected reading moves to the batch that corrected it; ``reading_corrections`` keeps the
correcting batch, the quality before the correction and the batch the corrected reading came
from, so that the correction's own entry ``reading_correction:<id>`` can be rebuilt too.

A nullable column without default: PostgreSQL adds it without rewriting the table. No index
and no foreign key (each would cost every insert); ``ledger verify`` reads the column by a
sort. Readings loaded by the bulk path keep NULL (they are attested by meter and day).

Revision ID: ingest_0002
Revises: ingest_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0002"
down_revision = "ingest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("readings", sa.Column("batch_id", sa.BigInteger(), nullable=True))
    op.add_column("reading_corrections", sa.Column("batch_id", sa.BigInteger(), nullable=True))
    op.add_column("reading_corrections", sa.Column("old_quality", sa.SmallInteger(), nullable=True))
    op.add_column("reading_corrections", sa.Column("amends_batch", sa.BigInteger(), nullable=True))
    op.create_index("ix_reading_corrections_batch", "reading_corrections", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reading_corrections_batch", table_name="reading_corrections")
    with op.batch_alter_table("reading_corrections") as batch:
        batch.drop_column("amends_batch")
        batch.drop_column("old_quality")
        batch.drop_column("batch_id")
    with op.batch_alter_table("readings") as batch:
        batch.drop_column("batch_id")
