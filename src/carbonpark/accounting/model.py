"""Plain data types of the accounting stages: activity → gas amounts → CO2e → aggregates.

Every stage's output is a frozen dataclass that keeps its lineage: the activity line, the
factor rows used (with their sources), the formula, and (from stage 3) the GWP set.

References
----------
The guide §4.2 (formulas (1) and (2)); ISO 14064-1:2018 clause 5.2.4 (categories 1-6);
GHG Protocol Corporate Standard and Scope 2 Guidance (scopes, location/market-based).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carbonpark.errors import ValidationError
from carbonpark.factors import FactorRow

__all__ = [
    "ISO_CATEGORIES",
    "SCOPE3_TO_ISO_CATEGORY",
    "ActivityRecord",
    "EmissionRow",
    "EnergyRow",
    "GasAmount",
    "Inventory",
    "iso_category_for",
]

#: ISO 14064-1:2018 inventory categories (clause 5.2.4).
ISO_CATEGORIES: dict[str, str] = {
    "1": "direct GHG emissions and removals",
    "2": "indirect GHG emissions from imported energy",
    "3": "indirect GHG emissions from transportation",
    "4": "indirect GHG emissions from products used by the organization",
    "5": "indirect GHG emissions associated with the use of products from the organization",
    "6": "indirect GHG emissions from other sources",
}

#: GHG Protocol scope-3 category (1-15) → ISO 14064-1 category (REFERENCE_DATA §6a mapping).
SCOPE3_TO_ISO_CATEGORY: dict[str, str] = {
    **dict.fromkeys(("4", "6", "7", "9"), "3"),
    **dict.fromkeys(("1", "2", "3", "5", "8"), "4"),
    **dict.fromkeys(("10", "11", "12", "13"), "5"),
    **dict.fromkeys(("14", "15"), "6"),
}


def iso_category_for(scope: str, category: str, scope3_category: str, where: str) -> str:
    """The ISO 14064-1 category of a row, checked against its scope.

    Scope 1 is category 1, scope 2 is category 2, scope 3 is one of 3-6 (given directly, or
    derived from the GHG Protocol scope-3 category 1-15).

    Raises
    ------
    ValidationError
        If the scope and category disagree or a scope-3 row has neither category.
    """
    if scope not in ("1", "2", "3"):
        raise ValidationError(f"{where}, column scope", "1, 2 or 3", scope)
    if scope3_category and scope3_category not in SCOPE3_TO_ISO_CATEGORY:
        raise ValidationError(f"{where}, column scope3_category", "a scope-3 category 1-15", scope3_category)
    implied = {"1": "1", "2": "2"}.get(scope) or SCOPE3_TO_ISO_CATEGORY.get(scope3_category, "")
    if category and category not in ISO_CATEGORIES:
        raise ValidationError(f"{where}, column category", "an ISO 14064-1 category 1-6", category)
    if category and implied and category != implied:
        raise ValidationError(f"{where}, column category", f"category {implied} for scope {scope}", category)
    if category and scope == "3" and category in ("1", "2"):
        raise ValidationError(f"{where}, column category", "category 3-6 for scope 3", category)
    result = category or implied
    if not result:
        raise ValidationError(
            f"{where}, column category",
            "an ISO 14064-1 category 3-6 (or scope3_category 1-15) for scope 3",
            "",
        )
    return result


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One activity datum (one line of an activity file, or one stored datum).

    Attributes
    ----------
    line
        Where the datum came from (1-based data line of a file, or a stored id); cited in errors.
    source
        The emission source (boiler, fleet, workshop meter …); mass balance groups by it.
    activity
        Activity id or Chinese name (``diesel``, ``柴油``, ``grid_electricity``, ``hfc_134a``).
    amount, unit
        The activity data [any unit that fits the activity].
    method
        ``""`` (chosen from the activity), ``fuel_combustion``, ``emission_factor``,
        ``mass_balance``, ``measured``, ``fugitive``, ``process``, ``purchased_electricity``,
        ``purchased_heat``, ``removal`` or a plug-in method name.
    ncv, carbon_content, oxidation_rate
        Batch-measured fuel parameters that override the defaults [units in ``*_unit``; OF as
        a fraction 0-1].
    emission_factor, emission_factor_unit
        A direct factor (``tCO2/t``, ``kgCO2/kWh`` …) that overrides the library.
    flow
        ``input``/``output`` for mass balance; ``output`` on electricity or heat marks an export.
    green_amount
        Electricity covered by green certificates or green-power contracts [same unit as
        ``amount``]: reduces market-based scope 2 only.
    """

    line: int
    source: str
    activity: str
    amount: float
    unit: str
    method: str = ""
    gas: str = ""
    scope: str = ""
    category: str = ""
    scope3_category: str = ""
    ncv: float | None = None
    ncv_unit: str = ""
    carbon_content: float | None = None
    carbon_content_unit: str = ""
    oxidation_rate: float | None = None
    emission_factor: float | None = None
    emission_factor_unit: str = ""
    density: float | None = None
    density_unit: str = ""
    flow: str = ""
    carbon_fraction: float | None = None
    carbonate_fraction: float | None = None
    grid_region: str = ""
    year: int | None = None
    sector: str = ""
    biogenic: bool = False
    green_amount: float | None = None
    market_emission_factor: float | None = None
    market_emission_factor_unit: str = ""
    steam_enthalpy_kj_per_kg: float | None = None
    enterprise: str = ""
    site: str = ""
    workshop: str = ""
    device: str = ""

    @property
    def where(self) -> str:
        """``line N`` for error messages."""
        return f"line {self.line}"


