"""Dispatch properties over random small parks (issue 10; guide §4.6).

The rule-based baseline is a feasible schedule of the same model whenever its rules meet
the demand, so the cost-optimal schedule can never cost more than it (to the fen), and
both schedules must balance every carrier in every step.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.dispatch import parse_scenario, solve_dispatch

STEPS = 6
power = st.floats(min_value=0.0, max_value=500.0, allow_nan=False)
price = st.floats(min_value=0.1, max_value=1.5, allow_nan=False)


@settings(max_examples=12, deadline=None)
@given(
    electricity=st.lists(power, min_size=STEPS, max_size=STEPS),
    heat=st.lists(power, min_size=STEPS, max_size=STEPS),
    prices=st.lists(price, min_size=STEPS, max_size=STEPS),
    pv=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=STEPS, max_size=STEPS),
    gas_price=st.floats(min_value=0.2, max_value=0.6),
    efficiency=st.floats(min_value=0.8, max_value=1.0),
)
def test_optimum_never_costs_more_than_the_baseline(
    electricity: list[float],
    heat: list[float],
    prices: list[float],
    pv: list[float],
    gas_price: float,
    efficiency: float,
) -> None:
    scenario = parse_scenario(
        {
            "horizon": {"steps": STEPS, "step_hours": 1},
            "loads": {"electricity": electricity, "heat": heat},
            "assets": [
                {"type": "grid", "name": "grid", "import_max_kw": 5000, "export_max_kw": 200,
                 "import_price": prices, "export_price": 0.05, "carbon_kg_per_kwh": 0.55},
                {"type": "gas", "name": "gas", "price_per_kwh": gas_price, "carbon_kg_per_kwh": 0.2},
                {"type": "pv", "name": "pv", "capacity_kw": 300, "profile": pv},
                {"type": "battery", "name": "bess", "energy_kwh": 400, "power_kw": 200, "soc_initial": 0.5,
                 "charge_efficiency": efficiency, "discharge_efficiency": efficiency},
                {"type": "chp", "name": "chp", "electric_capacity_kw": 200, "electric_efficiency": 0.35,
                 "thermal_efficiency": 0.45},
                {"type": "gas_boiler", "name": "boiler", "capacity_kw": 600, "efficiency": 0.9},
                {"type": "heat_pump", "name": "hp", "capacity_kw": 200, "cop": 3.0},
            ],
        }
    )  # fmt: skip
    result = solve_dispatch(scenario)
    assert result.baseline.status == "ok"
    assert result.baseline.total_cost is not None
    assert result.total_cost <= result.baseline.total_cost + Decimal("0.01")
    assert max(result.balance_residual_kw.values()) < 1e-6
    assert max(result.baseline.balance_residual_kw.values()) < 1e-6
