"""Accounting over stored data (issue 4 item 7, issue 5 item 6) on SQLite and PostgreSQL.

A tiny park with hand-made readings; every figure is computed by hand in the comments:
electricity 0.5703 tCO2/MWh (MEE ETS reporting notice, national grid 2022 onward); natural gas
NCV 389.31 GJ/10^4 Nm3, CC 15.3 tC/TJ, OF 0.99 (NDRC 2015 guideline default table,
GB/T 32151), CO2 = AD × NCV × CC × OF × 44/12.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.services import accounting as acc
from carbonpark.services import activity as act
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Meter
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum, EmissionRecord
from carbonpark.times import parse_timestamp

TZ = "Asia/Shanghai"
CREDIT = "91350100M000100Y43"
REGISTRY = f"""
park: {{name: 测试园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲公司, credit_code: {CREDIT}, industry_code: C2614}}
meters:
  - {{code: m-el, quantity: energy, unit: kWh, enterprise: {CREDIT}}}
  - {{code: m-pv, quantity: energy, unit: kWh, enterprise: {CREDIT}}}
  - {{code: m-net, quantity: energy, unit: kWh, enterprise: {CREDIT}}}
  - {{code: m-gas, quantity: volume, unit: Nm3, reading_kind: cumulative, rollover: 10000, enterprise: {CREDIT}}}
sources:
  - {{name: 外购电力, enterprise: {CREDIT}, activity: purchased_electricity, scope: 2, category: 2, meter: m-el}}
  - {{name: 天然气锅炉, enterprise: {CREDIT}, activity: natural_gas, scope: 1, meter: m-gas}}
  - {{name: 制冷剂, enterprise: {CREDIT}, activity: hfc_134a, scope: 1}}
