"""Codes, units, identifiers and time: the L0/L1 foundations, checked against their standards."""

from __future__ import annotations

import pytest

from carbonpark.errors import UnitError, ValidationError
from carbonpark.model import (
    EnterpriseSpec,
    MeterSpec,
    format_handle,
    normalise_industry_code,
    parse_handle,
    validate_credit_code,
    validate_spec,
)
from carbonpark.model.credit_code import WEIGHTS, check_character
from carbonpark.times import local_iso, parse_timestamp, period_bounds_ms
from carbonpark.units import check_unit, convert, to_canonical

# The example code printed in GB 32100-2015 and widely reproduced: 91350100M000100Y43.
GB32100_EXAMPLE = "91350100M000100Y43"


def test_credit_code_weights_are_the_standard_ones() -> None:
    # GB 32100-2015 appendix: weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28 (3^i mod 31).
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_credit_code_check_character_of_the_standard_example() -> None:
    # Σ c_i·w_i for 91350100M000100Y4, by hand: 9·1+1·3+3·9+5·27+0+1·26+0+0+21·20+0+0+0+1·8+0+0+30·30+4·28
    # = 1640; 1640 mod 31 = 28; 31 − 28 = 3 → check character '3' (M = 21, Y = 30 in the GB 32100 alphabet).
    assert check_character(GB32100_EXAMPLE[:17]) == "3"
    assert validate_credit_code(GB32100_EXAMPLE.lower()) == GB32100_EXAMPLE


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("91350100M000100Y44", "check character '3'"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100I43", "no I, O, S, V, Z"),
        ("9135A100M000100Y43", "administrative division"),
    ],
)
def test_bad_credit_codes_say_what_was_expected(code: str, expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_credit_code(code)
    assert expected in str(info.value)
    assert repr(code) in str(info.value)


def test_industry_codes_follow_gbt4754_sections() -> None:
    assert normalise_industry_code("2614") == "C2614"  # division 26 is in section C (13–43)
    assert normalise_industry_code("i6450") == "I6450"  # division 64 is in section I (63–65)
    with pytest.raises(ValidationError, match="division 65 under section I"):
        normalise_industry_code("C65")
    with pytest.raises(ValidationError, match="01–97"):
        normalise_industry_code("98")


def test_units_convert_at_the_edges() -> None:
    assert convert(1, "tce", "GJ") == pytest.approx(29.3076)  # GB/T 2589-2020: 1 kgce = 29.3076 MJ
    assert to_canonical("energy", 1.5, "万千瓦时") == pytest.approx(15000.0)
    assert to_canonical("energy", 1, "GJ") == pytest.approx(1e9 / 3.6e6)  # 1 GJ = 277.78 kWh
    assert to_canonical("volume", 2, "万标准立方米") == pytest.approx(20000.0)
    check_unit("mass", "kg")
    with pytest.raises(UnitError, match="a unit of energy"):
        check_unit("energy", "t")


def test_meter_unit_must_fit_its_quantity() -> None:
    with pytest.raises(ValidationError) as info:
        validate_spec(MeterSpec, {"code": "m1", "quantity": "energy", "unit": "Nm3"}, "meters[1]")
    assert "meters[1], unit" in str(info.value)
    assert "'Nm3'" in str(info.value)


def test_enterprise_spec_names_the_field() -> None:
    with pytest.raises(ValidationError, match=r"line 3, credit_code: expected check character"):
        validate_spec(
            EnterpriseSpec, {"name": "x", "credit_code": "91350100M000100Y40", "industry_code": "C26"}, "line 3"
        )


def test_handles_have_the_industrial_internet_syntax() -> None:
    assert format_handle("1234", "meter", 17) == "88.1234/meter.17"
    parsed = parse_handle("88.1234/ent.5")
    assert (parsed.prefix, parsed.type_token, parsed.local_id) == ("1234", "ent", "5")
    with pytest.raises(ValidationError):
        parse_handle("86.1234/meter.1")


def test_time_conventions() -> None:
    # 2025-01-01 00:00 in Shanghai (UTC+8) is 2024-12-31 16:00 UTC = 1735660800000 ms.
    assert parse_timestamp("2025-01-01T00:00:00") == 1_735_660_800_000
    assert parse_timestamp("2024-12-31T16:00:00Z") == 1_735_660_800_000
    assert parse_timestamp(1_735_660_800_000) == 1_735_660_800_000
    assert local_iso(1_735_660_800_000) == "2025-01-01T00:00:00+08:00"
    start, end = period_bounds_ms("2025-02")
    assert (end - start) == 28 * 24 * 3600 * 1000  # February 2025 has 28 local days
    with pytest.raises(ValidationError, match="YYYY"):
        period_bounds_ms("2025/02")
