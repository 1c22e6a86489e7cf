"""Late, out-of-order and corrected readings re-aggregated by the pipeline (issue 5 items 1 and 6).

Every ingest path (the batch API used by files and the field protocols, ``POST /api/readings``,
the MQTT handler) queues the ranges a committed batch stored in ``ingest_dirty_ranges`` and
drains the queue after the commit: the activity data of the touched periods and the stored
accounting runs over them follow. In a submitted year the data wait as pending corrections
that a new inventory version takes up. On SQLite and PostgreSQL.

Hand-computed figures: electricity 0.5703 tCO2/MWh (MEE ETS reporting notice, national grid
2022 onward, the factor ``carbonpark account`` uses); natural gas NCV 389.31 GJ/10^4 Nm3,
CC 15.3 tC/TJ, OF 0.99 (NDRC 2015 guideline default table, GB/T 32151),
CO2 = AD × NCV × CC × OF × 44/12. Interval readings count in the month of their timestamp; a
register advance counts in the month of the reading that closes it, spread evenly over the
hours of a gap (``carbonpark.accounting.aggregation``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from carbonpark.api.app import create_app
from carbonpark.ingest.model import RawReading
from carbonpark.ingest.mqtt import Message
from carbonpark.ledger import signing
from carbonpark.services import accounting as acc
from carbonpark.services import inventory as inv
from carbonpark.services import ledger as ledger_service
from carbonpark.services.auth import SecuritySettings, add_api_key
from carbonpark.services.ingest import (
    MqttHandler,
    drain_dirty,
    forget_meters,
    import_readings_file,
    ingest_readings,
    ingest_totals,
)
from carbonpark.services.registry_io import import_registry
from carbonpark.services.status import registry_status
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Reading
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum
from carbonpark.store.schema_ingest import DirtyRange, IngestBatch, ReadingCorrection
from test_accounting_stored import CREDIT, EF_GRID, GAS_T_PER_NM3, ts

REGISTRY = f"""
park: {{name: 测试园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲公司, credit_code: {CREDIT}, industry_code: C2614}}
meters:
  - {{code: m-el, quantity: energy, unit: kWh, enterprise: {CREDIT}}}
  - {{code: m-gas, quantity: volume, unit: Nm3, reading_kind: cumulative, enterprise: {CREDIT}}}
  - {{code: m-other, quantity: energy, unit: kWh}}
sources:
  - {{name: 外购电力, enterprise: {CREDIT}, activity: purchased_electricity, scope: 2, category: 2, meter: m-el}}
  - {{name: 天然气锅炉, enterprise: {CREDIT}, activity: natural_gas, scope: 1, meter: m-gas}}
"""


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "park.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


def _el(ts_text: str, value: float, *, correction: bool = False) -> RawReading:
    return RawReading("m-el", ts_text, value, "kWh", correction=correction)


def _data(db: str) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(activity, month) → (amount, estimated amount, computed ms) of the stored monthly data."""
    with session(db) as s:
        rows = s.scalars(select(ActivityDatum).where(ActivityDatum.resolution == "month"))
        return {(d.activity, d.period): (d.amount, d.estimated_amount, d.computed_ms) for d in rows}


def _run(db: str) -> tuple[float, int]:
    """Total [tCO2e] and computed ms of the enterprise's stored 2025 run."""
    with session(db) as s:
        run = s.scalars(select(AccountingRun).where(AccountingRun.period == "2025", AccountingRun.org != "park")).one()
        return run.total_tco2e, run.computed_ms


def _queued(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).select_from(DirtyRange)) or 0)


def _base(db: str) -> None:
    """January 1000 + 2000 kWh, February 1474 + 526 kWh (channel file), then the stored 2025 run."""
    first = [
        _el("2025-01-10T10:00", 1000),
        _el("2025-01-20T10:00", 2000),
        _el("2025-02-05T10:00", 1474),
        _el("2025-02-06T10:00", 526),
    ]
    assert ingest_readings(db, first, channel="file").accepted == 4
    acc.account_stored(db, CREDIT, "2025")
    data = _data(db)
    assert (data[("grid_electricity", "2025-01")][0], data[("grid_electricity", "2025-02")][0]) == (3000.0, 2000.0)
    assert _run(db)[0] == pytest.approx(5.0 * EF_GRID, rel=1e-12)  # 5 MWh × 0.5703


