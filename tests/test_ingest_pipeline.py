"""The one ingest pipeline, on SQLite and PostgreSQL: validation, units, duplicates, corrections, locks, gaps.

Every expected number below is worked out by hand from the readings sent in the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from carbonpark.ingest.model import RawReading, SeqMark, failed
from carbonpark.services.ingest import (
    IngestScope,
    forget_meters,
    ingest_readings,
    lock_period,
)
from carbonpark.services.registry_io import import_registry
from carbonpark.services.status import list_meters, registry_status
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Quarantined, Reading
from carbonpark.store.schema_ingest import Alarm, ReadingCorrection

REGISTRY = """
park: {name: 测试园区, handle_prefix: "5678"}
carriers:
  - {code: electricity, name: 电力, name_en: Electricity, quantity: energy, unit: kWh}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C2614}
meters:
  - {code: m-main, quantity: energy, unit: kWh, carrier: electricity, enterprise: 91350100M000100Y43}
  - {code: m-sub, quantity: energy, unit: MWh, carrier: electricity, enterprise: 91350100M000100Y43, parent: m-main}
  - {code: m-gas, quantity: volume, unit: Nm3}
  - {code: m-virtual, quantity: energy, unit: kWh}
"""
# 2025-01-01T00:00:00+08:00 = 2024-12-31T16:00:00Z = 1735660800000 ms
T0 = 1_735_660_800_000
H = 3_600_000


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    with session(db_url) as s:  # a meter computed from others takes no readings
        s.execute(update(Meter).where(Meter.code == "m-virtual").values(reading_kind="virtual"))
    forget_meters()
    return db_url


def _readings(db: str) -> dict[tuple[str, int], float]:
    with session(db) as s:
        rows = s.execute(select(Meter.code, Reading.ts_ms, Reading.value).join(Meter, Meter.id == Reading.meter_id))
        return {(code, ts): value for code, ts, value in rows}


def test_units_are_converted_and_every_reading_is_accounted_for(park: str) -> None:
    sent = [
        RawReading("m-main", "2025-01-01T00:00:00", 12.5, "kWh"),  # naive = Asia/Shanghai → T0
        RawReading("m-main", "2025-01-01T01:00:00+08:00", "1.5", "MWh"),  # 1.5 MWh = 1500 kWh
        RawReading("m-sub", T0, 2),  # no unit: the meter's MWh → 2000 kWh
        RawReading("m-gas", "2024-12-31T16:00:00Z", 3, "万立方米"),  # 3 × 10⁴ m3
        RawReading("m-main", T0 + 2 * H, 7, "m3"),  # volume for an energy meter
        RawReading("m-main", T0 + 2 * H, 7, "blorb"),  # no such unit
        RawReading("nope", T0, 1),  # unknown meter: never auto-created
        RawReading("m-virtual", T0, 1),
        RawReading("m-main", "yesterday", 1),
        RawReading("m-main", 1_735_660_800, 1),  # epoch seconds sent as ms: 1970
        RawReading("m-main", T0 + 3 * H, float("nan")),
        RawReading("m-main", T0 + 3 * H, None),
        failed("malformed", b"{not json", "not JSON"),
    ]
    result = ingest_readings(park, sent, channel="test")
    assert (result.accepted, result.duplicates, result.corrected, result.pending) == (4, 0, 0, 0)
    assert result.quarantined == [
        (4, "wrong_unit"),
        (5, "unknown_unit"),
        (6, "unknown_meter"),
        (7, "virtual_meter"),
        (8, "bad_timestamp"),
        (9, "bad_timestamp"),
        (10, "bad_value"),
        (11, "missing_field"),
        (12, "malformed"),
    ]
    assert _readings(park) == {
        ("m-main", T0): 12.5,
        ("m-main", T0 + H): 1500.0,
        ("m-sub", T0): 2000.0,
        ("m-gas", T0): 30000.0,
    }
    with session(park) as s:
        raw = s.scalar(select(Quarantined.raw).where(Quarantined.reason == "malformed"))
        assert raw == "{not json"
        assert s.scalar(select(func.count()).select_from(Meter).where(Meter.code == "nope")) == 0
    status = registry_status(park)
    assert status["readings"] + status["quarantined"] + status["duplicates"] == len(sent)


def test_redelivery_is_a_counted_no_op_and_a_different_value_is_a_conflict(park: str) -> None:
    first = [RawReading("m-main", T0 + k * H, 10.0 + k) for k in range(3)]
    assert ingest_readings(park, first, channel="test").accepted == 3
    again = ingest_readings(park, first, channel="test")
    assert (again.accepted, again.duplicates, again.quarantined) == (0, 3, [])
    # T0 holds 10.0 kWh; 10 000 Wh is the same reading in another unit
    same_in_other_unit = ingest_readings(park, [RawReading("m-main", T0, 10_000, "Wh")], channel="test")
    assert same_in_other_unit.duplicates == 1
    changed = ingest_readings(park, [RawReading("m-main", T0, 99.0)], channel="test")
    assert changed.quarantined == [(0, "conflict")]
    assert _readings(park)[("m-main", T0)] == 10.0
    # inside one batch: same twice = one duplicate; a different second value = conflict
    batch = [RawReading("m-sub", T0, 1), RawReading("m-sub", T0, 1), RawReading("m-sub", T0, 2)]
    inner = ingest_readings(park, batch, channel="test")
    assert (inner.accepted, inner.duplicates, inner.quarantined) == (1, 1, [(2, "conflict")])
    status = registry_status(park)
    sent = 3 + 3 + 1 + 1 + 3
    assert status["readings"] + status["quarantined"] + status["duplicates"] == sent
    assert (status["readings"], status["duplicates"], status["quarantined"]) == (4, 5, 2)


def test_late_and_out_of_order_readings_are_accepted(park: str) -> None:
    stream = [RawReading("m-main", T0 + k * H, float(k)) for k in (5, 4, 9, 0, 7)]
    assert ingest_readings(park, stream, channel="test").accepted == 5
    late = ingest_readings(park, [RawReading("m-main", T0 + 2 * H, 2.0)], channel="test")
    assert late.accepted == 1
    assert late.first_ts_ms == late.last_ts_ms == T0 + 2 * H
    assert sorted(ts for (_, ts) in _readings(park)) == [T0 + k * H for k in (0, 2, 4, 5, 7, 9)]


def test_a_correction_replaces_in_an_open_period_and_waits_in_a_locked_one(park: str) -> None:
    ingest_readings(park, [RawReading("m-main", T0, 10.0), RawReading("m-main", T0 + H, 11.0)], channel="test")
    fixed = ingest_readings(park, [RawReading("m-main", T0, 12.0, correction=True)], channel="test")
    assert (fixed.corrected, fixed.quarantined) == (1, [])
    assert _readings(park)[("m-main", T0)] == 12.0
    with session(park) as s:
        ent = s.scalar(select(Meter.enterprise_id).where(Meter.code == "m-main"))
        lock_period(s, ent, 2025, "verified")
    held = ingest_readings(
        park,
        [
            RawReading("m-main", T0 + H, 15.0, correction=True),  # corrected datum in a verified year
            RawReading("m-main", T0 + 5 * H, 3.0),  # late datum in a verified year
            RawReading("m-gas", T0, 4.0),  # park meter: the enterprise lock does not cover it
        ],
        channel="test",
    )
    assert (held.accepted, held.pending, held.duplicates, held.corrected) == (1, 2, 0, 0)
    again = ingest_readings(park, [RawReading("m-main", T0 + H, 11.0)], channel="test")
    assert again.duplicates == 1  # the stored value sent again is still a duplicate
    stored = _readings(park)
    assert stored[("m-main", T0 + H)] == 11.0  # never recomputed in place
    assert ("m-main", T0 + 5 * H) not in stored
    with session(park) as s:
        rows = s.execute(
            select(ReadingCorrection.kind, ReadingCorrection.status, ReadingCorrection.old_value).order_by(
                ReadingCorrection.id
            )
        ).all()
    assert rows == [("correction", "applied", 10.0), ("correction", "pending", 11.0), ("late", "pending", None)]


def test_sequence_gaps_raise_an_alarm_that_clears_when_the_messages_arrive(park: str) -> None:
    one = [RawReading("m-main", T0, 1.0)]
    ingest_readings(park, one, channel="test", marks=[SeqMark("mqtt:a", 1), SeqMark("mqtt:a", 2)])
    gap = ingest_readings(park, [], channel="test", marks=[SeqMark("mqtt:a", 5)])
    assert len(gap.alarms) == 1
    with session(park) as s:
        alarm = s.get(Alarm, gap.alarms[0])
        assert alarm is not None
        assert (alarm.kind, alarm.subject, alarm.detail["missing"]) == ("data_gap", "mqtt:a", [3, 4])
    ingest_readings(park, [], channel="test", marks=[SeqMark("mqtt:a", 3)])
    with session(park) as s:
        assert s.get(Alarm, gap.alarms[0]).cleared_ms is None  # 4 still missing
    ingest_readings(park, [], channel="test", marks=[SeqMark("mqtt:a", 4)])
    with session(park) as s:
        assert s.get(Alarm, gap.alarms[0]).cleared_ms is not None
    # Sparkplug numbers wrap at 256: 254, 255, 0, 1 is no gap; 1 → 4 skips 2 and 3; a birth resets
    marks = [SeqMark("spb:g/n", s, 256) for s in (254, 255, 0, 1)]
    assert ingest_readings(park, [], channel="test", marks=marks).alarms == []
    wrapped = ingest_readings(park, [], channel="test", marks=[SeqMark("spb:g/n", 4, 256)])
    with session(park) as s:
        assert s.get(Alarm, wrapped.alarms[0]).detail["missing"] == [2, 3]
    reborn = [SeqMark("spb:g/n", 0, 256, reset=True), SeqMark("spb:g/n", 1, 256)]
    assert ingest_readings(park, [], channel="test", marks=reborn).alarms == []


def test_scope_and_meter_listing(park: str) -> None:
    with session(park) as s:
        main_id = s.scalar(select(Meter.id).where(Meter.code == "m-main"))
        main_handle = s.scalar(select(Meter.handle).where(Meter.code == "m-main"))
    scope = IngestScope(meter_ids=frozenset({main_id}))
    result = ingest_readings(
        park,
        [RawReading(main_handle, T0, 1.0), RawReading(str(main_id), T0 + H, 2.0), RawReading("m-gas", T0, 1.0)],
        channel="rest",
        scope=scope,
    )
    assert (result.accepted, result.quarantined) == (2, [(2, "out_of_scope")])
    flags = {m["code"]: m["virtual"] for m in list_meters(park)}
    assert flags == {"m-main": False, "m-sub": False, "m-gas": False, "m-virtual": True}


def test_mqtt_batches_as_columns_give_the_answers_of_the_one_by_one_pass(park: str) -> None:
    """A clean JSON batch takes the column-wise path; one bad reading sends a batch through the one-by-one pass."""
    import json

    from carbonpark.ingest.mqtt import Message
    from carbonpark.services.ingest import MqttHandler

    def message(mid: int, readings: list[dict[str, object]]) -> Message:
        return Message("plant/a", json.dumps({"readings": readings}).encode(), mid, 1, False, False)

    handler = MqttHandler(park, "t-columns", attest=False)
    clean = [
        {"meter": "m-sub", "ts": T0, "value": 1.5, "unit": "MWh"},  # 1.5 MWh = 1500 kWh
        {"meter": "m-main", "ts": T0, "value": -2.25},  # negative and fractional: exact through binary COPY
        {"meter": "m-gas", "ts": T0 + H, "value": 3, "unit": "万立方米"},  # 3 × 10⁴ m3
    ]
    first = handler([message(1, clean)])
    assert (first.accepted, first.duplicates, first.quarantined) == (3, 0, [])
    mixed = [
        {"meter": "m-main", "ts": T0, "value": -2.25},  # 0: stored already, same value → duplicate
        {"meter": "m-sub", "ts": T0, "value": 2.0},  # 1: 2 MWh = 2000 kWh ≠ 1500 stored → conflict
        {"meter": "m-main", "ts": T0 + 2 * H, "value": 5},  # 2: superseded by 5 → counted corrected
        {"meter": "m-main", "ts": T0 + 2 * H, "value": 5},  # 3: equal to the kept one → duplicate
        {"meter": "m-main", "ts": T0 + 2 * H, "value": 6},  # 4: differs, no correction → conflict
        {"meter": "m-main", "ts": T0 + 2 * H, "value": 7, "correction": True},  # 5: supersedes 2 → stored
        {"meter": "nope", "ts": T0, "value": 1},  # 6: unknown meter
    ]
    second = handler([message(2, mixed[:3]), message(3, mixed[3:])])
    assert (second.accepted, second.duplicates, second.corrected, second.pending) == (1, 2, 1, 0)
    assert second.quarantined == [(1, "conflict"), (4, "conflict"), (6, "unknown_meter")]
    assert _readings(park) == {
        ("m-sub", T0): 1500.0,
        ("m-main", T0): -2.25,
        ("m-gas", T0 + H): 30000.0,
        ("m-main", T0 + 2 * H): 7.0,
    }
    with session(park) as s:
        assert s.scalar(select(func.count()).select_from(Quarantined)) == 3


def test_single_reading_messages_in_runs_keep_their_order_and_answers(park: str) -> None:
    """Single-reading payloads become columns once per run; batches and bad messages keep their places.

    The handler is called with the messages as the worker hands them over: some decoded on
    the network thread by ``prepare`` (what the worker does), some not (``decoded=None``).
    Both must give the same answers. The indexes below count the readings in message
    order: message 1 → 0, message 2 → 1 and 2, message 3 → 3, message 4 → 4, message 5 → 5,
    message 6 → 6.
    """
    import json

    from carbonpark.ingest.mqtt import Message
    from carbonpark.services.ingest import MqttHandler

    docs: list[bytes] = [
        json.dumps({"meter": "m-main", "ts": T0, "value": 1.0, "seq": 1}).encode(),  # 0: stored
        json.dumps({"readings": [{"meter": "m-main", "ts": T0 + H, "value": 2}, 7]}).encode(),  # 1 stored, 2 bad
        json.dumps({"meter": "m-sub", "ts": T0, "value": 3, "unit": "kWh", "seq": 2}).encode(),  # 3: stored in kWh
        b"{not json",  # 4: malformed
        json.dumps({"meter": "nope", "ts": T0, "value": 1}).encode(),  # 5: unknown meter
        json.dumps({"meter": "m-main", "ts": T0, "value": 9.0, "seq": 4}).encode(),  # 6: conflicts with 0
    ]
    for prepared, client in ((True, "t-runs-a"), (False, "t-runs-b")):
        handler = MqttHandler(park, client, attest=False)
        msgs = [
            Message("plant/r", p, k + 1, 1, False, False, handler.prepare("plant/r", p) if prepared else None)
            for k, p in enumerate(docs)
        ]
        result = handler(msgs)
        # the second pass (a new client id, so no receipts) finds the first pass's readings: duplicates
        assert (result.accepted, result.duplicates) == ((3, 0) if prepared else (0, 3))
        assert result.quarantined == [(2, "malformed"), (4, "malformed"), (5, "unknown_meter"), (6, "conflict")]
    assert _readings(park) == {
        ("m-main", T0): 1.0,
        ("m-main", T0 + H): 2.0,
        ("m-sub", T0): 3.0,
    }  # energy is stored in kWh (1.5 MWh → 1500 above)
    with session(park) as s:  # seq 1, 2, 4 on mqtt:plant/r: 3 is missing (raised in the first pass)
        gap = s.scalars(select(Alarm).where(Alarm.subject == "mqtt:plant/r")).one()
        assert gap.detail["missing"] == [3]
