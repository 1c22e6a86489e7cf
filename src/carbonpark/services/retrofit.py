"""Retrofit planning, carbon evaluation, admission checks and ratings over the store (碳改造、碳评价).

Everything here reads the stored accounting runs of a year (the accounting engine's results) and a plan
document (YAML, layout in docs/retrofit.md):

- :func:`source_baselines` gives every stored emission source's yearly use by energy carrier and its
  emission factor per carrier unit (tCO2e of its records / their activity amount), annualised when the
  year's data cover fewer than twelve months (× 12 / months covered, said in the note);
- :func:`stored_projects` applies catalogue measures to those sources
  (:func:`carbonpark.retrofit.project_from_measure`);
- :func:`plan_stored` draws the MACC and selects the MILP portfolio;
- :func:`rate_stored` grades every enterprise (碳效码) with the reasons, the industry structure and a
  capacity-utilisation warning per industry;
- :func:`carbon_evaluation` compares the park before and after the portfolio, with region and national
  benchmarks, the achievability of the intensity target, the share of the city's total and the effect on
  the city's peak, and an acceptability conclusion in words (zh-CN and English);
- :func:`admission_stored` checks a candidate enterprise against the park's stored targets.

References
----------
Guide §7.4 (碳改造), §7.5 (碳评价: 项目实施前后对比, 区域与行业横向对比, 强度目标可达性, 占全市比重, 对区域达峰的影响,
可接受结论), §3.2.2(1) (碳效率评价), §1.3.2 (产能过剩分析和预警); SPEC C15, C16; issue 13 items 2-4.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from carbonpark import retrofit
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.retrofit.projects import to_decimal
from carbonpark.services.activity import park_timezone
from carbonpark.services.evaluation import yearly_statistics
from carbonpark.store import session
from carbonpark.store.registry import resolve, the_park
from carbonpark.store.schema import EmissionSource, Enterprise
from carbonpark.store.schema_accounting import AccountingRun, EmissionRecord
from carbonpark.store.schema_targets import CarbonTarget

__all__ = [
    "DEMO_PLAN",
    "admission_stored",
    "carbon_evaluation",
    "demo_step",
    "growth_paths",
    "load_benchmarks",
    "load_plan",
    "park_year",
    "plain",
    "plan_stored",
    "rate_stored",
    "source_baselines",
    "stored_projects",
    "verify_savings_stored",
]

DEMO_PLAN = "demo-retrofit.yaml"
DEMO_TARGETS = "demo-targets.yaml"

#: Stored activity → catalogue carrier.
_CARRIER_OF_ACTIVITY = {
    "purchased_electricity": "electricity",
    "grid_electricity": "electricity",
    "natural_gas": "natural_gas",
}


def load_plan(path: Path | str | None = None) -> dict[str, Any]:
    """The plan document of ``path`` (YAML), or the demo park's packaged plan."""
    if path is None:
        text = (resources.files("carbonpark.services") / "data" / DEMO_PLAN).read_text(encoding="utf-8")
        where = DEMO_PLAN
    else:
        text, where = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(where, "valid YAML", str(exc).splitlines()[0]) from None
    if not isinstance(doc, Mapping):
        raise ValidationError(where, "a mapping with discount_rate, prices_cny, projects …", type(doc).__name__)
    return dict(doc)


