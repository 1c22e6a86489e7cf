"""The one ingest pipeline: every connector's readings are validated, converted and stored here.

MQTT (JSON and Sparkplug B), CSV/Excel files, ``POST /api/readings`` and the field
protocols (OPC UA, Modbus TCP, HJ 212) all hand batches of
:class:`~carbonpark.ingest.model.RawReading` to :func:`ingest_readings` (or to a sink made
by :func:`make_sink`), which in ONE transaction

1. validates each reading (meter known, not virtual, in the caller's scope; timestamp;
   finite number; unit of the meter's quantity),
2. converts the value to the canonical unit of the meter's quantity
   (:data:`carbonpark.units.CANONICAL`, e.g. kWh for energy),
3. de-duplicates on (meter, ts) within the batch and against the store: the same value
   again is a *duplicate* (a no-op, counted), a different value is quarantined as a
   ``conflict`` unless the reading is an explicit *correction*,
4. keeps periods that are submitted or verified (locked, :func:`period_locked`) as they
   are: late or corrected data there become *pending corrections*
   (``reading_corrections``) for a new inventory version to take up,
5. stores the new readings in bulk (COPY on PostgreSQL) and applies corrections in open
   periods (history kept in ``reading_corrections``),
6. puts every rejected reading in the quarantine with its raw payload and the reason,
7. checks publisher sequence numbers (:class:`~carbonpark.ingest.model.SeqMark`) and
   raises a ``data_gap`` alarm for numbers that never came (cleared when they do),
8. queues the (meter, time range)s it stored or corrected in ``ingest_dirty_ranges``,
9. writes one ``ingest_batches`` row with the counts (accepted + duplicates + quarantined
   + corrected + pending = sent), so that ``carbonpark status`` adds up.

The caller acknowledges its messages only after :func:`ingest_readings` returns: the
batch is committed by then. After the commit :func:`drain_dirty` re-aggregates the queued
ranges (activity data and the accounting runs over them) in a transaction of its own; a
crash in between leaves them queued for the next drain. :func:`take_up_corrections` applies
the pending corrections of a year that a new inventory version opens again.

References
----------
.. [1] 《工业互联网园区“双碳”管理平台建设指南》§3.2.2 (采集层, standard protocols),
   §4.1 (能源与排放数据采集, data completeness and accuracy), §6.4 (data quality).
.. [2] SPEC.md C3 (collection) and C5 (monitoring).
"""

from __future__ import annotations

import bisect
import hashlib
import importlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine, delete, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from carbonpark import units
from carbonpark.errors import CarbonparkError, UnitError, ValidationError
from carbonpark.ingest.files import ReadingsFile, open_readings
from carbonpark.ingest.model import RawBatch, RawReading, SeqMark
from carbonpark.ingest.mqtt import Message, decode_document_into, decode_json_into, decode_singles_into
from carbonpark.ingest.sparkplug import NAMESPACE as SPARKPLUG_NAMESPACE
from carbonpark.ingest.sparkplug import AliasEntry, SparkplugDecoder, parse_topic
from carbonpark.services.ledger import CorrectionItem, attest_ingest_batch
from carbonpark.settings import get_settings
from carbonpark.store import connect, session
from carbonpark.store.readings import copy_readings, latest_ts, stored_rows
from carbonpark.store.schema import EmissionSource, Enterprise, Meter, Park, Quarantined
from carbonpark.store.schema_ingest import (
    Alarm,
    DirtyRange,
    IngestBatch,
    IngestSequence,
    LockedPeriod,
    MqttReceipt,
    ReadingCorrection,
    SparkplugAlias,
)
from carbonpark.times import parse_timestamp, period_bounds_ms, to_ms

__all__ = [
    "REASONS",
    "VIRTUAL_KINDS",
    "BatchReport",
    "IngestResult",
    "IngestScope",
    "MqttHandler",
    "TakeUp",
    "add_batch_listener",
    "drain_dirty",
    "drain_in_session",
    "forget_meters",
    "import_readings_file",
    "ingest_in_session",
    "ingest_readings",
    "ingest_totals",
    "lock_period",
    "make_sink",
    "open_alarms",
    "period_locked",
    "raise_alarm",
    "take_up_corrections",
    "virtual_meter_set",
]

_log = logging.getLogger(__name__)

#: Quarantine reasons the pipeline writes (``quarantine.reason``), with what they mean.
REASONS: dict[str, str] = {
    "malformed": "the message could not be parsed (bad JSON, protobuf or file row)",
    "missing_field": "meter, ts or value is absent",
    "unknown_meter": "no meter with that id, handle or code (meters are never auto-created)",
    "ambiguous_meter": "the reference names more than one meter (use the handle)",
    "virtual_meter": "the meter is virtual (computed from other meters); it takes no readings",
    "out_of_scope": "the sender's key does not cover this meter",
    "bad_timestamp": "not an ISO 8601 timestamp or epoch milliseconds after 2000-01-01",
    "future_timestamp": "more than a day ahead of the receiving clock",
    "bad_value": "not a finite number",
    "unknown_unit": "a unit carbonpark does not know",
    "wrong_unit": "a unit of another quantity than the meter measures",
    "conflict": "a different value for a (meter, ts) already stored, not sent as a correction",
    "unknown_alias": "a Sparkplug B metric alias no NBIRTH/DBIRTH declared",
}

#: ``Meter.reading_kind`` values of meters that take no readings; meters listed in the activity
#: capability's ``virtual_meters`` (``carbonpark.services.activity.virtual_meter_ids``) are virtual too.
VIRTUAL_KINDS: frozenset[str] = frozenset({"virtual"})

#: Readings before this instant are refused: it catches epoch seconds sent as milliseconds.
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
#: Readings further ahead of the receiving clock are refused [ms].
MAX_FUTURE_MS = 86_400_000
#: Relative tolerance under which two values of the same (meter, ts) are the same reading.
SAME_VALUE_RTOL = 1e-9


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class IngestScope:
    """Which meters a sender may write (a device key's scope); ``None`` fields do not restrict.

    A reading is allowed when its meter is in ``meter_ids`` or belongs to an enterprise in
    ``enterprise_ids``; with both ``None`` everything is allowed.
    """

    meter_ids: frozenset[int] | None = None
    enterprise_ids: frozenset[int] | None = None

    def allows(self, meter_id: int, enterprise_id: int | None) -> bool:
        """Whether the scope covers the meter."""
        if self.meter_ids is None and self.enterprise_ids is None:
            return True
        if self.meter_ids is not None and meter_id in self.meter_ids:
            return True
        return self.enterprise_ids is not None and enterprise_id in self.enterprise_ids


@dataclass(slots=True)
class IngestResult:
    """What became of a batch: ``accepted + duplicates + len(quarantined) + corrected + pending = sent``.

    ``quarantined`` lists ``(index, reason)`` with the index of the reading in the batch
    as sent (0-based); ``alarms`` are the ids of alarms raised by this batch.
    """

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    corrected: int = 0
    pending: int = 0
    alarms: list[int] = field(default_factory=list)
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None

    def answer(self) -> dict[str, Any]:
        """The answer a sender gets (``POST /api/readings``): accepted, duplicates, quarantined."""
        return {
            "accepted": self.accepted + self.corrected + self.pending,
            "duplicates": self.duplicates,
            "quarantined": [{"index": i, "reason": r} for i, r in self.quarantined],
        }

    def to_dict(self) -> dict[str, Any]:
        """Every count, for ``--json`` output of the CLI."""
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "corrected": self.corrected,
            "pending_corrections": self.pending,
            "quarantined": [{"index": i, "reason": r} for i, r in self.quarantined],
            "alarms": list(self.alarms),
        }

    def add(self, other: IngestResult, offset: int = 0) -> None:
        """Add ``other`` (a later batch whose indexes start at ``offset``) to this result."""
        self.sent += other.sent
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined.extend((i + offset, r) for i, r in other.quarantined)
        self.corrected += other.corrected
        self.pending += other.pending
        self.alarms.extend(other.alarms)
        for ts in (other.first_ts_ms, other.last_ts_ms):
            if ts is not None:
                self.first_ts_ms = ts if self.first_ts_ms is None else min(self.first_ts_ms, ts)
                self.last_ts_ms = ts if self.last_ts_ms is None else max(self.last_ts_ms, ts)


@dataclass(frozen=True, slots=True)
class BatchReport:
    """Handed to batch listeners inside the transaction, after the batch is stored.

    ``touched`` maps a meter id to the (first, last) ``ts_ms`` of the readings stored or
    corrected in place for it: the periods an aggregation has to re-run.
    """

    batch_id: int
    channel: str
    received_ms: int
    result: IngestResult
    touched: dict[int, tuple[int, int]]


_LISTENERS: list[Callable[[Session, BatchReport], None]] = []


def add_batch_listener(listener: Callable[[Session, BatchReport], None]) -> None:
    """Call ``listener(session, report)`` in the transaction of every stored batch.

    For capabilities that react to new data in the same transaction (ledger attestation
    of the batch, re-aggregation of touched periods, monitoring). A listener that raises
    rolls the whole batch back (and the sender does not get an acknowledgement).
    """
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


# --------------------------------------------------------------------------- meters


@dataclass(frozen=True, slots=True)
class _MeterInfo:
    id: int
    enterprise_id: int | None
    unit: str  # the meter's registered unit (what a reading without unit is in)
    target: str  # canonical unit of its quantity: what is stored
    virtual: bool
    timezone: str
    handle: str = ""  # the meter's handle (``meter:<id>`` without one): how the ledger names it
    org: str = ""  # handle of its enterprise, else of the park: the organisation of its ledger entries


