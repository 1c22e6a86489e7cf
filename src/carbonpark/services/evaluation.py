"""Park evaluation from the store: the platform figures of a year, the 69-indicator score, reports.

:func:`platform_figures` reads the store (registry, readings, identifiers, stored accounting runs,
inventory versions, statistics) and returns the figures :func:`carbonpark.evaluate.indicators_from_platform`
understands, each with a note saying how it was counted; :func:`evaluate_stored` scores the park with
those indicators completed by entered values (an entered value replaces the platform's). Choices made
where the guide's appendix is silent (docs/evaluation.md, "From the store"):

- devices (2): registered devices plus meters (the sensors of the appendix' definition); one is
  networked when a reading of the year reached the platform from it (a device: from one of its meters);
- standard protocol (5): an enterprise counts when readings of its meters arrived in the year: the
  platform takes readings only through its connectors (MQTT/Sparkplug B, OPC UA, Modbus TCP, HJ 212,
  REST), all standard data protocols in the appendix' sense;
- on the platform (7): an enterprise with readings, statistics or a stored accounting run of the year;
- clean energy (52): generation metered on devices of kind ``pv`` or ``wind`` [kWh] converted with the
  electricity coefficient of the park's accounting run (GB/T 2589 equivalent value); the park's total
  energy use is the run's comprehensive energy plus that generation (it replaces grid purchase);
- completed inventory (56): an enterprise whose newest inventory version of the year is submitted or
  verified (``services.inventory.FROZEN``);
- carbon data platform (57): yes when the park has a stored accounting run of the year;
- output, value added, employees (59, 61, 64, 65, 66): the enterprises' ``Statistic`` rows of the year
  (monthly flows summed, stocks such as ``employees`` taken at the latest period of the year);
- energy and emissions (65, 66): the stored yearly accounting run of the park (``org = "park"``).

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and appendix (indicators 2, 5, 7, 15-18,
52, 56, 57, 59, 61, 64-66), §6.5 (evaluation to diagnose the park); issue 11 items 4 and 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carbonpark import evaluate
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.evaluate import Evaluation, IndicatorInput, ThresholdOverride, WeightSet
from carbonpark.model.entities import MONEY_UNITS
from carbonpark.services.activity import park_timezone
from carbonpark.services.identifiers import statistics as identifier_statistics
from carbonpark.services.inventory import FROZEN
from carbonpark.store import session
from carbonpark.store.schema import Device, Enterprise, Meter, Reading, Statistic
from carbonpark.store.schema_accounting import AccountingRun
from carbonpark.store.schema_inventory import InventoryVersion
from carbonpark.times import period_bounds_ms

__all__ = [
    "CLEAN_GENERATION_KINDS",
    "StoredEvaluation",
    "compare_years",
    "demo_step",
    "evaluate_stored",
    "platform_figures",
    "yearly_statistics",
]

#: Device kinds whose metered generation counts as clean energy (indicator 52).
CLEAN_GENERATION_KINDS = ("pv", "wind")
#: Statistic metrics that are stocks (the latest period of the year counts, not the sum).
_STOCKS = ("employees", "floor_area")
#: Statistic metrics that are money, summed in 10^4 CNY.
_MONEY = ("gross_output_value", "value_added", "revenue")
_MONEY_UNIT = "10^4 CNY"
#: kgce per kWh, GB/T 2589-2020 appendix A (equivalent value), used only when no accounting run gives it.
_KGCE_PER_KWH_FALLBACK = 0.1229


@dataclass(frozen=True)
class StoredEvaluation:
    """An evaluation of a park-year from the store.

    Attributes
    ----------
    year
        The evaluated calendar year (park-local).
    evaluation
        Formula (9) and (10) result.
    figures
        Platform figure → value read from the store.
    notes
        Platform figure → how it was counted (the computation shown).
    skipped
        Indicator id → why the platform could not compute it.
    platform_ids
        Indicators computed from the store (an entered value may have replaced some).
    """

    year: int
    evaluation: Evaluation
    figures: dict[str, Any]
    notes: dict[str, str]
    skipped: dict[int, str]
    platform_ids: tuple[int, ...]
    entered_ids: tuple[int, ...] = field(default=())

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        """The ``carbonpark evaluate --json`` document plus ``year``, ``figures``, ``notes``, ``weakest``."""
        doc = self.evaluation.as_dict()
        doc["year"] = self.year
        doc["figures"] = self.figures
        doc["figure_notes"] = self.notes
        doc["platform_indicators"] = list(self.platform_ids)
        doc["entered_indicators"] = list(self.entered_ids)
        doc["platform_skipped"] = {str(k): v for k, v in self.skipped.items()}
        doc["weakest"] = [w.as_dict() for w in evaluate.weakest(self.evaluation, top)]
        return doc


def yearly_statistics(s: Session, year: int) -> dict[tuple[int, str], dict[str, Any]]:
    """Every enterprise's statistics of ``year``, one value per (enterprise, metric), money in 10^4 CNY.

    A yearly row (period ``YYYY``) is the year's value; without one, the monthly rows (``YYYY-MM``) are
    summed for flows and the latest month is taken for stocks (``employees``). A yearly row and monthly
    rows of the same metric are never added together (that would count the year twice). Money is
    converted with :data:`carbonpark.model.entities.MONEY_UNITS` (one enterprise may report in 万元,
    another in CNY or 亿元).

    Returns
    -------
    dict
        ``(enterprise id, metric)`` → ``{"value", "unit", "months"}``; ``months`` is 12 for a yearly row,
        else the number of monthly rows (annualise flows with ``× 12 / months`` where needed).
    """
    rows = s.execute(
        select(Statistic.enterprise_id, Statistic.metric, Statistic.period, Statistic.value, Statistic.unit).where(
            Statistic.period.like(f"{year}%")
        )
    ).all()
    yearly: dict[tuple[int, str], tuple[float, str]] = {}
    monthly: dict[tuple[int, str], list[tuple[str, float, str]]] = {}
    for ent, metric, period, value, unit in rows:
        if period == str(year):
            yearly[(ent, metric)] = (float(value), unit)
        elif len(period) == 7:
            monthly.setdefault((ent, metric), []).append((period, float(value), unit))
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for key, (value, unit) in yearly.items():
        out[key] = {"value": value, "unit": unit, "months": 12}
    for key, items in monthly.items():
        if key in out:
            continue
        metric = key[1]
        if metric in _STOCKS:
            period, value, unit = max(items)
            out[key] = {"value": value, "unit": unit, "months": 12}
            continue
        converted = [(_money(v, u) if metric in _MONEY else (v, u)) for _p, v, u in items]
        units = {u for _v, u in converted}
        if len(units) > 1:
            raise ValidationError(f"statistics {metric} of enterprise {key[0]} in {year}", "one unit", sorted(units))
        out[key] = {"value": sum(v for v, _u in converted), "unit": units.pop(), "months": len(items)}
    for key, row in out.items():
        if key[1] in _MONEY and row["unit"] != _MONEY_UNIT:
            row["value"], row["unit"] = _money(row["value"], row["unit"])
    return out


def _money(value: float, unit: str) -> tuple[float, str]:
    """``value`` [``unit``] in 10^4 CNY."""
    if unit not in MONEY_UNITS:
        raise ValidationError("statistic unit", f"a money unit ({', '.join(MONEY_UNITS)})", unit)
    return value * MONEY_UNITS[unit] / 1e4, _MONEY_UNIT


def _statistics(s: Session, year: int) -> dict[str, float]:
    """Park totals of the enterprises' statistics of ``year`` (:func:`yearly_statistics` summed over enterprises)."""
    totals: dict[str, float] = {}
    for (_ent, metric), row in yearly_statistics(s, year).items():
        totals[metric] = totals.get(metric, 0.0) + row["value"]
    return totals


