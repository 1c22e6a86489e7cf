"""The demo park: deterministic, realistic shapes, faults recorded, on both databases."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from carbonpark.services import demo_data as dd
from carbonpark.services.demo import build_demo
from carbonpark.services.status import registry_status
from carbonpark.store import session
from carbonpark.store.schema import Meter, Reading
from carbonpark.times import parse_timestamp


def _fingerprint(db: str) -> tuple[int, float]:
    with session(db) as s:
        n, total = s.execute(select(func.count(), func.sum(Reading.value))).one()
        return int(n), round(float(total), 3)


def test_small_demo_builds_and_is_deterministic(db_url: str, tmp_path: Path) -> None:
    result = build_demo(db_url, "small", seed=7, year=2025, out_dir=tmp_path)
    status = registry_status(db_url)
    assert status["enterprises"] == 6
    assert status["meters"] == len(dd.plan_meters("small")) == 45
    assert status["first_reading"] == "2025-01-01T00:00:00+08:00"
    assert status["last_reading"] == "2025-02-28T23:45:00+08:00"  # 15-minute meters end at 23:45
    kinds = {f["kind"] for f in result.faults}
    assert kinds == {"gap", "stuck", "spike", "rollover"}
    assert Path(result.outputs["faults"]).exists()
    # the 18-hour gap is really missing in the store: 59 days × 24 h − 18 readings
    gap = next(f for f in result.faults if f["kind"] == "gap")
    with session(db_url) as s:
        meter_id = s.scalars(select(Meter.id).where(Meter.code == gap["meter"])).one()
        assert s.scalar(select(func.count()).where(Reading.meter_id == meter_id)) == 59 * 24 - 18
        start = parse_timestamp(gap["start"])
        assert s.scalar(select(func.count()).where(Reading.meter_id == meter_id, Reading.ts_ms == start)) == 0


def test_same_seed_same_park(tmp_path: Path) -> None:
    a, b, c = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db"))
    build_demo(a, "small", seed=3, year=2025, out_dir=tmp_path)
    build_demo(b, "small", seed=3, year=2025, out_dir=tmp_path)
    build_demo(c, "small", seed=4, year=2025, out_dir=tmp_path)
    assert _fingerprint(a) == _fingerprint(b)
    assert _fingerprint(a)[1] != _fingerprint(c)[1]


def test_second_demo_on_a_built_database_changes_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    build_demo(db, "small", seed=1, year=2025, out_dir=tmp_path)
    before = _fingerprint(db)
    assert build_demo(db, "small", seed=1, year=2025, out_dir=tmp_path).already_built
    assert _fingerprint(db) == before


def test_spring_festival_and_weekends_shape_production() -> None:
    # 2025: Spring Festival 29 January; 26 January (Sunday) and 8 February (Saturday) are make-up working days.
    assert dd.spring_festival(2025) == date(2025, 1, 29)
    stamps = dd.calendar_hours(date(2025, 1, 6), date(2025, 2, 17), 60)
    prod = dd.production_factor(stamps, "metal", 2)
    by_day = {d: float(np.mean(prod[[t.date() == d for t in stamps]])) for d in sorted({t.date() for t in stamps})}
    normal_weekday = by_day[date(2025, 1, 8)]
    assert by_day[date(2025, 1, 12)] < 0.5 * normal_weekday  # an ordinary Sunday
    assert by_day[date(2025, 1, 30)] < 0.2 * normal_weekday  # Spring Festival shutdown
    assert by_day[date(2025, 2, 15)] < 0.5 * normal_weekday  # a Saturday after the festival
    assert by_day[date(2025, 2, 12)] == pytest.approx(normal_weekday)  # back to work
    # the data centre runs through everything
    dc = dd.production_factor(stamps, "datacentre", 3)
    assert float(dc.min()) == 1.0


def test_weather_drives_heating_and_cooling() -> None:
    stamps = dd.calendar_hours(date(2025, 1, 1), date(2026, 1, 1), 60)
    temp = dd.temperature_c(stamps, np.random.default_rng(0))
    months = np.array([t.month for t in stamps])
    assert temp[months == 1].mean() < 8 < 25 < temp[months == 7].mean()
    ghi = dd.irradiance_w_m2(stamps, np.random.default_rng(0))
    night = np.array([t.hour in (0, 1, 2, 3, 22, 23) for t in stamps])
    assert float(ghi[night].max()) == 0.0
    assert float(ghi[(months == 6) & ~night].max()) > 600


def test_full_plan_has_about_two_hundred_meters() -> None:
    plans = dd.plan_meters("full")
    assert 180 <= len(plans) <= 220
    assert {p.carrier for p in plans} == {"electricity", "natural_gas", "steam", "diesel", "coal", "water"}
    assert any(p.interval_minutes == 15 for p in plans)
    assert datetime(2025, 1, 1) == dd.calendar_hours(date(2025, 1, 1), date(2025, 1, 2), 15)[0]
