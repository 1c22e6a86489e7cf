"""Tests of ``carbonpark account`` and ``carbonpark factors list`` (the issue-4 file contract)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonpark.cli.account_cmds import register
from carbonpark.cli.common import new_app

CONTRACT = (
    "source,activity,amount,unit,ncv,ncv_unit,carbon_content,carbon_content_unit,oxidation_rate\n"
    "fleet,diesel,50,t,42.652,GJ/t,20.2,tC/TJ,0.98\n"
)
KEYS = (
    "factor_set",
    "gwp",
    "total_tco2e",
    "removals_tco2e",
    "biogenic_co2_t",
    "scope2_market_tco2e",
    "by_gas",
    "by_scope",
    "by_category",
    "energy_tce",
    "energy_tce_equal_value",
    "rows",
)


@pytest.fixture
def app():
    app = new_app("t")
    register(app)
    return app


def _write(tmp_path: Path, text: str, name: str = "activity.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_contract_json(app, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["account", _write(tmp_path, CONTRACT), "--json", "--gwp", "AR6"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert all(k in doc for k in KEYS)
    # the issue: 50 × 42.652 × 20.2e-3 × 0.98 × 44/12 = 154.79548186666667 tCO2, AR-independent
    assert math.isclose(doc["total_tco2e"], 154.79548186666667, rel_tol=1e-9)
    row = doc["rows"][0]
    assert {k: row[k] for k in ("line", "source", "activity", "gas", "method")} == {
        "line": 1,
        "source": "fleet",
        "activity": "diesel",
        "gas": "CO2",
        "method": "fuel_combustion",
    }
    assert [f["origin"] for f in row["factors"]] == ["measured", "measured", "measured", "library"]
    assert doc["gwp"] == "AR6" and doc["factor_set"] == "cn-ndrc-2015"
    assert set(doc["by_category"]) == {"1", "2", "3", "4", "5", "6"} and set(doc["by_scope"]) == {"1", "2", "3"}


def test_unknown_activity_fails_with_line_and_empty_stdout(app, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["account", _write(tmp_path, "source,activity,amount,unit\nx,unobtainium,1,t\n"), "--json"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "line 1, column activity" in result.stderr and "'unobtainium'" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source,activity,amount,unit\nx,diesel,abc,t\n", "line 1, column amount"),
        ("source,activity,amount,unit\nx,diesel,1,t\ny,diesel,-2,t\n", "line 2, column amount"),
        ("source,activity,amount,unit\nx,diesel,nan,t\n", "line 1, column amount"),
        ("source,activity,amount,unit,oxidation_rate\nx,diesel,1,t,x\n", "line 1, column oxidation_rate"),
        ("source,activity,amount\nx,diesel,1\n", "missing unit"),
        ("source,activity,amount,unit,colour\nx,diesel,1,t,red\n", "colour"),
        ("source,activity,amount,unit\nx,diesel,1,bananas\n", "line 1"),
    ],
)
def test_bad_lines_name_line_and_column(app, tmp_path: Path, text: str, message: str) -> None:
    result = CliRunner().invoke(app, ["account", _write(tmp_path, text), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_factor_set_and_gwp_options(app, tmp_path: Path) -> None:
    path = _write(tmp_path, "source,activity,amount,unit,gas\nfleet,柴油,50,t,\nboiler,天然气,100,万Nm3,CH4;N2O\n")
    result = CliRunner().invoke(app, ["account", path, "--json", "--factor-set", "cn-mee-2022", "--gwp", "AR4"])
    doc = json.loads(result.stdout)
    # §8 case 4 updated table 157.25612466667 + §8 case 3 AR4 non-CO2 2.1334188
    assert math.isclose(doc["total_tco2e"], 157.25612466667 + 2.1334188, rel_tol=1e-9)
    bad = CliRunner().invoke(app, ["account", path, "--factor-set", "nope"])
    assert bad.exit_code == 1 and "cn-mee-2022" in bad.stderr


def test_user_factor_file_takes_precedence(app, tmp_path: Path) -> None:
    factors = _write(
        tmp_path,
        "id,parameter,subject,gas,region,purpose,data_year,value,unit,source_document,table_clause,valid_from,"
        "valid_to,grade,notes\nlab:diesel:ncv,ncv,diesel,,,,,43.33,GJ/t,lab report,batch 1,2025-01-01,,A,\n",
        "lab.csv",
    )
    path = _write(tmp_path, "source,activity,amount,unit\nfleet,diesel,50,t\n")
    doc = json.loads(CliRunner().invoke(app, ["account", path, "--json", "--factors", factors]).stdout)
    # NCV 43.33 with legacy CC/OF: same as §8 case 4 updated table, 157.25612466667
    assert math.isclose(doc["total_tco2e"], 157.25612466667, rel_tol=1e-9)
    assert doc["rows"][0]["factors"][0]["origin"] == "user"
    assert any("takes precedence" in n for n in doc["rows"][0]["notes"])


def test_explain_and_table_output(app, tmp_path: Path) -> None:
    path = _write(tmp_path, CONTRACT)
    explained = CliRunner().invoke(app, ["account", path, "--explain", "1"])
    assert explained.exit_code == 0 and "44/12" in explained.stdout and "line1:ncv" in explained.stdout
    missing = CliRunner().invoke(app, ["account", path, "--explain", "9"])
    assert missing.exit_code == 1
    table = CliRunner().invoke(app, ["account", path])
    assert table.exit_code == 0 and "154.7955" in table.stdout


def test_factors_list(app) -> None:
    doc = json.loads(CliRunner().invoke(app, ["factors", "list", "--json"]).stdout)
    defaults = {d["name"] for d in doc if d["default"]}
    assert defaults == {"cn-ndrc-2015", "AR5"}


def test_installed_command(tmp_path: Path) -> None:
    path = _write(tmp_path, CONTRACT)
    done = subprocess.run(["carbonpark", "account", path, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert math.isclose(json.loads(done.stdout)["total_tco2e"], 154.79548186666667, rel_tol=1e-9)
    # bad files through the same command: test_unknown_activity_fails_with_line_and_empty_stdout (in process)
