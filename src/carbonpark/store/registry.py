"""The park registry on the database: create, update and resolve entities, with history.

Every change writes one :class:`~carbonpark.store.schema.AuditEntry` (who, when, action,
before, after) in the same transaction: the registry's history is the audit log.
Entities are referred to by numeric id, Handle identifier or code (meters, products,
materials, carriers) or credit code (enterprises).
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.orm import Session

from carbonpark.errors import ConflictError, DuplicateError, NotFoundError, ValidationError
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
    format_handle,
    is_handle,
    validate_spec,
)
from carbonpark.store.schema import (
    AuditEntry,
    Base,
    BomLine,
    Calibration,
    Carrier,
    Device,
    EmissionSource,
    Enterprise,
    Material,
    Meter,
    Park,
    Product,
    Reading,
    Site,
    Statistic,
)

__all__ = [
    "add_bom_line",
    "add_calibration",
    "add_carrier",
    "add_device",
    "add_enterprise",
    "add_material",
    "add_meter",
    "add_park",
    "add_product",
    "add_site",
    "add_source",
    "as_dict",
    "audit",
    "delete_entity",
    "resolve",
    "the_park",
    "update_entity",
    "upsert_statistic",
]

Row = TypeVar("Row", bound=Base)

_KIND_OF: dict[type[Base], str] = {
    Park: "park",
    Enterprise: "enterprise",
    Site: "site",
    Device: "device",
    Carrier: "carrier",
    Meter: "meter",
    Calibration: "calibration",
    EmissionSource: "source",
    Material: "material",
    Product: "product",
}
_CODE_COLUMN: dict[type[Base], str] = {
    Meter: "code",
    Product: "code",
    Material: "code",
    Carrier: "code",
    Enterprise: "credit_code",
}


def now_ms() -> int:
    """Current time in UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


