"""能耗双控 positions, key energy-consuming units, product quotas and energy-use rights, by hand.

Sources: 《节约能源法》 Art. 52 (key units ≥ 10,000 tce/a); guide §2.2(4), §8.1. Quota
limits are user-entered values (the clinker figures below are illustrative, not a standard's).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from carbonpark.errors import ValidationError
from carbonpark.trading.assets import Asset
from carbonpark.trading.energy import (
    DualControlTarget,
    ProductQuota,
    check_product_quota,
    dual_control_position,
    energy_right_asset,
    energy_right_surrender,
    energy_use_status_report,
    key_energy_units,
    park_position,
    year_elapsed_fraction,
)
from carbonpark.trading.market import BUY, SELL, Market
from carbonpark.trading.registry import Registry

TARGET = DualControlTarget("E1", 2025, total_cap_tce=Decimal(1000), intensity_cap_tce_per_10k_cny=Decimal("0.5"))


def test_half_year_position_at_risk() -> None:
    # 520 tce by mid-year: 52% of the cap used, 480 left, straight line → 520 / 0.5 = 1,040 > 1,000
    # intensity 520 / 1,300 = 0.4 ≤ 0.5
    p = dual_control_position(TARGET, 520, 1300, "0.5")
    assert (p.total_used_share, p.remaining_tce, p.projected_energy_tce) == (Decimal("0.52"), 480, 1040)
    assert (p.total_status, p.intensity_tce_per_10k_cny, p.intensity_status) == ("at_risk", Decimal("0.4"), "within")


def test_within_and_exceeded() -> None:
    assert dual_control_position(TARGET, 400, 1000, "0.5").total_status == "within"  # → 800
    p = dual_control_position(TARGET, 1100, 3000, "0.9")
    assert (p.total_status, p.remaining_tce) == ("exceeded", -100)


def test_feedstock_and_renewables_are_left_out_of_the_total() -> None:
    # 1,200 consumed − 300 feedstock = 900 ≤ 1,000; intensity 900 / 1,500 = 0.6 > 0.5
    p = dual_control_position(TARGET, 1200, 1500, 1, excluded_tce=300)
    assert (p.energy_tce, p.total_status, p.intensity_tce_per_10k_cny, p.intensity_status) == (
        900,
        "within",
        Decimal("0.6"),
        "exceeded",
    )
    with pytest.raises(ValidationError):
        dual_control_position(TARGET, 100, 1, 1, excluded_tce=101)
    with pytest.raises(ValidationError):
        dual_control_position(TARGET, 100, 1, 0)


def test_park_position_sums_enterprises() -> None:
    park = DualControlTarget("park", 2025, Decimal(1000), Decimal("0.55"))
    # energy 400 + 500 + 50 (public) − 100 excluded = 850; value added 1,500
    # intensity 850 / 1,500 = 0.5667 > 0.55; projection at 75%: 850 / 0.75 = 1,133.3 > 1,000
    p = park_position(park, [(400, 1000, 0), (500, 500, 100), (50, 0, 0)], "0.75")
    assert p.energy_tce == 850 and p.value_added_10k_cny == 1500
    assert (p.total_status, p.intensity_status) == ("at_risk", "exceeded")


def test_year_elapsed_fraction() -> None:
    # 30 June 2025 is day 181 of 365
    assert year_elapsed_fraction(dt.date(2025, 6, 30), 2025) == Decimal(181) / Decimal(365)
    assert year_elapsed_fraction(dt.date(2024, 12, 31), 2024) == 1  # leap year: 366 / 366
    assert year_elapsed_fraction(dt.date(2024, 12, 31), 2025) == 0


def test_key_energy_units_threshold_is_inclusive() -> None:
    assert key_energy_units({"a": 9999, "b": 10000, "c": "25000.5"}) == [
        ("c", Decimal("25000.5")),
        ("b", Decimal(10000)),
    ]
    assert [n for n, _ in key_energy_units({"a": 6000, "b": 4000}, threshold_tce=Decimal(5000))] == ["a"]


@pytest.mark.parametrize(
    ("energy_kgce", "status", "margin"),
    [
        (11_500_000, "exceeds", Decimal(-3)),  # 115 kgce/t > 112
        (10_500_000, "within", Decimal(7)),  # 105 kgce/t
        (9_800_000, "advanced", Decimal(14)),  # 98 ≤ advanced 100
    ],
)
def test_product_quota(energy_kgce: int, status: str, margin: Decimal) -> None:
    quota = ProductQuota("clinker", Decimal(112), "t", "user-entered", Decimal(100))
    check = check_product_quota(quota, energy_kgce, 100_000)
    assert (check.status, check.margin_kgce) == (status, margin)


def test_energy_rights_allocate_trade_and_surrender() -> None:
    reg = Registry()
    r24, r25 = energy_right_asset(2024), energy_right_asset(2025)
    reg.issue("A", r24, 500, reason="allocation")
    reg.issue("A", r25, 600, reason="allocation")
    reg.issue("B", r25, 1, reason="allocation")
    reg.issue("B", Asset("cash"), Decimal(20_000), reason="deposit")
    market = Market(reg)
    market.submit("s1", "A", SELL, r25, 50, 200)
    market.submit("b1", "B", BUY, r25, 50, 210)  # 50 tce @ 200 CNY/tce
    # B: 1 + 50 = 51 tce and pays 50 × 200 = 10,000 of its 20,000 (reserved 10,500 at the limit, 500 back)
    assert reg.balance("B", r25) == 51 and reg.balance("A", r25) == 550
    assert reg.balance("A", Asset("cash")) == Decimal("10000.00")
    assert reg.balance("B", Asset("cash")) == Decimal("10000.00")
    # A consumed 1,049.2 tce in 2025 → needs 1,050 (rounded up): 500 of 2024 first, then 550 of 2025
    status, need, short, moves = energy_right_surrender(reg, "A", 2025, "1049.2")
    assert (status, need, short) == ("compliant", 1050, 0)
    assert [(m.asset.code, m.amount) for m in moves] == [("energy_right:2024", 500), ("energy_right:2025", 550)]
    # B consumed 80.01 tce → needs 81, holds 51 → surrenders 51, 30 short
    status, need, short, _ = energy_right_surrender(reg, "B", 2025, "80.01")
    assert (status, need, short) == ("shortfall", 81, 30)
    reg.check_integrity()


def test_status_report() -> None:
    quota = ProductQuota("clinker", Decimal(112), "t", "user-entered")
    report = energy_use_status_report(
        "E1", 2025, {"coal": 8000, "electricity": 3000}, 20_000, [(quota, 10_500_000, 100_000)], TARGET
    )
    # total 11,000 tce ≥ 10,000 → key unit; intensity 11,000 / 20,000 = 0.55
    assert report["basic"]["key_energy_unit"] is True  # type: ignore[index]
    assert report["consumption"]["total_tce"] == 11_000  # type: ignore[index]
    assert report["intensity"]["tce_per_10k_cny"] == Decimal("0.55")  # type: ignore[index]
    assert report["products"]["checks"][0]["status"] == "within"  # type: ignore[index]
    assert report["dual_control"]["position"]["total_status"] == "exceeded"  # type: ignore[index]
    assert report["consumption"]["labels"]["zh"].startswith("综合能源消费量")  # type: ignore[index]
