"""Ingest batches attested in the ledger, one entry per batch, on SQLite and PostgreSQL.

Every committed batch appends ``ingest_batch:<id>`` (docs/ledger.md §0, docs/ingest.md §8)
computed from the columns in memory; ``ledger verify`` rebuilds it from the readings that
carry the batch id and names the batch, meter and ts of any row changed, deleted or
inserted behind the platform. Expected digests are recomputed here with ``struct`` and
plain Python integers from the byte layout the docs give, not with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect

from carbonpark.ingest.model import RawReading
from carbonpark.ledger import signing
from carbonpark.quality.flags import QualityFlag
from carbonpark.services import ledger as service
from carbonpark.services.ingest import forget_meters, ingest_in_session, ingest_readings, lock_period
from carbonpark.services.quality import CHECK_BITS
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.schema import Enterprise, Meter
from carbonpark.store.schema_ingest import ReadingCorrection
from carbonpark.store.schema_ledger import LedgerEntry
from carbonpark.times import from_ms

REGISTRY = """
park: {name: 测试园区, handle_prefix: "5678"}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C2614}
meters:
  - {code: m-main, quantity: energy, unit: kWh, enterprise: 91350100M000100Y43}
  - {code: m-sub, quantity: energy, unit: MWh, enterprise: 91350100M000100Y43, parent: m-main}
  - {code: m-gas, quantity: volume, unit: Nm3}