def test_late_corrected_and_duplicate_readings_in_activity_data_and_emissions(park: str) -> None:
    db = park
    _base(db)
    before, (_, run_ms) = _data(db), _run(db)
    # a late, out-of-order reading of January (after February's): January 3000 → 3500 kWh
    late = ingest_readings(db, [_el("2025-01-15T10:00", 500)], channel="file")
    assert late.accepted == 1
    after, (total, late_ms) = _data(db), _run(db)
    assert after[("grid_electricity", "2025-01")][0] == 3500.0
    assert after[("grid_electricity", "2025-01")][2] > before[("grid_electricity", "2025-01")][2]
    assert after[("grid_electricity", "2025-02")] == before[("grid_electricity", "2025-02")]  # not rewritten
    assert total == pytest.approx(5.5 * EF_GRID, rel=1e-12) and late_ms > run_ms  # 5.5 MWh × 0.5703
    # the correction of February: 1474 → 999999 kWh, so February = 999999 + 526 = 1 000 525 kWh
    fixed = ingest_readings(db, [_el("2025-02-05T10:00", 999_999, correction=True)], channel="opcua")
    assert fixed.corrected == 1
    after, (total, fixed_ms) = _data(db), _run(db)
    assert after[("grid_electricity", "2025-02")][0] == 1_000_525.0
    # (3500 + 1 000 525) kWh = 1004.025 MWh × 0.5703 tCO2/MWh = 572.5954575 t
    assert total == pytest.approx(1004.025 * EF_GRID, rel=1e-12) and fixed_ms > late_ms
    assert acc.stored_document(db, CREDIT, "2025")["total_tco2e"] == pytest.approx(572.5954575, rel=1e-12)
    # a duplicate (a redelivered reading) changes nothing: no datum and no run recomputed
    again = ingest_readings(db, [_el("2025-02-06T10:00", 526)], channel="file")
    assert (again.duplicates, again.accepted) == (1, 0)
    assert _data(db) == after and _run(db) == (total, fixed_ms)
    assert _queued(db) == 0


def test_rest_and_mqtt_batches_are_reaggregated_too(park: str) -> None:
    db = park
    _base(db)
    settings = SecuritySettings(secret_key="k" * 48)
    with session(db) as s:
        _, key = add_api_key(s, settings, "gw-a", "tester", enterprise=CREDIT)
    client = TestClient(create_app(db, settings))
    # POST /api/readings runs in the request's transaction: the drain runs after its commit
    body = {"meter": "m-el", "ts": "2025-01-31T23:00:00+08:00", "value": 250, "unit": "kWh"}
    r = client.post("/api/readings", json=body, headers={"X-API-Key": key})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert _data(db)[("grid_electricity", "2025-01")][0] == 3250.0
    assert _run(db)[0] == pytest.approx(5.25 * EF_GRID, rel=1e-12)
    # MQTT: the handler drains after a batch when the last drain is reaggregate_every_s ago (0 here)
    handler = MqttHandler(db, "t-reagg", reaggregate_every_s=0)
    doc = {"meter": "m-el", "ts": ts("2025-02-28T12:00"), "value": 0.5, "unit": "MWh"}
    handler([Message("gw/el", json.dumps(doc).encode(), 1, 1, False, False)])
    assert _data(db)[("grid_electricity", "2025-02")][0] == 2500.0  # 2000 + 500 kWh
    assert _run(db)[0] == pytest.approx(5.75 * EF_GRID, rel=1e-12) and handler.drains == 1
    # with a longer interval the ranges wait in the queue until finish() (the worker calls it when it stops)
    slow = MqttHandler(db, "t-reagg-slow", reaggregate_every_s=3600)
    doc = {"meter": "m-el", "ts": ts("2025-02-27T12:00"), "value": 100}
    slow([Message("gw/el", json.dumps(doc).encode(), 1, 1, False, False)])  # first batch: drains the backlog
    doc = {"meter": "m-el", "ts": ts("2025-02-26T12:00"), "value": 100}
    slow([Message("gw/el", json.dumps(doc).encode(), 2, 1, False, False)])
    assert _queued(db) == 1 and _data(db)[("grid_electricity", "2025-02")][0] == 2600.0
    slow.finish()
    assert _queued(db) == 0 and _data(db)[("grid_electricity", "2025-02")][0] == 2700.0
    assert _run(db)[0] == pytest.approx(5.95 * EF_GRID, rel=1e-12)


