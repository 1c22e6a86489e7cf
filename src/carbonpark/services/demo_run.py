"""Run every capability that exists on a built park (what ``carbonpark demo`` does after building it).

Each step reads the park from the store, calls one engine, writes its output file and
returns a short summary. A step that fails is reported with its error; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from carbonpark.services import ledger as ledger_service
from carbonpark.services.accounting import demo_step as accounting_demo_step
from carbonpark.services.activity import ACTIVITY_OF_SOURCE, STEAM_ENTHALPY_KJ_PER_KG, activity_records
from carbonpark.services.auth import demo_users_step
from carbonpark.services.footprints import demo_footprints
from carbonpark.services.inventory import demo_step as inventory_demo_step
from carbonpark.services.quality import step_quality
from carbonpark.services.trading import demo_step as trading_demo_step
from carbonpark.store import session
from carbonpark.store.schema import Meter, Reading

__all__ = ["ACTIVITY_OF_SOURCE", "STEAM_ENTHALPY_KJ_PER_KG", "activity_records", "run_capabilities"]


def _step_accounting(db: str | None, year: int, out: Path) -> dict[str, Any]:
    return accounting_demo_step(db, year, out)


def _step_evaluation(db: str | None, year: int, out: Path, inv: Any) -> dict[str, Any]:
    """Full evaluation from the store with the demo's entered values, reports (services/evaluation.py)."""
    from carbonpark.services.evaluation import demo_step

    return demo_step(db, year, out)


def _retrofit_demo_step(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """Targets, MACC portfolio, carbon evaluation, admission check, ratings (services/retrofit.py)."""
    from carbonpark.services.retrofit import demo_step

    return demo_step(db, year, out)


def _step_ledger(db: str | None, out: Path) -> dict[str, Any]:
    """Attest the demo's data in the durable log and sign its head (logic in services/ledger.py)."""
    return ledger_service.demo_attestation(db, out)


def _intake_frame(db: str | None) -> pd.DataFrame:
    with session(db) as s:
        meter = s.scalars(select(Meter).where(Meter.code == "park-E-intake")).one()
        rows = s.execute(
            select(Reading.ts_ms, Reading.value).where(Reading.meter_id == meter.id).order_by(Reading.ts_ms)
        ).all()
    frame = pd.DataFrame(rows, columns=["ts_ms", "kwh"])
    frame["ts"] = (
        pd.to_datetime(frame["ts_ms"], unit="ms", utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    )
    return frame.set_index("ts")["kwh"].resample("1h").sum().to_frame("value").reset_index()


def _step_forecast(db: str | None, out: Path) -> dict[str, Any]:
    """Day-ahead for every meter, monthly per enterprise, the peak year (services/forecasting.py)."""
    from carbonpark.services.forecasting import demo_step

    return demo_step(db, out)


def _step_dispatch(db: str | None, out: Path) -> dict[str, Any]:
    """Day-ahead, rolling and whole-period dispatch with savings (services/dispatching.py)."""
    from carbonpark.services.dispatching import demo_step

    return demo_step(db, out)


def _step_monitoring(db: str | None, out: Path) -> dict[str, Any]:
    """Loads, emissions rate and alarm rules checked as of the newest reading (services/monitoring.py)."""
    from carbonpark.services.monitoring import demo_monitoring_step

    return demo_monitoring_step(db, out)


def run_capabilities(
    db: str | None, year: int, out: Path, on_progress: Callable[[str, int, int], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Run accounting, evaluation, attestation, forecasting and dispatch on the park in ``db``."""
    out.mkdir(parents=True, exist_ok=True)
    report = on_progress or (lambda stage, done, total: None)
    results: dict[str, dict[str, Any]] = {}
    inventory = None
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("quality", lambda: step_quality(db, out)),
        ("monitoring", lambda: _step_monitoring(db, out)),
        ("accounting", lambda: _step_accounting(db, year, out)),
        ("evaluation", lambda: _step_evaluation(db, year, out, inventory)),
        ("forecast", lambda: _step_forecast(db, out)),
        ("dispatch", lambda: _step_dispatch(db, out)),
        ("footprint", lambda: demo_footprints(db, year, out)),
        ("inventory", lambda: inventory_demo_step(db, year, out)),
        ("users", lambda: demo_users_step(db, year)),
        ("trading", lambda: trading_demo_step(db, year, out)),
        ("retrofit", lambda: _retrofit_demo_step(db, year, out)),
        ("ledger", lambda: _step_ledger(db, out)),
    ]
    for i, (name, step) in enumerate(steps):
        report("capabilities", i, len(steps))
        try:
            figures = step()
            inventory = figures.pop("_inventory", inventory)
            results[name] = {"status": "ok", **figures}
        except Exception as exc:  # a failed step is reported, the others still run
            results[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    report("capabilities", len(steps), len(steps))
    return results
