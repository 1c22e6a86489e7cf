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
from carbonpark.trading.market import Market, Order, OrderBook, OrderResult, Trade
from carbonpark.trading.reconcile import HoldingDifference, align_to_statement, parse_statement, reconcile
from carbonpark.trading.registry import BalanceBook, InMemoryBook, Movement, Registry

__all__ = [
    "NATIONAL_ETS_2021",
    "NATIONAL_ETS_2024",
    "AccountKey",
    "Asset",
    "BalanceBook",
    "ComplianceAssessment",
    "ComplianceProgramme",
    "HoldingDifference",
    "InMemoryBook",
    "Market",
    "Movement",
    "Order",
    "OrderBook",
    "OrderResult",
    "Registry",
    "Trade",
    "align_to_statement",
    "assess_surrender",
    "benchmark_allocation",
    "ccer_cap",
    "coal_heat_supply_correction",
    "compliance_calendar",
    "historical_emissions_allocation",
    "historical_intensity_allocation",
    "parse_asset",
    "parse_statement",
    "power_unit_allocation",
    "reconcile",
    "surrender",
]