class _MeterBook:
    """Meters by id, handle and code, cached per database and refreshed when the registry changes."""

    def __init__(
        self,
        rows: Iterable[_MeterInfo],
        codes: dict[str, list[int]],
        handles: dict[str, int],
        sig: Any,
        park: tuple[str, str] = ("park", "Asia/Shanghai"),
    ):
        self.by_id = {m.id: m for m in rows}
        self.codes = codes
        self.handles = handles
        self.signature = sig
        self.park_handle, self.park_tz = park  # the (first) park: organisation of mixed batches, day records
        self.checked = time.monotonic()
        self.seen: dict[Any, _MeterInfo | str] = {}

    def find(self, ref: str | int) -> _MeterInfo | str:
        """The meter, or the quarantine reason (``unknown_meter``, ``ambiguous_meter``); answers are memoised."""
        try:
            return self.seen[ref]
        except (KeyError, TypeError):
            pass
        found = self._find(ref)
        if len(self.seen) < 1_000_000 and isinstance(ref, str | int):
            self.seen[ref] = found
        return found

    def _find(self, ref: str | int) -> _MeterInfo | str:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return self.by_id.get(ref) or "unknown_meter"
        text = str(ref).strip()
        found: set[int] = set()
        if text.isdigit() and int(text) in self.by_id:
            found.add(int(text))
        if text in self.handles:
            found.add(self.handles[text])
        found.update(self.codes.get(text, ()))
        if not found:
            return "unknown_meter"
        if len(found) > 1:
            return "ambiguous_meter"
        return self.by_id[found.pop()]


_BOOKS: dict[str, _MeterBook] = {}
_BOOKS_LOCK = threading.Lock()
#: How often the meter cache checks whether the registry changed [s].
BOOK_CHECK_S = 1.0


def _meter_signature(s: Session) -> tuple[Any, ...]:
    from carbonpark.store.schema import AuditEntry

    count, top = s.execute(select(func.count(), func.max(Meter.id))).one()
    last_change = s.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.entity == "meter"))
    return (count, top, last_change, frozenset(_virtual_ids(s)))


def _virtual_ids(s: Session) -> set[int]:
    """Meters defined as virtual by the activity capability (a formula over other meters)."""
    module = _virtual_ids_module()
    if module is None:
        return set()
    finder = getattr(module, "virtual_meter_ids", None)
    return set(finder(s)) if finder is not None else set()


def _virtual_ids_module() -> Any:
    try:
        return importlib.import_module("carbonpark.services.activity")
    except ImportError:
        return None


def virtual_meter_set(s: Session) -> set[int]:
    """Ids of the virtual meters: ``reading_kind`` in :data:`VIRTUAL_KINDS` or defined by a formula."""
    marked = set(s.scalars(select(Meter.id).where(Meter.reading_kind.in_(sorted(VIRTUAL_KINDS)))))
    return marked | _virtual_ids(s)


def _load_book(s: Session, sig: tuple[Any, ...]) -> _MeterBook:
    parks = s.execute(select(Park.id, Park.timezone, Park.handle).order_by(Park.id)).all()
    tz_of = {p.id: p.timezone for p in parks}
    first = (parks[0].handle or "park", parks[0].timezone) if parks else ("park", "Asia/Shanghai")
    ent_handle = {int(e): h for e, h in s.execute(select(Enterprise.id, Enterprise.handle)) if h}
    rows: list[_MeterInfo] = []
    codes: dict[str, list[int]] = {}
    handles: dict[str, int] = {}
    virtual = sig[-1]
    stmt = select(
        Meter.id,
        Meter.park_id,
        Meter.enterprise_id,
        Meter.code,
        Meter.handle,
        Meter.quantity,
        Meter.unit,
        Meter.reading_kind,
    )
    for mid, park_id, ent, code, handle, quantity, unit, kind in s.execute(stmt):
        target = units.CANONICAL.get(quantity, unit)
        is_virtual = kind in VIRTUAL_KINDS or mid in virtual
        org = ent_handle.get(ent, first[0]) if ent is not None else first[0]
        tz = tz_of.get(park_id, "Asia/Shanghai")
        rows.append(_MeterInfo(mid, ent, unit, target, is_virtual, tz, handle or f"meter:{mid}", org))
        codes.setdefault(code, []).append(mid)
        if handle:
            handles[handle] = mid
    return _MeterBook(rows, codes, handles, sig, first)


def _meter_book(s: Session, url: str, *, missed: bool = False) -> _MeterBook:
    book = _BOOKS.get(url)
    now = time.monotonic()
    if book is not None and not missed and now - book.checked < BOOK_CHECK_S:
        return book
    sig = _meter_signature(s)
    if book is not None and book.signature == sig:
        book.checked = now
        return book
    book = _load_book(s, sig)
    with _BOOKS_LOCK:
        _BOOKS[url] = book
    return book


def forget_meters(db: str | None = None) -> None:
    """Drop the cached meter look-up (of ``db``, or of every database)."""
    with _BOOKS_LOCK:
        if db is None:
            _BOOKS.clear()
        else:
            _BOOKS.pop(str(connect(db).url), None)


# --------------------------------------------------------------------------- values


@lru_cache(maxsize=4096)
def _affine(from_unit: str, to_unit: str) -> tuple[float, float] | str:
    """``(a, b)`` with ``to = a * from + b``, or the quarantine reason for the unit."""
    try:
        units.convert(1.0, from_unit, from_unit)
    except UnitError:
        return "unknown_unit"
    try:
        b = units.convert(0.0, from_unit, to_unit)
        a = units.convert(1.0, from_unit, to_unit) - b
    except UnitError:
        return "wrong_unit"
    return (a, b)


def _number(value: Any) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _timestamp(ts: Any, tz: str) -> int | None:
    if type(ts) is int:
        return ts
    if isinstance(ts, bool) or ts is None:
        return None
    if isinstance(ts, int):
        return int(ts)
    if isinstance(ts, float):
        return round(ts) if math.isfinite(ts) else None
    if isinstance(ts, datetime):
        return to_ms(ts, tz)
    try:
        return parse_timestamp(ts, tz)
    except (ValidationError, OverflowError, ValueError):
        return None


def _raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes | bytearray):
        return raw.decode("utf-8", "replace")
    try:
        return json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(raw)


def _same(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=SAME_VALUE_RTOL, abs_tol=1e-12)


# --------------------------------------------------------------------------- locks


def period_locked(s: Session, enterprise_id: int | None, year: int) -> bool:
    """Whether the enterprise's (or the park's, ``None``) ``year`` is submitted or verified.

    Looks at ``carbonpark.services.inventory.is_period_locked(s, enterprise_id, year)``
    when the inventory capability provides it, and at the ``locked_periods`` table
    (:func:`lock_period`); a park-wide row (``enterprise_id`` NULL) locks every enterprise.
    """
    hook = _inventory_hook()
    if hook is not None and hook(s, enterprise_id, year):
        return True
    stmt = select(LockedPeriod.id).where(LockedPeriod.year == year)
    if enterprise_id is None:
        stmt = stmt.where(LockedPeriod.enterprise_id.is_(None))
    else:
        stmt = stmt.where((LockedPeriod.enterprise_id == enterprise_id) | LockedPeriod.enterprise_id.is_(None))
    return s.scalar(stmt.limit(1)) is not None


def _inventory_hook() -> Callable[[Session, int | None, int], bool] | None:
    try:
        module = importlib.import_module("carbonpark.services.inventory")
    except ImportError:
        return None
    return getattr(module, "is_period_locked", None)


def lock_period(s: Session, enterprise_id: int | None, year: int, status: str = "submitted") -> None:
    """Record that a year of an enterprise (or the park) is submitted or verified."""
    exists = s.scalar(
        select(LockedPeriod).where(
            LockedPeriod.enterprise_id.is_(enterprise_id)
            if enterprise_id is None
            else LockedPeriod.enterprise_id == enterprise_id,
            LockedPeriod.year == year,
        )
    )
    if exists is not None:
        exists.status = status
        return
    s.add(LockedPeriod(enterprise_id=enterprise_id, year=year, status=status, locked_ms=_now_ms()))


@lru_cache(maxsize=16)
def _year_starts(tz: str) -> tuple[list[int], int]:
    first = 1990
    return [period_bounds_ms(str(y), tz)[0] for y in range(first, 2200)], first


def _year_of(ts_ms: int, tz: str) -> int:
    starts, first = _year_starts(tz)
    return first + bisect.bisect_right(starts, ts_ms) - 1


# --------------------------------------------------------------------------- alarms and sequences


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def raise_alarm(
    s: Session,
    kind: str,
    message: str,
    *,
    subject: str = "",
    meter_id: int | None = None,
    severity: str = "warning",
    detail: dict[str, Any] | None = None,
    at_ms: int | None = None,
) -> Alarm:
    """Raise an alarm (state ``raised``: not acknowledged, not cleared) in the caller's transaction."""
    alarm = Alarm(
        kind=kind,
        severity=severity,
        meter_id=meter_id,
        subject=subject,
        raised_ms=at_ms or _now_ms(),
        message=message,
        detail=detail,
    )
    s.add(alarm)
    s.flush()
    return alarm


def open_alarms(s: Session, kind: str | None = None, subject: str | None = None) -> list[Alarm]:
    """Alarms not cleared yet (optionally of one kind and subject), oldest first."""
    stmt = select(Alarm).where(Alarm.cleared_ms.is_(None))
    if kind is not None:
        stmt = stmt.where(Alarm.kind == kind)
    if subject is not None:
        stmt = stmt.where(Alarm.subject == subject)
    return list(s.scalars(stmt.order_by(Alarm.id)))


#: At most this many missing sequence numbers are listed per stream (the count is always kept).
MAX_MISSING = 1000
#: ``ingest_sequences.last_seq`` of a stream whose row exists but that has seen no number yet.
NO_SEQ = -1


