"""An append-only Merkle log over a node store: appends, roots and proofs in O(log n).

The log keeps the hash of every *perfect subtree* it has completed. A perfect subtree is
named ``(level, index)`` and covers the ``2^level`` leaves
``[index · 2^level, (index + 1) · 2^level)``; level 0 holds the leaf hashes. A log of n
leaves holds fewer than 2n such hashes, and they never change once written (the log is
append-only), so any storage that can keep key–value pairs can hold them.

Any RFC 6962 subtree of a tree of size n, including the whole tree and every historical
tree of size m ≤ n, is tiled by at most ⌈log2 n⌉ + 1 perfect subtrees
(:func:`carbonpark.ledger.merkle.perfect_subtrees`), so a root or a proof needs O(log n)
stored hashes, fetched in one batch.

The node-store protocol
-----------------------
:class:`NodeStore` is what a storage back end implements (an in-memory one is
:class:`MemoryNodeStore`; the database one lives in ``carbonpark.store``):

``size() -> int``
    The number of leaves appended so far (0 for a new log).
``get_nodes(keys) -> list[bytes]``
    The 32-byte hashes of the perfect subtrees ``keys`` (a sequence of ``(level, index)``),
    in the same order. Only complete subtrees inside ``[0, size())`` are ever asked for; a
    missing one is damage and raises :class:`carbonpark.errors.IntegrityError`.
``put_nodes(nodes, old_size, new_size) -> None``
    Add the hashes ``nodes`` (a sequence of ``(level, index, hash)``) and move the size from
    ``old_size`` to ``new_size``, all or nothing (one transaction). If the stored size is
    not ``old_size`` (another writer came first) it raises
    :class:`carbonpark.errors.ConflictError` and writes nothing. Existing keys are never
    rewritten: a key already present with a different hash raises
    :class:`carbonpark.errors.IntegrityError`.

A database back end maps this to one table ``(level, index) → hash`` plus one row for
the size; :meth:`MerkleLog.append_many` writes a whole batch with one ``put_nodes`` (an
``executemany``), and every proof reads with one ``get_nodes`` (``WHERE (level, index) IN``).

References
----------
RFC 6962 §2.1 (tree hash), §2.1.1 (audit paths), §2.1.2 (consistency proofs).
transparency-dev "compact ranges" (``docs/compact_ranges.md`` in ``transparency-dev/merkle``)
describe the same tiling. Guide §3.2.2(2)1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from carbonpark.errors import ConflictError, IntegrityError, ValidationError
from carbonpark.ledger import merkle

__all__ = ["MemoryNodeStore", "MerkleLog", "NodeKey", "NodeStore"]

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""


@runtime_checkable
class NodeStore(Protocol):
    """Where a :class:`MerkleLog` keeps the hashes of its perfect subtrees (see the module text)."""

    def size(self) -> int:
        """The number of leaves in the log."""
        ...

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        """The hashes of the perfect subtrees ``keys``, in order; IntegrityError if one is missing."""
        ...

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]], old_size: int, new_size: int) -> None:
        """Add ``nodes`` and move the size from ``old_size`` to ``new_size``, atomically."""
        ...


class MemoryNodeStore:
    """A :class:`NodeStore` in a Python dict (tests, tools, a witness's scratch log)."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self._size = 0

    def size(self) -> int:
        return self._size

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        try:
            return [self._nodes[key] for key in keys]
        except KeyError as exc:
            raise IntegrityError(f"node store: no hash for perfect subtree {exc.args[0]}") from exc

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]], old_size: int, new_size: int) -> None:
        if self._size != old_size:
            raise ConflictError(f"node store: size is {self._size}, the writer expected {old_size}")
        for level, index, digest in nodes:
            known = self._nodes.get((level, index))
            if known is not None and known != digest:
                raise IntegrityError(f"node store: perfect subtree {(level, index)} already has another hash")
        for level, index, digest in nodes:
            self._nodes[(level, index)] = bytes(digest)
        self._size = new_size

    def tamper(self, key: NodeKey, digest: bytes) -> None:
        """Overwrite one stored hash behind the log's back (for tamper tests only)."""
        self._nodes[key] = digest


