"""The park registry, compliance, energy side and market over the store (issue 12), on SQLite and PostgreSQL.

Every expected figure is worked by hand in the comment next to it.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from carbonpark.errors import DuplicateError, IntegrityError, ValidationError
from carbonpark.model.credit_code import check_character
from carbonpark.model.entities import EnterpriseSpec, ParkSpec, ProductSpec, StatisticSpec
from carbonpark.services import trading as svc
from carbonpark.store import registry as reg
from carbonpark.store import session, upgrade
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum
from carbonpark.store.schema_ledger import LedgerEntry
from carbonpark.store.schema_trading import TradingAccount, TradingMovement

ACTOR = "test"


def _credit(n: int) -> str:
    first17 = f"91320500MA{n:07d}"
    return first17 + check_character(first17)


def _park(db: str, n: int = 3) -> list[str]:
    """A park with ``n`` enterprises; returns their handles."""
    upgrade(db)
    with session(db) as s:
        park = reg.add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), ACTOR)
        handles = [
            str(
                reg.add_enterprise(
                    s, park, EnterpriseSpec(name=f"企业{i}", credit_code=_credit(i), industry_code="3011"), ACTOR
                ).handle
            )
            for i in range(1, n + 1)
        ]
        for code in ("cement", "clinker"):
            reg.add_product(s, park, ProductSpec(code=code, name=code, unit="t", enterprise=handles[0]), ACTOR)
        return handles


def _run(db: str, org: str, total_tco2e: float, energy_tce: float, *, locked: bool = True) -> None:
    """A stored accounting run of 2025 as the accounting capability leaves it."""
    with session(db) as s:
        ent = reg.resolve(s, reg.Enterprise, org) if org != "park" else None
        s.add(
            AccountingRun(
                org=org,
                enterprise_id=ent.id if ent else None,
                period="2025",
                start_ms=0,
                end_ms=1,
                factor_set="cn-ndrc-2015",
                gwp_set="AR5",
                computed_ms=1,
                total_tco2e=total_tco2e,
                locked=locked,
                summary={"energy_tce": energy_tce, "energy": [{"activity": "grid_electricity", "tce": energy_tce}]},
            )
        )


def _ledger_count(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).where(LedgerEntry.kind == svc.MOVEMENT_KIND)) or 0)


def test_double_entry_no_overdraft_and_every_movement_attested(db_url: str) -> None:
    a, b, _ = _park(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "allowance:2025", 100, actor=ACTOR)
        svc.transfer(s, a, b, "allowance:2025", 40, actor=ACTOR)
    # 60 left: giving 61 fails and rolls the whole transaction back
    with pytest.raises(IntegrityError, match="holds 60"), session(db_url) as s:
        svc.transfer(s, a, b, "allowance:2025", 61, actor=ACTOR)
    with pytest.raises(ValidationError, match="whole number"), session(db_url) as s:
        svc.transfer(s, a, b, "allowance:2025", "1.5", actor=ACTOR)
    with session(db_url) as s:
        held = svc.balances(s)["accounts"]
        assert held[a]["allowance:2025"]["available"] == 60 and held[b]["allowance:2025"]["available"] == 40
        tb = svc.trial_balance(s)
        # @external −100, A 60, B 40: the asset sums to zero
        assert tb == {"sums": {"allowance:2025": 0}, "negative_accounts": 0, "balanced": True}
        moves = svc.movements(s)
        assert [(m["reason"], m["amount"]) for m in moves] == [("transfer", 40), ("allocation", 100)]
        assert moves[0]["debit"] == f"{b}/allowance:2025/available"
    assert _ledger_count(db_url) == 2  # one entry per committed movement, none for the failed ones


def test_database_refuses_a_negative_balance_written_behind_the_registry(db_url: str) -> None:
    a, _, _ = _park(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "ccer", 5, actor=ACTOR)
    with pytest.raises(Exception, match=r"(?i)check|constraint"), session(db_url) as s:
        row = s.scalars(select(TradingAccount).where(TradingAccount.holder == a)).one()
        row.balance = Decimal(-1)


@pytest.mark.postgres
def test_parallel_transfers_on_postgresql_conserve_every_tonne(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises writers")
    holders = _park(db_url, 4)
    with session(db_url) as s:
        for h in holders:
            svc.issue(s, h, "allowance:2025", 50, actor=ACTOR)
    ok = [0]
    refused = [0]
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(25):
            f, t = rnd.sample(holders, 2)
            amount = rnd.randint(1, 30)  # often more than the giver holds: must be refused, not go negative
            try:
                svc.transfer_db(db_url, f, t, "allowance:2025", amount, actor=ACTOR)
                with lock:
                    ok[0] += 1
            except IntegrityError:
                with lock:
                    refused[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert ok[0] + refused[0] == 200 and ok[0] > 50
    with session(db_url) as s:
        held = svc.balances(s)["accounts"]
        assert sum(held[h]["allowance:2025"]["total"] for h in holders) == 200  # 4 × 50, none created or lost
        assert all(held[h]["allowance:2025"]["available"] >= 0 for h in holders)
        assert svc.trial_balance(s)["balanced"]
        n_moves = s.scalar(select(func.count()).select_from(TradingMovement))
    assert n_moves == 4 + ok[0]
    assert _ledger_count(db_url) == 4 + ok[0]


def test_allocation_by_benchmark_from_stored_output(db_url: str) -> None:
    a, b, _ = _park(db_url)
    with session(db_url) as s:
        park = reg.the_park(s)
        for period, value in (("2025-01", 1000.0), ("2025-02", 2000.0), ("2024-12", 999.0)):
            reg.upsert_statistic(
                s,
                park,
                StatisticSpec(enterprise=a, period=period, metric="output:cement", value=value, unit="t"),
                ACTOR,
            )
        doc = svc.allocate(
            s,
            2025,
            [
                {
                    "enterprise": a,
                    "method": "benchmark",
                    "benchmark": "1.5",
                    "output_metric": "output:cement",
                    "correction_factors": ["0.98"],
                }
            ],
            actor=ACTOR,
        )
    # 1.5 t/t × (1000 + 2000) t (2024 not counted) × 0.98 = 4410 t
    assert doc["allocations"][a]["allowances_t"] == 4410
    with session(db_url) as s:
        assert svc.balances(s)["accounts"][a]["allowance:2025"]["available"] == 4410
        with pytest.raises(ValidationError, match="statistic"):
            svc.allocate(
                s, 2025, [{"enterprise": b, "method": "benchmark", "benchmark": 1, "output_metric": "x"}], actor=ACTOR
            )


def test_compliance_over_stored_verified_emissions_with_the_ccer_cap(db_url: str) -> None:
    a, b, c = _park(db_url)
    _run(db_url, a, 100.4, 10)  # verified 100.4 → 100 t (half-up); CCER cap floor(0.05 × 100) = 5 t
    _run(db_url, b, 100.0, 10)
    _run(db_url, c, 100.0, 10, locked=False)
    with session(db_url) as s:
        for h in (a, b, c):
            svc.issue(s, h, "allowance:2025", 95, actor=ACTOR)
            svc.issue(s, h, "ccer", 10, actor=ACTOR)
    with session(db_url) as s:
        exact = svc.surrender(s, a, 2025, 95, 5, actor=ACTOR)  # exactly 5 % → compliant
        over = svc.surrender(s, b, 2025, 94, 6, actor=ACTOR)  # 6 > 5 → rejected, nothing moves
        assert exact["status"] == "compliant" and exact["ccer_cap_t"] == 5 and exact["verified_tco2e"] == 100
        assert over["status"] == "rejected" and "exceeds the cap" in over["reason"] and not over["movements"]
        short = svc.surrender(s, b, 2025, 90, 5, actor=ACTOR, market_price="80")
        # 100 − 95 = 5 t short; fine 5–10 × 80 CNY/t × 5 t = 2000–4000 CNY (Decree 775)
        assert short["status"] == "shortfall" and short["shortfall_t"] == 5
        assert short["penalty"]["fine_min_cny"] == Decimal("2000.00")
        assert short["penalty"]["fine_max_cny"] == Decimal("4000.00")
        with pytest.raises(ValidationError, match="locked accounting run"):
            svc.surrender(s, c, 2025, 95, 5, actor=ACTOR)  # not verified: refused unless asked
        held = svc.balances(s)["accounts"]
    assert held[a]["allowance:2025"]["total"] == 0 and held[a]["ccer"]["total"] == 5
    assert held[b]["allowance:2025"]["total"] == 5 and held[b]["ccer"]["total"] == 5
    with session(db_url) as s:
        status = {r["enterprise"]: r for r in svc.compliance_status(s, 2025)}
        statement = svc.compliance_statement(s, a, 2025)
    assert status[a]["status"] == "compliant" and status[b]["status"] == "shortfall"
    assert status[b]["deadlines"]["surrender_due"] == "2026-12-31"
    assert statement["allocated_t"] == 95 and statement["results"][0]["status"] == "compliant"


def test_national_statement_reconciled_and_aligned(db_url: str) -> None:
    a, b, _ = _park(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "allowance:2025", 100, actor=ACTOR)
        svc.issue(s, b, "ccer", 7, actor=ACTOR)
    csv_text = (
        "statement_id,as_of,credit_code,asset,quantity\n"
        f"NR-1,2026-01-05,{_credit(1)},allowance:2025,100\n"
        f"NR-1,2026-01-05,{_credit(2)},ccer,9\n"
    )
    with session(db_url) as s:
        doc = svc.import_statement(s, csv_text, actor=ACTOR)
    assert doc["differences"] == [{"holder": b, "asset": "ccer", "park_t": 7, "national_t": 9, "difference_t": -2}]
    with pytest.raises(DuplicateError), session(db_url) as s:
        svc.import_statement(s, csv_text, actor=ACTOR)
    with session(db_url) as s:
        aligned = svc.import_statement(s, csv_text.replace("NR-1", "NR-2"), actor=ACTOR, align=True)
        assert [m["amount"] for m in aligned["movements"]] == [2]
        assert svc.balances(s)["accounts"][b]["ccer"]["total"] == 9
    with pytest.raises(ValidationError, match="line 2"), session(db_url) as s:
        svc.import_statement(s, csv_text.replace(_credit(1), _credit(9)).replace("NR-1", "NR-3"), actor=ACTOR)


def test_dual_control_position_year_to_date_and_key_units(db_url: str) -> None:
    a, b, _ = _park(db_url)
    _run(db_url, a, 1000, 520)
    _run(db_url, b, 1000, 12_000)
    with session(db_url) as s:
        park = reg.the_park(s)
        for period in ("2025-01", "2025-06"):
            reg.upsert_statistic(
                s, park, StatisticSpec(enterprise=a, period=period, metric="value_added", value=650, unit="万元"), ACTOR
            )
        s.add(
            ActivityDatum(
                series="manual:e",
                enterprise_id=reg.resolve(s, reg.Enterprise, a).id,
                resolution="month",
                period="2025-06",
                start_ms=0,
                end_ms=1,
                source_label="e",
                activity="grid_electricity",
                amount=1.0,
                unit="kWh",
                origin="manual",
                computed_ms=1,
            )
        )
        svc.set_energy_cap(s, a, 2025, 1000, "0.5")
    with session(db_url) as s:
        pos = svc.energy_position(s, a, 2025)
        units = svc.key_energy_units(s, 2025)
    # through 30 June: 181 of 365 days; 520 tce → projected 520 × 365 / 181 = 1048.6 > 1000 → at risk
    assert pos["through"] == "2025-06-30"
    assert pos["elapsed_fraction"] == Decimal(181) / Decimal(365)
    assert pos["projected_energy_tce"] == pytest.approx(Decimal("1048.6187845"), abs=Decimal("1e-6"))
    assert pos["total_status"] == "at_risk" and pos["remaining_tce"] == 480
    # 520 tce / (650 + 650) 10⁴ CNY = 0.4 ≤ 0.5
    assert pos["intensity_tce_per_10k_cny"] == Decimal("0.4") and pos["intensity_status"] == "within"
    assert units == [{"enterprise": b, "energy_tce": Decimal("12000")}]  # 520 tce is below 10,000


def test_product_quota_against_metered_energy(db_url: str) -> None:
    a, _, _ = _park(db_url)
    _run(db_url, a, 1000, 11_500)  # 11,500 tce = 11,500,000 kgce
    with session(db_url) as s:
        park = reg.the_park(s)
        reg.upsert_statistic(
            s, park, StatisticSpec(enterprise=a, period="2025", metric="output:clinker", value=100_000, unit="t"), ACTOR
        )
        svc.set_product_quota(s, a, "clinker", "output:clinker", 112, advanced_kgce_per_unit=100, standard="GB 16780")
        (check,) = svc.check_product_quotas(s, 2025)
        # 11,500,000 kgce / 100,000 t = 115 kgce/t > 112 → exceeds by 3
        assert check["unit_consumption_kgce"] == 115 and check["status"] == "exceeds" and check["margin_kgce"] == -3
        svc.set_product_quota(s, a, "clinker", "output:clinker", 120, advanced_kgce_per_unit=100)
        assert svc.check_product_quotas(s, 2025)[0]["status"] == "within"


def test_energy_use_rights_surrendered_for_stored_energy(db_url: str) -> None:
    a, _, _ = _park(db_url)
    _run(db_url, a, 1000, 100.2)  # 100.2 tce rounds up to 101 tce of rights
    with session(db_url) as s:
        svc.issue(s, a, "energy_right:2025", 60, actor=ACTOR)
        svc.issue(s, a, "energy_right:2024", 30, actor=ACTOR)
        doc = svc.surrender_energy_rights(s, a, 2025, actor=ACTOR)
    # 30 (2024, oldest first) + 60 (2025) = 90 surrendered, 11 short
    assert (doc["needed_tce"], doc["surrendered_tce"], doc["shortfall_tce"], doc["status"]) == (
        101,
        90,
        11,
        "shortfall",
    )


def test_market_over_the_store(db_url: str) -> None:
    a, b, c = _park(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "allowance:2025", 100, actor=ACTOR)
        svc.issue(s, b, "cash", "10000.00", actor=ACTOR, reason="deposit")
    with session(db_url) as s:
        svc.place_order(s, a, "sell", "allowance:2025", 40, "50", actor=ACTOR, order_ref="s1")
        svc.place_order(s, a, "sell", "allowance:2025", 30, "52", actor=ACTOR, order_ref="s2")
    with session(db_url) as s:  # a new transaction: the book is reloaded from the store
        doc = svc.place_order(s, b, "buy", "allowance:2025", 60, "55", actor=ACTOR, order_ref="b1")
    # price priority: 40 @ 50 (s1) then 20 @ 52 (s2), each at the resting price; 40×50 + 20×52 = 3040 CNY
    assert [(t["quantity"], t["price"], t["sell_order"]) for t in doc["trades"]] == [
        (40, Decimal("50.00"), "s1"),
        (20, Decimal("52.00"), "s2"),
    ]
    assert doc["status"] == "filled"
    with session(db_url) as s:
        held = svc.balances(s)["accounts"]
        assert held[b]["cash"]["available"] == Decimal("6960.00")  # 10000 − 3040, the limit surplus released
        assert held[a]["cash"]["available"] == Decimal("3040.00")
        assert held[a]["allowance:2025"] == {"available": 30, "reserved": 10, "total": 40}
        with pytest.raises(ValidationError, match="to hold 5"):
            svc.place_order(s, c, "sell", "allowance:2025", 5, "50", actor=ACTOR, order_ref="c1")
    with session(db_url) as s:  # self-trade prevention: a's own resting s2 is met by a's buy → the buy is cancelled
        svc.issue(s, a, "cash", "1000.00", actor=ACTOR, reason="deposit")
        own = svc.place_order(s, a, "buy", "allowance:2025", 5, "60", actor=ACTOR, order_ref="a-buy")
        assert own["status"] == "cancelled" and "self-trade" in own["reason"] and own["trades"] == []
        market = svc.place_order(s, b, "buy", "allowance:2025", 15, actor=ACTOR, order_type="market", order_ref="b2")
        # 10 left at 52 → 10 fill, the other 5 of the market order are cancelled
        assert [t["quantity"] for t in market["trades"]] == [10] and market["cancelled_quantity"] == 5
        data = svc.market_data(s, "allowance:2025")
    assert data["last_price"] == Decimal("52.00") and data["trades"] == 3 and data["depth"]["asks"] == []
    assert data["ohlc"][0]["open"] == Decimal("50.00") and data["ohlc"][0]["volume"] == 70
    with session(db_url) as s:
        svc.place_order(s, b, "buy", "allowance:2025", 10, "40", actor=ACTOR, order_ref="b3")
        cancelled = svc.cancel_order(s, "b3", actor=ACTOR)
        assert cancelled["status"] == "cancelled"
        assert svc.balances(s)["accounts"][b]["cash"]["reserved"] == 0
        assert svc.trial_balance(s)["balanced"]


def test_transfer_batch_rows_ids_and_ledger_records_follow_the_movement_order(db_url: str) -> None:
    """transfer_many writes its movement rows in one statement; ids ascend in movement order and
    each ledger record names its own row (``ledger verify`` recomputes every payload from the rows)."""
    from carbonpark.services import ledger

    a, b, c = _park(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "allowance:2025", 10, actor=ACTOR)
    # A→B 3, B→C 2, A→C 1, C→A 3: the second needs the first (B held 0), the last needs the two before it
    items = [(a, b, "allowance:2025", 3), (b, c, "allowance:2025", 2), (a, c, "allowance:2025", 1)]
    items.append((c, a, "allowance:2025", 3))
    assert svc.transfer_many_db(db_url, items, actor=ACTOR) == 4
    with session(db_url) as s:
        rows = list(s.scalars(select(TradingMovement).where(TradingMovement.reason == "transfer")))
        rows.sort(key=lambda r: r.id)
        names = {acc.id: acc.holder for acc in s.scalars(select(TradingAccount))}
        assert [(names[r.credit_id], names[r.debit_id], int(r.amount)) for r in rows] == [
            (f, t, q) for f, t, _, q in items
        ]
        held = svc.balances(s)["accounts"]
        # A 10 − 3 − 1 + 3 = 9, B 3 − 2 = 1, C 2 + 1 − 3 = 0
        assert [held[h]["allowance:2025"]["available"] for h in (a, b)] == [9, 1]
        records = set(s.scalars(select(LedgerEntry.record).where(LedgerEntry.kind == svc.MOVEMENT_KIND)))
        assert {f"trading_movement:{r.id}" for r in rows} <= records
    # one tonne too many in the last item: the whole batch is refused, nothing is written
    with pytest.raises(IntegrityError):
        svc.transfer_many_db(db_url, [(a, b, "allowance:2025", 9), (b, c, "allowance:2025", 11)], actor=ACTOR)
    assert _ledger_count(db_url) == 5  # the allocation and the four transfers
    report = ledger.verify(db_url)
    # every stored movement's payload recomputed from its row equals the attested one
    assert report.checked[svc.MOVEMENT_KIND] == 5
    assert [f.to_json() for f in report.findings if f.kind == svc.MOVEMENT_KIND] == []
