"""What is attested: entries, their canonical bytes, organisation signatures, the key register.

An entry is one statement committed to the log::

    {"format": "carbonpark-entry/1",
     "kind": "emission_record",            # what sort of record (see KNOWN_KINDS)
     "organisation": "ENT-0001",           # handle of the organisation it belongs to
     "record": "emission_record:42",       # handle of the attested record
     "timestamp_ms": 1735660800000,        # when it was accepted [ms since 1970 UTC]
     "payload": {...},                     # the record's content, decimals as strings
     "signature": {"alg": "Ed25519", "key_id": "…64 hex…", "value": "…base64…"}}   # optional

The leaf of the Merkle log is the RFC 8785 canonical JSON of that object
(:func:`carbonpark.ledger.canonical.canonical_json`). The *statement* is the same object
without ``signature``; an organisation signs ``"carbonpark-entry/1\\n" ‖ statement``
(:func:`carbonpark.ledger.signing.sign_entry_statement`).

Keys live in the log itself: a ``key_registered`` entry (payload ``key_id``,
``public_key_pem``, ``role``, optionally ``replaces``: rotation) starts a key, a
``key_revoked`` entry (payload ``key_id``, ``reason``) ends it. :func:`check_signatures`
replays them in log order, so a signature counts only with a key that its organisation
had registered, and not yet revoked, before the entry.

References
----------
RFC 8785 (JCS); RFC 8032 (Ed25519). Guide §3.2.2(2)1 (实时安全存证, 多边可信数据链), §7.2 (碳核查).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carbonpark.errors import ValidationError
from carbonpark.ledger import signing
from carbonpark.ledger.canonical import canonical_json

__all__ = [
    "ENTRY_FORMAT",
    "KEY_REGISTERED",
    "KEY_REVOKED",
    "KNOWN_KINDS",
    "Entry",
    "EntrySignature",
    "KeyRecord",
    "SignatureCheck",
    "check_signatures",
    "check_signatures_indexed",
    "key_registration",
    "key_revocation",
    "parse_entry",
]

ENTRY_FORMAT = "carbonpark-entry/1"
KEY_REGISTERED = "key_registered"
KEY_REVOKED = "key_revoked"

KNOWN_KINDS = (
    "reading_batch",
    "ingest_batch",
    "reading_correction",
    "activity_datum",
    "emission_record",
    "factor_set_version",
    "allowance_movement",
    "verification_statement",
    "audit_log_entry",
    KEY_REGISTERED,
    KEY_REVOKED,
)
"""The kinds carbonpark attests today; new capabilities may add kinds of the same syntax."""

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HANDLE_MAX = 256
_STATEMENT_FIELDS = ("format", "kind", "organisation", "record", "timestamp_ms", "payload")


def _check_handle(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _HANDLE_MAX or value != value.strip():
        raise ValidationError(name, f"a non-empty handle of at most {_HANDLE_MAX} characters", value)
    return value


@dataclass(frozen=True)
class EntrySignature:
    """An organisation's Ed25519 signature over an entry's statement."""

    key_id: str
    value: bytes

    def to_json(self) -> dict[str, str]:
        return {"alg": "Ed25519", "key_id": self.key_id, "value": signing.b64encode(self.value)}


@dataclass(frozen=True)
class Entry:
    """One attested statement (see the module text for its JSON form).

    Attributes
    ----------
    kind
        What is attested, e.g. ``reading_batch``, ``activity_datum``, ``emission_record``,
        ``allowance_movement`` (:data:`KNOWN_KINDS`).
    organisation
        Handle of the organisation the record belongs to (the park itself for park data).
    record
        Handle of the attested record, unique per kind (what ``ledger proof RECORD`` takes).
    timestamp_ms
        When the platform accepted it [ms since 1970-01-01 UTC].
    payload
        The record's content: JSON values; ``Decimal`` amounts become strings.
    signature
        The organisation's signature over :meth:`statement`, if it signed.
    """

    kind: str
    organisation: str
    record: str
    timestamp_ms: int
    payload: Mapping[str, Any] = field(default_factory=dict)
    signature: EntrySignature | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _KIND.match(self.kind):
            raise ValidationError("kind", "a lower-case name such as 'emission_record'", self.kind)
        _check_handle("organisation", self.organisation)
        _check_handle("record", self.record)
        ts = self.timestamp_ms
        if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts < 2**53:
            raise ValidationError("timestamp_ms", "milliseconds since 1970-01-01 UTC (an integer ≥ 0)", ts)
        if not isinstance(self.payload, Mapping):
            raise ValidationError("payload", "a JSON object", self.payload)

    def statement_json(self) -> dict[str, Any]:
        """The statement as a JSON object (the entry without its signature)."""
        return {
            "format": ENTRY_FORMAT,
            "kind": self.kind,
            "organisation": self.organisation,
            "record": self.record,
            "timestamp_ms": self.timestamp_ms,
            "payload": dict(self.payload),
        }

    def statement(self) -> bytes:
        """The canonical bytes an organisation signs (RFC 8785)."""
        return canonical_json(self.statement_json())

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object, with its signature when there is one."""
        doc = self.statement_json()
        if self.signature is not None:
            doc["signature"] = self.signature.to_json()
        return doc

    def to_bytes(self) -> bytes:
        """The leaf: RFC 8785 canonical JSON of :meth:`to_json`."""
        return canonical_json(self.to_json())

    def signed(self, key: Ed25519PrivateKey) -> Entry:
        """A copy carrying ``key``'s signature over the statement."""
        value = signing.sign_entry_statement(key, self.statement())
        return replace(self, signature=EntrySignature(signing.key_id(key), value))


