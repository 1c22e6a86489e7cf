"""The accounting engine in named stages: activity → gas amounts → CO2e → aggregates.

1. :func:`quantify` turns activity records into gas amounts with a method per record.
2. :func:`weight` multiplies each gas amount by the GWP of the chosen set (tCO2e).
3. :func:`energy_use` converts energy carriers to tonnes of standard coal (GB/T 2589).
4. :func:`aggregate` sums by gas, scope, ISO 14064-1 category, source and organisational level.

:func:`account` chains them. Every stage is a pure function over plain dataclasses.

References
----------
The guide §4.2 (formulas (1), (2), measurement); GB/T 32151; GB/T 2589-2020;
ISO 14064-1:2018 clause 5.2.4 and 9.3.1 (gases, biogenic CO2 and removals apart).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from carbonpark.accounting.methods import (
    BUILTIN_METHODS,
    MethodContext,
    steam_heat_gj,
)
from carbonpark.accounting.model import ActivityRecord, EmissionRow, EnergyRow, GasAmount, Inventory
from carbonpark.accounting.quantities import amount_in, parse_rate, rate_in
from carbonpark.errors import UnitError, UnknownFactorError, ValidationError
from carbonpark.extensions import available, load
from carbonpark.factors import DEFAULT_FACTOR_SET, DEFAULT_GWP_SET, FactorLibrary, FactorRow, default_library

__all__ = ["account", "aggregate", "energy_use", "explain", "inventory_document", "method_for", "quantify", "weight"]

_METHOD_ALIASES = {
    "combustion": "fuel_combustion",
    "fuel": "fuel_combustion",
    "gbt32151": "fuel_combustion",
    "ef": "emission_factor",
    "factor": "emission_factor",
    "cems": "measured",
    "measurement": "measured",
    "carbonate": "process",
    "electricity": "purchased_electricity",
    "heat": "purchased_heat",
    "sink": "removal",
    "mass-balance": "mass_balance",
}
_KIND_METHOD = {
    "fuel": "fuel_combustion",
    "electricity": "purchased_electricity",
    "heat": "purchased_heat",
    "carbonate": "process",
    "gas": "fugitive",
    "user": "emission_factor",
}
_FREE_ACTIVITY_METHODS = ("mass_balance", "measured", "removal")


def method_for(record: ActivityRecord, library: FactorLibrary) -> tuple[str, Any]:
    """The method name and callable for a record: its ``method`` column, else the activity's kind.

    Raises
    ------
    ValidationError
        For an unknown method (listing the known ones) or an unknown activity (with close matches).
    """
    name = record.method.strip().lower()
    name = _METHOD_ALIASES.get(name, name)
    if not name:
        activity = library.activity(record.activity)
        if activity is None:
            close = library.close_activities(record.activity)
            hint = f" (close matches: {', '.join(close)})" if close else ""
            raise ValidationError(
                f"{record.where}, column activity",
                f"a known activity id or Chinese name such as diesel, 柴油, natural_gas{hint}",
                record.activity,
            )
        name = _KIND_METHOD[activity.kind]
        if record.emission_factor is not None and activity.kind in ("fuel", "gas"):
            name = "emission_factor"
    if name in BUILTIN_METHODS:
        return name, BUILTIN_METHODS[name]
    try:
        return name, load("accounting_methods", name)
    except UnknownFactorError as exc:
        known = sorted({*BUILTIN_METHODS, *available("accounting_methods")})
        raise ValidationError(f"{record.where}, column method", f"one of {', '.join(known)}", record.method) from exc


def _check_amount(record: ActivityRecord) -> None:
    if record.amount != record.amount or record.amount in (float("inf"), float("-inf")):
        raise ValidationError(f"{record.where}, column amount", "a finite number", record.amount)
    if record.amount < 0:
        raise ValidationError(
            f"{record.where}, column amount", "an amount >= 0 (use flow=output for exports)", record.amount
        )


def quantify(
    records: Sequence[ActivityRecord],
    *,
    library: FactorLibrary | None = None,
    factor_set: str = DEFAULT_FACTOR_SET,
) -> list[GasAmount]:
    """Stage 2: gas amounts [t of each gas] of every record, ordered by line.

    Mass-balance records are grouped per ``source``; every other record is computed alone.

    Raises
    ------
    ValidationError, UnitError, UnknownFactorError
        On the first bad record, naming its line.
    """
    lib = library or default_library()
    lib.check_fuel_set(factor_set)
    ctx = MethodContext(library=lib, factor_set=factor_set)
    groups: dict[tuple[str, str], list[ActivityRecord]] = {}
    singles: list[tuple[ActivityRecord, Any]] = []
    callables: dict[str, Any] = {}
    for record in records:
        _check_amount(record)
        name, method = method_for(record, lib)
        if getattr(method, "groups_by_source", False):
            groups.setdefault((name, record.source), []).append(record)
            callables[name] = method
        else:
            singles.append((record, method))
    out: list[GasAmount] = []
    for record, method in singles:
        out.extend(method([record], ctx))
    for (name, _source), group in groups.items():
        out.extend(callables[name](group, ctx))
    return sorted(out, key=lambda a: a.line)


def weight(
    amounts: Iterable[GasAmount], gwp_set: str = DEFAULT_GWP_SET, *, library: FactorLibrary | None = None
) -> list[EmissionRow]:
    """Stage 3: ``tCO2e = mass_t × GWP`` with the GWP-100 of ``gwp_set`` (formula (1)'s GWP).

    Amounts already in CO2e keep GWP 1. Under AR6, CH4 of fossil origin uses 29.8 and
    non-fossil 27.0 (the plain 27.9 when the origin is not stated).
    """
    lib = library or default_library()
    name = lib.check_gwp_set(gwp_set)
    rows = []
    for amount in amounts:
        if amount.gas == "CO2e":
            gwp, gwp_row = 1.0, None
        else:
            gwp_row = lib.gwp(name, amount.gas, amount.origin if amount.gas == "CH4" else "")
            gwp = gwp_row.value
        market = None if amount.market_mass_t is None else amount.market_mass_t * gwp
        rows.append(EmissionRow(amount, name, gwp, gwp_row, amount.mass_t * gwp, market))
    return rows


def _coefficient_tce(record: ActivityRecord, row: FactorRow, activity_id: str) -> float:
    rate = parse_rate(row.unit, f"factor {row.id}")
    quantity = amount_in(
        record.amount,
        record.unit,
        rate.per_unit,
        activity=activity_id,
        where=f"{record.where}, column unit",
        density=record.density,
        density_unit=record.density_unit,
    )
    return quantity * rate_in(row.value, row.unit, "t", rate.per_unit, f"factor {row.id}")


def _fuel_energy(record: ActivityRecord, activity_id: str, lib: FactorLibrary, factor_set: str) -> EnergyRow:
    try:
        tce = amount_in(record.amount, record.unit, "tce", activity=activity_id, where=record.where)
        return EnergyRow(record.line, record.source, activity_id, tce, tce, (), "energy unit converted to tce")
    except UnitError:
        pass
    if record.ncv is None:
        try:
            row = lib.find("standard_coal_coefficient", activity_id, fuel_set=factor_set)
            tce = _coefficient_tce(record, row, activity_id)
            return EnergyRow(record.line, record.source, activity_id, tce, tce, (row,), "tce = AD × coefficient")
        except UnknownFactorError:
            ncv_row = lib.find("ncv", activity_id, fuel_set=factor_set)
            ncv, ncv_unit = ncv_row.value, ncv_row.unit
            formula = "tce = AD × NCV / 29.3076 GJ/tce (no GB/T 2589 coefficient for this fuel)"
            rows: tuple[FactorRow, ...] = (ncv_row,)
    else:
        ncv = record.ncv
        ncv_unit = record.ncv_unit or lib.find("ncv", activity_id, fuel_set=factor_set).unit
        formula = "tce = AD × measured NCV / 29.3076 GJ/tce (GB/T 2589: measured NCV takes precedence)"
        rows = ()
    per_unit = parse_rate(ncv_unit, f"{record.where}, column ncv_unit").per_unit
    ad = amount_in(
        record.amount,
        record.unit,
        per_unit,
        activity=activity_id,
        where=f"{record.where}, column unit",
        density=record.density,
        density_unit=record.density_unit,
    )
    heat_gj = ad * rate_in(ncv, ncv_unit, "GJ", per_unit, f"{record.where}, column ncv_unit")
    tce = amount_in(heat_gj, "GJ", "tce", activity=activity_id, where=record.where)
    return EnergyRow(record.line, record.source, activity_id, tce, tce, rows, formula)


def energy_use(
    records: Sequence[ActivityRecord],
    *,
    library: FactorLibrary | None = None,
    factor_set: str = DEFAULT_FACTOR_SET,
    equal_value_kgce_per_kwh: float | None = None,
) -> list[EnergyRow]:
    """Energy use of fuel, electricity and heat records in tonnes of standard coal [tce].

    Fuels: GB/T 2589 coefficient × AD, or AD × measured NCV / 29.3076 GJ/tce. Electricity:
    equivalent value 0.1229 kgce/kWh, and an equal-value figure with the library's
    configurable row or ``equal_value_kgce_per_kwh``. Heat: 0.03412 kgce/MJ. Exports
    (``flow=output``) are negative. Other records (gases, process, mass balance) use no energy.

    References
    ----------
    GB/T 2589-2020 《综合能耗计算通则》 Appendix A; the guide §4.2.
    """
    lib = library or default_library()
    out: list[EnergyRow] = []
    for record in records:
        if record.method.strip().lower() in (*_FREE_ACTIVITY_METHODS, "mass-balance", "cems", "sink"):
            continue
        activity = lib.activity(record.activity)
        if activity is None or activity.kind not in ("fuel", "electricity", "heat"):
            continue
        sign = -1.0 if record.flow == "output" else 1.0
        if activity.kind == "fuel":
            row = _fuel_energy(record, activity.id, lib, factor_set)
        elif activity.kind == "electricity":
            eq_row = lib.find(
                "standard_coal_coefficient", "grid_electricity", fuel_set=factor_set, purpose="equivalent"
            )
            tce = _coefficient_tce(record, eq_row, activity.id)
            kwh = amount_in(record.amount, record.unit, "kWh", activity=activity.id, where=record.where)
            if equal_value_kgce_per_kwh is not None:
                tce_equal = kwh * equal_value_kgce_per_kwh / 1000
                rows: tuple[FactorRow, ...] = (eq_row,)
            else:
                ev_row = lib.find(
                    "standard_coal_coefficient",
                    "grid_electricity",
                    fuel_set=factor_set,
                    purpose="equal_value",
                )
                tce_equal, rows = _coefficient_tce(record, ev_row, activity.id), (eq_row, ev_row)
            row = EnergyRow(
                record.line,
                record.source,
                activity.id,
                tce,
                tce_equal,
                rows,
                "tce = kWh × 0.1229 kgce/kWh (equivalent); kWh × equal-value coefficient",
            )
        else:
            heat_row = lib.find("standard_coal_coefficient", "purchased_heat", fuel_set=factor_set)
            if record.steam_enthalpy_kj_per_kg is not None:
                mass = amount_in(record.amount, record.unit, "t", activity=activity.id, where=record.where)
                mj = steam_heat_gj(mass, record.steam_enthalpy_kj_per_kg) * 1000
            else:
                mj = amount_in(record.amount, record.unit, "MJ", activity=activity.id, where=record.where)
            tce = mj * rate_in(heat_row.value, heat_row.unit, "t", "MJ", f"factor {heat_row.id}")
            row = EnergyRow(
                record.line, record.source, activity.id, tce, tce, (heat_row,), "tce = MJ × 0.03412 kgce/MJ"
            )
        out.append(
            EnergyRow(
                row.line,
                row.source,
                row.activity,
                sign * row.tce,
                sign * row.tce_equal_value,
                row.factors,
                row.formula,
            )
        )
    return out


def _level_key(amount: GasAmount, depth: int) -> str:
    parts = (amount.enterprise, amount.site, amount.workshop, amount.device)[: depth + 1]
    return "/".join(parts) if parts[-1] else ""


def aggregate(
    rows: Sequence[EmissionRow],
    energy: Sequence[EnergyRow] = (),
    *,
    factor_set: str = DEFAULT_FACTOR_SET,
    gwp_set: str = DEFAULT_GWP_SET,
) -> Inventory:
    """Stage 4: totals by gas, scope, ISO 14064-1 category, source and level [tCO2e].

    Biogenic CO2 and removals are summed apart and stay out of every other total.
    """
    by_gas: dict[str, dict[str, float]] = {}
    by_scope = dict.fromkeys(("1", "2", "3"), 0.0)
    by_category = dict.fromkeys(("1", "2", "3", "4", "5", "6"), 0.0)
    by_source: dict[str, float] = defaultdict(float)
    levels = ("enterprise", "site", "workshop", "device")
    by_level: dict[str, dict[str, float]] = {level: defaultdict(float) for level in levels}
    removals = biogenic = market = 0.0
    for row in rows:
        amount = row.amount
        if amount.kind == "removal":
            removals += row.tco2e
            continue
        if amount.kind == "biogenic":
            biogenic += amount.mass_t
            continue
        gas = by_gas.setdefault(amount.gas, {"mass_t": 0.0, "tco2e": 0.0})
        gas["mass_t"] += amount.mass_t
        gas["tco2e"] += row.tco2e
        by_scope[amount.scope] += row.tco2e
        by_category[amount.category] += row.tco2e
        by_source[amount.source] += row.tco2e
        for depth, level in enumerate(levels):
            key = _level_key(amount, depth)
            if key:
                by_level[level][key] += row.tco2e
        if amount.scope == "2":
            market += row.market_tco2e if row.market_tco2e is not None else row.tco2e
    return Inventory(
        factor_set=factor_set,
        gwp_set=gwp_set,
        rows=tuple(rows),
        energy=tuple(energy),
        total_tco2e=sum(by_scope.values()),
        removals_tco2e=removals,
        biogenic_co2_t=biogenic,
        scope2_market_tco2e=market,
        by_gas=by_gas,
        by_scope=by_scope,
        by_category=by_category,
        by_source=dict(by_source),
        by_level={level: dict(values) for level, values in by_level.items()},
        energy_tce=sum(e.tce for e in energy),
        energy_tce_equal_value=sum(e.tce_equal_value for e in energy),
    )


def account(
    records: Sequence[ActivityRecord],
    *,
    factor_set: str = DEFAULT_FACTOR_SET,
    gwp_set: str = DEFAULT_GWP_SET,
    library: FactorLibrary | None = None,
    equal_value_kgce_per_kwh: float | None = None,
) -> Inventory:
    """All stages: records → :class:`Inventory` with lineage on every row.

    Examples
    --------
    >>> from carbonpark.accounting import ActivityRecord, account
    >>> inv = account([ActivityRecord(1, "boiler", "natural_gas", 100, "10^4 Nm3")])
    >>> round(inv.total_tco2e, 6)  # 100 × 389.31 × 0.0153 × 0.99 × 44/12
    2162.188809
    """
    lib = library or default_library()
    gwp_name = lib.check_gwp_set(gwp_set)
    amounts = quantify(records, library=lib, factor_set=factor_set)
    rows = weight(amounts, gwp_name, library=lib)
    energy = energy_use(records, library=lib, factor_set=factor_set, equal_value_kgce_per_kwh=equal_value_kgce_per_kwh)
    return aggregate(rows, energy, factor_set=factor_set, gwp_set=gwp_name)


def explain(row: EmissionRow) -> str:
    """The chain of one result row in words and numbers: datum, formula, factors, GWP, result."""
    a = row.amount
    lines = [
        f"line {a.line if len(a.lines) <= 1 else ', '.join(map(str, a.lines))} · source {a.source} · "
        f"activity {a.activity} → {a.gas} ({a.kind}), method {a.method}, scope {a.scope}, "
        f"ISO 14064-1 category {a.category}",
        f"formula: {a.formula}",
        *(f"  {step}" for step in a.steps),
        "factors:",
        *(
            f"  {f.id} = {f.value:g} {f.unit} [{f.origin}, set {f.set_name}, grade {f.grade}] "
            f"{f.source_document}; {f.table_clause}"
            for f in a.factors
        ),
        f"GWP ({row.gwp_set}) of {a.gas} = {row.gwp:g}"
        + (f" [{row.gwp_row.id}: {row.gwp_row.source_document}]" if row.gwp_row else " (amount already in CO2e)"),
        f"result: {a.mass_t:.10g} t {a.gas} × {row.gwp:g} = {row.tco2e:.10g} tCO2e"
        + (f"; market-based {row.market_tco2e:.10g} tCO2e" if row.market_tco2e is not None else ""),
        *(f"note: {n}" for n in a.notes),
    ]
    return "\n".join(lines)


def inventory_document(inventory: Inventory) -> dict[str, Any]:
    """The JSON document of an inventory (the ``carbonpark account --json`` contract)."""
    rows = []
    for row in inventory.rows:
        a = row.amount
        rows.append(
            {
                "line": a.line,
                "lines": list(a.lines),
                "source": a.source,
                "activity": a.activity,
                "gas": a.gas,
                "kind": a.kind,
                "mass_t": a.mass_t,
                "gwp": row.gwp,
                "tco2e": row.tco2e,
                "market_tco2e": row.market_tco2e,
                "method": a.method,
                "formula": a.formula,
                "scope": a.scope,
                "category": a.category,
                "factors": [f.cite() for f in row.factor_rows],
                "factor_ids": [f.id for f in row.factor_rows],
                "notes": list(a.notes),
            }
        )
    return {
        "factor_set": inventory.factor_set,
        "gwp": inventory.gwp_set,
        "total_tco2e": inventory.total_tco2e,
        "removals_tco2e": inventory.removals_tco2e,
        "biogenic_co2_t": inventory.biogenic_co2_t,
        "scope2_market_tco2e": inventory.scope2_market_tco2e,
        "by_gas": inventory.by_gas,
        "by_scope": inventory.by_scope,
        "by_category": inventory.by_category,
        "by_source": inventory.by_source,
        "by_level": inventory.by_level,
        "energy_tce": inventory.energy_tce,
        "energy_tce_equal_value": inventory.energy_tce_equal_value,
        "energy": [
            {
                "line": e.line,
                "source": e.source,
                "activity": e.activity,
                "tce": e.tce,
                "tce_equal_value": e.tce_equal_value,
                "formula": e.formula,
                "factors": [f.cite() for f in e.factors],
            }
            for e in inventory.energy
        ],
        "rows": rows,
    }
