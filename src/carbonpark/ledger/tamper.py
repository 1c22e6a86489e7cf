"""Tamper detection: which stored entry no longer matches a signed head; do two heads agree.

A signed tree head commits to every entry before it. Given the entries as stored today:

1. their leaf hashes are recomputed and folded into a root (RFC 6962 §2.1); if it equals
   the signed root, nothing covered by the head changed;
2. otherwise the first changed entry is located by descending the tree from the signed
   root. The node store's subtree hashes are *authenticated* by the signature as soon as
   they hash up to the signed root (a forgery would need a SHA-256 collision), so at each
   level the stored left child is compared with the left child recomputed from the
   entries: the descent goes left if they differ, right if they agree. An entry changed,
   deleted or inserted behind the platform's back is found in O(n) hashing and O(log n)
   store reads;
3. if the node store was rewritten too (it no longer reproduces the signed root), the
   change cannot be located from one head; the report says so, and an older head (a
   witness's) narrows it down.

References
----------
RFC 6962 §2.1, §3.5; RFC 9162 §2.1.4.2 (consistency between two heads), §8.2 (witnesses
and split views). Guide §3.2.2(2)1 (防止数据被篡改), §7.2 (在线审计).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carbonpark.errors import IntegrityError
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.log import MerkleLog
from carbonpark.ledger.signing import Cosignature, SignedTreeHead, TreeHead

__all__ = ["TamperReport", "check_head_consistency", "locate_tampering", "witness_tree_head"]


@dataclass
class TamperReport:
    """The outcome of checking stored entries against a signed tree head.

    Attributes
    ----------
    ok
        True when the entries reproduce the signed root exactly.
    tree_size
        The size the signed head covers [entries].
    entries_stored
        How many entries were given [entries].
    first_bad_index
        The leaf index of the first entry that was changed, deleted or inserted, when it
        can be located; None when ``ok`` or when it cannot be.
    problems
        What was found, in words.
    """

    ok: bool
    tree_size: int
    entries_stored: int
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "entries_stored": self.entries_stored,
            "first_bad_index": self.first_bad_index,
            "problems": list(self.problems),
        }


CHUNK = 65_536
"""Entries read per slice of the entry sequence [entries]; bounds memory on large logs."""


def _range_root(entries: Sequence[bytes], start: int, end: int) -> bytes:
    """``MTH`` of the entries ``[start, end)`` (RFC 6962 §2.1), reading them in chunks.

    Leaf hashes are merged into a stack of perfect subtrees as they come (a compact
    range), so memory stays O(chunk + log n) however long the range is.
    """
    stack: list[tuple[int, bytes]] = []
    for chunk_start in range(start, end, CHUNK):
        for data in entries[chunk_start : min(chunk_start + CHUNK, end)]:
            level, digest = 0, merkle.leaf_hash(data)
            while stack and stack[-1][0] == level:
                digest = merkle.node_hash(stack.pop()[1], digest)
                level += 1
            stack.append((level, digest))
    return merkle.fold_subtrees([digest for _, digest in stack])


def _first_leaf_mismatch(entries: Sequence[bytes], log: MerkleLog, size: int) -> int | None:
    """The first index whose entry's leaf hash differs from the stored leaf hash, in chunks."""
    for chunk_start in range(0, size, CHUNK):
        chunk_end = min(chunk_start + CHUNK, size)
        stored = log.leaf_hashes(chunk_start, chunk_end)
        for offset, data in enumerate(entries[chunk_start:chunk_end]):
            if merkle.leaf_hash(data) != stored[offset]:
                return chunk_start + offset
    return None


def _descend(entries: Sequence[bytes], log: MerkleLog, size: int, root: bytes) -> tuple[int, str | None]:
    """The first leaf whose recomputed hash differs, by descending from an authenticated root."""
    start, end, expected = 0, size, root
    stored_count = len(entries)
    while end - start > 1:
        k = merkle.split_point(end - start)
        left, right = log.subtree_hash(start, start + k), log.subtree_hash(start + k, end)
        if merkle.node_hash(left, right) != expected:
            return start, f"node store damaged below leaves [{start}, {end})"
        if start + k > stored_count or _range_root(entries, start, start + k) != left:
            end, expected = start + k, left
        else:
            start, expected = start + k, right
    return start, None


