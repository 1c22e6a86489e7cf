"""The one contract every forecaster follows (DESIGN.md "One contract per family of models").

Input is a long-format frame with columns ``series_id``, ``ts`` (naive park-local
timestamps, regular at one frequency), ``value`` and optional numeric feature columns
(weather, production plan, drivers such as output value or GDP). Known future values of
the features come in a second frame ``future`` with ``series_id``, ``ts`` and the same
feature columns, exactly ``horizon`` rows per series.

Output is one frame with ``series_id``, ``ts``, ``mean``, ``lo-80``, ``hi-80``,
``lo-95``, ``hi-95``: ``horizon`` rows per series, no NaN, and
``lo-95 <= lo-80 <= mean <= hi-80 <= hi-95``.

References
----------
Guide §4.4 (energy demand forecasting: short-term and mid/long-term); SPEC C8.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError

__all__ = [
    "FREQUENCIES",
    "INTERVAL_LEVELS",
    "KEY_COLUMNS",
    "OUTPUT_COLUMNS",
    "Forecaster",
    "SeriesForecaster",
    "check_forecast",
    "feature_columns",
    "future_timestamps",
    "interval_frame",
    "normalise_freq",
    "season_length",
    "split_history_future",
    "validate_future",
    "validate_history",
]

KEY_COLUMNS: tuple[str, str, str] = ("series_id", "ts", "value")
INTERVAL_LEVELS: tuple[int, int] = (80, 95)
OUTPUT_COLUMNS: tuple[str, ...] = ("series_id", "ts", "mean", "lo-80", "hi-80", "lo-95", "hi-95")

#: Supported frequencies (pandas offset aliases) and the length of their main season
#: [steps]: a day for sub-daily data, a week for daily data, a year for monthly data.
FREQUENCIES: dict[str, int] = {"15min": 96, "30min": 48, "h": 24, "D": 7, "MS": 12, "YS": 1}

_ALIASES: dict[str, str] = {
    "15min": "15min",
    "15t": "15min",
    "15m": "15min",
    "30min": "30min",
    "30t": "30min",
    "30m": "30min",
    "h": "h",
    "1h": "h",
    "60min": "h",
    "hour": "h",
    "d": "D",
    "1d": "D",
    "day": "D",
    "ms": "MS",
    "m": "MS",
    "me": "MS",
    "month": "MS",
    "ys": "YS",
    "y": "YS",
    "a": "YS",
    "as": "YS",
    "ye": "YS",
    "year": "YS",
}


def normalise_freq(freq: str) -> str:
    """The canonical alias of ``freq`` (``15min``, ``30min``, ``h``, ``D``, ``MS``, ``YS``).

    Raises
    ------
    ValidationError
        If the frequency is not one carbonpark forecasts.
    """
    canonical = _ALIASES.get(str(freq).strip().lower())
    if canonical is None:
        raise ValidationError("freq", f"one of {sorted(FREQUENCIES)}", freq)
    return canonical


def season_length(freq: str) -> int:
    """Steps per main season of ``freq`` [steps]: 96, 48, 24, 7, 12 or 1."""
    return FREQUENCIES[normalise_freq(freq)]


def is_sub_daily(freq: str) -> bool:
    """True for 15-minute, 30-minute and hourly data."""
    return normalise_freq(freq) in ("15min", "30min", "h")


def steps_per_day(freq: str) -> int:
    """Steps in one day for sub-daily ``freq`` [steps]; 1 otherwise."""
    f = normalise_freq(freq)
    return FREQUENCIES[f] if f in ("15min", "30min", "h") else 1


def future_timestamps(last_ts: pd.Timestamp, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps that follow ``last_ts`` at ``freq``."""
    f = normalise_freq(freq)
    offset = pd.tseries.frequencies.to_offset(f)
    return pd.date_range(start=pd.Timestamp(last_ts) + offset, periods=horizon, freq=f)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns of a long-format frame: every column but ``series_id``, ``ts``, ``value``."""
    return [c for c in frame.columns if c not in KEY_COLUMNS]


def _as_timestamps(column: pd.Series, field: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        ts = column
    else:
        try:
            ts = pd.to_datetime(column)
        except (ValueError, TypeError) as exc:
            raise ValidationError(field, "timestamps", column.head(3).tolist()) from exc
    if getattr(ts.dt, "tz", None) is not None:
        raise ValidationError(field, "naive park-local timestamps (convert at the edge)", str(ts.dt.tz))
    return ts.astype("datetime64[ns]")


def _numeric(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        first = bad.idxmax()
        raise ValidationError(f"{where} column {column!r}", "numbers", frame[column].loc[first])
    return values.astype(float)


def validate_history(frame: pd.DataFrame, freq: str, min_length: int = 2) -> pd.DataFrame:
    """Check and normalise a history frame; return it sorted by series and time.

    A missing ``series_id`` column becomes one series named ``"series"``. Each series
    must be regular at ``freq`` without gaps or duplicates and have no missing value.

    Raises
    ------
    ValidationError
        Naming the column, series and timestamp at fault.
    """
    f = normalise_freq(freq)
    if "ts" not in frame.columns or "value" not in frame.columns:
        raise ValidationError("history", "columns ts and value", list(frame.columns))
    out = frame.copy()
    if "series_id" not in out.columns:
        out.insert(0, "series_id", "series")
    out["series_id"] = out["series_id"].astype(str)
    out["ts"] = _as_timestamps(out["ts"], "history column 'ts'")
    for column in ["value", *feature_columns(out)]:
        out[column] = _numeric(out, column, "history")
        if out[column].isna().any():
            row = out.loc[out[column].isna()].iloc[0]
            raise ValidationError(
                f"history column {column!r}", "a number in every row", f"empty at {row['ts']} ({row['series_id']})"
            )
    sid_arr = out["series_id"].to_numpy()
    ts_arr = out["ts"].to_numpy()
    same = sid_arr[1:] == sid_arr[:-1]
    if not (same | (sid_arr[1:] > sid_arr[:-1])).all() or (np.diff(ts_arr)[same] <= np.timedelta64(0)).any():
        out = out.sort_values(["series_id", "ts"], kind="stable").reset_index(drop=True)
        sid_arr, ts_arr = out["series_id"].to_numpy(), out["ts"].to_numpy()
        same = sid_arr[1:] == sid_arr[:-1]
    elif not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    if _fixed_steps_regular(ts_arr, same, f):
        # Fast path (fixed-length steps, all regular): only the lengths remain to check.
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        lengths = np.diff(np.append(starts, len(sid_arr)))
        if lengths.size and lengths.min() < min_length:
            i = int(np.argmin(lengths))
            where = f"series {sid_arr[starts[i]]!r}"
            raise ValidationError(where, f"at least {min_length} observations", int(lengths[i]))
        return out
    for sid, group in out.groupby("series_id", sort=False):
        _check_regular(group["ts"], f, f"series {sid!r}")
        if len(group) < min_length:
            raise ValidationError(f"series {sid!r}", f"at least {min_length} observations", len(group))
    return out


#: Length of one step of the frequencies whose steps all have the same length.
_FIXED_STEPS: dict[str, np.timedelta64] = {
    "15min": np.timedelta64(15, "m"),
    "30min": np.timedelta64(30, "m"),
    "h": np.timedelta64(1, "h"),
    "D": np.timedelta64(1, "D"),
}


def _fixed_steps_regular(ts: np.ndarray, same: np.ndarray, freq: str) -> bool:
    """True if ``freq`` has fixed-length steps and every series (rows sorted by series and
    time, ``same`` marking rows that continue the previous row's series) advances by
    exactly one step; False means "check series by series" (for the error message, or
    for months and years, whose steps differ in length)."""
    step = _FIXED_STEPS.get(freq)
    if step is None or ts.size == 0:
        return step is not None
    return bool((np.diff(ts)[same] == step).all())


def _check_regular(ts: pd.Series, freq: str, where: str) -> None:
    if ts.duplicated().any():
        raise ValidationError(f"{where} ts", "one row per timestamp", str(ts[ts.duplicated()].iloc[0]))
    expected = pd.date_range(start=ts.iloc[0], periods=len(ts), freq=freq)
    mismatch = np.flatnonzero(expected.values != ts.values)
    if mismatch.size:
        i = int(mismatch[0])
        raise ValidationError(f"{where} ts", f"regular steps of {freq} (next expected {expected[i]})", str(ts.iloc[i]))


def validate_future(future: pd.DataFrame | None, history: pd.DataFrame, horizon: int, freq: str) -> pd.DataFrame | None:
    """Check the known future feature values against ``history`` and ``horizon``.

    Returns ``None`` when the history has no feature columns. Otherwise every series
    needs exactly ``horizon`` future rows at the timestamps following its history, with
    every feature column filled.

    Raises
    ------
    ValidationError
        If rows are missing, too many, off the time grid or lack a feature value.
    """
    features = feature_columns(history)
    if not features:
        return None
    if future is None or future.empty:
        raise ValidationError("future", f"{horizon} rows of known future values of {features} per series", "none")
    fut = future.copy()
    if "series_id" not in fut.columns:
        fut.insert(0, "series_id", "series")
    fut["series_id"] = fut["series_id"].astype(str)
    fut["ts"] = _as_timestamps(fut["ts"], "future column 'ts'")
    missing = [c for c in features if c not in fut.columns]
    if missing:
        raise ValidationError("future", f"columns {features}", list(fut.columns))
    for column in features:
        fut[column] = _numeric(fut, column, "future")
        if fut[column].isna().any():
            row = fut.loc[fut[column].isna()].iloc[0]
            raise ValidationError(f"future column {column!r}", "a value in every future row", f"empty at {row['ts']}")
    fut = fut.sort_values(["series_id", "ts"], kind="stable").reset_index(drop=True)
    for sid, group in history.groupby("series_id", sort=False):
        rows = fut.loc[fut["series_id"] == sid]
        if len(rows) != horizon:
            raise ValidationError(f"series {sid!r} future rows", f"exactly the horizon, {horizon} rows", len(rows))
        expected = future_timestamps(group["ts"].iloc[-1], horizon, freq)
        if not np.array_equal(expected.values, rows["ts"].values):
            raise ValidationError(
                f"series {sid!r} future ts",
                f"the {horizon} steps after {group['ts'].iloc[-1]}",
                str(rows["ts"].iloc[0]),
            )
    return fut[["series_id", "ts", *features]]


def split_history_future(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split one frame into history (``value`` given) and future feature rows (``value`` empty).

    This is the file form of the contract: future values of features are given in rows
    whose ``value`` is empty. Empty rows must come after the last observation of a series.
    """
    if "value" not in frame.columns:
        raise ValidationError("frame", "a value column", list(frame.columns))
    values = pd.to_numeric(frame["value"], errors="coerce")
    is_future = values.isna() & (frame["value"].isna() | (frame["value"].astype(str).str.strip() == ""))
    bad = values.isna() & ~is_future
    if bad.any():
        raise ValidationError("value", "a number or empty (future row)", frame["value"][bad].iloc[0])
    if not is_future.any():
        return frame, None
    future = frame.loc[is_future].drop(columns=["value"]).reset_index(drop=True)
    return frame.loc[~is_future].reset_index(drop=True), future


def interval_frame(
    series_id: str,
    ts: pd.DatetimeIndex,
    mean: np.ndarray,
    half_widths: Mapping[int, np.ndarray | float],
) -> pd.DataFrame:
    """The output frame of one series from a mean and symmetric half widths per level."""
    mean = np.asarray(mean, dtype=float)
    out = pd.DataFrame({"series_id": series_id, "ts": ts, "mean": mean})
    for level in INTERVAL_LEVELS:
        half = np.broadcast_to(np.abs(np.asarray(half_widths[level], dtype=float)), mean.shape)
        out[f"lo-{level}"] = mean - half
        out[f"hi-{level}"] = mean + half
    return order_intervals(out)


def order_intervals(out: pd.DataFrame) -> pd.DataFrame:
    """Make the bounds nest (``lo-95 <= lo-80 <= mean <= hi-80 <= hi-95``) without moving the mean."""
    out = out.copy()
    out["lo-80"] = np.minimum(out["lo-80"], out["mean"])
    out["hi-80"] = np.maximum(out["hi-80"], out["mean"])
    out["lo-95"] = np.minimum(out["lo-95"], out["lo-80"])
    out["hi-95"] = np.maximum(out["hi-95"], out["hi-80"])
    return out[list(OUTPUT_COLUMNS)]


def _require(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_forecast(out: pd.DataFrame, history: pd.DataFrame, horizon: int, freq: str) -> None:
    """Raise ``AssertionError`` if ``out`` breaks the output contract for ``history``."""
    _require(list(out.columns) == list(OUTPUT_COLUMNS), f"columns {list(out.columns)}")
    numeric = out[list(OUTPUT_COLUMNS[2:])].to_numpy(dtype=float)
    _require(np.isfinite(numeric).all(), "NaN or infinite values in the forecast")
    tol = 1e-9 * max(1.0, float(np.abs(numeric).max()))
    for lower, upper in [("lo-95", "lo-80"), ("lo-80", "mean"), ("mean", "hi-80"), ("hi-80", "hi-95")]:
        _require((out[lower] <= out[upper] + tol).all(), f"{lower} above {upper}")
    for sid, group in history.groupby("series_id", sort=False):
        rows = out.loc[out["series_id"] == sid]
        _require(len(rows) == horizon, f"series {sid}: {len(rows)} rows, horizon {horizon}")
        expected = future_timestamps(group["ts"].iloc[-1], horizon, freq)
        _require(np.array_equal(rows["ts"].values, expected.values), f"series {sid}: wrong timestamps")


@runtime_checkable
class Forecaster(Protocol):
    """What a forecaster is: a name and one ``forecast`` method on the long-format frame."""

    name: str

    def forecast(
        self, history: pd.DataFrame, horizon: int, freq: str, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast ``horizon`` steps of every series; return the output-contract frame."""
        ...


class SeriesForecaster:
    """Base class of the built-ins: validate once, then forecast each series on its own.

    Subclasses implement :meth:`forecast_series` on numpy arrays of one series.
    """

    name: str = "base"
    #: Minimum number of observations the model needs [steps].
    min_length: int = 2
    #: Whether the model reads feature columns; if not they are dropped (no future needed).
    uses_features: bool = True

    def forecast(
        self, history: pd.DataFrame, horizon: int, freq: str, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast ``horizon`` steps of every series of ``history`` (see the module doc)."""
        if not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ValidationError("horizon", "a whole number of steps >= 1", horizon)
        freq = normalise_freq(freq)
        if not self.uses_features:
            history = history[[c for c in history.columns if c in KEY_COLUMNS]]
            future = None
        hist = validate_history(history, freq, min_length=self.min_length)
        fut = validate_future(future, hist, int(horizon), freq)
        features = feature_columns(hist)
        pieces = []
        for sid, group in hist.groupby("series_id", sort=False):
            ts = pd.DatetimeIndex(group["ts"])
            x_hist = group[features].reset_index(drop=True) if features else None
            x_fut = (
                fut.loc[fut["series_id"] == sid, features].reset_index(drop=True)
                if fut is not None and features
                else None
            )
            out_ts = future_timestamps(ts[-1], int(horizon), freq)
            result = self.forecast_series(
                group["value"].to_numpy(dtype=float), ts, int(horizon), freq, x_hist, x_fut, out_ts
            )
            pieces.append(self._to_frame(str(sid), out_ts, result))
        return pd.concat(pieces, ignore_index=True)

    def forecast_series(
        self,
        y: np.ndarray,
        ts: pd.DatetimeIndex,
        horizon: int,
        freq: str,
        x: pd.DataFrame | None,
        x_future: pd.DataFrame | None,
        future_ts: pd.DatetimeIndex,
    ) -> Mapping[str, np.ndarray]:
        """Forecast one series; return ``mean`` and ``lo-80`` … ``hi-95`` arrays of length ``horizon``."""
        raise NotImplementedError

    @staticmethod
    def _to_frame(series_id: str, ts: pd.DatetimeIndex, result: Mapping[str, np.ndarray]) -> pd.DataFrame:
        mean = np.asarray(result["mean"], dtype=float)
        cols: dict[str, np.ndarray] = {}
        for level in INTERVAL_LEVELS:
            for side in ("lo", "hi"):
                bound = np.asarray(result[f"{side}-{level}"], dtype=float)
                # A model that cannot give a bound (e.g. too few residuals) must not leak NaN.
                cols[f"{side}-{level}"] = np.where(np.isfinite(bound), bound, mean)
        # Nest the bounds (lo-95 <= lo-80 <= mean <= hi-80 <= hi-95) without moving the mean,
        # as order_intervals does, on arrays.
        lo80, hi80 = np.minimum(cols["lo-80"], mean), np.maximum(cols["hi-80"], mean)
        lo95, hi95 = np.minimum(cols["lo-95"], lo80), np.maximum(cols["hi-95"], hi80)
        return pd.DataFrame(
            {"series_id": series_id, "ts": ts, "mean": mean, "lo-80": lo80, "hi-80": hi80, "lo-95": lo95, "hi-95": hi95}
        )


def normal_half_widths(sigma: np.ndarray | float) -> dict[int, np.ndarray]:
    """Half widths ``z_{(1+L)/2} × sigma`` of normal prediction intervals for each level L."""
    sig = np.asarray(sigma, dtype=float)
    return {level: _Z[level] * sig for level in INTERVAL_LEVELS}


#: Standard normal quantiles z_{(1+L)/2} of the interval levels (stdlib ``NormalDist``:
#: importing scipy.stats in every worker process costs seconds).
_Z: dict[int, float] = {level: NormalDist().inv_cdf(0.5 + level / 200.0) for level in INTERVAL_LEVELS}


def conformal_half_widths(residuals: np.ndarray) -> dict[int, float]:
    """Split-conformal half widths per level from out-of-sample residuals.

    For level L the half width is the ``ceil((n + 1) × L/100)``-th smallest absolute
    residual (capped at the largest one when ``n`` is too small).

    References
    ----------
    Vovk, Gammerman, Shafer (2005), *Algorithmic Learning in a Random World*; Lei et al.
    (2018), "Distribution-free predictive inference for regression", JASA 113(523).
    """
    r = np.sort(np.abs(np.asarray(residuals, dtype=float)[np.isfinite(residuals)]))
    if r.size == 0:
        return {level: 0.0 for level in INTERVAL_LEVELS}
    out = {}
    for level in INTERVAL_LEVELS:
        k = min(r.size, math.ceil((r.size + 1) * level / 100.0))
        out[level] = float(r[k - 1])
    return out