"""
# 2025-01-01T00:00:00+08:00 = 2024-12-31T16:00:00Z
T0 = 1_735_660_800_000
H = 3_600_000
MASK64 = 2**64 - 1


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> dict[str, Any]:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    with session(db_url) as s:
        meters = {code: (mid, handle) for code, mid, handle in s.execute(select(Meter.code, Meter.id, Meter.handle))}
        ent = s.scalar(select(Enterprise.handle))
    return {"db": db_url, "meters": meters, "enterprise": ent}


def _entries(db: str, kind: str) -> list[dict[str, Any]]:
    with session(db) as s:
        rows = s.execute(
            select(LedgerEntry.data).where(LedgerEntry.kind == kind).order_by(LedgerEntry.leaf_index)
        ).all()
    return [json.loads(bytes(d)) for (d,) in rows]


def _row(meter_id: int, ts: int, value: float, quality: int = 0) -> bytes:
    """A canonical row by docs/ledger.md §0: meter_id int32, ts_ms int64, value float64, quality int16, big-endian."""
    return struct.pack(">iqdh", meter_id, ts, value, quality)


def _locator(value: float, quality: int = 0) -> int:
    """The 32-bit row locator by its definition (carbonpark.ledger.readings.fingerprints), in plain integers."""
    x = struct.unpack(">Q", struct.pack(">d", value + 0.0))[0] ^ ((quality * 0x9E3779B97F4A7C15) & MASK64)
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    x ^= x >> 31
    return x >> 32


def _locators(*pairs: tuple[float, int]) -> str:
    return base64.b64encode(b"".join(struct.pack(">I", _locator(v, q)) for v, q in pairs)).decode()


def test_a_three_reading_batch_hashes_as_the_docs_say(park: dict[str, Any]) -> None:
    db, meters = park["db"], park["meters"]
    main, sub = meters["m-main"], meters["m-sub"]
    sent = [
        RawReading("m-sub", T0, 2),  # MWh, the meter's unit → 2000 kWh
        RawReading("m-main", T0 + H, 1.5, "MWh"),  # → 1500 kWh
        RawReading("m-main", T0, 12.5),
    ]
    result = ingest_readings(db, sent, channel="test")
    assert result.accepted == 3
    (entry,) = _entries(db, "ingest_batch")
    payload = entry["payload"]
    assert entry["record"] == f"ingest_batch:{payload['batch']}"
    assert entry["organisation"] == park["enterprise"]  # both meters belong to the one enterprise
    # canonical rows in (meter id, ts) order: m-main T0, m-main T0+1h, m-sub T0
    rows = sorted([(main[0], T0, 12.5), (main[0], T0 + H, 1500.0), (sub[0], T0, 2000.0)])
    assert payload["sha256"] == hashlib.sha256(b"".join(_row(m, t, v) for m, t, v in rows)).hexdigest()
    assert (payload["count"], payload["first_ts_ms"], payload["last_ts_ms"]) == (3, T0, T0 + H)
    assert payload["channel"] == "test"
    by_meter = {m["meter"]: m for m in payload["meters"]}
    assert by_meter[main[1]] == {
        "meter": main[1],
        "meter_id": main[0],
        "ts": [[T0, H, 2]],  # two readings one hour apart: one run
        "fp": _locators((12.5, 0), (1500.0, 0)),
    }
    assert by_meter[sub[1]]["ts"] == [[T0, 0, 1]] and by_meter[sub[1]]["fp"] == _locators((2000.0, 0))
    with session(db) as s:  # the batch id is stored with each reading
        batch_ids = s.execute(text("SELECT DISTINCT batch_id FROM readings")).scalars().all()
    assert batch_ids == [payload["batch"]]
    service.sign(db, signing.generate_key())
    report = service.verify(db)
    assert report.ok, [f.to_json() for f in report.findings]
    assert report.checked["ingest_batch"] == 1 and report.checked["reading_batch"] == 0


def test_redelivery_appends_no_second_entry(park: dict[str, Any]) -> None:
    db = park["db"]
    batch = [RawReading("m-main", T0 + k * H, 10.0 + k) for k in range(3)]
    assert ingest_readings(db, batch, channel="mqtt").accepted == 3
    again = ingest_readings(db, batch, channel="mqtt")
    assert (again.accepted, again.duplicates) == (0, 3)
    assert len(_entries(db, "ingest_batch")) == 1  # duplicates store nothing, so nothing is attested
    mixed = ingest_readings(db, [*batch, RawReading("m-main", T0 + 3 * H, 13.0)], channel="mqtt")
    assert (mixed.accepted, mixed.duplicates) == (1, 3)
    second = _entries(db, "ingest_batch")[1]["payload"]
    assert second["count"] == 1 and second["meters"][0]["ts"] == [[T0 + 3 * H, 0, 1]]


def _two_batches(park: dict[str, Any]) -> tuple[int, int]:
    db = park["db"]
    ingest_readings(db, [RawReading("m-main", T0, 12.5), RawReading("m-sub", T0, 2)], channel="test")
    ingest_readings(db, [RawReading("m-main", T0 + k * H, 20.0 + k) for k in range(1, 5)], channel="test")
    first, second = (e["payload"]["batch"] for e in _entries(db, "ingest_batch"))
    service.sign(db, signing.generate_key())
    assert service.verify(db).ok
    return first, second


def test_rows_changed_deleted_or_inserted_with_sql_are_named(park: dict[str, Any]) -> None:
    db, meters = park["db"], park["meters"]
    main, sub, gas = meters["m-main"], meters["m-sub"], meters["m-gas"]
    first, second = _two_batches(park)
    with connect(db).begin() as conn:
        conn.execute(
            text("UPDATE readings SET value = 13.5 WHERE meter_id = :m AND ts_ms = :t"), {"m": main[0], "t": T0}
        )
        conn.execute(text("DELETE FROM readings WHERE meter_id = :m AND ts_ms = :t"), {"m": sub[0], "t": T0})
        conn.execute(  # inserted into a batch: given that batch's id
            text("INSERT INTO readings (meter_id, ts_ms, value, quality, batch_id) VALUES (:m, :t, 5.0, 0, :b)"),
            {"m": main[0], "t": T0 + 10 * H, "b": second},
        )
        conn.execute(  # inserted without a batch: no entry covers it
            text("INSERT INTO readings (meter_id, ts_ms, value, quality) VALUES (:m, :t, 1.0, 0)"),
            {"m": gas[0], "t": T0 + 20 * H},
        )
    report = service.verify(db)
    assert not report.ok
    named = {(f.record, f.meter, f.ts_ms): f.problem for f in report.findings}
    assert set(named) == {
        (f"ingest_batch:{first}", main[1], T0),
        (f"ingest_batch:{first}", sub[1], T0),
        (f"ingest_batch:{second}", main[1], T0 + 10 * H),
        (f"{gas[1]}@2025-01-01", gas[1], T0 + 20 * H),
    }
    assert named[(f"ingest_batch:{first}", main[1], T0)].endswith("value or quality changed")
    assert "deleted" in named[(f"ingest_batch:{first}", sub[1], T0)]
    assert "2025-01-01T10:00:00+08:00" in named[(f"ingest_batch:{second}", main[1], T0 + 10 * H)]
    assert "inserted" in named[(f"ingest_batch:{second}", main[1], T0 + 10 * H)]
    assert "not attested" in named[(f"{gas[1]}@2025-01-01", gas[1], T0 + 20 * H)]


def test_a_batch_deleted_whole_or_moved_is_named(park: dict[str, Any]) -> None:
    db, meters = park["db"], park["meters"]
    main, sub = meters["m-main"], meters["m-sub"]
    first, second = _two_batches(park)
    with connect(db).begin() as conn:
        conn.execute(text("DELETE FROM readings WHERE batch_id = :b"), {"b": first})
        conn.execute(text("UPDATE readings SET batch_id = 999 WHERE ts_ms = :t"), {"t": T0 + 4 * H})
    report = service.verify(db)
    named = {(f.record, f.meter, f.ts_ms) for f in report.findings}
    assert named == {
        (f"ingest_batch:{first}", main[1], T0),
        (f"ingest_batch:{first}", sub[1], T0),
        (f"ingest_batch:{second}", main[1], T0 + 4 * H),  # gone from its batch …
        ("ingest_batch:999", main[1], T0 + 4 * H),  # … into a batch that was never attested
    }
    problems = {f.record: f.problem for f in report.findings}
    assert problems[f"ingest_batch:{first}"].startswith("attested but no longer stored (deleted)")
    assert problems["ingest_batch:999"].startswith("stored but not attested")


def test_quality_checks_do_not_break_the_seal_but_other_quality_bits_do(park: dict[str, Any]) -> None:
    db, main = park["db"], park["meters"]["m-main"]
    assert service.ATTESTED_QUALITY_MASK == 0x7FFF & ~CHECK_BITS
    ingest_readings(db, [RawReading("m-main", T0 + k * H, 7.0) for k in range(3)], channel="test")
    service.sign(db, signing.generate_key())
    with connect(db).begin() as conn:  # what a quality-check run writes: a check's own bit
        conn.execute(text("UPDATE readings SET quality = :q WHERE ts_ms = :t"), {"q": int(QualityFlag.STUCK), "t": T0})
    assert service.verify(db).ok
    with connect(db).begin() as conn:  # a received bit changed behind the platform: "estimated"
        conn.execute(
            text("UPDATE readings SET quality = :q WHERE ts_ms = :t"), {"q": int(QualityFlag.ESTIMATED), "t": T0}
        )
    report = service.verify(db)
    assert [(f.meter, f.ts_ms) for f in report.findings] == [(main[1], T0)]


def lock_period_db(db: str, year: int) -> None:
    with session(db) as s:
        lock_period(s, None, year)


def test_corrections_are_attested_apart_and_verify_stays_green(park: dict[str, Any]) -> None:
    db, meters = park["db"], park["meters"]
    main, gas = meters["m-main"], meters["m-gas"]
    _first, second = _two_batches(park)
    # an explicit correction in an open period: the reading moves to the correcting batch
    fix = ingest_readings(db, [RawReading("m-main", T0 + 2 * H, 99.0, correction=True)], channel="rest")
    assert fix.corrected == 1
    batches = _entries(db, "ingest_batch")
    third = batches[-1]["payload"]
    assert third["count"] == 1 and third["meters"][0]["fp"] == _locators((99.0, 0))
    (correction,) = _entries(db, "reading_correction")
    assert correction["record"] == f"reading_correction:{third['batch']}"
    assert correction["payload"]["corrections"] == [
        {
            "amends": f"ingest_batch:{second}",
            "kind": "correction",
            "meter": main[1],
            "meter_id": main[0],
            "old_quality": 0,
            "old_value": 22,  # 20 + 2, written as RFC 8785 writes the double 22.0
            "quality": 0,
            "status": "applied",
            "ts_ms": T0 + 2 * H,
            "value": 99,
        }
    ]
    # a bulk-loaded reading attested by its day, then corrected through the pipeline
    insert_readings(connect(db), [(gas[0], T0 + 5 * H, 4.0, 0), (gas[0], T0 + 6 * H, 4.5, 0)])
    with session(db) as s:
        service.attest_readings(s, [(gas[0], T0 + 5 * H)])
    ingest_readings(db, [RawReading("m-gas", T0 + 6 * H, 5.0, correction=True)], channel="file")
    amends = _entries(db, "reading_correction")[-1]["payload"]["corrections"][0]["amends"]
    assert amends == f"{gas[1]}@2025-01-01"
    # a correction in a closed year waits as pending: the stored value stays, the entry says so
    lock_period_db(db, 2025)
    pending = ingest_readings(db, [RawReading("m-main", T0 + 3 * H, 50.0, correction=True)], channel="rest")
    assert pending.pending == 1
    last = _entries(db, "reading_correction")[-1]["payload"]["corrections"][0]
    assert (last["status"], last["amends"], last["old_value"], last["value"]) == (
        "pending",
        f"ingest_batch:{second}",
        23,
        50,
    )
    service.sign(db, signing.generate_key())
    report = service.verify(db)
    assert report.ok, [f.to_json() for f in report.findings]
    assert report.checked["reading_correction"] == 3
    # tampering after a correction is still caught: the corrected value, and the correction row
    with connect(db).begin() as conn:
        conn.execute(
            text("UPDATE readings SET value = 98 WHERE meter_id = :m AND ts_ms = :t"), {"m": main[0], "t": T0 + 2 * H}
        )
        conn.execute(text("DELETE FROM reading_corrections WHERE status = 'pending'"))
    report = service.verify(db)
    named = {(f.record, f.meter, f.ts_ms) for f in report.findings}
    pending_batch = _entries(db, "reading_correction")[-1]["payload"]["batch"]
    assert named == {
        (f"ingest_batch:{third['batch']}", main[1], T0 + 2 * H),
        (f"reading_correction:{pending_batch}", None, None),
    }


def test_a_failed_batch_attests_nothing(park: dict[str, Any]) -> None:
    """All or nothing: a transaction that fails after the batch was attested leaves neither readings nor entry."""
    db = park["db"]
    service.sign(db, signing.generate_key())
    size = service.log_size(db)
    with pytest.raises(RuntimeError), session(db) as s:
        result = ingest_in_session(s, [RawReading("m-main", T0, 1.0)], channel="test")
        assert result.accepted == 1 and service.log_size(s) == size + 1  # attested inside the transaction
        raise RuntimeError("the caller failed before its commit")
    assert service.log_size(db) == size
    with session(db) as s:
        assert s.scalar(text("SELECT count(*) FROM readings")) == 0
        assert s.scalar(select(func.count()).select_from(ReadingCorrection)) == 0


def test_live_batches_count_as_on_time_for_the_enterprise(park: dict[str, Any]) -> None:
    """The rating's on-time share counts ingest batches, park-wide ones too (docs/ledger.md §9)."""
    db = park["db"]
    ts = int(time.time() * 1000) - 60_000
    ingest_readings(db, [RawReading("m-main", ts, 1.0)], channel="mqtt")  # the enterprise's own batch
    ingest_readings(db, [RawReading("m-sub", ts, 1.0), RawReading("m-gas", ts, 1.0)], channel="mqtt")  # park-wide
    orgs = [e["organisation"] for e in _entries(db, "ingest_batch")]
    with session(db) as s:
        park_handle = service.park_handle(s.connection())
    assert orgs == [park["enterprise"], park_handle]
    record = service.trust_record(db, park["enterprise"], from_ms(ts, "Asia/Shanghai").year)
    assert record.on_time_share == 1.0 and record.tamper_events == 0


