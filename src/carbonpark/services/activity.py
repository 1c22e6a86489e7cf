"""Activity data from stored readings: per emission source and local calendar period (SPEC C5).

* :func:`meter_amounts` — one meter's amounts per period (hour, day, month, year), for interval
  and cumulative meters and for virtual meters (a formula over other meters), with the parts
  resting on estimated or flagged readings. The arithmetic is in
  :mod:`carbonpark.accounting.aggregation` (conventions documented there).
* :func:`aggregate_sources` — stores activity data (table ``activity_data``) for every metered
  emission source of a period; periods of a locked year are left as they are.
* :func:`reaggregate_late` — late or corrected readings: recomputes only the periods they touch
  (and re-runs the accounting runs over them that are not locked).
* :func:`reaggregate_in_session` — the same for time ranges, inside the caller's transaction; the
  ingest pipeline's re-aggregation queue (``carbonpark.services.ingest.drain_dirty``) and the
  take-up of pending corrections by a new inventory version use it.
* :func:`add_virtual_meter`, :func:`add_manual_activity` — definitions and hand-entered data.
* :func:`meter_levels` — the site, workshop and device a meter's data are stored with (roll-ups).
* :func:`activity_records` — activity records of a period straight from the readings (no store).

References
----------
The guide §4.1 (metering, collection and statistics of energy data) and §4.2 (activity data);
GB 17167-2006; SPEC C5.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from carbonpark import accounting, quality
from carbonpark.accounting.aggregation import (
    LEVELS,
    UNPLACED,
    Buckets,
    PeriodAmounts,
    VirtualFormula,
    bucket_amounts,
    level_labels,
    period_buckets,
)
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.factors import default_library
from carbonpark.model import is_handle
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import Device, EmissionSource, Enterprise, Meter, Park, Reading, Site
from carbonpark.store.schema_accounting import ActivityDatum, VirtualMeter
from carbonpark.times import period_bounds_ms
from carbonpark.units import convert

__all__ = [
    "ACTIVITY_OF_SOURCE",
    "STEAM_ENTHALPY_KJ_PER_KG",
    "AggregationResult",
    "activity_records",
    "add_manual_activity",
    "add_virtual_meter",
    "aggregate_sources",
    "meter_amounts",
    "meter_levels",
    "park_timezone",
    "quality_masks",
    "reaggregate_in_session",
    "reaggregate_late",
    "rerun_runs_in_session",
    "site_tree",
    "source_activity",
    "virtual_meter_ids",
]

#: Registry activity names that are not catalogue ids → the accounting activity id.
ACTIVITY_OF_SOURCE: dict[str, str] = {
    "purchased_electricity": "grid_electricity",
    "purchased_heat": "purchased_heat",
    "steam": "purchased_heat",
}
#: Specific enthalpy of process steam when a steam meter measures mass: saturated steam at 1.0 MPa
#: (IAPWS-IF97 steam tables, h'' ≈ 2777 kJ/kg). Accounting needs heat; a source may override it
#: with its own ``steam_enthalpy_kj_per_kg`` in manual data.
STEAM_ENTHALPY_KJ_PER_KG = 2777.0
_RESOLUTION_PREFERENCE = ("month", "year", "day", "hour")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def quality_masks() -> tuple[int, int]:
    """(estimate bits, flagged bits) of ``Reading.quality``, from :mod:`carbonpark.quality.flags`.

    ``estimated``, ``gap_filled`` and ``manual`` make a reading estimated; those and the suspect
    bits (spike, stuck, negative step, skew, imbalance, uncalibrated, device flag) make it
    flagged; ``rollover`` and ``corrected`` are information only.
    """
    return int(quality.ESTIMATE_MASK), int(quality.FLAGGED_MASK)


def park_timezone(s: Session) -> str:
    """The park's time zone (periods are local calendar periods)."""
    return s.scalars(select(Park.timezone).order_by(Park.id)).first() or "Asia/Shanghai"


def virtual_meter_ids(s: Session) -> set[int]:
    """Ids of the meters that are virtual (they take no readings)."""
    return set(s.scalars(select(VirtualMeter.meter_id)))


