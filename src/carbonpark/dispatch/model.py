"""Build the linopy model of a scenario: asset families, carrier balances and the objective.

Cost [CNY] = Σ_t (import × import_price − export × export_price + gas × gas_price
+ curtailed flexible load × its price) × Δt + demand charge × peak import.
Emissions [kgCO2] = Σ_t (import × grid factor + gas × gas factor) × Δt; exports earn no
credit. Objectives: ``cost``; ``emissions`` [tCO2e] (then the cheapest schedule among
the cleanest); weighted ``cost_weight × cost + carbon_price_per_t × emissions [t]``.

References
----------
The guide §4.6; issue 10 (definitions of cost, emissions and the weighted objective).
"""

from __future__ import annotations

import functools
import operator

import linopy
import numpy as np

from carbonpark.dispatch.context import SLACK_PENALTY, DispatchContext
from carbonpark.dispatch.registry import asset_types
from carbonpark.dispatch.scenario import CARRIERS, Scenario, WeightedObjective
from carbonpark.errors import InfeasibleError

__all__ = [
    "build_model",
    "cost_expression",
    "define_assets",
    "define_balance_constraints",
    "define_objective",
    "emissions_expression",
    "step_ranges",
]


def step_ranges(steps: np.ndarray) -> str:
    """Step indices as compact ranges: ``[0, 1, 2, 5]`` → ``"0–2, 5"``."""
    parts: list[str] = []
    values = sorted(int(s) for s in steps)
    start = prev = values[0] if values else 0
    following: list[int | None] = [*values[1:], None]
    for value in following:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if value is not None:
            start = prev = value
    return ", ".join(parts) if values else ""


def define_assets(ctx: DispatchContext) -> None:
    """Call the define function of every asset's type."""
    registry = asset_types()
    for asset in ctx.scenario.assets:
        registry[asset.type](ctx, asset)


def define_balance_constraints(ctx: DispatchContext) -> None:
    """Supply = use + load for every carrier and step, named ``"{carrier}-balance"``.

    The relaxed model adds ``"{carrier}-shortage_kw"`` and ``"{carrier}-surplus_kw"``.

    Raises
    ------
    InfeasibleError
        If a carrier has a load but no asset connects to it.
    """
    for carrier in CARRIERS:
        terms = [t for t in ctx.bus_terms if t.carrier == carrier]
        load = ctx.scenario.load(carrier)
        if not terms:
            if load.any():
                steps = step_ranges(np.flatnonzero(load))
                raise InfeasibleError(
                    f"{carrier} cannot balance at steps {steps}: there is a {carrier} load but no asset "
                    f"supplies {carrier}"
                )
            continue
        flows = [term.sign * ctx.variable(term.asset, term.quantity) for term in terms]
        shortage = ctx.slack(carrier, "shortage_kw")
        surplus = ctx.slack(carrier, "surplus_kw")
        if shortage is not None and surplus is not None:
            flows += [1.0 * shortage, -1.0 * surplus]
        lhs = functools.reduce(operator.add, flows)
        ctx.model.add_constraints(lhs == ctx.series(load), name=f"{carrier}-balance")


def _terms_expression(ctx: DispatchContext, kind: str) -> linopy.LinearExpression:
    terms = ctx.cost_terms if kind == "cost" else ctx.emission_terms
    parts: list[linopy.LinearExpression] = []
    for term in terms:
        if term.kind == "peak":
            parts.append(float(term.coefficient[0]) * ctx.model.variables[term.peak_variable])
        else:
            coefficient = ctx.series(term.coefficient * ctx.step_hours)
            parts.append((coefficient * ctx.variable(term.asset, term.quantity)).sum())
    if not parts:
        return linopy.LinearExpression(None, ctx.model)
    return functools.reduce(operator.add, parts)


def cost_expression(ctx: DispatchContext) -> linopy.LinearExpression:
    """Total cost over the horizon [CNY] as a linear expression."""
    return _terms_expression(ctx, "cost")


def emissions_expression(ctx: DispatchContext) -> linopy.LinearExpression:
    """Total emissions over the horizon [kgCO2] as a linear expression."""
    return _terms_expression(ctx, "emissions")


def _slack_penalty(ctx: DispatchContext) -> linopy.LinearExpression | None:
    if not ctx.slacks:
        return None
    parts = [(SLACK_PENALTY * variable).sum() for variable in ctx.slacks.values()]
    return functools.reduce(operator.add, parts)


def define_objective(ctx: DispatchContext, objective: str | WeightedObjective) -> None:
    """Set the objective: ``cost`` [CNY], ``emissions`` [tCO2e] or the weighted sum [CNY]."""
    if objective == "cost":
        expression = cost_expression(ctx)
    elif objective == "emissions":
        expression = emissions_expression(ctx) / 1000.0
    elif isinstance(objective, WeightedObjective):
        expression = objective.cost_weight * cost_expression(ctx) + (
            objective.carbon_price_per_t / 1000.0
        ) * emissions_expression(ctx)
    else:  # pragma: no cover - the scenario model admits nothing else
        raise ValueError(f"unknown objective {objective!r}")
    penalty = _slack_penalty(ctx)
    if penalty is not None:
        expression = expression + penalty
    ctx.model.add_objective(expression, overwrite=True)


def build_model(scenario: Scenario, relaxed: bool = False) -> DispatchContext:
    """The linopy model of ``scenario`` with its objective.

    Parameters
    ----------
    relaxed
        Add penalised slacks to balances and end states (used to explain infeasibility).
    """
    ctx = DispatchContext(scenario=scenario, relaxed=relaxed)
    define_assets(ctx)
    define_balance_constraints(ctx)
    define_objective(ctx, scenario.objective)
    return ctx
