"""How the dispatch model is built and handed to HiGHS (issue 10, benchmark item 8).

The rows are stacked from arrays (``DispatchContext.expression`` / ``constraint``) instead
of linopy operator arithmetic; these tests check the rows against coefficients written out
by hand and against the same rows built with linopy operators, and check the array path to
HiGHS (``carbonpark.dispatch.highs``) on models whose optimum is worked out by hand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import linopy
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonpark.dispatch import ASSET_DEFINERS, build_model, parse_scenario, solve_dispatch
from carbonpark.dispatch.context import DispatchContext
from carbonpark.dispatch.highs import solve_with_highs
from carbonpark.dispatch.model import cost_expression
from carbonpark.errors import ValidationError


def scenario(assets: list[dict[str, Any]], loads: dict[str, Any], steps: int = 3) -> Any:
    return parse_scenario(
        {
            "horizon": {"start": "2025-07-01T00:00:00", "steps": steps, "step_hours": 1},
            "loads": loads,
            "assets": assets,
            "objective": "cost",
        }
    )


GRID = {
    "type": "grid",
    "name": "grid",
    "import_max_kw": 1000,
    "import_price": [0.3, 1.0, 0.6],
    "carbon_kg_per_kwh": 0.5,
}
# keep = 1 − 0.1 = 0.9 per hour; η_c = 0.9, η_d = 0.8; initial state 0.5 × 100 = 50 kWh
BATTERY = {
    "type": "battery",
    "name": "bess",
    "energy_kwh": 100,
    "power_kw": 50,
    "charge_efficiency": 0.9,
    "discharge_efficiency": 0.8,
    "soc_initial": 0.5,
    "self_discharge_per_hour": 0.1,
}


def rows(ctx: DispatchContext, constraint: str) -> list[dict[str, float]]:
    """Per row: variable name with step → coefficient, plus the key ``"rhs"``."""
    names = {}
    for name, variable in ctx.model.variables.items():
        for step, label in enumerate(np.atleast_1d(variable.labels.values)):
            names[int(label)] = name if variable.labels.ndim == 0 else f"{name}[{step}]"
    con = ctx.model.constraints[constraint]
    vars_, coeffs = np.atleast_2d(con.vars.values), np.atleast_2d(con.coeffs.values)
    out = []
    for row, rhs in enumerate(np.atleast_1d(con.rhs.values)):
        entry: dict[str, float] = {}
        for label, coefficient in zip(vars_[row], coeffs[row], strict=True):
            if label >= 0:
                entry[names[int(label)]] = entry.get(names[int(label)], 0.0) + float(coefficient)
        entry["rhs"] = float(rhs)
        out.append(entry)
    return out


def test_storage_rows_are_the_hand_written_ones() -> None:
    # soc[t] − 0.9·soc[t−1] − 0.9·charge[t] + (1/0.8 = 1.25)·discharge[t] = 0.9 × 50 = 45 at t = 0, else 0
    ctx = build_model(scenario([GRID, BATTERY], {"electricity": [10, 20, 30]}))
    got = rows(ctx, "bess-soc_balance")
    assert got[0] == pytest.approx(
        {"bess-soc_kwh[0]": 1.0, "bess-charge_kw[0]": -0.9, "bess-discharge_kw[0]": 1.25, "rhs": 45.0}
    )
    for t in (1, 2):
        expected = {
            f"bess-soc_kwh[{t}]": 1.0,
            f"bess-soc_kwh[{t - 1}]": -0.9,
            f"bess-charge_kw[{t}]": -0.9,
            f"bess-discharge_kw[{t}]": 1.25,
            "rhs": 0.0,
        }
        assert got[t] == pytest.approx(expected)
    # electricity: import − export + discharge − charge = load
    balance = rows(ctx, "electricity-balance")
    flows = {"grid-import_kw": 1.0, "grid-export_kw": -1.0, "bess-discharge_kw": 1.0, "bess-charge_kw": -1.0}
    assert balance[2] == pytest.approx({**{f"{name}[2]": sign for name, sign in flows.items()}, "rhs": 30.0})
    # end state: soc[2] ≥ 50 kWh (soc_end_min defaults to the initial state)
    end = ctx.model.constraints["bess-end_state"]
    assert str(end.sign.values) == ">=" and float(end.rhs.values) == 50.0


def test_array_rows_equal_linopy_operator_arithmetic() -> None:
    # The same storage expression written with linopy operators has the same terms per step.
    ctx = build_model(scenario([GRID, BATTERY], {"electricity": [10, 20, 30]}))
    soc = ctx.variable("bess", "soc_kwh")
    charge = ctx.variable("bess", "charge_kw")
    discharge = ctx.variable("bess", "discharge_kw")
    by_operators = soc - 0.9 * soc.shift(step=1).fillna(0) - 0.9 * charge + 1.25 * discharge + 7.0
    by_arrays = ctx.expression([(1.0, soc), (-0.9, soc, 1), (-0.9, charge), (1.25, discharge)], constant=7.0)

    def terms(expression: linopy.LinearExpression) -> list[dict[int, float]]:
        per_step = []
        for labels, coeffs in zip(expression.vars.values, expression.coeffs.values, strict=True):
            step: dict[int, float] = {}
            for label, coefficient in zip(labels, coeffs, strict=True):
                if label >= 0:
                    step[int(label)] = step.get(int(label), 0.0) + float(coefficient)
            per_step.append(step)
        return per_step

    assert terms(by_arrays) == terms(by_operators)
    assert by_arrays.const.values.tolist() == by_operators.const.values.tolist() == [7.0, 7.0, 7.0]


def test_cost_total_with_a_demand_charge() -> None:
    # Cost = Σ_t import[t] × price[t] × 1 h + 40 CNY/kW × peak: coefficients 0.3, 1.0, 0.6 and 40.
    grid = {**GRID, "demand_charge_per_kw": 40}
    ctx = build_model(scenario([grid], {"electricity": [10, 20, 30]}))
    cost = cost_expression(ctx)
    coefficients = dict(zip(cost.vars.values.tolist(), cost.coeffs.values.tolist(), strict=True))
    imports = ctx.variable("grid", "import_kw").labels.values.tolist()
    peak = int(ctx.model.variables["grid-peak_import_kw"].labels.values)
    assert [coefficients[label] for label in imports] == pytest.approx([0.3, 1.0, 0.6])
    assert coefficients[peak] == pytest.approx(40.0)


def test_expression_rejects_what_does_not_fit_the_steps() -> None:
    ctx = build_model(scenario([GRID], {"electricity": [10, 20, 30]}))
    imports = ctx.variable("grid", "import_kw")
    other = ctx.model.add_variables(lower=0.0, coords=[pd.RangeIndex(2, name="unit")], name="other")
    with pytest.raises(ValueError, match=r"expected a variable over the 3 steps or a scalar one, got 'other'"):
        ctx.expression([(1.0, other)])
    with pytest.raises(ValueError, match=r"expected a coefficient as one number or 3 numbers .* got shape \(2,\)"):
        ctx.expression([([1.0, 2.0], imports)])
    with pytest.raises(ValueError, match=r"expected a lag between 0 and 3 steps, got 4"):
        ctx.expression([(1.0, imports, 4)])
    with pytest.raises(ValueError, match=r"expected a sign '=', '<=' or '>=', got '<'"):
        ctx.constraint([(1.0, imports)], "<", 0.0)


def test_third_party_ramp_limit_with_a_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 500 kW generator at 0.5 CNY/kWh (grid 1.0) may rise by at most 50 kW per step, from 0:
    # output 50, 100, 150, 200 against a 200 kW load; the grid imports 150, 100, 50, 0.
    # Cost = (150 + 100 + 50) × 1.0 + (50 + 100 + 150 + 200) × 0.5 = 300 + 250 = 550.00 CNY.
    def define_generator(ctx: DispatchContext, asset: Any) -> None:
        output = ctx.add_flow(asset.name, "electric_kw", upper=asset.capacity_kw)
        ctx.add_to_bus("electricity", asset.name, "electric_kw", +1.0)
        ctx.add_energy_cost(asset.name, "electric_kw", asset.price_per_kwh)
        ramp = ctx.constraint([(1.0, output), (-1.0, output, 1)], "<=", 50.0)
        ctx.model.add_constraints(ramp, name=f"{asset.name}-ramp")

    monkeypatch.setitem(ASSET_DEFINERS, "generator", define_generator)
    generator = {"type": "generator", "name": "dg", "capacity_kw": 500, "price_per_kwh": 0.5}
    result = solve_dispatch(scenario([{**GRID, "import_price": 1.0}, generator], {"electricity": 200}, steps=4))
    assert result.schedule["dg"]["electric_kw"].tolist() == pytest.approx([50.0, 100.0, 150.0, 200.0])
    assert result.total_cost == Decimal("550.00")


# --- the array path to HiGHS -------------------------------------------------------------------


def small_model() -> tuple[linopy.Model, linopy.Variable, linopy.Variable]:
    # min x + 2y  s.t.  x + y ≥ 3, 0 ≤ x ≤ 2, y ≥ 0: x takes all it can (cheaper), x = 2, y = 1,
    # objective 2 + 2 = 4.
    model = linopy.Model()
    x = model.add_variables(lower=0.0, upper=2.0, name="x")
    y = model.add_variables(lower=0.0, name="y")
    model.add_constraints(x + y >= 3, name="demand")
    model.add_objective(x + 2 * y)
    return model, x, y


def test_highs_solves_a_hand_computed_lp() -> None:
    model, x, y = small_model()
    solved = solve_with_highs(model, {"output_flag": False})
    assert solved.condition == "optimal"
    assert solved.objective == pytest.approx(4.0)
    assert float(solved.value(x)) == pytest.approx(2.0)
    assert float(solved.value(y)) == pytest.approx(1.0)
    # an expression: 3x − y + 1 = 6 − 1 + 1 = 6
    assert float(solved.value(3 * x - y + 1)) == pytest.approx(6.0)
    # linopy's own solve of the same model agrees
    model.solve(solver_name="highs", output_flag=False)
    assert model.objective.value == pytest.approx(solved.objective)


def test_highs_keeps_integrality() -> None:
    # min −x  s.t.  2x ≤ 3, x integer in [0, 10]: the LP optimum 1.5 is not integer, the MILP's is x = 1.
    model = linopy.Model()
    x = model.add_variables(lower=0, upper=10, integer=True, name="x")
    model.add_constraints(2 * x <= 3, name="cap")
    model.add_objective(-1 * x)
    solved = solve_with_highs(model, {"output_flag": False})
    assert solved.objective == pytest.approx(-1.0)
    assert float(solved.value(x)) == pytest.approx(1.0)


def test_highs_reports_infeasible_without_values() -> None:
    model, x, _ = small_model()
    model.add_constraints(x >= 5, name="impossible")  # x ≤ 2 by its bound
    solved = solve_with_highs(model, {"output_flag": False})
    assert solved.condition == "infeasible"
    with pytest.raises(ValueError, match="expected a solved model, got HiGHS status 'infeasible'"):
        solved.value(x)


def test_highs_refuses_a_maximisation() -> None:
    model = linopy.Model()
    x = model.add_variables(lower=0.0, upper=1.0, name="x")
    model.add_objective(1 * x, sense="max")
    with pytest.raises(ValueError, match="expected a linear objective to minimise"):
        solve_with_highs(model)


def test_values_per_step_follow_the_labels() -> None:
    # A per-step variable with one step masked out reads NaN there (no column was sent).
    model = linopy.Model()
    steps = pd.RangeIndex(3, name="step")
    mask = xr.DataArray([True, False, True], coords=[steps])
    x = model.add_variables(lower=xr.DataArray([1.0, 2.0, 3.0], coords=[steps]), name="x", mask=mask)
    model.add_objective(x.sum())
    solved = solve_with_highs(model, {"output_flag": False})
    assert solved.objective == pytest.approx(4.0)  # 1 + 3 at the lower bounds
    values = solved.value(x)
    assert values[0] == pytest.approx(1.0) and np.isnan(values[1]) and values[2] == pytest.approx(3.0)


# --- numbers in the scenario --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loads", "price", "field", "came"),
    [
        ([1.0, float("inf")], 1.0, "loads.electricity", "inf at step 1"),
        ([1.0, 2.0], [1.0, float("nan")], "assets.0.import_price", "nan at step 1"),
        ([1.0, 2.0], float("inf"), "assets.0.import_price", "inf"),
    ],
)
def test_non_finite_numbers_are_named(loads: list[float], price: Any, field: str, came: str) -> None:
    grid = {**GRID, "import_price": price}
    with pytest.raises(ValidationError) as caught:
        scenario([grid], {"electricity": loads}, steps=2)
    assert caught.value.field == field
    assert came in str(caught.value)