def _resolve_meter(s: Session, ref: str) -> Meter:
    ref = ref.strip()
    if ref.isdigit() or is_handle(ref):
        return resolve(s, Meter, ref)
    meter = s.scalars(select(Meter).where(Meter.code == ref)).first()
    if meter is None:
        raise NotFoundError("meter", ref)
    return meter


def add_virtual_meter(s: Session, meter_ref: str | int, formula: str) -> VirtualMeter:
    """Make meter ``meter_ref`` virtual with ``formula`` over other meters (checked now).

    Raises
    ------
    ValidationError
        If the formula is not allowed, names an unknown meter, refers to itself (also through
        other virtual meters), or the meter already has readings.
    """
    meter = _resolve_meter(s, str(meter_ref))
    parsed = VirtualFormula.parse(formula)
    for ref in parsed.refs:
        _resolve_meter(s, ref)
    if s.scalars(select(Reading.ts_ms).where(Reading.meter_id == meter.id).limit(1)).first() is not None:
        raise ValidationError(f"meter {meter.code}", "a meter without readings to make virtual", "it has readings")
    _check_cycle(s, meter.id, set(), {meter.id: formula})
    row = s.get(VirtualMeter, meter.id)
    if row is None:
        row = VirtualMeter(meter_id=meter.id, formula=formula, created_ms=_now_ms())
        s.add(row)
    else:
        row.formula = formula
    s.flush()
    return row


def _check_cycle(s: Session, meter_id: int, seen: set[int], proposed: Mapping[int, str]) -> None:
    if meter_id in seen:
        raise ValidationError("virtual meter formula", "no meter that depends on itself", sorted(seen))
    row = s.get(VirtualMeter, meter_id)
    formula = proposed.get(meter_id) or (row.formula if row is not None else None)
    if formula is None:
        return
    for ref in VirtualFormula.parse(formula).refs:
        _check_cycle(s, _resolve_meter(s, ref).id, seen | {meter_id}, proposed)


