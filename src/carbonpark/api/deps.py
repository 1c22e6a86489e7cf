"""Dependencies every route uses: the database session, the caller (principal), paging.

``Depends(db_session)`` gives one SQLAlchemy session in one transaction per request (committed
when the route returns, rolled back on an error). ``Depends(current_principal)`` gives the
authenticated :class:`~carbonpark.services.access.Principal` from ``Authorization: Bearer …``
(401 otherwise); ``Depends(device_principal)`` the device principal from ``X-API-Key``.
``Depends(paging)`` reads ``limit``/``offset``/``sort``. See ``docs/api.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from carbonpark.services.access import MAX_LIMIT, MAX_OFFSET, Principal
from carbonpark.services.auth import AuthenticationFailed, SecuritySettings, authenticate_key, authenticate_token

__all__ = [
    "DbSession",
    "Device",
    "Page",
    "Paging",
    "User",
    "current_principal",
    "db_session",
    "device_principal",
    "paging",
    "paging_for",
    "security_settings",
]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a device or gateway")


def security_settings(request: Request) -> SecuritySettings:
    """The app's security settings (read from the environment once, in ``create_app``)."""
    settings: SecuritySettings = request.app.state.security
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One session in one transaction for the request."""
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    with maker() as s, s.begin():
        yield s


DbSession = Annotated[Session, Depends(db_session)]


def current_principal(
    s: DbSession,
    request: Request,
    token: Annotated[str | None, Security(oauth2_scheme)] = None,
) -> Principal:
    """The user behind ``Authorization: Bearer <token>``; 401 problem if missing or invalid."""
    if not token:
        raise AuthenticationFailed("expected 'Authorization: Bearer <token>' (POST /api/auth/token), got none")
    principal = authenticate_token(s, security_settings(request), token)
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


def paging_for(sort_fields: tuple[str, ...], default_limit: int = 50) -> Any:
    """A paging dependency whose ``sort`` accepts exactly ``sort_fields`` (``-field`` for descending).

    The allowed fields are in the OpenAPI document (a pattern), so clients and schemathesis know them.
    """
    pattern = "^-?(" + "|".join(sort_fields) + ")$"

    def paging(limit: int = default_limit, offset: int = 0, sort: str = sort_fields[0]) -> Paging:
        return Paging(limit, offset, sort)

    # real objects, not strings: the closure's pattern is not visible to annotation evaluation
    paging.__annotations__ = {
        "limit": Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (1–1000).")],
        "offset": Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")],
        "sort": Annotated[
            str, Query(pattern=pattern, description=f"Sort by {', '.join(sort_fields)}; '-field' sorts descending.")
        ],
        "return": Paging,
    }
    return paging


#: Paging with ``sort`` by ``id`` only (``Depends(paging_for((…)))`` for more fields).
paging = paging_for(("id",))

Page = Annotated[Paging, Depends(paging)]
