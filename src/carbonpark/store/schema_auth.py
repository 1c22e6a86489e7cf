"""Tables of users, roles, tokens, API keys and verifier assignments (issue 3, SPEC §1, C19).

Secrets are never stored: passwords as argon2 hashes, bearer tokens and API keys as
HMAC-SHA256 digests keyed by ``CARBONPARK_SECRET_KEY`` (see :mod:`carbonpark.services.auth`).
Migration: ``migrations/versions/auth_0001.py`` (Alembic branch ``auth``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = ["ApiKey", "ApiKeyMeter", "AuthToken", "LoginFailure", "User", "VerifierAssignment"]

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class User(Base):
    """A person who logs in: one role; ``enterprise`` users are bound to one enterprise."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class AuthToken(Base):
    """A bearer token issued by ``POST /api/auth/token``: its digest, expiry and revocation time."""

    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """A key of a device or gateway (role ``device``): scoped to an enterprise or to a list of meters."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class ApiKeyMeter(Base):
    """One meter an API key may write readings for."""

    __tablename__ = "api_key_meters"
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)


class VerifierAssignment(Base):
    """A verifier may read one enterprise for one reporting year (SPEC §1; guide §7.2)."""

    __tablename__ = "verifier_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    year: Mapped[int] = mapped_column(SmallInteger)
    __table_args__ = (UniqueConstraint("user_id", "enterprise_id", "year"),)


class LoginFailure(Base):
    """A failed login, kept to throttle password guessing across server workers."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_login_failures_name_at", "name", "at_ms"),
        Index("ix_login_failures_client_at", "client", "at_ms"),
    )
