"""Every registered forecaster on the same small frame follows the one contract (DESIGN.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbonpark.errors import ValidationError
from carbonpark.forecast import (
    FORECASTERS,
    OUTPUT_COLUMNS,
    SeasonalNaive,
    check_forecast,
    get_forecaster,
    split_history_future,
    validate_future,
    validate_history,
)

HORIZON = 12
STEPS = 24 * 10  # ten days of hourly data: room for the weekly lag (168 h) plus training rows


def _frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hourly load with a daily cycle, noise and two features; the future rows carry the features."""
    rng = np.random.default_rng(7)
    n = STEPS + HORIZON
    t = np.arange(n)
    ts = pd.date_range("2025-05-01", periods=n, freq="h")
    output = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n) + 0.05 * t  # positive driver
    temperature = 20 + 6 * np.sin(2 * np.pi * (t - 6) / 24)
    value = 100 + 0.8 * output + 1.5 * temperature + rng.normal(0, 1, n)
    full = pd.DataFrame(
        {"series_id": "meter-1", "ts": ts, "value": value, "output": output, "temperature": temperature}
    )
    history = full.iloc[:STEPS].reset_index(drop=True)
    future = full.iloc[STEPS:].drop(columns=["value"]).reset_index(drop=True)
    return history, future


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _frame()


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_every_forecaster_follows_the_contract(name: str, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, future = frames
    out = get_forecaster(name).forecast(history, HORIZON, "h", future)
    # columns, horizon rows at the next timestamps, no NaN, lo-95 <= lo-80 <= mean <= hi-80 <= hi-95
    check_forecast(out, validate_history(history, "h"), HORIZON, "h")
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert len(out) == HORIZON
    assert out["ts"].iloc[0] == pd.Timestamp("2025-05-11 00:00")  # the step after 2025-05-10 23:00
    # every model stays in the range of the data (100 + 0.8·~50 + 1.5·~20 ≈ 170, swings ±20)
    assert out["mean"].between(100, 260).all()


def test_check_forecast_rejects_a_broken_forecast(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, _ = frames
    hist = validate_history(history[["series_id", "ts", "value"]], "h")
    good = SeasonalNaive().forecast(hist, HORIZON, "h")
    check_forecast(good, hist, HORIZON, "h")
    crossed = good.assign(**{"lo-80": good["mean"] + 1})
    with pytest.raises(AssertionError, match="lo-80 above mean"):
        check_forecast(crossed, hist, HORIZON, "h")
    with pytest.raises(AssertionError, match="rows"):
        check_forecast(good.iloc[:-1], hist, HORIZON, "h")
    with pytest.raises(AssertionError, match="NaN"):
        check_forecast(good.assign(mean=np.nan), hist, HORIZON, "h")


def test_future_rows_must_match_the_horizon(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, future = frames
    hist = validate_history(history, "h")
    with pytest.raises(ValidationError, match=r"exactly the horizon, 12 rows.*got 11"):
        validate_future(future.iloc[:-1], hist, HORIZON, "h")
    with pytest.raises(ValidationError, match="known future values"):
        validate_future(None, hist, HORIZON, "h")
    assert validate_future(future, hist, HORIZON, "h") is not None


def test_history_must_be_regular_and_complete() -> None:
    ts = pd.date_range("2025-01-01", periods=5, freq="h")
    gap = pd.DataFrame({"ts": ts.delete(2), "value": [1.0, 2, 3, 4]})
    with pytest.raises(ValidationError, match="regular steps of h"):
        validate_history(gap, "h")
    with pytest.raises(ValidationError, match="empty at"):
        validate_history(pd.DataFrame({"ts": ts, "value": [1, 2, None, 4, 5]}), "h")
    with pytest.raises(ValidationError, match="freq"):
        validate_history(pd.DataFrame({"ts": ts, "value": range(5)}), "fortnightly")


def test_rows_with_empty_value_are_the_future() -> None:
    frame = pd.DataFrame(
        {"ts": pd.date_range("2025-01-01", periods=4, freq="D"), "value": [1.0, 2.0, None, None], "t": [5.0, 6, 7, 8]}
    )
    history, future = split_history_future(frame)
    assert history["value"].tolist() == [1.0, 2.0]
    assert future is not None and future["t"].tolist() == [7.0, 8.0]
    assert "value" not in future.columns


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="seasonal_naive"):
        get_forecaster("crystal_ball")


def test_validation_fast_path_sorts_and_still_names_the_fault() -> None:
    """Rows out of order are sorted (two series interleaved, given newest first); a
    duplicate, a gap in the second series and a too-short series are still named."""
    ts = pd.date_range("2025-01-01", periods=4, freq="h")
    rows = pd.DataFrame({"series_id": ["b", "a"] * 4, "ts": ts.repeat(2)[::-1], "value": range(8)})
    out = validate_history(rows, "h")
    assert out["series_id"].tolist() == ["a"] * 4 + ["b"] * 4
    assert list(out["ts"].iloc[:4]) == list(ts)
    assert list(out.index) == list(range(8))
    dup = pd.DataFrame({"ts": [ts[0], ts[1], ts[1]], "value": [1.0, 2, 3]})
    with pytest.raises(ValidationError, match="one row per timestamp"):
        validate_history(dup, "h")
    gap = pd.DataFrame({"series_id": ["a"] * 3 + ["b"] * 3, "ts": [*ts[:3], ts[0], ts[1], ts[3]], "value": 1.0})
    with pytest.raises(ValidationError, match=r"series 'b' ts.*next expected 2025-01-01 02:00"):
        validate_history(gap, "h")
    short = pd.DataFrame({"series_id": ["a"] * 3 + ["b"] * 2, "ts": [*ts[:3], *ts[:2]], "value": 1.0})
    with pytest.raises(ValidationError, match=r"series 'b'.*at least 3"):
        validate_history(short, "h", min_length=3)
