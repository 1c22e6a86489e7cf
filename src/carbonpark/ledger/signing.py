"""Ed25519 keys, signed tree heads, entry signatures and witness co-signatures.

Byte layouts (what is signed, exactly)
--------------------------------------
Tree head (the RFC 6962 §3.5 ``TreeHeadSignature`` structure, 50 bytes, big-endian)::

    version          1 byte   0x00  (v1)
    signature_type   1 byte   0x01  (tree_hash)
    timestamp        8 bytes  uint64, milliseconds since 1970-01-01 UTC
    tree_size        8 bytes  uint64, number of entries
    sha256_root_hash 32 bytes the Merkle tree hash (RFC 6962 §2.1)

The park signs these 50 bytes with Ed25519 (RFC 8032, pure Ed25519, no pre-hash).

Entry signature: Ed25519 over ``b"carbonpark-entry/1\\n" ‖ statement`` where ``statement`` is
the RFC 8785 canonical JSON of the entry without its ``signature`` member
(:mod:`carbonpark.ledger.entries`). The text prefix cannot be the start of a tree head
(which starts with 0x00), so neither signature can be passed off as the other.

Witness co-signature: Ed25519 over
``b"carbonpark-witness/1\\n" ‖ log_key_id (32 bytes) ‖ tree head (50 bytes) ‖ uint64 witnessed-at [ms]``.

Key identifier: ``SHA-256`` of the public key's DER ``SubjectPublicKeyInfo`` (as RFC 6962
§3.2 names a log), written as 64 lower-case hex digits. Keys travel as PEM: PKCS #8 for
private keys (optionally encrypted with a password), SubjectPublicKeyInfo for public keys.

References
----------
RFC 6962 §3.2 (LogID), §3.5 (signed tree head); RFC 8032 (Ed25519); RFC 8410 (Ed25519 in
PKIX/PEM). Guide §3.2.2(2)1 (multi-party trusted data chain), §7.2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carbonpark.errors import ValidationError
from carbonpark.ledger import merkle

__all__ = [
    "ENTRY_SIGNATURE_CONTEXT",
    "TREE_HEAD_LAYOUT_SIZE",
    "WITNESS_CONTEXT",
    "Cosignature",
    "SignedTreeHead",
    "TreeHead",
    "b64decode",
    "b64encode",
    "cosign_tree_head",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "sign_entry_statement",
    "sign_tree_head",
    "tree_head_bytes",
    "verify_cosignature",
    "verify_entry_statement",
    "verify_tree_head",
]

ENTRY_SIGNATURE_CONTEXT = b"carbonpark-entry/1\n"
WITNESS_CONTEXT = b"carbonpark-witness/1\n"
TREE_HEAD_LAYOUT_SIZE = 50
_UINT64_MAX = 2**64 - 1


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, field: str = "base64") -> bytes:
    """Decode standard base64 (RFC 4648 §4); a clear error names ``field`` when it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationError(field, "standard base64 text (RFC 4648 §4)", text) from exc


