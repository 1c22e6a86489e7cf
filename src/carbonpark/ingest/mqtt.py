"""MQTT connector (paho-mqtt 2): QoS 1, persistent session, acknowledgement after commit.

The worker subscribes with a fixed client id and ``clean_start = False`` (MQTT 5, with a
session expiry), so the broker keeps every QoS 1 message for it while it is down. Messages
are collected into batches and handed to a *handler* (the ingest pipeline, bound in
:mod:`carbonpark.services.ingest`); only when the handler returns, i.e. the batch is
committed, are the messages acknowledged (paho ``manual_ack``), in the order received
(MQTT 5 §4.6). A worker killed in between loses nothing: the broker redelivers the
unacknowledged messages (``DUP`` flag, same packet id) to the next worker with that client
id, and the pipeline recognises those already committed.

Several workers with different client ids subscribing to ``$share/carbonpark/<filter>``
split one stream (MQTT 5 shared subscriptions, §4.8.2).

JSON payloads (documented in ``docs/ingest.md``)::

    {"meter": "1234/meter.17", "ts": "2025-01-31T08:00:00+08:00", "value": 12.5, "unit": "kWh"}
    {"seq": 41, "readings": [{"meter": …, "ts": …, "value": …, "unit": …}, …]}

``ts`` is ISO 8601 (naive = park-local) or UTC epoch milliseconds; ``unit`` is optional
(the meter's unit); ``"correction": true`` marks a deliberate correction; an optional
integer ``seq`` per message is checked for gaps per topic.

References
----------
.. [1] OASIS, MQTT Version 5.0 (2019): §3.1.2.4 Clean Start, §3.1.2.11.2 Session Expiry
   Interval, §3.1.2.11.3 Receive Maximum, §4.3.2 QoS 1 delivery, §4.8.2 shared subscriptions.
.. [2] 《工业互联网园区“双碳”管理平台建设指南》§3.2.2 and appendix indicator 5 (standard protocols: MQTT).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import orjson

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.ingest.model import RawBatch, RawReading, SeqMark, failed

__all__ = [
    "BrokerAddress",
    "Message",
    "MqttOptions",
    "MqttWorker",
    "WorkerStats",
    "broker_config",
    "decode_document_into",
    "decode_json",
    "decode_json_into",
    "decode_singles_into",
    "parse_broker",
    "readings_from_document",
]


# --------------------------------------------------------------------------- payloads


def readings_from_document(doc: Any, stream: str | None = None) -> tuple[list[RawReading], list[SeqMark]]:
    """Raw readings (and the message's sequence mark) of a parsed JSON payload.

    Parameters
    ----------
    doc
        One reading ``{"meter", "ts", "value", "unit"}`` or a batch ``{"readings": [...]}``,
        optionally with an integer ``seq``.
    stream
        Name of the publisher's sequence (``mqtt:<topic>``); ``None`` ignores ``seq``.
    """
    if not isinstance(doc, dict):
        return [failed("malformed", _dump(doc), "expected a JSON object: one reading or {'readings': [...]}")], []
    marks: list[SeqMark] = []
    seq = doc.get("seq")
    if stream is not None and isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        marks.append(SeqMark(stream, seq))
    if "readings" not in doc:
        return [_reading(doc)], marks
    items = doc["readings"]
    if not isinstance(items, list):
        return [failed("malformed", _dump(doc), "'readings' must be a list of reading objects")], marks
    return [
        _reading(el) if el.__class__ is dict else failed("malformed", _dump(el), "a reading must be a JSON object")
        for el in items
    ], marks


def _reading(el: dict[str, Any]) -> RawReading:
    get = el.get
    unit = get("unit")
    if unit is not None and unit.__class__ is not str:
        unit = str(unit)
    return RawReading(get("meter"), get("ts"), get("value"), unit, get("correction") is True, 0, el)


def _dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, default=str)


def decode_json(topic: str, payload: bytes) -> tuple[list[RawReading], list[SeqMark]]:
    """Raw readings of an MQTT JSON payload; a payload that is not JSON becomes one ``malformed`` reading.

    Parsed by orjson (several times faster than :mod:`json`); what orjson refuses but the
    standard library reads (``NaN``, integers beyond 64 bits) is read by :mod:`json`, so
    that such readings are judged by the pipeline (``bad_value`` …) like everywhere else.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            return [failed("malformed", payload, f"not JSON: {exc}")], []
    return readings_from_document(doc, f"mqtt:{topic}")


def decode_json_into(batch: RawBatch, topic: str, payload: bytes) -> list[SeqMark]:
    """Append the readings of an MQTT JSON payload to ``batch`` (columns); return its sequence marks.

    The same readings as :func:`decode_json`, without an object per reading when the
    payload is a batch of JSON objects: each field becomes one list comprehension over the
    batch's elements.
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        readings, marks = decode_json(topic, payload)
        batch.extend(readings)
        return marks
    return decode_document_into(batch, topic, doc)


def decode_document_into(batch: RawBatch, topic: str, doc: Any) -> list[SeqMark]:
    """Append the readings of a parsed JSON payload to ``batch``; return its sequence marks.

    The same readings as :func:`readings_from_document` with ``stream = "mqtt:<topic>"``.
    """
    items = doc.get("readings", [doc]) if doc.__class__ is dict else None
    if not isinstance(items, list) or not all(el.__class__ is dict for el in items):
        readings, marks = readings_from_document(doc, f"mqtt:{topic}")
        batch.extend(readings)
        return marks
    _extend_columns(batch, items)
    seq = doc.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        return [SeqMark(f"mqtt:{topic}", seq)]
    return []


def decode_singles_into(batch: RawBatch, topics: list[str], docs: list[dict[str, Any]]) -> list[SeqMark]:
    """Append many single-reading JSON payloads (already parsed) to ``batch`` at once.

    ``docs[i]`` is the parsed payload of a message on ``topics[i]``, a JSON object without
    ``readings`` (one reading). The readings and sequence marks are those of
    :func:`decode_document_into` called for each in turn; the columns are filled by one list
    comprehension per field over all of them instead of per message.
    """
    _extend_columns(batch, docs)
    return [
        SeqMark(f"mqtt:{topic}", seq)
        for topic, doc in zip(topics, docs, strict=True)
        if "seq" in doc and (seq := doc["seq"]).__class__ is int and seq >= 0
    ]


def _extend_columns(batch: RawBatch, items: list[dict[str, Any]]) -> None:
    """Append reading objects (JSON objects) to the columns of ``batch``, one comprehension per field."""
    n = len(items)
    batch.meter.extend([el.get("meter") for el in items])
    batch.ts.extend([el.get("ts") for el in items])
    batch.value.extend([el.get("value") for el in items])
    units = [el.get("unit") for el in items]
    if not all(u is None or u.__class__ is str for u in units):
        units = [u if u is None or u.__class__ is str else str(u) for u in units]
    batch.unit.extend(units)
    batch.correction.extend([el.get("correction") is True for el in items])
    batch.quality.extend([0] * n)
    batch.raw.extend(items)
    batch.error.extend([None] * n)
    batch.detail.extend([""] * n)


# --------------------------------------------------------------------------- broker


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens; ``tls`` for ``mqtts://``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_broker(url: str) -> BrokerAddress:
    """``mqtt://HOST:PORT`` (default port 1883) or ``mqtts://HOST:PORT`` (default 8883), user info allowed."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ValidationError("--broker", "mqtt://HOST:PORT or mqtts://HOST:PORT", url)
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValidationError("--broker", "a port number 1–65535", url) from exc
    return BrokerAddress(
        parts.hostname,
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def broker_config(port: int, host: str = "127.0.0.1") -> str:
    """The Mosquitto configuration carbonpark ships, listening on ``host:port``."""
    text = files("carbonpark.ingest").joinpath("data", "mosquitto.conf").read_text(encoding="utf-8")
    return f"{text}\nlistener {port} {host}\n"


# --------------------------------------------------------------------------- worker


class Message(NamedTuple):
    """A received MQTT message, as the handler sees it.

    ``decoded`` is what the handler's ``prepare(topic, payload)`` made of the payload on the
    network thread when the message arrived (``None`` when it has no such method or it
    failed): the handler then does not decode it again. A named tuple, not a dataclass: one
    is built per message on paho's network thread, and a tuple costs a third as much.
    """

    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool
    retain: bool
    decoded: Any = None


@dataclass(slots=True)
class MqttOptions:
    """How the worker connects and subscribes.

    Parameters
    ----------
    broker
        ``mqtt://HOST:PORT`` or ``mqtts://HOST:PORT``.
    topics
        Topic filters; ``$share/carbonpark/<filter>`` splits a stream between workers.
    client_id
        Fixed client id: the broker keeps this worker's session (and its unacknowledged
        messages) across restarts.
    qos
        Subscription QoS (1: at least once; the pipeline makes it exactly once in the store).
    session_expiry_s
        How long the broker keeps the session of a disconnected worker [s].
    receive_maximum
        QoS 1 messages the broker may have in flight to the worker unacknowledged
        (MQTT 5 Receive Maximum, ≤ 65535): the back-pressure while a batch is stored.
    """

    broker: str
    topics: list[str]
    client_id: str = "carbonpark-ingest"
    qos: int = 1
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 20_000
    min_reconnect_s: float = 1.0
    max_reconnect_s: float = 60.0


@dataclass(slots=True)
class WorkerStats:
    """What a worker did: messages received and acknowledged, batches, failures retried."""

    messages: int = 0
    acknowledged: int = 0
    batches: int = 0
    retries: int = 0
    connects: int = 0
    last_error: str | None = None
    handler_results: list[Any] = field(default_factory=list)


Handler = Callable[[list[Message]], Any]


class MqttWorker:
    """Receive MQTT messages, hand them to ``handler`` in batches, acknowledge after it returns.

    Parameters
    ----------
    options
        Connection and subscription.
    handler
        Called with a list of :class:`Message`; it must return only once the batch is
        committed. If it raises, the batch is retried after a back-off and nothing is
        acknowledged meanwhile. If it has a method ``prepare(topic, payload)``, that is
        called for each message as it arrives, on paho's network thread, and its answer
        is kept in :attr:`Message.decoded`: decoding then overlaps with the storing of the
        previous batch (which waits on the database with the GIL released). If it has a
        method ``finish()``, that is called once when :meth:`run` returns.
    max_batch
        At most this many messages per handler call.
    max_wait_s
        After the first message of a batch, wait at most this long for more [s].
    until_idle_s
        Stop after this many seconds without a message (``None``: run until :meth:`stop`).
    on_batch
        Called after each acknowledged batch with the handler's return value (progress).
    log
        Called with human-readable connection events (to standard error in the CLI).
    """

    def __init__(
        self,
        options: MqttOptions,
        handler: Handler,
        *,
        max_batch: int = 2000,
        max_wait_s: float = 0.05,
        until_idle_s: float | None = None,
        on_batch: Callable[[Any], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.address = parse_broker(options.broker)
        self.handler = handler
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.until_idle_s = until_idle_s
        self.on_batch = on_batch
        self.log = log or (lambda _text: None)
        self.stats = WorkerStats()
        self._prepare: Callable[[str, bytes], Any] | None = getattr(handler, "prepare", None)
        self._queue: deque[Message] = deque()
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._client = self._make_client()

    # paho callbacks run on paho's network thread
    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        o = self.options
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=o.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        user = o.username or self.address.username
        password = o.password if o.password is not None else self.address.password
        if user:
            client.username_pw_set(user, password)
        if self.address.tls or o.ca_file or o.cert_file:
            client.tls_set(ca_certs=o.ca_file, certfile=o.cert_file, keyfile=o.key_file)
            if o.tls_insecure:
                client.tls_insecure_set(True)
        client.reconnect_delay_set(min_delay=max(1, int(o.min_reconnect_s)), max_delay=int(o.max_reconnect_s))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_args: self._subscribed.set()
        return client

    def _on_connect(self, client: Any, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        if reason.is_failure:
            self.stats.last_error = f"connection refused: {reason}"
            self.log(f"MQTT broker refused the connection: {reason}")
            return
        self.stats.connects += 1
        present = bool(getattr(flags, "session_present", False))
        self.log(f"connected to {self.address.host}:{self.address.port} (session present: {present})")
        client.subscribe([(t, SubscribeOptions(qos=self.options.qos)) for t in self.options.topics])
        self._connected.set()

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            self.log(f"disconnected from the broker ({reason}); reconnecting with back-off")

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        topic, payload = msg.topic, bytes(msg.payload)
        decoded = None
        if self._prepare is not None:
            try:
                decoded = self._prepare(topic, payload)
            except Exception:  # the handler decodes it again and says what is wrong
                decoded = None
        queue = self._queue
        queue.append(Message(topic, payload, msg.mid, msg.qos, bool(msg.dup), bool(msg.retain), decoded))
        # Wake the batching thread only when it can act: a first message (it waits for one)
        # or a full batch (it waits for that or its deadline). A notify per message would
        # wake it for every message and cost a thread switch each (deque appends are atomic).
        n = len(queue)
        if n == 1 or n == self.max_batch:
            with self._arrived:
                self._arrived.notify()

    def _connect(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.options.session_expiry_s
        props.ReceiveMaximum = max(1, min(65535, self.options.receive_maximum))
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.options.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def _collect(self) -> list[Message]:
        with self._arrived:
            if not self._queue:
                self._arrived.wait(timeout=0.2)
            if not self._queue:
                return []
        deadline = time.monotonic() + self.max_wait_s
        queue, size = self._queue, self.max_batch
        while len(queue) < size and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with self._arrived:
                if len(queue) < size:  # checked under the lock: the network thread notifies under it
                    self._arrived.wait(timeout=left)
        popleft = queue.popleft
        return [popleft() for _ in range(min(size, len(queue)))]

    def stop(self) -> None:
        """Ask the worker to finish the current batch and return from :meth:`run`."""
        self._stop.set()
        with self._arrived:
            self._arrived.notify_all()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the first subscription is acknowledged (for tests and benchmarks)."""
        return self._subscribed.wait(timeout)

    def run(self) -> WorkerStats:
        """Connect, then receive, store and acknowledge until idle or stopped."""
        self._connect()
        last_message = time.monotonic()
        try:
            while not self._stop.is_set():
                batch = self._collect()
                if not batch:
                    idle = time.monotonic() - last_message
                    if self.until_idle_s is not None and idle >= self.until_idle_s:
                        break
                    continue
                self.stats.messages += len(batch)
                result = self._handle(batch)
                if result is _STOPPED:
                    break
                ack = self._client.ack
                acked = 0
                for m in batch:
                    if m.qos > 0:
                        ack(m.mid, m.qos)
                        acked += 1
                self.stats.acknowledged += acked
                self.stats.batches += 1
                if self.on_batch is not None:
                    self.on_batch(result)
                last_message = time.monotonic()
        finally:
            self._client.disconnect()
            self._client.loop_stop()
            finish = getattr(self.handler, "finish", None)
            if finish is not None:  # e.g. the pipeline's re-aggregation of the last batches
                finish()
        return self.stats

    def _handle(self, batch: list[Message]) -> Any:
        delay = self.options.min_reconnect_s
        while True:
            try:
                return self.handler(batch)
            except CarbonparkError:  # not transient (schema outdated, bad configuration): stop, nothing acked
                raise
            except Exception as exc:  # the store is down or busy: keep the batch, do not ack
                self.stats.retries += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self.log(f"storing {len(batch)} message(s) failed ({self.stats.last_error}); retry in {delay:.0f} s")
                if self._stop.wait(delay):
                    return _STOPPED
                delay = min(delay * 2, self.options.max_reconnect_s)


_STOPPED = object()
