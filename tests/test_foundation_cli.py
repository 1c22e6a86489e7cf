"""The command-line contracts of the foundation, through the installed ``carbonpark`` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["carbonpark", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("cli")
    db = str(folder / "demo.db")
    p = run("demo", "--db", db, "--size", "small", "--seed", "5", "--year", "2025", "--out", str(folder), "--json")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)  # exactly one JSON document on stdout
    assert summary["registry"]["enterprises"] == 6
    assert Path(summary["outputs"]["summary"]).exists()
    # the generated demo password is in the --json document on stdout, never in the world-readable file
    shown = summary["capabilities"]["users"]["secrets"]["password"]
    assert len(shown) >= 12
    written = Path(summary["outputs"]["summary"]).read_text(encoding="utf-8")
    assert shown not in written and '"secrets"' not in written
    return db


def test_status_json(demo_db: str) -> None:
    p = run("status", "--db", demo_db, "--json")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert {
        "enterprises",
        "sites",
        "meters",
        "sources",
        "products",
        "readings",
        "quarantined",
        "first_reading",
        "last_reading",
    } <= set(doc)
    assert doc["meters"] == 45 and doc["quarantined"] == 0


def test_meters_json_filters_by_enterprise(demo_db: str) -> None:
    everything = json.loads(run("meters", "--db", demo_db, "--json").stdout)
    assert len(everything) == 45
    assert all(m["handle"].startswith("88.1234/meter.") for m in everything)
    assert {"id", "handle", "enterprise", "quantity", "unit", "carrier"} <= set(everything[0])
    ent = everything[0]["enterprise"]
    mine = json.loads(run("meters", "--db", demo_db, "--enterprise", ent, "--json").stdout)
    assert mine and all(m["enterprise"] == ent for m in mine)
    assert len(mine) == sum(m["enterprise"] == ent for m in everything)
    assert any(m["enterprise"] is None for m in everything)  # park-level meters


def test_errors_exit_1_with_empty_stdout(tmp_path: Path, demo_db: str) -> None:
    p = run("status", "--db", str(tmp_path / "empty.db"), "--json")
    assert (p.returncode, p.stdout) == (1, "")
    assert "carbonpark db upgrade" in p.stderr
    assert "no database file at" in p.stderr
    assert not (tmp_path / "empty.db").exists()  # a read never creates an empty database file
    p = run("meters", "--db", demo_db, "--enterprise", "no-such-enterprise", "--json")
    assert (p.returncode, p.stdout) == (1, "")
    assert "no enterprise" in p.stderr


def test_wrong_usage_exits_2() -> None:
    p = run("demo", "--size", "huge", "--json")
    assert p.returncode == 2 and p.stdout == ""
    assert "small or full" in p.stderr


def test_db_upgrade_then_registry_import(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    assert run("db", "upgrade", "--db", db).returncode == 0
    spec = tmp_path / "r.yaml"
    spec.write_text(
        "park: {name: P}\nenterprises:\n  - {name: A, credit_code: 91350100M000100Y43, industry_code: C26}\n",
        encoding="utf-8",
    )
    p = run("registry", "import", str(spec), "--db", db, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"created": {"parks": 1, "enterprises": 1}}
    p = run("registry", "import", str(spec), "--db", db, "--json")  # the same enterprise again
    assert p.returncode == 1 and p.stdout == ""
    assert "already exists" in p.stderr
