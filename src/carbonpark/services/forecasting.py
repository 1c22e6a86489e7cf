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
  them as the boundary (``intake``, ``进线``, ``门站``);
* for forecasting (``exclude_quality``), readings the quality checks doubt as values
  (:data:`FORECAST_EXCLUDED_FLAGS`: a suspect spike, a stuck run) count as missing and are
  filled like a gap: a learner must not fit a 25-fold spike as if the plant had used it.
  The flags are those stored by ``carbonpark quality check`` (the demo runs it before
  forecasting); unchecked readings are taken as they are.

Every meter of the park at once (:func:`forecast_park_meters`) uses one model for the
loads, and by what drives the meter (``by_kind``):

* a meter whose history repeats its daily cycle exactly (a battery's charge and discharge
  on a timetable: in-sample seasonal differences all zero) is forecast by seasonal
  naive, which reproduces a timetable exactly; a learner can only add error to it;
* a solar generation meter (:func:`is_solar`) is forecast by linear regression on the
  clear-sky irradiance at the park (:mod:`carbonpark.forecast.solar`), a feature known
  for any day ahead: output = the plant's usual share of the clear sky × clear sky. Its
  past output carries only past clouds and the calendar does not drive it, so the lags
  and calendar terms of the load learners add variance and no signal;
* a switched load, off (exactly zero) and on in every day (street lighting switched by
  darkness), is forecast by LightGBM: a step between zero and a level is a threshold,
  which trees represent and a ridge on smooth daily terms can only blur (it forecasts a
  little light at noon and too little at dusk).

