"""carbonpark.accounting: the accounting engine (SPEC C6, C7; the guide §4.2, §4.3, §4.5).

Pure functions in named stages: :func:`quantify` (activity → gas amounts), :func:`weight`
(→ CO2e with a GWP set), :func:`energy_use` (→ tonnes of standard coal), :func:`aggregate`
(→ totals by gas, scope, ISO 14064-1 category, source, level); :func:`account` runs them all.
:func:`park_account` is formula (3) with its reconciliation; :func:`formula8` is formula (8).
"""

from carbonpark.accounting.engine import account, aggregate, energy_use, explain, inventory_document, quantify, weight
from carbonpark.accounting.methods import BUILTIN_METHODS, MethodContext, cems_mass_t, hot_water_heat_gj, steam_heat_gj
from carbonpark.accounting.model import (
    ISO_CATEGORIES,
    ActivityRecord,
    EmissionRow,
    EnergyRow,
    GasAmount,
    Inventory,
)
from carbonpark.accounting.park import (
    PARK_TERMS,
    EnergyTransfer,
    Formula8Result,
    ParkAccount,
    ParkComponent,
    formula8,
    park_account,
    park_components,
)

__all__ = [
    "BUILTIN_METHODS",
    "ISO_CATEGORIES",
    "PARK_TERMS",
    "ActivityRecord",
    "EmissionRow",
    "EnergyRow",
    "EnergyTransfer",
    "Formula8Result",
    "GasAmount",
    "Inventory",
    "MethodContext",
    "ParkAccount",
    "ParkComponent",
    "account",
    "aggregate",
    "cems_mass_t",
    "energy_use",
    "explain",
    "formula8",
    "hot_water_heat_gj",
    "inventory_document",
    "park_account",
    "park_components",
    "quantify",
    "steam_heat_gj",
    "weight",
]
