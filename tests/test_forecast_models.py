"""Forecasters on synthetic series whose structure is known, with numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbonpark.errors import ValidationError
from carbonpark.forecast import (
    ARIMAForecaster,
    ElasticityForecaster,
    ETSForecaster,
    LightGBMForecaster,
    MSTLComboForecaster,
    RegressionForecaster,
    RidgeForecaster,
    SeasonalNaive,
    calendar_features,
    decompose,
    rolling_origin,
    working_days_in_month,
)
from carbonpark.forecast.short_term import anchored_lags


def _hourly(values: np.ndarray, start: str = "2025-03-01", **features: np.ndarray) -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq="h")
    return pd.DataFrame({"ts": ts, "value": values, **features})


def _sine(hours: np.ndarray) -> np.ndarray:
    return 100 + 50 * np.sin(2 * np.pi * hours / 24)


# --- baselines and simple structure -----------------------------------------------------------


def test_seasonal_naive_on_a_pure_cycle_is_exact() -> None:
    # period 4, pattern 1 2 3 4 repeated three times: the next six steps are 1 2 3 4 1 2
    y = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    frame = pd.DataFrame({"ts": pd.date_range("2025-01-01", periods=12, freq="D"), "value": y})
    out = SeasonalNaive(period=4).forecast(frame, 6, "D")
    assert out["mean"].tolist() == [1.0, 2.0, 3.0, 4.0, 1.0, 2.0]
    # the in-sample seasonal differences are all zero, so the intervals collapse onto the mean
    assert (out["hi-95"] - out["lo-95"]).abs().max() == 0.0


def test_seasonal_naive_interval_widens_with_seasons_ahead() -> None:
    # y = 0 1 0 3 with m = 2: seasonal differences 0, 2 -> sigma = sqrt((0 + 4) / 2) = sqrt(2);
    # steps 1-2 are one season ahead (sigma), steps 3-4 two (sigma * sqrt 2 = 2);
    # 80 % half width = z_0.9 * sigma with z_0.9 = 1.2815515655
    frame = pd.DataFrame({"ts": pd.date_range("2025-01-01", periods=4, freq="D"), "value": [0.0, 1.0, 0.0, 3.0]})
    out = SeasonalNaive(period=2).forecast(frame, 4, "D")
    half = (out["hi-80"] - out["mean"]).to_numpy()
    assert out["mean"].tolist() == [0.0, 3.0, 0.0, 3.0]
    assert half == pytest.approx([1.2815515655 * np.sqrt(2)] * 2 + [1.2815515655 * 2] * 2, rel=1e-9)


def test_regression_on_a_linear_trend_is_the_extrapolated_line() -> None:
    # y = 3 + 2 t for t = 0..9; the next five are t = 10..14 -> 23 25 27 29 31, with zero residuals
    years = pd.date_range("2010-01-01", periods=10, freq="YS")
    frame = pd.DataFrame({"ts": years, "value": 3 + 2 * np.arange(10.0)})
    out = RegressionForecaster().forecast(frame, 5, "YS")
    assert out["mean"].to_numpy() == pytest.approx([23, 25, 27, 29, 31], abs=1e-9)
    assert (out["hi-95"] - out["lo-95"]).to_numpy() == pytest.approx(np.zeros(5), abs=1e-6)
    assert out["ts"].iloc[-1] == pd.Timestamp("2024-01-01")


def test_regression_on_drivers_reads_the_future_drivers() -> None:
    # energy = 5 + 2 x output exactly; future output 20 and 30 -> 45 and 65
    frame = pd.DataFrame(
        {"ts": pd.date_range("2015-01-01", periods=6, freq="YS"), "output": [1.0, 2, 4, 7, 11, 16]}
    ).assign(value=lambda d: 5 + 2 * d["output"])
    future = pd.DataFrame({"ts": pd.date_range("2021-01-01", periods=2, freq="YS"), "output": [20.0, 30.0]})
    out = RegressionForecaster().forecast(frame, 2, "YS", future)
    assert out["mean"].to_numpy() == pytest.approx([45.0, 65.0], abs=1e-9)


def test_yearly_horizon_reaches_2060_and_ets_arima_follow_a_line() -> None:
    # 1000 + 50 k for 2010..2024 (k = 0..14); 2060 is k = 50 -> 3500
    frame = pd.DataFrame(
        {"ts": pd.date_range("2010-01-01", periods=15, freq="YS"), "value": 1000 + 50 * np.arange(15.0)}
    )
    for model in (ETSForecaster(), ARIMAForecaster(), RegressionForecaster()):
        out = model.forecast(frame, 36, "YS")
        assert out["ts"].iloc[-1] == pd.Timestamp("2060-01-01")
        assert out["mean"].iloc[-1] == pytest.approx(3500.0, rel=1e-3), model.name


def test_elasticity_method_by_hand() -> None:
    # GDP grows 10 %/a and energy grows with elasticity 0.5: E_t = 400 * 1.1^(0.5 t).
    # The estimated e is 0.5; with GDP 1.1^2 higher two years on, E = E_T * 1.1^(0.5*2) = E_T * 1.1.
    t = np.arange(8.0)
    gdp = 100 * 1.1**t
    frame = pd.DataFrame(
        {"ts": pd.date_range("2017-01-01", periods=8, freq="YS"), "gdp": gdp, "value": 400 * 1.1 ** (0.5 * t)}
    )
    future = pd.DataFrame(
        {"ts": pd.date_range("2025-01-01", periods=2, freq="YS"), "gdp": 100 * 1.1 ** np.array([8.0, 9.0])}
    )
    out = ElasticityForecaster().forecast(frame, 2, "YS", future)
    e_last = 400 * 1.1**3.5
    assert out["mean"].to_numpy() == pytest.approx([e_last * 1.1**0.5, e_last * 1.1], rel=1e-12)
    # a given coefficient overrides the estimate: e = 1 -> energy grows like GDP, 10 % a year
    fixed = ElasticityForecaster(elasticity=1.0).forecast(frame, 2, "YS", future)
    assert fixed["mean"].to_numpy() == pytest.approx([e_last * 1.1, e_last * 1.21], rel=1e-12)
    with pytest.raises(ValidationError, match="driver"):
        ElasticityForecaster().forecast(frame[["ts", "value"]], 2, "YS")


# --- short-term learners ------------------------------------------------------------------------


def test_anchored_lags_never_reach_into_the_horizon() -> None:
    # day-ahead hourly: 24 (yesterday), 48, 168 (a week); 36 h ahead: 36, 48, 72 and 168
    assert anchored_lags(24, "h") == [24, 48, 168]
    assert anchored_lags(36, "h") == [36, 48, 72, 168]
    assert min(anchored_lags(96, "15min")) >= 96


@pytest.fixture(scope="module")
def pure_daily_cycle() -> tuple[pd.DataFrame, np.ndarray]:
    hours = np.arange(24 * 21)
    return _hourly(_sine(hours)), _sine(np.arange(24 * 21, 24 * 22))


@pytest.mark.parametrize("model", [RidgeForecaster(), LightGBMForecaster()], ids=["ridge", "lightgbm"])
def test_learners_recover_a_pure_daily_cycle(model, pure_daily_cycle) -> None:
    frame, truth = pure_daily_cycle
    out = model.forecast(frame, 24, "h")
    # amplitude 50: an error of 0.5 (1 % of it) is far below what a model that misses the cycle
    # makes (a flat forecast at 100 has MAE 50 * 2/pi = 31.8)
    assert np.abs(out["mean"].to_numpy() - truth).mean() < 0.5


@pytest.fixture(scope="module")
def weather_driven_load() -> pd.DataFrame:
    # 35 days; each day's mean temperature is drawn anew, so yesterday's load does not tell today's
    # cooling load; load = 200 + 40 sin(daily) + 6 max(T - 24, 0) + noise(sd 2)
    rng = np.random.default_rng(3)
    days = 35
    t = np.arange(24 * days)
    temperature = np.repeat(rng.uniform(18, 34, days), 24) + 4 * np.sin(2 * np.pi * (t - 9) / 24)
    load = 200 + 40 * np.sin(2 * np.pi * (t - 6) / 24) + 6 * np.maximum(temperature - 24, 0) + rng.normal(0, 2, t.size)
    return _hourly(load, start="2025-06-02", temperature=temperature)


@pytest.mark.parametrize("name", ["ridge", "lightgbm"])
def test_known_future_temperature_makes_the_forecast_measurably_better(name, weather_driven_load) -> None:
    make = {"ridge": RidgeForecaster, "lightgbm": LightGBMForecaster}[name]
    with_weather = rolling_origin(weather_driven_load, make(), 24, "h", windows=3)
    without = rolling_origin(weather_driven_load[["ts", "value"]], make(), 24, "h", windows=3)
    # measured: ridge MAE ~3.6 with temperature vs ~16 without; LightGBM ~4.9 vs ~19 (5 windows);
    # require at least halving the error, and beating seasonal naive (MAE ~28) on the same windows
    assert with_weather.metrics["mae"] < 0.5 * without.metrics["mae"]
    assert with_weather.metrics["mae"] < 0.5 * with_weather.baseline["mae"]


# --- calendar -----------------------------------------------------------------------------------


def test_chinese_calendar_knows_holidays_and_makeup_working_days() -> None:
    # State Council General Office notice on the 2025 holidays (published 12 Nov 2024):
    # Spring Festival off 28 Jan - 4 Feb, Sunday 26 Jan and Saturday 8 Feb are worked (调休)
    days = pd.DatetimeIndex(["2025-01-26", "2025-01-27", "2025-01-29", "2025-02-04", "2025-02-08", "2025-02-09"])
    cal = calendar_features(days)
    assert cal["is_working_day"].tolist() == [1, 1, 0, 0, 1, 0]
    assert cal["is_makeup_workday"].tolist() == [1, 0, 0, 0, 1, 0]
    assert cal["is_holiday"].tolist() == [0, 0, 1, 1, 0, 0]
    # January 2025: 23 weekdays - 1 Jan - 28..31 Jan + Sunday 26 Jan = 19 working days
    assert working_days_in_month(pd.DatetimeIndex(["2025-01-01"])).tolist() == [19.0]


# --- decomposition ------------------------------------------------------------------------------


def test_decomposition_splits_trend_season_and_remainder() -> None:
    hours = np.arange(24 * 14)
    values = 50 + 0.1 * hours + 20 * np.sin(2 * np.pi * hours / 24)
    parts = decompose(values, "h")
    assert np.allclose(parts["trend"] + parts["season"] + parts["remainder"], values)
    middle = slice(48, -48)  # away from the ends where the smoothers are one-sided
    assert np.abs(parts["trend"].to_numpy()[middle] - (50 + 0.1 * hours[middle])).max() < 1.0
    assert np.abs(parts["season"].to_numpy()[middle] - 20 * np.sin(2 * np.pi * hours[middle] / 24)).max() < 1.0
    # yearly data have no season: the trend is the least-squares line (here the data themselves)
    yearly = decompose(np.array([10.0, 12, 14, 16]), "YS")
    assert yearly["trend"].tolist() == pytest.approx([10, 12, 14, 16])
    assert yearly["season"].eq(0).all()


def test_mstl_combo_recovers_the_cycles_and_the_level() -> None:
    # Three weeks of hourly load: 100 + 50 sin(2πt/24), a weekend dip of 20 and an AR(1)
    # disturbance (φ = 0.8, σ = 1, seed 3). The day forecast is a Monday after a Sunday,
    # so seasonal naive misses the weekend dip by 20 every hour; with both seasons
    # recovered the error is the disturbance's (day-ahead standard deviation at most
    # σ/√(1 − φ²) = 1.67) plus the seasons' estimation error from three weeks.
    rng = np.random.default_rng(3)
    t = np.arange(24 * 22)
    noise = np.zeros(t.size)
    for i in range(1, t.size):
        noise[i] = 0.8 * noise[i - 1] + rng.normal()
    weekend = ((t // 24) % 7 >= 5) * -20.0
    y = _sine(t) + weekend + noise
    history = _hourly(y[:-24], start="2025-03-03")  # a Monday
    out = MSTLComboForecaster().forecast(history, 24, "h")
    truth = (_sine(t) + weekend)[-24:]
    naive = SeasonalNaive().forecast(history, 24, "h")["mean"].to_numpy()
    assert np.abs(naive - truth).mean() > 18.0
    assert np.abs(out["mean"].to_numpy() - truth).mean() < 3.0
    assert (out["lo-80"] <= out["mean"]).all() and (out["mean"] <= out["hi-80"]).all()
