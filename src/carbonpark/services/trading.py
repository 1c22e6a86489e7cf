"""Trading over the store: the park registry, compliance, the energy side and the park market.

The pure engine (:mod:`carbonpark.trading`) does the arithmetic; this module keeps its state
in the database (``store/schema_trading.py``) and attests every movement in the ledger.

Registry
    :class:`StoreBook` is the engine's :class:`~carbonpark.trading.registry.BalanceBook` on
    ``trading_accounts`` rows. Every operation first *locks* the rows of all accounts it will
    touch in one ``SELECT … ORDER BY id FOR UPDATE`` (a fixed order, so two transactions never
    wait on each other in a cycle), then runs the engine, then writes the new balances, one
    ``trading_movements`` row per movement and one ledger entry per movement (kind
    ``allowance_movement``, record ``trading_movement:<id>``) through
    :func:`carbonpark.services.ledger.attest_many` in the same transaction. The ledger's own
    lock is always taken last. A CHECK constraint refuses negative balances as a last guard.
Compliance
    Verified emissions come from the newest *verified* inventory version of the enterprise-year,
    else from its *locked* accounting run; an unverified stored run is used only when the caller
    says so (``allow_unverified``), and the result says which source it was.
Energy
    Comprehensive energy [tce] comes from the stored accounting runs (``summary.energy_tce``),
    value added and product output from the enterprise statistics (``statistics``).
Market
    Orders are checked and settled through the same registry; the open orders of the asset are
    loaded into the engine's :class:`~carbonpark.trading.market.Market`, the accounts the order
    can touch are locked in id order, and the order is matched, settled and stored in one
    transaction.

References
----------
Guide §7.3 (碳交易), §2.2(4) (碳排放权和用能权交易的统筹衔接), §8.1 (约束性指标), §7.2 (区块链存证).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, func, insert, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from carbonpark.errors import ConflictError, IntegrityError, NotFoundError, ValidationError
from carbonpark.services import ledger
from carbonpark.services.access import (
    Page,
    Principal,
    enterprise_filter,
    page_of,
    require_role,
    visible_enterprise_ids,
)
from carbonpark.store import session
from carbonpark.store.registry import resolve, the_park
from carbonpark.store.schema import Enterprise, Park, Statistic
from carbonpark.store.schema_accounting import AccountingRun
from carbonpark.store.schema_inventory import InventoryVersion
from carbonpark.store.schema_trading import (
    ComplianceResult,
    EnergyCap,
    MarketOrder,
    MarketTrade,
    ProductQuotaRow,
    RegistryStatement,
    TradingAccount,
    TradingMovement,
)
from carbonpark.times import from_ms
from carbonpark.trading import allocation as alloc
from carbonpark.trading import compliance as comp
from carbonpark.trading import energy as en
from carbonpark.trading.assets import (
    ALLOWANCE,
    AVAILABLE,
    CASH,
    CCER,
    ENERGY_RIGHT,
    EXTERNAL,
    RESERVED,
    SURRENDERED,
    AccountKey,
    Amount,
    Asset,
    parse_asset,
    to_cash,
    to_tonnes,
)
from carbonpark.trading.market import CANCELLED, NATIONAL_SIMULATION, OPEN, PARK_INTERNAL, Market, Order
from carbonpark.trading.registry import Movement, Registry

__all__ = [
    "MOVEMENT_KIND",
    "MOVEMENT_SORT",
    "ORDER_SORT",
    "TRADE_SORT",
    "StoreBook",
    "balances",
    "cancel_order",
    "check_product_quotas",
    "compliance_statement",
    "compliance_status",
    "demo_step",
    "energy_position",
    "energy_status_report",
    "import_statement",
    "issue",
    "key_energy_units",
    "market_data",
    "movements",
    "movements_page",
    "orders_page",
    "place_order",
    "set_energy_cap",
    "set_product_quota",
    "surrender",
    "surrender_energy_rights",
    "trades_page",
    "transfer",
    "transfer_db",
    "transfer_many",
    "trial_balance",
    "verified_emissions",
]

MOVEMENT_KIND = "allowance_movement"
"""Ledger kind of every registry movement (allowances, CCER, energy-use rights and cash alike)."""
PARK_ORG = "park"
_CASH = Asset(CASH)
T = TypeVar("T")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _plain(value: Any) -> Any:
    """``value`` for a JSON column: Decimals as text, dates ISO, tuples as lists."""
    value = ledger.jsonable(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_pg(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


# ---------------------------------------------------------------------------- holders


def _enterprise(s: Session, park: Park, ref: str | int) -> Enterprise:
    ent = resolve(s, Enterprise, ref, park.id)
    if not ent.handle:
        raise ValidationError("enterprise", "an enterprise with a handle", ref)
    return ent


def _holder(ent: Enterprise) -> str:
    return str(ent.handle)


def _in_scope(who: Principal | None, ent: Enterprise) -> None:
    if who is None:
        return
    visible = visible_enterprise_ids(who)
    if visible is not None and ent.id not in visible:
        raise NotFoundError("enterprise", str(ent.handle))


# ---------------------------------------------------------------------------- the store-backed book


def _amount(asset: Asset, value: Decimal) -> Amount:
    return value.quantize(Decimal("0.01")) if asset.is_cash else int(value)


_MOVEMENT_ARRAYS = {
    "park_id": "integer",
    "debit_id": "integer",
    "credit_id": "integer",
    "asset": "varchar",
    "amount": "numeric",
    "reason": "varchar",
    "ref": "varchar",
    "at_ms": "bigint",
    "actor": "varchar",
}
_INSERT_MOVEMENTS_PG = text(
    "INSERT INTO trading_movements (id, "
    + ", ".join(_MOVEMENT_ARRAYS)
    + ") SELECT * FROM unnest(CAST(:id AS bigint[]), "
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _MOVEMENT_ARRAYS.items())
    + ")"
)
"""One statement for any number of movement rows on PostgreSQL (one array per column)."""


@dataclass(slots=True)
class _MovementRow:
    """What was written for one movement (the columns the callers and the ledger payload read)."""

    id: int
    asset: str
    amount: Decimal
    reason: str
    ref: str | None
    at_ms: int


class StoreBook:
    """A :class:`~carbonpark.trading.registry.BalanceBook` on locked ``trading_accounts`` rows.

    Parameters
    ----------
    s
        The caller's session: balances are read and written in its transaction.
    park
        The park whose registry this is.
    actor
        Who moves (recorded on each movement row).
    at_ms
        Time of the movements [ms since 1970 UTC]; now by default.
    """

    def __init__(self, s: Session, park: Park, actor: str, at_ms: int | None = None) -> None:
        self.s = s
        self.park = park
        self.actor = actor
        self.at_ms = _now_ms() if at_ms is None else at_ms
        self.rows: dict[AccountKey, TradingAccount] = {}
        self.written: list[_MovementRow] = []
        self._enterprise_ids: dict[str, int | None] = {}

    # -- locking -----------------------------------------------------------------------------

    def _enterprise_id(self, holder: str) -> int | None:
        if holder.startswith("@"):
            return None
        if holder not in self._enterprise_ids:
            self._enterprise_ids[holder] = self.s.scalar(
                select(Enterprise.id).where(Enterprise.handle == holder, Enterprise.park_id == self.park.id)
            )
            if self._enterprise_ids[holder] is None:
                raise NotFoundError("enterprise", holder)
        return self._enterprise_ids[holder]

    def _enterprise_ids_of(self, holders: Iterable[str]) -> None:
        """Look up the enterprise ids of many holders in one query (unknown handles raise)."""
        wanted = sorted({h for h in holders if not h.startswith("@") and h not in self._enterprise_ids})
        if not wanted:
            return
        found = {
            str(handle): int(ent_id)
            for handle, ent_id in self.s.execute(
                select(Enterprise.handle, Enterprise.id).where(
                    Enterprise.park_id == self.park.id, Enterprise.handle.in_(wanted)
                )
            )
        }
        for holder in wanted:
            if holder not in found:
                raise NotFoundError("enterprise", holder)
            self._enterprise_ids[holder] = found[holder]

    def _create_missing(self, keys: list[AccountKey]) -> None:
        values = [
            {
                "park_id": self.park.id,
                "holder": k.holder,
                "enterprise_id": self._enterprise_id(k.holder),
                "asset": k.asset.code,
                "pocket": k.pocket,
                "balance": Decimal(0),
            }
            for k in keys
        ]
        if _is_pg(self.s):
            # in a short transaction of its own: two transfers opening the same account must not
            # wait on each other's uncommitted insert while holding balance locks
            engine = self.s.get_bind().engine  # the Engine also when the session is bound to a Connection
            with engine.begin() as conn:
                conn.execute(pg_insert(TradingAccount).values(values).on_conflict_do_nothing())
        else:
            self.s.execute(sqlite_insert(TradingAccount).values(values).on_conflict_do_nothing())

    def lock(self, keys: Iterable[AccountKey]) -> None:
        """Lock the rows of ``keys`` (created at zero if missing) in id order, and cache them."""
        wanted = sorted({k for k in keys if k not in self.rows})
        if not wanted:
            return
        where = tuple_(TradingAccount.holder, TradingAccount.asset, TradingAccount.pocket).in_(
            [(k.holder, k.asset.code, k.pocket) for k in wanted]
        )
        stmt = (
            select(TradingAccount)
            .where(TradingAccount.park_id == self.park.id, where)
            .order_by(TradingAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        found = list(self.s.scalars(stmt))
        have = {(r.holder, r.asset, r.pocket) for r in found}
        missing = [k for k in wanted if (k.holder, k.asset.code, k.pocket) not in have]
        if missing:
            self._create_missing(missing)
            found = list(self.s.scalars(stmt))
        for row in found:
            self.rows[AccountKey(row.holder, parse_asset(row.asset), row.pocket)] = row

    # -- BalanceBook -------------------------------------------------------------------------

    def balance(self, account: AccountKey) -> Amount:
        if account not in self.rows:
            self.lock([account])
        return _amount(account.asset, Decimal(self.rows[account].balance))

    def set_balances(self, balances: Mapping[AccountKey, Amount], movements: list[Movement]) -> None:
        """Write the new balances, the movement rows and their ledger entries: a few statements per batch.

        The balance rows are already locked and cached (their UPDATEs go out as one
        ``executemany``); the movement rows are one multi-row ``INSERT … RETURNING id``;
        the ledger entries one :func:`carbonpark.services.ledger.attest_many` batch.
        """
        for key, value in balances.items():
            if key not in self.rows:
                self.lock([key])
            self.rows[key].balance = Decimal(value)
        self.s.flush()
        rows = [
            _MovementRow(
                id=0,
                asset=m.asset.code,
                amount=Decimal(m.amount),
                reason=m.reason,
                ref=m.ref,
                at_ms=m.at_ms if m.at_ms is not None else self.at_ms,
            )
            for m in movements
        ]
        params = [
            {
                "park_id": self.park.id,
                "debit_id": self.rows[m.debit].id,
                "credit_id": self.rows[m.credit].id,
                "asset": row.asset,
                "amount": row.amount,
                "reason": row.reason,
                "ref": row.ref,
                "at_ms": row.at_ms,
                "actor": self.actor,
            }
            for row, m in zip(rows, movements, strict=True)
        ]
        ids = self._insert_movements(params)
        for row, new_id in zip(rows, ids, strict=True):
            row.id = int(new_id)
        park_handle = str(self.park.handle or PARK_ORG)
        ledger.attest_many(
            self.s,
            [
                ledger.Attestation(MOVEMENT_KIND, _organisation(m, park_handle), _record(row), _payload(row, m))
                for row, m in zip(rows, movements, strict=True)
            ],
        )
        self.written.extend(rows)

    def _insert_movements(self, params: list[dict[str, Any]]) -> list[int]:
        """Insert movement rows in order and return their ids, in the same order.

        On PostgreSQL: the ids are drawn from the table's sequence in one statement
        (ascending, so the id order is the movement order) and the rows go in as one
        ``INSERT … SELECT FROM unnest(arrays)``, two round trips whatever the count. Elsewhere
        (SQLite, one writer at a time): one multi-row ``INSERT … RETURNING id`` in parameter order.
        """
        table = cast(Table, TradingMovement.__table__)  # declared with __tablename__: a Table
        if not _is_pg(self.s):
            result = self.s.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), params)
            return [int(i) for i in result.scalars()]
        ids = sorted(
            int(i)
            for i in self.s.execute(
                text("SELECT nextval(pg_get_serial_sequence('trading_movements', 'id')) FROM generate_series(1, :n)"),
                {"n": len(params)},
            ).scalars()
        )
        columns = {name: [p[name] for p in params] for name in _MOVEMENT_ARRAYS}
        self.s.execute(_INSERT_MOVEMENTS_PG, {"id": ids, **columns})
        return ids

    def accounts(self) -> Iterable[AccountKey]:
        rows = self.s.execute(
            select(TradingAccount.holder, TradingAccount.asset, TradingAccount.pocket).where(
                TradingAccount.park_id == self.park.id
            )
        )
        return [AccountKey(h, parse_asset(a), p) for h, a, p in rows]

    def last_seq(self) -> int:
        return 0  # the stored id is the sequence; the engine's numbering is per operation only


def _organisation(m: Movement, park_handle: str) -> str:
    """The enterprise a movement belongs to: the giver, else the receiver, else the park."""
    for holder in (m.credit.holder, m.debit.holder):
        if not holder.startswith("@"):
            return holder
    return park_handle


def _record(row: TradingMovement | _MovementRow) -> str:
    return f"trading_movement:{row.id}"


def _code(holder: str, asset: str, pocket: str) -> str:
    return f"{holder}/{asset}/{pocket}"


def _payload(row: _MovementRow, m: Movement) -> dict[str, Any]:
    return movement_payload(row, m.debit.code, m.credit.code)


def movement_payload(row: TradingMovement | _MovementRow, debit: str, credit: str) -> dict[str, Any]:
    """The ledger payload of one stored movement (what ``ledger verify`` recomputes)."""
    return {
        "asset": row.asset,
        "amount": str(_amount(parse_asset(row.asset), Decimal(row.amount))),
        "debit": debit,
        "credit": credit,
        "reason": row.reason,
        "ref": row.ref,
        "at_ms": int(row.at_ms),
    }


def _stored_movements(s: Session) -> Iterator[tuple[str, str, dict[str, Any]]]:
    accounts = {a.id: a for a in s.scalars(select(TradingAccount))}
    parks = {p.id: str(p.handle or PARK_ORG) for p in s.scalars(select(Park))}
    for row in s.scalars(select(TradingMovement).order_by(TradingMovement.id)):
        d, c = accounts[row.debit_id], accounts[row.credit_id]
        org = next((h for h in (c.holder, d.holder) if not h.startswith("@")), parks[row.park_id])
        yield (
            _record(row),
            org,
            movement_payload(row, _code(d.holder, d.asset, d.pocket), _code(c.holder, c.asset, c.pocket)),
        )


ledger.register_source(ledger.Source(MOVEMENT_KIND, _stored_movements, "park registry movements (trading_movements)"))


@dataclass
class _Ctx:
    s: Session
    park: Park
    book: StoreBook
    registry: Registry


def _registry(s: Session, actor: str, at_ms: int | None = None) -> _Ctx:
    park = the_park(s)
    book = StoreBook(s, park, actor, at_ms)
    return _Ctx(s, park, book, Registry(book))


def _retrying(fn: Callable[[], T], attempts: int = 5) -> T:
    """Run a whole transaction again when PostgreSQL aborts it for a deadlock or serialisation failure."""
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if code not in ("40P01", "40001") or attempt == attempts - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")


def _movement_dicts(rows: Sequence[_MovementRow]) -> list[dict[str, Any]]:
    return [{"id": r.id, "record": _record(r), "asset": r.asset, "amount": r.amount, "reason": r.reason} for r in rows]


# ---------------------------------------------------------------------------- registry operations


def _instrument_amount(asset: Asset, amount: object, field: str = "amount") -> Amount:
    value = to_cash(amount, field) if asset.is_cash else to_tonnes(amount, field)
    if value == 0:
        raise ValidationError(field, "an amount > 0", amount)
    return value


def issue(
    s: Session,
    enterprise: str | int,
    asset: str,
    amount: object,
    *,
    actor: str,
    reason: str = "allocation",
    ref: str | None = None,
) -> dict[str, Any]:
    """Bring ``amount`` of ``asset`` into an enterprise's account from outside the park.

    Used for allocation (``allocation``), CCER and energy-use rights acquired outside
    (``deposit``), cash deposits (``deposit``). One movement, attested.
    """
    ctx = _registry(s, actor)
    ent = _enterprise(s, ctx.park, enterprise)
    parsed = parse_asset(asset)
    value = _instrument_amount(parsed, amount)
    holder = _holder(ent)
    ctx.book.lock([AccountKey(holder, parsed), AccountKey(EXTERNAL, parsed)])
    ctx.registry.issue(holder, parsed, value, reason, ref)
    return {"enterprise": holder, "asset": parsed.code, "amount": value, "movements": _movement_dicts(ctx.book.written)}


def transfer(
    s: Session,
    from_enterprise: str | int,
    to_enterprise: str | int,
    asset: str,
    amount: object,
    *,
    actor: str,
    ref: str | None = None,
    who: Principal | None = None,
) -> dict[str, Any]:
    """Move ``amount`` of ``asset`` between two enterprises' available accounts (one movement, attested).

    Raises
    ------
    IntegrityError
        The giver holds less than ``amount`` available (nothing moves).
    """
    ctx = _registry(s, actor)
    giver = _enterprise(s, ctx.park, from_enterprise)
    _in_scope(who, giver)
    taker = _enterprise(s, ctx.park, to_enterprise)
    parsed = parse_asset(asset)
    value = _instrument_amount(parsed, amount)
    ctx.book.lock([AccountKey(_holder(giver), parsed), AccountKey(_holder(taker), parsed)])
    ctx.registry.transfer(_holder(giver), _holder(taker), parsed, value, ref=ref)
    return {
        "from": _holder(giver),
        "to": _holder(taker),
        "asset": parsed.code,
        "amount": value,
        "movements": _movement_dicts(ctx.book.written),
    }


_SCHEMA_CHECKED: set[str] = set()


@contextmanager
def _session(db: str | None) -> Iterator[Session]:
    """:func:`carbonpark.store.session`, checking the schema revision once per database and process.

    (The check reads the migration scripts, tens of milliseconds, which would dominate a transfer.)
    """
    key = str(db)
    with session(db, require_schema=key not in _SCHEMA_CHECKED) as s:
        _SCHEMA_CHECKED.add(key)
        yield s


def transfer_db(
    db: str | None, from_enterprise: str, to_enterprise: str, asset: str, amount: object, *, actor: str
) -> dict[str, Any]:
    """:func:`transfer` in a transaction of its own, run again on a PostgreSQL deadlock."""

    def run() -> dict[str, Any]:
        with _session(db) as s:
            return transfer(s, from_enterprise, to_enterprise, asset, amount, actor=actor)

    return _retrying(run)


def transfer_many_db(db: str | None, items: Sequence[tuple[str, str, str, object]], *, actor: str) -> int:
    """:func:`transfer_many` in a transaction of its own, run again on a PostgreSQL deadlock."""

    def run() -> int:
        with _session(db) as s:
            return transfer_many(s, items, actor=actor)

    return _retrying(run)


def transfer_many(
    s: Session, items: Sequence[tuple[str, str, str, object]], *, actor: str, ref: str | None = None
) -> int:
    """Several transfers ``(from, to, asset, amount)`` in one transaction and one ledger batch; all or none.

    Returns the number of movements written.
    """
    ctx = _registry(s, actor)
    parsed = [(str(f), str(t), parse_asset(a), a, amount) for f, t, a, amount in items]
    ctx.book._enterprise_ids_of(h for f, t, _, _, _ in parsed for h in (f, t))  # handles must exist
    keys = [AccountKey(h, asset) for f, t, asset, _, _ in parsed for h in (f, t)]
    ctx.book.lock(keys)
    with ctx.registry.atomic():
        for f, t, asset, _, amount in parsed:
            ctx.registry.transfer(f, t, asset, _instrument_amount(asset, amount), ref=ref)
    return len(ctx.book.written)


def _account_rows(s: Session, park: Park, holder: str | None = None) -> list[TradingAccount]:
    stmt = select(TradingAccount).where(TradingAccount.park_id == park.id)
    if holder is not None:
        stmt = stmt.where(TradingAccount.holder == holder)
    return list(s.scalars(stmt.order_by(TradingAccount.holder, TradingAccount.asset, TradingAccount.pocket)))


def balances(s: Session, who: Principal | None = None, enterprise: str | int | None = None) -> dict[str, Any]:
    """Holdings per enterprise and asset: ``available``, ``reserved`` and ``total`` [t, tce or CNY].

    An enterprise user sees its own accounts only.
    """
    park = the_park(s)
    stmt = select(TradingAccount).where(TradingAccount.park_id == park.id, TradingAccount.enterprise_id.is_not(None))
    if who is not None:
        stmt = stmt.where(enterprise_filter(who, TradingAccount.enterprise_id))
    if enterprise is not None:
        ent = _enterprise(s, park, enterprise)
        _in_scope(who, ent)
        stmt = stmt.where(TradingAccount.enterprise_id == ent.id)
    result: dict[str, dict[str, dict[str, Amount]]] = {}
    for row in s.scalars(stmt.order_by(TradingAccount.holder, TradingAccount.asset, TradingAccount.pocket)):
        asset = parse_asset(row.asset)
        zero: Amount = Decimal("0.00") if asset.is_cash else 0
        cell = result.setdefault(row.holder, {}).setdefault(row.asset, {"available": zero, "reserved": zero})
        cell[row.pocket] = _amount(asset, Decimal(row.balance))
    for holdings in result.values():
        for cell in holdings.values():
            cell["total"] = cell["available"] + cell["reserved"]
    return {"park": park.handle, "accounts": result}


def trial_balance(s: Session) -> dict[str, Any]:
    """Sum of every account per asset (all zero unless the books are broken) and negative accounts."""
    park = the_park(s)
    sums = {
        asset: total
        for asset, total in s.execute(
            select(TradingAccount.asset, func.sum(TradingAccount.balance))
            .where(TradingAccount.park_id == park.id)
            .group_by(TradingAccount.asset)
        )
    }
    negative = s.scalar(
        select(func.count()).where(
            TradingAccount.park_id == park.id, TradingAccount.holder != EXTERNAL, TradingAccount.balance < 0
        )
    )
    sums_out = {a: _amount(parse_asset(a), Decimal(v)) for a, v in sorted(sums.items())}
    return {
        "sums": sums_out,
        "negative_accounts": int(negative or 0),
        "balanced": all(v == 0 for v in sums_out.values()),
    }


#: Sortable names of ``GET /api/trading/movements`` (``-id``, newest first, by default).
MOVEMENT_SORT: tuple[str, ...] = ("id", "at_ms", "amount")
#: Sortable names of ``GET /api/trading/trades``; ``seq`` is the market's trade sequence.
TRADE_SORT: tuple[str, ...] = ("seq", "price", "quantity")
#: Sortable names of ``GET /api/trading/orders``; ``seq`` is the order's place in the market.
ORDER_SORT: tuple[str, ...] = ("seq", "price", "quantity")


def _movements_query(
    s: Session, who: Principal | None, enterprise: str | int | None
) -> tuple[Select[Any], dict[int, TradingAccount]]:
    """The movements the principal may see (of ``enterprise`` if given), and the park's accounts by id."""
    park = the_park(s)
    acc = {a.id: a for a in _account_rows(s, park)}
    stmt = select(TradingMovement).where(TradingMovement.park_id == park.id)
    ids: set[int] | None = None
    if who is not None:
        visible = visible_enterprise_ids(who)
        if visible is not None:
            ids = {a.id for a in acc.values() if a.enterprise_id in visible}
    if enterprise is not None:
        ent = _enterprise(s, park, enterprise)
        _in_scope(who, ent)
        mine = {a.id for a in acc.values() if a.enterprise_id == ent.id}
        ids = mine if ids is None else ids & mine
    if ids is not None:
        stmt = stmt.where(or_(TradingMovement.debit_id.in_(ids), TradingMovement.credit_id.in_(ids)))
    return stmt, acc