@dataclass(frozen=True, slots=True)
class GasAmount:
    """Stage 2: a mass of one gas from one activity (or one mass-balance group).

    ``kind`` is ``emission``, ``biogenic`` (biogenic CO2, reported apart) or ``removal``
    (negative mass, reported apart). ``market_mass_t`` is the market-based scope-2 mass.
    ``steps`` explains the computation in words and numbers.
    """

    line: int
    source: str
    activity: str
    gas: str
    mass_t: float
    method: str
    formula: str
    factors: tuple[FactorRow, ...]
    scope: str
    category: str
    kind: str = "emission"
    origin: str = "fossil"
    market_mass_t: float | None = None
    lines: tuple[int, ...] = ()
    steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    enterprise: str = ""
    site: str = ""
    workshop: str = ""
    device: str = ""


@dataclass(frozen=True, slots=True)
class EmissionRow:
    """Stage 3: a gas amount weighted by its GWP [tCO2e]; ``gwp_row`` is None for CO2e inputs."""

    amount: GasAmount
    gwp_set: str
    gwp: float
    gwp_row: FactorRow | None
    tco2e: float
    market_tco2e: float | None = None

    @property
    def factor_rows(self) -> tuple[FactorRow, ...]:
        """Every factor row used, the GWP row last."""
        return (*self.amount.factors, *((self.gwp_row,) if self.gwp_row else ()))


@dataclass(frozen=True, slots=True)
class EnergyRow:
    """Energy use of one activity in tonnes of standard coal (GB/T 2589-2020) [tce]."""

    line: int
    source: str
    activity: str
    tce: float
    tce_equal_value: float
    factors: tuple[FactorRow, ...]
    formula: str


@dataclass(frozen=True)
class Inventory:
    """Stage 4: aggregates of emission rows.

    ``total_tco2e`` = scope 1 + scope 2 (location-based) + scope 3, without biogenic CO2 and
    removals; ``removals_tco2e`` is negative; ``by_scope["2"]`` is location-based.
    """

    factor_set: str
    gwp_set: str
    rows: tuple[EmissionRow, ...]
    energy: tuple[EnergyRow, ...]
    total_tco2e: float
    removals_tco2e: float
    biogenic_co2_t: float
    scope2_market_tco2e: float
    by_gas: dict[str, dict[str, float]]
    by_scope: dict[str, float]
    by_category: dict[str, float]
    by_source: dict[str, float]
    by_level: dict[str, dict[str, float]] = field(default_factory=dict)
    energy_tce: float = 0.0
    energy_tce_equal_value: float = 0.0
