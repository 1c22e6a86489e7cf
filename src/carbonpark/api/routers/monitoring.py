"""``/api/monitoring`` and ``/api/alarms``: live values, loads, emissions rate, alarms and rules (issue 5 item 7).

- ``GET /api/monitoring/overview[?enterprise=]``: latest value and load per meter, sums per enterprise
  and park, emissions rate (regulators get the park figures only, and 403 with ``enterprise``);
- ``GET /api/monitoring/stream[?enterprise=&interval=&events=]``: the same as server-sent events
  (``event: overview``), every ``interval`` seconds, ``events`` times (0 = until the client leaves);
- ``GET /api/alarms[?state=raised|acknowledged|cleared|open]``, ``POST /api/alarms/{id}/acknowledge``,
  ``POST /api/alarms/{id}/clear``: alarms of the meters the caller may see;
- ``GET/POST /api/alarms/rules``, ``POST /api/alarms/evaluate``: rules and a check run (park_admin).

The lists (alarms, rules) are pages like every list: ``limit``, ``offset``, ``sort`` and
``{items, total, limit, offset, next_offset}`` (docs/api.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from carbonpark.api.deps import Paging, User, paging_for
from carbonpark.errors import PermissionDenied
from carbonpark.services import access
from carbonpark.services import monitoring as mon

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])

AlarmPage = Annotated[Paging, Depends(paging_for(mon.ALARM_SORT, default_limit=200, default_sort="-id"))]
RulePage = Annotated[Paging, Depends(paging_for(mon.RULE_SORT, default_limit=100))]
Enterprise = Annotated[
    str | None, Query(min_length=1, max_length=128, description="Enterprise id, handle, credit code or name.")
]


def _overview(db: str | None, who: access.Principal, enterprise: str | None) -> dict[str, Any]:
    access.require_role(who, "park_admin", "enterprise", "verifier", "regulator")
    if who.role == "regulator":
        if enterprise is not None:
            raise PermissionDenied("a regulator sees the park's figures only; the enterprise filter is not for it")
        whole = mon.overview(db)
        return {**whole, "meters": [], "enterprises": {}, "open_alarms": None}
    return mon.overview(db, who, enterprise)


@router.get("/api/monitoring/overview", summary="Latest values, loads and emissions rate")
def monitoring_overview(request: Request, who: User, enterprise: Enterprise = None) -> dict[str, Any]:
    """Loads are in the quantity's canonical unit per hour (``units``); ``emissions.tco2e_per_h`` over the last hour."""
    return _overview(request.app.state.db, who, enterprise)


@router.get("/api/monitoring/stream", summary="Live overview as server-sent events")
async def monitoring_stream(
    request: Request,
    who: User,
    enterprise: Enterprise = None,
    interval: Annotated[float, Query(ge=1, le=3600, description="Seconds between events.")] = 5,
    events: Annotated[int, Query(ge=0, le=100_000, description="How many events (0: until disconnect).")] = 0,
) -> StreamingResponse:
    """``text/event-stream`` of ``event: overview`` with the overview JSON as ``data``."""
    db = request.app.state.db
    first = await run_in_threadpool(_overview, db, who, enterprise)  # errors answer before the stream starts

    async def stream() -> AsyncIterator[str]:
        sent, doc = 0, first
        while True:
            yield f"event: overview\ndata: {json.dumps(doc, ensure_ascii=False)}\n\n"
            sent += 1
            if (events and sent >= events) or await request.is_disconnected():
                return
            await asyncio.sleep(interval)
            doc = await run_in_threadpool(_overview, db, who, enterprise)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/api/alarms", summary="Alarms, newest first")
def list_alarms(
    request: Request,
    who: User,
    page: AlarmPage,
    state: Annotated[str | None, Query(pattern="^(raised|acknowledged|cleared|open)$")] = None,
) -> dict[str, Any]:
    """Alarms of the meters the caller may see (park_admin: all, including data-gap alarms of streams)."""
    access.require_role(who, "park_admin", "enterprise", "verifier")
    return mon.alarms_page(
        request.app.state.db, state, who, sort=page.sort, limit=page.limit, offset=page.offset
    ).to_dict()


@router.post("/api/alarms/{alarm_id}/acknowledge", summary="Acknowledge an alarm")
def acknowledge(request: Request, who: User, alarm_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    """Raised → acknowledged, recording who; a second call changes nothing."""
    access.require_role(who, "park_admin", "enterprise")
    return mon.acknowledge_alarm(request.app.state.db, alarm_id, who.actor, who)


@router.post("/api/alarms/{alarm_id}/clear", summary="Clear an alarm by hand")
def clear(request: Request, who: User, alarm_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    """Open → cleared (rules also clear their alarms when they hold again)."""
    access.require_role(who, "park_admin")
    return mon.clear_alarm(request.app.state.db, alarm_id, who.actor, who)


class RuleIn(BaseModel):
    """A new alarm rule (parameters in the meter's canonical unit)."""

    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(threshold|rate_of_change|intensity|silence)$")
    meter: str = Field(min_length=1, max_length=128)
    params: dict[str, float]
    output_metric: str | None = Field(default=None, max_length=100)
    severity: str = Field(default="warning", pattern="^(info|warning|critical)$")
    webhook: str | None = Field(default=None, max_length=500)
    emails: list[str] = Field(default_factory=list, max_length=20)


@router.get("/api/alarms/rules", summary="Alarm rules")
def list_rules(request: Request, who: User, page: RulePage) -> dict[str, Any]:
    """One page of rules with their meter, parameters and hooks."""
    access.require_role(who, "park_admin")
    return mon.rules_page(request.app.state.db, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.post("/api/alarms/rules", summary="Add an alarm rule", status_code=201)
def add_rule(request: Request, who: User, rule: RuleIn) -> dict[str, Any]:
    """Threshold (``low``/``high``), rate of change (``max_per_hour``), intensity (``max_per_output`` with
    ``output_metric``) or silence (``minutes``)."""
    access.require_role(who, "park_admin")
    return mon.add_rule(
        request.app.state.db,
        rule.name,
        rule.kind,
        rule.meter,
        dict(rule.params),
        output_metric=rule.output_metric,
        severity=rule.severity,
        webhook=rule.webhook,
        emails=tuple(rule.emails),
    )


@router.post("/api/alarms/evaluate", summary="Check every rule now")
def evaluate(request: Request, who: User) -> dict[str, Any]:
    """Raise and clear alarms as the rules say (the same as ``carbonpark alarms check``)."""
    access.require_role(who, "park_admin")
    return mon.evaluate_rules(request.app.state.db)
