"""Marginal abatement cost curve (MACC, 边际减排成本曲线).

Projects sorted by cost per tonne, cheapest first, with the abatement accumulated along
the curve: the x axis is cumulative abatement [tCO2e/yr], each bar is as wide as the
project's abatement and as high as its cost per tonne [CNY/tCO2e].

References
----------
Guide §7.4 (谋划重点项目) and §6.2 (诊断碳减排潜力); issue 13 item 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from carbonpark.retrofit.projects import Project

__all__ = ["MaccEntry", "marginal_abatement_cost_curve"]


@dataclass(frozen=True)
class MaccEntry:
    """One bar of the curve.

    Attributes
    ----------
    id, name
        The project.
    cost_per_tco2e
        Net annualised cost per tonne [CNY/tCO2e] (negative: saves money).
    annual_abatement_tco2e
        Bar width [tCO2e/yr].
    annualised_cost
        Net yearly cost [CNY/yr].
    cumulative_abatement_tco2e
        Abatement of this and every cheaper project [tCO2e/yr] (right edge of the bar).
    capex
        Investment [CNY].
    """

    id: str
    name: str
    cost_per_tco2e: Decimal
    annual_abatement_tco2e: Decimal
    annualised_cost: Decimal
    cumulative_abatement_tco2e: Decimal
    capex: Decimal


def marginal_abatement_cost_curve(projects: Iterable[Project], discount_rate: Decimal) -> list[MaccEntry]:
    """The MACC: projects in ascending cost per tonne with cumulative abatement.

    Ties in cost are broken by larger abatement first, then by id, so the order is stable.

    Parameters
    ----------
    projects
        Candidate projects.
    discount_rate
        Real discount rate [1/yr] for the capital recovery factor.

    Returns
    -------
    list of MaccEntry
        Ascending ``cost_per_tco2e`` [CNY/tCO2e].

    References
    ----------
    Guide §7.4; issue 13 item 2 (the discounted cost per tonne).
    """
    rows = [(p, p.annualised_cost(discount_rate), p.cost_per_tco2e(discount_rate)) for p in projects]
    rows.sort(key=lambda row: (row[2], -row[0].annual_abatement_tco2e, row[0].id))
    curve: list[MaccEntry] = []
    cumulative = Decimal(0)
    for project, cost, per_tonne in rows:
        cumulative += project.annual_abatement_tco2e
        curve.append(
            MaccEntry(
                id=project.id,
                name=project.name,
                cost_per_tco2e=per_tonne,
                annual_abatement_tco2e=project.annual_abatement_tco2e,
                annualised_cost=cost,
                cumulative_abatement_tco2e=cumulative,
                capex=project.capex,
            )
        )
    return curve
