"""PV from irradiance (pvlib), charts, and the park's dispatch from stored data (issue 10 items 3, 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.dispatch import parse_scenario, solve_dispatch
from carbonpark.errors import ValidationError
from carbonpark.services import dispatching
from carbonpark.services.demo import build_demo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dispatch" / "day_ahead.yaml"


def _pv_scenario(ghi: list[float], **geometry: float) -> dict:
    return {
        "horizon": {"start": "2025-06-21T00:00:00", "steps": len(ghi), "step_hours": 1},
        "loads": {"electricity": 500},
        "assets": [
            {"type": "grid", "name": "grid", "import_price": 0.6, "carbon_kg_per_kwh": 0.5},
            {
                "type": "pv",
                "name": "pv",
                "capacity_kw": 100,
                "irradiance": {"ghi_w_m2": ghi, "temp_air_c": 25, "latitude": 31.3, "longitude": 120.6, **geometry},
            },
        ],
    }


def test_pv_profile_from_irradiance_by_hand() -> None:
    # Horizontal panels: plane-of-array irradiance = GHI. Faiman cell temperature at 1000 W/m²,
    # 25 °C, wind 1 m/s: 25 + 1000 / (25 + 6.84) = 56.407 °C; PVWatts DC per kWp:
    # 1 × (1 − 0.0037 × 31.407) = 0.883794; minus 14 % system losses: 0.760063. (pvlib projects the
    # beam with the refraction-corrected zenith, the split uses the true one: a few 1e-6 apart.)
    ghi = [0.0] * 12 + [1000.0] + [0.0] * 11
    scenario = parse_scenario(_pv_scenario(ghi, tilt_deg=0))
    profile = np.asarray(scenario.asset("pv").profile)
    assert profile[12] == pytest.approx(0.760063, abs=1e-5)
    assert profile[:12].max() == 0.0
    result = solve_dispatch(scenario)
    assert result.schedule["pv"]["output_kw"][12] == pytest.approx(100 * profile[12], abs=1e-6)


def test_pv_needs_exactly_one_source_and_a_full_irradiance_series() -> None:
    doc = _pv_scenario([0.0] * 24)
    doc["assets"][1]["profile"] = 0.5
    with pytest.raises(ValidationError) as both:
        parse_scenario(doc)
    assert "assets.1" in str(both.value) and "either profile" in str(both.value)
    with pytest.raises(ValidationError) as short:
        parse_scenario({**_pv_scenario([0.0] * 24), "horizon": {"start": "2025-06-21", "steps": 48}})
    assert "assets.1.irradiance.ghi_w_m2" in str(short.value)


def test_out_dir_gets_charts(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dispatch", str(EXAMPLE), "--out", str(tmp_path / "run"), "--lang", "en"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert {"schedule.csv", "result.json", "dispatch-electricity.svg", "soc.svg", "prices.svg"} <= set(names)
    svg = (tmp_path / "run" / "dispatch-electricity.svg").read_text()
    assert svg.startswith("<?xml") and "Dispatch of electricity" in svg


def test_demo_park_day_ahead_rolling_and_period_save_against_baseline(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    build_demo(db, "small", seed=7, year=2025, out_dir=tmp_path)
    figures = dispatching.demo_step(db, tmp_path / "out")
    assert figures["day_ahead"]["steps"] == 24
    assert figures["rolling"]["steps"] == 48 and figures["rolling"]["mode"].startswith("rolling")
    assert figures["annual"]["steps"] == 59 * 24  # the small demo stores January and February
    for name in ("day_ahead", "rolling", "annual"):
        # the battery can only lower the cost: the optimum is never above the rule-based baseline
        assert figures[name]["savings_cny"] > 0, name
    assert (tmp_path / "out" / "dispatch-day-ahead" / "dispatch-electricity.svg").exists()
