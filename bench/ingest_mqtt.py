"""MQTT → store end to end, next to a bare paho subscriber draining the same messages.

Starts its own Mosquitto with the configuration carbonpark ships, creates two persistent
QoS 1 sessions (the bare drain and the carbonpark worker), publishes N readings once as
single-reading JSON messages and once as 100-reading messages, then measures

* bare: a paho subscriber that only receives and acknowledges every message;
* carbonpark: ``MqttWorker`` + ``MqttHandler`` (parse, validate, convert, de-duplicate,
  COPY/INSERT, receipts, counts, ack after commit), with ledger attestation per batch
  switched off and on (``attest``: one ``ingest_batch`` entry per committed batch, computed
  from the columns in memory; the attested case reports the entries appended next to the
  batches committed).

Each is reported per second of wall time (the figure the targets are about; the ratio
compares the two measured in the same run) and per CPU second of the benchmark process
(paho's network thread included; the database server's CPU is not counted): on a machine
shared with other work, the latter says what a free core would give.

Prints ONE JSON line. Usage: ``python bench/ingest_mqtt.py [--db URL] [--readings N]
[--attested N] [--cases single,single_attested,batched_100,batched_100_attested]`` (default: a temporary
SQLite file and the machine's PostgreSQL at $CARBONPARK_TEST_PG; the attested case drains
``--attested`` readings, by default as many as the batched case).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from carbonpark.ingest.mqtt import MqttOptions, MqttWorker, broker_config
from carbonpark.services.ingest import MqttHandler, forget_meters
from carbonpark.services.registry_io import import_registry
from carbonpark.store import connect, upgrade

PG = os.environ.get("CARBONPARK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
METERS = 100
T0 = 1_735_660_800_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(broker_config(port), encoding="utf-8")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def subscribe_session(port: int, client_id: str, topic: str) -> None:
    """Create a persistent session subscribed at QoS 1, then leave (the broker queues for it)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    done = threading.Event()
    c.on_subscribe = lambda *_a: done.set()
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    c.subscribe(topic, qos=1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def publish(port: int, topic: str, payloads: list[bytes]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(topic, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def bare_drain(port: int, client_id: str, expected: int) -> tuple[float, float]:
    """Messages per second of wall time and per CPU second of a paho subscriber that only acknowledges.

    Manual acknowledgement, like the worker. The CPU time is this process's (paho's thread
    included): on a machine shared with other work it says what a free core would give.
    """
    got = 0
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)

    def on_message(client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got
        client.ack(msg.mid, msg.qos)
        got += 1
        if got >= expected:
            done.set()

    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20_000
    start, cpu = time.perf_counter(), time.process_time()
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    done.wait(600)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    c.disconnect()
    c.loop_stop()
    return got / elapsed, got / cpu


def carbonpark_drain(
    port: int, db: str, client_id: str, expected_readings: int, attest: bool
) -> tuple[float, float, int]:
    """Readings stored per second of wall time and per CPU second of this process, and the count stored."""
    handler = MqttHandler(db, client_id, attest=attest)
    worker = MqttWorker(
        MqttOptions(broker=f"mqtt://127.0.0.1:{port}", topics=["bench/#"], client_id=client_id),
        handler,
        max_batch=2000,
        until_idle_s=None,
    )

    def stop_when_done(_r: object) -> None:
        if handler.totals.sent >= expected_readings:
            worker.stop()

    worker.on_batch = stop_when_done
    start, cpu = time.perf_counter(), time.process_time()
    worker.run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return handler.totals.accepted / elapsed, handler.totals.accepted / cpu, handler.totals.accepted


def prepare_db(db: str, tmp: Path) -> str:
    if db.startswith("postgresql"):
        schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(db).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db = f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"
    upgrade(db)
    lines = ['park: {name: 基准园区, handle_prefix: "1234"}', "meters:"]
    lines += [f"  - {{code: m{i}, quantity: energy, unit: kWh}}" for i in range(METERS)]
    reg = tmp / "registry.yaml"
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_registry(db, reg, "bench")
    forget_meters()
    return db


def payloads(n: int, per_message: int, offset: int) -> list[bytes]:
    out = []
    for start in range(0, n, per_message):
        readings = [
            {
                "meter": f"m{k % METERS}",
                "ts": T0 + (offset + k // METERS) * 60_000,
                "value": float(k % 997),
                "unit": "kWh",
            }
            for k in range(start, min(n, start + per_message))
        ]
        doc = readings[0] if per_message == 1 else {"readings": readings}
        out.append(json.dumps(doc).encode())
    return out


def run_case(port: int, db: str, n: int, per_message: int, offset: int, attest: bool) -> dict[str, float]:
    tag = uuid.uuid4().hex[:6]
    bare_id, cp_id = f"bare-{tag}", f"cp-{tag}"
    subscribe_session(port, bare_id, "bench/#")
    subscribe_session(port, cp_id, "bench/#")
    msgs = payloads(n, per_message, offset)
    publish(port, "bench/readings", msgs)
    bare_msgs, bare_cpu = bare_drain(port, bare_id, len(msgs))
    before = _ledger_counts(db) if attest else (0, 0)
    cp_readings, cp_cpu, accepted = carbonpark_drain(port, db, cp_id, n, attest)
    assert accepted == n, f"stored {accepted} of {n}"
    out: dict[str, float] = {
        "bare_readings_per_s": round(bare_msgs * per_message),
        "carbonpark_readings_per_s": round(cp_readings),
        "ratio": round(cp_readings / (bare_msgs * per_message), 3),
        "bare_readings_per_cpu_s": round(bare_cpu * per_message),
        "carbonpark_readings_per_cpu_s": round(cp_cpu),
    }
    if attest:
        after = _ledger_counts(db)
        out["batches"], out["ledger_entries"] = after[0] - before[0], after[1] - before[1]
    return out


def _ledger_counts(db: str) -> tuple[int, int]:
    """(ingest batches committed, ledger entries) so far."""
    with connect(db).connect() as conn:
        batches = conn.execute(sa.text("SELECT count(*) FROM ingest_batches")).scalar() or 0
        entries = conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar() or 0
    return int(batches), int(entries)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=200_000, help="readings per batched case")
    ap.add_argument("--single", type=int, default=20_000, help="readings (= messages) per single-reading case")
    ap.add_argument("--attested", type=int, default=None, help="readings of the attested case (default --readings)")
    ap.add_argument(
        "--cases",
        default="single,single_attested,batched_100,batched_100_attested",
        help="comma-separated cases to run",
    )
    ap.add_argument("--db", action="append", help="database URL(s); default SQLite and PostgreSQL")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    attested = args.readings if args.attested is None else args.attested
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker, port = start_broker(tmp)
        results: dict[str, object] = {
            "bench": "ingest_mqtt",
            "readings_batched": args.readings,
            "readings_single": args.single,
            "readings_attested": attested,
            "load_average": round(os.getloadavg()[0], 2),
        }
        try:
            for label, url in (
                [(f"db{i}", u) for i, u in enumerate(args.db)]
                if args.db
                else [("sqlite", f"sqlite:///{tmp / 'b.db'}"), ("postgresql", PG)]
            ):
                db = prepare_db(url, tmp)
                offset = 0
                for case, per, n, attest in (
                    ("single", 1, args.single, False),
                    ("single_attested", 1, args.single, True),
                    ("batched_100", 100, args.readings, False),
                    ("batched_100_attested", 100, attested, True),
                ):
                    if case not in cases:
                        continue
                    results[f"{label}_{case}"] = run_case(port, db, n, per, offset, attest)
                    offset += n // METERS + 10
                connect(db).dispose()
                print(f"{label} done", file=sys.stderr)
        finally:
            broker.terminate()
            broker.wait()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
