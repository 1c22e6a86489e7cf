"""HJ 212-2017: CRC of the standard's appendix, packet parsing, the TCP listener into the store
(SQLite and PostgreSQL), and CEMS samples into the accounting engine's measured method."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark import accounting
from carbonpark.accounting.methods import cems_mass_t
from carbonpark.cli.main import app
from carbonpark.ingest.hj212 import (
    Hj212Error,
    Hj212Listener,
    Hj212Map,
    cems_mass_record,
    crc16,
    frame,
    parse_packet,
)
from carbonpark.quality import QualityFlag
from carbonpark.services.ingest import forget_meters, make_sink
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Quarantined, Reading
from carbonpark.times import parse_timestamp

# The worked example of HJ 212-2017 (a CN=1062 command): length 0101, CRC 1C80.
STANDARD_EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
# A real-time air packet as printed in a public HJ 212 parser's sample (length 0249, CRC D801).
SECOND_EXAMPLE = (
    b"##0249QN=20180507000558;ST=39;CN=2011;PW=123456;MN=010000A00000000000A00654;CP=&&DataTime=20180507000558;"
    b"a01001-Rtd=26.0,a01001-Flag=N;a01002-Rtd=30.4,a01002-Flag=N;a34001-Rtd=0.0,a34001-Flag=N;"
    b"a34002-Rtd=24.0,a34002-Flag=N;a34004-Rtd=23.0,a34004-Flag=N&&D801"
)
MN = "88888880000001"
REGISTRY = """
park: {name: 排放监测测试园区, handle_prefix: "5680"}
meters:
  - {code: boiler-flow, quantity: volume_flow, unit: m3/h, reading_kind: instantaneous}
  - {code: boiler-co2, quantity: mass, unit: kg}
