"""Product carbon footprints: a three-level bill of materials, allocation, cycles, lineage, CLI.

Hand computations are in the comments. The grid factor 0.5306 kgCO2/kWh = 0.0005306 tCO2/kWh is
the 2023 national average of the MEE/NBS 电力二氧化碳排放因子 (REFERENCE_DATA.md §3a, grade A);
the transport factor 0.0001 tCO2e/(t·km) is illustrative.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.footprint_cmds import register
from carbonpark.errors import DuplicateError, ValidationError
from carbonpark.footprint import (
    EnergyLine,
    allocation_shares,
    compute_footprints,
    inventory_report,
    parse_study,
    trace,
)

GRID = 0.0005306  # tCO2/kWh

# Three enterprises in the park: A makes brackets, B frames, C machines; steel, paint and boxes are bought.
CHAIN: dict[str, Any] = {
    "products": [
        {"id": "88.100.1/steel-coil", "unit": "t", "footprint_tco2e_per_unit": 1.9, "source": "supplier EPD"},
        {"id": "paint", "unit": "t", "footprint_tco2e_per_unit": 3.0},
        {"id": "box", "unit": "piece", "footprint_tco2e_per_unit": 0.002},
        {
            "id": "bracket",
            "unit": "piece",
            "process_tco2e_per_unit": 0.001,
            "energy": [{"activity": "electricity", "amount": 5, "unit": "kWh", "factor_tco2e_per_unit": GRID}],
            "inputs": [
                {
                    "product": "88.100.1/steel-coil",
                    "amount": 2,
                    "unit": "kg",
                    "transport": [{"mode": "truck", "distance_km": 300, "factor_tco2e_per_tkm": 0.0001}],
                }
            ],
        },
        {
            "id": "frame",
            "unit": "piece",
            "energy": [{"activity": "electricity", "amount": 20, "unit": "kWh", "factor_tco2e_per_unit": GRID}],
            "inputs": [{"product": "bracket", "amount": 4}, {"product": "paint", "amount": 0.0005}],
        },
        {
            "id": "machine",
            "unit": "piece",
            "process_tco2e_per_unit": 0.01,
            "use_phase_tco2e_per_unit": 1.5,
            "energy": [{"activity": "electricity", "amount": 50, "unit": "kWh", "factor_tco2e_per_unit": GRID}],
            "inputs": [{"product": "frame", "amount": 2}, {"product": "box", "amount": 1, "stage": "packaging"}],
        },
    ]
}

# bracket: steel 2 kg = 0.002 t × 1.9 = 0.0038; truck 300 km × 0.002 t × 0.0001 = 0.00006;
#          power 5 × 0.0005306 = 0.002653; process 0.001 → 0.007513
# frame:   4 × 0.007513 = 0.030052; paint 0.0005 × 3.0 = 0.0015; power 20 × 0.0005306 = 0.010612 → 0.042164
# machine: 2 × 0.042164 = 0.084328 (raw); box 0.002 (packaging); power 50 × 0.0005306 = 0.02653;
#          process 0.01 → cradle-to-gate 0.122858; with use phase 1.5 → 1.622858


def test_three_level_chain_hand_computed() -> None:
    fps = compute_footprints(parse_study(CHAIN))
    assert fps["bracket"].tco2e_per_unit == pytest.approx(0.007513, abs=1e-12)
    assert fps["bracket"].by_stage["inbound_transport"] == pytest.approx(0.00006, abs=1e-12)
    assert fps["frame"].tco2e_per_unit == pytest.approx(0.042164, abs=1e-12)
    machine = fps["machine"]
    assert machine.tco2e_per_unit == pytest.approx(0.122858, abs=1e-12)
    assert machine.by_stage == pytest.approx(
        {
            "raw_materials": 0.084328,
            "inbound_transport": 0.0,
            "manufacturing_energy": 0.02653,
            "process": 0.01,
            "packaging": 0.002,
        },
        abs=1e-12,
    )
    assert machine.by_input == pytest.approx({"frame": 0.084328, "box": 0.002}, abs=1e-12)
    assert machine.boundary == "cradle-to-gate"


def test_use_phase_is_optional_and_not_passed_on() -> None:
    study = copy.deepcopy(CHAIN)
    study["products"][4]["use_phase_tco2e_per_unit"] = 100.0  # frame's own use phase must not enter machine
    fps = compute_footprints(parse_study(study), include_use_phase=True)
    assert fps["machine"].tco2e_per_unit == pytest.approx(1.622858, abs=1e-12)
    assert fps["machine"].cradle_to_gate_tco2e_per_unit == pytest.approx(0.122858, abs=1e-12)
    assert fps["machine"].by_stage["use_phase"] == 1.5


def test_supplier_change_flows_downstream() -> None:
    # steel 1.9 → 2.1: bracket +0.002 × 0.2 = +0.0004; frame +4 × 0.0004 = +0.0016; machine +2 × 0.0016 = +0.0032
    study = copy.deepcopy(CHAIN)
    study["products"][0]["footprint_tco2e_per_unit"] = 2.1
    assert compute_footprints(parse_study(study))["machine"].tco2e_per_unit == pytest.approx(0.126058, abs=1e-12)


def test_trace_sums_to_total_and_finds_hotspot() -> None:
    fps = compute_footprints(parse_study(CHAIN))
    leaves = trace(fps, "machine")
    assert sum(leaf.tco2e for leaf in leaves) == pytest.approx(fps["machine"].tco2e_per_unit, abs=1e-12)
    # steel reaches the machine as 2 frames × 4 brackets × 0.002 t × 1.9 = 0.0304 t, the largest leaf
    top = max(leaves, key=lambda leaf: leaf.tco2e)
    assert top.ref == "88.100.1/steel-coil" and top.tco2e == pytest.approx(0.0304, abs=1e-12)
    assert top.path == ("machine", "frame", "bracket", "88.100.1/steel-coil")
    assert top.stage == "raw_materials" and top.origin_stage == "raw_materials"


def test_inventory_report_sections() -> None:
    fps = compute_footprints(parse_study(CHAIN))
    report = inventory_report(fps, "machine", hotspots=3)
    assert report["functional_unit"] == "1 piece of machine"
    assert report["system_boundary"]["stages_excluded"] == ["use_phase", "end_of_life"]
    assert report["results"]["tco2e_per_unit"] == pytest.approx(0.122858, abs=1e-12)
    assert report["hotspots"][0]["share"] == pytest.approx(0.0304 / 0.122858)
    assert set(report["data_quality"]["given_footprints"]) == {"88.100.1/steel-coil", "paint", "box"}
    # given figures in the machine: steel 0.0304 + paint 2 × 0.0015 = 0.003 + box 0.002 = 0.0354
    assert report["data_quality"]["share_from_given_footprints"] == pytest.approx(0.0354 / 0.122858)
    assert any(s["source"] == "supplier EPD" for s in report["data_sources"])
    json.dumps(report)  # plain data


# --- allocation ----------------------------------------------------------------------------------

# One cracker run: 10 tCO2e process + 1000 kWh × 0.0005 = 0.5 → 10.5 tCO2e; makes 6 t ethylene, 4 t propylene.
#   mass:     ethylene 6/10 = 0.6 → 10.5 × 0.6 / 6 = 1.05 t/t;  propylene 0.4 → 4.2 / 4 = 1.05 t/t
#   economic: 6 × 8000 = 48000, 4 × 7000 = 28000 CNY; ethylene 48/76 → 10.5 × 48/76 / 6 = 1.1052631578947…
#             propylene 28/76 → 10.5 × 28/76 / 4 = 0.9671052631578…
# pellet: 1.02 t ethylene per t → mass 1.071; economic 1.02 × 1.1052631578947 = 1.1273684210526


def cracker(method: str) -> dict[str, Any]:
    return {
        "products": [{"id": "pellet", "unit": "t", "inputs": [{"product": "ethylene", "amount": 1.02}]}],
        "processes": [
            {
                "id": "cracker",
                "allocation": method,
                "process_tco2e": 10,
                "energy": [{"activity": "electricity", "amount": 1000, "unit": "kWh", "factor_tco2e_per_unit": 0.0005}],
                "outputs": [
                    {"product": "ethylene", "amount": 6, "unit": "t", "price_per_unit": 8000},
                    {"product": "propylene", "amount": 4, "unit": "t", "price_per_unit": 7000},
                ],
            }
        ],
    }


def test_mass_allocation() -> None:
    fps = compute_footprints(parse_study(cracker("mass")))
    assert fps["ethylene"].tco2e_per_unit == pytest.approx(1.05)
    assert fps["propylene"].tco2e_per_unit == pytest.approx(1.05)
    assert fps["pellet"].tco2e_per_unit == pytest.approx(1.071)
    alloc = fps["ethylene"].allocation
    assert alloc is not None and alloc.method == "mass" and alloc.share == pytest.approx(0.6)
    assert fps["ethylene"].by_stage["process"] == pytest.approx(1.0)  # 10 × 0.6 / 6
    assert fps["ethylene"].by_stage["manufacturing_energy"] == pytest.approx(0.05)  # 0.5 × 0.6 / 6
    assert all(t.allocation and "mass allocation" in t.allocation for t in fps["ethylene"].contributions)


def test_economic_allocation() -> None:
    study = parse_study(cracker("economic"))
    shares = allocation_shares(study.processes["cracker"], study)
    assert shares["ethylene"][0] == pytest.approx(48 / 76)
    fps = compute_footprints(study)
    assert fps["ethylene"].tco2e_per_unit == pytest.approx(10.5 * 48 / 76 / 6)  # 1.10526…
    assert fps["propylene"].tco2e_per_unit == pytest.approx(10.5 * 28 / 76 / 4)  # 0.96710…
    # allocation conserves the run's emissions: 6 × 1.10526 + 4 × 0.96711 = 10.5
    assert 6 * fps["ethylene"].tco2e_per_unit + 4 * fps["propylene"].tco2e_per_unit == pytest.approx(10.5)
    assert fps["pellet"].tco2e_per_unit == pytest.approx(1.02 * 10.5 * 48 / 76 / 6)


def test_economic_allocation_needs_prices() -> None:
    doc = cracker("economic")
    del doc["processes"][0]["outputs"][1]["price_per_unit"]
    with pytest.raises(ValidationError, match="price_per_unit"):
        compute_footprints(parse_study(doc))


# --- errors --------------------------------------------------------------------------------------


def test_cycle_is_named() -> None:
    doc = {
        "products": [
            {"id": "a", "unit": "t", "inputs": [{"product": "b", "amount": 1}]},
            {"id": "b", "unit": "t", "inputs": [{"product": "c", "amount": 1}]},
            {"id": "c", "unit": "t", "inputs": [{"product": "a", "amount": 1}]},
        ]
    }
    with pytest.raises(ValidationError, match="a → b → c → a"):
        compute_footprints(parse_study(doc))


def test_self_loop_and_cycle_through_a_process() -> None:
    with pytest.raises(ValidationError, match="x → x"):
        compute_footprints(
            parse_study({"products": [{"id": "x", "unit": "t", "inputs": [{"product": "x", "amount": 0.1}]}]})
        )
    doc = cracker("mass")
    doc["processes"][0]["inputs"] = [{"product": "pellet", "amount": 1}]
    with pytest.raises(ValidationError, match="pellet → ethylene → process:cracker → pellet"):
        compute_footprints(parse_study(doc))


def test_unknown_input_and_missing_factor_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"product 'p'\.inputs\[0\]\.product"):
        compute_footprints(
            parse_study({"products": [{"id": "p", "unit": "t", "inputs": [{"product": "nope", "amount": 1}]}]})
        )
    no_factor = {
        "products": [{"id": "p", "unit": "t", "energy": [{"activity": "electricity", "amount": 3, "unit": "kWh"}]}]
    }
    with pytest.raises(ValidationError, match=r"energy\[0\]\.factor_tco2e_per_unit"):
        compute_footprints(parse_study(no_factor))


def test_energy_accountant_is_used_when_no_factor() -> None:
    def accountant(line: EnergyLine) -> tuple[float, str]:
        return line.amount * GRID, "MEE 2023 national average"

    doc = {
        "products": [{"id": "p", "unit": "t", "energy": [{"activity": "electricity", "amount": 1000, "unit": "kWh"}]}]
    }
    fp = compute_footprints(parse_study(doc), energy_accountant=accountant)["p"]
    assert fp.tco2e_per_unit == pytest.approx(0.5306)  # 1000 kWh × 0.0005306
    assert fp.contributions[0].source == "MEE 2023 national average"


@pytest.mark.parametrize(
    "doc",
    [
        {
            "products": [
                {"id": "p", "unit": "t", "footprint_tco2e_per_unit": 1, "inputs": [{"product": "q", "amount": 1}]},
                {"id": "q", "unit": "t", "footprint_tco2e_per_unit": 1},
            ]
        },
        {"products": [{"id": "p", "unit": "t"}]},
        {"products": [{"id": "p", "unit": "t", "inputs": [{"product": "q", "amount": -1}]}]},
        {"products": [{"id": "p"}]},
    ],
)
def test_malformed_products(doc: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"products\[0\]"):
        parse_study(doc)


def test_duplicate_product() -> None:
    with pytest.raises(DuplicateError):
        parse_study({"products": [{"id": "p", "unit": "t", "footprint_tco2e_per_unit": 1}] * 2})


# --- CLI -----------------------------------------------------------------------------------------

CONTRACT_YAML = """products:
  - {id: sheet, unit: t, footprint_tco2e_per_unit: 2.0}
  - {id: part, unit: piece, process_tco2e_per_unit: 0.1, inputs: [{product: sheet, amount: 0.5}]}
