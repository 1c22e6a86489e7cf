"""Forecasting over stored readings (issue 9 items 6–8): aggregation, the demo park, the --db CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark import forecast
from carbonpark.cli.main import app
from carbonpark.services import forecasting
from carbonpark.services.demo import build_demo
from carbonpark.store import session
from carbonpark.store.schema import Meter, Reading

H = 3_600_000
# 2025-01-01T00:00+08:00 as UTC epoch ms: 2024-12-31T16:00Z.
T0 = 1_735_660_800_000


def test_interval_readings_sum_to_hours_and_incomplete_hours_are_missing() -> None:
    # 15-minute readings: hour 0 complete (1+2+3+4 = 10), hour 1 has three readings only.
    ts = T0 + np.array([0, 15, 30, 45, 60, 75, 90]) * 60_000
    hourly = forecasting.hourly_from_readings(
        ts, np.array([1, 2, 3, 4, 5, 6, 7.0]), "interval", 15, None, "Asia/Shanghai"
    )
    assert hourly.index[0] == pd.Timestamp("2025-01-01 00:00")
    assert hourly.iloc[0] == 10.0
    assert np.isnan(hourly.iloc[1])


def test_cumulative_register_advances_with_rollover() -> None:
    # Register 99_990 → 99_998 → 5 (wrapped at 100_000) → 12: advances 8, 7, 7 [kWh];
    # the first hour has no earlier reading, so it is missing.
    ts = T0 + np.arange(4) * H
    hourly = forecasting.hourly_from_readings(
        ts, np.array([99_990, 99_998, 5, 12.0]), "cumulative", 60, 100_000.0, "Asia/Shanghai"
    )
    assert hourly.index[0] == pd.Timestamp("2025-01-01 01:00")
    assert hourly.tolist() == [8.0, 7.0, 7.0]


def test_gaps_are_filled_from_the_same_hour_a_week_earlier() -> None:
    index = pd.date_range("2025-01-01", periods=24 * 8, freq="h")
    values = pd.Series(np.arange(24 * 8, dtype=float), index=index)
    values.iloc[24 * 7 + 3] = np.nan  # hour 171; a week earlier is hour 3, value 3
    filled, count = forecasting.fill_gaps(values)
    assert count == 1
    assert filled.iloc[24 * 7 + 3] == 3.0


def test_elasticity_projection_by_hand() -> None:
    # E_t = E_T × Π(1 + g)^e: 100 × 1.1^1 = 110; low 100 × 1.1^0.5 = 104.881; high 100 × 1.1^1.5 = 115.369.
    bau = forecast.elasticity_projection({"electricity": 100.0}, 2025, 2027, {2025: 0.1}, (0.5, 1.0, 1.5))
    row = bau.loc[bau["year"] == 2026].iloc[0]
    assert row["amount"] == pytest.approx(110.0)
    assert row["lo"] == pytest.approx(104.8809, rel=1e-5)
    assert row["hi"] == pytest.approx(115.3690, rel=1e-5)
    assert bau.loc[bau["year"] == 2027, "amount"].iloc[0] == pytest.approx(121.0)


def test_demo_day_ahead_beats_seasonal_naive(db_url: str, tmp_path: Path) -> None:
    """The demo park's day-ahead forecasts beat seasonal naive on a week of daily origins."""
    build_demo(db_url, "small", seed=7, year=2025, out_dir=tmp_path)
    # The park intake is the sum of its stored readings over complete hours (15-min meter).
    stored = forecasting.series_frame(db_url, org="park")
    with session(db_url) as s:
        meter = s.scalars(select(Meter).where(Meter.code == "park-E-intake")).one()
        raw = sum(s.scalars(select(Reading.value).where(Reading.meter_id == meter.id)).all())
    assert stored.filled_hours[stored.frame["series_id"].iloc[0]] == 0
    assert stored.frame["value"].sum() == pytest.approx(raw, rel=1e-9)
    assert len(stored.frame) == 59 * 24  # January and February 2025, hourly
    mains = ["park-E-intake", "chem1-E-main", "metal1-E-main", "elec1-E-main", "tex1-E-main", "dc1-E-main"]
    runs, _, skipped = forecasting.forecast_park_meters(db_url, horizon=24, workers=1, meters=mains)
    assert not skipped
    for code, run in runs.items():
        bt = run.backtest
        assert bt is not None and bt["windows"] == 7
        assert bt["mae"] < bt["baseline_mae"], f"{code}: {bt['verdict']}"
        assert bt["mase"] < bt["baseline_mase"], code


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{path / 'demo.db'}"
    build_demo(url, "small", seed=7, year=2025, out_dir=path)
    return url


def test_cli_forecasts_a_stored_meter(demo_db: str) -> None:
    result = CliRunner().invoke(
        app, ["forecast", "--db", demo_db, "--meter", "chem1-E-main", "--horizon", "24", "--model", "ridge", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == "ridge"
    assert len(doc["forecast"]) == 24
    assert doc["forecast"][0]["ts"] == "2025-03-01T00:00:00+08:00"
    assert all(r["lo"] <= r["mean"] <= r["hi"] for r in doc["forecast"])
    assert doc["backtest"]["windows"] == 7 and "baseline_mase" in doc["backtest"]


def test_cli_stored_errors_name_what_was_expected(demo_db: str) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["forecast", "--db", demo_db, "--meter", "no-such-meter", "--horizon", "24"])
    assert missing.exit_code == 1
    assert "no-such-meter" in missing.output
    both = runner.invoke(
        app, ["forecast", "--db", demo_db, "--meter", "chem1-E-main", "--org", "park", "--horizon", "2"]
    )
    assert both.exit_code == 1 and "exactly one" in both.output
    nothing = runner.invoke(app, ["forecast", "--horizon", "2"])
    assert nothing.exit_code == 1 and "--db" in nothing.output
