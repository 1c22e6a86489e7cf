"""Identifier resolution (标识解析) and the identifier registry over HTTP (issue 7 items 1–2).

``GET /api/handles/{prefix}/{suffix}`` is the resolver in the Handle System REST shape: public
values without login, restricted ones with a bearer token of an administrator of the record;
the HTTP status *and* the body's ``responseCode`` tell the outcome (table in
:mod:`carbonpark.identifiers.rest`). A prefix this park does not serve is forwarded to the
node's resolver or to ``CARBONPARK_UPSTREAM_RESOLVER``. The answer is ``application/json``
(a Handle body, not a problem document), for every outcome.

``/api/identifiers/…`` changes the registry (values added, replaced, removed; identifiers of
virtual assets registered; history; statistics of indicators 15–18), with a bearer token.

References
----------
Handle.Net Technical Manual v9 (REST API); guide §3.2.2(2)1; SPEC.md C2; issue 7.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, User, current_principal
from carbonpark.errors import PermissionDenied, ValidationError
from carbonpark.identifiers import Answer, Reader, ResponseCode, can_write, value_json
from carbonpark.services import identifiers as ids
from carbonpark.services.access import Principal
from carbonpark.services.auth import AuthenticationFailed
from carbonpark.store.registry import resolve as resolve_entity
from carbonpark.store.schema import Enterprise

__all__ = ["router"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    resolver = getattr(app.state, "handle_resolver", None)
    if resolver is not None:
        resolver.close()


router = APIRouter(tags=["identifiers"], lifespan=_lifespan)

_HANDLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Values found (responseCode 1), or none matching the filters (responseCode 200)"},
    400: {"description": "Malformed handle (responseCode 102)"},
    401: {"description": "Restricted values asked for without login (responseCode 402)"},
    403: {"description": "Restricted values, logged in without permission (responseCode 401)"},
    404: {"description": "Unknown handle (responseCode 100) or prefix served nowhere (responseCode 301)"},
    502: {"description": "Upstream resolver did not answer (responseCode 2)"},
}


def _resolver(request: Request) -> ids.Resolver:
    resolver: ids.Resolver | None = getattr(request.app.state, "handle_resolver", None)
    if resolver is None:
        resolver = ids.Resolver(request.app.state.db)
        request.app.state.handle_resolver = resolver
    return resolver


def _json(answer: Answer) -> Response:
    return Response(orjson.dumps(answer.body), status_code=answer.status, media_type="application/json")


def _enterprise_handle(request: Request, who: Principal) -> str | None:
    """Handle of the caller's enterprise (thread pool); handles never change, so each is read once per app."""
    with request.app.state.sessionmaker() as s:
        enterprise = ids.reader_for(s, who.name, who.role, who.enterprise_id).enterprise
    request.app.state.handle_enterprises[who.enterprise_id] = enterprise
    return enterprise


async def _reader(request: Request, handle: str) -> Reader | Answer:
    """The caller: anonymous without a bearer token; a failed login is a Handle 401/403 answer.

    The principal comes from :func:`~carbonpark.api.deps.current_principal`, the dependency of every
    other route, so a token checked in the last ``CARBONPARK_TOKEN_CACHE_SECONDS`` costs no query and a
    revocation takes effect as docs/api.md says (at once in the worker that handled it, elsewhere within
    the cache's lifetime).
    """
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token or scheme.lower() != "bearer":
        return Reader()
    try:
        who = await current_principal(request, token)
    except AuthenticationFailed as exc:
        return Answer(401, {"responseCode": 403, "handle": handle, "message": str(exc)})
    if who.enterprise_id is None:
        return Reader(name=who.name, role=who.role)
    if not hasattr(request.app.state, "handle_enterprises"):
        request.app.state.handle_enterprises = {}
    enterprise = request.app.state.handle_enterprises.get(who.enterprise_id)
    if enterprise is None:
        enterprise = await run_in_threadpool(_enterprise_handle, request, who)
    return Reader(name=who.name, role=who.role, enterprise=enterprise)


_FILTERS = {
    "parameters": [
        {
            "name": "type",
            "in": "query",
            "required": False,
            "description": "Only values of these types (repeatable).",
            "schema": {"type": "array", "items": {"type": "string", "maxLength": 32}},
        },
        {
            "name": "index",
            "in": "query",
            "required": False,
            "description": "Only values at these indices (repeatable).",
            "schema": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        },
    ]
}


@router.get(
    "/api/handles/{prefix}/{suffix:path}",
    summary="Resolve a handle (Handle REST shape)",
    responses=_HANDLE_RESPONSES,
    response_class=Response,
    openapi_extra=_FILTERS,
)
async def resolve_handle(request: Request, prefix: str, suffix: str) -> Response:
    """Values of ``prefix/suffix``: public ones for anyone, restricted ones for the record's admins.

    The filters are read from the query string here rather than declared as parameters: this is the
    hot path of the resolver (see ``bench/resolve.py``), and they are documented in the OpenAPI all the same.
    """
    handle = f"{prefix}/{suffix}"
    query = request.query_params
    types = query.getlist("type")
    try:
        indices = [int(i) for i in query.getlist("index")]
    except ValueError:
        bad = Answer(400, {"responseCode": int(ResponseCode.ERROR), "handle": handle, "message": "index: integers"})
        return _json(bad)
    reader = await _reader(request, handle) if "authorization" in request.headers else Reader()
    if isinstance(reader, Answer):
        return _json(reader)
    resolver = _resolver(request)
    hops = int(request.headers.get("x-carbonpark-hops", "0") or 0)
    if resolver.is_foreign(handle):
        answer = await run_in_threadpool(resolver.resolve, handle, reader, types, indices, hops=hops)
    else:
        answer = resolver.resolve(handle, reader, types, indices, hops=hops)
    return _json(answer)


