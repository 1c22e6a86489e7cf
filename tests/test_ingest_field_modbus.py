"""Modbus TCP polling against a real pymodbus server started by the test (SQLite and PostgreSQL).

The server's registers are filled with ``struct`` (independently of pymodbus's decoder) for
values chosen by hand; the poller must read them back through the register maps.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from sqlalchemy import select

from carbonpark.errors import ValidationError
from carbonpark.ingest.modbus import ModbusPoller, Point, decode, parse_modbus_map
from carbonpark.services.ingest import forget_meters, make_sink
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Reading

REGISTRY = """
park: {name: 现场总线测试园区, handle_prefix: "5681"}
meters:
  - {code: e-float, quantity: energy, unit: kWh, reading_kind: cumulative}
  - {code: p-float, quantity: power, unit: kW, reading_kind: instantaneous}
  - {code: e-int, quantity: energy, unit: kWh, reading_kind: cumulative}
  - {code: gas, quantity: volume, unit: m3, reading_kind: cumulative}
  - {code: flow, quantity: volume_flow, unit: m3/h, reading_kind: instantaneous}
  - {code: e-swapped, quantity: energy, unit: MWh, reading_kind: cumulative}
"""
T = 1_736_899_200_000  # 2025-01-15T08:00:00+08:00, the cycle's grid time


def _words(fmt: str, value: float | int) -> list[int]:
    """Big-endian 16-bit registers of a value packed with ``struct`` (format without byte order)."""
    raw = struct.pack(">" + fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def registers() -> list[int]:
    regs = [0] * 100
    # generic_int_meter: energy uint32 ×0.01, low word first: 123 456.78 kWh = 12 345 678 = 0x00BC614E
    regs[0:2] = [0x614E, 0x00BC]
    regs[2:4] = [25005, 0]  # gas uint32 ×0.1, low word first: 2 500.5 m3
    regs[4] = 333  # flow int16 ×0.1: 33.3 m3/h
    regs[10:12] = _words("f", 1234.5)[::-1]  # custom model: float32 little word order …
    regs[10:12] = [((r & 0xFF) << 8) | (r >> 8) for r in regs[10:12]]  # … and little byte order (all little-endian)
    regs[52:54] = _words("f", 45_000.0)  # generic_float_meter: total power 45 000 W → ×0.001 = 45 kW
    regs[72:74] = _words("f", 1000.25)  # total import energy 1 000.25 kWh
    return regs


MAP = {
    "interval_s": 60,
    "models": {
        "le_meter": {
            "energy_mwh": {
                "address": 10, "type": "float32", "byte_order": "little", "word_order": "little", "unit": "MWh"
            }
        }
    },
    "devices": [
        {"host": "127.0.0.1", "port": 0, "unit": 1, "model": "generic_float_meter",
         "points": {"energy_import_kwh": "e-float", "active_power_kw": "p-float"}},
        {"host": "127.0.0.1", "port": 0, "unit": 1, "model": "generic_int_meter",
         "points": {"energy_import_kwh": "e-int", "gas_volume_m3": "gas", "flow_m3_h": "flow"}},
        {"host": "127.0.0.1", "port": 0, "unit": 1, "model": "le_meter", "points": {"energy_mwh": "e-swapped"}},
        {"host": "127.0.0.1", "port": 0, "unit": 9, "model": "le_meter", "points": {"energy_mwh": "e-swapped"}},
    ],
}  # fmt: skip


def test_decode_orders_by_hand() -> None:
    # 0x12345678 as uint32: big word order [0x1234, 0x5678], little [0x5678, 0x1234]
    assert decode([0x1234, 0x5678], Point("a", 0, 2, "uint32")) == 0x12345678
    assert decode([0x5678, 0x1234], Point("a", 0, 2, "uint32", word_order="little")) == 0x12345678
    assert decode([0x3412, 0x7856], Point("a", 0, 2, "uint32", byte_order="little")) == 0x12345678
    assert decode([0xFFFF], Point("a", 0, 1, "int16", scale=0.5)) == -0.5
    assert decode(_words("d", -2.75), Point("a", 0, 4, "float64")) == -2.75
    with pytest.raises(ValidationError, match="2 registers for float32"):
        parse_modbus_map({"devices": [], "models": {"x": {"p": {"address": 1, "type": "float32", "count": 1}}}})
    with pytest.raises(ValidationError, match="points of model"):
        parse_modbus_map({"devices": [{"host": "h", "model": "generic_int_meter", "points": {"nope": "m"}}]})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


def test_poll_a_pymodbus_server_into_the_store(park: str) -> None:
    port = _free_port()
    dead_port = _free_port()
    doc = {**MAP, "devices": [{**d, "port": port} for d in MAP["devices"]]}
    doc["devices"].append(
        {"host": "127.0.0.1", "port": dead_port, "model": "generic_int_meter", "points": {"flow_m3_h": "flow"}}
    )
    devices, interval = parse_modbus_map(doc)
    errors: list[tuple[str, str]] = []

    async def scenario() -> None:
        server = ModbusTcpServer(
            SimDevice(id=1, simdata=[SimData(0, values=registers(), datatype=DataType.REGISTERS)]),
            address=("127.0.0.1", port),
        )
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.3)
        poller = ModbusPoller(
            make_sink(park, "modbus"), devices, interval_s=interval, timeout_s=1.0,
            on_error=lambda device, message: errors.append((device, message)),
        )  # fmt: skip
        try:
            first = await poller.poll_once(T)
            again = await poller.poll_once(T)  # the same cycle polled twice: duplicates, nothing stored twice
        finally:
            poller.close()
            await server.shutdown()
            task.cancel()
        assert (first.accepted, first.duplicates, first.quarantined) == (6, 0, [])
        assert (again.accepted, again.duplicates) == (0, 6)

    asyncio.run(scenario())
    with session(park) as s:
        stored = dict(s.execute(select(Meter.code, Reading.value).join(Meter, Meter.id == Reading.meter_id)).all())
        stamps = set(s.scalars(select(Reading.ts_ms)))
    assert stamps == {T}
    assert stored == {
        "e-float": pytest.approx(1000.25),
        "p-float": pytest.approx(45.0),
        "e-int": pytest.approx(123_456.78),
        "gas": pytest.approx(2500.5),
        "flow": pytest.approx(33.3),
        "e-swapped": pytest.approx(1234.5 * 1000),  # MWh → canonical kWh
    }
    # unit 9 answers with a Modbus exception, the dead port does not answer: reported, not stored
    assert {d for d, _ in errors} == {f"127.0.0.1:{port}/9", f"127.0.0.1:{dead_port}/1"}
