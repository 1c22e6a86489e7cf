"""Users, passwords, bearer tokens, device API keys and login throttling (issue 3, SPEC C19).

Choices
-------
* Passwords: argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106 parameters).
* Bearer tokens and API keys are 256-bit random strings shown once; the database keeps only
  ``HMAC-SHA256(CARBONPARK_SECRET_KEY, secret)``. They are high-entropy, so a keyed fast hash is
  enough (a slow hash is for guessable passwords) and lets a request find its row by digest in one
  indexed lookup. Changing the secret key invalidates every token and key.
* Token expiry: ``CARBONPARK_TOKEN_TTL_MINUTES`` (default 60); revocation sets ``revoked_ms``.
* Principal cache: a worker keeps the principal of a token it has checked for at most
  ``CARBONPARK_TOKEN_CACHE_SECONDS`` (default 5 s; 0 turns the cache off), so a read request costs
  no token query. Revocations and assignments made through the API clear the worker's cache when
  their transaction commits; a revocation made elsewhere (another worker, the CLI) takes effect
  within that bound. A cached principal never outlives its token's expiry.
* Throttling: failed logins are stored (``login_failures``) so every server worker sees them;
  ``CARBONPARK_LOGIN_MAX_FAILURES`` failures for one user name, or four times as many from one
  client address, within ``CARBONPARK_LOGIN_WINDOW_SECONDS`` answer 429 without checking the password.
* Secrets only from the environment: ``CARBONPARK_SECRET_KEY``; with ``CARBONPARK_ENV=production``
  a missing or default key refuses to start (:func:`check_production`).

References
----------
.. [1] RFC 9106, Argon2 Memory-Hard Function for Password Hashing.
.. [2] RFC 6749 §4.3, OAuth 2.0 Resource Owner Password Credentials Grant; RFC 6750 bearer tokens.
.. [3] 工业互联网双碳园区建设指南 §3.2.2(2)3 (platform security), §8.2.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from carbonpark.errors import CarbonparkError, DuplicateError, NotFoundError, ValidationError
from carbonpark.services.access import ROLES, Page, Principal, check_year, page_of
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import AuditEntry, Enterprise, Meter, Park
from carbonpark.store.schema_auth import ApiKey, ApiKeyMeter, AuthToken, LoginFailure, User, VerifierAssignment

__all__ = [
    "DEFAULT_SECRET",
    "KEY_SORT",
    "SECRETS",
    "USER_SORT",
    "AuthenticationFailed",
    "IssuedToken",
    "PrincipalCache",
    "SecuritySettings",
    "Throttled",
    "add_api_key",
    "add_user",
    "assign_verifier",
    "authenticate_key",
    "authenticate_token",
    "check_production",
    "create_demo_users",
    "demo_users_step",
    "issue_token",
    "keys_page",
    "revoke_key",
    "revoke_token",
    "revoke_user_tokens",
    "token_digest",
    "users_page",
    "without_secrets",
]

#: The development secret used when ``CARBONPARK_SECRET_KEY`` is not set; refused in production.
DEFAULT_SECRET = "carbonpark-development-secret-change-me"
TOKEN_PREFIX = "cpt_"
KEY_PREFIX = "cpk_"
_hasher = PasswordHasher()


class SecuritySettings(BaseSettings):
    """Security and API settings from the environment (prefix ``CARBONPARK_``).

    Attributes
    ----------
    env
        ``development`` (default) or ``production`` (``CARBONPARK_ENV``).
    secret_key
        Key of the token and API-key digests (``CARBONPARK_SECRET_KEY``); never logged.
    token_ttl_minutes
        Lifetime of a bearer token [min].
    login_max_failures, login_window_seconds
        Failed logins allowed per user name and per client in the window [s] before 429.
    cors_origins
        Comma-separated origins allowed by CORS; empty (default) means no CORS headers at all.
    max_body_bytes
        Largest request body accepted [byte]; larger ones get 413.
    token_cache_seconds
        How long a worker may reuse a checked token's principal [s] (0: check every request); the
        bound on how late a revocation made outside that worker takes effect.
    """

    model_config = SettingsConfigDict(env_prefix="CARBONPARK_", extra="ignore")

    env: str = Field(default="development", pattern=r"^(development|production|test)$")
    secret_key: str = Field(default=DEFAULT_SECRET, repr=False)
    token_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    cors_origins: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    token_cache_seconds: float = Field(default=5.0, ge=0, le=60)

    @property
    def origins(self) -> list[str]:
        """The CORS origins as a list."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


