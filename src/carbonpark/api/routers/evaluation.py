"""``/api/evaluations``: the park's 69-indicator evaluation of a year from the store (issue 11 items 4, 5).

``GET /api/evaluations/{year}`` answers the ``carbonpark evaluate --db --year --json`` document: score,
first- and second-level sub-scores, every indicator with its value and computation, the platform figures
with how each was counted, the weakest indicators with the score gain available. Park-level figures only
(no enterprise rows): park_admin and regulator.

References
----------
Guide §5 and appendix, formulas (9) and (10); docs/evaluation.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from carbonpark.api.deps import DbSession, User
from carbonpark.services import access
from carbonpark.services.evaluation import evaluate_stored

__all__ = ["router"]

router = APIRouter(prefix="/api/evaluations", tags=["evaluation"])


@router.get("/{year}", summary="Evaluation of the park for a year, platform indicators computed from the store")
def park_evaluation(
    s: DbSession,
    who: User,
    year: Annotated[int, Path(ge=1900, le=2200, description="Calendar year (park-local).")],
    top: Annotated[int, Query(ge=1, le=69, description="How many weakest indicators to list.")] = 10,
) -> dict[str, Any]:
    """Formula (9)/(10) evaluation with platform-computed indicators (entered values: CLI ``--values``)."""
    access.require_role(who, "park_admin", "regulator")
    url = s.get_bind().engine.url.render_as_string(hide_password=False)
    return evaluate_stored(url, year).as_dict(top)
