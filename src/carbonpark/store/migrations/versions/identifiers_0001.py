"""identifiers: identifier registry, typed values, nodes, resolution counts, active users

Revision ID: identifiers_0001
Revises: 0001
Create Date: 2026-11-25 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identifiers_0001"
down_revision = "0001"
branch_labels = ("identifiers",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "identifiers",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("handle", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=True),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("owner_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_enterprise_id"], ["enterprises.id"], name=op.f("fk_identifiers_owner_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifiers")),
        sa.UniqueConstraint("handle", name=op.f("uq_identifiers_handle")),
    )
    op.create_index(op.f("ix_identifiers_owner_enterprise_id"), "identifiers", ["owner_enterprise_id"])
    op.create_index(op.f("ix_identifiers_created_ms"), "identifiers", ["created_ms"])
    op.create_table(
        "identifier_values",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("identifier_id", _BIG_ID, nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("data_format", sa.String(length=16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["identifiers.id"],
            name=op.f("fk_identifier_values_identifier_id_identifiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier_values")),
        sa.UniqueConstraint("identifier_id", "idx", name=op.f("uq_identifier_values_identifier_id")),
    )
    op.create_index(op.f("ix_identifier_values_type"), "identifier_values", ["type"])
    op.create_table(
        "identifier_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("resolver_url", sa.String(length=500), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_identifier_nodes_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier_nodes")),
        sa.UniqueConstraint("prefix", name=op.f("uq_identifier_nodes_prefix")),
    )
    op.create_index(op.f("ix_identifier_nodes_enterprise_id"), "identifier_nodes", ["enterprise_id"])
    op.create_table(
        "identifier_resolution_counts",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("response_code", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", "response_code", name=op.f("pk_identifier_resolution_counts")),
    )
    op.create_table(
        "identifier_users",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", "user", name=op.f("pk_identifier_users")),
    )


def downgrade() -> None:
    op.drop_table("identifier_users")
    op.drop_table("identifier_resolution_counts")
    op.drop_index(op.f("ix_identifier_nodes_enterprise_id"), table_name="identifier_nodes")
    op.drop_table("identifier_nodes")
    op.drop_index(op.f("ix_identifier_values_type"), table_name="identifier_values")
    op.drop_table("identifier_values")
    op.drop_index(op.f("ix_identifiers_created_ms"), table_name="identifiers")
    op.drop_index(op.f("ix_identifiers_owner_enterprise_id"), table_name="identifiers")
    op.drop_table("identifiers")
