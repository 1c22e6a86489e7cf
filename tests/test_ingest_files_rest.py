"""CSV/Excel imports and ``POST /api/readings`` go through the same pipeline and the same quarantine.

Expected counts are worked out by hand from the rows and bodies below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.api.app import create_app
from carbonpark.cli.main import app as cli
from carbonpark.services.auth import SecuritySettings, add_api_key
from carbonpark.services.ingest import forget_meters, import_readings_file
from carbonpark.services.registry_io import import_registry
from carbonpark.services.status import registry_status
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Quarantined, Reading

REGISTRY = """
park: {name: 测试园区, handle_prefix: "5678"}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C2614}
  - {name: 乙公司, credit_code: 91350100M000200Y1H, industry_code: C2614}
meters:
  - {code: a-main, quantity: energy, unit: kWh, enterprise: 91350100M000100Y43}
  - {code: a-gas, quantity: volume, unit: m3, enterprise: 91350100M000100Y43}
  - {code: b-main, quantity: energy, unit: kWh, enterprise: 91350100M000200Y1H}
"""
T0 = 1_735_660_800_000  # 2025-01-01T00:00:00+08:00
H = 3_600_000


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


def _values(db: str) -> dict[tuple[str, int], float]:
    with session(db) as s:
        rows = s.execute(select(Meter.code, Reading.ts_ms, Reading.value).join(Meter, Meter.id == Reading.meter_id))
        return {(c, t): v for c, t, v in rows}


def test_long_csv_with_bad_rows(park: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "long.csv"
    csv_file.write_text(
        "\ufeffMeter, ts ,value,unit\n"
        "a-main,2025-01-01T00:00:00,10,kWh\n"
        "a-main,2025-01-01T01:00:00,0.02,MWh\n"  # 20 kWh
        "a-gas,2025-01-01T00:00:00,1.5,万立方米\n"  # 15 000 m3
        "a-main,2025-01-01T02:00:00,abc,kWh\n"
        "zz,2025-01-01T02:00:00,1,kWh\n"
        "a-main,2025-01-01T03:00:00\n"
        "\n"
        "a-main,2025-01-01T00:00:00,10,kWh\n",  # the first row again
        encoding="utf-8",
    )
    rf, result = import_readings_file(park, csv_file)
    assert rf.layout == "long"
    assert (result.sent, result.accepted, result.duplicates) == (7, 3, 1)
    assert result.quarantined == [(3, "bad_value"), (4, "unknown_meter"), (5, "malformed")]
    assert _values(park) == {("a-main", T0): 10.0, ("a-main", T0 + H): 20.0, ("a-gas", T0): 15_000.0}
    with session(park) as s:
        raws = s.scalars(select(Quarantined.raw).order_by(Quarantined.id)).all()
    assert '"line": 5' in raws[0] and raws[2].startswith("line 7:")
    status = registry_status(park)
    assert status["readings"] + status["quarantined"] + status["duplicates"] == 7


def test_wide_xlsx_and_the_cli(park: str, tmp_path: Path) -> None:
    with session(park) as s:
        handle = s.scalar(select(Meter.handle).where(Meter.code == "b-main"))
    book = Workbook()
    sheet = book.active
    sheet.append(["ts", "a-main", handle])
    sheet.append(["2025-01-01T00:00:00", 1.5, 2.5])
    sheet.append(["2025-01-01T01:00:00", None, 3])  # an empty cell is no reading
    path = tmp_path / "wide.xlsx"
    book.save(path)
    run = CliRunner().invoke(cli, ["import", "readings", str(path), "--db", park, "--json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert (doc["layout"], doc["sent"], doc["accepted"], doc["quarantined"]) == ("wide", 3, 3, 0)
    assert _values(park) == {("a-main", T0): 1.5, ("b-main", T0): 2.5, ("b-main", T0 + H): 3.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n", encoding="utf-8")
    run = CliRunner().invoke(cli, ["import", "readings", str(bad), "--db", park])
    assert run.exit_code == 1
    assert "meter,ts,value" in run.stderr


def test_rest_post_readings_with_a_device_key(park: str) -> None:
    settings = SecuritySettings(secret_key="k" * 48)
    with session(park) as s:
        _, key = add_api_key(s, settings, "gw-a", "tester", enterprise="91350100M000100Y43")
    client = TestClient(create_app(park, settings))
    one = {"meter": "a-main", "ts": "2025-01-01T00:00:00+08:00", "value": 12.5, "unit": "kWh"}
    r = client.post("/api/readings", json=one, headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0, "quarantined": []}
    batch = {
        "readings": [
            one,  # again: a duplicate
            {"meter": "a-main", "ts": T0 + H, "value": 3, "unit": "t"},  # mass for an energy meter
            {"meter": "b-main", "ts": T0, "value": 1},  # another enterprise's meter
            {"meter": "a-gas", "ts": T0, "value": 2},
            {"meter": "a-main", "ts": T0, "value": 99},  # a different value for a stored (meter, ts)
        ]
    }
    r = client.post("/api/readings", json=batch, headers={"X-API-Key": key})
    assert r.json() == {
        "accepted": 1,
        "duplicates": 1,
        "quarantined": [
            {"index": 1, "reason": "wrong_unit"},
            {"index": 2, "reason": "out_of_scope"},
            {"index": 4, "reason": "conflict"},
        ],
    }
    assert client.post("/api/readings", json=one).status_code == 401
    assert _values(park) == {("a-main", T0): 12.5, ("a-gas", T0): 2.0}