def _lock_sequence(s: Session, stream: str, now_ms: int) -> IngestSequence:
    """The stream's row, created if absent, locked until the batch commits.

    PostgreSQL: ``INSERT … ON CONFLICT DO NOTHING`` then ``SELECT … FOR UPDATE``, so two
    workers of one stream take turns (a second worker waits for the first one's commit and
    then reads what it wrote). SQLite: the insert takes the database's write lock before the
    read, so the read sees every committed batch and no other writer can come in between.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: Any = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    s.execute(
        dialect.insert(IngestSequence)
        .values(stream=stream, last_seq=NO_SEQ, modulus=None, missing=[], updated_ms=now_ms)
        .on_conflict_do_nothing(index_elements=["stream"])
    )
    stmt = select(IngestSequence).where(IngestSequence.stream == stream).with_for_update()
    row = s.scalars(stmt.execution_options(populate_existing=True)).one()
    return row


def _check_sequences(s: Session, marks: Sequence[SeqMark], now_ms: int) -> list[int]:
    """Advance each stream's sequence; raise ``data_gap`` for skipped numbers, clear an alarm when its numbers arrive.

    The stream's state (the highest number seen, ``last_seq``, and the numbers skipped and
    not seen since, ``missing``) is read and written under a row lock
    (:func:`_lock_sequence`), so concurrent workers never overwrite each other's update.

    Several workers of a shared subscription each get part of a stream, in order, and their
    batches commit in any order; the rules give the same end state for every order:

    * a number above the highest one seen moves it up; the numbers jumped over are missing
      (a ``data_gap`` alarm lists them);
    * a number below it that is missing has arrived late: it is no longer missing, and an
      alarm whose numbers have all arrived is cleared;
    * a number below it that is not missing (a redelivery, a number from before the first one
      this stream saw, or a publisher whose unbounded counter restarted) changes nothing: moving
      the highest number back would report numbers already seen as lost;
    * ``reset`` (Sparkplug NBIRTH) starts a new session: its numbers start afresh, and the numbers
      still missing from the old session can no longer come (their alarms stay open, marked
      ``session_ended``, for a person to acknowledge).
    """
    raised: list[int] = []
    by_stream: dict[str, list[SeqMark]] = {}
    for m in marks:
        by_stream.setdefault(m.stream, []).append(m)
    for stream in sorted(by_stream):  # always the same order: no deadlock between two workers
        row = _lock_sequence(s, stream, now_ms)
        missing: list[int] = list(row.missing or [])
        last: int | None = None if row.last_seq == NO_SEQ else int(row.last_seq)
        gaps = 0
        tracked: list[int] = []
        arrived = False
        ended = False
        modulus = row.modulus
        for m in by_stream[stream]:
            modulus = m.modulus
            if last is None or m.reset:
                if m.reset and missing:
                    ended, missing = True, []
                last = m.seq
                continue
            d = m.seq - last
            if m.modulus:
                d %= m.modulus
                if d >= m.modulus // 2:
                    d -= m.modulus
            if d == 1:
                last = m.seq
            elif d > 1:
                room = max(0, MAX_MISSING - len(missing))
                skipped = [(last + k) % m.modulus if m.modulus else last + k for k in range(1, min(d, room + 1))]
                gaps += d - 1
                tracked.extend(skipped)
                missing.extend(skipped)
                last = m.seq
            elif d < 0 and m.seq in missing:
                missing.remove(m.seq)
                arrived = True
        row.last_seq = NO_SEQ if last is None else int(last)
        row.modulus, row.missing, row.updated_ms = modulus, missing, now_ms
        if ended:
            for alarm in open_alarms(s, "data_gap", stream):
                alarm.detail = {**(alarm.detail or {}), "session_ended": True}
        still = set(missing)
        if tracked:  # numbers skipped in this batch and come later in the same batch are no gap
            came = sum(1 for g in tracked if g not in still)
            tracked = [g for g in tracked if g in still]
            gaps -= came
        if gaps:
            shown = ", ".join(str(g) for g in tracked[:20]) + (" …" if gaps > 20 else "")
            alarm = raise_alarm(
                s,
                "data_gap",
                f"{gaps} message(s) of {stream} never arrived (seq {shown}): readings may be missing",
                subject=stream,
                detail={"stream": stream, "missing": tracked, "count": gaps, "untracked": gaps - len(tracked)},
                at_ms=now_ms,
            )
            raised.append(alarm.id)
        if arrived:
            for alarm in open_alarms(s, "data_gap", stream):
                detail = alarm.detail or {}
                if detail.get("session_ended") or detail.get("untracked"):
                    continue
                if not still.intersection(int(x) for x in detail.get("missing", [])):
                    alarm.cleared_ms = now_ms
    return raised


# --------------------------------------------------------------------------- the pipeline

_SCHEMA_OK: set[str] = set()


@contextmanager
def _session(db: str | None) -> Iterator[Session]:
    """:func:`carbonpark.store.session`, checking the schema revision once per database and process.

    The check reads every migration script (tens of ms); a worker storing many batches a
    second does it on its first batch only.
    """
    engine = connect(db)
    key = str(engine.url)
    if key not in _SCHEMA_OK:
        with session(db):
            pass
        _SCHEMA_OK.add(key)
    with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        yield s


class _Race(CarbonparkError):
    """Another writer stored some of the same (meter, ts) between look-up and insert: retry."""


@dataclass(slots=True)
class _Valid:
    idx: int
    meter: _MeterInfo
    ts_ms: int
    value: float
    quality: int
    correction: bool


@dataclass(slots=True)
class _Columns:
    """Valid readings of a batch as columns; ``idx`` is each reading's position in the batch as sent."""

    idx: np.ndarray  # int64
    meter: np.ndarray  # int64 meter ids
    ts: np.ndarray  # int64 UTC epoch ms
    value: np.ndarray  # float64, canonical unit of the meter's quantity
    quality: np.ndarray  # int64 quality bits
    correction: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.idx)

    def take(self, sel: np.ndarray) -> _Columns:
        """The rows selected by a boolean mask or an index array."""
        return _Columns(
            self.idx[sel], self.meter[sel], self.ts[sel], self.value[sel], self.quality[sel], self.correction[sel]
        )

    def row(self, k: int, book: _MeterBook) -> _Valid:
        """Row ``k`` as one object (for the few rows handled one by one)."""
        return _Valid(
            int(self.idx[k]),
            book.by_id[int(self.meter[k])],
            int(self.ts[k]),
            float(self.value[k]),
            int(self.quality[k]),
            bool(self.correction[k]),
        )


_FIELDS = attrgetter("meter", "ts", "value", "unit", "error", "correction", "quality")


_REF_TYPES = frozenset({str, int})
_NUMBER_TYPES = frozenset({float, int})


def _validate_clean(readings: RawBatch, book: _MeterBook, scope: IngestScope | None, now_ms: int) -> _Columns | None:
    """The columns of a batch in which every reading passes every check, or ``None``.

    Column-wise checks (type sets, distinct meter references and units, numpy bounds) with
    no Python work per reading beyond what C-level ``map``/``set``/``np.array`` do. Any
    reading that would be rejected, or a value of a type this path does not handle (ISO
    timestamps, numeric strings …), returns ``None``: the caller then runs the one-by-one
    pass, which gives every reading its reason. So both paths give the same answer.
    """
    n = len(readings)
    if n == 0 or readings.error.count(None) != n:
        return None
    meter, ts, value, unit = readings.meter, readings.ts, readings.value, readings.unit
    if not (set(map(type, meter)) <= _REF_TYPES and set(map(type, ts)) == {int}):
        return None
    if not set(map(type, value)) <= _NUMBER_TYPES or "" in meter:
        return None
    info: dict[Any, _MeterInfo] = {}
    for ref in dict.fromkeys(meter):
        m = book.find(ref)
        if m.__class__ is str:
            return None
        assert isinstance(m, _MeterInfo)
        if m.virtual or (scope is not None and not scope.allows(m.id, m.enterprise_id)):
            return None
        info[ref] = m
    t = np.array(ts, dtype=np.int64)
    if t.min() < MIN_TS_MS or t.max() > now_ms + MAX_FUTURE_MS:
        return None
    v = np.array(value, dtype=np.float64)
    if not np.isfinite(v).all():
        return None
    ids = np.fromiter((m.id for m in map(info.__getitem__, meter)), dtype=np.int64, count=n)
    conv: dict[tuple[Any, Any], tuple[float, float]] = {}
    for ref, u in dict.fromkeys(zip(meter, unit, strict=True)):
        m = info[ref]
        source = (u.strip() or m.unit) if u.__class__ is str else m.unit
        ab = (1.0, 0.0) if source == m.target else _affine(source, m.target)
        if isinstance(ab, str):
            return None
        conv[(ref, u)] = ab
    if any(ab != (1.0, 0.0) for ab in conv.values()):
        ab_rows = np.array(list(map(conv.__getitem__, zip(meter, unit, strict=True))), dtype=np.float64)
        v = ab_rows[:, 0] * v + ab_rows[:, 1]
    quality = readings.quality
    q = np.zeros(n, dtype=np.int64) if quality.count(0) == n else np.array([x or 0 for x in quality], dtype=np.int64)
    c = np.array([bool(x) for x in readings.correction], dtype=bool)
    return _Columns(np.arange(n, dtype=np.int64), ids, t, v, q, c)


