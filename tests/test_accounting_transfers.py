"""Energy and CO2 transfers between park enterprises (issue 4 item 4b, item 5) on SQLite and PostgreSQL.

Hand calculation (factor rows of the packaged library):

* national grid, ETS reporting factor for 2025: 0.5703 tCO2/MWh (MEE notice, row
  ``grid:ets_report:national:2022``, used for 2022 onward);
* purchased heat: 0.11 tCO2/GJ (NDRC 2015 guideline default, row ``ndrc2015:purchased_heat:emission_factor``);
* the CHP's coal, with its own measured parameters: 10,000 t × 20.908 GJ/t × 26.37 tC/TJ × 0.94 × 44/12
  (GB/T 32151 fuel-combustion formula ``AD × NCV × CC × OF × 44/12``) = 19,002.0617... tCO2.

CHP 热电公司 sells 1,000 MWh of electricity to 乙公司 and 5,000 GJ of steam to 丙公司 in 2025:

* seller: 19,002.06 − 1,000 × 0.5703 − 5,000 × 0.11 = 19,002.06 − 570.3 − 550 (GB/T 32150-2015:
  exported power and heat deducted at the sender);
* 乙公司: + 570.3 (scope 2); 丙公司: + 550 (scope 2);
* park (formula (3)): 19,002.06 − 1,120.3 + 570.3 + 550 = 19,002.06; each transfer line in the
  reconciliation removes buyer − seller-deducted = 0, so nothing is counted twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.services import accounting as acc
from carbonpark.services import activity as act
from carbonpark.services import transfers as tr
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import AuditEntry, Enterprise
from carbonpark.store.schema_accounting import ActivityDatum
from carbonpark.store.schema_transfers import EnergyTransferRecord

CHP, B, C = "91350100M000100Y43", "91350100M000200Y4T", "91350100M000300Y4J"
REGISTRY = f"""
park: {{name: 测试园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 热电公司, credit_code: {CHP}, industry_code: D4411}}
  - {{name: 乙公司, credit_code: {B}, industry_code: C2614}}
  - {{name: 丙公司, credit_code: {C}, industry_code: C2614}}
