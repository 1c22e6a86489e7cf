"""What every connector hands to the ingest pipeline: raw readings, unparsed and unvalidated.

A connector (MQTT JSON, Sparkplug B, CSV/Excel, REST, OPC UA, Modbus, HJ 212 …) only
parses its protocol into :class:`RawReading` objects and passes a batch of them to a
*sink* (:data:`Sink`); the sink is the one pipeline in :mod:`carbonpark.services.ingest`,
which validates, converts, de-duplicates, stores and answers with what became of each
reading. Nothing here touches the database (``carbonpark.ingest`` may not import
``carbonpark.store``).

A message that cannot even be parsed into readings still becomes one
:class:`RawReading` with ``error`` set and ``raw`` holding the payload, so that the
pipeline quarantines it: nothing received is dropped silently (guide §4.1 data quality,
SPEC C3).

References
----------
.. [1] 《工业互联网园区“双碳”管理平台建设指南》§3.2.2 (采集层: data collection through
   standard industrial protocols), §4.1 (能源与排放数据采集).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "RawReading",
    "SeqMark",
    "Sink",
    "SinkResult",
    "failed",
]


@dataclass(slots=True)
class RawReading:
    """One reading as a connector received it.

    Parameters
    ----------
    meter
        The meter: numeric id, Handle identifier (``1234/meter.17``) or meter code.
        ``None`` when the connector could not find one (the pipeline then quarantines
        the reading as ``missing_field``).
    ts
        The time of the reading: ISO 8601 text (naive = park-local time, ``Z`` or an
        offset honoured), UTC epoch milliseconds (int, float or a 12–14 digit string),
        or a :class:`~datetime.datetime` (naive = park-local).
    value
        The reading in ``unit`` (any JSON scalar; the pipeline checks it is a finite number).
    unit
        The unit of ``value`` (``kWh``, ``MWh``, ``万千瓦时``, ``Nm3`` …); ``None`` means the
        meter's own unit.
    correction
        ``True`` when the publisher sends a deliberate correction of a reading already
        sent: it replaces the stored value (or becomes a pending correction in a locked
        period) instead of being quarantined as a ``conflict``.
    quality
        Quality flag the connector already knows (0 = ok); kept with the reading.
    raw
        The raw payload the reading came from: text, or the parsed element (a dict) that
        the pipeline serialises as JSON only if the reading is quarantined.
    error
        Set by a connector when the message could not be parsed (``malformed``,
        ``missing_field`` …); the pipeline quarantines it with this reason.
    detail
        Free text explaining ``error``.
    """

    meter: str | int | None
    ts: str | int | float | datetime | None
    value: Any
    unit: str | None = None
    correction: bool = False
    quality: int = 0
    raw: Any = ""
    error: str | None = None
    detail: str = ""


def failed(reason: str, raw: str | bytes, detail: str = "") -> RawReading:
    """A placeholder for a message that could not be parsed: quarantined with ``reason``.

    Parameters
    ----------
    reason
        Short reason code (``malformed``, ``missing_field``, ``unknown_alias`` …).
    raw
        The payload as received (bytes are decoded as UTF-8 with replacement).
    detail
        What exactly was wrong, for the person who reads the quarantine.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    return RawReading(meter=None, ts=None, value=None, raw=text, error=reason, detail=detail)


@dataclass(frozen=True, slots=True)
class SeqMark:
    """A publisher's message sequence number, checked for gaps (lost messages).

    Parameters
    ----------
    stream
        Which sequence: e.g. ``mqtt:<topic>`` for JSON payloads with ``seq``,
        ``spb:<group>/<edge node>`` for Sparkplug B ``seq``, ``spb:<group>/<edge node>#bdSeq``
        for the birth/death sequence.
    seq
        The number carried by the message.
    modulus
        Numbers wrap at ``modulus`` (256 for Sparkplug B); ``None`` for an unbounded counter.
    reset
        The publisher starts a new sequence here (Sparkplug NBIRTH): no gap is checked
        against the previous number.
    """

    stream: str
    seq: int
    modulus: int | None = None
    reset: bool = False


class SinkResult(Protocol):
    """What a sink answers (the pipeline's :class:`~carbonpark.services.ingest.IngestResult`)."""

    accepted: int
    duplicates: int
    quarantined: list[tuple[int, str]]


class Sink(Protocol):
    """A batch of raw readings (and the sequence numbers of their messages) in, stored.

    The ingest pipeline bound to a database and a channel name; it returns once the
    batch is committed, so a connector acknowledges its messages after the call.
    """

    def __call__(self, readings: Sequence[RawReading], marks: Sequence[SeqMark] = ..., /) -> SinkResult: ...
