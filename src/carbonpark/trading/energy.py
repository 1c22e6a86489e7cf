"""The energy side beside carbon: 能耗双控, key energy-consuming units, product quotas, 用能权.

* **Dual control of energy (能耗双控)**: a cap on total energy use [tce] and on energy
  intensity [tce per 10⁴ CNY of value added], per enterprise and for the park; the
  year-to-date position says how much of each cap is used, what a straight-line
  projection gives for the year end, and whether the cap is kept. Feedstock energy and
  new renewable energy may be left out of the total (national policy since 2021/2022;
  the amounts are given by the user).
* **Key energy-consuming units (重点用能单位)**: ≥ 10,000 tce a year (Energy
  Conservation Law Art. 52; ministries may add units ≥ 5,000 tce), who file the annual
  energy-use status report (能源利用状况报告).
* **Product energy-consumption quotas (能耗限额)**: limit values from the GB 21xxx
  standards, entered by users, checked against metered unit consumption.
* **Energy-use rights (用能权)**: whole tce in the same double-entry registry as
  allowances (asset kind ``energy_right`` with a vintage); allocation, transfer and
  surrender work exactly like allowances.

References
----------
Guide §2.2(4) (加强碳排放权和用能权等交易的统筹衔接), §8.1 (约束性指标管理, 强化碳排放、
能耗…要素约束); 《中华人民共和国节约能源法》 Art. 52–54 (key energy-consuming units and
their annual report); GB/T 2589-2020 (comprehensive energy consumption in tce).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from carbonpark.errors import ValidationError
from carbonpark.trading.assets import AVAILABLE, ENERGY_RIGHT, Asset
from carbonpark.trading.registry import Movement, Registry

__all__ = [
    "KEY_UNIT_THRESHOLD_TCE",
    "DualControlPosition",
    "DualControlTarget",
    "ProductQuota",
    "QuotaCheck",
    "check_product_quota",
    "dual_control_position",
    "energy_right_asset",
    "energy_right_surrender",
    "energy_use_status_report",
    "key_energy_units",
    "park_position",
    "year_elapsed_fraction",
]

KEY_UNIT_THRESHOLD_TCE = Decimal(10_000)
"""Annual comprehensive energy consumption that makes a key energy-consuming unit [tce/a]."""

WITHIN = "within"
AT_RISK = "at_risk"
EXCEEDED = "exceeded"
EXCEEDS = "exceeds"


def _dec(value: object, field: str, *, positive: bool = False) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, "a number", value)
    try:
        dec = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(field, "a number", value) from None
    if not dec.is_finite() or dec < 0 or (positive and dec == 0):
        raise ValidationError(field, "a number > 0" if positive else "a number ≥ 0", value)
    return dec


@dataclass(frozen=True, slots=True)
class DualControlTarget:
    """Caps of one enterprise or park for one year.

    Parameters
    ----------
    name
        Enterprise or park.
    year
        Calendar year the caps apply to.
    total_cap_tce
        Cap on total energy consumption [tce], or ``None`` if only intensity is controlled.
    intensity_cap_tce_per_10k_cny
        Cap on energy per value added [tce/10⁴ CNY], or ``None``.
    """

    name: str
    year: int
    total_cap_tce: Decimal | None = None
    intensity_cap_tce_per_10k_cny: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DualControlPosition:
    """Year-to-date position against a :class:`DualControlTarget`.

    Attributes
    ----------
    energy_tce
        Energy counted against the total cap: consumption minus exclusions [tce].
    excluded_tce
        Feedstock and new renewable energy left out [tce].
    value_added_10k_cny
        Value added so far [10⁴ CNY].
    elapsed_fraction
        Share of the year gone [-].
    total_used_share
        ``energy / cap`` [-], ``None`` without a total cap.
    projected_energy_tce
        Straight-line year-end total ``energy / elapsed`` [tce].
    remaining_tce
        ``cap − energy`` [tce] (negative when exceeded).
    total_status
        ``within``, ``at_risk`` (projection above the cap) or ``exceeded``; ``None`` without a cap.
    intensity_tce_per_10k_cny
        ``energy / value added`` [tce/10⁴ CNY], ``None`` without value added.
    intensity_status
        ``within`` or ``exceeded``; ``None`` without a cap or value added.
    """

    name: str
    year: int
    energy_tce: Decimal
    excluded_tce: Decimal
    value_added_10k_cny: Decimal
    elapsed_fraction: Decimal
    total_cap_tce: Decimal | None
    total_used_share: Decimal | None
    projected_energy_tce: Decimal | None
    remaining_tce: Decimal | None
    total_status: str | None
    intensity_cap_tce_per_10k_cny: Decimal | None
    intensity_tce_per_10k_cny: Decimal | None
    intensity_status: str | None

    def as_dict(self) -> dict[str, object]:
        """Plain form for JSON."""
        return {name: getattr(self, name) for name in self.__slots__}


def year_elapsed_fraction(as_of: dt.date, year: int) -> Decimal:
    """Share of ``year`` gone at the end of ``as_of`` [-] (0 before, 1 after the year).

    Examples
    --------
    >>> year_elapsed_fraction(dt.date(2025, 6, 30), 2025)
    Decimal('0.4958904109589041095890410959')
    """
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    if as_of < start:
        return Decimal(0)
    if as_of >= end:
        return Decimal(1)
    return Decimal((as_of - start).days + 1) / Decimal((end - start).days)


def dual_control_position(
    target: DualControlTarget,
    energy_tce: object,
    value_added_10k_cny: object,
    elapsed_fraction: object = 1,
    excluded_tce: object = 0,
) -> DualControlPosition:
    """Where an enterprise or park stands against its 能耗双控 caps.

    Parameters
    ----------
    target
        The caps.
    energy_tce
        Comprehensive energy consumption so far (GB/T 2589) [tce].
    value_added_10k_cny
        Value added so far [10⁴ CNY].
    elapsed_fraction
        Share of the year the figures cover, 0 < f ≤ 1 [-] (see :func:`year_elapsed_fraction`).
    excluded_tce
        Feedstock energy and new renewable energy not counted against the total [tce].

    References
    ----------
    Guide §8.1 (约束性指标, 能耗要素约束); GB/T 2589-2020.

    Examples
    --------
    Half-way through the year 520 tce used of a 1,000 tce cap: projected 1,040 → at risk.

    >>> t = DualControlTarget("E1", 2025, Decimal(1000), Decimal("0.5"))
    >>> p = dual_control_position(t, 520, 1300, "0.5")
    >>> p.total_status, p.projected_energy_tce == 1040, p.intensity_tce_per_10k_cny, p.intensity_status
    ('at_risk', True, Decimal('0.4'), 'within')
    """
    consumed = _dec(energy_tce, "energy_tce")
    excluded = _dec(excluded_tce, "excluded_tce")
    if excluded > consumed:
        raise ValidationError("excluded_tce", f"at most the consumption {consumed} tce", excluded_tce)
    energy = consumed - excluded
    value_added = _dec(value_added_10k_cny, "value_added_10k_cny")
    elapsed = _dec(elapsed_fraction, "elapsed_fraction", positive=True)
    if elapsed > 1:
        raise ValidationError("elapsed_fraction", "a share of the year, 0 < f ≤ 1", elapsed_fraction)
    cap = target.total_cap_tce
    projected = energy / elapsed
    used_share = remaining = None
    total_status = None
    if cap is not None:
        used_share = energy / cap if cap else None
        remaining = cap - energy
        total_status = EXCEEDED if energy > cap else AT_RISK if projected > cap else WITHIN
    intensity = energy / value_added if value_added else None
    icap = target.intensity_cap_tce_per_10k_cny
    intensity_status = None
    if icap is not None and intensity is not None:
        intensity_status = EXCEEDED if intensity > icap else WITHIN
    return DualControlPosition(
        target.name,
        target.year,
        energy,
        excluded,
        value_added,
        elapsed,
        cap,
        used_share,
        projected,
        remaining,
        total_status,
        icap,
        intensity,
        intensity_status,
    )


def park_position(
    target: DualControlTarget,
    enterprises: Iterable[tuple[object, object, object]],
    elapsed_fraction: object = 1,
) -> DualControlPosition:
    """Park position: sums of the enterprises' (energy, value added, excluded) against the park caps.

    Energy bought by the park and resold to an enterprise must appear once only: pass the
    enterprises' own consumption and the park's own public consumption as one more row.
    """
    energy = value_added = excluded = Decimal(0)
    for i, (e, va, ex) in enumerate(enterprises):
        energy += _dec(e, f"enterprises[{i}].energy_tce")
        value_added += _dec(va, f"enterprises[{i}].value_added_10k_cny")
        excluded += _dec(ex, f"enterprises[{i}].excluded_tce")
    return dual_control_position(target, energy, value_added, elapsed_fraction, excluded)


def key_energy_units(
    annual_consumption_tce: Mapping[str, object], threshold_tce: Decimal = KEY_UNIT_THRESHOLD_TCE
) -> list[tuple[str, Decimal]]:
    """Key energy-consuming units: consumption ≥ threshold, largest first.

    References
    ----------
    《节约能源法》 Art. 52: annual comprehensive energy consumption ≥ 10,000 tce (or
    ≥ 5,000 tce when designated).

    Examples
    --------
    >>> key_energy_units({"a": 9999, "b": 10000, "c": 25000})
    [('c', Decimal('25000')), ('b', Decimal('10000'))]
    """
    units = [(name, _dec(v, f"annual_consumption_tce.{name}")) for name, v in annual_consumption_tce.items()]
    return sorted(((n, v) for n, v in units if v >= threshold_tce), key=lambda nv: (-nv[1], nv[0]))


@dataclass(frozen=True, slots=True)
class ProductQuota:
    """A product energy-consumption limit (能耗限额) as a user enters it.

    Parameters
    ----------
    product
        Product name or id.
    limit_kgce_per_unit
        Limit value of unit product energy consumption [kgce per product unit].
    unit
        The product unit (``t``, ``piece``, ``MWh`` …).
    standard
        The standard and grade the limit comes from (e.g. ``GB 21256 existing plants``).
    advanced_kgce_per_unit
        Advanced value (先进值), if given [kgce per product unit].
    """

    product: str
    limit_kgce_per_unit: Decimal
    unit: str = "t"
    standard: str = ""
    advanced_kgce_per_unit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class QuotaCheck:
    """Metered unit consumption against a :class:`ProductQuota`.

    Attributes
    ----------
    unit_consumption_kgce
        Energy per product unit [kgce/unit].
    status
        ``advanced`` (≤ advanced value), ``within`` (≤ limit) or ``exceeds``.
    margin_kgce
        ``limit − unit consumption`` [kgce/unit] (negative when it exceeds).
    """

    product: str
    unit_consumption_kgce: Decimal
    limit_kgce_per_unit: Decimal
    status: str
    margin_kgce: Decimal
    standard: str


def check_product_quota(quota: ProductQuota, energy_kgce: object, output: object) -> QuotaCheck:
    """Check a product's metered unit energy consumption against its quota.

    Parameters
    ----------
    quota
        The limit.
    energy_kgce
        Comprehensive energy consumption of making ``output`` [kgce].
    output
        Product made [product unit].

    Examples
    --------
    >>> q = ProductQuota("clinker", Decimal("112"), advanced_kgce_per_unit=Decimal("100"))
    >>> check_product_quota(q, 11_500_000, 100_000).status
    'exceeds'
    """
    made = _dec(output, f"{quota.product}.output", positive=True)
    unit_consumption = _dec(energy_kgce, f"{quota.product}.energy_kgce") / made
    limit = quota.limit_kgce_per_unit
    if unit_consumption > limit:
        status = EXCEEDS
    elif quota.advanced_kgce_per_unit is not None and unit_consumption <= quota.advanced_kgce_per_unit:
        status = "advanced"
    else:
        status = WITHIN
    return QuotaCheck(quota.product, unit_consumption, limit, status, limit - unit_consumption, quota.standard)


def energy_right_surrender(
    registry: Registry, holder: str, year: int, consumed_tce: object, ref: str | None = None
) -> tuple[str, int, int, list[Movement]]:
    """Surrender energy-use rights for a year's consumption.

    The consumption is rounded **up** to whole tce: a right covers whole tonnes, and a
    fraction consumed must still be covered. Rights of vintage ≤ ``year`` are used,
    oldest first; if they do not cover the need, what there is is surrendered and the
    rest is the shortfall.

    Returns
    -------
    tuple
        (``compliant`` or ``shortfall``, tonnes needed [tce], shortfall [tce], movements).
    """
    need = int(_dec(consumed_tce, "consumed_tce").to_integral_value(rounding=ROUND_CEILING))
    vintages = sorted(
        (a for a in registry.holdings(holder) if a.kind == ENERGY_RIGHT and (a.vintage or 0) <= year),
        key=lambda a: a.vintage or 0,
    )
    moves: list[Movement] = []
    remaining = need
    with registry.atomic():
        for asset in vintages:
            available = int(registry.balance(holder, asset, AVAILABLE))
            take = min(available, remaining)
            if take:
                moves.append(registry.surrender(holder, asset, take, ref or f"energy_rights:{year}"))
                remaining -= take
    return ("shortfall" if remaining else "compliant"), need, remaining, moves


def energy_use_status_report(
    enterprise: str,
    year: int,
    consumption_by_carrier_tce: Mapping[str, object],
    value_added_10k_cny: object,
    products: Iterable[tuple[ProductQuota, object, object]] = (),
    target: DualControlTarget | None = None,
    excluded_tce: object = 0,
) -> dict[str, object]:
    """Content of the annual energy-use status report (能源利用状况报告) of one enterprise.

    Parameters
    ----------
    consumption_by_carrier_tce
        Consumption per energy carrier converted to standard coal [tce].
    value_added_10k_cny
        Value added of the year [10⁴ CNY].
    products
        (quota, energy [kgce], output [unit]) per product with a quota.
    target
        The enterprise's 能耗双控 caps, if any.

    Returns
    -------
    dict
        Sections ``basic``, ``consumption``, ``intensity``, ``products``, ``dual_control``,
        each row with zh-CN and English labels, ready for the reports layer.

    References
    ----------
    《节约能源法》 Art. 53 (key units report their energy use each year); guide §8.1.
    """
    carriers = {k: _dec(v, f"consumption_by_carrier_tce.{k}") for k, v in consumption_by_carrier_tce.items()}
    total = sum(carriers.values(), Decimal(0))
    value_added = _dec(value_added_10k_cny, "value_added_10k_cny")
    position = dual_control_position(target, total, value_added, 1, excluded_tce) if target is not None else None
    checks = [check_product_quota(q, e, o) for q, e, o in products]
    return {
        "basic": {
            "enterprise": enterprise,
            "year": year,
            "key_energy_unit": total >= KEY_UNIT_THRESHOLD_TCE,
            "labels": {"zh": "基本情况", "en": "Basic information"},
        },
        "consumption": {
            "by_carrier_tce": carriers,
            "total_tce": total,
            "labels": {"zh": "综合能源消费量 (吨标准煤)", "en": "Comprehensive energy consumption [tce]"},
        },
        "intensity": {
            "value_added_10k_cny": value_added,
            "tce_per_10k_cny": (total / value_added) if value_added else None,
            "labels": {"zh": "单位增加值能耗 (吨标准煤/万元)", "en": "Energy per value added [tce/10⁴ CNY]"},
        },
        "products": {
            "checks": [
                {
                    "product": c.product,
                    "unit_consumption_kgce": c.unit_consumption_kgce,
                    "limit_kgce_per_unit": c.limit_kgce_per_unit,
                    "status": c.status,
                    "margin_kgce": c.margin_kgce,
                    "standard": c.standard,
                }
                for c in checks
            ],
            "labels": {"zh": "单位产品能耗与限额", "en": "Unit product energy consumption against quotas"},
        },
        "dual_control": {
            "position": position.as_dict() if position is not None else None,
            "labels": {"zh": "能耗双控目标完成情况", "en": "Dual control of energy: position against caps"},
        },
    }


def energy_right_asset(year: int) -> Asset:
    """The registry asset of energy-use rights of vintage ``year`` [tce]."""
    return Asset(ENERGY_RIGHT, year)
