"""Tables of the trading capability: the park registry, the park market and the energy side.

``trading_accounts`` holds one balance per (park, holder, asset, pocket): a holder is an
enterprise's handle or a system holder (``@external``, ``@surrendered``); an asset is its
code (``allowance:2025``, ``ccer``, ``energy_right:2025``, ``cash``). Balances are
``NUMERIC(20, 2)``: whole units for instruments, fen for cash; a CHECK constraint refuses
a negative balance for every holder but the outside world's contra accounts.
``trading_movements`` is the double-entry journal (one debit and one credit account per
row, each attested in the ledger as ``allowance_movement``). ``trading_orders`` and
``trading_trades`` are the park market; ``registry_statements`` the national registry
statements imported and their reconciliation; ``energy_caps`` the 能耗双控 caps;
``product_quotas`` the product energy-consumption limits users enter;
``compliance_results`` the outcome of each year's surrender.

Migration: ``migrations/versions/trading_0001.py`` (branch ``trading`` off ``0001``).

References
----------
Guide §7.3 (碳交易), §2.2(4) (碳排放权和用能权交易的统筹衔接), §8.1 (约束性指标); issue 12.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = [
    "ComplianceResult",
    "EnergyCap",
    "MarketOrder",
    "MarketTrade",
    "ProductQuotaRow",
    "RegistryStatement",
    "TradingAccount",
    "TradingMovement",
]

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
_AMOUNT = Numeric(20, 2)


class TradingAccount(Base):
    """One pocket of one holder's asset and its balance [t, tce or CNY]."""

    __tablename__ = "trading_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    holder: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    asset: Mapped[str] = mapped_column(String(40))
    pocket: Mapped[str] = mapped_column(String(16))
    balance: Mapped[Decimal] = mapped_column(_AMOUNT, default=Decimal("0"))
    __table_args__ = (
        UniqueConstraint("park_id", "holder", "asset", "pocket"),
        CheckConstraint("balance >= 0 OR holder = '@external'", name="not_negative"),
    )


class TradingMovement(Base):
    """One double-entry movement: ``debit`` receives ``amount``, ``credit`` gives it."""

    __tablename__ = "trading_movements"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    debit_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("trading_accounts.id"), index=True)
    asset: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(_AMOUNT)
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(128))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(128), default="")
    __table_args__ = (CheckConstraint("amount > 0", name="positive"),)


class MarketOrder(Base):
    """An order of the park market and its state (``open``, ``filled``, ``cancelled``)."""

    __tablename__ = "trading_orders"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"))
    market: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    side: Mapped[str] = mapped_column(String(4))
    asset: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal | None] = mapped_column(_AMOUNT)
    remaining: Mapped[int] = mapped_column(BigInteger)
    reserved: Mapped[Decimal] = mapped_column(_AMOUNT)
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("park_id", "market", "order_ref"),
        Index("ix_trading_orders_book", "park_id", "market", "asset", "status"),
    )


class MarketTrade(Base):
    """One fill of the park market, at the resting order's price [CNY/unit]."""

    __tablename__ = "trading_trades"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"))
    market: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    asset: Mapped[str] = mapped_column(String(40))
    buyer: Mapped[str] = mapped_column(String(128))
    seller: Mapped[str] = mapped_column(String(128))
    buyer_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    seller_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal] = mapped_column(_AMOUNT)
    buy_order: Mapped[str] = mapped_column(String(64))
    sell_order: Mapped[str] = mapped_column(String(64))
    aggressor: Mapped[str] = mapped_column(String(4))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("park_id", "market", "seq"),
        Index("ix_trading_trades_asset", "park_id", "market", "asset", "at_ms"),
    )


class RegistryStatement(Base):
    """A national registry statement as imported, with the differences found against the park mirror."""

    __tablename__ = "registry_statements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    statement_ref: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[str] = mapped_column(String(10))
    imported_ms: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    holdings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    differences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    aligned: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("park_id", "statement_ref"),)


class EnergyCap(Base):
    """能耗双控 caps of one enterprise (``org`` = its handle) or of the park (``org = 'park'``) for a year."""

    __tablename__ = "energy_caps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    org: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    total_cap_tce: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    intensity_cap: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    source: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (UniqueConstraint("park_id", "org", "year"),)


class ProductQuotaRow(Base):
    """A product energy-consumption limit (能耗限额) entered by a user [kgce per product unit]."""

    __tablename__ = "product_quotas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    product: Mapped[str] = mapped_column(String(128))
    output_metric: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(32))
    limit_kgce_per_unit: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    advanced_kgce_per_unit: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    standard: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (UniqueConstraint("enterprise_id", "product"),)


class ComplianceResult(Base):
    """The outcome of one enterprise's surrender for one compliance year (carbon or energy)."""

    __tablename__ = "compliance_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("parks.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    programme: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    obligation: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    surrendered_allowances: Mapped[int] = mapped_column(BigInteger, default=0)
    surrendered_ccer: Mapped[int] = mapped_column(BigInteger, default=0)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assessed_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_compliance_results_year", "enterprise_id", "programme", "year"),)
