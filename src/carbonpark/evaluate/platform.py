"""Indicators computed from platform figures (meters, registry, identifiers, accounting) given as plain data.

The engine stays pure: a service gathers the park's aggregates for the year from the store and passes them as a
mapping of figure name → number; this module computes every indicator those figures allow and shows the
computation as evidence. Figures (all for the evaluated year unless the name says ``previous``):

- ``devices_total``, ``devices_networked``: devices registered, of them reporting over the network [-] → 2
- ``enterprises_total``: enterprises in the park [-] → 5, 7, 15, 56, 58
- ``enterprises_standard_protocol``: enterprises whose data arrive over a standard protocol (MQTT, OPC UA) → 5
- ``enterprises_on_platform``: enterprises connected to the platform [-] → 7
- ``enterprises_with_identifier_node``: enterprises running an identifier enterprise node [-] → 15
- ``identifiers_registered``, ``identifier_active_users``, ``identifier_resolutions``: in the year [-] → 16-18
- ``energy_total_tce``, ``energy_clean_tce``: comprehensive energy use and its clean part [tce] → 52, 65
- ``enterprises_inventory_completed``: enterprises with a completed GHG inventory [-] → 56
- ``carbon_data_platform``: the park runs a carbon data platform [yes/no] → 57
- ``enterprises_total_previous``: enterprises the year before [-] → 58
- ``output_10k_cny``, ``output_3_years_ago_10k_cny``: output value now and three years before [10^4 CNY] → 59
- ``employees``, ``employees_previous``: people employed now and the year before [-] → 61, 64
- ``area_mu``: park land [mu] → 63 (with ``output_10k_cny``; 64 uses ``output_10k_cny`` and ``employees``)
- ``gdp_10k_cny``: GDP (value added) [10^4 CNY] → 65, 66
- ``emissions_tco2e``, ``emissions_previous_tco2e``, ``gdp_previous_10k_cny``: [tCO2e], [tCO2e], [10^4 CNY] → 66

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and appendix (definitions of the indicators).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.evaluate.scoring import IndicatorInput

__all__ = ["FIGURES", "PlatformIndicators", "indicators_from_platform", "merge_inputs"]

Figures = Mapping[str, Any]


def _share(part: str, whole: str) -> Callable[[Figures], tuple[float, str]]:
    def compute(f: Figures) -> tuple[float, str]:
        value = float(f[part]) / float(f[whole]) * 100
        return value, f"{part} / {whole} × 100 = {f[part]:g} / {f[whole]:g} × 100 = {value:.4g} %"

    return compute


def _count(name: str) -> Callable[[Figures], tuple[float, str]]:
    def compute(f: Figures) -> tuple[float, str]:
        return float(f[name]), f"{name} = {f[name]:g}"

    return compute


def _growth(now: str, before: str) -> Callable[[Figures], tuple[float, str]]:
    def compute(f: Figures) -> tuple[float, str]:
        value = (float(f[now]) / float(f[before]) - 1) * 100
        return value, f"({now} / {before} − 1) × 100 = ({f[now]:g} / {f[before]:g} − 1) × 100 = {value:.4g} %"

    return compute


def _ratio(num: str, den: str) -> Callable[[Figures], tuple[float, str]]:
    def compute(f: Figures) -> tuple[float, str]:
        value = float(f[num]) / float(f[den])
        return value, f"{num} / {den} = {f[num]:g} / {f[den]:g} = {value:.4g}"

    return compute


def _platform_yes(f: Figures) -> tuple[float, str]:
    flag = bool(f["carbon_data_platform"])
    return (1.0 if flag else 0.0), f"carbon_data_platform = {'yes' if flag else 'no'}"


def _output_growth_3y(f: Figures) -> tuple[float, str]:
    now, before = float(f["output_10k_cny"]), float(f["output_3_years_ago_10k_cny"])
    value = ((now / before) ** (1 / 3) - 1) * 100
    return value, (
        f"((output_10k_cny / output_3_years_ago_10k_cny)^(1/3) − 1) × 100 = (({now:g} / {before:g})^(1/3) − 1)"
        f" × 100 = {value:.4g} %/a"
    )


def _intensity_decline(f: Figures) -> tuple[float, str]:
    now = float(f["emissions_tco2e"]) / float(f["gdp_10k_cny"])
    before = float(f["emissions_previous_tco2e"]) / float(f["gdp_previous_10k_cny"])
    if before <= 0:
        raise ZeroDivisionError
    value = (1 - now / before) * 100
    return value, (
        f"(1 − (emissions_tco2e / gdp_10k_cny) / (emissions_previous_tco2e / gdp_previous_10k_cny)) × 100"
        f" = (1 − {now:.6g} / {before:.6g}) × 100 = {value:.4g} %"
    )


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Recipe:
    id: int
    needs: tuple[str, ...]
    compute: Callable[[Figures], tuple[float, str]]


_RECIPES: tuple[_Recipe, ...] = (
    _Recipe(2, ("devices_networked", "devices_total"), _share("devices_networked", "devices_total")),
    _Recipe(
        5,
        ("enterprises_standard_protocol", "enterprises_total"),
        _share("enterprises_standard_protocol", "enterprises_total"),
    ),
    _Recipe(
        7, ("enterprises_on_platform", "enterprises_total"), _share("enterprises_on_platform", "enterprises_total")
    ),
    _Recipe(
        15,
        ("enterprises_with_identifier_node", "enterprises_total"),
        _share("enterprises_with_identifier_node", "enterprises_total"),
    ),
    _Recipe(16, ("identifiers_registered",), _count("identifiers_registered")),
    _Recipe(17, ("identifier_active_users",), _count("identifier_active_users")),
    _Recipe(18, ("identifier_resolutions",), _count("identifier_resolutions")),
    _Recipe(52, ("energy_clean_tce", "energy_total_tce"), _share("energy_clean_tce", "energy_total_tce")),
    _Recipe(
        56,
        ("enterprises_inventory_completed", "enterprises_total"),
        _share("enterprises_inventory_completed", "enterprises_total"),
    ),
    _Recipe(57, ("carbon_data_platform",), _platform_yes),
    _Recipe(
        58,
        ("enterprises_total", "enterprises_total_previous"),
        _growth("enterprises_total", "enterprises_total_previous"),
    ),
    _Recipe(59, ("output_10k_cny", "output_3_years_ago_10k_cny"), _output_growth_3y),
    _Recipe(61, ("employees", "employees_previous"), _growth("employees", "employees_previous")),
    _Recipe(63, ("output_10k_cny", "area_mu"), _ratio("output_10k_cny", "area_mu")),
    _Recipe(64, ("output_10k_cny", "employees"), _ratio("output_10k_cny", "employees")),
    _Recipe(65, ("energy_total_tce", "gdp_10k_cny"), _ratio("energy_total_tce", "gdp_10k_cny")),
    _Recipe(
        66,
        ("emissions_tco2e", "gdp_10k_cny", "emissions_previous_tco2e", "gdp_previous_10k_cny"),
        _intensity_decline,
    ),
)

FIGURES: dict[str, tuple[int, ...]] = {}
"""Every platform figure this module understands → the indicators it feeds."""
for _recipe in _RECIPES:
    for _name in _recipe.needs:
        FIGURES[_name] = (*FIGURES.get(_name, ()), _recipe.id)


@dataclass(frozen=True)
class PlatformIndicators:
    """Indicator values computed from platform figures.

    Attributes
    ----------
    values
        One :class:`IndicatorInput` per computable indicator, ``source="platform"``, the computation as evidence.
    skipped
        Indicator id → why it could not be computed (a figure missing, a zero denominator).
    """

    values: tuple[IndicatorInput, ...]
    skipped: dict[int, str] = field(default_factory=dict)


def indicators_from_platform(figures: Figures) -> PlatformIndicators:
    """Compute the indicators the platform's figures allow (2, 5, 7, 15-18, 52, 56-59, 61, 63-66).

    Parameters
    ----------
    figures
        Figure name → value for the evaluated park and year (names and units in the module docstring).

    Returns
    -------
    PlatformIndicators
        The computed values with their computation, and the indicators skipped with the reason.

    Raises
    ------
    ValidationError
        An unknown figure name, or a figure that is not a number (``carbon_data_platform``: yes/no) or is negative.

    References
    ----------
    The guide's appendix, indicators 2, 5, 7, 15-18, 52, 56-59, 61, 63-66.
    """
    unknown = sorted(set(figures) - set(FIGURES))
    if unknown:
        raise ValidationError("platform figures", f"figures among {sorted(FIGURES)}", unknown)
    for name, value in figures.items():
        if name == "carbon_data_platform":
            continue
        number = _as_number(value)
        if number is None or not math.isfinite(number) or number < 0:
            raise ValidationError(f"platform figures.{name}", "a number of 0 or more", value)
    values: list[IndicatorInput] = []
    skipped: dict[int, str] = {}
    for recipe in _RECIPES:
        absent = [n for n in recipe.needs if n not in figures]
        if absent:
            skipped[recipe.id] = f"figures missing: {', '.join(absent)}"
            continue
        try:
            value, computation = recipe.compute(figures)
        except ZeroDivisionError:
            skipped[recipe.id] = f"a zero denominator among {', '.join(recipe.needs)}"
            continue
        if recipe.id == 57:
            values.append(IndicatorInput(57, value == 1.0, evidence=computation, source="platform"))
        else:
            values.append(IndicatorInput(recipe.id, value, evidence=computation, source="platform"))
    return PlatformIndicators(values=tuple(values), skipped=skipped)


def merge_inputs(platform: Iterable[IndicatorInput], entered: Iterable[IndicatorInput]) -> list[IndicatorInput]:
    """Platform values completed by entered values; an entered value replaces the platform's for its indicator."""
    merged = {item.id: item for item in platform}
    for item in entered:
        merged[item.id] = item
    return [merged[k] for k in sorted(merged)]
