"""Allowance allocation: by benchmark (基准线法) and by history (历史法).

All arithmetic is ``Decimal``; the formula is evaluated exactly and rounded to whole
tonnes **once, at the end, per facility** (a generating unit, a production line). Rounding
intermediate products would make the result depend on the order of the factors, and
rounding the enterprise total instead of each facility would not match what a per-unit
allocation plan publishes. The default rounding is half-up (四舍五入, the usual
convention in Chinese statistical tables); pass ``rounding=ROUND_FLOOR`` for the
conservative variant that never issues a fraction of a tonne more than the formula.

References
----------
MEE notice of 2023-03-15 on the 2021/2022 power-sector allocation plan (REFERENCE_DATA.md
§5c, grade A): ``unit allowance = supply benchmark × power supplied × correction
+ heat benchmark × heat supplied``; correction factors and benchmark values there are
grade C. Guide §7.3(2) (配额核定发放).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from carbonpark.errors import ValidationError

__all__ = [
    "benchmark_allocation",
    "coal_heat_supply_correction",
    "historical_emissions_allocation",
    "historical_intensity_allocation",
    "power_unit_allocation",
    "round_tonnes",
]


def _dec(value: object, field: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, bool):
        raise ValidationError(field, "a number", value)
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(field, "a number", value) from None
    if not dec.is_finite() or dec < 0 or (positive and dec == 0):
        raise ValidationError(field, "a number > 0" if positive else "a number ≥ 0", value)
    return dec


def _product(factors: Iterable[object], field: str) -> Decimal:
    result = Decimal(1)
    for i, factor in enumerate(factors):
        result *= _dec(factor, f"{field}[{i}]", positive=True)
    return result


def round_tonnes(value: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """Round an exact allocation [tCO2e] to whole tonnes (default half-up, 四舍五入)."""
    return int(value.quantize(Decimal(1), rounding=rounding))


def benchmark_allocation(
    benchmark_tco2e_per_unit: object,
    verified_output: object,
    correction_factors: Sequence[object] = (),
    rounding: str = ROUND_HALF_UP,
) -> int:
    """Allowances of one facility by the benchmark method [tCO2e].

    ``A = B × Q × Π F_i``, rounded once to whole tonnes.

    Parameters
    ----------
    benchmark_tco2e_per_unit
        Benchmark B [tCO2e per unit of product].
    verified_output
        Verified output Q of the compliance year [unit of product].
    correction_factors
        Correction factors F_i [-] (e.g. cooling type, load rate, heat-supply ratio).
    rounding
        A ``decimal`` rounding mode; half-up by default.

    References
    ----------
    REFERENCE_DATA.md §5c; guide §7.3(2).

    Examples
    --------
    >>> benchmark_allocation("1.5", 1000, ["0.98"])
    1470
    """
    benchmark = _dec(benchmark_tco2e_per_unit, "benchmark")
    output = _dec(verified_output, "verified_output")
    return round_tonnes(benchmark * output * _product(correction_factors, "correction_factors"), rounding)


def coal_heat_supply_correction(heat_supply_ratio: object) -> Decimal:
    """Heat-supply correction of a coal unit ``1 − 0.22 × heat ratio`` [-].

    Parameters
    ----------
    heat_supply_ratio
        Share of heat in the unit's output, 0 … 1 [-].

    References
    ----------
    REFERENCE_DATA.md §5c, grade C (unconfirmed); check against the allocation plan in force.
    """
    ratio = _dec(heat_supply_ratio, "heat_supply_ratio")
    if ratio > 1:
        raise ValidationError("heat_supply_ratio", "a share between 0 and 1", heat_supply_ratio)
    return 1 - Decimal("0.22") * ratio


def power_unit_allocation(
    supply_benchmark_tco2_per_mwh: object,
    power_supplied_mwh: object,
    heat_benchmark_tco2_per_gj: object = 0,
    heat_supplied_gj: object = 0,
    correction_factors: Sequence[object] = (),
    rounding: str = ROUND_HALF_UP,
) -> int:
    """Allowances of one generating unit [tCO2].

    ``A = B_supply × E_supplied × Π F_i + B_heat × H_supplied``, evaluated exactly and
    rounded once to whole tonnes. The corrections apply to the power term only, as in the
    plan's formula.

    Parameters
    ----------
    supply_benchmark_tco2_per_mwh
        Power-supply benchmark [tCO2/MWh].
    power_supplied_mwh
        Power supplied to the grid (供电量) [MWh].
    heat_benchmark_tco2_per_gj
        Heat-supply benchmark [tCO2/GJ].
    heat_supplied_gj
        Heat supplied (供热量) [GJ].
    correction_factors
        Product of these is the correction factor (修正系数) [-].
    rounding
        A ``decimal`` rounding mode; half-up by default.

    References
    ----------
    MEE 2021/2022 power allocation plan (REFERENCE_DATA.md §5c, grade A for the formula).

    Examples
    --------
    A 300 MW-class coal unit, 2019–2020 benchmarks (grade C): 0.877 × 1,000,000 MWh × 1.05
    (air-cooled) + 0.126 × 500,000 GJ = 920,850 + 63,000 = 983,850 t.

    >>> power_unit_allocation("0.877", 1_000_000, "0.126", 500_000, ["1.05"])
    983850
    """
    power_term = (
        _dec(supply_benchmark_tco2_per_mwh, "supply_benchmark")
        * _dec(power_supplied_mwh, "power_supplied_mwh")
        * _product(correction_factors, "correction_factors")
    )
    heat_term = _dec(heat_benchmark_tco2_per_gj, "heat_benchmark") * _dec(heat_supplied_gj, "heat_supplied_gj")
    return round_tonnes(power_term + heat_term, rounding)


def historical_emissions_allocation(
    base_year_emissions_tco2e: Sequence[object],
    control_factor: object = 1,
    rounding: str = ROUND_HALF_UP,
) -> int:
    """Allowances by historical emissions (历史排放法) [tCO2e].

    ``A = mean(E_base years) × control factor``, rounded once.

    Parameters
    ----------
    base_year_emissions_tco2e
        Verified emissions of the base years [tCO2e].
    control_factor
        Annual decline or control factor set by the programme [-].

    References
    ----------
    Guide §7.3(2): the authority sets the total and the allocation method; provincial
    pilot ETS plans use this method for sectors without benchmarks.

    Examples
    --------
    >>> historical_emissions_allocation([100_000, 110_000, 120_000], "0.98")
    107800
    """
    if not base_year_emissions_tco2e:
        raise ValidationError("base_year_emissions_tco2e", "at least one base year", [])
    values = [_dec(v, f"base_year_emissions_tco2e[{i}]") for i, v in enumerate(base_year_emissions_tco2e)]
    mean = sum(values, Decimal(0)) / len(values)
    return round_tonnes(mean * _dec(control_factor, "control_factor", positive=True), rounding)


def historical_intensity_allocation(
    base_intensity_tco2e_per_unit: object,
    verified_output: object,
    control_factor: object = 1,
    rounding: str = ROUND_HALF_UP,
) -> int:
    """Allowances by historical intensity (历史强度法) [tCO2e]: ``I_base × Q × control factor``.

    Examples
    --------
    >>> historical_intensity_allocation("0.85", 20_000, "0.97")
    16490
    """
    return benchmark_allocation(base_intensity_tco2e_per_unit, verified_output, [control_factor], rounding)