def test_a_file_import_is_reaggregated_after_its_last_chunk(park: str, tmp_path: Path) -> None:
    db = park
    _base(db)
    csv = tmp_path / "late.csv"
    lines = ["meter,ts,value,unit", "m-el,2025-01-11T10:00,100,kWh", "m-el,2025-01-12T10:00,0.2,MWh"]
    csv.write_text("\n".join([*lines, "m-el,2025-02-07T10:00,300,kWh"]) + "\n", encoding="utf-8")
    _rf, result = import_readings_file(db, csv, chunk=2)  # two transactions, one re-aggregation
    assert result.accepted == 3 and _queued(db) == 0
    data = _data(db)
    # January 3000 + 100 + 200 = 3300 kWh, February 2000 + 300 = 2300 kWh: 5.6 MWh × 0.5703
    assert (data[("grid_electricity", "2025-01")][0], data[("grid_electricity", "2025-02")][0]) == (3300.0, 2300.0)
    assert _run(db)[0] == pytest.approx(5.6 * EF_GRID, rel=1e-12)


def test_a_crash_between_commit_and_reaggregation_loses_nothing(park: str) -> None:
    db = park
    _base(db)
    # the batch commits with its queue row, then the process dies before draining (reaggregate=False)
    ingest_readings(db, [_el("2025-01-12T10:00", 400)], channel="modbus", reaggregate=False)
    assert _queued(db) == 1 and _data(db)[("grid_electricity", "2025-01")][0] == 3000.0
    # the next batch anywhere (here a meter that feeds no source) drains what was left
    ingest_readings(db, [RawReading("m-other", ts("2025-03-01T00:00"), 1.0)], channel="hj212")
    assert _queued(db) == 0 and _data(db)[("grid_electricity", "2025-01")][0] == 3400.0
    assert _run(db)[0] == pytest.approx(5.4 * EF_GRID, rel=1e-12)
    assert drain_dirty(db)["ranges"] == 0  # nothing left


def test_a_late_register_reading_moves_the_next_advance_across_the_month(park: str) -> None:
    db = park
    # register 100 (Jan 31 22:00), 110 (23:00), 130 (Feb 1 01:00), 135 (02:00): January = 110 − 100 = 10;
    # February = 20 over the two hours 00:00 and 01:00 (a gap: estimated) + 5 = 25 Nm3
    gas = [RawReading("m-gas", f"2025-{d}", v) for d, v in (("01-31T22:00", 100), ("01-31T23:00", 110))]
    gas += [RawReading("m-gas", f"2025-02-01T{h}", v) for h, v in (("01:00", 130), ("02:00", 135))]
    ingest_readings(db, gas, channel="file")
    ingest_readings(db, [_el("2025-01-10T10:00", 1000)], channel="file")
    acc.account_stored(db, CREDIT, "2025")
    data = _data(db)
    assert data[("natural_gas", "2025-01")][:2] == (10.0, 0.0)
    assert data[("natural_gas", "2025-02")][:2] == (25.0, 20.0)
    # the missing 00:00 register (118) arrives late: February's split is 8 + 12 + 5, none estimated
    ingest_readings(db, [RawReading("m-gas", "2025-02-01T00:00", 118)], channel="file")
    assert _data(db)[("natural_gas", "2025-02")][:2] == (25.0, 0.0)
    # correcting January's last register 110 → 104 moves 6 Nm3 from January (4) to February's
    # first advance (118 − 104 = 14): 4 Nm3 and 14 + 12 + 5 = 31 Nm3; the year's total stays 35 Nm3
    ingest_readings(db, [RawReading("m-gas", "2025-01-31T23:00", 104, correction=True)], channel="file")
    data = _data(db)
    assert (data[("natural_gas", "2025-01")][0], data[("natural_gas", "2025-02")][0]) == (4.0, 31.0)
    doc = acc.stored_document(db, CREDIT, "2025")
    feb_gas = next(r for r in doc["rows"] if r["period"] == "2025-02" and r["activity"] == "natural_gas")
    assert feb_gas["tco2e"] == pytest.approx(31 * GAS_T_PER_NM3, rel=1e-9)
    assert doc["total_tco2e"] == pytest.approx(1.0 * EF_GRID + 35 * GAS_T_PER_NM3, rel=1e-9)


def _submit(db: str, org: str, year: int) -> dict[str, Any]:
    for name in [st.key for st in inv.inventory.INVENTORY_STEPS][:9]:  # compilation saves the draft
        inv.step(db, org, year, name, "done", actor="admin", note=name)
    return inv.submit(db, org, year, actor="admin")


