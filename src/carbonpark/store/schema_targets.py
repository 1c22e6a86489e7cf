"""Tables of the targets capability: dual-carbon targets and the implementation path.

``carbon_targets`` holds one target document per organisation (an enterprise's handle, or the
park's): peak year and value, neutrality year, and yearly caps on total emissions, intensity and
the clean-energy share (JSON objects keyed by year). ``path_measures`` lists the measures of the
implementation path by year with their owners. Changes are written to the audit log.

Migration: ``migrations/versions/targets_0001.py`` (branch ``targets`` off ``0001``).

References
----------
Guide §3.2.2(1) (双碳目标和实施路径), §6.2; issue 13 item 1.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = ["CarbonTarget", "PathMeasureRow"]


class CarbonTarget(Base):
    __tablename__ = "carbon_targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    org_handle: Mapped[str] = mapped_column(String(128), unique=True)
    peak_year: Mapped[int | None] = mapped_column(Integer)
    peak_tco2e: Mapped[float | None] = mapped_column(Float)
    neutrality_year: Mapped[int | None] = mapped_column(Integer)
    caps_tco2e: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    intensity_caps: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    clean_share_targets: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class PathMeasureRow(Base):
    __tablename__ = "path_measures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    org_handle: Mapped[str] = mapped_column(String(128), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(200))
    annual_abatement_tco2e: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    __table_args__ = (UniqueConstraint("org_handle", "code"),)