@lru_cache(maxsize=1)
def load_benchmarks() -> dict[str, Any]:
    """The packaged national benchmarks with their sources (``retrofit/data/benchmarks-cn-nbs.yaml``)."""
    text = (resources.files("carbonpark.retrofit") / "data" / "benchmarks-cn-nbs.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def _park_run(s: Session, year: int) -> AccountingRun:
    run = s.scalars(select(AccountingRun).where(AccountingRun.org == "park", AccountingRun.period == str(year))).first()
    if run is None:
        raise NotFoundError("park accounting run", f"{year} (run `carbonpark account --org park --period {year}`)")
    return run


def _months_covered(s: Session, run: AccountingRun) -> int:
    """Distinct months with emission records in the run (1-12)."""
    from carbonpark.times import from_ms

    tz = park_timezone(s)
    starts = s.scalars(select(EmissionRecord.start_ms).where(EmissionRecord.run_id == run.id).distinct()).all()
    months = {from_ms(ms, tz).strftime("%Y-%m") for ms in starts}
    return max(1, min(12, len(months)))


def source_baselines(s: Session, year: int) -> dict[int, dict[str, Any]]:
    """Yearly use and emission factor of every stored source with energy records in the park's run of ``year``.

    Returns
    -------
    dict
        Source id → ``{"enterprise_id", "activity", "carrier", "use" [carrier unit/yr], "unit",
        "tco2e" [tCO2e/yr], "factor" [tCO2e per carrier unit], "annualised" (× factor), "note"}``.
        Natural gas is turned into GJ with the NCV the accounting engine used (record factors).
    """
    run = _park_run(s, year)
    scale = 12 / _months_covered(s, run)
    records = s.scalars(select(EmissionRecord).where(EmissionRecord.run_id == run.id)).all()
    seen_datum: set[tuple[int | None, int | None, int]] = set()
    out: dict[int, dict[str, Any]] = {}
    for rec in records:
        carrier = _CARRIER_OF_ACTIVITY.get(rec.activity)
        if carrier is None or rec.source_id is None:
            continue
        row = out.setdefault(
            rec.source_id,
            {
                "enterprise_id": rec.enterprise_id,
                "activity": rec.activity,
                "carrier": carrier,
                "use": 0.0,
                "unit": retrofit.catalogue.CARRIER_UNITS[carrier],
                "tco2e": 0.0,
            },
        )
        row["tco2e"] += rec.mass_t * rec.gwp * scale
        key = (rec.activity_datum_id, rec.source_id, rec.start_ms)
        if key in seen_datum:
            continue
        seen_datum.add(key)
        amount = rec.activity_amount
        if carrier == "natural_gas":
            ncv = next((f for f in rec.factors or [] if f.get("parameter") == "ncv"), None)
            if ncv is None or "10^4 Nm3" not in str(ncv.get("unit")) or rec.activity_unit != "Nm3":
                raise ValidationError(
                    f"source {rec.source_id} natural gas", "Nm3 with an NCV in GJ/10^4 Nm3 in its record", rec.factors
                )
            amount = amount * float(ncv["value"]) / 1e4
        elif rec.activity_unit != "kWh":
            raise ValidationError(f"source {rec.source_id} electricity", "kWh", rec.activity_unit)
        row["use"] += amount * scale
    for row in out.values():
        row["factor"] = row["tco2e"] / row["use"] if row["use"] > 0 else 0.0
        row["annualised"] = scale
        row["note"] = f"park accounting run {year}: {row['use']:.6g} {row['unit']}/yr, {row['tco2e']:.6g} tCO2e/yr" + (
            f" (annualised × {scale:g})" if scale != 1 else ""
        )
    return out


def _source_of(s: Session, item: Mapping[str, Any], where: str) -> EmissionSource:
    if item.get("source") is not None:
        return resolve(s, EmissionSource, item["source"])
    if item.get("enterprise") is None or item.get("activity") is None:
        raise ValidationError(where, "'source' (id or handle), or 'enterprise' and 'activity'", dict(item))
    ent = resolve(s, Enterprise, item["enterprise"])
    src = s.scalars(
        select(EmissionSource).where(
            EmissionSource.enterprise_id == ent.id, EmissionSource.activity == str(item["activity"])
        )
    ).first()
    if src is None:
        raise NotFoundError("emission source", f"{item['activity']} of {ent.name}")
    return src


def stored_projects(s: Session, year: int, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Projects of ``plan`` applied to stored sources and costed (catalogue model + accounting factors).

    Each plan row: ``id, measure, size`` and ``source`` or ``enterprise`` + ``activity``; optional
    ``share_of_source`` (the part of the source's use feeding the affected equipment, default 1),
    ``name, owner, start_year``. Prices come from ``plan["prices_cny"]``.

    Returns
    -------
    list of dict
        ``{"project": Project, "source", "enterprise", "baseline", "energy_saved", "factors", "note"}``.
    """
    catalogue = retrofit.load_catalogue(str(plan.get("catalogue", retrofit.catalogue.DEFAULT_CATALOGUE)))
    prices = {str(k): to_decimal(v, f"prices_cny.{k}") for k, v in (plan.get("prices_cny") or {}).items()}
    bases = source_baselines(s, year)
    by_enterprise: dict[int | None, dict[str, float]] = defaultdict(dict)
    park_factor: dict[str, tuple[float, float]] = {}
    for row in bases.values():
        t, u = park_factor.get(row["carrier"], (0.0, 0.0))
        park_factor[row["carrier"]] = (t + row["tco2e"], u + row["use"])
        by_enterprise[row["enterprise_id"]][row["carrier"]] = row["factor"]
    rows = plan.get("projects")
    if not isinstance(rows, list) or not rows:
        raise ValidationError("projects", "a non-empty list of projects", rows)
    out = []
    for i, item in enumerate(rows):
        where = f"projects[{i}]"
        if not isinstance(item, Mapping) or not item.get("id") or not item.get("measure"):
            raise ValidationError(where, "a mapping with id, measure, size and a source", item)
        measure = catalogue.get(str(item["measure"]))
        if measure is None:
            raise ValidationError(f"{where}.measure", f"one of {sorted(catalogue)}", item["measure"])
        src = _source_of(s, item, where)
        base = bases.get(src.id)
        if base is None:
            raise ValidationError(f"{where}.source", "a source with electricity or gas records in the run", src.handle)
        share = float(item.get("share_of_source", 1.0))
        if not 0 < share <= 1:
            raise ValidationError(f"{where}.share_of_source", "a fraction in (0, 1]", share)
        factors = {c: (t / u if u else 0.0) for c, (t, u) in park_factor.items()}
        factors.update(by_enterprise.get(src.enterprise_id, {}))
        factors[base["carrier"]] = base["factor"]
        derived = retrofit.project_from_measure(
            measure,
            project_id=str(item["id"]),
            size=float(item.get("size", 0)),
            baseline={base["carrier"]: base["use"] * share},
            prices_cny=prices,
            emission_factors_tco2e=factors,
            name=item.get("name") or f"{measure.name_zh} {measure.name_en}",
            owner=item.get("owner"),
            start_year=item.get("start_year"),
        )
        out.append(
            {
                "project": derived.project,
                "source": src.handle,
                "enterprise_id": src.enterprise_id,
                "baseline": {base["carrier"]: base["use"] * share},
                "energy_saved": derived.energy_saved,
                "emissions_saved_tco2e": derived.emissions_saved_by_carrier_tco2e,
                "factors": {c: factors[c] for c in derived.energy_saved},
                "note": f"{base['note']}; share {share:g} of the source",
            }
        )
    return out


def plan_stored(
    db: str | None,
    year: int,
    plan: Mapping[str, Any],
    *,
    budget: Decimal | None = None,
    target_tco2e: Decimal | None = None,
) -> dict[str, Any]:
    """MACC and the MILP portfolio of the plan's projects on the stored sources of ``year``.

    Returns the ``retrofit plan --json`` keys (``macc`` ascending cost, ``selected``,
    ``total_abatement_tco2e``, ``total_capex``) plus ``projects`` with their baselines and factors.
    """
    with session(db) as s:
        applied = stored_projects(s, year, plan)
    rate = to_decimal(plan.get("discount_rate", 0), "discount_rate")
    projects = [a["project"] for a in applied]
    if budget is None and target_tco2e is None and plan.get("budget_cny") is not None:
        budget = to_decimal(plan["budget_cny"], "budget_cny")
    curve = retrofit.marginal_abatement_cost_curve(projects, rate)
    portfolio = retrofit.select_portfolio(projects, rate, budget, target_tco2e)
    return {
        "year": year,
        "discount_rate": rate,
        "macc": [
            {
                "id": e.id,
                "name": e.name,
                "cost_per_tco2e": e.cost_per_tco2e,
                "annual_abatement_tco2e": e.annual_abatement_tco2e,
                "cumulative_abatement_tco2e": e.cumulative_abatement_tco2e,
                "annualised_cost": e.annualised_cost,
                "capex": e.capex,
            }
            for e in curve
        ],
        "selected": portfolio.selected,
        "objective": portfolio.objective,
        "total_abatement_tco2e": portfolio.total_abatement_tco2e,
        "total_capex": portfolio.total_capex,
        "total_annualised_cost": portfolio.total_annualised_cost,
        "budget": portfolio.budget,
        "target_tco2e": portfolio.target_tco2e,
        "projects": [
            {
                "id": a["project"].id,
                "name": a["project"].name,
                "measure": a["project"].measure,
                "owner": a["project"].owner,
                "start_year": a["project"].start_year,
                "source": a["source"],
                "capex": a["project"].capex,
                "annual_opex": a["project"].annual_opex,
                "annual_savings": a["project"].annual_savings,
                "annual_abatement_tco2e": a["project"].annual_abatement_tco2e,
                "lifetime_years": a["project"].lifetime_years,
                "baseline": a["baseline"],
                "energy_saved": a["energy_saved"],
                "factors_tco2e_per_unit": a["factors"],
                "note": a["note"],
            }
            for a in applied
        ],
    }


def _industry(code: str) -> str:
    """The 2-digit industry division of a GB/T 4754 code (``C2661`` → ``C26``)."""
    return code[:3] if len(code) >= 3 else code


def _enterprise_shares(s: Session, run: AccountingRun) -> tuple[dict[int | None, float], dict[int | None, float]]:
    """Emissions [tCO2e] and energy [tce] of the park's run split by enterprise (records and energy lines)."""
    emissions: dict[int | None, float] = defaultdict(float)
    for ent_id, tco2e in s.execute(
        select(EmissionRecord.enterprise_id, EmissionRecord.tco2e).where(EmissionRecord.run_id == run.id)
    ).all():
        emissions[ent_id] += float(tco2e)
    owner = {h: e for h, e in s.execute(select(EmissionSource.handle, EmissionSource.enterprise_id)).all()}
    energy: dict[int | None, float] = defaultdict(float)
    for line in (run.summary or {}).get("energy", []) or []:
        energy[owner.get(line.get("source"))] += float(line.get("tce", 0.0))
    return emissions, energy


def park_year(s: Session, year: int) -> dict[str, Any]:
    """Annualised figures of the park and each enterprise for ``year`` from the park's stored run and statistics.

    Every enterprise's emissions and energy are its share of the park's run (its emission records and
    energy lines), so they add up to the park's figures whether or not the enterprise was accounted on its
    own. Statistics: :func:`carbonpark.services.evaluation.yearly_statistics` (a yearly row as it is;
    monthly flows annualised × 12 / months reported; money in 10^4 CNY).
    """
    run = _park_run(s, year)
    scale = 12 / _months_covered(s, run)
    ents = s.scalars(select(Enterprise).order_by(Enterprise.id)).all()
    emissions, energy = _enterprise_shares(s, run)
    stats = yearly_statistics(s, year)
    rows = []
    for e in ents:
        mine = {m: row for (i, m), row in stats.items() if i == e.id}
        outputs = {m: row for m, row in mine.items() if m.startswith("output:")}
        va = mine.get("value_added")
        rows.append(
            {
                "id": e.handle or str(e.id),
                "name": e.name,
                "industry": _industry(e.industry_code),
                "industry_code": e.industry_code,
                "emissions_tco2e": emissions.get(e.id, 0.0) * scale,
                "energy_tce": energy.get(e.id, 0.0) * scale,
                "value_added_10k_cny": 0.0 if va is None else va["value"] * 12 / va["months"],
                "output": sum(r["value"] * 12 / r["months"] for r in outputs.values()),
                "output_unit": next((r["unit"] for r in outputs.values()), ""),
            }
        )
    summary = run.summary or {}
    park = {
        "emissions_tco2e": float(summary.get("total_tco2e", 0.0)) * scale,
        "energy_tce": float(summary.get("energy_tce", 0.0)) * scale,
        "value_added_10k_cny": sum(r["value_added_10k_cny"] for r in rows),
    }
    return {"year": year, "annualised_by": scale, "park": park, "enterprises": rows}


def rate_stored(db: str | None, year: int, plan: Mapping[str, Any]) -> dict[str, Any]:
    """Carbon-efficiency grade of every enterprise, the industry structure and overcapacity warnings.

    ``plan["enterprises"]`` gives land [mu] and capacity [output unit/yr] per enterprise name;
    ``plan["industry_benchmarks"]`` [tCO2e/10^4 CNY] per 2-digit industry (else the park's pooled average);
    ``plan["overcapacity_threshold"]`` (default 0.75) the utilisation below which an industry is flagged.

    References
    ----------
    Guide §3.2.2(1), §1.3.2; provincial 碳效码 method (``retrofit/data/carbon-efficiency-zhejiang-style.yaml``).
    """
    with session(db) as s:
        figures = park_year(s, year)
    extra = plan.get("enterprises") or {}
    benchmarks = {str(k): float(v) for k, v in (plan.get("industry_benchmarks") or {}).items()}
    threshold = float(plan.get("overcapacity_threshold", 0.75))
    years = []
    for e in figures["enterprises"]:
        if e["value_added_10k_cny"] <= 0:
            continue
        land = (extra.get(e["name"]) or {}).get("land_mu")
        years.append(
            retrofit.EnterpriseYear(
                e["id"],
                e["industry"],
                e["emissions_tco2e"],
                e["value_added_10k_cny"],
                energy_tce=e["energy_tce"],
                land_mu=None if land is None else float(land),
            )
        )
    ratings = retrofit.rate_enterprises(years, benchmarks)
    names = {e["id"]: e["name"] for e in figures["enterprises"]}
    structure: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in figures["enterprises"]:
        cap = (extra.get(e["name"]) or {}).get("capacity")
        row = structure[e["industry"]]
        row["emissions_tco2e"] += e["emissions_tco2e"]
        row["value_added_10k_cny"] += e["value_added_10k_cny"]
        row["energy_tce"] += e["energy_tce"]
        if cap:
            row["output"] += e["output"]
            row["capacity"] += float(cap)
    total_e = sum(r["emissions_tco2e"] for r in structure.values()) or 1.0
    total_v = sum(r["value_added_10k_cny"] for r in structure.values()) or 1.0
    industries = []
    warnings = []
    for ind, row in sorted(structure.items()):
        utilisation = row["output"] / row["capacity"] if row.get("capacity") else None
        item = {
            "industry": ind,
            "emissions_tco2e": row["emissions_tco2e"],
            "value_added_10k_cny": row["value_added_10k_cny"],
            "emission_share": row["emissions_tco2e"] / total_e,
            "value_added_share": row["value_added_10k_cny"] / total_v,
            "intensity_tco2e_per_10k_cny": (
                row["emissions_tco2e"] / row["value_added_10k_cny"] if row["value_added_10k_cny"] else None
            ),
            "capacity_utilisation": utilisation,
            "overcapacity": utilisation is not None and utilisation < threshold,
        }
        industries.append(item)
        if item["overcapacity"]:
            warnings.append(
                f"{ind}: capacity utilisation {utilisation:.0%} < {threshold:.0%} (产能利用率低于预警线, 产能过剩风险)"
            )
    return {
        "year": year,
        "annualised_by": figures["annualised_by"],
        "ratings": [
            {**r.__dict__, "name": names.get(r.id, r.id)}  # dataclass fields + the enterprise's name
            for r in ratings
        ],
        "industries": industries,
        "overcapacity_threshold": threshold,
        "warnings": warnings,
    }


def _targets_of_year(s: Session, year: int) -> dict[str, Any]:
    park = the_park(s)
    row = s.scalars(select(CarbonTarget).where(CarbonTarget.org_handle.in_(["park", park.handle or ""]))).first()
    if row is None:
        return {}
    return {
        "cap_total_tco2e": (row.caps_tco2e or {}).get(str(year)),
        "intensity_caps": {int(k): float(v) for k, v in (row.intensity_caps or {}).items()},
        "peak_year": row.peak_year,
        "peak_tco2e": row.peak_tco2e,
    }


def growth_paths(db: str | None, year: int, plan: Mapping[str, Any], years: list[int]) -> dict[str, Any]:
    """Growth factors of the park's emissions and value added from ``year`` to each of ``years``.

    Preferred: the forecasting capability (:func:`carbonpark.services.forecasting.park_peak`): its scenario
    ``plan["forecast_scenario"]`` (default ``business_as_usual``, energy by the elasticity method from the
    stored intakes, emissions by formula (8)) gives ``r_E(t) = tCO2(t) / tCO2(year)`` with its low and high band,
    and its output-value growth path gives ``r_V(t) = Π (1 + g_y)``. The plan's own projects are subtracted
    by the caller, so the scenario without projects is the right baseline (no double counting).
    Fallback, said in ``basis``: ``plan["growth"]`` rates, ``(1 + g)^n`` (no band), when the plan asks for it
    (``growth_basis: plan``) or the store has no intake series to forecast from.

    Returns
    -------
    dict
        ``{"basis": str, "emissions": {t: (central, low, high)}, "value_added": {t: factor}}``.
    """
    growth = plan.get("growth") or {}
    g_v, g_e = float(growth.get("value_added", 0.0)), float(growth.get("emissions", 0.0))
    fallback: dict[str, Any] = {
        "basis": f"plan growth rates: emissions {g_e:+.1%}/yr, value added {g_v:+.1%}/yr",
        "emissions": {t: ((1 + g_e) ** (t - year),) * 3 for t in years},
        "value_added": {t: (1 + g_v) ** (t - year) for t in years},
    }
    if plan.get("growth_basis") == "plan" or not years:
        return fallback
    from carbonpark.services.forecasting import park_peak

    try:
        peak = park_peak(db, until=max(max(years), year + 1))
    except (ValidationError, NotFoundError) as exc:
        fallback["basis"] += f" (no forecast from the store: {exc})"
        return fallback
    name = str(plan.get("forecast_scenario", "business_as_usual"))
    scenario = next((sc for sc in peak["scenarios"] if sc["name"] == name), None)
    if scenario is None:
        raise ValidationError("forecast_scenario", f"one of {[sc['name'] for sc in peak['scenarios']]}", name)
    path = {int(row["year"]): row for row in scenario["path"]}
    if year not in path:
        fallback["basis"] += f" (the forecast starts in {peak['base_year']}, not {year})"
        return fallback
    base = path[year]["tco2"]
    growth_by_year = {int(k): float(v) for k, v in peak["output_growth"].items()}

    def rate(y: int) -> float:
        eligible = [b for b in growth_by_year if b <= y]
        return growth_by_year[max(eligible)] if eligible else growth_by_year[min(growth_by_year)]

    value_added = {}
    for t in years:
        factor = 1.0
        for y in range(year + 1, t + 1):
            factor *= 1 + rate(y)
        value_added[t] = factor
    return {
        "basis": (
            f"forecast scenario {name} (base year {peak['base_year']}, {min(peak['days_observed'].values())} days "
            f"observed; energy elasticity {peak['elasticity']['low']}-{peak['elasticity']['high']} of output value "
            f"growing {growth_by_year})"
        ),
        "emissions": {t: (path[t]["tco2"] / base, path[t]["tco2_lo"] / base, path[t]["tco2_hi"] / base) for t in years},
        "value_added": value_added,
    }


def carbon_evaluation(db: str | None, year: int, plan: Mapping[str, Any], planned: Mapping[str, Any]) -> dict[str, Any]:
    """§7.5 carbon evaluation of the selected portfolio on the park, with a conclusion in words.

    Parameters
    ----------
    planned
        The :func:`plan_stored` document (its ``selected`` projects are evaluated).

    Notes
    -----
    Achievability: for every year ``t`` with an intensity cap, the projected intensity is
    ``(E·r_E(t) − Σ abatement of selected projects started by then) / (V·r_V(t))`` with ``E``, ``V`` the
    annualised emissions and value added of ``year``; achievable when it is at or under the cap.
    ``r_E``, ``r_V`` (growth factors from ``year``) come from :func:`growth_paths`: the forecasting
    capability's park projection when the store allows one, else ``plan["growth"]`` rates.
    """
    with session(db) as s:
        figures = park_year(s, year)
        targets = _targets_of_year(s, year)
    park = figures["park"]
    e0, v0, en0 = park["emissions_tco2e"], park["value_added_10k_cny"], park["energy_tce"]
    if v0 <= 0:
        raise ValidationError("value_added", "the park's value added of the year > 0", v0)
    selected = set(planned["selected"])
    projects = [p for p in planned["projects"] if p["id"] in selected]
    abatement = sum(float(p["annual_abatement_tco2e"]) for p in projects)
    before = {"emissions_tco2e": e0, "intensity_tco2e_per_10k_cny": e0 / v0, "energy_intensity": en0 / v0}
    after = {"emissions_tco2e": e0 - abatement, "intensity_tco2e_per_10k_cny": (e0 - abatement) / v0}
    paths = growth_paths(db, year, plan, [c for c in (targets.get("intensity_caps") or {}) if c >= year])
    achievability = []
    for cap_year, cap in sorted((targets.get("intensity_caps") or {}).items()):
        if cap_year < year:
            continue
        cut = sum(float(p["annual_abatement_tco2e"]) for p in projects if (p["start_year"] or year) <= cap_year)
        r_e, r_e_lo, r_e_hi = paths["emissions"][cap_year]
        r_v = paths["value_added"][cap_year]
        projected = (e0 * r_e - cut) / (v0 * r_v)
        projected_high = (e0 * r_e_hi - cut) / (v0 * r_v)
        achievability.append(
            {
                "year": cap_year,
                "cap": cap,
                "projected": projected,
                "projected_low": (e0 * r_e_lo - cut) / (v0 * r_v),
                "projected_high": projected_high,
                "achievable": projected <= cap,
                "achievable_in_high_case": projected_high <= cap,
                "margin": cap - projected,
                "abatement_counted_tco2e": cut,
                "emissions_growth_factor": r_e,
                "value_added_growth_factor": r_v,
            }
        )
    national = load_benchmarks()
    region = plan.get("region") or {}
    benchmarks = {
        "national_energy_intensity_tce_per_10k_cny": national["energy_intensity_tce_per_10k_cny"],
        "national_source": national["source"],
        "region": dict(region),
        "park_energy_intensity_tce_per_10k_cny": en0 / v0,
    }
    city = plan.get("city") or {}
    city_part: dict[str, Any] = {}
    if city.get("emissions_tco2e"):
        city_part["share_before"] = e0 / float(city["emissions_tco2e"])
        city_part["share_after"] = (e0 - abatement) / float(city["emissions_tco2e"])
    if city.get("peak_tco2e"):
        city_part["effect_on_peak"] = -abatement / float(city["peak_tco2e"])
    ok = bool(achievability) and all(a["achievable"] for a in achievability)
    next_cap = achievability[0] if achievability else None
    if next_cap is None:
        zh = (
            f"园区无强度目标可对照;组合年减排 {abatement:,.0f} tCO2e,强度由 "
            f"{before['intensity_tco2e_per_10k_cny']:.3g} 降至 {after['intensity_tco2e_per_10k_cny']:.3g} t/万元。"
        )
        en = f"No intensity target to judge against; the portfolio abates {abatement:,.0f} tCO2e/yr."
    else:
        failed = [str(a["year"]) for a in achievability if not a["achievable"]]
        verdict_zh = "可接受:各年度强度目标均可达" if ok else f"不可接受:{'、'.join(failed)} 年强度目标不可达"
        verdict_en = (
            "acceptable: every intensity target is reachable"
            if ok
            else f"not acceptable: the intensity target of {', '.join(failed)} is out of reach"
        )
        zh = (
            f"{verdict_zh}。组合年减排 {abatement:,.0f} tCO2e,园区强度由 {before['intensity_tco2e_per_10k_cny']:.3g} "
            f"降至 {after['intensity_tco2e_per_10k_cny']:.3g} t/万元;{next_cap['year']} 年预计 "
            f"{next_cap['projected']:.3g}(目标 {next_cap['cap']:.3g})。"
        )
        en = (
            f"{verdict_en}. The portfolio abates {abatement:,.0f} tCO2e/yr; the park's intensity goes from "
            f"{before['intensity_tco2e_per_10k_cny']:.3g} to {after['intensity_tco2e_per_10k_cny']:.3g} t/10^4 CNY; "
            f"{next_cap['year']} projected {next_cap['projected']:.3g} against the cap {next_cap['cap']:.3g}."
        )
    if "share_before" in city_part:
        zh += f" 占全市排放 {city_part['share_before']:.2%} → {city_part['share_after']:.2%}。"
        en += f" Share of the city's emissions {city_part['share_before']:.2%} → {city_part['share_after']:.2%}."
    return {
        "year": year,
        "annualised_by": figures["annualised_by"],
        "projects": sorted(selected),
        "abatement_tco2e": abatement,
        "before": before,
        "after": after,
        "benchmarks": benchmarks,
        "achievability": achievability,
        "achievability_basis": paths["basis"],
        "city": city_part,
        "acceptable": ok,
        "conclusion": {"zh": zh, "en": en},
    }


def admission_stored(
    db: str | None, year: int, candidate: Mapping[str, Any], plan: Mapping[str, Any]
) -> dict[str, Any]:
    """Admission check (招商引资模拟核算) of ``candidate`` on the park's annualised ``year`` and stored targets.

    ``candidate``: ``name, emissions_tco2e, value_added_10k_cny`` [tCO2e/yr, 10^4 CNY/yr], optional
    ``energy_tce``, ``industry`` (graded against ``plan["industry_benchmarks"]``).
    """
    for key in ("name", "emissions_tco2e", "value_added_10k_cny"):
        if candidate.get(key) in (None, ""):
            raise ValidationError(f"candidate.{key}", "a value", candidate.get(key))
    with session(db) as s:
        figures = park_year(s, year)
        targets = _targets_of_year(s, year)
    park = figures["park"]
    benchmarks = {str(k): float(v) for k, v in (plan.get("industry_benchmarks") or {}).items()}
    industry = candidate.get("industry")
    result = retrofit.admission_check(
        str(candidate["name"]),
        retrofit.ParkFigures(
            float(candidate["emissions_tco2e"]),
            float(candidate["value_added_10k_cny"]),
            float(candidate.get("energy_tce", 0.0)),
        ),
        retrofit.ParkFigures(park["emissions_tco2e"], park["value_added_10k_cny"], park["energy_tce"]),
        retrofit.ParkTargets(
            cap_total_tco2e=targets.get("cap_total_tco2e"),
            cap_intensity_tco2e_per_10k_cny=(targets.get("intensity_caps") or {}).get(year),
        ),
        industry=None if industry is None else str(industry),
        industry_benchmark=benchmarks.get(str(industry)) if industry is not None else None,
    )
    doc = {
        "year": year,
        "annualised_by": figures["annualised_by"],
        "candidate": result.candidate,
        "admissible": result.admissible,
        "checks": [c.__dict__ for c in result.checks],
        "candidate_intensity": result.candidate_intensity,
        "park_intensity_before": result.park_intensity_before,
        "park_intensity_after": result.park_intensity_after,
        "grade": result.grade,
        "conclusion": result.conclusion,
    }
    if not result.checks:
        doc["conclusion"] += " (no stored caps for the year: nothing to check against)"
    return doc


def plain(doc: Any) -> Any:
    """``doc`` with Decimals as floats, tuples as lists and non-finite floats as None (JSON-ready)."""
    if isinstance(doc, Decimal):
        doc = float(doc)
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {str(k): plain(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [plain(v) for v in doc]
    return doc


def demo_step(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """Demo: targets and path imported, portfolio with MACC, carbon evaluation, admission check, ratings (JSON)."""
    import json

    from carbonpark.services.targets import import_targets

    targets_file = resources.files("carbonpark.services") / "data" / DEMO_TARGETS
    with resources.as_file(targets_file) as path:
        imported = import_targets(db, Path(path), "demo")
    plan = load_plan()
    planned = plan_stored(db, year, plan)
    evaluation = carbon_evaluation(db, year, plan, planned)
    admission = admission_stored(db, year, plan["candidate"], plan)
    ratings = rate_stored(db, year, plan)
    bundle = {"plan": planned, "evaluation": evaluation, "admission": admission, "ratings": ratings}
    out.mkdir(parents=True, exist_ok=True)
    (out / "retrofit.json").write_text(json.dumps(plain(bundle), ensure_ascii=False, indent=2), encoding="utf-8")
    return {
        "targets": imported,
        "selected": planned["selected"],
        "total_abatement_tco2e": round(float(planned["total_abatement_tco2e"]), 1),
        "total_capex": float(planned["total_capex"]),
        "acceptable": evaluation["acceptable"],
        "conclusion": evaluation["conclusion"]["en"],
        "admission": admission["conclusion"],
        "rated": len(ratings["ratings"]),
        "warnings": ratings["warnings"],
        "output": str(out / "retrofit.json"),
    }


def _month_range(text: str, where: str) -> tuple[str, str]:
    """``YYYY-MM:YYYY-MM`` (or one month) → first and last month."""
    first, _, last = text.partition(":")
    last = last or first
    for month in (first, last):
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not 1 <= int(month[5:]) <= 12:
            raise ValidationError(where, "months YYYY-MM:YYYY-MM, e.g. 2024-01:2024-12", text)
    if last < first:
        raise ValidationError(where, "a last month at or after the first", text)
    return first, last


def _months_between(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y}-{m:02d}" <= last:
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def daily_mean_temperatures(path: Path, tz: str) -> dict[Any, float]:
    """Daily mean temperatures [°C] of a weather CSV with columns ``ts`` and ``temperature_c``.

    ``ts`` is ISO 8601; naive times are park-local (``tz``), as everywhere in carbonpark. The layout is that
    of the demo's ``demo-weather.csv``.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValidationError(str(path), "a CSV with columns ts,temperature_c", str(exc)) from None
    missing = {"ts", "temperature_c"} - set(frame.columns)
    if missing:
        raise ValidationError(f"{path}, header", "columns ts and temperature_c", list(frame.columns))
    stamps = pd.to_datetime(frame["ts"], errors="coerce")
    if stamps.isna().any():
        line = int(stamps.isna().to_numpy().nonzero()[0][0]) + 2
        raise ValidationError(f"{path}, line {line}, ts", "an ISO 8601 time", frame["ts"].iloc[line - 2])
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert(tz).dt.tz_localize(None)
    temps = pd.to_numeric(frame["temperature_c"], errors="coerce")
    if temps.isna().any():
        line = int(temps.isna().to_numpy().nonzero()[0][0]) + 2
        raise ValidationError(
            f"{path}, line {line}, temperature_c", "a number [°C]", frame["temperature_c"].iloc[line - 2]
        )
    daily = temps.groupby(stamps.dt.date).mean()
    return {day: float(value) for day, value in daily.items()}


def _source_by_ref(s: Session, ref: str | int) -> EmissionSource:
    """A source by id or handle, else by its name when exactly one source has it."""
    try:
        return resolve(s, EmissionSource, ref)
    except NotFoundError:
        named = s.scalars(select(EmissionSource).where(EmissionSource.name == str(ref))).all()
        if len(named) == 1:
            return named[0]
        if named:
            raise ValidationError(
                "source", "a unique name, or an id or handle", f"{len(named)} sources named {ref}"
            ) from None
        raise


def verify_savings_stored(
    db: str | None,
    source: str | int,
    baseline: str,
    reporting: str,
    *,
    planned_annual_abatement_tco2e: Decimal,
    planned_annual_savings_cny: Decimal,
    price_cny: Decimal,
    emission_factor_tco2e: float | None = None,
    output_metric: str | None = None,
    weather: Path | None = None,
    drivers: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Realised against planned savings of a project from the stored monthly meter data of its source (M&V).

    The metered use of the source's meter per month (gaps are left out, never taken as zero), the monthly
    output statistic of its enterprise and the month's heating/cooling degree-days from a weather file are
    the observations; :func:`carbonpark.retrofit.fit_baseline` fits the baseline months,
    :func:`carbonpark.retrofit.verify_savings` gives the adjusted baseline, avoided energy, realised
    abatement and money of the reporting months against the plan pro rata.

    Parameters
    ----------
    source
        Emission source (id, handle or name) whose meter the project affects.
    baseline, reporting
        Months ``YYYY-MM:YYYY-MM`` before the project and after commissioning.
    planned_annual_abatement_tco2e, planned_annual_savings_cny
        The project's plan [tCO2e/yr], [CNY/yr].
    price_cny
        [CNY per meter unit] (e.g. CNY/kWh).
    emission_factor_tco2e
        [tCO2e per meter unit]; default: the source's stored emission records (Σ tCO2e / Σ activity).
    output_metric
        Statistic of the source's enterprise used as the production driver (``output:<product>``); default: its
        only monthly ``output:*`` metric, if it has exactly one.
    weather
        CSV ``ts,temperature_c``: monthly HDD18 and CDD26 become drivers
        (:func:`carbonpark.retrofit.monthly_degree_days`).
    drivers
        Restrict the drivers (``output``, ``hdd``, ``cdd``); default: those available.

    References
    ----------
    IPMVP (EVO) avoided energy with a routine-adjusted baseline; ASHRAE Guideline 14-2014 (CV(RMSE) ≤ 15 %,
    |NMBE| ≤ 5 % for monthly data); guide §6.4 监测跟踪, §7.4; issue 13 item 2.
    """
    from carbonpark.accounting.aggregation import period_buckets
    from carbonpark.services.activity import meter_amounts
    from carbonpark.store.schema import Meter, Statistic
    from carbonpark.times import parse_timestamp

    base_first, base_last = _month_range(baseline, "baseline")
    rep_first, rep_last = _month_range(reporting, "reporting")
    if rep_first <= base_last:
        raise ValidationError("reporting", f"months after the baseline (which ends {base_last})", reporting)
    with session(db) as s:
        tz = park_timezone(s)
        src = _source_by_ref(s, source)
        if src.meter_id is None:
            raise ValidationError(f"source {src.handle}", "a source with a meter", None)
        meter = s.get(Meter, src.meter_id)
        assert meter is not None
        start = parse_timestamp(f"{base_first}-01T00:00", tz)
        y, m = int(rep_last[:4]), int(rep_last[5:])
        end_month = f"{y + 1}-01" if m == 12 else f"{y}-{m + 1:02d}"
        end = parse_timestamp(f"{end_month}-01T00:00", tz)
        buckets = period_buckets(start, end, "month", tz)
        amounts = meter_amounts(s, meter, buckets)
        energy = {
            label[:7]: float(a)
            for label, a, n in zip(buckets.labels, amounts.amount, amounts.n_readings, strict=True)
            if n > 0
        }
        stats = s.execute(
            select(Statistic.metric, Statistic.period, Statistic.value).where(
                Statistic.enterprise_id == src.enterprise_id, Statistic.metric.like("output:%")
            )
        ).all()
        monthly_outputs: dict[str, dict[str, float]] = defaultdict(dict)
        for metric, period, value in stats:
            if len(period) == 7:
                monthly_outputs[metric][period] = float(value)
        if output_metric is None and len(monthly_outputs) == 1:
            output_metric = next(iter(monthly_outputs))
        elif output_metric is not None and output_metric not in monthly_outputs:
            raise ValidationError(
                "output_metric", f"one of {sorted(monthly_outputs)} (monthly statistics)", output_metric
            )
        factor_note = "given"
        if emission_factor_tco2e is None:
            rows = s.execute(
                select(
                    EmissionRecord.run_id,
                    EmissionRecord.activity_datum_id,
                    EmissionRecord.tco2e,
                    EmissionRecord.activity_amount,
                    EmissionRecord.activity_unit,
                ).where(EmissionRecord.source_id == src.id)
            ).all()
            seen: set[tuple[int, int | None]] = set()
            total_t = total_amount = 0.0
            for run_id, datum_id, tco2e, amount, unit in rows:
                if unit != meter.unit:
                    continue
                total_t += float(tco2e)
                if (run_id, datum_id) not in seen:
                    seen.add((run_id, datum_id))
                    total_amount += float(amount)
            if total_amount <= 0:
                raise ValidationError(
                    f"emission factor of {src.handle}",
                    f"stored emission records in {meter.unit} (account the source first) or --factor",
                    None,
                )
            emission_factor_tco2e = total_t / total_amount
            factor_note = f"stored records of {src.handle}: {total_t:.6g} tCO2e / {total_amount:.6g} {meter.unit}"
        handle, unit = src.handle, meter.unit
    degree_days = {}
    if weather is not None:
        degree_days = retrofit.monthly_degree_days(daily_mean_temperatures(weather, tz))
    available = (("output",) if output_metric else ()) + (("hdd", "cdd") if weather is not None else ())
    used = tuple(drivers) if drivers is not None else available
    for d in used:
        if d not in available:
            raise ValidationError("drivers", f"drivers with data: {', '.join(available) or 'none'}", d)
    skipped: dict[str, str] = {}

    def observations(first: str, last: str) -> list[retrofit.PeriodObservation]:
        obs = []
        for month in _months_between(first, last):
            if month not in energy:
                skipped[month] = "no readings (a gap, not a zero)"
                continue
            output = 0.0
            if "output" in used:
                assert output_metric is not None
                if month not in monthly_outputs[output_metric]:
                    skipped[month] = f"no {output_metric} statistic"
                    continue
                output = monthly_outputs[output_metric][month]
            dd = degree_days.get(month)
            if ("hdd" in used or "cdd" in used) and dd is None:
                skipped[month] = "no weather"
                continue
            obs.append(
                retrofit.PeriodObservation(
                    month,
                    energy[month],
                    output=output,
                    hdd=dd["hdd"] if dd and "hdd" in used else 0.0,
                    cdd=dd["cdd"] if dd and "cdd" in used else 0.0,
                )
            )
        return obs

    base_obs = observations(base_first, base_last)
    rep_obs = observations(rep_first, rep_last)
    model = retrofit.fit_baseline(base_obs, used or ("output",))
    result = retrofit.verify_savings(
        model,
        rep_obs,
        emission_factor_tco2e=emission_factor_tco2e,
        price_cny=price_cny,
        planned_annual_abatement_tco2e=planned_annual_abatement_tco2e,
        planned_annual_savings_cny=planned_annual_savings_cny,
    )
    by_month = {o.period: o for o in base_obs + rep_obs}
    return {
        "source": handle,
        "unit": unit,
        "baseline_months": [o.period for o in base_obs],
        "reporting_months": [o.period for o in rep_obs],
        "skipped_months": skipped,
        "drivers": [d for d in used],
        "output_metric": output_metric if "output" in used else None,
        "degree_day_bases_c": {"hdd": retrofit.tracking.HDD_BASE_C, "cdd": retrofit.tracking.CDD_BASE_C},
        "baseline_model": {
            "intercept": model.intercept,
            "coefficients": model.coefficients,
            "r_squared": model.r_squared,
            "cv_rmse": model.cv_rmse,
            "nmbe": model.nmbe,
            "observations": model.observations,
            "meets_ashrae_guideline_14_monthly": model.meets_guideline_14_monthly,
        },
        "observations": [
            {"period": o.period, "energy": o.energy, "output": o.output, "hdd": o.hdd, "cdd": o.cdd}
            for o in by_month.values()
        ],
        "periods": result.periods,
        "avoided_energy": result.avoided_energy,
        "emission_factor_tco2e_per_unit": emission_factor_tco2e,
        "emission_factor_note": factor_note,
        "price_cny_per_unit": price_cny,
        "realised_abatement_tco2e": result.realised_abatement_tco2e,
        "planned_abatement_tco2e": result.planned_abatement_tco2e,
        "realised_savings_cny": result.realised_savings_cny,
        "planned_savings_cny": result.planned_savings_cny,
        "realisation": result.realisation,
    }
