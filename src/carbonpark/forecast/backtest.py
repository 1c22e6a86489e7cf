"""Honest backtests: rolling-origin evaluation against seasonal naive in the same run.

The history is cut at ``windows`` origins, ``step`` steps apart (by default one horizon,
so the test windows do not overlap); at each origin the model sees only the data before
it (features included) and forecasts the next ``horizon`` steps, which are then compared
with what happened. The seasonal naive baseline is forecast on the very same windows.

Metrics, pooled over every window and series (eᵢ = yᵢ − ŷᵢ):

* MAE = mean |e|; RMSE = √mean e²;
* MAPE = 100 × mean |e| / |y| over y ≠ 0 [%];
* sMAPE = 100 × mean 2|e| / (|y| + |ŷ|) [%] (0 where both are 0);
* MASE = mean |e| / s with s the in-sample mean absolute seasonal difference of the
  training part of that window and series (undefined, reported as NaN, when s = 0);
* pinball = mean quantile loss of the four interval bounds (τ = 0.025, 0.1, 0.9, 0.975);
* coverage_80, coverage_95 = share of actual values inside the intervals;
* skill_mae = 1 − MAE / MAE(seasonal naive), skill_mase likewise [–], > 0 beats the baseline.

References
----------
Hyndman & Koehler (2006), "Another look at measures of forecast accuracy", Int. J.
Forecasting 22(4) (MASE, sMAPE); Tashman (2000), "Out-of-sample tests of forecasting
accuracy", Int. J. Forecasting 16(4) (rolling origin); Gneiting & Raftery (2007), JASA
102(477) (quantile scores); SPEC C8 (backtests with honest metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.contract import (
    INTERVAL_LEVELS,
    Forecaster,
    conformal_half_widths,
    feature_columns,
    normalise_freq,
    season_length,
    validate_history,
)

__all__ = [
    "BacktestResult",
    "combine_backtests",
    "interval_metrics",
    "mase_scale",
    "point_metrics",
    "pool_backtests",
    "rolling_origin",
    "window_scores",
]


def mase_scale(train: np.ndarray, period: int) -> float:
    """In-sample mean absolute seasonal difference mean |y_t − y_{t−m}| [unit of y].

    Falls back to m = 1 when the training part is not longer than one season; NaN when
    the seasonal naive is perfect in sample (the scale is zero up to rounding noise).
    """
    y = np.asarray(train, dtype=float)
    m = period if y.size > period else 1
    if y.size <= m:
        return float("nan")
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    # A scale at the level of rounding noise (a pure cycle) makes MASE meaningless.
    if scale <= 1e-9 * max(1.0, float(np.mean(np.abs(y)))):
        return float("nan")
    return scale


def point_metrics(
    actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray | float | None = None
) -> dict[str, float]:
    """MAE, RMSE, MAPE [%], sMAPE [%] and MASE of point forecasts (see the module doc).

    Parameters
    ----------
    actual, predicted
        Values of the same length.
    scale
        MASE denominator per value (or one for all); ``None`` leaves MASE out.
    """
    y = np.asarray(actual, dtype=float)
    f = np.asarray(predicted, dtype=float)
    err = y - f
    abs_err = np.abs(err)
    nonzero = y != 0
    denominator = np.abs(y) + np.abs(f)
    smape_terms = np.divide(2 * abs_err, denominator, out=np.zeros_like(abs_err), where=denominator > 0)
    out = {
        "mae": float(abs_err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(100 * np.mean(abs_err[nonzero] / np.abs(y[nonzero]))) if nonzero.any() else float("nan"),
        "smape": float(100 * smape_terms.mean()),
    }
    if scale is not None:
        s = np.broadcast_to(np.asarray(scale, dtype=float), y.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = abs_err / s
        out["mase"] = float(scaled.mean()) if np.isfinite(scaled).all() else float("nan")
    return out


def _pinball(y: np.ndarray, q: np.ndarray, tau: float) -> np.ndarray:
    diff = y - q
    return np.maximum(tau * diff, (tau - 1) * diff)


def interval_metrics(actual: np.ndarray, bounds: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean pinball loss of the interval bounds and the coverage of each level.

    ``bounds`` holds ``lo-80``, ``hi-80``, ``lo-95``, ``hi-95``; the lower bound of level L
    is the quantile τ = (1 − L/100)/2, the upper one 1 − τ.
    """
    y = np.asarray(actual, dtype=float)
    losses = []
    out: dict[str, float] = {}
    for level in INTERVAL_LEVELS:
        lo = np.asarray(bounds[f"lo-{level}"], dtype=float)
        hi = np.asarray(bounds[f"hi-{level}"], dtype=float)
        tau = (1 - level / 100) / 2
        losses.append(_pinball(y, lo, tau).mean())
        losses.append(_pinball(y, hi, 1 - tau).mean())
        out[f"coverage_{level}"] = float(np.mean((y >= lo) & (y <= hi)))
    out["pinball"] = float(np.mean(losses))
    return out


