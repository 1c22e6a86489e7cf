"""Energy and CO2 transfers between parties of the park, used in both sides' accounting (issue 4 item 4b).

A transfer record says that a *seller* (an enterprise, or the park itself — its CHP or PV plant)
passed an amount of a *carrier* to a *buyer* in a local calendar period (month or year):

===============  =====================  ==========================================================
carrier          accounting activity    seller (sender)  /  buyer (receiver)
===============  =====================  ==========================================================
``electricity``  ``grid_electricity``   ``flow=output``: −AD × EF_grid / +AD × EF_grid (scope 2)
``heat``         ``purchased_heat``     ``flow=output``: −AD_GJ × EF_heat / +AD_GJ × EF_heat
``steam``        ``purchased_heat``     as heat; a mass is turned into heat at 2777 kJ/kg
``waste_heat``   ``purchased_heat``     as heat (recovered heat supplied to another party)
``co2``          ``co2``                −m (scope 1, deducted) / +m (scope 1, released)
===============  =====================  ==========================================================

Rules, with their sources:

* **Exported electricity and heat** are deducted at the sender with the same factor the receiver
  uses (grid factor of the period's year; heat 0.11 tCO2/GJ): GB/T 32150-2015 §7 and the MEE
  industry guidelines (``E = E_燃烧 + E_过程 + E_购入电 + E_购入热 − E_输出电 − E_输出热``). The
  receiver counts the same amount as purchased energy (scope 2, ISO 14064-1 category 2).
* **CO2 sold as a product** is deducted at the sender as ``R_CO2回收`` (CO2 recovered and supplied to
  others as a raw material), as in the MEE chemical-industry guideline (中国化工生产企业温室气体排放
  核算方法与报告指南(试行), 2013: ``E_GHG = E_燃烧 + E_过程 − R_回收 + E_净电 + E_净热``; grade C,
  the clause wording could not be checked here). Inside the
  park the CO2 has not left the park's boundary, so the receiver counts it as a direct (scope-1)
  release unless it reports it as fixed in its products (formula (3) ``E_fixed_in_products``).
  Hence the park total keeps the tonne exactly once.

Every record becomes two activity data (``activity_data``, origin ``transfer``): one at the seller,
one at the buyer, so each side's stored accounting picks them up with lineage, and the park run
passes them to :func:`carbonpark.accounting.park_account` as :class:`~carbonpark.accounting.EnergyTransfer`
rows (buyer's tCO2e, seller's deducted tCO2e) so the reconciliation lists every transfer.

References
----------
GB/T 32150-2015 《工业企业温室气体排放核算和报告通则》 (输出的电力、热力); MEE/NDRC industry
guidelines (2013-2015), chemical-industry guideline (R_CO2回收); the guide §4.3 formula (3);
SPEC C7 (one tonne counted once).
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carbonpark import accounting
from carbonpark.errors import CarbonparkError, NotFoundError, ValidationError
from carbonpark.services.accounting import is_period_locked
from carbonpark.services.activity import STEAM_ENTHALPY_KJ_PER_KG, park_timezone
from carbonpark.store import session
from carbonpark.store.registry import as_dict, audit, resolve
from carbonpark.store.schema import Enterprise, Meter, Park
from carbonpark.store.schema_accounting import ActivityDatum
from carbonpark.store.schema_transfers import EnergyTransferRecord
from carbonpark.times import period_bounds_ms
from carbonpark.units import check_unit

__all__ = [
    "CARRIERS",
    "COLUMNS",
    "PARK",
    "TransferInput",
    "import_transfers",
    "import_transfers_in_session",
    "list_transfers",
    "park_energy_transfers",
    "read_transfers_csv",
]

PARK = "park"
#: Required and optional columns of a transfers file.
COLUMNS: tuple[str, ...] = ("seller", "buyer", "carrier", "period", "amount", "unit", "meter", "evidence")
_REQUIRED = COLUMNS[:6]
#: Carrier → (accounting activity id, units that fit (quantities of carbonpark.units)).
CARRIERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "electricity": ("grid_electricity", ("energy",)),
    "heat": ("purchased_heat", ("energy",)),
    "steam": ("purchased_heat", ("energy", "mass")),
    "waste_heat": ("purchased_heat", ("energy",)),
    "co2": ("co2", ("mass",)),
}
_CARRIER_ALIASES: dict[str, str] = {
    "电力": "electricity",
    "电": "electricity",
    "power": "electricity",
    "热力": "heat",
    "热": "heat",
    "蒸汽": "steam",
    "余热": "waste_heat",
    "waste heat": "waste_heat",
    "二氧化碳": "co2",
    "co₂": "co2",
}
_UNIT_EXAMPLES = {"energy": "MWh, kWh, GJ", "mass": "t, kg"}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class TransferInput:
    """One transfer as given (a line of a transfers file); ``line`` is cited in errors."""

    line: int
    seller: str
    buyer: str
    carrier: str
    period: str
    amount: float
    unit: str
    meter: str = ""
    evidence: str = ""


def read_transfers_csv(text: str) -> list[TransferInput]:
    """Parse a transfers file: ``seller,buyer,carrier,period,amount,unit[,meter,evidence]``.

    Lines are numbered from 1 on the first data line. The amount must be a finite number >= 0
    (a transfer has a direction; a negative amount is refused, swap seller and buyer instead).

    Raises
    ------
    ValidationError
        For a missing or unknown column, or a bad amount, naming the line.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ValidationError("transfers file header", f"columns {','.join(COLUMNS[:6])}[,meter,evidence]", header)
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ValidationError("transfers file header", f"only the columns {', '.join(COLUMNS)}", unknown)
    out: list[TransferInput] = []
    for n, raw in enumerate(reader, start=1):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        for column in _REQUIRED:
            if not row.get(column):
                raise ValidationError(f"line {n}, column {column}", "a value", "")
        try:
            amount = float(row["amount"])
        except ValueError as exc:
            raise ValidationError(f"line {n}, column amount", "a number", row["amount"]) from exc
        if not math.isfinite(amount) or amount < 0:
            raise ValidationError(f"line {n}, column amount", "a finite amount >= 0", row["amount"])
        out.append(
            TransferInput(
                n,
                row["seller"],
                row["buyer"],
                row["carrier"],
                row["period"],
                amount,
                row["unit"],
                row.get("meter", ""),
                row.get("evidence", ""),
            )
        )
    return out


