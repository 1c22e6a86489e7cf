"""ledger: attestation log entries, Merkle subtree hashes, log size, signed tree heads

Revision ID: ledger_0001
Revises: 0001
Create Date: 2026-11-24 04:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = "0001"
branch_labels = ("ledger",)
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("leaf_index", _BIG, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("record", sa.String(length=256), nullable=False),
        sa.Column("organisation", sa.String(length=256), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_kind_record", "ledger_entries", ["kind", "record", "leaf_index"])
    op.create_index("ix_ledger_entries_organisation", "ledger_entries", ["organisation", "kind"])
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_nodes")),
    )
    op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_state")),
    )
    op.bulk_insert(
        sa.table("ledger_state", sa.column("id", sa.Integer()), sa.column("size", sa.BigInteger())),
        [{"id": 1, "size": 0}],
    )
    op.create_table(
        "ledger_heads",
        sa.Column("id", _BIG, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_heads")),
    )
    op.create_index("ix_ledger_heads_tree_size", "ledger_heads", ["tree_size", "timestamp_ms"])


def downgrade() -> None:
    op.drop_index("ix_ledger_heads_tree_size", table_name="ledger_heads")
    op.drop_table("ledger_heads")
    op.drop_table("ledger_state")
    op.drop_table("ledger_nodes")
    op.drop_index("ix_ledger_entries_organisation", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_kind_record", table_name="ledger_entries")
    op.drop_table("ledger_entries")
