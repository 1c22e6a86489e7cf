"""Short-term forecasters (15 minutes to a week): LightGBM (mean or quantiles) and ridge regression.

Both learn the value at time t from the same design:

* **anchored lags**: values at least ``horizon`` steps back (the same time one and two
  seasons back, the same time a week back for sub-daily data with at least
  :data:`WEEKLY_LAG_MIN_WEEKS` weeks of history, and the value exactly ``horizon`` steps
  back), plus the mean of the season that ends ``horizon`` steps back.
  Every row of the horizon then has all its inputs observed, so one model forecasts the
  whole horizon at once: a *direct* multi-step strategy without feeding forecasts back
  (no recursion, no error accumulation along the day-ahead horizon).
* **calendar** (:mod:`carbonpark.forecast.calendar`): time of day, day of week, month,
  Chinese public holidays, make-up working days (调休) and the working-day flag.
* **features given by the user**: weather (temperature, irradiance), production plan,
  anything numeric, with its known future values.

LightGBM (gradient-boosted trees) reads them raw; the ridge learner reads Fourier terms
of the daily cycle, their product with the working-day flag, weekday dummies and the
features with their squares (a U-shaped temperature response), their products with the
first two daily harmonics (a response that differs by hour) and their recency terms (1 h
and 3 h earlier, trailing 24 h mean; :func:`recency_features`), all standardised.

Intervals of ``lightgbm`` and ``ridge`` are **split-conformal**: before the final fit, the
learner is fitted on the history minus the last ``k × horizon`` steps for
k = ``calibration_windows`` … 1 and the absolute errors on the held-out horizons give the
half widths, one per level for the whole horizon. ``lightgbm_quantile`` forecasts the
bounds with quantile boosters instead and calibrates them on the same held-out horizons
by conformalized quantile regression (:class:`LightGBMQuantileForecaster`). A history too
short for any held-out horizon falls back to the **in-sample** errors of the final fit
(:meth:`_DirectLearner.forecast_series`): a weaker interval, since a model's errors on
the rows it was fitted to understate its errors on new ones, but never a zero-width one
passed off as 80 % or 95 %.

References
----------
Guide §4.4(2) (short-term: regression, decision trees and other machine learning on
weather, calendar and user-type features); Ke et al. (2017), "LightGBM: a highly
efficient gradient boosting decision tree", NeurIPS; Ben Taieb et al. (2012), "A review
and comparison of strategies for multi-step ahead time series forecasting", Expert
Systems with Applications 39(8) (the direct strategy); Lei et al. (2018), JASA 113(523)
(split conformal intervals); Romano, Patterson & Candès (2019), NeurIPS 32 (conformalized
quantile regression); Wang, Liu & Hong (2016), Int. J. Forecasting 32(3) (recency effect).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError
from carbonpark.forecast.calendar import calendar_features, working_days_in_month
from carbonpark.forecast.contract import (
    INTERVAL_LEVELS,
    SeriesForecaster,
    conformal_half_widths,
    is_sub_daily,
    normalise_freq,
    season_length,
    steps_per_day,
)

__all__ = [
    "QUANTILE_BOUNDS",
    "LightGBMForecaster",
    "LightGBMQuantileForecaster",
    "RidgeForecaster",
    "anchored_lags",
    "cqr_bounds",
    "cqr_margin",
    "design_matrix",
    "recency_features",
]

#: Fewest training rows a learner accepts [rows].
MIN_TRAIN_ROWS = 12

#: Fewest weeks of sub-daily history [weeks] for the weekly lag: with two, at least a
#: week of training rows carries it (the MSTL of :mod:`carbonpark.forecast.long_term`
#: likewise drops its weekly season below two weeks).
WEEKLY_LAG_MIN_WEEKS = 2


def anchored_lags(horizon: int, freq: str, history: int | None = None) -> list[int]:
    """Lags [steps] usable for every step of ``horizon``: all are >= ``horizon``.

    Parameters
    ----------
    horizon
        Steps forecast at once [steps].
    freq
        Pandas frequency of the series.
    history
        Observations available [steps]; ``None`` for a history long enough for every lag.

    Returns
    -------
    list[int]
        The same time one and two seasons back (the first multiple of the season that is
        at least the horizon), the horizon, and for sub-daily data the same time a week
        back when the week is not shorter than those seasonal lags and ``history`` holds
        at least :data:`WEEKLY_LAG_MIN_WEEKS` weeks. On a shorter history the weekly lag
        would leave fewer than a week of complete training rows (none at all on 8 days of
        hourly data with the two calibration windows), so hourly history of two days plus
        :data:`MIN_TRAIN_ROWS` hours suffices for a day-ahead forecast (lags 24 and 48 h).
    """
    m = season_length(freq)
    base = math.ceil(horizon / m) * m
    lags = {horizon, base, base + m}
    if is_sub_daily(freq):
        week = 7 * steps_per_day(freq)
        if week >= base and (history is None or history >= WEEKLY_LAG_MIN_WEEKS * week):
            lags.add(week)
    return sorted(lags)


def _calendar_block(ts: pd.DatetimeIndex, freq: str, linear: bool) -> pd.DataFrame:
    """Calendar columns of the timeline ``ts``; regular timelines are cached.

    Every meter of a park (and every backtest cut of one meter) shares the same
    timeline up to its length, so the block of the longest timeline seen from a start
    serves the shorter ones as a slice (the Chinese-calendar lookups are the costly part).
    """
    f = normalise_freq(freq)
    if len(ts) > 1 and f in ("15min", "30min", "h", "D"):
        key = (pd.Timestamp(ts[0]), f, linear)
        cached = _CALENDAR_CACHE.get(key)
        if cached is None or len(cached) < len(ts):
            cached = _calendar_columns(pd.date_range(ts[0], periods=len(ts) + 1024, freq=f), f, linear)
            if len(_CALENDAR_CACHE) >= 16:
                _CALENDAR_CACHE.clear()
            _CALENDAR_CACHE[key] = cached
        expected_last = pd.Timestamp(ts[0]) + (len(ts) - 1) * pd.tseries.frequencies.to_offset(f)
        if pd.Timestamp(ts[-1]) == expected_last:
            return cached.iloc[: len(ts)].reset_index(drop=True)
    return _calendar_columns(ts, f, linear)


#: (start, freq, linear) → calendar block of a long regular timeline from that start.
_CALENDAR_CACHE: dict[tuple[pd.Timestamp, str, bool], pd.DataFrame] = {}


def _calendar_columns(ts: pd.DatetimeIndex, f: str, linear: bool) -> pd.DataFrame:
    block: dict[str, np.ndarray] = {}
    if f == "YS":
        return pd.DataFrame(index=range(len(ts)))
    if f == "MS":
        block["working_days"] = working_days_in_month(ts)
        if linear:
            for month in range(2, 13):
                block[f"month_{month}"] = (ts.month == month).astype(float)
        else:
            block["month"] = ts.month.to_numpy().astype(float)
        return pd.DataFrame(block)
    cal = calendar_features(ts)
    working = cal["is_working_day"].to_numpy()
    for flag in ("is_holiday", "is_makeup_workday", "is_working_day"):
        block[flag] = cal[flag].to_numpy()
    if not linear:
        block["day_of_week"] = cal["day_of_week"].to_numpy().astype(float)
        if f == "D":
            block["month"] = cal["month"].to_numpy().astype(float)
        else:
            block["time_of_day"] = cal["time_of_day"].to_numpy()
        return pd.DataFrame(block)
    for day in range(1, 7):
        block[f"dow_{day}"] = (cal["day_of_week"].to_numpy() == day).astype(float)
    if f != "D":
        angle = 2 * np.pi * cal["time_of_day"].to_numpy() / 24.0
        for k in range(1, min(4, steps_per_day(f) // 2) + 1):
            for name, wave in (("sin", np.sin(k * angle)), ("cos", np.cos(k * angle))):
                block[f"day_{name}{k}"] = wave
                block[f"work_day_{name}{k}"] = wave * working
    return pd.DataFrame(block)


def design_matrix(
    y_full: np.ndarray,
    ts_full: pd.DatetimeIndex,
    horizon: int,
    freq: str,
    x_full: pd.DataFrame | None,
    linear: bool,
    history: int | None = None,
) -> pd.DataFrame:
    """Features of every row of the timeline ``ts_full`` (history then horizon).

    ``y_full`` holds the observations and NaN where unknown; a lag that reaches an
    unknown value is NaN. ``history`` [steps] is the length of the observed part, which
    decides the weekly lag (:func:`anchored_lags`). See the module doc for the columns.
    """
    series = pd.Series(np.asarray(y_full, dtype=float))
    m = season_length(freq)
    columns: dict[str, np.ndarray] = {}
    for lag in anchored_lags(horizon, freq, history):
        columns[f"lag_{lag}"] = series.shift(lag).to_numpy()
    columns[f"mean_{m}_at_lag_{horizon}"] = series.rolling(m, min_periods=m).mean().shift(horizon).to_numpy()
    frame = pd.DataFrame(columns)
    frame = pd.concat([frame, _calendar_block(ts_full, freq, linear).reset_index(drop=True)], axis=1)
    if x_full is not None and not x_full.empty:
        given = x_full.reset_index(drop=True).astype(float)
        frame = pd.concat([frame, given.add_prefix("x_")], axis=1)
        if linear:
            extra = [recency_features(given, freq), _daily_interactions(given, frame), (given**2).add_prefix("x2_")]
            frame = pd.concat([frame, *extra], axis=1)
    return frame


def _daily_interactions(given: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Each given feature times the first two harmonics of the day (a response that varies by hour)."""
    waves = [f"day_{wave}{k}" for k in (1, 2) for wave in ("sin", "cos") if f"day_{wave}{k}" in frame]
    return (
        pd.concat([given.mul(frame[w], axis=0).add_prefix(f"x_{w}_") for w in waves], axis=1)
        if waves
        else pd.DataFrame()
    )