"""


def cli_app() -> typer.Typer:
    app = new_app("t")

    @app.callback()
    def _root() -> None:
        """Test root."""

    register(app)
    return app


def test_cli_contract(tmp_path: Path) -> None:
    # part = 0.1 + 0.5 × 2.0 = 1.1 tCO2e/piece
    path = tmp_path / "products.yaml"
    path.write_text(CONTRACT_YAML, encoding="utf-8")
    result = CliRunner().invoke(cli_app(), ["footprint", str(path), "--json"])
    assert result.exit_code == 0, result.output
    part = json.loads(result.stdout)["products"]["part"]
    assert part["tco2e_per_unit"] == pytest.approx(1.1)
    assert part["by_stage"]["raw_materials"] == pytest.approx(1.0)
    assert part["by_stage"]["process"] == pytest.approx(0.1)
    assert part["by_input"] == {"sheet": pytest.approx(1.0)}


def test_cli_table_report_and_cycle_error(tmp_path: Path) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(CHAIN), encoding="utf-8")
    runner = CliRunner()
    table = runner.invoke(cli_app(), ["footprint", str(path), "--report", "machine"])
    assert table.exit_code == 0 and "machine" in table.stdout and "steel-coil" in table.stdout
    doc = json.loads(
        runner.invoke(cli_app(), ["footprint", str(path), "--json", "--use-phase", "--report", "machine"]).stdout
    )
    assert doc["products"]["machine"]["tco2e_per_unit"] == pytest.approx(1.622858)
    assert doc["report"]["system_boundary"]["boundary"] == "cradle-to-gate + use phase"
    cyc = tmp_path / "cycle.yaml"
    cyc.write_text("products:\n  - {id: a, unit: t, inputs: [{product: a, amount: 1}]}\n", encoding="utf-8")
    bad = runner.invoke(cli_app(), ["footprint", str(cyc), "--json"])
    assert bad.exit_code == 1 and bad.stdout == "" and "a → a" in bad.stderr


@pytest.mark.skipif(shutil.which("carbonpark") is None, reason="the carbonpark command is not installed")
def test_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    path.write_text(CONTRACT_YAML, encoding="utf-8")
    proc = subprocess.run(
        ["carbonpark", "footprint", str(path), "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["products"]["part"]["tco2e_per_unit"] == pytest.approx(1.1)


def test_cli_accounts_energy_without_factor(tmp_path: Path) -> None:
    # 1000 kWh of grid power, accounted by the accounting engine with its default (ETS-report) set:
    # 1 MWh × 0.5703 tCO2/MWh = 0.5703 tCO2 (REFERENCE_DATA.md §8 case 2, scaled to 1 MWh); plus process 0.1
    path = tmp_path / "energy.yaml"
    path.write_text(
        "products:\n  - {id: p, unit: t, process_tco2e_per_unit: 0.1,"
        " energy: [{activity: electricity, amount: 1000, unit: kWh}]}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli_app(), ["footprint", str(path), "--json"])
    assert result.exit_code == 0, result.output
    product = json.loads(result.stdout)["products"]["p"]
    assert product["by_stage"]["manufacturing_energy"] == pytest.approx(0.5703)
    assert product["tco2e_per_unit"] == pytest.approx(0.6703)
    assert "0.5703 tCO2/MWh" in product["lineage"][0]["source"]
