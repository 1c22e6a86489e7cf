"""Realised against planned savings: measurement and verification (M&V) after commissioning.

A baseline model is fitted on the periods before the project (energy as a linear function of
output and heating/cooling degree-days). In the reporting periods the model, fed with that
period's output and weather, gives the *adjusted baseline*: what the site would have used
without the project. Avoided energy = adjusted baseline − metered use. Times the emission
factor and the price, that is the realised abatement and saving, compared with the plan
pro rata.

References
----------
IPMVP (EVO), "avoided energy" with a routine-adjusted baseline (Option B/C); ASHRAE Guideline
14-2014 for the statistics of the baseline model (CV(RMSE), NMBE; for monthly data the usual
acceptance is CV(RMSE) ≤ 15 % and |NMBE| ≤ 5 %). Guide §7.4 (三) 碳监测, §6.4 监测跟踪; issue 13 item 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "CDD_BASE_C",
    "HDD_BASE_C",
    "BaselineModel",
    "PeriodObservation",
    "SavingsVerification",
    "fit_baseline",
    "monthly_degree_days",
    "predict",
    "verify_savings",
]

#: Monthly acceptance limits of ASHRAE Guideline 14-2014 for a baseline regression.
MONTHLY_CV_RMSE_LIMIT = 0.15
MONTHLY_NMBE_LIMIT = 0.05
#: Base temperatures of heating and cooling degree-days [°C]: HDD18 and CDD26 as in GB 50176-2016
#: (民用建筑热工设计规范), the usual Chinese climate statistics.
HDD_BASE_C = 18.0
CDD_BASE_C = 26.0


def monthly_degree_days(
    daily_mean_c: Mapping[date, float], hdd_base_c: float = HDD_BASE_C, cdd_base_c: float = CDD_BASE_C
) -> dict[str, dict[str, float]]:
    """Heating and cooling degree-days per month from daily mean temperatures.

    ``HDD = Σ_days max(0, base_h − T_day)``, ``CDD = Σ_days max(0, T_day − base_c)`` [K·d].

    Returns
    -------
    dict
        ``YYYY-MM`` → ``{"hdd", "cdd", "days"}`` (``days``: days with a temperature; a month with missing
        days has smaller sums, the caller decides whether to accept it).

    References
    ----------
    GB 50176-2016 民用建筑热工设计规范 (HDD18, CDD26); ASHRAE Guideline 14-2014 (weather-adjusted baselines).
    """
    out: dict[str, dict[str, float]] = {}
    for day, temp in sorted(daily_mean_c.items()):
        if not math.isfinite(temp):
            raise ValidationError(f"temperature of {day}", "a finite number [°C]", temp)
        row = out.setdefault(f"{day.year}-{day.month:02d}", {"hdd": 0.0, "cdd": 0.0, "days": 0})
        row["hdd"] += max(0.0, hdd_base_c - temp)
        row["cdd"] += max(0.0, temp - cdd_base_c)
        row["days"] += 1
    return out


@dataclass(frozen=True)
class PeriodObservation:
    """One period (usually a month) of metered energy and its drivers.

    Attributes
    ----------
    period
        Label, e.g. ``2025-03``.
    energy
        Metered use of the affected carrier in the period [kWh or GJ].
    output
        Production in the period (any unit, the same in every period).
    hdd, cdd
        Heating and cooling degree-days of the period [K·d].
    """

    period: str
    energy: float
    output: float = 0.0
    hdd: float = 0.0
    cdd: float = 0.0


@dataclass(frozen=True)
class BaselineModel:
    """``energy = intercept + Σ coefficient × driver``, with its fit statistics."""

    intercept: float
    coefficients: dict[str, float]
    r_squared: float
    cv_rmse: float
    nmbe: float
    observations: int

    @property
    def meets_guideline_14_monthly(self) -> bool:
        """Whether CV(RMSE) ≤ 15 % and |NMBE| ≤ 5 % (ASHRAE Guideline 14, monthly data)."""
        return self.cv_rmse <= MONTHLY_CV_RMSE_LIMIT and abs(self.nmbe) <= MONTHLY_NMBE_LIMIT


def _driver(obs: PeriodObservation, name: str) -> float:
    value: float = getattr(obs, name)
    return value


def fit_baseline(
    observations: Sequence[PeriodObservation], drivers: Sequence[str] = ("output", "hdd", "cdd")
) -> BaselineModel:
    """Ordinary least squares of energy on the drivers that vary in the baseline periods.

    A driver that is constant over the baseline carries no information and is left out
    (its coefficient is 0).

    Raises
    ------
    ValidationError
        With fewer periods than parameters + 1, or an unknown driver.

    References
    ----------
    IPMVP; ASHRAE Guideline 14-2014 §5 (regression baseline, CV(RMSE), NMBE).
    """
    for name in drivers:
        if name not in ("output", "hdd", "cdd"):
            raise ValidationError("drivers", "output, hdd or cdd", name)
    used = [d for d in drivers if len({_driver(o, d) for o in observations}) > 1]
    n, p = len(observations), len(used) + 1
    if n < p + 1:
        raise ValidationError("observations", f"at least {p + 1} baseline periods for {p} parameters", n)
    x = np.column_stack([np.ones(n)] + [[_driver(o, d) for o in observations] for d in used])
    y = np.array([o.energy for o in observations], dtype=float)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    sse = float(residuals @ residuals)
    mean = float(y.mean())
    sst = float(((y - mean) ** 2).sum())
    return BaselineModel(
        intercept=float(beta[0]),
        coefficients={d: (float(beta[used.index(d) + 1]) if d in used else 0.0) for d in drivers},
        r_squared=1.0 - sse / sst if sst > 0 else 1.0,
        cv_rmse=math.sqrt(sse / (n - p)) / mean if mean else math.inf,
        nmbe=float(residuals.sum()) / ((n - p) * mean) if mean else math.inf,
        observations=n,
    )


def predict(model: BaselineModel, observation: PeriodObservation) -> float:
    """The adjusted baseline of one period [same unit as the baseline energy]."""
    return model.intercept + sum(c * _driver(observation, d) for d, c in model.coefficients.items())


@dataclass(frozen=True)
class SavingsVerification:
    """Realised against planned savings over the reporting periods.

    Attributes
    ----------
    periods
        Per period: ``period``, ``adjusted_baseline``, ``actual``, ``avoided`` [energy unit].
    avoided_energy
        Sum of avoided energy [energy unit].
    realised_abatement_tco2e, planned_abatement_tco2e
        Over the reporting periods (the plan pro rata) [tCO2e].
    realised_savings_cny, planned_savings_cny
        Over the reporting periods [CNY].
    realisation
        Realised / planned abatement (1.0 = as planned); None when nothing was planned.
    """

    periods: list[dict[str, float | str]]
    avoided_energy: float
    realised_abatement_tco2e: float
    planned_abatement_tco2e: float
    realised_savings_cny: Decimal
    planned_savings_cny: Decimal
    realisation: float | None
    baseline: BaselineModel


def verify_savings(
    model: BaselineModel,
    reporting: Sequence[PeriodObservation],
    *,
    emission_factor_tco2e: float,
    price_cny: Decimal,
    planned_annual_abatement_tco2e: Decimal,
    planned_annual_savings_cny: Decimal,
    periods_per_year: int = 12,
) -> SavingsVerification:
    """Avoided energy, abatement and money in the reporting periods against the plan.

    Parameters
    ----------
    model
        Baseline fitted on the pre-project periods.
    reporting
        Post-commissioning periods with metered energy and drivers.
    emission_factor_tco2e
        [tCO2e per energy unit] of the carrier saved.
    price_cny
        [CNY per energy unit].
    planned_annual_abatement_tco2e, planned_annual_savings_cny
        The project's plan [tCO2e/yr], [CNY/yr]; compared pro rata
        (``× len(reporting) / periods_per_year``).

    References
    ----------
    IPMVP avoided energy; guide §6.4 监测跟踪, §7.4.
    """
    if not reporting:
        raise ValidationError("reporting", "at least one reporting period", [])
    rows: list[dict[str, float | str]] = []
    avoided_total = 0.0
    for obs in reporting:
        adjusted = predict(model, obs)
        avoided = adjusted - obs.energy
        avoided_total += avoided
        rows.append({"period": obs.period, "adjusted_baseline": adjusted, "actual": obs.energy, "avoided": avoided})
    fraction_of_year = Decimal(len(reporting)) / Decimal(periods_per_year)
    planned_t = float(planned_annual_abatement_tco2e * fraction_of_year)
    realised_t = avoided_total * emission_factor_tco2e
    return SavingsVerification(
        periods=rows,
        avoided_energy=avoided_total,
        realised_abatement_tco2e=realised_t,
        planned_abatement_tco2e=planned_t,
        realised_savings_cny=(Decimal(repr(avoided_total)) * price_cny).quantize(Decimal("0.01")),
        planned_savings_cny=(planned_annual_savings_cny * fraction_of_year).quantize(Decimal("0.01")),
        realisation=realised_t / planned_t if planned_t else None,
        baseline=model,
    )
