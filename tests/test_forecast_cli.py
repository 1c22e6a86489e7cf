"""The forecast commands: the file contract of issue 9, errors, the peak scenarios."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import register
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
