"""Economics of one abatement project: capital recovery, annualised cost, cost per tonne.

All money is :class:`~decimal.Decimal` [CNY]; abatement is :class:`~decimal.Decimal` [tCO2e/yr].

References
----------
Guide §7.4 (碳改造: 以项目化推动方案落地实施) and §6.2 (诊断碳减排潜力).
The capital recovery factor is the standard annuity factor of engineering economics,
``CRF = r (1 + r)^n / ((1 + r)^n − 1) = r / (1 − (1 + r)^−n)``; at ``r = 0`` its limit is ``1/n``.
The cost per tonne is the one used for marginal abatement cost curves (McKinsey-style MACC):
``(capex × CRF + annual_opex − annual_savings) / annual_abatement``.
"""

from __future__ import annotations

from decimal import Decimal

from carbonpark.errors import ValidationError

__all__ = ["annualised_capex", "annualised_cost", "capital_recovery_factor", "cost_per_tco2e"]


def capital_recovery_factor(discount_rate: Decimal, lifetime_years: Decimal) -> Decimal:
    """The share of an investment to recover each year over its lifetime [1/yr].

    Parameters
    ----------
    discount_rate
        Real discount rate per year, as a fraction (0.08 for 8 %) [1/yr]; must be ≥ 0.
    lifetime_years
        Economic lifetime [yr]; must be > 0.

    Returns
    -------
    Decimal
        ``r (1 + r)^n / ((1 + r)^n − 1)``, or ``1/n`` when ``r = 0`` [1/yr].

    References
    ----------
    Engineering-economics annuity factor; guide §7.4.
    """
    if discount_rate < 0:
        raise ValidationError("discount_rate", "a fraction ≥ 0 (0.08 for 8 %)", discount_rate)
    if lifetime_years <= 0:
        raise ValidationError("lifetime_years", "a number of years > 0", lifetime_years)
    if discount_rate == 0:
        return Decimal(1) / lifetime_years
    growth = (Decimal(1) + discount_rate) ** lifetime_years
    return discount_rate * growth / (growth - Decimal(1))


def annualised_capex(capex: Decimal, discount_rate: Decimal, lifetime_years: Decimal) -> Decimal:
    """Capital cost spread over the lifetime as an equal yearly payment [CNY/yr]."""
    return capex * capital_recovery_factor(discount_rate, lifetime_years)


def annualised_cost(
    capex: Decimal,
    lifetime_years: Decimal,
    annual_opex: Decimal,
    annual_savings: Decimal,
    discount_rate: Decimal,
) -> Decimal:
    """Net yearly cost of a project: annualised capex plus opex minus savings [CNY/yr].

    A negative value means the project pays for itself (a "no-regret" measure).

    References
    ----------
    Guide §7.4; issue 13 formula ``capex × r / (1 − (1 + r)^−lifetime) + annual_opex − annual_savings``.
    """
    return annualised_capex(capex, discount_rate, lifetime_years) + annual_opex - annual_savings


def cost_per_tco2e(annual_cost: Decimal, annual_abatement_tco2e: Decimal) -> Decimal:
    """Cost of abating one tonne [CNY/tCO2e] from the net yearly cost and the yearly abatement.

    Raises
    ------
    ValidationError
        When the abatement is not > 0 (a cost per tonne has no meaning then).
    """
    if annual_abatement_tco2e <= 0:
        raise ValidationError("annual_abatement_tco2e", "an abatement > 0 [tCO2e/yr]", annual_abatement_tco2e)
    return annual_cost / annual_abatement_tco2e
