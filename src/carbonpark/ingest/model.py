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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, overload

__all__ = [
    "RawBatch",
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


class RawBatch(Sequence[RawReading]):
    """Raw readings held as columns (one list per field of :class:`RawReading`).

    A connector that receives many readings at once (an MQTT batch of JSON messages) fills
    the columns directly instead of creating one object per reading; the pipeline reads
    the columns, and ``batch[i]`` still gives the :class:`RawReading` at position ``i``
    (built on demand, for quarantine rows and corrections). The positions are the indexes
    of the batch as sent.
    """

    __slots__ = ("correction", "detail", "error", "meter", "quality", "raw", "ts", "unit", "value")

    def __init__(self) -> None:
        self.meter: list[Any] = []
        self.ts: list[Any] = []
        self.value: list[Any] = []
        self.unit: list[str | None] = []
        self.correction: list[bool] = []
        self.quality: list[int] = []
        self.raw: list[Any] = []
        self.error: list[str | None] = []
        self.detail: list[str] = []

    def append(self, r: RawReading) -> None:
        """Add one reading at the end."""
        self.meter.append(r.meter)
        self.ts.append(r.ts)
        self.value.append(r.value)
        self.unit.append(r.unit)
        self.correction.append(r.correction)
        self.quality.append(r.quality)
        self.raw.append(r.raw)
        self.error.append(r.error)
        self.detail.append(r.detail)

    def extend(self, readings: Sequence[RawReading]) -> None:
        """Add readings at the end (the columns of another :class:`RawBatch` are appended as they are)."""
        if isinstance(readings, RawBatch):
            for name in self.__slots__:
                getattr(self, name).extend(getattr(readings, name))
            return
        for r in readings:
            self.append(r)

    def __len__(self) -> int:
        return len(self.meter)

    @overload
    def __getitem__(self, i: int) -> RawReading: ...
    @overload
    def __getitem__(self, i: slice) -> list[RawReading]: ...
    def __getitem__(self, i: int | slice) -> RawReading | list[RawReading]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return RawReading(
            self.meter[i],
            self.ts[i],
            self.value[i],
            self.unit[i],
            self.correction[i],
            self.quality[i],
            self.raw[i],
            self.error[i],
            self.detail[i],
        )

    def __iter__(self) -> Iterator[RawReading]:
        return (self[k] for k in range(len(self)))


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
