"""``lightgbm_quantile``: quantile boosters calibrated by CQR (Romano, Patterson & Candès 2019).

The heteroscedastic series: 42 days of hourly load 100 + 20 sin(2π(h − 6)/24) with Gaussian
noise of σ = 1 at night (20:00–07:59) and σ = 4 by day (08:00–19:59), seed 0, from Thursday
2025-03-06, so the forecast day (Thursday 2025-04-17) and the two calibration days before it
are all working days (no Chinese holiday or make-up day near them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import register
from carbonpark.forecast import FORECASTERS, check_forecast, get_forecaster, rolling_origin, validate_history
from carbonpark.forecast.selection import _BUILT_INS, candidates_for
from carbonpark.forecast.short_term import (
    QUANTILE_BOUNDS,
    LightGBMForecaster,
    LightGBMQuantileForecaster,
    cqr_bounds,
    cqr_margin,
)

DAYS = 42
START = "2025-03-06"


def _is_day(hours: np.ndarray) -> np.ndarray:
    return (hours >= 8) & (hours < 20)


def _cycle(hours: np.ndarray) -> np.ndarray:
    return 100 + 20 * np.sin(2 * np.pi * (hours - 6) / 24)


def _sigma(hours: np.ndarray) -> np.ndarray:
    return np.where(_is_day(hours), 4.0, 1.0)


def _heteroscedastic(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = np.arange(24 * DAYS) % 24
    value = _cycle(hours) + rng.normal(0, 1, hours.size) * _sigma(hours)
    return pd.DataFrame({"ts": pd.date_range(START, periods=hours.size, freq="h"), "value": value})


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return _heteroscedastic()


@pytest.fixture(scope="module")
def day_ahead(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "lightgbm_quantile": LightGBMQuantileForecaster().forecast(history, 24, "h"),
        "lightgbm": LightGBMForecaster().forecast(history, 24, "h"),
    }


# --- CQR by hand ----------------------------------------------------------------------------------


def test_quantile_levels_of_the_bounds() -> None:
    # the L % interval runs from tau = (100 - L)/200 to (100 + L)/200
    assert QUANTILE_BOUNDS == {"lo-80": 0.1, "lo-95": 0.025, "hi-80": 0.9, "hi-95": 0.975}


def test_cqr_margin_widens_by_the_score_quantile() -> None:
    # bounds [0, 10]; y = -3, 5, 12, 1 give scores max(lo - y, y - hi) = 3, -5, 2, -1.
    # n = 4: k = ceil(5 * 0.8) = 4 -> the largest, 3; for 95 % k = ceil(4.75) = 5 > n -> capped at 3.
    lo, hi, y = np.zeros(4), np.full(4, 10.0), np.array([-3.0, 5.0, 12.0, 1.0])
    assert cqr_margin(lo, hi, y, 80) == 3.0
    assert cqr_margin(lo, hi, y, 95) == 3.0


def test_cqr_margin_narrows_intervals_that_are_too_wide() -> None:
    # bounds [0, 10], y = 1 … 9 all well inside: scores -1 -2 -3 -4 -5 -4 -3 -2 -1, sorted
    # -5 -4 -4 -3 -3 -2 -2 -1 -1; n = 9, k = ceil(10 * 0.8) = 8 -> -1: the interval shrinks to [1, 9]
    lo, hi, y = np.zeros(9), np.full(9, 10.0), np.arange(1.0, 10.0)
    assert cqr_margin(lo, hi, y, 80) == -1.0
    raw = {"lo-80": np.array([2.0]), "hi-80": np.array([6.0]), "lo-95": np.array([1.0]), "hi-95": np.array([7.0])}
    calibration = {"lo-80": lo, "hi-80": hi, "lo-95": lo, "hi-95": hi}
    out = cqr_bounds(raw, calibration, y)
    # 95 %: k = ceil(9.5) = 10 > 9 -> the largest score, -1 as well
    assert {k: float(v[0]) for k, v in out.items()} == {"lo-80": 3.0, "hi-80": 5.0, "lo-95": 2.0, "hi-95": 6.0}


def test_cqr_margin_without_calibration_points_is_zero() -> None:
    assert cqr_margin(np.zeros(0), np.zeros(0), np.zeros(0), 95) == 0.0


# --- registry --------------------------------------------------------------------------------------


def test_registered_but_not_an_auto_candidate() -> None:
    # FORECASTERS feeds the parametrised contract test (tests/test_forecast_contract.py) and the CLI
    assert FORECASTERS["lightgbm_quantile"] is LightGBMQuantileForecaster
    assert _BUILT_INS["lightgbm_quantile"] is LightGBMQuantileForecaster
    assert isinstance(get_forecaster("lightgbm_quantile"), LightGBMQuantileForecaster)
    # 13 boosters per forecast against lightgbm's 3: auto does not backtest it
    for freq in ("15min", "30min", "h", "D", "MS", "YS"):
        assert "lightgbm_quantile" not in candidates_for(freq, has_features=True)


def test_deterministic_and_the_contract_holds(history: pd.DataFrame, day_ahead: dict[str, pd.DataFrame]) -> None:
    out = day_ahead["lightgbm_quantile"]
    check_forecast(out.assign(series_id="series"), validate_history(history, "h"), 24, "h")
    again = LightGBMQuantileForecaster().forecast(history, 24, "h")
    pd.testing.assert_frame_equal(out, again)  # one thread, deterministic: the same bits
    # the mean is the plain lightgbm's: the same L2 booster on the same design
    np.testing.assert_array_equal(out["mean"].to_numpy(), day_ahead["lightgbm"]["mean"].to_numpy())


# --- heteroscedastic noise -----------------------------------------------------------------------


def test_quantile_intervals_follow_the_noise_conformal_ones_do_not(day_ahead: dict[str, pd.DataFrame]) -> None:
    quantile, conformal = day_ahead["lightgbm_quantile"], day_ahead["lightgbm"]
    day = _is_day(quantile["ts"].dt.hour.to_numpy())
    width = (quantile["hi-80"] - quantile["lo-80"]).to_numpy()
    # True 80 % widths: 2 * 1.2816 * sigma = 2.56 at night, 10.25 by day (ratio 4). CQR adds one
    # margin to every hour (2 calibration days pooled), which pulls the ratio towards 1; measured
    # 5.63 at night and 10.92 by day (ratio 1.94; 1.6 to 2.4 over seeds 0-6).
    assert width[day].mean() > 1.5 * width[~day].mean()
    width_95 = (quantile["hi-95"] - quantile["lo-95"]).to_numpy()
    assert width_95[day].mean() > 1.3 * width_95[~day].mean()
    # split conformal: one half width for every hour (measured 9.654)
    conformal_width = (conformal["hi-80"] - conformal["lo-80"]).to_numpy()
    assert np.ptp(conformal_width) < 1e-9 * conformal_width.mean()


def test_coverage_on_fresh_days_is_near_nominal(day_ahead: dict[str, pd.DataFrame]) -> None:
    # 500 fresh draws of the forecast day from the same process (the noise is independent of
    # the past, so each is a valid outcome of that day): 12,000 points per level.
    out = day_ahead["lightgbm_quantile"]
    hours = out["ts"].dt.hour.to_numpy()
    draws = _cycle(hours) + np.random.default_rng(1000).normal(0, 1, (500, 24)) * _sigma(hours)
    coverage = {
        level: float(((draws >= out[f"lo-{level}"].to_numpy()) & (draws <= out[f"hi-{level}"].to_numpy())).mean())
        for level in (80, 95)
    }
    # Tolerance: given one calibration set of n = 48 points (2 days), the coverage of a
    # split-conformal interval is Beta(k, n + 1 - k) with k = ceil((n + 1) L/100) (Vovk 2012,
    # "Conditional validity of inductive conformal predictors", ACML; Romano et al. 2019 §3):
    # Beta(40, 9) for 80 % (mean 0.816, sd 0.055, 0.5-99.5 % range 0.654-0.931) and Beta(47, 2)
    # for 95 % (mean 0.959, sd 0.028, range 0.855-0.998). The draws add sd <= 0.004. The bands
    # below are those ranges rounded outwards. Measured 0.867 and 0.976.
    assert 0.65 <= coverage[80] <= 0.94
    assert 0.85 <= coverage[95] <= 1.0


def test_backtest_pinball_loss_is_lower_than_with_conformal_intervals(history: pd.DataFrame) -> None:
    # Expected pinball loss (mean of tau = 0.025, 0.1, 0.9, 0.975) with a perfect mean: 0.292 with
    # the true quantiles (sigma * phi(z_tau), averaged over sigma = 1, 4), 0.383 with the best
    # interval of one width for all hours (computed numerically from the mixture). Measured on
    # 3 rolling-origin days: 0.377 (lightgbm_quantile) against 0.463 (lightgbm), ratio 0.815 (0.78 to
    # 0.905 over seeds 0-6).
    quantile = rolling_origin(history, LightGBMQuantileForecaster(), 24, "h", windows=3)
    conformal = rolling_origin(history, LightGBMForecaster(), 24, "h", windows=3)
    assert quantile.metrics["mae"] == pytest.approx(conformal.metrics["mae"], rel=1e-12)  # the same mean
    assert quantile.metrics["pinball"] < 0.9 * conformal.metrics["pinball"]


# --- the file contract ---------------------------------------------------------------------------


def test_cli_forecast_with_lightgbm_quantile(tmp_path: Path, history: pd.DataFrame) -> None:
    path = tmp_path / "series.csv"
    history.assign(ts=history["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(path, index=False)
    app = new_app("t")
    register(app)
    args = ["forecast", str(path), "--horizon", "24", "--freq", "h", "--model", "lightgbm_quantile", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"] == "lightgbm_quantile"
    rows = doc["forecast"]
    assert len(rows) == 24
    assert rows[0]["ts"] == "2025-04-17T00:00:00+08:00"  # the day after 42 days from 6 March
    assert all(r["lo-95"] <= r["lo"] <= r["mean"] <= r["hi"] <= r["hi-95"] for r in rows)
    assert math.isfinite(doc["backtest"]["pinball"])
