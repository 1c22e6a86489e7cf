"""identifiers: transport legs of products' inputs (footprint_transport_legs)

Revision ID: identifiers_0002
Revises: identifiers_0001
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identifiers_0002"
down_revision = "identifiers_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "footprint_transport_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=True),
        sa.Column("input_product_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("mass_t", sa.Float(), nullable=True),
        sa.Column("factor_tco2e_per_tkm", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "(material_id IS NULL) <> (input_product_id IS NULL)", name=op.f("ck_footprint_transport_legs_one_input")
        ),
        sa.CheckConstraint(
            "distance_km > 0 AND factor_tco2e_per_tkm >= 0", name=op.f("ck_footprint_transport_legs_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_footprint_transport_legs_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["materials.id"],
            name=op.f("fk_footprint_transport_legs_material_id_materials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["input_product_id"],
            ["products.id"],
            name=op.f("fk_footprint_transport_legs_input_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footprint_transport_legs")),
    )
    op.create_index(op.f("ix_footprint_transport_legs_product_id"), "footprint_transport_legs", ["product_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_footprint_transport_legs_product_id"), table_name="footprint_transport_legs")
    op.drop_table("footprint_transport_legs")
