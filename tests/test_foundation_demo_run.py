"""The capabilities run by ``carbonpark demo`` on a built park: activity data from meters, each step's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonpark.services.demo import build_demo
from carbonpark.services.demo_run import activity_records, run_capabilities
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, insert_readings, upgrade
from carbonpark.times import parse_timestamp

PARK = """
park: {name: P}
enterprises:
  - {name: A, credit_code: 91350100M000100Y43, industry_code: C26}
meters:
  - {code: reg, quantity: energy, unit: kWh, reading_kind: cumulative, rollover: 1000000,
     enterprise: 91350100M000100Y43}
sources:
  - {name: 外购电力, enterprise: 91350100M000100Y43, activity: purchased_electricity, scope: 2, category: 2, meter: reg}
  - {name: 工艺, enterprise: 91350100M000100Y43, activity: process_carbon_balance, scope: 1, method: mass_balance}
"""


def test_cumulative_register_with_rollover_gives_its_advances(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(db)
    (tmp_path / "p.yaml").write_text(PARK, encoding="utf-8")
    import_registry(db, tmp_path / "p.yaml", "t")
    t0 = parse_timestamp("2025-03-01T00:00:00")
    # register 999990 → 999998 → (wraps at 1,000,000) 5 → 12: advances 8 + 7 + 7 = 22 kWh
    insert_readings(connect(db), [(1, t0 + i * 3_600_000, v, 0) for i, v in enumerate([999990, 999998, 5, 12])])
    records, gaps = activity_records(db, "2025-03")
    assert [(r.activity, r.amount, r.unit) for r in records] == [("grid_electricity", pytest.approx(22.0), "kWh")]
    assert [g["reason"] for g in gaps] == ["no meter"]
    assert activity_records(db, "2025-04")[0][0].amount == 0.0  # nothing metered in April


def test_every_capability_runs_on_the_small_demo(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    build_demo(db, "small", seed=11, year=2025, out_dir=tmp_path)
    results = run_capabilities(db, 2025, tmp_path)
    failed = {k: v["error"] for k, v in results.items() if v["status"] != "ok"}
    assert not failed
    steps = ["quality", "monitoring", "accounting", "evaluation", "forecast", "dispatch", "footprint", "inventory"]
    steps += ["users", "trading", "retrofit", "ledger"]
    assert {k: v["status"] for k, v in results.items()} == dict.fromkeys(steps, "ok")
    assert all(Path(v["output"]).exists() for v in results.values() if "output" in v)
    # one ledger entry per meter and local-UTC day with readings: 45 meters × 59 days, less none (gaps are shorter)
    assert results["ledger"]["entries"] >= 45 * 59
    assert results["accounting"]["total_tco2e"] > 0
    for horizon in ("day_ahead", "annual"):
        assert results["dispatch"][horizon]["cost_cny"] <= results["dispatch"][horizon]["baseline_cost_cny"]
