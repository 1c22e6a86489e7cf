"""inventory: settings, versions, step events, verifiers, assignments, documents, findings, statements, plans

Revision ID: inventory_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "inventory_0001"
down_revision = "0001"
branch_labels = ("inventory",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifier_orgs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("accreditation", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifier_orgs")),
        sa.UniqueConstraint("name", name=op.f("uq_verifier_orgs_name")),
    )
    op.create_table(
        "verifier_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verifier_org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["verifier_org_id"], ["verifier_orgs.id"], name=op.f("fk_verifier_users_verifier_org_id_verifier_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifier_users")),
        sa.UniqueConstraint("verifier_org_id", "name", name=op.f("uq_verifier_users_verifier_org_id")),
    )
    op.create_index(op.f("ix_verifier_users_verifier_org_id"), "verifier_users", ["verifier_org_id"], unique=False)
    op.create_table(
        "inventory_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_inventory_documents_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_documents")),
    )
    op.create_index(
        op.f("ix_inventory_documents_enterprise_id"), "inventory_documents", ["enterprise_id"], unique=False
    )
    op.create_index("ix_inventory_documents_org_year", "inventory_documents", ["org", "year"], unique=False)
    op.create_table(
        "inventory_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("boundary", sa.JSON(), nullable=False),
        sa.Column("operational", sa.JSON(), nullable=False),
        sa.Column("base_year", sa.Integer(), nullable=True),
        sa.Column("threshold_pct", sa.Float(), nullable=False),
        sa.Column("guideline", sa.String(length=32), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_inventory_settings_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_settings")),
        sa.UniqueConstraint("org", "year", name=op.f("uq_inventory_settings_org")),
    )
    op.create_index(op.f("ix_inventory_settings_enterprise_id"), "inventory_settings", ["enterprise_id"], unique=False)
    op.create_table(
        "inventory_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_tco2e", sa.Float(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("supersedes_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("status_ms", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_inventory_versions_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["inventory_versions.id"],
            name=op.f("fk_inventory_versions_supersedes_id_inventory_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_versions")),
        sa.UniqueConstraint("org", "year", "version", name=op.f("uq_inventory_versions_org")),
    )
    op.create_index(op.f("ix_inventory_versions_enterprise_id"), "inventory_versions", ["enterprise_id"], unique=False)
    op.create_index("ix_inventory_versions_org_year", "inventory_versions", ["org", "year"], unique=False)
    op.create_table(
        "monitoring_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("guideline", sa.String(length=32), nullable=False),
        sa.Column("valid_from_year", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_monitoring_plans_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_plans")),
        sa.UniqueConstraint("enterprise_id", "version", name=op.f("uq_monitoring_plans_enterprise_id")),
    )
    op.create_index(op.f("ix_monitoring_plans_enterprise_id"), "monitoring_plans", ["enterprise_id"], unique=False)
    op.create_table(
        "verification_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verifier_org_id", sa.Integer(), nullable=False),
        sa.Column("lead_user_id", sa.Integer(), nullable=True),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_verification_assignments_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["lead_user_id"],
            ["verifier_users.id"],
            name=op.f("fk_verification_assignments_lead_user_id_verifier_users"),
        ),
        sa.ForeignKeyConstraint(
            ["verifier_org_id"],
            ["verifier_orgs.id"],
            name=op.f("fk_verification_assignments_verifier_org_id_verifier_orgs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_assignments")),
        sa.UniqueConstraint("org", "year", "verifier_org_id", name=op.f("uq_verification_assignments_org")),
    )
    op.create_index(
        op.f("ix_verification_assignments_enterprise_id"), "verification_assignments", ["enterprise_id"], unique=False
    )
    op.create_index(
        op.f("ix_verification_assignments_verifier_org_id"),
        "verification_assignments",
        ["verifier_org_id"],
        unique=False,
    )
    op.create_table(
        "inventory_step_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workflow", sa.String(length=16), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["verification_assignments.id"],
            name=op.f("fk_inventory_step_events_assignment_id_verification_assignments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_step_events")),
    )
    op.create_index("ix_inventory_step_events_key", "inventory_step_events", ["workflow", "org", "year"], unique=False)
    op.create_table(
        "verification_findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("check", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("misstatement_tco2e", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("correction", sa.Text(), nullable=False),
        sa.Column("corrected_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["verification_assignments.id"],
            name=op.f("fk_verification_findings_assignment_id_verification_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["corrected_version_id"],
            ["inventory_versions.id"],
            name=op.f("fk_verification_findings_corrected_version_id_inventory_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_findings")),
    )
    op.create_index(
        op.f("ix_verification_findings_assignment_id"), "verification_findings", ["assignment_id"], unique=False
    )
    op.create_table(
        "verification_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level_of_assurance", sa.String(length=16), nullable=False),
        sa.Column("materiality_pct", sa.Float(), nullable=False),
        sa.Column("opinion", sa.String(length=16), nullable=False),
        sa.Column("verified_total_tco2e", sa.Float(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["verification_assignments.id"],
            name=op.f("fk_verification_statements_assignment_id_verification_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["verification_statements.id"],
            name=op.f("fk_verification_statements_supersedes_id_verification_statements"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["inventory_versions.id"],
            name=op.f("fk_verification_statements_version_id_inventory_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_statements")),
    )
    op.create_index(
        op.f("ix_verification_statements_assignment_id"), "verification_statements", ["assignment_id"], unique=False
    )


def downgrade() -> None:
    # indexes go with their tables
    op.drop_table("verification_statements")
    op.drop_table("verification_findings")
    op.drop_table("inventory_step_events")
    op.drop_table("verification_assignments")
    op.drop_table("monitoring_plans")
    op.drop_table("inventory_versions")
    op.drop_table("inventory_settings")
    op.drop_table("inventory_documents")
    op.drop_table("verifier_users")
    op.drop_table("verifier_orgs")
