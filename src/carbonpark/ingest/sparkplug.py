"""Sparkplug B over MQTT: NBIRTH/DBIRTH declare metrics and aliases, NDATA/DDATA carry values.

The payload schema is the one of the Eclipse Sparkplug 3.0 specification, shipped as
``data/sparkplug_b.proto``; the protobuf message classes are built from that file at
import with the protobuf runtime (a descriptor made by :func:`_file_descriptor`, no
generated code, no ``protoc`` needed).

Topics are ``spBv1.0/<group>/<NBIRTH|NDEATH|NDATA|DBIRTH|DDEATH|DDATA|NCMD|DCMD>/<edge node>[/<device>]``
(spec §4.1). A metric is mapped to a meter by its *name* (declared in a birth certificate
with its alias): the name is the meter's id, handle or code, unless a ``metric_map``
names another meter (keys ``<group>/<edge node>/<device>:<metric>`` or just ``<metric>``).
Data messages send metrics by alias only (spec §6.4.9, alias usage); the aliases of each
edge node are kept in an :class:`AliasBook` (the database in production, so they survive
restarts and are shared by workers).

Loss detection (spec §7.3, §7.4): every message of an edge node session carries ``seq``
(0–255, +1 per message, wrapping) and NBIRTH/NDEATH carry the ``bdSeq`` metric
(+1 per session). Both become :class:`~carbonpark.ingest.model.SeqMark` s; a gap raises a
``data_gap`` alarm in the pipeline.

References
----------
.. [1] Eclipse Foundation, *Sparkplug Specification Version 3.0.0* (2022): §4.1 topic
   namespace, §6.4 Sparkplug B payload and data types, §7 sequence numbers and state.
.. [2] 《工业互联网园区“双碳”管理平台建设指南》§3.2.2 (standard industrial protocols).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Protocol

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from carbonpark.ingest.model import RawReading, SeqMark, failed

__all__ = [
    "DATA_TYPES",
    "AliasBook",
    "AliasEntry",
    "MemoryAliasBook",
    "Payload",
    "SparkplugDecoder",
    "SparkplugTopic",
    "parse_topic",
]

PACKAGE = "carbonpark.sparkplug_b"
NAMESPACE = "spBv1.0"
#: Sparkplug sequence numbers wrap at 256 (spec §7.3).
SEQ_MODULUS = 256

_SCALARS = {
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
    "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
    "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}
_TOKEN = re.compile(r"//[^\n]*|[A-Za-z_][A-Za-z0-9_.]*|\d+|[{};=]|\"[^\"]*\"")


def proto_text() -> str:
    """The shipped ``sparkplug_b.proto``."""
    return files("carbonpark.ingest").joinpath("data", "sparkplug_b.proto").read_text(encoding="utf-8")


def _file_descriptor(text: str) -> descriptor_pb2.FileDescriptorProto:
    """A ``FileDescriptorProto`` of the proto2 subset the Sparkplug schema uses.

    Understood: ``syntax``, ``package``, ``enum``, nested ``message``, ``optional`` and
    ``repeated`` fields of scalar or message type, ``oneof``; ``extensions`` ranges are
    skipped (their fields are unknown fields when decoding).
    """
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("//")]
    fd = descriptor_pb2.FileDescriptorProto(name="sparkplug_b.proto", syntax="proto2")
    pos = 0
    refs: list[tuple[descriptor_pb2.FieldDescriptorProto, str, str]] = []  # field, type, scope
    names: set[str] = set()

    def take(expected: str | None = None) -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if expected is not None and tok != expected:
            raise ValueError(f"sparkplug_b.proto: expected {expected!r} at token {pos}, got {tok!r}")
        return tok

    def skip_statement() -> None:
        while take() != ";":
            pass

    def field(container: Any, label: int, ftype: str, scope: str, oneof: int | None = None) -> None:
        f = container.field.add(name=take(), label=label)
        take("=")
        f.number = int(take())
        take(";")
        f.json_name = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name)
        if oneof is not None:
            f.oneof_index = oneof
        if ftype in _SCALARS:
            f.type = _SCALARS[ftype]
        else:
            refs.append((f, ftype, scope))

    def enum(container: Any) -> None:
        e = container.enum_type.add(name=take())
        take("{")
        while (tok := take()) != "}":
            take("=")
            e.value.add(name=tok, number=int(take()))
            take(";")

    def message(container: Any, scope: str) -> None:
        m = container.message_type.add() if hasattr(container, "message_type") else container.nested_type.add()
        m.name = take()
        full = f"{scope}.{m.name}"
        names.add(full)
        take("{")
        while (tok := take()) != "}":
            if tok == "message":
                message(m, full)
            elif tok == "enum":
                enum(m)
            elif tok in ("optional", "repeated"):
                label = (
                    descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
                    if tok == "optional"
                    else descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                )
                field(m, label, take(), full)
            elif tok == "oneof":
                index = len(m.oneof_decl)
                m.oneof_decl.add(name=take())
                take("{")
                while (ftype := take()) != "}":
                    field(m, descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL, ftype, full, index)
            elif tok == "extensions":
                skip_statement()
            else:
                raise ValueError(f"sparkplug_b.proto: unexpected {tok!r} in message {m.name}")

    while pos < len(tokens):
        tok = take()
        if tok in ("syntax", "package"):
            skip_statement()
        elif tok == "enum":
            enum(fd)
        elif tok == "message":
            message(fd, f".{PACKAGE}")
        else:
            raise ValueError(f"sparkplug_b.proto: unexpected {tok!r} at top level")
    fd.package = PACKAGE
    for f, ftype, scope in refs:
        f.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
        f.type_name = _resolve(ftype, scope, names)
    return fd


def _resolve(name: str, scope: str, names: set[str]) -> str:
    parts = scope.split(".")
    while parts:
        candidate = ".".join([*parts, name])
        if candidate in names:
            return candidate
        parts.pop()
    raise ValueError(f"sparkplug_b.proto: unknown type {name!r} in {scope}")


@lru_cache(maxsize=1)
def _classes() -> tuple[type[Message], dict[int, str]]:
    fd = _file_descriptor(proto_text())
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    payload = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))
    types = {v.number: v.name for v in fd.enum_type[0].value}
    return payload, types


#: The Sparkplug B ``Payload`` message class.
Payload: type[Message] = _classes()[0]
#: Sparkplug data-type codes → names (``9`` → ``"Float"``).
DATA_TYPES: dict[int, str] = _classes()[1]

_SIGNED_32 = {1: 8, 2: 16, 3: 32}  # Int8, Int16, Int32 in int_value (two's complement)
_NOT_READINGS = ("Node Control/", "Device Control/", "Properties/")
_UNIT_KEYS = ("engUnit", "unit", "Units", "EngUnit")


# --------------------------------------------------------------------------- topics and aliases


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """The parts of a Sparkplug topic; ``device`` is ``""`` for edge-node messages."""

    group: str
    kind: str
    node: str
    device: str = ""

    @property
    def edge(self) -> str:
        """``<group>/<edge node>``: the scope of sequence numbers and aliases."""
        return f"{self.group}/{self.node}"


def parse_topic(topic: str) -> SparkplugTopic | None:
    """Parts of ``spBv1.0/<group>/<kind>/<node>[/<device>]``; ``None`` for other topics."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != NAMESPACE:
        return None
    return SparkplugTopic(parts[1], parts[2], parts[3], "/".join(parts[4:]))


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """What a birth certificate declared for an alias."""

    metric: str
    device: str = ""
    unit: str | None = None


