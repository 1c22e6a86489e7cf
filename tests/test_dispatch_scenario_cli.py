"""Dispatch scenario validation and the ``carbonpark dispatch`` command (issue 10, items 1, 5, 6).

The contract case (2 steps, load [0, 100] kW, price [0.3, 1.0] CNY/kWh, lossless
200 kWh battery from empty) costs 100 kWh × 0.3 = 30.0 CNY; the idle-battery baseline
100 kWh × 1.0 = 100.0 CNY; emissions 100 kWh × 0.5 kg/kWh = 0.05 t in both.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.dispatch_cmds import register
from carbonpark.dispatch import load_scenario, parse_scenario, solve_dispatch
from carbonpark.errors import ValidationError

CONTRACT = """horizon: {start: "2025-07-01T00:00:00", steps: 2, step_hours: 1}
loads: {electricity: [0, 100]}
assets:
  - {type: grid, name: grid, import_max_kw: 1000, export_max_kw: 0, import_price: [0.3, 1.0],
     export_price: 0, carbon_kg_per_kwh: 0.5}
  - {type: battery, name: bess, energy_kwh: 200, power_kw: 200, charge_efficiency: 1.0,
     discharge_efficiency: 1.0, soc_initial: 0.0, soc_min: 0.0, soc_max: 1.0}
