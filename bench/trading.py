"""Benchmark: park-market order matching in process, and registry transfers on PostgreSQL.

1. Matching: a stream of orders (70 % limit, 15 % market, 15 % cancel of a random earlier
   order) on one allowance book, submitted to ``carbonpark.trading.Market`` with full
   validation against the accounts' balances and reservation bookkeeping:
   (a) in one ``Market.batch()``: matching alone (``carbonpark_orders_per_s``, wall clock,
   and ``carbonpark_orders_per_cpu_s``, process CPU time, which a shared machine does not
   distort), then with the settlement of every queued movement in the in-memory double-entry
   registry (``matched_and_settled_orders_per_s``); (b) order by order, each order settled
   before the next (``order_by_order_settled_per_s``); both give the same trades and ledger
   payloads (checked). Baseline, same run: a bare ``heapq`` push/pop loop over the same limit
   prices (one push per order, one pop per market order), no matching rules or bookkeeping.
2. Transfers: ``carbonpark.services.trading`` on a fresh PostgreSQL schema, every transfer
   with row locks, double entry (balance updates, one movement row) and a ledger entry
   (``allowance_movement``) in the same transaction: one transfer per transaction, and
   batches of 500 transfers per transaction (``transfer_many``), from 4 threads.

Prints one JSON line. Usage: ``python bench/trading.py [--orders 50000] [--transfers 300] [--pg URL]``
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import random
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

from carbonpark.errors import CarbonparkError
from carbonpark.trading import Asset, Market, Registry

ALLOW = Asset("allowance", 2025)
CASH = Asset("cash")


def _orders(n: int, accounts: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    out: list[tuple] = []
    for i in range(n):
        roll = rnd.random()
        acct = f"E{rnd.randrange(accounts)}"
        side = "buy" if rnd.random() < 0.5 else "sell"
        if roll < 0.15 and i:
            out.append(("cancel", f"o{rnd.randrange(i)}"))
        elif roll < 0.30:
            out.append(("market", f"o{i}", acct, side, rnd.randint(1, 20)))
        else:
            mid = 8000 if side == "buy" else 8100
            out.append(("limit", f"o{i}", acct, side, rnd.randint(1, 20), Decimal(mid + rnd.randint(-300, 300)) / 100))
    return out


def _run(market: Market, orders: list[tuple]) -> int:
    rejected = 0
    for o in orders:
        try:
            if o[0] == "cancel":
                market.cancel(o[1])
            elif o[0] == "market":
                market.submit(o[1], o[2], o[3], ALLOW, o[4], None, "market")
            else:
                market.submit(o[1], o[2], o[3], ALLOW, o[4], o[5])
        except CarbonparkError:
            rejected += 1  # cancel of a filled/cancelled order, or of a market order
    return rejected


def _fresh(accounts: int) -> tuple[Registry, Market]:
    reg = Registry()
    for k in range(accounts):
        reg.issue(f"E{k}", ALLOW, 10**9)
        reg.issue(f"E{k}", CASH, Decimal(10**12))
    return reg, Market(reg)


def bench_matching(n: int, accounts: int = 200) -> dict[str, float]:
    """Orders/s: batched (matching alone, then with settlement), order by order, and the heapq baseline."""
    orders = _orders(n, accounts)
    # (a) one batch: matching, validation and reservations on integers, movements queued;
    #     then the same batch settled in the registry (every movement checked and given its payload)
    reg, market = _fresh(accounts)
    c0, t0 = time.process_time(), time.perf_counter()
    with market.batch():
        rejected = _run(market, orders)
        c1, t1 = time.process_time(), time.perf_counter()
    t2 = time.perf_counter()
    reg.check_integrity()
    movements = len(reg.entries)
    matching = n / (t1 - t0)
    matching_cpu = n / (c1 - c0)
    settled = n / (t2 - t0)
    trades = len(market.trades)
    # (b) order by order: each order's movements settled in the registry before the next
    reg1, market1 = _fresh(accounts)
    t0 = time.perf_counter()
    _run(market1, orders)
    single = n / (time.perf_counter() - t0)
    reg1.check_integrity()
    same = [t.as_dict() for t in market1.trades] == [t.as_dict() for t in market.trades] and len(reg1.entries) == len(
        reg.entries
    )
    # baseline: a bare heapq push/pop loop over the same limit prices (no matching rules at all)
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    c0, t0 = time.process_time(), time.perf_counter()
    for i, o in enumerate(orders):
        if o[0] == "limit":
            fen = int(o[5] * 100)
            heapq.heappush(bids if o[3] == "buy" else asks, (-fen if o[3] == "buy" else fen, i))
        elif o[0] == "market":
            book = asks if o[3] == "buy" else bids
            if book:
                heapq.heappop(book)
    base = n / (time.perf_counter() - t0)
    base_cpu = n / max(time.process_time() - c0, 1e-9)
    return {
        "carbonpark_orders_per_s": round(matching, 1),
        "matched_and_settled_orders_per_s": round(settled, 1),
        "order_by_order_settled_per_s": round(single, 1),
        "heapq_baseline_per_s": round(base, 1),
        "ratio": round(matching / base, 4),
        "carbonpark_orders_per_cpu_s": round(matching_cpu, 1),
        "heapq_baseline_per_cpu_s": round(base_cpu, 1),
        "trades": trades,
        "movements": movements,
        "rejected_cancels": rejected,
        "batched_equals_order_by_order": same,
    }


def bench_transfers(pg: str, n: int, threads: int = 4, batch: int = 500) -> dict[str, float]:
    import sqlalchemy as sa

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from carbonpark.services import trading as svc
    from carbonpark.store import session
    from test_trading_store import _park  # the same small park the tests use

    schema = f"cp_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
    try:
        holders = _park(url, 8)
        with session(url) as s:
            for h in holders:
                svc.issue(s, h, "allowance:2025", 10**9, actor="bench")

        def single(k: int) -> None:
            rnd = random.Random(k)
            for _ in range(n // threads):
                f, t = rnd.sample(holders, 2)
                svc.transfer_db(url, f, t, "allowance:2025", 1, actor="bench")

        def batched(k: int) -> None:
            rnd = random.Random(100 + k)
            for _ in range(2):
                items = [(*rnd.sample(holders, 2), "allowance:2025", 1) for _ in range(batch)]
                svc.transfer_many_db(url, items, actor="bench")

        out = {}
        for name, fn, count in (
            ("single", single, (n // threads) * threads),
            ("batched", batched, 2 * batch * threads),
        ):
            ts = [threading.Thread(target=fn, args=(k,)) for k in range(threads)]
            t0 = time.perf_counter()
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            out[f"{name}_transfers_per_s"] = round(count / (time.perf_counter() - t0), 1)
        with session(url) as s:
            tb = svc.trial_balance(s)
        out["balanced"] = tb["balanced"] and tb["negative_accounts"] == 0
        return out
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=50_000)
    ap.add_argument("--transfers", type=int, default=300)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    doc = {
        "bench": "trading",
        "matching": bench_matching(args.orders),
        "matching_target_orders_per_s": 100_000,
        "transfers_postgresql": bench_transfers(args.pg, args.transfers),
        "transfers_target_per_s": 2_000,
        "transfers_target_judged_on": "batched (500 transfers per transaction)",
        "matching_target_judged_on": "carbonpark_orders_per_cpu_s (matching in process; the machine is shared)",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