class MerkleLog:
    """An RFC 6962 append-only log whose state lives in a :class:`NodeStore`.

    Parameters
    ----------
    store
        The node store; a new :class:`MemoryNodeStore` when omitted.

    Notes
    -----
    Appending k leaves to a log of n costs k leaf hashes, fewer than k interior hashes,
    one read of at most ⌈log2 n⌉ stored hashes and one write. A root, an inclusion proof
    or a consistency proof reads O(log n) stored hashes in one batch.

    References
    ----------
    RFC 6962 §2.1.
    """

    def __init__(self, store: NodeStore | None = None) -> None:
        self.store: NodeStore = store if store is not None else MemoryNodeStore()
        self._seen_size = 0  # the log never shrinks: a size seen once stays valid (saves a read per proof)

    @property
    def size(self) -> int:
        """The number of leaves [entries]."""
        return self.store.size()

    def append(self, entry: bytes) -> int:
        """Append one raw entry; returns its leaf index."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[bytes]) -> list[int]:
        """Append raw entries in order with one store write; returns their leaf indices."""
        return self.append_leaf_hashes([merkle.leaf_hash(e) for e in entries])

    def append_leaf_hashes(self, leaf_hashes: Sequence[bytes]) -> list[int]:
        """Append leaves by their RFC 6962 leaf hashes (``SHA-256(0x00 ‖ entry)``), with one store write."""
        for digest in leaf_hashes:
            if len(digest) != merkle.HASH_SIZE:
                raise ValidationError("leaf_hash", "a 32-byte SHA-256 digest", digest)
        old_size = self.store.size()
        if not leaf_hashes:
            return []
        frontier_keys = merkle.perfect_subtrees(0, old_size) if old_size else []
        stack = [
            (level, index, digest)
            for (level, index), digest in zip(frontier_keys, self.store.get_nodes(frontier_keys), strict=True)
        ]
        new_nodes: list[tuple[int, int, bytes]] = []
        for offset, digest in enumerate(leaf_hashes):
            node = (0, old_size + offset, bytes(digest))
            new_nodes.append(node)
            stack.append(node)
            while len(stack) >= 2 and stack[-2][0] == stack[-1][0]:
                right = stack.pop()
                left = stack.pop()
                parent = (left[0] + 1, left[1] >> 1, merkle.node_hash(left[2], right[2]))
                new_nodes.append(parent)
                stack.append(parent)
        new_size = old_size + len(leaf_hashes)
        self.store.put_nodes(new_nodes, old_size, new_size)
        return list(range(old_size, new_size))

    def _check_size(self, size: int | None) -> int:
        if size is not None and 0 <= size <= self._seen_size:
            return size
        current = self.store.size()
        self._seen_size = max(self._seen_size, current)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise ValidationError("size", f"a tree size in [0, {current}]", size)
        return size

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The hashes of RFC subtrees ``ranges``, read from the store in one batch."""
        tiles = [merkle.perfect_subtrees(a, b) for a, b in ranges]
        flat = [key for tile in tiles for key in tile]
        hashes = iter(self.store.get_nodes(flat))
        return [merkle.fold_subtrees([next(hashes) for _ in tile]) for tile in tiles]

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first ``size`` leaves (the whole log by default).

        References
        ----------
        RFC 6962 §2.1.
        """
        size = self._check_size(size)
        if size == 0:
            return merkle.EMPTY_ROOT
        return self._range_hashes([(0, size)])[0]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """The stored leaf hashes of leaves ``[start, end)``."""
        end = self._check_size(end)
        if not 0 <= start <= end:
            raise ValidationError("start", f"a leaf index in [0, {end}]", start)
        ranged = getattr(self.store, "get_level_range", None)
        if ranged is not None:  # optional fast path of a store: one range scan instead of a key list
            return list(ranged(0, start, end))
        return self.store.get_nodes([(0, i) for i in range(start, end)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves.

        Equal to :func:`carbonpark.ledger.merkle.inclusion_proof` on the raw entries.

        References
        ----------
        RFC 6962 §2.1.1.
        """
        size = self._check_size(size)
        return self._range_hashes(merkle.inclusion_ranges(index, size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``.

        Equal to :func:`carbonpark.ledger.merkle.consistency_proof` on the raw entries.

        References
        ----------
        RFC 6962 §2.1.2.
        """
        new_size = self._check_size(new_size)
        return self._range_hashes(merkle.consistency_ranges(old_size, new_size))

    def subtree_hash(self, start: int, end: int) -> bytes:
        """The stored hash of the RFC subtree ``[start, end)`` (used to locate tampering)."""
        self._check_size(end)
        return self._range_hashes([(start, end)])[0]
