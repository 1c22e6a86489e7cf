"""Errors as RFC 9457 problem details, mapped from carbonpark's exception tree in ONE place.

Every error answer has ``Content-Type: application/problem+json`` and the members ``type``,
``title``, ``status``, ``detail`` and ``instance``; a :class:`~carbonpark.errors.ValidationError`
adds ``field``, ``expected`` and ``got``; request-validation failures add ``errors`` (one item per
bad parameter, each with ``field``, ``expected`` and ``got``). ``type`` is
``urn:carbonpark:problem:<slug>``; the slugs are listed in ``docs/api.md``.

References
----------
.. [1] RFC 9457, Problem Details for HTTP APIs (2023).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from carbonpark.errors import (
    CarbonparkError,
    ConflictError,
    DuplicateError,
    InfeasibleError,
    IntegrityError,
    NotFoundError,
    PermissionDenied,
    UnitError,
    UnknownFactorError,
    ValidationError,
)
from carbonpark.services.auth import AuthenticationFailed, Throttled
from carbonpark.store import SchemaOutdated

__all__ = ["PROBLEM_RESPONSES", "Problem", "install_problem_handlers", "problem_response", "status_of"]

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("carbonpark.api")


class Problem(BaseModel):
    """An RFC 9457 problem details object (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


#: (exception class, HTTP status, slug): the first class that matches wins, so subclasses come first.
STATUS_MAP: tuple[tuple[type[Exception], int, str], ...] = (
    (AuthenticationFailed, 401, "unauthenticated"),
    (Throttled, 429, "throttled"),
    (PermissionDenied, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
    (UnknownFactorError, 404, "unknown-factor"),
    (UnitError, 422, "unit"),
    (ValidationError, 422, "validation"),
    (DuplicateError, 409, "duplicate"),
    (ConflictError, 409, "conflict"),
    (IntegrityError, 409, "integrity"),
    (InfeasibleError, 422, "infeasible"),
    (SchemaOutdated, 503, "schema-outdated"),
    (CarbonparkError, 400, "bad-request"),
)


def status_of(exc: Exception) -> tuple[int, str]:
    """HTTP status and problem slug of a carbonpark exception."""
    for cls, status, slug in STATUS_MAP:
        if isinstance(exc, cls):
            return status, slug
    return 500, "internal"


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem details response; ``slug`` None gives ``type: about:blank``."""
    body: dict[str, Any] = {
        "type": f"urn:carbonpark:problem:{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


async def _carbonpark_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug = status_of(exc)
    ext: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        ext = {"field": exc.field, "expected": exc.expected, "got": _jsonable(exc.got)}
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(request, status, str(exc), slug, headers or None, **ext)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ())),
            "expected": e.get("msg", ""),
            "got": _jsonable(e.get("input")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['expected']}" for e in errors)
    return problem_response(request, 422, detail, "validation", errors=errors)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(request, exc.status_code, detail, None, headers or None)


async def _database_integrity(request: Request, exc: Exception) -> JSONResponse:
    """A unique or foreign-key constraint the service did not check first: 409, never the SQL or its values."""
    log.warning("constraint refused a write on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    detail = "expected values no stored row already holds; the database refused them (a unique or foreign-key rule)"
    return problem_response(request, 409, detail, "integrity")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "an internal error; it was logged", "internal")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to problem details on ``app``."""
    app.add_exception_handler(CarbonparkError, _carbonpark_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(DatabaseIntegrityError, _database_integrity)
    app.add_exception_handler(Exception, _unexpected)


def _problem_content(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


#: The error answers every ``/api`` route may give, for the OpenAPI document (``include_router(responses=…)``).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_content("Bad request"),
    401: _problem_content("Not authenticated: no, unknown, expired or revoked token or key"),
    403: _problem_content("Authenticated, but the role may not do this"),
    404: _problem_content("No such entity, or not one the caller may see"),
    409: _problem_content("Duplicate or conflicting data"),
    413: _problem_content("Request body too large"),
    422: _problem_content("Invalid input: the problem names the field, what was expected and what came"),
    429: _problem_content("Too many attempts; see Retry-After"),
    503: _problem_content("Database schema not at the shipped revision"),
}
