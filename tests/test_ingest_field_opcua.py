"""OPC UA subscription against a real asyncua server started by the test, including a server
restart (the client reconnects and recreates its subscription; nothing is stored twice)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Server, ua
from sqlalchemy import select

from carbonpark.errors import ValidationError
from carbonpark.ingest.opcua import OpcUaSubscriber, parse_opcua_map
from carbonpark.quality import QualityFlag
from carbonpark.services.ingest import forget_meters, make_sink
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Reading

REGISTRY = """
park: {name: OPC测试园区, handle_prefix: "5682"}
meters:
  - {code: e-main, quantity: energy, unit: kWh, reading_kind: cumulative}
  - {code: steam, quantity: mass_flow, unit: t/h, reading_kind: instantaneous}
"""
NS = "urn:carbonpark:test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _at(minute: int) -> datetime:
    return datetime(2025, 1, 15, 0, minute, tzinfo=UTC)  # 08:mm park-local


def _ms(minute: int) -> int:
    return int(_at(minute).timestamp() * 1000)


async def _server(port: int) -> tuple[Server, dict[str, object]]:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/carbonpark/")
    idx = await server.register_namespace(NS)
    plant = await server.nodes.objects.add_object(ua.NodeId("Plant1", idx), "Plant1")
    energy = await plant.add_variable(ua.NodeId("Meter01.Energy", idx), "Energy", 0.0)
    steam = await plant.add_variable(ua.NodeId("Steam.Flow", idx), "SteamFlow", 0.0)
    await server.start()
    return server, {"energy": energy, "steam": steam, "idx": idx}


async def _write(node: object, value: float, minute: int, good: bool = True) -> None:
    status = ua.StatusCode(ua.StatusCodes.Good if good else ua.StatusCodes.UncertainLastUsableValue)
    dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), StatusCode=status, SourceTimestamp=_at(minute))
    await node.write_value(dv)  # type: ignore[attr-defined]


def test_map_validation() -> None:
    nodes, interval = parse_opcua_map({"nodes": {"ns=2;s=A.B": "m1", "ns=2;i=7": {"meter": "m2", "unit": "MWh"}}})
    assert nodes["ns=2;i=7"].unit == "MWh" and interval == 1000
    with pytest.raises(ValidationError, match="node id"):
        parse_opcua_map({"nodes": {"not a node": "m"}})


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


async def _until(predicate: object, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("timed out waiting for the subscriber")
        await asyncio.sleep(0.1)


def _stored(db: str) -> dict[tuple[str, int], tuple[float, int]]:
    with session(db) as s:
        rows = s.execute(
            select(Meter.code, Reading.ts_ms, Reading.value, Reading.quality).join(Meter, Meter.id == Reading.meter_id)
        )
        return {(c, t): (v, q) for c, t, v, q in rows}


def test_subscription_stores_values_and_survives_a_server_restart(park: str) -> None:
    port = _free_port()

    async def scenario() -> None:
        server, nodes = await _server(port)
        idx = nodes["idx"]
        mapping, interval = parse_opcua_map(
            {
                "publishing_interval_ms": 100,
                "nodes": {
                    f"ns={idx};s=Meter01.Energy": {"meter": "e-main", "unit": "MWh"},
                    f"ns={idx};s=Steam.Flow": "steam",
                },
            }
        )
        sub = OpcUaSubscriber(
            make_sink(park, "opcua"),
            f"opc.tcp://127.0.0.1:{port}/carbonpark/",
            mapping,
            publishing_interval_ms=interval,
            flush_s=0.2,
            reconnect_max_s=1.0,
            timeout_s=2.0,
        )
        stop = asyncio.Event()
        runner = asyncio.create_task(sub.run(stop=stop))
        try:
            await _write(nodes["energy"], 1.5, 1)  # 1.5 MWh = 1 500 kWh
            await _write(nodes["steam"], 4.2, 1, good=False)  # uncertain status → device_flag
            await _until(lambda: len(_stored(park)) >= 2)
            await server.stop()  # the server goes away (the client loses its session) …
            await asyncio.sleep(1.0)
            await server.start()  # … and comes back on the same endpoint
            await _write(nodes["energy"], 1.75, 2)
            await _until(lambda: ("e-main", _ms(2)) in _stored(park), timeout=40)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 15)
            await server.stop()
        assert sub.received >= 3

    asyncio.run(scenario())
    stored = _stored(park)
    assert stored[("e-main", _ms(1))] == (pytest.approx(1500.0), 0)
    assert stored[("steam", _ms(1))] == (pytest.approx(4.2), int(QualityFlag.DEVICE_FLAG))
    assert stored[("e-main", _ms(2))] == (pytest.approx(1750.0), 0)