def parse_entry(data: bytes, field_name: str = "entry") -> Entry:
    """Read a leaf back into an :class:`Entry`; it must be exactly the canonical bytes.

    Raises
    ------
    ValidationError
        When ``data`` is not UTF-8 JSON of the entry form or not in RFC 8785 canonical form.
    """
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(field_name, "UTF-8 JSON text of a carbonpark entry", bytes(data)[:80]) from exc
    if not isinstance(doc, dict):
        raise ValidationError(field_name, "a JSON object", type(doc).__name__)
    if doc.get("format") != ENTRY_FORMAT:
        raise ValidationError(f"{field_name}.format", repr(ENTRY_FORMAT), doc.get("format"))
    extra = set(doc) - {*_STATEMENT_FIELDS, "signature"}
    if extra:
        raise ValidationError(field_name, f"only the members {[*_STATEMENT_FIELDS, 'signature']}", sorted(extra))
    for name in _STATEMENT_FIELDS:
        if name not in doc:
            raise ValidationError(f"{field_name}.{name}", "a value", None)
    signature = None
    if "signature" in doc:
        sig = doc["signature"]
        if not isinstance(sig, dict) or sig.get("alg") != "Ed25519" or set(sig) != {"alg", "key_id", "value"}:
            raise ValidationError(f"{field_name}.signature", "{alg: 'Ed25519', key_id, value}", sig)
        signature = EntrySignature(str(sig["key_id"]), signing.b64decode(sig["value"], f"{field_name}.signature"))
    entry = Entry(
        kind=doc["kind"],
        organisation=doc["organisation"],
        record=doc["record"],
        timestamp_ms=doc["timestamp_ms"],
        payload=doc["payload"],
        signature=signature,
    )
    if entry.to_bytes() != bytes(data):
        raise ValidationError(field_name, "RFC 8785 canonical JSON", bytes(data)[:80])
    return entry


def key_registration(
    organisation: str,
    public_key: Ed25519PublicKey | Ed25519PrivateKey,
    timestamp_ms: int,
    role: str = "submitter",
    replaces: str | None = None,
) -> Entry:
    """The entry that registers ``public_key`` for ``organisation`` (rotation when ``replaces`` names the old key).

    ``role`` is ``submitter`` (an enterprise signs what it submits), ``park`` (tree heads),
    ``verifier`` or ``witness``. A registration that replaces a key revokes the old one at
    the same log position.
    """
    kid = signing.key_id(public_key)
    payload: dict[str, Any] = {
        "key_id": kid,
        "public_key_pem": signing.public_key_pem(public_key).decode("ascii"),
        "role": role,
    }
    if replaces is not None:
        payload["replaces"] = replaces
    return Entry(KEY_REGISTERED, organisation, f"key:{kid}", timestamp_ms, payload)


def key_revocation(organisation: str, key_id: str, timestamp_ms: int, reason: str) -> Entry:
    """The entry that revokes key ``key_id`` of ``organisation`` from this log position on."""
    return Entry(
        KEY_REVOKED, organisation, f"key-revocation:{key_id}", timestamp_ms, {"key_id": key_id, "reason": reason}
    )


