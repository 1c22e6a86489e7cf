"""``GET /api/readings``: readings of one meter in a time range, one page at a time (issue 3 item 1).

``POST /api/readings`` (device ingest) belongs to issue 5 and lives in that capability's router.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from carbonpark.api.deps import DbSession, User
from carbonpark.services import access
from carbonpark.times import local_iso, parse_timestamp

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["readings"])

Moment = Annotated[
    str | None,
    Query(
        max_length=40,
        description="ISO 8601 (naive = park-local time) or UTC epoch milliseconds.",
    ),
]


@router.get("/readings", summary="Readings of a meter in a time range")
def list_readings(
    request: Request,
    s: DbSession,
    who: User,
    meter: Annotated[str, Query(min_length=1, max_length=128, description="Meter id, Handle identifier.")],
    start: Moment = None,
    end: Moment = None,
    limit: Annotated[int, Query(ge=1, le=access.MAX_LIMIT)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="By time: asc or desc.")] = "asc",
) -> dict[str, Any]:
    """Readings in ``[start, end)`` in the meter's canonical unit; ``ts`` is park-local ISO 8601."""
    tz: str = request.app.state.timezone
    start_ms = None if start is None else parse_timestamp(_number_or_text(start), tz, "start")
    end_ms = None if end is None else parse_timestamp(_number_or_text(end), tz, "end")
    page = access.list_readings(
        s, who, meter, start_ms=start_ms, end_ms=end_ms, limit=limit, offset=offset, descending=order == "desc"
    )
    doc = page.to_dict()
    for item in doc["items"]:
        item["ts"] = local_iso(item["ts_ms"], tz)
    return doc


def _number_or_text(text: str) -> str | int:
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped
