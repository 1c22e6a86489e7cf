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

import linopy
import numpy as np

from carbonpark.dispatch.context import SLACK_PENALTY, DispatchContext, StepTerm
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
        flows: list[StepTerm] = [(term.sign, ctx.variable(term.asset, term.quantity)) for term in terms]
        shortage = ctx.slack(carrier, "shortage_kw")
        surplus = ctx.slack(carrier, "surplus_kw")
        if shortage is not None and surplus is not None:
            flows += [(1.0, shortage), (-1.0, surplus)]
        ctx.model.add_constraints(ctx.constraint(flows, "=", load), name=f"{carrier}-balance")


def _objective_terms(
    ctx: DispatchContext, kind: str, factor: float = 1.0, divisor: float = 1.0
) -> list[tuple[object, linopy.Variable]]:
    """The terms of the total cost [CNY] or emissions [kgCO2], each coefficient × ``factor`` / ``divisor``."""
    terms = ctx.cost_terms if kind == "cost" else ctx.emission_terms
    parts: list[tuple[object, linopy.Variable]] = []
    for term in terms:
        if term.kind == "peak":
            coefficient = factor * float(term.coefficient[0]) / divisor
            parts.append((coefficient, ctx.model.variables[term.peak_variable]))
        else:
            per_step = factor * (term.coefficient * ctx.step_hours) / divisor
            parts.append((per_step, ctx.variable(term.asset, term.quantity)))
    return parts


def cost_expression(ctx: DispatchContext) -> linopy.LinearExpression:
    """Total cost over the horizon [CNY] as a linear expression."""
    return ctx.total(_objective_terms(ctx, "cost"))


def emissions_expression(ctx: DispatchContext) -> linopy.LinearExpression:
    """Total emissions over the horizon [kgCO2] as a linear expression."""
    return ctx.total(_objective_terms(ctx, "emissions"))


def _slack_penalty(ctx: DispatchContext) -> list[tuple[object, linopy.Variable]]:
    return [(SLACK_PENALTY, variable) for variable in ctx.slacks.values()]


def define_objective(ctx: DispatchContext, objective: str | WeightedObjective) -> None:
    """Set the objective: ``cost`` [CNY], ``emissions`` [tCO2e] or the weighted sum [CNY].

    The objective is assembled as one expression from the cost and emission terms (and the
    slack penalty of the relaxed model), without intermediate sums.
    """
    if objective == "cost":
        terms = _objective_terms(ctx, "cost")
    elif objective == "emissions":
        terms = _objective_terms(ctx, "emissions", divisor=1000.0)
    elif isinstance(objective, WeightedObjective):
        terms = _objective_terms(ctx, "cost", objective.cost_weight) + _objective_terms(
            ctx, "emissions", objective.carbon_price_per_t / 1000.0
        )
    else:  # pragma: no cover - the scenario model admits nothing else
        raise ValueError(f"unknown objective {objective!r}")
    ctx.model.add_objective(ctx.total(terms + _slack_penalty(ctx)), overwrite=True)


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