def _fetch(s: Session, meter: Meter, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings in [start, end), plus for cumulative meters the neighbours just outside."""
    cols = (Reading.ts_ms, Reading.value, Reading.quality)
    rows = list(
        s.execute(
            select(*cols)
            .where(Reading.meter_id == meter.id, Reading.ts_ms >= start_ms, Reading.ts_ms < end_ms)
            .order_by(Reading.ts_ms)
        ).all()
    )
    if meter.reading_kind == "cumulative":
        before = s.execute(
            select(*cols)
            .where(Reading.meter_id == meter.id, Reading.ts_ms < start_ms)
            .order_by(Reading.ts_ms.desc())
            .limit(1)
        ).first()
        after = s.execute(
            select(*cols).where(Reading.meter_id == meter.id, Reading.ts_ms >= end_ms).order_by(Reading.ts_ms).limit(1)
        ).first()
        rows = ([before] if before else []) + rows + ([after] if after else [])
    if not rows:
        return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
    arr = np.array([tuple(r) for r in rows], dtype=float)
    return arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2].astype(np.int64)


def meter_amounts(
    s: Session,
    meter: Meter,
    buckets: Buckets,
    *,
    masks: tuple[int, int] | None = None,
    _seen: frozenset[int] = frozenset(),
) -> PeriodAmounts:
    """Amounts of ``meter`` per bucket [meter unit]; a virtual meter evaluates its formula per bucket.

    A virtual meter's estimated and flagged parts are its amount times the share of its
    meters' summed amounts that is estimated or flagged.
    """
    masks = quality_masks() if masks is None else masks
    virtual = s.get(VirtualMeter, meter.id)
    if virtual is None:
        ts, values, quality = _fetch(s, meter, int(buckets.edges_ms[0]), int(buckets.edges_ms[-1]))
        return bucket_amounts(
            ts,
            values,
            quality,
            buckets,
            kind=meter.reading_kind,
            interval_minutes=meter.interval_minutes,
            rollover=meter.rollover,
            estimated_mask=masks[0],
            flagged_mask=masks[1],
        )
    if meter.id in _seen:
        raise ValidationError("virtual meter formula", "no meter that depends on itself", meter.code)
    formula = VirtualFormula.parse(virtual.formula)
    parts = []
    for ref in formula.refs:
        component = _resolve_meter(s, ref)
        got = meter_amounts(s, component, buckets, masks=masks, _seen=_seen | {meter.id})
        factor = convert(1.0, component.unit, meter.unit) if component.unit != meter.unit else 1.0
        parts.append((got, factor))
    amount = formula.evaluate([p.amount * f for p, f in parts])
    whole = sum(np.abs(p.amount * f) for p, f in parts)
    with np.errstate(divide="ignore", invalid="ignore"):
        est_share = np.where(whole > 0, sum(np.abs(p.estimated * f) for p, f in parts) / whole, 0.0)
        flag_share = np.where(whole > 0, sum(np.abs(p.flagged * f) for p, f in parts) / whole, 0.0)
    return PeriodAmounts(
        amount,
        amount * est_share,
        amount * flag_share,
        np.sum([p.n_readings for p, _ in parts], axis=0),
        tuple(f"via {virtual.formula}: {n}" for p, _ in parts for n in p.notes),
    )


def source_activity(source: EmissionSource, meter: Meter | None) -> tuple[str | None, dict[str, Any], str]:
    """The accounting activity id and extra parameters of a source, or None with the reason.

    A source with method ``measured`` (实测法, e.g. a CEMS mass meter) carries ``method`` and
    ``gas`` so that the engine takes the meter's amount as the mass of that gas; its activity
    need not be in the factor library, since no factor is applied.
    """
    library = default_library()
    known = library.activity(source.activity)
    activity_id = known.id if known else ACTIVITY_OF_SOURCE.get(source.activity)
    measured = (source.method or "").strip() == "measured"
    if activity_id is None and measured:
        activity_id = source.activity
    if activity_id is None:
        return None, {}, f"activity {source.activity!r} is not in the factor library (add a user factor set)"
    params: dict[str, Any] = {"scope": str(source.scope)}
    if measured:
        params.update(method="measured", gas=source.gas or "CO2")
    if source.scope == 3:
        params["category"] = str(source.category)
    kind = library.activity(activity_id)
    if kind is not None and kind.kind == "heat" and meter is not None and meter.quantity == "mass":
        params["steam_enthalpy_kj_per_kg"] = STEAM_ENTHALPY_KJ_PER_KG
    return activity_id, params, ""


def site_tree(s: Session) -> dict[int, tuple[str, str, int | None]]:
    """Every site of the registry: id → (handle, kind, parent id), as :func:`level_labels` takes it."""
    rows = s.execute(select(Site.id, Site.handle, Site.kind, Site.parent_id)).all()
    return {i: (h or f"site:{i}", k, p) for i, h, k, p in rows}


def meter_levels(
    s: Session,
    meter: Meter,
    enterprise_id: int | None,
    sites: Mapping[int, tuple[str, str, int | None]] | None = None,
) -> dict[str, str]:
    """Site, workshop and device (registry handles) of the activity data ``meter`` measures.

    The site is the meter's own site; else its device's site; else, for a meter of an
    enterprise with exactly one top-level site, that site (an enterprise's meters stand on its
    premises). The workshop is the nearest site of kind ``workshop`` on the way up, the device the
    meter's device. A level the registry does not give is :data:`UNPLACED` (see
    :func:`carbonpark.accounting.aggregation.level_labels`).

    Parameters
    ----------
    enterprise_id
        The enterprise of the emission source (the meter's own when None).
    sites
        :func:`site_tree` of the session, when the caller has it already.
    """
    sites = site_tree(s) if sites is None else sites
    device = s.get(Device, meter.device_id) if meter.device_id is not None else None
    site_id = meter.site_id
    if site_id is None and device is not None:
        site_id = device.site_id
    owner = enterprise_id if enterprise_id is not None else meter.enterprise_id
    if site_id is None and owner is not None:
        roots = list(s.scalars(select(Site.id).where(Site.enterprise_id == owner, Site.parent_id.is_(None))))
        site_id = roots[0] if len(roots) == 1 else None
    device_label = None if device is None else device.handle or f"device:{device.id}"
    return level_labels(site_id, sites, device_label)


@dataclass
class AggregationResult:
    """What :func:`aggregate_sources` did: data rows written, periods left alone, sources without data."""

    written: int = 0
    skipped_locked: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    periods: set[tuple[int | None, int]] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "written": self.written,
            "skipped_locked": self.skipped_locked,
            "sources_without_data": self.gaps,
            "notes": self.notes,
        }


def _locked(s: Session, enterprise_id: int | None, year: int) -> bool:
    from carbonpark.services.accounting import is_period_locked

    return is_period_locked(s, enterprise_id, year)


def _sources(s: Session, source_ids: Collection[int] | None) -> list[tuple[EmissionSource, Meter | None, str | None]]:
    stmt = (
        select(EmissionSource, Meter, Enterprise.handle)
        .outerjoin(Meter, EmissionSource.meter_id == Meter.id)
        .outerjoin(Enterprise, EmissionSource.enterprise_id == Enterprise.id)
        .order_by(EmissionSource.id)
    )
    if source_ids is not None:
        stmt = stmt.where(EmissionSource.id.in_(list(source_ids)))
    return [(a, b, c) for a, b, c in s.execute(stmt).all()]


def _upsert(s: Session, **values: Any) -> ActivityDatum:
    """Update the datum of (series, resolution, start) in place (records keep pointing at it), or add it."""
    row = s.scalars(
        select(ActivityDatum).where(
            ActivityDatum.series == values["series"],
            ActivityDatum.resolution == values["resolution"],
            ActivityDatum.start_ms == values["start_ms"],
        )
    ).first()
    if row is None:
        row = ActivityDatum(**values)
        s.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    return row


def aggregate_in_session(
    s: Session,
    start_ms: int,
    end_ms: int,
    resolution: str = "month",
    *,
    source_ids: Collection[int] | None = None,
    only_buckets: Mapping[int, Collection[int]] | None = None,
) -> AggregationResult:
    """Store activity data of metered sources for the periods of ``resolution`` in [start, end).

    ``only_buckets`` (source id → bucket start ms) limits the rewrite to those periods (late data).
    Periods in a locked year are not rewritten; they are listed in ``skipped_locked``.
    """
    tz = park_timezone(s)
    buckets = period_buckets(start_ms, end_ms, resolution, tz)
    result = AggregationResult()
    masks = quality_masks()
    now = _now_ms()
    sites = site_tree(s)
    locked: dict[tuple[int | None, int], bool] = {}
    for source, meter, _ent in _sources(s, source_ids):
        if meter is None:
            result.gaps.append({"source": source.handle, "activity": source.activity, "reason": "no meter"})
            continue
        activity_id, params, reason = source_activity(source, meter)
        if activity_id is None:
            result.gaps.append({"source": source.handle, "activity": source.activity, "reason": reason})
            continue
        params.update(meter_levels(s, meter, source.enterprise_id, sites))
        amounts = meter_amounts(s, meter, buckets, masks=masks)
        result.notes.extend(f"{meter.code}: {n}" for n in amounts.notes)
        series = f"source:{source.id}"
        expected_per_ms = 1 / (meter.interval_minutes * 60_000)
        wanted = None if only_buckets is None else set(only_buckets.get(source.id, ()))
        empty: list[str] = []
        for i, label in enumerate(buckets.labels):
            b_start, b_end = buckets.bounds(i)
            if wanted is not None and b_start not in wanted:
                continue
            if amounts.n_readings[i] == 0:
                empty.append(label)  # no readings is a gap, never a zero
                continue
            year = int(label[:4])
            key = (source.enterprise_id, year)
            if key not in locked:
                locked[key] = _locked(s, source.enterprise_id, year)
            if locked[key]:
                result.skipped_locked.append({"source": source.handle, "period": label})
                continue
            is_virtual = s.get(VirtualMeter, meter.id) is not None
            _upsert(
                s,
                series=series,
                enterprise_id=source.enterprise_id,
                source_id=source.id,
                meter_id=meter.id,
                resolution=resolution,
                period=label,
                start_ms=b_start,
                end_ms=b_end,
                source_label=source.handle or str(source.id),
                activity=activity_id,
                amount=float(amounts.amount[i]),
                unit=meter.unit,
                params=params,
                origin="virtual" if is_virtual else "meter",
                n_readings=int(amounts.n_readings[i]),
                expected_readings=None if is_virtual else round((b_end - b_start) * expected_per_ms),
                estimated_amount=float(amounts.estimated[i]),
                flagged_amount=float(amounts.flagged[i]),
                computed_ms=now,
                note="; ".join(amounts.notes),
            )
            result.written += 1
            result.periods.add((source.enterprise_id, year))
        if empty:
            result.gaps.append(
                {
                    "source": source.handle,
                    "activity": source.activity,
                    "reason": f"no readings in {len(empty)} {resolution} period(s)",
                    "periods": empty,
                }
            )
    s.flush()
    return result


def aggregate_sources(
    db: str | None, period: str, resolution: str = "month", *, source_ids: Collection[int] | None = None
) -> AggregationResult:
    """Store activity data of every metered source for each ``resolution`` period within ``period``.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    period
        Local calendar period ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.
    resolution
        ``hour``, ``day``, ``month`` or ``year``.
    """
    with session(db) as s:
        start, end = period_bounds_ms(period, park_timezone(s))
        return aggregate_in_session(s, start, end, resolution, source_ids=source_ids)


def _affected_starts(s: Session, meter: Meter, ranges: Iterable[tuple[int, int]], resolution: str, tz: str) -> set[int]:
    """Bucket starts whose amounts depend on readings in the ``(first, last)`` ranges [UTC epoch ms].

    A register (cumulative meter) reading also moves the advance of the next reading, and a
    gap-bridged advance is spread over the interval labels back to the previous reading
    (:mod:`carbonpark.accounting.aggregation`): the range then reaches from just after the
    previous stored reading to the next one.
    """
    starts: set[int] = set()
    for first, last in ranges:
        lo, hi = int(first), int(last)
        if meter.reading_kind == "cumulative":
            after = s.scalars(
                select(Reading.ts_ms)
                .where(Reading.meter_id == meter.id, Reading.ts_ms > hi)
                .order_by(Reading.ts_ms)
                .limit(1)
            ).first()
            before = s.scalars(
                select(Reading.ts_ms)
                .where(Reading.meter_id == meter.id, Reading.ts_ms < lo)
                .order_by(Reading.ts_ms.desc())
                .limit(1)
            ).first()
            hi = after if after is not None else hi
            lo = before + 1 if before is not None else lo
        b = period_buckets(lo, hi + 1, resolution, tz)
        starts.update(int(x) for x in b.edges_ms[:-1])
    return starts


def _dependants(s: Session, meter_ids: set[int]) -> set[int]:
    """The meters plus every virtual meter whose formula (directly or not) uses one of them."""
    out = set(meter_ids)
    changed = True
    virtuals = list(s.scalars(select(VirtualMeter)))
    while changed:
        changed = False
        for v in virtuals:
            if v.meter_id in out:
                continue
            refs = {_resolve_meter(s, r).id for r in VirtualFormula.parse(v.formula).refs}
            if refs & out:
                out.add(v.meter_id)
                changed = True
    return out


def _stored_resolutions(s: Session, source: EmissionSource) -> tuple[str, ...]:
    """Resolutions at which the source's activity data are stored; ``month`` if none are but an
    accounting run of its organisation (or the park) exists (a run that found no data for it)."""
    from carbonpark.store.schema_accounting import AccountingRun

    found = set(
        s.scalars(select(ActivityDatum.resolution).where(ActivityDatum.series == f"source:{source.id}").distinct())
    )
    if found:
        return tuple(r for r in ("hour", "day", "month", "year") if r in found)
    owners = [AccountingRun.org == "park"]
    if source.enterprise_id is not None:
        owners.append(AccountingRun.enterprise_id == source.enterprise_id)
    has_run = s.scalars(select(AccountingRun.id).where(or_(*owners)).limit(1)).first() is not None
    return ("month",) if has_run else ()


def reaggregate_in_session(
    s: Session,
    changes: Mapping[int, Iterable[tuple[int, int]]],
    *,
    resolutions: Iterable[str] | None = None,
    reaccount: bool = True,
) -> dict[str, Any]:
    """Recompute, in the caller's transaction, the periods that changed readings touch.

    Parameters
    ----------
    changes
        Meter id → ``(first, last)`` ranges [UTC epoch ms, both inclusive] of readings that were
        stored late, out of order or corrected.
    resolutions
        The resolutions to rewrite for every affected source; ``None``: those at which the
        source's activity data are stored (``month`` when none are but an accounting run of its
        organisation exists), so that live data do not create data nobody asked for.
    reaccount
        Re-run the stored accounting runs over the rewritten organisations and years that are
        not locked (:func:`rerun_runs_in_session`).

    Returns
    -------
    dict
        ``rewritten`` (activity data rows), ``periods`` ({source_id, resolution, start_ms}
        refreshed), ``skipped_locked`` (periods of a submitted or verified year: they wait for a
        new inventory version) and ``reaccounted`` ({org, period} re-run).

    Notes
    -----
    Virtual meters whose formulas use a changed meter are followed (their sources too); a
    period of a locked year is never rewritten (:func:`aggregate_in_session`).
    """
    out: dict[str, Any] = {"rewritten": 0, "periods": [], "skipped_locked": [], "reaccounted": []}
    changed = {int(m): [(int(a), int(b)) for a, b in r] for m, r in changes.items()}
    if not changed:
        return out
    tz = park_timezone(s)
    affected = _dependants(s, set(changed))
    sources = [src for src, meter, _e in _sources(s, None) if meter is not None and meter.id in affected]
    fixed = None if resolutions is None else tuple(resolutions)
    # sources whose periods to rewrite are the same go through one aggregation (a live stream: every
    # source of the park in the current month)
    groups: dict[tuple[str, frozenset[int]], list[int]] = defaultdict(list)
    for source in sources:
        parts = sorted((_dependants_of(s, source.meter_id) if source.meter_id else set()) & set(changed))
        for resolution in fixed if fixed is not None else _stored_resolutions(s, source):
            starts: set[int] = set()
            for meter_id in parts:
                meter = s.get(Meter, meter_id)
                assert meter is not None
                starts |= _affected_starts(s, meter, changed[meter_id], resolution, tz)
            if starts:
                groups[(resolution, frozenset(starts))].append(source.id)
    touched: set[tuple[int | None, int]] = set()
    for (resolution, starts_set), source_ids in groups.items():
        result = aggregate_in_session(
            s,
            min(starts_set),
            max(starts_set) + 1,
            resolution,
            source_ids=source_ids,
            only_buckets={sid: starts_set for sid in source_ids},
        )
        out["rewritten"] += result.written
        out["skipped_locked"].extend(result.skipped_locked)
        touched |= result.periods
        out["periods"].extend(
            {"source_id": sid, "resolution": resolution, "start_ms": st}
            for sid in source_ids
            for st in sorted(starts_set)
        )
    if reaccount and touched:
        out["reaccounted"] = rerun_runs_in_session(s, touched)
    return out


def rerun_runs_in_session(s: Session, touched: Iterable[tuple[int | None, int]]) -> list[dict[str, Any]]:
    """Re-run, in the caller's transaction, the stored runs over (enterprise id, year) pairs whose data changed.

    The enterprise's runs of that year and the park's runs of that year (the park sums its
    enterprises) are re-run from the stored activity data with their own factor and GWP sets;
    locked runs and locked years are left alone.
    """
    from carbonpark.services.accounting import PARK, account_in_session, is_period_locked
    from carbonpark.store.schema_accounting import AccountingRun

    handles = dict(s.execute(select(Enterprise.id, Enterprise.handle)).all())
    wanted: set[tuple[str, int]] = set()
    for ent_id, year in set(touched):
        wanted.add((handles.get(ent_id) or PARK, year) if ent_id is not None else (PARK, year))
        wanted.add((PARK, year))
    done: list[dict[str, Any]] = []
    for run in list(s.scalars(select(AccountingRun).order_by(AccountingRun.id))):
        year = int(run.period[:4])
        if (run.org, year) not in wanted or run.locked or is_period_locked(s, run.enterprise_id, year):
            continue
        account_in_session(s, run.org, run.period, factor_set=run.factor_set, gwp_set=run.gwp_set, refresh=False)
        done.append({"org": run.org, "period": run.period})
    return done


def reaggregate_late(
    db: str | None,
    changes: Mapping[int, Iterable[int]],
    *,
    resolutions: Iterable[str] = ("month",),
    reaccount: bool = True,
) -> dict[str, Any]:
    """Recompute only the periods that late or corrected readings touch (one transaction).

    Parameters
    ----------
    changes
        Meter id → timestamps [UTC epoch ms] of readings that arrived late or were corrected.
    resolutions
        The stored resolutions to refresh (those that exist for the sources are what matters).
    reaccount
        Also re-run the stored accounting runs of the affected organisations and years
        (those not locked).

    Returns
    -------
    dict
        ``rewritten`` (activity data rows), ``periods`` ({source, resolution, period} refreshed),
        ``skipped_locked`` (periods of a submitted or verified year: they need a new inventory
        version) and ``reaccounted`` (run org/period re-run); see :func:`reaggregate_in_session`.

    Notes
    -----
    Readings stored through the ingest pipeline are re-aggregated by the pipeline itself
    (``carbonpark.services.ingest.drain_dirty``); this is for readings stored otherwise.
    """
    ranges = {int(m): [(int(t), int(t)) for t in sorted(set(ts))] for m, ts in changes.items()}
    with session(db) as s:
        return reaggregate_in_session(s, ranges, resolutions=resolutions, reaccount=reaccount)


def _dependants_of(s: Session, meter_id: int) -> set[int]:
    """The meter and every meter its value is computed from (through virtual formulas)."""
    out = {meter_id}
    row = s.get(VirtualMeter, meter_id)
    if row is not None:
        for ref in VirtualFormula.parse(row.formula).refs:
            out |= _dependants_of(s, _resolve_meter(s, ref).id)
    return out


def add_manual_activity(
    s: Session,
    *,
    label: str,
    period: str,
    activity: str,
    amount: float,
    unit: str,
    enterprise_id: int | None = None,
    source_id: int | None = None,
    params: Mapping[str, Any] | None = None,
    note: str = "",
) -> ActivityDatum:
    """Enter an activity datum by hand for a local calendar period (``YYYY`` or ``YYYY-MM`` …).

    Replaces a manual datum of the same label and period. The amount is checked like a line of an
    activity file when it is accounted.

    Raises
    ------
    ValidationError
        For a negative or non-finite amount, or a period of a locked year.
    """
    if not np.isfinite(amount) or amount < 0:
        raise ValidationError(f"activity {label}", "an amount >= 0", amount)
    tz = park_timezone(s)
    start, end = period_bounds_ms(period, tz)
    resolution = {4: "year", 7: "month", 10: "day"}[len(period.strip())]
    if is_period_locked_year(s, enterprise_id, int(period[:4])):
        raise ValidationError(f"period {period}", "a period that is not submitted or verified", "locked")
    series = f"manual:{enterprise_id or 'park'}:{label}"
    row = _upsert(
        s,
        series=series,
        enterprise_id=enterprise_id,
        source_id=source_id,
        meter_id=None,
        resolution=resolution,
        period=period.strip(),
        start_ms=start,
        end_ms=end,
        source_label=label,
        activity=activity,
        amount=float(amount),
        unit=unit,
        params=dict(params or {}),
        origin="manual",
        n_readings=0,
        expected_readings=None,
        estimated_amount=0.0,
        flagged_amount=0.0,
        computed_ms=_now_ms(),
        note=note,
    )
    s.flush()
    return row


def is_period_locked_year(s: Session, enterprise_id: int | None, year: int) -> bool:
    """Whether the year is locked for the enterprise (see :func:`carbonpark.services.accounting.is_period_locked`)."""
    return _locked(s, enterprise_id, year)


def stored_activity(
    s: Session, start_ms: int, end_ms: int, enterprise_ids: Collection[int | None] | None
) -> list[ActivityDatum]:
    """Stored activity data inside [start, end) for the enterprises (None in the set = park-level).

    Per series, one resolution is used — the first of month, year, day, hour that has data —
    so that the same activity is never counted at two resolutions.
    """
    stmt = select(ActivityDatum).where(ActivityDatum.start_ms >= start_ms, ActivityDatum.end_ms <= end_ms)
    if enterprise_ids is not None:
        ids = [e for e in enterprise_ids if e is not None]
        conds = [ActivityDatum.enterprise_id.in_(ids)] if ids else []
        if None in enterprise_ids:
            conds.append(ActivityDatum.enterprise_id.is_(None))
        stmt = stmt.where(or_(*conds) if conds else false())
    rows = list(s.scalars(stmt.order_by(ActivityDatum.series, ActivityDatum.start_ms)))
    by_series: dict[str, dict[str, list[ActivityDatum]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_series[row.series][row.resolution].append(row)
    chosen: list[ActivityDatum] = []
    for series in sorted(by_series):
        for resolution in _RESOLUTION_PREFERENCE:
            if by_series[series].get(resolution):
                chosen.extend(by_series[series][resolution])
                break
    return chosen


def datum_record(row: ActivityDatum, enterprise: str, year: int | None) -> accounting.ActivityRecord:
    """The engine's activity record of a stored datum (``line`` is the datum's id).

    The site, workshop and device stored with the datum (:func:`meter_levels`) carry over; a
    datum without them (entered by hand, or stored before they were kept) is :data:`UNPLACED`
    at those levels, so the totals of every level add up to the enterprise total.
    """
    params = {k: v for k, v in (row.params or {}).items() if k in accounting.ActivityRecord.__dataclass_fields__}
    for key in ("line", "source", "activity", "amount", "unit", "enterprise", "year"):
        params.pop(key, None)
    for level in LEVELS:
        params[level] = str(params.get(level) or UNPLACED)
    return accounting.ActivityRecord(
        line=row.id,
        source=row.source_label,
        activity=row.activity,
        amount=row.amount,
        unit=row.unit,
        enterprise=enterprise,
        year=year,
        **params,
    )


def activity_records(db: str | None, period: str) -> tuple[list[accounting.ActivityRecord], list[dict[str, Any]]]:
    """Activity records of every metered emission source for ``period`` (one record per source),
    computed from the readings without storing them, and the sources left without data.

    ``line`` of each record is the source id.
    """
    records: list[accounting.ActivityRecord] = []
    gaps: list[dict[str, Any]] = []
    with session(db) as s:
        tz = park_timezone(s)
        start, end = period_bounds_ms(period, tz)
        whole = period_buckets(start, end, "year", tz) if len(period.strip()) == 4 else None
        masks = quality_masks()
        sites = site_tree(s)
        for source, meter, ent_handle in _sources(s, None):
            if meter is None:
                gaps.append({"source": source.handle, "activity": source.activity, "reason": "no meter"})
                continue
            activity_id, params, reason = source_activity(source, meter)
            if activity_id is None:
                gaps.append({"source": source.handle, "activity": source.activity, "reason": reason})
                continue
            buckets = whole or _single_bucket(start, end)
            amount = float(meter_amounts(s, meter, buckets, masks=masks).amount.sum())
            params.pop("scope", None)
            params.pop("category", None)
            params.update(meter_levels(s, meter, source.enterprise_id, sites))
            records.append(
                accounting.ActivityRecord(
                    line=source.id,
                    source=source.handle or str(source.id),
                    activity=activity_id,
                    amount=amount,
                    unit=meter.unit,
                    enterprise=ent_handle or "park",
                    **params,
                )
            )
    return records, gaps


def _single_bucket(start_ms: int, end_ms: int) -> Buckets:
    return Buckets("period", ("period",), np.array([start_ms, end_ms], dtype=np.int64))
