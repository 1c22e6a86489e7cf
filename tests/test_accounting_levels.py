"""Stored accounting rolled up by site, workshop and device (issue 4 item 4), and a full stored year.

Factors, as in tests/test_accounting_stored.py: electricity 0.5703 tCO2/MWh (MEE ETS reporting
notice, national grid factor from 2022 on); natural gas NCV 389.31 GJ/10^4 Nm3, CC 15.3 tC/TJ,
OF 0.99 (NDRC 2015 guideline default table, GB/T 32151), CO2 = AD × NCV × CC × OF × 44/12;
HFC-134a GWP 1300 (IPCC AR5 WG1 table 8.A.1). Every expected figure is worked out in the comments.
"""

from __future__ import annotations

import calendar
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.accounting.aggregation import UNPLACED, level_labels
from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.services import accounting as acc
from carbonpark.services import activity as act
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Meter
from carbonpark.store.schema_accounting import ActivityDatum, EmissionRecord
from carbonpark.times import parse_timestamp

TZ = "Asia/Shanghai"
A = "91350100M000100Y43"
B = "91350100M000200Y1H"
EF_GRID = 0.5703  # tCO2/MWh
GAS_T_PER_NM3 = 389.31 / 1e4 * 15.3e-3 * 0.99 * 44 / 12  # GJ/Nm3 × tC/GJ × OF × 44/12
ENT_A, ENT_B = "88.5678/ent.1", "88.5678/ent.2"
S1, W1, S2, SB = "88.5678/site.1", "88.5678/site.2", "88.5678/site.3", "88.5678/site.4"
D1, D2 = "88.5678/dev.1", "88.5678/dev.2"
# Enterprise A: two sites with two meters each. Site 1: meter a-1 on device 1 (compressor),
# meter a-2 in workshop 1. Site 2: meter a-3 on the site, meter a-4 on device 2 (boiler), which
# is on site 2 (the meter names no site: it is found through the device). Enterprise B has one
# site and a meter that names none (it stands on B's only site).
LEVELS_REGISTRY = f"""
park: {{name: 层级园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲公司, credit_code: {A}, industry_code: C2614}}
  - {{name: 乙公司, credit_code: {B}, industry_code: C3130}}
sites:
  - {{name: 一厂区, kind: site, enterprise: {A}}}
  - {{name: 1号车间, kind: workshop, enterprise: {A}, parent: "1"}}
  - {{name: 二厂区, kind: site, enterprise: {A}}}
  - {{name: 乙厂区, kind: site, enterprise: {B}}}
devices:
  - {{name: 空压机, kind: compressor, site: "1", enterprise: {A}}}
  - {{name: 燃气锅炉, kind: gas_boiler, site: "3", enterprise: {A}}}
meters:
  - {{code: a-1, quantity: energy, unit: kWh, enterprise: {A}, site: "1", device: "1"}}
  - {{code: a-2, quantity: energy, unit: kWh, enterprise: {A}, site: "2"}}
  - {{code: a-3, quantity: energy, unit: kWh, enterprise: {A}, site: "3"}}
  - {{code: a-4, quantity: volume, unit: Nm3, enterprise: {A}, device: "2"}}
  - {{code: b-1, quantity: energy, unit: kWh, enterprise: {B}}}
sources:
  - {{name: 空压机用电, enterprise: {A}, activity: purchased_electricity, scope: 2, category: 2, meter: a-1}}
  - {{name: 车间用电, enterprise: {A}, activity: purchased_electricity, scope: 2, category: 2, meter: a-2}}
  - {{name: 二厂区用电, enterprise: {A}, activity: purchased_electricity, scope: 2, category: 2, meter: a-3}}
  - {{name: 锅炉天然气, enterprise: {A}, activity: natural_gas, scope: 1, meter: a-4}}
  - {{name: 乙公司用电, enterprise: {B}, activity: purchased_electricity, scope: 2, category: 2, meter: b-1}}
"""
# One hourly reading each (interval meters), 2025-03-01 00:00 local.
AMOUNTS = {"a-1": 1000.0, "a-2": 2000.0, "a-3": 500.0, "a-4": 100.0, "b-1": 4000.0}  # kWh, Nm3
T_A1 = 1.0 * EF_GRID  # 1000 kWh = 1 MWh × 0.5703 = 0.5703 t
T_A2 = 2.0 * EF_GRID  # 1.1406 t
T_A3 = 0.5 * EF_GRID  # 0.28515 t
T_A4 = 100 * GAS_T_PER_NM3  # 100 Nm3 × 0.0021621… t/Nm3 = 0.21621… t
T_B1 = 4.0 * EF_GRID  # 2.2812 t
T_HAND = 2 * 1.3  # 2 kg HFC-134a × 1300 = 2.6 tCO2e, entered by hand, no site


