"""Emissions from forecast energy: formula (8) with factors passed in as data.

Formula (8) of the guide, ``C = Σ_j E_j × W_j × F_j / 10^9``, multiplies the use of
each fuel j by its net calorific value and its CO2 factor; the 10^9 only converts the
guide's units. carbonpark carries the units instead: with E_j [t or 10^4 Nm3],
W_j [GJ/unit] and F_j [tCO2/GJ], C is in [tCO2]. Purchased electricity and heat enter
the same sum with a factor per unit of energy ([tCO2/MWh], [tCO2/GJ]).

The factors are **data handed in** (a mapping carrier → tCO2 per unit, or carrier →
{year: tCO2 per unit} for a trajectory such as a declining grid factor); this module
reads no factor library.

References
----------
Guide §4.5, formula (8); SPEC §3 formula (8) and C9.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError

__all__ = [
    "FactorTable",
    "combustion_emissions_tco2",
    "emissions_by_year",
    "factor_for_year",
    "linear_trajectory",
]

#: carrier → tCO2 per unit, or carrier → {year: tCO2 per unit}.
FactorTable = Mapping[str, float | Mapping[int, float]]


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
    if isinstance(value, Mapping):
        return float(linear_trajectory(value, [year])[0])
    return float(value)


def emissions_by_year(energy: pd.DataFrame, factors: FactorTable) -> pd.DataFrame:
    """Emissions of forecast energy by year and carrier [tCO2].

    Parameters
    ----------
    energy
        Columns ``year``, ``carrier``, ``amount`` [carrier's unit] and optionally ``lo``
        and ``hi`` (interval bounds of the amount). Negative amounts (a trend
        extrapolated below zero) count as zero use.
    factors
        carrier → tCO2 per unit, or carrier → {year: tCO2 per unit}.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``carrier``, ``amount``, ``factor_tco2_per_unit``, ``tco2`` (and
        ``tco2_lo``, ``tco2_hi`` when the bounds are given; factors are never negative,
        so bounds map to bounds).
    """
    missing = [c for c in ("year", "carrier", "amount") if c not in energy.columns]
    if missing:
        raise ValidationError("energy", "columns year, carrier, amount", list(energy.columns))
    out = energy.copy()
    out["year"] = out["year"].astype(int)
    out["factor_tco2_per_unit"] = [
        factor_for_year(factors, str(c), int(y)) for c, y in zip(out["carrier"], out["year"], strict=True)
    ]
    if (out["factor_tco2_per_unit"] < 0).any():
        bad = out.loc[out["factor_tco2_per_unit"] < 0].iloc[0]
        raise ValidationError(f"factor of {bad['carrier']!r}", "a factor >= 0", bad["factor_tco2_per_unit"])
    out["tco2"] = out["amount"].clip(lower=0) * out["factor_tco2_per_unit"]
    if "lo" in out.columns and "hi" in out.columns:
        out["tco2_lo"] = out["lo"].clip(lower=0) * out["factor_tco2_per_unit"]
        out["tco2_hi"] = out["hi"].clip(lower=0) * out["factor_tco2_per_unit"]
    return out