def _carrier(text: str, where: str) -> str:
    key = text.strip().lower().replace("-", "_")
    key = _CARRIER_ALIASES.get(text.strip(), _CARRIER_ALIASES.get(key, key))
    if key not in CARRIERS:
        raise ValidationError(
            f"{where}, column carrier", f"one of {', '.join(CARRIERS)} (or 电力, 热力, 蒸汽, 余热, 二氧化碳)", text
        )
    return key


def _quantity_of(unit: str, carrier: str, where: str) -> str:
    """The quantity (energy or mass) the unit measures, among those that fit the carrier."""
    fits = CARRIERS[carrier][1]
    for quantity in fits:
        try:
            check_unit(quantity, unit)
        except CarbonparkError:
            continue
        return quantity
    examples = "; ".join(f"{q}: {_UNIT_EXAMPLES[q]}" for q in fits)
    raise ValidationError(f"{where}, column unit", f"a unit of {' or '.join(fits)} for {carrier} ({examples})", unit)


def _party(s: Session, text: str, where: str, park: Park) -> Enterprise | None:
    ref = text.strip()
    if ref.lower() == PARK or ref == "园区" or ref == park.handle or ref == park.name:
        return None
    try:
        return resolve(s, Enterprise, ref)
    except (NotFoundError, ValidationError) as exc:
        raise ValidationError(where, "an enterprise id, handle, credit code or name, or 'park'", text) from exc


def _period(text: str, where: str, tz: str) -> tuple[str, int, int]:
    period = text.strip()
    if len(period) not in (4, 7):
        raise ValidationError(f"{where}, column period", "a local month YYYY-MM or a year YYYY", text)
    try:
        start, end = period_bounds_ms(period, tz)
    except ValidationError as exc:
        raise ValidationError(f"{where}, column period", "a local month YYYY-MM or a year YYYY", text) from exc
    return period, start, end


def _label(ent: Enterprise | None) -> str:
    return PARK if ent is None else str(ent.handle or ent.id)


def _datum(
    s: Session,
    existing_id: int | None,
    *,
    series: str,
    enterprise: Enterprise | None,
    rec: EnergyTransferRecord,
    label: str,
    activity: str,
    params: dict[str, Any],
    note: str,
) -> ActivityDatum:
    values: dict[str, Any] = {
        "series": series,
        "enterprise_id": None if enterprise is None else enterprise.id,
        "source_id": None,
        "meter_id": rec.meter_id,
        "resolution": "month" if len(rec.period) == 7 else "year",
        "period": rec.period,
        "start_ms": rec.start_ms,
        "end_ms": rec.end_ms,
        "source_label": label,
        "activity": activity,
        "amount": rec.amount,
        "unit": rec.unit,
        "params": params,
        "origin": "transfer",
        "n_readings": 0,
        "expected_readings": None,
        "estimated_amount": 0.0,
        "flagged_amount": 0.0,
        "computed_ms": _now_ms(),
        "note": note,
    }
    row = s.get(ActivityDatum, existing_id) if existing_id is not None else None
    if row is None:
        row = ActivityDatum(**values)
        s.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    s.flush()
    return row


