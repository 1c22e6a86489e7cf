"""Quality checks over a stored demo park (SQLite and PostgreSQL): every injected fault is found,
flags are written once, calibration lists and online calibration records."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.quality import QualityFlag
from carbonpark.services.demo import build_demo
from carbonpark.services.quality import (
    calibration_due_list,
    check_readings,
    faults_found,
    metrology_check,
    online_calibrate,
    watch_readings,
)
from carbonpark.store import connect, session
from carbonpark.store.schema import Calibration, Meter, Reading
from carbonpark.times import parse_timestamp, to_ms
from conftest import _PG_PROBLEM, PG_URL

TZ = "Asia/Shanghai"
NOW = to_ms(datetime(2026, 1, 1), TZ)  # after the demo year: no reading is "from the future"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list]]:
    """One small demo park per backend for the whole module (building it is the slow part).

    The tests only add flags (idempotent) and a calibration record of a meter no other test reads.
    """
    tmp = tmp_path_factory.mktemp("quality")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'demo.db'}"
        yield url, build_demo(url, size="small", seed=42, year=2025, out_dir=tmp / "out").faults
        connect(url).dispose()
        return
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    schema = f"cp_quality_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url, build_demo(url, size="small", seed=42, year=2025, out_dir=tmp / "out").faults
    finally:
        connect(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _quality_at(db: str, code: str, ts_iso: str) -> int:
    with session(db) as s:
        meter = s.scalars(select(Meter).where(Meter.code == code)).one()
        return int(
            s.scalars(
                select(Reading.quality).where(
                    Reading.meter_id == meter.id, Reading.ts_ms == parse_timestamp(ts_iso, TZ)
                )
            ).one()
        )


def test_every_injected_fault_is_found_and_flagged(demo_db: tuple[str, list]) -> None:
    db, faults = demo_db
    assert {f["kind"] for f in faults} == {"gap", "stuck", "spike", "rollover"}
    doc = check_readings(db, now_ms=NOW)
    matched = faults_found(faults, doc["findings"])
    assert all(m["found"] for m in matched), [m for m in matched if not m["found"]]
    # nothing else than the faults (plus the balance the gap breaks, and the overdue water meter)
    assert doc["by_kind"] == {"gap": 1, "imbalance": 1, "rollover": 1, "spike": 1, "stuck": 1, "uncalibrated": 1}
    gap = next(f for f in faults if f["kind"] == "gap")
    found_gap = next(f for f in doc["findings"] if f["kind"] == "gap")
    assert found_gap["count"] == gap["hours"]  # hourly meter: 18 h = 18 missing readings
    stuck = next(f for f in faults if f["kind"] == "stuck")
    assert next(f for f in doc["findings"] if f["kind"] == "stuck")["count"] == round(stuck["hours"] * 4)  # 15-min
    # the flags are in the store, on the very readings
    spike = next(f for f in faults if f["kind"] == "spike")
    assert _quality_at(db, spike["meter"], spike["start"]) == QualityFlag.SUSPECT_SPIKE
    assert _quality_at(db, stuck["meter"], stuck["start"]) == QualityFlag.STUCK
    roll = next(f for f in faults if f["kind"] == "rollover")
    assert _quality_at(db, roll["meter"], roll["start"]) == QualityFlag.ROLLOVER
    # the gap day unbalances the main meter: its readings that day carry "imbalance"
    gap_day = gap["start"][:10] + "T12:00:00"
    parent = "chem1-E-main"
    assert _quality_at(db, parent, gap_day) & QualityFlag.IMBALANCE
    # a second run changes nothing
    again = check_readings(db, now_ms=NOW)
    assert again["flags_written"] == 0 and again["by_kind"] == doc["by_kind"]


def test_overdue_calibration_flags_readings_after_the_due_day(demo_db: tuple[str, list]) -> None:
    db, _ = demo_db
    with session(db) as s:
        overdue = [
            (m, c)
            for m, c in s.execute(select(Meter, Calibration).join(Calibration, Calibration.meter_id == Meter.id))
            if c.due_on < date(2025, 3, 1)
        ]
        assert len(overdue) == 1  # the demo makes one water meter overdue within January–February 2025
        meter, cal = overdue[0]
        end_of_due_day = to_ms(datetime.combine(cal.due_on + timedelta(days=1), datetime.min.time()), TZ)
        expected = len(
            s.scalars(select(Reading.ts_ms).where(Reading.meter_id == meter.id, Reading.ts_ms >= end_of_due_day)).all()
        )
        code = meter.code
    doc = check_readings(db, now_ms=NOW)
    found = next(f for f in doc["findings"] if f["kind"] == "uncalibrated")
    assert found["meter"] == code and found["count"] == expected
    due = calibration_due_list(db, today=date(2025, 3, 1))
    assert due["counts"]["overdue"] == 1 and due["meters"][0]["meter"] == code
    assert due["meters"][0]["days_left"] == (cal.due_on - date(2025, 3, 1)).days


def test_online_calibration_writes_a_record(demo_db: tuple[str, list], tmp_path: Path) -> None:
    db, _ = demo_db
    with session(db) as s:
        meter = s.scalars(select(Meter).where(Meter.code == "metal1-E-main")).one()
        rows = s.execute(
            select(Reading.ts_ms, Reading.value)
            .where(Reading.meter_id == meter.id)
            .where(Reading.ts_ms >= parse_timestamp("2025-02-10T00:00", TZ))
            .where(Reading.ts_ms < parse_timestamp("2025-02-11T00:00", TZ))
            .order_by(Reading.ts_ms)
        ).all()
    # a reference that reads 0.3 % less than the meter: meter error = +0.3 % (hand: 1.003 − 1)
    ref = tmp_path / "ref.csv"
    with ref.open("w", encoding="utf-8") as f:
        f.write("ts,value\n")
        for ts, value in rows:
            f.write(f"{ts},{value / 1.003!r}\n")
    doc = online_calibrate(
        db, "metal1-E-main", reference_class="0.1", reference_file=ref, start="2025-02-10", end="2025-02-11"
    )
    assert doc["intervals"] == 24
    assert doc["error_pct"] == pytest.approx(0.3, abs=1e-9)
    assert doc["passed"] and doc["mpe_pct"] == 0.5  # the demo's electricity meters are class 0.5S
    with session(db) as s:
        rec = s.scalars(select(Calibration).where(Calibration.certificate == doc["certificate"])).one()
        prior = s.scalars(select(Calibration).where(Calibration.meter_id == meter.id, Calibration.id != rec.id)).one()
        assert rec.passed and rec.calibrated_on == date(2025, 2, 10)
        # the next due date keeps the meter's previous cycle
        assert (rec.due_on - rec.calibrated_on) == (prior.due_on - prior.calibrated_on)
    with pytest.raises(ValidationError, match="3 times as accurate"):
        online_calibrate(db, "metal1-E-main", reference_class="0.2", reference_file=ref, record=False)


def test_metrology_and_cli(demo_db: tuple[str, list]) -> None:
    db, faults = demo_db
    if not db.startswith("sqlite"):
        pytest.skip("the CLI is the same on both backends; run once")
    doc = metrology_check(db)
    # every enterprise meters each carrier at its boundary (表3: 100 %)
    assert all(r["compliant"] for r in doc["coverage"] if r["level"] == "unit")
    # two workshops per enterprise and two electricity sub-meters: 100 % at the sub-unit level
    assert all(r["rate_pct"] == 100 for r in doc["coverage"] if r["level"] == "sub_unit")
    # each gas boiler carries its enterprise's gas meter (the boiler is the only gas user in the demo
    # registry): 1 of 1 equipped, 100 % ≥ 90 % required
    boilers = [r for r in doc["coverage"] if r["level"] == "equipment"]
    assert boilers and all(r["carrier"] == "natural_gas" and r["compliant"] is True for r in boilers)
    assert all(r["equipped"] == 1 and r["rate_pct"] == 100 for r in boilers)
    elec = [r for r in doc["accuracy"] if r["carrier"] == "electricity"]
    # the biggest demo enterprise (dc1, about 5.2 MW peak) uses more than 1 GWh a month → category II → 0.5S
    assert any(r["category"] == "II" and r["required"] == "0.5S" for r in elec)
    runner = CliRunner()
    res = runner.invoke(app, ["quality", "check", "--db", db, "--json", "--dry-run"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert all(m["found"] for m in faults_found(faults, out["findings"]))
    assert out["flags_written"] == 0
    res = runner.invoke(app, ["calibration", "due", "--db", db, "--today", "2025-03-01", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["counts"]["overdue"] == 1
    res = runner.invoke(app, ["calibration", "due", "--db", db, "--today", "March"])
    assert res.exit_code == 1 and "YYYY-MM-DD" in res.output
    res = runner.invoke(app, ["quality", "flags", "--json"])
    flags = {r["name"]: r["bit"] for r in json.loads(res.stdout)}
    assert flags["stuck"] == 8 and flags["ok"] == 0


def test_stuck_meter_of_one_meter_only(demo_db: tuple[str, list]) -> None:
    db, faults = demo_db
    stuck = next(f for f in faults if f["kind"] == "stuck")
    doc = check_readings(db, stuck["meter"], now_ms=NOW, write_flags=False)
    assert doc["meters"] == 1 and doc["by_kind"] == {"stuck": 1} and doc["flags_written"] == 0
    assert np.isfinite(doc["readings"]) and doc["readings"] > 0


def test_continuous_checks_cover_a_trailing_window(demo_db: tuple[str, list]) -> None:
    db, faults = demo_db
    gap = next(f for f in faults if f["kind"] == "gap")
    # "now" is the midnight after the gap day: a 48 h window covers the whole gap
    now_s = to_ms(datetime.fromisoformat(gap["start"][:10]) + timedelta(days=1), TZ) / 1000
    runs: list[dict] = []
    slept: list[float] = []
    n = watch_readings(
        db, every_s=300, window_hours=48, cycles=2, on_run=runs.append, sleep=slept.append, clock=lambda: now_s
    )
    assert n == 2 and slept == [300]
    for doc in runs:
        # 48 h of readings of every meter (hourly and 15-min); the gap inside the window is found
        assert doc["by_kind"].get("gap") == 1
        found = next(f for f in doc["findings"] if f["kind"] == "gap")
        assert found["meter"] == gap["meter"] and found["count"] == gap["hours"]