References
----------
Guide §4.4 (energy demand forecasting), §4.5 (emission forecasting); SPEC C8, C9.
"""

from __future__ import annotations

import json
import re
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
from carbonpark.forecast.peak import elasticity_band_meaning
from carbonpark.forecast.solar import with_clear_sky
from carbonpark.quality.flags import QualityFlag
from carbonpark.store import registry as reg
from carbonpark.store import session
from carbonpark.store.schema import Carrier, Device, Enterprise, Meter, Park, Reading

__all__ = [
    "BULK_MODEL",
    "FORECAST_EXCLUDED_FLAGS",
    "GENERATION_MODEL",
    "INTAKE_MARKERS",
    "PARK_LOCATION",
    "SCHEDULE_MODEL",
    "SOLAR_MARKERS",
    "SWITCHED_MODEL",
    "StoredSeries",
    "demo_step",
    "fill_gaps",
    "forecast_park_meters",
    "forecast_stored",
    "grid_factor_tco2_per_kwh",
    "hourly_from_readings",
    "is_solar",
    "join_features",
    "monthly_by_enterprise",
    "park_energy_by_carrier",
    "park_peak",
    "park_timezone",
    "repeats_daily",
    "series_frame",
    "switches_daily",
]

#: Code or name fragments that mark a park-level meter as the park's boundary (intake).
INTAKE_MARKERS: tuple[str, ...] = ("intake", "进线", "门站")
#: Default model of the loads when every meter of a park is forecast at once: ridge fits in
#: milliseconds and beats seasonal naive on the demo park's loads (asserted in the tests;
#: timetables, solar meters and switched loads get their own models, see the module doc);
#: ``auto`` backtests every candidate (seconds per series) and remains available.
BULK_MODEL = "ridge"
#: Model of solar generation meters in the bulk run (``by_kind``): regression on clear-sky irradiance.
GENERATION_MODEL = "regression"
#: Model of meters that repeat a daily timetable exactly in the bulk run (``by_kind``).
SCHEDULE_MODEL = "seasonal_naive"
#: Model of switched loads (off part of every day) in the bulk run (``by_kind``): trees.
SWITCHED_MODEL = "lightgbm"
#: Quality bits whose readings forecasting treats as missing (see the module doc).
FORECAST_EXCLUDED_FLAGS = int(QualityFlag.SUSPECT_SPIKE | QualityFlag.STUCK)
#: Code tokens or name fragments that mark a meter as solar generation (with a ``pv`` device).
SOLAR_MARKERS: tuple[str, ...] = ("pv", "solar", "光伏")
#: Where the clear-sky feature is computed (latitude, longitude) [°]: the park registry has
#: no coordinates, so this is the demo park's site, Suzhou (Jiangsu; the demo's credit codes
#: use division 320500); the dispatch service uses it too.
PARK_LOCATION: tuple[float, float] = (31.30, 120.62)
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
    #: Readings left out of each series for their quality flags (``exclude_quality``).
    excluded_readings: dict[str, int] = field(default_factory=dict)
    #: Series that are solar generation meters (:func:`is_solar`).
    solar: list[str] = field(default_factory=list)
    #: With a features table (:func:`forecast_stored`): the first timestamp of the history used.
    features_from: pd.Timestamp | None = None

    def meta(self) -> dict[str, Any]:
        """Plain description: meters behind each series, hours filled, readings excluded, unit."""
        return {
            sid: {
                "meters": self.meters[sid],
                "filled_hours": self.filled_hours[sid],
                "excluded_readings": self.excluded_readings.get(sid, 0),
                "unit": self.units.get(sid),
            }
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
    excluded: np.ndarray | None = None,
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
    excluded
        One flag per reading: True leaves the reading out (its hour becomes incomplete,
        hence missing); for a cumulative meter both advances that touch the reading.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    v = np.asarray(values, dtype=float)
    if excluded is not None:
        v = np.where(np.asarray(excluded, dtype=bool), np.nan, v)
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


def _meter_hourly(s: Session, meter: Meter, tz: str, exclude_quality: int = 0) -> tuple[pd.Series, int]:
    """Hourly series of one meter and the number of readings left out for ``exclude_quality``."""
    rows = s.execute(
        select(Reading.ts_ms, Reading.value, Reading.quality)
        .where(Reading.meter_id == meter.id)
        .order_by(Reading.ts_ms)
    ).all()
    if not rows:
        raise ValidationError(f"meter {meter.code!r}", "stored readings", "none")
    arr = np.asarray(rows, dtype=float)
    excluded = (arr[:, 2].astype(np.int64) & int(exclude_quality)) != 0
    hourly = hourly_from_readings(
        arr[:, 0].astype(np.int64),
        arr[:, 1],
        meter.reading_kind,
        meter.interval_minutes,
        meter.rollover,
        tz,
        excluded=excluded if excluded.any() else None,
    )
    return hourly, int(excluded.sum())


def is_solar(meter: Meter, device_kind: str | None = None) -> bool:
    """True for a solar generation meter: its device is ``pv``, or its code or name says so.

    A Latin marker of :data:`SOLAR_MARKERS` must be a whole word of the code or name
    (``park-E-pv``, ``PV roof 2``; not ``PVC line``); a Chinese one a part of the name
    (``屋顶光伏发电表``).
    """
    if device_kind is not None and device_kind.lower() == "pv":
        return True
    text = f"{meter.code} {meter.name or ''}".lower()
    words = set(re.split(r"[^0-9a-z]+", text))
    return any(marker in words if marker.isascii() else marker in text for marker in SOLAR_MARKERS)


def switches_daily(values: np.ndarray, steps_per_day: int) -> bool:
    """True if the meter is off (exactly zero) and on (above zero) in every whole day.

    Such a load is switched (street lighting by darkness, a machine by shift): its value
    is a step between zero and a level. Counted over the whole days at the end of the
    history (at least three); False for daily or coarser data (``steps_per_day`` of 1).
    """
    y = np.asarray(values, dtype=float)
    days = y.size // steps_per_day
    if steps_per_day < 2 or days < 3:
        return False
    by_day = y[y.size - days * steps_per_day :].reshape(days, steps_per_day)
    return bool(((by_day == 0).any(axis=1) & (by_day > 0).any(axis=1)).all())


def repeats_daily(values: np.ndarray, season: int) -> bool:
    """True if every value equals the one a season earlier (to 1e-9 of the mean level).

    Such a series is a timetable (a battery charging in the valley hours every night):
    seasonal naive reproduces it exactly. ``season`` is in steps (24 for hourly data).
    """
    y = np.asarray(values, dtype=float)
    if y.size <= season:
        return False
    level = max(1.0, float(np.mean(np.abs(y))))
    return bool(np.max(np.abs(y[season:] - y[:-season])) <= 1e-9 * level)


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
    exclude_quality: int = 0,
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
    exclude_quality
        Quality bits (:class:`carbonpark.quality.QualityFlag`) whose readings count as
        missing; 0 (the default) keeps every stored reading. Forecasting passes
        :data:`FORECAST_EXCLUDED_FLAGS`.

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
        device_kinds: dict[int, str] = {
            int(i): str(k) for i, k in s.execute(select(Device.id, Device.kind).where(Device.park_id == park.id))
        }
        pieces = []
        for sid, group in groups:
            parts = [_meter_hourly(s, m, tz, exclude_quality) for m in group]
            hourly = _sum_hourly([part for part, _ in parts])
            filled, count = fill_gaps(hourly)
            values = _to_freq(filled, freq)
            pieces.append(pd.DataFrame({"series_id": sid, "ts": values.index, "value": values.to_numpy()}))
            out.meters[sid] = [str(m.handle or m.code) for m in group]
            out.filled_hours[sid] = count
            out.excluded_readings[sid] = sum(n for _, n in parts)
            out.units[sid] = group[0].unit
            if all(is_solar(m, device_kinds.get(m.device_id) if m.device_id is not None else None) for m in group):
                out.solar.append(sid)
    out.frame = pd.concat(pieces, ignore_index=True)
    return out


def _with_solar(
    stored: StoredSeries, frame: pd.DataFrame, horizon: int, freq: str, future: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``frame`` with the clear-sky feature and its future rows (added to ``future``, if
    given) if its series are solar meters."""
    if frame.empty or not set(frame["series_id"].unique()) <= set(stored.solar):
        return frame, future
    history, sky = with_clear_sky(frame, horizon, freq, PARK_LOCATION[0], PARK_LOCATION[1], stored.timezone)
    return history, sky if future is None else future.merge(sky, on=["series_id", "ts"], how="left")


