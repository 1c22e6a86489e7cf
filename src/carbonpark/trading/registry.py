"""Double-entry registry of allowances, CCER credits, energy-use rights and cash.

Every movement debits one account (the one that receives) and credits another (the one
that gives) by the same amount of the same asset, so for every asset the sum over all
accounts is zero at all times (:meth:`Registry.trial_balance`). Only the outside world's
contra accounts (:data:`~carbonpark.trading.assets.EXTERNAL`) may be negative: minus their
balance is what was allocated, issued or deposited into the park. An enterprise account
never goes below zero; a movement that would make it so raises
:class:`~carbonpark.errors.IntegrityError` and changes nothing.

Each committed movement yields one ledger entry payload (a plain ``dict`` with
``kind = "allowance_movement"``) for attestation by the ledger's ``append``.

Running inside a database transaction
-------------------------------------
The registry reads and writes balances only through a :class:`BalanceBook`. The
in-memory book keeps a ``dict``; a store adapter implements the same four methods on
balance rows, opens a transaction, locks the rows it reads (``SELECT … FOR UPDATE`` on
PostgreSQL, in a fixed account order to avoid deadlocks), runs the registry operation,
writes the entry payloads through ``on_entry`` in the same transaction and commits.
Validation happens before any write, so a failed operation leaves nothing to roll back
in memory and the database transaction is simply rolled back.

References
----------
Guide §7.3(3): the national registry (全国碳排放权注册登记系统) is the record of title;
guide §7.2 and §3.2.2(2)1): what must be trusted is attested in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from carbonpark.errors import IntegrityError, ValidationError
from carbonpark.trading.assets import (
    AVAILABLE,
    EXTERNAL,
    FEN,
    RESERVED,
    SURRENDERED,
    AccountKey,
    Amount,
    Asset,
)

__all__ = [
    "MOVEMENT_KIND",
    "BalanceBook",
    "InMemoryBook",
    "Movement",
    "Registry",
]

MOVEMENT_KIND = "allowance_movement"
"""``kind`` of every ledger entry payload the registry produces."""


@dataclass(frozen=True, slots=True)
class Movement:
    """One double-entry movement.

    Parameters
    ----------
    seq
        Position in the registry's movement sequence (1, 2, …).
    debit
        Account that receives ``amount``.
    credit
        Account that gives ``amount``.
    amount
        Whole units [t, tce] or ``Decimal`` [CNY] for cash; always > 0.
    reason
        Why: ``allocation``, ``transfer``, ``trade``, ``reserve``, ``release``, ``surrender``, …
    ref
        Reference of the business event (order id, trade id, statement id), if any.
    at_ms
        When, as UTC epoch milliseconds, if the caller knows it.
    """

    seq: int
    debit: AccountKey
    credit: AccountKey
    amount: Amount
    reason: str
    ref: str | None = None
    at_ms: int | None = None

    @property
    def asset(self) -> Asset:
        """The asset moved (the same on both sides)."""
        return self.debit.asset

    def payload(self) -> dict[str, Any]:
        """The ledger entry for this movement: plain JSON-ready values, amounts as text."""
        return {
            "kind": MOVEMENT_KIND,
            "seq": self.seq,
            "asset": self.asset.code,
            "amount": str(self.amount),
            "debit": self.debit.code,
            "credit": self.credit.code,
            "reason": self.reason,
            "ref": self.ref,
            "at_ms": self.at_ms,
        }


class BalanceBook(Protocol):
    """Where balances live: a ``dict`` in memory or locked rows in a database transaction."""

    def balance(self, account: AccountKey) -> Amount:
        """Current balance of ``account`` (zero if it never moved)."""
        ...

    def set_balances(self, balances: Mapping[AccountKey, Amount], movements: list[Movement]) -> None:
        """Write new balances and the movements that produced them, all or nothing."""
        ...

    def accounts(self) -> Iterable[AccountKey]:
        """Every account that ever moved."""
        ...

    def last_seq(self) -> int:
        """Sequence number of the last committed movement (0 if none)."""
        ...


class InMemoryBook:
    """A :class:`BalanceBook` in a ``dict``, with the movement journal in a list."""

    def __init__(self) -> None:
        self._balances: dict[AccountKey, Amount] = {}
        self.journal: list[Movement] = []

    def balance(self, account: AccountKey) -> Amount:
        return self._balances.get(account, _zero(account.asset))

    def set_balances(self, balances: Mapping[AccountKey, Amount], movements: list[Movement]) -> None:
        self._balances.update(balances)
        self.journal.extend(movements)

    def accounts(self) -> Iterable[AccountKey]:
        return list(self._balances)

    def last_seq(self) -> int:
        return self.journal[-1].seq if self.journal else 0


def _zero(asset: Asset) -> Amount:
    return Decimal("0.00") if asset.is_cash else 0


def _check_amount(asset: Asset, amount: object) -> Amount:
    """A positive whole number of units, or a positive fen amount of cash."""
    if asset.is_cash:
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
            raise ValidationError("amount", "a Decimal amount of CNY", amount)
        dec = Decimal(amount)
        if dec <= 0 or dec != dec.quantize(FEN):
            raise ValidationError("amount", "a cash amount > 0 with at most 2 decimals [CNY]", amount)
        return dec.quantize(FEN)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValidationError("amount", f"a whole number of {_unit(asset)}", amount)
    if amount <= 0:
        raise ValidationError("amount", f"a whole number of {_unit(asset)} > 0", amount)
    return amount


def _unit(asset: Asset) -> str:
    return "tce" if asset.kind == "energy_right" else "tonnes"


class Registry:
    """The park registry: accounts, double-entry movements and attestation payloads.

    Parameters
    ----------
    book
        Where balances live; a fresh :class:`InMemoryBook` by default.
    on_entry
        Called with each committed movement's ledger payload, in order (e.g. the
        ledger's ``append``); the payloads are also kept in :attr:`entries`.

    Examples
    --------
    >>> from carbonpark.trading.assets import Asset
    >>> reg = Registry()
    >>> a24 = Asset("allowance", 2024)
    >>> _ = reg.issue("A", a24, 100, reason="allocation")
    >>> _ = reg.transfer("A", "B", a24, 40)
    >>> reg.balance("A", a24), reg.balance("B", a24)
    (60, 40)
    """

    def __init__(
        self,
        book: BalanceBook | None = None,
        on_entry: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.book: BalanceBook = book if book is not None else InMemoryBook()
        self.on_entry = on_entry
        self.entries: list[dict[str, Any]] = []
        self._pending: dict[AccountKey, Amount] | None = None
        self._pending_moves: list[Movement] = []

    # -- reading ---------------------------------------------------------------------------

    def _current(self, account: AccountKey) -> Amount:
        if self._pending is not None and account in self._pending:
            return self._pending[account]
        return self.book.balance(account)

    def balance(self, holder: str, asset: Asset, pocket: str = AVAILABLE) -> Amount:
        """Balance of one pocket of one holder's asset [t, tce or CNY]."""
        return self._current(AccountKey(holder, asset, pocket))

    def total(self, holder: str, asset: Asset) -> Amount:
        """Available plus reserved: what the holder owns of ``asset``."""
        return self.balance(holder, asset, AVAILABLE) + self.balance(holder, asset, RESERVED)

    def accounts(self) -> list[AccountKey]:
        """Every account that ever moved, sorted."""
        keys = set(self.book.accounts())
        if self._pending is not None:
            keys.update(self._pending)
        return sorted(keys)

    def holders(self) -> list[str]:
        """Enterprise holders (system holders starting with ``@`` left out), sorted."""
        return sorted({k.holder for k in self.accounts() if not k.holder.startswith("@")})

    def holdings(self, holder: str) -> dict[Asset, Amount]:
        """What ``holder`` owns, per asset (available + reserved), zero balances left out."""
        result: dict[Asset, Amount] = {}
        for key in self.accounts():
            if key.holder == holder:
                result[key.asset] = result.get(key.asset, _zero(key.asset)) + self._current(key)
        return {asset: amount for asset, amount in sorted(result.items()) if amount != 0}

    def trial_balance(self) -> dict[Asset, Amount]:
        """Sum of all accounts per asset; every value is zero unless the books are broken."""
        sums: dict[Asset, Amount] = {}
        for key in self.accounts():
            sums[key.asset] = sums.get(key.asset, _zero(key.asset)) + self._current(key)
        return sums

    def check_integrity(self) -> None:
        """Raise :class:`IntegrityError` if an asset does not sum to zero or an account is negative."""
        for asset, total in self.trial_balance().items():
            if total != 0:
                raise IntegrityError(f"registry out of balance: {asset.code} sums to {total}, expected 0")
        for key in self.accounts():
            if not key.is_contra and self._current(key) < 0:
                raise IntegrityError(f"negative balance {self._current(key)} in account {key.code}")

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Registry]:
        """Group movements: all are committed when the block ends, none if it raises.

        Nested blocks join the outermost one.
        """
        if self._pending is not None:
            yield self
            return
        self._pending = {}
        self._pending_moves = []
        try:
            yield self
        except BaseException:
            self._pending = None
            self._pending_moves = []
            raise
        pending, moves = self._pending, self._pending_moves
        self._pending = None
        self._pending_moves = []
        if moves:
            self.book.set_balances(pending, moves)
            for move in moves:
                payload = move.payload()
                self.entries.append(payload)
                if self.on_entry is not None:
                    self.on_entry(payload)

    def move(
        self,
        debit: AccountKey,
        credit: AccountKey,
        amount: Amount,
        reason: str,
        ref: str | None = None,
        at_ms: int | None = None,
    ) -> Movement:
        """Move ``amount`` from ``credit`` (gives) to ``debit`` (receives).

        Raises
        ------
        ValidationError
            Amount not positive, not whole (instruments) or not fen (cash); the two accounts
            the same or of different assets.
        IntegrityError
            ``credit`` would go negative (never for the outside world's contra accounts).
        """
        with self.atomic():
            return self._move(debit, credit, amount, reason, ref, at_ms)

    def move_many(self, moves: Iterable[tuple[AccountKey, AccountKey, Amount, str, str | None]]) -> int:
        """Several movements ``(debit, credit, amount, reason, ref)`` in order, as one atomic operation.

        Each is checked exactly as by :meth:`move` against the balances the earlier ones
        left; if one fails, none is committed. Returns how many were made.
        """
        count = 0
        with self.atomic():
            for debit, credit, amount, reason, ref in moves:
                self._move(debit, credit, amount, reason, ref, None)
                count += 1
        return count

    def _move(
        self, debit: AccountKey, credit: AccountKey, amount: Amount, reason: str, ref: str | None, at_ms: int | None
    ) -> Movement:
        """One movement inside an open :meth:`atomic` block."""
        if debit.asset != credit.asset:
            raise ValidationError("movement", "both accounts of the same asset", (debit.code, credit.code))
        if debit == credit:
            raise ValidationError("movement", "two different accounts", debit.code)
        checked = _check_amount(debit.asset, amount)
        pending = self._pending
        assert pending is not None
        giver = pending[credit] if credit in pending else self.book.balance(credit)
        if not credit.is_contra and giver < checked:
            raise IntegrityError(
                f"{credit.holder} holds {giver} {credit.asset.code} ({credit.pocket}), "
                f"cannot give {checked} ({reason}{f' {ref}' if ref else ''})"
            )
        pending[credit] = giver - checked
        pending[debit] = (pending[debit] if debit in pending else self.book.balance(debit)) + checked
        seq = self.book.last_seq() + len(self._pending_moves) + 1
        movement = Movement(seq, debit, credit, checked, reason, ref, at_ms)
        self._pending_moves.append(movement)
        return movement

    def issue(
        self, holder: str, asset: Asset, amount: Amount, reason: str = "allocation", ref: str | None = None
    ) -> Movement:
        """Bring ``amount`` into ``holder``'s available account from outside (allocation, CCER, deposit)."""
        return self.move(AccountKey(holder, asset), AccountKey(EXTERNAL, asset), amount, reason, ref)

    def withdraw(
        self, holder: str, asset: Asset, amount: Amount, reason: str = "withdrawal", ref: str | None = None
    ) -> Movement:
        """Send ``amount`` out of the park (a transfer to a national account, a cash withdrawal)."""
        return self.move(AccountKey(EXTERNAL, asset), AccountKey(holder, asset), amount, reason, ref)

    def transfer(
        self,
        from_holder: str,
        to_holder: str,
        asset: Asset,
        amount: Amount,
        reason: str = "transfer",
        ref: str | None = None,
        at_ms: int | None = None,
    ) -> Movement:
        """Move ``amount`` of ``asset`` between two holders' available accounts."""
        return self.move(AccountKey(to_holder, asset), AccountKey(from_holder, asset), amount, reason, ref, at_ms)

    def reserve(self, holder: str, asset: Asset, amount: Amount, ref: str | None = None) -> Movement:
        """Set ``amount`` aside to back an order (available → reserved)."""
        return self.move(AccountKey(holder, asset, RESERVED), AccountKey(holder, asset), amount, "reserve", ref)

    def release(self, holder: str, asset: Asset, amount: Amount, ref: str | None = None) -> Movement:
        """Give back what an order no longer needs (reserved → available)."""
        return self.move(AccountKey(holder, asset), AccountKey(holder, asset, RESERVED), amount, "release", ref)

    def surrender(self, holder: str, asset: Asset, amount: Amount, ref: str | None = None) -> Movement:
        """Surrender (清缴) ``amount`` for compliance: it leaves circulation for good."""
        return self.move(AccountKey(SURRENDERED, asset), AccountKey(holder, asset), amount, "surrender", ref)
