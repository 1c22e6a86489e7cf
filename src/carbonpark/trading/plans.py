"""File-driven runs of allocation and energy positions (behind ``carbonpark trading allocate|energy``).

Both take a plain mapping (parsed YAML) and return a plain result document; errors name
the entry and field.

References
----------
Guide §7.3(2) (配额核定发放); guide §8.1 and §2.2(4) (能耗双控, 用能权).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.trading.allocation import (
    benchmark_allocation,
    historical_emissions_allocation,
    historical_intensity_allocation,
    power_unit_allocation,
)
from carbonpark.trading.energy import (
    KEY_UNIT_THRESHOLD_TCE,
    DualControlTarget,
    ProductQuota,
    check_product_quota,
    dual_control_position,
    key_energy_units,
    park_position,
    year_elapsed_fraction,
)

__all__ = ["run_allocation", "run_energy"]

ROUNDINGS = {"half_up": ROUND_HALF_UP, "floor": ROUND_FLOOR}
METHODS = ("benchmark", "power", "history", "intensity")


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ValidationError(key, "a list", value)
    return value


def _allocate_one(entry: Mapping[str, Any], where: str, rounding: str) -> int:
    method = entry.get("method", "benchmark")
    try:
        if method == "benchmark":
            return benchmark_allocation(entry["benchmark"], entry["output"], entry.get("corrections", []), rounding)
        if method == "power":
            return power_unit_allocation(
                entry["supply_benchmark"],
                entry["power_supplied_mwh"],
                entry.get("heat_benchmark", 0),
                entry.get("heat_supplied_gj", 0),
                entry.get("corrections", []),
                rounding,
            )
        if method == "history":
            return historical_emissions_allocation(
                entry["base_year_emissions"], entry.get("control_factor", 1), rounding
            )
        if method == "intensity":
            return historical_intensity_allocation(
                entry["base_intensity"], entry["output"], entry.get("control_factor", 1), rounding
            )
    except KeyError as exc:
        raise ValidationError(f"{where}.{exc.args[0]}", f"a value for the {method} method", None) from None
    except ValidationError as exc:
        raise ValidationError(f"{where}.{exc.field}", exc.expected, exc.got) from None
    raise ValidationError(f"{where}.method", f"one of {', '.join(METHODS)}", method)


def run_allocation(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Allowances per facility and enterprise [tCO2e].

    ``doc``: ``rounding`` (``half_up`` default, or ``floor``) and ``facilities``, each with
    ``enterprise``, ``id``, ``method`` (benchmark | power | history | intensity) and the
    method's inputs (``benchmark, output, corrections``; ``supply_benchmark,
    power_supplied_mwh, heat_benchmark, heat_supplied_gj, corrections``;
    ``base_year_emissions, control_factor``; ``base_intensity, output, control_factor``).
    """
    rounding_name = str(doc.get("rounding", "half_up"))
    if rounding_name not in ROUNDINGS:
        raise ValidationError("rounding", "half_up or floor", rounding_name)
    rows: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for i, entry in enumerate(_list(doc, "facilities")):
        where = f"facilities[{i}]"
        if not isinstance(entry, Mapping) or not entry.get("enterprise"):
            raise ValidationError(where, "a mapping with enterprise, id and method", entry)
        tonnes = _allocate_one(entry, where, ROUNDINGS[rounding_name])
        enterprise = str(entry["enterprise"])
        rows.append(
            {
                "enterprise": enterprise,
                "id": str(entry.get("id", f"#{i + 1}")),
                "method": entry.get("method", "benchmark"),
                "allowances_t": tonnes,
            }
        )
        totals[enterprise] = totals.get(enterprise, 0) + tonnes
    return {"rounding": rounding_name, "facilities": rows, "enterprises": totals, "total_t": sum(totals.values())}


def _opt_dec(value: object, field: str = "value") -> Decimal | None:
    if value is None:
        return None
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(field, "a number", value) from None
    if not dec.is_finite() or dec < 0:
        raise ValidationError(field, "a number ≥ 0", value)
    return dec