def _validate(
    readings: Sequence[RawReading],
    book: _MeterBook,
    scope: IngestScope | None,
    now_ms: int,
) -> tuple[_Columns, list[tuple[int, str, str]], list[int]]:
    """Valid readings as columns, rejects ``(index, reason, detail)`` and the indexes of unknown meters.

    One pass with the common case (a known meter, epoch ms as an integer, a float or int
    value, the meter's own or a known unit) kept to a few operations per reading; unit
    conversions are one ``(a, b)`` pair per (unit, canonical unit), computed once (pint).
    The checks and their order (the first failing one is the reason) are those listed in
    ``docs/ingest.md`` §2.
    """
    if isinstance(readings, RawBatch):
        clean = _validate_clean(readings, book, scope, now_ms)
        if clean is not None:
            return clean, [], []
    rejects: list[tuple[int, str, str]] = []
    unknown: list[int] = []
    horizon = now_ms + MAX_FUTURE_MS
    idx: list[int] = []
    mids: list[int] = []
    tss: list[int] = []
    vals: list[float] = []
    quals: list[int] = []
    corrs: list[bool] = []
    conv: dict[tuple[str, str], tuple[float, float] | str] = {}
    find = book.find
    if isinstance(readings, RawBatch):
        fields: Iterable[tuple[Any, ...]] = zip(
            readings.meter,
            readings.ts,
            readings.value,
            readings.unit,
            readings.error,
            readings.correction,
            readings.quality,
            strict=True,
        )
    else:
        fields = map(_FIELDS, readings)
    for i, (meter, ts, value, unit, error, correction, quality) in enumerate(fields):
        if error is not None:
            rejects.append((i, error, readings[i].detail))
            continue
        if meter is None or meter == "" or ts is None or value is None:
            absent = [n for n, v in (("meter", meter), ("ts", ts), ("value", value)) if v is None or v == ""]
            rejects.append((i, "missing_field", f"absent: {', '.join(absent)}"))
            continue
        m = find(meter)
        if m.__class__ is str:
            rejects.append((i, str(m), f"meter {meter!r}"))
            if m == "unknown_meter":
                unknown.append(i)
            continue
        assert isinstance(m, _MeterInfo)
        if m.virtual:
            rejects.append((i, "virtual_meter", f"meter {meter!r} is virtual"))
            continue
        if scope is not None and not scope.allows(m.id, m.enterprise_id):
            rejects.append((i, "out_of_scope", f"meter {meter!r} is not covered by the sender's key"))
            continue
        t = ts if ts.__class__ is int else _timestamp(ts, m.timezone)
        if t is None or t < MIN_TS_MS:
            rejects.append((i, "bad_timestamp", f"ts {ts!r}: expected ISO 8601 or epoch ms after 2000-01-01"))
            continue
        if t > horizon:
            rejects.append((i, "future_timestamp", f"ts {ts!r} is more than a day ahead"))
            continue
        v = value if value.__class__ is float and math.isfinite(value) else _number(value)
        if v is None:
            rejects.append((i, "bad_value", f"value {value!r}: expected a finite number"))
            continue
        source = (unit.strip() or m.unit) if unit.__class__ is str else m.unit
        if source != m.target:
            key = (source, m.target)
            ab = conv.get(key)
            if ab is None:
                ab = conv[key] = _affine(source, m.target)
            if isinstance(ab, str):
                rejects.append((i, ab, f"unit {source!r}: expected a unit convertible to {m.target!r}"))
                continue
            v = ab[0] * v + ab[1]
        idx.append(i)
        mids.append(m.id)
        tss.append(t)
        vals.append(v)
        quals.append(quality or 0)
        corrs.append(bool(correction))
    cols = _Columns(
        np.array(idx, dtype=np.int64),
        np.array(mids, dtype=np.int64),
        np.array(tss, dtype=np.int64),
        np.array(vals, dtype=np.float64),
        np.array(quals, dtype=np.int64),
        np.array(corrs, dtype=bool),
    )
    return cols, rejects, unknown


def _dedupe_batch(cols: _Columns, result: IngestResult, quarantine: list[tuple[int, str, str]]) -> _Columns:
    """De-duplicate (meter, ts) within the batch: sort once, handle only the repeated keys in Python.

    The first reading of a (meter, ts) stays; a later equal one is a duplicate, a later
    different one a conflict, unless it is a correction, which supersedes the reading kept
    so far (that one then counts as corrected).
    """
    n = len(cols)
    if n < 2:
        return cols
    order = np.lexsort((cols.idx, cols.ts, cols.meter))  # by meter, ts, then position in the batch
    m, t = cols.meter[order], cols.ts[order]
    repeat = (m[1:] == m[:-1]) & (t[1:] == t[:-1])
    if not repeat.any():
        return cols
    is_start = np.concatenate(([True], ~repeat))
    group_start = np.maximum.accumulate(np.where(is_start, np.arange(n), 0))
    keep = np.ones(n, dtype=bool)
    kept: dict[int, int] = {}
    for p in (np.flatnonzero(repeat) + 1).tolist():
        g = int(group_start[p])
        first = kept.get(g, int(order[g]))
        cur = int(order[p])
        if _same(float(cols.value[first]), float(cols.value[cur])):
            result.duplicates += 1
            keep[cur] = False
        elif cols.correction[cur]:
            keep[first] = False  # the earlier reading of this batch is superseded by the correction
            kept[g] = cur
            result.corrected += 1
        else:
            keep[cur] = False
            ts = int(cols.ts[cur])
            quarantine.append(
                (int(cols.idx[cur]), "conflict", f"a different value for ts {ts} came earlier in this batch")
            )
    return cols.take(keep)


def _year_array(ts: np.ndarray, tz: str) -> np.ndarray:
    starts, first = _year_starts(tz)
    return first + np.searchsorted(np.asarray(starts, dtype=np.int64), ts, side="right") - 1


def _locked_mask(s: Session, cols: _Columns, book: _MeterBook, meter_ids: np.ndarray) -> np.ndarray:
    """Which rows fall in a submitted or verified year of their enterprise (one look-up per (enterprise, year))."""
    if _inventory_hook() is None and s.scalar(select(LockedPeriod.id).limit(1)) is None:
        return np.zeros(len(cols), dtype=bool)
    meters = meter_ids.tolist()
    tz_of = {mid: book.by_id[mid].timezone for mid in meters}
    ent_of = {mid: book.by_id[mid].enterprise_id for mid in meters}
    years = np.empty(len(cols), dtype=np.int64)
    for tz in set(tz_of.values()):
        sel = np.isin(cols.meter, [mid for mid in meters if tz_of[mid] == tz])
        years[sel] = _year_array(cols.ts[sel], tz)
    mask = np.zeros(len(cols), dtype=bool)
    span = 1 << 16  # years fit in 16 bits: one integer key per (meter, year)
    answers: dict[tuple[int | None, int], bool] = {}
    for pair in np.unique(cols.meter * span + years).tolist():
        mid, year = divmod(int(pair), span)
        key = (ent_of[mid], year)
        if key not in answers:
            answers[key] = period_locked(s, *key)
        if answers[key]:
            mask |= (cols.meter == mid) & (years == year)
    return mask


def _touched(meter: np.ndarray, ts: np.ndarray) -> dict[int, tuple[int, int]]:
    """Meter id → (first, last) ``ts_ms`` of the given rows."""
    if len(meter) == 0:
        return {}
    order = np.argsort(meter, kind="stable")
    m, t = meter[order], ts[order]
    ids, starts = np.unique(m, return_index=True)
    lo = np.minimum.reduceat(t, starts)
    hi = np.maximum.reduceat(t, starts)
    return {int(k): (int(a), int(b)) for k, a, b in zip(ids.tolist(), lo.tolist(), hi.tolist(), strict=True)}


def _pending_values(s: Session, cols: _Columns, locked: np.ndarray) -> dict[tuple[int, int], float]:
    """(meter, ts) → the newest pending value waiting for a row of a locked period (none: not there).

    A reading sent again while its correction waits is a duplicate of what waits, not a new
    pending correction.
    """
    if not locked.any():
        return {}
    m, t = cols.meter[locked], cols.ts[locked]
    keys = set(zip(m.tolist(), t.tolist(), strict=True))
    stmt = (
        select(ReadingCorrection.meter_id, ReadingCorrection.ts_ms, ReadingCorrection.new_value)
        .where(
            ReadingCorrection.status == "pending",
            ReadingCorrection.meter_id.in_(np.unique(m).tolist()),
            ReadingCorrection.ts_ms >= int(t.min()),
            ReadingCorrection.ts_ms <= int(t.max()),
        )
        .order_by(ReadingCorrection.id)
    )
    return {(int(mid), int(ts)): float(v) for mid, ts, v in s.execute(stmt) if (int(mid), int(ts)) in keys}


#: Day length of the dirty ranges [ms]: a meter's timestamps separated by a whole day without readings go
#: to separate ranges (a batch with a late reading of February and live readings of November
#: re-aggregates those two months only), and the drain merges ranges closer than this.
DIRTY_SPLIT_MS = 86_400_000


