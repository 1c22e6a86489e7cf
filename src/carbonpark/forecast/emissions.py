"""Emissions from forecast energy: formula (8) with factors passed in as data.

Formula (8) of the guide, ``C = Σ_j E_j × W_j × F_j / 10^9``, multiplies the use of
each fuel j by its net calorific value and its CO2 factor; the 10^9 only converts the
guide's units. carbonpark carries the units instead: with E_j [t or 10^4 Nm3],
W_j [GJ/unit] and F_j [tCO2/GJ], C is in [tCO2]. Purchased electricity and heat enter
the same sum with a factor per unit of energy ([tCO2/MWh], [tCO2/GJ]).

The factors are **data handed in** (a mapping carrier → tCO2 per unit, carrier →
{year: tCO2 per unit} for a trajectory such as a declining grid factor, or carrier →
:class:`CombustionFactor` holding W_j and F_j apart, in which case the emissions of that
carrier are computed by :func:`combustion_emissions_tco2`); this module reads no factor
library.

References
----------
Guide §4.5, formula (8); SPEC §3 formula (8) and C9.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError

__all__ = [
    "CombustionFactor",
    "FactorTable",
    "combustion_emissions_tco2",
    "emissions_by_year",
    "factor_for_year",
    "linear_trajectory",
]


@dataclass(frozen=True)
class CombustionFactor:
    """The two factors of formula (8) for one fuel, kept apart.

    Attributes
    ----------
    ncv_gj_per_unit
        W_j, net calorific value [GJ/t, or GJ/10^4 Nm3 for gas].
    ef_tco2_per_gj
        F_j, CO2 emission factor per unit of heat [tCO2/GJ] (in Chinese practice
        carbon content × oxidation rate × 44/12).

    References
    ----------
    Guide §4.5, formula (8).
    """

    ncv_gj_per_unit: float
    ef_tco2_per_gj: float

    def __post_init__(self) -> None:
        for label, value in (("ncv", self.ncv_gj_per_unit), ("ef", self.ef_tco2_per_gj)):
            if not np.isfinite(value) or value < 0:
                raise ValidationError(f"combustion factor {label}", "a finite number >= 0", value)

    @property
    def tco2_per_unit(self) -> float:
        """W_j × F_j [tCO2/t, tCO2/10^4 Nm3]."""
        return self.ncv_gj_per_unit * self.ef_tco2_per_gj


#: carrier → tCO2 per unit, carrier → {year: tCO2 per unit}, or carrier → (W_j, F_j).
FactorTable = Mapping[str, float | Mapping[int, float] | CombustionFactor]


def combustion_emissions_tco2(
    consumption: Mapping[str, float],
    net_calorific_value_gj_per_unit: Mapping[str, float],
    co2_factor_t_per_gj: Mapping[str, float],
) -> float:
    """Formula (8): C = Σ_j E_j × W_j × F_j [tCO2].

    Parameters
    ----------
    consumption
        E_j, use of each fuel [t, or 10^4 Nm3 for gas].
    net_calorific_value_gj_per_unit
        W_j [GJ/t, GJ/10^4 Nm3].
    co2_factor_t_per_gj
        F_j [tCO2/GJ].

    Raises
    ------
    ValidationError
        If a fuel lacks its calorific value or factor.
    """
    total = 0.0
    for fuel, amount in consumption.items():
        if fuel not in net_calorific_value_gj_per_unit or fuel not in co2_factor_t_per_gj:
            raise ValidationError(f"fuel {fuel!r}", "a net calorific value and a CO2 factor", "missing")
        total += float(amount) * float(net_calorific_value_gj_per_unit[fuel]) * float(co2_factor_t_per_gj[fuel])
    return total


def linear_trajectory(points: Mapping[int, float], years: list[int] | np.ndarray) -> np.ndarray:
    """Values of a trajectory given at some years, linear in between, flat outside [unit of points]."""
    if not points:
        raise ValidationError("trajectory", "at least one (year, value) point", "none")
    known = sorted((int(y), float(v)) for y, v in points.items())
    xs = np.array([y for y, _ in known], dtype=float)
    vs = np.array([v for _, v in known], dtype=float)
    return np.interp(np.asarray(years, dtype=float), xs, vs)


def factor_for_year(factors: FactorTable, carrier: str, year: int) -> float:
    """The factor of ``carrier`` in ``year`` [tCO2/unit] (trajectories interpolate linearly).

    Raises
    ------
    ValidationError
        If ``carrier`` has no factor; the message lists the carriers that have one.
    """
    if carrier not in factors:
        raise ValidationError(f"carrier {carrier!r}", f"a factor (known: {sorted(factors)})", "none")
    value = factors[carrier]
    if isinstance(value, CombustionFactor):
        return value.tco2_per_unit
    if isinstance(value, Mapping):
        return float(linear_trajectory(value, [year])[0])
    return float(value)


def _tco2(amounts: pd.Series, carriers: pd.Series, per_unit: pd.Series, factors: FactorTable) -> np.ndarray:
    """Emissions of each row [tCO2]: formula (8) for carriers with W and F apart, else amount × factor."""
    out = amounts.clip(lower=0).to_numpy(dtype=float) * per_unit.to_numpy(dtype=float)
    for i, (carrier, amount) in enumerate(zip(carriers, amounts, strict=True)):
        value = factors[str(carrier)]
        if isinstance(value, CombustionFactor):
            out[i] = combustion_emissions_tco2(
                {str(carrier): max(float(amount), 0.0)},
                {str(carrier): value.ncv_gj_per_unit},
                {str(carrier): value.ef_tco2_per_gj},
            )
    return out


def emissions_by_year(energy: pd.DataFrame, factors: FactorTable) -> pd.DataFrame:
    """Emissions of forecast energy by year and carrier [tCO2].

    Parameters
    ----------
    energy
        Columns ``year``, ``carrier``, ``amount`` [carrier's unit] and optionally ``lo``
        and ``hi`` (interval bounds of the amount). Negative amounts (a trend
        extrapolated below zero) count as zero use.
    factors
        carrier → tCO2 per unit, carrier → {year: tCO2 per unit}, or carrier →
        :class:`CombustionFactor` (W_j [GJ/unit] and F_j [tCO2/GJ]; that carrier's
        emissions are then formula (8), :func:`combustion_emissions_tco2`).

    Returns
    -------
    pandas.DataFrame
        ``year``, ``carrier``, ``amount``, ``ncv_gj_per_unit`` and ``ef_tco2_per_gj``
        (W and F where given apart, else NaN), ``factor_tco2_per_unit`` (W × F where
        given apart), ``tco2`` (and ``tco2_lo``, ``tco2_hi`` when the bounds are given;
        factors are never negative, so bounds map to bounds).
    """
    missing = [c for c in ("year", "carrier", "amount") if c not in energy.columns]
    if missing:
        raise ValidationError("energy", "columns year, carrier, amount", list(energy.columns))
    out = energy.copy()
    out["year"] = out["year"].astype(int)
    out["factor_tco2_per_unit"] = [
        factor_for_year(factors, str(c), int(y)) for c, y in zip(out["carrier"], out["year"], strict=True)
    ]
    apart = [factors[str(c)] for c in out["carrier"]]
    out["ncv_gj_per_unit"] = [f.ncv_gj_per_unit if isinstance(f, CombustionFactor) else np.nan for f in apart]
    out["ef_tco2_per_gj"] = [f.ef_tco2_per_gj if isinstance(f, CombustionFactor) else np.nan for f in apart]
    if (out["factor_tco2_per_unit"] < 0).any():
        bad = out.loc[out["factor_tco2_per_unit"] < 0].iloc[0]
        raise ValidationError(f"factor of {bad['carrier']!r}", "a factor >= 0", bad["factor_tco2_per_unit"])
    out["tco2"] = _tco2(out["amount"], out["carrier"], out["factor_tco2_per_unit"], factors)
    if "lo" in out.columns and "hi" in out.columns:
        out["tco2_lo"] = _tco2(out["lo"], out["carrier"], out["factor_tco2_per_unit"], factors)
        out["tco2_hi"] = _tco2(out["hi"], out["carrier"], out["factor_tco2_per_unit"], factors)
    return out
