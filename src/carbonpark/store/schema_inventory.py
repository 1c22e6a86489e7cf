"""Tables of the inventory and verification capability (Alembic branch ``inventory``).

An organisation is ``org``: an enterprise's handle, or ``park`` (then ``enterprise_id`` is NULL).
Inventory versions are append-only: a submitted or verified version is frozen, and a change
creates a new version (``supersedes_id`` points back). Step events are append-only too: the
state of a step is replayed from them (who did what, when).

References
----------
The guide §7.1 (ten steps), §7.2 (verification); SPEC C12, C13.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = [
    "InventoryDocument",
    "InventorySetting",
    "InventoryVersion",
    "MonitoringPlan",
    "StepEventRow",
    "VerificationAssignment",
    "VerificationFinding",
    "VerificationStatement",
    "VerifierOrg",
    "VerifierUser",
]

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class InventorySetting(Base):
    """Boundaries, base year and guideline of one organisation and year (editable until locked)."""

    __tablename__ = "inventory_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    boundary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    operational: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_year: Mapped[int | None] = mapped_column(Integer)
    threshold_pct: Mapped[float] = mapped_column(Float, default=5.0)
    guideline: Mapped[str] = mapped_column(String(32), default="")
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("org", "year"),)


class InventoryVersion(Base):
    """One compiled inventory of an organisation and year; ``status`` draft, submitted, verified, superseded."""

    __tablename__ = "inventory_versions"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    total_tco2e: Mapped[float] = mapped_column(Float)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_versions.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    status_ms: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("org", "year", "version"),
        Index("ix_inventory_versions_org_year", "org", "year"),
    )


class StepEventRow(Base):
    """One transition of a workflow step; ``workflow`` is ``inventory`` or ``verification``."""

    __tablename__ = "inventory_step_events"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(16))
    org: Mapped[str] = mapped_column(String(128))
    year: Mapped[int] = mapped_column(Integer)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("verification_assignments.id"))
    step: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_inventory_step_events_key", "workflow", "org", "year"),)


class VerifierOrg(Base):
    """A verification body (第三方核查机构)."""

    __tablename__ = "verifier_orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    accreditation: Mapped[str] = mapped_column(String(200), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)


class VerifierUser(Base):
    """A verifier of a verification body; ``role`` lead, member or technical_reviewer."""

    __tablename__ = "verifier_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verifier_org_id: Mapped[int] = mapped_column(ForeignKey("verifier_orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32), default="member")
    __table_args__ = (UniqueConstraint("verifier_org_id", "name"),)


class VerificationAssignment(Base):
    """A verification body assigned to an organisation-year."""

    __tablename__ = "verification_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verifier_org_id: Mapped[int] = mapped_column(ForeignKey("verifier_orgs.id"), index=True)
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("verifier_users.id"))
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    retain_until: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("org", "year", "verifier_org_id"),)


class InventoryDocument(Base):
    """Evidence: invoices, purchase and weighing records, lab reports; file on disk or blob, with sha256.

    ``meta`` carries what the document supports: ``source`` and ``amount``/``unit`` (invoices, weighing),
    ``fuel``, ``batch``, ``mass_t`` (weighing) or ``ncv`` (lab reports).
    """

    __tablename__ = "inventory_documents"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(String(1000))
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_inventory_documents_org_year", "org", "year"),)


class VerificationFinding(Base):
    """A finding of a verification: severity, misstatement, status (open, corrected, closed), correction."""

    __tablename__ = "verification_findings"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("verification_assignments.id"), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    check: Mapped[str] = mapped_column(String(32), default="manual")
    ref: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    misstatement_tco2e: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    correction: Mapped[str] = mapped_column(Text, default="")
    corrected_version_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_versions.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)


class VerificationStatement(Base):
    """A verification statement on one inventory version; a re-issue supersedes the previous one."""

    __tablename__ = "verification_statements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("verification_assignments.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("inventory_versions.id"))
    level_of_assurance: Mapped[str] = mapped_column(String(16))
    materiality_pct: Mapped[float] = mapped_column(Float)
    opinion: Mapped[str] = mapped_column(String(16))
    verified_total_tco2e: Mapped[float] = mapped_column(Float)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("verification_statements.id"))
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    issued_by: Mapped[str] = mapped_column(String(100))


class MonitoringPlan(Base):
    """One version of an enterprise's monitoring plan (数据质量控制计划); never updated in place."""

    __tablename__ = "monitoring_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    guideline: Mapped[str] = mapped_column(String(32))
    valid_from_year: Mapped[int] = mapped_column(Integer)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("enterprise_id", "version"),)
