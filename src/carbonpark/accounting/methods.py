"""Built-in accounting methods (stage 2: activity → gas amounts), as plain callables.

Every method has the signature ``method(records, context) -> list[GasAmount]``. It receives
one record, except methods whose ``groups_by_source`` attribute is true (mass balance), which
receive all the records of one source. Plug-ins registered in the entry-point group
``carbonpark.accounting_methods`` follow the same contract.

References
----------
The guide §4.2: emission-factor method formula (1) ``E = AD × EF × GWP``, mass balance
formula (2), measurement (实测法). GB/T 32150-2015 / GB/T 32151: ``E = AD × NCV × CC × OF ×
44/12``; exported heat and power deducted at the sender. 2006 IPCC Guidelines Vol. 2
(CH4, N2O of combustion). NDRC guidelines: purchased heat, carbonate decomposition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from carbonpark.accounting.model import ActivityRecord, GasAmount, iso_category_for
from carbonpark.accounting.quantities import amount_in, parse_rate, rate_in
from carbonpark.errors import UnitError, UnknownFactorError, ValidationError
from carbonpark.factors import DEFAULT_FACTOR_SET, Activity, FactorLibrary, FactorRow, default_library

__all__ = [
    "BUILTIN_METHODS",
    "CO2_PER_C",
    "MethodContext",
    "carbonate_process",
    "cems_mass_t",
    "emission_factor",
    "fuel_combustion",
    "fugitive",
    "hot_water_heat_gj",
    "mass_balance",
    "measured",
    "purchased_electricity",
    "purchased_heat",
    "removal",
    "steam_heat_gj",
]

#: Molar-mass ratio CO2/C used unrounded, ω of the guide's formula (2).
CO2_PER_C = 44 / 12
_GAS_SPELLING = {
    "co2": "CO2",
    "ch4": "CH4",
    "n2o": "N2O",
    "sf6": "SF6",
    "nf3": "NF3",
    "co2e": "CO2e",
    "cf4": "CF4",
    "c2f6": "C2F6",
}
_WATER_ENTHALPY_20C_KJ_PER_KG = 83.74
_WATER_HEAT_CAPACITY_KJ_PER_KG_K = 4.1868


@dataclass(frozen=True)
class MethodContext:
    """What a method may consult: the factor library and the chosen fuel factor set."""

    library: FactorLibrary = field(default_factory=default_library)
    factor_set: str = DEFAULT_FACTOR_SET


def gas_spelling(gas: str, where: str) -> str:
    """IPCC spelling of a gas name (``ch4`` → ``CH4``, ``hfc_134a`` → ``HFC-134a``)."""
    key = gas.strip().lower().replace("_", "-")
    if key in _GAS_SPELLING:
        return _GAS_SPELLING[key]
    if key.startswith(("hfc-", "hfc", "pfc-")):
        rest = key.split("-", 1)[1] if "-" in key else key[3:]
        return f"{key[:3].upper()}-{rest}"
    if not key:
        raise ValidationError(f"{where}, column gas", "a gas such as CO2, CH4, N2O, SF6, HFC-134a", gas)
    return gas.strip()


def _gases(record: ActivityRecord, default: str) -> list[str]:
    text = record.gas.replace("|", ";").replace("+", ";").replace(",", ";")
    names = [g for g in (t.strip() for t in text.split(";")) if g]
    return [gas_spelling(g, record.where) for g in names] or [default]


def _fraction(value: float | None, where: str, column: str) -> float | None:
    if value is None:
        return None
    if not 0.0 <= value <= 1.0:
        raise ValidationError(f"{where}, column {column}", "a fraction from 0 to 1", value)
    return value


def _classify(record: ActivityRecord, default_scope: str) -> tuple[str, str]:
    scope = record.scope or default_scope
    return scope, iso_category_for(scope, record.category, record.scope3_category, record.where)


def _measured_row(record: ActivityRecord, parameter: str, value: float, unit: str) -> FactorRow:
    return FactorRow(
        id=f"line{record.line}:{parameter}",
        parameter=parameter,
        subject=record.activity,
        value=value,
        unit=unit,
        source_document=f"batch-measured value given on line {record.line}",
        table_clause="activity data file",
        grade="A",
        set_name="measured",
        origin="measured",
    )


def _gas_amount(
    record: ActivityRecord,
    *,
    gas: str,
    mass_t: float,
    method: str,
    formula: str,
    factors: Sequence[FactorRow],
    scope: str,
    category: str,
    steps: Sequence[str],
    kind: str = "emission",
    market_mass_t: float | None = None,
    notes: Sequence[str] = (),
) -> GasAmount:
    origin = "non_fossil" if record.biogenic else "fossil"
    if kind == "emission" and record.biogenic and gas == "CO2":
        kind = "biogenic"
    precedence = [f"{r.parameter} {r.origin} ({r.set_name})" for r in factors if r.origin != "library"]
    return GasAmount(
        line=record.line,
        source=record.source,
        activity=record.activity,
        gas=gas,
        mass_t=mass_t,
        method=method,
        formula=formula,
        factors=tuple(factors),
        scope=scope,
        category=category,
        kind=kind,
        origin=origin,
        market_mass_t=market_mass_t,
        lines=(record.line,),
        steps=tuple(steps),
        notes=(*notes, *(f"{p} takes precedence over the default" for p in precedence)),
        enterprise=record.enterprise,
        site=record.site,
        workshop=record.workshop,
        device=record.device,
    )


def _activity(record: ActivityRecord, ctx: MethodContext) -> Activity:
    found = ctx.library.activity(record.activity)
    if found is None:
        close = ctx.library.close_activities(record.activity)
        hint = f" (close matches: {', '.join(close)})" if close else ""
        raise ValidationError(
            f"{record.where}, column activity",
            f"a known activity id or Chinese name such as diesel, 柴油, natural_gas, grid_electricity{hint}",
            record.activity,
        )
    return found


# --------------------------------------------------------------------- fuel combustion
def _heat_gj(record: ActivityRecord, activity: Activity, ctx: MethodContext) -> tuple[float, list[FactorRow], str]:
    """Heat released [GJ] = AD × NCV, or the amount itself when it is given as energy."""
    try:
        return (
            amount_in(record.amount, record.unit, "GJ", activity=activity.id, where=record.where),
            [],
            (f"AD given as energy: {record.amount} {record.unit} = heat"),
        )
    except UnitError:
        pass
    if record.ncv is not None:
        ncv_unit = record.ncv_unit or ctx.library.find("ncv", activity.id, fuel_set=ctx.factor_set).unit
        ncv_row = _measured_row(record, "ncv", record.ncv, ncv_unit)
    else:
        ncv_row = ctx.library.find("ncv", activity.id, fuel_set=ctx.factor_set)
    per_unit = parse_rate(ncv_row.unit, f"{record.where}, column ncv_unit").per_unit
    ad = amount_in(
        record.amount,
        record.unit,
        per_unit,
        activity=activity.id,
        where=f"{record.where}, column unit",
        density=record.density,
        density_unit=record.density_unit,
    )
    ncv_gj = rate_in(ncv_row.value, ncv_row.unit, "GJ", per_unit, f"{record.where}, column ncv_unit")
    heat = ad * ncv_gj
    return heat, [ncv_row], f"heat = AD {ad:g} {per_unit} × NCV {ncv_gj:g} GJ/{per_unit} = {heat:.10g} GJ"


def fuel_combustion(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Fossil-fuel combustion: ``E_CO2 = AD × NCV × CC × OF × 44/12`` [tCO2].

    CO2 only by default, as the Chinese guidelines do; ``gas`` naming CH4 or N2O adds
    ``E = AD × NCV × EF_IPCC`` with the IPCC 2006 default [kg/TJ] of the row's ``sector``
    (``manufacturing`` by default, ``energy_industries`` or ``road``). Batch-measured NCV,
    CC and OF on the record override the defaults.

    References
    ----------
    GB/T 32151 / GB/T 32150-2015 formula for fossil-fuel combustion; the guide §4.2;
    2006 IPCC Guidelines Vol. 2 Tables 2.2, 2.3 and 3.2.2.
    """
    (record,) = records
    activity = _activity(record, ctx)
    scope, category = _classify(record, activity.default_scope)
    heat, factors, heat_step = _heat_gj(record, activity, ctx)
    out: list[GasAmount] = []
    for gas in _gases(record, "CO2"):
        if gas == "CO2":
            if record.carbon_content is not None:
                cc_row = _measured_row(
                    record, "carbon_content", record.carbon_content, record.carbon_content_unit or "tC/TJ"
                )
            else:
                cc_row = ctx.library.find("carbon_content", activity.id, fuel_set=ctx.factor_set)
            oxidation = _fraction(record.oxidation_rate, record.where, "oxidation_rate")
            of_row = (
                _measured_row(record, "oxidation_rate", oxidation, "1")
                if oxidation is not None
                else ctx.library.find("oxidation_rate", activity.id, fuel_set=ctx.factor_set)
            )
            cc = rate_in(cc_row.value, cc_row.unit, "t", "GJ", f"{record.where}, column carbon_content_unit")
            mass = heat * cc * of_row.value * CO2_PER_C
            out.append(
                _gas_amount(
                    record,
                    gas="CO2",
                    mass_t=mass,
                    method="fuel_combustion",
                    formula="E = AD × NCV × CC × OF × 44/12",
                    factors=[*factors, cc_row, of_row],
                    scope=scope,
                    category=category,
                    steps=[
                        heat_step,
                        f"CO2 = {heat:.10g} GJ × CC {cc:g} tC/GJ × OF {of_row.value:g} × 44/12 = {mass:.10g} t",
                    ],
                )
            )
        elif gas in ("CH4", "N2O"):
            sector = record.sector or "manufacturing"
            ipcc_subject = activity.ipcc_fuel or activity.id
            row = ctx.library.find("emission_factor", ipcc_subject, fuel_set=ctx.factor_set, gas=gas, purpose=sector)
            ef = rate_in(row.value, row.unit, "t", "GJ", f"{record.where}, column sector")
            mass = heat * ef
            out.append(
                _gas_amount(
                    record,
                    gas=gas,
                    mass_t=mass,
                    method="fuel_combustion",
                    formula=f"E_{gas} = AD × NCV × EF_{gas} (IPCC 2006, {sector})",
                    factors=[*factors, row],
                    scope=scope,
                    category=category,
                    steps=[heat_step, f"{gas} = {heat:.10g} GJ × {row.value:g} {row.unit} = {mass:.10g} t"],
                )
            )
        else:
            raise ValidationError(f"{record.where}, column gas", "CO2, CH4 or N2O for combustion", gas)
    return out


