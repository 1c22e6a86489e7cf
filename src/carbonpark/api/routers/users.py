"""Users, verifier assignments and device API keys; park administrators only (issue 3 item 2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from carbonpark.api.deps import DbSession, Paging, User, invalidate_principals, paging_for, security_settings
from carbonpark.services import auth
from carbonpark.services.access import require_role

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["users"])

UserPage = Annotated[Paging, Depends(paging_for(auth.USER_SORT, default_limit=100))]
KeyPage = Annotated[Paging, Depends(paging_for(auth.KEY_SORT, default_limit=100))]
NameRef = Annotated[str, Path(min_length=1, max_length=100, description="Numeric id or name.")]


class UserIn(BaseModel):
    """A new user; ``enterprise`` is required for, and only for, role ``enterprise``."""

    name: str = Field(min_length=1, max_length=100)
    role: str = Field(pattern="^(park_admin|enterprise|verifier|regulator)$")
    password: str = Field(min_length=12, max_length=200)
    enterprise: str | None = Field(default=None, max_length=128)


class AssignmentIn(BaseModel):
    """A verifier's assignment: one enterprise, one reporting year."""

    enterprise: str = Field(min_length=1, max_length=128)
    year: int = Field(ge=1990, le=2100)


class KeyIn(BaseModel):
    """A new device or gateway key scoped to an enterprise or to meters (exactly one of the two)."""

    name: str = Field(min_length=1, max_length=100)
    enterprise: str | None = Field(default=None, max_length=128)
    meters: list[str] | None = Field(default=None, max_length=1000)


@router.get("/users", summary="List users")
def list_users(s: DbSession, who: User, page: UserPage) -> dict[str, Any]:
    """One page of users with role, enterprise and assignments (never a password hash)."""
    require_role(who, "park_admin")
    return auth.users_page(s, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.post("/users", summary="Create a user", status_code=201)
def create_user(s: DbSession, who: User, body: UserIn) -> dict[str, Any]:
    """Create a user with an argon2 password hash; the change is in the audit log under your name."""
    require_role(who, "park_admin")
    user = auth.add_user(s, body.name, body.role, body.password, who.actor, enterprise=body.enterprise)
    return auth.user_public(user)


@router.post("/users/{ref}/assignments", summary="Assign a verifier to an enterprise-year", status_code=201)
def assign(request: Request, s: DbSession, who: User, ref: NameRef, body: AssignmentIn) -> dict[str, Any]:
    """Let a verifier read one enterprise for one reporting year."""
    require_role(who, "park_admin")
    row = auth.assign_verifier(s, ref, body.enterprise, body.year, who.actor)
    invalidate_principals(request)  # the verifier's principal carries its assignments
    return {"id": row.id, "user_id": row.user_id, "enterprise_id": row.enterprise_id, "year": row.year}


@router.post("/users/{ref}/revoke-tokens", summary="Revoke every token of a user")
def revoke_tokens(request: Request, s: DbSession, who: User, ref: NameRef) -> dict[str, Any]:
    """Log a user out everywhere (at once in this worker, within ``CARBONPARK_TOKEN_CACHE_SECONDS`` in others)."""
    require_role(who, "park_admin")
    revoked = auth.revoke_user_tokens(s, ref, who.actor)
    invalidate_principals(request)
    return {"revoked": revoked}


@router.get("/keys", summary="List API keys")
def list_keys(s: DbSession, who: User, page: KeyPage) -> dict[str, Any]:
    """One page of device and gateway keys: name, first characters, scope, revocation (never the key)."""
    require_role(who, "park_admin")
    return auth.keys_page(s, sort=page.sort, limit=page.limit, offset=page.offset).to_dict()


@router.post("/keys", summary="Create a device API key (shown once)", status_code=201)
def create_key(request: Request, s: DbSession, who: User, body: KeyIn) -> dict[str, Any]:
    """Create a key; the answer's ``key`` is the only time it is shown."""
    require_role(who, "park_admin")
    row, secret = auth.add_api_key(
        s, security_settings(request), body.name, who.actor, enterprise=body.enterprise, meters=body.meters
    )
    return {**auth.key_public(s, row), "key": secret}


@router.post("/keys/{ref}/revoke", summary="Revoke an API key")
def revoke_key(s: DbSession, who: User, ref: NameRef) -> dict[str, Any]:
    """Revoke a key by id or name; its device is refused from then on."""
    require_role(who, "park_admin")
    return auth.revoke_key(s, ref, who.actor)