def _movement_item(
    r: TradingMovement, acc: Mapping[int, TradingAccount], visible: frozenset[int] | None = None
) -> dict[str, Any]:
    """A movement as plain data; an account of an enterprise outside ``visible`` is shown as None.

    ``visible`` is the enterprises the caller may see (None: all). The other side of a trade or a
    transfer is another enterprise's account: its holder is not the caller's to know.
    """

    def code(a: TradingAccount) -> str | None:
        if visible is not None and a.enterprise_id is not None and a.enterprise_id not in visible:
            return None
        return _code(a.holder, a.asset, a.pocket)

    return {
        "id": r.id,
        "record": _record(r),
        "asset": r.asset,
        "amount": _amount(parse_asset(r.asset), Decimal(r.amount)),
        "debit": code(acc[r.debit_id]),
        "credit": code(acc[r.credit_id]),
        "reason": r.reason,
        "ref": r.ref,
        "at_ms": r.at_ms,
        "actor": r.actor,
    }


def _visible(who: Principal | None) -> frozenset[int] | None:
    return None if who is None else visible_enterprise_ids(who)


def movements_page(
    s: Session,
    who: Principal | None = None,
    enterprise: str | int | None = None,
    *,
    sort: str = "-id",
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """One page of stored movements with both accounts named, and how many there are.

    An enterprise user sees those it takes part in; ``sort`` is one of :data:`MOVEMENT_SORT`
    (``-`` for descending), the page cut in SQL.
    """
    stmt, acc = _movements_query(s, who, enterprise)
    columns = {"id": TradingMovement.id, "at_ms": TradingMovement.at_ms, "amount": TradingMovement.amount}
    rows, total = page_of(s, stmt, columns=columns, sort=sort, limit=limit, offset=offset)
    return Page([_movement_item(r, acc, _visible(who)) for r in rows], total, limit, offset)


def movements(
    s: Session, who: Principal | None = None, enterprise: str | int | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Stored movements, newest first, with both accounts named; an enterprise user sees those it takes part in."""
    stmt, acc = _movements_query(s, who, enterprise)
    rows = s.scalars(stmt.order_by(TradingMovement.id.desc()).limit(limit).offset(offset))
    return [_movement_item(r, acc, _visible(who)) for r in rows]


# ---------------------------------------------------------------------------- allocation


def _stat_sum(s: Session, ent: Enterprise, metric: str, year: int, through_month: int = 12) -> Decimal | None:
    """Sum of an enterprise's monthly statistic ``metric`` over ``year`` (to ``through_month``), or its annual value."""
    rows = list(
        s.execute(
            select(Statistic.period, Statistic.value).where(
                Statistic.enterprise_id == ent.id, Statistic.metric == metric, Statistic.period.like(f"{year}%")
            )
        )
    )
    if not rows:
        return None
    annual = [v for p, v in rows if p == str(year)]
    if annual:
        return Decimal(str(annual[0]))
    return sum((Decimal(str(v)) for p, v in rows if int(p[5:7]) <= through_month), Decimal(0))


def allocate(s: Session, year: int, plan: Sequence[Mapping[str, Any]], *, actor: str) -> dict[str, Any]:
    """Allocate allowances of vintage ``year`` from stored data and book them (one movement each).

    Each plan entry names an ``enterprise`` and a ``method``:

    * ``benchmark``: ``benchmark`` [tCO2e/unit] × output (the sum of the statistic
      ``output_metric`` over ``year``) × ``correction_factors``;
    * ``power``: ``supply_benchmark`` × statistic ``power_metric`` [MWh] × corrections +
      ``heat_benchmark`` × statistic ``heat_metric`` [GJ];
    * ``history``: mean of the verified emissions of ``base_years`` × ``control_factor``.

    Returns
    -------
    dict
        Per enterprise: method, the inputs read from the store, allowances [t]; and the movements.

    References
    ----------
    Guide §7.3(2); REFERENCE_DATA.md §5c.
    """
    ctx = _registry(s, actor)
    asset = Asset(ALLOWANCE, year)
    out: dict[str, Any] = {}
    for i, entry in enumerate(plan):
        where = f"plan[{i}]"
        ent = _enterprise(s, ctx.park, str(entry.get("enterprise", "")))
        method = entry.get("method", "benchmark")
        corrections = list(entry.get("correction_factors", []))
        inputs: dict[str, Any] = {}
        if method == "benchmark":
            metric = str(entry.get("output_metric", ""))
            output = _stat_sum(s, ent, metric, year)
            if output is None:
                raise ValidationError(f"{where}.output_metric", f"a statistic of {ent.handle} for {year}", metric)
            inputs = {"output": output, "output_metric": metric}
            tonnes = alloc.benchmark_allocation(entry.get("benchmark"), output, corrections)
        elif method == "power":
            power = _stat_sum(s, ent, str(entry.get("power_metric", "")), year) or Decimal(0)
            heat = _stat_sum(s, ent, str(entry.get("heat_metric", "")), year) or Decimal(0)
            inputs = {"power_supplied_mwh": power, "heat_supplied_gj": heat}
            tonnes = alloc.power_unit_allocation(
                entry.get("supply_benchmark"), power, entry.get("heat_benchmark", 0), heat, corrections
            )
        elif method == "history":
            years = [int(y) for y in entry.get("base_years", [])]
            if not years:
                raise ValidationError(f"{where}.base_years", "at least one base year", entry.get("base_years"))
            base = [
                verified_emissions(s, ent, y, allow_unverified=bool(entry.get("allow_unverified")))["tco2e"]
                for y in years
            ]
            inputs = {"base_years": years, "base_emissions_tco2e": base}
            tonnes = alloc.historical_emissions_allocation(base, entry.get("control_factor", 1))
        else:
            raise ValidationError(f"{where}.method", "benchmark, power or history", method)
        holder = _holder(ent)
        if tonnes > 0:
            ctx.book.lock([AccountKey(holder, asset), AccountKey(EXTERNAL, asset)])
            ctx.registry.issue(holder, asset, tonnes, "allocation", f"allocation:{year}")
        out[holder] = {"method": method, "inputs": inputs, "allowances_t": tonnes}
    return {"year": year, "asset": asset.code, "allocations": out, "movements": _movement_dicts(ctx.book.written)}


# ---------------------------------------------------------------------------- compliance


def verified_emissions(s: Session, ent: Enterprise, year: int, *, allow_unverified: bool = False) -> dict[str, Any]:
    """Verified emissions of an enterprise-year, in whole tonnes (rounded half-up) and where they came from.

    The newest verified inventory version wins; else the locked accounting run of the year; else,
    only with ``allow_unverified``, the stored (unlocked) accounting run.
    """
    version = s.scalars(
        select(InventoryVersion)
        .where(
            InventoryVersion.enterprise_id == ent.id,
            InventoryVersion.year == year,
            InventoryVersion.status == "verified",
        )
        .order_by(InventoryVersion.version.desc())
    ).first()
    if version is not None:
        value, source = version.total_tco2e, f"inventory version {version.version} (verified)"
    else:
        run = s.scalars(
            select(AccountingRun).where(AccountingRun.org == ent.handle, AccountingRun.period == str(year))
        ).first()
        if run is None or (not run.locked and not allow_unverified):
            raise ValidationError(
                f"verified emissions of {ent.handle} {year}",
                "a verified inventory version or a locked accounting run",
                "none" if run is None else "an unlocked accounting run (pass allow_unverified to use it)",
            )
        value = run.total_tco2e
        source = f"accounting run {run.id} ({'locked' if run.locked else 'not verified'})"
    tonnes = alloc.round_tonnes(Decimal(str(value)))
    return {"tco2e": tonnes, "exact_tco2e": value, "source": source}


def _programme(name: str) -> comp.ComplianceProgramme:
    programmes = {p.name: p for p in (comp.NATIONAL_ETS_2021, comp.NATIONAL_ETS_2024)}
    if name not in programmes:
        raise ValidationError("programme", " or ".join(programmes), name)
    return programmes[name]


def _last_price(s: Session, park: Park, asset_kind: str) -> Decimal | None:
    row = s.scalars(
        select(MarketTrade.price)
        .where(MarketTrade.park_id == park.id, MarketTrade.asset.like(f"{asset_kind}%"))
        .order_by(MarketTrade.id.desc())
    ).first()
    return None if row is None else Decimal(row)


def surrender(
    s: Session,
    enterprise: str | int,
    year: int,
    allowances: object,
    ccer: object,
    *,
    actor: str,
    programme: str = comp.NATIONAL_ETS_2024.name,
    allow_unverified: bool = False,
    market_price: object = None,
    who: Principal | None = None,
) -> dict[str, Any]:
    """Surrender (清缴) allowances and CCER against the stored verified emissions of ``year``.

    CCER are capped at ``floor(fraction × verified)``; a request over the cap, over the holdings
    or over the obligation is *rejected* (nothing moves); too little is a *shortfall* with its
    penalty. The outcome is stored in ``compliance_results`` and every movement attested.
    """
    ctx = _registry(s, actor)
    ent = _enterprise(s, ctx.park, enterprise)
    _in_scope(who, ent)
    rules = _programme(programme)
    verified = verified_emissions(s, ent, year, allow_unverified=allow_unverified)
    holder = _holder(ent)
    keys = [
        AccountKey(h, parse_asset(row.asset), row.pocket)
        for row in _account_rows(s, ctx.park, holder)
        for h in (holder,)
        if row.asset.startswith((ALLOWANCE, CCER))
    ]
    keys += [AccountKey(SURRENDERED, k.asset) for k in keys]
    ctx.book.lock(keys)
    price = to_cash(market_price, "market_price") if market_price is not None else _last_price(s, ctx.park, ALLOWANCE)
    result = comp.surrender(
        ctx.registry,
        holder,
        verified["tco2e"],
        to_tonnes(allowances, "allowances"),
        to_tonnes(ccer, "ccer"),
        year,
        rules,
        price,
    )
    penalty = result.penalty
    detail = {
        "verified_source": verified["source"],
        "ccer_cap_t": result.ccer_cap_t,
        "penalty": None
        if penalty is None
        else {
            "fine_min_cny": penalty.fine_min_cny,
            "fine_max_cny": penalty.fine_max_cny,
            "deduction_next_year_t": penalty.deduction_next_year_t,
            "basis": penalty.basis,
        },
        "reference_price": price,
        "deadlines": {k: v.isoformat() for k, v in comp.compliance_calendar(year, rules).items()},
    }
    row = ComplianceResult(
        park_id=ctx.park.id,
        enterprise_id=ent.id,
        programme=rules.name,
        year=year,
        obligation=verified["tco2e"],
        status=result.status,
        reason=result.reason,
        surrendered_allowances=result.surrender_allowances if result.status != comp.REJECTED else 0,
        surrendered_ccer=result.surrender_ccer if result.status != comp.REJECTED else 0,
        shortfall=result.shortfall_t,
        detail=_plain(detail),
        assessed_ms=_now_ms(),
    )
    s.add(row)
    s.flush()
    return {
        "enterprise": holder,
        "year": year,
        "programme": rules.name,
        "verified_tco2e": verified["tco2e"],
        "status": result.status,
        "reason": result.reason,
        "surrendered_allowances": row.surrendered_allowances,
        "surrendered_ccer": row.surrendered_ccer,
        "shortfall_t": result.shortfall_t,
        **detail,
        "movements": _movement_dicts(ctx.book.written),
    }


def compliance_status(
    s: Session,
    year: int,
    today: dt.date | None = None,
    who: Principal | None = None,
    programme: str = "national-ets-2024",
) -> list[dict[str, Any]]:
    """Per enterprise with allowance accounts: obligation, holdings, latest outcome and days to each deadline."""
    park = the_park(s)
    rules = _programme(programme)
    today = today or dt.date.today()
    deadlines = comp.compliance_calendar(year, rules)
    stmt = select(Enterprise).where(Enterprise.park_id == park.id)
    if who is not None:
        stmt = stmt.where(enterprise_filter(who, Enterprise.id))
    held = balances(s, who)["accounts"]
    out = []
    for ent in s.scalars(stmt.order_by(Enterprise.id)):
        holdings = held.get(_holder(ent), {})
        if not any(a.startswith((ALLOWANCE, CCER)) for a in holdings):
            continue
        try:
            verified: dict[str, Any] | None = verified_emissions(s, ent, year, allow_unverified=True)
        except ValidationError:
            verified = None
        last = s.scalars(
            select(ComplianceResult)
            .where(ComplianceResult.enterprise_id == ent.id, ComplianceResult.year == year)
            .order_by(ComplianceResult.id.desc())
        ).first()
        allowances = sum(
            int(v["available"])
            for a, v in holdings.items()
            if a.startswith(ALLOWANCE) and (parse_asset(a).vintage or 0) <= year
        )
        ccer = int(holdings.get(CCER, {}).get("available", 0))
        obligation = verified["tco2e"] if verified else None
        out.append(
            {
                "enterprise": _holder(ent),
                "name": ent.name,
                "obligation_t": obligation,
                "verified_source": verified["source"] if verified else None,
                "allowances_available_t": allowances,
                "ccer_available_t": ccer,
                "ccer_cap_t": comp.ccer_cap(obligation, rules.ccer_cap_fraction) if obligation is not None else None,
                "position_t": None
                if obligation is None
                else allowances + min(ccer, comp.ccer_cap(obligation, rules.ccer_cap_fraction)) - obligation,
                "status": last.status if last else "open",
                "shortfall_t": last.shortfall if last else None,
                "deadlines": {k: v.isoformat() for k, v in deadlines.items()},
                "days_to": {k: comp.days_to(v, today) for k, v in deadlines.items()},
            }
        )
    return out


def compliance_statement(s: Session, enterprise: str | int, year: int, who: Principal | None = None) -> dict[str, Any]:
    """Content of one enterprise's compliance statement (履约报告): allocation, trades, surrender, outcome."""
    park = the_park(s)
    ent = _enterprise(s, park, enterprise)
    _in_scope(who, ent)
    holder = _holder(ent)
    instruments = (ALLOWANCE, CCER)
    moves = [m for m in movements(s, None, ent.id, limit=10_000) if m["asset"].startswith(instruments)]
    # what the caller is shown: the same movements with other enterprises' accounts left out
    shown = (
        moves
        if who is None
        else [m for m in movements(s, who, ent.id, limit=10_000) if m["asset"].startswith(instruments)]
    )
    allocated = sum(
        int(m["amount"])
        for m in moves
        if m["reason"] == "allocation" and m["asset"].startswith(ALLOWANCE) and m["debit"].startswith(holder + "/")
    )
    bought = sum(int(m["amount"]) for m in moves if m["reason"] == "trade" and m["debit"].startswith(holder + "/"))
    sold = sum(int(m["amount"]) for m in moves if m["reason"] == "trade" and m["credit"].startswith(holder + "/"))
    results = [
        {
            "programme": r.programme,
            "status": r.status,
            "reason": r.reason,
            "obligation_t": r.obligation,
            "surrendered_allowances": r.surrendered_allowances,
            "surrendered_ccer": r.surrendered_ccer,
            "shortfall_t": r.shortfall,
            "detail": r.detail,
            "assessed_ms": r.assessed_ms,
        }
        for r in s.scalars(
            select(ComplianceResult)
            .where(ComplianceResult.enterprise_id == ent.id, ComplianceResult.year == year)
            .order_by(ComplianceResult.id)
        )
    ]
    try:
        verified: dict[str, Any] | None = verified_emissions(s, ent, year, allow_unverified=True)
    except ValidationError:
        verified = None
    return {
        "enterprise": holder,
        "name": ent.name,
        "name_en": ent.name_en,
        "credit_code": ent.credit_code,
        "year": year,
        "verified": verified,
        "allocated_t": allocated,
        "bought_t": bought,
        "sold_t": sold,
        "holdings": balances(s, None, ent.id)["accounts"].get(holder, {}),
        "results": results,
        "deadlines": {k: v.isoformat() for k, v in comp.compliance_calendar(year).items()},
        "movements": shown[:200],
    }


# ---------------------------------------------------------------------------- national registry statements

STATEMENT_COLUMNS = ("statement_id", "as_of", "credit_code", "asset", "quantity")
"""Columns of a national registry statement CSV (UTF-8, header row; see docs/trading.md)."""


def import_statement(s: Session, text: str, *, actor: str, align: bool = False) -> dict[str, Any]:
    """Import a national registry statement (CSV), reconcile the park mirror against it, store both.

    Each row is one holding: ``statement_id, as_of (YYYY-MM-DD), credit_code, asset
    (allowance:YYYY or ccer), quantity`` [t]. Enterprises are matched by their unified social
    credit code (the national registry knows them by it). With ``align`` the park mirror is
    brought in line (movements from or to ``@external``, reason ``registry_statement``, attested).

    Raises
    ------
    ValidationError
        Missing columns, a bad row (named by its line), several statement ids or dates in one file,
        an unknown credit code.
    DuplicateError
        The statement id was imported before.
    """
    from carbonpark.trading.reconcile import RECONCILED_KINDS, HoldingDifference

    ctx = _registry(s, actor)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in STATEMENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError("statement", f"CSV columns {', '.join(STATEMENT_COLUMNS)}", reader.fieldnames)
    ids: set[str] = set()
    dates: set[str] = set()
    holdings: dict[str, dict[Asset, int]] = {}
    by_code = {e.credit_code: e for e in s.scalars(select(Enterprise).where(Enterprise.park_id == ctx.park.id))}
    for line, row in enumerate(reader, start=2):
        where = f"statement line {line}"
        ids.add((row["statement_id"] or "").strip())
        as_of = (row["as_of"] or "").strip()
        try:
            dt.date.fromisoformat(as_of)
        except ValueError:
            raise ValidationError(f"{where}.as_of", "a date YYYY-MM-DD", as_of) from None
        dates.add(as_of)
        ent = by_code.get((row["credit_code"] or "").strip())
        if ent is None:
            raise ValidationError(f"{where}.credit_code", "the credit code of a park enterprise", row["credit_code"])
        asset = parse_asset((row["asset"] or "").strip())
        if asset.kind not in RECONCILED_KINDS:
            raise ValidationError(f"{where}.asset", "allowance:YYYY or ccer", row["asset"])
        cell = holdings.setdefault(_holder(ent), {})
        if asset in cell:
            raise ValidationError(f"{where}", "one row per enterprise and asset", f"{asset.code} again")
        cell[asset] = to_tonnes(row["quantity"], f"{where}.quantity")
    if len(ids) != 1 or "" in ids or len(dates) != 1:
        raise ValidationError("statement", "one statement_id and one as_of date per file", sorted(ids | dates))
    ref = ids.pop()
    if s.scalar(
        select(RegistryStatement.id).where(
            RegistryStatement.park_id == ctx.park.id, RegistryStatement.statement_ref == ref
        )
    ):
        from carbonpark.errors import DuplicateError

        raise DuplicateError(f"registry statement {ref!r} was imported before")
    holders = sorted(set(holdings) | {r.holder for r in _account_rows(s, ctx.park) if r.enterprise_id is not None})
    held: dict[str, dict[Asset, int]] = {}
    for r in _account_rows(s, ctx.park):
        if r.enterprise_id is None or not r.asset.startswith(RECONCILED_KINDS):
            continue
        a = parse_asset(r.asset)
        held.setdefault(r.holder, {})[a] = held.get(r.holder, {}).get(a, 0) + int(r.balance)
    differences = []
    for holder in holders:
        park_h, nat_h = held.get(holder, {}), holdings.get(holder, {})
        for asset in sorted(set(park_h) | set(nat_h)):
            if park_h.get(asset, 0) != nat_h.get(asset, 0):
                differences.append(HoldingDifference(holder, asset, park_h.get(asset, 0), nat_h.get(asset, 0)))
    if align and differences:
        ctx.book.lock(
            [AccountKey(d.holder, d.asset) for d in differences] + [AccountKey(EXTERNAL, d.asset) for d in differences]
        )
        from carbonpark.trading.reconcile import align_to_statement

        align_to_statement(ctx.registry, differences, f"statement:{ref}")
    as_of = dates.pop()
    stored = RegistryStatement(
        park_id=ctx.park.id,
        statement_ref=ref,
        as_of=as_of,
        imported_ms=_now_ms(),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        holdings={h: {a.code: v for a, v in sorted(c.items())} for h, c in holdings.items()},
        differences=[d.as_dict() for d in differences],
        aligned=len(ctx.book.written),
    )
    s.add(stored)
    s.flush()
    return {
        "statement": ref,
        "as_of": as_of,
        "holders": len(holdings),
        "differences": [d.as_dict() for d in differences],
        "aligned": align,
        "movements": _movement_dicts(ctx.book.written),
    }


# ---------------------------------------------------------------------------- energy side


def _org(s: Session, park: Park, org: str | int) -> tuple[str, Enterprise | None]:
    if str(org) == PARK_ORG:
        return PARK_ORG, None
    ent = _enterprise(s, park, org)
    return _holder(ent), ent


def set_energy_cap(
    s: Session,
    org: str | int,
    year: int,
    total_cap_tce: object = None,
    intensity_cap: object = None,
    *,
    source: str = "",
) -> dict[str, Any]:
    """Set (or replace) the 能耗双控 caps of an enterprise or the park (``org = 'park'``) for ``year``."""
    park = the_park(s)
    key, ent = _org(s, park, org)
    total = en._dec(total_cap_tce, "total_cap_tce", positive=True) if total_cap_tce is not None else None
    intensity = en._dec(intensity_cap, "intensity_cap", positive=True) if intensity_cap is not None else None
    if total is None and intensity is None:
        raise ValidationError("caps", "a total cap [tce] or an intensity cap [tce/10⁴ CNY]", None)
    row = s.scalars(
        select(EnergyCap).where(EnergyCap.park_id == park.id, EnergyCap.org == key, EnergyCap.year == year)
    ).first()
    if row is None:
        row = EnergyCap(park_id=park.id, org=key, enterprise_id=ent.id if ent else None, year=year)
        s.add(row)
    row.total_cap_tce, row.intensity_cap, row.source = total, intensity, source
    s.flush()
    return {"org": key, "year": year, "total_cap_tce": total, "intensity_cap_tce_per_10k_cny": intensity}


def _energy_tce(s: Session, key: str, year: int) -> tuple[Decimal, int | None, str]:
    """Energy of the stored accounting run of ``key`` for ``year`` [tce], the run's last data month, source."""
    run = s.scalars(select(AccountingRun).where(AccountingRun.org == key, AccountingRun.period == str(year))).first()
    if run is None:
        raise ValidationError(
            f"energy of {key} {year}", "a stored accounting run of the year (carbonpark account --db)", "none"
        )
    value = (run.summary or {}).get("energy_tce")
    if value is None:
        raise ValidationError(f"accounting run {run.id}", "a summary with energy_tce", sorted(run.summary or {}))
    return Decimal(str(value)), _last_month(s, key, year), f"accounting run {run.id}"


def _last_month(s: Session, key: str, year: int) -> int | None:
    """Last month of ``year`` with activity data of the organisation (the year-to-date point)."""
    from carbonpark.store.schema_accounting import ActivityDatum

    stmt = select(func.max(ActivityDatum.period)).where(
        ActivityDatum.resolution == "month", ActivityDatum.period.like(f"{year}-%")
    )
    if key != PARK_ORG:
        stmt = stmt.join(Enterprise, Enterprise.id == ActivityDatum.enterprise_id).where(Enterprise.handle == key)
    last = s.scalar(stmt)
    return int(str(last)[5:7]) if last else None


def _month_end(year: int, month: int) -> dt.date:
    return (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)


def energy_position(s: Session, org: str | int, year: int, who: Principal | None = None) -> dict[str, Any]:
    """Year-to-date 能耗双控 position of an enterprise or the park against its caps.

    Energy [tce] from the stored accounting run of the year; value added [10⁴ CNY] from the
    ``value_added`` statistics of the same months; the elapsed share of the year runs to the end of
    the last month with data. For the park, value added is the enterprises' sum.

    References
    ----------
    Guide §8.1 (约束性指标); GB/T 2589-2020.
    """
    park = the_park(s)
    key, ent = _org(s, park, org)
    if who is not None:
        if ent is None:
            require_role(who, "park_admin", "regulator")
        else:
            _in_scope(who, ent)
    energy, month, source = _energy_tce(s, key, year)
    month = month or 12
    if ent is not None:
        va = _stat_sum(s, ent, "value_added", year, month) or Decimal(0)
    else:
        va = sum(
            (
                _stat_sum(s, e, "value_added", year, month) or Decimal(0)
                for e in s.scalars(select(Enterprise).where(Enterprise.park_id == park.id))
            ),
            Decimal(0),
        )
    cap = s.scalars(
        select(EnergyCap).where(EnergyCap.park_id == park.id, EnergyCap.org == key, EnergyCap.year == year)
    ).first()
    target = en.DualControlTarget(key, year, cap.total_cap_tce if cap else None, cap.intensity_cap if cap else None)
    elapsed = en.year_elapsed_fraction(_month_end(year, month), year)
    position = en.dual_control_position(target, energy, va, elapsed)
    return {
        **position.as_dict(),
        "through": _month_end(year, month).isoformat(),
        "energy_source": source,
        "value_added_source": "statistics value_added",
        "has_cap": cap is not None,
    }


def key_energy_units(s: Session, year: int, threshold_tce: object = en.KEY_UNIT_THRESHOLD_TCE) -> list[dict[str, Any]]:
    """Enterprises whose stored energy of ``year`` is ≥ the threshold (10,000 tce by default), largest first.

    References
    ----------
    《节约能源法》 Art. 52.
    """
    park = the_park(s)
    consumption: dict[str, Decimal] = {}
    for ent in s.scalars(select(Enterprise).where(Enterprise.park_id == park.id)):
        try:
            consumption[_holder(ent)] = _energy_tce(s, _holder(ent), year)[0]
        except ValidationError:
            continue
    units = en.key_energy_units(consumption, en._dec(threshold_tce, "threshold_tce", positive=True))
    return [{"enterprise": name, "energy_tce": value} for name, value in units]


def set_product_quota(
    s: Session,
    enterprise: str | int,
    product: str,
    output_metric: str,
    limit_kgce_per_unit: object,
    *,
    unit: str = "t",
    advanced_kgce_per_unit: object = None,
    standard: str = "",
) -> dict[str, Any]:
    """Enter (or replace) a product energy-consumption limit (能耗限额) for an enterprise's product.

    ``output_metric`` is the statistic that counts the product's output (e.g. ``output:E01-steel``).
    """
    park = the_park(s)
    ent = _enterprise(s, park, enterprise)
    limit = en._dec(limit_kgce_per_unit, "limit_kgce_per_unit", positive=True)
    advanced = (
        en._dec(advanced_kgce_per_unit, "advanced_kgce_per_unit", positive=True)
        if advanced_kgce_per_unit is not None
        else None
    )
    if advanced is not None and advanced > limit:
        raise ValidationError("advanced_kgce_per_unit", f"at most the limit {limit}", advanced_kgce_per_unit)
    row = s.scalars(
        select(ProductQuotaRow).where(ProductQuotaRow.enterprise_id == ent.id, ProductQuotaRow.product == product)
    ).first()
    if row is None:
        row = ProductQuotaRow(park_id=park.id, enterprise_id=ent.id, product=product)
        s.add(row)
    row.output_metric, row.unit, row.limit_kgce_per_unit = output_metric, unit, limit
    row.advanced_kgce_per_unit, row.standard = advanced, standard
    s.flush()
    return {
        "enterprise": _holder(ent),
        "product": product,
        "limit_kgce_per_unit": limit,
        "advanced_kgce_per_unit": advanced,
    }


def check_product_quotas(s: Session, year: int, who: Principal | None = None) -> list[dict[str, Any]]:
    """Every stored quota against metered product energy: the enterprise's energy of the year [kgce]
    (stored accounting run) over the product's output (statistics), for the months with data.

    An enterprise with several quota products has its energy split by ``energy_share:<product>``
    statistics when present (annual, 0–1); otherwise all of it is counted against each product.
    """
    park = the_park(s)
    stmt = select(ProductQuotaRow).where(ProductQuotaRow.park_id == park.id)
    if who is not None:
        stmt = stmt.where(enterprise_filter(who, ProductQuotaRow.enterprise_id))
    out = []
    for q in s.scalars(stmt.order_by(ProductQuotaRow.id)):
        ent = s.get(Enterprise, q.enterprise_id)
        assert ent is not None
        energy_tce, month, source = _energy_tce(s, _holder(ent), year)
        output = _stat_sum(s, ent, q.output_metric, year, month or 12)
        if not output:
            raise ValidationError(
                f"output of {q.product} ({_holder(ent)} {year})", f"statistic {q.output_metric} > 0", output
            )
        share = _stat_sum(s, ent, f"energy_share:{q.product}", year)
        energy_kgce = energy_tce * 1000 * (share if share is not None else Decimal(1))
        quota = en.ProductQuota(q.product, Decimal(q.limit_kgce_per_unit), q.unit, q.standard, q.advanced_kgce_per_unit)
        check = en.check_product_quota(quota, energy_kgce, output)
        out.append(
            {
                "enterprise": _holder(ent),
                "product": q.product,
                "unit": q.unit,
                "energy_kgce": energy_kgce,
                "output": output,
                "unit_consumption_kgce": check.unit_consumption_kgce,
                "limit_kgce_per_unit": check.limit_kgce_per_unit,
                "advanced_kgce_per_unit": q.advanced_kgce_per_unit,
                "status": check.status,
                "margin_kgce": check.margin_kgce,
                "standard": q.standard,
                "energy_source": source,
            }
        )
    return out


def energy_status_report(s: Session, enterprise: str | int, year: int, who: Principal | None = None) -> dict[str, Any]:
    """Content of an enterprise's annual energy-use status report (能源利用状况报告) from stored data.

    References
    ----------
    《节约能源法》 Art. 53; guide §8.1.
    """
    park = the_park(s)
    ent = _enterprise(s, park, enterprise)
    _in_scope(who, ent)
    key = _holder(ent)
    run = s.scalars(select(AccountingRun).where(AccountingRun.org == key, AccountingRun.period == str(year))).first()
    energy, month, _ = _energy_tce(s, key, year)
    by_carrier: dict[str, Any] = {}
    for row in (run.summary or {}).get("energy", []) if run else []:
        name = str(row.get("activity"))
        by_carrier[name] = by_carrier.get(name, Decimal(0)) + Decimal(str(row.get("tce", 0)))
    if not by_carrier:
        by_carrier = {"total": energy}
    va = _stat_sum(s, ent, "value_added", year, month or 12) or Decimal(0)
    cap = s.scalars(
        select(EnergyCap).where(EnergyCap.park_id == park.id, EnergyCap.org == key, EnergyCap.year == year)
    ).first()
    target = en.DualControlTarget(key, year, cap.total_cap_tce, cap.intensity_cap) if cap else None
    doc: dict[str, Any] = en.energy_use_status_report(key, year, by_carrier, va, (), target)
    doc["products"]["checks"] = [c for c in check_product_quotas(s, year) if c["enterprise"] == key]
    doc["basic"].update(
        {"name": ent.name, "name_en": ent.name_en, "credit_code": ent.credit_code, "through_month": month}
    )
    rights = balances(s, None, ent.id)["accounts"].get(key, {})
    doc["energy_rights"] = {
        "holdings": {a: v for a, v in rights.items() if a.startswith(ENERGY_RIGHT)},
        "labels": {"zh": "用能权账户", "en": "Energy-use right accounts"},
    }
    return doc


def surrender_energy_rights(
    s: Session, enterprise: str | int, year: int, *, actor: str, who: Principal | None = None
) -> dict[str, Any]:
    """Surrender energy-use rights (用能权) for the enterprise's stored energy of ``year`` (rounded up to whole tce)."""
    ctx = _registry(s, actor)
    ent = _enterprise(s, ctx.park, enterprise)
    _in_scope(who, ent)
    holder = _holder(ent)
    energy, _, source = _energy_tce(s, holder, year)
    keys = [
        AccountKey(holder, parse_asset(r.asset))
        for r in _account_rows(s, ctx.park, holder)
        if r.asset.startswith(ENERGY_RIGHT) and r.pocket == AVAILABLE
    ]
    ctx.book.lock(keys + [AccountKey(SURRENDERED, k.asset) for k in keys])
    status, need, short, _ = en.energy_right_surrender(ctx.registry, holder, year, energy)
    row = ComplianceResult(
        park_id=ctx.park.id,
        enterprise_id=ent.id,
        programme="energy-use-rights",
        year=year,
        obligation=need,
        status=status,
        reason="" if status == "compliant" else f"{short} tce not covered by energy-use rights",
        surrendered_allowances=need - short,
        surrendered_ccer=0,
        shortfall=short,
        detail={"energy_source": source, "energy_tce": str(energy)},
        assessed_ms=_now_ms(),
    )
    s.add(row)
    s.flush()
    return {
        "enterprise": holder,
        "year": year,
        "energy_tce": energy,
        "needed_tce": need,
        "surrendered_tce": need - short,
        "shortfall_tce": short,
        "status": status,
        "movements": _movement_dicts(ctx.book.written),
    }


# ---------------------------------------------------------------------------- park market


def _load_market(s: Session, park: Park, label: str, asset: Asset, book: StoreBook) -> Market:
    market = Market(Registry(book), label)
    open_rows = s.scalars(
        select(MarketOrder)
        .where(
            MarketOrder.park_id == park.id,
            MarketOrder.market == label,
            MarketOrder.asset == asset.code,
            MarketOrder.status == OPEN,
        )
        .order_by(MarketOrder.seq)
        .with_for_update()
    )
    for row in open_rows:
        order = Order(
            row.order_ref,
            row.holder,
            row.side,
            asset,
            int(row.quantity),
            Decimal(row.price) if row.price is not None else None,
            row.type,
            int(row.seq),
            int(row.at_ms),
            remaining=int(row.remaining),
            # the engine keeps a reservation as an integer: units for a sell, fen for a buy
            held=int(Decimal(row.reserved).scaleb(0 if row.side == "sell" else 2)),
        )
        market.orders[order.id] = order
        market.book(asset).add(order)
    market._seq = int(
        s.scalar(select(func.max(MarketOrder.seq)).where(MarketOrder.park_id == park.id, MarketOrder.market == label))
        or 0
    )
    market.trade_offset = int(
        s.scalar(select(func.max(MarketTrade.seq)).where(MarketTrade.park_id == park.id, MarketTrade.market == label))
        or 0
    )
    return market


def _market_label(label: str) -> str:
    if label not in (PARK_INTERNAL, NATIONAL_SIMULATION):
        raise ValidationError("market", f"{PARK_INTERNAL} or {NATIONAL_SIMULATION}", label)
    return label


def _lock_market(s: Session, park: Park) -> None:
    """Serialise matching per park: lock the park row (FOR NO KEY UPDATE, so inserts referencing it go on)."""
    s.scalars(select(Park.id).where(Park.id == park.id).with_for_update(key_share=True)).all()


def place_order(
    s: Session,
    enterprise: str | int,
    side: str,
    asset: str,
    quantity: object,
    price: object = None,
    *,
    actor: str,
    order_type: str = "limit",
    order_ref: str | None = None,
    market: str = PARK_INTERNAL,
    who: Principal | None = None,
) -> dict[str, Any]:
    """Place an order in the park market: validate against the stored accounts, match, settle, store.

    The sell side must hold the instrument available, the buy side the cash (the limit value, or
    for a market order the cost of the fills it gets); both are reserved, and every fill moves
    instrument and cash out of the reservations in the same transaction, attested.

    Raises
    ------
    ValidationError
        Bad order or not enough holdings/cash (nothing moves, nothing is stored).
    """
    label = _market_label(market)
    park = the_park(s)
    ent = _enterprise(s, park, enterprise)
    _in_scope(who, ent)
    _lock_market(s, park)
    book = StoreBook(s, park, actor)
    parsed = parse_asset(asset)
    m = _load_market(s, park, label, parsed, book)
    holder = _holder(ent)
    ref = order_ref or f"O{m._seq + 1}"
    if s.scalar(
        select(MarketOrder.id).where(
            MarketOrder.park_id == park.id, MarketOrder.market == label, MarketOrder.order_ref == ref
        )
    ):
        raise ConflictError(f"order id {ref!r} already used in the {label} market")
    # lock, in id order, every account this order can touch: its own and those of the resting orders
    keys = [AccountKey(holder, a, p) for a in (parsed, _CASH) for p in (AVAILABLE, RESERVED)]
    for o in m.orders.values():
        keys += [AccountKey(o.account, a, p) for a in (parsed, _CASH) for p in (AVAILABLE, RESERVED)]
    book.lock(keys)
    at = book.at_ms
    try:
        result = m.submit(ref, holder, side, parsed, quantity, price, order_type, at_ms=at)
    except IntegrityError as exc:
        raise ValidationError(f"order {ref}", "an order its account can cover", str(exc)) from None
    order = result.order
    s.add(
        MarketOrder(
            park_id=park.id,
            market=label,
            order_ref=ref,
            holder=holder,
            enterprise_id=ent.id,
            side=order.side,
            asset=parsed.code,
            type=order.type,
            quantity=order.quantity,
            price=order.price,
            remaining=order.remaining,
            reserved=Decimal(order.reserved),
            status=order.status,
            seq=order.seq,
            at_ms=at,
            reason=result.reason,
        )
    )
    ids = {e.handle: e.id for e in s.scalars(select(Enterprise).where(Enterprise.park_id == park.id))}
    for t in result.trades:
        s.add(
            MarketTrade(
                park_id=park.id,
                market=label,
                seq=t.seq,
                asset=parsed.code,
                buyer=t.buyer,
                seller=t.seller,
                buyer_enterprise_id=ids.get(t.buyer),
                seller_enterprise_id=ids.get(t.seller),
                quantity=t.quantity,
                price=t.price,
                buy_order=t.buy_order,
                sell_order=t.sell_order,
                aggressor=t.aggressor,
                at_ms=at,
            )
        )
    touched = {t.buy_order for t in result.trades} | {t.sell_order for t in result.trades}
    touched.discard(ref)
    for row in s.scalars(
        select(MarketOrder).where(
            MarketOrder.park_id == park.id, MarketOrder.market == label, MarketOrder.order_ref.in_(touched)
        )
    ):
        resting = m.orders[row.order_ref]
        row.remaining, row.reserved, row.status = resting.remaining, Decimal(resting.reserved), resting.status
    s.flush()
    return {
        "market": label,
        "order": ref,
        "status": order.status,
        "remaining": order.remaining,
        "cancelled_quantity": result.cancelled_quantity,
        "reason": result.reason,
        "trades": [t.as_dict() for t in result.trades],
    }


def cancel_order(
    s: Session, order_ref: str, *, actor: str, market: str = PARK_INTERNAL, who: Principal | None = None
) -> dict[str, Any]:
    """Cancel an open order and give back its remaining reservation (attested)."""
    label = _market_label(market)
    park = the_park(s)
    _lock_market(s, park)
    row = s.scalars(
        select(MarketOrder).where(
            MarketOrder.park_id == park.id, MarketOrder.market == label, MarketOrder.order_ref == order_ref
        )
    ).first()
    if row is None or (
        who is not None and row.enterprise_id not in (visible_enterprise_ids(who) or {row.enterprise_id})
    ):
        raise NotFoundError("order", order_ref)
    if row.status != OPEN:
        raise ValidationError(f"cancel {order_ref}", "an open order", row.status)
    book = StoreBook(s, park, actor)
    asset = parse_asset(row.asset)
    m = _load_market(s, park, label, asset, book)
    book.lock([AccountKey(row.holder, a, p) for a in (asset, _CASH) for p in (AVAILABLE, RESERVED)])
    m.cancel(order_ref)
    row.status, row.reserved, row.reason = CANCELLED, Decimal(0), "cancelled"
    s.flush()
    return {
        "order": order_ref,
        "status": CANCELLED,
        "remaining": int(row.remaining),
        "movements": _movement_dicts(book.written),
    }


def market_data(s: Session, asset: str, market: str = PARK_INTERNAL, levels: int = 5) -> dict[str, Any]:
    """Last price, depth (best ``levels`` of each side) and daily OHLC of ``asset``; trade history is :func:`trades`."""
    label = _market_label(market)
    park = the_park(s)
    parsed = parse_asset(asset)
    m = Market(Registry(), label)
    for row in s.scalars(
        select(MarketOrder)
        .where(
            MarketOrder.park_id == park.id,
            MarketOrder.market == label,
            MarketOrder.asset == parsed.code,
            MarketOrder.status == OPEN,
        )
        .order_by(MarketOrder.seq)
    ):
        m.book(parsed).add(
            Order(
                row.order_ref,
                row.holder,
                row.side,
                parsed,
                int(row.quantity),
                Decimal(row.price) if row.price is not None else None,
                row.type,
                int(row.seq),
                remaining=int(row.remaining),
            )
        )
    from carbonpark.trading.market import Trade

    for t in s.scalars(
        select(MarketTrade)
        .where(MarketTrade.park_id == park.id, MarketTrade.market == label, MarketTrade.asset == parsed.code)
        .order_by(MarketTrade.seq)
    ):
        m.trades.append(
            Trade(
                int(t.seq),
                t.buyer,
                t.seller,
                parsed,
                int(t.quantity),
                Decimal(t.price),
                t.buy_order,
                t.sell_order,
                t.aggressor,
                int(t.at_ms),
            )
        )
    tz = park.timezone or "Asia/Shanghai"
    return {
        "market": label,
        "asset": parsed.code,
        "last_price": m.last_price(parsed),
        "depth": m.book(parsed).depth(levels),
        "ohlc": m.ohlc(parsed, tz),
        "trades": len(m.trades),
    }


def _trades_query(s: Session, who: Principal | None, asset: str | None, market: str) -> Select[Any]:
    label = _market_label(market)
    park = the_park(s)
    stmt = select(MarketTrade).where(MarketTrade.park_id == park.id, MarketTrade.market == label)
    if asset is not None:
        stmt = stmt.where(MarketTrade.asset == parse_asset(asset).code)
    if who is not None:
        stmt = stmt.where(
            or_(
                enterprise_filter(who, MarketTrade.buyer_enterprise_id),
                enterprise_filter(who, MarketTrade.seller_enterprise_id),
            )
        )
    return stmt


def _trade_item(t: MarketTrade, tz: str, visible: frozenset[int] | None = None) -> dict[str, Any]:
    """A trade as plain data; the side of an enterprise outside ``visible`` (None: all) is shown as None.

    An enterprise sees its own side of a trade (holder, order) and the price, quantity and time,
    not who was on the other side nor that party's order reference (the market is anonymous).
    """
    buyer_hidden = visible is not None and t.buyer_enterprise_id not in visible
    seller_hidden = visible is not None and t.seller_enterprise_id not in visible
    return {
        "seq": t.seq,
        "asset": t.asset,
        "buyer": None if buyer_hidden else t.buyer,
        "seller": None if seller_hidden else t.seller,
        "quantity": int(t.quantity),
        "price": Decimal(t.price),
        "value": Decimal(t.price) * int(t.quantity),
        "buy_order": None if buyer_hidden else t.buy_order,
        "sell_order": None if seller_hidden else t.sell_order,
        "aggressor": t.aggressor,
        "at": from_ms(int(t.at_ms), tz).isoformat(),
    }


def trades_page(
    s: Session,
    who: Principal | None = None,
    asset: str | None = None,
    market: str = PARK_INTERNAL,
    *,
    sort: str = "-seq",
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """One page of the trade history and how many trades there are; ``sort`` one of :data:`TRADE_SORT`.

    An enterprise user sees the trades it is a party to; the page is cut in SQL.
    """
    stmt = _trades_query(s, who, asset, market)
    tz = the_park(s).timezone or "Asia/Shanghai"
    columns = {"seq": MarketTrade.seq, "price": MarketTrade.price, "quantity": MarketTrade.quantity}
    rows, total = page_of(s, stmt, columns=columns, sort=sort, limit=limit, offset=offset, tie=MarketTrade.seq)
    return Page([_trade_item(t, tz, _visible(who)) for t in rows], total, limit, offset)


def trades(
    s: Session,
    who: Principal | None = None,
    asset: str | None = None,
    market: str = PARK_INTERNAL,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Trade history, newest first; an enterprise user sees the trades it is a party to."""
    stmt = _trades_query(s, who, asset, market)
    tz = the_park(s).timezone or "Asia/Shanghai"
    rows = s.scalars(stmt.order_by(MarketTrade.seq.desc()).limit(limit).offset(offset))
    return [_trade_item(t, tz, _visible(who)) for t in rows]


def _orders_query(s: Session, who: Principal | None, status: str | None, market: str) -> Select[Any]:
    label = _market_label(market)
    park = the_park(s)
    stmt = select(MarketOrder).where(MarketOrder.park_id == park.id, MarketOrder.market == label)
    if who is not None:
        stmt = stmt.where(enterprise_filter(who, MarketOrder.enterprise_id))
    if status is not None:
        stmt = stmt.where(MarketOrder.status == status)
    return stmt


def _order_item(o: MarketOrder) -> dict[str, Any]:
    return {
        "order": o.order_ref,
        "enterprise": o.holder,
        "side": o.side,
        "asset": o.asset,
        "type": o.type,
        "quantity": int(o.quantity),
        "price": None if o.price is None else Decimal(o.price),
        "remaining": int(o.remaining),
        "status": o.status,
        "reason": o.reason,
        "seq": int(o.seq),
    }


def orders_page(
    s: Session,
    who: Principal | None = None,
    status: str | None = None,
    market: str = PARK_INTERNAL,
    *,
    sort: str = "-seq",
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """One page of the market's orders (an enterprise user: its own) and how many there are.

    ``sort`` is one of :data:`ORDER_SORT`; ``seq`` (in each item) is the order's place in the
    market. The page is cut in SQL.
    """
    stmt = _orders_query(s, who, status, market)
    columns = {"seq": MarketOrder.seq, "price": MarketOrder.price, "quantity": MarketOrder.quantity}
    rows, total = page_of(s, stmt, columns=columns, sort=sort, limit=limit, offset=offset, tie=MarketOrder.id)
    return Page([_order_item(o) for o in rows], total, limit, offset)


def orders(
    s: Session, who: Principal | None = None, status: str | None = None, market: str = PARK_INTERNAL
) -> list[dict[str, Any]]:
    """Orders of the market (an enterprise user: its own), newest first (at most 1000)."""
    stmt = _orders_query(s, who, status, market)
    return [_order_item(o) for o in s.scalars(stmt.order_by(MarketOrder.seq.desc()).limit(1000))]


# ---------------------------------------------------------------------------- demo


DEMO_ACTOR = "demo-trading"


def _demo_year_orders(
    long: list[str], short: list[str], surplus: dict[str, int], deficit: dict[str, int]
) -> list[tuple]:
    """Orders of the demo: long enterprises offer their surplus, short ones bid for their deficit."""
    result: list[tuple] = []
    for i, h in enumerate(long):
        result.append((h, "sell", surplus[h], Decimal(88 + 2 * i), "limit", f"S{i + 1}"))
    for i, h in enumerate(short):
        kind = "market" if i == 0 else "limit"
        price = None if kind == "market" else Decimal(95 - i)
        result.append((h, "buy", deficit[h], price, kind, f"B{i + 1}"))
    return result


def demo_step(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """The demo park runs a compliance year (issue 12, "done when").

    Allocation by benchmark from the stored output statistics (illustrative benchmarks: each
    enterprise's own stored intensity × a factor between 0.90 and 1.08, labelled as such), cash
    and CCER deposits, a park market where long enterprises sell to short ones, a CCER request
    above the cap refused then a surrender within it, energy caps and product quotas checked,
    energy-use rights allocated and surrendered, a national statement reconciled. Every movement
    is attested; writes ``trading.json`` and the HTML reports.
    """
    doc: dict[str, Any] = {"year": year}
    with session(db) as s:
        park = the_park(s)
        ents = [e for e in s.scalars(select(Enterprise).where(Enterprise.park_id == park.id).order_by(Enterprise.id))]
        plan, intensity = [], {}
        factors = [Decimal("0.90"), Decimal("1.08"), Decimal("0.95"), Decimal("1.05"), Decimal("0.92"), Decimal("1.02")]
        for i, ent in enumerate(ents):
            metric = s.scalar(
                select(Statistic.metric).where(Statistic.enterprise_id == ent.id, Statistic.metric.like("output:%"))
            )
            output = _stat_sum(s, ent, str(metric), year) if metric else None
            try:
                emitted = verified_emissions(s, ent, year, allow_unverified=True)["exact_tco2e"]
            except ValidationError:
                continue
            if not output:
                continue
            bench = (Decimal(str(emitted)) / output * factors[i % len(factors)]).quantize(Decimal("0.0001"))
            intensity[_holder(ent)] = bench
            plan.append(
                {"enterprise": _holder(ent), "method": "benchmark", "benchmark": bench, "output_metric": metric}
            )
        doc["allocation"] = allocate(s, year, plan, actor=DEMO_ACTOR)["allocations"]
        for h in doc["allocation"]:
            issue(s, h, "cash", Decimal("2000000.00"), actor=DEMO_ACTOR, reason="deposit", ref="demo:cash")
        holders = list(doc["allocation"])
        for h in holders[:2]:
            issue(s, h, CCER, 200, actor=DEMO_ACTOR, reason="deposit", ref="demo:ccer")
    obligations: dict[str, int] = {}
    with session(db) as s:
        for h in holders:
            ent = _enterprise(s, the_park(s), h)
            obligations[h] = verified_emissions(s, ent, year, allow_unverified=True)["tco2e"]
    allocated = {h: int(v["allowances_t"]) for h, v in doc["allocation"].items()}
    surplus = {h: allocated[h] - obligations[h] for h in holders if allocated[h] > obligations[h]}
    deficit = {h: obligations[h] - allocated[h] for h in holders if allocated[h] < obligations[h]}
    results = []
    with session(db) as s:
        for h, side, qty, price, kind, ref in _demo_year_orders(sorted(surplus), sorted(deficit), surplus, deficit):
            try:
                results.append(
                    place_order(
                        s, h, side, f"allowance:{year}", qty, price, actor=DEMO_ACTOR, order_type=kind, order_ref=ref
                    )
                )
            except ValidationError as exc:
                results.append({"order": ref, "rejected": str(exc)})
        open_orders = orders(s, status=OPEN)
        if open_orders:
            results.append(cancel_order(s, open_orders[0]["order"], actor=DEMO_ACTOR))
    doc["orders"] = results
    compliance = []
    with session(db) as s:
        for h in holders:
            held = balances(s, None, h)["accounts"].get(h, {})
            allowances = sum(int(v["available"]) for a, v in held.items() if a.startswith(ALLOWANCE))
            ccer = int(held.get(CCER, {}).get("available", 0))
            cap = comp.ccer_cap(obligations[h])
            if ccer > cap:  # first ask for all CCER held: over the cap, refused with the reason
                compliance.append(surrender(s, h, year, 0, ccer, actor=DEMO_ACTOR, allow_unverified=True))
            use_ccer = min(ccer, cap, obligations[h])
            use_allowances = min(allowances, obligations[h] - use_ccer)
            compliance.append(surrender(s, h, year, use_allowances, use_ccer, actor=DEMO_ACTOR, allow_unverified=True))
    doc["compliance"] = [
        {
            k: c[k]
            for k in (
                "enterprise",
                "status",
                "reason",
                "verified_tco2e",
                "surrendered_allowances",
                "surrendered_ccer",
                "shortfall_t",
            )
        }
        for c in compliance
    ]
    with session(db) as s:
        park_energy = _energy_tce(s, PARK_ORG, year)[0]
        set_energy_cap(
            s, PARK_ORG, year, (park_energy * 4).quantize(Decimal(1)), "0.5", source="演示目标 (illustrative)"
        )
        for i, h in enumerate(holders):
            e_tce = _energy_tce(s, h, year)[0]
            set_energy_cap(
                s,
                h,
                year,
                (e_tce * Decimal("5.5") * (Decimal("0.9") if i == 0 else 1)).quantize(Decimal(1)),
                source="演示目标 (illustrative)",
            )
        doc["energy_positions"] = [energy_position(s, o, year) for o in [PARK_ORG, *holders]]
        for h in holders[:2]:
            ent = _enterprise(s, the_park(s), h)
            metric = s.scalar(
                select(Statistic.metric).where(Statistic.enterprise_id == ent.id, Statistic.metric.like("output:%"))
            )
            unit = (
                s.scalar(select(Statistic.unit).where(Statistic.enterprise_id == ent.id, Statistic.metric == metric))
                or "t"
            )
            energy, month, _ = _energy_tce(s, h, year)
            output = _stat_sum(s, ent, str(metric), year, month or 12) or Decimal(1)
            actual = energy * 1000 / output
            set_product_quota(
                s,
                h,
                str(metric).split(":", 1)[1],
                str(metric),
                (actual * Decimal("1.1")).quantize(Decimal("0.01")),
                unit=unit,
                advanced_kgce_per_unit=(actual * Decimal("0.9")).quantize(Decimal("0.01")),
                standard="演示限额 (illustrative, user-entered)",
            )
        doc["quotas"] = check_product_quotas(s, year)
        doc["key_energy_units"] = key_energy_units(s, year)
        first = holders[0]
        e_first = _energy_tce(s, first, year)[0]
        issue(
            s,
            first,
            f"{ENERGY_RIGHT}:{year}",
            int(e_first) - 10,
            actor=DEMO_ACTOR,
            reason="allocation",
            ref=f"energy_rights:{year}",
        )
        doc["energy_rights"] = surrender_energy_rights(s, first, year, actor=DEMO_ACTOR)
    with session(db) as s:
        held = balances(s)["accounts"]
        lines = ["statement_id,as_of,credit_code,asset,quantity"]
        codes = {e.handle: e.credit_code for e in s.scalars(select(Enterprise))}
        for h, assets in held.items():
            for a, v in assets.items():
                if a.startswith((ALLOWANCE, CCER)) and v["total"]:
                    national = int(v["total"]) + (5 if len(lines) == 1 else 0)  # one deliberate difference
                    lines.append(f"NR-{year}-DEMO,{year + 1}-01-05,{codes[h]},{a},{national}")
        doc["statement"] = import_statement(s, "\n".join(lines) + "\n", actor=DEMO_ACTOR)
        doc["trial_balance"] = trial_balance(s)
        doc["market"] = market_data(s, f"allowance:{year}")
        n_moves = int(s.scalar(select(func.count()).select_from(TradingMovement)) or 0)
        doc["statements"] = {h: compliance_statement(s, h, year) for h in holders}
    path = out / "trading.json"
    import json

    path.write_text(json.dumps(ledger.jsonable(doc), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return {
        "allocated_t": sum(allocated.values()),
        "trades": doc["market"]["trades"],
        "compliant": sum(1 for c in doc["compliance"] if c["status"] == "compliant"),
        "shortfall": sum(1 for c in doc["compliance"] if c["status"] == "shortfall"),
        "movements": n_moves,
        "statement_differences": len(doc["statement"]["differences"]),
        "output": str(path),
        "ledger_entries": n_moves,
    }
