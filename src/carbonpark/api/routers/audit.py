"""``GET /api/audit``: the change history, read-only, park administrators only (issue 3 item 4).

The audit log is the foundation's ``audit_log`` table written by ``store.registry`` (and by the
auth service for users and keys); the database refuses UPDATE and DELETE on it (migration
``auth_0001``). There is no write route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from carbonpark.api.deps import DbSession, Paging, User, paging_for
from carbonpark.services import access

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["audit"])

AuditPage = Annotated[Paging, Depends(paging_for(access.AUDIT_SORT, default_limit=100, default_sort="-id"))]


@router.get("/audit", summary="The audit log (change history)")
def list_audit(
    s: DbSession,
    who: User,
    page: AuditPage,
    entity: Annotated[str | None, Query(max_length=32, description="Table, e.g. meters.")] = None,
    handle: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=100, description="e.g. user:demo-admin, cli, demo.")] = None,
    since_ms: Annotated[int | None, Query(ge=0, description="UTC epoch ms.")] = None,
) -> dict[str, Any]:
    """Who changed what, when, before and after; newest first."""
    return access.list_audit(
        s,
        who,
        entity=entity,
        handle=handle,
        actor=actor,
        since_ms=since_ms,
        limit=page.limit,
        offset=page.offset,
        sort=page.sort,
    ).to_dict()