def _dirty_ranges(meter: np.ndarray, ts: np.ndarray, touched: dict[int, tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``(meter, first ts, last ts)`` runs of the rows: a meter's timestamps are split where a whole day is empty.

    A meter whose timestamps span at most :data:`DIRTY_SPLIT_MS` is one range (the live case, no
    work per row). Otherwise each row's day after its meter's first timestamp is counted with one
    ``bincount`` (no sort): runs of days with readings become ranges, cut to whole days and clipped
    to the meter's first and last timestamp, so a range may be up to a day wider than its readings.
    """
    out = [(mid, lo, hi) for mid, (lo, hi) in touched.items() if hi - lo <= DIRTY_SPLIT_MS]
    if len(out) == len(touched):
        return out
    ids = np.array(sorted(mid for mid, (lo, hi) in touched.items() if hi - lo > DIRTY_SPLIT_MS), dtype=np.int64)
    first = np.array([touched[int(mid)][0] for mid in ids], dtype=np.int64)
    last = np.array([touched[int(mid)][1] for mid in ids], dtype=np.int64)
    span = int(((last - first) // DIRTY_SPLIT_MS).max()) + 1
    if len(ids) * span > 20_000_000:  # decades of data in one batch: one range per meter
        return out + [(int(m), int(a), int(b)) for m, a, b in zip(ids, first, last, strict=True)]
    pos = np.searchsorted(ids, meter)
    wide = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == meter)
    pos = pos[wide]
    days = (ts[wide] - first[pos]) // DIRTY_SPLIT_MS
    seen = np.bincount(pos * span + days, minlength=len(ids) * span).reshape(len(ids), span) > 0
    for i, mid in enumerate(ids.tolist()):
        d = np.flatnonzero(seen[i])
        for run in np.split(d, np.flatnonzero(np.diff(d) > 1) + 1):
            lo = max(int(first[i]), int(first[i]) + int(run[0]) * DIRTY_SPLIT_MS)
            hi = min(int(last[i]), int(first[i]) + (int(run[-1]) + 1) * DIRTY_SPLIT_MS - 1)
            out.append((mid, lo, hi))
    return out


def _queue_dirty(
    s: Session, meter: np.ndarray, ts: np.ndarray, touched: dict[int, tuple[int, int]], batch_id: int | None, now: int
) -> None:
    """Queue the ranges a batch stored or corrected for re-aggregation, in the batch's transaction."""
    ranges = _dirty_ranges(meter, ts, touched)
    if not ranges:
        return
    conn = s.connection()
    if conn.dialect.name == "postgresql":  # one statement, not one per row
        m, a, b = (list(col) for col in zip(*ranges, strict=True))
        conn.exec_driver_sql(
            "INSERT INTO ingest_dirty_ranges (meter_id, first_ts_ms, last_ts_ms, batch_id, queued_ms) "
            "SELECT k.m, k.a, k.b, %(batch)s, %(now)s "
            "FROM unnest(%(m)s::integer[], %(a)s::bigint[], %(b)s::bigint[]) AS k(m, a, b)",
            {"batch": batch_id, "now": now, "m": m, "a": a, "b": b},
        )
        return
    raw = conn.connection.driver_connection
    raw.executemany(  # type: ignore[union-attr]
        "INSERT INTO ingest_dirty_ranges (meter_id, first_ts_ms, last_ts_ms, batch_id, queued_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        [(mid, lo, hi, batch_id, now) for mid, lo, hi in ranges],
    )


_DRAIN_FLAG = "carbonpark.ingest.drain_after_commit"


def _drain_after_commit(s: Session) -> None:
    """Drain the re-aggregation queue once the session's transaction has committed.

    Registered once per transaction; a rollback forgets it. A failing drain is logged, not
    raised (the readings are committed; their ranges stay queued for the next drain).
    """
    if s.info.get(_DRAIN_FLAG):
        return
    s.info[_DRAIN_FLAG] = True
    bind = s.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine

    def after_commit(committed: Session) -> None:
        if not committed.info.pop(_DRAIN_FLAG, False):
            return
        try:
            drain_dirty(engine)
        except Exception:
            _log.exception("re-aggregation after an ingest batch failed; its ranges stay queued for the next drain")

    def after_rollback(rolled_back: Session, _previous: Any) -> None:
        rolled_back.info.pop(_DRAIN_FLAG, None)

    event.listen(s, "after_commit", after_commit, once=True)
    event.listen(s, "after_soft_rollback", after_rollback, once=True)


def _merge_ranges(rows: Iterable[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
    """Meter → sorted, merged ``(first, last)`` ranges (overlapping or within :data:`DIRTY_SPLIT_MS`)."""
    by_meter: dict[int, list[tuple[int, int]]] = {}
    for mid, lo, hi in rows:
        by_meter.setdefault(int(mid), []).append((int(lo), int(hi)))
    out: dict[int, list[tuple[int, int]]] = {}
    for mid, ranges in by_meter.items():
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(ranges):
            if merged and lo <= merged[-1][1] + DIRTY_SPLIT_MS:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        out[mid] = merged
    return out


#: Key of the PostgreSQL advisory lock that lets one drain run at a time ("cp-drain" in ASCII).
DRAIN_LOCK_KEY = 0x63702D647261696E


def drain_in_session(s: Session, *, reaccount: bool = True) -> dict[str, Any]:
    """Take every queued dirty range and re-aggregate it in the caller's transaction.

    The rows are deleted in this transaction (``DELETE … RETURNING``), so they are gone only
    if the activity data and accounting runs over them are rewritten too; on PostgreSQL an
    advisory lock lets one drain run at a time (two drains would rewrite the same rows).

    Returns
    -------
    dict
        ``ranges`` (queue rows taken), ``meters``, and what
        :func:`carbonpark.services.activity.reaggregate_in_session` did: ``rewritten``,
        ``periods``, ``skipped_locked``, ``reaccounted``.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DRAIN_LOCK_KEY})
    claimed = s.execute(
        delete(DirtyRange).returning(DirtyRange.meter_id, DirtyRange.first_ts_ms, DirtyRange.last_ts_ms)
    ).all()
    out: dict[str, Any] = {"ranges": len(claimed), "meters": 0, "rewritten": 0, "periods": [], "reaccounted": []}
    if not claimed or s.scalar(select(EmissionSource.id).where(EmissionSource.meter_id.is_not(None)).limit(1)) is None:
        return out  # no metered emission source: no aggregate depends on readings
    changes = _merge_ranges((int(m), int(a), int(b)) for m, a, b in claimed)
    from carbonpark.services.activity import reaggregate_in_session

    out.update(reaggregate_in_session(s, changes, reaccount=reaccount))
    out["meters"] = len(changes)
    return out


def _transient(exc: BaseException) -> bool:
    """A database error that a retry may not meet again (busy SQLite, deadlock, unique race)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    return isinstance(exc, OperationalError | IntegrityError)


def drain_dirty(db: str | Engine | None) -> dict[str, Any]:
    """Re-aggregate every queued dirty range in one transaction of its own (see :func:`drain_in_session`).

    Called after each committed ingest batch (:func:`ingest_readings`, ``POST /api/readings``,
    files, field protocols) and every few seconds by the MQTT worker; ranges left queued by a
    crash are taken by the next drain. If an accounting run cannot be re-run (bad data), the
    activity data are still rewritten and the error is listed under ``errors``.

    Parameters
    ----------
    db
        Database URL, SQLite path or engine.
    """
    engine = db if isinstance(db, Engine) else connect(db)
    reaccount = True
    errors: list[str] = []
    attempt = 0
    while True:
        try:
            with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
                out = drain_in_session(s, reaccount=reaccount)
            out["errors"] = errors
            return out
        except CarbonparkError as exc:
            if not reaccount:
                raise
            reaccount = False  # a run that cannot be re-run must not hold the activity data back
            errors.append(f"accounting runs not re-run: {exc}")
            _log.warning("re-aggregation: accounting runs not re-run: %s", exc)
        except Exception as exc:
            attempt += 1
            if attempt >= RETRIES or not _transient(exc):
                raise
            time.sleep(0.05 * attempt)


def _is_unique_violation(exc: BaseException) -> bool:
    return any(type(e).__name__ in {"IntegrityError", "UniqueViolation"} for e in (exc, exc.__cause__) if e)


def ingest_in_session(
    s: Session,
    readings: Sequence[RawReading],
    *,
    channel: str,
    scope: IngestScope | None = None,
    marks: Sequence[SeqMark] = (),
    url: str | None = None,
    received_ms: int | None = None,
    attest: bool = True,
    reaggregate: bool = True,
) -> IngestResult:
    """Run the pipeline in the caller's transaction (see :func:`ingest_readings`).

    ``attest=False`` skips the ledger attestation of the touched reading batches
    (:func:`carbonpark.services.ledger.attest_readings`); only for callers that attest
    themselves later in the same transaction.

    The (meter, time range)s the batch stored or corrected are queued in
    ``ingest_dirty_ranges`` in this transaction; with ``reaggregate`` (the default) the queue
    is drained by :func:`drain_dirty` right after the caller's commit (a hook on the session),
    so the activity data and accounting runs over them follow. ``reaggregate=False`` leaves
    the draining to the caller (the MQTT worker drains at most every few seconds).

    Notes
    -----
    The batch is handled as columns (numpy): validation is one tight pass, duplicates
    within the batch are found by one sort, and only readings newer than the newest stored
    reading of their meter skip the look-up of stored values; the others are looked up by
    one join (:func:`carbonpark.store.readings.stored_values`). New readings go to the
    store by one binary ``COPY`` (PostgreSQL) or ``executemany`` (SQLite); if another
    writer stored one of the same (meter, ts) meanwhile, the unique key refuses it and the
    batch is retried whole by the caller.
    """
    now = received_ms if received_ms is not None else _now_ms()
    key = url or str(s.get_bind().engine.url)
    book = _meter_book(s, key)
    cols, rejects, unknown = _validate(readings, book, scope, now)
    if unknown:  # maybe the registry just changed: look again once
        fresh = _meter_book(s, key, missed=True)
        if fresh is not book:
            book = fresh
            cols, rejects, _ = _validate(readings, fresh, scope, now)
    result = IngestResult(sent=len(readings))
    quarantine: list[tuple[int, str, str]] = list(rejects)
    cols = _dedupe_batch(cols, result, quarantine)

    touched: dict[int, tuple[int, int]] = {}
    corrections: list[dict[str, Any]] = []
    items: list[CorrectionItem] = []
    updates: list[dict[str, Any]] = []
    done = np.empty(0, dtype=np.int64)
    batch: IngestBatch | None = None
    if len(cols):
        # the batch's id goes with every reading it stores (readings.batch_id): insert its row first
        batch = _new_batch(s, now, channel, result.sent)
        conn = s.connection()
        meter_ids, where = np.unique(cols.meter, return_inverse=True)
        newest = latest_ts(conn, meter_ids.tolist())
        bound = np.array([newest.get(m, -(2**62)) for m in meter_ids.tolist()], dtype=np.int64)[where]
        suspect = np.flatnonzero(cols.ts <= bound)  # may collide with a stored reading
        prior: dict[int, tuple[float, int, int | None]] = {}
        if len(suspect):
            found = stored_rows(conn, cols.meter[suspect], cols.ts[suspect])
            prior = {int(suspect[p]): row for p, row in found.items()}
        locked = _locked_mask(s, cols, book, meter_ids)
        waiting = _pending_values(s, cols, locked)
        special = sorted(set(prior) | set(np.flatnonzero(locked).tolist()))
        insert_mask = np.ones(len(cols), dtype=bool)
        applied: list[int] = []
        for k in special:
            insert_mask[k] = False
            v = cols.row(k, book)
            stored = prior.get(k)
            old = stored[0] if stored is not None else None
            held = waiting.get((v.meter.id, v.ts_ms))  # the newest pending value (locked periods)
            if (old is not None and _same(old, v.value)) or (held is not None and _same(held, v.value)):
                result.duplicates += 1
            elif (old is not None or held is not None) and not v.correction:
                what = f"stored value {old!r}" if old is not None else f"pending value {held!r}"
                quarantine.append((v.idx, "conflict", f"{what} differs from {v.value!r}"))
            else:
                status = "pending" if locked[k] else "applied"  # applied: a correction in an open period
                row = _correction(v, stored, status, now, channel, readings, batch.id)
                corrections.append(row)
                items.append(
                    CorrectionItem(
                        v.meter.id,
                        v.ts_ms,
                        row["kind"],
                        status,
                        v.value,
                        v.quality,
                        old,
                        row["old_quality"],
                        row["amends_batch"],
                    )
                )
                if locked[k]:
                    result.pending += 1
                else:  # the corrected reading moves to this batch, which attests its new value
                    updates.append({"m": v.meter.id, "t": v.ts_ms, "v": v.value, "q": v.quality, "b": batch.id})
                    result.corrected += 1
                    applied.append(k)
        new = cols.take(insert_mask)
        if len(new):
            try:
                result.accepted += copy_readings(conn, new.meter, new.ts, new.value, new.quality, batch.id)
            except Exception as exc:
                if _is_unique_violation(exc):
                    raise _Race(f"a reading of this batch was stored by another writer meanwhile: {exc}") from exc
                raise
        done = np.concatenate([np.flatnonzero(insert_mask), np.asarray(applied, dtype=np.int64)])
        touched = _touched(cols.meter[done], cols.ts[done])
        if touched:
            _queue_dirty(s, cols.meter[done], cols.ts[done], touched, batch.id, now)
            if reaggregate:
                _drain_after_commit(s)
    if updates:
        _update_readings(s, updates)
    if corrections:
        s.execute(insert(ReadingCorrection), corrections)
    if quarantine:
        quarantine.sort()
        s.execute(
            insert(Quarantined),
            [_quarantine_row(readings[i], reason, detail, now, channel) for i, reason, detail in quarantine],
        )
        result.quarantined = [(i, reason) for i, reason, _ in quarantine]
    if marks:
        result.alarms = _check_sequences(s, marks, now)
    if touched:
        result.first_ts_ms = min(lo for lo, _ in touched.values())
        result.last_ts_ms = max(hi for _, hi in touched.values())
    if batch is None:
        batch = _new_batch(s, now, channel, result.sent)
    batch.accepted = result.accepted
    batch.duplicates = result.duplicates
    batch.quarantined = len(result.quarantined)
    batch.corrected = result.corrected
    batch.pending = result.pending
    batch.first_ts_ms, batch.last_ts_ms = result.first_ts_ms, result.last_ts_ms
    s.flush()
    if _LISTENERS:
        report = BatchReport(batch.id, channel, now, result, touched)
        for listener in list(_LISTENERS):
            listener(s, report)
    if attest and (len(done) or items):
        # last, so that the ledger's append lock is held for the shortest time before the commit
        meters = {
            m: (book.by_id[m].handle, book.by_id[m].org)
            for m in {*np.unique(cols.meter[done]).tolist(), *(c.meter_id for c in items)}
        }
        attest_ingest_batch(
            s,
            batch_id=batch.id,
            channel=batch.channel,
            meter_id=cols.meter[done],
            ts_ms=cols.ts[done],
            value=cols.value[done],
            quality=cols.quality[done],
            meters=meters,
            park=book.park_handle,
            tz=book.park_tz,
            corrections=items,
            timestamp_ms=now,
        )
    return result


def _update_readings(s: Session, updates: list[dict[str, Any]]) -> None:
    """Set value ``v``, quality ``q`` and batch ``b`` of the stored readings (meter ``m``, ts ``t``)."""
    conn = s.connection()
    conn.exec_driver_sql(
        "UPDATE readings SET value = %(v)s, quality = %(q)s, batch_id = %(b)s WHERE meter_id = %(m)s AND ts_ms = %(t)s"
        if conn.dialect.name == "postgresql"
        else "UPDATE readings SET value = :v, quality = :q, batch_id = :b WHERE meter_id = :m AND ts_ms = :t",
        updates,
    )


def _new_batch(s: Session, now: int, channel: str, sent: int) -> IngestBatch:
    """The batch's ``ingest_batches`` row, inserted now (its id is needed); the counts are set at the end."""
    batch = IngestBatch(
        received_ms=now,
        channel=channel[:32],
        sent=sent,
        accepted=0,
        duplicates=0,
        quarantined=0,
        corrected=0,
        pending=0,
    )
    s.add(batch)
    s.flush()
    return batch


def _correction(
    v: _Valid,
    stored: tuple[float, int, int | None] | None,
    status: str,
    now: int,
    channel: str,
    readings: Sequence[RawReading],
    batch_id: int,
) -> dict[str, Any]:
    """A ``reading_corrections`` row: ``stored`` is the (value, quality, batch) it replaces, None if late."""
    return {
        "meter_id": v.meter.id,
        "ts_ms": v.ts_ms,
        "old_value": stored[0] if stored is not None else None,
        "old_quality": stored[1] if stored is not None else None,
        "amends_batch": stored[2] if stored is not None else None,
        "new_value": v.value,
        "quality": v.quality,
        "kind": "correction" if stored is not None else "late",
        "status": status,
        "received_ms": now,
        "channel": channel[:32],
        "raw": _raw_text(readings[v.idx].raw),
        "batch_id": batch_id,
    }


def _quarantine_row(r: RawReading, reason: str, detail: str, now: int, channel: str) -> dict[str, Any]:
    value = _number(r.value)
    ts = _timestamp(r.ts, get_settings().timezone) if r.error is None else None
    return {
        "received_ms": now,
        "channel": channel[:32],
        "meter_ref": None if r.meter is None else str(r.meter)[:128],
        "ts_ms": ts if ts is not None and abs(ts) < 2**62 else None,
        "value": value,
        "reason": reason,
        "detail": detail,
        "raw": _raw_text(r.raw),
    }


#: How often a batch is retried when another writer raced it (or SQLite was busy).
RETRIES = 5


def ingest_readings(
    db: str | None,
    readings: Sequence[RawReading],
    *,
    channel: str,
    scope: IngestScope | None = None,
    marks: Sequence[SeqMark] = (),
    attest: bool = True,
    reaggregate: bool = True,
) -> IngestResult:
    """Validate, convert, de-duplicate and store a batch of raw readings in one transaction.

    Parameters
    ----------
    db
        Database URL or SQLite path (``None``: the configured default).
    readings
        Raw readings from any connector; their position is the ``index`` in the answer.
    channel
        Where they came from (``mqtt``, ``sparkplug``, ``file``, ``rest``, ``opcua`` …),
        kept with quarantined rows and the batch counts.
    scope
        The sender's scope (a device key's meters or enterprise); readings outside it are
        quarantined as ``out_of_scope``.
    marks
        Sequence numbers of the messages the readings came in, checked for gaps.
    attest
        Attest the touched reading batches in the ledger in the same transaction
        (:func:`carbonpark.services.ledger.attest_readings`); off only where a caller
        attests later itself.
    reaggregate
        Re-aggregate what the batch stored once it is committed (:func:`drain_dirty`): the
        activity data of the touched periods and the accounting runs over them follow.

    Returns
    -------
    IngestResult
        ``accepted + duplicates + len(quarantined) + corrected + pending == len(readings)``.

    Notes
    -----
    The batch is committed when this returns: acknowledge the messages then, not before.
    A batch that raced another writer on the same (meter, ts) is retried as a whole.

    References
    ----------
    .. [1] 《工业互联网园区“双碳”管理平台建设指南》§4.1, §6.4.
    """
    url = str(connect(db).url)
    for attempt in range(RETRIES):
        try:
            with _session(db) as s:
                return ingest_in_session(
                    s,
                    readings,
                    channel=channel,
                    scope=scope,
                    marks=marks,
                    url=url,
                    attest=attest,
                    reaggregate=reaggregate,
                )
        except _Race:
            if attempt == RETRIES - 1:
                raise
        except Exception as exc:
            if "database is locked" not in str(exc) or attempt == RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def make_sink(db: str | None, channel: str, scope: IngestScope | None = None) -> Callable[..., IngestResult]:
    """A sink for a connector: ``sink(readings, marks=())`` runs :func:`ingest_readings`."""

    def sink(readings: Sequence[RawReading], marks: Sequence[SeqMark] = ()) -> IngestResult:
        return ingest_readings(db, readings, channel=channel, scope=scope, marks=marks)

    return sink


def ingest_totals(s: Session) -> dict[str, int]:
    """Totals over every batch: sent, accepted, duplicates, quarantined, corrected, pending."""
    row = s.execute(
        select(
            func.coalesce(func.sum(IngestBatch.sent), 0),
            func.coalesce(func.sum(IngestBatch.accepted), 0),
            func.coalesce(func.sum(IngestBatch.duplicates), 0),
            func.coalesce(func.sum(IngestBatch.quarantined), 0),
            func.coalesce(func.sum(IngestBatch.corrected), 0),
            func.coalesce(func.sum(IngestBatch.pending), 0),
        )
    ).one()
    keys = ("sent", "accepted", "duplicates", "quarantined", "corrected", "pending")
    return {k: int(v) for k, v in zip(keys, row, strict=True)}


# --------------------------------------------------------------------------- pending corrections

#: ``ingest_batches.channel`` of the batch that applies pending corrections taken up by a new inventory version.
TAKE_UP_CHANNEL = "take_up"


@dataclass(slots=True)
class TakeUp:
    """What :func:`take_up_corrections` did.

    ``taken_up`` pending corrections were marked ``taken_up``; ``written`` readings were
    inserted (late data) or updated (corrections) by the batch ``batch_id``; ``still_locked``
    when the period is still submitted or verified (nothing taken up); ``reaggregated`` is
    what :func:`carbonpark.services.activity.reaggregate_in_session` did.
    """

    taken_up: int = 0
    written: int = 0
    batch_id: int | None = None
    still_locked: bool = False
    reaggregated: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON answers."""
        return {
            "taken_up": self.taken_up,
            "written": self.written,
            "batch_id": self.batch_id,
            "still_locked": self.still_locked,
            "rewritten": self.reaggregated.get("rewritten", 0),
            "reaccounted": self.reaggregated.get("reaccounted", []),
        }


def take_up_corrections(
    s: Session, enterprise_id: int | None, year: int, *, by: str, reaggregate: bool = True, attest: bool = True
) -> TakeUp:
    """Apply the pending corrections of an organisation-year that is open again (a new inventory version).

    Late or corrected readings of a submitted or verified year wait in ``reading_corrections``
    (status ``pending``). When a new version of that year is started (its newest version is a
    draft again, :func:`period_locked` false), this applies them in the caller's transaction:

    1. the newest pending value of each (meter, ts) is written to ``readings`` (inserted for a
       late reading, replacing the stored value for a correction) by one new ingest batch of
       channel :data:`TAKE_UP_CHANNEL`, which the readings then carry (``batch_id``);
    2. that batch gets a ``reading_corrections`` row per reading written (status ``applied``,
       with the value and batch it replaces) and is attested like any batch
       (``ingest_batch:<id>`` and ``reading_correction:<id>``), so ``ledger verify`` puts the
       replaced values back into the batches they came from;
    3. the pending rows become ``taken_up`` with ``taken_up_by = by`` and the time;
    4. the periods they touch are re-aggregated and the accounting runs over them re-run
       (:func:`carbonpark.services.activity.reaggregate_in_session`).

    The batch sends nothing (``sent`` 0) and moves its rows from ``pending`` to ``accepted``
    (a late reading), ``corrected`` or ``duplicates`` (``pending`` negative in its row), so the
    totals of ``ingest_batches`` keep adding up and their ``pending`` is what still waits.

    Parameters
    ----------
    s
        The transaction of the new inventory version.
    enterprise_id
        The enterprise (None: the park's own meters, those of no enterprise).
    year
        The local calendar year of the readings (each meter's park time zone).
    by
        Who takes them up, e.g. ``inventory_version:<id>`` (kept in ``taken_up_by``).
    reaggregate, attest
        Re-aggregate the touched periods; attest the batch in the ledger.

    References
    ----------
    .. [1] Issue 5 item 1: "a late or corrected datum there creates a pending correction that a
       new inventory version takes up".
    """
    out = TakeUp()
    if period_locked(s, enterprise_id, year):
        out.still_locked = True
        return out
    book = _meter_book(s, str(s.get_bind().engine.url))
    meter_ids = sorted(m.id for m in book.by_id.values() if m.enterprise_id == enterprise_id)
    if not meter_ids:
        return out
    zones = {book.by_id[m].timezone for m in meter_ids}
    lo = min(period_bounds_ms(str(year), tz)[0] for tz in zones)
    hi = max(period_bounds_ms(str(year), tz)[1] for tz in zones)
    stmt = (
        select(ReadingCorrection)
        .where(
            ReadingCorrection.status == "pending",
            ReadingCorrection.meter_id.in_(meter_ids),
            ReadingCorrection.ts_ms >= lo,
            ReadingCorrection.ts_ms < hi,
        )
        .order_by(ReadingCorrection.id)
        .with_for_update()
    )
    rows = [r for r in s.scalars(stmt) if _year_of(r.ts_ms, book.by_id[r.meter_id].timezone) == year]
    if not rows:
        return out
    groups: dict[tuple[int, int], list[ReadingCorrection]] = {}
    for r in rows:
        groups.setdefault((r.meter_id, r.ts_ms), []).append(r)
    keys = list(groups)
    conn = s.connection()
    stored = stored_rows(
        conn, np.array([k[0] for k in keys], dtype=np.int64), np.array([k[1] for k in keys], dtype=np.int64)
    )
    now = _now_ms()
    batch = _new_batch(s, now, TAKE_UP_CHANNEL, 0)
    counts = {"accepted": 0, "corrected": 0, "duplicates": 0}
    inserts: list[tuple[int, int, float, int]] = []
    updates: list[dict[str, Any]] = []
    applied: list[dict[str, Any]] = []
    items: list[CorrectionItem] = []
    for pos, key in enumerate(keys):
        prev = stored.get(pos)
        current = prev[0] if prev is not None else None
        for r in groups[key]:
            if current is not None and _same(current, r.new_value):
                counts["duplicates"] += 1
            else:
                counts["accepted" if current is None else "corrected"] += 1
            current = r.new_value
        final = groups[key][-1]
        quality = int(final.quality or 0)
        if prev is not None and _same(prev[0], final.new_value) and prev[1] == quality:
            continue
        kind = "late" if prev is None else "correction"
        if prev is None:
            inserts.append((key[0], key[1], float(final.new_value), quality))
        else:
            updates.append({"m": key[0], "t": key[1], "v": float(final.new_value), "q": quality, "b": batch.id})
        old_value, old_quality, amends = prev if prev is not None else (None, None, None)
        applied.append(
            {
                "meter_id": key[0],
                "ts_ms": key[1],
                "old_value": old_value,
                "old_quality": old_quality,
                "amends_batch": amends,
                "new_value": float(final.new_value),
                "quality": quality,
                "kind": kind,
                "status": "applied",
                "received_ms": now,
                "channel": TAKE_UP_CHANNEL,
                "raw": json.dumps({"takes_up": [r.id for r in groups[key]], "by": by}),
                "batch_id": batch.id,
            }
        )
        items.append(
            CorrectionItem(
                key[0], key[1], kind, "applied", float(final.new_value), quality, old_value, old_quality, amends
            )
        )
    for r in rows:
        r.status, r.taken_up_by, r.taken_up_ms = "taken_up", by[:128], now
    if inserts:
        m, ts, v, q = (np.array(col) for col in zip(*inserts, strict=True))
        copy_readings(conn, m.astype(np.int64), ts.astype(np.int64), v.astype(np.float64), q.astype(np.int64), batch.id)
    if updates:
        _update_readings(s, updates)
    if applied:
        s.execute(insert(ReadingCorrection), applied)
    written = [(i.meter_id, i.ts_ms, i.value, i.quality) for i in items]
    batch.accepted, batch.corrected, batch.duplicates = counts["accepted"], counts["corrected"], counts["duplicates"]
    batch.pending = -len(rows)
    if written:
        batch.first_ts_ms = min(w[1] for w in written)
        batch.last_ts_ms = max(w[1] for w in written)
    s.flush()
    out.taken_up, out.written, out.batch_id = len(rows), len(written), batch.id
    if not written:
        return out
    cols = [np.array(col) for col in zip(*written, strict=True)]
    meter_col, ts_col = cols[0].astype(np.int64), cols[1].astype(np.int64)
    touched = _touched(meter_col, ts_col)
    if _LISTENERS:
        result = IngestResult(
            accepted=counts["accepted"], corrected=counts["corrected"], duplicates=counts["duplicates"]
        )
        report = BatchReport(batch.id, TAKE_UP_CHANNEL, now, result, touched)
        for listener in list(_LISTENERS):
            listener(s, report)
    if attest:
        attest_ingest_batch(
            s,
            batch_id=batch.id,
            channel=TAKE_UP_CHANNEL,
            meter_id=meter_col,
            ts_ms=ts_col,
            value=cols[2].astype(np.float64),
            quality=cols[3].astype(np.int64),
            meters={mid: (book.by_id[mid].handle, book.by_id[mid].org) for mid in touched},
            park=book.park_handle,
            tz=book.park_tz,
            corrections=items,
            timestamp_ms=now,
        )
    if reaggregate:
        from carbonpark.services.activity import reaggregate_in_session

        out.reaggregated = reaggregate_in_session(s, _merge_ranges((m, t, t) for m, t, _v, _q in written))
    return out


# --------------------------------------------------------------------------- MQTT


def _upsert(s: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert ``rows`` into ``model``'s table, replacing the non-key columns of existing keys."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt: Any = dialect.insert(model)
    others = [c for c in rows[0] if c not in keys]
    s.execute(stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in others}), rows)


class _DbAliasBook:
    """Sparkplug aliases of the edge nodes in a batch, read from and written to ``sparkplug_aliases``."""

    def __init__(self, s: Session, edges: set[str], now_ms: int) -> None:
        self.s = s
        self.now_ms = now_ms
        self.entries: dict[tuple[str, int], AliasEntry] = {}
        self.declared: dict[tuple[str, int], AliasEntry] = {}
        if edges:
            stmt = select(SparkplugAlias).where(SparkplugAlias.edge.in_(sorted(edges)))
            for row in s.scalars(stmt):
                self.entries[(row.edge, row.alias)] = AliasEntry(row.metric, row.device, row.unit)

    def lookup(self, edge: str, alias: int) -> AliasEntry | None:
        return self.entries.get((edge, alias))

    def declare(self, edge: str, alias: int, entry: AliasEntry) -> None:
        if self.entries.get((edge, alias)) != entry:
            self.declared[(edge, alias)] = entry
        self.entries[(edge, alias)] = entry

    def flush(self) -> None:
        rows = [
            {"edge": e, "alias": a, "device": x.device, "metric": x.metric, "unit": x.unit, "updated_ms": self.now_ms}
            for (e, a), x in self.declared.items()
        ]
        _upsert(self.s, SparkplugAlias, rows, ["edge", "alias"])
        self.declared.clear()


_SPB_PREFIX = SPARKPLUG_NAMESPACE + "/"


class MqttHandler:
    """Store a batch of MQTT messages (JSON or Sparkplug B) in one transaction.

    Used as the handler of :class:`carbonpark.ingest.mqtt.MqttWorker`. Next to the
    readings it records, per (client id, packet id), a digest of each QoS 1 message
    (``mqtt_receipts``), in the same transaction: a message the broker redelivers (``DUP``)
    after a crash between commit and acknowledgement is recognised and acknowledged
    without being counted again, so the counts stay exact.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    client_id
        The worker's MQTT client id (receipts are per client id).
    metric_map
        Sparkplug metric → meter reference (see :class:`carbonpark.ingest.sparkplug.SparkplugDecoder`).
    reaggregate_every_s
        The ranges the batches stored are re-aggregated (:func:`drain_dirty`) after a batch's
        commit when the last drain is at least this long ago [s], and by :meth:`finish` when the
        worker stops; ranges of batches between two drains wait in the queue (committed with
        their readings, so nothing is lost if the worker dies). 0 drains after every batch.
    """

    def __init__(
        self,
        db: str | None,
        client_id: str,
        metric_map: dict[str, str] | None = None,
        *,
        attest: bool = True,
        reaggregate_every_s: float = 5.0,
    ) -> None:
        self.db = db
        self.attest = attest
        self.url = str(connect(db).url)
        self.client_id = client_id[:128]
        self.decoder = SparkplugDecoder(metric_map)
        _inventory_hook(), _virtual_ids_module()  # import the optional hooks now, not in the first batch
        self.totals = IngestResult()
        self.redeliveries = 0
        self.messages = 0
        self.reaggregate_every_s = reaggregate_every_s
        self.drains = 0
        self._queued = True  # ranges a crashed worker left queued are taken after the first batch
        self._drained_at = -math.inf

    def __call__(self, messages: list[Message]) -> IngestResult:
        for attempt in range(RETRIES):
            try:
                with _session(self.db) as s:
                    result, skipped = self._store(s, messages)
                self.totals.add(result)
                self.redeliveries += skipped
                self.messages += len(messages)
                self._queued = self._queued or result.first_ts_ms is not None
                if time.monotonic() - self._drained_at >= self.reaggregate_every_s:
                    self.finish()
                return result
            except _Race:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def finish(self) -> None:
        """Re-aggregate what the batches since the last drain stored (called by the worker when it stops).

        A failure is logged, not raised: the batches are committed and must be acknowledged;
        their ranges stay queued for the next drain.
        """
        if not self._queued:
            return
        self._drained_at = time.monotonic()
        try:
            drain_dirty(self.db)
        except Exception:
            _log.exception("re-aggregation of the MQTT batches failed; their ranges stay queued for the next drain")
            return
        self._queued = False
        self.drains += 1

    def prepare(self, topic: str, payload: bytes) -> dict[str, Any] | tuple[RawBatch, list[SeqMark]] | None:
        """Decode a JSON message as it arrives (called by the worker on paho's thread).

        A single-reading payload (a JSON object without ``readings``) is only parsed: the
        object is returned, and :meth:`_store` fills the batch's columns from all such
        objects at once (no columns per message). Any other JSON payload gives its readings
        as columns and its sequence marks. Sparkplug B messages are decoded in the batch's
        transaction (their aliases live in the store), so they get ``None``.
        """
        if topic.startswith(_SPB_PREFIX):
            return None
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:  # decode_json_into tries the standard library, then quarantines
            part = RawBatch()
            return part, decode_json_into(part, topic, payload)
        if doc.__class__ is dict and "readings" not in doc:
            return doc
        part = RawBatch()
        return part, decode_document_into(part, topic, doc)

    def _store(self, s: Session, messages: list[Message]) -> tuple[IngestResult, int]:
        now = _now_ms()
        digests = [hashlib.blake2b(m.topic.encode() + b"\0" + m.payload, digest_size=16).hexdigest() for m in messages]
        dup_ids = {m.mid for m in messages if m.dup and m.qos > 0}
        known: dict[int, str] = {}
        if dup_ids:
            stmt = select(MqttReceipt.packet_id, MqttReceipt.digest).where(
                MqttReceipt.client_id == self.client_id, MqttReceipt.packet_id.in_(sorted(dup_ids))
            )
            known = {int(p): d for p, d in s.execute(stmt)}
        spb = _SPB_PREFIX
        edges = {t.edge for m in messages if m.topic.startswith(spb) and (t := parse_topic(m.topic)) is not None}
        book = _DbAliasBook(s, edges, now)
        readings = RawBatch()
        marks: list[SeqMark] = []
        skipped = 0
        # single-reading payloads in a row, parsed, waiting to become columns in one go (in order)
        docs: list[dict[str, Any]] = []
        topics: list[str] = []
        for m, digest in zip(messages, digests, strict=True):
            if m.dup and known.get(m.mid) == digest:
                skipped += 1  # committed before a crash, not acknowledged then
                continue
            decoded = m.decoded
            if decoded is None and not m.topic.startswith(spb):
                decoded = self.prepare(m.topic, m.payload)
            if decoded.__class__ is dict:
                docs.append(decoded)
                topics.append(m.topic)
                continue
            if docs:
                marks.extend(decode_singles_into(readings, topics, docs))
                docs, topics = [], []
            if decoded is not None:
                part, got_marks = decoded
                readings.extend(part)
            else:
                got, got_marks = self.decoder.decode(m.topic, m.payload, book)
                readings.extend(got)
            marks.extend(got_marks)
        if docs:
            marks.extend(decode_singles_into(readings, topics, docs))
        book.flush()
        result = ingest_in_session(
            s,
            readings,
            channel="mqtt",
            marks=marks,
            url=self.url,
            received_ms=now,
            attest=self.attest,
            reaggregate=False,
        )
        _store_receipts(s, self.client_id, {m.mid: d for m, d in zip(messages, digests, strict=True) if m.qos > 0}, now)
        return result, skipped


_RECEIPT_UPDATE = (
    "ON CONFLICT (client_id, packet_id) DO UPDATE SET digest = excluded.digest, received_ms = excluded.received_ms"
)


def _store_receipts(s: Session, client_id: str, digests: dict[int, str], now: int) -> None:
    """Upsert the (client id, packet id) → digest receipts of a batch in one statement."""
    if not digests:
        return
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "INSERT INTO mqtt_receipts (client_id, packet_id, digest, received_ms) "
            "SELECT %(c)s, k.p, k.d, %(r)s FROM unnest(%(p)s::integer[], %(d)s::text[]) AS k(p, d) " + _RECEIPT_UPDATE,
            {"c": client_id, "r": now, "p": list(digests), "d": list(digests.values())},
        )
        return
    raw = conn.connection.driver_connection
    raw.executemany(  # type: ignore[union-attr]
        "INSERT INTO mqtt_receipts (client_id, packet_id, digest, received_ms) VALUES (?, ?, ?, ?) " + _RECEIPT_UPDATE,
        [(client_id, p, d, now) for p, d in digests.items()],
    )


# --------------------------------------------------------------------------- files

#: Readings per transaction when importing a file.
FILE_CHUNK = 20_000


def import_readings_file(
    db: str | None,
    path: str | Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = FILE_CHUNK,
) -> tuple[ReadingsFile, IngestResult]:
    """Import a CSV/XLSX readings file (long or wide layout) through the pipeline.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    path
        The file (see :mod:`carbonpark.ingest.files` for the layouts).
    on_progress
        Called with (data rows done, data rows in the file) after each chunk.
    chunk
        Readings per transaction: a failure leaves the chunks before it stored; importing
        the file again then counts those as duplicates. The periods the file touched are
        re-aggregated once, after the last chunk (:func:`drain_dirty`).

    Returns
    -------
    tuple
        The opened file (layout, columns) and the result; quarantine indexes count the
        file's readings in order from 0, and each quarantined row keeps its line number
        in its raw payload.
    """
    rf = open_readings(path)
    total = IngestResult()
    batch: list[RawReading] = []
    last_line = 1
    for line, reading in rf.readings():
        batch.append(reading)
        last_line = line
        if len(batch) >= chunk:
            total.add(ingest_readings(db, batch, channel="file", reaggregate=False), offset=total.sent)
            batch = []
            if on_progress is not None:
                on_progress(last_line - 1, rf.data_rows)
    if batch:
        total.add(ingest_readings(db, batch, channel="file", reaggregate=False), offset=total.sent)
    if on_progress is not None:
        on_progress(rf.data_rows, rf.data_rows)
    drain_dirty(db)  # once for the whole file; ranges of chunks committed before a failure stay queued
    return rf, total
