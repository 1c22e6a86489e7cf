"""Derived feature columns of the short-term learners (recency effect, hour-varying response)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbonpark.forecast.short_term import design_matrix, recency_features


def test_recency_features_by_hand_hourly_and_half_hourly() -> None:
    given = pd.DataFrame({"temperature": np.arange(30, dtype=float)})
    hourly = recency_features(given, "h")
    # Row 5 of 0, 1, 2, …: 1 h earlier 4, 3 h earlier 2, trailing 24 h mean (0+…+5)/6 = 2.5.
    assert hourly.loc[5, "x_temperature_lag_1h"] == 4.0
    assert hourly.loc[5, "x_temperature_lag_3h"] == 2.0
    assert hourly.loc[5, "x_temperature_mean_24h"] == pytest.approx(2.5)
    # Row 29: the mean of rows 6 … 29 = (6+29)/2 = 17.5.
    assert hourly.loc[29, "x_temperature_mean_24h"] == pytest.approx(17.5)
    half = recency_features(given, "30min")
    # Two steps per hour: 1 h back from row 5 is row 3, 3 h back is NaN (row -1).
    assert half.loc[5, "x_temperature_lag_1h"] == 3.0
    assert np.isnan(half.loc[5, "x_temperature_lag_3h"])
    daily = recency_features(given, "D")
    assert daily.loc[5, "x_temperature_lag_1"] == 4.0


def test_ridge_design_has_hour_varying_temperature_response_and_lightgbm_keeps_raw_columns() -> None:
    ts = pd.date_range("2025-07-01", periods=72, freq="h")
    temperature = pd.DataFrame({"temperature": np.full(72, 30.0)})
    y = np.arange(72, dtype=float)
    linear = design_matrix(y, ts, 24, "h", temperature, linear=True)
    # 06:00: the first daily harmonic sin(2π·6/24) = 1, so temperature × sin1 = 30.
    assert linear.loc[6, "x_day_sin1_temperature"] == pytest.approx(30.0)
    assert linear.loc[6, "x2_temperature"] == 900.0
    trees = design_matrix(y, ts, 24, "h", temperature, linear=False)
    assert [c for c in trees.columns if "temperature" in c] == ["x_temperature"]
