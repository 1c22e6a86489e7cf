"""Tables of the accounting capability: activity data, virtual meters, accounting runs, emission records.

``activity_data`` holds one activity datum per series (an emission source, or a manual entry) and
local calendar period (hour, day, month, year), computed from meter readings or entered by hand,
with how much of it rests on estimated or flagged readings. ``accounting_runs`` is one accounting
of an organisation (an enterprise, or ``park``) for a period; its ``emission_records`` carry the
lineage of every result row: the activity datum, the factor rows used with their sources, the
GWP set and the formula. ``virtual_meters`` gives a meter a formula over other meters.

Migration: ``migrations/versions/accounting_0001.py`` (branch ``accounting`` off ``0001``).

References
----------
The guide §4.1 (metering and collection), §4.2 (accounting methods); SPEC C5 (aggregation), C6, C7.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = ["AccountingRun", "ActivityDatum", "EmissionRecord", "VirtualMeter"]

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class VirtualMeter(Base):
    """A meter whose amounts are a formula over other meters (``{park-E-intake} - {park-E-pv}``).

    The meter itself is an ordinary row of ``meters`` (code, handle, quantity, unit); it takes no
    readings. The formula names other meters by code, handle or id in braces.
    """

    __tablename__ = "virtual_meters"
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    formula: Mapped[str] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class ActivityDatum(Base):
    """One activity datum of one series for one local calendar period.

    ``series`` names what the datum belongs to: ``source:<id>`` for an emission source (from its
    meter), or ``manual:<label>`` for data entered by hand. ``estimated_amount`` and
    ``flagged_amount`` are the parts of ``amount`` resting on estimated readings (or bridged over a
    gap) and on readings with any quality flag [same unit as ``amount``].
    """

    __tablename__ = "activity_data"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    series: Mapped[str] = mapped_column(String(160))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    resolution: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    source_label: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(64))
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(16))
    n_readings: Mapped[int] = mapped_column(Integer, default=0)
    expected_readings: Mapped[int | None] = mapped_column(Integer)
    estimated_amount: Mapped[float] = mapped_column(Float, default=0.0)
    flagged_amount: Mapped[float] = mapped_column(Float, default=0.0)
    computed_ms: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("series", "resolution", "start_ms"),
        Index("ix_activity_data_period", "resolution", "start_ms"),
    )


class AccountingRun(Base):
    """One accounting of an organisation (``org`` = enterprise handle or ``park``) for a period.

    There is one current run per (org, period); re-running replaces it unless ``locked`` (set when
    the period is submitted or verified; see :func:`carbonpark.services.accounting.lock_period`).
    ``summary`` is the result document without its rows (totals by gas, scope, category …).
    """

    __tablename__ = "accounting_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    period: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    factor_set: Mapped[str] = mapped_column(String(64))
    gwp_set: Mapped[str] = mapped_column(String(32))
    computed_ms: Mapped[int] = mapped_column(BigInteger)
    total_tco2e: Mapped[float] = mapped_column(Float)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("org", "period"),)


class EmissionRecord(Base):
    """One result row of an accounting run with its lineage.

    ``factors`` cites every factor row used (id, value, unit, source document, table, grade, set,
    origin) with the GWP row last; ``estimated_share`` and ``flagged_share`` (0-1) say how much of
    the activity datum behind the record rests on estimated or flagged readings.
    """

    __tablename__ = "emission_records"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    handle: Mapped[str | None] = mapped_column(String(128), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("accounting_runs.id", ondelete="CASCADE"), index=True)
    activity_datum_id: Mapped[int | None] = mapped_column(ForeignKey("activity_data.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    period: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    source_label: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(64))
    activity_amount: Mapped[float] = mapped_column(Float)
    activity_unit: Mapped[str] = mapped_column(String(32))
    gas: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(32))
    formula: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(1))
    category: Mapped[str] = mapped_column(String(1))
    mass_t: Mapped[float] = mapped_column(Float)
    gwp_set: Mapped[str] = mapped_column(String(32))
    gwp: Mapped[float] = mapped_column(Float)
    tco2e: Mapped[float] = mapped_column(Float)
    market_tco2e: Mapped[float | None] = mapped_column(Float)
    factor_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    estimated_share: Mapped[float] = mapped_column(Float, default=0.0)
    flagged_share: Mapped[float] = mapped_column(Float, default=0.0)
