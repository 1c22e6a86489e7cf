"""Model selection (``auto``) and the one call that forecasts and backtests.

``auto`` backtests every candidate that suits the frequency (rolling origin, the same
windows for all, seasonal naive among them) and ranks them by MASE (by MAE when MASE is
undefined, e.g. on a series whose seasonal naive is perfect). A tie keeps the earlier
candidate, and seasonal naive comes first: a model must beat the baseline to be chosen.

**Combination with a tie rule.** The two best candidates other than the baseline are
also averaged with equal weights, and the combination's backtest is computed on the same
windows from their backtest forecasts (nothing is refitted). ``auto`` forecasts with the
combination unless the best single candidate beats it by more than one standard error
of their per-window score difference (dᵢ = score of the best − score of the combination
in window i; the best wins when mean d < −sd(d)/√W over the W windows). Averaging two
forecasts that a backtest cannot tell apart hedges against picking the one that was
lucky on those windows (Bates & Granger 1969; the M4 competition's best methods were
combinations, Makridakis et al. 2020); a single model keeps the job when it is clearly
better, the one-standard-error rule of model choice (Hastie, Tibshirani & Friedman 2009,
§7.10). The combination must also beat seasonal naive, and with fewer than
:data:`MIN_TIE_WINDOWS` windows the noise cannot be estimated, so the best single
candidate is used. The combination's intervals are conformal: the quantiles of its
absolute backtest errors (see :func:`forecast_selection`). The rule was fixed on the
first eight weeks of the Taylor (2003) demand series, before the benchmark's test weeks
were run (``docs/forecasting.md`` §Benchmarks).

The backtest of the chosen model is the one selection used, so it is slightly
optimistic; the baseline's figures come from the same windows.

Candidates:

* 15min, 30min, h, D: seasonal naive, ridge, LightGBM, MSTL, MSTL with a combined
  ETS + AR(2) trend (``mstl_combo``) (D adds ETS);
* MS: seasonal naive, ETS, ARIMA, MSTL, regression (drivers, or trend);
* YS: seasonal naive (naive), ETS, ARIMA, regression, and elasticity when a driver is given.

References
----------
SPEC C8; guide §4.4; Tashman (2000), Int. J. Forecasting 16(4); Bates & Granger (1969),
"The combination of forecasts", Oper. Res. Q. 20(4); Makridakis, Spiliotis &
Assimakopoulos (2020), "The M4 competition: 100,000 time series and 61 forecasting
methods", Int. J. Forecasting 36(1); Hastie, Tibshirani & Friedman (2009), *The Elements
of Statistical Learning*, 2nd ed., §7.10 (one-standard-error rule); Lei et al. (2018),
JASA 113(523) (split conformal intervals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.backtest import BacktestResult, combine_backtests, rolling_origin, window_scores
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.contract import (
    INTERVAL_LEVELS,
    Forecaster,
    conformal_half_widths,
    feature_columns,
    interval_frame,
    normalise_freq,
    validate_future,
    validate_history,
)
from carbonpark.forecast.long_term import (
    ARIMAForecaster,
    ElasticityForecaster,
    ETSForecaster,
    MSTLComboForecaster,
    MSTLForecaster,
    RegressionForecaster,
)
from carbonpark.forecast.short_term import LightGBMForecaster, LightGBMQuantileForecaster, RidgeForecaster

__all__ = [
    "MIN_TIE_WINDOWS",
    "AutoForecaster",
    "ForecastRun",
    "Selection",
    "candidates_for",
    "combination_name",
    "forecast_selection",
    "run_forecast",
    "select_model",
]

#: Fewest backtest windows from which the tie rule estimates the standard error of a
#: score difference (one per window); with fewer, ``auto`` takes the best single model.
MIN_TIE_WINDOWS = 3

_BUILT_INS: dict[str, Callable[[], Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "ridge": RidgeForecaster,
    "lightgbm": LightGBMForecaster,
    "lightgbm_quantile": LightGBMQuantileForecaster,  # not an auto candidate: 13 boosters
    "ets": ETSForecaster,
    "arima": ARIMAForecaster,
    "mstl": MSTLForecaster,
    "mstl_combo": MSTLComboForecaster,
    "regression": RegressionForecaster,
    "elasticity": ElasticityForecaster,
}


def candidates_for(freq: str, has_features: bool) -> list[str]:
    """Names of the candidates ``auto`` compares for ``freq`` (see the module doc)."""
    f = normalise_freq(freq)
    if f in ("15min", "30min", "h"):
        return ["seasonal_naive", "ridge", "lightgbm", "mstl", "mstl_combo"]
    if f == "D":
        return ["seasonal_naive", "ridge", "lightgbm", "ets", "mstl", "mstl_combo"]
    if f == "MS":
        return ["seasonal_naive", "ets", "arima", "mstl", "regression"]
    return ["seasonal_naive", "ets", "arima", "regression", *(["elasticity"] if has_features else [])]


def _score(result: BacktestResult, use_mase: bool) -> float:
    return result.metrics["mase"] if use_mase else result.metrics["mae"]


def combination_name(weights: dict[str, float]) -> str:
    """Name of a weighted combination, e.g. ``0.5*mstl + 0.5*mstl_combo``."""
    return " + ".join(f"{w:g}*{name}" for name, w in weights.items())


@dataclass
class Selection:
    """Backtests of every candidate (and of the combination, when formed) and the choice.

    Attributes
    ----------
    chosen
        A candidate's name, or the combination's (:func:`combination_name`).
    criterion
        ``mase`` or ``mae``.
    backtests
        Name → backtest, on the same windows; the combination's is under its name.
    failures
        Candidates left out, with the reason.
    weights
        Members of the choice and their weights (one member with weight 1 for a single model).
    rule
        One sentence: what was compared and why this was chosen.
    combination
        Members and weights of the combination the tie rule formed (chosen or not); empty
        if none was formed.
    """

    chosen: str
    criterion: str
    backtests: dict[str, BacktestResult]
    failures: dict[str, str] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    rule: str = ""
    combination: dict[str, float] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """One row per candidate (and combination): name, MAE, MASE, MAPE, coverage, or why it failed."""
        rows: list[dict[str, Any]] = []
        for name, bt in self.backtests.items():
            row: dict[str, Any] = {
                "model": name,
                "mae": bt.metrics["mae"],
                "mase": bt.metrics.get("mase"),
                "mape": bt.metrics["mape"],
                "coverage_80": bt.metrics["coverage_80"],
                "chosen": name == self.chosen,
            }
            if self.combination and name == combination_name(self.combination):
                row["members"] = dict(self.combination)
            rows.append(row)
        rows.extend({"model": name, "error": why, "chosen": False} for name, why in self.failures.items())
        return rows


def select_model(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    candidates: list[str] | None = None,
    windows: int = 3,
    factories: dict[str, Callable[[], Forecaster]] | None = None,
    combine: bool = True,
) -> Selection:
    """Backtest the candidates on the same windows and choose (see the module doc).

    A candidate that fails on this history (too short for its lags, a driver it needs,
    …) is left out and its reason kept in ``failures``.

    Parameters
    ----------
    history
        The contract's long-format frame.
    horizon, freq
        Steps ahead and frequency.
    candidates
        Names to compare (default: :func:`candidates_for`).
    windows
        Rolling-origin windows (origins one horizon apart).
    factories
        Name → forecaster factory (default: the built-ins).
    combine
        Apply the tie rule with the combination of the two best (the default); ``False``
        keeps the single lowest score.

    Raises
    ------
    ValidationError
        If no candidate can be backtested on this history.
    """
    factories = factories or _BUILT_INS
    names = candidates or candidates_for(freq, bool(feature_columns(history)))
    backtests: dict[str, BacktestResult] = {}
    failures: dict[str, str] = {}
    for name in names:
        try:
            backtests[name] = rolling_origin(history, factories[name](), horizon, freq, windows=windows)
        except CarbonparkError as exc:
            failures[name] = str(exc)
    if not backtests:
        raise ValidationError("auto", "a history long enough to backtest at least one model", failures)
    use_mase = all(np.isfinite(bt.metrics.get("mase", np.nan)) for bt in backtests.values())
    criterion = "mase" if use_mase else "mae"
    scores = {name: _score(bt, use_mase) for name, bt in backtests.items()}
    # The first candidate (seasonal naive first) within rounding noise of the best wins.
    level = 1.0 if use_mase else max(1.0, float(np.mean(np.abs(pd.to_numeric(history["value"])))))
    best = next(n for n in names if n in backtests and scores[n] <= min(scores.values()) + 1e-9 * level)
    others = sorted((n for n in names if n in backtests and n != best), key=scores.__getitem__)  # stable
    selection = Selection(
        best, criterion, backtests, failures, {best: 1.0}, f"lowest backtest {criterion} among {list(backtests)}"
    )
    if combine:
        _tie_rule(selection, others, scores, use_mase)
    return selection


def _tie_rule(selection: Selection, others: list[str], scores: dict[str, float], use_mase: bool) -> None:
    """Replace the single best by the equal-weight combination of the two best, unless the
    best beats it by more than one standard error (see the module doc); updates ``selection``."""
    best, criterion = selection.chosen, selection.criterion
    runner = next((n for n in others if n != SeasonalNaive.name), None)
    windows = selection.backtests[best].windows
    if best == SeasonalNaive.name or runner is None:
        selection.rule += "; no combination (seasonal naive is best, or no second model to combine with)"
        return
    if windows < MIN_TIE_WINDOWS:
        selection.rule += f"; no combination ({windows} windows: at least {MIN_TIE_WINDOWS} to estimate the noise)"
        return
    weights = {best: 0.5, runner: 0.5}
    name = combination_name(weights)
    try:
        combined = combine_backtests(selection.backtests, weights, name)
    except ValidationError as exc:  # backtests on different windows cannot be combined
        selection.rule += f"; no combination ({exc})"
        return
    selection.backtests[name], selection.combination = combined, weights
    diff = window_scores(selection.backtests[best], use_mase) - window_scores(combined, use_mase)
    se = float(np.std(diff, ddof=1) / np.sqrt(diff.size))
    gap = float(np.mean(diff))
    score = _score(combined, use_mase)
    naive = scores.get(SeasonalNaive.name)
    detail = (
        f"{best} {scores[best]:.4g} vs {name} {score:.4g} ({criterion}); "
        f"per-window difference {gap:.3g} ± {se:.3g} (one standard error, {windows} windows)"
    )
    if gap < -se:
        selection.rule = f"{best}: beats the combination by more than one standard error; {detail}"
    elif naive is not None and score >= naive:
        selection.rule = f"{best}: the combination does not beat seasonal naive ({naive:.4g}); {detail}"
    else:
        selection.chosen, selection.weights = name, weights
        selection.rule = f"combination of the two best (no single model wins by more than one standard error); {detail}"


def forecast_selection(
    selection: Selection,
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    future: pd.DataFrame | None = None,
    factories: dict[str, Callable[[], Forecaster]] | None = None,
) -> pd.DataFrame:
    """Forecast with what ``selection`` chose: a single model, or the weighted combination.

    A combination's mean is Σ wₖ ŷₖ over its members fitted on the whole history. Its
    interval of level L has half width equal to the ⌈(n + 1)·L/100⌉-th smallest of the n
    absolute errors of the combination in the backtest windows of that series (split
    conformal, with the backtest windows as the calibration set); it is the same at every
    step of the horizon, so it covers L % of the steps on average over the horizon.
    """
    factories = factories or _BUILT_INS
    if len(selection.weights) <= 1:
        return factories[selection.chosen]().forecast(history, horizon, freq, future)
    paths = {name: factories[name]().forecast(history, horizon, freq, future) for name in selection.weights}
    first = next(iter(paths.values()))
    keys = first[["series_id", "ts"]]
    mean = np.zeros(len(first))
    for name, weight in selection.weights.items():
        mean += weight * keys.merge(paths[name][["series_id", "ts", "mean"]], on=["series_id", "ts"])["mean"].to_numpy()
    backtest = selection.backtests[selection.chosen].forecasts
    residuals = (backtest["actual"] - backtest["mean"]).groupby(backtest["series_id"].astype(str))
    pieces = []
    for sid, rows in keys.groupby("series_id", sort=False).indices.items():
        r = residuals.get_group(str(sid)).to_numpy() if str(sid) in residuals.groups else np.zeros(0)
        half = conformal_half_widths(r) if r.size else dict.fromkeys(INTERVAL_LEVELS, 0.0)
        pieces.append(interval_frame(str(sid), pd.DatetimeIndex(keys["ts"].to_numpy()[rows]), mean[rows], half))
    return pd.concat(pieces, ignore_index=True)


class AutoForecaster:
    """The ``auto`` forecaster: choose by rolling-origin backtest and the tie rule, then forecast.

    After :meth:`forecast`, ``last_selection`` holds the backtests that chose the model.
    """

    name = "auto"

    def __init__(self, windows: int = 3, candidates: list[str] | None = None) -> None:
        self.windows = windows
        self.candidates = candidates
        self.last_selection: Selection | None = None

    def forecast(
        self, history: pd.DataFrame, horizon: int, freq: str, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast with what the backtest on ``history`` chose (a model or a combination)."""
        selection = select_model(history, horizon, freq, self.candidates, self.windows)
        self.last_selection = selection
        return forecast_selection(selection, history, horizon, freq, future)


