"""The registry of dispatch asset types: type name → define function.

The built-in types are in :data:`ASSET_DEFINERS`. A third party adds a type by
declaring an entry point in the group ``carbonpark.dispatch_assets`` whose object is a
define function ``define(ctx: DispatchContext, asset: AssetConfig) -> None``; it may
carry the attribute ``config_model`` (a subclass of
:class:`carbonpark.dispatch.scenario.AssetConfig` validating its fields; otherwise the
fields are accepted as they come). Such an asset stays idle in the rule-based baseline.

References
----------
SPEC.md C21 (extension points); the guide §3.2.2(2)2 (micro-component library).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carbonpark import extensions
from carbonpark.dispatch import assets
from carbonpark.dispatch.context import DispatchContext

__all__ = ["ASSET_DEFINERS", "DefineAsset", "asset_types"]

#: ``define(ctx, asset)`` adds an asset's variables, constraints and terms to the model.
DefineAsset = Callable[[DispatchContext, Any], None]

#: The built-in asset types.
ASSET_DEFINERS: dict[str, DefineAsset] = {
    "grid": assets.define_grid,
    "pv": assets.define_renewable,
    "wind": assets.define_renewable,
    "battery": assets.define_battery,
    "thermal_storage": assets.define_thermal_storage,
    "gas_boiler": assets.define_gas_boiler,
    "chp": assets.define_chp,
    "heat_pump": assets.define_heat_pump,
    "electric_boiler": assets.define_electric_boiler,
    "electric_chiller": assets.define_electric_chiller,
    "absorption_chiller": assets.define_absorption_chiller,
    "flexible_load": assets.define_flexible_load,
    "gas": assets.define_gas_supply,
}


def asset_types() -> dict[str, DefineAsset]:
    """Built-in asset types plus those installed in the ``carbonpark.dispatch_assets`` group.

    A built-in type keeps its built-in definition even if an entry point repeats its name.
    """
    registry = dict(ASSET_DEFINERS)
    for name in extensions.available("dispatch_assets"):
        if name not in registry:
            registry[name] = extensions.load("dispatch_assets", name)
    return registry
