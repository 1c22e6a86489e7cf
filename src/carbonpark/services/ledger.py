"""The one attestation interface of carbonpark, the durable log, and its verification.

Every capability that writes data that must be trusted attests it here, **in its own
transaction** (a write that is rolled back is not attested, and an attestation that fails
rolls the write back)::

    from carbonpark.services.ledger import attest, attest_many, Attestation

    with session(db) as s:
        row = ...                                   # the capability's own rows, added to s
        s.flush()
        attest(s, "emission_record", ent.handle, row.handle, emission_payload(row))

``attest(target, kind, organisation, record, payload, *, timestamp_ms=None, signer=None,
signature=None)`` and ``attest_many(target, [Attestation(...), ...])`` append entries to the
RFC 6962 log (:mod:`carbonpark.ledger`). ``target`` is the caller's SQLAlchemy ``Session``
(or ``Connection``); a database URL opens a transaction of its own. The payload is
serialised by RFC 8785; ``Decimal`` amounts become strings, ``date``/``datetime`` ISO text.

So that ``carbonpark ledger verify`` can recompute every entry from the stored rows, a
capability that attests a kind also registers a :class:`Source` for it (at import of its
services module, or through the entry-point group ``carbonpark.ledger_sources``): a function
that yields ``(record, organisation, payload)`` for every record of that kind as the store
holds it now, built by the same payload function the capability attests with. A record that
is deleted through the platform is attested once more with :func:`attest_deletion`.

Attested here already: registry audit-log entries (automatically, by a session hook when an
:class:`~carbonpark.store.schema.AuditEntry` is committed), every committed ingest batch as
one entry ``ingest_batch:<id>`` and its corrections as ``reading_correction:<id>``
(:func:`attest_ingest_batch`, called by the ingest pipeline in the batch's transaction, from
the columns in memory), bulk-loaded readings by meter and local day (:func:`attest_readings`,
:func:`attest_unattested_readings`), the packaged factor-set versions
(:func:`attest_factor_sets`), and the key register (:func:`register_key`, :func:`revoke_key`).
The park's tree-head key stays outside the database (:func:`load_park_key`: a PEM file, or
``CARBONPARK_LEDGER_KEY``).

References
----------
RFC 6962 §2.1, §3.5; RFC 9162 §2.1.3–2.1.4, §8.2; RFC 8785; RFC 8032. Guide §3.2.2(2)1
(区块链存证, 多边可信数据链, 碳信用评价), §7.2 (碳核查). docs/ledger.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, event, func, inspect, select
from sqlalchemy.orm import Session

from carbonpark.errors import ConflictError, NotFoundError, ValidationError
from carbonpark.factors import default_library
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.attestation import Ledger, Receipt
from carbonpark.ledger.bundle import make_bundle
from carbonpark.ledger.canonical import canonical_json
from carbonpark.ledger.entries import (
    KEY_REGISTERED,
    KEY_REVOKED,
    Entry,
    EntrySignature,
    KeyRecord,
    SignatureCheck,
    check_signatures_indexed,
    key_registration,
    key_revocation,
    parse_entry,
)
from carbonpark.ledger.rating import TrustRecord
from carbonpark.ledger.readings import batch_payload, diff_batches
from carbonpark.ledger.signing import SignedTreeHead
from carbonpark.quality.flags import QualityFlag
from carbonpark.store import session
from carbonpark.store.readings import READINGS
from carbonpark.store.registry import as_dict
from carbonpark.store.schema import (
    AuditEntry,
    Base,
    BomLine,
    Calibration,
    Carrier,
    Device,
    EmissionSource,
    Enterprise,
    Material,
    Meter,
    Park,
    Product,
    Reading,
    Site,
    Statistic,
)
from carbonpark.store.schema_accounting import ActivityDatum
from carbonpark.store.schema_ingest import IngestBatch, ReadingCorrection
from carbonpark.store.schema_inventory import InventoryVersion, VerificationAssignment, VerificationStatement
from carbonpark.store.schema_ledger import (
    LedgerEntry,
    SqlEntryStore,
    SqlNodeStore,
    latest_head,
    load_heads,
    save_head,
)
from carbonpark.store.schema_trading import TradingAccount
from carbonpark.times import local_iso, zone

__all__ = [
    "ATTESTED_QUALITY_MASK",
    "DELETED",
    "LEDGER_KEY_ENV",
    "LEDGER_KEY_PASSWORD_ENV",
    "Attestation",
    "CorrectionItem",
    "Finding",
    "Source",
    "VerifyReport",
    "attest",
    "attest_audit_backlog",
    "attest_deletion",
    "attest_factor_sets",
    "attest_ingest_batch",
    "attest_many",
    "attest_readings",
    "audit_payload",
    "consistency",
    "factor_set_payloads",
    "head_json",
    "inclusion",
    "load_park_key",
    "park_handle",
    "proof_bundle",
    "public_keys",
    "reading_batches",
    "register_key",
    "register_source",
    "revoke_key",
    "sign",
    "sources",
    "verify",
]

LEDGER_KEY_ENV = "CARBONPARK_LEDGER_KEY"
"""Environment variable with the park's Ed25519 private key: PEM text, or the path of a PEM file."""
LEDGER_KEY_PASSWORD_ENV = "CARBONPARK_LEDGER_KEY_PASSWORD"
"""Environment variable with the password of an encrypted park key."""

DELETED: Mapping[str, Any] = {"deleted": True}
"""Payload of a record deleted through the platform (:func:`attest_deletion`)."""

KIND_READINGS = "reading_batch"
KIND_INGEST_BATCH = "ingest_batch"
KIND_CORRECTION = "reading_correction"
KIND_AUDIT = "audit_log_entry"
KIND_FACTOR_SET = "factor_set_version"

ATTESTED_QUALITY_MASK = 0x7FFF & ~int(
    QualityFlag.SUSPECT_SPIKE
    | QualityFlag.STUCK
    | QualityFlag.NEGATIVE_STEP
    | QualityFlag.ROLLOVER
    | QualityFlag.TIMESTAMP_SKEW
    | QualityFlag.IMBALANCE
    | QualityFlag.UNCALIBRATED
)
"""Quality bits an ingest batch attests: those that came with the reading. The bits the quality
checks own (``carbonpark.services.quality.CHECK_BITS``) are rewritten by every check run, so
they are left out of the digest: a check run is not a change of the data."""

_MAX_ROW_FINDINGS = 100

READING_LAYOUT = np.dtype([("ts_ms", ">i8"), ("value", ">f8"), ("quality", ">i2")])
"""Bytes a reading contributes to its batch digest: ts_ms int64, value float64, quality int16, big-endian."""

_VERIFY_CHUNK = 20_000
_DAY = 86_400_000


# ---------------------------------------------------------------------------- values


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO text and tuples as lists, ready for RFC 8785 (Decimals stay)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------------- the append path


@dataclass(frozen=True)
class Attestation:
    """One thing to attest (see :func:`attest` for the fields)."""

    kind: str
    organisation: str
    record: str
    payload: Mapping[str, Any]
    timestamp_ms: int | None = None
    signer: Ed25519PrivateKey | None = None
    signature: EntrySignature | None = None

    def entry(self, now_ms: int) -> Entry:
        entry = Entry(
            kind=self.kind,
            organisation=self.organisation,
            record=self.record,
            timestamp_ms=now_ms if self.timestamp_ms is None else self.timestamp_ms,
            payload=jsonable(self.payload),
            signature=self.signature,
        )
        return entry.signed(self.signer) if self.signer is not None else entry


Target = Session | Connection | str | None


@contextmanager
def _connection(target: Target) -> Iterator[Connection]:
    if isinstance(target, Session):
        yield target.connection()
    elif isinstance(target, Connection):
        yield target
    else:
        with session(target) as s:
            yield s.connection()


def _ledger(conn: Connection) -> Ledger:
    return Ledger(SqlEntryStore(conn), SqlNodeStore(conn))


def attest_many(target: Target, items: Iterable[Attestation | Entry]) -> list[Receipt]:
    """Append entries to the log in order, as one batch, in ``target``'s transaction.

    Parameters
    ----------
    target
        The caller's ``Session`` or ``Connection`` (the entries commit or roll back with
        its rows), or a database URL / SQLite path (a transaction of its own).
    items
        :class:`Attestation` objects, or ready :class:`~carbonpark.ledger.entries.Entry`
        objects (already signed when their organisation signs).

    Returns
    -------
    list of Receipt
        Leaf index, leaf hash and raw bytes of each entry.

    Notes
    -----
    One batch costs one ``executemany`` into ``ledger_entries``, one into ``ledger_nodes``
    and one update of the size; on PostgreSQL the state row is locked first, so appenders
    queue. The lock is held until the caller commits.
    """
    now = _now_ms()
    entries = [item if isinstance(item, Entry) else item.entry(now) for item in items]
    if not entries:
        return []
    with _connection(target) as conn:
        SqlNodeStore(conn).lock()
        return _ledger(conn).append_many(entries)


def attest(
    target: Target,
    kind: str,
    organisation: str,
    record: str,
    payload: Mapping[str, Any],
    *,
    timestamp_ms: int | None = None,
    signer: Ed25519PrivateKey | None = None,
    signature: EntrySignature | None = None,
) -> Receipt:
    """Append one entry to the log in ``target``'s transaction.

    Parameters
    ----------
    target
        The caller's ``Session``/``Connection``, or a database URL.
    kind
        What is attested: ``reading_batch``, ``activity_datum``, ``emission_record``,
        ``factor_set_version``, ``allowance_movement``, ``verification_statement``,
        ``audit_log_entry``, or a new lower-case name.
    organisation
        Handle of the organisation the record belongs to (the park's for park data).
    record
        Handle of the record (what ``carbonpark ledger proof RECORD`` takes); attesting the
        same record again records a new version, the latest one counts.
    payload
        The record's content as JSON values (``Decimal`` → string, dates → ISO text).
    timestamp_ms
        When the platform accepted it [ms since 1970 UTC]; now by default.
    signer
        The organisation's private key, when it signs here.
    signature
        A signature the organisation made itself over the statement (then pass the
        ``timestamp_ms`` it signed).
    """
    return attest_many(target, [Attestation(kind, organisation, record, payload, timestamp_ms, signer, signature)])[0]


def attest_deletion(target: Target, kind: str, organisation: str, record: str, reason: str = "") -> Receipt:
    """Attest that ``record`` was deleted through the platform (payload ``{"deleted": true, …}``)."""
    payload = dict(DELETED) | ({"reason": reason} if reason else {})
    return attest(target, kind, organisation, record, payload)


# ---------------------------------------------------------------------------- sources for verify


Explained = tuple[str, str | None, int | None]
"""One difference an explainer found: (words, meter handle or None, ts_ms or None)."""


@dataclass(frozen=True)
class Source:
    """How ``ledger verify`` recomputes one kind of entry from the stored rows.

    Attributes
    ----------
    kind
        The entry kind.
    rows
        ``rows(session)`` yields ``(record, organisation, payload)`` for every record of the
        kind as the store holds it now, with the payload the capability attests.
    description
        What the rows are (for reports).
    every_record_attested
        True when every record the rows give must have been attested (a stored record
        without an entry was inserted behind the platform); False for sources outside the
        database, such as the packaged factor library, of which only what was used is attested.
    explain
        Optional ``explain(session, record, attested, stored)``: what differs between the
        attested payload and the one rebuilt from the store (either None when absent), as
        ``(words, meter handle or None, ts_ms or None)`` tuples; ``ledger verify`` reports
        each as a finding of its own (reading batches name the meter and ts of each row).
    """

    kind: str
    rows: Callable[[Session], Iterable[tuple[str, str, Mapping[str, Any]]]]
    description: str = ""
    every_record_attested: bool = True
    explain: Callable[[Session, str, Mapping[str, Any] | None, Mapping[str, Any] | None], list[Explained]] | None = None


_SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> None:
    """Make ``ledger verify`` recompute entries of ``source.kind`` with ``source.rows``."""
    _SOURCES[source.kind] = source


#: Services that register their sources when imported. ``sources`` imports them, so that a caller
#: that never imported them (the CLI imports services lazily) still verifies their records.
_BUILTIN_SOURCE_MODULES = ("carbonpark.services.accounting", "carbonpark.services.trading")


def sources() -> dict[str, Source]:
    """The registered sources: built-in, and those of the entry-point group ``carbonpark.ledger_sources``."""
    for module in _BUILTIN_SOURCE_MODULES:
        import_module(module)
    for ep in entry_points(group="carbonpark.ledger_sources"):
        if ep.name not in _SOURCES:
            loaded = ep.load()
            register_source(loaded() if callable(loaded) and not isinstance(loaded, Source) else loaded)
    return dict(_SOURCES)


# ---------------------------------------------------------------------------- park, organisations


def park_handle(conn: Connection) -> str:
    """Handle of the (first) park, the organisation of park data; ``park`` before one exists."""
    handle = conn.execute(select(Park.handle).order_by(Park.id).limit(1)).scalar()
    return handle or "park"


def _park_tz(conn: Connection) -> str:
    return conn.execute(select(Park.timezone).order_by(Park.id).limit(1)).scalar() or "Asia/Shanghai"


# ---------------------------------------------------------------------------- audit-log entries


def audit_payload(row: AuditEntry | Mapping[str, Any] | Any) -> dict[str, Any]:
    """The payload attesting one audit-log row (all its columns)."""
    get = row.get if isinstance(row, Mapping) else (lambda name: getattr(row, name))
    return {
        "id": get("id"),
        "at_ms": get("at_ms"),
        "actor": get("actor"),
        "action": get("action"),
        "entity": get("entity"),
        "entity_id": get("entity_id"),
        "handle": get("handle"),
        "before": get("before"),
        "after": get("after"),
    }


def _audit_record(audit_id: int) -> str:
    return f"audit_log:{audit_id}"


def _audit_rows(s: Session) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    org = park_handle(s.connection())
    stmt = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=5000)
    for row in s.scalars(stmt):
        yield _audit_record(row.id), org, audit_payload(row)


register_source(Source(KIND_AUDIT, _audit_rows, "registry audit log (audit_log)"))

_PENDING = "carbonpark.ledger.pending_audit"


@event.listens_for(Session, "after_flush")
def _collect_audit_entries(s: Session, _ctx: Any) -> None:
    new = [obj for obj in s.new if isinstance(obj, AuditEntry)]
    if new:
        s.info.setdefault(_PENDING, []).extend(new)


@event.listens_for(Session, "before_commit")
def _attest_audit_entries(s: Session) -> None:
    """Attest the audit-log rows written in this transaction, just before it commits."""
    s.flush()
    pending: list[AuditEntry] = s.info.pop(_PENDING, [])
    if not pending:
        return
    conn = s.connection()
    org = park_handle(conn)
    attest_many(
        conn,
        [
            Attestation(KIND_AUDIT, org, _audit_record(row.id), audit_payload(row), timestamp_ms=row.at_ms)
            for row in sorted(pending, key=lambda r: r.id)
        ],
    )


@event.listens_for(Session, "after_rollback")
def _forget_audit_entries(s: Session) -> None:
    s.info.pop(_PENDING, None)


def attest_audit_backlog(target: Target) -> int:
    """Attest audit-log rows that have no entry yet (rows written before the ledger existed); return how many."""
    with _connection(target) as conn:
        attested = {r for (r,) in conn.execute(select(LedgerEntry.record).where(LedgerEntry.kind == KIND_AUDIT))}
        org = park_handle(conn)
        rows = conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).mappings().all()
        items = [
            Attestation(KIND_AUDIT, org, _audit_record(r["id"]), audit_payload(r), timestamp_ms=r["at_ms"])
            for r in rows
            if _audit_record(r["id"]) not in attested
        ]
        attest_many(conn, items)
        return len(items)


# ---------------------------------------------------------------------------- activity data


KIND_ACTIVITY = "activity_datum"
_PENDING_ACTIVITY = "carbonpark.ledger.pending_activity"
_DELETED_ACTIVITY = "carbonpark.ledger.deleted_activity"


def activity_record(datum_id: int) -> str:
    """Handle of an activity datum in the log: ``activity_datum:<id>``."""
    return f"activity_datum:{datum_id}"


def activity_payload(row: ActivityDatum) -> dict[str, Any]:
    """The payload attesting one ``activity_data`` row: every column, amounts as ``repr`` of the float.

    The amounts [in ``unit``] keep their exact binary value as shortest round-trip text, as the
    emission-record payload does (``services/accounting.py`` ``emission_payload``).
    """
    return {
        "id": row.id,
        "series": row.series,
        "enterprise_id": row.enterprise_id,
        "source_id": row.source_id,
        "meter_id": row.meter_id,
        "resolution": row.resolution,
        "period": row.period,
        "start_ms": int(row.start_ms),
        "end_ms": int(row.end_ms),
        "source_label": row.source_label,
        "activity": row.activity,
        "amount": repr(float(row.amount)),
        "unit": row.unit,
        "params": dict(row.params or {}),
        "origin": row.origin,
        "n_readings": int(row.n_readings or 0),
        "expected_readings": None if row.expected_readings is None else int(row.expected_readings),
        "estimated_amount": repr(float(row.estimated_amount or 0.0)),
        "flagged_amount": repr(float(row.flagged_amount or 0.0)),
        "computed_ms": int(row.computed_ms),
        "note": row.note or "",
    }


def _organisations(conn: Connection) -> dict[int, str]:
    """enterprise id → handle (or ``enterprise:<credit code>`` before it has one)."""
    return {
        int(i): str(h or f"enterprise:{c}")
        for i, h, c in conn.execute(select(Enterprise.id, Enterprise.handle, Enterprise.credit_code))
    }


def _activity_org(row: ActivityDatum, orgs: Mapping[int, str], park: str) -> str:
    return orgs.get(row.enterprise_id, park) if row.enterprise_id is not None else park


def _activity_rows(s: Session) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    conn = s.connection()
    orgs, park = _organisations(conn), park_handle(conn)
    stmt = select(ActivityDatum).order_by(ActivityDatum.id).execution_options(yield_per=5000)
    for row in s.scalars(stmt):
        yield activity_record(row.id), _activity_org(row, orgs, park), activity_payload(row)