def as_dict(row: Base) -> dict[str, Any]:
    """The column values of ``row`` as plain JSON-friendly data."""
    out: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        value = getattr(row, attr.key)
        out[attr.key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def audit(s: Session, actor: str, action: str, row: Base, before: dict[str, Any] | None) -> None:
    """Record one change of ``row`` in the audit log."""
    after = as_dict(row) if action != "delete" else None
    s.add(
        AuditEntry(
            at_ms=now_ms(),
            actor=actor,
            action=action,
            entity=row.__tablename__,
            entity_id=getattr(row, "id", None),
            handle=getattr(row, "handle", None),
            before=before,
            after=after,
        )
    )


def resolve(s: Session, model: type[Row], ref: str | int, park_id: int | None = None) -> Row:
    """Find a row by numeric id, Handle identifier or code; :class:`NotFoundError` otherwise."""
    text = str(ref).strip()
    kind = _KIND_OF.get(model, model.__tablename__)
    conditions = []
    if text.isdigit():
        conditions.append(model.id == int(text))  # type: ignore[attr-defined]
    if is_handle(text) and hasattr(model, "handle"):
        conditions.append(model.handle == text)  # type: ignore[attr-defined]
    code_col = _CODE_COLUMN.get(model)
    if code_col is not None:
        conditions.append(getattr(model, code_col) == (text.upper() if model is Enterprise else text))
    if model is Enterprise:
        conditions.append(Enterprise.name == text)
    if not conditions:
        raise NotFoundError(kind, ref)
    stmt = select(model).where(or_(*conditions))
    if park_id is not None and hasattr(model, "park_id"):
        stmt = stmt.where(model.park_id == park_id)  # type: ignore[attr-defined]
    rows = s.scalars(stmt).all()
    if not rows:
        raise NotFoundError(kind, ref)
    if len(rows) > 1:
        raise ValidationError(kind, "a reference that names exactly one entity (use the handle)", ref)
    return rows[0]


def _optional(s: Session, model: type[Row], ref: str | None, park_id: int) -> Row | None:
    return None if ref is None else resolve(s, model, ref, park_id)


def _insert(s: Session, park: Park | None, row: Row, actor: str) -> Row:
    s.add(row)
    s.flush()
    kind = _KIND_OF[type(row)]
    prefix = park.handle_prefix if park is not None else row.handle_prefix  # type: ignore[attr-defined]
    row.handle = format_handle(prefix, kind, row.id)  # type: ignore[attr-defined]
    s.flush()
    audit(s, actor, "create", row, None)
    return row


def the_park(s: Session, ref: str | int | None = None) -> Park:
    """The park named by ``ref``, or the only park in the database."""
    if ref is not None:
        return resolve(s, Park, ref)
    parks = s.scalars(select(Park).order_by(Park.id)).all()
    if not parks:
        raise NotFoundError("park", "(any): the database has no park yet; run 'carbonpark demo' or add one")
    return parks[0]


def add_park(s: Session, spec: ParkSpec, actor: str) -> Park:
    """Create a park."""
    return _insert(s, None, Park(**spec.model_dump()), actor)


def _ensure_unique(s: Session, model: type[Base], where: dict[str, Any], what: str, value: object) -> None:
    stmt = select(func.count()).select_from(model).filter_by(**where)
    if s.scalar(stmt):
        raise DuplicateError(f"{what} {value!r} already exists; identifiers and codes are unique")


def add_enterprise(s: Session, park: Park, spec: EnterpriseSpec, actor: str) -> Enterprise:
    """Create an enterprise; the credit code must be new."""
    _ensure_unique(s, Enterprise, {"credit_code": spec.credit_code}, "enterprise with credit code", spec.credit_code)
    return _insert(s, park, Enterprise(park_id=park.id, **spec.model_dump()), actor)


def add_site(s: Session, park: Park, spec: SiteSpec, actor: str) -> Site:
    """Create a site, building or workshop."""
    ent = _optional(s, Enterprise, spec.enterprise, park.id)
    parent = _optional(s, Site, spec.parent, park.id)
    row = Site(
        park_id=park.id,
        enterprise_id=ent and ent.id,
        parent_id=parent and parent.id,
        name=spec.name,
        kind=spec.kind,
    )
    return _insert(s, park, row, actor)


def add_device(s: Session, park: Park, spec: DeviceSpec, actor: str) -> Device:
    """Create a device."""
    ent = _optional(s, Enterprise, spec.enterprise, park.id)
    site = _optional(s, Site, spec.site, park.id)
    row = Device(
        park_id=park.id,
        enterprise_id=ent and ent.id,
        site_id=site and site.id,
        name=spec.name,
        kind=spec.kind,
        rated_power_kw=spec.rated_power_kw,
    )
    return _insert(s, park, row, actor)


def add_carrier(s: Session, park: Park, spec: CarrierSpec, actor: str) -> Carrier:
    """Create an energy carrier."""
    _ensure_unique(s, Carrier, {"park_id": park.id, "code": spec.code}, "carrier", spec.code)
    return _insert(s, park, Carrier(park_id=park.id, **spec.model_dump()), actor)


def add_meter(s: Session, park: Park, spec: MeterSpec, actor: str) -> Meter:
    """Create a meter; its code must be new in the park and a parent must measure the same quantity."""
    _ensure_unique(s, Meter, {"park_id": park.id, "code": spec.code}, "meter", spec.code)
    ent = _optional(s, Enterprise, spec.enterprise, park.id)
    site = _optional(s, Site, spec.site, park.id)
    device = _optional(s, Device, spec.device, park.id)
    parent = _optional(s, Meter, spec.parent, park.id)
    carrier = _optional(s, Carrier, spec.carrier, park.id)
    if parent is not None and parent.quantity != spec.quantity:
        raise ValidationError("parent", f"a parent meter measuring {spec.quantity}", parent.code)
    fields = spec.model_dump(exclude={"enterprise", "site", "device", "parent", "carrier"})
    row = Meter(
        park_id=park.id,
        enterprise_id=ent and ent.id,
        site_id=site and site.id,
        device_id=device and device.id,
        parent_id=parent and parent.id,
        carrier_id=carrier and carrier.id,
        **fields,
    )
    return _insert(s, park, row, actor)


def add_calibration(s: Session, park: Park, spec: CalibrationSpec, actor: str) -> Calibration:
    """Record a calibration of a meter."""
    meter = resolve(s, Meter, spec.meter, park.id)
    row = Calibration(meter_id=meter.id, **spec.model_dump(exclude={"meter"}))
    return _insert(s, park, row, actor)


def add_source(s: Session, park: Park, spec: SourceSpec, actor: str) -> EmissionSource:
    """Create an emission source."""
    ent = _optional(s, Enterprise, spec.enterprise, park.id)
    meter = _optional(s, Meter, spec.meter, park.id)
    fields = spec.model_dump(exclude={"enterprise", "meter"})
    row = EmissionSource(park_id=park.id, enterprise_id=ent and ent.id, meter_id=meter and meter.id, **fields)
    return _insert(s, park, row, actor)


def add_material(s: Session, park: Park, spec: MaterialSpec, actor: str) -> Material:
    """Create a material."""
    _ensure_unique(s, Material, {"park_id": park.id, "code": spec.code}, "material", spec.code)
    return _insert(s, park, Material(park_id=park.id, **spec.model_dump()), actor)


def add_product(s: Session, park: Park, spec: ProductSpec, actor: str) -> Product:
    """Create a product."""
    _ensure_unique(s, Product, {"park_id": park.id, "code": spec.code}, "product", spec.code)
    ent = _optional(s, Enterprise, spec.enterprise, park.id)
    row = Product(park_id=park.id, enterprise_id=ent and ent.id, **spec.model_dump(exclude={"enterprise"}))
    return _insert(s, park, row, actor)


def add_bom_line(s: Session, park: Park, spec: BomLineSpec, actor: str) -> BomLine:
    """Add a bill-of-materials line."""
    product = resolve(s, Product, spec.product, park.id)
    material = _optional(s, Material, spec.material, park.id)
    input_product = _optional(s, Product, spec.input_product, park.id)
    row = BomLine(
        product_id=product.id,
        material_id=material and material.id,
        input_product_id=input_product and input_product.id,
        amount=spec.amount,
    )
    s.add(row)
    s.flush()
    audit(s, actor, "create", row, None)
    return row


def upsert_statistic(s: Session, park: Park, spec: StatisticSpec, actor: str) -> str:
    """Store a periodic statistic; returns ``"created"``, ``"unchanged"`` or ``"updated"``.

    A repeated value changes nothing; a different value for the same (enterprise, period,
    metric) replaces it, with before and after in the audit log.
    """
    ent = resolve(s, Enterprise, spec.enterprise, park.id)
    if spec.metric.startswith("output:"):
        resolve(s, Product, spec.metric.split(":", 1)[1], park.id)
    existing = s.scalars(
        select(Statistic).filter_by(enterprise_id=ent.id, period=spec.period, metric=spec.metric)
    ).one_or_none()
    fields = spec.model_dump(exclude={"enterprise"})
    if existing is None:
        row = Statistic(enterprise_id=ent.id, **fields)
        s.add(row)
        s.flush()
        audit(s, actor, "create", row, None)
        return "created"
    if (existing.value, existing.unit) == (spec.value, spec.unit):
        return "unchanged"
    before = as_dict(existing)
    for key, value in fields.items():
        setattr(existing, key, value)
    s.flush()
    audit(s, actor, "update", existing, before)
    return "updated"


#: Entity kinds that can be updated or deleted, with their table and spec.
_EDITABLE: dict[str, tuple[type[Base], type[Any]]] = {
    "enterprise": (Enterprise, EnterpriseSpec),
    "site": (Site, SiteSpec),
    "device": (Device, DeviceSpec),
    "carrier": (Carrier, CarrierSpec),
    "meter": (Meter, MeterSpec),
    "calibration": (Calibration, CalibrationSpec),
    "source": (EmissionSource, SourceSpec),
    "material": (Material, MaterialSpec),
    "product": (Product, ProductSpec),
}
#: Spec fields that name another entity, with the column holding its id and its table.
_REFERENCES: dict[str, tuple[str, type[Base]]] = {
    "enterprise": ("enterprise_id", Enterprise),
    "site": ("site_id", Site),
    "device": ("device_id", Device),
    "carrier": ("carrier_id", Carrier),
    "meter": ("meter_id", Meter),
}


def _editable(kind: str) -> tuple[type[Base], type[Any]]:
    if kind not in _EDITABLE:
        raise ValidationError("kind", f"one of {', '.join(_EDITABLE)}", kind)
    return _EDITABLE[kind]


def _reference_target(model: type[Base], field: str) -> tuple[str, type[Base]] | None:
    if field == "parent":
        return "parent_id", model
    return _REFERENCES.get(field)


def _spec_data(s: Session, row: Base, spec_type: type[Any]) -> dict[str, Any]:
    """The current state of ``row`` as the data of its spec (references as handles)."""
    data: dict[str, Any] = {}
    for field in spec_type.model_fields:
        target = _reference_target(type(row), field)
        if target is None:
            data[field] = getattr(row, field)
            continue
        ref_id = getattr(row, target[0])
        data[field] = None if ref_id is None else s.get(target[1], ref_id).handle  # type: ignore[union-attr]
    return data


def _check_parent(s: Session, row: Base, parent: Base | None) -> None:
    """A parent must measure the same quantity and must not make the hierarchy a cycle."""
    seen = parent
    while seen is not None:
        if seen.id == row.id:  # type: ignore[attr-defined]
            raise ValidationError("parent", "an entity that is not this one or below it", seen.handle)  # type: ignore[attr-defined]
        parent_id = getattr(seen, "parent_id", None)
        seen = None if parent_id is None else s.get(type(row), parent_id)
    if isinstance(row, Meter) and isinstance(parent, Meter) and parent.quantity != row.quantity:
        raise ValidationError("parent", f"a parent meter measuring {row.quantity}", parent.code)


def update_entity(
    s: Session, park: Park, kind: str, ref: str | int, changes: dict[str, Any], actor: str
) -> tuple[Base, bool]:
    """Change fields of one registry entity; return it and whether anything changed.

    The merged state is validated like a new entity (same spec, same checks); the id and
    the Handle identifier never change. A meter that has readings keeps its quantity,
    because its stored values are in that quantity's canonical unit. The change is
    written to the audit log with before and after (guide §3.2.2: traceable data).

    Raises
    ------
    ValidationError
        For an unknown kind or field, or a value the spec refuses.
    DuplicateError
        When a new code or credit code is already taken.
    ConflictError
        When a meter with readings would change its quantity.
    """
    model, spec_type = _editable(kind)
    unknown = sorted(set(changes) - set(spec_type.model_fields))
    if unknown:
        raise ValidationError("field", f"fields of a {kind}: {', '.join(spec_type.model_fields)}", unknown)
    row = resolve(s, model, ref, park.id)
    current = _spec_data(s, row, spec_type)
    merged = {**current, **changes}
    spec = validate_spec(spec_type, merged, kind)
    new = spec.model_dump()
    changed = {f for f in spec_type.model_fields if new[f] != current[f]}
    if not changed:
        return row, False
    if isinstance(row, Meter) and "quantity" in changed and _meter_has_readings(s, row):
        raise ConflictError(
            f"meter {row.handle} has readings stored in {row.quantity}'s canonical unit; "
            "its quantity cannot change (create a new meter instead)"
        )
    for code_field in ("code", "credit_code"):
        if code_field in changed:
            where = {code_field: new[code_field]} | ({"park_id": park.id} if hasattr(model, "park_id") else {})
            _ensure_unique(s, model, where, f"{kind} with {code_field}", new[code_field])
    before = as_dict(row)
    for field in sorted(changed):
        target = _reference_target(model, field)
        if target is None:
            setattr(row, field, new[field])
            continue
        referenced = _optional(s, target[1], new[field], park.id)
        if field == "parent":
            _check_parent(s, row, referenced)
        setattr(row, target[0], referenced and referenced.id)  # type: ignore[attr-defined]
    s.flush()
    audit(s, actor, "update", row, before)
    return row, True


def _meter_has_readings(s: Session, meter: Meter) -> bool:
    return s.scalar(select(Reading.ts_ms).where(Reading.meter_id == meter.id).limit(1)) is not None


def _dependants(s: Session, row: Base) -> dict[str, int]:
    """Rows of any table that refer to ``row`` by foreign key (and readings of a meter)."""
    table = row.__table__
    row_id: int = row.id  # type: ignore[attr-defined]
    found: dict[str, int] = {}
    for other in Base.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table:
                n = s.scalar(select(func.count()).select_from(other).where(fk.parent == row_id))
                if n:
                    found[other.name] = found.get(other.name, 0) + int(n)
    if isinstance(row, Meter) and _meter_has_readings(s, row):
        found["readings"] = int(s.scalar(select(func.count()).where(Reading.meter_id == row.id)) or 0)
    return found


def delete_entity(s: Session, park: Park, kind: str, ref: str | int, actor: str) -> dict[str, Any]:
    """Delete one registry entity that nothing refers to; return its last state.

    What others refer to (a meter with readings or sub-meters, an enterprise with meters)
    is refused with the list of what refers to it: history is never cut loose. The
    deletion is written to the audit log with the state before it.

    Raises
    ------
    ConflictError
        When other rows refer to the entity.
    """
    model, _ = _editable(kind)
    row = resolve(s, model, ref, park.id)
    dependants = _dependants(s, row)
    if dependants:
        listed = ", ".join(f"{n} {table}" for table, n in sorted(dependants.items()))
        raise ConflictError(f"{kind} {row.handle} is referred to by {listed}; it cannot be deleted")  # type: ignore[attr-defined]
    before = as_dict(row)
    audit(s, actor, "delete", row, before)
    s.delete(row)
    s.flush()
    return before
