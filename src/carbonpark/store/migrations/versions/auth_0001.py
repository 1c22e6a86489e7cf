"""auth: users, bearer tokens, API keys, verifier assignments, login failures; audit log append-only

Revision ID: auth_0001
Revises: 0001
Create Date: 2026-11-25 10:00:00

The audit log (``audit_log``, created by 0001) becomes append-only in the database itself:
a trigger refuses every UPDATE and DELETE on it (issue 3 item 4).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0001"
down_revision = "0001"
branch_labels = ("auth",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name=op.f("fk_users_enterprise_id_enterprises")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_index(op.f("ix_users_enterprise_id"), "users", ["enterprise_id"], unique=False)
    op.create_table(
        "auth_tokens",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_auth_tokens_digest")),
    )
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_api_keys_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_index(op.f("ix_api_keys_enterprise_id"), "api_keys", ["enterprise_id"], unique=False)
    op.create_table(
        "api_key_meters",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_api_key_meters_key_id_api_keys")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_api_key_meters_meter_id_meters")),
        sa.PrimaryKeyConstraint("key_id", "meter_id", name=op.f("pk_api_key_meters")),
    )
    op.create_table(
        "verifier_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_verifier_assignments_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_verifier_assignments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifier_assignments")),
        sa.UniqueConstraint("user_id", "enterprise_id", "year", name=op.f("uq_verifier_assignments_user_id")),
    )
    op.create_index(op.f("ix_verifier_assignments_user_id"), "verifier_assignments", ["user_id"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_name_at", "login_failures", ["name", "at_ms"], unique=False)
    op.create_index("ix_login_failures_client_at", "login_failures", ["client", "at_ms"], unique=False)
    _append_only_audit_log()


def _append_only_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION carbonpark_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION carbonpark_audit_append_only()"
        )
        return
    for what in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION carbonpark_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    op.drop_table("login_failures")
    op.drop_table("verifier_assignments")
    op.drop_table("api_key_meters")
    op.drop_table("api_keys")
    op.drop_table("auth_tokens")
    op.drop_table("users")
