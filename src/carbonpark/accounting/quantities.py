"""Unit handling at the edge of the accounting engine.

Spellings accepted for activity data: ``t``, ``kg``, ``m3``, ``Nm3``, ``10^4 Nm3``, ``万Nm3``,
``L``, ``kWh``, ``MWh``, ``GJ``, ``TJ``, ``tce`` (and everything pint knows); for parameters
``GJ/t``, ``MJ/m3``, ``GJ/10^4 Nm3``, ``tC/TJ``, ``tC/GJ``, ``tCO2/MWh``, ``kgCO2/kWh``,
``tCO2/t``, ``tCO2/GJ``, ``kg/L``. A mass unit may carry the species it counts (``tC``,
``tCO2``, ``kgCH4``, ``tCO2e``, ``kgce``); the species is split off before pint sees it.
Gas volumes are normal cubic metres (0 °C, 101.325 kPa) unless stated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carbonpark.errors import UnitError
from carbonpark.units import convert

__all__ = ["SpeciesRate", "amount_in", "normalise_unit", "parse_rate", "rate_in"]

_SPECIES = ("CO2e", "CO2", "CH4", "N2O", "ce", "C")
_RATE = re.compile(r"^\s*(Mt|kt|t|kg|g|mg)\s*(" + "|".join(_SPECIES) + r")?\s*/\s*(.+?)\s*$")


def normalise_unit(unit: str) -> str:
    """Rewrite Chinese and statistics spellings into pint syntax (``万Nm3`` → ``1e4 Nm3``)."""
    text = unit.strip().replace("³", "3").replace("·", "*")
    text = text.replace("10^4", "1e4").replace("10**4", "1e4")
    text = re.sub(r"万(?=[A-Za-z])", "1e4 ", text)
    text = re.sub(r"1e4\s*", "1e4 ", text)
    if "/" in text:
        numerator, denominator = text.split("/", 1)
        denominator = denominator.strip()
        if " " in denominator or "*" in denominator:
            denominator = f"({denominator})"
        text = f"{numerator.strip()}/{denominator}"
    return text


@dataclass(frozen=True, slots=True)
class SpeciesRate:
    """A rate such as ``tCO2/MWh`` split into mass unit, species and denominator unit."""

    mass_unit: str
    species: str
    per_unit: str


def parse_rate(unit: str, where: str) -> SpeciesRate:
    """Split ``tC/TJ`` into (``t``, ``C``, ``TJ``).

    Raises
    ------
    UnitError
        If the unit is not ``<mass>[species]/<unit>``.
    """
    match = _RATE.match(unit.replace("₂", "2"))
    if match:
        mass_unit, species, per_unit = match.groups()
        return SpeciesRate(mass_unit, species or "", normalise_unit(per_unit))
    numerator, slash, per_unit = unit.partition("/")
    if not slash or not numerator.strip() or not per_unit.strip():
        raise UnitError(where, "a rate like tC/TJ, tCO2/MWh, kgCO2/kWh, tCO2/t or GJ/t", unit)
    return SpeciesRate(normalise_unit(numerator), "", normalise_unit(per_unit))


def rate_in(value: float, unit: str, mass_unit: str, per_unit: str, where: str) -> float:
    """``value`` of a rate ``unit`` (species-tagged allowed) expressed in ``mass_unit/per_unit``."""
    rate = parse_rate(unit, where)
    try:
        return convert(value, f"{rate.mass_unit}/({rate.per_unit})", f"{mass_unit}/({normalise_unit(per_unit)})")
    except UnitError as exc:
        raise UnitError(where, f"a unit convertible to {mass_unit}/{per_unit}", unit) from exc


def amount_in(
    amount: float,
    unit: str,
    target_unit: str,
    *,
    activity: str,
    where: str,
    density: float | None = None,
    density_unit: str = "",
) -> float:
    """Activity ``amount`` in ``unit`` expressed in ``target_unit``, through ``density`` when needed.

    A volume given for a quantity tabulated per mass (diesel in litres, NCV per tonne) needs a
    density (``density`` in ``density_unit`` such as ``kg/L``); there is no national default.

    Raises
    ------
    UnitError
        Naming the activity, the unit that came and the units that fit.
    """
    source, target = normalise_unit(unit), normalise_unit(target_unit)
    try:
        return convert(amount, source, target)
    except UnitError:
        pass
    if density is not None and density_unit:
        mass_part, _, volume_part = normalise_unit(density_unit).partition("/")
        volume_part = volume_part.strip("()")
        for numerator, denominator, forward in (
            (mass_part, volume_part, True),
            (volume_part, mass_part, False),
        ):
            try:
                base = convert(amount, source, denominator)
            except UnitError:
                continue
            converted = base * density if forward else base / density
            try:
                return convert(converted, numerator, target)
            except UnitError:
                continue
    raise UnitError(
        where,
        f"a unit of {activity} convertible to {target_unit} (e.g. {_examples(target)}"
        f"{'; or give density and density_unit' if density is None else ''})",
        unit,
    )


def _examples(target: str) -> str:
    for sample in ("t, kg", "m3, Nm3, 10^4 Nm3, 万Nm3, L", "kWh, MWh, GJ, TJ, tce"):
        first = normalise_unit(sample.split(",")[0])
        try:
            convert(1.0, first, target)
        except UnitError:
            continue
        return sample
    return target
