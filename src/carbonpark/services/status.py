"""Read-side use cases of the registry: counts, meters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from carbonpark.services.ingest import ingest_totals, virtual_meter_set
from carbonpark.store import registry as reg
from carbonpark.store import session
from carbonpark.store.schema import (
    Carrier,
    EmissionSource,
    Enterprise,
    Meter,
    Park,
    Product,
    Quarantined,
    Reading,
    Site,
)
from carbonpark.times import local_iso

__all__ = ["list_meters", "registry_status"]


def registry_status(db: str | None) -> dict[str, Any]:
    """Counts of the registry and readings, and the first and last reading time (local, with offset)."""
    with session(db) as s:
        park = s.scalars(select(Park).order_by(Park.id)).first()
        tz = park.timezone if park else "Asia/Shanghai"

        def count(model: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

        first, last = s.execute(select(func.min(Reading.ts_ms), func.max(Reading.ts_ms))).one()
        return {
            "park": park.handle if park else None,
            "enterprises": count(Enterprise),
            "sites": count(Site),
            "meters": count(Meter),
            "sources": count(EmissionSource),
            "products": count(Product),
            "readings": count(Reading),
            "quarantined": count(Quarantined),
            **{k: v for k, v in ingest_totals(s).items() if k in ("duplicates", "corrected", "pending")},
            "first_reading": local_iso(first, tz) if first is not None else None,
            "last_reading": local_iso(last, tz) if last is not None else None,
        }


def list_meters(db: str | None, enterprise: str | None = None) -> list[dict[str, Any]]:
    """Meters (optionally of one enterprise, given by id, handle, credit code or name)."""
    with session(db) as s:
        stmt = (
            select(Meter, Enterprise.handle, Carrier.code)
            .outerjoin(Enterprise, Meter.enterprise_id == Enterprise.id)
            .outerjoin(Carrier, Meter.carrier_id == Carrier.id)
            .order_by(Meter.id)
        )
        if enterprise is not None:
            ent = reg.resolve(s, Enterprise, enterprise)
            stmt = stmt.where(Meter.enterprise_id == ent.id)
        parents = dict(s.execute(select(Meter.id, Meter.handle)).all())
        virtual = virtual_meter_set(s)
        return [
            {
                "id": m.id,
                "handle": m.handle,
                "code": m.code,
                "name": m.name,
                "enterprise": ent_handle,
                "quantity": m.quantity,
                "unit": m.unit,
                "carrier": carrier,
                "reading_kind": m.reading_kind,
                "interval_minutes": m.interval_minutes,
                "parent": parents.get(m.parent_id) if m.parent_id else None,
                "accuracy_class": m.accuracy_class,
                "virtual": m.id in virtual,
            }
            for m, ent_handle, carrier in s.execute(stmt)
        ]
