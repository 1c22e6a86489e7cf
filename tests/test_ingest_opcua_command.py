"""``carbonpark ingest opcua`` as a process (issue 5 item 3): the command subscribes to a real
asyncua server started by the test, stores the values in the meters' canonical units, stops on
``--until-idle`` and prints exactly one JSON document on stdout."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from asyncua import Server, ua
from sqlalchemy import select

import carbonpark
from carbonpark.services.ingest import forget_meters
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter, Reading

REGISTRY = """
park: {name: OPC命令测试园区, handle_prefix: "5684"}
meters:
  - {code: e-main, quantity: energy, unit: kWh, reading_kind: cumulative}
  - {code: steam, quantity: mass_flow, unit: t/h, reading_kind: instantaneous}
"""
NS = "urn:carbonpark:test:command"
# the command, run by this interpreter with the same carbonpark the tests import
COMMAND = [sys.executable, "-c", "from carbonpark.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _at(minute: int) -> datetime:
    return datetime(2025, 1, 15, 0, minute, tzinfo=UTC)  # 08:mm park-local (Asia/Shanghai)


def _ms(minute: int) -> int:
    return int(_at(minute).timestamp() * 1000)


async def _write(node: object, value: float, minute: int) -> None:
    dv = ua.DataValue(
        ua.Variant(value, ua.VariantType.Double),
        StatusCode=ua.StatusCode(ua.StatusCodes.Good),
        SourceTimestamp=_at(minute),
    )
    await node.write_value(dv)  # type: ignore[attr-defined]


def _stored(db: str) -> dict[tuple[str, int], tuple[float, int]]:
    with session(db) as s:
        rows = s.execute(
            select(Meter.code, Reading.ts_ms, Reading.value, Reading.quality).join(Meter, Meter.id == Reading.meter_id)
        )
        return {(c, t): (v, q) for c, t, v, q in rows}


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_command_subscribes_stores_and_stops_when_idle(park: str, tmp_path: Path) -> None:
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/carbonpark/"
    env = dict(os.environ, PYTHONPATH=str(Path(carbonpark.__file__).resolve().parents[1]))

    async def scenario() -> tuple[int, bytes, bytes]:
        server = Server()
        await server.init()
        server.set_endpoint(endpoint)
        idx = await server.register_namespace(NS)
        plant = await server.nodes.objects.add_object(ua.NodeId("Plant1", idx), "Plant1")
        energy = await plant.add_variable(ua.NodeId("Meter01.Energy", idx), "Energy", 0.0)
        steam = await plant.add_variable(ua.NodeId("Steam.Flow", idx), "SteamFlow", 0.0)
        await server.start()
        try:
            await _write(energy, 1.5, 1)  # 1.5 MWh = 1 500 kWh (canonical kWh)
            await _write(steam, 4.2, 1)  # t/h, as the meter's unit
            map_file = tmp_path / "map.yaml"
            map_file.write_text(
                yaml.safe_dump(
                    {
                        "opcua": {
                            "publishing_interval_ms": 100,
                            "nodes": {
                                f"ns={idx};s=Meter01.Energy": {"meter": "e-main", "unit": "MWh"},
                                f"ns={idx};s=Steam.Flow": "steam",
                            },
                        }
                    }
                ),
                encoding="utf-8",
            )
            args = ["ingest", "opcua", "--endpoint", endpoint, "--map", str(map_file), "--db", park]
            proc = await asyncio.create_subprocess_exec(
                *COMMAND,
                *args,
                "--until-idle",
                "3",
                "--json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            communicate = asyncio.create_task(proc.communicate())
            loop = asyncio.get_running_loop()
            end = loop.time() + 60
            while ("e-main", _ms(1)) not in _stored(park):  # the initial values of the subscription
                assert not communicate.done(), "the command ended before storing anything"
                assert loop.time() < end, "timed out waiting for the command's first readings"
                await asyncio.sleep(0.1)
            await _write(energy, 1.75, 2)  # a change while subscribed: 1 750 kWh at 08:02
            out, err = await asyncio.wait_for(communicate, 60)
            return int(proc.returncode or 0), out, err
        finally:
            await server.stop()

    code, out, err = asyncio.run(scenario())
    assert code == 0, err.decode(errors="replace")
    doc = json.loads(out)  # exactly one JSON document on stdout
    assert (doc["accepted"], doc["quarantined"]) == (3, 0), doc
    stored = _stored(park)
    assert stored == {
        ("e-main", _ms(1)): (pytest.approx(1500.0), 0),
        ("steam", _ms(1)): (pytest.approx(4.2), 0),
        ("e-main", _ms(2)): (pytest.approx(1750.0), 0),
    }
