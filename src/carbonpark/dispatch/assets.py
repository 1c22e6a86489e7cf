"""One ``define_*`` function per asset type and per constraint family.

Every asset type has a define function ``define(ctx, asset)`` that adds its variables
(named ``"{asset}-{quantity}"``), its constraints (named ``"{asset}-{family}"``) and
registers its place in the carrier balances, the cost and the emissions. The shared
constraint families (storage state, end state, conversion, minimum load, demand
charge) each have their own function, reused across types.

Quantities in the schedule: grid ``import_kw``, ``export_kw``; pv and wind
``output_kw``, ``curtailed_kw``; storage ``charge_kw``, ``discharge_kw``, ``soc_kwh``
(end of step); boilers ``heat_kw``, ``fuel_kw``; chp ``electric_kw``, ``heat_kw``,
``fuel_kw``; heat pump and electric boiler ``heat_kw``, ``electric_kw``; chillers
``cooling_kw`` and ``electric_kw`` or ``heat_kw``; flexible load ``consumption_kw``,
``curtailed_kw``; gas ``supply_kw``.

References
----------
The guide §4.6 (multi-energy complementarity, source–grid–load–storage coordination).
"""

from __future__ import annotations

import linopy
import numpy as np
import xarray as xr

from carbonpark.dispatch.context import DispatchContext, StepTerm
from carbonpark.dispatch.scenario import (
    AbsorptionChillerAsset,
    BatteryAsset,
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
    ThermalStorageAsset,
    WindAsset,
)

__all__ = [
    "define_absorption_chiller",
    "define_battery",
    "define_chp",
    "define_conversion",
    "define_demand_charge",
    "define_electric_boiler",
    "define_electric_chiller",
    "define_end_state",
    "define_flexible_load",
    "define_gas_boiler",
    "define_gas_supply",
    "define_grid",
    "define_heat_pump",
    "define_min_load",
    "define_renewable",
    "define_storage",
    "define_storage_balance",
    "define_thermal_storage",
]


# --- shared constraint families -----------------------------------------------------------


def define_conversion(
    ctx: DispatchContext,
    asset: str,
    output: linopy.Variable,
    source: linopy.Variable,
    ratio: object,
    family: str,
) -> None:
    """``output = ratio × source`` in every step (efficiency or COP), named ``"{asset}-{family}"``.

    Parameters
    ----------
    ratio
        Output per input [kW/kW], one number or one per step.
    """
    rows = ctx.constraint([(1.0, output), (-ctx.scenario.series(ratio), source)], "=", 0.0)  # type: ignore[arg-type]
    ctx.model.add_constraints(rows, name=f"{asset}-{family}")


def define_min_load(
    ctx: DispatchContext, asset: str, output: linopy.Variable, capacity_kw: float, min_load: float | None
) -> None:
    """Output ≤ capacity (LP), or on/off with ``min_load × capacity ≤ output ≤ capacity`` when on (MILP).

    Adds the binary ``"{asset}-on"`` and the constraints ``"{asset}-max_output"`` and
    ``"{asset}-min_output"`` when ``min_load`` is given.
    """
    if min_load is None:
        return
    on = ctx.add_flow(asset, "on", binary=True)
    ctx.model.add_constraints(
        ctx.constraint([(1.0, output), (-capacity_kw, on)], "<=", 0.0), name=f"{asset}-max_output"
    )
    rows = ctx.constraint([(1.0, output), (-min_load * capacity_kw, on)], ">=", 0.0)
    ctx.model.add_constraints(rows, name=f"{asset}-min_output")


