"""Units at the edges (pint), one canonical unit per quantity inside.

Every measured quantity has a canonical unit (``CANONICAL``); inputs are converted to it
once, at the edge, and names carry the unit afterwards (``energy_kwh``, ``mass_t``).
Chinese unit names common on meter nameplates and statistics forms (吨, 千瓦时, 万立方米 …)
are accepted as aliases.

References
----------
GB/T 2589-2020 《综合能耗计算通则》: 1 kgce = 29.3076 MJ (tonne of standard coal, tce).
"""

from __future__ import annotations

from functools import lru_cache

import pint

from carbonpark.errors import UnitError

__all__ = ["CANONICAL", "QUANTITIES", "check_unit", "convert", "registry", "to_canonical"]

#: Canonical unit of each measured quantity.
CANONICAL: dict[str, str] = {
    "energy": "kWh",
    "power": "kW",
    "volume": "m3",
    "mass": "t",
    "volume_flow": "m3/h",
    "mass_flow": "t/h",
    "temperature": "degC",
    "pressure": "kPa",
    "dimensionless": "",
}
QUANTITIES: tuple[str, ...] = tuple(CANONICAL)

_ALIASES: dict[str, str] = {
    "吨": "t",
    "万吨": "1e4 t",
    "千克": "kg",
    "公斤": "kg",
    "千瓦时": "kWh",
    "度": "kWh",
    "万千瓦时": "1e4 kWh",
    "兆瓦时": "MWh",
    "立方米": "m3",
    "万立方米": "1e4 m3",
    "标准立方米": "Nm3",
    "万标准立方米": "1e4 Nm3",
    "吉焦": "GJ",
    "兆焦": "MJ",
    "千瓦": "kW",
    "吨标准煤": "tce",
    "万吨标准煤": "1e4 tce",
    "Nm³": "Nm3",
    "m³": "m3",
}


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The shared pint registry with the energy-statistics units carbonpark needs."""
    ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    ureg.define("tonne_of_coal_equivalent = 29.3076 GJ = tce")
    ureg.define("kilogram_of_coal_equivalent = 29.3076 MJ = kgce")
    ureg.define("tonne_of_oil_equivalent_cn = 41.868 GJ = toe")
    # Normal cubic metre (0 °C, 101.325 kPa): a volume at reference conditions.
    ureg.define("normal_cubic_metre = meter ** 3 = Nm3")
    ureg.define("cubic_metre_short = meter ** 3 = m3")
    return ureg


def _parse(unit: str) -> pint.Quantity:
    text = _ALIASES.get(unit.strip(), unit.strip())
    try:
        parsed = registry().parse_expression(text) if text else registry().Quantity(1)
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AssertionError,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        raise UnitError("unit", "a unit such as kWh, GJ, t, Nm3, m3, kW or 万千瓦时", unit) from exc
    if not isinstance(parsed, pint.Quantity):
        raise UnitError("unit", "a unit, not a bare number", unit)
    return parsed


def check_unit(quantity: str, unit: str) -> None:
    """Raise :class:`UnitError` unless ``unit`` measures ``quantity``."""
    if quantity not in CANONICAL:
        raise UnitError("quantity", f"one of {', '.join(QUANTITIES)}", quantity)
    given = _parse(unit)
    target = _parse(CANONICAL[quantity] or "dimensionless")
    if given.dimensionality != target.dimensionality:
        raise UnitError("unit", f"a unit of {quantity} (like {CANONICAL[quantity] or 'a pure number'})", unit)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` from one unit to another (e.g. ``convert(1, "tce", "GJ") == 29.3076``)."""
    source, target = _parse(from_unit), _parse(to_unit)
    try:
        factor = (source / target).to("dimensionless").magnitude
    except pint.errors.DimensionalityError as exc:
        raise UnitError("unit", f"a unit convertible to {to_unit}", from_unit) from exc
    if source.units == registry().degC or target.units == registry().degC:
        q = registry().Quantity(value, source.units).to(target.units)
        return float(q.magnitude)
    return float(value * factor)


def to_canonical(quantity: str, value: float, unit: str) -> float:
    """``value`` in ``unit`` expressed in the canonical unit of ``quantity``."""
    check_unit(quantity, unit)
    return convert(value, unit, CANONICAL[quantity] or "dimensionless")
