"""Dual-carbon targets and the implementation path over the store (issue 13 item 1).

``import_targets`` reads a YAML file of targets and path measures (one document per
organisation, upserted, every change in the audit log); ``target_status`` puts an
organisation's targets beside its stored emission records: the monthly gap against this
year's cap and the path checked against every target.

File layout (``docs/targets.md``)::

    targets:
      - organisation: park            # or an enterprise id, handle, credit code or name
        peak_year: 2028
        peak_tco2e: 520000
        neutrality_year: 2058
        caps_tco2e: {2026: 500000, 2027: 495000}
        intensity_caps: {2026: 0.85}  # tCO2e per 10^4 CNY value added
        clean_share_targets: {2030: 0.35}
    path:
      - {organisation: park, id: pv-2026, name: 屋顶光伏二期, year: 2026, owner: 园区管委会,
         annual_abatement_tco2e: 1800, status: planned}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.retrofit.targets import DualCarbonTargets, PathMeasure, check_path, monthly_gap, path_trajectory
from carbonpark.services.access import Page as AccessPage
from carbonpark.services.access import Principal, columns_of, page_of, require_role, visible_enterprise_ids
from carbonpark.settings import get_settings
from carbonpark.store import session
from carbonpark.store.registry import as_dict, audit, now_ms, resolve, the_park
from carbonpark.store.schema import Enterprise, Park
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum, EmissionRecord
from carbonpark.store.schema_targets import CarbonTarget, PathMeasureRow
from carbonpark.times import from_ms

__all__ = [
    "FORECAST_CARRIERS",
    "TARGET_READERS",
    "forecast_rest_of_year",
    "get_target",
    "import_targets",
    "import_targets_doc",
    "list_targets",
    "org_handle",
    "target_status",
    "visible_target_handle",
]

_TARGET_KEYS = {
    "organisation",
    "peak_year",
    "peak_tco2e",
    "neutrality_year",
    "caps_tco2e",
    "intensity_caps",
    "clean_share_targets",
}
_MEASURE_KEYS = {"organisation", "id", "name", "year", "owner", "annual_abatement_tco2e", "status"}


def org_handle(s: Session, park: Park, ref: str) -> str:
    """The handle of the organisation named by ``ref``: ``park`` (or the park's handle) or an enterprise."""
    if ref.strip().lower() == "park" or ref.strip() == park.handle:
        return str(park.handle)
    return str(resolve(s, Enterprise, ref, park.id).handle)


def _by_year(where: str, raw: Any) -> dict[int, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError(where, "a mapping of year to number, e.g. {2026: 500000}", raw)
    out: dict[int, float] = {}
    for year, value in raw.items():
        try:
            out[int(year)] = float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{where}[{year}]", "a year and a number", value) from exc
    return out


def _targets_from(where: str, item: Any, handle: str) -> DualCarbonTargets:
    unknown = sorted(set(item) - _TARGET_KEYS)
    if unknown:
        raise ValidationError(f"{where}", f"keys among {', '.join(sorted(_TARGET_KEYS))}", unknown)
    return DualCarbonTargets(
        organisation=handle,
        peak_year=item.get("peak_year"),
        peak_tco2e=item.get("peak_tco2e"),
        neutrality_year=item.get("neutrality_year"),
        caps_tco2e=_by_year(f"{where}.caps_tco2e", item.get("caps_tco2e")),
        intensity_caps=_by_year(f"{where}.intensity_caps", item.get("intensity_caps")),
        clean_share_targets=_by_year(f"{where}.clean_share_targets", item.get("clean_share_targets")),
    )


def _measure_from(where: str, item: Any) -> PathMeasure:
    missing = sorted({"organisation", "id", "name", "year", "owner", "annual_abatement_tco2e"} - set(item))
    unknown = sorted(set(item) - _MEASURE_KEYS)
    if missing or unknown:
        raise ValidationError(where, f"keys {', '.join(sorted(_MEASURE_KEYS))} (status optional)", missing or unknown)
    try:
        return PathMeasure(
            id=str(item["id"]),
            name=str(item["name"]),
            year=int(item["year"]),
            owner=str(item["owner"]),
            annual_abatement_tco2e=float(item["annual_abatement_tco2e"]),
            status=str(item.get("status", "planned")),
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(where, "year as an integer and annual_abatement_tco2e as a number", item) from exc


def _as_json(values: Mapping[int, float]) -> dict[str, float]:
    return {str(year): value for year, value in sorted(values.items())}


def _upsert_targets(s: Session, park: Park, t: DualCarbonTargets, actor: str) -> str:
    row = s.scalars(select(CarbonTarget).where(CarbonTarget.org_handle == t.organisation)).one_or_none()
    fields = {
        "peak_year": t.peak_year,
        "peak_tco2e": t.peak_tco2e,
        "neutrality_year": t.neutrality_year,
        "caps_tco2e": _as_json(t.caps_tco2e),
        "intensity_caps": _as_json(t.intensity_caps),
        "clean_share_targets": _as_json(t.clean_share_targets),
    }
    if row is None:
        row = CarbonTarget(park_id=park.id, org_handle=t.organisation, updated_ms=now_ms(), **fields)
        s.add(row)
        s.flush()
        audit(s, actor, "create", row, None)
        return "created"
    if all(getattr(row, k) == v for k, v in fields.items()):
        return "unchanged"
    before = as_dict(row)
    for k, v in fields.items():
        setattr(row, k, v)
    row.updated_ms = now_ms()
    s.flush()
    audit(s, actor, "update", row, before)
    return "updated"


def _upsert_measure(s: Session, park: Park, handle: str, m: PathMeasure, actor: str) -> str:
    row = s.scalars(
        select(PathMeasureRow).where(PathMeasureRow.org_handle == handle, PathMeasureRow.code == m.id)
    ).one_or_none()
    fields = {
        "name": m.name,
        "year": m.year,
        "owner": m.owner,
        "annual_abatement_tco2e": m.annual_abatement_tco2e,
        "status": m.status,
    }
    if row is None:
        row = PathMeasureRow(park_id=park.id, org_handle=handle, code=m.id, **fields)
        s.add(row)
        s.flush()
        audit(s, actor, "create", row, None)
        return "created"
    if all(getattr(row, k) == v for k, v in fields.items()):
        return "unchanged"
    before = as_dict(row)
    for k, v in fields.items():
        setattr(row, k, v)
    s.flush()
    audit(s, actor, "update", row, before)
    return "updated"


def import_targets(db: str | None, file: Path, actor: str) -> dict[str, int]:
    """Upsert the targets and path measures of a YAML file, all or nothing.

    Returns counts ``{"created", "updated", "unchanged"}`` over targets and measures.
    """
    doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    with session(db) as s:
        return import_targets_doc(s, doc, actor, str(file))


def import_targets_doc(s: Session, doc: Any, actor: str, where: str = "document") -> dict[str, int]:
    """Upsert the targets and path measures of a parsed document (the file layout) in session ``s``.

    The caller's transaction makes it all or nothing; ``where`` names the document in messages.
    Returns counts ``{"created", "updated", "unchanged"}`` over targets and measures.
    """
    if not isinstance(doc, Mapping) or not set(doc) <= {"targets", "path"}:
        raise ValidationError(where, "a mapping with 'targets' and/or 'path' lists", type(doc).__name__)
    for key in ("targets", "path"):
        if doc.get(key) is not None and not isinstance(doc[key], list):
            raise ValidationError(f"{where}: {key}", "a list", type(doc[key]).__name__)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    park = the_park(s)
    for i, item in enumerate(doc.get("targets") or [], start=1):
        here = f"targets[{i}]"
        if not isinstance(item, Mapping) or "organisation" not in item:
            raise ValidationError(here, "a mapping with 'organisation'", item)
        handle = org_handle(s, park, str(item["organisation"]))
        counts[_upsert_targets(s, park, _targets_from(here, item, handle), actor)] += 1
    for i, item in enumerate(doc.get("path") or [], start=1):
        here = f"path[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError(here, "a mapping", item)
        measure = _measure_from(here, item)
        handle = org_handle(s, park, str(item["organisation"]))
        counts[_upsert_measure(s, park, handle, measure, actor)] += 1
    return counts


#: Roles that may read targets: an enterprise user its own, a verifier its assigned enterprises',
#: the park administrator and the regulator every one.
TARGET_READERS = ("park_admin", "enterprise", "verifier", "regulator")


def _visible_handles(s: Session, principal: Principal) -> set[str] | None:
    """Organisation handles whose targets ``principal`` may read; None means all of them."""
    require_role(principal, *TARGET_READERS)
    if principal.role == "park_admin":
        return None
    if principal.role == "regulator":  # park aggregates and the key emitters (SPEC §1), as in services/access.py
        park = {str(h) for h in s.scalars(select(Park.handle))}
        return park | {str(h) for h in s.scalars(select(Enterprise.handle).where(Enterprise.key_emitter.is_(True)))}
    ids = visible_enterprise_ids(principal) or frozenset()
    return {str(h) for h in s.scalars(select(Enterprise.handle).where(Enterprise.id.in_(sorted(ids))))}


def _target_doc(row: CarbonTarget, measures: list[PathMeasureRow]) -> dict[str, Any]:
    return {
        "id": row.id,
        "org": row.org_handle,
        "peak_year": row.peak_year,
        "peak_tco2e": row.peak_tco2e,
        "neutrality_year": row.neutrality_year,
        "caps_tco2e": row.caps_tco2e,
        "intensity_caps": row.intensity_caps,
        "clean_share_targets": row.clean_share_targets,
        "updated_ms": row.updated_ms,
        "path": [
            {
                "id": m.code,
                "name": m.name,
                "year": m.year,
                "owner": m.owner,
                "annual_abatement_tco2e": m.annual_abatement_tco2e,
                "status": m.status,
            }
            for m in sorted(measures, key=lambda m: (m.year, m.code))
        ],
    }


def _measures_of(s: Session, handles: list[str]) -> dict[str, list[PathMeasureRow]]:
    out: dict[str, list[PathMeasureRow]] = {h: [] for h in handles}
    for m in s.scalars(select(PathMeasureRow).where(PathMeasureRow.org_handle.in_(handles))):
        out[m.org_handle].append(m)
    return out


def list_targets(s: Session, principal: Principal, *, sort: str = "id", limit: int = 50, offset: int = 0) -> AccessPage:
    """One page of the targets ``principal`` may read, each with its path measures."""
    visible = _visible_handles(s, principal)
    stmt = select(CarbonTarget)
    if visible is not None:
        stmt = stmt.where(CarbonTarget.org_handle.in_(sorted(visible)))
    rows, total = page_of(
        s, stmt, columns=columns_of(CarbonTarget, ("id", "org_handle")), sort=sort, limit=limit, offset=offset
    )
    measures = _measures_of(s, [r.org_handle for r in rows])
    return AccessPage([_target_doc(r, measures[r.org_handle]) for r in rows], total, limit, offset)


def visible_target_handle(s: Session, principal: Principal, org: str) -> str:
    """The handle of ``org`` (``park`` or an enterprise reference) when ``principal`` may read its targets.

    Raises
    ------
    NotFoundError
        If the organisation has no targets or they are outside the principal's scope (not revealed).
    """
    visible = _visible_handles(s, principal)
    handle = org_handle(s, the_park(s), org)
    exists = s.scalars(select(CarbonTarget.id).where(CarbonTarget.org_handle == handle)).first()
    if exists is None or (visible is not None and handle not in visible):
        raise NotFoundError("targets", org)
    return handle


def get_target(s: Session, principal: Principal, org: str) -> dict[str, Any]:
    """The targets and path of ``org`` (see :func:`visible_target_handle` for the scope)."""
    handle = visible_target_handle(s, principal, org)
    row = s.scalars(select(CarbonTarget).where(CarbonTarget.org_handle == handle)).one()
    return _target_doc(row, _measures_of(s, [handle])[handle])


def _stored_targets(row: CarbonTarget) -> DualCarbonTargets:
    return DualCarbonTargets(
        organisation=row.org_handle,
        peak_year=row.peak_year,
        peak_tco2e=row.peak_tco2e,
        neutrality_year=row.neutrality_year,
        caps_tco2e={int(y): v for y, v in row.caps_tco2e.items()},
        intensity_caps={int(y): v for y, v in row.intensity_caps.items()},
        clean_share_targets={int(y): v for y, v in row.clean_share_targets.items()},
    )


def _emissions_by_month(s: Session, run_org: str, timezone: str) -> dict[tuple[int, int, str], float]:
    """Stored emissions [tCO2e] of the organisation's yearly accounting runs by local (year, month, activity).

    Only yearly runs count (a monthly run repeats what the yearly run of its year holds) and
    only ``emission`` records (removals and biogenic CO2 are kept apart, as in the accounting
    JSON); each record is placed in the month its period starts in. A month counts as having
    data when at least one of its records rests on readings or on a manual entry: a month whose
    meters sent nothing yet is missing, not zero.
    """
    has_data = or_(ActivityDatum.origin == "manual", ActivityDatum.n_readings > 0, ActivityDatum.id.is_(None))
    stmt = (
        select(EmissionRecord.start_ms, EmissionRecord.activity, func.sum(EmissionRecord.tco2e))
        .join(AccountingRun, EmissionRecord.run_id == AccountingRun.id)
        .outerjoin(ActivityDatum, EmissionRecord.activity_datum_id == ActivityDatum.id)
        .where(AccountingRun.org == run_org, func.length(AccountingRun.period) == 4)
        .where(EmissionRecord.kind == "emission", has_data)
        .group_by(EmissionRecord.start_ms, EmissionRecord.activity)
    )
    out: dict[tuple[int, int, str], float] = {}
    for start_ms, activity, tco2e in s.execute(stmt):
        local = from_ms(int(start_ms), timezone)
        key = (local.year, local.month, str(activity))
        out[key] = out.get(key, 0.0) + float(tco2e or 0.0)
    return out


#: Metered carrier → the accounting activities whose emissions follow its intake.
FORECAST_CARRIERS: dict[str, tuple[str, ...]] = {
    "electricity": ("grid_electricity",),
    "natural_gas": ("natural_gas",),
    "steam": ("steam", "purchased_heat"),
}
#: Daily model of the rest-of-year forecast: exponential smoothing fits a short history in
#: milliseconds (the ``auto`` selection needs a backtest the horizon of a year does not allow).
FORECAST_MODEL = "ets"


def forecast_rest_of_year(
    db: str | None,
    org_ref: str,
    year: int,
    actual_by_activity: Mapping[int, Mapping[str, float]],
    model: str = FORECAST_MODEL,
) -> tuple[dict[int, float], dict[str, Any]]:
    """Emissions forecast [tCO2e] for the months of ``year`` after the last month with actuals.

    Parameters
    ----------
    db
        Database URL.
    org_ref
        ``park`` or an enterprise handle (the intake of :func:`carbonpark.services.forecasting.series_frame`).
    year
        Calendar year [local].
    actual_by_activity
        Stored emissions by month 1..m (consecutive) and accounting activity [tCO2e].
    model
        Daily forecaster name (:func:`carbonpark.forecast.run_forecast`).

    Returns
    -------
    tuple[dict[int, float], dict]
        The forecast by month number, and how it was made (``model``, the emissions per unit
        of each carrier, the carriers and activities left at the run rate, the months forecast).

    Notes
    -----
    For each carrier of :data:`FORECAST_CARRIERS` with an intake series, the daily intake is
    forecast to 31 December and summed by month: ``F_c(i)`` [meter unit]. The organisation's own
    emissions per unit ``k_c = Σ_{months ≤ m} tCO2e(activities of c) / Σ_{days ≤ m} intake_c``
    [tCO2e/unit] turn it into emissions (so the stored accounting, with its factors, sets the
    level and the forecast sets the shape). Emissions of activities without a forecast carrier
    continue at their run rate ``r = Σ_{months ≤ m} tCO2e / m``:
    ``forecast(i) = Σ_c k_c · F_c(i) + r``. A month is forecast only when every carrier's
    forecast covers all its days; other months are left to :func:`monthly_gap`'s run rate.
    """
    import pandas as pd

    from carbonpark import forecast
    from carbonpark.services.forecasting import series_frame

    last = max(actual_by_activity)
    info: dict[str, Any] = {"model": model, "tco2e_per_unit": {}, "run_rate_activities": [], "months": []}
    if last >= 12:
        return {}, info
    observed_end = pd.Timestamp(year, last, 1) + pd.offsets.MonthBegin(1)
    year_end = pd.Timestamp(year + 1, 1, 1)
    covered: set[str] = set()
    per_carrier: list[dict[int, float]] = []
    for carrier, activities in FORECAST_CARRIERS.items():
        emitted = sum(v for month in actual_by_activity.values() for a, v in month.items() if a in activities)
        if emitted <= 0:
            continue
        try:
            frame = series_frame(db, org=org_ref, carrier=carrier, freq="D").frame
        except ValidationError:
            continue  # no intake meter of this carrier: its emissions stay at the run rate
        ts = pd.DatetimeIndex(frame["ts"])
        seen = frame[(ts.year == year) & (ts < observed_end)]
        if len(seen) < (observed_end - pd.Timestamp(year, 1, 1)).days:
            continue  # the meters do not cover the accounted months: no basis for k_c
        energy = float(seen["value"].sum())
        horizon = int((year_end - ts.max()).days) - 1
        if energy <= 0 or horizon <= 0:
            continue
        run = forecast.run_forecast(frame, horizon, "D", model=model, windows=1)
        days = run.forecast.assign(month=pd.DatetimeIndex(run.forecast["ts"]).month)
        days = days[pd.DatetimeIndex(days["ts"]).year == year]
        k = emitted / energy
        monthly: dict[int, float] = {}
        for month, part in days.groupby("month"):
            full = pd.Timestamp(year, int(month), 1).days_in_month
            if int(month) > last and len(part) == full:
                monthly[int(month)] = k * float(part["mean"].sum())
        per_carrier.append(monthly)
        covered.update(activities)
        info["tco2e_per_unit"][carrier] = k
    if not per_carrier:
        return {}, info
    rest = sum(v for month in actual_by_activity.values() for a, v in month.items() if a not in covered)
    info["run_rate_activities"] = sorted({a for m in actual_by_activity.values() for a in m} - covered)
    months = set.intersection(*(set(m) for m in per_carrier))
    out = {i: sum(m[i] for m in per_carrier) + rest / last for i in sorted(months)}
    info["months"] = sorted(out)
    return out, info


def target_status(db: str | None, org: str, year: int) -> dict[str, Any]:
    """An organisation's targets beside its stored emissions for ``year`` and its path.

    Returns ``{"org", "year", "targets", "months": [...], "path": {...}, "checks": [...]}``:
    the monthly gap of :func:`carbonpark.retrofit.targets.monthly_gap` (actuals from the stored
    emission records, the rest of the year at the run rate), the trajectory of past years' actuals
    continued flat from the last full year and abated by the path's measures, and every target
    checked against it.
    """
    tz = get_settings().timezone
    with session(db) as s:
        park = the_park(s)
        handle = org_handle(s, park, org)
        row = s.scalars(select(CarbonTarget).where(CarbonTarget.org_handle == handle)).one_or_none()
        if row is None:
            raise ValidationError(
                "--org", "an organisation with targets (import them with 'carbonpark targets import')", org
            )
        targets = _stored_targets(row)
        measures = [
            PathMeasure(m.code, m.name, m.year, m.owner, m.annual_abatement_tco2e, m.status)
            for m in s.scalars(select(PathMeasureRow).where(PathMeasureRow.org_handle == handle))
        ]
        is_park = handle == park.handle
        by_activity = _emissions_by_month(s, "park" if is_park else handle, tz)
    monthly: dict[tuple[int, int], float] = {}
    for (y, m, _), v in by_activity.items():
        monthly[y, m] = monthly.get((y, m), 0.0) + v
    this_year = {m: v for (y, m), v in monthly.items() if y == year}
    consecutive = {m: this_year[m] for m in range(1, 13) if all(k in this_year for k in range(1, m + 1))}
    forecast_tco2e: dict[int, float] = {}
    forecast_info: dict[str, Any] | None = None
    if consecutive and len(consecutive) < 12:
        activities: dict[int, dict[str, float]] = {m: {} for m in consecutive}
        for (y, m, a), v in by_activity.items():
            if y == year and m in activities:
                activities[m][a] = v
        forecast_tco2e, forecast_info = forecast_rest_of_year(db, "park" if is_park else handle, year, activities)
        forecast_info["forecast_tco2e"] = {str(m): v for m, v in forecast_tco2e.items()}
    months = monthly_gap(year, consecutive, forecast_tco2e, targets.caps_tco2e.get(year)) if consecutive else []
    annual: dict[int, float] = {}
    for (y, _), v in monthly.items():
        annual[y] = annual.get(y, 0.0) + v
    full_years = sorted(y for y in annual if sum(1 for (yy, _) in monthly if yy == y) == 12)
    horizon = max([year, targets.peak_year or year, targets.neutrality_year or year, *targets.caps_tco2e])
    baseline: dict[int, float] = {y: annual[y] for y in full_years}
    basis = "actual full years"
    if months:
        baseline[year] = months[-1].projected_year_tco2e
        basis += f", {year} projected from {len(months)} month(s)"
    if baseline:
        last = max(baseline)
        for y in range(last + 1, horizon + 1):
            baseline[y] = baseline[last]
        basis += f", flat after {last}"
    trajectory = path_trajectory(baseline, measures) if baseline else {}
    return {
        "org": handle,
        "year": year,
        "targets": {
            "peak_year": targets.peak_year,
            "peak_tco2e": targets.peak_tco2e,
            "neutrality_year": targets.neutrality_year,
            "caps_tco2e": _as_json(targets.caps_tco2e),
            "intensity_caps": _as_json(targets.intensity_caps),
            "clean_share_targets": _as_json(targets.clean_share_targets),
        },
        "months": [vars(m) for m in months],
        "forecast": forecast_info,
        "path": {
            "basis": basis,
            "measures": [vars(m) for m in sorted(measures, key=lambda m: (m.year, m.id))],
            "trajectory_tco2e": {str(y): v for y, v in trajectory.items()},
        },
        "checks": [vars(c) for c in check_path(targets, trajectory)] if trajectory else [],
    }
