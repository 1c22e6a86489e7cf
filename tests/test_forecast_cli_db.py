"""The forecast commands over stored readings (issue 9 items 6, 7): --features, the
--all-meters summary and progress total, forecast-decompose --db. The small demo park of
seed 7 (January and February 2025, hourly, park-local), built once for the module."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.services import forecasting

runner = CliRunner()
METER = "chem1-E-main"
#: The battery's charge and discharge meters: a timetable, seasonal naive exact (MASE undefined).
TIMETABLE_METERS = {"park-E-bess-chg", "park-E-bess-dis"}


@pytest.fixture(scope="module")
def stored(small_demo_url: str) -> pd.DataFrame:
    """The hourly series of METER as the forecast command builds it."""
    return forecasting.series_frame(
        small_demo_url, meter=METER, exclude_quality=forecasting.FORECAST_EXCLUDED_FLAGS
    ).frame


def _features(path: Path, history: pd.DataFrame, future: list[float], name: str = "oracle") -> Path:
    """A features file: the meter's own value as a feature in the history, then ``future``."""
    ts = pd.DatetimeIndex(history["ts"])
    after = pd.date_range(ts[-1] + pd.Timedelta(hours=1), periods=len(future), freq="h")
    frame = pd.DataFrame({"ts": ts.append(after), name: [*history["value"], *future]})
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame.to_csv(path, index=False)
    return path


def _forecast(small_demo_url: str, *extra: str) -> dict:
    args = ["forecast", "--db", small_demo_url, "--meter", METER, "--horizon", "24", "--model", "ridge", "--json"]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_features_reach_the_history_and_the_horizon(small_demo_url: str, stored: pd.DataFrame, tmp_path: Path) -> None:
    # The feature is the meter's own value: with it, ridge reproduces the history almost
    # exactly, so its backtest MAE falls far below the one without it (197 kWh measured);
    # the 24 future rows differ only in the feature (123 or 3000 kWh), so the two forecasts
    # differ by the learnt weight of the feature times 2877 kWh: the future rows are used.
    assert len(stored) == 59 * 24
    plain = _forecast(small_demo_url)
    low = _forecast(small_demo_url, "--features", str(_features(tmp_path / "low.csv", stored, [123.0] * 24)))
    high = _forecast(small_demo_url, "--features", str(_features(tmp_path / "high.csv", stored, [3000.0] * 24)))
    assert low["features"]["columns"] == ["oracle"]
    assert low["features"]["history_from"] == "2025-01-01T00:00:00+08:00"
    assert low["features"]["history_steps"] == 59 * 24
    assert low["forecast"][0]["ts"] == "2025-03-01T00:00:00+08:00" and len(low["forecast"]) == 24
    assert low["backtest"]["windows"] == 7
    assert low["backtest"]["mae"] < 0.1 * plain["backtest"]["mae"]
    assert low["backtest"]["mase"] < 0.1 and low["backtest"]["baseline_mase"] == plain["backtest"]["baseline_mase"]
    gap = np.mean([h["mean"] - lo["mean"] for h, lo in zip(high["forecast"], low["forecast"], strict=True)])
    assert gap > 0.5 * (3000.0 - 123.0)


def test_features_must_cover_the_horizon(small_demo_url: str, stored: pd.DataFrame, tmp_path: Path) -> None:
    path = _features(tmp_path / "short.csv", stored, [100.0] * 10)
    args = ["forecast", "--db", small_demo_url, "--meter", METER, "--horizon", "24", "--model", "ridge"]
    result = runner.invoke(app, [*args, "--features", str(path), "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "rows for the 24 forecast steps from 2025-03-01 00:00:00 to 2025-03-01 23:00:00" in result.stderr
    assert "14 of them missing, the first 2025-03-01 10:00:00" in result.stderr
    # A hole inside the history is named too.
    holed = pd.read_csv(_features(tmp_path / "holed.csv", stored, [100.0] * 24)).drop(index=30)
    holed.to_csv(tmp_path / "holed.csv", index=False)
    result = runner.invoke(app, [*args, "--features", str(tmp_path / "holed.csv")])
    assert result.exit_code == 1 and "none for 2025-01-02 06:00:00 (1 missing)" in result.stderr
    every = runner.invoke(
        app, ["forecast", "--db", small_demo_url, "--all-meters", "--horizon", "24", "--features", str(path)]
    )
    assert every.exit_code == 1 and "--meter or --org" in every.stderr


def test_a_later_features_file_shortens_the_history(small_demo_url: str, stored: pd.DataFrame, tmp_path: Path) -> None:
    # Features from 1 February on: the history used is February (28 days of 24 h).
    february = stored[stored["ts"] >= pd.Timestamp("2025-02-01")]
    doc = _forecast(small_demo_url, "--features", str(_features(tmp_path / "feb.csv", february, [3000.0] * 24)))
    assert doc["features"]["history_from"] == "2025-02-01T00:00:00+08:00"
    assert doc["features"]["history_steps"] == 28 * 24


def test_all_meters_counts_models_pools_the_backtest_and_has_a_total(small_demo_url: str) -> None:
    result = runner.invoke(app, ["forecast", "--db", small_demo_url, "--all-meters", "--horizon", "24", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "45/45" in result.stderr  # the progress bar knows the number of meters
    assert doc["model"] == forecasting.BULK_MODEL
    models = doc["models"]
    assert sum(doc["models_used"].values()) == len(models) == 45
    assert doc["models_used"] == {m: list(models.values()).count(m) for m in doc["models_used"]}
    assert doc["models_used"][forecasting.SCHEDULE_MODEL] == 2  # the battery's two meters
    assert doc["models_used"][forecasting.GENERATION_MODEL] == 1  # park-E-pv
    bt = doc["backtest"]
    # Every meter has 7 windows of 24 h, so pooling is the plain mean of the meters' figures.
    series = bt["series"]
    assert bt["points"] == 45 * 7 * 24
    assert bt["mae"] == pytest.approx(np.mean([r["mae"] for r in series.values()]))
    # The battery's MASE is undefined (seasonal naive exact), hence the pooled one is too;
    # over the other 43 meters the bulk models beat seasonal naive.
    assert bt["mase"] is None and set(bt["mase_undefined"]) == TIMETABLE_METERS
    defined = [r for sid, r in series.items() if sid not in TIMETABLE_METERS]
    assert bt["mase_over_defined"] == pytest.approx(np.mean([r["mase"] for r in defined]))
    assert bt["mase_over_defined"] < bt["baseline_mase_over_defined"]
    assert bt["verdict"].startswith("better than seasonal naive")


def test_decompose_a_stored_meter_and_an_intake(small_demo_url: str, stored: pd.DataFrame) -> None:
    result = runner.invoke(app, ["forecast-decompose", "--db", small_demo_url, "--meter", METER, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = doc["rows"]
    assert doc["freq"] == "h" and len(rows) == 59 * 24
    assert rows[0]["ts"] == "2025-01-01T00:00:00+08:00"
    assert [r["value"] for r in rows] == pytest.approx(stored["value"].tolist())
    assert all(abs(r["trend"] + r["season"] + r["remainder"] - r["value"]) < 1e-6 for r in rows)
    daily = runner.invoke(app, ["forecast-decompose", "--db", small_demo_url, "--org", "park", "--freq", "D", "--json"])
    assert daily.exit_code == 0, daily.output
    assert len(json.loads(daily.stdout)["rows"]) == 59
    both = runner.invoke(app, ["forecast-decompose", "--db", small_demo_url, "--meter", METER, "--org", "park"])
    assert both.exit_code == 1 and "exactly one" in both.output