"""
MAP = [
    {
        "mn": MN,
        "pw": "123456",
        "codes": {"a00000": {"meter": "boiler-flow", "unit": "m3/s"}},
        "mass": [{"meter": "boiler-co2", "concentration": "a05001", "flow": "a00000", "flow_unit": "m3/s"}],
    }
]


def hour_packet(hour: int, co2: float, flow: float, flag: str = "N", ack: bool = True) -> bytes:
    segment = (
        f"QN=20250115{hour:02d}0001000;ST=31;CN=2061;PW=123456;MN={MN};Flag={5 if ack else 4};"
        f"CP=&&DataTime=20250115{hour:02d}0000;a05001-Avg={co2},a05001-Flag={flag};"
        f"a00000-Avg={flow},a00000-Flag=N;a01012-Avg=135.2,a01012-Flag=N&&"
    )
    return frame(segment)


def test_crc_matches_the_worked_examples() -> None:
    for packet, length, crc in ((STANDARD_EXAMPLE, 101, 0x1C80), (SECOND_EXAMPLE, 249, 0xD801)):
        segment = packet.rstrip(b"\r\n")[6:-4]
        assert len(segment) == length == int(packet[2:6])
        assert crc16(segment) == crc
    msg = parse_packet(STANDARD_EXAMPLE)
    assert msg.cn == "1062" and msg.extra == {"RtdInterval": "30"} and msg.wants_ack
    msg = parse_packet(SECOND_EXAMPLE)
    assert msg.data_time == "20180507000558" and msg.values["a34002"] == {"Rtd": "24.0", "Flag": "N"}
    # frame() rebuilds the standard's packet byte for byte
    assert frame(STANDARD_EXAMPLE[6:-6].decode()) == STANDARD_EXAMPLE


def test_corrupted_packets_are_refused_with_a_reason() -> None:
    flipped = STANDARD_EXAMPLE.replace(b"RtdInterval=30", b"RtdInterval=31")
    with pytest.raises(Hj212Error) as err:
        parse_packet(flipped)
    assert err.value.reason == "bad_crc"
    with pytest.raises(Hj212Error) as err:
        parse_packet(STANDARD_EXAMPLE.replace(b"##0101", b"##0100"))
    assert err.value.reason == "malformed" and "100 characters" in str(err.value)
    with pytest.raises(Hj212Error) as err:
        parse_packet(b"$$0101" + STANDARD_EXAMPLE[6:])
    assert err.value.reason == "malformed"


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


async def _exchange(port: int, packets: list[bytes], wait: float = 5.0) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for p in packets:
        writer.write(p)
        await writer.drain()
        msg = parse_packet(p) if p.startswith(b"##") else None
        wants = False
        try:
            wants = bool(msg and msg.wants_ack)
        except Hj212Error:
            wants = False
        if wants:
            try:
                answers.append(await asyncio.wait_for(reader.readuntil(b"\r\n"), wait))
            except TimeoutError:
                answers.append(b"")
    writer.close()
    await writer.wait_closed()
    return answers


def test_listener_stores_hourly_cems_records_and_acknowledges_after_commit(park: str) -> None:
    db = park
    good = [hour_packet(10, 100_000.0, 5.0), hour_packet(11, 98_000.0, 5.5, flag="D")]
    wrong_pw = frame(hour_packet(13, 1.0, 1.0).decode()[6:-6].replace("PW=123456", "PW=000000"))
    bad = bytearray(hour_packet(12, 99_000.0, 5.2))
    bad[-6:-2] = b"0000" if bad[-6:-2] != b"0000" else b"FFFF"  # a CRC that does not match

    async def scenario() -> list[bytes]:
        listener = Hj212Listener(make_sink(db, "hj212"), Hj212Map(MAP), host="127.0.0.1", port=0)
        await listener.start()
        try:
            answers = await _exchange(listener.port, good)
            assert await _exchange(listener.port, [wrong_pw], wait=1.0) == [b""]  # refused: no acknowledgement
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(bytes(bad))
            await writer.drain()
            with pytest.raises(TimeoutError):  # no acknowledgement for a corrupted packet
                await asyncio.wait_for(reader.readuntil(b"\r\n"), 1.0)
            writer.close()
            return answers
        finally:
            await listener.stop()

    answers = asyncio.run(scenario())
    for answer, sent in zip(answers, good, strict=True):
        ack = parse_packet(answer)
        assert ack.cn == "9014" and ack.header["QN"] == parse_packet(sent).header["QN"]
    with session(db) as s:
        rows = {
            (code, ts): (value, q)
            for code, ts, value, q in s.execute(
                select(Meter.code, Reading.ts_ms, Reading.value, Reading.quality).join(
                    Meter, Meter.id == Reading.meter_id
                )
            )
        }
        quarantined = s.scalars(select(Quarantined)).all()
    t10 = parse_timestamp("2025-01-15T10:00:00", "Asia/Shanghai")
    t11 = parse_timestamp("2025-01-15T11:00:00", "Asia/Shanghai")
    # flow 5.0 m3/s = 18 000 m3/h (canonical volume_flow unit)
    assert rows[("boiler-flow", t10)] == (pytest.approx(18_000.0), 0)
    # mass of the hour: 100 000 mg/m3 × 5 m3/s × 3 600 s = 1.8e9 mg = 1.8 t (canonical mass unit t)
    assert rows[("boiler-co2", t10)] == (pytest.approx(1.8), 0)
    # 98 000 × 5.5 × 3 600 = 1.9404e9 mg = 1.9404 t; the CO2 analyser flagged D (fault): device_flag
    assert rows[("boiler-co2", t11)] == (pytest.approx(1.9404), int(QualityFlag.DEVICE_FLAG))
    assert len(rows) == 4
    assert sorted((q.reason, q.channel) for q in quarantined) == [("bad_crc", "hj212"), ("bad_password", "hj212")]
    crc = next(q for q in quarantined if q.reason == "bad_crc")
    assert crc.raw.startswith("##") and "a05001-Avg=99000.0" in crc.raw


def test_cems_samples_feed_the_measured_method() -> None:
    # hourly averages (CN 2061): 3 h × 100 000 mg/m3 × 20 000 m3/h = 6e9 mg = 6 t
    t0 = parse_timestamp("2025-01-15T00:00:00", "Asia/Shanghai")
    ts = [t0, t0 + 3_600_000, t0 + 7_200_000]
    rec, summary = cems_mass_record(ts, [1e5] * 3, [2e4] * 3, interval_s=3600, source="boiler-1")
    assert rec.amount == pytest.approx(6.0) and summary["coverage"] == pytest.approx(1.0)
    assert rec.amount == pytest.approx(cems_mass_t([1e5] * 3, [2e4] * 3, 1.0))
    inv = accounting.account([rec])
    assert inv.total_tco2e == pytest.approx(6.0)
    # real-time samples held until the next one, at most 1 h: samples at 0, 30 min, 3 h (gap)
    rt = [t0, t0 + 1_800_000, t0 + 10_800_000]
    rec, summary = cems_mass_record(rt, [1e5, 2e5, 1e5], [2e4, 2e4, 2e4], max_gap_s=3600)
    # 1e5 × 2e4 × 0.5 h + 2e5 × 2e4 × 1 h (held 2.5 h, capped at 1 h) = 1e9 + 4e9 mg = 5 t
    assert rec.amount == pytest.approx(5.0)
    assert summary["hours"] == pytest.approx(1.5) and summary["coverage"] == pytest.approx(1.5 / 3)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_command_listens_until_idle_and_prints_one_json_document(park: str, tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(yaml.safe_dump({"hj212": MAP}), encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["ingest", "hj212", "--map", str(map_file), "--db", park, "--host", "127.0.0.1", "--port", str(port)]
    result: list[Any] = []
    worker = threading.Thread(
        target=lambda: result.append(CliRunner().invoke(app, [*args, "--until-idle", "2", "--json"]))
    )
    worker.start()

    async def send() -> list[bytes]:
        for _ in range(100):  # until the command listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        return await _exchange(port, [hour_packet(9, 100_000.0, 5.0)])

    answers = asyncio.run(send())
    worker.join(60)
    assert parse_packet(answers[0]).cn == "9014"
    res = result[0]
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    # one packet: a flow reading and a mass reading, both stored
    assert (doc["packets"], doc["sent"], doc["accepted"], doc["quarantined"]) == (1, 2, 2, 0)