def _park_run(s: Session, year: int) -> AccountingRun | None:
    return s.scalars(
        select(AccountingRun).where(AccountingRun.org == "park", AccountingRun.period == str(year))
    ).first()


def _kgce_per_kwh(run: AccountingRun | None) -> tuple[float, str]:
    """The electricity coefficient the park's run used (equivalent value), else GB/T 2589's 0.1229 kgce/kWh."""
    if run is not None:
        for line in (run.summary or {}).get("energy", []) or []:
            if line.get("activity") != "grid_electricity":
                continue
            for factor in line.get("factors", []):
                if str(factor.get("id", "")).endswith(":equivalent"):
                    return float(factor["value"]), str(factor.get("source", ""))
    return _KGCE_PER_KWH_FALLBACK, "GB/T 2589-2020 appendix A (equivalent value)"


def platform_figures(s: Session, year: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The platform figures of ``year`` read from the store, and how each was counted.

    Parameters
    ----------
    s
        An open session.
    year
        Calendar year, park-local.

    Returns
    -------
    tuple
        ``(figures, notes)``: figure name → value [units of :mod:`carbonpark.evaluate.platform`], and
        figure name → the counting in words and numbers.

    References
    ----------
    Guide appendix, indicators 2, 5, 7, 15-18, 52, 56, 57, 59, 61, 64-66; module docstring for the choices.
    """
    tz = park_timezone(s)
    start, end = period_bounds_ms(str(year), tz)
    figures: dict[str, Any] = {}
    notes: dict[str, str] = {}

    reporting = select(Reading.meter_id).distinct().where(Reading.ts_ms >= start, Reading.ts_ms < end)
    reporting_ids = set(s.scalars(reporting).all())
    meters = s.execute(select(Meter.id, Meter.enterprise_id, Meter.device_id)).all()
    devices = s.execute(select(Device.id, Device.kind)).all()
    devices_networked = {m.device_id for m in meters if m.id in reporting_ids and m.device_id is not None}
    meters_networked = sum(1 for m in meters if m.id in reporting_ids)
    figures["devices_total"] = len(devices) + len(meters)
    figures["devices_networked"] = len(devices_networked) + meters_networked
    notes["devices_total"] = f"{len(devices)} devices + {len(meters)} meters registered"
    notes["devices_networked"] = (
        f"{len(devices_networked)} devices and {meters_networked} meters with readings in {year}"
    )

    enterprises = set(s.scalars(select(Enterprise.id)).all())
    figures["enterprises_total"] = len(enterprises)
    notes["enterprises_total"] = f"{len(enterprises)} enterprises registered"
    with_readings = {m.enterprise_id for m in meters if m.id in reporting_ids and m.enterprise_id is not None}
    figures["enterprises_standard_protocol"] = len(with_readings & enterprises)
    notes["enterprises_standard_protocol"] = (
        f"{len(with_readings & enterprises)} enterprises whose meters delivered readings in {year} through the "
        "platform's connectors (MQTT, OPC UA, Modbus TCP, HJ 212, REST)"
    )
    with_stats = set(s.scalars(select(Statistic.enterprise_id).distinct().where(Statistic.period.like(f"{year}%"))))
    with_runs = set(
        s.scalars(
            select(AccountingRun.enterprise_id)
            .distinct()
            .where(AccountingRun.period.like(f"{year}%"), AccountingRun.enterprise_id.is_not(None))
        )
    )
    on_platform = (with_readings | with_stats | with_runs) & enterprises
    figures["enterprises_on_platform"] = len(on_platform)
    notes["enterprises_on_platform"] = (
        f"{len(on_platform)} enterprises with readings, statistics or an accounting run of {year}"
    )

    ids = identifier_statistics(s, year)
    figures["enterprises_with_identifier_node"] = ids.enterprises_with_node
    figures["identifiers_registered"] = ids.registered
    figures["identifier_active_users"] = ids.active_users
    figures["identifier_resolutions"] = ids.resolutions
    notes["identifiers_registered"] = (
        f"identifier tables of {year}: {ids.enterprises_with_node} enterprise nodes, {ids.registered} registered, "
        f"{ids.active_users} active users, {ids.resolutions} resolutions"
    )

    run = _park_run(s, year)
    if run is not None:
        summary = run.summary or {}
        coefficient, coeff_source = _kgce_per_kwh(run)
        clean_kinds = [d.id for d in devices if d.kind in CLEAN_GENERATION_KINDS]
        generation_kwh = 0.0
        if clean_kinds:
            gen_meters = [m.id for m in meters if m.device_id in clean_kinds]
            if gen_meters:
                generation_kwh = float(
                    s.scalar(
                        select(func.coalesce(func.sum(Reading.value), 0.0)).where(
                            Reading.meter_id.in_(gen_meters), Reading.ts_ms >= start, Reading.ts_ms < end
                        )
                    )
                    or 0.0
                )
        clean_tce = generation_kwh * coefficient / 1000
        run_tce = float(summary.get("energy_tce", 0.0))
        figures["energy_clean_tce"] = clean_tce
        figures["energy_total_tce"] = run_tce + clean_tce
        notes["energy_clean_tce"] = (
            f"{generation_kwh:.6g} kWh metered on {len(clean_kinds)} clean generation devices × {coefficient:g} "
            f"kgce/kWh ({coeff_source}) = {clean_tce:.6g} tce"
        )
        notes["energy_total_tce"] = (
            f"park accounting run {year}: {run_tce:.6g} tce comprehensive energy + {clean_tce:.6g} tce own clean "
            "generation"
        )
        figures["emissions_tco2e"] = float(summary.get("total_tco2e", 0.0))
        notes["emissions_tco2e"] = f"park accounting run {year}: total {figures['emissions_tco2e']:.6g} tCO2e"
        figures["carbon_data_platform"] = True
        notes["carbon_data_platform"] = f"accounting run of the park for {year} stored (run id {run.id})"
    previous = _park_run(s, year - 1)
    if previous is not None:
        figures["emissions_previous_tco2e"] = float((previous.summary or {}).get("total_tco2e", 0.0))
        notes["emissions_previous_tco2e"] = f"park accounting run {year - 1}"

    latest = (
        select(InventoryVersion.enterprise_id, InventoryVersion.status, InventoryVersion.version)
        .where(InventoryVersion.year == year, InventoryVersion.enterprise_id.is_not(None))
        .order_by(InventoryVersion.enterprise_id, InventoryVersion.version)
    )
    newest: dict[int, str] = {}
    for ent, status, _version in s.execute(latest).all():
        if ent is not None:
            newest[ent] = status
    completed = sorted(e for e, st in newest.items() if st in FROZEN and e in enterprises)
    figures["enterprises_inventory_completed"] = len(completed)
    notes["enterprises_inventory_completed"] = (
        f"{len(completed)} enterprises whose newest {year} inventory is {' or '.join(FROZEN)}"
    )

    stats = _statistics(s, year)
    before = _statistics(s, year - 1)
    three = _statistics(s, year - 3)
    for figure, metric, stats_of, label in (
        ("gdp_10k_cny", "value_added", stats, year),
        ("gdp_previous_10k_cny", "value_added", before, year - 1),
        ("output_10k_cny", "gross_output_value", stats, year),
        ("output_3_years_ago_10k_cny", "gross_output_value", three, year - 3),
        ("employees", "employees", stats, year),
        ("employees_previous", "employees", before, year - 1),
    ):
        if stats_of.get(metric):
            figures[figure] = stats_of[metric]
            notes[figure] = f"Σ statistics '{metric}' of {label} = {stats_of[metric]:.6g}"
    return figures, notes


def evaluate_stored(
    db: str | None,
    year: int,
    *,
    entered: Iterable[IndicatorInput] = (),
    weights: WeightSet | None = None,
    thresholds: Mapping[int, ThresholdOverride] | None = None,
) -> StoredEvaluation:
    """Score the park of ``db`` for ``year``: platform-computed indicators completed by ``entered`` values.

    Raises
    ------
    NotFoundError
        When the store has nothing of the year (no readings, statistics or accounting run).

    References
    ----------
    Guide §5, formulas (9) and (10); issue 11 item 4.
    """
    if not 1900 <= year <= 2200:
        raise ValidationError("year", "a calendar year such as 2025", year)
    with session(db) as s:
        figures, notes = platform_figures(s, year)
    if not figures.get("devices_networked") and "gdp_10k_cny" not in figures and "emissions_tco2e" not in figures:
        raise NotFoundError("park data of the year", str(year))
    derived = evaluate.indicators_from_platform(figures)
    entered_list = list(entered)
    merged = evaluate.merge_inputs(derived.values, entered_list)
    result = evaluate.evaluate(merged, weights=weights, thresholds=thresholds)
    return StoredEvaluation(
        year=year,
        evaluation=result,
        figures=figures,
        notes=notes,
        skipped=derived.skipped,
        platform_ids=tuple(v.id for v in derived.values),
        entered_ids=tuple(sorted(v.id for v in entered_list)),
    )


def compare_years(
    db: str | None,
    years: Sequence[int],
    *,
    entered: Mapping[int, Iterable[IndicatorInput]] | None = None,
    weights: WeightSet | None = None,
) -> evaluate.Comparison:
    """The park's evaluations of several years against the first (diagnosis: comparison across years)."""
    runs = [
        (str(y), evaluate_stored(db, y, entered=(entered or {}).get(y, ()), weights=weights).evaluation) for y in years
    ]
    return evaluate.compare(runs)


def demo_step(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """The demo's evaluation: platform indicators from the store + the demo's entered values, zh/en HTML.

    (The PDF with the platform-figure table is ``carbonpark evaluate --year Y --report FILE.pdf``: services
    may not import the reports layer.)
    """
    stored = evaluate_stored(db, year, entered=evaluate.demo_entered_values())
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in ("zh", "en"):
        path = out / f"evaluation-{lang}.html"
        title = f"{year} 年园区评价诊断报告" if lang == "zh" else f"Park evaluation and diagnosis, {year}"
        path.write_text(evaluate.render_html(stored.evaluation, lang, title), encoding="utf-8")
        written.append(str(path))
    weak = evaluate.weakest(stored.evaluation, 3)
    return {
        "score": round(float(stored.evaluation.score), 2),
        "indicators_from_platform": len(stored.platform_ids),
        "platform_ids": list(stored.platform_ids),
        "missing": len(stored.evaluation.missing),
        "weakest": [f"{w.id} {w.name_en} (+{w.gain_available:.2f})" for w in weak],
        "output": written[0],
        "outputs": written,
    }