"""
EF_GRID = 0.5703  # tCO2/MWh
GAS_T_PER_NM3 = 389.31 / 1e4 * 15.3e-3 * 0.99 * 44 / 12  # GJ/Nm3 × tC/GJ × OF × 44/12


def ts(text: str) -> int:
    return parse_timestamp(text, TZ)


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> tuple[str, dict[str, int]]:
    upgrade(db_url)
    path = tmp_path / "park.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    with session(db_url) as s:
        ids = {m.code: m.id for m in s.scalars(select(Meter))}
    # electricity: 100 + 200 kWh in January, 300 + 400 in February (the 400 flagged: suspect spike, quality 4)
    # gas register: 9990 → 5 (wraps at 10000) over three hours → 25: January 5 Nm3 (estimated), February 30 (10 est.)
    rows = [
        (ids["m-el"], ts("2025-01-31T22:00"), 100.0, 0),
        (ids["m-el"], ts("2025-01-31T23:00"), 200.0, 0),
        (ids["m-el"], ts("2025-02-01T00:00"), 300.0, 0),
        (ids["m-el"], ts("2025-02-01T01:00"), 400.0, 4),
        (ids["m-pv"], ts("2025-01-31T22:00"), 30.0, 0),
        (ids["m-gas"], ts("2025-01-31T22:00"), 9990.0, 0),
        (ids["m-gas"], ts("2025-02-01T01:00"), 5.0, 0),
        (ids["m-gas"], ts("2025-02-01T02:00"), 25.0, 0),
    ]
    insert_readings(connect(db_url), rows)
    return db_url, ids


def _data(db: str) -> dict[tuple[str, str], ActivityDatum]:
    with session(db) as s:
        return {(d.source_label, d.period): d for d in s.scalars(select(ActivityDatum))}


def test_monthly_activity_data_and_the_stored_year(park: tuple[str, dict[str, int]]) -> None:
    db, _ids = park
    result = act.aggregate_sources(db, "2025", "month")
    reasons = {g["activity"]: g for g in result.gaps}
    assert reasons["hfc_134a"]["reason"] == "no meter"
    # months without readings are gaps, never zeros
    assert reasons["purchased_electricity"]["periods"] == [f"2025-{m:02d}" for m in range(3, 13)]
    data = _data(db)
    el = {p: d for (src, p), d in data.items() if d.activity == "grid_electricity"}
    gas = {p: d for (src, p), d in data.items() if d.activity == "natural_gas"}
    assert (el["2025-01"].amount, el["2025-02"].amount) == (300.0, 700.0) and "2025-03" not in el
    assert el["2025-02"].flagged_amount == 400.0 and el["2025-01"].n_readings == 2
    assert el["2025-01"].expected_readings == 31 * 24
    assert gas["2025-01"].amount == pytest.approx(5.0) and gas["2025-01"].estimated_amount == pytest.approx(5.0)
    assert gas["2025-02"].amount == pytest.approx(30.0) and gas["2025-02"].estimated_amount == pytest.approx(10.0)
    assert len(data) == 2 * 2
    # the enterprise's year, accounted from those data and stored as emission records with lineage
    doc = acc.account_stored(db, CREDIT, "2025")
    # electricity 1000 kWh = 1 MWh × 0.5703; gas 35 Nm3 × 389.31e-4 GJ/Nm3 × 0.0153 × 0.99 × 44/12
    assert doc["total_tco2e"] == pytest.approx(1.0 * EF_GRID + 35 * GAS_T_PER_NM3, rel=1e-9)
    assert doc["by_scope"]["2"] == pytest.approx(EF_GRID, rel=1e-9)
    assert doc["by_category"]["1"] == pytest.approx(35 * GAS_T_PER_NM3, rel=1e-9)
    assert set(doc) >= {
        "factor_set", "gwp", "total_tco2e", "removals_tco2e", "biogenic_co2_t", "scope2_market_tco2e",
        "by_gas", "by_scope", "by_category", "energy_tce", "energy_tce_equal_value", "rows",
    }  # fmt: skip
    assert doc["org"].startswith("88.5678/ent.") and doc["period"] == "2025" and doc["gwp"] == "AR5"
    feb_el = next(r for r in doc["rows"] if r["period"] == "2025-02" and r["activity"] == "grid_electricity")
    assert feb_el["tco2e"] == pytest.approx(0.7 * EF_GRID, rel=1e-9)
    assert feb_el["flagged_share"] == pytest.approx(400 / 700)
    assert feb_el["factor_ids"][0].startswith("grid:ets_report:national") and feb_el["factor_ids"][-1] == "gwp:AR5:CO2"
    assert feb_el["factors"][0]["source"] and feb_el["formula"].startswith("E = AD × EF_grid")
    jan_gas = next(r for r in doc["rows"] if r["period"] == "2025-01" and r["activity"] == "natural_gas")
    assert jan_gas["estimated_share"] == 1.0
    # the run's overall share: |tCO2e| resting on flagged readings = Feb electricity only
    assert doc["quality"]["flagged_share"] == pytest.approx(0.4 * EF_GRID / doc["total_tco2e"], rel=1e-9)
    with session(db) as s:
        records = s.scalars(select(EmissionRecord)).all()
        assert len(records) == len(doc["rows"]) == 4  # 2 sources × 2 months with readings, CO2 only
        assert all(r.handle == f"88.5678/emission.{r.id}" and r.activity_datum_id for r in records)
    # re-running replaces the run's records: still one run and 4 records
    acc.account_stored(db, CREDIT, "2025", gwp_set="AR6")
    with session(db) as s:
        assert s.scalar(select(func.count()).select_from(AccountingRun)) == 1
        assert s.scalar(select(func.count()).select_from(EmissionRecord)) == 4
        assert set(s.scalars(select(EmissionRecord.gwp_set))) == {"AR6"}


def test_late_data_recompute_only_affected_periods_until_locked(park: tuple[str, dict[str, int]]) -> None:
    db, ids = park
    acc.account_stored(db, CREDIT, "2025")
    before = _data(db)
    insert_readings(connect(db), [(ids["m-el"], ts("2025-01-15T10:00"), 50.0, 0)])
    out = act.reaggregate_late(db, {ids["m-el"]: [ts("2025-01-15T10:00")]})
    assert out["rewritten"] == 1 and out["reaccounted"] == [{"org": "88.5678/ent.1", "period": "2025"}]
    after = _data(db)
    el_jan = next(d for (s, p), d in after.items() if p == "2025-01" and d.activity == "grid_electricity")
    assert el_jan.amount == 350.0
    changed = {k for k in after if after[k].computed_ms != before[k].computed_ms}
    assert len(changed) == 1  # only January of the electricity source was rewritten
    doc = acc.stored_document(db, CREDIT, "2025")
    assert doc["total_tco2e"] == pytest.approx(1.05 * EF_GRID + 35 * GAS_T_PER_NM3, rel=1e-9)
    # once the year is submitted or verified it is frozen: late data change nothing in place
    first = doc
    acc.lock_period(db, CREDIT, "2025")
    insert_readings(connect(db), [(ids["m-el"], ts("2025-03-01T10:00"), 1000.0, 0)])
    out = act.reaggregate_late(db, {ids["m-el"]: [ts("2025-03-01T10:00")]})
    assert out["rewritten"] == 0 and out["skipped_locked"] and out["reaccounted"] == []
    again = acc.account_stored(db, CREDIT, "2025")
    assert again["locked"] is True and again["total_tco2e"] == first["total_tco2e"]
    with pytest.raises(ValidationError, match="not submitted or verified"), session(db) as s:
        act.add_manual_activity(s, label="x", period="2025", activity="diesel", amount=1, unit="t", enterprise_id=1)


def test_virtual_meter_manual_data_park_and_cli(park: tuple[str, dict[str, int]]) -> None:
    db, ids = park
    with session(db) as s:
        act.add_virtual_meter(s, "m-net", "{m-el} - {m-pv}")
        with pytest.raises(ValidationError, match="depends on itself"):
            act.add_virtual_meter(s, "m-net", "{m-el} - {m-net}")
    with pytest.raises(ValidationError, match="without readings"), session(db) as s:
        act.add_virtual_meter(s, "m-el", "{m-pv} * 2")
    with session(db) as s:
        from carbonpark.accounting.aggregation import period_buckets
        from carbonpark.times import period_bounds_ms

        buckets = period_buckets(*period_bounds_ms("2025", TZ), "month", TZ)
        net = act.meter_amounts(s, s.get(Meter, ids["m-net"]), buckets)
        assert net.amount[:2].tolist() == [300.0 - 30.0, 700.0]
        # February: 400 of the 700 kWh behind it are flagged
        assert net.flagged[1] == pytest.approx(400.0)
        # refrigerant refill entered by hand for the year: 2 kg HFC-134a × GWP 1300 (AR5) = 2.6 tCO2e
        act.add_manual_activity(
            s, label="制冷剂补充", period="2025", activity="hfc_134a", amount=2, unit="kg", enterprise_id=1
        )
    doc = acc.account_stored(db, CREDIT, "2025")
    assert doc["by_gas"]["HFC-134a"]["tco2e"] == pytest.approx(2.6, rel=1e-12)
    assert doc["total_tco2e"] == pytest.approx(EF_GRID + 35 * GAS_T_PER_NM3 + 2.6, rel=1e-9)
    # the whole park through the command line: the same figures, formula (3) and its gaps
    runner = CliRunner()
    res = runner.invoke(app, ["account", "--db", db, "--org", "park", "--year", "2025", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["org"] == "park"
    assert doc["total_tco2e"] == pytest.approx(EF_GRID + 35 * GAS_T_PER_NM3 + 2.6, rel=1e-9)
    assert doc["park"]["total_tco2e"] == pytest.approx(doc["total_tco2e"], rel=1e-12)
    assert "enterprises.materials" in doc["park"]["gaps"]  # a gap, never zero
    record = next(r["record_id"] for r in doc["rows"] if r["activity"] == "grid_electricity")
    res = runner.invoke(app, ["account", "--db", db, "--explain", str(record)])
    assert res.exit_code == 0, res.output
    assert "grid:ets_report:national" in res.stdout and "activity datum" in res.stdout and "GWP (AR5)" in res.stdout
    res = runner.invoke(app, ["account", "--db", db, "--org", "nobody", "--year", "2025", "--json"])
    assert res.exit_code == 1 and res.stdout == ""
    res = runner.invoke(app, ["account", "--db", db, "--org", "park", "--year", "2024", "--json"])
    assert res.exit_code == 1 and "activity data" in res.output