class AuthenticationFailed(CarbonparkError):
    """Missing, wrong, expired or revoked credentials (HTTP 401)."""


class Throttled(CarbonparkError):
    """Too many failed logins; try again after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins: expected at most a few attempts, retry after {retry_after} s")


def check_production(settings: SecuritySettings) -> None:
    """Refuse production mode with a missing, default or short secret key."""
    if settings.env != "production":
        return
    key = settings.secret_key
    if key == DEFAULT_SECRET or len(key) < 32:
        raise ValidationError(
            "CARBONPARK_SECRET_KEY",
            "a random secret of at least 32 characters in production (e.g. python -c "
            "'import secrets; print(secrets.token_urlsafe(48))')",
            "the default development secret" if key == DEFAULT_SECRET else f"{len(key)} characters",
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _digest(settings: SecuritySettings, secret: str) -> str:
    return hmac.new(settings.secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def token_digest(settings: SecuritySettings, token: str) -> str:
    """``HMAC-SHA256(secret key, token)`` as stored and looked up (hex); the cache key of a token."""
    return _digest(settings, token)


class PrincipalCache:
    """Principals of recently checked bearer tokens, by token digest, for at most ``ttl_s`` seconds.

    The bound is what a revocation made outside this process waits for; :meth:`clear` (called by the
    API after a revocation or an assignment commits) makes it immediate in this process. A generation
    counter drops a principal read before a :meth:`clear` and stored after it, so a lookup racing a
    revocation cannot put the old state back. Only token digests are kept, never tokens.

    Parameters
    ----------
    ttl_s
        Lifetime of an entry [s]; 0 disables the cache.
    max_entries
        Entries kept at most; the oldest are dropped first.
    clock
        Monotonic clock [s] (a parameter for tests).
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000, clock: Any = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float, int]] = {}
        self._lock = threading.Lock()  # put (worker threads) against clear (event loop)
        self.generation = 0

    def get(self, digest: str) -> Principal | None:
        """The cached principal of ``digest``, or None if absent, stale or its token has expired."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, deadline, expires_ms = entry
        if self._clock() >= deadline or _now_ms() >= expires_ms:
            self._entries.pop(digest, None)
            return None
        return principal

    def put(self, digest: str, principal: Principal, expires_ms: int, generation: int) -> None:
        """Remember a principal read from the database when the cache was at ``generation``."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.max_entries:
                for old in list(self._entries)[: max(1, self.max_entries // 10)]:
                    self._entries.pop(old, None)
            self._entries[digest] = (principal, self._clock() + self.ttl_s, expires_ms)

    def clear(self) -> None:
        """Forget every principal (after a revocation, deactivation or assignment change commits)."""
        with self._lock:
            self.generation += 1
            self._entries.clear()


def _audit(s: Session, actor: str, action: str, entity: str, entity_id: int, after: dict[str, Any] | None) -> None:
    """One audit entry; callers pass ``after`` without any secret or hash."""
    s.add(
        AuditEntry(
            at_ms=_now_ms(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            handle=None,
            before=None,
            after=after,
        )
    )


def _check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 100 or any(c.isspace() or c == ":" for c in text):
        raise ValidationError("name", "1–100 characters without spaces or ':'", name)
    return text


def add_user(s: Session, name: str, role: str, password: str, actor: str, enterprise: str | int | None = None) -> User:
    """Create a user with an argon2 password hash.

    Parameters
    ----------
    role
        One of :data:`~carbonpark.services.access.ROLES` except ``device`` (devices use API keys).
    enterprise
        Id, handle, credit code or name of the enterprise; required for and only for ``enterprise``.
    password
        At least 12 characters.
    """
    name = _check_name(name)
    if role not in ROLES or role == "device":
        raise ValidationError("role", f"one of {', '.join(r for r in ROLES if r != 'device')}", role)
    if (role == "enterprise") != (enterprise is not None):
        raise ValidationError("enterprise", "an enterprise for role enterprise, and none for other roles", enterprise)
    if len(password) < 12:
        raise ValidationError("password", "at least 12 characters", f"{len(password)} characters")
    if s.scalar(select(func.count()).select_from(User).where(User.name == name)):
        raise DuplicateError(f"user {name!r} already exists; user names are unique")
    ent = resolve(s, Enterprise, enterprise) if enterprise is not None else None
    user = User(
        name=name,
        role=role,
        enterprise_id=ent and ent.id,
        password_hash=_hasher.hash(password),
        active=True,
        created_ms=_now_ms(),
    )
    s.add(user)
    s.flush()
    _audit(s, actor, "create", "users", user.id, user_public(user))
    return user


def user_public(user: User) -> dict[str, Any]:
    """What may be shown of a user (no hash)."""
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "enterprise_id": user.enterprise_id,
        "active": user.active,
    }


#: Sortable names of ``GET /api/users``.
USER_SORT: tuple[str, ...] = ("id", "name", "role")
#: Sortable names of ``GET /api/keys``; ``created`` is ``created_ms``.
KEY_SORT: tuple[str, ...] = ("id", "name", "created")


def users_page(s: Session, *, sort: str = "id", limit: int = 100, offset: int = 0) -> Page:
    """One page of users without their hashes, each with a verifier's assignments.

    ``sort`` is one of :data:`USER_SORT` (``-`` in front for descending); the page is cut in SQL.
    """
    columns = {"id": User.id, "name": User.name, "role": User.role}
    rows, total = page_of(s, select(User), columns=columns, sort=sort, limit=limit, offset=offset)
    assigned: dict[int, list[dict[str, int]]] = {}
    if rows:
        picked = select(VerifierAssignment).where(VerifierAssignment.user_id.in_([u.id for u in rows]))
        for a in s.scalars(picked.order_by(VerifierAssignment.id)):
            assigned.setdefault(a.user_id, []).append({"enterprise_id": a.enterprise_id, "year": a.year})
    items = [{**user_public(u), "assignments": assigned.get(u.id, [])} for u in rows]
    return Page(items, total, limit, offset)


def list_users(s: Session) -> list[dict[str, Any]]:
    """Every user without its hash, with a verifier's assignments."""
    assigned: dict[int, list[dict[str, int]]] = {}
    for a in s.scalars(select(VerifierAssignment).order_by(VerifierAssignment.id)):
        assigned.setdefault(a.user_id, []).append({"enterprise_id": a.enterprise_id, "year": a.year})
    return [
        {**user_public(u), "assignments": assigned.get(u.id, [])} for u in s.scalars(select(User).order_by(User.id))
    ]


def assign_verifier(s: Session, user: str | int, enterprise: str | int, year: int, actor: str) -> VerifierAssignment:
    """Let verifier ``user`` read ``enterprise`` for reporting year ``year``."""
    u = _user(s, user)
    if u.role != "verifier":
        raise ValidationError("user", "a user with role verifier", f"{u.name} ({u.role})")
    ent = resolve(s, Enterprise, enterprise)
    check_year(year)
    exists = s.scalars(select(VerifierAssignment).filter_by(user_id=u.id, enterprise_id=ent.id, year=year)).first()
    if exists is not None:
        raise DuplicateError(f"verifier {u.name!r} is already assigned to enterprise {ent.id} for {year}")
    row = VerifierAssignment(user_id=u.id, enterprise_id=ent.id, year=year)
    s.add(row)
    s.flush()
    _audit(s, actor, "create", "verifier_assignments", row.id, {"user_id": u.id, "enterprise_id": ent.id, "year": year})
    return row


def _user(s: Session, ref: str | int) -> User:
    text = str(ref).strip()
    cond = User.id == int(text) if text.isdigit() else User.name == text
    user = s.scalars(select(User).where(cond)).first()
    if user is None:
        raise NotFoundError("user", ref)
    return user


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token as handed to the client once (RFC 6749 §5.1 fields)."""

    access_token: str
    expires_in: int
    token_type: str = "bearer"


def _throttle(s: Session, settings: SecuritySettings, name: str, client: str) -> None:
    since = _now_ms() - settings.login_window_seconds * 1000
    # one address may try a few names (4× the per-name allowance), then it is throttled too
    limits = (
        (LoginFailure.name, name, settings.login_max_failures),
        (LoginFailure.client, client, 4 * settings.login_max_failures),
    )
    for column, value, allowed in limits:
        failures = s.scalars(
            select(LoginFailure.at_ms).where(column == value, LoginFailure.at_ms >= since).order_by(LoginFailure.at_ms)
        ).all()
        if len(failures) >= allowed:
            oldest_counted = failures[len(failures) - allowed]
            retry = max(1, (oldest_counted + settings.login_window_seconds * 1000 - _now_ms() + 999) // 1000)
            raise Throttled(int(retry))


def record_failure(s: Session, name: str, client: str) -> None:
    """Remember one failed login (its own transaction, so a failing request still counts it)."""
    s.add(LoginFailure(at_ms=_now_ms(), name=name[:100], client=client[:64]))


def issue_token(s: Session, settings: SecuritySettings, name: str, password: str, client: str) -> IssuedToken:
    """Check a user's password and issue a bearer token (OAuth2 password grant, RFC 6749 §4.3).

    Raises
    ------
    Throttled
        Before looking at the password, if the name or the client failed too often recently.
    AuthenticationFailed
        Unknown user, wrong password or inactive user (one message for all: no user enumeration).
        The caller must record the failure with :func:`record_failure` in a transaction that commits.
    """
    _throttle(s, settings, name, client)
    user = s.scalars(select(User).where(User.name == name)).first()
    try:
        ok = user is not None and user.active and _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if user is None:
        _hasher.hash(password)  # same work whether or not the user exists
    if not ok or user is None:
        raise AuthenticationFailed("expected a known user name and its password; the login was refused")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now_ms()
    ttl_ms = settings.token_ttl_minutes * 60_000
    s.add(AuthToken(user_id=user.id, digest=_digest(settings, token), issued_ms=now, expires_ms=now + ttl_ms))
    return IssuedToken(token, ttl_ms // 1000)


def _timezone(s: Session) -> str:
    return s.scalars(select(Park.timezone).order_by(Park.id)).first() or "Asia/Shanghai"


def authenticate_token(
    s: Session, settings: SecuritySettings, token: str, cache: PrincipalCache | None = None
) -> Principal:
    """The principal of a bearer token; :class:`AuthenticationFailed` if unknown, expired or revoked.

    With a ``cache``, a principal checked less than ``cache.ttl_s`` ago is returned without a
    query, and a freshly checked one is stored there.
    """
    digest = _digest(settings, token)
    if cache is not None:
        cached = cache.get(digest)
        if cached is not None:
            return cached
        generation = cache.generation
    now = _now_ms()
    row = s.execute(
        select(User, AuthToken.expires_ms, AuthToken.revoked_ms)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(AuthToken.digest == digest)
    ).first()
    if row is None:
        raise AuthenticationFailed("expected a valid bearer token, got an unknown one")
    user, expires_ms, revoked_ms = row
    if revoked_ms is not None:
        raise AuthenticationFailed("expected a valid bearer token, got a revoked one")
    if expires_ms <= now:
        raise AuthenticationFailed("expected a valid bearer token, got an expired one")
    if not user.active:
        raise AuthenticationFailed("expected an active user, got a deactivated one")
    assignments: frozenset[tuple[int, int]] = frozenset()
    if user.role == "verifier":
        assignments = frozenset(
            (e, int(y))
            for e, y in s.execute(
                select(VerifierAssignment.enterprise_id, VerifierAssignment.year).where(
                    VerifierAssignment.user_id == user.id
                )
            ).all()
        )
    principal = Principal(
        name=user.name,
        role=user.role,
        user_id=user.id,
        enterprise_id=user.enterprise_id,
        assignments=assignments,
        timezone=_timezone(s) if assignments else "Asia/Shanghai",
    )
    if cache is not None:
        cache.put(digest, principal, expires_ms, generation)
    return principal


def revoke_token(s: Session, settings: SecuritySettings, token: str, principal: Principal) -> bool:
    """Revoke a token of the principal's own (RFC 7009: unknown tokens are not an error); True if revoked."""
    stmt = (
        update(AuthToken)
        .where(AuthToken.digest == _digest(settings, token), AuthToken.revoked_ms.is_(None))
        .values(revoked_ms=_now_ms())
    )
    if principal.role != "park_admin":
        stmt = stmt.where(AuthToken.user_id == principal.user_id)
    return bool(s.execute(stmt).rowcount)  # type: ignore[attr-defined]


def revoke_user_tokens(s: Session, user: str | int, actor: str) -> int:
    """Revoke every live token of ``user``; the number revoked."""
    u = _user(s, user)
    n = s.execute(
        update(AuthToken).where(AuthToken.user_id == u.id, AuthToken.revoked_ms.is_(None)).values(revoked_ms=_now_ms())
    ).rowcount  # type: ignore[attr-defined]
    _audit(s, actor, "revoke", "auth_tokens", u.id, {"user": u.name, "revoked": int(n)})
    return int(n)


def add_api_key(
    s: Session,
    settings: SecuritySettings,
    name: str,
    actor: str,
    *,
    enterprise: str | int | None = None,
    meters: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a device/gateway key scoped to an enterprise or to meters; returns the row and the key (shown once).

    Exactly one of ``enterprise`` and ``meters`` is given. Meter-scoped keys record the meters'
    enterprise when they all belong to one.
    """
    name = _check_name(name)
    if (enterprise is None) == (not meters):
        raise ValidationError(
            "scope", "either an enterprise or one or more meters", {"enterprise": enterprise, "meters": meters}
        )
    if s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.name == name)):
        raise DuplicateError(f"API key {name!r} already exists; key names are unique")
    meter_rows = [resolve(s, Meter, m) for m in meters or []]
    ent_id: int | None
    if enterprise is not None:
        ent_id = resolve(s, Enterprise, enterprise).id
    else:
        owners = {m.enterprise_id for m in meter_rows}
        ent_id = owners.pop() if len(owners) == 1 else None
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        key_prefix=secret[:12],
        digest=_digest(settings, secret),
        enterprise_id=ent_id,
        created_ms=_now_ms(),
    )
    s.add(row)
    s.flush()
    for m in {m.id: m for m in meter_rows}.values():
        s.add(ApiKeyMeter(key_id=row.id, meter_id=m.id))
    s.flush()
    _audit(s, actor, "create", "api_keys", row.id, key_public(s, row))
    return row, secret


def key_public(s: Session, key: ApiKey) -> dict[str, Any]:
    """What may be shown of a key: name, first characters, scope; never the key or its digest."""
    meters = s.scalars(select(ApiKeyMeter.meter_id).where(ApiKeyMeter.key_id == key.id).order_by(ApiKeyMeter.meter_id))
    return _key_dict(key, list(meters))


def _key_dict(key: ApiKey, meter_ids: list[int]) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "enterprise_id": key.enterprise_id,
        "meter_ids": meter_ids,
        "created_ms": key.created_ms,
        "revoked_ms": key.revoked_ms,
    }


def keys_page(s: Session, *, sort: str = "id", limit: int = 100, offset: int = 0) -> Page:
    """One page of API keys (without secrets); ``sort`` is one of :data:`KEY_SORT`, cut in SQL."""
    columns = {"id": ApiKey.id, "name": ApiKey.name, "created": ApiKey.created_ms}
    rows, total = page_of(s, select(ApiKey), columns=columns, sort=sort, limit=limit, offset=offset)
    meters: dict[int, list[int]] = {}
    if rows:
        picked = select(ApiKeyMeter).where(ApiKeyMeter.key_id.in_([k.id for k in rows]))
        for km in s.scalars(picked.order_by(ApiKeyMeter.key_id, ApiKeyMeter.meter_id)):
            meters.setdefault(km.key_id, []).append(km.meter_id)
    items = [_key_dict(k, meters.get(k.id, [])) for k in rows]
    return Page(items, total, limit, offset)


def list_keys(s: Session) -> list[dict[str, Any]]:
    """Every API key (without secrets)."""
    return [key_public(s, k) for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(s: Session, ref: str | int, actor: str) -> dict[str, Any]:
    """Revoke an API key by id or name."""
    text = str(ref).strip()
    key = s.scalars(select(ApiKey).where(ApiKey.id == int(text) if text.isdigit() else ApiKey.name == text)).first()
    if key is None:
        raise NotFoundError("api key", ref)
    if key.revoked_ms is None:
        key.revoked_ms = _now_ms()
        s.flush()
        _audit(s, actor, "revoke", "api_keys", key.id, key_public(s, key))
    return key_public(s, key)


def authenticate_key(s: Session, settings: SecuritySettings, secret: str) -> Principal:
    """The device principal of an ``X-API-Key``; :class:`AuthenticationFailed` if unknown or revoked."""
    key = s.scalars(select(ApiKey).where(ApiKey.digest == _digest(settings, secret))).first()
    if key is None or key.revoked_ms is not None:
        raise AuthenticationFailed("expected a valid API key in X-API-Key, got an unknown or revoked one")
    meter_ids = frozenset(s.scalars(select(ApiKeyMeter.meter_id).where(ApiKeyMeter.key_id == key.id)))
    return Principal(name=key.name, role="device", key_id=key.id, enterprise_id=key.enterprise_id, meter_ids=meter_ids)


def purge_failures(s: Session, settings: SecuritySettings) -> int:
    """Delete failed-login records older than the throttling window; the number deleted."""
    cutoff = _now_ms() - settings.login_window_seconds * 1000
    return int(s.execute(delete(LoginFailure).where(LoginFailure.at_ms < cutoff)).rowcount)  # type: ignore[attr-defined]


#: Demo user names, one per role (SPEC §1); the enterprise user is bound to the first enterprise.
DEMO_USERS: dict[str, str] = {
    "park_admin": "demo-admin",
    "enterprise": "demo-enterprise",
    "verifier": "demo-verifier",
    "regulator": "demo-regulator",
}
DEMO_KEY = "demo-gateway"


def create_demo_users(s: Session, password: str, year: int, settings: SecuritySettings) -> dict[str, Any]:
    """One user of each role and one device key on the demo park; nothing if they already exist.

    The verifier is assigned to the first key-emitting enterprise (or the first one) for ``year``;
    the device key is scoped to that enterprise. Returns names, and the device key if it was created.
    """
    if s.scalar(select(func.count()).select_from(User).where(User.name.in_(DEMO_USERS.values()))):
        return {"users": dict(DEMO_USERS), "created": False}
    first = s.scalars(select(Enterprise).order_by(Enterprise.key_emitter.desc(), Enterprise.id)).first()
    if first is None:
        raise NotFoundError("enterprise", "(any): build the demo park first")
    for role, name in DEMO_USERS.items():
        add_user(s, name, role, password, "demo", enterprise=first.id if role == "enterprise" else None)
    assign_verifier(s, DEMO_USERS["verifier"], first.id, year, "demo")
    _, key = add_api_key(s, settings, DEMO_KEY, "demo", enterprise=first.id)
    return {"users": dict(DEMO_USERS), "created": True, "enterprise_id": first.id, "device_key": key}


#: The member of a demo step's figures holding what is shown once: the generated password, the
#: device key. ``carbonpark demo`` prints it (console summary, or ``--json`` on standard output) and
#: writes the summary file through :func:`without_secrets`, so no secret lands in a file.
SECRETS = "secrets"


def demo_users_step(db: str | None, year: int) -> dict[str, Any]:
    """The demo step creating one user per role: names, and where the password and key are shown.

    The password is ``$CARBONPARK_DEMO_PASSWORD`` if set; otherwise a random one is generated.
    A generated password and the device key are returned under :data:`SECRETS` only, the one
    time they exist in clear (their hashes are stored): the demo prints them once and leaves
    them out of ``demo-summary.json`` (:func:`without_secrets`). A second run creates nothing and
    returns no secret (the users keep their password).
    """
    given = os.environ.get("CARBONPARK_DEMO_PASSWORD", "")
    password = given or secrets.token_urlsafe(12)
    with session(db) as s:
        result = create_demo_users(s, password, year, SecuritySettings())
    figures: dict[str, Any] = {"users": ", ".join(f"{name} ({role})" for role, name in DEMO_USERS.items())}
    if not result["created"]:
        figures["password"] = "unchanged (users existed already)"
        return figures
    shown = "shown once by carbonpark demo (console or --json output), never stored in files"
    figures["password"] = "$CARBONPARK_DEMO_PASSWORD" if given else shown
    figures["device_key"] = f"{DEMO_KEY}: {shown}"
    once: dict[str, str] = {} if given else {"password": password}
    figures[SECRETS] = {**once, "device_key": result["device_key"]}
    return figures


def without_secrets(doc: Any) -> Any:
    """A copy of ``doc`` (nested dicts and lists) without any :data:`SECRETS` member, for writing to files.

    ``carbonpark demo`` writes ``demo-summary.json`` through this: a file under the usual umask is
    readable by every local user, so it says where the secrets were shown, never what they are.
    """
    if isinstance(doc, dict):
        return {k: without_secrets(v) for k, v in doc.items() if k != SECRETS}
    if isinstance(doc, list):
        return [without_secrets(v) for v in doc]
    return doc