class AliasBook(Protocol):
    """Where the aliases of each edge node are kept between birth and data messages."""

    def lookup(self, edge: str, alias: int) -> AliasEntry | None:
        """The entry declared for ``alias`` by edge node ``edge``, if any."""

    def declare(self, edge: str, alias: int, entry: AliasEntry) -> None:
        """Record an alias declared in NBIRTH/DBIRTH."""


class MemoryAliasBook:
    """An :class:`AliasBook` in memory (tests, one-off decoding)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], AliasEntry] = {}

    def lookup(self, edge: str, alias: int) -> AliasEntry | None:
        return self.entries.get((edge, alias))

    def declare(self, edge: str, alias: int, entry: AliasEntry) -> None:
        self.entries[(edge, alias)] = entry


# --------------------------------------------------------------------------- decoding


def _value(metric: Any) -> Any:
    kind = metric.WhichOneof("value")
    if kind is None or metric.is_null:
        return None
    value = getattr(metric, kind)
    if kind == "int_value" and metric.datatype in _SIGNED_32:
        bits = _SIGNED_32[metric.datatype]
        value &= (1 << bits) - 1
        return value - (1 << bits) if value >= 1 << (bits - 1) else value
    if kind == "long_value" and metric.datatype == 4 and value >= 1 << 63:  # Int64
        return value - (1 << 64)
    if kind in ("bytes_value", "dataset_value", "template_value", "extension_value"):
        return f"<{DATA_TYPES.get(metric.datatype, kind)}>"
    return value


def _unit(metric: Any) -> str | None:
    if not metric.HasField("properties"):
        return None
    props = metric.properties
    for key, value in zip(props.keys, props.values, strict=False):
        if key in _UNIT_KEYS and value.WhichOneof("value") == "string_value":
            return str(value.string_value)
    return None


class SparkplugDecoder:
    """Turn Sparkplug B messages into raw readings and sequence marks.

    Parameters
    ----------
    metric_map
        Metric → meter reference where the metric name is not itself a meter id, handle
        or code; keys ``<group>/<edge node>/<device>:<metric>`` (device empty for node
        metrics) or a bare ``<metric>``.
    """

    def __init__(self, metric_map: Mapping[str, str] | None = None) -> None:
        self.metric_map = dict(metric_map or {})

    def meter_of(self, topic: SparkplugTopic, device: str, metric: str) -> str:
        """The meter reference a metric maps to."""
        full = f"{topic.edge}/{device}:{metric}"
        return self.metric_map.get(full) or self.metric_map.get(metric) or metric

    def decode(self, topic: str, payload: bytes, book: AliasBook) -> tuple[list[RawReading], list[SeqMark]]:
        """Readings and sequence marks of one message; birth certificates update ``book``."""
        t = parse_topic(topic)
        if t is None:
            return [failed("malformed", payload, f"not a Sparkplug B topic: {topic!r}")], []
        if t.kind not in ("NBIRTH", "NDATA", "DBIRTH", "DDATA", "NDEATH", "DDEATH"):
            return [], []  # STATE, NCMD, DCMD: commands and host state, no readings
        try:
            msg: Any = Payload.FromString(payload)
        except DecodeError as exc:
            return [failed("malformed", payload.hex(), f"not a Sparkplug B payload on {topic}: {exc}")], []
        marks: list[SeqMark] = []
        seq = msg.seq if msg.HasField("seq") else None
        if seq is not None and t.kind != "NDEATH":
            marks.append(SeqMark(f"spb:{t.edge}", int(seq), SEQ_MODULUS, reset=t.kind == "NBIRTH"))
        birth = t.kind in ("NBIRTH", "DBIRTH")
        readings: list[RawReading] = []
        for metric in msg.metrics:
            name = metric.name if metric.HasField("name") else None
            alias = int(metric.alias) if metric.HasField("alias") else None
            unit = _unit(metric)
            if birth and alias is not None and name:
                book.declare(t.edge, alias, AliasEntry(name, t.device, unit))
            if name is None and alias is not None:
                entry = book.lookup(t.edge, alias)
                if entry is None:
                    raw = {"topic": topic, "seq": seq, "alias": alias, "value": _value(metric)}
                    readings.append(
                        failed("unknown_alias", _json(raw), f"alias {alias} of {t.edge} was never declared in a birth")
                    )
                    continue
                name, unit = entry.metric, unit or entry.unit
            if name is None:
                readings.append(
                    failed("missing_field", _json({"topic": topic}), "a metric with neither name nor alias")
                )
                continue
            if name == "bdSeq":
                if t.kind == "NBIRTH" and _value(metric) is not None:
                    marks.append(SeqMark(f"spb:{t.edge}#bdSeq", int(_value(metric)), SEQ_MODULUS))
                continue
            if name.startswith(_NOT_READINGS) or t.kind in ("NDEATH", "DDEATH"):
                continue
            ts = (
                metric.timestamp
                if metric.HasField("timestamp")
                else msg.timestamp
                if msg.HasField("timestamp")
                else None
            )
            readings.append(
                RawReading(
                    meter=self.meter_of(t, t.device, name),
                    ts=int(ts) if ts is not None else None,
                    value=_value(metric),
                    unit=unit,
                    raw={"topic": topic, "seq": seq, "metric": name, "alias": alias, "value": _value(metric)},
                )
            )
        return readings, marks


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False, default=str)
