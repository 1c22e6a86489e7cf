"""Choosing a portfolio of abatement projects as a mixed-integer linear programme (MILP).

Each project is taken whole or not at all (a binary ``x_i``). Two questions are asked:

* **most abatement within a capex budget**: ``max Σ a_i x_i`` s.t. ``Σ capex_i x_i ≤ B``;
* **a target at least cost**: ``min Σ c_i x_i`` s.t. ``Σ a_i x_i ≥ T`` (and ``Σ capex_i x_i ≤ B``
  when a budget is given too), with ``c_i`` the net annualised cost [CNY/yr].

With neither a budget nor a target the least-cost portfolio is the set of "no-regret"
projects (net annualised cost ≤ 0). Ties are broken lexicographically by a second solve:
within the best abatement the cheapest portfolio, within the least cost the largest
abatement. Walking down the MACC (greedy by cost per tonne) is not optimal for either
question, because projects are indivisible; the MILP is.

Solver: :func:`scipy.optimize.milp`, which calls HiGHS. The model is a 0/1 knapsack with one
or two rows; scipy hands HiGHS the arrays directly, imports fast and adds no model-building
layer. linopy (also HiGHS) pays off for time-indexed models such as dispatch, not here.
Following the house convention, each constraint family has its own ``define_*`` function and
a name (``"portfolio-capex"``, ``"portfolio-abatement"``), and the result reports the slack of
each row by that name.

References
----------
Guide §7.4 (谋划重点项目, 以项目化推动方案落地实施); issue 13 item 2; HiGHS (Huangfu & Hall, 2018)
through SciPy's ``milp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from carbonpark.errors import InfeasibleError, IntegrityError, ValidationError
from carbonpark.retrofit.macc import marginal_abatement_cost_curve
from carbonpark.retrofit.projects import Project

__all__ = [
    "NamedConstraint",
    "Portfolio",
    "define_abatement_target",
    "define_capex_budget",
    "select_portfolio",
]


@dataclass(frozen=True)
class NamedConstraint:
    """One constraint row ``lower ≤ coefficients · x ≤ upper`` with its name."""

    name: str
    coefficients: np.ndarray
    lower: float
    upper: float


@dataclass(frozen=True)
class Portfolio:
    """A chosen set of projects.

    Attributes
    ----------
    selected
        Project ids, in MACC order (cheapest per tonne first).
    objective
        ``"max_abatement_within_budget"``, ``"min_cost_for_target"`` or, with neither a
        budget nor a target, ``"no_regret"`` (every project with net annualised cost ≤ 0).
    total_abatement_tco2e
        [tCO2e/yr].
    total_capex
        [CNY].
    total_annualised_cost
        Net yearly cost of the portfolio [CNY/yr].
    budget, target_tco2e
        The limits asked for (None when not given).
    slack
        Slack of each named constraint: budget left [CNY], abatement above target [tCO2e/yr].
    """

    selected: list[str]
    objective: str
    total_abatement_tco2e: Decimal
    total_capex: Decimal
    total_annualised_cost: Decimal
    budget: Decimal | None
    target_tco2e: Decimal | None
    slack: dict[str, Decimal] = field(default_factory=dict)


def define_capex_budget(projects: Sequence[Project], budget: Decimal) -> NamedConstraint:
    """``Σ capex_i x_i ≤ budget`` [CNY], named ``portfolio-capex``."""
    return NamedConstraint("portfolio-capex", np.array([float(p.capex) for p in projects]), -np.inf, float(budget))


def define_abatement_target(projects: Sequence[Project], target_tco2e: Decimal) -> NamedConstraint:
    """``Σ a_i x_i ≥ target`` [tCO2e/yr], named ``portfolio-abatement``."""
    return NamedConstraint(
        "portfolio-abatement",
        np.array([float(p.annual_abatement_tco2e) for p in projects]),
        float(target_tco2e),
        np.inf,
    )


def _solve(cost: np.ndarray, rows: Sequence[NamedConstraint]) -> np.ndarray | None:
    """Minimise ``cost · x`` over binary ``x`` subject to ``rows``; None when infeasible."""
    constraints = [LinearConstraint(np.atleast_2d(r.coefficients), r.lower, r.upper) for r in rows]
    result = milp(
        c=cost,
        integrality=np.ones_like(cost),
        bounds=Bounds(0.0, 1.0),
        constraints=constraints,
        options={"disp": False},
    )
    if result.status == 2:
        return None
    if result.status != 0 or result.x is None:
        raise InfeasibleError(f"portfolio MILP not solved: {result.message}")
    return np.round(result.x).astype(bool)


def _tolerance(value: float) -> float:
    return 1e-7 * max(1.0, abs(value))


def select_portfolio(
    projects: Sequence[Project],
    discount_rate: Decimal,
    budget: Decimal | None = None,
    target_tco2e: Decimal | None = None,
) -> Portfolio:
    """The optimal portfolio for a capex budget, an abatement target, both, or neither.

    Parameters
    ----------
    projects
        Candidates (each indivisible).
    discount_rate
        Real discount rate [1/yr] for the annualised cost.
    budget
        Capex limit [CNY]. Alone: maximise abatement within it.
    target_tco2e
        Abatement to reach [tCO2e/yr]. Given: minimise net annualised cost subject to it
        (and to the budget, if given).

    Returns
    -------
    Portfolio

    Raises
    ------
    InfeasibleError
        When the target cannot be reached (within the budget); the message gives the
        largest abatement that can.

    References
    ----------
    Guide §7.4; issue 13 item 2.
    """
    if budget is not None and budget < 0:
        raise ValidationError("budget", "a capex budget ≥ 0 [CNY]", budget)
    if target_tco2e is not None and target_tco2e < 0:
        raise ValidationError("target_tco2e", "an abatement target ≥ 0 [tCO2e/yr]", target_tco2e)
    items = list(projects)
    if not items:
        raise ValidationError("projects", "at least one project", items)
    abatement = np.array([float(p.annual_abatement_tco2e) for p in items])
    annual_cost = np.array([float(p.annualised_cost(discount_rate)) for p in items])
    rows: list[NamedConstraint] = []
    if budget is not None:
        rows.append(define_capex_budget(items, budget))

    if target_tco2e is None and budget is not None:
        objective = "max_abatement_within_budget"
        first = _solve(-abatement, rows)
        if first is None:  # cannot happen with capex ≥ 0 and budget ≥ 0 (x = 0 is feasible)
            raise InfeasibleError("no portfolio fits the budget")
        best = float(abatement[first].sum())
        tie_rows = [*rows, NamedConstraint("portfolio-abatement", abatement, best - _tolerance(best), np.inf)]
        chosen = _solve(annual_cost, tie_rows)
    else:
        objective = "min_cost_for_target" if target_tco2e is not None else "no_regret"
        if target_tco2e is not None:
            rows.append(define_abatement_target(items, target_tco2e))
        first = _solve(annual_cost, rows)
        if first is None:
            most = _solve(-abatement, rows[:1] if budget is not None else [])
            reachable = (
                sum((p.annual_abatement_tco2e for p, x in zip(items, most, strict=True) if x), Decimal(0))
                if most is not None
                else Decimal(0)
            )
            within = f" within the budget of {budget} CNY" if budget is not None else ""
            raise InfeasibleError(
                f"abatement target {target_tco2e} tCO2e/yr cannot be reached{within}: "
                f"at most {reachable} tCO2e/yr is possible"
            )
        least = float(annual_cost[first].sum())
        tie_rows = [*rows, NamedConstraint("portfolio-cost", annual_cost, -np.inf, least + _tolerance(least))]
        chosen = _solve(-abatement, tie_rows)
    if chosen is None:  # the first solution satisfies the tie rows, so this is a solver fault
        raise IntegrityError("portfolio MILP: the tie-breaking solve lost the first optimum")

    picked = {p.id for p, x in zip(items, chosen, strict=True) if x}
    total_abatement = sum((p.annual_abatement_tco2e for p in items if p.id in picked), Decimal(0))
    total_capex = sum((p.capex for p in items if p.id in picked), Decimal(0))
    total_cost = sum((p.annualised_cost(discount_rate) for p in items if p.id in picked), Decimal(0))
    slack: dict[str, Decimal] = {}
    if budget is not None:
        slack["portfolio-capex"] = budget - total_capex
    if target_tco2e is not None:
        slack["portfolio-abatement"] = total_abatement - target_tco2e
    if any(value < 0 for value in slack.values()):
        raise IntegrityError(f"portfolio MILP returned a portfolio that breaks a constraint: {slack}")
    order = [entry.id for entry in marginal_abatement_cost_curve(items, discount_rate)]
    return Portfolio(
        selected=[pid for pid in order if pid in picked],
        objective=objective,
        total_abatement_tco2e=total_abatement,
        total_capex=total_capex,
        total_annualised_cost=total_cost,
        budget=budget,
        target_tco2e=target_tco2e,
        slack=slack,
    )
