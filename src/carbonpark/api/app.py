"""The FastAPI application factory of carbonpark (issue 3; SPEC C19, C21; guide §3.2.2(2)3).

``create_app(db, settings)`` builds the app: OpenAPI at ``/api/openapi.json``, docs at
``/api/docs``, errors as RFC 9457 problem details (:mod:`carbonpark.api.problems`), security
headers and a body size limit on every answer, CORS only for configured origins, and every
router module found in :mod:`carbonpark.api.routers` (each exposes ``router: APIRouter``;
routers are included by ``ORDER`` then module name, default order 100). ``docs/api.md`` tells a
capability how to add its routes.

References
----------
.. [1] RFC 9457 (problem details); OWASP Secure Headers Project (header values).
.. [2] 工业互联网双碳园区建设指南 §3.2.2(2)3 (工业互联网平台), §8.2 (保障措施).
"""

from __future__ import annotations

import gc
import importlib
import json
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from sqlalchemy.orm import sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carbonpark import __version__, store
from carbonpark.api import routers as routers_pkg
from carbonpark.api.problems import MEDIA_TYPE, PROBLEM_RESPONSES, Problem, install_problem_handlers
from carbonpark.services.auth import PrincipalCache, SecuritySettings, check_production
from carbonpark.settings import get_settings

__all__ = ["create_app", "router_modules"]

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The web dashboard (carbonpark.web, issue 14): its own scripts/styles and plotly.js from this server only.
_WEB_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    b"connect-src 'self'; font-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
)
# Swagger UI loads its script and style from the jsDelivr CDN (FastAPI's default).
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"connect-src 'self'; frame-ancestors 'none'",
)


class HardeningMiddleware:
    """Pure ASGI middleware: refuses bodies over ``max_body_bytes`` (413) and adds security headers.

    A ``Content-Length`` over the limit is refused before reading; a streamed body is counted
    as it arrives and cut off at the limit.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = _DOCS_CSP if path.startswith("/api/docs") else _WEB_CSP if path.startswith("/web/") else _API_CSP
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(scope, send, limit, csp)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.extend(_HEADERS)
                headers.append(csp)
                if path.startswith("/api/") and not path.startswith("/api/docs"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                await _too_large(scope, send, limit, csp)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, send: Send, limit: int, csp: tuple[bytes, bytes]) -> None:
    body = json.dumps(
        {
            "type": "urn:carbonpark:problem:too-large",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"expected a request body of at most {limit} bytes",
            "instance": scope.get("path", ""),
        }
    ).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers.extend(_HEADERS)
    headers.append(csp)
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At server start: move every object alive after start-up out of the collector's view.

    The app, its routes, models and SQLAlchemy metadata are a few hundred thousand objects that
    live for the whole process; a full (generation 2) collection traversing them took up to
    0.8 s on the loaded 2-core machine, which is what a request waiting behind it sees as its
    p99. ``gc.freeze`` leaves reference counting as it is; only cycles among those objects are
    no longer collected (Python docs, ``gc.freeze``).
    """
    gc.collect()
    gc.freeze()
    yield


def router_modules() -> list[Any]:
    """The modules of :mod:`carbonpark.api.routers` that expose ``router``, in inclusion order."""
    found = []
    for info in pkgutil.iter_modules(routers_pkg.__path__):
        module = importlib.import_module(f"{routers_pkg.__name__}.{info.name}")
        if hasattr(module, "router"):
            found.append(module)
    return sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def create_app(db: str | None = None, settings: SecuritySettings | None = None) -> FastAPI:
    """Build the API on database ``db`` (URL or SQLite path; default ``CARBONPARK_DB``).

    Parameters
    ----------
    db
        The database; its schema must be at the shipped revision (``carbonpark db upgrade``).
    settings
        Security settings; default read from the environment (``CARBONPARK_SECRET_KEY`` …).

    Raises
    ------
    carbonpark.errors.ValidationError
        In production mode (``CARBONPARK_ENV=production``) with a default or short secret key.
    carbonpark.store.SchemaOutdated
        If the database schema is missing or old.
    """
    security = settings or SecuritySettings()
    check_production(security)
    engine = store.connect(db)
    if store.current_revisions(engine) != store.head_revisions():
        with store.session(db):  # raises SchemaOutdated with the fix in its message
            pass
    app = FastAPI(
        title="carbonpark API",
        version=__version__,
        description="Industrial-park carbon management: registry, readings, accounting and more. "
        "Log in with POST /api/auth/token; errors are RFC 9457 problem details.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.security = security
    app.state.db = db
    app.state.engine = engine
    # the schema was checked once above: requests open sessions without asking the database again
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    app.state.principals = PrincipalCache(security.token_cache_seconds)
    app.state.timezone = get_settings().timezone
    install_problem_handlers(app)
    for module in router_modules():
        app.include_router(module.router, responses=PROBLEM_RESPONSES)
    # The dashboard (issue 14) sits beside the API (independent layers), so it is found by name.
    importlib.import_module("carbonpark.web.app").mount(app)
    app.add_middleware(HardeningMiddleware, max_body_bytes=security.max_body_bytes)
    if security.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=security.origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema()
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
