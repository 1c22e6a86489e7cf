"""The forecast commands: the file contract of issue 9, errors, the peak scenarios."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import register
from carbonpark.forecast import rolling_origin
from carbonpark.forecast.backtest import pool_backtests
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.selection import combination_name

app = new_app("t")
register(app)
runner = CliRunner()


def _sine_csv(tmp_path: Path) -> Path:
    # exactly the series of the outside contract check: 21 days of 100 + 50 sin(2 pi h / 24)
    rows = ["ts,value"] + [
        f"2025-03-{1 + h // 24:02d}T{h % 24:02d}:00:00,{100 + 50 * math.sin(2 * math.pi * h / 24):.6f}"
        for h in range(24 * 21)
    ]
    path = tmp_path / "series.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_day_ahead_of_a_pure_daily_cycle(tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast", str(_sine_csv(tmp_path)), "--horizon", "24", "--freq", "h", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"model", "forecast", "backtest"} <= set(doc)
    rows = doc["forecast"]
    assert len(rows) == 24
    # naive input is park-local: the day after 21 March starts at 00:00 +08:00
    assert rows[0]["ts"] == "2025-03-22T00:00:00+08:00"
    assert rows[-1]["ts"] == "2025-03-22T23:00:00+08:00"
    truth = np.array([100 + 50 * math.sin(2 * math.pi * h / 24) for h in range(24)])
    mean = np.array([r["mean"] for r in rows])
    # The CSV rounds to 6 decimals, so the series repeats exactly; the error a model makes on it is
    # rounding (5e-7) plus its own bias (ridge's shrinkage ~3e-4 measured). 0.01 is 0.02 % of the
    # amplitude and 300 times below what a model that misses the cycle errs (MAE 31.8 for a flat line).
    assert np.abs(mean - truth).mean() < 0.01
    assert all(r["lo"] <= r["mean"] <= r["hi"] and r["lo-95"] <= r["lo"] for r in rows)
    assert {"mase", "mape", "baseline_mase", "mae", "coverage_80", "skill_mae"} <= set(doc["backtest"])
    assert doc["backtest"]["windows"] == 3
    assert [c["model"] for c in doc["candidates"]] == ["seasonal_naive", "ridge", "lightgbm", "mstl", "mstl_combo"]


def test_auto_reports_what_it_chose_and_the_members_of_a_combination(tmp_path: Path) -> None:
    # 28 days of a daily cycle with noise (seed 3): whatever auto chooses, the JSON names it,
    # gives its members and weights (one member with weight 1 for a single model) and the
    # rule, and the candidates table carries the combination the tie rule formed.
    rng = np.random.default_rng(3)
    hours = 24 * 28
    values = [100 + 30 * math.sin(2 * math.pi * h / 24) + rng.normal(0, 4) for h in range(hours)]
    rows = ["ts,value"] + [
        f"2025-03-{1 + h // 24:02d}T{h % 24:02d}:00:00,{v:.4f}" for h, v in zip(range(hours), values, strict=True)
    ]
    path = tmp_path / "noisy.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast", str(path), "--horizon", "24", "--freq", "h", "--windows", "3", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    members = doc["backtest"]["members"]
    assert sum(members.values()) == pytest.approx(1.0)
    assert doc["model"] == (next(iter(members)) if len(members) == 1 else combination_name(members))
    assert doc["backtest"]["selected_by"] and doc["backtest"]["baseline_model"] == "seasonal_naive"
    formed = [c for c in doc["candidates"] if "members" in c]
    assert len(formed) == 1 and len(formed[0]["members"]) == 2
    assert [c["model"] for c in doc["candidates"] if c["chosen"]] == [doc["model"]]
    assert all(r["lo-95"] <= r["lo"] <= r["mean"] <= r["hi"] <= r["hi-95"] for r in doc["forecast"])


def test_named_model_and_readable_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast", str(_sine_csv(tmp_path)), "--horizon", "6", "--model", "ridge"])
    assert result.exit_code == 0, result.stderr
    assert "Forecast (ridge, 6 steps of h)" in result.stdout  # frequency inferred from ts
    assert "seasonal naive" in result.stdout


def test_future_feature_rows_must_equal_the_horizon(tmp_path: Path) -> None:
    # nine days of hourly history with temperature, then 10 future rows (empty value): horizon is 24
    stamps = [f"2025-07-{1 + h // 24:02d}T{h % 24:02d}:00:00" for h in range(24 * 9 + 10)]
    lines = ["ts,value,temperature"]
    lines += [f"{stamps[h]},{h},{20 + h % 5}" for h in range(24 * 9)]
    lines += [f"{stamps[h]},,{20 + h % 5}" for h in range(24 * 9, 24 * 9 + 10)]
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast", str(path), "--horizon", "24", "--freq", "h", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "exactly the horizon, 24 rows" in result.stderr
    assert "got 10" in result.stderr


def test_a_bad_number_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ts,value\n2025-01-01T00:00:00,1\n2025-01-01T01:00:00,lots\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast", str(path), "--horizon", "2", "--freq", "h", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "line 3, column value" in result.stderr


def test_timestamps_with_an_offset_are_read_as_such(tmp_path: Path) -> None:
    # 16:00Z is 00:00 the next day in Shanghai; two days of a 24-step cycle given in UTC
    lines = ["ts,value"] + [f"2025-01-0{1 + (h + 16) // 24}T{(h + 16) % 24:02d}:00:00Z,{h % 24}" for h in range(48)]
    path = tmp_path / "utc.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["forecast", str(path), "--horizon", "3", "--freq", "h", "--model", "seasonal_naive", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # last reading 2025-01-03T15:00Z = 23:00 +08:00, so the forecast starts 2025-01-04T00:00+08:00
    assert doc["forecast"][0]["ts"] == "2025-01-04T00:00:00+08:00"
    assert [r["mean"] for r in doc["forecast"]] == [0.0, 1.0, 2.0]


@pytest.fixture
def peak_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    energy = tmp_path / "energy.csv"
    lines = ["year,carrier,amount"]
    for year in range(2020, 2025):
        lines += [f"{year},coal,100", f"{year},electricity,{1000 + 400 * (year - 2020)}"]
    energy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    factors = tmp_path / "factors.csv"
    factors.write_text("carrier,tco2_per_unit,year\ncoal,2.0,\nelectricity,0.5,2024\nelectricity,0.2,2030\n")
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: retrofit\n"
        "    retrofits: [{carrier: coal, from_year: 2026, share: 0.5}]\n"
        "    removals: [{from_year: 2030, tco2: 1200}]\n",
        encoding="utf-8",
    )
    return energy, factors, scenarios


def test_forecast_peak_by_hand(peak_files: tuple[Path, Path, Path]) -> None:
    # Regression extrapolates coal 100 and electricity 1000 + 400 (y - 2020) exactly.
    # Grid factor 0.5 up to 2024, then -0.05 a year to 0.2 in 2030.
    # BAU: 2024 200 + 2600*0.5 = 1500; 2025 200 + 3000*0.45 = 1550; 2026 200 + 3400*0.40 = 1560;
    #      2027 200 + 3800*0.35 = 1530; ... 2030 200 + 5000*0.2 = 1200 -> peak 2026 at 1560 tCO2.
    # Retrofit (coal -50 % from 2026): 2025 1550, 2026 1460 -> peak 2025 at 1550;
    #      2030 100 + 1000 = 1100 gross, 1200 removed -> net -100: neutral in 2030, no gap.
    energy, factors, scenarios = peak_files
    args = ["forecast-peak", str(energy), "--factors", str(factors), "--scenarios", str(scenarios)]
    result = runner.invoke(app, [*args, "--until", "2030", "--target-year", "2030", "--model", "regression", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    bau, retrofit = doc["scenarios"]
    assert bau["name"] == "business_as_usual"
    assert (bau["peak_year"], bau["peak_tco2"]) == (2026, pytest.approx(1560.0))
    assert bau["gap_at_target_tco2"] == pytest.approx(1200.0)
    assert (retrofit["peak_year"], retrofit["peak_tco2"]) == (2025, pytest.approx(1550.0))
    assert retrofit["neutral_year"] == 2030
    assert retrofit["gap_at_target_tco2"] == 0.0
    table = runner.invoke(app, [*args, "--until", "2030", "--target-year", "2030", "--model", "regression"])
    assert table.exit_code == 0 and "Emission peak by scenario" in table.stdout and "retrofit" in table.stdout


def test_forecast_peak_reports_a_missing_factor(peak_files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    energy, _, _ = peak_files
    factors = tmp_path / "only_coal.csv"
    factors.write_text("carrier,tco2_per_unit\ncoal,2.0\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast-peak", str(energy), "--factors", str(factors), "--model", "regression"])
    assert result.exit_code == 1
    assert "electricity" in result.stderr and "known: ['coal']" in result.stderr


def test_decompose_and_models_commands(tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast-decompose", str(_sine_csv(tmp_path)), "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert len(rows) == 24 * 21
    assert all(abs(r["trend"] + r["season"] + r["remainder"] - r["value"]) < 1e-9 for r in rows)
    models = json.loads(runner.invoke(app, ["forecast-models", "--json"]).stdout)["models"]
    assert {"auto", "seasonal_naive", "lightgbm", "ridge", "ets", "arima"} <= {m["name"] for m in models}


@pytest.mark.skipif(shutil.which("carbonpark") is None, reason="the carbonpark command is not installed")
def test_the_installed_command(tmp_path: Path) -> None:
    series = _sine_csv(tmp_path)
    proc = subprocess.run(
        [
            "carbonpark",
            "forecast",
            str(series),
            "--horizon",
            "24",
            "--freq",
            "h",
            "--model",
            "seasonal_naive",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model"] == "seasonal_naive"
    assert len(doc["forecast"]) == 24
    assert doc["forecast"][6]["mean"] == pytest.approx(150.0)  # h = 6: 100 + 50 sin(pi/2)


def _two_step_series(tmp_path: Path) -> Path:
    # Two series of three days, constant within each day:
    # A: 100, 102, 104 -> seasonal naive errs 2 on day 3, in-sample scale |102 - 100| = 2;
    # B:  50,  51,  54 -> errs 3, scale |51 - 50| = 1.
    rows = ["series_id,ts,value"]
    for sid, days in (("A", (100, 102, 104)), ("B", (50, 51, 54))):
        rows += [f"{sid},2025-03-{1 + d:02d}T{h:02d}:00:00,{v}" for d, v in enumerate(days) for h in range(24)]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_several_series_pool_their_backtests_by_hand(tmp_path: Path) -> None:
    # One window of 24 h per series (48 points in all), seasonal naive, so model = baseline.
    # By hand: MAE_A = 2, MASE_A = 2/2 = 1, MAPE_A = 100 * 2/104 = 1.92308 %;
    #          MAE_B = 3, MASE_B = 3/1 = 3, MAPE_B = 100 * 3/54 = 5.55556 %.
    # Pooled over the 48 points: MAE = (2 + 3)/2 = 2.5, MASE = (1 + 3)/2 = 2,
    # RMSE = sqrt((4 + 9)/2) = 2.54951, MAPE = (1.92308 + 5.55556)/2 = 3.73932 %.
    path = _two_step_series(tmp_path)
    args = ["forecast", str(path), "--horizon", "24", "--freq", "h", "--model", "seasonal_naive"]
    result = runner.invoke(app, [*args, "--windows", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    bt = doc["backtest"]
    assert bt["series"]["A"]["mase"] == pytest.approx(1.0) and bt["series"]["B"]["mase"] == pytest.approx(3.0)
    assert bt["mae"] == pytest.approx(2.5)
    assert bt["mase"] == pytest.approx(2.0) and bt["baseline_mase"] == pytest.approx(2.0)
    assert bt["rmse"] == pytest.approx(math.sqrt(6.5))
    assert bt["mape"] == pytest.approx((200 / 104 + 300 / 54) / 2)
    assert bt["points"] == 48 and bt["pooled_series"] == ["A", "B"] and bt["without_backtest"] == []
    assert doc["model"] == "seasonal_naive" and doc["models_used"] == {"seasonal_naive": 2}
    # backtest.py pools the same two series in one rolling-origin run: the same figures.
    frame = pd.read_csv(path, parse_dates=["ts"])
    together = rolling_origin(frame, SeasonalNaive(), 24, "h", windows=1).report()
    for key in ("mae", "rmse", "mape", "smape", "mase", "coverage_80", "pinball", "baseline_mase"):
        assert bt[key] == pytest.approx(together[key]), key
    table = runner.invoke(app, [*args, "--windows", "1"])
    assert table.exit_code == 0 and "pooled: MASE 2.0000" in table.stdout


def test_pooling_names_the_series_it_leaves_out() -> None:
    def report(mae: float, mase: float, windows: int) -> dict[str, float]:
        base = {"mae": mae, "rmse": mae, "mape": 10.0, "smape": 10.0, "mase": mase, "pinball": 1.0}
        base.update(coverage_80=0.8, coverage_95=0.95, windows=windows, horizon=24)
        return {**base, **{f"baseline_{k}": 2 * v for k, v in base.items() if k in ("mae", "rmse", "mape", "smape")}}

    # x: 2 windows (48 points), MASE 0.5; y: 1 window (24 points), MASE undefined; z: no backtest.
    # Pooled MAE = (48 * 1 + 24 * 4)/72 = 2; MASE undefined as soon as one series' is; over
    # the series where it is defined it is x's 0.5.
    x = {**report(1.0, 0.5, 2), "baseline_mase": 1.0}
    y = {**report(4.0, float("nan"), 1), "baseline_mase": float("nan")}
    pooled = pool_backtests({"x": x, "y": y, "z": None})
    assert pooled["mae"] == pytest.approx(2.0) and pooled["baseline_mae"] == pytest.approx(4.0)
    assert math.isnan(pooled["mase"]) and pooled["mase_over_defined"] == pytest.approx(0.5)
    assert pooled["mase_undefined"] == ["y"] and pooled["without_backtest"] == ["z"]
    assert pooled["points"] == 72 and pooled["skill_mae"] == pytest.approx(0.5)
    assert pooled["verdict"].startswith("better than seasonal naive")
    empty = pool_backtests({"z": None})
    assert empty["mase"] is None and empty["baseline_mase"] is None and "note" in empty


def test_a_named_model_without_backtest_keeps_the_contract_keys(tmp_path: Path) -> None:
    # 30 hours: seasonal naive forecasts from the last 24, but a backtest needs two days of
    # training plus one horizon (48 + 3 = 51 observations).
    path = tmp_path / "short.csv"
    path.write_text("ts,value\n" + "".join(f"2025-03-{1 + h // 24:02d}T{h % 24:02d}:00:00,{h}\n" for h in range(30)))
    result = runner.invoke(
        app, ["forecast", str(path), "--horizon", "3", "--freq", "h", "--model", "seasonal_naive", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [r["mean"] for r in doc["forecast"]] == [6.0, 7.0, 8.0]  # hours 30-32 repeat hours 6-8
    bt = doc["backtest"]
    assert bt["mase"] is None and bt["mape"] is None and bt["baseline_mase"] is None
    assert "without a backtest" in bt["note"] and "51 observations" in bt["note"]


def test_an_empty_value_inside_the_history_is_named_by_its_line(tmp_path: Path) -> None:
    # Line 1 is the header; the fourth data row (line 5) has no value although line 6 has one again.
    rows = ["ts,value", *(f"2025-01-01T{h:02d}:00,{v}" for h, v in enumerate(["1", "2", "3", "", "5", "6"]))]
    path = tmp_path / "hole.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast", str(path), "--horizon", "1", "--freq", "h", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "line 5, column value" in result.stderr and "future row" in result.stderr