# --------------------------------------------------------------------- direct factor
def emission_factor(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Emission-factor method, formula (1): ``E = AD × EF`` [t of the gas the factor counts].

    The factor comes from the record (``emission_factor``/``emission_factor_unit``) or from a
    user factor set row of the activity (``parameter=emission_factor``). A factor counted in
    CO2e (``tCO2e/t``) is already weighted; GWP is then 1.

    References
    ----------
    The guide §4.2 formula (1).
    """
    (record,) = records
    activity = _activity(record, ctx)
    default_scope = record.scope or activity.default_scope
    if activity.kind == "user" and not record.scope:
        raise ValidationError(f"{record.where}, column scope", f"a scope 1, 2 or 3 for {activity.id}", "")
    scope, category = _classify(record, default_scope)
    out: list[GasAmount] = []
    for gas in _gases(record, activity.gas or "CO2"):
        if record.emission_factor is not None:
            if not record.emission_factor_unit:
                raise ValidationError(f"{record.where}, column emission_factor_unit", "a unit like tCO2/t", "")
            row = _measured_row(record, "emission_factor", record.emission_factor, record.emission_factor_unit)
        else:
            row = ctx.library.find("emission_factor", activity.id, fuel_set=ctx.factor_set, gas=gas)
        rate = parse_rate(row.unit, f"{record.where}, column emission_factor_unit")
        species = rate.species if rate.species and rate.species not in ("C", "ce") else gas
        ad = amount_in(
            record.amount,
            record.unit,
            rate.per_unit,
            activity=activity.id,
            where=f"{record.where}, column unit",
            density=record.density,
            density_unit=record.density_unit,
        )
        ef_t = rate_in(row.value, row.unit, "t", rate.per_unit, f"{record.where}, column emission_factor_unit")
        mass = ad * ef_t
        out.append(
            _gas_amount(
                record,
                gas=gas_spelling(species, record.where),
                mass_t=mass,
                method="emission_factor",
                formula="E = AD × EF",
                factors=[row],
                scope=scope,
                category=category,
                steps=[f"E = AD {ad:g} {rate.per_unit} × EF {ef_t:g} t/{rate.per_unit} = {mass:.10g} t {species}"],
            )
        )
    return out


# --------------------------------------------------------------------- mass balance
def mass_balance(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Carbon mass balance, formula (2): ``E = [Σ(M_in × CC_in) − Σ(M_out × CC_out)] × 44/12``.

    All records share one ``source``; each has ``flow`` ``input`` or ``output``, an amount
    in a mass unit and ``carbon_fraction`` [tC/t]. The result sits on the first line.

    References
    ----------
    The guide §4.2 formula (2); GB/T 32151 (carbon balance of process emissions).
    """
    first = records[0]
    carbon_in = carbon_out = 0.0
    steps: list[str] = []
    for record in records:
        fraction = _fraction(record.carbon_fraction, record.where, "carbon_fraction")
        if fraction is None:
            raise ValidationError(f"{record.where}, column carbon_fraction", "a carbon fraction 0-1 [tC/t]", "")
        if record.flow not in ("input", "output"):
            raise ValidationError(f"{record.where}, column flow", "input or output", record.flow)
        mass = amount_in(
            record.amount, record.unit, "t", activity=record.activity, where=f"{record.where}, column unit"
        )
        carbon = mass * fraction
        steps.append(f"line {record.line} {record.flow} {record.activity}: {mass:g} t × {fraction:g} = {carbon:g} tC")
        if record.flow == "input":
            carbon_in += carbon
        else:
            carbon_out += carbon
    co2 = (carbon_in - carbon_out) * CO2_PER_C
    steps.append(f"CO2 = ({carbon_in:.10g} − {carbon_out:.10g}) tC × 44/12 = {co2:.10g} t")
    scope, category = _classify(first, "1")
    factors = [_measured_row(r, "carbon_fraction", r.carbon_fraction or 0.0, "tC/t") for r in records]
    amount = _gas_amount(
        first,
        gas="CO2",
        mass_t=co2,
        method="mass_balance",
        formula="E = [Σ(M_in × CC_in) − Σ(M_out × CC_out)] × 44/12",
        factors=factors,
        scope=scope,
        category=category,
        steps=steps,
    )
    return [replace(amount, lines=tuple(r.line for r in records), activity=first.source)]


mass_balance.groups_by_source = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------- measured
def cems_mass_t(concentration_mg_per_m3: Sequence[float], flow_m3_per_h: Sequence[float], interval_h: float) -> float:
    """Mass of a gas from continuous monitoring: ``Σ c_i × Q_i × Δt`` [t].

    Parameters
    ----------
    concentration_mg_per_m3
        Dry concentration per interval [mg/m3, at the flow's reference conditions].
    flow_m3_per_h
        Flue-gas flow per interval [m3/h, same reference conditions].
    interval_h
        Length of each interval [h].

    References
    ----------
    The guide §4.2 (3) 实测法; HJ 75 CEMS practice (concentration × flow integrated over time).
    """
    if len(concentration_mg_per_m3) != len(flow_m3_per_h):
        raise ValidationError(
            "cems", "as many concentrations as flows", (len(concentration_mg_per_m3), len(flow_m3_per_h))
        )
    total_mg = sum(c * q * interval_h for c, q in zip(concentration_mg_per_m3, flow_m3_per_h, strict=True))
    return total_mg / 1e9


def measured(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Measured totals (CEMS, 实测法): the amount is the mass of ``gas`` emitted [t].

    References
    ----------
    The guide §4.2 (3) 实测法.
    """
    (record,) = records
    (gas,) = _gases(record, "CO2")
    scope, category = _classify(record, "1")
    unit = record.unit
    rate_unit = parse_rate(f"{unit}/1", f"{record.where}, column unit")
    mass = amount_in(record.amount, rate_unit.mass_unit, "t", activity=gas, where=f"{record.where}, column unit")
    return [
        _gas_amount(
            record,
            gas=gas,
            mass_t=mass,
            method="measured",
            formula="E = measured mass",
            factors=[],
            scope=scope,
            category=category,
            steps=[f"measured {record.amount:g} {unit} = {mass:.10g} t {gas}"],
        )
    ]


def fugitive(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Fugitive release of a gas (refrigerant leak, SF6 from switchgear): mass of the gas [t].

    The activity names the gas (``hfc_134a``, ``sf6``, ``ch4``); GWP is applied in stage 3.

    References
    ----------
    The guide §4.2 formula (1) with EF = 1 t/t; ISO 14064-1:2018 category 1 (fugitive).
    """
    (record,) = records
    activity = _activity(record, ctx)
    gas = activity.gas or gas_spelling(record.gas, record.where)
    scope, category = _classify(record, "1")
    mass = amount_in(record.amount, record.unit, "t", activity=activity.id, where=f"{record.where}, column unit")
    return [
        _gas_amount(
            record,
            gas=gas,
            mass_t=mass,
            method="fugitive",
            formula="E = m_gas × GWP",
            factors=[],
            scope=scope,
            category=category,
            steps=[f"{gas} released = {record.amount:g} {record.unit} = {mass:.10g} t"],
        )
    ]


def carbonate_process(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Process CO2 of carbonate decomposition: ``E = M × f_CaCO3 × EF`` [tCO2].

    ``carbonate_fraction`` (default 1) is the CaCO3 share of the material; EF is the library
    factor per t CaCO3 (0.440 tCO2/t) unless the record gives one.

    References
    ----------
    NDRC industry guidelines (carbonate decomposition); GB/T 32151 process emissions.
    """
    (record,) = records
    activity = _activity(record, ctx)
    scope, category = _classify(record, activity.default_scope)
    fraction = _fraction(record.carbonate_fraction, record.where, "carbonate_fraction")
    fraction = 1.0 if fraction is None else fraction
    if record.emission_factor is not None:
        row = _measured_row(record, "emission_factor", record.emission_factor, record.emission_factor_unit or "tCO2/t")
    else:
        row = ctx.library.find("emission_factor", activity.id, fuel_set=ctx.factor_set, gas="CO2")
    mass_material = amount_in(
        record.amount, record.unit, "t", activity=activity.id, where=f"{record.where}, column unit"
    )
    ef = rate_in(row.value, row.unit, "t", "t", f"{record.where}, column emission_factor_unit")
    mass = mass_material * fraction * ef
    return [
        _gas_amount(
            record,
            gas="CO2",
            mass_t=mass,
            method="process",
            formula="E = M × f_carbonate × EF",
            factors=[row],
            scope=scope,
            category=category,
            steps=[f"CO2 = {mass_material:g} t × {fraction:g} × {ef:g} tCO2/t = {mass:.10g} t"],
        )
    ]


# --------------------------------------------------------------------- purchased energy
def _sign(record: ActivityRecord) -> tuple[float, str]:
    if record.flow in ("", "input"):
        return 1.0, ""
    if record.flow == "output":
        return -1.0, "exported energy deducted at the sender (GB/T 32150-2015)"
    raise ValidationError(f"{record.where}, column flow", "input or output", record.flow)


def purchased_electricity(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Purchased (or, with ``flow=output``, exported) grid electricity: ``E = AD × EF_grid`` [tCO2].

    Location-based factor: the record's ``emission_factor``; else, with ``grid_region``, the
    consumption-side average of that region for the latest published year not after
    ``year``; else the national ETS-report factor of ``year`` (latest when no year).
    Market-based: ``(AD − green_amount) × EF_market`` with EF_market the record's
    ``market_emission_factor`` or the national factor excluding market-traded non-fossil
    power (residual-mix-like).

    References
    ----------
    GB/T 32150-2015 (purchased electricity); MEE ETS reporting notices (0.5703 tCO2/MWh);
    MEE/NBS electricity CO2 factor announcements; GHG Protocol Scope 2 Guidance (2015).
    """
    (record,) = records
    activity = _activity(record, ctx)
    scope, category = _classify(record, "2")
    sign, note = _sign(record)
    where = f"{record.where}, column unit"
    mwh = amount_in(record.amount, record.unit, "MWh", activity=activity.id, where=where)
    lib = ctx.library
    if record.emission_factor is not None:
        row = _measured_row(
            record, "emission_factor", record.emission_factor, record.emission_factor_unit or "tCO2/MWh"
        )
    elif record.grid_region:
        region = record.grid_region.strip()
        if region not in lib.regions("consumption"):
            raise UnknownFactorError(
                f"{record.where}, column grid_region: unknown grid region {region!r}; "
                f"known: {lib.regions('consumption')}"
            )
        row = lib.find(
            "emission_factor",
            "grid_electricity",
            fuel_set=ctx.factor_set,
            gas="CO2",
            region=region,
            purpose="consumption",
            year=record.year,
        )
    else:
        row = lib.find(
            "emission_factor",
            "grid_electricity",
            fuel_set=ctx.factor_set,
            gas="CO2",
            region="national",
            purpose="ets_report",
            year=record.year,
        )
    ef = rate_in(row.value, row.unit, "t", "MWh", f"{record.where}, column emission_factor_unit")
    mass = sign * mwh * ef
    green = 0.0
    if record.green_amount is not None:
        green = amount_in(record.green_amount, record.unit, "MWh", activity=activity.id, where=where)
        if not 0 <= green <= mwh:
            raise ValidationError(
                f"{record.where}, column green_amount",
                f"0 to {record.amount} {record.unit}",
                record.green_amount,
            )
    if record.market_emission_factor is not None:
        market_row = _measured_row(
            record,
            "market_emission_factor",
            record.market_emission_factor,
            record.market_emission_factor_unit or "tCO2/MWh",
        )
    else:
        try:
            market_row = lib.find(
                "emission_factor",
                "grid_electricity",
                fuel_set=ctx.factor_set,
                gas="CO2",
                region="national",
                purpose="residual",
                year=record.year,
            )
        except UnknownFactorError:
            market_row = row
    market_ef = rate_in(market_row.value, market_row.unit, "t", "MWh", f"{record.where}, market factor")
    market = sign * (mwh - green) * market_ef
    factors = [row] if market_row is row else [row, market_row]
    return [
        _gas_amount(
            record,
            gas="CO2",
            mass_t=mass,
            method="purchased_electricity",
            formula="E = AD × EF_grid (location); (AD − green) × EF_market (market)",
            factors=factors,
            scope=scope,
            category=category,
            market_mass_t=market,
            steps=[
                f"location: {sign:+g} × {mwh:g} MWh × {ef:g} tCO2/MWh = {mass:.10g} t",
                f"market: {sign:+g} × ({mwh:g} − {green:g}) MWh × {market_ef:g} tCO2/MWh = {market:.10g} t",
            ],
            notes=[note] if note else [],
        )
    ]


def steam_heat_gj(mass_t: float, enthalpy_kj_per_kg: float) -> float:
    """Heat of steam: ``AD = Ma_st × (En_st − 83.74) × 10^-3`` [GJ], 83.74 kJ/kg = water at 20 °C.

    References
    ----------
    NDRC industry guidelines, heat from steam mass (REFERENCE_DATA §3c, grade C).
    """
    return mass_t * (enthalpy_kj_per_kg - _WATER_ENTHALPY_20C_KJ_PER_KG) * 1e-3


def hot_water_heat_gj(mass_t: float, temperature_c: float) -> float:
    """Heat of hot water: ``AD = Ma_w × (T_w − 20) × 4.1868 × 10^-3`` [GJ].

    References
    ----------
    NDRC industry guidelines, heat from hot-water mass (REFERENCE_DATA §3c, grade C).
    """
    return mass_t * (temperature_c - 20.0) * _WATER_HEAT_CAPACITY_KJ_PER_KG_K * 1e-3


def purchased_heat(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """Purchased (or exported, ``flow=output``) heat: ``E = AD_GJ × EF_heat`` [tCO2].

    AD in an energy unit, or steam mass with ``steam_enthalpy_kj_per_kg``. Market-based
    equals location-based for heat.

    References
    ----------
    GB/T 32150-2015 (purchased heat); NDRC guidelines default 0.11 tCO2/GJ.
    """
    (record,) = records
    activity = _activity(record, ctx)
    scope, category = _classify(record, "2")
    sign, note = _sign(record)
    steps = []
    if record.steam_enthalpy_kj_per_kg is not None:
        mass = amount_in(record.amount, record.unit, "t", activity=activity.id, where=f"{record.where}, column unit")
        heat = steam_heat_gj(mass, record.steam_enthalpy_kj_per_kg)
        steps.append(f"heat = {mass:g} t × ({record.steam_enthalpy_kj_per_kg:g} − 83.74) kJ/kg × 1e-3 = {heat:.10g} GJ")
    else:
        heat = amount_in(record.amount, record.unit, "GJ", activity=activity.id, where=f"{record.where}, column unit")
    if record.emission_factor is not None:
        row = _measured_row(record, "emission_factor", record.emission_factor, record.emission_factor_unit or "tCO2/GJ")
    else:
        row = ctx.library.find("emission_factor", "purchased_heat", fuel_set=ctx.factor_set, gas="CO2")
    ef = rate_in(row.value, row.unit, "t", "GJ", f"{record.where}, column emission_factor_unit")
    co2 = sign * heat * ef
    steps.append(f"CO2 = {sign:+g} × {heat:g} GJ × {ef:g} tCO2/GJ = {co2:.10g} t")
    return [
        _gas_amount(
            record,
            gas="CO2",
            mass_t=co2,
            method="purchased_heat",
            formula="E = AD × EF_heat",
            factors=[row],
            scope=scope,
            category=category,
            market_mass_t=co2,
            steps=steps,
            notes=[note] if note else [],
        )
    ]


def removal(records: Sequence[ActivityRecord], ctx: MethodContext) -> list[GasAmount]:
    """A removal (sink, CO2 captured and stored): the amount of CO2 removed, reported negative [t].

    References
    ----------
    ISO 14064-1:2018 (direct removals reported apart); the guide §4.3 formula (3).
    """
    (record,) = records
    scope, category = _classify(record, "1")
    rate_unit = parse_rate(f"{record.unit}/1", f"{record.where}, column unit")
    mass = amount_in(record.amount, rate_unit.mass_unit, "t", activity="removal", where=f"{record.where}, column unit")
    return [
        _gas_amount(
            record,
            gas="CO2",
            mass_t=-mass,
            method="removal",
            formula="R = −measured or estimated CO2 removed",
            factors=[],
            scope=scope,
            category=category,
            kind="removal",
            steps=[f"removed {mass:.10g} t CO2"],
        )
    ]


MethodFn = Callable[[Sequence[ActivityRecord], MethodContext], list[GasAmount]]

#: The built-in methods by name (the entry points ``carbonpark.accounting_methods`` mirror these).
BUILTIN_METHODS: dict[str, Any] = {
    "fuel_combustion": fuel_combustion,
    "emission_factor": emission_factor,
    "mass_balance": mass_balance,
    "measured": measured,
    "fugitive": fugitive,
    "process": carbonate_process,
    "purchased_electricity": purchased_electricity,
    "purchased_heat": purchased_heat,
    "removal": removal,
}