def define_storage_balance(ctx: DispatchContext, asset: StorageAsset) -> None:
    """State of charge: ``soc[t] = keep × soc[t−1] + (η_c × charge[t] − discharge[t] / η_d) × Δt``.

    ``keep = (1 − self_discharge_per_hour)^Δt`` and ``soc[−1] = soc_initial × energy_kwh``.
    Named ``"{asset}-soc_balance"``; ``soc_kwh`` is the state at the end of each step [kWh].
    """
    hours = ctx.step_hours
    keep = (1.0 - asset.self_discharge_per_hour) ** hours
    soc = ctx.variable(asset.name, "soc_kwh")
    charge = ctx.variable(asset.name, "charge_kw")
    discharge = ctx.variable(asset.name, "discharge_kw")
    initial = np.zeros(ctx.scenario.horizon.steps)
    initial[0] = keep * asset.soc_initial * asset.energy_kwh
    terms: list[StepTerm] = [
        (1.0, soc),
        (-keep, soc, 1),
        (-asset.charge_efficiency * hours, charge),
        (hours / asset.discharge_efficiency, discharge),
    ]
    ctx.model.add_constraints(ctx.constraint(terms, "=", initial), name=f"{asset.name}-soc_balance")


def define_end_state(ctx: DispatchContext, asset: StorageAsset) -> None:
    """The state at the end of the horizon is at least ``soc_end_min`` (default: the initial state).

    Named ``"{asset}-end_state"`` [kWh]; the relaxed model adds the slack ``"{asset}-end_shortfall_kwh"``.
    """
    # one row: scalar linopy terms, no array broadcasting
    soc_end = 1.0 * ctx.variable(asset.name, "soc_kwh").at[ctx.scenario.horizon.steps - 1]
    floor = asset.end_soc_fraction * asset.energy_kwh
    slack = ctx.slack(asset.name, "end_shortfall_kwh", per_step=False)
    lhs = soc_end if slack is None else soc_end + slack.at[()]
    ctx.model.add_constraints(lhs >= floor, name=f"{asset.name}-end_state")


def define_demand_charge(ctx: DispatchContext, asset: GridAsset) -> None:
    """Peak import ``"{grid}-peak_import_kw"`` ≥ import in every step, charged per kW.

    Constraint ``"{grid}-peak_import"``; the peak starts at ``peak_import_floor_kw``.
    """
    if not asset.demand_charge_per_kw:
        return
    name = f"{asset.name}-peak_import_kw"
    peak = ctx.model.add_variables(lower=asset.peak_import_floor_kw, name=name)
    imports = ctx.variable(asset.name, "import_kw")
    ctx.model.add_constraints(
        ctx.constraint([(1.0, imports), (-1.0, peak)], "<=", 0.0), name=f"{asset.name}-peak_import"
    )
    ctx.add_peak_cost(asset.name, "import_kw", asset.demand_charge_per_kw, name, asset.peak_import_floor_kw)


# --- asset types ----------------------------------------------------------------------------


def define_grid(ctx: DispatchContext, asset: GridAsset) -> None:
    """Grid import and export with time-of-use prices [CNY/kWh] and carbon [kgCO2/kWh] on imports."""
    ctx.add_flow(asset.name, "import_kw", upper=asset.import_max_kw)
    ctx.add_flow(asset.name, "export_kw", upper=asset.export_max_kw)
    ctx.add_to_bus("electricity", asset.name, "import_kw", +1.0)
    ctx.add_to_bus("electricity", asset.name, "export_kw", -1.0)
    ctx.add_energy_cost(asset.name, "import_kw", asset.import_price)
    ctx.add_energy_cost(asset.name, "export_kw", -ctx.scenario.series(asset.export_price))
    ctx.add_emissions(asset.name, "import_kw", asset.carbon_kg_per_kwh)
    define_demand_charge(ctx, asset)


def define_renewable(ctx: DispatchContext, asset: PvAsset | WindAsset) -> None:
    """Output ≤ ``capacity_kw × profile``; ``curtailed_kw`` is what is available and not used."""
    available = asset.capacity_kw * ctx.scenario.series(asset.profile)
    output = ctx.add_flow(asset.name, "output_kw", upper=available)
    ctx.add_to_bus("electricity", asset.name, "output_kw", +1.0)
    ctx.add_output(asset.name, "curtailed_kw", ctx.expression([(-1.0, output)], constant=available))


