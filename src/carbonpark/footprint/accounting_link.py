"""Energy lines of a footprint accounted by the accounting engine.

A product's energy per unit (``energy: [{activity, amount, unit}]``) without a factor of its
own is accounted like any activity datum: :func:`carbonpark.accounting.account` with the
chosen factor set and GWP set, the lineage naming the factor rows and their documents.

References
----------
Issue 7 item 4 (energy "accounted by the accounting engine"); guide §4.2 (核算); ISO 14067:2018 §6.4.9.4
(electricity).
"""

from __future__ import annotations

from carbonpark.accounting import ActivityRecord, account
from carbonpark.factors import DEFAULT_FACTOR_SET, DEFAULT_GWP_SET
from carbonpark.footprint.engine import EnergyAccountant
from carbonpark.footprint.model import EnergyLine

__all__ = ["accounting_energy_accountant"]


def accounting_energy_accountant(factor_set: str | None = None, gwp_set: str | None = None) -> EnergyAccountant:
    """An :data:`~carbonpark.footprint.engine.EnergyAccountant` backed by the accounting engine.

    Parameters
    ----------
    factor_set, gwp_set
        Names known to the factor library; None for the library's defaults.

    Returns
    -------
    callable
        ``line → (tCO2e of the line, lineage text)``.
    """
    chosen_factor_set = factor_set or DEFAULT_FACTOR_SET
    chosen_gwp_set = gwp_set or DEFAULT_GWP_SET

    def accountant(line: EnergyLine) -> tuple[float, str]:
        inventory = account(
            [ActivityRecord(1, "footprint", line.activity, line.amount, line.unit)],
            factor_set=chosen_factor_set,
            gwp_set=chosen_gwp_set,
        )
        factors = sorted(
            {
                f"{f.id} = {f.value:g} {f.unit} ({f.source_document})"
                for row in inventory.rows
                for f in row.amount.factors
            }
        )
        lineage = f"accounting engine, factor set {inventory.factor_set}, GWP {inventory.gwp_set}: " + "; ".join(
            factors
        )
        return inventory.total_tco2e, lineage

    return accountant
