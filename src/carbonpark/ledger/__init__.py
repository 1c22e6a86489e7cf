"""carbonpark.ledger: trusted attestation (区块链存证) as an RFC 6962 verifiable log.

- :mod:`~carbonpark.ledger.merkle`: the RFC 6962 tree, proofs, RFC 9162 verification.
- :mod:`~carbonpark.ledger.log`: the append-only log over a node store, O(log n).
- :mod:`~carbonpark.ledger.canonical`: RFC 8785 canonical JSON.
- :mod:`~carbonpark.ledger.entries`: what is attested, organisation signatures, the key register.
- :mod:`~carbonpark.ledger.signing`: Ed25519 keys, signed tree heads, witness co-signatures.
- :mod:`~carbonpark.ledger.attestation`: the one ``append`` interface (:class:`Ledger`).
- :mod:`~carbonpark.ledger.tamper`: locating changed entries, consistency of two heads, witnesses.
- :mod:`~carbonpark.ledger.bundle`: offline proof bundles.
- :mod:`~carbonpark.ledger.rating`: the enterprise data-credit rating.

Pure: no database, no network (SPEC.md C18; guide §3.2.2(2)1, §7.2; docs/ledger.md).
"""

from carbonpark.ledger.attestation import EntryStore, Ledger, MemoryEntryStore, Receipt
from carbonpark.ledger.canonical import canonical_json
from carbonpark.ledger.entries import (
    KNOWN_KINDS,
    Entry,
    check_signatures,
    key_registration,
    key_revocation,
    parse_entry,
)
from carbonpark.ledger.log import MemoryNodeStore, MerkleLog, NodeStore
from carbonpark.ledger.rating import CreditRating, TrustRecord, rate
from carbonpark.ledger.signing import SignedTreeHead, TreeHead, sign_tree_head, verify_tree_head
from carbonpark.ledger.tamper import TamperReport, check_head_consistency, locate_tampering, witness_tree_head

__all__ = [
    "KNOWN_KINDS",
    "CreditRating",
    "Entry",
    "EntryStore",
    "Ledger",
    "MemoryEntryStore",
    "MemoryNodeStore",
    "MerkleLog",
    "NodeStore",
    "Receipt",
    "SignedTreeHead",
    "TamperReport",
    "TreeHead",
    "TrustRecord",
    "canonical_json",
    "check_head_consistency",
    "check_signatures",
    "key_registration",
    "key_revocation",
    "locate_tampering",
    "parse_entry",
    "rate",
    "sign_tree_head",
    "verify_tree_head",
    "witness_tree_head",
]