def define_storage(ctx: DispatchContext, asset: StorageAsset, carrier: str) -> None:
    """Charge and discharge ≤ ``power_kw``, state within ``[soc_min, soc_max] × energy_kwh``."""
    ctx.add_flow(asset.name, "charge_kw", upper=asset.power_kw)
    ctx.add_flow(asset.name, "discharge_kw", upper=asset.power_kw)
    ctx.add_flow(asset.name, "soc_kwh", lower=asset.soc_min * asset.energy_kwh, upper=asset.soc_max * asset.energy_kwh)
    ctx.add_to_bus(carrier, asset.name, "discharge_kw", +1.0)
    ctx.add_to_bus(carrier, asset.name, "charge_kw", -1.0)
    define_storage_balance(ctx, asset)
    define_end_state(ctx, asset)


def define_battery(ctx: DispatchContext, asset: BatteryAsset) -> None:
    """Battery on the electricity bus (see :func:`define_storage`)."""
    define_storage(ctx, asset, "electricity")


def define_thermal_storage(ctx: DispatchContext, asset: ThermalStorageAsset) -> None:
    """Hot or cold store on its carrier's bus (see :func:`define_storage`)."""
    define_storage(ctx, asset, asset.carrier)


def define_gas_boiler(ctx: DispatchContext, asset: GasBoilerAsset) -> None:
    """``heat_kw = efficiency × fuel_kw``, heat ≤ ``capacity_kw``; on/off with ``min_load``."""
    heat = ctx.add_flow(asset.name, "heat_kw", upper=asset.capacity_kw)
    fuel = ctx.add_flow(asset.name, "fuel_kw")
    define_conversion(ctx, asset.name, heat, fuel, asset.efficiency, "conversion")
    define_min_load(ctx, asset.name, heat, asset.capacity_kw, asset.min_load)
    ctx.add_to_bus("heat", asset.name, "heat_kw", +1.0)
    ctx.add_to_bus("gas", asset.name, "fuel_kw", -1.0)


def define_chp(ctx: DispatchContext, asset: ChpAsset) -> None:
    """Back-pressure CHP: ``electric = η_e × fuel``, ``heat = η_th × fuel``; on/off with ``min_load``."""
    electric = ctx.add_flow(asset.name, "electric_kw", upper=asset.electric_capacity_kw)
    heat = ctx.add_flow(asset.name, "heat_kw")
    fuel = ctx.add_flow(asset.name, "fuel_kw")
    define_conversion(ctx, asset.name, electric, fuel, asset.electric_efficiency, "electric_conversion")
    define_conversion(ctx, asset.name, heat, fuel, asset.thermal_efficiency, "heat_conversion")
    define_min_load(ctx, asset.name, electric, asset.electric_capacity_kw, asset.min_load)
    ctx.add_to_bus("electricity", asset.name, "electric_kw", +1.0)
    ctx.add_to_bus("heat", asset.name, "heat_kw", +1.0)
    ctx.add_to_bus("gas", asset.name, "fuel_kw", -1.0)


def define_heat_pump(ctx: DispatchContext, asset: HeatPumpAsset) -> None:
    """``heat_kw = cop × electric_kw``, heat ≤ ``capacity_kw`` (rated heat output)."""
    heat = ctx.add_flow(asset.name, "heat_kw", upper=asset.capacity_kw)
    electric = ctx.add_flow(asset.name, "electric_kw")
    define_conversion(ctx, asset.name, heat, electric, asset.cop, "conversion")
    ctx.add_to_bus("heat", asset.name, "heat_kw", +1.0)
    ctx.add_to_bus("electricity", asset.name, "electric_kw", -1.0)


def define_electric_boiler(ctx: DispatchContext, asset: ElectricBoilerAsset) -> None:
    """``heat_kw = efficiency × electric_kw``, heat ≤ ``capacity_kw``."""
    heat = ctx.add_flow(asset.name, "heat_kw", upper=asset.capacity_kw)
    electric = ctx.add_flow(asset.name, "electric_kw")
    define_conversion(ctx, asset.name, heat, electric, asset.efficiency, "conversion")
    ctx.add_to_bus("heat", asset.name, "heat_kw", +1.0)
    ctx.add_to_bus("electricity", asset.name, "electric_kw", -1.0)


