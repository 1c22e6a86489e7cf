"""MQTT ingest against a real Mosquitto started here with the configuration carbonpark ships.

JSON and Sparkplug B payloads, malformed messages, duplicates, out-of-order streams, sequence
gaps, redeliveries, and the crash test: the worker is killed with SIGKILL in the middle of a
stream, started again, and every QoS 1 message is stored exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from carbonpark.ingest.mqtt import Message, MqttOptions, MqttWorker, broker_config, decode_json, parse_broker
from carbonpark.ingest.sparkplug import Payload
from carbonpark.services.ingest import MqttHandler, forget_meters, ingest_totals
from carbonpark.services.registry_io import import_registry
from carbonpark.services.status import registry_status
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Quarantined, Reading
from carbonpark.store.schema_ingest import Alarm

IN_CI = os.environ.get("CI", "").lower() == "true"
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
REGISTRY = """
park: {name: 测试园区, handle_prefix: "5678"}
meters:
  - {code: m-main, quantity: energy, unit: kWh}
  - {code: m-sub, quantity: energy, unit: kWh}
"""
T0 = 1_735_660_800_000  # 2025-01-01T00:00:00+08:00
H = 3_600_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Mosquitto of our own on a free port, with ``carbonpark/ingest/data/mosquitto.conf``."""
    if MOSQUITTO is None:
        if IN_CI:
            pytest.fail("CI=true but the mosquitto broker is not installed")
        pytest.skip("mosquitto is not installed")
    port = _free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(broker_config(port), encoding="utf-8")
    log = (conf.parent / "mosquitto.log").open("w")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {Path(log.name).read_text()}") from None
            time.sleep(0.05)
    yield f"mqtt://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    upgrade(db_url)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    forget_meters()
    return db_url


