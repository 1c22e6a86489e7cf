"""Self-contained proof bundles: one entry, its inclusion proof, the signed head, the key.

A bundle is a JSON object that anyone can check offline with only RFC 6962/9162 and
Ed25519 (RFC 8032)::

    {
      "format": "carbonpark-proof-bundle/1",
      "entry": "<base64 of the raw entry bytes: the RFC 8785 canonical JSON leaf>",
      "entry_json": {...},                  # the same entry decoded, for people (not checked)
      "leaf_index": 41,
      "tree_size": 1000,
      "inclusion_proof": ["<base64 32-byte hash>", ...],   # RFC 6962 §2.1.1 audit path
      "root": "<base64 32-byte tree root>",
      "signed_tree_head": {"tree_size": 1000, "timestamp_ms": ..., "root": "<base64>",
                           "signature": "<base64 Ed25519>", "key_id": "<64 hex>"},
      "public_key": "-----BEGIN PUBLIC KEY-----\\n..."     # the park's Ed25519 key, PEM
    }

Checking (:func:`check_bundle`): the root equals the signed head's root and the sizes
agree; the head's signature verifies under the public key (RFC 6962 §3.5 layout, see
:mod:`carbonpark.ledger.signing`) and the key id is ``SHA-256`` of its DER form; the audit
path leads from ``SHA-256(0x00 ‖ entry)`` to the root (RFC 9162 §2.1.3.2). The key in the
bundle only proves that *someone* signed: whoever checks compares ``key_id`` with the park
key they trust (published, or pinned with ``--public-key``).

References
----------
RFC 6962 §2.1.1, §3.5; RFC 9162 §2.1.3.2; RFC 8032; RFC 4648 §4 (base64).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from carbonpark.errors import ValidationError
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.signing import SignedTreeHead

__all__ = ["BUNDLE_FORMAT", "BundleCheck", "check_bundle", "make_bundle"]

BUNDLE_FORMAT = "carbonpark-proof-bundle/1"


def make_bundle(
    entry: bytes, leaf_index: int, proof: Sequence[bytes], sth: SignedTreeHead, public_key_pem: bytes
) -> dict[str, Any]:
    """The proof bundle of ``entry`` at ``leaf_index`` under the signed head ``sth``."""
    try:
        entry_json: Any = json.loads(entry.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        entry_json = None
    return {
        "format": BUNDLE_FORMAT,
        "entry": signing.b64encode(entry),
        "entry_json": entry_json,
        "leaf_index": leaf_index,
        "tree_size": sth.head.size,
        "inclusion_proof": [signing.b64encode(p) for p in proof],
        "root": signing.b64encode(sth.head.root),
        "signed_tree_head": sth.to_json(),
        "public_key": public_key_pem.decode("ascii"),
    }


@dataclass
class BundleCheck:
    """The outcome of :func:`check_bundle`: ``ok`` and the individual checks with their results."""

    ok: bool
    leaf_index: int | None
    tree_size: int | None
    key_id: str | None
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "key_id": self.key_id,
            "checks": dict(self.checks),
            "problems": list(self.problems),
        }


def _int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(name, "an integer", value)
    return value


def check_bundle(doc: Any, trusted_key: Ed25519PublicKey | None = None) -> BundleCheck:
    """Verify a proof bundle offline.

    Parameters
    ----------
    doc
        The parsed bundle JSON.
    trusted_key
        The park key the checker trusts; when given, the bundle's key must be this one.

    Raises
    ------
    ValidationError
        When the bundle is malformed (a missing field, bad base64, a bad key); a well-formed
        bundle that fails a check returns ``ok=False`` with the reasons.
    """
    if not isinstance(doc, dict):
        raise ValidationError("bundle", "a JSON object", type(doc).__name__)
    if doc.get("format") != BUNDLE_FORMAT:
        raise ValidationError("format", repr(BUNDLE_FORMAT), doc.get("format"))
    entry = signing.b64decode(doc.get("entry", ""), "entry")
    index, size = _int(doc, "leaf_index"), _int(doc, "tree_size")
    path = doc.get("inclusion_proof")
    if not isinstance(path, list):
        raise ValidationError("inclusion_proof", "a list of base64 hashes", path)
    proof = [signing.b64decode(p, f"inclusion_proof[{i}]") for i, p in enumerate(path)]
    root = signing.b64decode(doc.get("root", ""), "root")
    sth = SignedTreeHead.from_json(doc.get("signed_tree_head"))
    public = signing.load_public_key(str(doc.get("public_key", "")).encode("ascii"))
    key = signing.key_id(public)
    checks = {
        "root_matches_signed_head": root == sth.head.root and size == sth.head.size,
        "signed_head_signature": signing.verify_tree_head(public, sth),
        "inclusion_proof": merkle.verify_inclusion(entry, index, size, proof, root),
    }
    if trusted_key is not None:
        checks["trusted_key"] = key == signing.key_id(trusted_key)
    explanations = {
        "root_matches_signed_head": "the bundle's root or size differs from its signed tree head",
        "signed_head_signature": "the tree head's signature does not verify under the bundle's key",
        "inclusion_proof": "the inclusion proof does not lead from the entry to the root",
        "trusted_key": "the bundle is signed by a key other than the trusted one",
    }
    problems = [explanations[name] for name, passed in checks.items() if not passed]
    return BundleCheck(all(checks.values()), index, size, key, checks, problems)
