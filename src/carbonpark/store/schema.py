"""Tables of carbonpark (SQLAlchemy 2). Migrations in ``migrations/`` (Alembic) create them.

Conventions: times are UTC epoch milliseconds in ``*_ms`` columns (DESIGN.md "Time");
every registry row carries its immutable Handle identifier in ``handle``; quantities
carry their unit in the column name or in a ``unit`` column.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditEntry",
    "Base",
    "BomLine",
    "Calibration",
    "Carrier",
    "Device",
    "EmissionSource",
    "Enterprise",
    "Material",
    "Meter",
    "Park",
    "Product",
    "Quarantined",
    "Reading",
    "Site",
    "Statistic",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention (for Alembic)."""

    metadata = MetaData(naming_convention=NAMING)


class _Handled:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str | None] = mapped_column(String(128), unique=True)


class Park(_Handled, Base):
    __tablename__ = "parks"
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    handle_prefix: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    region: Mapped[str] = mapped_column(String(100), default="")


class Enterprise(_Handled, Base):
    __tablename__ = "enterprises"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    industry_code: Mapped[str] = mapped_column(String(8))
    key_emitter: Mapped[bool] = mapped_column(Boolean, default=False)
    boundary_approach: Mapped[str] = mapped_column(String(32), default="operational_control")
    equity_share: Mapped[float] = mapped_column(Float, default=1.0)


class Site(_Handled, Base):
    __tablename__ = "sites"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="site")


class Device(_Handled, Base):
    __tablename__ = "devices"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    rated_power_kw: Mapped[float | None] = mapped_column(Float)


class Carrier(_Handled, Base):
    __tablename__ = "carriers"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(32))
    __table_args__ = (UniqueConstraint("park_id", "code"),)


class Meter(_Handled, Base):
    __tablename__ = "meters"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carriers.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(32))
    reading_kind: Mapped[str] = mapped_column(String(16), default="interval")
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    accuracy_class: Mapped[str] = mapped_column(String(8), default="1.0")
    rollover: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("park_id", "code"),)


class Calibration(_Handled, Base):
    __tablename__ = "calibrations"
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    calibrated_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    certificate: Mapped[str] = mapped_column(String(100), default="")
    agency: Mapped[str] = mapped_column(String(200), default="")
    passed: Mapped[bool] = mapped_column(Boolean, default=True)


class EmissionSource(_Handled, Base):
    __tablename__ = "sources"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    name: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(64))
    gas: Mapped[str] = mapped_column(String(8))
    method: Mapped[str] = mapped_column(String(32))
    scope: Mapped[int] = mapped_column(SmallInteger)
    category: Mapped[int] = mapped_column(SmallInteger, default=1)


class Material(_Handled, Base):
    __tablename__ = "materials"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    carbon_content_t_per_t: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("park_id", "code"),)


class Product(_Handled, Base):
    __tablename__ = "products"
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    __table_args__ = (UniqueConstraint("park_id", "code"),)


class BomLine(Base):
    __tablename__ = "bom_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    input_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[float] = mapped_column(Float)


class Statistic(Base):
    __tablename__ = "statistics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(200), default="")
    evidence: Mapped[str] = mapped_column(String(500), default="")
    __table_args__ = (UniqueConstraint("enterprise_id", "period", "metric"),)


class Reading(Base):
    """A meter reading in the meter's canonical unit; the big table, keyed (meter, ts)."""

    __tablename__ = "readings"
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: the ingest batch that stored it (attested as ``ingest_batch:<id>``); NULL for bulk loads.
    #: Added by migration ``ingest_0002``.
    batch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Quarantined(Base):
    """A reading or record that was not accepted, kept with its raw payload and the reason."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(32))
    meter_ref: Mapped[str | None] = mapped_column(String(128))
    ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """History of every change: who, when, what, before and after (the API's audit log too)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    handle: Mapped[str | None] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
