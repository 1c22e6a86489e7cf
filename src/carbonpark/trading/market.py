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

import bisect
import datetime as dt
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from carbonpark.errors import DuplicateError, NotFoundError, ValidationError
from carbonpark.times import from_ms
from carbonpark.trading.assets import (
    ALLOWANCE,
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


@dataclass(slots=True)
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
    reserved
        What is still reserved for this order: units for a sell, CNY for a buy.
    status
        ``open``, ``filled`` or ``cancelled``.
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
    reserved: int | Decimal = 0
    status: str = OPEN


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill between a buyer and a seller.

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


class OrderBook:
    """Resting orders of one asset, by price level and arrival (price-time priority)."""

    def __init__(self, asset: Asset) -> None:
        self.asset = asset
        self._levels: dict[str, dict[Decimal, deque[Order]]] = {BUY: {}, SELL: {}}
        self._prices: dict[str, list[Decimal]] = {BUY: [], SELL: []}  # ascending

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        assert order.price is not None
        levels = self._levels[order.side]
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = deque()
            bisect.insort(self._prices[order.side], order.price)
        level.append(order)

    def remove(self, order: Order) -> None:
        """Take ``order`` off the book."""
        assert order.price is not None
        levels = self._levels[order.side]
        level = levels[order.price]
        if level and level[0] is order:
            level.popleft()
        else:
            level.remove(order)
        if not level:
            del levels[order.price]
            prices = self._prices[order.side]
            del prices[bisect.bisect_left(prices, order.price)]

    def resting(self, side: str) -> Iterator[Order]:
        """Resting orders of ``side`` in priority order (best price, then earliest)."""
        prices = self._prices[side]
        ordered = reversed(prices) if side == BUY else iter(prices)
        levels = self._levels[side]
        for price in list(ordered):
            yield from list(levels.get(price, ()))

    def best(self, side: str) -> Decimal | None:
        """Best price of ``side``: highest bid or lowest ask."""
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BUY else prices[0]

    def depth(self, levels: int = 5) -> dict[str, list[dict[str, object]]]:
        """Aggregated quantity and order count at the best ``levels`` prices of each side."""
        result: dict[str, list[dict[str, object]]] = {}
        for side, key in ((BUY, "bids"), (SELL, "asks")):
            prices = self._prices[side]
            best_first = list(reversed(prices)) if side == BUY else list(prices)
            result[key] = [
                {
                    "price": price,
                    "quantity": sum(o.remaining for o in self._levels[side][price]),
                    "orders": len(self._levels[side][price]),
                }
                for price in best_first[:levels]
            ]
        return result


def _crosses(side: str, limit: Decimal | None, resting_price: Decimal) -> bool:
    if limit is None:
        return True
    return resting_price <= limit if side == BUY else resting_price >= limit


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
    ) -> tuple[int, Decimal | None]:
        if not order_id:
            raise ValidationError("id", "a non-empty order id", order_id)
        if order_id in self.orders:
            raise DuplicateError(f"order id {order_id!r} already used")
        if not account or account.startswith("@"):
            raise ValidationError("account", "an enterprise account name", account)
        if side not in (BUY, SELL):
            raise ValidationError("side", "buy or sell", side)
        if order_type not in (LIMIT, MARKET):
            raise ValidationError("type", "limit or market", order_type)
        if asset.kind not in self.instruments:
            raise ValidationError("instrument", f"one of {', '.join(self.instruments)}", asset.kind)
        qty = to_tonnes(quantity, "quantity")
        if qty == 0:
            raise ValidationError("quantity", "a whole number > 0", quantity)
        if order_type == MARKET:
            if price is not None:
                raise ValidationError("price", "no price for a market order", price)
            return qty, None
        return qty, to_price(price, "price")

    def _plan(self, order: Order) -> tuple[list[tuple[Order, int]], bool]:
        """Fills the incoming order would get now, and whether it stops on a self-trade."""
        fills: list[tuple[Order, int]] = []
        wanted = order.quantity
        opposite = SELL if order.side == BUY else BUY
        for resting in self.book(order.asset).resting(opposite):
            assert resting.price is not None
            if wanted == 0 or not _crosses(order.side, order.price, resting.price):
                break
            if resting.account == order.account:
                return fills, True
            take = min(wanted, resting.remaining)
            fills.append((resting, take))
            wanted -= take
        return fills, False

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
            Malformed order (nothing moves).
        IntegrityError
            The account cannot cover the order (nothing moves).
        """
        qty, limit = self._validate(order_id, account, side, asset, quantity, price, order_type)
        order = Order(order_id, account, side, asset, qty, limit, order_type, self._seq + 1, at_ms, remaining=qty)
        fills, self_trade = self._plan(order)
        reg = self.registry
        if side == SELL:
            need: int | Decimal = qty
            held = reg.balance(account, asset)
            if held < qty:
                raise ValidationError(
                    f"order {order_id}", f"{account} to hold {qty} {asset.code} to sell", f"{held} available"
                )
        else:
            if limit is not None:
                need = limit * qty
            else:
                need = sum((r.price * take for r, take in fills if r.price is not None), Decimal("0.00"))
            cash = reg.balance(account, _CASH)
            if cash < need:
                raise ValidationError(
                    f"order {order_id}",
                    f"{account} to have {need} CNY to buy {qty} {asset.code}",
                    f"{cash} available",
                )
        with reg.atomic():
            order.reserved = need
            if need:
                reg.reserve(account, asset if side == SELL else _CASH, need, ref=order_id)
            trades = [self._settle(order, resting, take) for resting, take in fills]
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
                self.book(asset).add(order)
            else:
                order.status = FILLED
                self._release_rest(order)
        self._seq += 1
        self.orders[order_id] = order
        return result

    def _settle(self, incoming: Order, resting: Order, quantity: int) -> Trade:
        """Move instrument and cash for one fill, out of the reservations."""
        reg = self.registry
        buy, sell = (incoming, resting) if incoming.side == BUY else (resting, incoming)
        assert resting.price is not None
        price = resting.price
        value = price * quantity
        trade_seq = self.trade_offset + len(self.trades) + 1
        ref = f"T{trade_seq}"
        reg.move(
            AccountKey(buy.account, buy.asset),
            AccountKey(sell.account, sell.asset, RESERVED),
            quantity,
            "trade",
            ref,
        )
        reg.move(AccountKey(sell.account, _CASH), AccountKey(buy.account, _CASH, RESERVED), value, "trade", ref)
        sell.reserved -= quantity
        consumed = (buy.price if buy.price is not None else price) * quantity
        buy.reserved -= consumed
        if consumed > value:  # a buy limit filled below its limit: give back the difference
            reg.release(buy.account, _CASH, consumed - value, ref=buy.id)
        for order in (buy, sell):
            order.remaining -= quantity
        if resting.remaining == 0:
            resting.status = FILLED
            self.book(resting.asset).remove(resting)
        trade = Trade(
            trade_seq,
            buy.account,
            sell.account,
            incoming.asset,
            quantity,
            price,
            buy.id,
            sell.id,
            incoming.side,
            incoming.at_ms,
        )
        self.trades.append(trade)
        return trade

    def _release_rest(self, order: Order) -> None:
        if order.reserved:
            asset = order.asset if order.side == SELL else _CASH
            self.registry.release(order.account, asset, order.reserved, ref=order.id)
            order.reserved = 0 if order.side == SELL else Decimal("0.00")

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
        with self.registry.atomic():
            self._release_rest(order)
        self.book(order.asset).remove(order)
        order.status = CANCELLED
        return order


def trading_day(trade: Trade, tz: str = "Asia/Shanghai") -> dt.date | None:
    """Park-local calendar day of a trade (``None`` without a time)."""
    return None if trade.at_ms is None else from_ms(trade.at_ms, tz).date()
