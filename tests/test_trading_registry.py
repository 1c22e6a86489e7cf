"""Registry, allocation, compliance and reconciliation: numbers checked by hand.

Sources: REFERENCE_DATA.md §5a (CCER ≤ 5%, 2021 fine 20,000–30,000 CNY, report by 31
March), §5b (Decree 775 fine 5–10 × price × shortfall), §5c (power allocation formula
and 2019–2020 benchmarks, grade C); guide §7.3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

import pytest

from carbonpark.errors import IntegrityError, ValidationError
from carbonpark.trading.allocation import (
    benchmark_allocation,
    coal_heat_supply_correction,
    historical_emissions_allocation,
    historical_intensity_allocation,
    power_unit_allocation,
)
from carbonpark.trading.assets import CASH, EXTERNAL, RESERVED, SURRENDERED, AccountKey, Amount, Asset, to_price
from carbonpark.trading.compliance import (
    COMPLIANT,
    NATIONAL_ETS_2021,
    NATIONAL_ETS_2024,
    REJECTED,
    SHORTFALL,
    ComplianceProgramme,
    assess_surrender,
    ccer_cap,
    compliance_calendar,
    surrender,
)
from carbonpark.trading.reconcile import align_to_statement, parse_statement, reconcile
from carbonpark.trading.registry import MOVEMENT_KIND, InMemoryBook, Movement, Registry

A23 = Asset("allowance", 2023)
A24 = Asset("allowance", 2024)
A25 = Asset("allowance", 2025)
CCER_ = Asset("ccer")
CASH_ = Asset(CASH)


# -- double entry ----------------------------------------------------------------------------


def test_transfer_debits_one_account_and_credits_another() -> None:
    reg = Registry()
    reg.issue("A", A24, 100)
    move = reg.transfer("A", "B", A24, 40, ref="t1")
    assert (reg.balance("A", A24), reg.balance("B", A24)) == (60, 40)
    assert move.debit == AccountKey("B", A24) and move.credit == AccountKey("A", A24)
    # the outside world's contra account shows minus what was issued
    assert reg.balance(EXTERNAL, A24) == -100
    assert reg.trial_balance() == {A24: 0}
    reg.check_integrity()


def test_every_movement_yields_an_attestation_payload() -> None:
    seen: list[dict[str, object]] = []
    reg = Registry(on_entry=seen.append)
    reg.issue("A", A24, 100, ref="plan-2024")
    reg.transfer("A", "B", A24, 40, ref="t1")
    assert seen == reg.entries
    assert [e["kind"] for e in seen] == [MOVEMENT_KIND, MOVEMENT_KIND]
    assert seen[1] == {
        "kind": "allowance_movement",
        "seq": 2,
        "asset": "allowance:2024",
        "amount": "40",
        "debit": "B/allowance:2024/available",
        "credit": "A/allowance:2024/available",
        "reason": "transfer",
        "ref": "t1",
        "at_ms": None,
    }


def test_overdraw_raises_and_changes_nothing() -> None:
    reg = Registry()
    reg.issue("A", A24, 10)
    with pytest.raises(IntegrityError, match="A holds 10 allowance:2024"):
        reg.transfer("A", "B", A24, 11)
    assert reg.balance("A", A24) == 10 and reg.balance("B", A24) == 0
    assert len(reg.entries) == 1


def test_atomic_block_is_all_or_nothing() -> None:
    reg = Registry()
    reg.issue("A", A24, 10)
    reg.issue("B", CASH_, Decimal("500.00"))
    with pytest.raises(IntegrityError), reg.atomic():
        reg.transfer("A", "B", A24, 10)  # would succeed alone
        reg.transfer("B", "A", CASH_, Decimal("600.00"))  # B has only 500
    assert reg.balance("A", A24) == 10 and reg.balance("B", CASH_) == Decimal("500.00")
    assert len(reg.entries) == 2


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, Decimal("2")])
def test_instrument_amounts_are_positive_whole_ints(amount: object) -> None:
    reg = Registry()
    reg.issue("A", A24, 10)
    with pytest.raises(ValidationError):
        reg.transfer("A", "B", A24, amount)  # type: ignore[arg-type]


def test_cash_is_decimal_to_the_fen() -> None:
    reg = Registry()
    reg.issue("A", CASH_, Decimal("100.10"))
    with pytest.raises(ValidationError, match="at most 2 decimals"):
        reg.transfer("A", "B", CASH_, Decimal("0.001"))
    reg.transfer("A", "B", CASH_, Decimal("0.10"))
    assert reg.balance("A", CASH_) == Decimal("100.00")
    with pytest.raises(ValidationError):
        to_price("0.001", "price")


def test_reserve_release_surrender_pockets() -> None:
    reg = Registry()
    reg.issue("A", A24, 50)
    reg.reserve("A", A24, 20, ref="o1")
    assert reg.balance("A", A24) == 30 and reg.balance("A", A24, RESERVED) == 20 and reg.total("A", A24) == 50
    reg.release("A", A24, 5, ref="o1")
    reg.surrender("A", A24, 35)
    assert reg.balance("A", A24) == 0 and reg.balance(SURRENDERED, A24) == 35
    assert reg.holdings("A") == {A24: 15}


# -- allocation --------------------------------------------------------------------------------


def test_benchmark_allocation_by_hand() -> None:
    # 0.9 t/t × 12,345 t = 11,110.5; × 1.02 = 11,332.71; × 0.97 = 10,992.7287 → half-up 10,993; floor 10,992
    assert benchmark_allocation("0.9", 12_345, ["1.02", "0.97"]) == 10_993
    assert benchmark_allocation("0.9", 12_345, ["1.02", "0.97"], rounding=ROUND_FLOOR) == 10_992


def test_power_unit_allocation_by_hand() -> None:
    # 300 MW-class coal unit, 2019–2020 benchmarks (REFERENCE_DATA.md §5c, grade C):
    # heat ratio 0.2 → correction 1 − 0.22 × 0.2 = 0.956; air-cooled 1.05
    # power: 0.877 × 2,000,000 MWh = 1,754,000; × 0.956 = 1,676,824; × 1.05 = 1,760,665.2
    # heat: 0.126 × 1,000,000 GJ = 126,000; total 1,886,665.2 → 1,886,665 t
    assert coal_heat_supply_correction("0.2") == Decimal("0.956")
    correction = [coal_heat_supply_correction("0.2"), "1.05"]
    assert power_unit_allocation("0.877", 2_000_000, "0.126", 1_000_000, correction) == 1_886_665
    # half a tonne rounds up: 0.5 t/MWh × 1 MWh = 0.5 → 1 (half-up), 0 (floor)
    assert power_unit_allocation("0.5", 1) == 1
    assert power_unit_allocation("0.5", 1, rounding=ROUND_FLOOR) == 0


def test_historical_allocations_by_hand() -> None:
    # mean(100,000; 110,000; 120,000) = 110,000 × 0.98 = 107,800
    assert historical_emissions_allocation([100_000, 110_000, 120_000], "0.98") == 107_800
    # 0.85 t/t × 20,000 t × 0.97 = 16,490
    assert historical_intensity_allocation("0.85", 20_000, "0.97") == 16_490
    with pytest.raises(ValidationError):
        historical_emissions_allocation([])
    with pytest.raises(ValidationError):
        benchmark_allocation("-1", 10)


# -- compliance ---------------------------------------------------------------------------------


def test_ccer_cap_is_floor_of_five_percent() -> None:
    # 5% of 60 = 3.0 → 3; 5% of 119 = 5.95 → 5; 5% of 19 = 0.95 → 0
    assert [ccer_cap(v) for v in (60, 119, 19, 0)] == [3, 5, 0, 0]
    assert ccer_cap(1000, Decimal("0.10")) == 100


def test_exactly_the_cap_passes_one_more_is_refused() -> None:
    # verified 100 → cap floor(5.00) = 5
    ok = assess_surrender(100, 95, 5, held_allowances=200, held_ccer=10)
    assert (ok.status, ok.ccer_cap_t, ok.shortfall_t) == (COMPLIANT, 5, 0)
    refused = assess_surrender(100, 94, 6, held_allowances=200, held_ccer=10)
    assert refused.status == REJECTED
    assert "CCER 6 t exceeds the cap floor(0.05 × 100) = 5 t" in refused.reason


def test_shortfall_and_penalty_under_2024_regulations() -> None:
    # verified 1,000, surrender 900 + 30 CCER (cap 50) → 70 t short
    # fine 5–10 × 80 CNY/t × 70 t = 28,000–56,000 CNY; 70 t deducted next year
    result = assess_surrender(1000, 900, 30, 900, 30, NATIONAL_ETS_2024, market_price=Decimal(80))
    assert (result.status, result.shortfall_t, result.surrendered_t) == (SHORTFALL, 70, 930)
    assert result.penalty is not None
    assert (result.penalty.fine_min_cny, result.penalty.fine_max_cny) == (Decimal(28_000), Decimal(56_000))
    assert result.penalty.deduction_next_year_t == 70


def test_shortfall_penalty_under_2021_measures_and_missing_price() -> None:
    result = assess_surrender(1000, 900, 0, 900, 0, NATIONAL_ETS_2021)
    assert result.penalty is not None
    assert (result.penalty.fine_min_cny, result.penalty.fine_max_cny) == (Decimal(20_000), Decimal(30_000))
    no_price = assess_surrender(1000, 900, 0, 900, 0, NATIONAL_ETS_2024)
    assert no_price.penalty is not None and no_price.penalty.fine_min_cny is None


def test_rejections_hold_and_obligation() -> None:
    assert "only 50 t of eligible vintages held" in assess_surrender(60, 60, 0, 50, 0).reason
    assert "exceeds the obligation of 60 t" in assess_surrender(60, 61, 0, 100, 0).reason
    custom = ComplianceProgramme("pilot", ccer_cap_fraction=Decimal("0.10"))
    assert assess_surrender(60, 54, 6, 100, 6, custom).status == COMPLIANT  # cap floor(6.0) = 6


def test_surrender_takes_oldest_eligible_vintage_first() -> None:
    reg = Registry()
    reg.issue("A", A23, 30)
    reg.issue("A", A24, 100)
    reg.issue("A", A25, 100)  # later vintage: not usable for 2024
    reg.issue("A", CCER_, 10)
    result = surrender(reg, "A", 120, 115, 5, year=2024)
    assert result.status == COMPLIANT
    # 30 of 2023, then 85 of 2024, then 5 CCER
    assert [(m.asset.code, m.amount) for m in result.movements] == [
        ("allowance:2023", 30),
        ("allowance:2024", 85),
        ("ccer", 5),
    ]
    assert reg.holdings("A") == {A24: 15, A25: 100, CCER_: 5}
    assert reg.balance(SURRENDERED, A24) == 85
    # asking for 2025 tonnes for 2024 is refused: only 15 eligible held
    assert surrender(reg, "A", 100, 100, 0, year=2024).status == REJECTED


def test_compliance_calendar() -> None:
    cal = compliance_calendar(2024)
    assert cal == {
        "report_due": dt.date(2025, 3, 31),
        "verification_due": dt.date(2025, 6, 30),
        "surrender_due": dt.date(2025, 12, 31),
    }


# -- reconciliation -----------------------------------------------------------------------------


def test_reconciliation_lists_differences_and_aligns() -> None:
    reg = Registry()
    reg.issue("A", A24, 100)
    reg.issue("A", CCER_, 5)
    reg.issue("B", A24, 40)
    reg.reserve("B", A24, 10)  # reserved tonnes still count as held
    statement = parse_statement({"A": {"allowance:2024": 90, "ccer": 5}, "B": {"allowance:2024": 40}, "C": {"ccer": 7}})
    diffs = reconcile(reg, statement)
    # A: park 100 vs national 90 → +10; C: park 0 vs national 7 → −7; B agrees (30 + 10 reserved)
    assert [d.as_dict() for d in diffs] == [
        {"holder": "A", "asset": "allowance:2024", "park_t": 100, "national_t": 90, "difference_t": 10},
        {"holder": "C", "asset": "ccer", "park_t": 0, "national_t": 7, "difference_t": -7},
    ]
    moves = align_to_statement(reg, diffs, ref="stmt-2025-01")
    assert [(m.reason, m.amount) for m in moves] == [("registry_statement", 10), ("registry_statement", 7)]
    assert reconcile(reg, statement) == []
    reg.check_integrity()


def test_statement_rejects_cash_and_fractions() -> None:
    with pytest.raises(ValidationError):
        parse_statement({"A": {"cash": 5}})
    with pytest.raises(ValidationError):
        parse_statement({"A": {"ccer": 1.5}})


class _CountingBook(InMemoryBook):
    """Stands in for a store adapter: counts the all-or-nothing writes it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def set_balances(self, balances: Mapping[AccountKey, Amount], movements: list[Movement]) -> None:
        self.writes.append(len(movements))
        super().set_balances(balances, movements)


def test_registry_writes_each_operation_once_to_its_book() -> None:
    book = _CountingBook()
    reg = Registry(book)
    reg.issue("A", A24, 10)
    with reg.atomic():
        reg.transfer("A", "B", A24, 4)
        reg.transfer("B", "C", A24, 1)
    with pytest.raises(IntegrityError), reg.atomic():
        reg.transfer("A", "B", A24, 99)
    # one write for the issue, one for the two transfers together, none for the failed block
    assert book.writes == [1, 2]
    assert [m.seq for m in book.journal] == [1, 2, 3]
    assert (reg.balance("A", A24), reg.balance("B", A24), reg.balance("C", A24)) == (6, 3, 1)
