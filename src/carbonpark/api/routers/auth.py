"""Login (OAuth2 password flow), token revocation and "who am I" (issue 3 item 2).

``POST /api/auth/token`` takes the form fields ``username`` and ``password`` (RFC 6749 §4.3)
and answers ``{"access_token", "token_type": "bearer", "expires_in"}``. Failed logins are
counted per user name and per client address; too many answer 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from carbonpark.api.deps import DbSession, User, invalidate_principals, security_settings
from carbonpark.services import auth

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenOut(BaseModel):
    """A bearer token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/token", summary="Log in: user name and password for a bearer token", response_model=TokenOut)
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """OAuth2 password grant. Wrong credentials: 401; too many failures: 429 (password not checked)."""
    settings = security_settings(request)
    maker = request.app.state.sessionmaker
    client = _client(request)
    try:
        with maker() as s, s.begin():
            issued = auth.issue_token(s, settings, form.username, form.password, client)
    except auth.AuthenticationFailed:
        with maker() as s, s.begin():
            auth.record_failure(s, form.username, client)
        raise
    return TokenOut(access_token=issued.access_token, token_type=issued.token_type, expires_in=issued.expires_in)


@router.post("/revoke", summary="Revoke a bearer token", status_code=200)
def revoke(
    request: Request, s: DbSession, who: User, token: Annotated[str, Form(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """Revoke one of your tokens (RFC 7009; park administrators may revoke anyone's).

    Refused from the next request on in this worker; in other workers within ``CARBONPARK_TOKEN_CACHE_SECONDS``.
    """
    revoked = auth.revoke_token(s, security_settings(request), token, who)
    if revoked:
        invalidate_principals(request)
    return {"revoked": revoked}


@router.get("/me", summary="The authenticated principal")
def me(who: User) -> dict[str, Any]:
    """Name, role, enterprise and a verifier's assignments of the caller."""
    return {
        "name": who.name,
        "role": who.role,
        "enterprise_id": who.enterprise_id,
        "assignments": [{"enterprise_id": e, "year": y} for e, y in sorted(who.assignments)],
    }