def test_pending_corrections_are_taken_up_by_a_new_inventory_version(park: str) -> None:
    db = park
    with session(db) as s:
        el_id = s.scalar(select(Meter.id).where(Meter.code == "m-el"))
    ingest_readings(
        db,
        [_el("2025-01-10T10:00", 1000), _el("2025-01-20T10:00", 2000), _el("2025-02-05T10:00", 1474)],
        channel="file",
    )
    acc.account_stored(db, CREDIT, "2025")
    org = acc.stored_document(db, CREDIT, "2025")["org"]
    submitted = _submit(db, org, 2025)
    # 4474 kWh = 4.474 MWh × 0.5703 tCO2/MWh
    assert submitted["total_tco2e"] == pytest.approx(4.474 * EF_GRID, rel=1e-12)
    # the year is submitted: late and corrected data wait, nothing in place changes
    held = ingest_readings(
        db,
        [
            _el("2025-01-25T10:00", 300),  # late
            _el("2025-02-05T10:00", 999_999, correction=True),  # a correction ...
        ],
        channel="file",
    )
    fixed_again = ingest_readings(db, [_el("2025-02-05T10:00", 2474, correction=True)], channel="rest")  # ... fixed
    redelivered = ingest_readings(db, [_el("2025-01-25T10:00", 300)], channel="mqtt")
    conflicting = ingest_readings(db, [_el("2025-01-25T10:00", 301)], channel="mqtt")
    assert (held.pending, fixed_again.pending) == (2, 1)
    assert (redelivered.duplicates, redelivered.pending) == (1, 0)  # the same value as what waits
    assert conflicting.quarantined == [(0, "conflict")]  # another value for what waits, not a correction
    with session(db) as s:
        assert s.get(Reading, (el_id, ts("2025-02-05T10:00"))).value == 1474.0
        assert s.get(Reading, (el_id, ts("2025-01-25T10:00"))) is None
    assert _data(db)[("grid_electricity", "2025-02")][0] == 1474.0
    assert registry_status(db)["pending"] == 3
    # a new version of the year takes them up: the newest value of each (meter, ts) is applied
    new = inv.reopen(db, org, 2025, actor="admin", reason="meter corrected")
    assert new["version"] == 2 and new["taken_up"]["taken_up"] == 3 and new["taken_up"]["written"] == 2
    with session(db) as s:
        assert s.get(Reading, (el_id, ts("2025-02-05T10:00"))).value == 2474.0
        assert s.get(Reading, (el_id, ts("2025-01-25T10:00"))).value == 300.0
        rows = s.execute(
            select(ReadingCorrection.status, ReadingCorrection.taken_up_by, ReadingCorrection.new_value)
            .where(ReadingCorrection.channel != "take_up")
            .order_by(ReadingCorrection.id)
        ).all()
        taken_up_by = f"inventory_version:{new['id']}"
        assert rows == [
            ("taken_up", taken_up_by, 300.0),
            ("taken_up", taken_up_by, 999_999.0),
            ("taken_up", taken_up_by, 2474.0),
        ]
        take_up = s.get(IngestBatch, new["taken_up"]["batch_id"])
        assert (take_up.channel, take_up.sent, take_up.accepted, take_up.corrected, take_up.pending) == (
            "take_up",
            0,
            1,  # the late reading
            2,  # 1474 → 999999 → 2474
            -3,
        )
    # January 1000 + 2000 + 300 = 3300 kWh, February 2474 kWh: 5.774 MWh × 0.5703 = 3.2928922 t
    data = _data(db)
    assert (data[("grid_electricity", "2025-01")][0], data[("grid_electricity", "2025-02")][0]) == (3300.0, 2474.0)
    assert new["total_tco2e"] == pytest.approx(5.774 * EF_GRID, rel=1e-12)
    assert acc.stored_document(db, CREDIT, "2025")["total_tco2e"] == pytest.approx(5.774 * EF_GRID, rel=1e-12)
    # the submitted version stays as it was
    v1, v2 = inv.versions(db, org, 2025)
    assert (v1["status"], v1["total_tco2e"], v1["sha256"]) == (
        "submitted",
        submitted["total_tco2e"],
        submitted["sha256"],
    )
    assert v2["status"] == "draft" and v2["sha256"] != v1["sha256"] and "took up 3" in v2["note"]
    # counts still add up: 3 + 2 + 1 + 1 + 1 = 8 sent; readings 3 + 1 late = 4, one duplicate, one
    # quarantined, 2 corrected, nothing pending any more
    with session(db) as s:
        totals = ingest_totals(s)
    status = registry_status(db)
    assert (status["readings"], status["duplicates"], status["quarantined"], status["pending"]) == (4, 1, 1, 0)
    assert totals["sent"] == 8 and totals["accepted"] == 4 and totals["corrected"] == 2
    assert totals["accepted"] + totals["duplicates"] + totals["quarantined"] + totals["corrected"] == totals["sent"]
    # attested: the take-up batch and its corrections verify, and so do the batches it amended
    ledger_service.sign(db, signing.generate_key())
    report = ledger_service.verify(db)
    assert report.ok, [f.to_json() for f in report.findings]
