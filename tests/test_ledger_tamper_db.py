"""Tamper tests on SQLite and PostgreSQL: rows changed, deleted or inserted with plain SQL.

Each case builds a small park (tests/test_ledger_store.py), attests its readings through the
platform, signs the head, checks that ``verify`` passes, then changes the database behind
the platform's back with an SQL statement, as someone with an SQL client would, and checks
that ``verify`` fails and names the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from carbonpark.ledger import signing
from carbonpark.services import ledger as service
from carbonpark.store import connect, session
from test_ledger_store import DAY0_MS, HOUR_MS, hourly, small_park, store_readings


def _attested_park(db: str) -> dict[str, Any]:
    ids = small_park(db)
    with session(db) as s:
        rows = hourly(ids["meter_id"]) + hourly(ids["park_meter_id"])
        store_readings(s, rows)
        service.attest_readings(s, rows)
    service.sign(db, signing.generate_key())
    return ids


def _sql(db: str, *statements: str, **params: Any) -> None:
    with connect(db).begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def _unlock_audit_log(db: str) -> list[str]:
    """What an attacker runs first: the append-only triggers of migration auth_0001 go."""
    if connect(db).dialect.name == "postgresql":
        return ["ALTER TABLE audit_log DISABLE TRIGGER USER"]
    return ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"]


Case = Callable[[str, dict[str, Any]], tuple[str, str]]


def update_reading(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(
        db,
        "UPDATE readings SET value = value * 0.9 WHERE meter_id = :m AND ts_ms = :t",
        m=ids["meter_id"],
        t=DAY0_MS + 30 * HOUR_MS,
    )
    return f"{ids['meter']}@2025-01-02", "changed"


def delete_reading(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "DELETE FROM readings WHERE meter_id = :m AND ts_ms = :t", m=ids["park_meter_id"], t=DAY0_MS)
    return f"{ids['park_meter']}@2025-01-01", "changed"


def delete_a_day(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "DELETE FROM readings WHERE meter_id = :m AND ts_ms >= :t", m=ids["meter_id"], t=DAY0_MS + 48 * HOUR_MS)
    return f"{ids['meter']}@2025-01-03", "no longer stored"


def insert_reading(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(
        db,
        "INSERT INTO readings (meter_id, ts_ms, value, quality) VALUES (:m, :t, 5.0, 0)",
        m=ids["meter_id"],
        t=DAY0_MS + 72 * HOUR_MS,
    )
    return f"{ids['meter']}@2025-01-04", "not attested (inserted behind the platform"


def update_meter(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "UPDATE meters SET interval_minutes = 15 WHERE id = :m", m=ids["meter_id"])
    return ids["meter"], "differs from its last audited state"


def insert_meter(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(
        db,
        "INSERT INTO meters (park_id, code, name, quantity, unit, reading_kind, interval_minutes, accuracy_class, "
        "handle) VALUES (1, 'E-X', '', 'energy', 'kWh', 'interval', 60, '1.0', '88.1234/meter.99')",
    )
    return "88.1234/meter.99", "no audit-log history"


def update_audit_log(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(db, *_unlock_audit_log(db), "UPDATE audit_log SET actor = 'someone-else' WHERE id = 2")
    return "audit_log:2", "changed"


def delete_audit_log(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    # audit row 6 recorded the creation of the second source: that source loses its history too
    _sql(db, *_unlock_audit_log(db), "DELETE FROM audit_log WHERE id = 6")
    return "audit_log:6", "no longer stored"


def update_entry(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    # rewrite the attested bytes of the first reading batch: its count 24 becomes 23
    record = f"{ids['meter']}@2025-01-01"
    with connect(db).begin() as conn:
        index, data = conn.execute(
            text("SELECT leaf_index, data FROM ledger_entries WHERE record = :r"), {"r": record}
        ).one()
        forged = bytes(data).replace(b'"count":24', b'"count":23')
        assert forged != bytes(data)
        conn.execute(text("UPDATE ledger_entries SET data = :d WHERE leaf_index = :i"), {"d": forged, "i": index})
    return record, "differs from what was attested"


def delete_entry(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(db, "DELETE FROM ledger_entries WHERE record = :r", r=f"{ids['park_meter']}@2025-01-02")
    return f"{ids['park_meter']}@2025-01-02", "its ledger entry was deleted"


def insert_entry(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    _sql(
        db,
        "INSERT INTO ledger_entries (leaf_index, kind, record, organisation, timestamp_ms, data) "
        "VALUES (1000, 'activity_datum', 'act:forged', 'x', 0, :d)",
        d=b"{}",
    )
    return "act:forged", "beyond the log's size"


def rewrite_node(db: str, ids: dict[str, Any]) -> tuple[str, str]:
    # the stored hash of leaf 0 is replaced; the entries still reproduce the signed root
    _sql(db, "UPDATE ledger_nodes SET hash = :h WHERE level = 0 AND idx = 0", h=b"\x11" * 32)
    return "audit_log:1", "differs from what was attested"


CASES: list[Case] = [
    update_reading,
    delete_reading,
    delete_a_day,
    insert_reading,
    update_meter,
    insert_meter,
    update_audit_log,
    delete_audit_log,
    update_entry,
    delete_entry,
    insert_entry,
    rewrite_node,
]


def test_verify_names_every_record_changed_behind_the_platform(db_url: str) -> None:
    """All twelve changes at once (each touches another record), on SQLite and on PostgreSQL."""
    ids = _attested_park(db_url)
    before = service.verify(db_url)
    assert before.ok, [f.to_json() for f in before.findings]
    assert before.checked["reading_batch"] == 6  # two meters × three local days
    expected = [tamper(db_url, ids) for tamper in CASES]
    expected.append(("88.1234/src.2", "no audit-log history"))  # the second effect of delete_audit_log
    after = service.verify(db_url)
    assert not after.ok
    for record, problem in expected:
        named = [f.problem for f in after.findings if f.record == record]
        assert any(problem in p for p in named), (record, problem, [f.to_json() for f in after.findings])
    # nothing else is blamed: every finding names a tampered record, or a leaf whose row is gone
    blamed = {f.record for f in after.findings} - {r for r, _ in expected}
    assert blamed <= {"?"}, blamed