def test_readings_stored_before_the_migration_stay_attested_by_day(db_url: str, tmp_path: Path) -> None:
    """ingest_0002 on a populated table: older readings keep NULL and their day entries; downgrade works."""
    from alembic import command

    from carbonpark.store.db import _alembic_config

    upgrade(db_url)
    engine = connect(db_url)
    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "ingest_0001")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa_inspect(conn).get_columns("readings")}
    assert "batch_id" not in columns
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    with engine.begin() as conn:  # the old schema: readings without a batch (registry rows come later)
        conn.execute(text("INSERT INTO readings (meter_id, ts_ms, value, quality) VALUES (1, :t, 3.5, 0)"), {"t": T0})
    upgrade(db_url)
    import_registry(db_url, path, "tester")
    forget_meters()
    with session(db_url) as s:
        assert s.execute(text("SELECT batch_id FROM readings")).scalars().all() == [None]
        service.attest_readings(s, [(1, T0)])
    ingest_readings(db_url, [RawReading("m-main", T0 + H, 4.0)], channel="test")
    service.sign(db_url, signing.generate_key())
    report = service.verify(db_url)
    assert report.ok, [f.to_json() for f in report.findings]
    assert (report.checked["reading_batch"], report.checked["ingest_batch"]) == (1, 1)
