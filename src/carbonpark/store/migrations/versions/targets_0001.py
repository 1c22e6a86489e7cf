"""targets: dual-carbon targets and implementation path measures

Revision ID: targets_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "targets_0001"
down_revision = "0001"
branch_labels = ("targets",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carbon_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("org_handle", sa.String(length=128), nullable=False),
        sa.Column("peak_year", sa.Integer(), nullable=True),
        sa.Column("peak_tco2e", sa.Float(), nullable=True),
        sa.Column("neutrality_year", sa.Integer(), nullable=True),
        sa.Column("caps_tco2e", sa.JSON(), nullable=False),
        sa.Column("intensity_caps", sa.JSON(), nullable=False),
        sa.Column("clean_share_targets", sa.JSON(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name=op.f("fk_carbon_targets_park_id_parks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carbon_targets")),
        sa.UniqueConstraint("org_handle", name=op.f("uq_carbon_targets_org_handle")),
    )
    op.create_index("ix_carbon_targets_park_id", "carbon_targets", ["park_id"])
    op.create_table(
        "path_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("org_handle", sa.String(length=128), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("annual_abatement_tco2e", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name=op.f("fk_path_measures_park_id_parks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_measures")),
        sa.UniqueConstraint("org_handle", "code", name=op.f("uq_path_measures_org_handle")),
    )
    op.create_index("ix_path_measures_park_id", "path_measures", ["park_id"])
    op.create_index("ix_path_measures_org_handle", "path_measures", ["org_handle"])


def downgrade() -> None:
    op.drop_table("path_measures")
    op.drop_table("carbon_targets")
