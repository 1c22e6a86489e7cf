"""Tables of the identifier registry (标识解析, issue 7): identifiers, their typed values, nodes, usage.

* ``identifiers``: one row per registered identifier (registry entities and virtual assets),
  with the registry row it stands for (``entity``, ``entity_id``) and its owner enterprise;
* ``identifier_values``: the Handle values (index, type, data, ttl, timestamp, public flag);
* ``identifier_nodes``: enterprise nodes (sub-prefixes) and prefixes served by other resolvers;
* ``identifier_resolution_counts`` and ``identifier_users``: resolutions per year and response
  code, and who used identifiers in a year (evaluation indicators 17 and 18).

History of every change is the audit log (:class:`~carbonpark.store.schema.AuditEntry`).
Migration: ``migrations/versions/identifiers_0001.py`` (Alembic branch ``identifiers``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carbonpark.store.schema import Base

__all__ = [
    "Identifier",
    "IdentifierNode",
    "IdentifierResolutionCount",
    "IdentifierUser",
    "IdentifierValue",
    "TransportLegRow",
]

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class Identifier(Base):
    """A registered identifier: a registry entity's handle or a virtual asset's."""

    __tablename__ = "identifiers"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    handle: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    owner_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    values: Mapped[list[IdentifierValue]] = relationship(
        back_populates="identifier", order_by="IdentifierValue.idx", cascade="all, delete-orphan"
    )


class IdentifierValue(Base):
    """One typed value of an identifier (Handle: index, type, data, ttl, timestamp; here also ``public``)."""

    __tablename__ = "identifier_values"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    identifier_id: Mapped[int] = mapped_column(ForeignKey("identifiers.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32), index=True)
    data_format: Mapped[str] = mapped_column(String(16))
    data: Mapped[str] = mapped_column(Text)
    ttl: Mapped[int] = mapped_column(Integer)
    public: Mapped[bool] = mapped_column(Boolean)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    identifier: Mapped[Identifier] = relationship(back_populates="values")
    __table_args__ = (UniqueConstraint("identifier_id", "idx"),)

    @property
    def handle(self) -> str:
        """The identifier's handle (so the audit log names it)."""
        return self.identifier.handle


class IdentifierNode(Base):
    """A prefix below or beside the park's: an enterprise node (served here or by its own resolver)."""

    __tablename__ = "identifier_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(128), unique=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    resolver_url: Mapped[str] = mapped_column(String(500), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)


class IdentifierResolutionCount(Base):
    """Resolutions answered in a year with one response code."""

    __tablename__ = "identifier_resolution_counts"
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    response_code: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class IdentifierUser(Base):
    """A user who used identifiers (registered, changed or resolved while logged in) in a year."""

    __tablename__ = "identifier_users"
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    user: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_ms: Mapped[int] = mapped_column(BigInteger)


class TransportLegRow(Base):
    """One transport leg of an input (a material or another product) into one unit of a product.

    ``distance_km × mass_t × factor_tco2e_per_tkm`` [tCO2e per unit of the product]. ``mass_t`` empty
    means the input's amount in its bill of materials, in tonnes (only for inputs counted in a mass
    unit). Legs of one (product, input) are applied in ``seq`` order (e.g. rail, then truck).
    """

    __tablename__ = "footprint_transport_legs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"))
    input_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(SmallInteger)
    mode: Mapped[str] = mapped_column(String(32))
    distance_km: Mapped[float] = mapped_column(Float)
    mass_t: Mapped[float | None] = mapped_column(Float)
    factor_tco2e_per_tkm: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(500))
    grade: Mapped[str] = mapped_column(String(1), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (
        CheckConstraint("(material_id IS NULL) <> (input_product_id IS NULL)", name="one_input"),
        CheckConstraint("distance_km > 0 AND factor_tco2e_per_tkm >= 0", name="positive"),
    )