def _explain_fields(
    _s: Session, record: str, attested: Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> list[Explained]:
    """Which fields of the payload differ from the attested ones, each as a finding of its own."""
    if attested is None or stored is None:
        return []
    got = jsonable(stored)
    names = sorted(k for k in set(attested) | set(got) if attested.get(k) != got.get(k))
    return [(f"{k}: attested {attested.get(k)!r}, stored {got.get(k)!r}", None, None) for k in names]


register_source(
    Source(KIND_ACTIVITY, _activity_rows, "activity data (activity_data), attested when written", True, _explain_fields)
)


@event.listens_for(Session, "after_flush")
def _collect_activity(s: Session, _ctx: Any) -> None:
    """Remember the activity data this flush added, changed or deleted (attested at commit)."""
    pending: dict[int, ActivityDatum] = s.info.setdefault(_PENDING_ACTIVITY, {})
    for obj in s.new:
        if isinstance(obj, ActivityDatum):
            pending[id(obj)] = obj
    for obj in s.dirty:
        if isinstance(obj, ActivityDatum) and s.is_modified(obj, include_collections=False):
            pending[id(obj)] = obj
    gone = [obj for obj in s.deleted if isinstance(obj, ActivityDatum)]
    if gone:
        deleted: dict[int, int | None] = s.info.setdefault(_DELETED_ACTIVITY, {})
        for obj in gone:
            pending.pop(id(obj), None)
            deleted[obj.id] = obj.enterprise_id


@event.listens_for(Session, "before_commit")
def _attest_activity(s: Session) -> None:
    """Attest, in the committing transaction, every activity datum written or deleted through the ORM.

    Whatever path writes ``activity_data`` (aggregation of metered sources, manual entry, the web
    upload, energy transfers) writes ORM rows in a session that commits, so one hook attests them
    all: one ``activity_datum`` entry per datum and commit, a tombstone for a deleted one.
    """
    if not s.info.get(_PENDING_ACTIVITY) and not s.info.get(_DELETED_ACTIVITY):
        return
    s.flush()
    pending: dict[int, ActivityDatum] = s.info.pop(_PENDING_ACTIVITY, {})
    deleted: dict[int, int | None] = s.info.pop(_DELETED_ACTIVITY, {})
    if not pending and not deleted:
        return
    conn = s.connection()
    orgs, park = _organisations(conn), park_handle(conn)
    rows = sorted(pending.values(), key=lambda r: r.id)
    items = [
        Attestation(KIND_ACTIVITY, _activity_org(row, orgs, park), activity_record(row.id), activity_payload(row))
        for row in rows
    ]
    items += [
        Attestation(
            KIND_ACTIVITY,
            orgs.get(ent, park) if ent is not None else park,
            activity_record(datum_id),
            dict(DELETED) | {"reason": "deleted through the platform"},
        )
        for datum_id, ent in sorted(deleted.items())
    ]
    attest_many(conn, items)


@event.listens_for(Session, "after_rollback")
def _forget_activity(s: Session) -> None:
    s.info.pop(_PENDING_ACTIVITY, None)
    s.info.pop(_DELETED_ACTIVITY, None)


def attest_activity_backlog(target: Target) -> int:
    """Attest activity data that have no entry yet (stored before activity data were attested); return how many.

    Only for a database that predates the attestation of activity data: what it attests is
    taken as stored now, so run it once, before the data could have been touched.
    """
    with _connection(target) as conn, Session(bind=conn) as s:
        attested = {r for (r,) in conn.execute(select(LedgerEntry.record).where(LedgerEntry.kind == KIND_ACTIVITY))}
        items = [
            Attestation(KIND_ACTIVITY, org, record, payload)
            for record, org, payload in _activity_rows(s)
            if record not in attested
        ]
        attest_many(conn, items)
        return len(items)


# ---------------------------------------------------------------------------- inventories and statements


KIND_INVENTORY_VERSION = "inventory_version"
KIND_STATEMENT = "verification_statement"


def _document_sha(doc: Any) -> str:
    """The SHA-256 [hex] the inventory service gives a document (``services/inventory.py`` ``_sha``)."""
    from carbonpark.services.inventory import _sha  # the one rule, where inventories are made

    return str(_sha(doc))


def _checked_sha(stored: str, doc: Any) -> str:
    """``stored`` when the document still hashes to it; otherwise text that can never equal an attested hash."""
    actual = _document_sha(doc)
    return stored if actual == stored else f"{stored} (stored document hashes to {actual})"


def _has_table(conn: Connection, name: str) -> bool:
    return bool(inspect(conn).has_table(name))


def _inventory_version_rows(s: Session) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every submitted (later verified or superseded) inventory version, as attested at submission.

    ``services/inventory.py`` attests ``inventory/<org>/<year>/v<version>`` with status
    ``submitted`` when the version is frozen; a draft is not attested. The sha256 must still be
    the hash of the stored ``detail`` (what it was computed from).
    """
    if not _has_table(s.connection(), InventoryVersion.__tablename__):
        return
    stmt = select(InventoryVersion).where(InventoryVersion.status != "draft").order_by(InventoryVersion.id)
    for v in s.scalars(stmt):
        sha = _checked_sha(v.sha256, v.detail)
        in_document = (v.document or {}).get("total_tco2e")
        if in_document is None or float(in_document) != float(v.total_tco2e):
            sha += f" (total_tco2e {v.total_tco2e!r} is not the document's {in_document!r})"
        payload = {"year": v.year, "version": v.version, "status": "submitted", "sha256": sha}
        yield f"inventory/{v.org}/{v.year}/v{v.version}", v.org, payload


def _statement_rows(s: Session) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every verification statement, as ``services/inventory.py`` attests it when it is issued.

    The opinion is the column (what the platform shows and the rating counts); ``sha256`` must
    still be the hash of the stored document, and ``material_findings`` is the document's.
    """
    if not _has_table(s.connection(), VerificationStatement.__tablename__):
        return
    stmt = (
        select(VerificationStatement, VerificationAssignment.org, VerificationAssignment.year, InventoryVersion.version)
        .join(VerificationAssignment, VerificationStatement.assignment_id == VerificationAssignment.id)
        .join(InventoryVersion, VerificationStatement.version_id == InventoryVersion.id)
        .order_by(VerificationStatement.id)
    )
    for row, org, year, version in s.execute(stmt):
        payload = {
            "year": year,
            "version": version,
            "opinion": row.opinion,
            "sha256": _checked_sha(row.sha256, row.document),
        }
        doc = row.document or {}
        if "material_findings" in doc:  # statements attested before the field existed have no such key
            payload["material_findings"] = doc["material_findings"]
        yield f"statement/{org}/{year}/{row.id}", org, payload


register_source(
    Source(
        KIND_INVENTORY_VERSION,
        _inventory_version_rows,
        "submitted inventory versions (inventory_versions)",
        True,
        _explain_fields,
    )
)
register_source(
    Source(KIND_STATEMENT, _statement_rows, "verification statements (verification_statements)", True, _explain_fields)
)


REGISTRY_MODELS: tuple[type[Base], ...] = (
    Park,
    Enterprise,
    Site,
    Device,
    Carrier,
    Meter,
    Calibration,
    EmissionSource,
    Material,
    Product,
    BomLine,
    Statistic,
)
"""Tables whose rows must equal the ``after`` of their latest audit-log entry (checked by verify)."""


# ---------------------------------------------------------------------------- readings: ingest batches


def _meter_info(conn: Connection) -> dict[int, tuple[str, str]]:
    """meter id → (meter handle, organisation handle)."""
    park = park_handle(conn)
    rows = conn.execute(
        select(Meter.id, Meter.handle, Enterprise.handle).outerjoin(Enterprise, Meter.enterprise_id == Enterprise.id)
    ).all()
    return {int(m): (h or f"meter:{m}", e or park) for m, h, e in rows}


def batch_record(batch_id: int) -> str:
    """The ledger record of an ingest batch: ``ingest_batch:<id>``."""
    return f"ingest_batch:{batch_id}"


def correction_record(batch_id: int) -> str:
    """The ledger record of the corrections an ingest batch sent: ``reading_correction:<id>``."""
    return f"reading_correction:{batch_id}"


def _day_of(ts_ms: int, tz: str) -> str:
    return str(_local_days(np.array([ts_ms], dtype=np.int64), tz)[0].astype("datetime64[D]"))


@dataclass(frozen=True)
class CorrectionItem:
    """One correction (or late reading) an ingest batch sent, as its correction entry lists it.

    Attributes
    ----------
    meter_id, ts_ms
        The reading corrected (UTC epoch ms).
    kind
        ``correction`` (a stored value replaced) or ``late`` (no value was stored).
    status
        ``applied`` (replaced in place, open period) or ``pending`` (locked period: waits for a
        new inventory version).
    value, quality
        The value sent [canonical unit] and its quality bits.
    old_value, old_quality
        The stored value and quality it replaces (None for a late reading).
    amends_batch
        The ingest batch the corrected reading had come in (None: bulk-loaded or not stored).
    """

    meter_id: int
    ts_ms: int
    kind: str
    status: str
    value: float
    quality: int
    old_value: float | None = None
    old_quality: int | None = None
    amends_batch: int | None = None


def correction_payload(
    batch_id: int, items: Iterable[CorrectionItem], handle_of: Callable[[int], str], tz: str
) -> dict[str, Any]:
    """The payload of ``reading_correction:<batch>``: every correction of the batch, naming what it amends.

    ``amends`` is ``ingest_batch:<id>`` for a reading that came through the pipeline, the
    day record ``<meter>@<YYYY-MM-DD>`` for a bulk-loaded one, None for a late reading.
    Quality bits are the attested ones (:data:`ATTESTED_QUALITY_MASK`).
    """
    rows = sorted(items, key=lambda c: (c.meter_id, c.ts_ms))
    out = []
    for c in rows:
        handle = handle_of(c.meter_id)
        if c.amends_batch is not None:
            amends: str | None = batch_record(c.amends_batch)
        elif c.old_value is not None:
            amends = f"{handle}@{_day_of(c.ts_ms, tz)}"
        else:
            amends = None
        out.append(
            {
                "meter": handle,
                "meter_id": int(c.meter_id),
                "ts_ms": int(c.ts_ms),
                "kind": c.kind,
                "status": "applied" if c.status == "applied" else "pending",
                "value": float(c.value) + 0.0,
                "quality": int(c.quality) & ATTESTED_QUALITY_MASK,
                "old_value": None if c.old_value is None else float(c.old_value) + 0.0,
                "old_quality": None if c.old_quality is None else int(c.old_quality) & ATTESTED_QUALITY_MASK,
                "amends": amends,
            }
        )
    return {"batch": int(batch_id), "count": len(out), "corrections": out}


def attest_ingest_batch(
    target: Session | Connection,
    *,
    batch_id: int,
    channel: str,
    meter_id: np.ndarray,
    ts_ms: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    meters: Mapping[int, tuple[str, str]],
    park: str,
    tz: str,
    corrections: Sequence[CorrectionItem] = (),
    timestamp_ms: int | None = None,
) -> list[Receipt]:
    """Attest one committed ingest batch in its own transaction, from the columns in memory.

    Appends ONE entry ``ingest_batch:<id>`` (kind ``ingest_batch``) for the rows the batch
    stored or corrected in place (payload :func:`carbonpark.ledger.readings.batch_payload`:
    count, first/last ts, meters, the SHA-256 of the canonical rows in (meter, ts) order and
    a locator per row), and, when the batch sent corrections, one entry
    ``reading_correction:<id>`` (:func:`correction_payload`). Nothing is read back from the
    store.

    Parameters
    ----------
    target
        The batch's transaction (the readings are in it; the entries commit or roll back with them).
    batch_id, channel
        The ``ingest_batches`` row and connector.
    meter_id, ts_ms, value, quality
        The rows stored or corrected by the batch, as columns (any order).
    meters
        Meter id → (meter handle, organisation handle) for every meter of the batch.
    park
        The park's handle: the organisation of a batch that spans several organisations.
    tz
        The park's time zone (day records of bulk-loaded readings a correction amends).
    corrections
        The batch's corrections and late readings (applied and pending).
    timestamp_ms
        Acceptance time [ms since 1970 UTC]; now by default.

    Returns
    -------
    list of Receipt
        Zero, one or two receipts: nothing is appended for a batch that stored nothing and
        corrected nothing (a redelivery of readings already stored).
    """
    ids = {int(m) for m in np.unique(meter_id).tolist()} | {c.meter_id for c in corrections}
    if not ids:
        return []
    orgs = {meters[m][1] for m in ids}
    org = orgs.pop() if len(orgs) == 1 else park
    now = _now_ms() if timestamp_ms is None else timestamp_ms

    def handle_of(m: int) -> str:
        return meters[m][0]

    entries: list[Attestation | Entry] = []
    if len(meter_id):
        q = np.asarray(quality, dtype=np.int64) & ATTESTED_QUALITY_MASK
        payload = batch_payload(batch_id, channel, meter_id, ts_ms, value, q, handle_of)
        entries.append(Entry(KIND_INGEST_BATCH, org, batch_record(batch_id), now, payload))
    if corrections:
        payload = correction_payload(batch_id, corrections, handle_of, tz)
        entries.append(Entry(KIND_CORRECTION, org, correction_record(batch_id), now, payload))
    return attest_many(target, entries)


@dataclass(frozen=True)
class _Amendment:
    """A stored reading an attested, applied correction moved out of its batch (or day)."""

    meter_id: int
    ts_ms: int
    value: float
    quality: int
    leaf_index: int


def _applied_amendments(conn: Connection) -> dict[str, list[_Amendment]]:
    """Record amended (batch or day) → the readings attested corrections took out of it, with their old values.

    Read from the attested ``reading_correction`` entries (the log, not the table, so a change
    of ``reading_corrections`` cannot hide one), the latest entry of each record.
    """
    latest: dict[str, tuple[int, bytes]] = {}
    stmt = (
        select(LedgerEntry.record, LedgerEntry.leaf_index, LedgerEntry.data)
        .where(LedgerEntry.kind == KIND_CORRECTION)
        .order_by(LedgerEntry.leaf_index)
    )
    for record, index, data in conn.execute(stmt):
        latest[str(record)] = (int(index), _raw(data))
    out: dict[str, list[_Amendment]] = {}
    for index, data in latest.values():
        try:
            items = json.loads(data)["payload"]["corrections"]
            for c in items:
                if c.get("status") == "applied" and c.get("amends") and c.get("old_value") is not None:
                    amendment = _Amendment(
                        int(c["meter_id"]), int(c["ts_ms"]), float(c["old_value"]), int(c["old_quality"] or 0), index
                    )
                    out.setdefault(str(c["amends"]), []).append(amendment)
        except (ValueError, KeyError, TypeError):
            continue  # a damaged entry: the log check names it
    return out


def _group_payload(
    batch_id: int,
    channel: str,
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    extra: list[_Amendment],
    meters: Mapping[int, tuple[str, str]],
) -> dict[str, Any]:
    m, t, v, q = (np.concatenate(cols) for cols in zip(*parts, strict=True)) if parts else (np.empty(0),) * 4
    if extra:
        m = np.r_[m, [a.meter_id for a in extra]]
        t = np.r_[t, [a.ts_ms for a in extra]]
        v = np.r_[v, [a.value for a in extra]]
        q = np.r_[q, [a.quality for a in extra]]
    q = np.asarray(q, dtype=np.int64) & ATTESTED_QUALITY_MASK
    return batch_payload(
        batch_id,
        channel,
        m.astype(np.int64),
        t.astype(np.int64),
        v.astype(np.float64),
        q,
        lambda mid: meters.get(mid, (f"meter:{mid}", ""))[0],
    )


def ingest_batch_payloads(s: Session) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(record, organisation, payload)`` of every ingest batch, rebuilt from the stored readings.

    The readings of each batch (``readings.batch_id``), plus the readings attested corrections
    moved out of it later, with their values before the correction. One pass over the readings
    that came through the pipeline, sorted by (batch, meter, ts).
    """
    conn = s.connection()
    meters = _meter_info(conn)
    park = park_handle(conn)
    channels = {int(i): str(c) for i, c in conn.execute(select(IngestBatch.id, IngestBatch.channel))}
    amended = {r: a for r, a in _applied_amendments(conn).items() if r.startswith("ingest_batch:")}
    r = READINGS.c
    result = conn.execution_options(stream_results=True, yield_per=100_000).execute(
        select(r.batch_id, r.meter_id, r.ts_ms, r.value, r.quality)
        .where(r.batch_id.is_not(None))
        .order_by(r.batch_id, r.meter_id, r.ts_ms)
    )

    def emit(batch: int, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[str, str, dict]:
        record = batch_record(batch)
        extra = amended.pop(record, [])
        payload = _group_payload(batch, channels.get(batch, "?"), parts, extra, meters)
        orgs = {meters.get(int(x["meter_id"]), ("", park))[1] for x in payload["meters"]}
        return record, (orgs.pop() if len(orgs) == 1 else park), payload

    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    current = None
    for part in result.partitions():
        b = np.fromiter((x[0] for x in part), dtype=np.int64, count=len(part))
        cols = (
            np.fromiter((x[1] for x in part), dtype=np.int64, count=len(part)),
            np.fromiter((x[2] for x in part), dtype=np.int64, count=len(part)),
            np.fromiter((x[3] for x in part), dtype=np.float64, count=len(part)),
            np.fromiter((x[4] for x in part), dtype=np.int64, count=len(part)),
        )
        cuts = np.flatnonzero(np.diff(b)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(b)], strict=True):
            batch = int(b[lo])
            if batch != current and pending:
                assert current is not None
                yield emit(current, pending)
                pending = []
            current = batch
            pending.append(tuple(c[lo:hi] for c in cols))  # type: ignore[arg-type]
    if pending and current is not None:
        yield emit(current, pending)
    for record in sorted(amended):  # every reading of the batch was corrected by a later batch
        yield emit(int(record.split(":", 1)[1]), [])


_ROW_WORDS = {
    "changed": "value or quality changed",
    "deleted": "deleted (attested, no longer stored)",
    "inserted": "inserted (stored, not attested in this batch)",
}


def _explain_batch(
    s: Session, record: str, attested: Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> list[Explained]:
    """Name each row of an ingest batch that differs: meter, ts (UTC ms and park-local time), what."""
    tz = _park_tz(s.connection())
    try:
        changes = diff_batches(attested, stored)
    except ValidationError as exc:
        return [(f"the attested payload is not a batch payload: {exc}", None, None)]
    out: list[Explained] = [
        (f"meter {c.meter} ts {c.ts_ms} ({local_iso(c.ts_ms, tz)}): {_ROW_WORDS[c.change]}", c.meter, c.ts_ms)
        for c in changes
    ]
    if not out and attested is not None and stored is not None:
        fields = sorted(k for k in set(attested) | set(stored) if attested.get(k) != stored.get(k))
        out.append((f"rows agree row by row, but {', '.join(fields)} differ", None, None))
    return out


register_source(
    Source(
        KIND_INGEST_BATCH,
        ingest_batch_payloads,
        "readings stored by each ingest batch (readings.batch_id)",
        explain=_explain_batch,
    )
)


def correction_payloads(s: Session) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(record, organisation, payload)`` of every batch's corrections, rebuilt from ``reading_corrections``.

    Rows written before migration ``ingest_0002`` (no batch) were never attested this way and
    are left out.
    """
    conn = s.connection()
    meters = _meter_info(conn)
    park = park_handle(conn)
    tz = _park_tz(conn)
    stmt = (
        select(ReadingCorrection)
        .where(ReadingCorrection.batch_id.is_not(None))
        .order_by(ReadingCorrection.batch_id, ReadingCorrection.meter_id, ReadingCorrection.ts_ms)
    )
    groups: dict[int, list[CorrectionItem]] = {}
    for row in s.scalars(stmt):
        groups.setdefault(int(row.batch_id or 0), []).append(
            CorrectionItem(
                row.meter_id,
                row.ts_ms,
                row.kind,
                row.status,
                row.new_value,
                row.quality,
                row.old_value,
                row.old_quality,
                row.amends_batch,
            )
        )
    for batch, items in groups.items():
        orgs = {meters.get(c.meter_id, ("", park))[1] for c in items}
        payload = correction_payload(batch, items, lambda m: meters.get(m, (f"meter:{m}", ""))[0], tz)
        yield correction_record(batch), (orgs.pop() if len(orgs) == 1 else park), payload


register_source(
    Source(
        KIND_CORRECTION, correction_payloads, "corrections and late readings of each ingest batch (reading_corrections)"
    )
)


# ---------------------------------------------------------------------------- readings by meter and day (bulk-loaded)


def _local_days(ts_ms: np.ndarray, tz: str) -> np.ndarray:
    """Local calendar day (days since 1970-01-01 in the park's zone) of each UTC ms timestamp."""
    local = pd.to_datetime(ts_ms, unit="ms", utc=True).tz_convert(tz).tz_localize(None)
    return np.asarray(local.to_numpy().astype("datetime64[D]").astype(np.int64))


def _batch_payload(meter: str, day: int, ts: np.ndarray, values: np.ndarray, quality: np.ndarray) -> dict[str, Any]:
    packed = np.empty(len(ts), dtype=READING_LAYOUT)
    packed["ts_ms"], packed["value"], packed["quality"] = ts, values, quality
    return {
        "meter": meter,
        "day": (date(1970, 1, 1) + timedelta(days=int(day))).isoformat(),
        "count": len(ts),
        "first_ts_ms": int(ts[0]),
        "last_ts_ms": int(ts[-1]),
        "sha256": hashlib.sha256(packed.tobytes()).hexdigest(),
    }


def _batches_of_meter(
    meter: str, org: str, ts: np.ndarray, values: np.ndarray, quality: np.ndarray, tz: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    days = _local_days(ts, tz)
    cuts = np.flatnonzero(np.diff(days)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ts)], strict=True):
        payload = _batch_payload(meter, int(days[lo]), ts[lo:hi], values[lo:hi], quality[lo:hi])
        yield f"{meter}@{payload['day']}", org, payload