def _publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait until the broker has acknowledged every message."""
    address = parse_broker(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(500)
    client.connect(address.host, address.port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def _run_worker(url: str, db: str, topics: list[str], client_id: str, messages: list[tuple[str, bytes]]) -> MqttHandler:
    handler = MqttHandler(db, client_id)
    worker = MqttWorker(MqttOptions(broker=url, topics=topics, client_id=client_id), handler, until_idle_s=1.0)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert worker.wait_ready(10), "no SUBACK from the broker"
    _publish(url, messages)
    thread.join(timeout=60)
    assert not thread.is_alive()
    return handler


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_json_payloads_land_with_the_pipeline_checks(broker: str, park: str) -> None:
    batch = {
        "seq": 1,
        "readings": [{"meter": "m-main", "ts": T0 + k * H, "value": k, "unit": "kWh"} for k in (3, 1, 2)],
    }
    messages = [
        ("plant/a", _json({"meter": "m-main", "ts": "2025-01-01T00:00:00+08:00", "value": 12.5, "unit": "kWh"})),
        ("plant/a", _json({"meter": "m-main", "ts": "2025-01-01T00:00:00+08:00", "value": 12.5, "unit": "kWh"})),
        ("plant/b", _json(batch)),  # out of order inside the batch: 3 h, 1 h, 2 h
        ("plant/b", _json({"seq": 2, "readings": [{"meter": "m-sub", "ts": T0, "value": 0.5, "unit": "MWh"}]})),
        ("plant/b", _json({"seq": 5, "readings": [{"meter": "m-sub", "ts": T0 + H, "value": 1}]})),  # 3, 4 lost
        ("plant/c", b"{not json"),
        ("plant/c", _json({"meter": "nope", "ts": T0, "value": 1})),
        ("plant/c", _json({"meter": "m-main", "ts": T0 + 9 * H, "value": 1, "unit": "t"})),
        ("plant/c", _json([1, 2])),
    ]
    handler = _run_worker(broker, park, ["plant/#"], f"t-json-{uuid.uuid4().hex[:8]}", messages)
    # sent readings: 1 + 1 + 3 + 1 + 1 + 4 rejected = 11; accepted 1 + 3 + 1 + 1 = 6; one duplicate
    assert (handler.totals.sent, handler.totals.accepted, handler.totals.duplicates) == (11, 6, 1)
    assert sorted(r for _, r in handler.totals.quarantined) == ["malformed", "malformed", "unknown_meter", "wrong_unit"]
    with session(park) as s:
        values = dict(s.execute(select(Reading.ts_ms, Reading.value).where(Reading.meter_id == 2)).all())
        assert values == {T0: 500.0, T0 + H: 1.0}  # 0.5 MWh = 500 kWh
        gap = s.scalars(select(Alarm)).one()
        assert (gap.kind, gap.subject, gap.detail["missing"]) == ("data_gap", "mqtt:plant/b", [3, 4])
        assert s.scalar(select(Quarantined.raw).where(Quarantined.detail.like("not JSON%"))) == "{not json"
    status = registry_status(park)
    assert status["readings"] + status["quarantined"] + status["duplicates"] == 11


def _spb(seq: int, ts: int, metrics: list[dict[str, object]]) -> bytes:
    msg = Payload(seq=seq, timestamp=ts)
    for m in metrics:
        metric = msg.metrics.add()
        for key, value in m.items():
            if key == "unit":
                metric.properties.keys.append("engUnit")
                metric.properties.values.add(type=12, string_value=str(value))
            else:
                setattr(metric, key, value)
    return msg.SerializeToString()


def test_sparkplug_births_aliases_and_gaps(broker: str, park: str) -> None:
    node = "spBv1.0/park/%s/edge1"
    messages = [
        (
            node % "NBIRTH",
            _spb(
                0,
                T0,
                [
                    {"name": "bdSeq", "datatype": 8, "long_value": 0},
                    {"name": "Node Control/Rebirth", "datatype": 11, "boolean_value": False},
                    {"name": "m-main", "alias": 1, "datatype": 10, "double_value": 1.0, "unit": "MWh"},
                ],
            ),
        ),
        (node % "NDATA", _spb(1, T0 + H, [{"alias": 1, "datatype": 10, "double_value": 2.0}])),
        (node % "DBIRTH" + "/dev1", _spb(2, T0, [{"name": "m-sub", "alias": 2, "datatype": 3, "int_value": 7}])),
        (node % "DDATA" + "/dev1", _spb(3, T0 + H, [{"alias": 2, "datatype": 3, "int_value": (1 << 32) - 4}])),
        (node % "NDATA", _spb(6, T0 + 2 * H, [{"alias": 1, "datatype": 10, "double_value": 3.0}])),  # 4, 5 lost
        (node % "NDATA", _spb(7, T0 + 3 * H, [{"alias": 9, "datatype": 10, "double_value": 3.0}])),
        (node % "NDATA", b"\xff\x00garbage"),
    ]
    handler = _run_worker(broker, park, ["spBv1.0/#"], f"t-spb-{uuid.uuid4().hex[:8]}", messages)
    assert (handler.totals.accepted, sorted(r for _, r in handler.totals.quarantined)) == (
        5,
        ["malformed", "unknown_alias"],
    )
    with session(park) as s:
        main = dict(s.execute(select(Reading.ts_ms, Reading.value).where(Reading.meter_id == 1)).all())
        sub = dict(s.execute(select(Reading.ts_ms, Reading.value).where(Reading.meter_id == 2)).all())
        assert main == {T0: 1000.0, T0 + H: 2000.0, T0 + 2 * H: 3000.0}  # MWh from the birth's engUnit
        assert sub == {T0: 7.0, T0 + H: -4.0}  # Int32 two's complement
        gap = s.scalars(select(Alarm)).one()
        assert (gap.subject, gap.detail["missing"]) == ("spb:park/edge1", [4, 5])
    # a new worker (a restart) still knows the aliases: they are in the database
    later = _run_worker(
        broker,
        park,
        ["spBv1.0/#"],
        f"t-spb2-{uuid.uuid4().hex[:8]}",
        [(node % "NDATA", _spb(8, T0 + 4 * H, [{"alias": 1, "double_value": 4.0}]))],
    )
    assert later.totals.accepted == 1


def test_a_redelivered_message_already_committed_is_not_counted_again(park: str) -> None:
    payload = _json({"meter": "m-main", "ts": T0, "value": 1.0})
    handler = MqttHandler(park, "t-redeliver")
    first = handler([Message("plant/a", payload, 7, 1, False, False)])
    assert first.accepted == 1
    # the worker died after the commit, before PUBACK: the broker sends packet 7 again with DUP
    handler([Message("plant/a", payload, 7, 1, True, False)])
    assert handler.redeliveries == 1
    # a DUP message the database never committed (a different payload on that packet id) is stored
    other = _json({"meter": "m-main", "ts": T0 + H, "value": 2.0})
    assert handler([Message("plant/a", other, 7, 1, True, False)]).accepted == 1
    with session(park) as s:
        assert ingest_totals(s) == {
            "sent": 2,
            "accepted": 2,
            "duplicates": 0,
            "quarantined": 0,
            "corrected": 0,
            "pending": 0,
        }


def test_decode_json_shapes() -> None:
    readings, marks = decode_json("t", b'{"seq": 4, "readings": [{"meter": "a", "ts": 1, "value": 2}, 5]}')
    assert [r.error for r in readings] == [None, "malformed"]
    assert [(m.stream, m.seq) for m in marks] == [("mqtt:t", 4)]
    assert decode_json("t", b'{"readings": 3}')[0][0].error == "malformed"
    assert decode_json("t", b"\xff")[0][0].error == "malformed"


def test_decode_json_into_columns_matches_decode_json() -> None:
    from carbonpark.ingest.model import RawBatch
    from carbonpark.ingest.mqtt import decode_json_into

    payloads = [
        b'{"seq": 4, "readings": [{"meter": "a", "ts": 1, "value": 2, "unit": 5}, {"meter": 7, "correction": true}]}',
        b'{"readings": [{"meter": "a", "ts": 1, "value": 2}, 5]}',  # one element is not an object
        b'{"meter": "b", "ts": "2025-01-01T00:00:00", "value": NaN}',  # orjson refuses NaN, json reads it
        b"{not json",
    ]
    batch = RawBatch()
    marks = [m for p in payloads for m in decode_json_into(batch, "t", p)]
    one_by_one = [r for p in payloads for r in decode_json("t", p)[0]]
    assert len(batch) == len(one_by_one) == 6
    for got, want in zip(batch, one_by_one, strict=True):
        assert (got.meter, got.ts, got.unit, got.correction, got.error) == (
            want.meter,
            want.ts,
            want.unit,
            want.correction,
            want.error,
        )
    assert batch[0].unit == "5" and batch[1].correction is True and batch[3].error == "malformed"
    assert str(batch[4].value) == "nan" and batch[5].error == "malformed"
    assert [(m.stream, m.seq) for m in marks] == [("mqtt:t", 4)]


def test_decode_singles_into_matches_decode_json() -> None:
    """Single-reading payloads turned into columns in one go give the readings and marks of one by one."""
    import orjson

    from carbonpark.ingest.model import RawBatch
    from carbonpark.ingest.mqtt import decode_singles_into

    sent = [
        ("t/a", b'{"seq": 4, "meter": "a", "ts": 1, "value": 2, "unit": 5}'),  # unit 5 → "5"
        ("t/b", b'{"meter": 7, "ts": "2025-01-01T00:00:00", "value": "x", "correction": true}'),
        ("t/a", b'{"seq": true, "meter": "a", "ts": 2, "value": 3}'),  # a boolean is no sequence number
        ("t/a", b'{"seq": -1, "meter": "a", "ts": 3, "value": 4}'),  # neither is a negative one
        ("t/b", b'{"seq": 0, "ts": 4}'),  # no meter, no value: the pipeline judges them
    ]
    batch = RawBatch()
    marks = decode_singles_into(batch, [t for t, _ in sent], [orjson.loads(p) for _, p in sent])
    one_by_one = [decode_json(t, p) for t, p in sent]
    want = [r for readings, _ in one_by_one for r in readings]
    assert len(batch) == len(want) == 5
    for got, exp in zip(batch, want, strict=True):
        assert got == exp
    assert [(m.stream, m.seq) for m in marks] == [("mqtt:t/a", 4), ("mqtt:t/b", 0)]
    assert marks == [m for _, ms in one_by_one for m in ms]
    assert batch[0].unit == "5" and batch[1].correction is True and batch[4].meter is None


def test_worker_hands_over_a_full_batch_without_waiting_for_the_deadline(broker: str, park: str) -> None:
    """The network thread wakes the batching thread when a batch is full, not per message.

    With ``max_batch = 5`` and a deadline of 30 s after a batch's first message, 10 messages
    must come as two batches of 5 well before 30 s; 3 more then wait for the deadline or
    for :meth:`MqttWorker.stop` (which here ends the wait early).
    """
    client_id = f"t-full-{uuid.uuid4().hex[:8]}"
    sizes: list[int] = []
    handler = MqttHandler(park, client_id, attest=False)

    def record(messages: list[Message]) -> object:
        sizes.append(len(messages))
        return handler(messages)

    worker = MqttWorker(
        MqttOptions(broker=broker, topics=["full/#"], client_id=client_id), record, max_batch=5, max_wait_s=30.0
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert worker.wait_ready(10), "no SUBACK from the broker"
    start = time.monotonic()
    _publish(broker, [("full/a", _json({"meter": "m-main", "ts": T0 + k * H, "value": k})) for k in range(10)])
    while sum(sizes) < 10 and time.monotonic() - start < 20:
        time.sleep(0.01)
    assert sizes == [5, 5] and time.monotonic() - start < 20
    _publish(broker, [("full/a", _json({"meter": "m-main", "ts": T0 + k * H, "value": k})) for k in range(10, 13)])
    time.sleep(0.5)
    assert sizes == [5, 5]  # 3 < 5: still waiting for more or the deadline
    worker.stop()
    thread.join(timeout=20)
    assert not thread.is_alive() and sizes == [5, 5, 3]
    assert (handler.totals.accepted, worker.stats.acknowledged) == (13, 13)


_WORKER = """
import sys
from carbonpark.ingest.mqtt import MqttOptions, MqttWorker
from carbonpark.services.ingest import MqttHandler
broker, db, client_id, idle = sys.argv[1:5]
handler = MqttHandler(db, client_id)
worker = MqttWorker(
    MqttOptions(broker=broker, topics=["crash/#"], client_id=client_id),
    handler,
    max_batch=50,
    until_idle_s=float(idle) if idle != "-" else None,
    log=lambda text: print(text, file=sys.stderr, flush=True),
)
worker.run()
print(handler.messages, handler.totals.accepted, handler.redeliveries)
"""


def _worker_process(broker_url: str, db: str, client_id: str, idle: str = "-") -> subprocess.Popen[str]:
    """The worker of ``carbonpark ingest mqtt`` (same classes) in a process of its own, to be killed."""
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, broker_url, db, client_id, idle],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).select_from(Reading)) or 0)


def test_crash_mid_stream_stores_every_message_exactly_once(broker: str, park: str) -> None:
    n = 1500
    client_id = f"t-crash-{uuid.uuid4().hex[:8]}"
    worker = _worker_process(broker, park, client_id)
    try:
        deadline = time.monotonic() + 120  # generous: the machine is shared
        line = ""
        while "session present" not in line:  # subscribed with a persistent session
            assert time.monotonic() < deadline and worker.stderr is not None
            line = worker.stderr.readline()
        time.sleep(0.3)
        messages = [("crash/m", _json({"meter": "m-main", "ts": T0 + k * 60_000, "value": k})) for k in range(n)]
        publisher = threading.Thread(target=_publish, args=(broker, messages))
        publisher.start()
        while _count(park) < 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        publisher.join(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
    stored_at_kill = _count(park)
    assert stored_at_kill < n, "the worker finished before it was killed: nothing was tested"
    again = _worker_process(broker, park, client_id, "2")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    with session(park) as s:
        assert _count(park) == n
        values = dict(s.execute(select(Reading.ts_ms, Reading.value)).all())
        assert values == {T0 + k * 60_000: float(k) for k in range(n)}
        totals = ingest_totals(s)
    assert (totals["accepted"], totals["duplicates"], totals["quarantined"]) == (n, 0, 0)
    messages, _, _ = (int(x) for x in out.split())
    assert messages >= n - stored_at_kill  # the rest came again from the broker's session
