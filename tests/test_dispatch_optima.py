"""Dispatch engine: small scenarios whose optimum is computed by hand (issue 10, item 7; guide §4.6).

Every expected value is derived in the comment next to it. Units: kW, kWh, CNY, kgCO2.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from carbonpark.dispatch import (
    ASSET_DEFINERS,
    build_model,
    pareto_front,
    parse_scenario,
    solve_dispatch,
    solve_rolling,
    with_objective,
)
from carbonpark.errors import InfeasibleError


def scenario(assets: list[dict[str, Any]], loads: dict[str, Any], steps: int = 1, objective: Any = "cost") -> Any:
    return parse_scenario(
        {
            "horizon": {"start": "2025-07-01T00:00:00", "steps": steps, "step_hours": 1},
            "loads": loads,
            "assets": assets,
            "objective": objective,
        }
    )


def grid(price: Any, carbon: Any = 0.5, export_price: Any = 0.0, export_max: Any = 0.0, **extra: Any) -> dict:
    return {
        "type": "grid",
        "name": "grid",
        "import_max_kw": 1000,
        "export_max_kw": export_max,
        "import_price": price,
        "export_price": export_price,
        "carbon_kg_per_kwh": carbon,
        **extra,
    }


def battery(eta_c: float = 1.0, eta_d: float = 1.0, **extra: Any) -> dict:
    fields = {"energy_kwh": 200, "power_kw": 200, "soc_initial": 0.0, **extra}
    return {"type": "battery", "name": "bess", "charge_efficiency": eta_c, "discharge_efficiency": eta_d, **fields}


GAS = {"type": "gas", "name": "gas", "price_per_kwh": 0.3, "carbon_kg_per_kwh": 0.2}
BOILER = {"type": "gas_boiler", "name": "boiler", "capacity_kw": 200, "efficiency": 0.9}
HEAT_PUMP = {"type": "heat_pump", "name": "hp", "capacity_kw": 200, "cop": 4.0}
CHP = {
    "type": "chp",
    "name": "chp",
    "electric_capacity_kw": 100,
    "electric_efficiency": 0.35,
    "thermal_efficiency": 0.45,
}


# --- batteries ------------------------------------------------------------------------------


def test_contract_arbitrage_buys_cheap() -> None:
    # Load [0, 100] kW, price [0.3, 1.0] CNY/kWh, lossless 200 kWh battery from empty:
    # charge 100 kWh at 0.3 and discharge it at step 1: cost = 100 × 0.3 = 30.0 CNY.
    # Baseline (battery idle): 100 kWh at 1.0 = 100.0 CNY. Emissions both 100 × 0.5 kg = 0.05 t.
    result = solve_dispatch(scenario([grid([0.3, 1.0]), battery()], {"electricity": [0, 100]}, steps=2))
    assert result.total_cost == Decimal("30.00")
    assert result.baseline.total_cost == Decimal("100.00")
    assert result.total_emissions_tco2e == pytest.approx(0.05)
    assert result.savings["cost"] == Decimal("70.00")
    assert result.schedule["bess"]["charge_kw"].tolist() == pytest.approx([100.0, 0.0])
    assert result.schedule["bess"]["soc_kwh"].tolist() == pytest.approx([100.0, 0.0])


def test_arbitrage_with_efficiencies() -> None:
    # η_c = η_d = 0.9: a delivered kWh needs 1 / (0.9 × 0.9) = 1.234568 kWh bought, costing
    # 0.3 / 0.81 = 0.37 < 1.0, so the battery serves all 100 kW of step 1:
    # charge c = 100 / 0.81 = 123.45679 kW, cost = 0.3 × 123.45679 = 37.037037 → 37.04 CNY.
    # The state after step 0 is 0.9 × c = 111.111 kWh, and it ends at 0 (= the initial state).
    result = solve_dispatch(scenario([grid([0.3, 1.0]), battery(0.9, 0.9)], {"electricity": [0, 100]}, steps=2))
    assert result.objective == pytest.approx(37.037037, rel=1e-6)
    assert result.total_cost == Decimal("37.04")
    assert result.schedule["bess"]["charge_kw"][0] == pytest.approx(123.45679, rel=1e-6)
    assert result.schedule["bess"]["soc_kwh"].tolist() == pytest.approx([111.11111, 0.0], abs=1e-4)


def test_losses_make_arbitrage_unprofitable() -> None:
    # Price [0.85, 1.0] and η_c η_d = 0.81: a delivered kWh costs 0.85 / 0.81 = 1.049 > 1.0,
    # so the battery stays idle and the cost is the baseline's 100 × 1.0 = 100.00 CNY.
    result = solve_dispatch(scenario([grid([0.85, 1.0]), battery(0.9, 0.9)], {"electricity": [0, 100]}, steps=2))
    assert result.total_cost == Decimal("100.00")
    assert result.schedule["bess"]["charge_kw"].max() == pytest.approx(0.0, abs=1e-6)


def test_end_state_at_least_initial() -> None:
    # 100 kWh battery at 50 % (50 kWh), load [100, 0], price [1.0, 0.3].
    # With the end-state rule the battery may discharge its 50 kWh at step 0 only if it
    # buys them back at step 1: cost = 50 × 1.0 (import at 0) + 50 × 0.3 (recharge) = 65.00.
    # Without it (soc_end_min 0) it need not recharge: cost = 50 × 1.0 = 50.00.
    bess = battery(energy_kwh=100, power_kw=100, soc_initial=0.5)
    with_rule = solve_dispatch(scenario([grid([1.0, 0.3]), bess], {"electricity": [100, 0]}, steps=2))
    assert with_rule.total_cost == Decimal("65.00")
    assert with_rule.schedule["bess"]["soc_kwh"][-1] == pytest.approx(50.0)
    free = solve_dispatch(
        scenario([grid([1.0, 0.3]), {**bess, "soc_end_min": 0.0}], {"electricity": [100, 0]}, steps=2)
    )
    assert free.total_cost == Decimal("50.00")
    assert free.schedule["bess"]["soc_kwh"][-1] == pytest.approx(0.0, abs=1e-6)


def test_demand_charge_shaves_the_peak() -> None:
    # Flat price 0.5, demand charge 10 CNY/kW on the peak import, load [0, 100], lossless
    # battery from empty: importing 50 kW in both steps (charge 50, discharge 50) gives a
    # peak of 50 kW: cost = 0.5 × 100 + 10 × 50 = 550.00; baseline 0.5 × 100 + 10 × 100 = 1050.00.
    result = solve_dispatch(
        scenario([grid(0.5, demand_charge_per_kw=10), battery()], {"electricity": [0, 100]}, steps=2)
    )
    assert result.total_cost == Decimal("550.00")
    assert result.baseline.total_cost == Decimal("1050.00")
    assert result.schedule["grid"]["import_kw"].tolist() == pytest.approx([50.0, 50.0])


# --- renewables -----------------------------------------------------------------------------


def test_pv_curtailed_beyond_export_limit() -> None:
    # PV 100 kW available, load 20 kW, export limited to 50 kW at 0.4 CNY/kWh:
    # output = 20 + 50 = 70 kW, curtailed 30 kW, cost = −0.4 × 50 = −20.00 CNY (revenue).
    pv = {"type": "pv", "name": "pv", "capacity_kw": 100, "profile": 1.0}
    result = solve_dispatch(scenario([grid(1.0, export_price=0.4, export_max=50), pv], {"electricity": 20}))
    assert result.schedule["pv"]["output_kw"][0] == pytest.approx(70.0)
    assert result.schedule["pv"]["curtailed_kw"][0] == pytest.approx(30.0)
    assert result.total_cost == Decimal("-20.00")
    assert result.baseline.total_cost == Decimal("-20.00")  # self-consume, export to the limit, curtail


def test_pv_curtailed_at_negative_export_price() -> None:
    # Export price −0.1: exporting costs money, so PV covers the 20 kW load and curtails 80 kW; cost 0.
    pv = {"type": "pv", "name": "pv", "capacity_kw": 100, "profile": 1.0}
    result = solve_dispatch(scenario([grid(1.0, export_price=-0.1, export_max=50), pv], {"electricity": 20}))
    assert result.schedule["pv"]["curtailed_kw"][0] == pytest.approx(80.0)
    assert result.total_cost == Decimal("0.00")


# --- heat: CHP, boiler, heat pump ------------------------------------------------------------


@pytest.mark.parametrize(
    ("import_price", "export_price", "with_heat_pump", "heat_kw", "cost"),
    [
        # Gas 0.3 CNY/kWh. Per kWh of heat: boiler 0.3 / 0.9 = 0.3333; heat pump p / 4;
        # CHP alone 0.3 / 0.45 − (0.35 / 0.45) × v = 0.6667 − 0.7778 v, v the value of its power
        # (x if exported, p if it displaces an import); CHP feeding the heat pump: a kWh of gas
        # gives 0.45 + 0.35 × 4 = 1.85 kWh heat, so 0.3 / 1.85 = 0.1622.
        # p = 1.2, x = 0.8: CHP exporting costs 0.0444 → CHP: 100 kWh heat burns 222.22 kWh gas
        # (66.667) and exports 77.78 kWh (62.222): 4.444 → 4.44 CNY.
        (1.2, 0.8, True, {"chp": 100.0, "hp": 0.0, "boiler": 0.0}, Decimal("4.44")),
        # p = 0.4, x = 0.2: heat pump 0.10 beats all → 25 kWh at 0.4 = 10.00 CNY.
        (0.4, 0.2, True, {"chp": 0.0, "hp": 100.0, "boiler": 0.0}, Decimal("10.00")),
        # p = 1.0, x = 0.2: CHP feeding the heat pump 0.1622 beats the heat pump on grid power (0.25):
        # gas f with 1.85 f = 100 → f = 54.054, CHP heat 0.45 f = 24.32, heat pump 1.4 f = 75.68,
        # cost 0.3 × 54.054 = 16.216 → 16.22 CNY (multi-energy complementarity, guide §4.6).
        (1.0, 0.2, True, {"chp": 24.324324, "hp": 75.675676, "boiler": 0.0}, Decimal("16.22")),
        # No heat pump, p = 1.5, x = 0.2 and no electric load: CHP 0.6667 − 0.1556 = 0.5111 > boiler
        # 0.3333 → boiler: 100 × 0.3333 = 33.33 CNY.
        (1.5, 0.2, False, {"chp": 0.0, "boiler": 100.0}, Decimal("33.33")),
    ],
)
def test_heat_source_chosen_by_prices(
    import_price: float, export_price: float, with_heat_pump: bool, heat_kw: dict[str, float], cost: Decimal
) -> None:
    assets = [grid(import_price, export_price=export_price, export_max=1000), GAS, BOILER, CHP]
    if with_heat_pump:
        assets.append(HEAT_PUMP)
    result = solve_dispatch(scenario(assets, {"heat": 100}))
    assert result.total_cost == cost
    for name, expected in heat_kw.items():
        assert result.schedule[name]["heat_kw"][0] == pytest.approx(expected, abs=1e-4)
    assert result.balance_residual_kw["heat"] <= 1e-6


def test_chp_minimum_load_makes_it_a_milp() -> None:
    # Prices of the CHP case above, heat load 20 kW. As an LP the CHP serves it: 20 × 0.0444 = 0.89.
    # With min_load 0.5 the CHP must give at least 50 kW electric, i.e. 50 × 0.45 / 0.35 = 64.3 kW
    # heat > 20 kW (heat cannot be dumped), so it stays off and the boiler serves: 20 × 0.3333 = 6.67.
    assets = [grid(1.2, export_price=0.8, export_max=1000), GAS, BOILER, CHP]
    lp = solve_dispatch(scenario(assets, {"heat": 20}))
    assert lp.total_cost == Decimal("0.89")
    milp = solve_dispatch(scenario([*assets[:3], {**CHP, "min_load": 0.5}], {"heat": 20}))
    assert milp.total_cost == Decimal("6.67")
    assert milp.schedule["chp"]["on"][0] == pytest.approx(0.0)


HEAT_CARBON = [
    grid(1.2, carbon=0.5),
    GAS,
    BOILER,
    {"type": "heat_pump", "name": "hp", "capacity_kw": 200, "cop": 3.2},
]


def test_cost_objective_picks_the_boiler() -> None:
    # Per kWh heat: boiler 0.3 / 0.9 = 0.33333 CNY and 0.2 / 0.9 = 0.22222 kg;
    # heat pump 1.2 / 3.2 = 0.375 CNY and 0.5 / 3.2 = 0.15625 kg. Cost → boiler: 33.33 CNY, 0.022222 t.
    result = solve_dispatch(scenario(HEAT_CARBON, {"heat": 100}))
    assert result.total_cost == Decimal("33.33")
    assert result.total_emissions_tco2e == pytest.approx(0.0222222, rel=1e-6)


def test_emissions_objective_picks_the_cleaner_source() -> None:
    # Emissions → heat pump: 100 × 0.15625 kg = 0.015625 t at 100 × 0.375 = 37.50 CNY.
    result = solve_dispatch(scenario(HEAT_CARBON, {"heat": 100}, objective="emissions"))
    assert result.objective == pytest.approx(0.015625, rel=1e-6)
    assert result.total_cost == Decimal("37.50")
    assert result.schedule["hp"]["heat_kw"][0] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("carbon_price", "winner", "objective"),
    [
        # Break-even carbon price c: 0.33333 + 0.22222e-3 c = 0.375 + 0.15625e-3 c → c = 631.6 CNY/t.
        # c = 100: boiler, objective = 100 × (0.33333 + 0.022222) = 35.5556.
        (100.0, "boiler", 35.555556),
        # c = 1000: heat pump, objective = 100 × (0.375 + 0.15625) = 53.125.
        (1000.0, "hp", 53.125),
    ],
)
def test_weighted_objective_with_carbon_price(carbon_price: float, winner: str, objective: float) -> None:
    result = solve_dispatch(with_objective(scenario(HEAT_CARBON, {"heat": 100}), carbon_price=carbon_price))
    assert result.objective_kind == "weighted"
    assert result.objective == pytest.approx(objective, rel=1e-6)
    assert result.schedule[winner]["heat_kw"][0] == pytest.approx(100.0)


def test_pareto_front_between_boiler_and_heat_pump() -> None:
    # Ends: (33.33 CNY, 0.022222 t) boiler and (37.50 CNY, 0.015625 t) heat pump. Middle point:
    # ε = (0.015625 + 0.022222) / 2 = 0.0189236 t; with b kWh from the boiler the emissions are
    # 15.625 + 0.065972 b kg ≤ 18.9236 → b = 50, cost = 50 × 0.33333 + 50 × 0.375 = 35.42 CNY.
    front = pareto_front(scenario(HEAT_CARBON, {"heat": 100}), points=3)
    assert [p.total_cost for p in front] == [Decimal("37.50"), Decimal("35.42"), Decimal("33.33")]
    assert front[1].total_emissions_tco2e == pytest.approx(0.0189236, rel=1e-5)


def test_chillers_cover_cooling() -> None:
    # Cooling 100 kW. Electric chiller COP 4 at 1.0 CNY/kWh: 0.25 per kWh cold. Absorption
    # chiller COP 0.7 on boiler heat: 0.3 / 0.9 / 0.7 = 0.476. Electric chiller wins: 25 kW
    # electricity = 25.00 CNY.
    assets = [
        grid(1.0),
        GAS,
        BOILER,
        {"type": "electric_chiller", "name": "ec", "capacity_kw": 200, "cop": 4.0},
        {"type": "absorption_chiller", "name": "ac", "capacity_kw": 200, "cop": 0.7},
    ]
    result = solve_dispatch(scenario(assets, {"cooling": 100}))
    assert result.total_cost == Decimal("25.00")
    assert result.schedule["ec"]["electric_kw"][0] == pytest.approx(25.0)


def test_thermal_storage_shifts_heat_pump_work() -> None:
    # Heat load [0, 100], price [0.2, 1.0], heat pump COP 4 (200 kW), lossless 200 kWh tank:
    # make all 100 kWh heat at step 0 for 100 / 4 × 0.2 = 5.00 CNY (baseline: 25 × 1.0 = 25.00).
    tank = {"type": "thermal_storage", "name": "tank", "energy_kwh": 200, "power_kw": 200}
    result = solve_dispatch(scenario([grid([0.2, 1.0]), HEAT_PUMP, tank], {"heat": [0, 100]}, steps=2))
    assert result.total_cost == Decimal("5.00")
    assert result.baseline.total_cost == Decimal("25.00")


def test_flexible_load_shifts_and_curtails() -> None:
    # A 100 kWh job in window steps 0–1, price [1.0, 0.3]: it moves to step 1: cost 30.00.
    shift = {
        "type": "flexible_load",
        "name": "job",
        "profile": [100, 0],
        "max_kw": 100,
        "windows": [{"start": 0, "end": 2}],
    }
    moved = solve_dispatch(scenario([grid([1.0, 0.3]), shift], {}, steps=2))
    assert moved.total_cost == Decimal("30.00")
    # Curtailable at 0.5 CNY/kWh up to 40 %: 40 kW curtailed (0.5 < 1.0), 60 kW bought:
    # cost = 60 × 1.0 + 40 × 0.5 = 80.00.
    cut = {
        "type": "flexible_load",
        "name": "job",
        "profile": 100,
        "curtail_cost_per_kwh": 0.5,
        "curtail_max_fraction": 0.4,
    }
    result = solve_dispatch(scenario([grid(1.0), cut], {}))
    assert result.total_cost == Decimal("80.00")
    assert result.schedule["job"]["curtailed_kw"][0] == pytest.approx(40.0)


# --- horizons ------------------------------------------------------------------------------


def test_rolling_with_perfect_foresight_matches_the_full_solve() -> None:
    # Window 2 steps, keep 1: the first window is the whole problem (charge 100 at 0.3), the
    # second discharges the 100 kWh: 30.00 CNY as in the contract case.
    case = scenario([grid([0.3, 1.0]), battery()], {"electricity": [0, 100]}, steps=2)
    result = solve_rolling(case, window_steps=2, commit_steps=1)
    assert result.total_cost == Decimal("30.00")
    assert result.schedule["bess"]["soc_kwh"].tolist() == pytest.approx([100.0, 0.0])


def test_rolling_uses_the_forecast() -> None:
    # The forecast says step 1 has no load, so the first window does not charge; step 1 then
    # meets its actual 100 kW from the grid at 1.0: 100.00 CNY.
    case = scenario([grid([0.3, 1.0]), battery()], {"electricity": [0, 100]}, steps=2)
    result = solve_rolling(case, 2, 1, forecast=lambda start, length: {"loads.electricity": [0.0] * length})
    assert result.total_cost == Decimal("100.00")


def test_week_of_hours_balances() -> None:
    # 168 hourly steps with a daily price cycle; the optimum can never cost more than the
    # baseline (the baseline is a feasible schedule of the same model), and every carrier balances.
    hours = np.arange(168) % 24
    price = np.where((hours >= 8) & (hours < 22), 1.0, 0.3).tolist()
    load = (300 + 100 * np.sin(hours / 24 * 2 * np.pi)).tolist()
    result = solve_dispatch(scenario([grid(price), battery()], {"electricity": load}, steps=168))
    assert result.total_cost <= result.baseline.total_cost  # type: ignore[operator]
    assert result.balance_residual_kw["electricity"] < 1e-6
    assert len(result.schedule["grid"]["import_kw"]) == 168


# --- names, registry, failures --------------------------------------------------------------


def test_model_is_readable_by_name() -> None:
    ctx = build_model(scenario([grid([0.3, 1.0]), battery()], {"electricity": [0, 100]}, steps=2))
    for name in ("grid-import_kw", "grid-export_kw", "bess-charge_kw", "bess-soc_kwh"):
        assert name in ctx.model.variables
    for name in ("electricity-balance", "bess-soc_balance", "bess-end_state"):
        assert name in ctx.model.constraints


def test_registry_holds_the_built_in_types() -> None:
    expected = {
        "grid", "pv", "wind", "battery", "thermal_storage", "gas_boiler", "chp", "heat_pump",
        "electric_boiler", "electric_chiller", "absorption_chiller", "flexible_load", "gas",
    }  # fmt: skip
    assert set(ASSET_DEFINERS) == expected


def test_third_party_asset_type(monkeypatch: pytest.MonkeyPatch) -> None:
    # A diesel generator added through the registry: 0.8 CNY/kWh, 0.7 kg/kWh, 50 kW.
    # Load 100 kW at a grid price of 1.0: the generator gives 50 kW (0.8 < 1.0), the grid 50:
    # cost = 50 × 0.8 + 50 × 1.0 = 90.00; the baseline leaves it idle: 100 × 1.0 = 100.00.
    def define_diesel(ctx: Any, asset: Any) -> None:
        ctx.add_flow(asset.name, "electric_kw", upper=asset.capacity_kw)
        ctx.add_to_bus("electricity", asset.name, "electric_kw", +1.0)
        ctx.add_energy_cost(asset.name, "electric_kw", asset.price_per_kwh)
        ctx.add_emissions(asset.name, "electric_kw", 0.7)

    monkeypatch.setitem(ASSET_DEFINERS, "diesel", define_diesel)
    diesel = {"type": "diesel", "name": "dg", "capacity_kw": 50, "price_per_kwh": 0.8}
    result = solve_dispatch(scenario([grid(1.0), diesel], {"electricity": 100}))
    assert result.total_cost == Decimal("90.00")
    assert result.baseline.total_cost == Decimal("100.00")


def test_infeasible_names_carrier_and_steps() -> None:
    # Step 1 needs 100 kW but the grid gives at most 50 kW and there is nothing else.
    case = scenario([{**grid(1.0), "import_max_kw": 50}], {"electricity": [10, 100]}, steps=2)
    with pytest.raises(InfeasibleError, match=r"electricity cannot balance at steps 1 \(short by up to 50 kW\)"):
        solve_dispatch(case)


def test_infeasible_end_state_is_named() -> None:
    # 100 kWh battery from empty must end full, but 2 steps × 10 kW give at most 20 kWh.
    bess = battery(energy_kwh=100, power_kw=10, soc_end_min=1.0)
    with pytest.raises(InfeasibleError, match=r"bess cannot reach its end state ≥ 100 kWh \(short by 80 kWh\)"):
        solve_dispatch(scenario([grid(1.0), bess], {"electricity": 0}, steps=2))


def test_load_without_a_supplier_is_named() -> None:
    with pytest.raises(InfeasibleError, match=r"heat cannot balance at steps 0–1.*no asset supplies heat"):
        solve_dispatch(scenario([grid(1.0)], {"heat": 5}, steps=2))


def test_unbounded_names_the_assets_without_limits() -> None:
    # Export pays 2.0 while import costs 1.0 and neither is limited: buy and sell without end.
    loose = {**grid(1.0, export_price=2.0), "import_max_kw": None, "export_max_kw": None}
    with pytest.raises(InfeasibleError, match=r"unbounded.*grid \(import_max_kw\), grid \(export_max_kw\)"):
        solve_dispatch(scenario([loose], {"electricity": 1}))


def test_infeasible_baseline_is_reported_not_raised() -> None:
    # The grid gives 50 kW, the load at step 1 is 100: only the battery (charged at step 0) can
    # make up the rest: import 50 at step 0 (0.3) into the battery, 50 at step 1 (1.0) plus the
    # 50 discharged: cost = 15 + 50 = 65.00. The idle-battery baseline cannot balance step 1.
    case = scenario([{**grid([0.3, 1.0]), "import_max_kw": 50}, battery()], {"electricity": [0, 100]}, steps=2)
    result = solve_dispatch(case)
    assert result.total_cost == Decimal("65.00")
    assert result.baseline.status == "infeasible"
    assert "electricity short at steps 1" in result.baseline.problems[0]
    assert result.savings["cost"] is None
