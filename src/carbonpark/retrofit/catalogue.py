"""The catalogue of reduction measures (碳改造措施库) and projects derived from it.

A measure is a kind of intervention with typical parameters (saving fraction, yield, COP,
capex per size unit, lifetime). A project applies a measure at a size to equipment with a
known yearly baseline; its energy, money and emission savings follow from the measure's
model, the energy prices and the emission factors the caller supplies (the accounting
engine and the factor library own those; nothing here hard-codes a factor).

The packaged catalogue ``data/measures-illustrative-2024.yaml`` carries illustrative figures,
each measure with its source and grade.

References
----------
Guide §7.4 (碳改造: 节能降碳改造措施), §6.2 (3) 推进绿色智能改造, §2.2 (企业绿色化改造升级).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from carbonpark.errors import UnknownFactorError, ValidationError
from carbonpark.retrofit.projects import Project, to_decimal
from carbonpark.units import convert

__all__ = [
    "CARRIER_UNITS",
    "DEFAULT_CATALOGUE",
    "DerivedProject",
    "Measure",
    "catalogue_names",
    "load_catalogue",
    "parse_catalogue",
    "project_from_measure",
]

#: The unit each energy carrier is counted in inside the catalogue.
CARRIER_UNITS: dict[str, str] = {"electricity": "kWh", "natural_gas": "GJ", "heat": "GJ"}
#: Name of the packaged catalogue used when none is named.
DEFAULT_CATALOGUE = "illustrative-2024"
_MODELS = ("saving_fraction", "generation", "fuel_switch")


@dataclass(frozen=True)
class Measure:
    """One reduction measure with its typical parameters.

    Attributes
    ----------
    model
        ``saving_fraction``, ``generation`` or ``fuel_switch`` (see the catalogue file header).
    carrier
        The energy carrier saved or replaced (``electricity`` [kWh], ``natural_gas`` [GJ]).
    fraction
        Share of the baseline saved (``saving_fraction``).
    yield_per_size_unit
        Carrier produced per size unit per year (``generation``) [carrier unit/(size unit·yr)].
    to_carrier, cop, replaced_efficiency
        For ``fuel_switch``: the new carrier, its coefficient of performance, and the
        efficiency of the equipment replaced.
    capex_cny_per_size_unit, opex_fraction_of_capex, opex_cny_per_size_unit
        Costs [CNY/size unit], [1/yr], [CNY/(size unit·yr)].
    lifetime_years
        [yr].
    source, grade
        Where the figures come from and how far to trust them (A/B/C).
    """

    id: str
    name_en: str
    name_zh: str
    category: str
    model: str
    carrier: str
    size_unit: str
    capex_cny_per_size_unit: Decimal
    lifetime_years: Decimal
    source: str
    grade: str
    fraction: float | None = None
    yield_per_size_unit: float | None = None
    to_carrier: str | None = None
    cop: float | None = None
    replaced_efficiency: float | None = None
    opex_fraction_of_capex: Decimal = Decimal(0)
    opex_cny_per_size_unit: Decimal = Decimal(0)
    typical_range: str | None = None


@dataclass(frozen=True)
class DerivedProject:
    """A project computed from a measure, with the energy it saves by carrier.

    ``energy_saved`` is per year in the carrier units of :data:`CARRIER_UNITS` (negative for a
    carrier that is used more, e.g. electricity of a heat pump).
    """

    project: Project
    energy_saved: dict[str, float]
    emissions_saved_by_carrier_tco2e: dict[str, float]


def _measure(row: Mapping[str, Any], where: str) -> Measure:
    model = row.get("model")
    if model not in _MODELS:
        raise ValidationError(f"{where}.model", " or ".join(_MODELS), model)
    for key in ("id", "carrier", "size_unit", "source", "grade"):
        if not row.get(key):
            raise ValidationError(f"{where}.{key}", "a value", row.get(key))
    carriers = [row["carrier"]] + ([row["to_carrier"]] if model == "fuel_switch" else [])
    for carrier in carriers:
        if carrier not in CARRIER_UNITS:
            raise ValidationError(f"{where}.carrier", f"one of {', '.join(CARRIER_UNITS)}", carrier)
    required = {
        "saving_fraction": ("fraction",),
        "generation": ("yield_per_size_unit",),
        "fuel_switch": ("to_carrier", "cop", "replaced_efficiency"),
    }[model]
    for key in required:
        if row.get(key) is None:
            raise ValidationError(f"{where}.{key}", f"a value for a {model} measure", None)

    def optional_float(key: str) -> float | None:
        return None if row.get(key) is None else float(row[key])

    return Measure(
        id=str(row["id"]),
        name_en=str(row.get("name_en", row["id"])),
        name_zh=str(row.get("name_zh", row.get("name_en", row["id"]))),
        category=str(row.get("category", "")),
        model=model,
        carrier=str(row["carrier"]),
        size_unit=str(row["size_unit"]),
        capex_cny_per_size_unit=to_decimal(row.get("capex_cny_per_size_unit", 0), f"{where}.capex_cny_per_size_unit"),
        lifetime_years=to_decimal(row.get("lifetime_years"), f"{where}.lifetime_years"),
        source=str(row["source"]),
        grade=str(row["grade"]),
        fraction=optional_float("fraction"),
        yield_per_size_unit=optional_float("yield_per_size_unit"),
        to_carrier=None if row.get("to_carrier") is None else str(row["to_carrier"]),
        cop=optional_float("cop"),
        replaced_efficiency=optional_float("replaced_efficiency"),
        opex_fraction_of_capex=to_decimal(row.get("opex_fraction_of_capex", 0), f"{where}.opex_fraction_of_capex"),
        opex_cny_per_size_unit=to_decimal(row.get("opex_cny_per_size_unit", 0), f"{where}.opex_cny_per_size_unit"),
        typical_range=None if row.get("typical_range") is None else str(row["typical_range"]),
    )


def parse_catalogue(doc: Any) -> dict[str, Measure]:
    """Measures by id from a document ``{measures: [...]}`` (the packaged file or a user's own)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("measures"), list):
        raise ValidationError("catalogue", "a mapping with a list of measures", doc)
    measures = [_measure(row, f"measures[{i}]") for i, row in enumerate(doc["measures"])]
    return {m.id: m for m in measures}


def _packaged() -> dict[str, str]:
    folder = resources.files("carbonpark.retrofit") / "data"
    return {
        entry.name.removeprefix("measures-").removesuffix(".yaml"): entry.name
        for entry in folder.iterdir()
        if entry.name.startswith("measures-") and entry.name.endswith(".yaml")
    }


def catalogue_names() -> list[str]:
    """Names of the packaged catalogues."""
    return sorted(_packaged())


@lru_cache(maxsize=4)
def load_catalogue(name: str = DEFAULT_CATALOGUE) -> dict[str, Measure]:
    """A packaged catalogue by name.

    Raises
    ------
    UnknownFactorError
        For an unknown name; the message lists the known ones.
    """
    files = _packaged()
    if name not in files:
        raise UnknownFactorError(f"no measure catalogue {name!r}; known: {', '.join(sorted(files))}")
    text = (resources.files("carbonpark.retrofit") / "data" / files[name]).read_text(encoding="utf-8")
    return parse_catalogue(yaml.safe_load(text))


def _energy_saved(measure: Measure, size: float, baseline: Mapping[str, float]) -> dict[str, float]:
    """Yearly energy saved by carrier [carrier unit/yr] by the measure's model."""
    if measure.model == "generation":
        assert measure.yield_per_size_unit is not None
        return {measure.carrier: measure.yield_per_size_unit * size}
    if measure.carrier not in baseline:
        raise ValidationError(
            "baseline",
            f"the yearly {measure.carrier} use [{CARRIER_UNITS[measure.carrier]}/yr] of the equipment",
            dict(baseline),
        )
    base = baseline[measure.carrier]
    if base < 0:
        raise ValidationError(f"baseline.{measure.carrier}", "a yearly use ≥ 0", base)
    if measure.model == "saving_fraction":
        assert measure.fraction is not None
        return {measure.carrier: measure.fraction * base}
    assert measure.to_carrier and measure.cop and measure.replaced_efficiency
    useful_heat_gj = convert(base, CARRIER_UNITS[measure.carrier], "GJ") * measure.replaced_efficiency
    new_use = convert(useful_heat_gj / measure.cop, "GJ", CARRIER_UNITS[measure.to_carrier])
    return {measure.carrier: base, measure.to_carrier: -new_use}


def project_from_measure(
    measure: Measure,
    *,
    project_id: str,
    size: float,
    baseline: Mapping[str, float],
    prices_cny: Mapping[str, Decimal],
    emission_factors_tco2e: Mapping[str, float],
    name: str | None = None,
    owner: str | None = None,
    start_year: int | None = None,
) -> DerivedProject:
    """Apply a measure at ``size`` to equipment with a yearly ``baseline`` and cost it.

    Parameters
    ----------
    measure
        From the catalogue.
    size
        In the measure's ``size_unit`` (kWp, kW of motor rating …).
    baseline
        Yearly use of the affected equipment by carrier [kWh/yr for electricity, GJ/yr for gas];
        not needed for ``generation`` measures.
    prices_cny
        Energy prices by carrier [CNY per carrier unit].
    emission_factors_tco2e
        Emission factors by carrier [tCO2e per carrier unit], from the factor library
        (e.g. 0.0005306 tCO2/kWh, the MEE 2023 national grid average).

    Returns
    -------
    DerivedProject
        The :class:`Project` (capex, opex, savings, abatement) and the energy saved by carrier.

    References
    ----------
    Guide §7.4; issue 13 item 2 (a project applies a measure to sources).
    """
    if size <= 0:
        raise ValidationError("size", f"a size > 0 [{measure.size_unit}]", size)
    saved = _energy_saved(measure, size, baseline)
    for carrier in saved:
        if carrier not in prices_cny:
            raise ValidationError(f"prices_cny.{carrier}", f"a price [CNY/{CARRIER_UNITS[carrier]}]", None)
        if carrier not in emission_factors_tco2e:
            raise ValidationError(
                f"emission_factors_tco2e.{carrier}", f"a factor [tCO2e/{CARRIER_UNITS[carrier]}]", None
            )
    size_d = Decimal(repr(size))
    capex = measure.capex_cny_per_size_unit * size_d
    opex = capex * measure.opex_fraction_of_capex + measure.opex_cny_per_size_unit * size_d
    savings = sum((Decimal(repr(amount)) * prices_cny[c] for c, amount in saved.items()), Decimal(0))
    emissions = {c: amount * emission_factors_tco2e[c] for c, amount in saved.items()}
    abatement = Decimal(repr(sum(emissions.values())))
    if abatement <= 0:
        raise ValidationError(
            f"project {project_id!r}", "a measure that lowers emissions with these factors", f"{abatement} tCO2e/yr"
        )
    project = Project(
        id=project_id,
        name=name or f"{measure.name_en} ({size} {measure.size_unit})",
        capex=capex.quantize(Decimal("0.01")),
        lifetime_years=measure.lifetime_years,
        annual_opex=opex.quantize(Decimal("0.01")),
        annual_savings=savings.quantize(Decimal("0.01")),
        annual_abatement_tco2e=abatement,
        measure=measure.id,
        owner=owner,
        start_year=start_year,
    )
    return DerivedProject(project=project, energy_saved=saved, emissions_saved_by_carrier_tco2e=emissions)
