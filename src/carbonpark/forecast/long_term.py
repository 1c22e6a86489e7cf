"""Mid/long-term forecasters (months, years; horizons to 2060) and the STL decomposition.

* :class:`ETSForecaster` and :class:`ARIMAForecaster`: statsforecast's AutoETS and
  AutoARIMA (model order chosen by information criteria), with their own intervals.
  For seasons longer than 12 steps a seasonal ARIMA is slow and fragile, so
  ``arima`` then removes the season by MSTL and fits a non-seasonal AutoARIMA to the
  adjusted series (said in the result's model name, ``arima`` on MSTL-adjusted data).
* :class:`MSTLForecaster`: the series split into trend, season(s) and remainder by
  statsforecast's MSTL; the season repeats, the trend is forecast by AutoETS.
* :class:`RegressionForecaster`: ordinary least squares on the drivers given as feature
  columns (output value, floor area, GDP, employees, …); with no driver, on time (a
  linear trend). Textbook prediction intervals with Student's t.
* :class:`ElasticityForecaster`: the energy-demand elasticity method,
  ln E_{T+h} = ln E_T + e (ln X_{T+h} − ln X_T), with e estimated from the history's
  growth rates (Δln E = e Δln X) or given.
* :func:`decompose`: trend, season and remainder for display (guide §4.4(1):
  长期趋势, 季节变动, 随机波动).

References
----------
Guide §4.4(1) (regression analysis, elasticity coefficients, AR/MA/ARMA/ARIMA with
trend, season, cycle and irregular parts); Hyndman & Khandakar (2008), "Automatic time
series forecasting: the forecast package for R", J. Stat. Softw. 27(3); Bandara,
Hyndman & Bergmeir (2021), "MSTL: a seasonal-trend decomposition algorithm for time
series with multiple seasonal patterns", arXiv:2107.13462; Cleveland et al. (1990),
"STL: a seasonal-trend decomposition procedure based on loess", J. Off. Stat. 6(1).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError
from carbonpark.forecast.contract import (
    INTERVAL_LEVELS,
    SeriesForecaster,
    is_sub_daily,
    normalise_freq,
    season_length,
    steps_per_day,
)

__all__ = [
    "ARIMAForecaster",
    "ETSForecaster",
    "ElasticityForecaster",
    "MSTLComboForecaster",
    "MSTLForecaster",
    "RegressionForecaster",
    "decompose",
]


@contextmanager
def _quiet_statsforecast() -> Iterator[None]:
    """Silence the optimiser notes statsforecast emits on short series (not errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="possible convergence problem", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsforecast")
        yield


def _result(raw: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {"mean": np.asarray(raw["mean"], dtype=float)}
    for level in INTERVAL_LEVELS:
        out[f"lo-{level}"] = np.asarray(raw[f"lo-{level}"], dtype=float)
        out[f"hi-{level}"] = np.asarray(raw[f"hi-{level}"], dtype=float)
    return out


def _usable_season(y: np.ndarray, freq: str) -> int:
    """The main season if the series covers at least two of them, else 1."""
    m = season_length(freq)
    return m if m > 1 and y.size >= 2 * m + 1 else 1


def _seasons(y: np.ndarray, freq: str) -> list[int]:
    """Seasons MSTL can estimate: daily (and weekly) for sub-daily data, else the main one."""
    m = _usable_season(y, freq)
    seasons = [m] if m > 1 else []
    if is_sub_daily(freq) and y.size >= 2 * 7 * steps_per_day(freq) + 1:
        seasons.append(7 * steps_per_day(freq))
    return seasons


class ETSForecaster(SeriesForecaster):
    """Exponential smoothing, model chosen by AICc (statsforecast AutoETS)."""

    name = "ets"
    uses_features = False
    min_length = 3

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
        """See the module doc."""
        from statsforecast.models import AutoETS

        m = _usable_season(y, freq)
        with _quiet_statsforecast():
            raw = AutoETS(season_length=m).forecast(y=y, h=horizon, level=list(INTERVAL_LEVELS))
        return _result(raw)


class ARIMAForecaster(SeriesForecaster):
    """ARIMA, order chosen stepwise by AICc (statsforecast AutoARIMA; see the module doc)."""

    name = "arima"
    uses_features = False
    min_length = 3
    #: Longest season fitted as a seasonal ARIMA [steps].
    max_seasonal_period = 12

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
        """See the module doc."""
        from statsforecast.models import MSTL, AutoARIMA

        m = _usable_season(y, freq)
        with _quiet_statsforecast():
            if m <= self.max_seasonal_period:
                raw = AutoARIMA(season_length=m).forecast(y=y, h=horizon, level=list(INTERVAL_LEVELS))
            else:
                model = MSTL(season_length=_seasons(y, freq), trend_forecaster=AutoARIMA(season_length=1))
                raw = model.forecast(y=y, h=horizon, level=list(INTERVAL_LEVELS))
        return _result(raw)


class MSTLForecaster(SeriesForecaster):
    """Seasonal-trend decomposition (MSTL); seasons repeat, the trend follows AutoETS."""

    name = "mstl"
    uses_features = False
    min_length = 3

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
        """See the module doc."""
        from statsforecast.models import MSTL, AutoETS

        seasons = _seasons(y, freq)
        with _quiet_statsforecast():
            if not seasons:  # nothing seasonal to remove: the trend model alone
                raw = AutoETS(season_length=1, model="ZZN").forecast(y=y, h=horizon, level=list(INTERVAL_LEVELS))
            else:
                raw = MSTL(season_length=seasons).forecast(y=y, h=horizon, level=list(INTERVAL_LEVELS))
        return _result(raw)


class MSTLComboForecaster(SeriesForecaster):
    """MSTL seasons with a *combination* of two trend forecasts (``mstl_combo``).

    The series is decomposed once by MSTL (statsforecast's ``mstl``: day and week for
    sub-daily data); each seasonal component repeats its last season. The seasonally
    adjusted series (trend + remainder) is forecast by two models of different kinds,
    AutoETS without season (the level adapts, as in ``mstl``) and an AR(2) with mean (the
    remainder's autocorrelation decays towards the mean), and the two are averaged with
    equal weights; the interval bounds are averaged likewise (averaging quantiles,
    Vincentisation). Equal weights are the robust default of forecast combination:
    estimated weights rarely beat them out of sample (the "forecast combination puzzle").

    References
    ----------
    Bandara, Hyndman & Bergmeir (2021), "MSTL: a seasonal-trend decomposition algorithm
    for time series with multiple seasonal patterns", arXiv:2107.13462; Bates & Granger
    (1969), "The combination of forecasts", Oper. Res. Q. 20(4); Smith & Wallis (2009),
    Oxford Bull. Econ. Stat. 71(3) (the combination puzzle); Lichtendahl, Grushka-Cockayne
    & Winkler (2013), Management Science 59(9) (averaging quantiles); guide §4.4.
    """

    name = "mstl_combo"
    uses_features = False
    min_length = 3

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
        """See the class doc."""
        from statsforecast.models import ARIMA, AutoETS
        from statsforecast.mstl import mstl

        seasons = _seasons(y, freq)
        levels = list(INTERVAL_LEVELS)
        with _quiet_statsforecast():
            if seasons:
                parts = mstl(np.asarray(y, dtype=float), seasons if len(seasons) > 1 else seasons[0])
                seasonal = [parts[c].to_numpy() for c in parts.columns if str(c).startswith("seasonal")]
                adjusted = np.asarray(y, dtype=float) - np.sum(seasonal, axis=0)
                repeat = np.zeros(horizon)
                for m, component in zip(seasons, seasonal, strict=True):
                    repeat += component[-m:][np.arange(horizon) % m]
            else:
                adjusted, repeat = np.asarray(y, dtype=float), np.zeros(horizon)
            paths = [_result(AutoETS(season_length=1, model="ZZN").forecast(y=adjusted, h=horizon, level=levels))]
            if adjusted.size >= 10:
                ar = ARIMA(order=(2, 0, 0), include_mean=True)
                paths.append(_result(ar.forecast(y=adjusted, h=horizon, level=levels)))
        return {key: np.mean([p[key] for p in paths], axis=0) + repeat for key in paths[0]}


def _ols_forecast(design: np.ndarray, y: np.ndarray, design_future: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS fit; return the forecast, its prediction standard errors and the residual dof.

    se_pred = s √(1 + x₀ᵀ(XᵀX)⁻¹x₀), s² = RSS / (n − p).
    """
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    n, p = design.shape
    dof = n - p
    fitted = design @ beta
    s2 = float(np.sum((y - fitted) ** 2) / dof) if dof > 0 else 0.0
    xtx_inv = np.linalg.pinv(design.T @ design)
    leverage = np.einsum("ij,jk,ik->i", design_future, xtx_inv, design_future)
    return design_future @ beta, np.sqrt(s2 * (1.0 + leverage)), dof


class RegressionForecaster(SeriesForecaster):
    """Linear regression on drivers (feature columns), or on time when none is given.

    ``value = a + Σ b_k driver_k`` with every driver's future values known; without
    drivers ``value = a + b t`` with t the step number. Prediction intervals:
    ``ŷ ± t_{n−p, (1+L)/2} × s √(1 + x₀ᵀ(XᵀX)⁻¹x₀)``.

    Parameters
    ----------
    drivers
        Feature columns to use (default: all given).
    trend
        Add the time step as a regressor even when drivers are given.
    """

    name = "regression"
    min_length = 3

    def __init__(self, drivers: list[str] | None = None, trend: bool = False) -> None:
        self.drivers = drivers
        self.trend = trend

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
        """See the class doc."""
        names = self.drivers if self.drivers is not None else (list(x.columns) if x is not None else [])
        steps = np.arange(y.size + horizon, dtype=float)
        blocks = [np.ones(y.size + horizon)]
        if self.trend or not names:
            blocks.append(steps)
        if names:
            if x is None or x_future is None or any(n not in x.columns for n in names):
                raise ValidationError(
                    "regression drivers", f"feature columns {names}", list(x.columns) if x is not None else []
                )
            both = pd.concat([x[names], x_future[names]], ignore_index=True).to_numpy(dtype=float)
            blocks.extend(both.T)
        design = np.column_stack(blocks)
        if y.size <= design.shape[1]:
            raise ValidationError("regression history", f"more than {design.shape[1]} observations", y.size)
        from scipy import stats

        mean, se, dof = _ols_forecast(design[: y.size], y, design[y.size :])
        out: dict[str, np.ndarray] = {"mean": mean}
        for level in INTERVAL_LEVELS:
            half = stats.t.ppf(0.5 + level / 200.0, dof) * se
            out[f"lo-{level}"] = mean - half
            out[f"hi-{level}"] = mean + half
        return out


class ElasticityForecaster(SeriesForecaster):
    """Energy-demand elasticity method (能源消费弹性系数法).

    Energy grows ``e`` times as fast as its driver (GDP, output value):
    ``E_{T+h} = E_T × (X_{T+h} / X_T)^e``. Without a given ``elasticity`` the coefficient
    is the least-squares slope through the origin of Δln E on Δln X over the history.
    Intervals: the growth residuals ε = Δln E − e Δln X add up over the steps ahead,
    ``ln E_{T+h} ± z σ_ε √h``.

    Parameters
    ----------
    driver
        Feature column of the driver (default: the only or the first feature).
    elasticity
        A given coefficient e [–] instead of the estimated one.
    """

    name = "elasticity"
    min_length = 3

    def __init__(self, driver: str | None = None, elasticity: float | None = None) -> None:
        self.driver = driver
        self.elasticity = elasticity

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
        """See the class doc."""
        if x is None or x_future is None or x.empty:
            raise ValidationError("elasticity driver", "a feature column such as gdp with future values", "none")
        name = self.driver or str(x.columns[0])
        if name not in x.columns:
            raise ValidationError("elasticity driver", f"one of {list(x.columns)}", name)
        driver = x[name].to_numpy(dtype=float)
        driver_future = x_future[name].to_numpy(dtype=float)
        if (y <= 0).any() or (driver <= 0).any() or (driver_future <= 0).any():
            raise ValidationError("elasticity", f"positive values and positive {name!r}", "zero or negative")
        from scipy import stats

        growth_y = np.diff(np.log(y))
        growth_x = np.diff(np.log(driver))
        e = self.elasticity
        if e is None:
            denominator = float(growth_x @ growth_x)
            if denominator == 0.0:
                raise ValidationError(f"elasticity driver {name!r}", "a driver that changes", "a constant")
            e = float(growth_x @ growth_y) / denominator
        sigma = float(np.sqrt(np.mean((growth_y - e * growth_x) ** 2)))
        log_mean = np.log(y[-1]) + e * (np.log(driver_future) - np.log(driver[-1]))
        steps = np.arange(1, horizon + 1, dtype=float)
        out: dict[str, np.ndarray] = {"mean": np.exp(log_mean)}
        for level in INTERVAL_LEVELS:
            half = stats.norm.ppf(0.5 + level / 200.0) * sigma * np.sqrt(steps)
            out[f"lo-{level}"] = np.exp(log_mean - half)
            out[f"hi-{level}"] = np.exp(log_mean + half)
        return out


def decompose(values: np.ndarray | pd.Series, freq: str) -> pd.DataFrame:
    """Trend, season and remainder of one series (``value = trend + season + remainder``).

    Uses MSTL (iterated STL) for the seasons the series can support (a day and a week
    for sub-daily data; a week for daily; a year for monthly data). With no usable
    season (yearly data, or a series shorter than two seasons) the trend is the least
    squares line and the season is zero.

    Returns
    -------
    pandas.DataFrame
        Columns ``value``, ``trend``, ``season`` (sum of the seasons), ``remainder`` and
        one ``season_<period>`` column per season.
    """
    y = np.asarray(values, dtype=float)
    normalise_freq(freq)
    seasons = _seasons(y, freq)
    if not seasons:
        t = np.arange(y.size, dtype=float)
        slope, intercept = np.polyfit(t, y, 1) if y.size > 1 else (0.0, float(y[0]))
        trend = intercept + slope * t
        return pd.DataFrame({"value": y, "trend": trend, "season": 0.0, "remainder": y - trend})
    from statsforecast.mstl import mstl

    with _quiet_statsforecast():
        parts = mstl(y, period=seasons if len(seasons) > 1 else seasons[0])
    season_cols = [c for c in parts.columns if c.startswith("seasonal")]
    out = pd.DataFrame({"value": y, "trend": parts["trend"].to_numpy()})
    out["season"] = parts[season_cols].sum(axis=1).to_numpy()
    out["remainder"] = parts["remainder"].to_numpy()
    for col, period in zip(sorted(season_cols), seasons, strict=False):
        out[f"season_{period}"] = parts[col].to_numpy()
    return out