"""
EF_GRID = 0.5703  # tCO2/MWh, national ETS reporting factor (2022 onward)
EF_HEAT = 0.11  # tCO2/GJ, NDRC 2015 default for purchased heat
COAL_T = 10_000 * 20.908 * 26.37e-3 * 0.94 * 44 / 12  # t × GJ/t × tC/GJ × OF × 44/12 = 19002.0617...
ELEC = 1_000 * EF_GRID  # 570.3
STEAM = 5_000 * EF_HEAT  # 550.0
TRANSFERS = f"""seller,buyer,carrier,period,amount,unit,meter,evidence
{CHP},乙公司,electricity,2025,1000,MWh,,supply contract 2025-E-01
热电公司,{C},steam,2025,5000,GJ,,steam invoices 2025
"""


def rel(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "park.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    with session(db_url) as s:
        chp = s.scalars(select(Enterprise).where(Enterprise.credit_code == CHP)).one()
        act.add_manual_activity(
            s,
            label="燃煤锅炉",
            period="2025",
            activity="raw_coal",
            amount=10_000,
            unit="t",
            enterprise_id=chp.id,
            params={
                "ncv": 20.908,
                "ncv_unit": "GJ/t",
                "carbon_content": 26.37,
                "carbon_content_unit": "tC/TJ",
                "oxidation_rate": 0.94,
            },
        )
    return db_url


def _write(tmp_path: Path, text: str, name: str = "transfers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _stored(db: str) -> tuple[int, int]:
    with session(db) as s:
        n_rec = int(s.scalar(select(func.count()).select_from(EnergyTransferRecord)) or 0)
        n_dat = int(
            s.scalar(select(func.count()).select_from(ActivityDatum).where(ActivityDatum.origin == "transfer")) or 0
        )
    return n_rec, n_dat


def test_chp_sells_power_and_steam_seller_buyers_and_park(park: str, tmp_path: Path) -> None:
    db = park
    result = tr.import_transfers(db, _write(tmp_path, TRANSFERS), "tester")
    assert result["created"] == 2 and result["updated"] == 0
    assert _stored(db) == (2, 4)  # one record and two activity data (seller, buyer) per transfer

    seller = acc.account_stored(db, CHP, "2025")
    # 19002.06 − 570.3 − 550 (exports deducted at the sender, GB/T 32150-2015)
    assert rel(seller["total_tco2e"], COAL_T - ELEC - STEAM)
    assert rel(seller["by_scope"]["1"], COAL_T)
    assert rel(seller["by_scope"]["2"], -(ELEC + STEAM))
    exports = {r["activity"]: r for r in seller["rows"] if r["tco2e"] < 0}
    assert rel(exports["grid_electricity"]["tco2e"], -ELEC)
    assert rel(exports["purchased_heat"]["tco2e"], -STEAM)
    assert "grid:ets_report:national:2022" in exports["grid_electricity"]["factor_ids"]

    b = acc.account_stored(db, "乙公司", "2025")
    assert rel(b["total_tco2e"], ELEC) and rel(b["by_scope"]["2"], ELEC)  # 570.3, scope 2
    c = acc.account_stored(db, C, "2025")
    assert rel(c["total_tco2e"], STEAM) and rel(c["by_category"]["2"], STEAM)  # 550, ISO category 2

    whole = acc.account_stored(db, "park", "2025")
    section = whole["park"]
    # formula (3): the coal once; 19002.06 − 1120.3 + 570.3 + 550
    assert rel(section["total_tco2e"], COAL_T)
    assert rel(section["terms"]["enterprises"], COAL_T)
    assert rel(section["transfer_adjustment_tco2e"], 0.0)
    # the park total equals the sum of the three enterprises' own totals (no transfer counted twice)
    assert rel(section["total_tco2e"], seller["total_tco2e"] + b["total_tco2e"] + c["total_tco2e"])
    moves = {(t["carrier"], t["buyer"]): t for t in section["transfers"]}
    assert set(moves) == {("electricity", b["org"]), ("steam", c["org"])}
    assert rel(moves[("electricity", b["org"])]["buyer_tco2e"], ELEC)
    assert rel(moves[("electricity", b["org"])]["seller_deducted_tco2e"], ELEC)
    assert rel(moves[("steam", c["org"])]["seller_deducted_tco2e"], STEAM)
    lines = [line for line in section["reconciliation"] if "transfer" in line["label"]]
    assert len(lines) == 2
    assert all(rel(line["tco2e"], 0.0) and rel(line["running_total_tco2e"], COAL_T) for line in lines)
    assert "1000 MWh" in lines[0]["label"] or "1000 MWh" in lines[1]["label"]


def test_park_pv_and_co2_product(park: str, tmp_path: Path) -> None:
    """The park's PV sells 100 MWh to 丙公司 in March; the CHP sells 200 t of CO2 as a product to 乙公司.

    PV: park −57.03 (park energy), 丙公司 +57.03, so the park total keeps no PV emission.
    CO2: CHP −200 (R_CO2回收, MEE chemical-industry guideline), 乙公司 +200 (scope 1, released);
    park: 19002.06 − 200 + 200 − 57.03 + 57.03 = 19002.06.
    """
    db = park
    text = f"""seller,buyer,carrier,period,amount,unit