def _sides(carrier: str, quantity: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Activity id and the seller's and buyer's datum parameters of a carrier."""
    activity = CARRIERS[carrier][0]
    extra: dict[str, Any] = {}
    if carrier == "steam" and quantity == "mass":
        extra["steam_enthalpy_kj_per_kg"] = STEAM_ENTHALPY_KJ_PER_KG
    if carrier == "co2":
        # R_CO2回收: deducted at the sender as −1 t CO2 per t supplied (MEE chemical-industry guideline).
        seller = {
            "method": "emission_factor",
            "emission_factor": -1.0,
            "emission_factor_unit": "tCO2/t",
            "scope": "1",
        }
        return activity, seller, {"method": "fugitive", "scope": "1"}
    return activity, {**extra, "flow": "output"}, dict(extra)


def import_transfers_in_session(s: Session, rows: Sequence[TransferInput], actor: str) -> dict[str, Any]:
    """Store transfer records (insert, or update the record of the same seller/buyer/carrier/period).

    All rows are checked before anything is written; the caller's transaction makes it all or
    nothing. Each change writes an audit entry and (re)writes the two activity data of the record.

    Raises
    ------
    ValidationError
        Naming the line: unknown party, seller = buyer, unknown carrier, a unit that does not fit
        the carrier, a bad period, an unknown meter, the same transfer twice in the file, or a
        period locked (submitted or verified) for the seller or the buyer.
    """
    park = s.scalars(select(Park).order_by(Park.id)).first()
    if park is None:
        raise NotFoundError("park", "(any): the database has no park yet")
    tz = park_timezone(s)
    checked: list[
        tuple[TransferInput, Enterprise | None, Enterprise | None, str, str, str, int, int, Meter | None]
    ] = []
    seen: dict[str, int] = {}
    for row in rows:
        where = f"line {row.line}"
        seller = _party(s, row.seller, f"{where}, column seller", park)
        buyer = _party(s, row.buyer, f"{where}, column buyer", park)
        if (seller.id if seller else None) == (buyer.id if buyer else None):
            raise ValidationError(f"{where}, column buyer", "a party other than the seller", row.buyer)
        carrier = _carrier(row.carrier, where)
        quantity = _quantity_of(row.unit, carrier, where)
        period, start, end = _period(row.period, where, tz)
        meter = None
        if row.meter:
            try:
                meter = resolve(s, Meter, row.meter)
            except NotFoundError as exc:
                raise ValidationError(f"{where}, column meter", "a meter id, handle or code", row.meter) from exc
        key = f"{_label(seller)}|{_label(buyer)}|{carrier}|{period}"
        if key in seen:
            raise ValidationError(
                where, f"one line per seller, buyer, carrier and period (line {seen[key]} has it)", key
            )
        seen[key] = row.line
        year = int(period[:4])
        for side, ent in (("seller", seller), ("buyer", buyer)):
            if is_period_locked(s, None if ent is None else ent.id, year):
                raise ValidationError(
                    f"{where}, column {side}",
                    f"a party whose {year} is not submitted or verified",
                    f"{_label(ent)} locked",
                )
        checked.append((row, seller, buyer, carrier, quantity, period, start, end, meter))
    created = updated = 0
    ids: list[int] = []
    for row, seller, buyer, carrier, quantity, period, start, end, meter in checked:
        key = f"{_label(seller)}|{_label(buyer)}|{carrier}|{period}"
        rec = s.scalars(select(EnergyTransferRecord).where(EnergyTransferRecord.key == key)).first()
        before = as_dict(rec) if rec is not None else None
        now = _now_ms()
        if rec is None:
            rec = EnergyTransferRecord(key=key, created_ms=now)
            s.add(rec)
            created += 1
        else:
            updated += 1
        rec.seller_enterprise_id = None if seller is None else seller.id
        rec.buyer_enterprise_id = None if buyer is None else buyer.id
        rec.carrier, rec.period, rec.start_ms, rec.end_ms = carrier, period, start, end
        rec.amount, rec.unit = row.amount, row.unit
        rec.meter_id = None if meter is None else meter.id
        rec.evidence, rec.updated_ms = row.evidence, now
        s.flush()
        activity, seller_params, buyer_params = _sides(carrier, quantity)
        out = _datum(
            s,
            rec.seller_datum_id,
            series=f"transfer:{rec.id}:out",
            enterprise=seller,
            rec=rec,
            label=f"transfer {rec.id}: {carrier} out to {_label(buyer)}",
            activity=activity,
            params=seller_params,
            note=f"transfer {rec.id} ({carrier} sold, deducted at the sender); evidence: {row.evidence}",
        )
        into = _datum(
            s,
            rec.buyer_datum_id,
            series=f"transfer:{rec.id}:in",
            enterprise=buyer,
            rec=rec,
            label=f"transfer {rec.id}: {carrier} in from {_label(seller)}",
            activity=activity,
            params=buyer_params,
            note=f"transfer {rec.id} ({carrier} bought); evidence: {row.evidence}",
        )
        rec.seller_datum_id, rec.buyer_datum_id = out.id, into.id
        s.flush()
        audit(s, actor, "create" if before is None else "update", rec, before)
        ids.append(rec.id)
    return {"created": created, "updated": updated, "ids": ids}


def import_transfers(db: str | None, file: Path | str, actor: str = "cli") -> dict[str, Any]:
    """Read a transfers CSV and store it in one transaction (nothing is stored if a line is bad).

    Parameters
    ----------
    db
        Database URL or SQLite path.
    file
        ``seller,buyer,carrier,period,amount,unit[,meter,evidence]``; amounts in the row's unit
        (MWh, GJ, t …).

    Returns
    -------
    dict
        ``created``, ``updated`` (counts) and ``ids`` of the records.
    """
    rows = read_transfers_csv(Path(file).read_text(encoding="utf-8-sig"))
    with session(db) as s:
        return import_transfers_in_session(s, rows, actor)


def _document(rec: EnergyTransferRecord, handles: dict[int, str]) -> dict[str, Any]:
    return {
        "id": rec.id,
        "seller": PARK if rec.seller_enterprise_id is None else handles.get(rec.seller_enterprise_id),
        "buyer": PARK if rec.buyer_enterprise_id is None else handles.get(rec.buyer_enterprise_id),
        "carrier": rec.carrier,
        "period": rec.period,
        "amount": rec.amount,
        "unit": rec.unit,
        "meter_id": rec.meter_id,
        "evidence": rec.evidence,
        "seller_datum_id": rec.seller_datum_id,
        "buyer_datum_id": rec.buyer_datum_id,
    }


def list_transfers(db: str | None, org: str | None = None, period: str | None = None) -> list[dict[str, Any]]:
    """Stored transfers, optionally of one party (as seller or buyer; ``park`` for the park) and
    of periods starting with ``period`` (``2025`` gives the year and its months)."""
    with session(db) as s:
        stmt = select(EnergyTransferRecord).order_by(EnergyTransferRecord.period, EnergyTransferRecord.id)
        if org is not None:
            park = s.scalars(select(Park).order_by(Park.id)).first()
            if park is None:
                raise NotFoundError("park", "(any): the database has no park yet")
            ent = _party(s, org, "--org", park)
            if ent is None:
                stmt = stmt.where(
                    or_(
                        EnergyTransferRecord.seller_enterprise_id.is_(None),
                        EnergyTransferRecord.buyer_enterprise_id.is_(None),
                    )
                )
            else:
                stmt = stmt.where(
                    or_(
                        EnergyTransferRecord.seller_enterprise_id == ent.id,
                        EnergyTransferRecord.buyer_enterprise_id == ent.id,
                    )
                )
        if period is not None:
            stmt = stmt.where(EnergyTransferRecord.period.startswith(period.strip()))
        handles = {k: str(v) for k, v in s.execute(select(Enterprise.id, Enterprise.handle))}
        return [_document(r, handles) for r in s.scalars(stmt)]


def park_energy_transfers(
    s: Session, rows: Iterable[accounting.EmissionRow], datum_ids: Iterable[int]
) -> list[accounting.EnergyTransfer]:
    """The transfers whose two activity data are both in a park run, as the engine's
    :class:`~carbonpark.accounting.EnergyTransfer` rows: what the buyer counted and what the
    seller deducted [tCO2e], taken from the run's own emission rows."""
    ids = set(datum_ids)
    if not ids:
        return []
    by_line: dict[int, float] = {}
    for row in rows:
        for line in row.amount.lines or (row.amount.line,):
            by_line[line] = by_line.get(line, 0.0) + row.tco2e
    handles = {k: str(v) for k, v in s.execute(select(Enterprise.id, Enterprise.handle))}
    stmt = select(EnergyTransferRecord).where(EnergyTransferRecord.seller_datum_id.in_(list(ids)))
    out: list[accounting.EnergyTransfer] = []
    for rec in s.scalars(stmt.order_by(EnergyTransferRecord.id)):
        if rec.buyer_datum_id not in ids or rec.seller_datum_id is None:
            continue
        out.append(
            accounting.EnergyTransfer(
                seller=PARK if rec.seller_enterprise_id is None else handles[rec.seller_enterprise_id],
                buyer=PARK if rec.buyer_enterprise_id is None else handles[rec.buyer_enterprise_id],
                carrier=rec.carrier,
                amount=rec.amount,
                unit=rec.unit,
                buyer_tco2e=by_line.get(rec.buyer_datum_id, 0.0),
                seller_deducted_tco2e=-by_line.get(rec.seller_datum_id, 0.0),
            )
        )
    return out
