"""Registry imports: a YAML file of entities, a CSV of enterprise statistics. All or nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from carbonpark.errors import ValidationError
from carbonpark.model import (
    BomLineSpec,
    CalibrationSpec,
    CarrierSpec,
    DeviceSpec,
    EnterpriseSpec,
    MaterialSpec,
    MeterSpec,
    ParkSpec,
    ProductSpec,
    SiteSpec,
    SourceSpec,
    StatisticSpec,
    validate_spec,
)
from carbonpark.services.footprints import TransportLegSpec, add_transport_leg
from carbonpark.store import registry as reg
from carbonpark.store import session

__all__ = [
    "STATS_COLUMNS",
    "delete_entity",
    "import_registry",
    "import_statistics",
    "parse_assignments",
    "update_entity",
]

STATS_COLUMNS = ("enterprise", "period", "metric", "value", "unit")
#: Sections of a registry file, in the order they are created, with their spec and create function.
SECTIONS: tuple[tuple[str, type[BaseModel], Any], ...] = (
    ("carriers", CarrierSpec, reg.add_carrier),
    ("materials", MaterialSpec, reg.add_material),
    ("enterprises", EnterpriseSpec, reg.add_enterprise),
    ("sites", SiteSpec, reg.add_site),
    ("devices", DeviceSpec, reg.add_device),
    ("meters", MeterSpec, reg.add_meter),
    ("calibrations", CalibrationSpec, reg.add_calibration),
    ("sources", SourceSpec, reg.add_source),
    ("products", ProductSpec, reg.add_product),
    ("bom", BomLineSpec, reg.add_bom_line),
    ("transport", TransportLegSpec, lambda s, _park, spec, actor: add_transport_leg(s, spec, actor)),
)


def import_registry(db: str | None, path: Path, actor: str) -> dict[str, int]:
    """Create the entities of a YAML registry file in one transaction; return how many of each.

    The file may hold a ``park`` mapping (created when the database has none) and lists
    under ``carriers, materials, enterprises, sites, devices, meters, calibrations,
    sources, products, bom, transport``. Any invalid entry aborts the whole import with an error
    naming the section, the entry number and the field; nothing is stored.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(str(path), "a YAML document", str(exc).splitlines()[0]) from exc
    if not isinstance(doc, dict):
        raise ValidationError(str(path), "a mapping with sections such as enterprises and meters", type(doc).__name__)
    unknown = set(doc) - {"park"} - {name for name, _, _ in SECTIONS}
    if unknown:
        raise ValidationError("section", f"one of park, {', '.join(n for n, _, _ in SECTIONS)}", sorted(unknown))
    created: dict[str, int] = {}
    with session(db) as s:
        if "park" in doc:
            park = reg.add_park(s, validate_spec(ParkSpec, doc["park"], "park"), actor)
            created["parks"] = 1
        else:
            park = reg.the_park(s)
        for name, spec_type, create in SECTIONS:
            for i, item in enumerate(doc.get(name) or [], start=1):
                where = f"{name}[{i}]"
                if not isinstance(item, dict):
                    raise ValidationError(where, "a mapping of fields", item)
                spec = validate_spec(spec_type, item, where)
                try:
                    create(s, park, spec, actor)
                except ValidationError as exc:
                    raise ValidationError(f"{where}, {exc.field}", exc.expected, exc.got) from exc
                except Exception as exc:
                    exc.args = (f"{where}: {exc}",)
                    raise
                created[name] = created.get(name, 0) + 1
    return created


def import_statistics(db: str | None, path: Path, actor: str) -> dict[str, int]:
    """Import ``enterprise,period,metric,value,unit[,source,evidence]`` rows in one transaction.

    Returns counts of ``created``, ``updated`` (a new value for a known key, history kept)
    and ``unchanged`` (the same value again). Any bad line aborts the whole import.
    """
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in STATS_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(f"{path.name}, header", f"columns {', '.join(STATS_COLUMNS)}", reader.fieldnames)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with session(db) as s:
        park = reg.the_park(s)
        for line, row in enumerate(reader, start=2):
            where = f"line {line}"
            raw_value = (row.get("value") or "").strip()
            try:
                value = float(raw_value)
            except ValueError as exc:
                raise ValidationError(f"{where}, value", "a number", raw_value) from exc
            data = {
                k: (row.get(k) or "").strip() for k in ("enterprise", "period", "metric", "unit", "source", "evidence")
            }
            spec = validate_spec(StatisticSpec, {**data, "value": value}, where)
            try:
                outcome = reg.upsert_statistic(s, park, spec, actor)
            except Exception as exc:
                exc.args = (f"{where}: {exc}",)
                raise
            counts[outcome] += 1
    return counts


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["name=Boiler 2", "parent="]`` as ``{"name": "Boiler 2", "parent": None}`` (empty means none)."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise ValidationError("--set", "FIELD=VALUE (an empty VALUE clears the field)", pair)
        changes[field.strip()] = value if value != "" else None
    return changes


def update_entity(db: str | None, kind: str, ref: str, changes: dict[str, Any], actor: str) -> dict[str, Any]:
    """Change one registry entity in one transaction; return ``{"handle", "changed", "entity"}``."""
    with session(db) as s:
        row, changed = reg.update_entity(s, reg.the_park(s), kind, ref, changes, actor)
        return {"handle": getattr(row, "handle", None), "changed": changed, "entity": reg.as_dict(row)}


def delete_entity(db: str | None, kind: str, ref: str, actor: str) -> dict[str, Any]:
    """Delete one unreferenced registry entity; return ``{"deleted": <its last state>}``."""
    with session(db) as s:
        return {"deleted": reg.delete_entity(s, reg.the_park(s), kind, ref, actor)}