@dataclass
class ForecastRun:
    """A forecast with the backtest that goes with it.

    Attributes
    ----------
    model
        Name of the model that made the forecast (under ``auto`` the chosen one, or a
        combination such as ``0.5*mstl + 0.5*mstl_combo``).
    forecast
        The output-contract frame.
    backtest
        Rolling-origin report of that model next to seasonal naive (``None`` if the
        history is too short to backtest; ``backtest_note`` says why).
    selection
        Under ``auto``, every candidate's backtest.
    """

    model: str
    forecast: pd.DataFrame
    backtest: dict[str, Any] | None
    selection: Selection | None = None
    backtest_note: str | None = None


def run_forecast(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    model: str = "auto",
    future: pd.DataFrame | None = None,
    windows: int = 3,
    resolve: Callable[[str], Forecaster] | None = None,
) -> ForecastRun:
    """Forecast ``horizon`` steps with ``model`` (or ``auto``) and backtest it honestly.

    Parameters
    ----------
    history, future
        The contract's frames.
    model
        ``auto`` or a forecaster name.
    windows
        Rolling-origin windows of the backtest.
    resolve
        Turns a name into a forecaster (the registry's ``get_forecaster``).
    """
    freq = normalise_freq(freq)
    # Check the future rows up front, whatever model ends up chosen (one that ignores
    # features must not hide a wrong number of future rows).
    validate_future(future, validate_history(history, freq, min_length=1), horizon, freq)
    if model == "auto":
        selection = select_model(history, horizon, freq, windows=windows)
        chosen = selection.chosen
        out = forecast_selection(selection, history, horizon, freq, future)
        chosen_report = selection.backtests[chosen].report()
        chosen_report["selected_by"] = selection.rule
        chosen_report["members"] = dict(selection.weights)
        return ForecastRun(chosen, out, chosen_report, selection)
    if resolve is None:
        if model not in _BUILT_INS:
            raise ValidationError("model", f"auto or one of {sorted(_BUILT_INS)}", model)
        resolve = lambda name: _BUILT_INS[name]()  # noqa: E731
    forecaster = resolve(model)
    out = forecaster.forecast(history, horizon, freq, future)
    try:
        report: dict[str, Any] | None
        report = rolling_origin(history, forecaster, horizon, freq, windows=windows).report()
        note = None
    except CarbonparkError as exc:  # the forecast stands; the note says why it has no backtest
        report, note = None, f"{model} forecast without a backtest: {exc}"
    return ForecastRun(model, out, report, None, note)
