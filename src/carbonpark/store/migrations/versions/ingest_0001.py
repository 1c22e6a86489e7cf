"""ingest: batch counters, reading corrections, alarms, sequences, MQTT receipts, Sparkplug aliases, locked periods

Revision ID: ingest_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = "0001"
branch_labels = ("ingest",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("corrected", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("first_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_ts_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batches")),
    )
    op.create_index(op.f("ix_ingest_batches_received_ms"), "ingest_batches", ["received_ms"], unique=False)

    op.create_table(
        "reading_corrections",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("old_value", sa.Float(), nullable=True),
        sa.Column("new_value", sa.Float(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("taken_up_by", sa.String(length=128), nullable=True),
        sa.Column("taken_up_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_corrections")),
    )
    op.create_index("ix_reading_corrections_meter_ts", "reading_corrections", ["meter_id", "ts_ms"], unique=False)
    op.create_index("ix_reading_corrections_status", "reading_corrections", ["status"], unique=False)

    op.create_table(
        "alarms",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("raised_ms", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("cleared_ms", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_kind_subject", "alarms", ["kind", "subject"], unique=False)

    op.create_table(
        "ingest_sequences",
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("modulus", sa.Integer(), nullable=True),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_ingest_sequences")),
    )
    op.create_table(
        "mqtt_receipts",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("packet_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "packet_id", name=op.f("pk_mqtt_receipts")),
    )
    op.create_table(
        "sparkplug_aliases",
        sa.Column("edge", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("edge", "alias", name=op.f("pk_sparkplug_aliases")),
    )
    op.create_table(
        "locked_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("locked_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locked_periods")),
    )
    op.create_index("ix_locked_periods_enterprise_year", "locked_periods", ["enterprise_id", "year"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_locked_periods_enterprise_year", table_name="locked_periods")
    op.drop_table("locked_periods")
    op.drop_table("sparkplug_aliases")
    op.drop_table("mqtt_receipts")
    op.drop_table("ingest_sequences")
    op.drop_index("ix_alarms_kind_subject", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_reading_corrections_status", table_name="reading_corrections")
    op.drop_index("ix_reading_corrections_meter_ts", table_name="reading_corrections")
    op.drop_table("reading_corrections")
    op.drop_index(op.f("ix_ingest_batches_received_ms"), table_name="ingest_batches")
    op.drop_table("ingest_batches")
