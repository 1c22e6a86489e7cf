"""The park order book: matching sequences worked by hand, and a conservation property.

Rules under test (issue 12 item 3): price-time priority, trade at the resting order's
price, partial fills, cancel, market remainder cancelled, self-trade prevention (the
incoming order is cancelled), no selling what you do not hold, no buying without the cash.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbonpark.errors import DuplicateError, NotFoundError, ValidationError
from carbonpark.times import to_ms
from carbonpark.trading.assets import CASH, RESERVED, Asset
from carbonpark.trading.market import BUY, MARKET, NATIONAL_SIMULATION, SELL, Market
from carbonpark.trading.registry import Registry

ALW = Asset("allowance", 2024)
CCER_ = Asset("ccer")
CNY = Asset(CASH)


def _market(**cash_and_tonnes: tuple[int, int]) -> Market:
    """A market where each named account holds (allowance tonnes, cash CNY)."""
    reg = Registry()
    for name, (tonnes, cash) in cash_and_tonnes.items():
        if tonnes:
            reg.issue(name, ALW, tonnes)
        if cash:
            reg.issue(name, CNY, Decimal(cash))
    return Market(reg)


def _fills(result: object) -> list[tuple[str, str, int, Decimal]]:
    return [(t.buyer, t.seller, t.quantity, t.price) for t in result.trades]  # type: ignore[attr-defined]


def test_contract_example_trades_at_resting_price() -> None:
    m = _market(A=(100, 0), B=(0, 10_000))
    m.submit("s1", "A", SELL, ALW, 40, 50)
    result = m.submit("b1", "B", BUY, ALW, 40, 55)
    # one trade B←A 40 @ 50; B reserved 40 × 55 = 2,200, paid 2,000, got 200 back
    assert _fills(result) == [("B", "A", 40, Decimal("50.00"))]
    reg = m.registry
    assert reg.balance("B", CNY) == Decimal("8000.00") and reg.balance("B", CNY, RESERVED) == 0
    assert reg.balance("A", CNY) == Decimal("2000.00") and reg.balance("A", ALW) == 60
    assert reg.balance("B", ALW) == 40
    reg.check_integrity()


def test_price_time_priority_and_partial_fill() -> None:
    m = _market(A=(100, 0), C=(100, 0), D=(100, 0), B=(0, 10_000))
    m.submit("s1", "A", SELL, ALW, 10, 51)
    m.submit("s2", "C", SELL, ALW, 10, 50)
    m.submit("s3", "D", SELL, ALW, 10, 50)
    result = m.submit("b1", "B", BUY, ALW, 25, 52)
    # best price 50 first, C before D (earlier); then 5 of A's 51
    assert _fills(result) == [
        ("B", "C", 10, Decimal("50.00")),
        ("B", "D", 10, Decimal("50.00")),
        ("B", "A", 5, Decimal("51.00")),
    ]
    # B pays 500 + 500 + 255 = 1,255 → 8,745 left; A's s1 rests with 5
    assert m.registry.balance("B", CNY) == Decimal("8745.00")
    assert m.orders["s1"].remaining == 5 and m.orders["s1"].status == "open"
    assert m.registry.balance("A", ALW, RESERVED) == 5
    depth = m.book(ALW).depth()
    assert depth == {"bids": [], "asks": [{"price": Decimal("51.00"), "quantity": 5, "orders": 1}]}
    assert m.last_price(ALW) == Decimal("51.00")


def test_incoming_sell_trades_at_resting_bids() -> None:
    m = _market(A=(100, 0), B=(0, 1_000), D=(0, 1_000))
    m.submit("b1", "B", BUY, ALW, 10, 55)
    m.submit("b2", "D", BUY, ALW, 10, 54)
    result = m.submit("s1", "A", SELL, ALW, 15, 53)
    # 10 @ 55 with B (best bid) then 5 @ 54 with D; A receives 550 + 270 = 820
    assert _fills(result) == [("B", "A", 10, Decimal("55.00")), ("D", "A", 5, Decimal("54.00"))]
    assert m.registry.balance("A", CNY) == Decimal("820.00")
    # D's bid rests with 5; 5 × 54 = 270 CNY still reserved, 1,000 − 540 = 460 available
    assert m.registry.balance("D", CNY, RESERVED) == Decimal("270.00")
    assert m.registry.balance("D", CNY) == Decimal("460.00")


def test_cancel_gives_the_reservation_back() -> None:
    m = _market(A=(100, 0), B=(0, 1_000))
    m.submit("s1", "A", SELL, ALW, 30, 50)
    m.submit("b1", "B", BUY, ALW, 10, 50)
    order = m.cancel("s1")
    assert order.status == "cancelled"
    # 100 − 10 sold = 90, nothing reserved, book empty
    assert m.registry.balance("A", ALW) == 90 and m.registry.balance("A", ALW, RESERVED) == 0
    assert m.book(ALW).best(SELL) is None
    with pytest.raises(ValidationError, match="an open order"):
        m.cancel("s1")
    with pytest.raises(NotFoundError):
        m.cancel("nope")
    # a later buy finds nothing to match
    assert m.submit("b2", "B", BUY, ALW, 5, 60).trades == []


def test_market_order_remainder_is_cancelled() -> None:
    m = _market(A=(100, 0), C=(100, 0), B=(0, 10_000))
    m.submit("s1", "A", SELL, ALW, 10, 50)
    m.submit("s2", "C", SELL, ALW, 3, 52)
    result = m.submit("b1", "B", BUY, ALW, 15, order_type=MARKET)
    # 10 @ 50 + 3 @ 52 = 656 CNY; 2 cancelled; nothing left reserved
    assert _fills(result) == [("B", "A", 10, Decimal("50.00")), ("B", "C", 3, Decimal("52.00"))]
    assert result.cancelled_quantity == 2 and "market order" in result.reason
    assert m.registry.balance("B", CNY) == Decimal("9344.00")
    assert m.registry.balance("B", CNY, RESERVED) == 0
    assert m.book(ALW).best(BUY) is None  # never rests


def test_market_sell_into_empty_book_is_cancelled_whole() -> None:
    m = _market(A=(100, 0))
    result = m.submit("s1", "A", SELL, ALW, 10, order_type=MARKET)
    assert (result.trades, result.cancelled_quantity) == ([], 10)
    assert m.registry.balance("A", ALW) == 100


def test_self_trade_prevention_cancels_the_incoming_order() -> None:
    m = _market(A=(100, 10_000), C=(100, 0))
    m.submit("s0", "C", SELL, ALW, 5, 49)
    m.submit("s1", "A", SELL, ALW, 10, 50)
    result = m.submit("b1", "A", BUY, ALW, 20, 55)
    # 5 @ 49 from C, then A's own ask: the remaining 15 are cancelled, s1 stays
    assert _fills(result) == [("A", "C", 5, Decimal("49.00"))]
    assert result.cancelled_quantity == 15 and "self-trade" in result.reason
    assert m.orders["s1"].status == "open" and m.orders["b1"].status == "cancelled"
    assert m.registry.balance("A", CNY) == Decimal("9755.00")  # 10,000 − 245
    assert m.registry.balance("A", CNY, RESERVED) == 0


@pytest.mark.parametrize(
    ("order", "error", "message"),
    [
        (("x1", "A", SELL, ALW, 101, 50), ValidationError, "A to hold 101 allowance:2024 to sell"),
        (("x2", "B", BUY, ALW, 10, 101), ValidationError, "B to have 1010.00 CNY"),
        (("x3", "A", SELL, ALW, 0, 50), ValidationError, "quantity"),
        (("x4", "A", SELL, ALW, 10, "0.001"), ValidationError, "price"),
        (("x5", "A", "hold", ALW, 10, 50), ValidationError, "buy or sell"),
        (("x6", "A", SELL, Asset("cash"), 10, 50), ValidationError, "instrument"),
    ],
)
def test_orders_that_cannot_be_covered_are_refused(order: tuple, error: type, message: str) -> None:
    m = _market(A=(100, 0), B=(0, 1_000))
    with pytest.raises(error, match=message):
        m.submit(*order)
    # nothing moved: no movements beyond the two issues
    assert len(m.registry.entries) == 2


def test_duplicate_order_id_refused() -> None:
    m = _market(A=(100, 0))
    m.submit("s1", "A", SELL, ALW, 10, 50)
    with pytest.raises(DuplicateError):
        m.submit("s1", "A", SELL, ALW, 10, 50)


def test_instruments_have_separate_books_and_market_is_labelled() -> None:
    reg = Registry()
    reg.issue("A", CCER_, 20)
    reg.issue("B", CNY, Decimal(1000))
    m = Market(reg, label=NATIONAL_SIMULATION)
    m.submit("s1", "A", SELL, CCER_, 20, 40)
    assert m.submit("b1", "B", BUY, ALW, 5, 60).trades == []  # no allowance seller
    assert _fills(m.submit("b2", "B", BUY, CCER_, 5, 45)) == [("B", "A", 5, Decimal("40.00"))]
    assert m.label == "national_simulation"
    with pytest.raises(ValidationError):
        Market(reg, label="otc")


def test_daily_ohlc() -> None:
    m = _market(A=(100, 0), B=(0, 10_000))
    day1 = to_ms(dt.datetime(2025, 3, 3, 10, 0))
    day2 = to_ms(dt.datetime(2025, 3, 4, 10, 0))
    m.submit("s1", "A", SELL, ALW, 10, 50, at_ms=day1)
    m.submit("s2", "A", SELL, ALW, 10, 48, at_ms=day1)
    m.submit("b1", "B", BUY, ALW, 5, 55, at_ms=day1)  # 5 @ 48
    m.submit("b2", "B", BUY, ALW, 10, 55, at_ms=day1)  # 5 @ 48, 5 @ 50
    m.cancel("s1")  # its last 5 @ 50 leave the book
    m.submit("s3", "A", SELL, ALW, 2, 53, at_ms=day2)
    m.submit("b3", "B", BUY, ALW, 2, 53, at_ms=day2)  # 2 @ 53
    bars = m.ohlc(ALW)
    # day 1: open 48, high 50, low 48, close 50, volume 15, value 240 + 240 + 250 = 730
    assert bars[0] == {
        "day": dt.date(2025, 3, 3),
        "open": Decimal("48.00"),
        "high": Decimal("50.00"),
        "low": Decimal("48.00"),
        "close": Decimal("50.00"),
        "volume": 15,
        "value": Decimal("730.00"),
    }
    assert (bars[1]["day"], bars[1]["close"], bars[1]["volume"]) == (dt.date(2025, 3, 4), Decimal("53.00"), 2)


# -- property: random sequences conserve tonnes and cash, nothing goes negative -----------------

NAMES = ("A", "B", "C")
order_strategy = st.one_of(
    st.tuples(
        st.just("limit"),
        st.sampled_from(NAMES),
        st.sampled_from((BUY, SELL)),
        st.integers(1, 30),
        st.integers(1, 12),
    ),
    st.tuples(st.just("market"), st.sampled_from(NAMES), st.sampled_from((BUY, SELL)), st.integers(1, 30)),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(order_strategy, max_size=40))
def test_random_sequences_conserve_and_never_go_negative(ops: list[tuple]) -> None:
    reg = Registry()
    for name in NAMES:
        reg.issue(name, ALW, 50)
        reg.issue(name, CNY, Decimal(300))
    m = Market(reg)
    issued_tonnes, issued_cash = 150, Decimal(900)
    ids: list[str] = []
    for i, op in enumerate(ops):
        oid = f"o{i}"
        try:
            if op[0] == "limit":
                m.submit(oid, op[1], op[2], ALW, op[3], op[4])
            elif op[0] == "market":
                m.submit(oid, op[1], op[2], ALW, op[3], order_type=MARKET)
            elif ids:
                m.cancel(ids[op[1] % len(ids)])
            ids.append(oid)
        except (ValidationError, NotFoundError):
            pass
        reg.check_integrity()  # sums to zero, no enterprise account negative
        assert sum(reg.total(n, ALW) for n in NAMES) == issued_tonnes
        assert sum(reg.total(n, CNY) for n in NAMES) == issued_cash
        # what is reserved is exactly what open orders still need
        for name in NAMES:
            open_orders = [o for o in m.orders.values() if o.account == name and o.status == "open"]
            assert reg.balance(name, ALW, RESERVED) == sum(o.reserved for o in open_orders if o.side == SELL)
            assert reg.balance(name, CNY, RESERVED) == sum(o.reserved for o in open_orders if o.side == BUY)
        # the book is never left crossed (self-trade prevention cancels, it does not rest)
        best_bid, best_ask = m.book(ALW).best(BUY), m.book(ALW).best(SELL)
        assert best_bid is None or best_ask is None or best_bid < best_ask


# -- batched settlement (Market.batch): same fills and movements as order by order ------------------


def _sequence(m: Market) -> list[str]:
    """Submit a fixed sequence; returns the ids the market refused."""
    refused = []
    steps = [
        ("s1", "A", SELL, 10, 50),
        ("s2", "C", SELL, 10, 49),
        ("b1", "B", BUY, 15, 52),  # 10 @ 49 from C, 5 @ 50 from A; 15 × 52 reserved, 3×10 + 2×5 back
        ("s3", "B", SELL, 15, 48),  # B sells the 15 it just bought: 15 reserved, rests (no bid left)
        ("s4", "B", SELL, 1, 48),  # refused: all 15 of B's allowances are reserved by s3
        ("b2", "A", BUY, 20, None),  # market: 15 @ 48 from B (s3 is at 48, cheaper than A's own s1 at 50)
    ]
    for oid, acct, side, qty, price in steps:
        try:
            if price is None:
                m.submit(oid, acct, side, ALW, qty, order_type=MARKET)
            else:
                m.submit(oid, acct, side, ALW, qty, price)
        except ValidationError:
            refused.append(oid)
    return refused


def test_batch_settles_the_same_movements_as_order_by_order() -> None:
    one = _market(A=(100, 2_000), B=(0, 1_000), C=(10, 0))
    refused_one = _sequence(one)
    batched = _market(A=(100, 2_000), B=(0, 1_000), C=(10, 0))
    entries_before = len(batched.registry.entries)
    with batched.batch():
        refused_batched = _sequence(batched)
        # nothing reaches the registry until the batch ends
        assert len(batched.registry.entries) == entries_before
        assert batched.registry.balance("B", ALW) == 0
    assert refused_one == refused_batched == ["s4"]
    assert (
        _fills_of(one)
        == _fills_of(batched)
        == [
            ("B", "C", 10, Decimal("49.00")),
            ("B", "A", 5, Decimal("50.00")),
            ("A", "B", 15, Decimal("48.00")),  # the market buy stops at A's own s1 (self-trade prevention)
        ]
    )
    assert one.registry.entries == batched.registry.entries
    reg = batched.registry
    reg.check_integrity()
    # B: paid 490 + 250 = 740, got 15 × 48 = 720 → 1,000 − 740 + 720 = 980 CNY, no allowances left
    assert reg.balance("B", CNY) == Decimal("980.00") and reg.total("B", ALW) == 0
    # A: sold 5 @ 50 (+250), bought 15 @ 48 (−720) → 2,000 + 250 − 720 = 1,530; 5 still reserved by s1
    assert reg.balance("A", CNY) == Decimal("1530.00") and reg.balance("A", ALW, RESERVED) == 5
    assert batched.orders["b2"].status == "cancelled"  # remainder 5 cancelled at A's own ask


def _fills_of(m: Market) -> list[tuple[str, str, int, Decimal]]:
    return [(t.buyer, t.seller, t.quantity, t.price) for t in m.trades]


def test_lazily_cancelled_orders_never_trade_and_the_book_is_rebuilt() -> None:
    m = _market(A=(1_000, 0), B=(0, 100_000))
    for i in range(100):
        m.submit(f"s{i}", "A", SELL, ALW, 1, 50 + i % 5)
    for i in [*range(0, 100, 2), 1]:
        m.cancel(f"s{i}")
    # 51 dead entries of 100 on the ask side: more than 32 and more than half, so the side was
    # rebuilt with the 49 live ones (50 dead of 100 is exactly half: no rebuild yet)
    assert len(m.book(ALW).asks) == 49
    result = m.submit("b", "B", BUY, ALW, 60, 60)
    # the 49 live asks (odd i but 1) fill, cheapest first: price 50 + i % 5 = 50 for i = 5, 15, 25, …
    assert [t.sell_order for t in result.trades][:3] == ["s5", "s15", "s25"]
    assert sum(t.quantity for t in result.trades) == 49 and result.order.remaining == 11
    assert all(int(t.sell_order[1:]) % 2 == 1 and t.sell_order != "s1" for t in result.trades)
    m.registry.check_integrity()