def park_timezone(db: str | None) -> str:
    """The park's time zone (naive timestamps of files are park-local)."""
    from carbonpark.services.activity import park_timezone as timezone_in

    with session(db) as s:
        return timezone_in(s)


def join_features(
    history: pd.DataFrame, features: pd.DataFrame, horizon: int, freq: str, source: str = "--features"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Join a features table on ``ts`` to the history and to the ``horizon`` steps after it.

    The history used starts at the first of its timestamps that ``features`` has a row
    for (so a weather file that begins later than the readings shortens the history;
    the start is returned); from there on every timestamp of the history and each of
    the ``horizon`` future steps must have a row, otherwise the error names the first
    one missing. Rows outside that span are not used.

    Parameters
    ----------
    history
        The contract's frame of one or more series (``series_id``, ``ts``, ``value`` …).
    features
        ``ts`` (naive park-local time) and the feature columns, the same for every series.
    horizon, freq
        Steps ahead and their frequency.
    source
        What to name in errors.

    Returns
    -------
    tuple
        The history with the feature columns, the future rows (``series_id``, ``ts``,
        features; ``horizon`` per series) and the first timestamp of the history used.
    """
    names = [c for c in features.columns if c != "ts"]
    clash = sorted(set(names) & set(history.columns))
    if clash:
        raise ValidationError(f"{source} columns", "names other than the series' own columns", clash)
    covered = history["ts"].isin(features["ts"])
    if not covered.any():
        raise ValidationError(
            source, f"rows at the timestamps of the stored series ({history['ts'].min()} …)", "none of them"
        )
    start = pd.Timestamp(history.loc[covered, "ts"].min())
    hist = history[history["ts"] >= start].merge(features, on="ts", how="left")
    gap = hist[names].isna().any(axis=1)
    if gap.any():
        raise ValidationError(
            source,
            f"a row for every stored timestamp from {start} on (freq {freq})",
            f"none for {hist.loc[gap, 'ts'].iloc[0]} ({int(gap.sum())} missing)",
        )
    pieces = []
    for sid, group in hist.groupby("series_id", sort=False):
        pieces.append(
            pd.DataFrame({"series_id": sid, "ts": forecast.future_timestamps(group["ts"].iloc[-1], horizon, freq)})
        )
    future = pd.concat(pieces, ignore_index=True).merge(features, on="ts", how="left")
    gap = future[names].isna().any(axis=1)
    if gap.any():
        first, last = future["ts"].iloc[0], future["ts"].iloc[-1]
        raise ValidationError(
            source,
            f"rows for the {horizon} forecast steps from {first} to {last} (freq {freq})",
            f"{int(gap.sum())} of them missing, the first {future.loc[gap, 'ts'].iloc[0]}",
        )
    return hist.reset_index(drop=True), future, start


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
    features: pd.DataFrame | None = None,
    features_source: str = "features",
) -> tuple[forecast.ForecastRun, StoredSeries]:
    """Forecast and backtest one stored series (a meter or an intake); see :func:`series_frame`.

    Readings flagged :data:`FORECAST_EXCLUDED_FLAGS` count as missing; a solar meter gets
    the clear-sky irradiance at :data:`PARK_LOCATION` as a feature with its future values
    (:func:`carbonpark.forecast.solar.with_clear_sky`), which ``auto`` then considers.
    ``features`` (``ts`` and feature columns, e.g. weather or a production plan) are joined
    to the history and the horizon by :func:`join_features` (``features_source`` names
    them in errors); ``stored.features_from`` then says where the history used starts.
    """
    if meter is None and org is None:
        raise ValidationError("--meter/--org", "a meter or an organisation", None)
    freq = forecast.normalise_freq(freq)
    stored = series_frame(db, meter=meter, org=org, carrier=carrier, freq=freq, exclude_quality=FORECAST_EXCLUDED_FLAGS)
    history, future = stored.frame, None
    if features is not None:
        history, future, stored.features_from = join_features(history, features, horizon, freq, features_source)
    history, future = _with_solar(stored, history, horizon, freq, future)
    run = forecast.run_forecast(history, horizon, freq, model=model, future=future, windows=windows, resolve=resolve)
    return run, stored


def _bulk_plan(
    frame: pd.DataFrame, solar: list[str], freq: str, model: str, by_kind: bool
) -> dict[tuple[str, bool], list[str]]:
    """(model, with the clear-sky feature) → series ids, in the order of ``frame`` (module doc)."""
    season = forecast.FREQUENCIES[freq]
    per_day = season if freq in ("15min", "30min", "h") else 1
    plan: dict[tuple[str, bool], list[str]] = {}
    routed = by_kind and model != "auto"
    for sid, group in frame.groupby("series_id", sort=False):
        values = group["value"].to_numpy(dtype=float)
        if routed and repeats_daily(values, season):
            key = (SCHEDULE_MODEL, False)
        elif sid in solar:
            key = (GENERATION_MODEL if routed else model, True)
        elif routed and switches_daily(values, per_day):
            key = (SWITCHED_MODEL, False)
        else:
            key = (model, False)
        plan.setdefault(key, []).append(str(sid))
    return plan


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
    by_kind: bool = True,
) -> tuple[dict[str, forecast.ForecastRun], StoredSeries, dict[str, str]]:
    """Forecast every meter of the park (or ``meters``) in one call, over the cores.

    The backtest uses ``windows`` origins one horizon apart (by default a week of daily
    origins, so that every weekday and the weekend are scored against seasonal naive).

    With ``by_kind`` (the default) and a named ``model``, ``model`` forecasts the loads,
    :data:`SCHEDULE_MODEL` the meters that repeat a daily timetable exactly
    (:func:`repeats_daily`), :data:`GENERATION_MODEL` the solar meters, on the clear-sky
    irradiance, and :data:`SWITCHED_MODEL` the switched loads (:func:`switches_daily`); see
    the module doc. ``run.model`` says which. Without ``by_kind``, or
    with ``auto``, every meter gets ``model`` (solar meters still with the clear-sky
    feature). Readings flagged :data:`FORECAST_EXCLUDED_FLAGS` count as missing.

    Meters with fewer than ``min_hours`` of history are left out and returned with the
    reason (third element), so that nothing is dropped silently.
    """
    freq = forecast.normalise_freq(freq)
    stored = series_frame(db, freq=freq, meters=meters, exclude_quality=FORECAST_EXCLUDED_FLAGS)
    lengths = stored.frame.groupby("series_id").size()
    per_hour = 1 if freq == "h" else 24
    short = {sid: f"{n} steps of history, fewer than {min_hours // per_hour}" for sid, n in lengths.items()}
    short = {sid: why for sid, why in short.items() if lengths[sid] * per_hour < min_hours}
    frame = stored.frame[~stored.frame["series_id"].isin(list(short))]
    runs: dict[str, forecast.ForecastRun] = {}
    for (name, solar), ids in _bulk_plan(frame, stored.solar, freq, model, by_kind).items():
        part = frame[frame["series_id"].isin(ids)]
        history, future = _with_solar(stored, part, horizon, freq) if solar else (part, None)
        runs.update(
            forecast.forecast_many(
                history,
                horizon,
                freq,
                model=name,
                future=future,
                windows=windows,
                # Seasonal naive costs microseconds a series: not worth starting processes.
                workers=1 if name == SCHEDULE_MODEL else workers,
                on_done=on_done,
                failures=short,
            )
        )
    order = list(dict.fromkeys(stored.frame["series_id"].astype(str)))
    return {sid: runs[sid] for sid in order if sid in runs}, stored, short


def monthly_by_enterprise(
    db: str | None,
    months: int = 2,
    carriers: tuple[str, ...] = ("electricity", "natural_gas", "steam"),
    model: str = "auto",
    workers: int | None = None,
) -> pd.DataFrame:
    """Monthly use of each enterprise, and of the park, per carrier for the ``months`` after the data end.

    The park's rows (``enterprise`` = ``park``) forecast its intake meters (see the module
    doc); a carrier with no park intake (steam in the demo) has no park row.

    With fewer than 24 months of history the months are the sums of daily forecasts (a
    monthly model needs two years to see a season); ``model`` chooses among the daily
    candidates by backtest, and a history too short to backtest at this horizon is
    forecast with :data:`FALLBACK_MONTHLY_MODEL` (its backtest is then missing, with the
    reason). Readings flagged :data:`FORECAST_EXCLUDED_FLAGS` count as missing. The
    bounds of a month are the sums of the daily 80 % bounds (as if the days' errors were
    perfectly correlated: wide, not a probability statement).

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
    pairs += [("park", c) for c in carriers if c in known]  # the park's own intake, where it has one
    for handle, carrier in pairs:
        try:
            stored = series_frame(db, org=handle, carrier=carrier, freq="D", exclude_quality=FORECAST_EXCLUDED_FLAGS)
        except ValidationError:
            continue  # the enterprise does not use this carrier
        sid = f"{handle}|{carrier}"
        frames.append(stored.frame.assign(series_id=sid))
        units[sid] = next(iter(stored.units.values()))  # one series: its unit
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
    """Peak year and height of the park's emissions per scenario, with the range of the assumptions.

    Business as usual is the elasticity method from the base year's energy
    (:func:`carbonpark.forecast.elasticity_projection`) with the illustrative growth and
    elasticities above; emissions are formula (8) with factors from the accounting
    engine's library; the scenarios are :func:`demo_scenarios`. The range of each peak
    (``peak_year_range``, ``peak_tco2_range``) is that of the low and high elasticity, an
    assumption range and no probability interval: ``band_meaning`` says so in the result
    and in every scenario.
    """
    base, year, days = park_energy_by_carrier(db)
    if not base:
        raise ValidationError("park energy", "stored readings of the park's intakes", "none")
    bau = forecast.elasticity_projection(base, year, until, DEMO_OUTPUT_GROWTH, DEMO_ELASTICITY)
    factors = {carrier: _factor_per_unit(carrier) for carrier in base}
    meaning = elasticity_band_meaning(DEMO_ELASTICITY[0], DEMO_ELASTICITY[2])
    results = [
        forecast.run_scenario(bau, factors, plan, target_year=until, band_meaning=meaning).summary()
        for plan in demo_scenarios(factors.get("electricity", 0.0), year)
    ]
    return {
        "base_year": year,
        "base_energy": base,
        "days_observed": days,
        "output_growth": DEMO_OUTPUT_GROWTH,
        "elasticity": {"low": DEMO_ELASTICITY[0], "central": DEMO_ELASTICITY[1], "high": DEMO_ELASTICITY[2]},
        "band_meaning": meaning,
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
        "meters_by_model": {str(k): int(v) for k, v in backtests["model"].value_counts().items()},
        "median_skill_mae": round(float(np.nanmedian(1 - mae[naive > 0] / naive[naive > 0])), 3),
        "monthly_rows": len(monthly),
        "peaks": {r["name"]: [r["peak_year"], round(r["peak_tco2"], 1)] for r in peak["scenarios"]},
        "peak_years_range": {r["name"]: r["peak_year_range"] for r in peak["scenarios"]},
        "peak_band_meaning": peak["band_meaning"],
        "output": str(out / "forecast-day-ahead.csv"),
    }
