"""HJ 212-2017 end to end (issue 5 item 3): CEMS packets with their CRC over TCP into the listener,
interval masses on a mass meter, then the stored accounting of the enterprise's month, whose
emission record is the measured (实测法) CO2 mass with its lineage back to the meter.

Every figure is computed by hand in the comments: the mass of an hourly record (CN 2061) is
c [mg/m3] × Q [m3/s] × 3 600 s (docs/field-protocols.md, "CEMS into the measured method";
HJ 212-2017 附录 B codes a05001 二氧化碳 and a00000 废气流量).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.ingest.hj212 import Hj212Listener, Hj212Map, frame, parse_packet
from carbonpark.services import accounting as acc
from carbonpark.services.ingest import forget_meters, make_sink
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Meter
from carbonpark.store.schema_accounting import ActivityDatum, EmissionRecord

MN = "88888880000042"
CREDIT = "91350100M000100Y43"
REGISTRY = f"""
park: {{name: 实测法测试园区, handle_prefix: "5683"}}
enterprises:
  - {{name: 锅炉公司, credit_code: {CREDIT}, industry_code: D4411}}
meters:
  - {{code: stack-flow, quantity: volume_flow, unit: m3/h, reading_kind: instantaneous, enterprise: {CREDIT}}}
  - {{code: stack-co2, quantity: mass, unit: t, enterprise: {CREDIT}}}
sources:
  - {{name: 燃煤锅炉烟囱, enterprise: {CREDIT}, activity: bituminous_coal, gas: CO2, method: measured, scope: 1,
     meter: stack-co2}}
"""
MAP = [
    {
        "mn": MN,
        "pw": "123456",
        "codes": {"a00000": {"meter": "stack-flow", "unit": "m3/s"}},
        "mass": [{"meter": "stack-co2", "concentration": "a05001", "flow": "a00000", "flow_unit": "m3/s"}],
    }
]
# (hour on 2025-01-15, CO2 mg/m3, flow m3/s) → mass of the hour = c × Q × 3 600 s / 1e9 [t]
HOURS = [(10, 100_000.0, 5.0), (11, 98_000.0, 5.5), (12, 120_000.0, 4.0)]
# 100 000 × 5 × 3 600 = 1.8e9 mg = 1.8 t; 98 000 × 5.5 × 3 600 = 1.9404 t; 120 000 × 4 × 3 600 = 1.728 t
MASS_T = 1.8 + 1.9404 + 1.728  # = 5.4684 t CO2


def hour_packet(hour: int, co2: float, flow: float) -> bytes:
    """An hourly CN 2061 record asking for an acknowledgement (Flag=5), framed with its CRC."""
    return frame(
        f"QN=20250115{hour:02d}0001000;ST=31;CN=2061;PW=123456;MN={MN};Flag=5;"
        f"CP=&&DataTime=20250115{hour:02d}0000;a05001-Avg={co2},a05001-Flag=N;"
        f"a00000-Avg={flow},a00000-Flag=N&&"
    )


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


def _send_over_tcp(db: str, packets: list[bytes]) -> list[bytes]:
    """Start the listener on a free port, send each packet on one connection, read each answer."""

    async def scenario() -> list[bytes]:
        listener = Hj212Listener(make_sink(db, "hj212"), Hj212Map(MAP), host="127.0.0.1", port=0)
        await listener.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            answers = []
            for p in packets:
                writer.write(p)
                await writer.drain()
                answers.append(await asyncio.wait_for(reader.readuntil(b"\r\n"), 10.0))
            writer.close()
            await writer.wait_closed()
            return answers
        finally:
            await listener.stop()

    return asyncio.run(scenario())


def test_cems_packets_over_tcp_become_the_measured_emission_record(park: str) -> None:
    db = park
    packets = [hour_packet(*h) for h in HOURS]
    answers = _send_over_tcp(db, packets)
    # every packet acknowledged (CN 9014, same QN) once its readings were committed
    assert [parse_packet(a).cn for a in answers] == ["9014"] * 3
    assert [parse_packet(a).header["QN"] for a in answers] == [parse_packet(p).header["QN"] for p in packets]

    doc = acc.account_stored(db, CREDIT, "2025-01")
    rows = doc["rows"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["method"] == "measured" and row["gas"] == "CO2"
    assert row["tco2e"] == pytest.approx(MASS_T, rel=1e-9)  # CO2 GWP = 1
    assert doc["total_tco2e"] == pytest.approx(MASS_T, rel=1e-9)
    assert doc["by_scope"]["1"] == pytest.approx(MASS_T, rel=1e-9)
    # a measured mass is not a fuel: no energy is derived from it
    assert doc["energy_tce"] == pytest.approx(0.0)

    with session(db) as s:
        meter = s.scalars(select(Meter).where(Meter.code == "stack-co2")).one()
        record = s.scalars(select(EmissionRecord)).one()
        datum = s.get(ActivityDatum, record.activity_datum_id)
        assert datum is not None
        # lineage: emission record → activity datum of January → the CEMS mass meter and its 3 readings
        assert (record.method, record.gas, record.period) == ("measured", "CO2", "2025-01")
        assert record.mass_t == pytest.approx(MASS_T, rel=1e-9)
        assert datum.meter_id == meter.id and datum.n_readings == 3 and datum.origin == "meter"
        assert datum.amount == pytest.approx(MASS_T, rel=1e-9) and datum.unit == "t"
        record_id = record.id
    explained = acc.explain_record(db, record_id)
    assert f"from meter {meter.id}, 3 readings" in explained and "measured" in explained


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_account_command_gives_the_same_measured_month(park: str) -> None:
    _send_over_tcp(park, [hour_packet(*h) for h in HOURS])
    result = CliRunner().invoke(app, ["account", "--db", park, "--org", CREDIT, "--period", "2025-01", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["total_tco2e"] == pytest.approx(MASS_T, rel=1e-9)
    assert [(r["method"], r["gas"]) for r in doc["rows"]] == [("measured", "CO2")]
