"""The Merkle tree of RFC 6962 §2.1: hashes, audit paths, consistency proofs, their verification.

This module works on the raw entries (``leaves``, a sequence of ``bytes``) and needs nothing
else: it is what a third party re-implements from the RFC to check carbonpark's log. The
stored log (:mod:`carbonpark.ledger.log`) builds the same proofs from kept subtree hashes in
O(log n); both share :func:`inclusion_ranges` and :func:`consistency_ranges`, which say which
subtrees a proof is made of, so the two can never disagree.

Hashes (RFC 6962 §2.1, SHA-256):

- the empty tree: ``MTH({}) = SHA-256()``;
- a leaf: ``MTH({d}) = SHA-256(0x00 ‖ d)``;
- n > 1 leaves: ``MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))`` where k is the
  largest power of two smaller than n.

References
----------
RFC 6962, "Certificate Transparency", §2.1 (Merkle hash trees), §2.1.1 (audit paths),
§2.1.2 (consistency proofs). RFC 9162, "Certificate Transparency Version 2.0", §2.1.3.2
(verifying an inclusion proof), §2.1.4.2 (verifying consistency between two tree heads).
Guide §3.2.2(2)1 (区块链存证: tamper-proof attestation of carbon and energy data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from carbonpark.errors import ValidationError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "consistency_proof",
    "consistency_ranges",
    "fold_subtrees",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size of a SHA-256 digest [bytes]."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree, ``SHA-256()`` (RFC 6962 §2.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

Range = tuple[int, int]
"""A half-open range of leaf indices ``(start, end)``."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf, ``SHA-256(0x00 ‖ data)``.

    References
    ----------
    RFC 6962 §2.1.
    """
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node, ``SHA-256(0x01 ‖ left ‖ right)``.

    References
    ----------
    RFC 6962 §2.1.
    """
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n`` ≥ 2), where RFC 6962 splits a tree."""
    if n < 2:
        raise ValidationError("n", "a tree size of at least 2", n)
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_hash_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a non-empty run of leaf hashes, computed bottom-up without recursion."""
    # Combining pairs level by level gives the RFC tree: an odd last node is carried up
    # unchanged, which is the same as splitting at the largest power of two (RFC 6962 §2.1).
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash ``MTH(D[n])`` of the raw entries ``leaves``.

    Parameters
    ----------
    leaves
        The raw entries, in log order.

    Returns
    -------
    bytes
        The 32-byte root; ``SHA-256()`` for no leaves.

    References
    ----------
    RFC 6962 §2.1.
    """
    if not leaves:
        return EMPTY_ROOT
    return _subtree_hash_of_hashes([leaf_hash(d) for d in leaves])


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValidationError("index", f"a leaf index in [0, {size})", index)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes form the audit path of leaf ``index`` in a tree of ``size`` leaves.

    Listed in proof order, from the leaf's sibling up to the root's other child, as
    ``PATH(m, D[n])`` of RFC 6962 §2.1.1 emits them.

    References
    ----------
    RFC 6962 §2.1.1.
    """
    _check_index(index, size)
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The subtrees whose hashes form the consistency proof from ``old_size`` to ``new_size``.

    Follows ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` of RFC 6962 §2.1.2, in its order;
    empty when ``old_size`` is 0 or equals ``new_size``.

    References
    ----------
    RFC 6962 §2.1.2.
    """
    if not 0 <= old_size <= new_size:
        raise ValidationError("old_size", f"a size in [0, {new_size}]", old_size)
    if old_size in (0, new_size):
        return []
    ranges: list[Range] = []
    m, start, end, complete = old_size, 0, new_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m, start, complete = m - k, start + k, False
    ranges.reverse()
    return ranges


def _hash_ranges(leaves: Sequence[bytes], ranges: list[Range]) -> list[bytes]:
    hashes = [leaf_hash(d) for d in leaves]
    return [_subtree_hash_of_hashes(hashes[a:b]) for a, b in ranges]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of ``leaves[index]`` in the tree of all ``leaves``.

    References
    ----------
    RFC 6962 §2.1.1.
    """
    return _hash_ranges(leaves, inclusion_ranges(index, len(leaves)))


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of ``leaves[:old_size]`` is a prefix of the tree of all ``leaves``.

    References
    ----------
    RFC 6962 §2.1.2.
    """
    return _hash_ranges(leaves, consistency_ranges(old_size, len(leaves)))


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` that tile the RFC subtree ``[start, end)``, left to right.

    A perfect subtree ``(level, index)`` covers leaves ``[index·2^level, (index+1)·2^level)``.
    Every node of an RFC 6962 tree of size n covers such a range, with ``start`` aligned to
    a power of two at least ``end − start``; it is tiled greedily by the largest aligned
    perfect subtrees, which come out in decreasing size.
    """
    if not 0 <= start < end:
        raise ValidationError("range", "a non-empty leaf range [start, end)", (start, end))
    tiles: list[tuple[int, int]] = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        if position:
            level = min(level, (position & -position).bit_length() - 1)
        tiles.append((level, position >> level))
        position += 1 << level
    return tiles


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of the perfect subtrees of :func:`perfect_subtrees` (left to right) into one.

    The right-most (smallest) subtrees are combined first: ``H(h0, H(h1, H(h2, h3)))``, which
    is the RFC 6962 split at the largest power of two, applied repeatedly.
    """
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 steps 2–5: the root the proof leads to, or None if its shape is wrong."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(data: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows that entry ``data`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Parameters
    ----------
    data
        The raw entry (not its hash).
    index
        Its leaf index (0-based).
    size
        The tree size the root belongs to.
    proof
        The audit path, 32-byte hashes, leaf to root.
    root
        The expected 32-byte tree root.

    References
    ----------
    RFC 9162 §2.1.3.2 (the algorithm, step by step).
    """
    if not (0 <= index < size) or not _is_hash(root) or not all(_is_hash(p) for p in proof):
        return False
    computed = _root_from_inclusion(leaf_hash(data), index, size, proof)
    return computed is not None and computed == bytes(root)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows that the tree ``(old_size, old_root)`` is a prefix of ``(new_size, new_root)``.

    For ``0 < old_size < new_size`` the RFC 9162 §2.1.4.2 algorithm decides. The edge cases
    the RFC leaves to the implementer: equal sizes need equal roots and an empty proof; an
    old size of 0 needs the empty-tree root ``SHA-256()`` and an empty proof (any tree
    extends the empty one).

    References
    ----------
    RFC 9162 §2.1.4.2; RFC 6962 §2.1.2.
    """
    if not (0 <= old_size <= new_size) or not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if not all(_is_hash(c) for c in proof):
        return False
    if old_size == 0:
        return not proof and bytes(old_root) == EMPTY_ROOT
    if old_size == new_size:
        return not proof and bytes(old_root) == bytes(new_root)
    # Step 1: an empty path fails.
    if not proof:
        return False
    path = list(proof)
    # Step 2: an old tree that is a perfect subtree of the new one is its own first node.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    # Steps 3–4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    return fr == bytes(old_root) and sr == bytes(new_root) and sn == 0
