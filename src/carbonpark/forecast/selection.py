"""Model selection (``auto``) and the one call that forecasts and backtests.

``auto`` backtests every candidate that suits the frequency (rolling origin, the same
windows for all, seasonal naive among them) and forecasts with the one of lowest MASE
(lowest MAE when MASE is undefined, e.g. on a series whose seasonal naive is perfect).
A tie keeps the earlier candidate, and seasonal naive comes first: a model must beat the
baseline to be chosen. The backtest of the chosen model is the one selection used, so it
is slightly optimistic; the baseline's figures come from the same windows.

Candidates:

* 15min, 30min, h, D: seasonal naive, ridge, LightGBM, MSTL, MSTL with a combined
  ETS + AR(2) trend (``mstl_combo``) (D adds ETS);
* MS: seasonal naive, ETS, ARIMA, MSTL, regression (drivers, or trend);
* YS: seasonal naive (naive), ETS, ARIMA, regression, and elasticity when a driver is given.

References
----------
SPEC C8; guide §4.4; Tashman (2000), Int. J. Forecasting 16(4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.backtest import BacktestResult, rolling_origin
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.contract import (
    Forecaster,
    feature_columns,
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
from carbonpark.forecast.short_term import LightGBMForecaster, RidgeForecaster

__all__ = ["AutoForecaster", "ForecastRun", "candidates_for", "run_forecast", "select_model"]

_BUILT_INS: dict[str, Callable[[], Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "ridge": RidgeForecaster,
    "lightgbm": LightGBMForecaster,
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


@dataclass
class Selection:
    """Backtests of every candidate and the one chosen."""

    chosen: str
    criterion: str
    backtests: dict[str, BacktestResult]
    failures: dict[str, str] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """One row per candidate: name, MAE, MASE, MAPE, coverage, or why it failed."""
        rows: list[dict[str, Any]] = []
        for name, bt in self.backtests.items():
            rows.append(
                {
                    "model": name,
                    "mae": bt.metrics["mae"],
                    "mase": bt.metrics.get("mase"),
                    "mape": bt.metrics["mape"],
                    "coverage_80": bt.metrics["coverage_80"],
                    "chosen": name == self.chosen,
                }
            )
        rows.extend({"model": name, "error": why, "chosen": False} for name, why in self.failures.items())
        return rows


def select_model(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    candidates: list[str] | None = None,
    windows: int = 3,
    factories: dict[str, Callable[[], Forecaster]] | None = None,
) -> Selection:
    """Backtest the candidates on the same windows and choose one (see the module doc).

    A candidate that fails on this history (too short for its lags, a driver it needs,
    …) is left out and its reason kept in ``failures``.
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
    # The first candidate (seasonal naive first) within rounding noise of the best wins.
    best = min(_score(bt, use_mase) for bt in backtests.values())
    level = 1.0 if use_mase else max(1.0, float(np.mean(np.abs(pd.to_numeric(history["value"])))))
    chosen = next(n for n in names if n in backtests and _score(backtests[n], use_mase) <= best + 1e-9 * level)
    return Selection(chosen, "mase" if use_mase else "mae", backtests, failures)


class AutoForecaster:
    """The ``auto`` forecaster: select by rolling-origin backtest, then forecast.

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
        """Forecast with the candidate that backtests best on ``history``."""
        selection = select_model(history, horizon, freq, self.candidates, self.windows)
        self.last_selection = selection
        return _BUILT_INS[selection.chosen]().forecast(history, horizon, freq, future)


@dataclass
class ForecastRun:
    """A forecast with the backtest that goes with it.

    Attributes
    ----------
    model
        Name of the model that made the forecast (the chosen one under ``auto``).
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
        out = _BUILT_INS[chosen]().forecast(history, horizon, freq, future)
        chosen_report = selection.backtests[chosen].report()
        chosen_report["selected_by"] = f"lowest {selection.criterion} among {list(selection.backtests)}"
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
    except CarbonparkError as exc:
        report, note = None, str(exc)
    return ForecastRun(model, out, report, None, note)
