"""Dual-carbon targets and the implementation path, tracked against actuals and forecasts.

A park and each of its enterprises set targets (双碳目标): the peak year and peak value,
yearly caps on total emissions and on intensity, the clean-energy share and the neutrality
year. The implementation path (实施路径) lists measures by year with owners. This module
answers the questions a park management committee asks every month:

* Where will this year end? ``projected = Σ actual (months so far) + Σ forecast (rest)``;
  a month without a forecast is filled with the run rate of the months so far.
* Are we inside the cap? The cap to date is the yearly cap pro rata by calendar days
  (a choice: seasonal shapes belong in the forecast, not in the cap), and the gap is
  ``projected − cap`` [tCO2e] (positive = over the cap).
* Does the path reach the targets? Each measure abates from its year on; the resulting
  trajectory gives the peak year and value, the caps and intensities kept or missed, and
  the residual emissions in the neutrality year that sinks, CCUS or offsets must close.

Pure: no database, no network.

References
----------
Guide §3.2.2(1) (双碳目标和实施路径), §6.2 (制定规划), §7.5 (碳评价: 强度目标可达性);
SPEC.md C15, C16; issue 13 item 1.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from carbonpark.errors import ValidationError

__all__ = [
    "DualCarbonTargets",
    "MonthGap",
    "PathMeasure",
    "TargetCheck",
    "check_path",
    "measures_by_year",
    "monthly_gap",
    "path_trajectory",
    "peak",
]

MEASURE_STATUSES = ("planned", "in_progress", "done", "cancelled")


@dataclass(frozen=True)
class DualCarbonTargets:
    """The dual-carbon targets of one organisation (an enterprise or the park).

    Attributes
    ----------
    organisation
        Handle or name of the enterprise, or the park.
    peak_year, peak_tco2e
        Emissions peak no later than ``peak_year`` and no higher than ``peak_tco2e`` [tCO2e].
    neutrality_year
        Year by which net emissions reach zero.
    caps_tco2e
        Yearly cap on total emissions [tCO2e] by year.
    intensity_caps
        Yearly cap on emissions per value added [tCO2e / 10^4 CNY] by year.
    clean_share_targets
        Minimum share of clean energy in final energy use [fraction 0–1] by year.
    """

    organisation: str
    peak_year: int | None = None
    peak_tco2e: float | None = None
    neutrality_year: int | None = None
    caps_tco2e: Mapping[int, float] = field(default_factory=dict)
    intensity_caps: Mapping[int, float] = field(default_factory=dict)
    clean_share_targets: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, values in (("caps_tco2e", self.caps_tco2e), ("intensity_caps", self.intensity_caps)):
            for year, value in values.items():
                if value < 0:
                    raise ValidationError(f"{name}[{year}]", "a number ≥ 0", value)
        for year, share in self.clean_share_targets.items():
            if not 0 <= share <= 1:
                raise ValidationError(f"clean_share_targets[{year}]", "a fraction from 0 to 1", share)
        if self.peak_year and self.neutrality_year and self.neutrality_year <= self.peak_year:
            raise ValidationError(
                "neutrality_year", f"a year after the peak year {self.peak_year}", self.neutrality_year
            )


@dataclass(frozen=True)
class PathMeasure:
    """One measure of the implementation path: abates ``annual_abatement_tco2e`` from ``year`` on."""

    id: str
    name: str
    year: int
    owner: str
    annual_abatement_tco2e: float
    status: str = "planned"

    def __post_init__(self) -> None:
        if self.status not in MEASURE_STATUSES:
            raise ValidationError(f"measure {self.id}: status", f"one of {', '.join(MEASURE_STATUSES)}", self.status)
        if self.annual_abatement_tco2e < 0:
            raise ValidationError(
                f"measure {self.id}: annual_abatement_tco2e", "a number ≥ 0", self.annual_abatement_tco2e
            )


@dataclass(frozen=True)
class MonthGap:
    """The position against the yearly cap after one month [tCO2e]."""

    month: int
    actual_tco2e: float | None
    forecast_tco2e: float | None
    actual_to_date_tco2e: float
    cap_to_date_tco2e: float | None
    projected_year_tco2e: float
    gap_tco2e: float | None  # projected − cap; positive = over the cap
    basis: str  # which months of the projection are forecast, which are run rate


def _days_to_month_end(year: int, month: int) -> int:
    return sum(calendar.monthrange(year, m)[1] for m in range(1, month + 1))


def monthly_gap(
    year: int,
    actual_tco2e: Mapping[int, float],
    forecast_tco2e: Mapping[int, float],
    cap_tco2e: float | None,
) -> list[MonthGap]:
    """The position against the yearly cap after each month that has actual data.

    Parameters
    ----------
    year
        Calendar year [local].
    actual_tco2e
        Emissions by month number 1–12 [tCO2e], the months with data so far (consecutive from 1).
    forecast_tco2e
        Forecast emissions by month [tCO2e]; used for the months after the one evaluated.
    cap_tco2e
        Yearly cap [tCO2e], or None (then only the projection is given).

    Returns
    -------
    list[MonthGap]
        One row per month with actual data, in month order.

    Notes
    -----
    ``projected(m) = Σ_{i≤m} actual_i + Σ_{i>m} f_i`` where ``f_i`` is the forecast of month
    ``i`` or, without one, the run rate ``Σ_{i≤m} actual_i / m``. The cap to date is
    ``cap × days(1..m) / days(year)``.
    """
    months = sorted(actual_tco2e)
    if months != list(range(1, len(months) + 1)):
        raise ValidationError("actual_tco2e", "consecutive months from 1 (January)", months)
    days_in_year = 366 if calendar.isleap(year) else 365
    rows: list[MonthGap] = []
    to_date = 0.0
    for m in months:
        to_date += actual_tco2e[m]
        rest = range(m + 1, 13)
        run_rate = to_date / m
        forecast_months = [i for i in rest if i in forecast_tco2e]
        projected = to_date + sum(forecast_tco2e.get(i, run_rate) for i in rest)
        cap_to_date = None if cap_tco2e is None else cap_tco2e * _days_to_month_end(year, m) / days_in_year
        basis = f"actual 1–{m}"
        if forecast_months:
            basis += f", forecast {forecast_months[0]}–{forecast_months[-1]}"
        if len(forecast_months) < len(rest):
            basis += f", run rate for {len(rest) - len(forecast_months)} month(s)"
        rows.append(
            MonthGap(
                month=m,
                actual_tco2e=actual_tco2e[m],
                forecast_tco2e=forecast_tco2e.get(m),
                actual_to_date_tco2e=to_date,
                cap_to_date_tco2e=cap_to_date,
                projected_year_tco2e=projected,
                gap_tco2e=None if cap_tco2e is None else projected - cap_tco2e,
                basis=basis,
            )
        )
    return rows


def path_trajectory(baseline_tco2e: Mapping[int, float], measures: Iterable[PathMeasure]) -> dict[int, float]:
    """Emissions by year [tCO2e] when the path's measures abate the baseline (BAU) trajectory.

    A measure abates its full annual amount from its ``year`` on; cancelled measures count
    nothing. Emissions never go below zero here: sinks and offsets are shown apart.
    """
    active = [m for m in measures if m.status != "cancelled"]
    return {
        year: max(0.0, bau - sum(m.annual_abatement_tco2e for m in active if m.year <= year))
        for year, bau in sorted(baseline_tco2e.items())
    }


def peak(trajectory: Mapping[int, float]) -> tuple[int, float]:
    """The year and height of the highest emissions [tCO2e]; the earliest year on a tie."""
    if not trajectory:
        raise ValidationError("trajectory", "emissions for at least one year", {})
    year = min(trajectory, key=lambda y: (-trajectory[y], y))
    return year, trajectory[year]


@dataclass(frozen=True)
class TargetCheck:
    """One target against the path: kept or missed, with the figures [units in ``unit``]."""

    target: str
    year: int | None
    limit: float | None
    value: float | None
    unit: str
    met: bool | None  # None when there are no data to judge it
    explanation: str


def check_path(
    targets: DualCarbonTargets,
    trajectory: Mapping[int, float],
    value_added_1e4cny: Mapping[int, float] | None = None,
    clean_share: Mapping[int, float] | None = None,
) -> list[TargetCheck]:
    """Check a trajectory against every target; return one :class:`TargetCheck` per target.

    Parameters
    ----------
    targets
        The organisation's targets.
    trajectory
        Emissions by year [tCO2e] (actuals for past years, the path for later ones).
    value_added_1e4cny
        Value added by year [10^4 CNY] for intensity targets.
    clean_share
        Clean-energy share by year [fraction] for the clean-share targets.
    """
    checks: list[TargetCheck] = []
    peak_year, peak_value = peak(trajectory)
    last_year = max(trajectory)
    if targets.peak_year is not None:
        judged = last_year > targets.peak_year
        checks.append(
            TargetCheck(
                "peak_year",
                targets.peak_year,
                targets.peak_year,
                peak_year,
                "year",
                (peak_year <= targets.peak_year) if judged else None,
                f"the path peaks in {peak_year} at {peak_value:,.1f} tCO2e"
                + ("" if judged else f"; the trajectory ends in {last_year}, so a later peak cannot be excluded"),
            )
        )
    if targets.peak_tco2e is not None:
        checks.append(
            TargetCheck(
                "peak_tco2e",
                peak_year,
                targets.peak_tco2e,
                peak_value,
                "tCO2e",
                peak_value <= targets.peak_tco2e,
                f"peak {peak_value:,.1f} against at most {targets.peak_tco2e:,.1f} tCO2e",
            )
        )
    for year, cap in sorted(targets.caps_tco2e.items()):
        value = trajectory.get(year)
        checks.append(
            TargetCheck(
                "cap_tco2e",
                year,
                cap,
                value,
                "tCO2e",
                None if value is None else value <= cap,
                "no emissions for this year" if value is None else f"{value:,.1f} against a cap of {cap:,.1f} tCO2e",
            )
        )
    for year, cap in sorted(targets.intensity_caps.items()):
        va = (value_added_1e4cny or {}).get(year)
        value = trajectory.get(year)
        intensity = None if va is None or va == 0 or value is None else value / va
        checks.append(
            TargetCheck(
                "intensity",
                year,
                cap,
                intensity,
                "tCO2e/10^4 CNY",
                None if intensity is None else intensity <= cap,
                "no value added or emissions for this year"
                if intensity is None
                else f"{value:,.1f} tCO2e / {va:,.1f} × 10^4 CNY = {intensity:.4f} against {cap:.4f}",
            )
        )
    for year, minimum in sorted(targets.clean_share_targets.items()):
        share = (clean_share or {}).get(year)
        checks.append(
            TargetCheck(
                "clean_share",
                year,
                minimum,
                share,
                "fraction",
                None if share is None else share >= minimum,
                "no energy mix for this year" if share is None else f"{share:.1%} against at least {minimum:.1%}",
            )
        )
    if targets.neutrality_year is not None:
        residual = trajectory.get(targets.neutrality_year)
        checks.append(
            TargetCheck(
                "neutrality",
                targets.neutrality_year,
                0.0,
                residual,
                "tCO2e",
                None if residual is None else residual <= 0,
                "the trajectory does not reach the neutrality year"
                if residual is None
                else f"{residual:,.1f} tCO2e remain for sinks, CCUS or offsets to close",
            )
        )
    return checks


def measures_by_year(measures: Sequence[PathMeasure]) -> dict[int, list[PathMeasure]]:
    """The path's measures grouped by year, in year order."""
    out: dict[int, list[PathMeasure]] = {}
    for m in sorted(measures, key=lambda m: (m.year, m.id)):
        out.setdefault(m.year, []).append(m)
    return out