def _import(db: str, tmp_path: Path, text: str) -> dict[str, int]:
    upgrade(db)
    path = tmp_path / "park.yaml"
    path.write_text(text, encoding="utf-8")
    import_registry(db, path, "tester")
    with session(db) as s:
        return {m.code: m.id for m in s.scalars(select(Meter))}


@pytest.fixture
def levels_park(db_url: str, tmp_path: Path) -> str:
    ids = _import(db_url, tmp_path, LEVELS_REGISTRY)
    at = parse_timestamp("2025-03-01T00:00", TZ)
    insert_readings(connect(db_url), [(ids[code], at, value, 0) for code, value in AMOUNTS.items()])
    with session(db_url) as s:
        act.add_manual_activity(
            s, label="制冷剂补充", period="2025", activity="hfc_134a", amount=2, unit="kg", enterprise_id=1
        )
    return db_url


def test_level_labels_walk_the_site_tree() -> None:
    sites = {1: ("S", "site", None), 2: ("B", "building", 1), 3: ("W", "workshop", 2), 4: ("L", "site", 5)}
    # a meter in workshop W (inside building B, inside site S) on device D
    assert level_labels(3, sites, "D") == {"site": "S", "workshop": "W", "device": "D"}
    # a meter on the building: site S, no workshop above it, no device
    assert level_labels(2, sites) == {"site": "S", "workshop": UNPLACED, "device": UNPLACED}
    assert level_labels(None, sites) == {"site": UNPLACED, "workshop": UNPLACED, "device": UNPLACED}
    with pytest.raises(ValidationError, match="site ids"):
        level_labels(4, sites)  # its parent 5 is not a site of the park
    with pytest.raises(ValidationError, match="no loop"):
        level_labels(1, {1: ("X", "site", 2), 2: ("Y", "site", 1)})


def test_stored_results_roll_up_by_site_workshop_and_device(levels_park: str) -> None:
    db = levels_park
    doc = acc.account_stored(db, A, "2025")
    total_a = T_A1 + T_A2 + T_A3 + T_A4 + T_HAND  # 0.5703 + 1.1406 + 0.28515 + 0.21621… + 2.6 = 4.81226… t
    assert doc["total_tco2e"] == pytest.approx(total_a, rel=1e-9)
    levels = doc["by_level"]
    assert levels["enterprise"] == pytest.approx({ENT_A: total_a}, rel=1e-9)
    # site 1 = a-1 + a-2 = 3 MWh × 0.5703 = 1.7109 t; site 2 = a-3 + a-4; the refrigerant has no site
    assert levels["site"] == pytest.approx(
        {f"{ENT_A}/{S1}": T_A1 + T_A2, f"{ENT_A}/{S2}": T_A3 + T_A4, f"{ENT_A}/{UNPLACED}": T_HAND}, rel=1e-9
    )
    assert levels["workshop"] == pytest.approx(
        {
            f"{ENT_A}/{S1}/{W1}": T_A2,
            f"{ENT_A}/{S1}/{UNPLACED}": T_A1,
            f"{ENT_A}/{S2}/{UNPLACED}": T_A3 + T_A4,
            f"{ENT_A}/{UNPLACED}/{UNPLACED}": T_HAND,
        },
        rel=1e-9,
    )
    assert levels["device"] == pytest.approx(
        {
            f"{ENT_A}/{S1}/{UNPLACED}/{D1}": T_A1,
            f"{ENT_A}/{S1}/{W1}/{UNPLACED}": T_A2,
            f"{ENT_A}/{S2}/{UNPLACED}/{UNPLACED}": T_A3,
            f"{ENT_A}/{S2}/{UNPLACED}/{D2}": T_A4,
            f"{ENT_A}/{UNPLACED}/{UNPLACED}/{UNPLACED}": T_HAND,
        },
        rel=1e-9,
    )
    for level in ("site", "workshop", "device"):  # every level adds up to the enterprise total
        assert sum(levels[level].values()) == pytest.approx(total_a, rel=1e-12)
    # the stored activity rows carry the places (handles of the registry)
    with session(db) as s:
        gas = s.scalars(select(ActivityDatum).where(ActivityDatum.activity == "natural_gas")).one()
        assert (gas.params["site"], gas.params["workshop"], gas.params["device"]) == (S2, UNPLACED, D2)
    # the records straight from the readings (no store) carry them too
    records, _gaps = act.activity_records(db, "2025")
    assert {r.source: (r.site, r.workshop, r.device) for r in records}["88.5678/src.2"] == (S1, W1, UNPLACED)