@dataclass
class BacktestResult:
    """What a rolling-origin backtest found.

    Attributes
    ----------
    model
        Name of the model evaluated.
    metrics
        The model's metrics (see the module doc).
    baseline
        The same metrics of seasonal naive on the same windows.
    windows, horizon, step
        Origins used, steps forecast from each, steps between origins.
    forecasts
        One row per series, window and step: ``series_id``, ``window`` (0 for the
        earliest origin), ``cutoff`` (last training timestamp), ``ts``, ``actual``,
        ``mean``, interval bounds, ``baseline`` and ``scale`` (the MASE denominator).
    """

    model: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    windows: int
    horizon: int
    step: int
    forecasts: pd.DataFrame = field(repr=False)

    def report(self) -> dict[str, Any]:
        """A flat summary: the model's metrics, ``baseline_<metric>``, skills and the method."""
        out: dict[str, Any] = dict(self.metrics)
        out.update({f"baseline_{k}": v for k, v in self.baseline.items()})
        out["skill_mae"] = _skill(self.metrics["mae"], self.baseline["mae"])
        out["skill_mase"] = _skill(self.metrics.get("mase", float("nan")), self.baseline.get("mase", float("nan")))
        out["baseline_model"] = "seasonal_naive"
        out["method"] = "rolling origin"
        out["windows"] = self.windows
        out["horizon"] = self.horizon
        out["step"] = self.step
        out["verdict"] = _verdict(self.metrics["mae"], self.baseline["mae"])
        return out


def _skill(model: float, baseline: float) -> float:
    if not np.isfinite(model) or not np.isfinite(baseline) or baseline == 0:
        return float("nan")
    return 1.0 - model / baseline


def _verdict(model_mae: float, baseline_mae: float) -> str:
    if model_mae < baseline_mae:
        return f"better than seasonal naive (MAE {model_mae:.6g} vs {baseline_mae:.6g})"
    if model_mae == baseline_mae:
        return f"equal to seasonal naive (MAE {model_mae:.6g})"
    return f"worse than seasonal naive (MAE {model_mae:.6g} vs {baseline_mae:.6g})"


