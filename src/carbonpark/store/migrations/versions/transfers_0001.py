"""transfers: energy and CO2 transfers between parties of the park

Revision ID: transfers_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "transfers_0001"
down_revision = "0001"
branch_labels = ("transfers",)
depends_on = ("accounting_0001",)

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "energy_transfers",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("seller_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("buyer_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("seller_datum_id", _BIG_ID, nullable=True),
        sa.Column("buyer_datum_id", _BIG_ID, nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_energy_transfers_seller_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_energy_transfers_buyer_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_energy_transfers_meter_id_meters")),
        sa.ForeignKeyConstraint(
            ["seller_datum_id"], ["activity_data.id"], name=op.f("fk_energy_transfers_seller_datum_id_activity_data")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_datum_id"], ["activity_data.id"], name=op.f("fk_energy_transfers_buyer_datum_id_activity_data")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_transfers")),
        sa.UniqueConstraint("key", name=op.f("uq_energy_transfers_key")),
    )
    op.create_index(op.f("ix_energy_transfers_seller_enterprise_id"), "energy_transfers", ["seller_enterprise_id"])
    op.create_index(op.f("ix_energy_transfers_buyer_enterprise_id"), "energy_transfers", ["buyer_enterprise_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_energy_transfers_buyer_enterprise_id"), table_name="energy_transfers")
    op.drop_index(op.f("ix_energy_transfers_seller_enterprise_id"), table_name="energy_transfers")
    op.drop_table("energy_transfers")