def test_park_roll_up_through_the_command_line(levels_park: str) -> None:
    db = levels_park
    res = CliRunner().invoke(app, ["account", "--db", db, "--org", "park", "--year", "2025", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    total = T_A1 + T_A2 + T_A3 + T_A4 + T_HAND + T_B1  # 4.81226… + 2.2812 = 7.09346… t
    assert doc["total_tco2e"] == pytest.approx(total, rel=1e-9)
    site = doc["by_level"]["site"]
    # enterprise B's meter names no site: it stands on B's only site
    assert site[f"{ENT_B}/{SB}"] == pytest.approx(T_B1, rel=1e-9)
    assert site[f"{ENT_A}/{S1}"] == pytest.approx(1.7109, rel=1e-9)
    for level in ("enterprise", "site", "workshop", "device"):
        assert sum(doc["by_level"][level].values()) == pytest.approx(total, rel=1e-12)


# ------------------------------------------------------------------ a full stored year
YEAR_REGISTRY = f"""
park: {{name: 全年园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲公司, credit_code: {A}, industry_code: C2614}}
sites:
  - {{name: 厂区, kind: site, enterprise: {A}}}
meters:
  - {{code: day-el, quantity: energy, unit: kWh, interval_minutes: 1440, enterprise: {A}, site: "1"}}
sources:
  - {{name: 外购电力, enterprise: {A}, activity: purchased_electricity, scope: 2, category: 2, meter: day-el}}
"""


def test_a_full_stored_year_gives_twelve_months_that_add_up(db_url: str, tmp_path: Path) -> None:
    ids = _import(db_url, tmp_path, YEAR_REGISTRY)
    # a daily meter: every day of 2025 reads its month's number in kWh (1 in January … 12 in December)
    day, rows = date(2025, 1, 1), []
    while day.year == 2025:
        rows.append((ids["day-el"], parse_timestamp(f"{day.isoformat()}T00:00", TZ), float(day.month), 0))
        day += timedelta(days=1)
    assert len(rows) == 365
    insert_readings(connect(db_url), rows)
    doc = acc.account_stored(db_url, A, "2025")
    # Σ days × month = 31·1 + 28·2 + 31·3 + 30·4 + 31·5 + 30·6 + 31·7 + 31·8 + 30·9 + 31·10 + 30·11 + 31·12
    #               = 2382 kWh = 2.382 MWh × 0.5703 = 1.3584546 tCO2
    assert doc["total_tco2e"] == pytest.approx(1.3584546, rel=1e-9)
    with session(db_url) as s:
        data = list(s.scalars(select(ActivityDatum).order_by(ActivityDatum.start_ms)))
        records = list(s.scalars(select(EmissionRecord).order_by(EmissionRecord.start_ms)))
    assert [d.period for d in data] == [f"2025-{m:02d}" for m in range(1, 13)]
    for m, d in enumerate(data, start=1):
        days = calendar.monthrange(2025, m)[1]
        assert (d.amount, d.n_readings, d.expected_readings) == (days * m, days, days)
    assert sum(d.amount for d in data) == 2382.0
    assert len(records) == len(doc["rows"]) == 12
    assert sum(r.tco2e for r in records) == pytest.approx(doc["total_tco2e"], rel=1e-12)
    assert [r.period for r in records] == [d.period for d in data]
    assert doc["by_level"]["site"] == pytest.approx({f"{ENT_A}/{S1}": 1.3584546}, rel=1e-9)