def rolling_origin(
    history: pd.DataFrame,
    forecaster: Forecaster,
    horizon: int,
    freq: str,
    windows: int = 3,
    step: int | None = None,
    min_train: int | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of ``forecaster`` and seasonal naive on the same windows.

    Parameters
    ----------
    history
        Long-format frame (``series_id``, ``ts``, ``value``, features).
    forecaster
        Any object following the contract.
    horizon
        Steps forecast from each origin.
    freq
        Frequency of the data.
    windows
        Number of origins wanted; origins that would leave fewer than ``min_train``
        training steps are dropped.
    step
        Steps between origins (default ``horizon``).
    min_train
        Fewest training steps per series (default two seasons, at least 3).

    Raises
    ------
    ValidationError
        If the history leaves room for no window at all.
    """
    freq = normalise_freq(freq)
    hist = validate_history(history, freq, min_length=1)
    step = step or horizon
    m = season_length(freq)
    min_train = min_train if min_train is not None else max(3, 2 * m)
    features = feature_columns(hist)
    shortest = int(hist.groupby("series_id").size().min())
    offsets = [horizon + k * step for k in range(windows - 1, -1, -1)]
    offsets = [o for o in offsets if shortest - o >= min_train]
    if not offsets:
        raise ValidationError(
            "backtest history",
            f"at least {min_train + horizon} observations per series (training plus one horizon)",
            shortest,
        )
    baseline = SeasonalNaive()
    rows = []
    for window, offset in enumerate(offsets):
        train_parts, test_parts = [], []
        for _, group in hist.groupby("series_id", sort=False):
            cut = len(group) - offset
            train_parts.append(group.iloc[:cut])
            test_parts.append(group.iloc[cut : cut + horizon])
        train = pd.concat(train_parts, ignore_index=True)
        test = pd.concat(test_parts, ignore_index=True)
        future = test[["series_id", "ts", *features]] if features else None
        predicted = forecaster.forecast(train, horizon, freq, future)
        naive = baseline.forecast(train[["series_id", "ts", "value"]], horizon, freq)
        merged = test[["series_id", "ts", "value"]].rename(columns={"value": "actual"})
        merged = merged.merge(predicted, on=["series_id", "ts"], how="left")
        merged["baseline"] = (
            merged[["series_id", "ts"]].merge(naive, on=["series_id", "ts"], how="left")["mean"].to_numpy()
        )
        scales = {sid: mase_scale(g["value"].to_numpy(), m) for sid, g in train.groupby("series_id")}
        merged["scale"] = merged["series_id"].map(scales)
        merged["cutoff"] = merged["series_id"].map(train.groupby("series_id")["ts"].max())
        merged["window"] = window
        rows.append(merged)
    frame = pd.concat(rows, ignore_index=True)
    if frame[["mean", "baseline"]].isna().any().any():
        raise CarbonparkError(f"{getattr(forecaster, 'name', forecaster)!r} returned rows off the time grid")
    actual = frame["actual"].to_numpy()
    metrics = point_metrics(actual, frame["mean"].to_numpy(), frame["scale"].to_numpy())
    metrics.update(interval_metrics(actual, {c: frame[c].to_numpy() for c in ("lo-80", "hi-80", "lo-95", "hi-95")}))
    base_metrics = point_metrics(actual, frame["baseline"].to_numpy(), frame["scale"].to_numpy())
    return BacktestResult(
        model=str(getattr(forecaster, "name", type(forecaster).__name__)),
        metrics=metrics,
        baseline=base_metrics,
        windows=len(offsets),
        horizon=horizon,
        step=step,
        forecasts=frame,
    )


def window_scores(result: BacktestResult, use_mase: bool = True) -> np.ndarray:
    """Score of each backtest window, earliest first, pooled over the series.

    Parameters
    ----------
    result
        A rolling-origin backtest.
    use_mase
        Score by MASE [–] (mean of |e|/s); otherwise by MAE [unit of the series].

    Returns
    -------
    numpy.ndarray
        One score per window (``result.windows`` values).
    """
    frame = result.forecasts
    err = (frame["actual"] - frame["mean"]).abs()
    if use_mase:
        err = err / frame["scale"]
    return err.groupby(frame["window"], sort=True).mean().to_numpy(dtype=float)


def combine_backtests(results: Mapping[str, BacktestResult], weights: Mapping[str, float], name: str) -> BacktestResult:
    """The backtest of a weighted combination, built from its members' backtests.

    The combination's forecast at every window and step is Σ wₖ ŷₖ over the members'
    forecasts on those same windows (no model is refitted), so its metrics compare with
    the members' and the baseline's like for like. Its intervals are **cross-conformal**:
    the half width of the L % interval in window i is the ⌈(n + 1)·L/100⌉-th smallest
    absolute error of the combination in the *other* windows of that series (n errors),
    so no window's bounds have seen its own errors; coverage and pinball loss are then
    honest out-of-sample figures.

    Parameters
    ----------
    results
        Backtests of at least the members, on the same windows (one ``rolling_origin``
        call per member with the same history, horizon and windows).
    weights
        Member name → weight; weights are non-negative and add up to 1.
    name
        Name of the combination in the result.

    Raises
    ------
    ValidationError
        If the weights are not a convex combination of known backtests, or there are
        fewer than two windows (no other window to calibrate the intervals on).

    References
    ----------
    Bates & Granger (1969), "The combination of forecasts", Oper. Res. Q. 20(4); Vovk
    (2015), "Cross-conformal predictors", Ann. Math. Artif. Intell. 74; Barber, Candès,
    Ramdas & Tibshirani (2021), "Predictive inference with the jackknife+", Ann. Stat.
    49(1).
    """
    names = list(weights)
    w = np.asarray([weights[n] for n in names], dtype=float)
    if not names or any(n not in results for n in names) or (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise ValidationError(
            "combination weights", f"non-negative weights adding up to 1 over {sorted(results)}", dict(weights)
        )
    first = results[names[0]]
    if first.windows < 2:
        raise ValidationError("combination backtest", "at least 2 windows (to calibrate on)", first.windows)
    keys = ["series_id", "window", "ts"]
    frame = first.forecasts[[*keys, "cutoff", "actual", "baseline", "scale"]].reset_index(drop=True)
    mean = np.zeros(len(frame))
    for member, weight in zip(names, w, strict=True):
        other = results[member]
        aligned = frame[keys].merge(other.forecasts[[*keys, "mean"]], on=keys, how="left")["mean"].to_numpy()
        if other.horizon != first.horizon or np.isnan(aligned).any():
            raise ValidationError(f"backtest of {member!r}", f"the same windows as {names[0]!r}", other.windows)
        mean += weight * aligned
    actual = frame["actual"].to_numpy(dtype=float)
    residuals = actual - mean
    bounds = {f"{side}-{level}": np.empty(len(frame)) for level in INTERVAL_LEVELS for side in ("lo", "hi")}
    window_of = frame["window"].to_numpy()
    for rows in frame.groupby("series_id", sort=False).indices.values():
        for window in np.unique(window_of[rows]):
            here, others = rows[window_of[rows] == window], rows[window_of[rows] != window]
            half = conformal_half_widths(residuals[others])
            for level in INTERVAL_LEVELS:
                bounds[f"lo-{level}"][here] = mean[here] - half[level]
                bounds[f"hi-{level}"][here] = mean[here] + half[level]
    out = frame[["series_id", "ts", "actual"]].assign(mean=mean, **bounds)
    out = out.assign(baseline=frame["baseline"], scale=frame["scale"], cutoff=frame["cutoff"], window=window_of)
    scale = frame["scale"].to_numpy(dtype=float)
    metrics = point_metrics(actual, mean, scale)
    metrics.update(interval_metrics(actual, bounds))
    return BacktestResult(
        model=name,
        metrics=metrics,
        baseline=point_metrics(actual, frame["baseline"].to_numpy(dtype=float), scale),
        windows=first.windows,
        horizon=first.horizon,
        step=first.step,
        forecasts=out,
    )


#: Model metrics pooled as plain means over the backtest points of every series.
_MEAN_METRICS = ("mae", "smape", "mase", "pinball", "coverage_80", "coverage_95")
#: Seasonal naive's metrics pooled as plain means (it has no intervals in the report).
_BASELINE_MEAN_METRICS = ("mae", "smape", "mase")
#: Point metrics reported for the model and, as ``baseline_<name>``, for seasonal naive.
POINT_METRICS = ("mae", "rmse", "mape", "smape", "mase")


def _weighted_mean(values: list[float], weights: list[float]) -> float:
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    return float(np.sum(v * w) / np.sum(w)) if w.size and np.sum(w) > 0 else float("nan")


def _pooled_metrics(reports: list[dict[str, Any]], weights: list[float], prefix: str) -> dict[str, float]:
    """Point (and, without ``prefix``, interval) metrics of ``reports`` pooled over their points."""
    names = _BASELINE_MEAN_METRICS if prefix else _MEAN_METRICS
    out = {m: _weighted_mean([r.get(prefix + m, float("nan")) for r in reports], weights) for m in names}
    squares = [float(r.get(prefix + "rmse", float("nan"))) ** 2 for r in reports]
    out["rmse"] = float(np.sqrt(_weighted_mean(squares, weights)))
    # MAPE leaves out points whose actual value is 0, so a series whose every actual is 0
    # (MAPE undefined) adds no points to it.
    mape = [(float(r.get(prefix + "mape", float("nan"))), w) for r, w in zip(reports, weights, strict=True)]
    kept = [(v, w) for v, w in mape if np.isfinite(v)]
    out["mape"] = _weighted_mean([v for v, _ in kept], [w for _, w in kept])
    return out


def pool_backtests(reports: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """One backtest report for several series: their rolling-origin errors pooled.

    Every series was backtested on its own (:func:`carbonpark.forecast.run_forecast`) with
    ``windows × horizon`` points; pooling weighs each series' metric by its points, which
    is the mean over all points that :mod:`carbonpark.forecast.backtest` takes when it
    backtests several series at once: MAE = mean |e|, MASE = mean |e|/s (s the scale of
    each point's own series and window; undefined, NaN, as soon as one series has an
    undefined scale, as there), sMAPE, pinball loss and coverage likewise, and
    RMSE = √(Σ nᵢ RMSEᵢ² / Σ nᵢ). ``mase_over_defined`` pools the series whose MASE is
    defined (the others are named in ``mase_undefined``). MAPE pools the series with a
    defined MAPE; it is the exact pooled MAPE when no actual value is 0 (a series with
    some zero actuals is weighed by all its points, not only the non-zero ones). Seasonal
    naive's figures (``baseline_<metric>``) pool the same way. MAE and RMSE pool the
    units of the series as they are: across carriers only MASE and MAPE compare.

    Parameters
    ----------
    reports
        Series id → its report (:meth:`carbonpark.forecast.BacktestResult.report`), or
        ``None`` if that series could not be backtested.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``mape`` [%], ``smape`` [%], ``mase`` [–], ``pinball``,
        ``coverage_80``, ``coverage_95``, the ``baseline_`` figures, ``skill_mae``,
        ``skill_mase``, ``mase_over_defined``, ``baseline_mase_over_defined``,
        ``verdict``, ``points``, ``pooled_series`` and the series left out
        (``without_backtest``; ``mase_undefined``). With no report at all every metric is
        ``None`` and ``note`` says why.

    References
    ----------
    Hyndman & Koehler (2006), Int. J. Forecasting 22(4) (MASE over several series);
    guide §4.4; issue 9 item 6 (the keys).
    """
    done = {sid: r for sid, r in reports.items() if r is not None}
    missing = [sid for sid, r in reports.items() if r is None]
    if not done:
        out: dict[str, Any] = {m: None for m in (*POINT_METRICS, "pinball", "coverage_80", "coverage_95")}
        out.update({f"baseline_{m}": None for m in POINT_METRICS})
        out.update(skill_mae=None, skill_mase=None, points=0, pooled_series=[], without_backtest=missing)
        out["note"] = "no series could be backtested (see backtest.series)"
        return out
    rows = list(done.values())
    weights = [float(r["windows"]) * float(r["horizon"]) for r in rows]
    out = dict[str, Any](_pooled_metrics(rows, weights, ""))
    out.update({f"baseline_{k}": v for k, v in _pooled_metrics(rows, weights, "baseline_").items()})
    out["skill_mae"] = _skill(out["mae"], out["baseline_mae"])
    out["skill_mase"] = _skill(out["mase"], out["baseline_mase"])
    defined = [i for i, r in enumerate(rows) if np.isfinite(float(r.get("mase", float("nan"))))]
    out["mase_over_defined"] = _weighted_mean([rows[i]["mase"] for i in defined], [weights[i] for i in defined])
    out["baseline_mase_over_defined"] = _weighted_mean(
        [rows[i].get("baseline_mase", float("nan")) for i in defined], [weights[i] for i in defined]
    )
    out["verdict"] = _pooled_verdict(
        out["mase_over_defined"], out["baseline_mase_over_defined"], out["mae"], out["baseline_mae"]
    )
    out["method"] = "rolling origin per series, pooled over their points"
    out["baseline_model"] = "seasonal_naive"
    out["points"] = int(sum(weights))
    out["pooled_series"] = list(done)
    out["without_backtest"] = missing
    out["mase_undefined"] = [sid for i, sid in enumerate(done) if i not in set(defined)]
    return out


def _pooled_verdict(mase: float, baseline_mase: float, mae: float, baseline_mae: float) -> str:
    """How the pooled backtest compares with seasonal naive: by MASE over the series where
    it is defined (scale-free across series in different units), by MAE if it is nowhere."""
    name, model, base = ("MASE", mase, baseline_mase) if np.isfinite(mase) else ("MAE", mae, baseline_mae)
    if model < base:
        word = "better than"
    elif model == base:
        word = "equal to"
    else:
        word = "worse than"
    return f"{word} seasonal naive, pooled over the series (pooled {name} {model:.6g} vs {base:.6g})"
