"""``/api/targets``: dual-carbon targets, the implementation path and the monthly gap (issue 13 item 1).

- ``GET /api/targets``: the targets the caller may read, each with its path measures (paged);
- ``GET /api/targets/{org}/status?year=``: the same document as ``carbonpark targets status --json``
  (the monthly gap of actuals plus the rest-of-year forecast against the cap, the path checked
  against every target);
- ``GET /api/targets/{org}``: one organisation's targets and path (``org``: ``park`` or an
  enterprise id, handle, credit code or name);
- ``POST /api/targets/import``: create or update targets and measures from a JSON body in the layout
  of the YAML file (``{"targets": [...], "path": [...]}``, docs/targets.md), all or nothing.

An enterprise user reads its own enterprise's targets only, a verifier those of its assigned
enterprises, the regulator and the park administrator all of them (another organisation's
targets answer 404, their existence not revealed); only the park administrator writes.

References
----------
Guide §3.2.2(1) (双碳目标和实施路径); docs/targets.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, Paging, User, paging_for
from carbonpark.services import access
from carbonpark.services import targets as svc

__all__ = ["router"]

router = APIRouter(prefix="/api/targets", tags=["targets"])

TargetPage = Annotated[Paging, Depends(paging_for(("id", "org_handle")))]
Year = Annotated[int, Query(ge=1900, le=2200, description="Calendar year to track.")]


class TargetsDocument(BaseModel):
    """Targets and path measures in the layout of the YAML file (docs/targets.md)."""

    targets: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)
    path: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)


def _url(s: Any) -> str:
    return str(s.get_bind().engine.url.render_as_string(hide_password=False))


@router.get("", summary="List the targets the caller may read")
def list_targets(s: DbSession, who: User, page: TargetPage) -> dict[str, Any]:
    """One page of targets with their path measures."""
    return svc.list_targets(s, who, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.post("/import", summary="Create or update targets and path measures")
def import_targets(s: DbSession, who: User, body: TargetsDocument) -> dict[str, int]:
    """Upsert the document's targets and measures, all or nothing; park_admin only."""
    access.require_role(who, "park_admin")
    return svc.import_targets_doc(s, body.model_dump(), who.actor, "body")


@router.get("/{org:path}/status", summary="Monthly gap against the cap and the path checked")
def status(s: DbSession, who: User, org: str, year: Year) -> dict[str, Any]:
    """The document of ``carbonpark targets status --json`` for ``org`` and ``year``."""
    handle = svc.visible_target_handle(s, who, org)
    return svc.target_status(_url(s), handle, year)


@router.get("/{org:path}", summary="One organisation's targets and path")
def get_target(s: DbSession, who: User, org: str) -> dict[str, Any]:
    """Targets and path measures of ``org`` (``park`` or an enterprise reference)."""
    return svc.get_target(s, who, org)