def run_energy(doc: Mapping[str, Any]) -> dict[str, Any]:
    """能耗双控 positions of enterprises and park, key energy-consuming units, product quota checks.

    ``doc``: ``year``; ``as_of`` (date) or ``elapsed_fraction`` (default 1); ``park``
    (``total_cap_tce``, ``intensity_cap_tce_per_10k_cny``, ``public_energy_tce``);
    ``enterprises`` (``name, energy_tce, value_added_10k_cny, excluded_tce, total_cap_tce,
    intensity_cap_tce_per_10k_cny, annual_tce``); ``quotas`` (``enterprise, product,
    limit_kgce_per_unit, advanced_kgce_per_unit, unit, standard, energy_kgce, output``).
    Key units are judged on ``annual_tce`` if given, else on the straight-line projection.
    """
    year = doc.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValidationError("year", "a year such as 2025", year)
    as_of = doc.get("as_of")
    if as_of is not None:
        if isinstance(as_of, str):
            try:
                as_of = dt.date.fromisoformat(as_of)
            except ValueError:
                raise ValidationError("as_of", "a date YYYY-MM-DD", as_of) from None
        if not isinstance(as_of, dt.date):
            raise ValidationError("as_of", "a date YYYY-MM-DD", as_of)
        elapsed: object = year_elapsed_fraction(as_of, year)
    else:
        elapsed = doc.get("elapsed_fraction", 1)
    positions: dict[str, Any] = {}
    rows: list[tuple[object, object, object]] = []
    annual: dict[str, object] = {}
    for i, entry in enumerate(_list(doc, "enterprises")):
        where = f"enterprises[{i}]"
        if not isinstance(entry, Mapping) or not entry.get("name") or "energy_tce" not in entry:
            raise ValidationError(where, "a mapping with name and energy_tce", entry)
        name = str(entry["name"])
        target = DualControlTarget(
            name,
            year,
            _opt_dec(entry.get("total_cap_tce"), f"{where}.total_cap_tce"),
            _opt_dec(entry.get("intensity_cap_tce_per_10k_cny"), f"{where}.intensity_cap_tce_per_10k_cny"),
        )
        try:
            position = dual_control_position(
                target,
                entry["energy_tce"],
                entry.get("value_added_10k_cny", 0),
                elapsed,
                entry.get("excluded_tce", 0),
            )
        except ValidationError as exc:
            raise ValidationError(f"{where}.{exc.field}", exc.expected, exc.got) from None
        positions[name] = position.as_dict()
        rows.append((entry["energy_tce"], entry.get("value_added_10k_cny", 0), entry.get("excluded_tce", 0)))
        gross_projection = (position.energy_tce + position.excluded_tce) / position.elapsed_fraction
        annual[name] = entry.get("annual_tce", gross_projection)
    park_doc = doc.get("park") or {}
    park_result = None
    if park_doc:
        if not isinstance(park_doc, Mapping):
            raise ValidationError("park", "a mapping with caps", park_doc)
        rows.append((park_doc.get("public_energy_tce", 0), 0, 0))
        target = DualControlTarget(
            str(park_doc.get("name", "park")),
            year,
            _opt_dec(park_doc.get("total_cap_tce"), "park.total_cap_tce"),
            _opt_dec(park_doc.get("intensity_cap_tce_per_10k_cny"), "park.intensity_cap_tce_per_10k_cny"),
        )
        park_result = park_position(target, rows, elapsed).as_dict()
    checks = []
    for i, entry in enumerate(_list(doc, "quotas")):
        where = f"quotas[{i}]"
        if not isinstance(entry, Mapping) or "limit_kgce_per_unit" not in entry:
            raise ValidationError(where, "a mapping with product, limit_kgce_per_unit, energy_kgce, output", entry)
        quota = ProductQuota(
            str(entry.get("product", f"#{i + 1}")),
            _opt_dec(entry["limit_kgce_per_unit"], f"{where}.limit_kgce_per_unit") or Decimal(0),
            str(entry.get("unit", "t")),
            str(entry.get("standard", "")),
            _opt_dec(entry.get("advanced_kgce_per_unit"), f"{where}.advanced_kgce_per_unit"),
        )
        check = check_product_quota(quota, entry.get("energy_kgce"), entry.get("output"))
        checks.append(
            {
                "enterprise": entry.get("enterprise"),
                "product": check.product,
                "unit_consumption_kgce": check.unit_consumption_kgce,
                "limit_kgce_per_unit": check.limit_kgce_per_unit,
                "status": check.status,
                "margin_kgce": check.margin_kgce,
                "standard": check.standard,
            }
        )
    threshold = _opt_dec(doc.get("key_unit_threshold_tce"), "key_unit_threshold_tce") or KEY_UNIT_THRESHOLD_TCE
    return {
        "year": year,
        "elapsed_fraction": _opt_dec(elapsed, "elapsed_fraction"),
        "enterprises": positions,
        "park": park_result,
        "key_energy_units": [{"name": n, "annual_tce": v} for n, v in key_energy_units(annual, threshold)],
        "quota_checks": checks,
    }