def recency_features(given: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Lagged values and trailing means of the given feature columns (the recency effect).

    Sub-daily data: each column 1 h and 3 h earlier and its trailing 24 h mean (the load
    answers the heat of the last hours, not only of this one); daily data: the day before.
    Future rows read the given future values, so every step of the horizon has them.

    References
    ----------
    Wang, Liu & Hong (2016), "Electric load forecasting with recency effect: a big data
    approach", Int. J. Forecasting 32(3).
    """
    per_hour = max(1, steps_per_day(freq) // 24) if is_sub_daily(freq) else 0
    out: dict[str, np.ndarray] = {}
    for name in given.columns:
        col = given[name]
        if per_hour:
            for hours in (1, 3):
                out[f"x_{name}_lag_{hours}h"] = col.shift(hours * per_hour).to_numpy()
            out[f"x_{name}_mean_24h"] = col.rolling(24 * per_hour, min_periods=1).mean().to_numpy()
        else:
            out[f"x_{name}_lag_1"] = col.shift(1).to_numpy()
    return pd.DataFrame(out)


class _DirectLearner(SeriesForecaster):
    """Shared machinery: design, calibration windows, final fit, conformal intervals."""

    linear = False

    def __init__(self, calibration_windows: int = 2) -> None:
        self.calibration_windows = calibration_windows

    def fit_predict(self, x_train: np.ndarray, y_train: np.ndarray, x_pred: np.ndarray) -> np.ndarray:
        """Fit on ``(x_train, y_train)`` and predict ``x_pred``."""
        raise NotImplementedError

    def _design(
        self,
        y: np.ndarray,
        ts: pd.DatetimeIndex,
        horizon: int,
        freq: str,
        x: pd.DataFrame | None,
        x_future: pd.DataFrame | None,
        future_ts: pd.DatetimeIndex,
    ) -> np.ndarray:
        """The design of history and horizon as one float array (see :func:`design_matrix`)."""
        ts_full = ts.append(future_ts)
        x_full = pd.concat([x, x_future], ignore_index=True) if x is not None and x_future is not None else None
        y_full = np.concatenate([y, np.full(horizon, np.nan)])
        return design_matrix(y_full, ts_full, horizon, freq, x_full, self.linear, y.size).to_numpy(dtype=float)

    def _calibration_cuts(self, n: int, horizon: int, freq: str) -> list[int]:
        """Cuts ``n − k × horizon`` for k = ``calibration_windows`` … 1 that leave enough history."""
        needed = max(anchored_lags(horizon, freq, n)) + MIN_TRAIN_ROWS
        cuts = (n - k * horizon for k in range(self.calibration_windows, 0, -1))
        return [cut for cut in cuts if cut >= needed]

    def _split(
        self, cut: int, design: np.ndarray, y: np.ndarray, horizon: int, freq: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training rows before ``cut`` (complete ones only) and the ``horizon`` rows from it.

        One design serves every cut: all lags are at least ``horizon`` steps long, so the
        rows ``cut … cut + horizon − 1`` only read values before ``cut``.
        """
        train = design[:cut]
        usable = np.isfinite(train).all(axis=1)
        if usable.sum() < MIN_TRAIN_ROWS:
            lags = anchored_lags(horizon, freq, y.size)
            raise ValidationError(
                f"{self.name} history",
                f"at least {max(lags) + MIN_TRAIN_ROWS} observations for horizon {horizon} (lags {lags})",
                cut,
            )
        return train[usable], y[:cut][usable], design[cut : cut + horizon]

    def _predict_after(self, cut: int, design: np.ndarray, y: np.ndarray, horizon: int, freq: str) -> np.ndarray:
        """Fit on the rows before ``cut`` and forecast the ``horizon`` rows from it."""
        return self.fit_predict(*self._split(cut, design, y, horizon, freq))

    def _predict_in_sample(
        self, design: np.ndarray, y: np.ndarray, horizon: int, freq: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Final fit on the whole history: its forecast of the horizon and its in-sample residuals.

        One fit predicts the horizon rows and the training rows; the residuals are
        ``y − fitted`` on the training rows [unit of y].
        """
        x_train, y_train, x_pred = self._split(y.size, design, y, horizon, freq)
        both = self.fit_predict(x_train, y_train, np.vstack([x_pred, x_train]))
        return both[:horizon], y_train - both[horizon:]

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
        """Mean of the final fit and split-conformal bounds (see the module doc).

        The half widths come from the errors on the held-out horizons. When none fits
        (fewer than ``max(lags) + MIN_TRAIN_ROWS + horizon`` observations), they come from
        the final fit's in-sample residuals instead, with the same conformal quantile.
        Those understate the out-of-sample spread (the fit has seen these rows; the more
        so the more flexible the learner, LightGBM more than ridge), so such intervals are
        a lower bound of the honest width, not an 80 % / 95 % guarantee.
        """
        design = self._design(y, ts, horizon, freq, x, x_future, future_ts)
        residuals = [
            y[cut : cut + horizon] - self._predict_after(cut, design, y, horizon, freq)
            for cut in self._calibration_cuts(y.size, horizon, freq)
        ]
        if residuals:
            mean = self._predict_after(y.size, design, y, horizon, freq)
            half = conformal_half_widths(np.concatenate(residuals))
        else:
            mean, in_sample = self._predict_in_sample(design, y, horizon, freq)
            half = conformal_half_widths(in_sample)
        out: dict[str, np.ndarray] = {"mean": mean}
        for level in INTERVAL_LEVELS:
            out[f"lo-{level}"] = mean - half[level]
            out[f"hi-{level}"] = mean + half[level]
        return out


class LightGBMForecaster(_DirectLearner):
    """Gradient-boosted trees (LightGBM) on anchored lags, calendar and given features.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves
        Boosting rounds, shrinkage and leaves per tree.
    calibration_windows
        Held-out horizons for the conformal intervals.
    seed
        Seed of LightGBM (its runs are deterministic with one thread).
    """

    name = "lightgbm"

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        calibration_windows: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(calibration_windows)
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.seed = seed

    def fit_predict(self, x_train: np.ndarray, y_train: np.ndarray, x_pred: np.ndarray) -> np.ndarray:
        """One LightGBM regression (L2 objective), single-threaded and deterministic."""
        return self._fit_boosters(x_train, y_train, x_pred, [{"objective": "regression"}])[0]

    def _fit_boosters(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_pred: np.ndarray,
        objectives: Sequence[Mapping[str, str | float]],
    ) -> list[np.ndarray]:
        """One booster per entry of ``objectives`` on one binned dataset; their predictions of ``x_pred``.

        Every booster has the same single-threaded, deterministic settings; an entry sets
        the objective (and, for ``quantile``, its ``alpha``).
        """
        import lightgbm as lgb

        params: dict[str, str | float] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": max(3, min(20, len(y_train) // 20)),
            "min_data_in_bin": 1,
            "feature_fraction": 1.0,
            "num_threads": 1,
            "deterministic": True,
            "force_row_wise": True,
            "seed": self.seed,
            "verbose": -1,
        }
        data = lgb.Dataset(x_train, label=y_train, params={"verbose": -1})
        out = []
        for objective in objectives:
            booster = lgb.train({**params, **objective}, data, num_boost_round=self.n_estimators)
            out.append(np.asarray(booster.predict(x_pred), dtype=float))
        return out


#: The bounds of the intervals as quantiles: name → τ. The L % interval runs from
#: τ = (100 − L)/200 to τ = (100 + L)/200 (0.1 and 0.9 for 80 %, 0.025 and 0.975 for 95 %).
QUANTILE_BOUNDS: dict[str, float] = {
    **{f"lo-{level}": (100 - level) / 200 for level in INTERVAL_LEVELS},
    **{f"hi-{level}": (100 + level) / 200 for level in INTERVAL_LEVELS},
}

#: LightGBM objectives of the bounds, in the order of :data:`QUANTILE_BOUNDS`.
_QUANTILE_OBJECTIVES: list[dict[str, str | float]] = [
    {"objective": "quantile", "alpha": tau} for tau in QUANTILE_BOUNDS.values()
]

#: The mean booster's objective, then the bounds' (one binned dataset serves all five).
_MEAN_AND_QUANTILES: list[dict[str, str | float]] = [{"objective": "regression"}, *_QUANTILE_OBJECTIVES]


def cqr_margin(lo: np.ndarray, hi: np.ndarray, actual: np.ndarray, level: int) -> float:
    """Margin [unit of y] that calibrates quantile bounds to ``level`` % (CQR).

    The conformity score of a calibration point is ``E = max(lo − y, y − hi)``: positive
    by how far y falls outside ``[lo, hi]``, negative by how deep inside it lies. The
    margin is the ``⌈(n + 1)·L/100⌉``-th smallest of the n scores (the largest when n is
    too small); ``[lo − margin, hi + margin]`` then covers at least L % of exchangeable new
    points. A negative margin narrows intervals that were too wide. No calibration point
    gives 0 (the quantile regression's bounds as they are).

    References
    ----------
    Romano, Patterson & Candès (2019), "Conformalized quantile regression", NeurIPS 32,
    Theorem 1.
    """
    y = np.asarray(actual, dtype=float)
    scores = np.sort(np.maximum(np.asarray(lo, dtype=float) - y, y - np.asarray(hi, dtype=float)))
    n = scores.size
    if n == 0:
        return 0.0
    k = min(n, -(-(n + 1) * level // 100))  # integer ceiling of (n + 1)·L/100
    return float(scores[k - 1])


def cqr_bounds(
    raw: Mapping[str, np.ndarray],
    calibration: Mapping[str, np.ndarray],
    actual: np.ndarray,
    widen_only: bool = False,
) -> dict[str, np.ndarray]:
    """Quantile bounds ``raw`` widened (or narrowed) by their :func:`cqr_margin` per level.

    ``raw`` and ``calibration`` hold ``lo-80`` … ``hi-95``: the bounds to calibrate and the
    bounds the same learner gave for the calibration points ``actual``. With
    ``widen_only`` a negative margin is taken as 0: for calibration points the learner
    was fitted on, which look better covered than new points would be.
    """
    out: dict[str, np.ndarray] = {}
    for level in INTERVAL_LEVELS:
        lo, hi = f"lo-{level}", f"hi-{level}"
        margin = cqr_margin(calibration[lo], calibration[hi], actual, level)
        if widen_only:
            margin = max(margin, 0.0)
        out[lo] = np.asarray(raw[lo], dtype=float) - margin
        out[hi] = np.asarray(raw[hi], dtype=float) + margin
    return out


class LightGBMQuantileForecaster(LightGBMForecaster):
    """LightGBM mean with quantile-regression intervals calibrated by CQR.

    The mean is the L2 booster of :class:`LightGBMForecaster`. Each interval bound is its
    own LightGBM booster with ``objective="quantile"`` at τ = 0.025, 0.1, 0.9, 0.975 on
    the same design (direct: one booster per quantile for the whole horizon), so the
    width follows the noise: narrow where the load is steady, wide where it is not.

    **Calibration (CQR).** The four quantile boosters are also fitted on the history minus
    the last ``k × horizon`` steps (k = ``calibration_windows`` … 1); on the held-out
    horizons each level's bounds get the margin of :func:`cqr_margin`, which is then added
    to the final bounds (subtracted from the lower one). A history too short for any
    held-out horizon takes the margin from the final boosters' in-sample bounds and the
    history they were fitted on, and only widens with it (``widen_only`` of
    :func:`cqr_bounds`): in-sample coverage flatters the boosters, so a negative margin
    from it would narrow intervals on no evidence. The quantile boosters fitted on a few
    days cross at some steps, which the nesting below would turn into zero width, so the
    bounds are then also kept at least as wide as :class:`LightGBMForecaster`'s (the mean
    ± the conformal quantile of the mean booster's in-sample residuals). Such bounds
    carry no coverage guarantee (:meth:`_in_sample_bounds`).

    **Order.** Quantile boosters are fitted apart and may cross, and the mean is not a
    quantile. The bounds are nested by widening only, so no interval loses coverage:
    ``lo-80 ← min(lo-80, mean)``, ``hi-80 ← max(hi-80, mean)``, then ``lo-95 ← min(lo-95,
    lo-80)``, ``hi-95 ← max(hi-95, hi-80)`` (the rule of
    :func:`carbonpark.forecast.contract.order_intervals`, applied to every built-in by
    :class:`~carbonpark.forecast.contract.SeriesForecaster`).

    **Cost.** Each forecast fits 5 boosters plus 4 per calibration window (13 with the
    default 2) where :class:`LightGBMForecaster` fits 3, hence not an ``auto`` candidate.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, seed
        As :class:`LightGBMForecaster`, for every booster.
    calibration_windows
        Held-out horizons for the CQR margin.

    References
    ----------
    Koenker & Bassett (1978), "Regression quantiles", Econometrica 46(1); Ke et al.
    (2017), NeurIPS (LightGBM); Romano, Patterson & Candès (2019), "Conformalized quantile
    regression", NeurIPS 32; guide §4.4(2).
    """

    name = "lightgbm_quantile"

    def fit_quantiles(self, x_train: np.ndarray, y_train: np.ndarray, x_pred: np.ndarray) -> dict[str, np.ndarray]:
        """The four quantile boosters' predictions of ``x_pred``, by bound name (``lo-95`` …)."""
        predictions = self._fit_boosters(x_train, y_train, x_pred, _QUANTILE_OBJECTIVES)
        return dict(zip(QUANTILE_BOUNDS, predictions, strict=True))

    def _in_sample_bounds(self, design: np.ndarray, y: np.ndarray, horizon: int, freq: str) -> dict[str, np.ndarray]:
        """Mean and bounds when no held-out horizon fits, calibrated on the training rows.

        The final boosters predict the horizon and their own training rows. Each level's
        raw bounds are widened by the in-sample CQR margin when it is positive, then by as
        much as needed to hold ``mean ± h_L``, where h_L is the conformal half width of the
        mean booster's in-sample residuals (:func:`conformal_half_widths`). Both steps read
        errors on rows the boosters were fitted to, which understate the errors on new rows.
        """
        x_train, y_train, x_pred = self._split(y.size, design, y, horizon, freq)
        fitted_mean, *both = self._fit_boosters(x_train, y_train, np.vstack([x_pred, x_train]), _MEAN_AND_QUANTILES)
        mean = fitted_mean[:horizon]
        raw = {name: b[:horizon] for name, b in zip(QUANTILE_BOUNDS, both, strict=True)}
        fitted = {name: b[horizon:] for name, b in zip(QUANTILE_BOUNDS, both, strict=True)}
        out = cqr_bounds(raw, fitted, y_train, widen_only=True)
        half = conformal_half_widths(y_train - fitted_mean[horizon:])
        for level in INTERVAL_LEVELS:
            out[f"lo-{level}"] = np.minimum(out[f"lo-{level}"], mean - half[level])
            out[f"hi-{level}"] = np.maximum(out[f"hi-{level}"], mean + half[level])
        return {"mean": mean, **out}

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
        """Mean and CQR-calibrated quantile bounds of one series (see the class doc)."""
        design = self._design(y, ts, horizon, freq, x, x_future, future_ts)
        cuts = self._calibration_cuts(y.size, horizon, freq)
        if not cuts:
            return self._in_sample_bounds(design, y, horizon, freq)
        held_out = [self.fit_quantiles(*self._split(cut, design, y, horizon, freq)) for cut in cuts]
        calibration = {name: np.concatenate([h[name] for h in held_out]) for name in QUANTILE_BOUNDS}
        actual = np.concatenate([y[cut : cut + horizon] for cut in cuts])
        mean, *bounds = self._fit_boosters(*self._split(y.size, design, y, horizon, freq), _MEAN_AND_QUANTILES)
        raw = dict(zip(QUANTILE_BOUNDS, bounds, strict=True))
        return {"mean": mean, **cqr_bounds(raw, calibration, actual)}


class RidgeForecaster(_DirectLearner):
    """Ridge regression on the same anchored lags, calendar terms and features.

    Parameters
    ----------
    alpha
        L2 penalty on the standardised coefficients (the intercept is not penalised).
    calibration_windows
        Held-out horizons for the conformal intervals.
    """

    name = "ridge"
    linear = True

    def __init__(self, alpha: float = 1.0, calibration_windows: int = 2) -> None:
        super().__init__(calibration_windows)
        self.alpha = alpha

    def fit_predict(self, x_train: np.ndarray, y_train: np.ndarray, x_pred: np.ndarray) -> np.ndarray:
        """Closed-form ridge: β = (ZᵀZ + αI)⁻¹ Zᵀ(y − ȳ) on standardised columns Z."""
        center = x_train.mean(axis=0)
        scale = x_train.std(axis=0)
        keep = scale > 1e-12
        z = (x_train[:, keep] - center[keep]) / scale[keep]
        z_pred = (x_pred[:, keep] - center[keep]) / scale[keep]
        y_mean = float(y_train.mean())
        gram = z.T @ z + self.alpha * np.eye(z.shape[1])
        beta = np.linalg.solve(gram, z.T @ (y_train - y_mean))
        return np.asarray(y_mean + z_pred @ beta, dtype=float)
