"""Dependencies every route uses: the database session, the caller (principal), paging.

``Depends(db_session)`` gives one SQLAlchemy session in one transaction per request (committed
when the route returns, rolled back on an error). ``Depends(current_principal)`` gives the
authenticated :class:`~carbonpark.services.access.Principal` from ``Authorization: Bearer …``
(401 otherwise); ``Depends(device_principal)`` the device principal from ``X-API-Key``.
``Depends(paging)`` reads ``limit``/``offset``/``sort``. See ``docs/api.md``.

Cost per request (issue 3 item 8): the session is opened on the event loop (no I/O until the
first statement) and committed in the thread pool; the principal comes from the app's
:class:`~carbonpark.services.auth.PrincipalCache` without a query when the token was checked
in the last ``CARBONPARK_TOKEN_CACHE_SECONDS``; paging is plain arithmetic on the event loop.
A route that only runs one short indexed read may be ``async def`` and use
:func:`read_connection` inline (no thread-pool hop at all), as the registry's ``GET /{ref}`` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security, UploadFile
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from carbonpark.errors import ValidationError
from carbonpark.services.access import MAX_LIMIT, MAX_OFFSET, Principal
from carbonpark.services.auth import (
    AuthenticationFailed,
    PrincipalCache,
    SecuritySettings,
    authenticate_key,
    authenticate_token,
    token_digest,
)

__all__ = [
    "DbSession",
    "Device",
    "Page",
    "Paging",
    "User",
    "current_principal",
    "db_session",
    "device_principal",
    "invalidate_principals",
    "paging",
    "paging_for",
    "read_connection",
    "read_upload",
    "security_settings",
]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a device or gateway")


def security_settings(request: Request) -> SecuritySettings:
    """The app's security settings (read from the environment once, in ``create_app``)."""
    settings: SecuritySettings = request.app.state.security
    return settings


def read_upload(request: Request, file: UploadFile) -> bytes:
    """The bytes of an uploaded file, refused (field ``file``) beyond the app's body limit [bytes].

    Reads at most one byte more than the limit, so an oversized part is never held in full.
    """
    limit = int(security_settings(request).max_body_bytes)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ValidationError("file", f"at most {limit} bytes", f"more than {limit} bytes")
    return data


def invalidate_principals(request: Request) -> None:
    """Clear the app's principal cache once this request's transaction has committed.

    Routes that revoke tokens, deactivate users or change a verifier's assignments call it, so
    the change takes effect at once in this worker (other workers: within the cache's lifetime).
    """
    request.state.invalidate_principals = True


def _finish(request: Request, s: Session) -> None:
    """Commit and close (thread pool); then clear the principal cache if the request asked to."""
    try:
        s.commit()
    finally:
        s.close()
    if getattr(request.state, "invalidate_principals", False):
        principals: PrincipalCache = request.app.state.principals
        principals.clear()


