"""Quality checks over stored readings, calibration lists and online calibration (SPEC C4, the guide §4.1).

``check_readings`` loads each meter's readings, runs the pure checks of
:mod:`carbonpark.quality`, compares main meters with their sub-meters, marks readings
taken while the meter was overdue for calibration, and writes the quality bits back to
``readings.quality`` (only the bits the checks own: ``estimated``, ``gap_filled``,
``manual`` and ``corrected`` set by the ingest pipeline are kept). Running it twice
gives the same flags.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update

from carbonpark import quality as q
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.model import CalibrationSpec
from carbonpark.services.scheduling import run_every
from carbonpark.store import registry as reg
from carbonpark.store import session
from carbonpark.store.schema import Calibration, Carrier, Device, EmissionSource, Enterprise, Meter, Reading, Site
from carbonpark.times import local_iso, parse_timestamp, to_ms

__all__ = [
    "CHECK_BITS",
    "calibration_due_list",
    "check_readings",
    "faults_found",
    "metrology_check",
    "online_calibrate",
    "step_quality",
    "watch_readings",
]

#: Quality bits the checks own (rewritten on every run); the others come from ingest and are kept.
CHECK_BITS = int(
    q.QualityFlag.SUSPECT_SPIKE
    | q.QualityFlag.STUCK
    | q.QualityFlag.NEGATIVE_STEP
    | q.QualityFlag.ROLLOVER
    | q.QualityFlag.TIMESTAMP_SKEW
    | q.QualityFlag.IMBALANCE
    | q.QualityFlag.UNCALIBRATED
)
ACTOR = "quality"


@dataclass
class _Loaded:
    meter: Meter
    carrier: str | None
    enterprise: str | None
    ts: np.ndarray
    values: np.ndarray
    quality: np.ndarray


def _load(s: Any, meter: Meter, start_ms: int | None, end_ms: int | None) -> tuple[np.ndarray, ...]:
    stmt = select(Reading.ts_ms, Reading.value, Reading.quality).where(Reading.meter_id == meter.id)
    if start_ms is not None:
        stmt = stmt.where(Reading.ts_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(Reading.ts_ms < end_ms)
    rows = s.execute(stmt.order_by(Reading.ts_ms)).all()
    if not rows:
        return np.array([], dtype=np.int64), np.array([], dtype=float), np.array([], dtype=np.int64)
    arr = np.array(rows, dtype=object)
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(float), arr[:, 2].astype(np.int64)


def _series(item: _Loaded) -> q.MeterSeries:
    m = item.meter
    return q.MeterSeries(
        meter=m.code,
        ts_ms=item.ts,
        values=item.values,
        reading_kind=m.reading_kind,
        interval_minutes=m.interval_minutes,
        rollover=m.rollover,
    )


def _bounds(start: str | None, end: str | None, tz: str) -> tuple[int | None, int | None]:
    return (
        parse_timestamp(start, tz, "start") if start else None,
        parse_timestamp(end, tz, "end") if end else None,
    )


def _uncalibrated(ts: np.ndarray, cals: list[Calibration], tz: str) -> np.ndarray:
    """Readings taken after the due date of the meter's latest calibration before them, or after a failed one.

    A meter without any calibration record is not flagged here (``calibration due`` lists it as ``never``).
    """
    mask = np.zeros(ts.size, dtype=bool)
    if not cals or ts.size == 0:
        return mask
    cals = sorted(cals, key=lambda c: c.calibrated_on)
    starts = np.array([to_ms(datetime.combine(c.calibrated_on, datetime.min.time()), tz) for c in cals])
    # valid until the end of the due day
    ends = np.array([to_ms(datetime.combine(c.due_on, datetime.min.time()), tz) + 86_400_000 for c in cals])
    which = np.searchsorted(starts, ts, side="right") - 1
    covered = which >= 0
    idx = np.clip(which, 0, None)
    passed = np.array([c.passed for c in cals])
    mask[covered] = (ts[covered] >= ends[idx[covered]]) | ~passed[idx[covered]]
    return mask


def _finding_doc(f: q.Finding, tz: str) -> dict[str, Any]:
    return {
        "meter": f.meter,
        "kind": f.kind,
        "start": local_iso(f.start_ms, tz),
        "end": local_iso(f.end_ms, tz),
        "count": f.count,
        "detail": f.detail,
    }


def check_readings(
    db: str | None,
    meter: str | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    tolerance: float = 0.05,
    write_flags: bool = True,
    now_ms: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every check over stored readings and write the quality flags.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    meter
        One meter (id, handle or code) and, if it is a main meter, its balance; default all.
    start, end
        Window ``[start, end)`` (ISO 8601, park-local when naive); default every reading.
    tolerance
        Largest accepted |main − Σ sub-meters| / main per day [fraction].
    write_flags
        Store the flags in ``readings.quality`` (false: report only).
    now_ms
        "Now" for future-timestamp detection [UTC epoch ms]; default the wall clock.

    Returns
    -------
    dict
        ``meters``, ``readings``, ``by_kind`` (findings per kind), ``flagged_readings``,
        ``flags_written`` and ``findings`` (meter, kind, start, end, count, detail; local times).
    """
    report = on_progress or (lambda stage, done, total: None)
    now = now_ms if now_ms is not None else int(pd.Timestamp.now(tz="UTC").value // 1_000_000)
    with session(db) as s:
        park = reg.the_park(s)
        tz = park.timezone
        start_ms, end_ms = _bounds(start, end, tz)
        stmt = (
            select(Meter, Carrier.code, Enterprise.handle)
            .outerjoin(Carrier, Meter.carrier_id == Carrier.id)
            .outerjoin(Enterprise, Meter.enterprise_id == Enterprise.id)
            .where(Meter.park_id == park.id)
            .order_by(Meter.id)
        )
        if meter is not None:
            chosen = reg.resolve(s, Meter, meter, park.id)
            stmt = stmt.where((Meter.id == chosen.id) | (Meter.parent_id == chosen.id))
        rows = [r for r in s.execute(stmt).all() if r[0].reading_kind in q.checks.READING_KINDS]  # not virtual
        cals: dict[int, list[Calibration]] = {}
        for c in s.scalars(select(Calibration).where(Calibration.meter_id.in_([m.id for m, _, _ in rows]))):
            cals.setdefault(c.meter_id, []).append(c)
        loaded: dict[int, _Loaded] = {}
        for i, (m, carrier, ent) in enumerate(rows):
            report("load", i, len(rows))
            ts, values, quality = _load(s, m, start_ms, end_ms)
            loaded[m.id] = _Loaded(m, carrier, ent, ts, values, quality)
        findings: list[q.Finding] = []
        new_flags: dict[int, np.ndarray] = {}
        amounts: dict[int, np.ndarray] = {}
        for i, item in enumerate(loaded.values()):
            report("check", i, len(loaded))
            if item.ts.size == 0:
                new_flags[item.meter.id] = np.zeros(0, dtype=np.int64)
                amounts[item.meter.id] = np.zeros(0)
                continue
            rep = q.check_meter(_series(item), start_ms=start_ms, end_ms=end_ms, now_ms=now)
            flags = rep.flags.copy()
            overdue = _uncalibrated(item.ts, cals.get(item.meter.id, []), tz)
            if overdue.any():
                flags[overdue] |= q.QualityFlag.UNCALIBRATED
                hit = np.flatnonzero(overdue)
                findings.append(
                    q.Finding(
                        "uncalibrated",
                        item.meter.code,
                        int(item.ts[hit[0]]),
                        int(item.ts[hit[-1]]),
                        int(hit.size),
                        {"due_on": max(c.due_on for c in cals[item.meter.id]).isoformat()},
                    )
                )
            findings += rep.findings
            new_flags[item.meter.id] = flags
            amounts[item.meter.id] = rep.amounts
        amount_kinds = {"interval", "cumulative"}  # rates (instantaneous meters) do not add up
        for item in loaded.values():
            children = [
                c
                for c in loaded.values()
                if c.meter.parent_id == item.meter.id and c.meter.reading_kind in amount_kinds
            ]
            if not children or item.ts.size == 0 or item.meter.reading_kind not in amount_kinds:
                continue
            bal, _ = q.balance(
                item.meter.code,
                item.ts,
                amounts[item.meter.id],
                [(c.meter.code, c.ts, amounts[c.meter.id]) for c in children],
                tolerance=tolerance,
                tz=tz,
            )
            findings += bal
            flags = new_flags[item.meter.id]
            for f in bal:
                flags[(item.ts >= f.start_ms) & (item.ts <= f.end_ms)] |= q.QualityFlag.IMBALANCE
        written = 0
        flagged = 0
        for item in loaded.values():
            flags = new_flags[item.meter.id]
            merged = (item.quality & ~CHECK_BITS) | flags
            flagged += int(np.count_nonzero(flags))
            changed = np.flatnonzero(merged != item.quality)
            if write_flags and changed.size:
                s.execute(
                    update(Reading),
                    [{"meter_id": item.meter.id, "ts_ms": int(item.ts[i]), "quality": int(merged[i])} for i in changed],
                )
                written += int(changed.size)
    findings.sort(key=lambda f: (f.meter, f.start_ms, f.kind))
    return {
        "meters": len(loaded),
        "readings": int(sum(i.ts.size for i in loaded.values())),
        "by_kind": dict(sorted(Counter(f.kind for f in findings).items())),
        "flagged_readings": flagged,
        "flags_written": written,
        "findings": [_finding_doc(f, tz) for f in findings],
    }


def watch_readings(
    db: str | None,
    *,
    every_s: float,
    window_hours: float = 48.0,
    cycles: int | None = None,
    tolerance: float = 0.05,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run the checks continuously: every ``every_s`` seconds over the last ``window_hours``.

    Each run rewrites the check bits of the readings in the window (late data included) and
    is passed to ``on_run``; returns the number of runs. Stops after ``cycles`` runs, or on
    KeyboardInterrupt.
    """
    if every_s <= 0 or window_hours <= 0:
        raise ValidationError("--every / --window-hours", "positive numbers", (every_s, window_hours))

    def step() -> dict[str, Any]:
        now_ms = int(clock() * 1000)
        start_ms = now_ms - int(window_hours * 3_600_000)
        with session(db) as s:
            tz = reg.the_park(s).timezone
        return check_readings(db, start=local_iso(start_ms, tz), tolerance=tolerance, now_ms=now_ms)

    return run_every(step, every_s=every_s, cycles=cycles, on_run=on_run, sleep=sleep)


def faults_found(faults: list[dict[str, Any]], findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Match the demo's fault manifest (``demo-faults.json``) with the findings of :func:`check_readings`.

    A fault is found when a finding of the same kind on the same meter covers its start
    (local ISO times of the same park compare as text once the offset is dropped).
    """
    out = []
    for fault in faults:
        at = fault["start"][:19]
        hit = [
            f
            for f in findings
            if f["meter"] == fault["meter"] and f["kind"] == fault["kind"] and f["start"][:19] <= at <= f["end"][:19]
        ]
        out.append({**fault, "found": bool(hit), "finding": hit[0] if hit else None})
    return out


def calibration_due_list(db: str | None, *, today: date | None = None, horizon_days: int = 30) -> dict[str, Any]:
    """Calibration status of every meter (overdue, due soon, failed, never, ok), most urgent first."""
    with session(db) as s:
        park = reg.the_park(s)
        meters = dict(s.execute(select(Meter.id, Meter.code).where(Meter.park_id == park.id)).all())
        records = [
            q.CalibrationRecord(meters[c.meter_id], c.calibrated_on, c.due_on, c.passed, c.certificate)
            for c in s.scalars(select(Calibration).where(Calibration.meter_id.in_(meters)))
        ]
    day = today or date.today()
    rows = q.calibration_due(records, today=day, horizon_days=horizon_days, meters=sorted(meters.values()))
    counts = Counter(r["status"] for r in rows)
    return {
        "today": day.isoformat(),
        "horizon_days": horizon_days,
        "counts": {k: counts.get(k, 0) for k in ("failed", "overdue", "never", "due_soon", "ok")},
        "meters": rows,
    }


def _read_reference_file(path: Path, tz: str) -> tuple[np.ndarray, np.ndarray]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"ts", "value"} <= set(reader.fieldnames):
            raise ValidationError(str(path), "a CSV with columns ts,value", reader.fieldnames)
        ts, values = [], []
        for n, row in enumerate(reader, start=2):
            ts.append(parse_timestamp(row["ts"], tz, f"{path}:{n} ts"))
            try:
                values.append(float(row["value"]))
            except ValueError:
                raise ValidationError(f"{path}:{n} value", "a number", row["value"]) from None
    return np.array(ts, dtype=np.int64), np.array(values, dtype=float)


def online_calibrate(
    db: str | None,
    meter: str,
    *,
    reference_class: str,
    reference: str | None = None,
    reference_file: Path | None = None,
    start: str | None = None,
    end: str | None = None,
    calibrated_on: date | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Compare a meter with a movable reference meter over the same intervals and record the calibration.

    Parameters
    ----------
    meter
        The meter under test (id, handle or code).
    reference_class
        Accuracy class of the reference (at most a third of the meter's MPE).
    reference, reference_file
        The reference: a registered meter whose readings are in the store (the movable
        reference reporting through the ingest pipeline), or a CSV ``ts,value`` of its
        interval amounts. Exactly one.
    start, end
        Comparison window ``[start, end)``; default every paired interval.
    calibrated_on
        Date of the record; default the date of the last paired interval.
    record
        Write a calibration record (``calibrations``, with audit entry).

    Returns
    -------
    dict
        :meth:`OnlineCalibration.to_dict` plus ``recorded`` (the record's handle or ``None``).
    """
    if (reference is None) == (reference_file is None):
        raise ValidationError("reference", "exactly one of --reference METER or --reference-file CSV", None)
    with session(db) as s:
        park = reg.the_park(s)
        tz = park.timezone
        start_ms, end_ms = _bounds(start, end, tz)
        m = reg.resolve(s, Meter, meter, park.id)
        ts, values, _ = _load(s, m, start_ms, end_ms)
        if m.reading_kind == "cumulative":
            values, _, _ = q.cumulative_steps(values, m.rollover)
        if reference is not None:
            ref_meter = reg.resolve(s, Meter, reference, park.id)
            r_ts, r_values, _ = _load(s, ref_meter, start_ms, end_ms)
            if ref_meter.reading_kind == "cumulative":
                r_values, _, _ = q.cumulative_steps(r_values, ref_meter.rollover)
            ref_name = ref_meter.code
        else:
            assert reference_file is not None
            r_ts, r_values = _read_reference_file(reference_file, tz)
            keep = (r_ts >= (start_ms or -(2**62))) & (r_ts < (end_ms or 2**62))
            r_ts, r_values = r_ts[keep], r_values[keep]
            ref_name = reference_file.name
        common, i_m, i_r = np.intersect1d(ts, r_ts, return_indices=True)
        if common.size == 0:
            raise NotFoundError("paired interval", f"{m.code} and {ref_name} have no timestamp in common")
        last = pd.Timestamp(int(common[-1]), unit="ms", tz="UTC").tz_convert(tz).date()
        prior = s.scalars(
            select(Calibration).where(Calibration.meter_id == m.id).order_by(Calibration.calibrated_on.desc())
        ).first()
        cycle = (prior.due_on - prior.calibrated_on).days if prior else q.calibration.DEFAULT_CYCLE_DAYS
        result = q.online_calibration(
            m.code,
            values[i_m],
            r_values[i_r],
            accuracy_class=m.accuracy_class,
            reference=ref_name,
            reference_class=reference_class,
            calibrated_on=calibrated_on or last,
            cycle_days=cycle,
        )
        handle = None
        if record:
            row = reg.add_calibration(
                s,
                park,
                CalibrationSpec(
                    meter=m.code,
                    calibrated_on=result.calibrated_on,
                    due_on=result.due_on,
                    certificate=result.certificate,
                    agency=(
                        f"在线比对 online comparison vs {ref_name} (class {reference_class}): "
                        f"error {result.error_pct:+.3f} % / MPE ±{result.mpe_pct:g} %"
                    )[:200],
                    passed=result.passed,
                ),
                ACTOR,
            )
            handle = row.handle
    return {
        **result.to_dict(),
        "window": [local_iso(int(common[0]), tz), local_iso(int(common[-1]), tz)],
        "recorded": handle,
    }


_DEVICE_CARRIER = {"gas_boiler": "natural_gas", "chp": "natural_gas", "steam_boiler": "steam", "coal_boiler": "coal"}


def metrology_check(db: str | None) -> dict[str, Any]:
    """Meter coverage (GB 17167-2006 表3) and accuracy classes of boundary meters (表4) per enterprise.

    Coverage: at the enterprise's boundary one meter per carrier it uses (a meter or an
    emission source names it); at the sub-unit level one electricity meter per workshop,
    and one per workshop for any other carrier that is sub-metered at all; at the
    equipment level one meter per registered device (the registry holds the main devices).
    Accuracy: boundary meters against 表4, electricity by the category its average monthly
    consumption gives (DL/T 448-2016).
    """
    with session(db) as s:
        park = reg.the_park(s)
        tz = park.timezone
        ents = s.scalars(select(Enterprise).where(Enterprise.park_id == park.id).order_by(Enterprise.id)).all()
        meter_rows = s.execute(
            select(Meter, Carrier.code)
            .outerjoin(Carrier, Meter.carrier_id == Carrier.id)
            .where(Meter.park_id == park.id)
        ).all()
        workshops = Counter(
            e for (e,) in s.execute(select(Site.enterprise_id).where(Site.kind == "workshop", Site.park_id == park.id))
        )
        devices = s.scalars(select(Device).where(Device.park_id == park.id)).all()
        metered_devices = {m.device_id for m, _ in meter_rows if m.device_id}
        source_carriers: dict[int, set[str]] = {}
        for src, carrier in s.execute(
            select(EmissionSource, Carrier.code)
            .join(Meter, EmissionSource.meter_id == Meter.id)
            .outerjoin(Carrier, Meter.carrier_id == Carrier.id)
        ):
            if src.enterprise_id and carrier:
                source_carriers.setdefault(src.enterprise_id, set()).add(carrier)
        items: list[q.CoverageItem] = []
        classes: list[q.MeterClass] = []
        for e in ents:
            mine = [(m, c) for m, c in meter_rows if m.enterprise_id == e.id and c]
            boundary = [(m, c) for m, c in mine if m.parent_id is None]
            used = {c for _, c in mine} | source_carriers.get(e.id, set())
            for carrier in sorted(used):
                have = sum(1 for _, c in boundary if c == carrier)
                items.append(q.CoverageItem(str(e.handle), carrier, "unit", 1, min(have, 1)))
                subs = sum(1 for m, c in mine if c == carrier and m.parent_id is not None)
                if workshops.get(e.id) and (carrier == "electricity" or subs):
                    items.append(q.CoverageItem(str(e.handle), carrier, "sub_unit", workshops[e.id], subs))
            for carrier in sorted(
                {_DEVICE_CARRIER.get(d.kind, "electricity") for d in devices if d.enterprise_id == e.id}
            ):
                mine_dev = [
                    d
                    for d in devices
                    if d.enterprise_id == e.id and _DEVICE_CARRIER.get(d.kind, "electricity") == carrier
                ]
                items.append(
                    q.CoverageItem(
                        str(e.handle),
                        carrier,
                        "equipment",
                        len(mine_dev),
                        sum(d.id in metered_devices for d in mine_dev),
                    )
                )
            for m, carrier in boundary:
                monthly = None
                if carrier == "electricity":
                    ts, values, _ = _load(s, m, None, None)
                    amounts = q.cumulative_steps(values, m.rollover)[0] if m.reading_kind == "cumulative" else values
                    days = (ts[-1] - ts[0]) / 86_400_000 + m.interval_minutes / 1440 if ts.size else 0
                    monthly = float(np.nansum(amounts)) / days * 365.25 / 12 if days else 0.0
                classes.append(q.MeterClass(m.code, carrier, m.accuracy_class, monthly, enterprise=str(e.handle)))
    coverage = q.coverage_check(items)
    accuracy = q.accuracy_check(classes)
    return {
        "timezone": tz,
        "coverage": coverage,
        "accuracy": accuracy,
        "summary": {
            "coverage_noncompliant": sum(1 for r in coverage if r["compliant"] is False),
            "accuracy_noncompliant": sum(1 for r in accuracy if r["compliant"] is False),
            "accuracy_without_requirement": sum(1 for r in accuracy if r["compliant"] is None),
        },
    }


def step_quality(db: str | None, out: Path) -> dict[str, Any]:
    """Demo step: run the checks, match the injected faults, write ``quality.json``."""
    doc = check_readings(db)
    manifest = out / "demo-faults.json"
    faults = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else []
    matched = faults_found(faults, doc["findings"])
    due = calibration_due_list(db)
    full = {**doc, "injected_faults": matched, "calibration": due["counts"]}
    path = out / "quality.json"
    path.write_text(json.dumps(full, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return {
        "findings": doc["by_kind"],
        "flagged_readings": doc["flagged_readings"],
        "injected_faults": len(matched),
        "injected_faults_found": sum(1 for f in matched if f["found"]),
        "calibration": due["counts"],
        "output": str(path),
    }
