"""Rule-based dispatch without optimisation, the reference for the savings.

Rules, applied step by step in this order:

1. Storage stays idle (its state only loses its self-discharge); flexible loads follow
   their profiles.
2. Cooling from electric chillers (in file order), then absorption chillers (their heat
   joins the heat demand).
3. Heat from gas boilers first, then CHP at its heat rating (its electricity lowers the
   import; below its minimum load it stays off), then electric boilers, then heat pumps.
4. PV and wind are self-consumed first; what is left is exported while the export price
   is not negative and the export limit allows, the rest curtailed.
5. The grid imports what remains of the electricity demand (grids in file order); gas
   supplies in file order cover the fuel.

An asset type without a rule here (a third-party type) stays idle. Demand that these
rules cannot meet makes the baseline infeasible; the reasons name carrier and steps.

References
----------
The guide §4.6; issue 10 ("rule-based baseline" and savings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from carbonpark.dispatch.context import DispatchContext, Schedule
from carbonpark.dispatch.model import step_ranges
from carbonpark.dispatch.scenario import (
    AbsorptionChillerAsset,
    ChpAsset,
    ElectricBoilerAsset,
    ElectricChillerAsset,
    FlexibleLoadAsset,
    GasAsset,
    GasBoilerAsset,
    GridAsset,
    HeatPumpAsset,
    PvAsset,
    StorageAsset,
    WindAsset,
)

__all__ = ["BaselineSchedule", "baseline_schedule"]

_TOLERANCE_KW = 1e-6


@dataclass
class BaselineSchedule:
    """A rule-based schedule and what the rules could not meet (empty when feasible)."""

    schedule: Schedule
    problems: list[str] = field(default_factory=list)


def _cap(value: float | None, steps: int) -> np.ndarray:
    return np.full(steps, np.inf if value is None else float(value))


def _shortfall(problems: list[str], carrier: str, remaining: np.ndarray, what: str) -> None:
    short = np.flatnonzero(remaining > _TOLERANCE_KW)
    if short.size:
        problems.append(
            f"{carrier} {what} at steps {step_ranges(short)} (up to {remaining.max():.6g} kW) under the baseline rules"
        )


class _Rules:
    """The state of the rule-based pass: demands still open per carrier."""

    def __init__(self, ctx: DispatchContext) -> None:
        self.ctx = ctx
        self.scenario = ctx.scenario
        self.n = ctx.scenario.horizon.steps
        self.schedule: Schedule = {
            asset: {quantity: np.zeros(self.n) for quantity in quantities} for asset, quantities in ctx.outputs.items()
        }
        self.problems: list[str] = []
        self.demand = {
            carrier: self.scenario.load(carrier).copy() for carrier in ("electricity", "heat", "cooling", "gas")
        }

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.scenario.assets if isinstance(a, kind)]

    def idle_storage_and_fixed_loads(self) -> None:
        for asset in self.of(StorageAsset):
            keep = (1.0 - asset.self_discharge_per_hour) ** (self.ctx.step_hours * np.arange(1, self.n + 1))
            self.schedule[asset.name]["soc_kwh"] = asset.soc_initial * asset.energy_kwh * keep
        for asset in self.of(FlexibleLoadAsset):
            profile = self.scenario.series(asset.profile)
            self.schedule[asset.name]["consumption_kw"] = profile
            self.demand[asset.carrier] += profile

    def take(self, carrier: str, capacity: np.ndarray) -> np.ndarray:
        """Serve as much of the open ``carrier`` demand as ``capacity`` allows."""
        served = np.clip(np.minimum(self.demand[carrier], capacity), 0.0, None)
        self.demand[carrier] -= served
        return served

    def cooling(self) -> None:
        for chiller in self.of(ElectricChillerAsset):
            cooling = self.take("cooling", _cap(chiller.capacity_kw, self.n))
            electric = cooling / self.scenario.series(chiller.cop)
            self.schedule[chiller.name].update(cooling_kw=cooling, electric_kw=electric)
            self.demand["electricity"] += electric
        for chiller in self.of(AbsorptionChillerAsset):
            cooling = self.take("cooling", _cap(chiller.capacity_kw, self.n))
            heat = cooling / self.scenario.series(chiller.cop)
            self.schedule[chiller.name].update(cooling_kw=cooling, heat_kw=heat)
            self.demand["heat"] += heat
        _shortfall(self.problems, "cooling", self.demand["cooling"], "short")

    def _on(self, name: str, output: np.ndarray) -> None:
        if "on" in self.schedule[name]:
            self.schedule[name]["on"] = (output > _TOLERANCE_KW).astype(float)

    def heat(self) -> None:
        for boiler in self.of(GasBoilerAsset):
            heat = np.minimum(self.demand["heat"], boiler.capacity_kw).clip(0.0)
            if boiler.min_load is not None:
                heat = np.where(heat >= boiler.min_load * boiler.capacity_kw, heat, 0.0)
            heat = self.take("heat", heat)
            fuel = heat / boiler.efficiency
            self.schedule[boiler.name].update(heat_kw=heat, fuel_kw=fuel)
            self._on(boiler.name, heat)
            self.demand["gas"] += fuel
        for chp in self.of(ChpAsset):
            heat_rating = chp.electric_capacity_kw * chp.thermal_efficiency / chp.electric_efficiency
            heat = np.minimum(self.demand["heat"], heat_rating).clip(0.0)
            if chp.min_load is not None:
                heat = np.where(heat >= chp.min_load * heat_rating, heat, 0.0)
            heat = self.take("heat", heat)
            fuel = heat / chp.thermal_efficiency
            electric = fuel * chp.electric_efficiency
            self.schedule[chp.name].update(heat_kw=heat, fuel_kw=fuel, electric_kw=electric)
            self._on(chp.name, electric)
            self.demand["gas"] += fuel
            self.demand["electricity"] -= electric
        for converter in [*self.of(ElectricBoilerAsset), *self.of(HeatPumpAsset)]:
            heat = self.take("heat", _cap(converter.capacity_kw, self.n))
            ratio = (
                converter.efficiency
                if isinstance(converter, ElectricBoilerAsset)
                else self.scenario.series(converter.cop)
            )
            electric = heat / ratio
            self.schedule[converter.name].update(heat_kw=heat, electric_kw=electric)
            self.demand["electricity"] += electric
        _shortfall(self.problems, "heat", self.demand["heat"], "short")

    def electricity(self) -> None:
        renewables = [a for a in self.scenario.assets if isinstance(a, PvAsset | WindAsset)]
        grids: list[GridAsset] = self.of(GridAsset)
        available = {a.name: a.capacity_kw * self.scenario.series(a.profile) for a in renewables}
        used = {name: self.take("electricity", avail) for name, avail in available.items()}
        for grid in grids:
            imports = self.take("electricity", _cap(grid.import_max_kw, self.n))
            self.schedule[grid.name]["import_kw"] = imports
        export_room = {g.name: _cap(g.export_max_kw, self.n) for g in grids}
        # electricity the park cannot use (CHP beyond the demand) must leave through the grid
        surplus = np.clip(-self.demand["electricity"], 0.0, None)
        for grid in grids:
            exported = np.minimum(surplus, export_room[grid.name])
            self.schedule[grid.name]["export_kw"] = exported
            export_room[grid.name] -= exported
            surplus -= exported
            self.demand["electricity"] += exported
        _shortfall(self.problems, "electricity", surplus, "surplus that nothing absorbs")
        for name, avail in available.items():
            leftover = avail - used[name]
            for grid in grids:
                allowed = self.scenario.series(grid.export_price) >= 0
                exported = np.where(allowed, np.minimum(leftover, export_room[grid.name]), 0.0)
                export_room[grid.name] -= exported
                self.schedule[grid.name]["export_kw"] = self.schedule[grid.name]["export_kw"] + exported
                leftover = leftover - exported
            self.schedule[name]["output_kw"] = avail - leftover
            self.schedule[name]["curtailed_kw"] = leftover
        _shortfall(self.problems, "electricity", self.demand["electricity"], "short")

    def gas(self) -> None:
        for supply in self.of(GasAsset):
            self.schedule[supply.name]["supply_kw"] = self.take("gas", _cap(supply.max_kw, self.n))
        _shortfall(self.problems, "gas", self.demand["gas"], "short")


def baseline_schedule(ctx: DispatchContext) -> BaselineSchedule:
    """The rule-based schedule of the scenario behind ``ctx`` (see the module's rules).

    Parameters
    ----------
    ctx
        A built model; its registered quantities give the schedule's keys and its terms
        later evaluate the baseline's cost, emissions and balance.
    """
    rules = _Rules(ctx)
    rules.idle_storage_and_fixed_loads()
    rules.cooling()
    rules.heat()
    rules.electricity()
    rules.gas()
    return BaselineSchedule(rules.schedule, rules.problems)
