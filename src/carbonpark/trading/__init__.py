"""carbonpark.trading: allowances, CCER, energy-use rights, compliance and the park market.

Pure engine (no database, no network): a double-entry registry whose movements yield
ledger payloads, allocation formulas, annual compliance, reconciliation against the
national registry, a price-time-priority order book and the energy-use side
(能耗双控, key energy-consuming units, product energy quotas).

References
----------
Guide §7.3 (碳交易), §2.2(4) (碳排放权和用能权交易的统筹衔接), §8.1 (约束性指标).
"""

from carbonpark.trading.allocation import (
    benchmark_allocation,
    coal_heat_supply_correction,
    historical_emissions_allocation,
    historical_intensity_allocation,
    power_unit_allocation,
)
from carbonpark.trading.assets import AccountKey, Asset, parse_asset
from carbonpark.trading.compliance import (
    NATIONAL_ETS_2021,
    NATIONAL_ETS_2024,
    ComplianceAssessment,
    ComplianceProgramme,
    assess_surrender,
    ccer_cap,
    compliance_calendar,
    surrender,
)
from carbonpark.trading.energy import (
    DualControlPosition,
    DualControlTarget,
    ProductQuota,
    QuotaCheck,
    check_product_quota,
    dual_control_position,
    energy_right_asset,
    energy_right_surrender,
    energy_use_status_report,
    key_energy_units,
    park_position,
)
from carbonpark.trading.market import Market, Order, OrderBook, OrderResult, Trade
from carbonpark.trading.reconcile import HoldingDifference, align_to_statement, parse_statement, reconcile
from carbonpark.trading.registry import BalanceBook, InMemoryBook, Movement, Registry
from carbonpark.trading.simulate import load_scenario, run_scenario

__all__ = [
    "NATIONAL_ETS_2021",
    "NATIONAL_ETS_2024",
    "AccountKey",
    "Asset",
    "BalanceBook",
    "ComplianceAssessment",
    "ComplianceProgramme",
    "DualControlPosition",
    "DualControlTarget",
    "HoldingDifference",
    "InMemoryBook",
    "Market",
    "Movement",
    "Order",
    "OrderBook",
    "OrderResult",
    "ProductQuota",
    "QuotaCheck",
    "Registry",
    "Trade",
    "align_to_statement",
    "assess_surrender",
    "benchmark_allocation",
    "ccer_cap",
    "check_product_quota",
    "coal_heat_supply_correction",
    "compliance_calendar",
    "dual_control_position",
    "energy_right_asset",
    "energy_right_surrender",
    "energy_use_status_report",
    "historical_emissions_allocation",
    "historical_intensity_allocation",
    "key_energy_units",
    "load_scenario",
    "park_position",
    "parse_asset",
    "parse_statement",
    "power_unit_allocation",
    "reconcile",
    "run_scenario",
    "surrender",
]
