"""Forecasting over stored readings: store → hourly frames → forecast engine (issue 9).

* :func:`series_frame` turns the readings of one meter, or the intake of an enterprise or
  of the park, into the forecast contract's long frame (hourly or daily, park-local).
* :func:`forecast_stored` forecasts and backtests that series.
* :func:`forecast_park_meters` forecasts every meter of the park in one call, over the
  cores (:func:`carbonpark.forecast.forecast_many`).
* :func:`monthly_by_enterprise` gives each enterprise's monthly use per energy carrier.
* :func:`park_peak` estimates the park's emission peak year under scenarios.
* :func:`demo_step` is the forecast step of ``carbonpark demo``.

Aggregation choices (the issue is silent on them):

* readings are stamped at the start of their interval; an hour is the sum of the interval
  readings in it (energy, volume, mass), the sum of register advances for cumulative
  meters (a drop is a rollover when the meter has one) and the mean for instantaneous
  meters;
* an hour with fewer readings than the meter's interval implies is missing; missing hours
  (gaps, the first hour of a register) are filled with the value one week earlier, else one
  day earlier, else one week or day later, else by linear interpolation, and the number of
  filled hours is reported — a forecaster needs a regular series, and nothing is invented
  silently;
* the *intake* of an enterprise is the sum of its top-level meters of the carrier; the
  intake of the park is its own top-level meters of the carrier whose code or name marks
  them as the boundary (``intake``, ``进线``, ``门站``).

References
----------
Guide §4.4 (energy demand forecasting), §4.5 (emission forecasting); SPEC C8, C9.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from carbonpark import accounting, forecast
from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.store import registry as reg
from carbonpark.store import session
from carbonpark.store.schema import Carrier, Enterprise, Meter, Park, Reading

__all__ = [
    "BULK_MODEL",
    "INTAKE_MARKERS",
    "StoredSeries",
    "demo_step",
    "fill_gaps",
    "forecast_park_meters",
    "forecast_stored",
    "grid_factor_tco2_per_kwh",
    "hourly_from_readings",
    "monthly_by_enterprise",
    "park_energy_by_carrier",
    "park_peak",
    "series_frame",
]

#: Code or name fragments that mark a park-level meter as the park's boundary (intake).
INTAKE_MARKERS: tuple[str, ...] = ("intake", "进线", "门站")
#: Default model when every meter of a park is forecast at once: ridge fits in milliseconds and
#: beats seasonal naive on the demo park (asserted in the tests); ``auto`` backtests every
#: candidate (seconds per series) and remains available with ``model="auto"``.
BULK_MODEL = "ridge"
#: Daily model used for monthly totals when the history is too short for a backtest.
FALLBACK_MONTHLY_MODEL = "ets"
_MS_PER_HOUR = 3_600_000


@dataclass
class StoredSeries:
    """A regular series built from stored readings, with what went into it."""

    frame: pd.DataFrame
    meters: dict[str, list[str]] = field(default_factory=dict)
    filled_hours: dict[str, int] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    timezone: str = "Asia/Shanghai"

    def meta(self) -> dict[str, Any]:
        """Plain description: meters behind each series, hours filled, unit."""
        return {
            sid: {"meters": self.meters[sid], "filled_hours": self.filled_hours[sid], "unit": self.units.get(sid)}
            for sid in self.meters
        }


def fill_gaps(values: pd.Series) -> tuple[pd.Series, int]:
    """Fill missing hours of an hourly series (see the module doc); return it and the count filled."""
    out = values.copy()
    missing = int(out.isna().sum())
    if missing == 0:
        return out, 0
    for shift in (168, 24, -168, -24):
        out = out.fillna(values.shift(shift))
    out = out.interpolate(limit_direction="both")
    return out, missing


def hourly_from_readings(
    ts_ms: np.ndarray,
    values: np.ndarray,
    reading_kind: str,
    interval_minutes: int,
    rollover: float | None,
    tz: str,
) -> pd.Series:
    """Hourly amounts of one meter, indexed by naive park-local hour; NaN for incomplete hours.

    Parameters
    ----------
    ts_ms, values
        Readings in time order [UTC epoch ms; the meter's canonical unit].
    reading_kind
        ``interval``, ``cumulative`` or ``instantaneous``.
    interval_minutes
        Reading interval [min]; an hour needs ``60 / interval_minutes`` readings.
    rollover
        Counter maximum of a cumulative register, if it has one.
    tz
        Park time zone.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    if reading_kind == "cumulative":
        steps = np.diff(v)
        if rollover:
            steps = np.where(steps < 0, steps + rollover, steps)
        steps = np.where(steps < 0, np.nan, steps)
        ts, v = ts[1:], steps
    if ts.size == 0:
        return pd.Series(dtype=float)
    hours = ts // _MS_PER_HOUR
    frame = pd.DataFrame({"hour": hours, "value": v})
    grouped = frame.groupby("hour")["value"]
    amount = grouped.mean() if reading_kind == "instantaneous" else grouped.sum(min_count=1)
    expected = max(1, 60 // max(1, int(interval_minutes)))
    amount[grouped.count() < expected] = np.nan
    full = np.arange(hours.min(), hours.max() + 1)
    amount = amount.reindex(full)
    local = pd.to_datetime(full * _MS_PER_HOUR, unit="ms", utc=True).tz_convert(tz).tz_localize(None)
    return pd.Series(amount.to_numpy(dtype=float), index=pd.DatetimeIndex(local, name="ts"))


def _meter_hourly(s: Session, meter: Meter, tz: str) -> pd.Series:
    rows = s.execute(
        select(Reading.ts_ms, Reading.value).where(Reading.meter_id == meter.id).order_by(Reading.ts_ms)
    ).all()
    if not rows:
        raise ValidationError(f"meter {meter.code!r}", "stored readings", "none")
    arr = np.asarray(rows, dtype=float)
    return hourly_from_readings(
        arr[:, 0].astype(np.int64), arr[:, 1], meter.reading_kind, meter.interval_minutes, meter.rollover, tz
    )


def _carrier_id(s: Session, park: Park, carrier: str) -> int:
    row = s.scalars(select(Carrier).where(Carrier.park_id == park.id, Carrier.code == carrier)).first()
    if row is None:
        known = s.scalars(select(Carrier.code).where(Carrier.park_id == park.id)).all()
        raise ValidationError("carrier", f"one of {sorted(known)}", carrier)
    return int(row.id)


def _intake_meters(s: Session, park: Park, org: str, carrier: str) -> tuple[str, list[Meter]]:
    """Series name and meters of the intake of ``org`` (the park, or an enterprise)."""
    carrier_id = _carrier_id(s, park, carrier)
    text = str(org).strip()
    if text.lower() == "park" or text == park.handle:
        candidates = s.scalars(
            select(Meter)
            .where(
                Meter.park_id == park.id,
                Meter.enterprise_id.is_(None),
                Meter.parent_id.is_(None),
                Meter.carrier_id == carrier_id,
            )
            .order_by(Meter.id)
        ).all()
        meters = [m for m in candidates if any(k in f"{m.code} {m.name}".lower() for k in INTAKE_MARKERS)]
        if not meters:
            raise ValidationError(
                f"park {carrier} intake",
                f"a park-level top-level {carrier} meter whose code or name contains one of {list(INTAKE_MARKERS)}",
                [m.code for m in candidates],
            )
        return str(park.handle or "park"), list(meters)
    enterprise = reg.resolve(s, Enterprise, text, park.id)
    own = list(
        s.scalars(
            select(Meter)
            .where(Meter.enterprise_id == enterprise.id, Meter.parent_id.is_(None), Meter.carrier_id == carrier_id)
            .order_by(Meter.id)
        ).all()
    )
    if not own:
        raise ValidationError(f"enterprise {enterprise.handle} {carrier} intake", "a top-level meter", "none")
    return str(enterprise.handle), own


def _sum_hourly(parts: list[pd.Series]) -> pd.Series:
    """Sum of hourly series over their common span; an hour missing in any part is missing."""
    start = max(p.index.min() for p in parts)
    end = min(p.index.max() for p in parts)
    if start > end:
        raise ValidationError("meters", "readings over a common period", "no overlap")
    index = pd.date_range(start, end, freq="h")
    return sum((p.reindex(index) for p in parts), pd.Series(0.0, index=index))


def _to_freq(hourly: pd.Series, freq: str) -> pd.Series:
    if freq == "h":
        return hourly
    if freq == "D":
        counts = hourly.resample("D").count()
        daily = hourly.resample("D").sum()
        return daily[counts == 24]
    raise ValidationError("freq", "h or D for stored readings", freq)


def series_frame(
    db: str | None,
    meter: str | None = None,
    org: str | None = None,
    carrier: str = "electricity",
    freq: str = "h",
    meters: list[str] | None = None,
) -> StoredSeries:
    """The contract's long frame of stored readings.

    Parameters
    ----------
    db
        Database URL.
    meter
        One meter (id, handle or code): one series named by its code.
    org
        ``park`` (or the park's handle) or an enterprise (id, handle, credit code, name):
        its intake of ``carrier`` as one series named by the organisation's handle.
    carrier
        Energy carrier of the intake (``electricity``, ``natural_gas``, ``steam`` …).
    freq
        ``h`` (hourly) or ``D`` (daily totals of complete days).
    meters
        Several meters, one series each (``None`` with no ``meter``/``org``: every
        meter of the park).

    Returns
    -------
    StoredSeries
        ``frame`` with ``series_id``, ``ts`` (naive park-local), ``value`` [meter unit].
    """
    freq = forecast.normalise_freq(freq)
    groups: list[tuple[str, list[Meter]]] = []
    with session(db) as s:
        park = reg.the_park(s)
        tz = park.timezone or "Asia/Shanghai"
        if meter is not None and org is not None:
            raise ValidationError("--meter/--org", "one of them", "both")
        if meter is not None:
            row = reg.resolve(s, Meter, meter, park.id)
            groups.append((row.code, [row]))
        elif org is not None:
            groups.append(_intake_meters(s, park, org, carrier))
        else:
            rows = (
                [reg.resolve(s, Meter, ref, park.id) for ref in meters]
                if meters is not None
                else s.scalars(select(Meter).where(Meter.park_id == park.id).order_by(Meter.id)).all()
            )
            groups.extend((row.code, [row]) for row in rows)
        out = StoredSeries(pd.DataFrame(), timezone=tz)
        pieces = []
        for sid, group in groups:
            hourly = _sum_hourly([_meter_hourly(s, m, tz) for m in group])
            filled, count = fill_gaps(hourly)
            values = _to_freq(filled, freq)
            pieces.append(pd.DataFrame({"series_id": sid, "ts": values.index, "value": values.to_numpy()}))
            out.meters[sid] = [str(m.handle or m.code) for m in group]
            out.filled_hours[sid] = count
            out.units[sid] = group[0].unit
    out.frame = pd.concat(pieces, ignore_index=True)
    return out


def forecast_stored(
    db: str | None,
    horizon: int,
    meter: str | None = None,
    org: str | None = None,
    carrier: str = "electricity",
    freq: str = "h",
    model: str = "auto",
    windows: int = 3,
    resolve: Callable[[str], forecast.Forecaster] | None = None,
) -> tuple[forecast.ForecastRun, StoredSeries]:
    """Forecast and backtest one stored series (a meter or an intake); see :func:`series_frame`."""
    if meter is None and org is None:
        raise ValidationError("--meter/--org", "a meter or an organisation", None)
    stored = series_frame(db, meter=meter, org=org, carrier=carrier, freq=freq)
    run = forecast.run_forecast(stored.frame, horizon, freq, model=model, windows=windows, resolve=resolve)
    return run, stored


def forecast_park_meters(
    db: str | None,
    horizon: int = 24,
    freq: str = "h",
    model: str = BULK_MODEL,
    windows: int = 7,
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
    meters: list[str] | None = None,
    min_hours: int = 24 * 21,
) -> tuple[dict[str, forecast.ForecastRun], StoredSeries, dict[str, str]]:
    """Forecast every meter of the park (or ``meters``) in one call, over the cores.

    The backtest uses ``windows`` origins one horizon apart (by default a week of daily
    origins, so that every weekday and the weekend are scored against seasonal naive).

    Meters with fewer than ``min_hours`` of history are left out and returned with the
    reason (third element), so that nothing is dropped silently.
    """
    stored = series_frame(db, freq=freq, meters=meters)
    lengths = stored.frame.groupby("series_id").size()
    per_hour = 1 if freq == "h" else 24
    short = {sid: f"{n} steps of history, fewer than {min_hours // per_hour}" for sid, n in lengths.items()}
    short = {sid: why for sid, why in short.items() if lengths[sid] * per_hour < min_hours}
    frame = stored.frame[~stored.frame["series_id"].isin(list(short))]
    runs = forecast.forecast_many(
        frame, horizon, freq, model=model, windows=windows, workers=workers, on_done=on_done, failures=short
    )
    return runs, stored, short


def monthly_by_enterprise(
    db: str | None,
    months: int = 2,
    carriers: tuple[str, ...] = ("electricity", "natural_gas", "steam"),
    model: str = "auto",
    workers: int | None = None,
) -> pd.DataFrame:
    """Monthly use of each enterprise per carrier for the ``months`` after the data end.

    With fewer than 24 months of history the months are the sums of daily forecasts (a
    monthly model needs two years to see a season); ``model`` chooses among the daily
    candidates by backtest, and a history too short to backtest at this horizon is
    forecast with :data:`FALLBACK_MONTHLY_MODEL` (its backtest is then missing, with the
    reason). The bounds of a month are the sums of
    the daily 80 % bounds (as if the days' errors were perfectly correlated: wide, not a
    probability statement).

    Returns
    -------
    pandas.DataFrame
        ``enterprise``, ``carrier``, ``month`` (``YYYY-MM``), ``mean``, ``lo``, ``hi``
        [meter unit], ``unit``, ``model``.
    """
    frames, units = [], {}
    with session(db) as s:
        park = reg.the_park(s)
        ents = s.scalars(select(Enterprise).where(Enterprise.park_id == park.id).order_by(Enterprise.id)).all()
        known = set(s.scalars(select(Carrier.code).where(Carrier.park_id == park.id)).all())
        pairs = [(str(e.handle), c) for e in ents for c in carriers if c in known]
    for handle, carrier in pairs:
        try:
            stored = series_frame(db, org=handle, carrier=carrier, freq="D")
        except ValidationError:
            continue  # the enterprise does not use this carrier
        sid = f"{handle}|{carrier}"
        frames.append(stored.frame.assign(series_id=sid))
        units[sid] = stored.units[handle]
    if not frames:
        return pd.DataFrame(columns=["enterprise", "carrier", "month", "mean", "lo", "hi", "unit", "model"])
    daily = pd.concat(frames, ignore_index=True)
    last = daily["ts"].max()
    end = (last + pd.offsets.MonthBegin(months + 1)).normalize()
    horizon = int((end - last).days) - 1
    failed: dict[str, str] = {}
    if int(daily.groupby("series_id").size().min()) < horizon + 2 * forecast.FREQUENCIES["D"]:
        failed = {sid: "history shorter than the horizon plus two weeks" for sid in daily["series_id"].unique()}
        runs: dict[str, forecast.ForecastRun] = {}
    else:
        runs = forecast.forecast_many(daily, horizon, "D", model=model, windows=2, workers=workers, failures=failed)
    if failed:  # too short to backtest at this horizon: forecast with ETS, the backtest notes why not
        retry = daily[daily["series_id"].isin(list(failed))]
        runs.update(forecast.forecast_many(retry, horizon, "D", model=FALLBACK_MONTHLY_MODEL, workers=workers))
    rows = []
    for sid, run in runs.items():
        fc = run.forecast.assign(month=run.forecast["ts"].dt.strftime("%Y-%m"))
        observed_months = set(daily.loc[daily["series_id"] == sid, "ts"].dt.strftime("%Y-%m"))
        enterprise, carrier = sid.split("|")
        for month, part in fc.groupby("month"):
            if month in observed_months:
                continue  # a month partly observed is not a forecast month
            rows.append(
                {
                    "enterprise": enterprise,
                    "carrier": carrier,
                    "month": month,
                    "mean": float(part["mean"].sum()),
                    "lo": max(0.0, float(part["lo-80"].sum())),
                    "hi": float(part["hi-80"].sum()),
                    "unit": units[sid],
                    "model": run.model,
                }
            )
    return pd.DataFrame(rows)


#: Accounting activity and unit of each carrier's canonical meter unit (the demo's meters).
_ACTIVITY: dict[str, tuple[str, str]] = {
    "electricity": ("grid_electricity", "kWh"),
    "natural_gas": ("natural_gas", "m3"),
    "steam": ("steam", "t"),
}


def _factor_per_unit(carrier: str) -> float:
    """tCO2e per unit of ``carrier`` from the accounting engine and its factor library [tCO2e/unit]."""
    from carbonpark.services.demo_run import STEAM_ENTHALPY_KJ_PER_KG

    activity, unit = _ACTIVITY[carrier]
    amount = 1_000_000.0
    record = accounting.ActivityRecord(
        line=1,
        source=carrier,
        activity=activity,
        amount=amount,
        unit=unit,
        steam_enthalpy_kj_per_kg=STEAM_ENTHALPY_KJ_PER_KG if carrier == "steam" else None,
    )
    return float(accounting.account([record]).total_tco2e) / amount


def grid_factor_tco2_per_kwh() -> float:
    """The grid electricity factor the accounting engine uses by default [tCO2/kWh]."""
    return _factor_per_unit("electricity")


def park_energy_by_carrier(db: str | None) -> tuple[dict[str, float], int, dict[str, int]]:
    """Yearly energy use at the park boundary per carrier [meter unit/a], base year, days observed.

    Electricity and gas are the park's intakes; steam is the sum of the enterprises'
    steam meters. A period shorter than a year is scaled to a year by days (stated).
    """
    totals: dict[str, float] = {}
    days: dict[str, int] = {}
    year = 0
    with session(db) as s:
        park = reg.the_park(s)
        handles = [str(h) for h in s.scalars(select(Enterprise.handle).where(Enterprise.park_id == park.id))]
    for carrier in _ACTIVITY:
        try:
            if carrier == "steam":
                parts = [series_frame(db, org=h, carrier=carrier).frame for h in handles if _uses(db, h, carrier)]
                if not parts:
                    continue
                hourly = pd.concat(parts).groupby("ts")["value"].sum()
            else:
                hourly = series_frame(db, org="park", carrier=carrier).frame.set_index("ts")["value"]
        except ValidationError:
            continue
        n_days = len(hourly) / 24.0
        totals[carrier] = float(hourly.sum()) * 365.0 / n_days
        days[carrier] = round(n_days)
        year = max(year, int(pd.DatetimeIndex(hourly.index).year.max()))
    return totals, year, days


def _uses(db: str | None, enterprise: str, carrier: str) -> bool:
    try:
        with session(db) as s:
            park = reg.the_park(s)
            _intake_meters(s, park, enterprise, carrier)
        return True
    except (ValidationError, NotFoundError):
        return False


#: Illustrative assumptions of the demo's peak estimate (not forecasts of any authority):
#: growth of the park's industrial output per year by period, and the energy elasticity band.
DEMO_OUTPUT_GROWTH: dict[int, float] = {2025: 0.05, 2030: 0.04, 2040: 0.025, 2050: 0.015, 2060: 0.01}
DEMO_ELASTICITY: tuple[float, float, float] = (0.4, 0.6, 0.8)


def demo_scenarios(base_grid_factor: float, base_year: int) -> list[forecast.Scenario]:
    """The demo's scenarios: BAU, a declining grid factor, and that plus projects and a newcomer.

    The declining national grid factor is a scenario, not a forecast: linear from the
    base-year factor to 0.1 tCO2/MWh in 2060 (per kWh here: ``kWh`` is the meter unit).
    """
    grid_path = {base_year: base_grid_factor, 2060: 0.1 / 1000.0}
    return [
        forecast.Scenario("business_as_usual"),
        forecast.Scenario("grid_decarbonisation", factors={"electricity": grid_path}),
        forecast.Scenario(
            "decarbonisation_with_projects",
            factors={"electricity": grid_path},
            retrofits=[
                forecast.Retrofit("electricity", base_year + 2, share=0.08, name="motor and compressed-air retrofit"),
                forecast.Retrofit("natural_gas", base_year + 3, share=0.25, name="heat pumps replace gas boilers"),
                forecast.Retrofit("steam", base_year + 3, share=0.15, name="condensate recovery"),
            ],
            new_enterprises=[forecast.NewEnterprise("electricity", base_year + 2, 6.0e6, name="new assembly plant")],
            removals=[forecast.Removal(base_year + 10, 2000.0, kind="offsets and forestry sink")],
        ),
    ]


def park_peak(db: str | None, until: int = 2060) -> dict[str, Any]:
    """Peak year and height of the park's emissions per scenario, with an 80 %-style band.

    Business as usual is the elasticity method from the base year's energy
    (:func:`carbonpark.forecast.elasticity_projection`) with the illustrative growth and
    elasticity band above; emissions are formula (8) with factors from the accounting
    engine's library; the scenarios are :func:`demo_scenarios`.
    """
    base, year, days = park_energy_by_carrier(db)
    if not base:
        raise ValidationError("park energy", "stored readings of the park's intakes", "none")
    bau = forecast.elasticity_projection(base, year, until, DEMO_OUTPUT_GROWTH, DEMO_ELASTICITY)
    factors = {carrier: _factor_per_unit(carrier) for carrier in base}
    results = [
        forecast.run_scenario(bau, factors, plan, target_year=until).summary()
        for plan in demo_scenarios(factors.get("electricity", 0.0), year)
    ]
    return {
        "base_year": year,
        "base_energy": base,
        "days_observed": days,
        "output_growth": DEMO_OUTPUT_GROWTH,
        "elasticity": {"low": DEMO_ELASTICITY[0], "central": DEMO_ELASTICITY[1], "high": DEMO_ELASTICITY[2]},
        "factors_tco2e_per_unit": factors,
        "scenarios": results,
    }


def demo_step(db: str | None, out: Path, workers: int | None = None) -> dict[str, Any]:
    """The demo's forecast step: day-ahead for every meter, monthly per enterprise, the peak year.

    Writes ``forecast-day-ahead.csv``, ``forecast-backtests.csv``, ``forecast-monthly.csv``
    and ``forecast-peak.json`` to ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    runs, _, skipped = forecast_park_meters(db, horizon=24, workers=workers)
    day_ahead = pd.concat([run.forecast for run in runs.values()], ignore_index=True)
    day_ahead.to_csv(out / "forecast-day-ahead.csv", index=False)
    backtests = pd.DataFrame(
        [{"series_id": sid, "model": run.model, **(run.backtest or {})} for sid, run in runs.items()]
    )
    backtests.to_csv(out / "forecast-backtests.csv", index=False)
    monthly = monthly_by_enterprise(db, workers=workers)
    monthly.to_csv(out / "forecast-monthly.csv", index=False)
    peak = park_peak(db)
    (out / "forecast-peak.json").write_text(json.dumps(peak, ensure_ascii=False, indent=2, default=str), "utf-8")
    mae = backtests["mae"].to_numpy(dtype=float)
    naive = backtests["baseline_mae"].to_numpy(dtype=float)
    return {
        "meters_forecast": len(runs),
        "meters_skipped": len(skipped),
        "meters_beating_naive": int(np.sum(mae < naive)),
        "meters_not_worse_than_naive": int(np.sum(mae <= naive + 1e-6 * np.maximum(1.0, naive))),
        "median_skill_mae": round(float(np.nanmedian(1 - mae[naive > 0] / naive[naive > 0])), 3),
        "monthly_rows": len(monthly),
        "peaks": {r["name"]: [r["peak_year"], round(r["peak_tco2"], 1)] for r in peak["scenarios"]},
        "output": str(out / "forecast-day-ahead.csv"),
    }
