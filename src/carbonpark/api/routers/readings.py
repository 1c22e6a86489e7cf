"""``GET /api/readings``: readings of one meter in a time range, one page at a time (issue 3 item 1).

Paged like every list (``limit``, ``offset``, ``sort=ts|-ts``); ``order=asc|desc``, the parameter
this route had before ``sort``, still works as an alias of ``sort=ts|-ts``.

``POST /api/readings`` (device ingest) belongs to issue 5 and lives in that capability's router.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from carbonpark.api.deps import DbSession, Paging, User, paging_for
from carbonpark.errors import ValidationError
from carbonpark.services import access
from carbonpark.times import local_iso, parse_timestamp

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["readings"])

ReadingPage = Annotated[Paging, Depends(paging_for(access.READING_SORT, default_limit=500))]
#: ``order`` (the older parameter) → the ``sort`` it stands for.
ORDER_AS_SORT = {"asc": "ts", "desc": "-ts"}

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
    page: ReadingPage,
    start: Moment = None,
    end: Moment = None,
    order: Annotated[
        str | None,
        Query(pattern="^(asc|desc)$", description="Alias of sort: asc is sort=ts, desc is sort=-ts (older clients)."),
    ] = None,
) -> dict[str, Any]:
    """Readings in ``[start, end)`` in the meter's canonical unit; ``ts`` is park-local ISO 8601."""
    tz: str = request.app.state.timezone
    start_ms = None if start is None else parse_timestamp(_number_or_text(start), tz, "start")
    end_ms = None if end is None else parse_timestamp(_number_or_text(end), tz, "end")
    result = access.list_readings(
        s,
        who,
        meter,
        start_ms=start_ms,
        end_ms=end_ms,
        limit=page.limit,
        offset=page.offset,
        sort=_sort(page.sort, order, "sort" in request.query_params),
    )
    doc = result.to_dict()
    for item in doc["items"]:
        item["ts"] = local_iso(item["ts_ms"], tz)
    return doc


def _sort(sort: str, order: str | None, sort_given: bool) -> str:
    """``sort``, or what ``order`` stands for; both given must agree."""
    if order is None:
        return sort
    wanted = ORDER_AS_SORT[order]
    if sort_given and sort != wanted:
        raise ValidationError("order", f"the direction of sort={sort} (order is an alias of sort=ts|-ts)", order)
    return wanted


def _number_or_text(text: str) -> str | int:
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped
