"""MQTT options against real Mosquitto brokers started here with the configuration carbonpark ships.

Shared subscriptions splitting one stream over two workers (and the sequence check they share,
issue 5 item 3), TLS with a CA and server certificate made here and a password file, a wrong
password, a broker stopped and started again in the middle of a stream, the ``carbonpark ingest
mqtt … --until-idle`` command itself, and Sparkplug ``bdSeq`` gaps.

Each broker is the shipped ``mosquitto.conf`` plus the lines a test needs (listener, TLS files,
password file, persistence); ``user <the test's user>`` keeps Mosquitto from dropping root
privileges to a user that could not read the test's files.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import func, select

from carbonpark.ingest.mqtt import MqttOptions, MqttWorker, broker_config
from carbonpark.ingest.sparkplug import Payload
from carbonpark.services.ingest import MqttHandler, forget_meters, ingest_totals
from carbonpark.services.registry_io import import_registry
from carbonpark.store import session, upgrade
from carbonpark.store.schema import Reading
from carbonpark.store.schema_ingest import Alarm, IngestSequence
from test_ingest_mqtt import IN_CI, MOSQUITTO, REGISTRY, T0, _free_port

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
MIN = 60_000


class Broker:
    """A Mosquitto process: the shipped configuration plus ``extra`` lines, restartable on its port."""

    def __init__(self, directory: Path, extra: str = "") -> None:
        if MOSQUITTO is None:
            if IN_CI:
                pytest.fail("CI=true but the mosquitto broker is not installed")
            pytest.skip("mosquitto is not installed")
        self.port = _free_port()
        self.directory = directory
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(f"{broker_config(self.port)}user {getpass.getuser()}\n{extra}", encoding="utf-8")
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file (if configured) and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    started: list[Broker] = []

    def make(extra: str = "") -> Broker:
        directory = tmp_path / f"broker{len(started)}"
        directory.mkdir()
        broker = Broker(directory, extra)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


def _park(db: str, tmp_path: Path) -> str:
    upgrade(db)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db, path, "tester")
    forget_meters()
    return db


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> str:
    return _park(db_url, tmp_path)


@pytest.fixture
def sqlite_park(tmp_path: Path) -> str:
    return _park(f"sqlite:///{tmp_path / 'test.db'}", tmp_path)


def _client(port: int, client_id: str, **kw: Any) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if kw.get("user"):
        client.username_pw_set(kw["user"], kw.get("password"))
    if kw.get("ca"):
        client.tls_set(ca_certs=str(kw["ca"]))
    return client


def _publish(port: int, messages: list[tuple[str, bytes]], **kw: Any) -> None:
    """Publish at QoS 1 and wait until the broker has acknowledged every message."""
    client = _client(port, f"pub-{uuid.uuid4().hex[:8]}", **kw)
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def _reading(k: int, seq: int | None = None, meter: str = "m-main") -> bytes:
    doc: dict[str, Any] = {"meter": meter, "ts": T0 + k * MIN, "value": float(k)}
    if seq is not None:
        doc["seq"] = seq
    return json.dumps(doc).encode()


def _count(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).select_from(Reading)) or 0)


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start_worker(options: MqttOptions, handler: MqttHandler, **kw: Any) -> tuple[MqttWorker, threading.Thread]:
    worker = MqttWorker(options, handler, **kw)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


# ------------------------------------------------------------------------------ shared subscriptions


def test_two_workers_split_one_stream_and_the_sequence_check_leaves_no_gap(
    brokers: Callable[..., Broker], park: str
) -> None:
    """Shared subscription ``$share/carbonpark/gw/#``: messages 1…n of one topic, with ``seq`` 1…n,
    alternate between two workers whose small batches commit in any order. Every message is stored
    once, and no data-gap alarm stays open (before the fix: ``missing=[3, 5, …]``, two alarms open)."""
    broker = brokers()
    n = 240
    handlers, workers = [], []
    for i in range(2):
        cid = f"t-share-{i}-{uuid.uuid4().hex[:6]}"
        handler = MqttHandler(park, cid)
        options = MqttOptions(
            broker=f"mqtt://127.0.0.1:{broker.port}", topics=["$share/carbonpark/gw/#"], client_id=cid
        )
        worker, thread = _start_worker(options, handler, max_batch=7, max_wait_s=0.005)
        assert worker.wait_ready(10), "no SUBACK from the broker"
        handlers.append(handler)
        workers.append((worker, thread))
    _publish(broker.port, [("gw/a", _reading(k, seq=k)) for k in range(1, n + 1)])
    _wait_for(lambda: _count(park) >= n, 90, f"{n} readings")
    time.sleep(0.3)  # let the last acknowledgements go out
    for worker, thread in workers:
        worker.stop()
        thread.join(timeout=30)
    assert all(h.messages > 0 for h in handlers), [h.messages for h in handlers]  # the stream was split
    assert sum(h.messages for h in handlers) == n
    with session(park) as s:
        values = dict(s.execute(select(Reading.ts_ms, Reading.value)).all())
        seq = s.scalars(select(IngestSequence).where(IngestSequence.stream == "mqtt:gw/a")).one()
        open_gaps = s.scalars(select(Alarm).where(Alarm.kind == "data_gap", Alarm.cleared_ms.is_(None))).all()
        totals = ingest_totals(s)
    assert values == {T0 + k * MIN: float(k) for k in range(1, n + 1)}
    assert (seq.last_seq, seq.missing) == (n, [])
    assert open_gaps == []
    assert (totals["accepted"], totals["duplicates"], totals["quarantined"]) == (n, 0, 0)


# ------------------------------------------------------------------------------ TLS and passwords


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it (EC P-256, one day)."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("carbonpark test CA"))
        .issuer_name(name("carbonpark test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def _password_file(path: Path, users: dict[str, str]) -> Path:
    """Mosquitto's password file: by ``mosquitto_passwd`` when installed, else in its ``$7$`` format
    (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt, both base64; Mosquitto 2.0 ``mosquitto_passwd``)."""
    if MOSQUITTO_PASSWD is not None:
        for i, (user, password) in enumerate(users.items()):
            flags = ["-c", "-b"] if i == 0 else ["-b"]
            subprocess.run([MOSQUITTO_PASSWD, *flags, str(path), user, password], check=True, capture_output=True)
        return path
    import base64
    import hashlib

    lines = []
    for user, password in users.items():
        salt = os.urandom(12)
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101, 64)
        lines.append(f"{user}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def secure_broker(brokers: Callable[..., Broker], tmp_path: Path) -> tuple[Broker, Path]:
    """TLS only (the listener's certificate, no plain port), no anonymous clients, one user."""
    files = tmp_path / "tls"
    files.mkdir()
    ca, cert, key = _certificates(files)
    passwords = _password_file(files / "passwords", {"gateway": "gw-secret", "carbonpark": "s3cret pass"})
    extra = f"certfile {cert}\nkeyfile {key}\nallow_anonymous false\npassword_file {passwords}\n"
    return brokers(extra), ca


def test_the_cli_over_tls_with_a_password_until_idle(secure_broker: tuple[Broker, Path], sqlite_park: str) -> None:
    """``carbonpark ingest mqtt --broker mqtts://… --ca-file … --username … --until-idle 2 --json`` in a
    process of its own, the password from ``$CARBONPARK_MQTT_PASSWORD``; the session is made first
    (same client id, clean start off) so that the messages wait for it in the broker."""
    broker, ca = secure_broker
    db, cid = sqlite_park, f"t-cli-{uuid.uuid4().hex[:6]}"
    creds = {"user": "carbonpark", "password": "s3cret pass", "ca": ca}
    session_maker = _client(broker.port, cid, **creds)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    done = threading.Event()
    session_maker.on_subscribe = lambda *_a: done.set()
    session_maker.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    session_maker.loop_start()
    session_maker.subscribe([("cli/#", SubscribeOptions(qos=1))])
    assert done.wait(10)
    session_maker.disconnect()
    session_maker.loop_stop()
    # a gateway with its own account publishes 30 readings and a malformed message
    messages = [("cli/m", _reading(k)) for k in range(30)] + [("cli/m", b"{oops")]
    _publish(broker.port, messages, user="gateway", password="gw-secret", ca=ca)
    env = {**os.environ, "CARBONPARK_MQTT_PASSWORD": "s3cret pass"}
    probe = "from carbonpark.cli.main import main; main()"
    argv = [sys.executable, "-c", probe, "ingest", "mqtt", "--db", db, "--json"]
    argv += ["--broker", f"mqtts://127.0.0.1:{broker.port}", "--topic", "cli/#", "--client-id", cid]
    argv += ["--ca-file", str(ca), "--username", "carbonpark", "--until-idle", "2"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)  # exactly one JSON document on standard output
    assert (doc["messages"], doc["acknowledged"], doc["accepted"], doc["quarantined"]) == (31, 31, 30, 1)
    assert doc["quarantined_by_reason"] == {"malformed": 1}
    assert "connected to 127.0.0.1" in run.stderr
    assert _count(db) == 30


def test_a_wrong_password_is_refused_and_nothing_is_stored(
    secure_broker: tuple[Broker, Path], sqlite_park: str
) -> None:
    broker, ca = secure_broker
    logs: list[str] = []
    options = MqttOptions(
        broker=f"mqtts://carbonpark:wrong@127.0.0.1:{broker.port}", topics=["x/#"], client_id="t-wrong", ca_file=str(ca)
    )
    worker = MqttWorker(options, MqttHandler(sqlite_park, "t-wrong"), until_idle_s=1.5, log=logs.append)
    stats = worker.run()
    assert stats.connects == 0 and stats.messages == 0
    assert stats.last_error is not None and "refused" in stats.last_error
    assert any("refused" in line for line in logs), logs
    # the right password in the URL's user info works (the worker then subscribes)
    options = MqttOptions(
        broker=f"mqtts://carbonpark:s3cret%20pass@127.0.0.1:{broker.port}",
        topics=["x/#"],
        client_id="t-right",
        ca_file=str(ca),
    )
    right = MqttWorker(options, MqttHandler(sqlite_park, "t-right"), until_idle_s=0.5)
    thread = threading.Thread(target=right.run, daemon=True)
    thread.start()
    assert right.wait_ready(10)
    thread.join(timeout=30)
    assert right.stats.connects == 1


# ------------------------------------------------------------------------------ reconnects


def test_a_broker_restart_mid_stream_loses_nothing_and_stores_nothing_twice(
    brokers: Callable[..., Broker], sqlite_park: str, tmp_path: Path
) -> None:
    """The broker (with persistence, as a deployment runs it) is stopped while the worker is busy and
    started again on the same port; the worker reconnects with back-off to its persistent session."""
    db = sqlite_park
    store = tmp_path / "persist"
    store.mkdir()
    broker = brokers(f"persistence true\npersistence_location {store}/\n")
    logs: list[str] = []
    cid = f"t-restart-{uuid.uuid4().hex[:6]}"
    options = MqttOptions(
        broker=f"mqtt://127.0.0.1:{broker.port}", topics=["rs/#"], client_id=cid, min_reconnect_s=1, max_reconnect_s=4
    )
    handler = _SlowHandler(db, cid)
    worker, thread = _start_worker(options, handler, max_batch=20, log=logs.append)
    assert worker.wait_ready(10)
    n = 400
    _publish(broker.port, [("rs/m", _reading(k)) for k in range(n // 2)])
    _wait_for(lambda: _count(db) >= 40, 60, "the first readings")
    broker.stop()  # mid-stream: the worker holds messages it has not acknowledged yet
    assert _count(db) < n // 2
    broker.start()
    _publish(broker.port, [("rs/m", _reading(k)) for k in range(n // 2, n)])
    _wait_for(lambda: _count(db) >= n, 90, f"{n} readings")
    time.sleep(0.5)
    worker.stop()
    thread.join(timeout=30)
    assert worker.stats.connects >= 2
    assert any("reconnecting with back-off" in line for line in logs), logs
    with session(db) as s:
        values = dict(s.execute(select(Reading.ts_ms, Reading.value)).all())
        totals = ingest_totals(s)
    assert values == {T0 + k * MIN: float(k) for k in range(n)}
    # every message stored once: a message committed but not acknowledged before the broker went
    # down comes again (DUP) and is recognised by its receipt, not counted as a duplicate reading
    assert (totals["accepted"], totals["duplicates"], totals["quarantined"]) == (n, 0, 0)
    assert handler.totals.accepted == n and handler.redeliveries > 0


class _SlowHandler(MqttHandler):
    """The pipeline with 50 ms more per batch: the stream is still flowing when the broker stops."""

    def __call__(self, messages: list[Any]) -> Any:
        time.sleep(0.05)
        return super().__call__(messages)


# ------------------------------------------------------------------------------ Sparkplug bdSeq


def _spb(seq: int | None, metrics: list[dict[str, object]], ts: int = T0) -> bytes:
    msg = Payload(timestamp=ts)
    if seq is not None:
        msg.seq = seq
    for m in metrics:
        metric = msg.metrics.add()
        for key, value in m.items():
            setattr(metric, key, value)
    return msg.SerializeToString()


def test_sparkplug_bdseq_gaps_raise_an_alarm(brokers: Callable[..., Broker], sqlite_park: str) -> None:
    """Births carry bdSeq 0, 1, 3 (+1 per session, Sparkplug 3.0 §7.4): the birth of session 2 never came.
    A seq gap inside a session raises its own alarm; the next NBIRTH starts a new seq session, so
    that alarm cannot clear by itself any more and is marked ``session_ended``."""
    broker = brokers()
    db = sqlite_park
    node = "spBv1.0/park/%s/edge9"

    def birth(bd: int, value: float, ts: int) -> tuple[str, bytes]:
        metrics = [
            {"name": "bdSeq", "datatype": 8, "long_value": bd},
            {"name": "m-main", "alias": 1, "datatype": 10, "double_value": value},
        ]
        return node % "NBIRTH", _spb(0, metrics, ts)

    def data(seq: int, value: float, ts: int) -> tuple[str, bytes]:
        return node % "NDATA", _spb(seq, [{"alias": 1, "datatype": 10, "double_value": value}], ts)

    def death(bd: int) -> tuple[str, bytes]:
        return node % "NDEATH", _spb(None, [{"name": "bdSeq", "datatype": 8, "long_value": bd}])

    messages = [
        birth(0, 1.0, T0),
        data(1, 2.0, T0 + MIN),
        data(4, 3.0, T0 + 2 * MIN),  # seq 2 and 3 lost
        death(0),
        birth(1, 4.0, T0 + 3 * MIN),
        data(1, 5.0, T0 + 4 * MIN),
        death(1),
        birth(3, 6.0, T0 + 5 * MIN),  # the session with bdSeq 2 was never seen
        data(1, 7.0, T0 + 6 * MIN),
    ]
    cid = f"t-bdseq-{uuid.uuid4().hex[:6]}"
    handler = MqttHandler(db, cid)
    options = MqttOptions(broker=f"mqtt://127.0.0.1:{broker.port}", topics=["spBv1.0/#"], client_id=cid)
    worker, thread = _start_worker(options, handler, max_batch=1, until_idle_s=1.0)  # one message per batch
    assert worker.wait_ready(10)
    _publish(broker.port, messages)
    thread.join(timeout=60)
    assert handler.totals.accepted == 7
    with session(db) as s:
        alarms = {a.subject: a for a in s.scalars(select(Alarm).where(Alarm.kind == "data_gap"))}
    assert set(alarms) == {"spb:park/edge9", "spb:park/edge9#bdSeq"}
    lost_births = alarms["spb:park/edge9#bdSeq"]
    assert (lost_births.detail["missing"], lost_births.detail["count"], lost_births.cleared_ms) == ([2], 1, None)
    lost_data = alarms["spb:park/edge9"]
    assert lost_data.detail["missing"] == [2, 3] and lost_data.detail["session_ended"] is True
    assert lost_data.cleared_ms is None
