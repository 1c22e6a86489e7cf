"""Tampering with activity data, inventories, statements and balances turns ``ledger verify`` red (issue 6, item 3).

An audit changed rows of the demo database with an SQL client and ``ledger verify`` still said
OK for four kinds of change: an activity amount doubled, an activity row inserted, a
verification opinion rewritten, an allowance balance raised by 1000. Each case here builds a
park through the platform (manual activity data, the inventory and verification workflow,
an allocation), signs the head, checks verify is green, makes the change with plain SQL, and
checks verify names the record. On SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from carbonpark.ledger import signing
from carbonpark.services import inventory as inv
from carbonpark.services import ledger as service
from carbonpark.services import trading
from carbonpark.store import connect, session
from carbonpark.store.schema_accounting import ActivityDatum
from carbonpark.store.schema_inventory import VerificationStatement
from carbonpark.store.schema_ledger import LedgerEntry
from carbonpark.store.schema_trading import TradingAccount
from test_verification_workflow import _setup

YEAR = 2024
ALLOCATED = 100  # t of allowance:2025 issued to the enterprise (one movement from @external)


def _verified_park(db: str) -> dict[str, Any]:
    """One enterprise, two manual activity data, a submitted and verified 2024 inventory, an allocation."""
    org, _ent_id = _setup(db)  # tests/test_verification_workflow.py: boiler 2024-01 and grid 2024-02
    for name in [st.key for st in inv.inventory.INVENTORY_STEPS][:9]:
        inv.step(db, org, YEAR, name, "done", actor="admin")
    inv.submit(db, org, YEAR, actor="admin")
    inv.add_verifier(db, "某核查机构")
    inv.add_verifier_user(db, "某核查机构", "李核查", "lead")
    a = inv.assign_verifier(db, "某核查机构", org, YEAR, actor="admin", lead="李核查")["id"]
    for name in ("agreement", "preparation", "document_review", "site_visit", "report", "technical_review"):
        inv.verification_step(db, a, name, "done", actor="李核查")
    statement = inv.issue_statement(db, a, actor="李核查")
    with session(db) as s:
        trading.issue(s, org, "allowance:2025", ALLOCATED, actor="admin")
    with session(db) as s:
        account = s.scalars(select(TradingAccount).where(TradingAccount.holder == org)).one()
        holder = {"asset": account.asset, "pocket": account.pocket}
    service.sign(db, signing.generate_key())
    return {"org": org, "statement": statement, "holder": holder}


def _sql(db: str, statement: str, **params: Any) -> None:
    with connect(db).begin() as conn:
        conn.execute(text(statement), params)


def _datum_id(db: str, label: str) -> int:
    with session(db) as s:
        return int(s.scalars(select(ActivityDatum.id).where(ActivityDatum.source_label == label)).one())


def double_activity_amount(db: str, park: dict[str, Any]) -> tuple[str, str]:
    datum = _datum_id(db, "grid")
    _sql(db, "UPDATE activity_data SET amount = amount * 2 WHERE id = :i", i=datum)
    # attested 1000 MWh (test_verification_workflow._setup), stored now 2000
    return f"activity_datum:{datum}", "amount: attested '1000.0', stored '2000.0'"


def insert_activity(db: str, park: dict[str, Any]) -> tuple[str, str]:
    _sql(
        db,
        "INSERT INTO activity_data (id, series, enterprise_id, source_id, meter_id, resolution, period, start_ms, "
        "end_ms, source_label, activity, amount, unit, params, origin, n_readings, expected_readings, "
        "estimated_amount, flagged_amount, computed_ms, note) VALUES (900, 'manual:1:forged', 1, NULL, NULL, "
        "'month', '2024-03', 1709222400000, 1711900800000, 'forged', 'grid_electricity', 500, 'MWh', '{}', "
        "'manual', 0, NULL, 0, 0, 0, '')",
    )
    return "activity_datum:900", "stored but not attested"


def soften_opinion(db: str, park: dict[str, Any]) -> tuple[str, str]:
    sid = park["statement"]["id"]
    _sql(db, "UPDATE verification_statements SET opinion = 'adverse' WHERE id = :i", i=sid)
    return f"statement/{park['org']}/{YEAR}/{sid}", "opinion: attested 'unmodified', stored 'adverse'"


def raise_balance(db: str, park: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "UPDATE trading_accounts SET balance = balance + 1000 WHERE holder = :h", h=park["org"])
    code = f"{park['org']}/{park['holder']['asset']}/{park['holder']['pocket']}"
    # 100 issued (the only attested movement) + 1000 added by SQL
    return code, "balance 1100"


def rewrite_inventory_total(db: str, park: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "UPDATE inventory_versions SET total_tco2e = total_tco2e * 0.5")
    return f"inventory/{park['org']}/{YEAR}/v1", "is not the document's"


CASES: list[Callable[[str, dict[str, Any]], tuple[str, str]]] = [
    double_activity_amount,
    insert_activity,
    soften_opinion,
    raise_balance,
    rewrite_inventory_total,
]


def test_activity_data_are_attested_when_written(db_url: str) -> None:
    """Each manual activity datum gets one ``activity_datum`` entry in the transaction that writes it."""
    _setup(db_url)
    with session(db_url) as s:
        records = sorted(s.scalars(select(LedgerEntry.record).where(LedgerEntry.kind == "activity_datum")))
        ids = sorted(s.scalars(select(ActivityDatum.id)))
    assert records == sorted(f"activity_datum:{i}" for i in ids) and len(ids) == 2  # boiler and grid


def test_untouched_park_verifies(db_url: str) -> None:
    park = _verified_park(db_url)
    report = service.verify(db_url)
    assert report.ok, [f.to_json() for f in report.findings]
    assert report.checked["activity_datum"] == 2
    assert report.checked["verification_statement"] == 1
    assert report.checked["inventory_version"] == 1
    assert report.checked["trading_accounts"] == 2  # the enterprise's and @external's
    assert park["statement"]["opinion"] == "unmodified"


@pytest.mark.parametrize("tamper", CASES, ids=lambda c: c.__name__)
def test_each_tampering_is_named(db_url: str, tamper: Callable[[str, dict[str, Any]], tuple[str, str]]) -> None:
    park = _verified_park(db_url)
    assert service.verify(db_url).ok
    record, problem = tamper(db_url, park)
    report = service.verify(db_url)
    assert not report.ok
    named = [f.problem for f in report.findings if f.record == record]
    assert any(problem in p for p in named), (record, problem, [f.to_json() for f in report.findings])
    assert {f.record for f in report.findings} == {record}, [f.to_json() for f in report.findings]


def test_a_statement_deleted_is_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    park = _verified_park(db)
    with session(db) as s:
        sid = s.scalars(select(VerificationStatement.id)).one()
    _sql(db, "DELETE FROM verification_statements WHERE id = :i", i=sid)
    report = service.verify(db)
    assert [(f.record, f.problem) for f in report.findings] == [
        (f"statement/{park['org']}/{YEAR}/{sid}", "attested but no longer stored (deleted)")
    ]
