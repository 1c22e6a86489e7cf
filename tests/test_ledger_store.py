"""The durable log on SQLite and PostgreSQL: the SQL stores, the attest interface, the hooks.

Roots and proofs read from the store are compared with :mod:`carbonpark.ledger.merkle` run on
the raw entries (that module is checked against the RFC 6962 test vectors of
transparency-dev/merkle in tests/test_ledger_merkle.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, text

from carbonpark.errors import ConflictError, ValidationError
from carbonpark.ledger import merkle, signing
from carbonpark.model import EnterpriseSpec, MeterSpec, ParkSpec, SourceSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import ledger as service
from carbonpark.store import session, upgrade
from carbonpark.store.registry import add_enterprise, add_meter, add_park, add_source
from carbonpark.store.schema import AuditEntry, Reading
from carbonpark.store.schema_ledger import LedgerEntry, SqlEntryStore, SqlNodeStore

DAY0_MS = 1_735_660_800_000  # 2025-01-01 00:00 Asia/Shanghai = 2024-12-31T16:00Z
HOUR_MS = 3_600_000


def credit_code(org: str) -> str:
    first17 = "91320500" + org
    return first17 + check_character(first17)


def small_park(db: str) -> dict[str, Any]:
    """A park, one enterprise with two sources (one metered), an enterprise meter and a park meter."""
    upgrade(db)
    with session(db) as s:
        park = add_park(s, ParkSpec(name="测试园区"), "test")
        ent = add_enterprise(
            s, park, EnterpriseSpec(name="甲公司", credit_code=credit_code("MA1X2Y3W4"), industry_code="C3011"), "test"
        )
        meter = add_meter(s, park, MeterSpec(code="E-A", quantity="energy", unit="kWh", enterprise=ent.handle), "test")
        park_meter = add_meter(s, park, MeterSpec(code="E-P", quantity="energy", unit="kWh"), "test")
        add_source(
            s,
            park,
            SourceSpec(
                name="外购电", enterprise=ent.handle, activity="purchased_electricity", scope=2, meter=meter.handle
            ),
            "test",
        )
        add_source(s, park, SourceSpec(name="柴油", enterprise=ent.handle, activity="diesel", scope=1), "test")
        return {
            "park": park.handle,
            "enterprise": ent.handle,
            "meter": meter.handle,
            "meter_id": meter.id,
            "park_meter": park_meter.handle,
            "park_meter_id": park_meter.id,
        }


def hourly(meter_id: int, days: int = 3, skip: frozenset[int] = frozenset(), flagged: frozenset[int] = frozenset()):
    return [
        (meter_id, DAY0_MS + h * HOUR_MS, 10.0 + h % 7 + 0.25, 1 if h in flagged else 0)
        for h in range(24 * days)
        if h not in skip
    ]


def store_readings(s: Any, rows: list[tuple[int, int, float, int]]) -> None:
    s.add_all(Reading(meter_id=m, ts_ms=t, value=v, quality=q) for m, t, v, q in rows)
    s.flush()


def test_the_stored_tree_gives_the_rfc_roots_and_proofs(db_url: str) -> None:
    upgrade(db_url)
    raw: list[bytes] = []
    for batch in (1, 5, 31):  # three appends: 1, 6, 37 leaves
        with session(db_url) as s:
            receipts = service.attest_many(
                s,
                [
                    service.Attestation("activity_datum", "ORG", f"rec:{len(raw) + i}", {"amount": f"{i}.5"}, 1_000 + i)
                    for i in range(batch)
                ],
            )
            raw += [r.entry for r in receipts]
            assert [r.index for r in receipts] == list(range(len(raw) - batch, len(raw)))
    with session(db_url) as s:
        conn = s.connection()
        nodes, entries = SqlNodeStore(conn), SqlEntryStore(conn)
        ledger = service._ledger(conn)
        assert entries.get_entries(0, 37) == raw
        assert ledger.log.root() == merkle.root(raw)
        # 37 = 0b100101: 2·37 − popcount(37) = 74 − 3 = 71 perfect subtrees kept
        assert nodes.node_count() == 71
        for size in (1, 6, 20, 37):
            assert ledger.log.root(size) == merkle.root(raw[:size])
            for index in range(size):
                assert ledger.log.inclusion_proof(index, size) == merkle.inclusion_proof(raw[:size], index)
            for old in range(size + 1):
                assert ledger.log.consistency_proof(old, size) == merkle.consistency_proof(raw[:size], old)
        assert entries.find("activity_datum", "rec:36") == 36


def test_appends_are_all_or_nothing(db_url: str) -> None:
    """A stale writer, a refused payload and a rolled-back caller leave the log as it was."""
    ids = small_park(db_url)
    before = service.log_size(db_url)
    with session(db_url) as s:
        nodes = SqlNodeStore(s.connection())
        with pytest.raises(ConflictError, match=f"no longer at size {before - 1}"):
            nodes.put_nodes([(0, before - 1, b"\x00" * 32)], before - 1, before)
    with pytest.raises(ValidationError, match="finite"):
        service.attest(db_url, "activity_datum", "ORG", "rec:0", {"amount": float("nan")})
    with pytest.raises(RuntimeError), session(db_url) as s:
        store_readings(s, hourly(ids["meter_id"], days=1))
        service.attest_readings(s, hourly(ids["meter_id"], days=1))
        raise RuntimeError("the capability failed after attesting")
    assert service.log_size(db_url) == before
    with session(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == 0
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before


def test_registry_writes_and_late_readings_are_attested(db_url: str) -> None:
    ids = small_park(db_url)
    with session(db_url) as s:
        audits = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        rows = s.execute(
            select(LedgerEntry.record, LedgerEntry.data).where(LedgerEntry.kind == "audit_log_entry")
        ).all()
    # park, enterprise, two meters, two sources: six audit rows, six entries, in order
    assert len(audits) == 6
    assert [r.record for r in rows] == [f"audit_log:{a.id}" for a in audits]
    first = json.loads(rows[0].data)
    assert first["payload"]["entity"] == "parks" and first["payload"]["action"] == "create"
    assert first["organisation"] == first["payload"]["after"]["handle"]
    late = frozenset({30})  # 2025-01-02 06:00 arrives late
    with session(db_url) as s:
        rows = hourly(ids["meter_id"], skip=late)
        store_readings(s, rows)
        first = service.attest_readings(s, rows)
    assert len(first) == 3  # three local days
    with session(db_url) as s:
        extra = [r for r in hourly(ids["meter_id"]) if (r[1] - DAY0_MS) // HOUR_MS in late]
        store_readings(s, extra)
        second = service.attest_readings(s, extra)
    record = f"{ids['meter']}@2025-01-02"
    assert len(second) == 1
    with session(db_url) as s:
        assert SqlEntryStore(s.connection()).find("reading_batch", record) == second[0].index
    payload = json.loads(second[0].entry)["payload"]
    assert payload["count"] == 24 and payload["first_ts_ms"] == DAY0_MS + 24 * HOUR_MS
    signing_key = signing.generate_key()
    service.sign(db_url, signing_key)
    assert service.verify(db_url).ok


def test_keys_register_rotate_and_revoke_in_the_log(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = small_park(db_url)
    old, new = signing.generate_key(), signing.generate_key()
    service.register_key(db_url, ids["enterprise"], old)
    with pytest.raises(ConflictError):
        service.register_key(db_url, ids["enterprise"], old)
    service.register_key(db_url, ids["enterprise"], new, replaces=signing.key_id(old))
    keys = {k["key_id"]: k for k in service.public_keys(db_url)}
    assert keys[signing.key_id(old)]["revoked_at_leaf"] == keys[signing.key_id(new)]["registered_at_leaf"]
    # a signature with the rotated-out key is a finding of verify; one with the new key counts
    # (a kind without a verify source: activity_datum now has one, which recomputes stored rows)
    service.attest(db_url, "submitted_note", ids["enterprise"], "act:1", {"v": "1"}, signer=old)
    service.attest(db_url, "submitted_note", ids["enterprise"], "act:2", {"v": "2"}, signer=new)
    service.revoke_key(db_url, ids["enterprise"], signing.key_id(new), "retired")
    with pytest.raises(ConflictError):
        service.revoke_key(db_url, ids["enterprise"], signing.key_id(new), "again")
    service.sign(db_url, signing.generate_key())
    report = service.verify(db_url)
    assert [(f.record, f.problem.split(" revoked")[0]) for f in report.findings] == [
        ("act:1", f"signed with key {signing.key_id(old)[:12]}…")
    ]
    assert report.checked["entry_signatures"] == 1

    # the park's key comes from outside the database: a file, or PEM text in the environment
    key = signing.generate_key()
    path = tmp_path / "park.pem"
    path.write_bytes(signing.private_key_pem(key))
    monkeypatch.setenv(service.LEDGER_KEY_ENV, str(path))
    sth = service.sign(db_url, service.load_park_key())
    assert signing.verify_tree_head(key.public_key(), sth)
    monkeypatch.setenv(service.LEDGER_KEY_ENV, signing.private_key_pem(key).decode())
    assert signing.key_id(service.load_park_key()) == sth.key_id
    with session(db_url) as s:
        # only the public key is in the database: the PEM of the private key appears nowhere
        blobs = b"".join(bytes(d) for (d,) in s.execute(text("select data from ledger_entries")))
    assert b"PRIVATE KEY" not in blobs and signing.public_key_pem(key) in blobs.replace(b"\\n", b"\n")
