"""The evaluate CLI contracts: ``carbonpark evaluate``, ``evaluate-compare``, ``evaluate-catalogue``, ``ahp``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.evaluate_cmds import register

app = new_app("t")
register(app)
runner = CliRunner()

VALUES = "indicator,value,min,max,direction\n1,50,0,100,higher\n57,yes,,,\n65,0.2,0.1,0.5,lower\n"
MATRIX = ",a,b,c\na,1,2,4\nb,1/2,1,2\nc,1/4,1/2,1\n"
# Saaty (1990), EJOR 48, 9-26, house example: lambda_max 9.669, CR 0.169
HOUSE = """,size,transport,neighbourhood,age,yard,modern,condition,financing
size,1,5,3,7,6,6,1/3,1/4
transport,1/5,1,1/3,5,3,3,1/5,1/7
neighbourhood,1/3,3,1,6,3,4,6,1/5
age,1/7,1/5,1/6,1,1/3,1/4,1/7,1/8
yard,1/6,1/3,1/3,3,1,1/2,1/5,1/6
modern,1/6,1/3,1/4,4,2,1,1/5,1/6
condition,3,5,1/6,7,5,5,1,1/2
financing,4,7,5,8,6,6,2,1
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_evaluate_json_contract(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", _write(tmp_path, "v.csv", VALUES), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # hand computation in tests/test_evaluate_scoring.py: 0.45 + 5 + 1.875 = 7.325
    assert doc["score"] == pytest.approx(7.325)
    assert doc["level1"]["4"] == pytest.approx(25.0)
    assert doc["level2"]["17"] == pytest.approx(37.5)
    by_id = {i["id"]: i for i in doc["indicators"]}
    assert by_id[65]["score"] == pytest.approx(75.0) and by_id[57]["value"] is True
    assert len(doc["missing"]) == 66 and 65 not in doc["missing"]
    assert doc["weakest"][0]["id"] == 56


def test_evaluate_equal_weights_and_thresholds(tmp_path: Path) -> None:
    values = _write(tmp_path, "v.csv", "indicator,value\n65,0.4\n")
    thresholds = _write(tmp_path, "t.yaml", "park: demo\nyear: 2024\nthresholds:\n  65: {min: 0.2, max: 0.6}\n")
    result = runner.invoke(app, ["evaluate", values, "--weights", "equal", "--thresholds", thresholds, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # (0.6 - 0.4)/(0.6 - 0.2) x 100 = 50; equal weights: 50 x 1/2 x 1/6 x 1/5 = 0.8333
    assert doc["score"] == pytest.approx(50 / 2 / 6 / 5)
    assert doc["weights"] == "equal"


def test_evaluate_with_ahp_weights_file(tmp_path: Path) -> None:
    values = _write(tmp_path, "v.csv", "indicator,value\n65,0.1\n")
    ahp_file = _write(tmp_path, "w.yaml", "level3:\n  17:\n    matrix: [[1, 3], [1/3, 1]]\n")
    result = runner.invoke(app, ["evaluate", values, "--weights", ahp_file, "--json"])
    assert result.exit_code == 0, result.output
    # 65 at 0.1 -> 100 points; gamma 0.75 by AHP; beta 0.2, alpha 0.25 -> 100 x 0.75 x 0.2 x 0.25 = 3.75
    assert json.loads(result.stdout)["score"] == pytest.approx(3.75)


def test_evaluate_refuses_an_inconsistent_ahp_file(tmp_path: Path) -> None:
    values = _write(tmp_path, "v.csv", "indicator,value\n65,0.1\n")
    ahp_file = _write(
        tmp_path,
        "w.yaml",
        "level2:\n  1:\n    matrix: [[1, 9, 1/9, 1], [1/9, 1, 9, 1], [9, 1/9, 1, 1], [1, 1, 1, 1]]\n",
    )
    result = runner.invoke(app, ["evaluate", values, "--weights", ahp_file, "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "level2.1" in result.stderr and "most inconsistent judgement" in result.stderr


def test_evaluate_with_platform_figures_and_report(tmp_path: Path) -> None:
    values = _write(tmp_path, "v.csv", "indicator,value,evidence\n69,yes,certificate 2023\n")
    figures = _write(tmp_path, "f.yaml", "devices_total: 400\ndevices_networked: 300\ncarbon_data_platform: yes\n")
    report = tmp_path / "report.html"
    result = runner.invoke(
        app, ["evaluate", values, "--platform", figures, "--report", str(report), "--lang", "en", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by_id = {i["id"]: i for i in doc["indicators"]}
    assert by_id[2]["score"] == pytest.approx(75.0) and by_id[2]["source"] == "platform"
    assert by_id[57]["score"] == 100.0
    assert by_id[69]["evidence"] == "certificate 2023"
    assert "figures missing" in doc["platform_skipped"]["52"]
    assert "Total score" in report.read_text(encoding="utf-8")


def test_evaluate_readable_output(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", _write(tmp_path, "v.csv", VALUES)])
    assert result.exit_code == 0, result.output
    assert "Total score 7.33" in result.stdout and "基础设施" in result.stdout


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("indicator,value\n99,1\n", "line 2, column indicator"),
        ("indicator,value\n1,much\n", "line 2, column value"),
    ],
)
def test_evaluate_bad_file_exits_1_with_the_line(tmp_path: Path, text: str, fragment: str) -> None:
    result = runner.invoke(app, ["evaluate", _write(tmp_path, "v.csv", text), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert fragment in result.stderr


def test_evaluate_unknown_weights(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", _write(tmp_path, "v.csv", VALUES), "--weights", "nope"])
    assert result.exit_code == 1 and "--weights" in result.stderr


def test_ahp_json_contract(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ahp", _write(tmp_path, "m.csv", MATRIX), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["weights"] == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-9)
    assert doc["consistent"] is True
    assert doc["lambda_max"] == pytest.approx(3.0) and doc["ci"] == pytest.approx(0.0, abs=1e-9)


def test_ahp_inconsistent_still_prints_the_result(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ahp", _write(tmp_path, "house.csv", HOUSE), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["consistent"] is False
    assert doc["lambda_max"] == pytest.approx(9.669, abs=5e-4)
    assert doc["cr"] == pytest.approx(0.169, abs=5e-4)
    assert doc["most_inconsistent"]["row"] in doc["labels"]
    readable = runner.invoke(app, ["ahp", str(tmp_path / "house.csv")])
    assert "NOT consistent" in readable.stdout and "Most inconsistent judgement" in readable.stdout


def test_ahp_bad_matrix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ahp", _write(tmp_path, "m.csv", ",a,b\na,1,2\nb,1/3,1\n"), "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "reciprocal" in result.stderr


def test_compare_two_years(tmp_path: Path) -> None:
    a = _write(tmp_path, "2023.csv", "indicator,value\n52,20\n")
    b = _write(tmp_path, "2024.csv", "indicator,value\n52,50\n")
    result = runner.invoke(app, ["evaluate-compare", a, b, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # 52: 20 -> 50 points; x 0.2 x 0.5 x 0.2 = +0.6 on the total
    assert doc["labels"] == ["2023", "2024"]
    assert doc["score_delta"]["2024"] == pytest.approx(0.6)
    readable = runner.invoke(app, ["evaluate-compare", a, b, "--label", "y1", "--label", "y2"])
    assert readable.exit_code == 0 and "+30.0" in readable.stdout


def test_catalogue_and_template() -> None:
    doc = json.loads(runner.invoke(app, ["evaluate-catalogue", "--json"]).stdout)
    assert len(doc["indicators"]) == 69 and doc["indicators"][64]["name_zh"] == "单位GDP综合能耗"
    template = runner.invoke(app, ["evaluate-catalogue", "--template"]).stdout.splitlines()
    assert template[0].startswith("indicator,value") and len(template) == 70


def test_installed_command(tmp_path: Path) -> None:
    # one call through the real console script (the CLI's start-up is slow: it imports every capability)
    values = _write(tmp_path, "v.csv", VALUES)
    exe = Path(sys.executable).with_name("carbonpark")
    command = [str(exe)] if exe.exists() else ["carbonpark"]
    done = subprocess.run([*command, "evaluate", values, "--json"], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["score"] == pytest.approx(7.325)
