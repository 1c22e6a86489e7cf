"""``auto``'s combination and tie rule, worked by hand, and the coverage of its intervals.

The hand-worked cases use forecasters that know the truth of a deterministic series and
add a chosen error, so every backtest number follows from the error pattern alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from carbonpark.errors import ValidationError
from carbonpark.forecast import SeasonalNaive, SeriesForecaster, check_forecast, select_model
from carbonpark.forecast.backtest import combine_backtests, rolling_origin, window_scores
from carbonpark.forecast.contract import Forecaster
from carbonpark.forecast.selection import MIN_TIE_WINDOWS, combination_name, forecast_selection

START = pd.Timestamp("2025-01-01")


def _truth(ts: pd.DatetimeIndex) -> np.ndarray:
    """y = 100 + 2 d on day d after 1 January 2025: weekly seasonal naive errs by 14 per day."""
    return 100.0 + 2.0 * ((ts - START) / pd.Timedelta(days=1)).to_numpy()


class Oracle(SeriesForecaster):
    """The truth plus ``error(day number, step)``; intervals ± 1 (not used by the rule)."""

    uses_features = False

    def __init__(self, name: str, error: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        self.name = name
        self.error = error

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
        day = ((future_ts - START) / pd.Timedelta(days=1)).to_numpy()
        mean = _truth(future_ts) + self.error(day, np.arange(1, horizon + 1))
        return {"mean": mean, "lo-80": mean - 1, "hi-80": mean + 1, "lo-95": mean - 2, "hi-95": mean + 2}


def _history(days: int = 40) -> pd.DataFrame:
    ts = pd.date_range(START, periods=days, freq="D")
    return pd.DataFrame({"series_id": "s", "ts": ts, "value": _truth(ts)})


def _factories(**errors: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, Callable[[], Forecaster]]:
    out: dict[str, Callable[[], Forecaster]] = {"seasonal_naive": SeasonalNaive}
    for name, error in errors.items():
        out[name] = lambda name=name, error=error: Oracle(name, error)
    return out


def test_combination_backtest_by_hand() -> None:
    # Horizon 2, 3 windows. a errs by 2h (h = step 1, 2), b is exact: the equal-weight
    # combination errs by h, so its MAE is (1 + 2)/2 = 1.5 and MASE 1.5/14 (scale: the
    # in-sample weekly difference 2 × 7 = 14). Cross-conformal bounds of a window come from
    # the 4 errors of the other two windows, {1, 2, 1, 2}: for 80 % the ⌈5 × 0.8⌉ = 4th
    # smallest, 2; for 95 % the ⌈4.75⌉ = 5th, capped at the 4th, 2. Every error (1 or 2) is
    # inside ± 2: coverage 1 at both levels.
    history = _history()
    a = rolling_origin(history, Oracle("a", lambda d, h: 2.0 * h), 2, "D", windows=3)
    b = rolling_origin(history, Oracle("b", lambda d, h: 0.0 * h), 2, "D", windows=3)
    combined = combine_backtests({"a": a, "b": b}, {"a": 0.5, "b": 0.5}, "0.5*a + 0.5*b")
    assert combined.metrics["mae"] == pytest.approx(1.5)
    assert combined.metrics["mase"] == pytest.approx(1.5 / 14)
    assert a.metrics["mae"] == pytest.approx(3.0)
    frame = combined.forecasts
    assert (frame["hi-80"] - frame["mean"]).to_numpy() == pytest.approx(np.full(6, 2.0))
    assert (frame["hi-95"] - frame["mean"]).to_numpy() == pytest.approx(np.full(6, 2.0))
    assert combined.metrics["coverage_80"] == 1.0 and combined.metrics["coverage_95"] == 1.0
    assert window_scores(combined).tolist() == pytest.approx([1.5 / 14] * 3)
    # the baseline is seasonal naive on the same windows: both steps repeat the value a
    # week back, which is 2 × 7 = 14 lower → MAE 14
    assert combined.baseline["mae"] == pytest.approx(14.0)


def test_combination_weights_must_be_convex() -> None:
    history = _history()
    a = rolling_origin(history, Oracle("a", lambda d, h: 0.0 * h), 2, "D", windows=3)
    with pytest.raises(ValidationError, match="adding up to 1"):
        combine_backtests({"a": a}, {"a": 0.7}, "0.7*a")
    with pytest.raises(ValidationError, match="adding up to 1"):
        combine_backtests({"a": a}, {"a": 0.5, "missing": 0.5}, "x")


def test_tie_rule_takes_the_combination_when_no_model_wins_clearly() -> None:
    # a errs by +1 on even days and −1 on odd ones, b the other way round: each has MAE 1
    # in every window, their average is exact (MAE 0). The best single model (a, listed
    # first) is worse than the combination in every window, so the combination is chosen.
    parity = lambda d: np.where(d % 2 == 0, 1.0, -1.0)  # noqa: E731
    factories = _factories(a=lambda d, h: parity(d), b=lambda d, h: -parity(d))
    history = _history()
    selection = select_model(history, 2, "D", ["seasonal_naive", "a", "b"], windows=4, factories=factories)
    name = combination_name({"a": 0.5, "b": 0.5})
    assert name == "0.5*a + 0.5*b"
    assert selection.chosen == name and selection.weights == {"a": 0.5, "b": 0.5}
    assert selection.backtests[name].metrics["mae"] == pytest.approx(0.0, abs=1e-9)
    assert selection.rule.startswith("combination of the two best")
    row = next(r for r in selection.table() if r["model"] == name)
    assert row["chosen"] and row["members"] == {"a": 0.5, "b": 0.5}
    # the forecast of the combination: the members' average, here the truth
    out = forecast_selection(selection, history, 2, "D", factories=factories)
    check_forecast(out, history, 2, "D")
    assert out["mean"].to_numpy() == pytest.approx(_truth(pd.DatetimeIndex(out["ts"])))


def test_tie_rule_keeps_a_model_that_wins_by_more_than_one_standard_error() -> None:
    # a is exact, b errs by +3: the combination errs by 1.5, MASE 1.5/14 in every window;
    # a's MASE is 0. The per-window difference is −0.107 with standard error 0: a wins.
    factories = _factories(a=lambda d, h: 0.0 * h, b=lambda d, h: 3.0 + 0.0 * h)
    selection = select_model(_history(), 2, "D", ["seasonal_naive", "a", "b"], windows=4, factories=factories)
    assert selection.chosen == "a" and selection.weights == {"a": 1.0}
    assert selection.rule.startswith("a: beats the combination by more than one standard error")
    assert selection.combination == {"a": 0.5, "b": 0.5}
    assert selection.backtests["0.5*a + 0.5*b"].metrics["mase"] == pytest.approx(1.5 / 14)


def test_tie_rule_needs_enough_windows_and_a_model_better_than_the_baseline() -> None:
    parity = lambda d: np.where(d % 2 == 0, 1.0, -1.0)  # noqa: E731
    factories = _factories(a=lambda d, h: parity(d), b=lambda d, h: -parity(d))
    few = select_model(
        _history(), 2, "D", ["seasonal_naive", "a", "b"], windows=MIN_TIE_WINDOWS - 1, factories=factories
    )
    assert few.chosen == "a" and "no combination (2 windows" in few.rule
    # b and c err by 30 and 40 per day: worse than seasonal naive (14 and 28), which stays.
    bad = _factories(b=lambda d, h: 30.0 + 0 * h, c=lambda d, h: 40.0 + 0 * h)
    kept = select_model(_history(), 2, "D", ["seasonal_naive", "b", "c"], windows=4, factories=bad)
    assert kept.chosen == "seasonal_naive" and "no combination" in kept.rule
    # without the tie rule the single lowest score is kept
    single = select_model(
        _history(), 2, "D", ["seasonal_naive", "a", "b"], windows=4, factories=factories, combine=False
    )
    assert single.chosen == "a" and not single.combination


def test_combination_intervals_cover_as_stated_on_noise() -> None:
    # Hourly y = 100 + 20 sin(2π t/24) + ε, ε iid N(0, 5²) (seed 11). The members are the
    # seasonal naive of two days and of one week: errors ε_t − ε_{t−48} and ε_t − ε_{t−168},
    # variance 50 each; their average errs by ε_t − (ε_{t−48} + ε_{t−168})/2, variance 37.5.
    # Split-conformal bounds from the 7 × 24 backtest errors cover at least L % of new
    # values on average (Lei et al. 2018, Theorem 2.1): over 30 day-ahead origins (720
    # values) the combination's 80 % and 95 % intervals must cover 80 % and 95 % up to
    # sampling error (binomial sd 1.5 and 0.8 points on 720 independent values; the
    # tolerance is four times that, for the bounds shared by the 24 values of an origin).
    rng = np.random.default_rng(11)
    hours = 24 * 7 * 12
    t = np.arange(hours)
    y = 100 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0.0, 5.0, hours)
    frame = pd.DataFrame({"series_id": "m", "ts": pd.date_range("2025-01-06", periods=hours, freq="h"), "value": y})
    factories: dict[str, Callable[[], Forecaster]] = {
        "two_days": lambda: SeasonalNaive(period=48),
        "week": lambda: SeasonalNaive(period=168),
    }
    inside = {80: 0, 95: 0}
    chosen = 0
    errors = []
    origins = 30
    for k in range(origins, 0, -1):
        cut = hours - 24 * k
        train, test = frame.iloc[:cut], y[cut : cut + 24]
        selection = select_model(train, 24, "h", list(factories), windows=7, factories=factories)
        chosen += len(selection.weights) == 2
        # the intervals under test are the combination's, whatever the tie rule chose here
        forced = replace(selection, chosen=combination_name(selection.combination), weights=selection.combination)
        out = forecast_selection(forced, train, 24, "h", factories=factories)
        check_forecast(out, train, 24, "h")
        errors.append(test - out["mean"].to_numpy())
        for level in inside:
            inside[level] += int(((test >= out[f"lo-{level}"]) & (test <= out[f"hi-{level}"])).sum())
    # the combination's error sd is about √37.5 = 6.1 (each member's √50 = 7.1); measured 6.17
    assert np.std(np.concatenate(errors)) == pytest.approx(np.sqrt(37.5), rel=0.1)
    assert chosen >= origins // 2  # measured: the tie rule combines at all 30 origins
    # measured: 80 % interval 0.799, 95 % interval 0.949
    assert inside[80] / (24 * origins) == pytest.approx(0.80, abs=0.06)
    assert inside[95] / (24 * origins) == pytest.approx(0.95, abs=0.035)
