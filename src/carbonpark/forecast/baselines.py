"""Baselines: seasonal naive, always computed next to any other model.

The seasonal naive forecast repeats the last observed season: ŷ_{T+h} = y_{T+h−m(k+1)}
with k = ⌊(h−1)/m⌋. Its prediction intervals assume normal residuals with the standard
deviation σ of the in-sample seasonal differences y_t − y_{t−m}, widened with the number
of seasons ahead: σ_h = σ √(k+1).

References
----------
Hyndman & Athanasopoulos, *Forecasting: Principles and Practice* (3rd ed., 2021),
§5.2 (simple methods) and §5.5 table 5.2 (multi-step standard deviations).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from carbonpark.forecast.contract import INTERVAL_LEVELS, SeriesForecaster, normal_half_widths, season_length

__all__ = ["SeasonalNaive", "seasonal_naive_path"]


def seasonal_naive_path(y: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The seasonal naive point forecast of ``horizon`` steps with season ``period`` [steps].

    With fewer than ``period`` observations the period falls back to 1 (plain naive).
    """
    y = np.asarray(y, dtype=float)
    m = period if 1 <= period <= y.size else 1
    last_season = y[-m:]
    return np.asarray([last_season[h % m] for h in range(horizon)], dtype=float)


class SeasonalNaive(SeriesForecaster):
    """Seasonal naive forecaster (the baseline of every backtest).

    Parameters
    ----------
    period
        Season length [steps]; by default the main season of the frequency (a day for
        sub-daily data, a week for daily, a year for monthly, 1 for yearly).
    """

    name = "seasonal_naive"
    min_length = 1
    uses_features = False

    def __init__(self, period: int | None = None) -> None:
        self.period = period

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
        """See :class:`SeasonalNaive`."""
        m = self.period or season_length(freq)
        if m > y.size:
            m = 1
        mean = seasonal_naive_path(y, horizon, m)
        diffs = y[m:] - y[:-m] if y.size > m else np.zeros(1)
        sigma = float(np.sqrt(np.mean(diffs**2))) if diffs.size else 0.0
        seasons_ahead = np.arange(horizon) // m
        half = normal_half_widths(sigma * np.sqrt(seasons_ahead + 1.0))
        out: dict[str, np.ndarray] = {"mean": mean}
        for level in INTERVAL_LEVELS:
            out[f"lo-{level}"] = mean - half[level]
            out[f"hi-{level}"] = mean + half[level]
        return out