def generate_key() -> Ed25519PrivateKey:
    """A new Ed25519 private key (RFC 8032)."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """The private key as PKCS #8 PEM, encrypted with ``password`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM (RFC 8410)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from PKCS #8 PEM."""
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ValidationError("private key", "an Ed25519 private key in PKCS #8 PEM", str(exc)) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationError("private key", "an Ed25519 key", type(key).__name__)
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Read an Ed25519 public key from SubjectPublicKeyInfo PEM."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValidationError("public key", "an Ed25519 public key in PEM", str(exc)) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError("public key", "an Ed25519 key", type(key).__name__)
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """``SHA-256`` of the DER SubjectPublicKeyInfo, 64 hex digits (as RFC 6962 §3.2 names a log)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _is_key_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _verify(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class TreeHead:
    """A tree head: the log's size, when it was taken, and its root.

    Attributes
    ----------
    size
        Number of entries [entries].
    timestamp_ms
        When the head was taken [ms since 1970-01-01 UTC].
    root
        The 32-byte Merkle tree hash (RFC 6962 §2.1).
    """

    size: int
    timestamp_ms: int
    root: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.size <= _UINT64_MAX:
            raise ValidationError("tree_size", "an integer in [0, 2^64)", self.size)
        if not 0 <= self.timestamp_ms <= _UINT64_MAX:
            raise ValidationError("timestamp_ms", "milliseconds since 1970 in [0, 2^64)", self.timestamp_ms)
        if len(self.root) != merkle.HASH_SIZE:
            raise ValidationError("root", "a 32-byte SHA-256 hash", self.root)


def tree_head_bytes(head: TreeHead) -> bytes:
    """The 50 signed bytes of a tree head (RFC 6962 §3.5 layout; see the module text)."""
    return struct.pack(">BBQQ", 0, 1, head.timestamp_ms, head.size) + bytes(head.root)


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree head with the park's Ed25519 signature over :func:`tree_head_bytes`."""

    head: TreeHead
    signature: bytes
    key_id: str

    def __post_init__(self) -> None:
        if not _is_key_id(self.key_id):
            raise ValidationError("key_id", "64 lower-case hex digits (SHA-256 of the public key)", self.key_id)

    def to_json(self) -> dict[str, Any]:
        """JSON form: ``tree_size``, ``timestamp_ms``, ``root`` and ``signature`` (base64), ``key_id``."""
        return {
            "tree_size": self.head.size,
            "timestamp_ms": self.head.timestamp_ms,
            "root": b64encode(self.head.root),
            "signature": b64encode(self.signature),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, doc: Any, field: str = "signed_tree_head") -> SignedTreeHead:
        """Read the JSON form of :meth:`to_json`; errors name the field."""
        if not isinstance(doc, dict):
            raise ValidationError(field, "an object with tree_size, timestamp_ms, root, signature, key_id", doc)
        for name in ("tree_size", "timestamp_ms", "root", "signature", "key_id"):
            if name not in doc:
                raise ValidationError(f"{field}.{name}", "a value", None)
        for name in ("tree_size", "timestamp_ms"):
            if not isinstance(doc[name], int) or isinstance(doc[name], bool):
                raise ValidationError(f"{field}.{name}", "an integer", doc[name])
        head = TreeHead(doc["tree_size"], doc["timestamp_ms"], b64decode(doc["root"], f"{field}.root"))
        return cls(head, b64decode(doc["signature"], f"{field}.signature"), str(doc["key_id"]))


def sign_tree_head(key: Ed25519PrivateKey, head: TreeHead) -> SignedTreeHead:
    """Sign ``head`` with the park's key.

    References
    ----------
    RFC 6962 §3.5; RFC 8032.
    """
    return SignedTreeHead(head, key.sign(tree_head_bytes(head)), key_id(key))


def verify_tree_head(public: Ed25519PublicKey, sth: SignedTreeHead) -> bool:
    """Whether ``sth`` carries a valid signature of ``public`` (and names that key)."""
    return sth.key_id == key_id(public) and _verify(public, sth.signature, tree_head_bytes(sth.head))


def sign_entry_statement(key: Ed25519PrivateKey, statement: bytes) -> bytes:
    """An organisation's Ed25519 signature over a canonical entry statement (see the module text)."""
    return key.sign(ENTRY_SIGNATURE_CONTEXT + statement)


def verify_entry_statement(public: Ed25519PublicKey, statement: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature over the canonical ``statement``."""
    return _verify(public, signature, ENTRY_SIGNATURE_CONTEXT + statement)


@dataclass(frozen=True)
class Cosignature:
    """A witness's signature that it saw a tree head (and checked it extends what it saw before)."""

    witness_key_id: str
    witnessed_at_ms: int
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """JSON form: ``witness_key_id``, ``witnessed_at_ms``, ``signature`` (base64)."""
        return {
            "witness_key_id": self.witness_key_id,
            "witnessed_at_ms": self.witnessed_at_ms,
            "signature": b64encode(self.signature),
        }


def _cosigned_bytes(sth: SignedTreeHead, witnessed_at_ms: int) -> bytes:
    if not 0 <= witnessed_at_ms <= _UINT64_MAX:
        raise ValidationError("witnessed_at_ms", "milliseconds since 1970 in [0, 2^64)", witnessed_at_ms)
    return WITNESS_CONTEXT + bytes.fromhex(sth.key_id) + tree_head_bytes(sth.head) + struct.pack(">Q", witnessed_at_ms)


def cosign_tree_head(witness_key: Ed25519PrivateKey, sth: SignedTreeHead, witnessed_at_ms: int) -> Cosignature:
    """A witness's co-signature of a park tree head (check consistency first: :mod:`carbonpark.ledger.tamper`)."""
    message = _cosigned_bytes(sth, witnessed_at_ms)
    return Cosignature(key_id(witness_key), witnessed_at_ms, witness_key.sign(message))


def verify_cosignature(witness: Ed25519PublicKey, sth: SignedTreeHead, cosignature: Cosignature) -> bool:
    """Whether ``cosignature`` is ``witness``'s valid co-signature of ``sth``."""
    if cosignature.witness_key_id != key_id(witness):
        return False
    return _verify(witness, cosignature.signature, _cosigned_bytes(sth, cosignature.witnessed_at_ms))