park,丙公司,电力,2025-03,100,MWh
{CHP},{B},co2,2025,200000,kg
"""
    tr.import_transfers(db, _write(tmp_path, text), "tester")
    seller = acc.account_stored(db, CHP, "2025")
    assert rel(seller["total_tco2e"], COAL_T - 200.0)
    assert rel(seller["by_gas"]["CO2"]["mass_t"], COAL_T - 200.0)
    b = acc.account_stored(db, B, "2025")
    assert rel(b["by_scope"]["1"], 200.0)
    c = acc.account_stored(db, C, "2025")
    assert rel(c["by_scope"]["2"], 100 * EF_GRID)  # 57.03
    section = acc.account_stored(db, "park", "2025")["park"]
    assert rel(section["terms"]["park_energy"], -100 * EF_GRID)
    assert rel(section["total_tco2e"], COAL_T)
    carriers = sorted(t["carrier"] for t in section["transfers"])
    assert carriers == ["co2", "electricity"]
    # a March park run sees the monthly PV transfer only (the yearly CO2 record does not fit a month)
    march = acc.account_stored(db, "park", "2025-03")["park"]
    assert [t["carrier"] for t in march["transfers"]] == ["electricity"]
    assert rel(march["total_tco2e"], 0.0)


BAD_LINES = [
    ("丁公司,乙公司,electricity,2025,10,MWh", "line 2, column seller"),  # unknown enterprise
    (f"{CHP},乙公司,electricity,2025,10,t", "line 2, column unit"),  # tonnes are not energy
    (f"{CHP},乙公司,steam,2025,-10,GJ", "line 2, column amount"),  # negative amount
    (f"{CHP},乙公司,electricity,2025-13,10,MWh", "line 2, column period"),  # no month 13
    (f"{CHP},{CHP},electricity,2025,10,MWh", "line 2, column buyer"),  # seller = buyer
    (f"{CHP},乙公司,oil,2025,10,t", "line 2, column carrier"),  # not a carrier
    (f"{CHP},乙公司,electricity,2025,1000,MWh", "line 2"),  # the same transfer twice (line 1 has it)
]


def test_bad_rows_name_the_line_and_store_nothing(park: str, tmp_path: Path) -> None:
    db = park
    for n, (bad_line, needle) in enumerate(BAD_LINES):
        text = f"seller,buyer,carrier,period,amount,unit\n{CHP},乙公司,electricity,2025,1000,MWh\n{bad_line}\n"
        with pytest.raises(ValidationError) as info:
            tr.import_transfers(db, _write(tmp_path, text, f"bad{n}.csv"), "tester")
        assert needle in str(info.value), (bad_line, str(info.value))
        assert _stored(db) == (0, 0)  # the good first line is not stored either


def test_reimport_updates_with_audit_and_locked_period_is_not_changed(park: str, tmp_path: Path) -> None:
    db = park
    tr.import_transfers(db, _write(tmp_path, TRANSFERS), "tester")
    changed = TRANSFERS.replace(",1000,MWh", ",2000,MWh")
    result = tr.import_transfers(db, _write(tmp_path, changed, "v2.csv"), "tester")
    assert result == {"created": 0, "updated": 2, "ids": result["ids"]}
    assert _stored(db) == (2, 4)  # updated in place, nothing added
    with session(db) as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.entity == "energy_transfers"))]
    assert sorted(actions) == ["create", "create", "update", "update"]
    first = acc.account_stored(db, CHP, "2025")
    assert rel(first["total_tco2e"], COAL_T - 2 * ELEC - STEAM)  # 2000 MWh now
    acc.lock_period(db, CHP, "2025")
    with session(db) as s:
        assert acc.is_period_locked(
            s, s.scalars(select(Enterprise.id).where(Enterprise.credit_code == CHP)).one(), 2025
        )
    with pytest.raises(ValidationError, match=r"line 1, column seller.*locked"):
        tr.import_transfers(db, _write(tmp_path, TRANSFERS, "v3.csv"), "tester")
    assert [r["amount"] for r in tr.list_transfers(db, CHP) if r["carrier"] == "electricity"] == [2000.0]
    again = acc.account_stored(db, CHP, "2025")
    assert again["locked"] and rel(again["total_tco2e"], first["total_tco2e"])


def test_cli_import_and_list(park: str, tmp_path: Path) -> None:
    db = park
    runner = CliRunner()
    out = runner.invoke(app, ["account", "transfers", "import", str(_write(tmp_path, TRANSFERS)), "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["created"] == 2
    listed = runner.invoke(app, ["account", "transfers", "list", "--db", db, "--org", "乙公司", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["carrier"], r["amount"], r["unit"]) for r in rows] == [("electricity", 1000.0, "MWh")]
    bad = runner.invoke(
        app,
        ["account", "transfers", "import", str(_write(tmp_path, TRANSFERS.replace("MWh", "t"), "bad.csv")), "--db", db],
    )
    assert bad.exit_code == 1 and "line 1, column unit" in bad.output
    assert bad.stdout == "" or "line 1" not in bad.stdout
