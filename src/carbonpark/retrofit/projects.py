"""Abatement projects as plain data, and their parsing from a mapping (a YAML or JSON document).

References
----------
Guide §7.4 (三) 重点项目实施: a list of key projects; issue 13, file contract of ``retrofit plan``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from carbonpark.errors import DuplicateError, ValidationError
from carbonpark.retrofit.economics import annualised_cost, cost_per_tco2e

__all__ = ["PlanInput", "Project", "parse_plan", "parse_projects", "to_decimal"]


@dataclass(frozen=True)
class Project:
    """One abatement project.

    Attributes
    ----------
    id, name
        Identifier (may be a Handle string such as ``88.123.1/proj-7``) and display name.
    capex
        Investment [CNY].
    lifetime_years
        Economic lifetime [yr].
    annual_opex
        Extra operating cost per year [CNY/yr].
    annual_savings
        Money saved per year, mostly energy bills [CNY/yr].
    annual_abatement_tco2e
        Emissions avoided per year [tCO2e/yr].
    measure, owner, start_year
        Optional: catalogue measure id, who carries it out, the year it starts.
    """

    id: str
    name: str
    capex: Decimal
    lifetime_years: Decimal
    annual_opex: Decimal
    annual_savings: Decimal
    annual_abatement_tco2e: Decimal
    measure: str | None = None
    owner: str | None = None
    start_year: int | None = None

    def annualised_cost(self, discount_rate: Decimal) -> Decimal:
        """Net yearly cost [CNY/yr] at ``discount_rate`` (see :func:`~.economics.annualised_cost`)."""
        return annualised_cost(self.capex, self.lifetime_years, self.annual_opex, self.annual_savings, discount_rate)

    def cost_per_tco2e(self, discount_rate: Decimal) -> Decimal:
        """Cost per tonne abated [CNY/tCO2e] at ``discount_rate``."""
        return cost_per_tco2e(self.annualised_cost(discount_rate), self.annual_abatement_tco2e)


@dataclass(frozen=True)
class PlanInput:
    """A planning problem: the discount rate and the candidate projects."""

    discount_rate: Decimal
    projects: tuple[Project, ...]


def to_decimal(value: Any, field: str) -> Decimal:
    """A number from YAML/JSON as an exact Decimal (floats go through their shortest repr)."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, "a number", value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValidationError(field, "a number", value) from exc
    else:
        raise ValidationError(field, "a number", value)
    if not result.is_finite():
        raise ValidationError(field, "a finite number", value)
    return result


def _number(
    row: Mapping[str, Any],
    key: str,
    where: str,
    *,
    minimum: Decimal | None = None,
    strictly_positive: bool = False,
    default: Decimal | None = None,
) -> Decimal:
    if key not in row or row[key] is None:
        if default is not None:
            return default
        raise ValidationError(f"{where}.{key}", "a number", None)
    value = to_decimal(row[key], f"{where}.{key}")
    if strictly_positive and value <= 0:
        raise ValidationError(f"{where}.{key}", "a number > 0", row[key])
    if minimum is not None and value < minimum:
        raise ValidationError(f"{where}.{key}", f"a number ≥ {minimum}", row[key])
    return value


def _project(row: Any, where: str) -> Project:
    if not isinstance(row, Mapping):
        raise ValidationError(where, "a mapping with id, name, capex, lifetime_years, …", row)
    if "id" not in row or row["id"] in (None, ""):
        raise ValidationError(f"{where}.id", "a project id", row.get("id"))
    start_year = row.get("start_year")
    if start_year is not None and (isinstance(start_year, bool) or not isinstance(start_year, int)):
        raise ValidationError(f"{where}.start_year", "a year such as 2026", start_year)
    zero = Decimal(0)
    return Project(
        id=str(row["id"]),
        name=str(row.get("name") or row["id"]),
        capex=_number(row, "capex", where, minimum=zero),
        lifetime_years=_number(row, "lifetime_years", where, strictly_positive=True),
        annual_opex=_number(row, "annual_opex", where, default=zero),
        annual_savings=_number(row, "annual_savings", where, default=zero),
        annual_abatement_tco2e=_number(row, "annual_abatement_tco2e", where, strictly_positive=True),
        measure=None if row.get("measure") is None else str(row["measure"]),
        owner=None if row.get("owner") is None else str(row["owner"]),
        start_year=start_year,
    )


def parse_projects(rows: Sequence[Any], where: str = "projects") -> tuple[Project, ...]:
    """Projects from a list of mappings; ids must be unique."""
    projects = tuple(_project(row, f"{where}[{i}]") for i, row in enumerate(rows))
    seen: set[str] = set()
    for project in projects:
        if project.id in seen:
            raise DuplicateError(f"{where}: project id {project.id!r} appears twice")
        seen.add(project.id)
    return projects


def parse_plan(doc: Any) -> PlanInput:
    """A planning problem from a document ``{discount_rate, projects: [...]}``.

    Raises
    ------
    ValidationError
        Naming the field (``projects[2].capex``), what was expected and what came.
    """
    if not isinstance(doc, Mapping):
        raise ValidationError("document", "a mapping with discount_rate and projects", doc)
    rate = _number(doc, "discount_rate", "plan", minimum=Decimal(0), default=Decimal(0))
    rows = doc.get("projects")
    if not isinstance(rows, list) or not rows:
        raise ValidationError("projects", "a non-empty list of projects", rows)
    return PlanInput(discount_rate=rate, projects=parse_projects(rows))