def _abort(s: Session) -> None:
    try:
        s.rollback()
    finally:
        s.close()


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One session in one transaction for the request: committed when the route returns, rolled back on error.

    Opening a session does no I/O (the connection is taken at the first statement), so it
    happens on the event loop; the commit or rollback runs in the thread pool when a transaction
    began (a session never used is closed on the loop).
    """
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    s = maker()
    try:
        yield s
    except BaseException:
        if s.in_transaction():
            await run_in_threadpool(_abort, s)
        else:
            s.close()
        raise
    if s.in_transaction():  # a statement ran or a row was added: commit needs I/O
        await run_in_threadpool(_finish, request, s)
    else:  # never used: nothing to commit, no connection to return
        _finish(request, s)


DbSession = Annotated[Session, Depends(db_session)]


@contextmanager
def read_connection(request: Request) -> Iterator[Connection]:
    """A pooled connection for one short read inside an ``async def`` route, run inline on the event loop.

    Only for a few indexed lookups (well under a millisecond): anything longer belongs in a sync
    route, which FastAPI runs in the thread pool. Core statements only (no ORM session: about
    40 µs less per request); rolled back and returned to the pool on leaving.
    """
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


def _authenticate(request: Request, token: str) -> Principal:
    state = request.app.state
    maker: sessionmaker[Session] = state.sessionmaker
    with maker() as s, s.begin():
        return authenticate_token(s, state.security, token, state.principals)


async def current_principal(
    request: Request,
    token: Annotated[str | None, Security(oauth2_scheme)] = None,
) -> Principal:
    """The user behind ``Authorization: Bearer <token>``; 401 problem if missing or invalid.

    A token checked in the last ``CARBONPARK_TOKEN_CACHE_SECONDS`` is answered from the app's
    principal cache on the event loop; otherwise it is looked up (one indexed query by its HMAC
    digest) in the thread pool, in a transaction of its own.
    """
    if not token:
        raise AuthenticationFailed("expected 'Authorization: Bearer <token>' (POST /api/auth/token), got none")
    state = request.app.state
    principals: PrincipalCache = state.principals
    principal = principals.get(token_digest(state.security, token)) if principals.ttl_s > 0 else None
    if principal is None:
        principal = await run_in_threadpool(_authenticate, request, token)
    request.state.actor = principal.actor
    return principal


def device_principal(
    s: DbSession,
    request: Request,
    key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Principal:
    """The device behind ``X-API-Key``, with its meter or enterprise scope; 401 problem otherwise.

    Check a meter with ``principal.may_write_meter(meter)`` before accepting its readings.
    """
    if not key:
        raise AuthenticationFailed("expected an API key in the X-API-Key header, got none")
    principal = authenticate_key(s, security_settings(request), key)
    request.state.actor = principal.actor
    return principal


User = Annotated[Principal, Depends(current_principal)]
Device = Annotated[Principal, Depends(device_principal)]


@dataclass(frozen=True)
class Paging:
    """``limit`` (1–1000), ``offset`` (≥ 0) and ``sort`` (a field, ``-field`` for descending)."""

    limit: int
    offset: int
    sort: str


def paging_for(sort_fields: tuple[str, ...], default_limit: int = 50, default_sort: str | None = None) -> Any:
    """A paging dependency whose ``sort`` accepts exactly ``sort_fields`` (``-field`` for descending).

    Every list route takes its ``limit``, ``offset`` and ``sort`` from one of these, and answers
    ``{items, total, limit, offset, next_offset}`` (:class:`carbonpark.services.access.Page`), the
    page cut in SQL (:func:`carbonpark.services.access.page_of`). The allowed fields are in the
    OpenAPI document (a pattern), so clients and schemathesis know them.

    Parameters
    ----------
    sort_fields
        The names ``sort`` may take.
    default_limit
        Rows per page when the caller gives no ``limit``.
    default_sort
        ``sort`` when the caller gives none (default: the first field, ascending).
    """
    pattern = "^-?(" + "|".join(sort_fields) + ")$"
    default = default_sort or sort_fields[0]
    if default.removeprefix("-") not in sort_fields:
        raise ValueError(f"expected a default sort among {sort_fields}, got {default!r}")

    async def paging(limit: int = default_limit, offset: int = 0, sort: str = default) -> Paging:
        return Paging(limit, offset, sort)  # async: no thread-pool hop for arithmetic

    # real objects, not strings: the closure's pattern is not visible to annotation evaluation
    paging.__annotations__ = {
        "limit": Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (1–1000).")],
        "offset": Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")],
        "sort": Annotated[
            str,
            Query(
                pattern=pattern,
                description=f"Sort by {', '.join(sort_fields)}; '-field' sorts descending (default {default}).",
            ),
        ],
        "return": Paging,
    }
    return paging


#: Paging with ``sort`` by ``id`` only (``Depends(paging_for((…)))`` for more fields).
paging = paging_for(("id",))

Page = Annotated[Paging, Depends(paging)]
