"""Table of the transfers capability: energy and CO2 passed between parties inside the park.

``energy_transfers`` holds one record per (seller, buyer, carrier, period): electricity, heat or
steam, waste heat, or CO2 sold as a product, from an enterprise or the park itself (``NULL``
enterprise id = the park, e.g. its CHP or PV plant) to another. Each record is turned into two
activity data (``activity_data`` rows of series ``transfer:<id>:out`` at the seller and
``transfer:<id>:in`` at the buyer), so both sides' accounting and the park reconciliation use it;
``seller_datum_id`` and ``buyer_datum_id`` point at them.

Migration: ``migrations/versions/transfers_0001.py`` (branch ``transfers`` off ``0001``).

References
----------
The guide §4.3 (park accounting, formula (3)); GB/T 32150-2015 (exported heat and power deducted
at the sender); SPEC C7 (never count one tonne twice).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.store.schema import Base

__all__ = ["EnergyTransferRecord"]

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class EnergyTransferRecord(Base):
    """One transfer of energy or CO2 between two parties of the park for a local calendar period.

    ``key`` is ``<seller>|<buyer>|<carrier>|<period>`` with ``park`` for the park itself; a second
    import of the same key updates the record. ``amount`` is in ``unit`` as given (checked with
    :mod:`carbonpark.units`: an energy unit for electricity and heat, energy or mass for steam,
    mass for CO2).
    """

    __tablename__ = "energy_transfers"
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    seller_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    buyer_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    evidence: Mapped[str] = mapped_column(Text, default="")
    seller_datum_id: Mapped[int | None] = mapped_column(ForeignKey("activity_data.id"))
    buyer_datum_id: Mapped[int | None] = mapped_column(ForeignKey("activity_data.id"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