def _day_bounds(day: str, tz: str) -> tuple[int, int]:
    start = int(pd.Timestamp(day).tz_localize(zone(tz)).timestamp() * 1000)
    end = int((pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(zone(tz)).timestamp() * 1000)
    return start, end


def _day_rows(conn: Connection, meter_id: int, day: str, tz: str) -> list[tuple[int, float, int]]:
    """The bulk-loaded readings (no ingest batch) of one meter on one park-local day, in time order."""
    start, end = _day_bounds(day, tz)
    r = READINGS.c
    return [
        (int(t), float(v), int(q))
        for t, v, q in conn.execute(
            select(r.ts_ms, r.value, r.quality)
            .where(r.meter_id == meter_id, r.ts_ms >= start, r.ts_ms < end, r.batch_id.is_(None))
            .order_by(r.ts_ms)
        )
    ]


def reading_batches(
    target: Session | Connection, meter_days: Iterable[tuple[int, str]] | None = None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(record, organisation, payload)`` of the day batches of bulk-loaded readings (one per meter and local day).

    Parameters
    ----------
    target
        Session or connection.
    meter_days
        ``(meter id, local ISO date)`` pairs to compute; every stored day when None.

    Notes
    -----
    The record is ``<meter handle>@<YYYY-MM-DD>``. The payload gives the meter, the day, the
    count, the first and last timestamps and ``sha256``, the SHA-256 of the day's readings in
    timestamp order, each packed as :data:`READING_LAYOUT` (18 bytes). Only readings without
    an ingest batch (``readings.batch_id`` NULL: the bulk path, or stored before migration
    ``ingest_0002``) count: those of an ingest batch are attested by the batch's own entry.
    Readings are read in primary-key order, so a full pass streams the table once.
    """
    conn = target.connection() if isinstance(target, Session) else target
    tz = _park_tz(conn)
    meters = _meter_info(conn)
    if meter_days is not None:
        for meter_id, day in sorted(set(meter_days)):
            rows = _day_rows(conn, meter_id, day, tz)
            if rows:
                arr = np.array(rows, dtype=float)
                meter, org = meters.get(meter_id, (f"meter:{meter_id}", park_handle(conn)))
                yield from _batches_of_meter(
                    meter, org, arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2].astype(np.int16), tz
                )
        return
    r = READINGS.c
    result = conn.execution_options(stream_results=True, yield_per=100_000).execute(
        select(r.meter_id, r.ts_ms, r.value, r.quality).where(r.batch_id.is_(None)).order_by(r.meter_id, r.ts_ms)
    )
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_meter = -1

    def flush() -> Iterator[tuple[str, str, dict[str, Any]]]:
        if not pending:
            return
        ts, values, quality = (np.concatenate(parts) for parts in zip(*pending, strict=True))
        pending.clear()
        meter, org = meters.get(pending_meter, (f"meter:{pending_meter}", park_handle(conn)))
        yield from _batches_of_meter(meter, org, ts, values, quality, tz)

    for part in result.partitions():
        ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
        ts = np.fromiter((r[1] for r in part), dtype=np.int64, count=len(part))
        values = np.fromiter((r[2] for r in part), dtype=np.float64, count=len(part))
        quality = np.fromiter((r[3] for r in part), dtype=np.int16, count=len(part))
        cuts = np.flatnonzero(np.diff(ids)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
            if int(ids[lo]) != pending_meter:
                yield from flush()
                pending_meter = int(ids[lo])
            pending.append((ts[lo:hi], values[lo:hi], quality[lo:hi]))
    yield from flush()


def _latest_leaves(conn: Connection, kind: str) -> dict[str, int]:
    """record → leaf index of its latest entry of ``kind``."""
    stmt = select(LedgerEntry.record, func.max(LedgerEntry.leaf_index)).where(LedgerEntry.kind == kind)
    return {str(r): int(i) for r, i in conn.execute(stmt.group_by(LedgerEntry.record))}


def _day_batch_rows(s: Session) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The day batches as the store holds them, with readings that attested corrections moved out put back.

    A correction applied to a bulk-loaded reading moves it into the correcting ingest batch;
    the day's entry attested before that correction still counts it, with its old value.
    """
    conn = s.connection()
    tz = _park_tz(conn)
    latest = _latest_leaves(conn, KIND_READINGS)
    amended: dict[str, list[_Amendment]] = {}
    for record, items in _applied_amendments(conn).items():
        after = [a for a in items if "@" in record and a.leaf_index > latest.get(record, -1)]
        if after:
            amended[record] = after
    for record, org, payload in reading_batches(conn):
        if record not in amended:
            yield record, org, payload
    meters = _meter_info(conn)
    for record, extra in sorted(amended.items()):
        meter_id = extra[0].meter_id
        day = record.rsplit("@", 1)[1]
        rows = _day_rows(conn, meter_id, day, tz) + [(a.ts_ms, a.value, a.quality) for a in extra]
        rows.sort()
        arr = np.array(rows, dtype=float)
        meter, org = meters.get(meter_id, (f"meter:{meter_id}", park_handle(conn)))
        yield from _batches_of_meter(meter, org, arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2].astype(np.int16), tz)


def _explain_day(
    s: Session, record: str, attested: Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> list[Explained]:
    """A day batch holds no per-row locators: name its meter, the count and the first and last ts."""
    tz = _park_tz(s.connection())
    meter = record.rsplit("@", 1)[0]

    def span(p: Mapping[str, Any]) -> str:
        first, last = int(p["first_ts_ms"]), int(p["last_ts_ms"])
        when = f"ts {first} ({local_iso(first, tz)})"
        return when if first == last else f"{when} to {last} ({local_iso(last, tz)})"

    try:
        if attested is None and stored is not None:
            return [(f"meter {meter}: {stored['count']} reading(s), {span(stored)}", meter, int(stored["first_ts_ms"]))]
        if stored is None and attested is not None:
            return [(f"meter {meter}: {attested['count']} reading(s), {span(attested)}", meter, None)]
        if attested is not None and stored is not None:
            words = (
                f"meter {meter}: attested {attested['count']} reading(s), {span(attested)}; stored {stored['count']}"
            )
            return [(words + f", {span(stored)}", meter, None)]
    except (KeyError, TypeError, ValueError):
        return []
    return []


register_source(
    Source(
        KIND_READINGS,
        _day_batch_rows,
        "bulk-loaded meter readings by meter and local day (readings without an ingest batch)",
        explain=_explain_day,
    )
)


def attest_readings(
    target: Session | Connection,
    rows: Iterable[Sequence[Any]],
    *,
    timestamp_ms: int | None = None,
) -> list[Receipt]:
    """Attest the day batches touched by bulk-loaded readings (meter × park-local day).

    For readings stored outside the ingest pipeline (the bulk path, :func:`carbonpark.store.insert_readings`
    or the ORM), which carry no ingest batch. The pipeline attests its own batches with
    :func:`attest_ingest_batch` and does not call this.

    Parameters
    ----------
    target
        The transaction that stored the readings (flushed), so the day batches are recomputed
        from the stored rows, including readings of the same day stored earlier.
    rows
        The stored readings, ``(meter_id, ts_ms, …)`` tuples (extra fields are ignored).
    timestamp_ms
        Acceptance time; now by default.

    Returns
    -------
    list of Receipt
        One per (meter, local day) touched that holds bulk-loaded readings: a new version of
        that day's batch.
    """
    conn = target.connection() if isinstance(target, Session) else target
    tz = _park_tz(conn)
    pairs: dict[int, set[int]] = {}
    for row in rows:
        pairs.setdefault(int(row[0]), set()).add(int(row[1]))
    keys: set[tuple[int, str]] = set()
    for meter_id, stamps in pairs.items():
        for day in set(_local_days(np.fromiter(stamps, dtype=np.int64), tz).tolist()):
            keys.add((meter_id, (date(1970, 1, 1) + timedelta(days=int(day))).isoformat()))
    items = [Attestation(KIND_READINGS, org, rec, p, timestamp_ms) for rec, org, p in reading_batches(conn, keys)]
    return attest_many(conn, items)


# ---------------------------------------------------------------------------- factor sets


def factor_set_payloads() -> Iterator[tuple[str, dict[str, Any]]]:
    """``(record, payload)`` of each packaged factor set: its files and their SHA-256 (the version)."""
    data = files("carbonpark.factors").joinpath("data")
    for info in default_library().factor_sets():
        if info.kind == "user":
            continue
        digests = {name: hashlib.sha256(data.joinpath(name).read_bytes()).hexdigest() for name in info.files}
        yield (
            f"factor_set:{info.name}",
            {"name": info.name, "kind": info.kind, "description": info.description, "files": digests},
        )


def _factor_rows(s: Session) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    org = park_handle(s.connection())
    for record, payload in factor_set_payloads():
        yield record, org, payload


register_source(Source(KIND_FACTOR_SET, _factor_rows, "packaged factor-set data files (carbonpark.factors)", False))


def attest_factor_sets(target: Target) -> list[Receipt]:
    """Attest the packaged factor-set versions whose content is not attested yet (or changed)."""
    with _connection(target) as conn:
        org = park_handle(conn)
        latest = _latest_payloads(conn, KIND_FACTOR_SET)
        items = [
            Attestation(KIND_FACTOR_SET, org, record, payload)
            for record, payload in factor_set_payloads()
            if latest.get(record) != canonical_json(payload)
        ]
        return attest_many(conn, items)


# ---------------------------------------------------------------------------- keys


def _pem_text(text: str) -> bytes:
    if "-----BEGIN" in text:
        return text.encode("ascii")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValidationError(LEDGER_KEY_ENV, "PEM text of an Ed25519 private key, or the path of a PEM file", text)
    return path.read_bytes()


def load_park_key(path: Path | str | None = None) -> Ed25519PrivateKey:
    """The park's tree-head key: from ``path``, else ``$CARBONPARK_LEDGER_KEY`` (PEM text or a file path).

    The key is never stored in the database. An encrypted key's password comes from
    ``$CARBONPARK_LEDGER_KEY_PASSWORD``.
    """
    if path is not None:
        pem = Path(path).expanduser().read_bytes()
    elif os.environ.get(LEDGER_KEY_ENV):
        pem = _pem_text(os.environ[LEDGER_KEY_ENV])
    else:
        raise ValidationError(
            "park key", f"--key FILE or the environment variable {LEDGER_KEY_ENV} (PEM text or a file path)", None
        )
    password = os.environ.get(LEDGER_KEY_PASSWORD_ENV)
    return signing.load_private_key(pem, password.encode("utf-8") if password else None)


def _key_entries(conn: Connection) -> Iterator[tuple[int, Entry]]:
    stmt = (
        select(LedgerEntry.leaf_index, LedgerEntry.data)
        .where(LedgerEntry.kind.in_((KEY_REGISTERED, KEY_REVOKED)))
        .order_by(LedgerEntry.leaf_index)
    )
    for index, data in conn.execute(stmt):
        try:
            yield int(index), parse_entry(_raw(data))
        except ValidationError:
            continue  # a damaged key entry registers nothing; ledger verify reports it


def _raw(data: Any) -> bytes:
    """A stored entry as bytes (an SQL client may have written text into the blob)."""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def key_register(conn: Connection) -> dict[str, KeyRecord]:
    """Every key the log registered, by key id, with revocations applied (replayed in log order)."""
    return check_signatures_indexed(_key_entries(conn)).keys


def register_key(
    target: Target,
    organisation: str,
    public_key: Ed25519PublicKey | Ed25519PrivateKey,
    role: str = "submitter",
    replaces: str | None = None,
) -> Receipt:
    """Record a key of ``organisation`` in the log (``replaces``: the key it rotates out)."""
    if role not in ("submitter", "park", "verifier", "witness"):
        raise ValidationError("role", "submitter, park, verifier or witness", role)
    with _connection(target) as conn:
        keys = key_register(conn)
        kid = signing.key_id(public_key)
        if kid in keys:
            raise ConflictError(f"key {kid} is already registered (for {keys[kid].organisation})")
        if replaces is not None and (replaces not in keys or keys[replaces].organisation != organisation):
            raise ValidationError("replaces", f"a key id registered for {organisation}", replaces)
        return attest_many(conn, [key_registration(organisation, public_key, _now_ms(), role, replaces)])[0]


def revoke_key(target: Target, organisation: str, key_id: str, reason: str) -> Receipt:
    """Record in the log that ``key_id`` of ``organisation`` is revoked from now on."""
    with _connection(target) as conn:
        keys = key_register(conn)
        known = keys.get(key_id)
        if known is None or known.organisation != organisation:
            raise ValidationError("key_id", f"a key id registered for {organisation}", key_id)
        if known.revoked_at is not None:
            raise ConflictError(f"key {key_id} was already revoked at leaf {known.revoked_at}")
        return attest_many(conn, [key_revocation(organisation, key_id, _now_ms(), reason)])[0]


def public_keys(target: Target) -> list[dict[str, Any]]:
    """The key register: every key with its organisation, role, PEM and the leaves that started and ended it."""
    with _connection(target) as conn:
        return [
            {
                "key_id": k.key_id,
                "organisation": k.organisation,
                "role": k.role,
                "public_key": signing.public_key_pem(k.public_key).decode("ascii"),
                "registered_at_leaf": k.registered_at,
                "revoked_at_leaf": k.revoked_at,
            }
            for k in key_register(conn).values()
        ]


def _park_key_valid(keys: dict[str, KeyRecord], key_id: str, size: int) -> KeyRecord | None:
    """The registered park key ``key_id`` if it was valid for a head of ``size`` entries."""
    k = keys.get(key_id)
    if k is None or k.role != "park" or k.registered_at >= size:
        return None
    if k.revoked_at is not None and k.revoked_at < size - 1:
        return None
    return k


# ---------------------------------------------------------------------------- signed tree heads


def sign(target: Target, key: Ed25519PrivateKey, timestamp_ms: int | None = None) -> SignedTreeHead:
    """Sign the current tree head with the park's key and store it; register the key in the log first if new.

    The key's registration (role ``park``, organisation the park's handle) is itself an entry,
    so it is covered by the head it signs.
    """
    with _connection(target) as conn:
        keys = key_register(conn)
        kid = signing.key_id(key)
        if kid not in keys:
            register_key(conn, park_handle(conn), key, role="park")
        elif keys[kid].role != "park" or keys[kid].revoked_at is not None:
            raise ValidationError("park key", "a registered, unrevoked park key", kid)
        SqlNodeStore(conn).lock()
        ledger = _ledger(conn)
        sth = ledger.sign_head(key, _now_ms() if timestamp_ms is None else timestamp_ms)
        save_head(conn, sth)
        return sth


def head_json(target: Target) -> dict[str, Any]:
    """The latest signed tree head as JSON (NotFoundError when none was signed yet)."""
    with _connection(target) as conn:
        sth = latest_head(conn)
        if sth is None:
            raise NotFoundError("signed tree head", "(latest): run 'carbonpark ledger sign' first")
        return sth.to_json()


# ---------------------------------------------------------------------------- proofs


def _find_record(conn: Connection, record: str, kind: str | None) -> tuple[int, str]:
    stmt = select(LedgerEntry.leaf_index, LedgerEntry.kind).where(LedgerEntry.record == record)
    if kind:
        stmt = stmt.where(LedgerEntry.kind == kind)
    row = conn.execute(stmt.order_by(LedgerEntry.leaf_index.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError("ledger record", record)
    return int(row[0]), str(row[1])


def inclusion(target: Target, record: str, kind: str | None = None, size: int | None = None) -> dict[str, Any]:
    """The inclusion proof of the latest entry of ``record`` in the tree of ``size`` (the latest signed head)."""
    with _connection(target) as conn:
        index, _ = _find_record(conn, record, kind)
        sth = latest_head(conn)
        tree = size if size is not None else (sth.head.size if sth else SqlNodeStore(conn).size())
        if index >= tree:
            raise ValidationError(
                "record", f"a record attested before the tree of size {tree} (sign a new head)", record
            )
        ledger = _ledger(conn)
        data = ledger.entries.get_entries(index, index + 1)[0]
        return {
            "record": record,
            "leaf_index": index,
            "tree_size": tree,
            "entry": signing.b64encode(data),
            "leaf_hash": signing.b64encode(merkle.leaf_hash(data)),
            "inclusion_proof": [signing.b64encode(p) for p in ledger.log.inclusion_proof(index, tree)],
            "root": signing.b64encode(ledger.log.root(tree)),
        }


def consistency(target: Target, first: int, second: int | None = None) -> dict[str, Any]:
    """The consistency proof between tree sizes ``first`` and ``second`` (the current size by default)."""
    with _connection(target) as conn:
        log = _ledger(conn).log
        second = log.size if second is None else second
        if not 0 <= first <= second <= log.size:
            raise ValidationError("first, second", f"sizes with 0 ≤ first ≤ second ≤ {log.size}", (first, second))
        return {
            "first": first,
            "second": second,
            "first_root": signing.b64encode(log.root(first)),
            "second_root": signing.b64encode(log.root(second)),
            "consistency_proof": [signing.b64encode(p) for p in log.consistency_proof(first, second)],
        }


def proof_bundle(target: Target, record: str, kind: str | None = None) -> dict[str, Any]:
    """The self-contained proof bundle of ``record`` under the latest signed head (docs/ledger.md §4)."""
    with _connection(target) as conn:
        index, found_kind = _find_record(conn, record, kind)
        sth = latest_head(conn)
        if sth is None or index >= sth.head.size:
            raise ValidationError(
                "record", "a record covered by a signed tree head (run 'carbonpark ledger sign')", record
            )
        key = key_register(conn).get(sth.key_id)
        if key is None:
            raise NotFoundError("park key", sth.key_id)
        ledger = _ledger(conn)
        entry = ledger.entries.get_entries(index, index + 1)[0]
        bundle = make_bundle(
            entry,
            index,
            ledger.log.inclusion_proof(index, sth.head.size),
            sth,
            signing.public_key_pem(key.public_key),
        )
        return {**bundle, "kind": found_kind, "record": record}


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Finding:
    """One thing ``ledger verify`` found wrong: which record, of which kind, what (and which reading, when located)."""

    kind: str
    record: str
    problem: str
    leaf_index: int | None = None
    meter: str | None = None
    ts_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "record": self.record,
            "problem": self.problem,
            "leaf_index": self.leaf_index,
        }
        if self.meter is not None:  # a reading located inside its batch
            doc["meter"] = self.meter
        if self.ts_ms is not None:
            doc["ts_ms"] = self.ts_ms
        return doc


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`; ``ok`` only when every check passed."""

    ok: bool = False
    tree_size: int = 0
    entries_stored: int = 0
    signed_tree_size: int | None = None
    head: dict[str, Any] | None = None
    park_key_id: str | None = None
    key_source: str = ""
    checked: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "entries_stored": self.entries_stored,
            "signed_tree_size": self.signed_tree_size,
            "head": self.head,
            "park_key_id": self.park_key_id,
            "key_source": self.key_source,
            "checked": dict(self.checked),
            "findings": [f.to_json() for f in self.findings],
            "warnings": list(self.warnings),
        }


def _latest_payloads(conn: Connection, kind: str) -> dict[str, bytes]:
    """record → canonical payload bytes of its latest entry of ``kind``."""
    out: dict[str, bytes] = {}
    stmt = select(LedgerEntry.record, LedgerEntry.data).where(LedgerEntry.kind == kind).order_by(LedgerEntry.leaf_index)
    for record, data in conn.execute(stmt):
        try:
            doc = json.loads(data if isinstance(data, str) else bytes(data))
            out[str(record)] = canonical_json(doc["payload"])
        except (ValueError, KeyError, TypeError, ValidationError):
            out[str(record)] = b"<unreadable entry>"
    return out


def _check_log(conn: Connection, report: VerifyReport, pinned: Ed25519PublicKey | None) -> SignedTreeHead | None:
    """Entries against leaf hashes, the node store against every signed head, the head signatures."""
    entries, nodes = SqlEntryStore(conn), SqlNodeStore(conn)
    size = nodes.size()
    report.tree_size, report.entries_stored = size, entries.count()
    log = _ledger(conn).log
    records: dict[int, tuple[str, str]] = {}
    keys = SignatureCheck()
    bad_leaves = 0
    top = conn.execute(select(func.max(LedgerEntry.leaf_index))).scalar()
    last = max(size, -1 if top is None else int(top) + 1)
    for start in range(0, last, _VERIFY_CHUNK):
        stop = min(start + _VERIFY_CHUNK, last)
        stored = log.leaf_hashes(start, min(stop, size)) if start < size else []
        present = set()
        for index, kind, record, org, ts, data in entries.iter_rows(start, stop):
            present.add(index)
            if index >= size:
                report.findings.append(Finding(kind, record, f"entry {index} lies beyond the log's size {size}", index))
                continue
            records[index] = (kind, record)
            if merkle.leaf_hash(data) != stored[index - start]:
                bad_leaves += 1
                report.findings.append(Finding(kind, record, f"entry {index} differs from what was attested", index))
            try:
                entry = parse_entry(data)
            except ValidationError as exc:
                report.findings.append(Finding(kind, record, f"entry {index} is not a canonical entry: {exc}", index))
                continue
            if (entry.kind, entry.record, entry.organisation, entry.timestamp_ms) != (kind, record, org, ts):
                report.findings.append(
                    Finding(kind, record, f"entry {index}: its look-up columns differ from the attested entry", index)
                )
            keys.add(index, entry)
        for missing in sorted(set(range(start, min(stop, size))) - present):
            report.findings.append(Finding("?", "?", f"entry {missing} is missing from ledger_entries", missing))
    report.checked["entries"] = len(records)
    report.checked["entry_signatures"] = sum(keys.signed_by_organisation.values())
    for index, record, problem in keys.findings:
        kind = records.get(index, ("?", record))[0]
        report.findings.append(Finding(kind, record, problem, index))
    heads = load_heads(conn)
    if not heads:
        report.findings.append(Finding("tree_head", "-", "no signed tree head: run 'carbonpark ledger sign'"))
        return None
    latest = heads[-1]
    for sth in heads:
        key = _park_key_valid(keys.keys, sth.key_id, sth.head.size)
        label = f"tree head of size {sth.head.size} at {sth.head.timestamp_ms}"
        if pinned is not None and sth is latest and sth.key_id != signing.key_id(pinned):
            report.findings.append(Finding("tree_head", label, "signed by a key other than the park key given"))
            continue
        public: Ed25519PublicKey | None = key.public_key if key is not None else None
        if pinned is not None and sth.key_id == signing.key_id(pinned):
            public = pinned
        if public is None:
            report.findings.append(Finding("tree_head", label, f"signed by key {sth.key_id[:12]}…, not a park key"))
        elif not signing.verify_tree_head(public, sth):
            report.findings.append(Finding("tree_head", label, "signature does not verify"))
        elif sth.head.size > size:
            report.findings.append(Finding("tree_head", label, f"covers {sth.head.size} entries, the log has {size}"))
        elif log.root(sth.head.size) != sth.head.root:
            report.findings.append(Finding("tree_head", label, "the stored tree no longer has this head's root"))
    report.checked["tree_heads"] = len(heads)
    report.signed_tree_size, report.head = latest.head.size, latest.to_json()
    report.park_key_id = latest.key_id
    report.key_source = "given (pinned)" if pinned is not None else "the park key registered in the log"
    if pinned is None:
        report.warnings.append(
            "the park key was taken from the log itself; pin it with --public-key (or the park key in the "
            "environment) and compare heads with a witness"
        )
    if latest.head.size <= report.entries_stored and not bad_leaves and not report.findings:
        tamper = _ledger(conn).verify(latest.head)
        if not tamper.ok:
            where = tamper.first_bad_index
            kind, record = records.get(where, ("?", "?")) if where is not None else ("?", "?")
            report.findings.append(Finding(kind, record, "; ".join(tamper.problems), where))
    if size > latest.head.size:
        report.warnings.append(f"{size - latest.head.size} entries appended after the latest signed head")
    return latest


def _is_tombstone(payload: bytes) -> bool:
    return payload.startswith(b'{"deleted":true')


def _report_difference(
    s: Session,
    report: VerifyReport,
    source: Source,
    record: str,
    problem: str,
    want: bytes | None,
    got: Mapping[str, Any] | None,
) -> None:
    """One finding for ``record``, or one per reading the source's explainer locates (at most 100, then a count)."""
    details: list[Explained] = []
    if source.explain is not None:
        try:
            attested = json.loads(want) if want is not None else None
        except ValueError:
            attested = None
        if want is None or attested is not None:
            details = source.explain(s, record, attested, got)
    if not details:
        report.findings.append(Finding(source.kind, record, problem))
        return
    for words, meter, ts in details[:_MAX_ROW_FINDINGS]:
        report.findings.append(Finding(source.kind, record, f"{problem}: {words}", meter=meter, ts_ms=ts))
    if len(details) > _MAX_ROW_FINDINGS:
        more = len(details) - _MAX_ROW_FINDINGS
        report.findings.append(Finding(source.kind, record, f"{problem}: {more} more reading(s) differ"))


def _check_sources(s: Session, report: VerifyReport) -> None:
    conn = s.connection()
    for kind, source in sorted(sources().items()):
        attested = _latest_payloads(conn, kind)
        seen: set[str] = set()
        n = 0
        for record, _org, payload in source.rows(s):
            n += 1
            seen.add(record)
            want = attested.get(record)
            got = canonical_json(jsonable(payload))
            if want is None:
                if not source.every_record_attested:
                    continue
                problem = "stored but not attested (inserted behind the platform, or its ledger entry was deleted)"
                _report_difference(s, report, source, record, problem, None, payload)
            elif _is_tombstone(want):
                report.findings.append(Finding(kind, record, "stored but attested as deleted"))
            elif want != got:
                problem = "stored data differ from what was attested (changed)"
                _report_difference(s, report, source, record, problem, want, payload)
        for record, want in attested.items():
            if record not in seen and not _is_tombstone(want):
                _report_difference(s, report, source, record, "attested but no longer stored (deleted)", want, None)
        report.checked[kind] = n


def _check_registry_state(s: Session, report: VerifyReport) -> None:
    """Each registry row must equal the ``after`` of its latest audit-log entry (a delete: be gone)."""
    last: dict[tuple[str, int], AuditEntry] = {}
    for row in s.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=5000)):
        if row.entity_id is not None:
            last[(row.entity, row.entity_id)] = row
    n = 0
    for model in REGISTRY_MODELS:
        table = model.__tablename__
        present: set[int] = set()
        for obj in s.scalars(select(model)):
            n += 1
            oid = obj.id  # type: ignore[attr-defined]
            present.add(oid)
            name = getattr(obj, "handle", None) or f"{table}:{oid}"
            entry = last.get((table, oid))
            if entry is None or entry.action == "delete":
                report.findings.append(
                    Finding(
                        "registry", name, f"{table} row {oid} has no audit-log history (inserted behind the platform)"
                    )
                )
            elif canonical_json(jsonable(entry.after)) != canonical_json(jsonable(as_dict(obj))):
                report.findings.append(
                    Finding(
                        "registry",
                        name,
                        f"{table} row {oid} differs from its last audited state (audit_log:{entry.id})",
                    )
                )
        for (entity, oid), entry in last.items():
            if entity == table and oid not in present and entry.action != "delete":
                report.findings.append(
                    Finding("registry", entry.handle or f"{table}:{oid}", f"{table} row {oid} deleted without audit")
                )
    report.checked["registry_rows"] = n


KIND_MOVEMENT = "allowance_movement"


def _attested_balances(conn: Connection) -> tuple[dict[str, Decimal], list[str]]:
    """Each account's balance [asset unit] replayed from the latest attested movements; unreadable records.

    A movement's ``debit`` account receives ``amount`` and its ``credit`` account gives it
    (``services/trading.py`` ``movement_payload``); account codes are ``holder/asset/pocket``.
    """
    balances: dict[str, Decimal] = {}
    unreadable: list[str] = []
    for record, data in _latest_payloads(conn, KIND_MOVEMENT).items():
        if _is_tombstone(data):
            continue
        try:
            doc = json.loads(data)
            amount = Decimal(str(doc["amount"]))
            debit, credit = str(doc["debit"]), str(doc["credit"])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            unreadable.append(record)
            continue
        balances[debit] = balances.get(debit, Decimal(0)) + amount
        balances[credit] = balances.get(credit, Decimal(0)) - amount
    return balances, unreadable


def _check_balances(s: Session, report: VerifyReport) -> None:
    """Every ``trading_accounts`` balance must equal the sum of its attested movements.

    Movements are attested one by one; a balance changed with an SQL client (or a movement row
    deleted with its balance left) shows here, named by the account code ``holder/asset/pocket``.
    """
    conn = s.connection()
    if not _has_table(conn, TradingAccount.__tablename__):
        return
    expected, unreadable = _attested_balances(conn)
    for record in unreadable:
        report.findings.append(Finding(KIND_MOVEMENT, record, "attested movement without a readable amount/accounts"))
    stored: dict[str, Decimal] = {}
    for holder, asset, pocket, balance in conn.execute(
        select(TradingAccount.holder, TradingAccount.asset, TradingAccount.pocket, TradingAccount.balance)
    ):
        code = f"{holder}/{asset}/{pocket}"
        stored[code] = stored.get(code, Decimal(0)) + Decimal(str(balance))
    for code in sorted(set(stored) | set(expected)):
        want, got = expected.get(code, Decimal(0)), stored.get(code)
        if got is None:
            if want != 0:
                report.findings.append(
                    Finding("trading_account", code, f"account missing; its attested movements sum to {want}")
                )
        elif got != want:
            report.findings.append(
                Finding(
                    "trading_account",
                    code,
                    f"balance {got} differs from the sum of its attested movements {want} (by {got - want})",
                )
            )
    report.checked["trading_accounts"] = len(stored)


def verify(db: str | None, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Recompute every entry from the stored rows and check the log against its signed heads.

    Checks, in one read-only transaction:

    1. every stored entry is canonical, its leaf hash equals the stored one, nothing is
       missing or beyond the log's size, and its look-up columns match it;
    2. every signed tree head verifies under a park key valid at that size (or the pinned
       ``public_key``) and the stored tree still has its root; the entries reproduce the
       latest head (:func:`carbonpark.ledger.tamper.locate_tampering` locates a change);
    3. entry signatures against the key register replayed from the log;
    4. for each registered :class:`Source`, the payload recomputed from the stored rows
       equals the latest attested one: a row changed, deleted or inserted behind the
       platform is reported by record;
    5. every trading account's balance equals the sum of its attested movements;
    6. every registry row equals the state its latest audit-log entry recorded.

    Returns
    -------
    VerifyReport
        ``ok`` only when nothing was found.
    """
    report = VerifyReport()
    with session(db) as s:
        conn = s.connection()
        if public_key is None and os.environ.get(LEDGER_KEY_ENV):
            public_key = load_park_key().public_key()
        _check_log(conn, report, public_key)
        _check_sources(s, report)
        _check_balances(s, report)
        _check_registry_state(s, report)
    report.ok = not report.findings
    return report


# ---------------------------------------------------------------------------- attesting what is not yet attested


def attest_unattested_readings(
    target: Target,
    timestamp_of: Callable[[dict[str, Any]], int] | None = None,
    signers: Mapping[str, Ed25519PrivateKey] | None = None,
) -> int:
    """Attest every reading batch whose stored rows are not yet attested as they are; return how many.

    For a store filled by the bulk path (``carbonpark demo``) rather than the ingest pipeline.
    It attests what the store holds *now*, so run it only where the data are known good (the
    demo does, right after generating them): afterwards only ``ledger verify`` tells changes.

    Parameters
    ----------
    target
        Session, connection or database URL.
    timestamp_of
        Acceptance time of a batch from its payload; now by default.
    signers
        Organisation handle → its private key, for organisations that sign their batches.
    """
    with _connection(target) as conn:
        latest = _latest_payloads(conn, KIND_READINGS)
        signers = signers or {}
        items = [
            Attestation(
                KIND_READINGS,
                org,
                record,
                payload,
                None if timestamp_of is None else timestamp_of(payload),
                signers.get(org),
            )
            for record, org, payload in reading_batches(conn)
            if latest.get(record) != canonical_json(payload)
        ]
        for start in range(0, len(items), 10_000):
            attest_many(conn, items[start : start + 10_000])
        return len(items)


def demo_attestation(db: str | None, out: Path) -> dict[str, Any]:
    """What ``carbonpark demo`` does for the ledger (``services/demo_run.py``): a log that ``ledger verify`` passes.

    1. attests audit-log rows and activity data written before their hooks existed (none on
       a new demo);
    2. gives each key-emitting enterprise an Ed25519 key (written to ``OUT/ledger-keys/``,
       mode 0600, as the enterprise would keep it) and registers it in the log;
    3. attests every reading batch (meter × park-local day), signed by the enterprises that
       have a key; the acceptance time is the end of the local day plus 10 minutes, as if
       the past demo year had been received live (the demo replays it);
    4. attests the packaged factor-set versions;
    5. signs the tree head with the park key (``$CARBONPARK_LEDGER_KEY``, else
       ``OUT/ledger-park.pem``, made on first use) and writes ``OUT/ledger-head.json`` and a
       sample proof bundle ``OUT/ledger-proof-sample.json``.
    """
    out.mkdir(parents=True, exist_ok=True)
    key_dir = out / "ledger-keys"
    key_dir.mkdir(exist_ok=True)
    if os.environ.get(LEDGER_KEY_ENV):
        park_key, park_key_source = load_park_key(), f"${LEDGER_KEY_ENV}"
    else:
        path = out / "ledger-park.pem"
        if not path.exists():
            _write_private_key(path, signing.generate_key())
        park_key, park_key_source = load_park_key(path), str(path)
    with session(db) as s:
        conn = s.connection()
        backlog = attest_audit_backlog(conn)
        activity_backlog = attest_activity_backlog(conn)
        keys = key_register(conn)
        signers: dict[str, Ed25519PrivateKey] = {}
        for handle, credit in conn.execute(
            select(Enterprise.handle, Enterprise.credit_code).where(Enterprise.key_emitter.is_(True))
        ):
            path = key_dir / f"{credit}.pem"
            if not path.exists():
                _write_private_key(path, signing.generate_key())
            key = signing.load_private_key(path.read_bytes())
            org = handle or f"enterprise:{credit}"
            if signing.key_id(key) not in keys:
                register_key(conn, org, key, role="submitter")
            signers[org] = key
        tz = _park_tz(conn)

        def accepted(payload: dict[str, Any]) -> int:
            day_end = pd.Timestamp(payload["day"]) + pd.Timedelta(days=1, minutes=10)
            return int(day_end.tz_localize(zone(tz)).timestamp() * 1000)

        batches = attest_unattested_readings(conn, accepted, signers)
        factor_sets = len(attest_factor_sets(conn))
    sth = sign(db, park_key)
    head = {**sth.to_json(), "park_key": park_key_source, "public_key": signing.public_key_pem(park_key).decode()}
    (out / "ledger-head.json").write_text(json.dumps(head, indent=2), encoding="utf-8")
    with session(db) as s:
        first = s.execute(
            select(LedgerEntry.record).where(LedgerEntry.kind == KIND_READINGS).order_by(LedgerEntry.leaf_index)
        ).scalar()
    sample = out / "ledger-proof-sample.json"
    if first is not None:
        sample.write_text(json.dumps(proof_bundle(db, first, KIND_READINGS), indent=2, ensure_ascii=False), "utf-8")
    return {
        "entries": sth.head.size,
        "reading_batches": batches,
        "factor_sets": factor_sets,
        "audit_backlog": backlog,
        "activity_backlog": activity_backlog,
        "signing_enterprises": len(signers),
        "root": sth.head.root.hex(),
        "output": str(out / "ledger-head.json"),
    }


def _write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signing.private_key_pem(key))
    path.with_name(path.name + ".pub").write_bytes(signing.public_key_pem(key))


# ---------------------------------------------------------------------------- witness


@dataclass
class WitnessResult:
    """What one witness run did."""

    ok: bool
    server: str
    tree_size: int | None = None
    previous_size: int | None = None
    root: str | None = None
    cosignature: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    state: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "server": self.server,
            "tree_size": self.tree_size,
            "previous_size": self.previous_size,
            "root": self.root,
            "cosignature": self.cosignature,
            "problems": list(self.problems),
            "state": self.state,
        }


def witness(
    server: str,
    state_dir: Path,
    *,
    token: str | None = None,
    public_key: Ed25519PublicKey | None = None,
    client: Any = None,
    now_ms: int | None = None,
) -> WitnessResult:
    """One witness step against a carbonpark server: fetch, check, co-sign, keep (RFC 9162 §8.2).

    Parameters
    ----------
    server
        Base URL of the park's API (``http://host:port``).
    state_dir
        The witness's own directory, outside the park's database: ``witness.pem`` (its key,
        made on first use), ``log-key.pem`` (the park key it trusts: ``public_key``, else
        pinned at first contact), ``head.json`` (the last head it accepted) and
        ``cosignatures.jsonl`` (every head it co-signed).
    token
        Bearer token for the API (``$CARBONPARK_TOKEN``).
    public_key
        The park key to trust; pinned into ``log-key.pem``.
    client
        An ``httpx.Client`` (tests); one is made otherwise.

    Returns
    -------
    WitnessResult
        ``ok`` False (and the kept head unchanged) when the new head is badly signed, signed
        by another key, smaller than the kept one or not consistent with it: the log was
        rolled back or rewritten.
    """
    import httpx

    from carbonpark.ledger.tamper import witness_tree_head

    state_dir.mkdir(parents=True, exist_ok=True)
    result = WitnessResult(ok=False, server=server, state=str(state_dir))
    key_path = state_dir / "witness.pem"
    if not key_path.exists():
        _write_private_key(key_path, signing.generate_key())
    witness_key = signing.load_private_key(key_path.read_bytes())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = client or httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=30)
    try:
        answer = http.get("/api/ledger/head", headers=headers)
        answer.raise_for_status()
        new = SignedTreeHead.from_json(answer.json())
        pinned_path = state_dir / "log-key.pem"
        if public_key is not None:
            pinned_path.write_bytes(signing.public_key_pem(public_key))
        if not pinned_path.exists():
            keys = http.get("/api/ledger/keys", headers=headers)
            keys.raise_for_status()
            match = [k for k in keys.json()["items"] if k["key_id"] == new.key_id and k["role"] == "park"]
            if not match:
                result.problems.append(f"the head's key {new.key_id} is not a registered park key")
                return result
            pinned_path.write_bytes(match[0]["public_key"].encode("ascii"))
        park_public = signing.load_public_key(pinned_path.read_bytes())
        head_path = state_dir / "head.json"
        kept = SignedTreeHead.from_json(json.loads(head_path.read_text("utf-8"))) if head_path.exists() else None
        result.tree_size, result.root = new.head.size, new.head.root.hex()
        proof: list[bytes] = []
        if kept is not None:
            result.previous_size = kept.head.size
            if kept.head.size <= new.head.size:
                answer = http.get(
                    "/api/ledger/consistency",
                    params={"first": kept.head.size, "second": new.head.size},
                    headers=headers,
                )
                answer.raise_for_status()
                proof = [signing.b64decode(p, "consistency_proof") for p in answer.json()["consistency_proof"]]
        try:
            cosig = witness_tree_head(
                kept, new, proof, park_public, witness_key, _now_ms() if now_ms is None else now_ms
            )
        except Exception as exc:  # IntegrityError from the check: raise the alarm, keep the old head
            result.problems.append(str(exc))
            return result
    finally:
        if client is None:
            http.close()
    head_path.write_text(json.dumps(new.to_json(), indent=2), encoding="utf-8")
    with (state_dir / "cosignatures.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps({"signed_tree_head": new.to_json(), "cosignature": cosig.to_json()}) + "\n")
    result.ok, result.cosignature = True, cosig.to_json()
    return result


# ---------------------------------------------------------------------------- API scope


def visible_organisations(s: Session, principal: Any) -> set[str] | None:
    """Organisations whose entries ``principal`` may read (None: all, a park administrator).

    Enterprises see their own entries, verifiers those of their assigned enterprises; park
    entries (registry audit log, factor sets) only the park administrator. Tree heads and
    consistency proofs carry no record data and are open to every logged-in caller.
    """
    from carbonpark.services import access

    ids = access.visible_enterprise_ids(principal)
    if ids is None:
        return None
    if not ids:
        return set()
    return {h for (h,) in s.execute(select(Enterprise.handle).where(Enterprise.id.in_(sorted(ids)))) if h}


def scoped_proof(s: Session, principal: Any, record: str, kind: str | None = None) -> dict[str, Any]:
    """The proof bundle of ``record`` if ``principal`` may read it (NotFoundError otherwise, not revealing it)."""
    conn = s.connection()
    index, _ = _find_record(conn, record, kind)
    allowed = visible_organisations(s, principal)
    if allowed is not None:
        org = conn.execute(select(LedgerEntry.organisation).where(LedgerEntry.leaf_index == index)).scalar()
        if org not in allowed:
            raise NotFoundError("ledger record", record)
    return proof_bundle(conn, record, kind)


def scoped_keys(s: Session, principal: Any) -> list[dict[str, Any]]:
    """The key register as ``principal`` may see it: park keys and the keys of visible organisations."""
    allowed = visible_organisations(s, principal)
    keys = public_keys(s)
    if allowed is None:
        return keys
    return [k for k in keys if k["role"] == "park" or k["organisation"] in allowed]


def log_size(target: Target) -> int:
    """The number of entries in the log [entries]."""
    with _connection(target) as conn:
        return SqlNodeStore(conn).size()


# ---------------------------------------------------------------------------- data-credit rating from the store

ON_TIME_GRACE_MS = 2 * 86_400_000
"""A reading batch is on time when attested within two days after its local day ended [ms]."""


def _batch_on_time(entry: Entry, accepted_ms: int, start: int, end: int, tz: str) -> tuple[int, int]:
    """(1, on time?) for an ingest batch whose earliest reading lies in [start, end), else (0, 0).

    On time: accepted no later than :data:`ON_TIME_GRACE_MS` after the park-local day of its
    earliest reading ended (the reading a late batch is latest for).
    """
    first = entry.payload.get("first_ts_ms")
    if not isinstance(first, int) or not start <= first < end:
        return 0, 0
    day = _day_of(first, tz)
    day_start = _day_bounds(day, tz)[0]
    return 1, int(accepted_ms <= day_start + _DAY + ON_TIME_GRACE_MS)


def trust_record(db: str | None, enterprise: str, year: int) -> TrustRecord:
    """The trust record of ``enterprise`` for ``year`` computed from the stored data (docs/ledger.md §9).

    - ``metered_share``: the enterprise's emission sources that have a meter / all its sources;
    - ``completeness``: readings of its meters in the year / readings expected from each meter's
      interval over the park's data window in that year (first to last reading of any meter);
    - ``on_time_share``: its reading batches of the year attested within
      :data:`ON_TIME_GRACE_MS` after the day ended: day batches of bulk-loaded readings, and
      ingest batches (its own, and park-wide ones holding its meters) by the local day of
      their earliest reading;
    - ``signature_coverage``: its entries of the year (key events aside) with a valid signature
      (key register replayed from the log);
    - ``quality_flag_share``, ``quarantine_share``: readings flagged (quality ≠ 0) and readings
      quarantined (by meter handle or code) / all its readings of the year;
    - ``verification_findings``: ``material_findings`` of its newest ``verification_statement``
      entry for the year (open major findings, or open findings whose misstatement reaches
      materiality, when the statement was issued; a re-issue supersedes the earlier statements);
    - ``corrections``: entries of the year that re-attest a record attested before (new versions),
      and its ``reading_correction`` entries (one per ingest batch that sent corrections);
    - ``tamper_events``: records of ``ledger verify`` findings on its records or meters (a
      batch with three changed readings is one event).

    References
    ----------
    Guide §3.2.2(2)1 (碳信用评价); SPEC.md §3 formulas (9), (10).
    """
    from carbonpark.store.registry import resolve
    from carbonpark.times import period_bounds_ms

    with session(db) as s:
        conn = s.connection()
        ent = resolve(s, Enterprise, enterprise)
        org = ent.handle or f"enterprise:{ent.id}"
        tz = _park_tz(conn)
        start, end = period_bounds_ms(str(year), tz)
        meters = s.execute(
            select(Meter.id, Meter.handle, Meter.code, Meter.interval_minutes).where(Meter.enterprise_id == ent.id)
        ).all()
        meter_ids = [m.id for m in meters]
        sources_total = s.scalar(select(func.count()).where(EmissionSource.enterprise_id == ent.id)) or 0
        sources_metered = (
            s.scalar(
                select(func.count()).where(EmissionSource.enterprise_id == ent.id, EmissionSource.meter_id.is_not(None))
            )
            or 0
        )
        window = s.execute(
            select(func.min(Reading.ts_ms), func.max(Reading.ts_ms)).where(Reading.ts_ms >= start, Reading.ts_ms < end)
        ).one()
        received = flagged = 0
        expected = 0.0
        if meter_ids:
            received, flagged = s.execute(
                select(func.count(), func.count().filter(Reading.quality != 0)).where(
                    Reading.meter_id.in_(meter_ids), Reading.ts_ms >= start, Reading.ts_ms < end
                )
            ).one()
        if window[0] is not None:
            span = int(window[1]) - int(window[0])
            expected = sum(span / (m.interval_minutes * 60_000) + 1 for m in meters)
        refs = [r for m in meters for r in (m.handle, m.code) if r]
        quarantined = 0
        if refs:
            from carbonpark.store.schema import Quarantined

            quarantined = (
                s.scalar(
                    select(func.count()).where(
                        Quarantined.meter_ref.in_(refs), Quarantined.received_ms >= start, Quarantined.received_ms < end
                    )
                )
                or 0
            )
        # the log: the organisation's entries of the year, with the key register replayed before them
        check = SignatureCheck()
        seen: set[tuple[str, str]] = set()
        entries_year = signed_year = corrections = on_time = batches = findings = 0
        stmt = (
            select(
                LedgerEntry.leaf_index,
                LedgerEntry.organisation,
                LedgerEntry.timestamp_ms,
                LedgerEntry.data,
                LedgerEntry.kind,
                LedgerEntry.record,
            )
            .where(
                (LedgerEntry.organisation == org)
                | LedgerEntry.kind.in_((KEY_REGISTERED, KEY_REVOKED))
                | ((LedgerEntry.kind == KIND_INGEST_BATCH) & (LedgerEntry.organisation == park_handle(conn)))
            )
            .order_by(LedgerEntry.leaf_index)
        )
        meter_handles = {str(m.handle) for m in meters if m.handle}
        for index, entry_org, ts, data, row_kind, row_record in conn.execute(stmt):
            try:
                entry = parse_entry(_raw(data))
            except ValidationError:  # a damaged entry: verify names it, the tamper count below includes it
                if entry_org == org:
                    seen.add((str(row_kind), str(row_record)))
                continue
            before = check.signed_by_organisation[org]
            check.add(int(index), entry)
            if entry_org != org:
                # a park-wide ingest batch (meters of several enterprises) counts for its timeliness
                if entry.kind == KIND_INGEST_BATCH and meter_handles & {
                    str(x.get("meter")) for x in entry.payload.get("meters", []) if isinstance(x, dict)
                }:
                    counted, timely = _batch_on_time(entry, int(ts), start, end, tz)
                    batches, on_time = batches + counted, on_time + timely
                continue
            key = (entry.kind, entry.record)
            in_year = start <= int(ts) < end + ON_TIME_GRACE_MS
            if in_year and entry.kind not in (KEY_REGISTERED, KEY_REVOKED):  # key events are the park's doing
                entries_year += 1
                signed_year += check.signed_by_organisation[org] - before
                if key in seen:
                    corrections += 1
            seen.add(key)
            if entry.kind == KIND_READINGS and in_year:
                day_start = int(pd.Timestamp(str(entry.payload["day"])).tz_localize(zone(tz)).timestamp() * 1000)
                if start <= day_start < end:
                    batches += 1
                    on_time += int(ts) <= day_start + _DAY + ON_TIME_GRACE_MS
            if entry.kind == KIND_INGEST_BATCH:
                counted, timely = _batch_on_time(entry, int(ts), start, end, tz)
                batches, on_time = batches + counted, on_time + timely
            if entry.kind == KIND_CORRECTION and in_year:
                corrections += 1  # one batch of corrections (or late data in a closed year) is one correction
            if entry.kind == "verification_statement" and str(entry.payload.get("year")) == str(year):
                # the newest statement of the year counts: a re-issue supersedes the earlier ones;
                # statements attested before the field was written count 0
                findings = int(entry.payload.get("material_findings", 0) or 0)
    report = verify(db)
    mine = {f"{m.handle}" for m in meters if m.handle} | {r for _, r in seen}
    tamper = len(
        {
            f.record
            for f in report.findings
            if f.record in mine
            or f.record.split("@", 1)[0] in mine
            or f.record == org
            or (f.meter is not None and f.meter in mine)
        }
    )
    total_readings = received + quarantined
    return TrustRecord(
        enterprise=org,
        year=year,
        metered_share=sources_metered / sources_total if sources_total else 0.0,
        completeness=min(1.0, received / expected) if expected else 0.0,
        on_time_share=on_time / batches if batches else 0.0,
        signature_coverage=signed_year / entries_year if entries_year else 0.0,
        quality_flag_share=flagged / received if received else 0.0,
        quarantine_share=quarantined / total_readings if total_readings else 0.0,
        verification_findings=findings,
        corrections=corrections,
        tamper_events=tamper,
    )