# --- the registry ------------------------------------------------------------------------------------


class ValueIn(BaseModel):
    """A value to add: ``type``, ``value`` (text, or an object for HS_ADMIN and carbon types)."""

    type: str = Field(max_length=32, examples=["CARBON_FOOTPRINT"])
    value: Any
    index: int | None = Field(default=None, ge=1)
    public: bool | None = None
    ttl: int | None = Field(default=None, ge=0)


class ValueUpdate(BaseModel):
    """A new value for an existing index (and optionally its access)."""

    value: Any
    public: bool | None = None


class VirtualAssetIn(BaseModel):
    """A virtual asset to register: kind, its values and its owner enterprise."""

    kind: str = Field(examples=["emission_record", "model", "algorithm", "process", "batch"])
    values: list[ValueIn] = Field(default_factory=list)
    owner: str | None = Field(default=None, description="Enterprise id or handle")


def _as_reader(s: Any, who: Principal) -> Reader:
    return ids.reader_for(s, who.name, who.role, who.enterprise_id)


def _record(s: Any, handle: str) -> dict[str, Any]:
    record = ids.load_record(s, handle)
    if record is None:
        raise ValidationError("handle", "a registered identifier", handle)
    return {"handle": record.handle, "values": [value_json(v) for v in record.values]}


@router.post("/api/identifiers", summary="Register a virtual asset", status_code=201)
def register_virtual(s: DbSession, who: User, body: Annotated[VirtualAssetIn, Body()]) -> dict[str, Any]:
    """Register an emission record, model, algorithm, process or batch; returns its handle and values."""
    owner = None if body.owner is None else resolve_entity(s, Enterprise, body.owner)
    ident = ids.register_virtual(
        s, body.kind, _as_reader(s, who), [(v.type, v.value) for v in body.values], owner=owner
    )
    return _record(s, ident.handle)


@router.get("/api/identifiers/statistics", summary="Identifier figures of indicators 15–18")
def identifier_statistics(s: DbSession, who: User, year: Annotated[int, Query(ge=2000, le=2100)]) -> dict[str, Any]:
    """Enterprises with a node, registrations, active users and resolutions of ``year``."""
    if who.role not in ("park_admin", "regulator"):
        raise PermissionDenied("identifier statistics are for the park administrator and the regulator")
    stats = ids.statistics(s, year)
    return {"year": year, "node_coverage_percent": stats.node_coverage_percent, **stats.platform_figures()}


@router.get("/api/identifiers/{handle:path}/history", summary="Changes of an identifier")
def identifier_history(s: DbSession, who: User, handle: str) -> dict[str, Any]:
    """Every change of the identifier and its values (park administrators and the record's admins)."""
    record = ids.load_record(s, handle)
    if record is None or not can_write(_as_reader(s, who), record, "read_value"):
        raise PermissionDenied(f"the history of {handle} is for its administrators")
    return {"handle": handle, "changes": ids.history(s, handle)}


@router.post("/api/identifiers/{handle:path}/values", summary="Add a value", status_code=201)
def add_value(s: DbSession, who: User, handle: str, body: Annotated[ValueIn, Body()]) -> dict[str, Any]:
    """Add a typed value (HS_ADMIN ``add_value`` or park administrator)."""
    ids.add_value(
        s, handle, body.type, body.value, _as_reader(s, who), index=body.index, public=body.public, ttl=body.ttl
    )
    return _record(s, handle)


@router.put("/api/identifiers/{handle:path}/values/{index}", summary="Replace a value")
def update_value(
    s: DbSession, who: User, handle: str, index: int, body: Annotated[ValueUpdate, Body()]
) -> dict[str, Any]:
    """Replace the data of value ``index`` (HS_ADMIN ``modify_value`` or park administrator)."""
    ids.update_value(s, handle, index, body.value, _as_reader(s, who), public=body.public)
    return _record(s, handle)


@router.delete("/api/identifiers/{handle:path}/values/{index}", summary="Remove a value")
def delete_value(s: DbSession, who: User, handle: str, index: int) -> dict[str, Any]:
    """Remove value ``index`` (HS_ADMIN ``remove_value`` or park administrator)."""
    ids.delete_value(s, handle, index, _as_reader(s, who))
    return _record(s, handle)


@router.delete("/api/identifiers/{handle:path}", summary="Delete an identifier", status_code=204)
def delete_identifier(s: DbSession, who: User, handle: str) -> Response:
    """Delete a registered identifier (HS_ADMIN ``delete_handle`` or park administrator)."""
    ids.delete_identifier(s, handle, _as_reader(s, who))
    return Response(status_code=204)