def locate_tampering(entries: Sequence[bytes], head: TreeHead, log: MerkleLog | None = None) -> TamperReport:
    """Check stored ``entries`` against the signed ``head``; locate the first bad one.

    Parameters
    ----------
    entries
        The raw entries as stored now, in log order (leaf 0 first): any sequence that
        supports ``len`` and slicing (a database-backed one reads in slices of
        :data:`CHUNK`); memory stays O(chunk + log n).
    head
        A tree head whose signature the caller has verified
        (:func:`carbonpark.ledger.signing.verify_tree_head`).
    log
        The node store's log, used to locate a change (see the module text).

    Returns
    -------
    TamperReport

    References
    ----------
    RFC 6962 §2.1.
    """
    size = head.size
    report = TamperReport(ok=False, tree_size=size, entries_stored=len(entries))
    if len(entries) < size:
        report.problems.append(f"{size - len(entries)} entries missing: {len(entries)} stored, head covers {size}")
    elif _range_root(entries, 0, size) == head.root:
        report.ok = True
        return report
    else:
        report.problems.append("the stored entries do not reproduce the signed root")
    if log is None:
        report.first_bad_index = len(entries) if len(entries) < size else None
        if report.first_bad_index is None:
            report.problems.append("no node store given: the changed entry cannot be located")
        return report
    if log.size < size or log.root(size) != head.root:
        report.problems.append("the node store does not reproduce the signed root either: the log was rewritten")
        report.first_bad_index = _first_leaf_mismatch(entries, log, min(size, log.size, len(entries)))
        return report
    index, damage = _descend(entries, log, size, head.root)
    report.first_bad_index = index
    if damage:
        report.problems.append(damage)
    elif index >= len(entries):
        report.problems.append(f"entry {index} is missing")
    else:
        report.problems.append(f"entry {index} differs from what was attested")
    return report


def check_head_consistency(
    old: SignedTreeHead, new: SignedTreeHead, proof: Sequence[bytes], public: Ed25519PublicKey
) -> list[str]:
    """Problems found between two signed heads of one log (an empty list means they agree).

    Checks both signatures, that the log did not shrink, that time did not run backwards,
    and the RFC 9162 §2.1.4.2 consistency proof from ``old`` to ``new``.

    References
    ----------
    RFC 9162 §2.1.4.2; RFC 6962 §3.5.
    """
    problems = []
    if not signing.verify_tree_head(public, old):
        problems.append("the older head's signature does not verify")
    if not signing.verify_tree_head(public, new):
        problems.append("the newer head's signature does not verify")
    if new.head.size < old.head.size:
        problems.append(f"the log shrank from {old.head.size} to {new.head.size} entries (rolled back)")
    if new.head.timestamp_ms < old.head.timestamp_ms:
        problems.append("the newer head is older than the previous one")
    if new.head.size >= old.head.size and not merkle.verify_consistency(
        old.head.size, new.head.size, old.head.root, new.head.root, proof
    ):
        problems.append(
            f"no valid consistency proof from size {old.head.size} to {new.head.size}: the log was rewritten"
        )
    return problems


def witness_tree_head(
    kept: SignedTreeHead | None,
    new: SignedTreeHead,
    proof: Sequence[bytes],
    park_public: Ed25519PublicKey,
    witness_key: Ed25519PrivateKey,
    now_ms: int,
) -> Cosignature:
    """A witness's step: check ``new`` extends the head it ``kept``, then co-sign ``new``.

    Raises
    ------
    IntegrityError
        When the new head is not validly signed or not consistent with the kept one (a
        rolled-back or rewritten log); the witness must keep its old head and raise the alarm.

    References
    ----------
    RFC 9162 §8.2 (split views, gossip); RFC 6962 §3.5.
    """
    if kept is None:
        problems = [] if signing.verify_tree_head(park_public, new) else ["the head's signature does not verify"]
    else:
        problems = check_head_consistency(kept, new, proof, park_public)
    if problems:
        raise IntegrityError("; ".join(problems))
    return signing.cosign_tree_head(witness_key, new, now_ms)
