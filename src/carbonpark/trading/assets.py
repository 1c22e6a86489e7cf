"""What the registry holds: assets, accounts and the exact amounts they carry.

Tonnes of allowances and CCER credits and tonnes of standard coal (tce) of energy-use
rights are whole numbers (``int``); cash is ``Decimal`` CNY to the fen (0.01). Nothing in
this package uses binary floats for money or tonnes.

References
----------
Guide §7.3 (carbon trading: allowances and CCER); guide §2.2(4) (carbon-emission rights
and energy-use rights traded side by side); 《碳排放权交易管理办法（试行）》 (MEE Decree
No. 19, 2021), Art. 29 on CCER offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

from carbonpark.errors import ValidationError

__all__ = [
    "ALLOWANCE",
    "AVAILABLE",
    "CASH",
    "CCER",
    "ENERGY_RIGHT",
    "EXTERNAL",
    "FEN",
    "KINDS",
    "RESERVED",
    "SURRENDERED",
    "AccountKey",
    "Amount",
    "Asset",
    "parse_asset",
    "to_cash",
    "to_price",
    "to_tonnes",
]

ALLOWANCE: Final = "allowance"
"""Carbon emission allowance (碳排放配额) [tCO2e], carries a vintage (the year it was allocated for)."""
CCER: Final = "ccer"
"""China Certified Emission Reduction (国家核证自愿减排量) [tCO2e]."""
ENERGY_RIGHT: Final = "energy_right"
"""Energy-use right (用能权) [tce], carries a vintage."""
CASH: Final = "cash"
"""Money [CNY], a ``Decimal`` to the fen."""
KINDS: Final = (ALLOWANCE, CCER, ENERGY_RIGHT, CASH)

AVAILABLE: Final = "available"
"""Pocket of an account that its holder may use freely."""
RESERVED: Final = "reserved"
"""Pocket that backs resting orders; only the market moves it."""

EXTERNAL: Final = "@external"
"""The world outside the park registry (allocating authority, national registry, bank).

Its accounts are contra accounts: they may go negative, and minus their balance is what
entered the park from outside. All other holders are never negative.
"""
SURRENDERED: Final = "@surrendered"
"""Where surrendered allowances and CCER go (清缴): a sink that only grows."""

FEN: Final = Decimal("0.01")
"""Smallest cash amount [CNY]."""

Amount = int | Decimal
"""Whole units (tonnes, tce) for instruments, ``Decimal`` CNY for cash."""


@dataclass(frozen=True, order=True, slots=True)
class Asset:
    """One fungible thing the registry counts.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    vintage
        Year an allowance or energy-use right was allocated for; ``None`` for CCER, cash
        and undated simulation allowances.
    """

    kind: str
    vintage: int | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError("asset.kind", f"one of {', '.join(KINDS)}", self.kind)
        if self.vintage is not None and self.kind in (CCER, CASH):
            raise ValidationError("asset.vintage", f"no vintage for {self.kind}", self.vintage)
        # computed once: assets key every balance and book lookup
        object.__setattr__(self, "_hash", hash((self.kind, self.vintage)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Asset], tuple[str, int | None]]:
        # rebuilt, not restored: the cached hash of a str differs between processes
        return Asset, (self.kind, self.vintage)

    @property
    def is_cash(self) -> bool:
        """Whether amounts of this asset are ``Decimal`` CNY (else whole units)."""
        return self.kind == CASH

    @property
    def code(self) -> str:
        """Short text form, e.g. ``allowance:2024``, ``ccer``, ``cash``."""
        return self.kind if self.vintage is None else f"{self.kind}:{self.vintage}"

    def __str__(self) -> str:
        return self.code


def parse_asset(text: str) -> Asset:
    """Read an asset code such as ``allowance``, ``allowance:2024`` or ``energy_right:2025``."""
    kind, sep, year = str(text).partition(":")
    if not sep:
        return Asset(kind)
    if not year.isdigit():
        raise ValidationError("instrument", "a vintage year after ':' (e.g. allowance:2024)", text)
    return Asset(kind, int(year))


@dataclass(frozen=True, order=True, slots=True)
class AccountKey:
    """One account: a holder's pocket of one asset.

    Parameters
    ----------
    holder
        Enterprise name or id, or a system holder (:data:`EXTERNAL`, :data:`SURRENDERED`).
    asset
        What the account counts.
    pocket
        :data:`AVAILABLE` or :data:`RESERVED`.
    """

    holder: str
    asset: Asset
    pocket: str = AVAILABLE

    @property
    def is_contra(self) -> bool:
        """Whether this account may go negative (only the outside world's accounts)."""
        return self.holder == EXTERNAL

    @property
    def code(self) -> str:
        """Text form ``holder/asset/pocket``."""
        return f"{self.holder}/{self.asset.code}/{self.pocket}"


def to_tonnes(value: object, field: str) -> int:
    """Read a whole, non-negative number of units [t or tce].

    Raises
    ------
    ValidationError
        For booleans, fractions, negative numbers and text that is not an integer.
    """
    if isinstance(value, bool):
        raise ValidationError(field, "a whole number of tonnes", value)
    if isinstance(value, int):
        result = value
    else:
        try:
            dec = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(field, "a whole number of tonnes", value) from None
        if not dec.is_finite() or dec != dec.to_integral_value():
            raise ValidationError(field, "a whole number of tonnes", value)
        result = int(dec)
    if result < 0:
        raise ValidationError(field, "a number ≥ 0", value)
    return result


def _to_decimal(value: object, field: str, expected: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, expected, value)
    try:
        # str() first: a YAML float 50.1 becomes Decimal('50.1'), not its binary expansion
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(field, expected, value) from None
    if not dec.is_finite():
        raise ValidationError(field, expected, value)
    return dec


def to_cash(value: object, field: str) -> Decimal:
    """Read a non-negative cash amount [CNY] with at most two decimals (fen)."""
    dec = _to_decimal(value, field, "an amount of CNY ≥ 0 with at most 2 decimals")
    if dec < 0 or dec != dec.quantize(FEN):
        raise ValidationError(field, "an amount of CNY ≥ 0 with at most 2 decimals", value)
    return dec.quantize(FEN)


def to_price(value: object, field: str) -> Decimal:
    """Read a positive unit price [CNY/t] with at most two decimals, so every trade value is exact fen."""
    dec = _to_decimal(value, field, "a price in CNY > 0 with at most 2 decimals")
    if dec <= 0 or dec != dec.quantize(FEN):
        raise ValidationError(field, "a price in CNY > 0 with at most 2 decimals", value)
    return dec.quantize(FEN)
