"""Tables of the ingest pipeline (issue 5): batch counters, corrections, alarms, sequences.

Migration ``ingest_0001`` creates them (branch ``ingest`` off ``0001``); ``ingest_0002``
adds the batch of each reading (``readings.batch_id``, read and written with
:data:`carbonpark.store.readings.READINGS`) and of each correction. Times are UTC epoch
milliseconds (``*_ms``).

- ``ingest_batches``: one row per committed batch with what became of every reading sent
  (accepted + duplicates + quarantined + corrected + pending = sent), so duplicates are
  counted persistently and ``carbonpark status`` can add them up.
- ``reading_corrections``: explicit corrections and late data. ``applied`` replaced a
  stored value in an open period; ``pending`` waits in a submitted or verified (locked)
  period for a new inventory version to take it up (``taken_up``). ``batch_id`` is the
  batch that sent it (attested as ``reading_correction:<batch_id>``), ``amends_batch`` the
  batch the corrected reading had come in (NULL: bulk-loaded, or nothing stored before),
  ``old_quality`` its quality bits before.
- ``alarms``: a general alarm with a lifecycle (raised, acknowledged, cleared); ingest
  raises ``data_gap`` alarms, monitoring rules reuse the table.
- ``ingest_sequences``: the last sequence number seen per publisher stream and the
  numbers still missing (a gap), shared by every worker.
- ``mqtt_receipts``: the last message committed per (client id, packet id), so that a
  QoS 1 redelivery of a message already committed before a crash is acknowledged
  without counting it again.
- ``sparkplug_aliases``: Sparkplug B metric aliases declared in NBIRTH/DBIRTH, kept
  across restarts of the worker.
- ``locked_periods``: periods closed for in-place recomputation when no inventory
  module says otherwise (see :func:`carbonpark.services.ingest.period_locked`).
- ``ingest_dirty_ranges`` (``ingest_0003``): the (meter, first ts, last ts) ranges a committed
  batch stored or corrected, written in the batch's own transaction and deleted by the
  transaction that re-aggregates them (:func:`carbonpark.services.ingest.drain_dirty`): a
  crash between the commit and the re-aggregation leaves them queued, never lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = [
    "Alarm",
    "DirtyRange",
    "IngestBatch",
    "IngestSequence",
    "LockedPeriod",
    "MqttReceipt",
    "ReadingCorrection",
    "SparkplugAlias",
]

_BigId = BigInteger().with_variant(Integer, "sqlite")


class IngestBatch(Base):
    """What became of one committed batch of readings."""

    __tablename__ = "ingest_batches"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    received_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    channel: Mapped[str] = mapped_column(String(32))
    sent: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    corrected: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    first_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_ts_ms: Mapped[int | None] = mapped_column(BigInteger)


class ReadingCorrection(Base):
    """A corrected or late reading: applied in place, or pending in a locked period."""

    __tablename__ = "reading_corrections"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    old_value: Mapped[float | None] = mapped_column(Float)
    new_value: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(SmallInteger, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # correction | late
    status: Mapped[str] = mapped_column(String(16))  # applied | pending | taken_up
    received_ms: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(32))
    raw: Mapped[str] = mapped_column(Text, default="")
    taken_up_by: Mapped[str | None] = mapped_column(String(128))
    taken_up_ms: Mapped[int | None] = mapped_column(BigInteger)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)  # ingest_0002: the batch that sent it
    old_quality: Mapped[int | None] = mapped_column(SmallInteger)  # quality bits of the value replaced
    amends_batch: Mapped[int | None] = mapped_column(BigInteger)  # batch of the reading it corrects
    __table_args__ = (
        Index("ix_reading_corrections_meter_ts", "meter_id", "ts_ms"),
        Index("ix_reading_corrections_status", "status"),
        Index("ix_reading_corrections_batch", "batch_id"),
    )


class Alarm(Base):
    """An alarm with its lifecycle: raised, then acknowledged and/or cleared."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    meter_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200), default="")
    raised_ms: Mapped[int] = mapped_column(BigInteger)
    acknowledged_ms: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    cleared_ms: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_alarms_kind_subject", "kind", "subject"),)


class IngestSequence(Base):
    """Last sequence number per publisher stream and the numbers not (yet) seen."""

    __tablename__ = "ingest_sequences"
    stream: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    modulus: Mapped[int | None] = mapped_column(Integer)
    missing: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class MqttReceipt(Base):
    """The last committed message per (MQTT client id, packet id), to recognise redeliveries."""

    __tablename__ = "mqtt_receipts"
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    packet_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    received_ms: Mapped[int] = mapped_column(BigInteger)


class SparkplugAlias(Base):
    """A metric alias declared by a Sparkplug B edge node in NBIRTH or DBIRTH."""

    __tablename__ = "sparkplug_aliases"
    edge: Mapped[str] = mapped_column(String(200), primary_key=True)  # group/edge node
    alias: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device: Mapped[str] = mapped_column(String(200), default="")
    metric: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(32))
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class LockedPeriod(Base):
    """A year of an enterprise (or of the whole park, ``enterprise_id`` NULL) closed for edits."""

    __tablename__ = "locked_periods"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    locked_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_locked_periods_enterprise_year", "enterprise_id", "year", unique=True),)


class DirtyRange(Base):
    """Readings of one meter in [first, last] that changed and whose aggregates must be recomputed.

    Inserted by the ingest batch that stored or corrected them (no unique key: concurrent
    workers never wait on each other here), deleted by the re-aggregation that took them.
    """

    __tablename__ = "ingest_dirty_ranges"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer)
    first_ts_ms: Mapped[int] = mapped_column(BigInteger)
    last_ts_ms: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    queued_ms: Mapped[int] = mapped_column(BigInteger)
