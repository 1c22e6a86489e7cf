"""trading: park registry accounts and movements, market orders and trades, national statements,
energy caps, product quotas, compliance results

Revision ID: trading_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "trading_0001"
down_revision = "0001"
branch_labels = ("trading",)
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AMOUNT = sa.Numeric(20, 2)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "trading_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("pocket", sa.String(length=16), nullable=False),
        sa.Column("balance", _AMOUNT, nullable=False),
        _fk("trading_accounts", "park_id", "parks"),
        _fk("trading_accounts", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_accounts")),
        sa.UniqueConstraint("park_id", "holder", "asset", "pocket", name=op.f("uq_trading_accounts_park_id")),
        sa.CheckConstraint("balance >= 0 OR holder = '@external'", name=op.f("ck_trading_accounts_not_negative")),
    )
    op.create_index("ix_trading_accounts_park_id", "trading_accounts", ["park_id"])
    op.create_index("ix_trading_accounts_enterprise_id", "trading_accounts", ["enterprise_id"])

    op.create_table(
        "trading_movements",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("debit_id", sa.Integer(), nullable=False),
        sa.Column("credit_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("amount", _AMOUNT, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        _fk("trading_movements", "park_id", "parks"),
        sa.ForeignKeyConstraint(
            ["debit_id"], ["trading_accounts.id"], name=op.f("fk_trading_movements_debit_id_trading_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["trading_accounts.id"], name=op.f("fk_trading_movements_credit_id_trading_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_movements")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_trading_movements_positive")),
    )
    op.create_index("ix_trading_movements_park_id", "trading_movements", ["park_id"])
    op.create_index("ix_trading_movements_debit_id", "trading_movements", ["debit_id"])
    op.create_index("ix_trading_movements_credit_id", "trading_movements", ["credit_id"])

    op.create_table(
        "trading_orders",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("market", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", _AMOUNT, nullable=True),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("reserved", _AMOUNT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("trading_orders", "park_id", "parks"),
        _fk("trading_orders", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_orders")),
        sa.UniqueConstraint("park_id", "market", "order_ref", name=op.f("uq_trading_orders_park_id")),
    )
    op.create_index("ix_trading_orders_enterprise_id", "trading_orders", ["enterprise_id"])
    op.create_index("ix_trading_orders_book", "trading_orders", ["park_id", "market", "asset", "status"])

    op.create_table(
        "trading_trades",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("market", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=40), nullable=False),
        sa.Column("buyer", sa.String(length=128), nullable=False),
        sa.Column("seller", sa.String(length=128), nullable=False),
        sa.Column("buyer_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("seller_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", _AMOUNT, nullable=False),
        sa.Column("buy_order", sa.String(length=64), nullable=False),
        sa.Column("sell_order", sa.String(length=64), nullable=False),
        sa.Column("aggressor", sa.String(length=4), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        _fk("trading_trades", "park_id", "parks"),
        sa.ForeignKeyConstraint(
            ["buyer_enterprise_id"], ["enterprises.id"], name=op.f("fk_trading_trades_buyer_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["seller_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_trading_trades_seller_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_trades")),
        sa.UniqueConstraint("park_id", "market", "seq", name=op.f("uq_trading_trades_park_id")),
    )
    op.create_index("ix_trading_trades_buyer_enterprise_id", "trading_trades", ["buyer_enterprise_id"])
    op.create_index("ix_trading_trades_seller_enterprise_id", "trading_trades", ["seller_enterprise_id"])
    op.create_index("ix_trading_trades_asset", "trading_trades", ["park_id", "market", "asset", "at_ms"])

    op.create_table(
        "registry_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("statement_ref", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.String(length=10), nullable=False),
        sa.Column("imported_ms", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("holdings", sa.JSON(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("aligned", sa.Integer(), nullable=False),
        _fk("registry_statements", "park_id", "parks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_statements")),
        sa.UniqueConstraint("park_id", "statement_ref", name=op.f("uq_registry_statements_park_id")),
    )
    op.create_index("ix_registry_statements_park_id", "registry_statements", ["park_id"])

    op.create_table(
        "energy_caps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("org", sa.String(length=128), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("total_cap_tce", sa.Numeric(20, 4), nullable=True),
        sa.Column("intensity_cap", sa.Numeric(20, 6), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        _fk("energy_caps", "park_id", "parks"),
        _fk("energy_caps", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_caps")),
        sa.UniqueConstraint("park_id", "org", "year", name=op.f("uq_energy_caps_park_id")),
    )
    op.create_index("ix_energy_caps_park_id", "energy_caps", ["park_id"])
    op.create_index("ix_energy_caps_enterprise_id", "energy_caps", ["enterprise_id"])

    op.create_table(
        "product_quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=128), nullable=False),
        sa.Column("output_metric", sa.String(length=100), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("limit_kgce_per_unit", sa.Numeric(20, 4), nullable=False),
        sa.Column("advanced_kgce_per_unit", sa.Numeric(20, 4), nullable=True),
        sa.Column("standard", sa.String(length=200), nullable=False),
        _fk("product_quotas", "park_id", "parks"),
        _fk("product_quotas", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_quotas")),
        sa.UniqueConstraint("enterprise_id", "product", name=op.f("uq_product_quotas_enterprise_id")),
    )
    op.create_index("ix_product_quotas_park_id", "product_quotas", ["park_id"])
    op.create_index("ix_product_quotas_enterprise_id", "product_quotas", ["enterprise_id"])

    op.create_table(
        "compliance_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("obligation", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("surrendered_allowances", sa.BigInteger(), nullable=False),
        sa.Column("surrendered_ccer", sa.BigInteger(), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("assessed_ms", sa.BigInteger(), nullable=False),
        _fk("compliance_results", "park_id", "parks"),
        _fk("compliance_results", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_results")),
    )
    op.create_index("ix_compliance_results_park_id", "compliance_results", ["park_id"])
    op.create_index("ix_compliance_results_enterprise_id", "compliance_results", ["enterprise_id"])
    op.create_index("ix_compliance_results_year", "compliance_results", ["enterprise_id", "programme", "year"])


def downgrade() -> None:
    for table in (
        "compliance_results",
        "product_quotas",
        "energy_caps",
        "registry_statements",
        "trading_trades",
        "trading_orders",
        "trading_movements",
        "trading_accounts",
    ):
        op.drop_table(table)
