"""Emission scenarios, the park's peak year and the path to neutrality (SPEC C9).

1. The yearly energy use of each carrier is forecast to the target year (any yearly
   forecaster; :func:`forecast_energy_by_carrier`): this is *business as usual* (BAU).
2. A :class:`Scenario` changes BAU: planned retrofit projects cut a carrier's use from a
   year on (a share or an amount per year), new enterprises add use from a year on, and
   factors may follow a trajectory (a declining grid factor).
3. Formula (8) (:mod:`carbonpark.forecast.emissions`) turns each year's energy into
   emissions; the peak is the largest yearly total, its year the first year it is
   reached. The range of the peak comes from the same computation on the lower and
   upper bounds of the energy path (``lo``, ``hi``). What that range means depends on
   where the bounds come from, and :class:`ScenarioResult` says it in ``band_meaning``:
   from a statistical forecast they are its 80 % bounds, added over carriers as if
   perfectly correlated (:data:`FORECAST_BAND`: wider than an 80 % interval of the
   emissions, not a probability statement); from :func:`elasticity_projection` they are
   the low and high elasticity assumptions (:func:`elasticity_band_meaning`: an
   assumption range, no probability at all).
4. Removals (sinks, CCUS, offsets) are subtracted to give net emissions; the *gap* in
   the target year is what further sinks, CCUS or offsets must still close, and the
   neutral year is the first year net emissions reach zero.

References
----------
Guide §4.5 (emission forecasting from energy forecasts), §1.1 (peak before 2030,
neutrality before 2060); SPEC C9.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError
from carbonpark.forecast.contract import Forecaster
from carbonpark.forecast.emissions import CombustionFactor, FactorTable, emissions_by_year

__all__ = [
    "FORECAST_BAND",
    "NewEnterprise",
    "Peak",
    "Removal",
    "Retrofit",
    "Scenario",
    "ScenarioResult",
    "apply_scenario",
    "elasticity_band_meaning",
    "elasticity_projection",
    "find_peak",
    "forecast_energy_by_carrier",
    "neutral_year",
    "run_scenario",
]

#: What the peak range means when BAU energy comes from a statistical forecast's bounds.
FORECAST_BAND = (
    "peak over the lower and upper 80 % bounds of the energy forecast, the carriers' bounds "
    "added as if perfectly correlated (wider than an 80 % interval of the emissions; not a probability)"
)


def elasticity_band_meaning(low: float, high: float) -> str:
    """What the peak range means when BAU energy comes from :func:`elasticity_projection`.

    Parameters
    ----------
    low, high
        The low and high energy elasticity assumed [–].
    """
    return f"assumption range: energy elasticity of output {low:g} to {high:g} (not a probability)"


@dataclass(frozen=True)
class Retrofit:
    """A planned retrofit project: less use of ``carrier`` from ``from_year`` on.

    Give either ``share`` [–, 0–1] of that year's use saved, or ``amount`` saved per year
    [carrier's unit/a].
    """

    carrier: str
    from_year: int
    share: float | None = None
    amount: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if (self.share is None) == (self.amount is None):
            raise ValidationError(
                f"retrofit {self.name or self.carrier!r}", "either share or amount", "both or neither"
            )
        if self.share is not None and not 0 <= self.share <= 1:
            raise ValidationError(
                f"retrofit {self.name or self.carrier!r} share", "a share between 0 and 1", self.share
            )


@dataclass(frozen=True)
class NewEnterprise:
    """A new enterprise: ``amount`` more use of ``carrier`` per year from ``from_year`` on [unit/a]."""

    carrier: str
    from_year: int
    amount: float
    name: str = ""


@dataclass(frozen=True)
class Removal:
    """Sinks, CCUS or offsets: ``tco2`` removed per year from ``from_year`` on [tCO2/a]."""

    from_year: int
    tco2: float
    kind: str = "removal"


@dataclass(frozen=True)
class Scenario:
    """Business as usual changed by retrofits, new enterprises, factors and removals.

    ``factors`` overrides the base factor table for some carriers (for instance a grid
    factor trajectory {2025: 0.5703, 2060: 0.1}).
    """

    name: str
    retrofits: Sequence[Retrofit] = ()
    new_enterprises: Sequence[NewEnterprise] = ()
    removals: Sequence[Removal] = ()
    factors: Mapping[str, float | Mapping[int, float] | CombustionFactor] = field(default_factory=dict)


@dataclass(frozen=True)
class Peak:
    """Year and height of the largest yearly emissions [tCO2].

    ``reached`` is False when the largest value is the last year forecast: emissions
    still grow at the end of the horizon and the peak lies beyond it.
    """

    year: int
    tco2: float
    reached: bool


def find_peak(emissions: pd.Series) -> Peak:
    """The peak of yearly emissions indexed by year (the first year of the largest value)."""
    if emissions.empty:
        raise ValidationError("emissions", "at least one year", "none")
    series = emissions.sort_index()
    values = series.to_numpy(dtype=float)
    i = int(np.argmax(values))
    return Peak(int(series.index[i]), float(values[i]), i < len(values) - 1)


def neutral_year(net: pd.Series) -> int | None:
    """First year from which net emissions stay at or below zero; ``None`` if never."""
    series = net.sort_index()
    above = np.flatnonzero(series.to_numpy(dtype=float) > 1e-9)
    if above.size == 0:
        return int(series.index[0])
    last_above = int(above[-1])
    return int(series.index[last_above + 1]) if last_above + 1 < len(series) else None


def apply_scenario(bau: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Energy of ``scenario``: BAU with retrofits subtracted and new enterprises added.

    ``bau`` has ``year``, ``carrier``, ``amount`` and optionally ``lo``, ``hi`` [unit/a];
    a carrier that only a new enterprise uses gets rows of its own. Shares apply to the
    amount and its bounds alike; amounts saved never take use below zero.
    """
    energy = bau.copy()
    energy["year"] = energy["year"].astype(int)
    years = sorted(energy["year"].unique())
    bounds = [c for c in ("amount", "lo", "hi") if c in energy.columns]
    for add in scenario.new_enterprises:
        if add.carrier not in set(energy["carrier"]):
            blank = pd.DataFrame({"year": years, "carrier": add.carrier, **dict.fromkeys(bounds, 0.0)})
            energy = pd.concat([energy, blank], ignore_index=True)
        rows = (energy["carrier"] == add.carrier) & (energy["year"] >= add.from_year)
        for column in bounds:
            energy.loc[rows, column] += add.amount
    for project in scenario.retrofits:
        rows = (energy["carrier"] == project.carrier) & (energy["year"] >= project.from_year)
        for column in bounds:
            if project.share is not None:
                energy.loc[rows, column] *= 1.0 - project.share
            else:
                energy.loc[rows, column] = (energy.loc[rows, column] - float(project.amount or 0.0)).clip(lower=0)
    return energy.sort_values(["year", "carrier"]).reset_index(drop=True)


@dataclass
class ScenarioResult:
    """Emission path, peak and neutrality of one scenario.

    ``peak_low`` and ``peak_high`` are the peaks of the paths over the lower and upper
    energy bounds; ``band_meaning`` says what those bounds are (see the module doc).
    """

    name: str
    path: pd.DataFrame
    by_carrier: pd.DataFrame
    peak: Peak
    peak_low: Peak | None
    peak_high: Peak | None
    neutral_year: int | None
    target_year: int
    gap_at_target_tco2: float
    band_meaning: str = FORECAST_BAND

    def summary(self) -> dict[str, Any]:
        """A plain dictionary: peak, its range and what the range means, neutral year, gap and the yearly path."""
        peaks = [p for p in (self.peak, self.peak_low, self.peak_high) if p is not None]
        return {
            "name": self.name,
            "peak_year": self.peak.year,
            "peak_tco2": self.peak.tco2,
            "peak_reached": self.peak.reached,
            "peak_year_range": [min(p.year for p in peaks), max(p.year for p in peaks)],
            "peak_tco2_range": [min(p.tco2 for p in peaks), max(p.tco2 for p in peaks)],
            "band_meaning": self.band_meaning,
            "neutral_year": self.neutral_year,
            "target_year": self.target_year,
            "gap_at_target_tco2": self.gap_at_target_tco2,
            "path": self.path.to_dict(orient="records"),
        }


def run_scenario(
    bau: pd.DataFrame,
    factors: FactorTable,
    scenario: Scenario,
    target_year: int = 2060,
    band_meaning: str = FORECAST_BAND,
) -> ScenarioResult:
    """Emissions, peak and path to neutrality of ``scenario`` (see the module doc).

    Parameters
    ----------
    bau
        Business-as-usual energy by ``year`` and ``carrier`` (``amount``, optional
        ``lo``/``hi``) [unit/a], covering the target year.
    factors
        carrier → tCO2 per unit, a {year: value} trajectory, or a
        :class:`~carbonpark.forecast.emissions.CombustionFactor` (W and F of formula (8)
        apart); the scenario's own factors override these.
    scenario
        The changes to BAU.
    target_year
        Year of the neutrality target (2060 nationally).
    band_meaning
        What ``lo``/``hi`` of ``bau`` are, carried into the result: :data:`FORECAST_BAND`
        (the default) or :func:`elasticity_band_meaning` for an elasticity projection.

    Returns
    -------
    ScenarioResult
        ``path`` has ``year``, ``tco2`` (gross), ``tco2_lo``/``tco2_hi`` when bounds are
        given, ``removals_tco2``, ``net_tco2`` and ``gap_tco2`` (net, floored at zero).
    """
    energy = apply_scenario(bau, scenario)
    merged_factors: dict[str, Any] = {**factors, **scenario.factors}
    by_carrier = emissions_by_year(energy, merged_factors)
    columns = [c for c in ("tco2", "tco2_lo", "tco2_hi") if c in by_carrier.columns]
    path = by_carrier.groupby("year")[columns].sum().reset_index()
    years = path["year"].to_numpy()
    removed = np.zeros(len(path))
    for removal in scenario.removals:
        removed += np.where(years >= removal.from_year, removal.tco2, 0.0)
    path["removals_tco2"] = removed
    path["net_tco2"] = path["tco2"] - removed
    path["gap_tco2"] = path["net_tco2"].clip(lower=0)
    gross = path.set_index("year")["tco2"]
    peak = find_peak(gross)
    peak_low = find_peak(path.set_index("year")["tco2_lo"]) if "tco2_lo" in path else None
    peak_high = find_peak(path.set_index("year")["tco2_hi"]) if "tco2_hi" in path else None
    at_target = path.loc[path["year"] == target_year, "gap_tco2"]
    if at_target.empty:
        raise ValidationError("target_year", f"a year within the forecast {years.min()}–{years.max()}", target_year)
    return ScenarioResult(
        name=scenario.name,
        path=path,
        by_carrier=by_carrier,
        peak=peak,
        peak_low=peak_low,
        peak_high=peak_high,
        neutral_year=neutral_year(path.set_index("year")["net_tco2"]),
        target_year=target_year,
        gap_at_target_tco2=float(at_target.iloc[0]),
        band_meaning=band_meaning,
    )


def forecast_energy_by_carrier(
    history: pd.DataFrame,
    until_year: int,
    make_forecaster: Callable[[], Forecaster],
) -> pd.DataFrame:
    """Business-as-usual yearly energy of each carrier up to ``until_year``.

    Parameters
    ----------
    history
        ``year``, ``carrier``, ``amount`` [unit/a], one row per carrier and year, years
        consecutive.
    until_year
        Last year to forecast (e.g. 2060).
    make_forecaster
        Returns the yearly forecaster to use (``carbonpark forecast-peak`` defaults to
        regression on time, which follows a trend; see ``docs/forecasting.md``).

    Returns
    -------
    pandas.DataFrame
        ``year``, ``carrier``, ``amount``, ``lo``, ``hi`` (80 % bounds) for the history
        years (bounds equal to the amount) and the forecast years.
    """
    missing = [c for c in ("year", "carrier", "amount") if c not in history.columns]
    if missing:
        raise ValidationError("energy history", "columns year, carrier, amount", list(history.columns))
    frame = pd.DataFrame(
        {
            "series_id": history["carrier"].astype(str),
            "ts": pd.to_datetime(history["year"].astype(int).astype(str) + "-01-01"),
            "value": pd.to_numeric(history["amount"], errors="raise").astype(float),
        }
    )
    last = int(history["year"].max())
    if until_year <= last:
        raise ValidationError("until", f"a year after the last observed one ({last})", until_year)
    if (frame.groupby("series_id")["ts"].max() != frame["ts"].max()).any():
        raise ValidationError("energy history", f"every carrier observed up to {last}", "a carrier that stops earlier")
    horizon = until_year - last
    forecast = make_forecaster().forecast(frame, horizon, "YS")
    past = pd.DataFrame(
        {
            "year": frame["ts"].dt.year,
            "carrier": frame["series_id"],
            "amount": frame["value"],
            "lo": frame["value"],
            "hi": frame["value"],
        }
    )
    future = pd.DataFrame(
        {
            "year": forecast["ts"].dt.year,
            "carrier": forecast["series_id"],
            "amount": forecast["mean"],
            "lo": forecast["lo-80"],
            "hi": forecast["hi-80"],
        }
    )
    return pd.concat([past, future], ignore_index=True).sort_values(["year", "carrier"]).reset_index(drop=True)


def elasticity_projection(
    base: Mapping[str, float],
    base_year: int,
    until_year: int,
    driver_growth: Mapping[int, float],
    elasticity: tuple[float, float, float],
) -> pd.DataFrame:
    """Business-as-usual energy by the elasticity method from one base year.

    Energy grows ``e`` times as fast as its driver (output value, GDP):
    ``E_t = E_T × (X_t / X_T)^e`` with ``X_t / X_T = Π_{y=T+1..t} (1 + g_y)``. The growth
    rate ``g_y`` of a year is the one given for the latest breakpoint at or before it (the
    first one before all breakpoints). ``lo`` and ``hi`` use the low and high elasticity:
    a range of assumptions, not a probability statement (pass
    :func:`elasticity_band_meaning` to :func:`run_scenario` so the result says so).

    Parameters
    ----------
    base
        carrier → use in the base year [unit/a].
    base_year, until_year
        First and last year of the path.
    driver_growth
        {year: growth rate of the driver from that year on} [1/a].
    elasticity
        (low, central, high) energy elasticity of the driver [–].

    Returns
    -------
    pandas.DataFrame
        ``year``, ``carrier``, ``amount``, ``lo``, ``hi`` [unit/a], the base year included.

    References
    ----------
    Guide §4.4(1) (弹性系数法: energy demand from the elasticity coefficient and economic
    growth).
    """
    if until_year <= base_year:
        raise ValidationError("until", f"a year after the base year {base_year}", until_year)
    if not driver_growth:
        raise ValidationError("driver_growth", "at least one {year: rate}", "none")
    low, central, high = (float(e) for e in elasticity)
    if not low <= central <= high:
        raise ValidationError("elasticity", "low <= central <= high", elasticity)
    breaks = sorted((int(y), float(g)) for y, g in driver_growth.items())
    years = np.arange(base_year, until_year + 1)

    def rate(year: int) -> float:
        applicable = [g for y, g in breaks if y <= year]
        return applicable[-1] if applicable else breaks[0][1]

    growth = np.array([1.0] + [1.0 + rate(int(y)) for y in years[1:]])
    ratio = np.cumprod(growth)
    rows = []
    for carrier, amount in base.items():
        paths = [float(amount) * ratio**e for e in (low, central, high)]
        lo, hi = np.minimum(paths[0], paths[2]), np.maximum(paths[0], paths[2])
        for i, year in enumerate(years):
            rows.append({"year": int(year), "carrier": carrier, "amount": paths[1][i], "lo": lo[i], "hi": hi[i]})
    return pd.DataFrame(rows)