def define_electric_chiller(ctx: DispatchContext, asset: ElectricChillerAsset) -> None:
    """``cooling_kw = cop × electric_kw``, cooling ≤ ``capacity_kw``."""
    cooling = ctx.add_flow(asset.name, "cooling_kw", upper=asset.capacity_kw)
    electric = ctx.add_flow(asset.name, "electric_kw")
    define_conversion(ctx, asset.name, cooling, electric, asset.cop, "conversion")
    ctx.add_to_bus("cooling", asset.name, "cooling_kw", +1.0)
    ctx.add_to_bus("electricity", asset.name, "electric_kw", -1.0)


def define_absorption_chiller(ctx: DispatchContext, asset: AbsorptionChillerAsset) -> None:
    """``cooling_kw = cop × heat_kw`` (heat drawn from the heat bus), cooling ≤ ``capacity_kw``."""
    cooling = ctx.add_flow(asset.name, "cooling_kw", upper=asset.capacity_kw)
    heat = ctx.add_flow(asset.name, "heat_kw")
    define_conversion(ctx, asset.name, cooling, heat, asset.cop, "conversion")
    ctx.add_to_bus("cooling", asset.name, "cooling_kw", +1.0)
    ctx.add_to_bus("heat", asset.name, "heat_kw", -1.0)


def define_flexible_load(ctx: DispatchContext, asset: FlexibleLoadAsset) -> None:
    """Shiftable, curtailable demand.

    Outside every window ``consumption + curtailed = profile`` (``"{asset}-fixed"``);
    within window ``w`` the energies balance, ``Σ (consumption + curtailed) = Σ profile``
    (``"{asset}-window_{w}"``). Curtailment costs ``curtail_cost_per_kwh`` [CNY/kWh].
    """
    profile = ctx.scenario.series(asset.profile)
    peak = float(profile.max()) if asset.max_kw is None else asset.max_kw
    consumption = ctx.add_flow(asset.name, "consumption_kw", upper=peak)
    curtail_share = asset.curtail_max_fraction if asset.curtail_cost_per_kwh is not None else 0.0
    curtailed = ctx.add_flow(asset.name, "curtailed_kw", upper=curtail_share * profile)
    ctx.add_to_bus(asset.carrier, asset.name, "consumption_kw", -1.0)
    if asset.curtail_cost_per_kwh:
        ctx.add_energy_cost(asset.name, "curtailed_kw", asset.curtail_cost_per_kwh)
    served_terms: list[StepTerm] = [(1.0, consumption), (1.0, curtailed)]
    served = ctx.expression(served_terms)
    in_window = np.zeros(ctx.scenario.horizon.steps, dtype=bool)
    for index, window in enumerate(asset.windows):
        in_window[window.start : window.end] = True
        steps = slice(window.start, window.end)
        energy = float(profile[steps].sum())
        ctx.model.add_constraints(served.isel(step=steps).sum() == energy, name=f"{asset.name}-window_{index}")
    if not in_window.all():
        fixed = xr.DataArray(~in_window, coords=[ctx.steps])
        rows = ctx.constraint(served_terms, "=", profile)
        ctx.model.add_constraints(rows, name=f"{asset.name}-fixed", mask=fixed)


def define_gas_supply(ctx: DispatchContext, asset: GasAsset) -> None:
    """Gas supply ``supply_kw`` (fuel power, LHV) ≤ ``max_kw``, priced and emitting per kWh of fuel."""
    ctx.add_flow(asset.name, "supply_kw", upper=asset.max_kw)
    ctx.add_to_bus("gas", asset.name, "supply_kw", +1.0)
    ctx.add_energy_cost(asset.name, "supply_kw", asset.price_per_kwh)
    ctx.add_emissions(asset.name, "supply_kw", asset.carbon_kg_per_kwh)