objective: cost
"""

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dispatch" / "day_ahead.yaml"


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


def document() -> dict[str, Any]:
    return yaml.safe_load(CONTRACT)


def app() -> typer.Typer:
    application = new_app("t")
    register(application)

    @application.command("noop")
    def _noop() -> None:
        """Keep the group a group (Typer collapses a single command)."""

    return application


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda d: d["assets"][1].update(energy_kwh=-5), "assets.1.energy_kwh", "greater than 0"),
        (lambda d: d["assets"][0].update(import_price=[0.3, 1.0, 2.0]), "assets.0.import_price", "2 numbers"),
        (lambda d: d["assets"][0].update(type="nuclear"), "assets.0.type", "one of"),
        (lambda d: d["assets"][1].update(enrgy_kwh=5), "assets.1.enrgy_kwh", "known: "),
        (lambda d: d["assets"][1].update(soc_initial=0.5, soc_max=0.4), "assets.1", "soc_min ≤ soc_initial ≤ soc_max"),
        (lambda d: d["horizon"].update(steps=0), "horizon.steps", "greater than or equal to 1"),
        (lambda d: d["loads"].update(electricity=[1, 2, 3]), "loads.electricity", "2 numbers"),
        (lambda d: d["assets"][1].update(name="grid"), "assets.1.name", "no other asset"),
        (lambda d: d["assets"][1].pop("energy_kwh"), "assets.1.energy_kwh", "required"),
        (lambda d: d.update(objective="profit"), "objective", "cost"),
        (
            lambda d: d["assets"].append({"type": "gas_boiler", "name": "b", "capacity_kw": 10}),
            "assets.2",
            "an asset of type gas",
        ),
    ],
)
def test_bad_field_is_named(change: Any, field: str, expected: str) -> None:
    raw = document()
    change(raw)
    with pytest.raises(ValidationError) as caught:
        parse_scenario(raw)
    assert caught.value.field == field
    assert expected in caught.value.expected


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("horizon: {steps: 2\nassets: [", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"line \d+, column \d+"):
        load_scenario(path)


def test_weighted_objective_from_the_file() -> None:
    # Same contract case with a carbon price: emissions are the same whatever the battery does
    # (100 kWh at 0.5 kg either way), so objective = 30.0 + 100 CNY/t × 0.05 t = 35.0.
    raw = document()
    raw["objective"] = {"cost_weight": 1.0, "carbon_price_per_t": 100}
    result = solve_dispatch(parse_scenario(raw))
    assert result.objective == pytest.approx(35.0)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_contract_json(contract_file: Path) -> None:
    result = CliRunner().invoke(app(), ["dispatch", str(contract_file), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "optimal"
    assert doc["total_cost"] == pytest.approx(30.0, abs=1e-6)
    assert doc["objective"] == pytest.approx(30.0, abs=1e-6)
    assert doc["baseline"]["total_cost"] == pytest.approx(100.0)
    assert doc["total_emissions_tco2e"] == pytest.approx(0.05)
    assert doc["baseline"]["total_emissions_tco2e"] == pytest.approx(0.05)
    assert doc["schedule"]["bess"]["soc_kwh"] == pytest.approx([100.0, 0.0])
    assert doc["schedule"]["grid"]["import_kw"] == pytest.approx([100.0, 0.0])


def test_cli_objective_option_and_csv(contract_file: Path, tmp_path: Path) -> None:
    # --objective emissions: 100 kWh must be bought either way (0.05 t); among those schedules
    # the cheapest is the arbitrage one, 30.0 CNY. The CSV has one row per step.
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(
        app(), ["dispatch", str(contract_file), "--objective", "emissions", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["objective"] == pytest.approx(0.05)
    assert doc["total_cost"] == pytest.approx(30.0)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["grid-import_kw"]) for r in rows] == pytest.approx([100.0, 0.0])
    assert rows[1]["timestamp"] == "2025-07-01T01:00:00"


def test_cli_carbon_price_pareto_and_folder(contract_file: Path, tmp_path: Path) -> None:
    # --carbon-price 200 alone means weighted: 30.0 + 200 × 0.05 = 40.0. The folder gets
    # schedule.csv and result.json; the front has one point repeated (nothing trades off here).
    folder = tmp_path / "run"
    result = CliRunner().invoke(
        app(),
        ["dispatch", str(contract_file), "--carbon-price", "200", "--pareto", "2", "--out", str(folder), "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["objective_kind"] == "weighted"
    assert doc["objective"] == pytest.approx(40.0)
    assert [p["total_cost"] for p in doc["pareto"]] == pytest.approx([30.0, 30.0])
    assert (folder / "schedule.csv").exists()
    assert json.loads((folder / "result.json").read_text())["total_cost"] == pytest.approx(30.0)


def test_cli_rolling(contract_file: Path) -> None:
    result = CliRunner().invoke(app(), ["dispatch", str(contract_file), "--window", "2", "--commit", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_cost"] == pytest.approx(30.0)


def test_cli_table_output(contract_file: Path) -> None:
    result = CliRunner().invoke(app(), ["dispatch", str(contract_file)])
    assert result.exit_code == 0, result.output
    assert "30.00" in result.stdout
    assert "100.00" in result.stdout  # the baseline


def test_cli_bad_field_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONTRACT.replace("energy_kwh: 200", "energy_kwh: -1"), encoding="utf-8")
    result = CliRunner().invoke(app(), ["dispatch", str(path), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "assets.1.energy_kwh" in result.stderr


def test_cli_infeasible_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "short.yaml"
    path.write_text(
        CONTRACT.replace("power_kw: 200", "power_kw: 0").replace("import_max_kw: 1000", "import_max_kw: 50")
    )
    result = CliRunner().invoke(app(), ["dispatch", str(path), "--json"])
    assert result.exit_code == 1
    assert "electricity cannot balance at steps 1" in result.stderr


def test_installed_command(contract_file: Path) -> None:
    executable = shutil.which("carbonpark") or str(Path(sys.executable).parent / "carbonpark")
    completed = subprocess.run(
        [executable, "dispatch", str(contract_file), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    doc = json.loads(completed.stdout)  # exactly one JSON document: the solver banner went to stderr
    assert doc["total_cost"] == pytest.approx(30.0, abs=1e-6)


# --- the example park day -------------------------------------------------------------------


def test_example_day_ahead_saves_against_the_baseline() -> None:
    # The baseline is a feasible schedule of the same model, so the optimum costs no more;
    # with a TOU spread, a battery and a CHP it costs strictly less. Every carrier balances.
    result = solve_dispatch(load_scenario(EXAMPLE))
    assert result.baseline.status == "ok"
    assert result.total_cost < result.baseline.total_cost  # type: ignore[operator]
    assert set(result.balance_residual_kw) >= {"electricity", "heat", "cooling", "gas"}
    assert max(result.balance_residual_kw.values()) < 1e-6
    assert len(result.timestamps) == 24


# --- rolling horizon with issued forecasts ----------------------------------------------------


def test_cli_rolling_with_forecast_table(contract_file: Path, tmp_path: Path) -> None:
    # Issued at step 0: "no load at step 1", so the first window does not charge; step 1 then
    # buys its actual 100 kWh at 1.0: 100.0 CNY (against 30.0 with perfect foresight).
    table = tmp_path / "forecasts.csv"
    table.write_text(
        "issued_step,path,step,value\n0,loads.electricity,0,0\n0,loads.electricity,1,0\n", encoding="utf-8"
    )
    args = ["dispatch", str(contract_file), "--window", "2", "--commit", "1", "--forecasts", str(table), "--json"]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_cost"] == pytest.approx(100.0)


def test_forecast_table_must_cover_the_window() -> None:
    from carbonpark.dispatch import forecast_from_table

    forecast = forecast_from_table([{"issued_step": 0, "path": "loads.electricity", "step": 0, "value": 5.0}])
    with pytest.raises(ValidationError, match="none for steps 1"):
        forecast(0, 2)
    assert forecast(0, 1) == {"loads.electricity": [5.0]}
