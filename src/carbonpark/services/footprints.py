"""Product carbon footprints over the park's stored data, linked by identifiers (产品碳足迹).

What goes into one unit of a product made in the park (engine: :mod:`carbonpark.footprint`):

* **inputs** from its bill of materials (``bom_lines``): a *material* bought outside the park
  counts with the supplier's footprint registered on the material's identifier
  (``CARBON_FOOTPRINT`` value, resolved like any identifier); a *product of another park
  enterprise* counts with that product's own footprint, computed in the same run, so B's figure
  follows A's whenever A's changes; a cycle in the supply graph is an error naming it;
* **process energy per unit from metered data**: the enterprise's top-level meters of each energy
  carrier over the period (``services.activity.meter_amounts``), divided by the product's output
  in the period (statistic ``output:<product code>``); an enterprise making several products
  shares its energy by mass, economic value or physical output (ISO 14044 §4.3.4.2) through a
  multi-output process of the engine; energy is accounted by the accounting engine;
* **transport legs** of inputs, stored per (product, input) in ``footprint_transport_legs``
  (:func:`import_transport`, :func:`replace_transport_legs`; mass moved defaults to the input's
  amount in the bill of materials), or given per (product, input) in the options for a what-if;
* cradle-to-gate by default; use phase optional.

Each footprint is registered as the product's ``CARBON_FOOTPRINT`` identifier value (replaced when
it changes, the change in the audit log). :func:`batch_footprint` gives the footprint of one
production batch (energy metered during the batch ÷ its quantity) under a batch identifier.

References
----------
ISO 14067:2018 §6.3, §6.4.6; ISO 14044:2006 §4.3.4; guide §2.1(1), §2.2, §3.2.2(2)1; SPEC.md C17; issue 7.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from carbonpark.accounting.aggregation import period_buckets
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.footprint import (
    EnergyLine,
    InputLine,
    Process,
    ProcessOutput,
    ProductFootprint,
    Study,
    TransportLeg,
    accounting_energy_accountant,
    compute_footprints,
    inventory_report,
    trace,
)
from carbonpark.footprint import Product as StudyProduct
from carbonpark.identifiers import Reader
from carbonpark.model import validate_spec
from carbonpark.services import identifiers as ids
from carbonpark.services.activity import STEAM_ENTHALPY_KJ_PER_KG, meter_amounts, park_timezone
from carbonpark.store import session
from carbonpark.store.registry import as_dict, audit, now_ms, resolve
from carbonpark.store.schema import BomLine, Carrier, Enterprise, Material, Meter, Product, Statistic
from carbonpark.store.schema_identifiers import TransportLegRow
from carbonpark.times import parse_timestamp, period_bounds_ms
from carbonpark.units import UnitError, convert

__all__ = [
    "CARRIER_ACTIVITY",
    "TRANSPORT_COLUMNS",
    "FootprintOptions",
    "ParkFootprints",
    "TransportLegSpec",
    "add_transport_leg",
    "batch_footprint",
    "build_study",
    "demo_footprints",
    "import_transport",
    "park_footprints",
    "product_inventory",
    "register_supplier_footprint",
    "replace_transport_legs",
    "transport_legs",
]

#: Energy carrier code → (accounting activity id, unit the activity is given in). Water is not energy.
CARRIER_ACTIVITY: dict[str, tuple[str, str]] = {
    "electricity": ("grid_electricity", "kWh"),
    "natural_gas": ("natural_gas", "Nm3"),
    "steam": ("purchased_heat", "GJ"),
    "diesel": ("diesel", "t"),
    "coal": ("raw_coal", "t"),
}


@dataclass(frozen=True)
class FootprintOptions:
    """Choices of a footprint run.

    Attributes
    ----------
    period
        Local calendar period of metered energy and output (``YYYY``, ``YYYY-MM``).
    allocation
        ``mass``, ``economic`` or ``physical``, for enterprises making several products.
    prices, masses
        Product code → price [CNY/unit] (economic allocation) or mass of one unit [t] (mass allocation
        of products not counted in a mass unit).
    transport
        Product code → input code (material or product) → legs per unit of the product. A pair
        given here replaces the stored legs of that pair for this run (a what-if); the others
        keep their stored legs.
    include_use_phase
        Add use-phase figures (never passed on to products using this one).
    factor_set, gwp_set
        Accounting choices for energy (None: the library's defaults).
    """

    period: str
    allocation: str = "mass"
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    masses: Mapping[str, float] = field(default_factory=dict)
    transport: Mapping[str, Mapping[str, Sequence[TransportLeg]]] = field(default_factory=dict)
    include_use_phase: bool = False
    factor_set: str | None = None
    gwp_set: str | None = None


@dataclass
class ParkFootprints:
    """Footprints of the park's products, keyed by product handle, with what was left out and why."""

    period: str
    footprints: dict[str, ProductFootprint]
    names: dict[str, str]
    skipped: dict[str, str]
    metered: dict[str, list[dict[str, Any]]]
    all_footprints: dict[str, ProductFootprint] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per product total, by stage, by input, its terms (lineage), and the metered energy used."""
        return {
            "period": self.period,
            "products": {
                h: {
                    "name": self.names.get(h, h),
                    "unit": fp.unit,
                    "tco2e_per_unit": fp.tco2e_per_unit,
                    "boundary": fp.boundary,
                    "given": fp.given,
                    "by_stage": fp.by_stage,
                    "by_input": fp.by_input,
                    "lineage": [asdict(c) for c in fp.contributions],
                }
                for h, fp in self.footprints.items()
            },
            "skipped": self.skipped,
            "metered_energy": self.metered,
        }


# --- reading the store -------------------------------------------------------------------------------


def _output(s: Session, product: Product, start_ms: int, end_ms: int, tz: str) -> float:
    """Output of ``product`` in the period: the sum of its monthly ``output:<code>`` statistics inside it."""
    rows = s.execute(
        select(Statistic.period, Statistic.value, Statistic.unit).where(Statistic.metric == f"output:{product.code}")
    ).all()
    total = 0.0
    for period, value, unit in rows:
        if len(period) < 7:
            continue  # yearly rows would double the monthly ones
        p_start, p_end = period_bounds_ms(period, tz)
        if p_start >= start_ms and p_end <= end_ms:
            total += value if unit == product.unit else convert(value, unit, product.unit)
    return total


def _metered_energy(
    s: Session, enterprise: Enterprise, start_ms: int, end_ms: int, tz: str
) -> tuple[list[EnergyLine], list[dict[str, Any]]]:
    """Energy of the enterprise's top-level meters per carrier in ``[start, end)``, in the accounting units."""
    rows = s.execute(
        select(Meter, Carrier.code)
        .join(Carrier, Meter.carrier_id == Carrier.id)
        .where(Meter.enterprise_id == enterprise.id, Meter.parent_id.is_(None))
        .order_by(Meter.id)
    ).all()
    buckets = period_buckets(start_ms, end_ms, "hour", tz)
    totals: dict[str, float] = defaultdict(float)
    lineage: list[dict[str, Any]] = []
    for meter, carrier in rows:
        if carrier not in CARRIER_ACTIVITY:
            continue
        activity, unit = CARRIER_ACTIVITY[carrier]
        amount = float(meter_amounts(s, meter, buckets).amount.sum())
        if carrier == "steam":
            amount_in_unit = convert(amount, meter.unit, "t") * STEAM_ENTHALPY_KJ_PER_KG / 1000  # t × GJ/t
        else:
            amount_in_unit = convert(amount, meter.unit, unit) if meter.unit != unit else amount
        totals[activity] += amount_in_unit
        lineage.append(
            {"meter": meter.handle, "carrier": carrier, "amount": amount, "unit": meter.unit, "activity": activity}
        )
    units = {a: u for a, u in CARRIER_ACTIVITY.values()}
    lines = [
        EnergyLine(activity=a, amount=v, unit=units[a], source=f"metered {enterprise.handle}")
        for a, v in totals.items()
        if v > 0
    ]
    return lines, lineage


def _given(s: Session, handle: str) -> tuple[float, str, str] | None:
    """``(tCO2e per unit, unit, source)`` of the identifier's CARBON_FOOTPRINT value, if any."""
    record = ids.load_record(s, handle)
    if record is None:
        return None
    for value in record.values:
        if value.type == "CARBON_FOOTPRINT":
            data = json.loads(value.data)
            source = data.get("source") or f"identifier {handle} CARBON_FOOTPRINT"
            return float(data["tco2e_per_unit"]), str(data["unit"]), f"{source} (via {handle})"
    return None


# --- transport legs (stored) ---------------------------------------------------------------------------

#: Columns of a transport CSV (``material`` or ``input_product`` filled; ``mass_t`` and ``grade`` may be empty).
TRANSPORT_COLUMNS = (
    "product",
    "material",
    "input_product",
    "mode",
    "distance_km",
    "mass_t",
    "factor_tco2e_per_tkm",
    "source",
    "grade",
)


class TransportLegSpec(BaseModel):
    """One transport leg of an input into one unit of a product (a row of a transport import).

    Attributes
    ----------
    product
        The product (code, handle or id).
    material, input_product
        Exactly one: the input, as in the product's bill of materials.
    mode
        ``truck``, ``rail``, ``ship`` … (free text, at most 32 characters).
    distance_km
        Distance of the leg [km], > 0.
    factor_tco2e_per_tkm
        Emission factor of the mode [tCO2e/(t·km)], ≥ 0.
    mass_t
        Mass moved per unit of the product [t]; empty: the input's amount in the bill of materials
        (only for an input counted in a mass unit).
    source
        Where the factor comes from (document, table, year).
    grade
        Trust in the factor: ``A`` quoted from the official text, ``B`` several sources agree, ``C``
        one source or unconfirmed; empty if not graded.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product: str = Field(min_length=1)
    material: str | None = None
    input_product: str | None = None
    mode: str = Field(min_length=1, max_length=32)
    distance_km: float = Field(gt=0)
    factor_tco2e_per_tkm: float = Field(ge=0)
    mass_t: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1, max_length=500)
    grade: Literal["A", "B", "C", ""] = ""

    @model_validator(mode="after")
    def _one_input(self) -> TransportLegSpec:
        if (self.material is None) == (self.input_product is None):
            raise ValidationError("material", "exactly one of material or input_product", self.material)
        return self


def _same_pair(model: type[BomLine] | type[TransportLegRow], pair: tuple[int, int | None, int | None]) -> Any:
    """SQL condition: rows of ``model`` for (product id, material id, input product id)."""
    product_id, material_id, input_product_id = pair
    return and_(
        model.product_id == product_id,
        model.material_id.is_(None) if material_id is None else model.material_id == material_id,
        model.input_product_id.is_(None) if input_product_id is None else model.input_product_id == input_product_id,
    )


def _leg_target(s: Session, spec: TransportLegSpec, where: str) -> tuple[int, int | None, int | None]:
    """(product id, material id, input product id) of a leg, checked against the BOM and the mass rule."""
    product = resolve(s, Product, spec.product)
    material = None if spec.material is None else resolve(s, Material, spec.material)
    supplier = None if spec.input_product is None else resolve(s, Product, spec.input_product)
    pair = (product.id, None if material is None else material.id, None if supplier is None else supplier.id)
    line = s.scalars(select(BomLine).where(_same_pair(BomLine, pair))).first()
    input_code = material.code if material is not None else supplier.code  # type: ignore[union-attr]
    if line is None:
        raise ValidationError(
            f"{where}product {product.code}, input {input_code}",
            f"an input of {product.code}'s bill of materials (bom)",
            input_code,
        )
    unit = material.unit if material is not None else supplier.unit  # type: ignore[union-attr]
    if spec.mass_t is None:
        try:
            convert(1.0, unit, "t")
        except UnitError as exc:
            raise ValidationError(
                f"{where}mass_t",
                f"the mass moved per {product.unit} of {product.code} [t] ({input_code} is counted in {unit}, "
                "not in a mass unit)",
                None,
            ) from exc
    return pair


def add_transport_leg(s: Session, spec: TransportLegSpec, actor: str, *, where: str = "") -> TransportLegRow:
    """Store one leg after the legs already stored for its (product, input); written to the audit log.

    Raises
    ------
    NotFoundError
        Unknown product or input.
    ValidationError
        The input is not in the product's bill of materials, or ``mass_t`` is missing for an input not
        counted in a mass unit.
    """
    pair = _leg_target(s, spec, where)
    seq = s.scalar(select(func.coalesce(func.max(TransportLegRow.seq), 0)).where(_same_pair(TransportLegRow, pair)))
    row = TransportLegRow(
        product_id=pair[0],
        material_id=pair[1],
        input_product_id=pair[2],
        seq=int(seq or 0) + 1,
        mode=spec.mode,
        distance_km=spec.distance_km,
        mass_t=spec.mass_t,
        factor_tco2e_per_tkm=spec.factor_tco2e_per_tkm,
        source=spec.source,
        grade=spec.grade,
        created_ms=now_ms(),
        created_by=actor,
    )
    s.add(row)
    s.flush()
    audit(s, actor, "create", row, None)
    return row


def replace_transport_legs(s: Session, specs: Sequence[TransportLegSpec], actor: str) -> dict[str, int]:
    """Store the legs of each (product, input) named in ``specs``, replacing the legs stored for it.

    Legs of one pair keep their order in ``specs``; pairs not named keep their legs. Importing the
    same file twice leaves the same legs. Every removed and added row is in the audit log.

    Returns
    -------
    dict
        ``pairs`` (product, input) replaced, ``legs`` stored, ``removed`` legs dropped.
    """
    seen: set[tuple[int, int | None, int | None]] = set()
    removed = 0
    for i, spec in enumerate(specs, start=1):
        where = f"transport[{i}], "
        pair = _leg_target(s, spec, where)
        if pair not in seen:
            seen.add(pair)
            old = s.scalars(select(TransportLegRow).where(_same_pair(TransportLegRow, pair))).all()
            for row in old:
                audit(s, actor, "delete", row, as_dict(row))
                s.delete(row)
            removed += len(old)
            s.flush()
        add_transport_leg(s, spec, actor, where=where)
    return {"pairs": len(seen), "legs": len(specs), "removed": removed}


def _transport_csv(text: str, name: str) -> list[dict[str, Any]]:
    """Rows of a transport CSV (lines starting with ``#`` are comments; empty cells are left out)."""
    reader = csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#"))))
    required = ("product", "mode", "distance_km", "factor_tco2e_per_tkm", "source")
    if any(c not in (reader.fieldnames or []) for c in required):
        raise ValidationError(f"{name}, header", f"columns {', '.join(TRANSPORT_COLUMNS)}", reader.fieldnames)
    return [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]


def _transport_entries(path: Path) -> list[dict[str, Any]]:
    """Rows of a transport file: CSV with :data:`TRANSPORT_COLUMNS`, or YAML (a list, or ``transport:``)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return _transport_csv(text, path.name)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(str(path), "a YAML document", str(exc).splitlines()[0]) from exc
    if isinstance(doc, dict) and set(doc) == {"transport"}:
        doc = doc["transport"]
    if not isinstance(doc, list) or not all(isinstance(x, dict) for x in doc):
        raise ValidationError(str(path), "a list of transport legs (or a mapping with only 'transport:')", doc)
    return [{k: v for k, v in x.items() if v is not None} for x in doc]


def import_transport(db: str | None, path: Path, actor: str) -> dict[str, int]:
    """Import transport legs from a CSV or YAML file in one transaction (all or nothing).

    Each (product, input) named in the file gets exactly the file's legs (:func:`replace_transport_legs`).
    An invalid row aborts the import with an error naming the row and the field.
    """
    entries = _transport_entries(path)
    specs = [validate_spec(TransportLegSpec, e, f"transport[{i}]") for i, e in enumerate(entries, start=1)]
    with session(db) as s:
        return replace_transport_legs(s, specs, actor)


def _leg_source(row: TransportLegRow) -> str:
    grade = f"grade {row.grade}; " if row.grade else ""
    return f"{row.source} ({grade}transport leg {row.id})"


def transport_legs(s: Session) -> dict[int, dict[tuple[str, int], tuple[TransportLeg, ...]]]:
    """Stored legs: product id → (``"material"`` | ``"product"``, input id) → legs in order."""
    out: dict[int, dict[tuple[str, int], list[TransportLeg]]] = defaultdict(lambda: defaultdict(list))
    rows = s.scalars(
        select(TransportLegRow).order_by(
            TransportLegRow.product_id,
            TransportLegRow.material_id,
            TransportLegRow.input_product_id,
            TransportLegRow.seq,
        )
    )
    for row in rows:
        key = ("material", row.material_id) if row.material_id is not None else ("product", row.input_product_id)
        leg = TransportLeg(
            row.mode, row.distance_km, row.factor_tco2e_per_tkm, mass_t=row.mass_t, source=_leg_source(row)
        )
        out[row.product_id][key].append(leg)  # type: ignore[index]
    return {p: {k: tuple(v) for k, v in legs.items()} for p, legs in out.items()}


def build_study(s: Session, options: FootprintOptions) -> tuple[Study, ParkFootprints]:
    """The park's products as a footprint study: BOMs, metered energy per unit, supplier figures by identifier.

    Returns
    -------
    tuple
        The :class:`~carbonpark.footprint.Study` (ids are handles) and an empty :class:`ParkFootprints`
        holding names, skipped products and the metered lineage.
    """
    tz = park_timezone(s)
    start_ms, end_ms = period_bounds_ms(options.period, tz)
    result = ParkFootprints(options.period, {}, {}, {}, {})
    products = s.scalars(select(Product).order_by(Product.id)).all()
    bom: dict[int, list[BomLine]] = defaultdict(list)
    for line in s.scalars(select(BomLine).order_by(BomLine.id)):
        bom[line.product_id].append(line)
    by_id = {p.id: p for p in products}
    materials = {m.id: m for m in s.scalars(select(Material))}
    study_products: dict[str, StudyProduct] = {}
    processes: dict[str, Process] = {}
    energy_of: dict[int, tuple[list[EnergyLine], float]] = {}

    by_enterprise: dict[int | None, list[Product]] = defaultdict(list)
    for p in products:
        by_enterprise[p.enterprise_id].append(p)
    outputs = {p.id: _output(s, p, start_ms, end_ms, tz) for p in products}
    for ent_id, made in by_enterprise.items():
        if ent_id is None:
            continue
        enterprise = s.get(Enterprise, ent_id)
        assert enterprise is not None
        lines, lineage = _metered_energy(s, enterprise, start_ms, end_ms, tz)
        result.metered[str(enterprise.handle)] = lineage
        producing = [p for p in made if outputs[p.id] > 0]
        if not lines or not producing:
            continue
        if len(producing) == 1:
            energy_of[producing[0].id] = (lines, outputs[producing[0].id])
            continue
        pid = f"{enterprise.handle} {options.period}"
        processes[pid] = Process(
            id=pid,
            outputs=tuple(
                ProcessOutput(
                    product=str(p.handle),
                    amount=outputs[p.id],
                    mass_t_per_unit=options.masses.get(p.code),
                    price_per_unit=options.prices.get(p.code),
                )
                for p in producing
            ),
            allocation=options.allocation,
            energy=tuple(lines),
        )
        for p in producing:
            energy_of[p.id] = ([], 0.0)

    stored_legs = transport_legs(s)

    def legs(product: Product, input_code: str, key: tuple[str, int]) -> tuple[TransportLeg, ...]:
        given = options.transport.get(product.code, {})
        if input_code in given:
            return tuple(given[input_code])
        return stored_legs.get(product.id, {}).get(key, ())

    for p in products:
        handle = str(p.handle)
        result.names[handle] = f"{p.code} {p.name}"
        inputs: list[InputLine] = []
        for line in bom[p.id]:
            if line.material_id is not None:
                mat = materials[line.material_id]
                ref, code, unit = str(mat.handle), mat.code, mat.unit
                if ref not in study_products:
                    given = _given(s, ref)
                    if given is None:
                        raise ValidationError(
                            f"material {mat.code} ({ref})",
                            "a supplier footprint registered as its CARBON_FOOTPRINT identifier value",
                            None,
                        )
                    value, given_unit, source = given
                    study_products[ref] = StudyProduct(
                        id=ref, unit=given_unit, footprint_tco2e_per_unit=value, source=source, name=mat.name
                    )
                    result.names[ref] = f"{mat.code} {mat.name}"
                inputs.append(
                    InputLine(product=ref, amount=line.amount, unit=unit, transport=legs(p, code, ("material", mat.id)))
                )
            elif line.input_product_id is not None:
                supplier = by_id[line.input_product_id]
                inputs.append(
                    InputLine(
                        product=str(supplier.handle),
                        amount=line.amount,
                        unit=supplier.unit,
                        transport=legs(p, supplier.code, ("product", supplier.id)),
                    )
                )
        energy, output = energy_of.get(p.id, ([], 0.0))
        per_unit = tuple(
            EnergyLine(
                e.activity,
                e.amount / output,
                e.unit,
                source=f"{e.source}, {options.period}: {e.amount:.6g} {e.unit} ÷ {output:.6g} {p.unit} output",
            )
            for e in energy
        )
        made_by = next((pid for pid, proc in processes.items() if any(o.product == handle for o in proc.outputs)), None)
        if not inputs and not per_unit and made_by is None:
            given = _given(s, handle)
            if given is None:
                result.skipped[handle] = "no bill of materials, no metered output in the period, no CARBON_FOOTPRINT"
                continue
            value, given_unit, source = given
            study_products[handle] = StudyProduct(
                id=handle, unit=given_unit, footprint_tco2e_per_unit=value, source=source, name=p.name
            )
            continue
        study_products[handle] = StudyProduct(
            id=handle, unit=p.unit, inputs=tuple(inputs), energy=per_unit, process=made_by, name=p.name
        )
    missing = [
        (pid, line.product)
        for pid, prod in study_products.items()
        for line in prod.inputs
        if line.product not in study_products
    ]
    if missing:
        pid, ref = missing[0]
        raise ValidationError(
            f"product {pid} input {ref}", "an input product with a footprint", result.skipped.get(ref)
        )
    return Study(products=study_products, processes=processes), result


def _footprint_value(fp: ProductFootprint, period: str, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "tco2e_per_unit": fp.tco2e_per_unit,
        "unit": fp.unit,
        "boundary": fp.boundary,
        "period": period,
        "by_stage": {k: v for k, v in fp.by_stage.items() if v},
        "inputs": fp.by_input,
        "method": "carbonpark footprint (ISO 14067 layout)",
        "product": fp.product,
        "name": names.get(fp.product, fp.product),
    }


def park_footprints(
    s: Session, options: FootprintOptions, reader: Reader | None = None, *, register: bool = True
) -> ParkFootprints:
    """Footprints of every product of the park; each registered as its ``CARBON_FOOTPRINT`` value.

    Parameters
    ----------
    s
        A session (one transaction).
    options
        Period, allocation, transport, boundary and factor choices.
    reader
        Who registers the values (needs the right to change the products' identifiers); None: park admin "system".
    register
        False to compute without registering.

    Raises
    ------
    ValidationError
        A material without a supplier footprint, an input that cannot be footprinted, a cycle (named).
    """
    study, result = build_study(s, options)
    accountant = accounting_energy_accountant(options.factor_set, options.gwp_set)
    footprints = compute_footprints(study, include_use_phase=options.include_use_phase, energy_accountant=accountant)
    park_products = set(s.scalars(select(Product.handle)))
    result.footprints = {h: fp for h, fp in footprints.items() if h in park_products}
    result.all_footprints = footprints
    if register:
        who = reader or Reader(name="system", role="park_admin")
        for handle, fp in result.footprints.items():
            if fp.given:
                continue
            ids.set_value(s, handle, "CARBON_FOOTPRINT", _footprint_value(fp, options.period, result.names), who)
    return result


def product_inventory(result: ParkFootprints, product: str) -> dict[str, Any]:
    """The ISO 14067-layout inventory of one product of a run (handle or code), names attached."""
    footprints = result.all_footprints or result.footprints
    handle = next((h for h, n in result.names.items() if h == product or n.split(" ", 1)[0] == product), None)
    if handle is None or handle not in footprints:
        raise NotFoundError("product footprint", product)
    doc = inventory_report(footprints, handle)
    doc["names"] = dict(result.names)
    doc["period"] = result.period
    return doc


def register_supplier_footprint(
    s: Session,
    ref: str,
    tco2e_per_unit: float,
    unit: str,
    source: str,
    reader: Reader,
    *,
    boundary: str = "cradle-to-gate",
) -> None:
    """Register (or replace) the supplier's footprint of a material or product as its CARBON_FOOTPRINT value."""
    row: Material | Product
    try:
        row = resolve(s, Material, ref)
    except NotFoundError:
        row = resolve(s, Product, ref)
    value = {"tco2e_per_unit": tco2e_per_unit, "unit": unit, "boundary": boundary, "source": source}
    ids.set_value(s, str(row.handle), "CARBON_FOOTPRINT", value, reader)


def batch_footprint(
    s: Session,
    product_ref: str,
    batch: str,
    start: str,
    end: str,
    quantity: float,
    reader: Reader,
    options: FootprintOptions,
) -> dict[str, Any]:
    """Footprint of one production batch: energy metered during ``[start, end)`` ÷ ``quantity``, plus the BOM.

    The batch gets an identifier ``88.<prefix>/batch.<n>`` with a ``BATCH`` value (product, batch,
    quantity, unit, window) and a ``CARBON_FOOTPRINT`` value (per unit and for the whole batch).
    The enterprise must make only this product in the window (energy is not allocated here).
    """
    product = resolve(s, Product, product_ref)
    if quantity <= 0:
        raise ValidationError("quantity", f"a batch quantity > 0 [{product.unit}]", quantity)
    tz = park_timezone(s)
    start_ms, end_ms = parse_timestamp(start, tz, "start"), parse_timestamp(end, tz, "end")
    if end_ms <= start_ms:
        raise ValidationError("end", "a time after the start", end)
    enterprise = s.get(Enterprise, product.enterprise_id) if product.enterprise_id else None
    if enterprise is None:
        raise ValidationError(f"product {product.code}", "a product made by a park enterprise", None)
    study, result = build_study(s, options)
    lines, lineage = _metered_energy(s, enterprise, start_ms, end_ms, tz)
    handle = str(product.handle)
    base = study.products.get(handle)
    if base is None or base.is_given:
        raise ValidationError(f"product {product.code}", "a product with a bill of materials or metered energy", None)
    per_unit = tuple(
        EnergyLine(e.activity, e.amount / quantity, e.unit, source=f"metered batch {batch}: {e.amount:.6g} {e.unit}")
        for e in lines
    )
    batch_product = StudyProduct(
        id=f"{handle}#{batch}", unit=base.unit, inputs=base.inputs, energy=per_unit, name=f"{product.name} {batch}"
    )
    batch_study = Study(products={**study.products, batch_product.id: batch_product}, processes=study.processes)
    footprints = compute_footprints(
        batch_study, energy_accountant=accounting_energy_accountant(options.factor_set, options.gwp_set)
    )
    fp = footprints[batch_product.id]
    ident = ids.register_virtual(
        s,
        "batch",
        reader,
        [
            (
                "BATCH",
                {
                    "product": handle,
                    "batch": batch,
                    "quantity": quantity,
                    "unit": product.unit,
                    "start": start,
                    "end": end,
                },
            ),
            ("MANUFACTURER", str(enterprise.handle)),
        ],
        owner=enterprise,
    )
    value = {
        "tco2e_per_unit": fp.tco2e_per_unit,
        "tco2e_batch": fp.tco2e_per_unit * quantity,
        "unit": product.unit,
        "boundary": fp.boundary,
        "product": handle,
        "batch": batch,
        "by_stage": {k: v for k, v in fp.by_stage.items() if v},
    }
    ids.add_value(s, ident.handle, "CARBON_FOOTPRINT", value, reader)
    return {"handle": ident.handle, **value, "metered_energy": lineage, "names": result.names}


# --- the demo ----------------------------------------------------------------------------------------

#: Illustrative supplier footprints of the demo park's purchased materials (file in services/data).
DEMO_SUPPLIER_FILE = "demo-supplier-footprints.csv"


#: Illustrative inbound transport legs of the demo park's products (file in services/data).
DEMO_TRANSPORT_FILE = "demo-transport-legs.csv"


def _demo_transport_specs(s: Session) -> list[TransportLegSpec]:
    """The demo's transport legs for the products and inputs this park has (a small demo has fewer)."""
    text = files("carbonpark.services").joinpath("data", DEMO_TRANSPORT_FILE).read_text(encoding="utf-8")
    products = set(s.scalars(select(Product.code)))
    materials = set(s.scalars(select(Material.code)))
    specs = []
    for i, row in enumerate(_transport_csv(text, DEMO_TRANSPORT_FILE), start=1):
        if row["product"] in products and (row.get("material") in materials or row.get("input_product") in products):
            specs.append(validate_spec(TransportLegSpec, row, f"{DEMO_TRANSPORT_FILE} row {i}"))
    return specs


def _demo_supplier_rows() -> list[dict[str, str]]:
    text = files("carbonpark.services").joinpath("data", DEMO_SUPPLIER_FILE).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def demo_footprints(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """Demo step: supplier figures on the materials' identifiers, footprints of every product, one report.

    The figures of purchased materials are illustrative (``services/data/demo-supplier-footprints.csv``);
    the inbound transport legs (``services/data/demo-transport-legs.csv``) have illustrative distances
    and published road and rail freight factors (GB/T 51366-2019, grade B; DEFRA, grade C), and are
    stored like imported ones, so the dashboard and ``carbonpark footprints`` use them too.
    """
    admin = Reader(name="demo", role="park_admin")
    with session(db) as s:
        for row in _demo_supplier_rows():
            try:
                mat = resolve(s, Material, row["material"])
            except NotFoundError:
                continue
            register_supplier_footprint(
                s, str(mat.handle), float(row["tco2e_per_unit"]), row["unit"], row["source"], admin
            )
        registered = ids.demo_identifiers(s, admin)
        legs = replace_transport_legs(s, _demo_transport_specs(s), "demo")
        result = park_footprints(s, FootprintOptions(period=str(year)), admin)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "footprints.json"
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    summary: dict[str, Any] = {
        **registered,
        "transport_legs": legs["legs"],
        "products": len(result.footprints),
        "skipped": len(result.skipped),
        "output": str(path),
    }
    board = next((h for h, n in result.names.items() if n.startswith("elec1-board")), None)
    if board is not None and board in result.footprints:
        summary["board_tco2e_per_piece"] = round(result.footprints[board].tco2e_per_unit, 6)
        summary["board_traced_to"] = sorted({leaf.path[-1] for leaf in trace(result.all_footprints, board)})
    return summary
