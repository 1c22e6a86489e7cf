"""``/api/retrofit``: MACC and portfolio on stored sources, carbon evaluation, admission check, ratings (issue 13).

- ``GET /api/retrofit/{year}/plan``: the demo plan's (or a packaged plan's) projects applied to the stored
  sources of the year, the MACC (ascending cost), the MILP portfolio and the §7.5 evaluation with its conclusion;
- ``GET /api/retrofit/{year}/ratings``: carbon-efficiency grade of every enterprise with reasons, industry
  structure, overcapacity warnings;
- ``POST /api/retrofit/{year}/admission``: the admission check of a candidate (JSON body ``name``,
  ``emissions_tco2e``, ``value_added_10k_cny``, optional ``energy_tce``, ``industry``).

Every enterprise's figures appear, so park_admin only.

References
----------
Guide §7.4, §7.5, §3.2.2(1), §1.3.2; docs/retrofit.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, User
from carbonpark.services import access
from carbonpark.services import retrofit as svc

__all__ = ["router"]

router = APIRouter(prefix="/api/retrofit", tags=["retrofit"])

Year = Annotated[int, Path(ge=1900, le=2200, description="Calendar year of the stored accounting run.")]


class Candidate(BaseModel):
    """A candidate enterprise or project for the admission check (yearly figures)."""

    name: str = Field(min_length=1, max_length=200)
    emissions_tco2e: float = Field(ge=0, le=1e9, description="[tCO2e/yr]")
    value_added_10k_cny: float = Field(gt=0, le=1e9, description="[10^4 CNY/yr]")
    energy_tce: float = Field(default=0.0, ge=0, le=1e9, description="[tce/yr]")
    industry: str | None = Field(default=None, max_length=8, description="2-digit industry, e.g. C26")


def _url(s: Any) -> str:
    return str(s.get_bind().engine.url.render_as_string(hide_password=False))


@router.get("/{year}/plan", summary="MACC, portfolio and carbon evaluation on the stored sources")
def plan(s: DbSession, who: User, year: Year) -> dict[str, Any]:
    """The demo plan applied to the stored sources of ``year`` with the §7.5 evaluation."""
    access.require_role(who, "park_admin")
    doc = svc.load_plan()
    planned = svc.plan_stored(_url(s), year, doc)
    result: dict[str, Any] = svc.plain({**planned, "evaluation": svc.carbon_evaluation(_url(s), year, doc, planned)})
    return result


@router.get("/{year}/ratings", summary="Carbon-efficiency ratings of every enterprise")
def ratings(s: DbSession, who: User, year: Year) -> dict[str, Any]:
    """Grades with reasons, industry structure and overcapacity warnings."""
    access.require_role(who, "park_admin")
    result: dict[str, Any] = svc.plain(svc.rate_stored(_url(s), year, svc.load_plan()))
    return result


@router.post("/{year}/admission", summary="Admission check of a candidate enterprise")
def admission(s: DbSession, who: User, year: Year, candidate: Candidate) -> dict[str, Any]:
    """Whether the park still meets its stored caps of ``year`` with the candidate admitted."""
    access.require_role(who, "park_admin")
    result: dict[str, Any] = svc.plain(svc.admission_stored(_url(s), year, candidate.model_dump(), svc.load_plan()))
    return result
