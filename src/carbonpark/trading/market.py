"""The park market: a continuous double auction with a real order book.

Rules
-----
* Limit and market orders; whole units (t or tce), prices in CNY with at most 2 decimals.
* Price-time priority: the best price first, and at one price the order that came first.
* A trade happens at the **resting** order's price; an order may fill partly, against
  several resting orders; a limit order's remainder rests, a market order's remainder
  is cancelled.
* Self-trade prevention: when the incoming order would meet a resting order of the same
  account, the incoming order's remainder is cancelled (fills made before stay).
* What an order may need is reserved when it arrives (the instrument for a sell, the
  limit value ``quantity × price`` or, for a market buy, the cost of the fills it will
  get, for a buy), in the registry's ``reserved`` pocket. A trade settles instrument and
  cash out of those reservations in one atomic registry operation, so no trade can
  overdraw. An order that its account cannot cover is rejected and nothing moves.
* Cancel gives the remaining reservation back.

The market is labelled: a park-internal market (park quotas, energy-use rights, park
allowance trading) or a simulation of the national market for planning.

References
----------
Guide §7.3 (碳交易: 企业自主选择主动减排或购买排放权额度), §2.2(4) (碳排放权和用能权交易的
统筹衔接), §3.2.2(1) (企业间碳交易活动).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from carbonpark.errors import DuplicateError, NotFoundError, ValidationError
from carbonpark.times import from_ms
from carbonpark.trading.assets import (
    ALLOWANCE,
    AVAILABLE,
    CASH,
    CCER,
    ENERGY_RIGHT,
    RESERVED,
    AccountKey,
    Asset,
    to_price,
    to_tonnes,
)
from carbonpark.trading.registry import Registry

__all__ = [
    "BUY",
    "LIMIT",
    "MARKET",
    "NATIONAL_SIMULATION",
    "PARK_INTERNAL",
    "SELL",
    "Market",
    "Order",
    "OrderBook",
    "OrderResult",
    "Trade",
    "fen_to_cny",
]

BUY = "buy"
SELL = "sell"
LIMIT = "limit"
MARKET = "market"
PARK_INTERNAL = "park_internal"
"""A market between park enterprises for a park-internal instrument."""
NATIONAL_SIMULATION = "national_simulation"
"""A simulation of the national market, for planning; nothing it does is title."""

OPEN = "open"
FILLED = "filled"
CANCELLED = "cancelled"

_CASH = Asset(CASH)
_CNY_CACHE: dict[int, Decimal] = {}
_CNY_CACHE_MAX = 1 << 16


def fen_to_cny(fen: int) -> Decimal:
    """An amount in fen [0.01 CNY] as a ``Decimal`` CNY with two decimals (exact).

    Prices repeat, so up to 65,536 of them are kept; larger amounts are built each time.
    """
    value = _CNY_CACHE.get(fen)
    if value is None:
        value = Decimal(fen).scaleb(-2)
        if len(_CNY_CACHE) < _CNY_CACHE_MAX:
            _CNY_CACHE[fen] = value
    return value


def _cny_to_fen(amount: Decimal) -> int:
    """A fen-exact CNY amount (what the registry holds) as whole fen."""
    return int(amount.scaleb(2))


_PRICES: dict[object, tuple[int, Decimal]] = {}


def _price_fen(value: object, where: str) -> tuple[int, Decimal]:
    """A limit price as whole fen and as ``Decimal`` CNY; same rules as :func:`to_price`.

    Prices given as ``int`` or ``Decimal`` are remembered (up to 65,536 distinct values),
    since an order book sees the same few hundred prices again and again.
    """
    kind = type(value)
    if kind is int or kind is Decimal:
        try:
            known = _PRICES.get(value)
        except TypeError:  # a signalling NaN cannot be hashed: to_price refuses it below
            known = None
        if known is not None:
            return known
    checked = to_price(value, where)  # raises the error naming what was expected
    fen = _cny_to_fen(checked)
    result = fen, fen_to_cny(fen)
    if (kind is int or kind is Decimal) and len(_PRICES) < _CNY_CACHE_MAX:
        _PRICES[value] = result
    return result


@dataclass(slots=True, eq=False)
class Order:
    """An order and its state.

    Attributes
    ----------
    id, account, side, asset, type
        What was asked.
    quantity
        Units asked [t or tce].
    price
        Limit price [CNY/unit]; ``None`` for a market order.
    seq
        Arrival number (time priority).
    remaining
        Units not yet filled.
    held
        What is still reserved for this order, as an integer: units [t or tce] for a sell,
        fen [0.01 CNY] for a buy (:attr:`reserved` gives it in the registry's terms).
    status
        ``open``, ``filled`` or ``cancelled``.
    price_fen
        The limit price in whole fen (what the matching compares); derived from ``price``
        when not given.
    """

    id: str
    account: str
    side: str
    asset: Asset
    quantity: int
    price: Decimal | None
    type: str
    seq: int
    at_ms: int | None = None
    remaining: int = 0
    held: int = 0
    status: str = OPEN
    price_fen: int | None = None

    def __post_init__(self) -> None:
        if self.price_fen is None and self.price is not None:
            self.price_fen = _price_fen(self.price, f"order {self.id}.price")[0]

    @property
    def reserved(self) -> int | Decimal:
        """What is still reserved: units [t or tce] for a sell, ``Decimal`` CNY for a buy."""
        return self.held if self.side == SELL else fen_to_cny(self.held)


class Trade(NamedTuple):
    """One fill between a buyer and a seller (immutable; a named tuple, cheap to build).

    Attributes
    ----------
    quantity
        Units [t or tce].
    price
        The resting order's price [CNY/unit].
    aggressor
        Side of the incoming order (``buy`` or ``sell``).
    """

    seq: int
    buyer: str
    seller: str
    asset: Asset
    quantity: int
    price: Decimal
    buy_order: str
    sell_order: str
    aggressor: str
    at_ms: int | None = None

    @property
    def value(self) -> Decimal:
        """Cash paid [CNY]."""
        return self.price * self.quantity

    def as_dict(self) -> dict[str, object]:
        """Plain form for JSON (the instrument is the asset kind, its vintage apart)."""
        return {
            "seq": self.seq,
            "buyer": self.buyer,
            "seller": self.seller,
            "instrument": self.asset.kind,
            "vintage": self.asset.vintage,
            "quantity": self.quantity,
            "price": self.price,
            "value": self.value,
            "buy_order": self.buy_order,
            "sell_order": self.sell_order,
            "aggressor": self.aggressor,
            "at_ms": self.at_ms,
        }


@dataclass(slots=True)
class OrderResult:
    """What happened to one incoming order.

    Attributes
    ----------
    order
        The order, with its final state.
    trades
        Fills it made, in order.
    cancelled_quantity
        Units cancelled on arrival (market remainder or self-trade prevention).
    reason
        Why a remainder was cancelled (empty otherwise).
    """

    order: Order
    trades: list[Trade] = field(default_factory=list)
    cancelled_quantity: int = 0
    reason: str = ""


_Entry = tuple[int, int, Order]
"""A heap entry: (key [fen; minus the price for bids], arrival seq, order)."""


class OrderBook:
    """Resting orders of one asset in price-time priority.

    Each side is a binary heap of ``(key, seq, order)`` with integer keys: the price in fen
    for asks, minus the price for bids, so the best order of a side is its heap top and the
    arrival number breaks ties (time priority). Cancelled orders are dropped lazily, when
    they reach the top (or when more than half of a side is dead, by a rebuild).
    """

    __slots__ = ("asks", "asset", "bids", "dead")

    def __init__(self, asset: Asset) -> None:
        self.asset = asset
        self.bids: list[_Entry] = []
        self.asks: list[_Entry] = []
        self.dead = {BUY: 0, SELL: 0}

    def heap(self, side: str) -> list[_Entry]:
        """The heap of ``side``."""
        return self.bids if side == BUY else self.asks

    def add(self, order: Order) -> None:
        """Rest ``order`` behind the orders of its price that came before it."""
        if order.price_fen is None:
            raise ValidationError(f"order {order.id}.price", "a limit price to rest in the book", None)
        if order.side == BUY:
            heapq.heappush(self.bids, (-order.price_fen, order.seq, order))
        else:
            heapq.heappush(self.asks, (order.price_fen, order.seq, order))

    def remove(self, order: Order) -> None:
        """Take ``order`` off the book (it is marked cancelled if still open, and dropped lazily)."""
        if order.status == OPEN:
            order.status = CANCELLED
        self.dead[order.side] += 1
        heap = self.heap(order.side)
        if self.dead[order.side] > 32 and 2 * self.dead[order.side] > len(heap):
            live = [e for e in heap if e[2].status == OPEN]
            heapq.heapify(live)
            heap[:] = live
            self.dead[order.side] = 0

    def top(self, side: str) -> _Entry | None:
        """The best live entry of ``side`` (dead entries on top are dropped), or ``None``."""
        heap = self.heap(side)
        while heap:
            entry = heap[0]
            if entry[2].status == OPEN:
                return entry
            heapq.heappop(heap)
            self.dead[side] -= 1
        return None

    def resting(self, side: str) -> Iterator[Order]:
        """Resting orders of ``side`` in priority order (best price, then earliest)."""
        for entry in sorted(e for e in self.heap(side) if e[2].status == OPEN):
            yield entry[2]

    def best(self, side: str) -> Decimal | None:
        """Best price of ``side`` [CNY/unit]: highest bid or lowest ask."""
        entry = self.top(side)
        if entry is None:
            return None
        return fen_to_cny(-entry[0] if side == BUY else entry[0])

    def depth(self, levels: int = 5) -> dict[str, list[dict[str, object]]]:
        """Aggregated quantity and order count at the best ``levels`` prices of each side."""
        result: dict[str, list[dict[str, object]]] = {}
        for side, key in ((BUY, "bids"), (SELL, "asks")):
            rows: list[dict[str, object]] = []
            last: int | None = None
            for order in self.resting(side):
                if order.price_fen != last:
                    if len(rows) == levels:
                        break
                    last = order.price_fen
                    rows.append({"price": order.price, "quantity": 0, "orders": 0})
                row = rows[-1]
                row["quantity"] = int(row["quantity"]) + order.remaining  # type: ignore[call-overload]
                row["orders"] = int(row["orders"]) + 1  # type: ignore[call-overload]
            result[key] = rows
        return result


_Move = tuple[str, str, str, str, Asset, int, str, str]
"""A pending movement: debit holder, debit pocket, credit holder, credit pocket, asset,
amount (units, or fen for cash), reason, ref."""


class Market:
    """A continuous double-auction market settling in a :class:`~carbonpark.trading.registry.Registry`.

    Parameters
    ----------
    registry
        Where holdings and cash live; the market only moves them through it.
    label
        :data:`PARK_INTERNAL` or :data:`NATIONAL_SIMULATION`.
    instruments
        Asset kinds that may trade here.

    Notes
    -----
    Matching works on integers only (units, prices and cash in fen) and does not touch the
    registry: each order is checked against the available balances the market tracks (read
    from the registry on first use), and the movements it causes (reservation, the
    instrument and cash legs of each fill, releases) are queued. They are settled in the
    registry in one :meth:`Registry.atomic` operation at the end of each :meth:`submit` or
    :meth:`cancel`, or, inside :meth:`batch`, once for the whole batch. The registry checks
    every movement again when it settles; the movements and their order are the same either
    way.

    Examples
    --------
    >>> from decimal import Decimal
    >>> reg = Registry()
    >>> _ = reg.issue("A", Asset("allowance"), 100)
    >>> _ = reg.issue("B", Asset("cash"), Decimal("10000.00"))
    >>> m = Market(reg)
    >>> _ = m.submit("s1", "A", "sell", Asset("allowance"), 40, 50)
    >>> result = m.submit("b1", "B", "buy", Asset("allowance"), 40, 55)
    >>> [(t.buyer, t.seller, t.quantity, t.price) for t in result.trades]
    [('B', 'A', 40, Decimal('50.00'))]
    """

    def __init__(
        self,
        registry: Registry,
        label: str = PARK_INTERNAL,
        instruments: tuple[str, ...] = (ALLOWANCE, CCER, ENERGY_RIGHT),
    ) -> None:
        if label not in (PARK_INTERNAL, NATIONAL_SIMULATION):
            raise ValidationError("market.label", f"{PARK_INTERNAL} or {NATIONAL_SIMULATION}", label)
        self.registry = registry
        self.label = label
        self.instruments = instruments
        self.books: dict[Asset, OrderBook] = {}
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self._seq = 0
        self.trade_offset = 0
        """Trades numbered before this market object was built (a book reloaded from the store)."""
        self._in_batch = False
        self._units: dict[Asset, dict[str, int]] = {}
        """Available units per asset and account, while a batch runs."""
        self._cash: dict[str, int] = {}
        self._moves: list[_Move] = []
        self._keys: dict[tuple[str, Asset, str], AccountKey] = {}

    # -- market data -------------------------------------------------------------------------

    def book(self, asset: Asset) -> OrderBook:
        """The order book of ``asset`` (created empty on first use)."""
        book = self.books.get(asset)
        if book is None:
            book = self.books[asset] = OrderBook(asset)
        return book

    def last_price(self, asset: Asset) -> Decimal | None:
        """Price of the latest trade in ``asset`` [CNY/unit], ``None`` before the first."""
        for trade in reversed(self.trades):
            if trade.asset == asset:
                return trade.price
        return None

    def ohlc(self, asset: Asset, tz: str = "Asia/Shanghai") -> list[dict[str, object]]:
        """Daily open, high, low, close [CNY/unit], volume [units] and value [CNY] of ``asset``.

        Days are park-local calendar days; trades without a time fall in one bar with
        ``day = None`` (listed first).
        """
        by_day: dict[dt.date | None, list[Trade]] = {}
        for trade in self.trades:
            if trade.asset == asset:
                by_day.setdefault(trading_day(trade, tz), []).append(trade)
        bars: list[dict[str, object]] = []
        for day in sorted(by_day, key=lambda d: (d is not None, d or dt.date.min)):
            trades = by_day[day]
            prices = [t.price for t in trades]
            bars.append(
                {
                    "day": day,
                    "open": prices[0],
                    "high": max(prices),
                    "low": min(prices),
                    "close": prices[-1],
                    "volume": sum(t.quantity for t in trades),
                    "value": sum((t.value for t in trades), Decimal(0)),
                }
            )
        return bars

    # -- available balances and settlement ---------------------------------------------------

    def _units_in(self, asset: Asset) -> dict[str, int]:
        units = self._units.get(asset)
        if units is None:
            units = self._units[asset] = {}
        return units

    def _units_of(self, units: dict[str, int], account: str, asset: Asset) -> int:
        value = units.get(account)
        if value is None:
            value = units[account] = int(self.registry.balance(account, asset))
        return value

    def _cash_of(self, account: str) -> int:
        value = self._cash.get(account)
        if value is None:
            value = self._cash[account] = _cny_to_fen(Decimal(self.registry.balance(account, _CASH)))
        return value

    def _key(self, holder: str, asset: Asset, pocket: str) -> AccountKey:
        k = (holder, asset, pocket)
        key = self._keys.get(k)
        if key is None:
            key = self._keys[k] = AccountKey(holder, asset, pocket)
        return key

    @contextmanager
    def batch(self) -> Iterator[Market]:
        """Match many orders and settle their movements in the registry once, at the end.

        Inside the block, :meth:`submit` and :meth:`cancel` check each order against the
        balances as the earlier orders of the batch left them, exactly as one by one; the
        registry sees all movements of the batch in one atomic operation when the block
        ends (also when it ends by an exception, since the book already holds the orders).
        Nothing else may move the same accounts while the block runs. Nested blocks join
        the outermost one.
        """
        if self._in_batch:
            yield self
            return
        self._in_batch = True
        try:
            yield self
        finally:
            self._in_batch = False
            try:
                self.settle()
            finally:
                self._units.clear()
                self._cash.clear()

    def settle(self) -> int:
        """Apply the queued movements in the registry, in order, in one atomic operation.

        Returns the number of movements applied. Called by :meth:`submit`, :meth:`cancel`
        and at the end of :meth:`batch`.

        Raises
        ------
        IntegrityError
            A movement would overdraw an account (the registry was changed behind the
            market's back); nothing is applied.
        """
        moves, self._moves = self._moves, []
        if not moves:
            return 0
        key = self._key
        return self.registry.move_many(
            (
                key(dh, asset, dp),
                key(ch, asset, cp),
                fen_to_cny(amount) if asset.kind == CASH else amount,
                reason,
                ref,
            )
            for dh, dp, ch, cp, asset, amount, reason, ref in moves
        )

    # -- orders ------------------------------------------------------------------------------

    def _validate(
        self,
        order_id: str,
        account: str,
        side: str,
        asset: Asset,
        quantity: object,
        price: object,
        order_type: str,
    ) -> tuple[int, int | None, Decimal | None]:
        if not order_id:
            raise ValidationError("id", "a non-empty order id", order_id)
        if order_id in self.orders:
            raise DuplicateError(f"order id {order_id!r} already used")
        if not account or account.startswith("@"):
            raise ValidationError("account", "an enterprise account name", account)
        if side != BUY and side != SELL:
            raise ValidationError("side", "buy or sell", side)
        if order_type != LIMIT and order_type != MARKET:
            raise ValidationError("type", "limit or market", order_type)
        if asset.kind not in self.instruments:
            raise ValidationError("instrument", f"one of {', '.join(self.instruments)}", asset.kind)
        qty = quantity if type(quantity) is int and quantity > 0 else to_tonnes(quantity, "quantity")
        if qty == 0:
            raise ValidationError("quantity", "a whole number > 0", quantity)
        if order_type == MARKET:
            if price is not None:
                raise ValidationError("price", "no price for a market order", price)
            return qty, None, None
        fen, limit = _price_fen(price, "price")
        return qty, fen, limit

    def submit(
        self,
        order_id: str,
        account: str,
        side: str,
        asset: Asset,
        quantity: object,
        price: object = None,
        order_type: str = LIMIT,
        at_ms: int | None = None,
    ) -> OrderResult:
        """Take an order: validate, reserve, match, settle, rest or cancel the remainder.

        Raises
        ------
        ValidationError, DuplicateError
            Malformed order, or the account cannot cover it (nothing moves).
        """
        qty, limit_fen, limit = self._validate(order_id, account, side, asset, quantity, price, order_type)
        if self._in_batch:
            return self._submit(order_id, account, side, asset, qty, limit_fen, limit, order_type, at_ms)
        with self.batch():
            return self._submit(order_id, account, side, asset, qty, limit_fen, limit, order_type, at_ms)

    def _submit(
        self,
        order_id: str,
        account: str,
        side: str,
        asset: Asset,
        qty: int,
        limit_fen: int | None,
        limit: Decimal | None,
        order_type: str,
        at_ms: int | None,
    ) -> OrderResult:
        book = self.book(asset)
        buy = side == BUY
        heap = book.asks if buy else book.bids
        dead = book.dead
        opposite = SELL if buy else BUY
        # plan: walk the opposite side best first; fully taken entries are popped (and pushed
        # back if the order is refused), a partly taken one stays on top
        fills: list[tuple[Order, int, int]] = []
        popped: list[_Entry] = []
        wanted, cost, self_trade = qty, 0, False
        while wanted and heap:
            entry = heap[0]
            resting = entry[2]
            if resting.status != OPEN:  # cancelled earlier: dropped now
                heapq.heappop(heap)
                dead[opposite] -= 1
                continue
            fen = entry[0] if buy else -entry[0]
            if limit_fen is not None and (fen > limit_fen if buy else fen < limit_fen):
                break
            if resting.account == account:
                self_trade = True
                break
            take = resting.remaining if resting.remaining < wanted else wanted
            fills.append((resting, take, fen))
            cost += fen * take
            wanted -= take
            if take == resting.remaining:
                popped.append(heapq.heappop(heap))
        # validate against the available balances (nothing has moved yet)
        if buy:
            need = limit_fen * qty if limit_fen is not None else cost
            cash = self._cash_of(account)
            if cash < need:
                for entry in popped:
                    heapq.heappush(heap, entry)
                raise ValidationError(
                    f"order {order_id}",
                    f"{account} to have {fen_to_cny(need)} CNY to buy {qty} {asset.code}",
                    f"{fen_to_cny(cash)} available",
                )
            if need:
                self._cash[account] = cash - need
        else:
            need = qty
            units = self._units_in(asset)
            held = self._units_of(units, account, asset)
            if held < qty:
                for entry in popped:
                    heapq.heappush(heap, entry)
                raise ValidationError(
                    f"order {order_id}", f"{account} to hold {qty} {asset.code} to sell", f"{held} available"
                )
            units[account] = held - qty
        order = Order(
            order_id, account, side, asset, qty, limit, order_type, self._seq + 1, at_ms, qty, need, OPEN, limit_fen
        )
        if need:
            self._moves.append(
                (account, RESERVED, account, AVAILABLE, asset if not buy else _CASH, need, "reserve", order_id)
            )
        trades = [self._fill(order, resting, take, fen) for resting, take, fen in fills]
        result = OrderResult(order, trades)
        if order.remaining and (order_type == MARKET or self_trade):
            result.cancelled_quantity = order.remaining
            result.reason = (
                "self-trade prevention: would meet a resting order of the same account"
                if self_trade
                else "market order: no more liquidity, remainder cancelled"
            )
            self._release_rest(order)
            order.status = CANCELLED
        elif order.remaining:
            book.add(order)
        else:
            order.status = FILLED
            self._release_rest(order)
        self._seq += 1
        self.orders[order_id] = order
        return result

    def _fill(self, incoming: Order, resting: Order, quantity: int, fen: int) -> Trade:
        """Queue the instrument and cash legs of one fill, out of the reservations."""
        buy, sell = (incoming, resting) if incoming.side == BUY else (resting, incoming)
        asset = incoming.asset
        value = fen * quantity
        trade_seq = self.trade_offset + len(self.trades) + 1
        ref = f"T{trade_seq}"
        moves = self._moves
        moves.append((buy.account, AVAILABLE, sell.account, RESERVED, asset, quantity, "trade", ref))
        moves.append((sell.account, AVAILABLE, buy.account, RESERVED, _CASH, value, "trade", ref))
        units = self._units_in(asset)
        units[buy.account] = self._units_of(units, buy.account, asset) + quantity
        self._cash[sell.account] = self._cash_of(sell.account) + value
        sell.held -= quantity
        consumed = (buy.price_fen if buy.price_fen is not None else fen) * quantity
        buy.held -= consumed
        if consumed > value:  # a buy limit filled below its limit: give back the difference
            moves.append((buy.account, AVAILABLE, buy.account, RESERVED, _CASH, consumed - value, "release", buy.id))
            self._cash[buy.account] = self._cash_of(buy.account) + consumed - value
        buy.remaining -= quantity
        sell.remaining -= quantity
        if resting.remaining == 0:
            resting.status = FILLED  # its heap entry was popped while planning
        trade = Trade(
            trade_seq,
            buy.account,
            sell.account,
            asset,
            quantity,
            fen_to_cny(fen),
            buy.id,
            sell.id,
            incoming.side,
            incoming.at_ms,
        )
        self.trades.append(trade)
        return trade

    def _release_rest(self, order: Order) -> None:
        held = order.held
        if held:
            account = order.account
            if order.side == SELL:
                self._moves.append((account, AVAILABLE, account, RESERVED, order.asset, held, "release", order.id))
                units = self._units_in(order.asset)
                units[account] = self._units_of(units, account, order.asset) + held
            else:
                self._moves.append((account, AVAILABLE, account, RESERVED, _CASH, held, "release", order.id))
                self._cash[account] = self._cash_of(account) + held
            order.held = 0

    def cancel(self, order_id: str) -> Order:
        """Cancel a resting order and give back its remaining reservation.

        Raises
        ------
        NotFoundError
            No such order.
        ValidationError
            The order is no longer open (filled or cancelled).
        """
        order = self.orders.get(order_id)
        if order is None:
            raise NotFoundError("order", order_id)
        if order.status != OPEN:
            raise ValidationError(f"cancel {order_id}", "an open order", order.status)
        if self._in_batch:
            self._cancel(order)
        else:
            with self.batch():
                self._cancel(order)
        return order

    def _cancel(self, order: Order) -> None:
        self._release_rest(order)
        order.status = CANCELLED
        self.book(order.asset).remove(order)


def trading_day(trade: Trade, tz: str = "Asia/Shanghai") -> dt.date | None:
    """Park-local calendar day of a trade (``None`` without a time)."""
    return None if trade.at_ms is None else from_ms(trade.at_ms, tz).date()
