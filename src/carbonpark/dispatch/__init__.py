"""Integrated energy dispatch (综合能源调度): electricity, heat, cooling and gas on HiGHS.

Read a scenario (:func:`load_scenario`), solve it (:func:`solve_dispatch`,
:func:`solve_rolling`, :func:`pareto_front`) and compare with the rule-based
baseline. Asset types are registered in :data:`ASSET_DEFINERS` (built-ins) and the
entry-point group ``carbonpark.dispatch_assets`` (third parties).

References
----------
The guide §4.6; SPEC.md C10.
"""

from carbonpark.dispatch.context import DispatchContext
from carbonpark.dispatch.model import build_model
from carbonpark.dispatch.registry import ASSET_DEFINERS, asset_types
from carbonpark.dispatch.scenario import AssetConfig, Scenario, load_scenario, parse_scenario
from carbonpark.dispatch.solve import (
    BaselineResult,
    DispatchResult,
    ParetoPoint,
    forecast_from_table,
    pareto_front,
    solve_dispatch,
    solve_rolling,
    with_objective,
)

__all__ = [
    "ASSET_DEFINERS",
    "AssetConfig",
    "BaselineResult",
    "DispatchContext",
    "DispatchResult",
    "ParetoPoint",
    "Scenario",
    "asset_types",
    "build_model",
    "forecast_from_table",
    "load_scenario",
    "pareto_front",
    "parse_scenario",
    "solve_dispatch",
    "solve_rolling",
    "with_objective",
]
