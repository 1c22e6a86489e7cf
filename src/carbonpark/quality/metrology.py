"""Meter coverage and accuracy classes against GB 17167-2006 (用能单位能源计量器具配备和管理通则).

Two packaged tables (``quality/data/``, figures transcribed from the standard):

* ``gb17167-2006-equipping-rate.csv`` — 表3, the share [%] of the energy flows that must be
  metered, per energy kind, at three levels: the energy-using unit's boundary (``unit``),
  its main sub-units (``sub_unit``, workshops) and its main equipment (``equipment``);
* ``gb17167-2006-accuracy.csv`` — 表4, the accuracy class required of the meters at the
  unit's boundary. For electricity the class depends on the metering point's category
  I–V (DL/T 448-2016), which follows from the average monthly consumption.

Choices where the standard leaves it to the auditor (documented in ``docs/quality.md``):
the accuracy requirement is applied to the meters at the unit's boundary (meters with no
parent meter); water meters are held to the ≤ 250 mm pipe requirement (2.5) unless told
otherwise; solid fuel to dynamic weighing (0.5).

References
----------
GB 17167-2006 §4.3 and Tables 3–4; DL/T 448-2016 (categories of electricity metering
points); the guide §4.1.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from carbonpark.errors import UnknownFactorError, ValidationError
from carbonpark.quality.calibration import class_meets

__all__ = [
    "CoverageItem",
    "MeterClass",
    "accuracy_check",
    "coverage_check",
    "electricity_category",
    "equipping_rates",
    "required_class",
]

LEVELS = ("unit", "sub_unit", "equipment")
#: DL/T 448-2016 thresholds of average monthly consumption [kWh] for categories I, II, III.
CATEGORY_KWH_PER_MONTH = (("I", 5_000_000.0), ("II", 1_000_000.0), ("III", 100_000.0))


def _rows(name: str) -> list[dict[str, str]]:
    text = files("carbonpark.quality").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@lru_cache(maxsize=1)
def equipping_rates() -> dict[str, dict[str, float | None]]:
    """GB 17167-2006 表3: carrier code → level → required equipping rate [%] (None: no requirement)."""
    out: dict[str, dict[str, float | None]] = {}
    for r in _rows("gb17167-2006-equipping-rate.csv"):
        out[r["carrier"]] = {lvl: float(r[lvl]) if r[lvl] else None for lvl in LEVELS}
    return out


@lru_cache(maxsize=1)
def _accuracy_rows() -> tuple[dict[str, str], ...]:
    return tuple(_rows("gb17167-2006-accuracy.csv"))


def electricity_category(monthly_kwh: float) -> str:
    """Category I–IV of an electricity metering point by its average monthly consumption [kWh] (DL/T 448-2016)."""
    if monthly_kwh < 0:
        raise ValidationError("monthly consumption", "a non-negative amount [kWh]", monthly_kwh)
    for category, threshold in CATEGORY_KWH_PER_MONTH:
        if monthly_kwh >= threshold:
            return category
    return "IV"


def required_class(carrier: str, *, monthly_kwh: float | None = None, condition: str = "") -> str:
    """Accuracy class GB 17167-2006 表4 requires of a boundary meter of ``carrier``.

    Parameters
    ----------
    carrier
        carbonpark carrier code (``electricity``, ``natural_gas``, ``steam``, ``diesel``, ``coal``, ``water`` …).
    monthly_kwh
        Average monthly consumption [kWh]; needed for electricity (it sets the category).
    condition
        ``static``/``dynamic`` weighing of solid fuel, ``dn_le_250``/``dn_gt_250`` for water;
        default dynamic weighing and pipes up to 250 mm.

    Raises
    ------
    UnknownFactorError
        If the table has no row for the carrier.
    """
    rows = [r for r in _accuracy_rows() if r["carrier"] == carrier]
    if not rows:
        known = sorted({r["carrier"] for r in _accuracy_rows()})
        raise UnknownFactorError(
            f"GB 17167-2006 表4 has no accuracy requirement for carrier {carrier!r}; known: {known}"
        )
    if carrier == "electricity":
        if monthly_kwh is None:
            raise ValidationError("monthly_kwh", "the average monthly consumption of the metering point [kWh]", None)
        category = electricity_category(monthly_kwh)
        return next(r["accuracy_class"] for r in rows if r["category"] == category)
    default = {"coal": "dynamic", "coke": "dynamic", "water": "dn_le_250"}.get(carrier, "")
    wanted = condition or default
    for r in rows:
        if r["condition"] == wanted or not r["condition"]:
            return r["accuracy_class"]
    raise ValidationError(f"condition of {carrier}", f"one of {sorted(r['condition'] for r in rows)}", condition)


@dataclass(frozen=True)
class MeterClass:
    """A boundary meter and what its class requirement depends on."""

    meter: str
    carrier: str
    accuracy_class: str
    monthly_kwh: float | None = None
    condition: str = ""
    enterprise: str = ""


def accuracy_check(meters: Iterable[MeterClass]) -> list[dict[str, Any]]:
    """Each boundary meter's class against GB 17167-2006 表4.

    Returns
    -------
    list of dict
        ``meter``, ``enterprise``, ``carrier``, ``accuracy_class``, ``required``,
        ``category`` (electricity), ``compliant`` (``None`` when the table has no row for the carrier).
    """
    out: list[dict[str, Any]] = []
    for m in meters:
        row: dict[str, Any] = {
            "meter": m.meter,
            "enterprise": m.enterprise,
            "carrier": m.carrier,
            "accuracy_class": m.accuracy_class,
            "required": None,
            "category": electricity_category(m.monthly_kwh)
            if m.carrier == "electricity" and m.monthly_kwh is not None
            else None,
            "compliant": None,
        }
        try:
            req = required_class(m.carrier, monthly_kwh=m.monthly_kwh, condition=m.condition)
        except UnknownFactorError:
            out.append(row)
            continue
        row["required"] = req
        row["compliant"] = class_meets(m.accuracy_class, req)
        out.append(row)
    return out


@dataclass(frozen=True)
class CoverageItem:
    """How many meters a level of an energy-using unit needs for one carrier, and how many it has."""

    enterprise: str
    carrier: str
    level: str
    required: int
    equipped: int


def coverage_check(items: Iterable[CoverageItem]) -> list[dict[str, Any]]:
    """Equipping rate [%] = equipped / required × 100 against GB 17167-2006 表3.

    Returns
    -------
    list of dict
        ``enterprise``, ``carrier``, ``level``, ``required``, ``equipped``, ``rate_pct``,
        ``required_pct`` (``None`` when the table sets none), ``compliant``.
    """
    table = equipping_rates()
    out: list[dict[str, Any]] = []
    for it in items:
        if it.level not in LEVELS:
            raise ValidationError("coverage level", f"one of {LEVELS}", it.level)
        if it.required <= 0:
            continue
        rate = min(it.equipped, it.required) / it.required * 100
        need = table.get(it.carrier, {}).get(it.level)
        out.append(
            {
                "enterprise": it.enterprise,
                "carrier": it.carrier,
                "level": it.level,
                "required": it.required,
                "equipped": it.equipped,
                "rate_pct": rate,
                "required_pct": need,
                "compliant": None if need is None else rate >= need,
            }
        )
    return out
