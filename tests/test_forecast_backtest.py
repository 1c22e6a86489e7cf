"""Backtest metrics and rolling-origin windows on tiny series worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbonpark.errors import ValidationError
from carbonpark.forecast import RegressionForecaster, interval_metrics, point_metrics, rolling_origin, select_model
from carbonpark.forecast.backtest import mase_scale


def test_point_metrics_by_hand() -> None:
    # actual 10 20, forecast 12 18: errors -2 +2
    # MAE 2; RMSE 2; MAPE (2/10 + 2/20)/2 = 15 %; sMAPE (4/22 + 4/38)/2 = 14.354066985645932 %
    # MASE with scale 4: 2/4 = 0.5
    m = point_metrics(np.array([10.0, 20.0]), np.array([12.0, 18.0]), 4.0)
    assert m["mae"] == pytest.approx(2.0)
    assert m["rmse"] == pytest.approx(2.0)
    assert m["mape"] == pytest.approx(15.0)
    assert m["smape"] == pytest.approx(100 * (4 / 22 + 4 / 38) / 2)
    assert m["mase"] == pytest.approx(0.5)


def test_mape_skips_zero_actuals_and_mase_is_undefined_on_zero_scale() -> None:
    m = point_metrics(np.array([0.0, 10.0]), np.array([1.0, 11.0]), 0.0)
    assert m["mape"] == pytest.approx(10.0)  # only the 10: |1|/10
    assert np.isnan(m["mase"])


def test_interval_metrics_by_hand() -> None:
    # actual 10 and 20; 80 % interval [9, 11] and [21, 25]; 95 % interval [8, 12] and [18, 26]
    # coverage_80 = 1/2 (20 is below 21), coverage_95 = 1
    # pinball: tau 0.1 lower-80: y-q = 1, -1 -> 0.1*1, 0.9*1 -> mean 0.5
    #          tau 0.9 upper-80: y-q = -1, -5 -> 0.1*1, 0.1*5 -> mean 0.3
    #          tau 0.025 lower-95: y-q = 2, 2 -> 0.05 mean 0.05
    #          tau 0.975 upper-95: y-q = -2, -6 -> 0.025*2, 0.025*6 -> mean 0.1
    #          pinball = (0.5 + 0.3 + 0.05 + 0.1) / 4 = 0.2375
    bounds = {
        "lo-80": np.array([9.0, 21.0]),
        "hi-80": np.array([11.0, 25.0]),
        "lo-95": np.array([8.0, 18.0]),
        "hi-95": np.array([12.0, 26.0]),
    }
    m = interval_metrics(np.array([10.0, 20.0]), bounds)
    assert m["coverage_80"] == 0.5
    assert m["coverage_95"] == 1.0
    assert m["pinball"] == pytest.approx(0.2375)


def test_mase_scale_is_the_in_sample_seasonal_difference() -> None:
    # 1 2 3 5 with m = 1: (1 + 1 + 2)/3 = 4/3; with m = 2: (|3-1| + |5-2|)/2 = 2.5
    assert mase_scale(np.array([1.0, 2, 3, 5]), 1) == pytest.approx(4 / 3)
    assert mase_scale(np.array([1.0, 2, 3, 5]), 2) == pytest.approx(2.5)


def test_rolling_origin_on_a_tiny_yearly_series_by_hand() -> None:
    # y = 1 2 3 5 8 13 (2019..2024), horizon 1, two windows, linear-trend regression vs naive.
    # Window 1 trains on 1 2 3 5 (t = 0..3): slope 6.5/5 = 1.3, intercept 2.75 - 1.95 = 0.8,
    #   forecast t = 4: 6.0, actual 8 -> error 2; naive 5 -> error 3; scale (1+1+2)/3 = 4/3.
    # Window 2 trains on 1 2 3 5 8: slope 17/10 = 1.7, intercept 3.8 - 3.4 = 0.4,
    #   forecast t = 5: 8.9, actual 13 -> error 4.1; naive 8 -> error 5; scale (1+1+2+3)/4 = 7/4.
    frame = pd.DataFrame({"ts": pd.date_range("2019-01-01", periods=6, freq="YS"), "value": [1.0, 2, 3, 5, 8, 13]})
    result = rolling_origin(frame, RegressionForecaster(), horizon=1, freq="YS", windows=2)
    assert result.windows == 2
    assert result.forecasts["mean"].to_numpy() == pytest.approx([6.0, 8.9])
    assert result.forecasts["baseline"].tolist() == [5.0, 8.0]
    m, b = result.metrics, result.baseline
    assert m["mae"] == pytest.approx((2 + 4.1) / 2)  # 3.05
    assert m["rmse"] == pytest.approx(np.sqrt((4 + 4.1**2) / 2))  # 3.2257
    assert m["mape"] == pytest.approx(100 * (2 / 8 + 4.1 / 13) / 2)  # 28.269 %
    assert m["mase"] == pytest.approx((2 / (4 / 3) + 4.1 / (7 / 4)) / 2)  # 1.921429
    assert b["mae"] == pytest.approx(4.0)
    assert b["mase"] == pytest.approx((3 / (4 / 3) + 5 / (7 / 4)) / 2)  # 2.553571
    report = result.report()
    assert report["skill_mae"] == pytest.approx(1 - 3.05 / 4)  # 0.2375: better than naive
    assert report["baseline_mase"] == pytest.approx(b["mase"])
    assert report["verdict"].startswith("better than seasonal naive")


def test_rolling_origin_refuses_a_history_with_no_room() -> None:
    frame = pd.DataFrame({"ts": pd.date_range("2019-01-01", periods=3, freq="YS"), "value": [1.0, 2, 3]})
    with pytest.raises(ValidationError, match="observations per series"):
        rolling_origin(frame, RegressionForecaster(), horizon=2, freq="YS", windows=2)


def test_selection_keeps_the_baseline_unless_a_model_beats_it() -> None:
    # a pure weekly cycle of daily data: seasonal naive is exact, so nothing can beat it and
    # a tie keeps the baseline (it comes first)
    y = np.tile([5.0, 6, 7, 8, 9, 3, 2], 8)
    frame = pd.DataFrame({"ts": pd.date_range("2025-01-06", periods=y.size, freq="D"), "value": y})
    selection = select_model(frame, 7, "D", candidates=["seasonal_naive", "regression"], windows=2)
    assert selection.chosen == "seasonal_naive"
    assert selection.criterion == "mae"  # MASE undefined: the in-sample seasonal difference is 0
    assert selection.backtests["seasonal_naive"].metrics["mae"] == 0.0