@dataclass
class KeyRecord:
    """A key as the log registered it."""

    key_id: str
    organisation: str
    role: str
    public_key: Ed25519PublicKey
    registered_at: int
    revoked_at: int | None = None


@dataclass
class SignatureCheck:
    """The replay of the key register over a log.

    Attributes
    ----------
    keys
        Every key registered, by key id.
    findings
        ``(leaf index, record, problem)`` for each bad signature or key event.
    entries_by_organisation
        How many entries each organisation has [entries].
    signed_by_organisation
        How many of them carry a valid signature of one of its keys [entries].
    """

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    findings: list[tuple[int, str, str]] = field(default_factory=list)
    entries_by_organisation: Counter[str] = field(default_factory=Counter)
    signed_by_organisation: Counter[str] = field(default_factory=Counter)

    def add(self, index: int, entry: Entry) -> None:
        """Take the next entry of the log (leaf ``index``) into the replay."""
        self.entries_by_organisation[entry.organisation] += 1
        if entry.signature is not None:
            problem = _signature_problem(self, index, entry)
            if problem is None:
                self.signed_by_organisation[entry.organisation] += 1
            else:
                self.findings.append((index, entry.record, problem))
        if entry.kind == KEY_REGISTERED:
            _register(self, index, entry)
        elif entry.kind == KEY_REVOKED:
            _revoke(self, index, entry)

    def coverage(self, organisation: str) -> float:
        """Share of ``organisation``'s entries with a valid signature [0–1] (1 when it has none)."""
        total = self.entries_by_organisation[organisation]
        return 1.0 if total == 0 else self.signed_by_organisation[organisation] / total


def _register(check: SignatureCheck, index: int, entry: Entry) -> None:
    payload = entry.payload
    try:
        public = signing.load_public_key(str(payload["public_key_pem"]).encode("ascii"))
    except (KeyError, ValidationError):
        check.findings.append((index, entry.record, "key registration without a valid Ed25519 public key"))
        return
    kid = signing.key_id(public)
    if payload.get("key_id") != kid:
        check.findings.append((index, entry.record, "key registration whose key_id does not match its key"))
        return
    if kid in check.keys:
        check.findings.append((index, entry.record, f"key {kid[:12]}… registered twice"))
        return
    old = payload.get("replaces")
    if old is not None:
        previous = check.keys.get(str(old))
        if previous is None or previous.organisation != entry.organisation:
            check.findings.append((index, entry.record, f"rotation replaces unknown key {str(old)[:12]}…"))
        elif previous.revoked_at is None:
            previous.revoked_at = index
    check.keys[kid] = KeyRecord(kid, entry.organisation, str(payload.get("role", "submitter")), public, index)


def _revoke(check: SignatureCheck, index: int, entry: Entry) -> None:
    kid = str(entry.payload.get("key_id"))
    known = check.keys.get(kid)
    if known is None or known.organisation != entry.organisation:
        check.findings.append((index, entry.record, f"revocation of unknown key {kid[:12]}…"))
    elif known.revoked_at is None:
        known.revoked_at = index


def _signature_problem(check: SignatureCheck, index: int, entry: Entry) -> str | None:
    assert entry.signature is not None
    key = check.keys.get(entry.signature.key_id)
    if key is None:
        return f"signed with unregistered key {entry.signature.key_id[:12]}…"
    if key.organisation != entry.organisation:
        return f"signed with a key of {key.organisation!r}, not of {entry.organisation!r}"
    if key.revoked_at is not None and key.revoked_at <= index:
        return f"signed with key {key.key_id[:12]}… revoked at leaf {key.revoked_at}"
    if not signing.verify_entry_statement(key.public_key, entry.statement(), entry.signature.value):
        return "signature does not verify"
    return None


def check_signatures(entries: Iterable[Entry]) -> SignatureCheck:
    """Replay key registrations and revocations in log order and check every entry signature.

    A signature is valid when its key was registered by the entry's organisation at an
    earlier position, is not revoked at or before the entry, and verifies over the entry's
    statement. Unsigned entries are not findings; they lower the organisation's coverage.
    """
    return check_signatures_indexed(enumerate(entries))


def check_signatures_indexed(entries: Iterable[tuple[int, Entry]]) -> SignatureCheck:
    """:func:`check_signatures` over ``(leaf index, entry)`` pairs in log order (a subset of the log may be given)."""
    check = SignatureCheck()
    for index, entry in entries:
        check.add(index, entry)
    return check
