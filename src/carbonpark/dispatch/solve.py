"""Solve a dispatch scenario with HiGHS, read the schedule by name, compare with the baseline.

``solve_dispatch`` is the day-ahead and annual entry point (one model over the whole
horizon), ``solve_rolling`` re-solves a moving window with updated forecasts and the
storage state carried over, ``pareto_front`` traces cost against emissions with the
ε-constraint method.

References
----------
The guide §4.6; issue 10; HiGHS (Huangfu and Hall, 2018) through linopy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import linopy
import numpy as np

from carbonpark.dispatch.baseline import baseline_schedule
from carbonpark.dispatch.context import BusTerm, DispatchContext, Schedule
from carbonpark.dispatch.highs import HighsSolution, solve_with_highs
from carbonpark.dispatch.model import build_model, cost_expression, emissions_expression, step_ranges
from carbonpark.dispatch.scenario import (
    CARRIERS,
    FlexibleLoadAsset,
    GasAsset,
    GridAsset,
    Scenario,
    StorageAsset,
    WeightedObjective,
)
from carbonpark.errors import InfeasibleError, ValidationError

__all__ = [
    "BaselineResult",
    "DispatchResult",
    "ParetoPoint",
    "forecast_from_table",
    "pareto_front",
    "solve_dispatch",
    "solve_rolling",
    "with_objective",
]

#: Balance residuals above this share of the largest flow fail the check.
BALANCE_TOLERANCE = 1e-6
_CENT = Decimal("0.01")


@dataclass
class BaselineResult:
    """The rule-based baseline: its schedule and totals (``None`` when the rules cannot balance)."""

    status: str
    total_cost: Decimal | None
    total_emissions_tco2e: float | None
    schedule: Schedule
    problems: list[str] = field(default_factory=list)
    balance_residual_kw: dict[str, float] = field(default_factory=dict)


@dataclass
class DispatchResult:
    """An optimal dispatch.

    Attributes
    ----------
    objective
        Value of the objective (CNY for cost and weighted, tCO2e for emissions).
    total_cost
        [CNY], rounded to the fen.
    total_emissions_tco2e
        [tCO2e].
    schedule
        Per asset, per quantity, one value per step ([kW], ``soc_kwh`` [kWh]).
    balance_residual_kw
        Largest absolute residual per carrier over the steps [kW].
    """

    status: str
    objective_kind: str
    objective: float
    total_cost: Decimal
    total_emissions_tco2e: float
    schedule: Schedule
    timestamps: list[str]
    balance_residual_kw: dict[str, float]
    baseline: BaselineResult
    solve_seconds: float = 0.0
    mode: str = "full horizon"
    #: How each scheduled quantity enters the carrier balances (for charts).
    bus_terms: list[BusTerm] = field(default_factory=list)

    @property
    def savings(self) -> dict[str, Any]:
        """Cost [CNY] and emissions [tCO2e] saved against the baseline (``None`` if it is infeasible)."""
        if self.baseline.total_cost is None or self.baseline.total_emissions_tco2e is None:
            return {"cost": None, "emissions_tco2e": None, "cost_percent": None, "emissions_percent": None}
        cost = self.baseline.total_cost - self.total_cost
        emissions = self.baseline.total_emissions_tco2e - self.total_emissions_tco2e
        return {
            "cost": cost,
            "emissions_tco2e": round(emissions, 9),
            "cost_percent": _percent(float(cost), float(self.baseline.total_cost)),
            "emissions_percent": _percent(emissions, self.baseline.total_emissions_tco2e),
        }

    def to_document(self) -> dict[str, Any]:
        """The JSON document of the CLI contract (plus timestamps, balance check and savings)."""
        return {
            "status": self.status,
            "mode": self.mode,
            "objective_kind": self.objective_kind,
            "objective": self.objective,
            "total_cost": self.total_cost,
            "total_emissions_tco2e": self.total_emissions_tco2e,
            "baseline": {
                "status": self.baseline.status,
                "total_cost": self.baseline.total_cost,
                "total_emissions_tco2e": self.baseline.total_emissions_tco2e,
                "problems": self.baseline.problems,
                "balance_residual_kw": self.baseline.balance_residual_kw,
            },
            "savings": self.savings,
            "balance_residual_kw": self.balance_residual_kw,
            "timestamps": self.timestamps,
            "schedule": _rounded(self.schedule),
        }

    def to_dict(self) -> dict[str, Any]:
        """Same as :meth:`to_document`."""
        return self.to_document()


def _percent(saved: float, reference: float) -> float | None:
    return None if abs(reference) < 1e-12 else round(100.0 * saved / reference, 4)


def _rounded(schedule: Schedule) -> dict[str, dict[str, list[float]]]:
    return {
        asset: {q: [round(float(v), 6) + 0.0 for v in values] for q, values in quantities.items()}
        for asset, quantities in schedule.items()
    }


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_CENT) + Decimal("0.00")


def _run_highs(model: linopy.Model, integer: bool) -> HighsSolution:
    options: dict[str, Any] = {"output_flag": False}
    if integer:
        options["mip_rel_gap"] = 1e-7
    return solve_with_highs(model, options)


def _solution(ctx: DispatchContext, solved: HighsSolution) -> Schedule:
    """Every registered quantity of the solved model, read once from the solution array."""
    schedule: Schedule = {}
    for asset, quantities in ctx.outputs.items():
        schedule[asset] = {}
        for quantity, item in quantities.items():
            values = solved.value(item)
            schedule[asset][quantity] = np.where(np.abs(values) < 1e-9, 0.0, values)
    return schedule


def _balance_report(ctx: DispatchContext, schedule: Schedule) -> dict[str, float]:
    residuals = ctx.balance_residuals(schedule)
    report: dict[str, float] = {}
    for carrier, residual in residuals.items():
        scale = max(1.0, float(np.abs(ctx.scenario.load(carrier)).max(initial=0.0)))
        for term in ctx.bus_terms:
            if term.carrier == carrier:
                scale = max(scale, float(np.abs(schedule[term.asset][term.quantity]).max(initial=0.0)))
        worst = float(np.abs(residual).max(initial=0.0))
        if worst > BALANCE_TOLERANCE * scale:
            steps = step_ranges(np.flatnonzero(np.abs(residual) > BALANCE_TOLERANCE * scale))
            raise InfeasibleError(f"{carrier} balance is off by up to {worst:.3g} kW at steps {steps}")
        report[carrier] = worst
    return report


def _unbounded_message(scenario: Scenario) -> str:
    loose: list[str] = []
    for asset in scenario.assets:
        if isinstance(asset, GridAsset):
            if asset.import_max_kw is None:
                loose.append(f"{asset.name} (import_max_kw)")
            if asset.export_max_kw is None:
                loose.append(f"{asset.name} (export_max_kw)")
        elif isinstance(asset, GasAsset) and asset.max_kw is None:
            loose.append(f"{asset.name} (max_kw)")
    where = ", ".join(loose) if loose else "none found among the built-in limits"
    return f"the objective is unbounded: a flow can grow without limit; assets without a bound: {where}"


def _diagnose_infeasible(scenario: Scenario) -> str:
    """Re-solve with penalised slacks and say which carriers, steps and end states cannot be met."""
    ctx = build_model(scenario, relaxed=True)
    solved = _run_highs(ctx.model, ctx.integer)
    if solved.condition in {"unbounded", "infeasible_or_unbounded"}:
        return _unbounded_message(scenario)
    if solved.condition != "optimal":
        return "no schedule satisfies the asset limits (the relaxed model is infeasible too)"
    causes: list[str] = []
    for carrier in CARRIERS:
        for quantity, words in (("shortage_kw", "short"), ("surplus_kw", "in surplus that nothing absorbs")):
            variable = ctx.slacks.get(f"{carrier}-{quantity}")
            if variable is None:
                continue
            values = solved.value(variable)
            bad = np.flatnonzero(values > 1e-6)
            if bad.size:
                causes.append(
                    f"{carrier} cannot balance at steps {step_ranges(bad)} ({words} by up to {values.max():.6g} kW)"
                )
    for asset in scenario.assets:
        variable = ctx.slacks.get(f"{asset.name}-end_shortfall_kwh")
        if variable is not None and isinstance(asset, StorageAsset):
            shortfall = float(solved.value(variable))
            if shortfall > 1e-6:
                floor = asset.end_soc_fraction * asset.energy_kwh
                causes.append(
                    f"{asset.name} cannot reach its end state ≥ {floor:.6g} kWh (short by {shortfall:.6g} kWh)"
                )
    return "; ".join(causes) if causes else "the constraints conflict (no single carrier or end state explains it)"


def _solve_context(ctx: DispatchContext) -> HighsSolution:
    solved = _run_highs(ctx.model, ctx.integer)
    condition = solved.condition
    if condition == "optimal":
        return solved
    if condition == "unbounded":
        raise InfeasibleError(_unbounded_message(ctx.scenario))
    if condition in {"infeasible", "infeasible_or_unbounded"}:
        cause = _diagnose_infeasible(ctx.scenario)
        if cause.startswith("the objective is unbounded"):
            raise InfeasibleError(cause)
        raise InfeasibleError(f"the scenario is infeasible: {cause}")
    raise InfeasibleError(f"HiGHS stopped without an optimum (termination: {condition})")


def _lexicographic_cost(ctx: DispatchContext, emissions_kg: float) -> HighsSolution:
    """Among the schedules with the least emissions, take the cheapest (the ``emissions`` objective)."""
    tolerance = 1e-7 * abs(emissions_kg) + 1e-6
    ctx.model.add_constraints(emissions_expression(ctx) <= emissions_kg + tolerance, name="objective-emissions_cap")
    ctx.model.add_objective(cost_expression(ctx), overwrite=True)
    return _solve_context(ctx)


def _objective_kind(objective: str | WeightedObjective) -> str:
    return objective if isinstance(objective, str) else "weighted"


def _baseline(ctx: DispatchContext) -> BaselineResult:
    rules = baseline_schedule(ctx)
    if rules.problems:
        return BaselineResult("infeasible", None, None, rules.schedule, rules.problems)
    try:
        residuals = _balance_report(ctx, rules.schedule)
    except InfeasibleError as exc:
        return BaselineResult("infeasible", None, None, rules.schedule, [str(exc)])
    return BaselineResult(
        "ok",
        _money(ctx.evaluate_terms(ctx.cost_terms, rules.schedule)),
        round(ctx.evaluate_terms(ctx.emission_terms, rules.schedule) / 1000.0, 9),
        rules.schedule,
        balance_residual_kw=residuals,
    )


def _timestamps(scenario: Scenario) -> list[str]:
    return [moment.isoformat() for moment in scenario.horizon.timestamps()]


def _result(ctx: DispatchContext, schedule: Schedule, objective: float, seconds: float) -> DispatchResult:
    return DispatchResult(
        status="optimal",
        objective_kind=_objective_kind(ctx.scenario.objective),
        objective=objective,
        total_cost=_money(ctx.evaluate_terms(ctx.cost_terms, schedule)),
        total_emissions_tco2e=round(ctx.evaluate_terms(ctx.emission_terms, schedule) / 1000.0, 9),
        schedule=schedule,
        timestamps=_timestamps(ctx.scenario),
        balance_residual_kw=_balance_report(ctx, schedule),
        baseline=_baseline(ctx),
        solve_seconds=seconds,
        bus_terms=list(ctx.bus_terms),
    )


def solve_dispatch(scenario: Scenario) -> DispatchResult:
    """Optimal dispatch of ``scenario`` over its whole horizon (day-ahead or annual).

    Raises
    ------
    InfeasibleError
        Naming the carrier and steps that cannot balance, the storage whose end state
        cannot be met, or the assets without a bound when the problem is unbounded.
    """
    started = time.perf_counter()
    ctx = build_model(scenario)
    solved = _solve_context(ctx)
    objective = solved.objective
    if scenario.objective == "emissions":
        solved = _lexicographic_cost(ctx, objective * 1000.0)
    schedule = _solution(ctx, solved)
    return _result(ctx, schedule, objective, time.perf_counter() - started)


def with_objective(
    scenario: Scenario,
    objective: str | None = None,
    carbon_price: float | None = None,
    cost_weight: float = 1.0,
) -> Scenario:
    """``scenario`` with another objective: ``cost``, ``emissions`` or ``weighted`` (needs ``carbon_price``).

    A carbon price without an objective name means ``weighted``.
    """
    if objective is None and carbon_price is None:
        return scenario
    name = objective or "weighted"
    if name in {"cost", "emissions"}:
        return scenario.model_copy(update={"objective": name})
    if name != "weighted":
        raise ValidationError("objective", "cost, emissions or weighted", name)
    if carbon_price is None and isinstance(scenario.objective, WeightedObjective):
        return scenario
    if carbon_price is None:
        raise ValidationError("carbon_price", "a carbon price [CNY/tCO2e] for the weighted objective", None)
    if carbon_price < 0 or cost_weight < 0:
        raise ValidationError("carbon_price", "a price and weight that are not negative", carbon_price)
    weighted = WeightedObjective(cost_weight=cost_weight, carbon_price_per_t=carbon_price)
    return scenario.model_copy(update={"objective": weighted})


# --- Pareto front --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParetoPoint:
    """One point of the cost–emissions front: cost [CNY] and emissions [tCO2e]."""

    total_cost: Decimal
    total_emissions_tco2e: float


def pareto_front(scenario: Scenario, points: int = 5) -> list[ParetoPoint]:
    """Cost against emissions by the ε-constraint method, from the cleanest to the cheapest.

    The ends are the least-cost optimum and the least-emission optimum (the cheapest of
    those); between them, cost is minimised with emissions ≤ ε on ``points − 2`` evenly
    spaced ε.

    References
    ----------
    Haimes, Lasdon and Wismer (1971), the ε-constraint method.
    """
    if points < 2:
        raise ValidationError("points", "at least 2", points)
    cheapest = solve_dispatch(with_objective(scenario, "cost"))
    cleanest = solve_dispatch(with_objective(scenario, "emissions"))
    low, high = cleanest.total_emissions_tco2e, cheapest.total_emissions_tco2e
    front = [ParetoPoint(cleanest.total_cost, low)]
    ctx = build_model(with_objective(scenario, "cost"))
    emissions = emissions_expression(ctx)
    for k in range(1, points - 1):
        epsilon_kg = 1000.0 * (low + (high - low) * k / (points - 1))
        name = "objective-emissions_cap"
        if name in ctx.model.constraints:
            ctx.model.remove_constraints(name)
        ctx.model.add_constraints(emissions <= epsilon_kg, name=name)
        schedule = _solution(ctx, _solve_context(ctx))
        front.append(
            ParetoPoint(
                _money(ctx.evaluate_terms(ctx.cost_terms, schedule)),
                round(ctx.evaluate_terms(ctx.emission_terms, schedule) / 1000.0, 9),
            )
        )
    front.append(ParetoPoint(cheapest.total_cost, high))
    return front


# --- rolling horizon -----------------------------------------------------------------------

#: ``forecast(start, length)`` → overrides for steps ``start … start+length−1``, keyed by
#: dotted path (``"loads.electricity"``, ``"assets.pv1.profile"`` by asset name).
Forecast = Callable[[int, int], Mapping[str, Sequence[float]]]


def forecast_from_table(rows: Sequence[Mapping[str, Any]]) -> Forecast:
    """A rolling-horizon forecast from issued forecasts in long form.

    Parameters
    ----------
    rows
        Records with ``issued_step`` (the step at which the forecast was made), ``path``
        (``"loads.electricity"``, ``"assets.<name>.profile"`` …), ``step`` and ``value``,
        e.g. the forecasting engine's output with its series mapped to scenario paths.
        A window starting at step *s* uses, per path, the latest forecast issued at or before *s*.

    Raises
    ------
    ValidationError
        When a row lacks a field, or (when used) a window step has no forecast value.
    """
    issues: dict[str, dict[int, dict[int, float]]] = {}
    for index, row in enumerate(rows):
        try:
            path, issued, step, value = str(row["path"]), int(row["issued_step"]), int(row["step"]), float(row["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"forecast row {index}", "issued_step, path, step and a numeric value", row) from exc
        issues.setdefault(path, {}).setdefault(issued, {})[step] = value

    def forecast(start: int, length: int) -> dict[str, list[float]]:
        chosen: dict[str, list[float]] = {}
        for path, by_issue in issues.items():
            usable = [issued for issued in by_issue if issued <= start]
            if not usable:
                continue
            values = by_issue[max(usable)]
            missing = [s for s in range(start, start + length) if s not in values]
            if missing:
                raise ValidationError(
                    f"forecast {path} issued at step {max(usable)}",
                    f"values for steps {start}–{start + length - 1}",
                    f"none for steps {step_ranges(np.array(missing))}",
                )
            chosen[path] = [values[s] for s in range(start, start + length)]
        return chosen

    return forecast


def _slice(value: Any, start: int, stop: int) -> Any:
    return value[start:stop] if isinstance(value, list) else value


def _window_scenario(
    scenario: Scenario,
    start: int,
    length: int,
    commit: int,
    state_kwh: Mapping[str, float],
    peak_kw: Mapping[str, float],
    forecast: Forecast | None,
) -> Scenario:
    """The scenario of one window: actual values for the committed steps, forecasts after them."""
    overrides = dict(forecast(start, length)) if forecast is not None else {}

    def window_series(path: str, value: Any) -> Any:
        actual = _slice(value, start, start + length)
        if path not in overrides:
            return actual
        predicted = [float(v) for v in overrides[path]]
        if len(predicted) != length:
            raise ValidationError(f"forecast {path}", f"{length} values", f"{len(predicted)} values")
        base = scenario.series(actual) if not isinstance(actual, list) else np.asarray(actual, dtype=float)
        return [*base[:commit].tolist(), *predicted[commit:]]

    loads = {c: window_series(f"loads.{c}", getattr(scenario.loads, c)) for c in CARRIERS}
    assets = []
    for asset in scenario.assets:
        update: dict[str, Any] = {}
        for key in type(asset).model_fields:
            value = getattr(asset, key)
            if isinstance(value, list) and value and not hasattr(value[0], "model_fields"):
                update[key] = window_series(f"assets.{asset.name}.{key}", value)
        if isinstance(asset, StorageAsset):
            update["soc_initial"] = state_kwh[asset.name] / asset.energy_kwh
            update["soc_end_min"] = asset.end_soc_fraction
        if isinstance(asset, GridAsset):
            update["peak_import_floor_kw"] = peak_kw[asset.name]
        if isinstance(asset, FlexibleLoadAsset) and asset.windows:
            raise ValidationError(
                f"assets.{asset.name}.windows", "no shift windows in a rolling-horizon run", asset.windows
            )
        assets.append(asset.model_copy(update=update))
    horizon = scenario.horizon.model_copy(update={"start": scenario.horizon.timestamps()[start], "steps": length})
    return scenario.model_copy(
        update={"horizon": horizon, "loads": scenario.loads.model_copy(update=loads), "assets": assets}
    )


def solve_rolling(
    scenario: Scenario, window_steps: int, commit_steps: int, forecast: Forecast | None = None
) -> DispatchResult:
    """Rolling-horizon dispatch: solve ``window_steps`` ahead, keep ``commit_steps``, move on.

    Each window starts from the storage state reached by the kept steps and must end at
    least at each storage's end-state floor; the peak import reached so far carries over
    to the demand charge. The kept steps use the scenario's (actual) values, the rest of
    the window the ``forecast`` (the scenario's values when there is none: perfect foresight).

    Raises
    ------
    ValidationError
        If ``commit_steps`` is not between 1 and ``window_steps``.
    """
    if not 1 <= commit_steps <= window_steps:
        raise ValidationError("commit_steps", f"between 1 and window_steps ({window_steps})", commit_steps)
    started = time.perf_counter()
    steps = scenario.horizon.steps
    state = {a.name: a.soc_initial * a.energy_kwh for a in scenario.assets if isinstance(a, StorageAsset)}
    peak = {a.name: a.peak_import_floor_kw for a in scenario.assets if isinstance(a, GridAsset)}
    pieces: list[Schedule] = []
    for start in range(0, steps, commit_steps):
        length = min(window_steps, steps - start)
        keep = min(commit_steps, length)
        window = _window_scenario(scenario, start, length, keep, state, peak, forecast)
        try:
            result = solve_dispatch(window)
        except InfeasibleError as exc:
            raise InfeasibleError(f"rolling window starting at step {start}: {exc}") from exc
        kept = {a: {q: v[:keep] for q, v in qs.items()} for a, qs in result.schedule.items()}
        pieces.append(kept)
        for name in state:
            state[name] = float(kept[name]["soc_kwh"][-1])
        for name in peak:
            peak[name] = max(peak[name], float(kept[name]["import_kw"].max()))
    schedule = {
        asset: {q: np.concatenate([piece[asset][q] for piece in pieces]) for q in quantities}
        for asset, quantities in pieces[0].items()
    }
    ctx = build_model(scenario)
    cost = ctx.evaluate_terms(ctx.cost_terms, schedule)
    emissions_kg = ctx.evaluate_terms(ctx.emission_terms, schedule)
    objective = scenario.objective
    if objective == "cost":
        value = cost
    elif objective == "emissions":
        value = emissions_kg / 1000.0
    else:
        assert isinstance(objective, WeightedObjective)
        value = objective.cost_weight * cost + objective.carbon_price_per_t * emissions_kg / 1000.0
    result = _result(ctx, schedule, value, time.perf_counter() - started)
    result.mode = f"rolling horizon ({window_steps} steps ahead, {commit_steps} kept)"
    return result
