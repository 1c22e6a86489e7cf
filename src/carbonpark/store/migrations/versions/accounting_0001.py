"""accounting: virtual meters, activity data, accounting runs, emission records

Revision ID: accounting_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounting_0001"
down_revision = "0001"
branch_labels = ("accounting",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "virtual_meters",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_virtual_meters_meter_id_meters")),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_virtual_meters")),
    )
    op.create_table(
        "activity_data",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("series", sa.String(length=160), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("source_label", sa.String(length=200), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("n_readings", sa.Integer(), nullable=False),
        sa.Column("expected_readings", sa.Integer(), nullable=True),
        sa.Column("estimated_amount", sa.Float(), nullable=False),
        sa.Column("flagged_amount", sa.Float(), nullable=False),
        sa.Column("computed_ms", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_activity_data_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_activity_data_source_id_sources")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_activity_data_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_data")),
        sa.UniqueConstraint("series", "resolution", "start_ms", name=op.f("uq_activity_data_series")),
    )
    op.create_index("ix_activity_data_period", "activity_data", ["resolution", "start_ms"])
    op.create_index(op.f("ix_activity_data_enterprise_id"), "activity_data", ["enterprise_id"])
    op.create_index(op.f("ix_activity_data_source_id"), "activity_data", ["source_id"])
    op.create_table(
        "accounting_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("factor_set", sa.String(length=64), nullable=False),
        sa.Column("gwp_set", sa.String(length=32), nullable=False),
        sa.Column("computed_ms", sa.BigInteger(), nullable=False),
        sa.Column("total_tco2e", sa.Float(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_accounting_runs_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_runs")),
        sa.UniqueConstraint("org", "period", name=op.f("uq_accounting_runs_org")),
    )
    op.create_index(op.f("ix_accounting_runs_enterprise_id"), "accounting_runs", ["enterprise_id"])
    op.create_table(
        "emission_records",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("handle", sa.String(length=128), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("activity_datum_id", _BIG_ID, nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("source_label", sa.String(length=200), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("activity_amount", sa.Float(), nullable=False),
        sa.Column("activity_unit", sa.String(length=32), nullable=False),
        sa.Column("gas", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=1), nullable=False),
        sa.Column("category", sa.String(length=1), nullable=False),
        sa.Column("mass_t", sa.Float(), nullable=False),
        sa.Column("gwp_set", sa.String(length=32), nullable=False),
        sa.Column("gwp", sa.Float(), nullable=False),
        sa.Column("tco2e", sa.Float(), nullable=False),
        sa.Column("market_tco2e", sa.Float(), nullable=True),
        sa.Column("factor_ids", sa.JSON(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("estimated_share", sa.Float(), nullable=False),
        sa.Column("flagged_share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["accounting_runs.id"],
            name=op.f("fk_emission_records_run_id_accounting_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_datum_id"],
            ["activity_data.id"],
            name=op.f("fk_emission_records_activity_datum_id_activity_data"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_emission_records_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_emission_records_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emission_records")),
        sa.UniqueConstraint("handle", name=op.f("uq_emission_records_handle")),
    )
    op.create_index(op.f("ix_emission_records_run_id"), "emission_records", ["run_id"])
    op.create_index(op.f("ix_emission_records_activity_datum_id"), "emission_records", ["activity_datum_id"])


def downgrade() -> None:
    op.drop_table("emission_records")
    op.drop_table("accounting_runs")
    op.drop_table("activity_data")
    op.drop_table("virtual_meters")
