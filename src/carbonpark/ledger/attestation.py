"""The one ``append`` interface: entries in, leaf indices, tree heads and proofs out.

Every capability that must be trusted (readings, activity data, emission records, factor-set
versions, allowance movements, verification statements, audit-log entries, key events)
hands an :class:`~carbonpark.ledger.entries.Entry` to :meth:`Ledger.append`. The ledger
keeps the canonical entry bytes in an :class:`EntryStore` and the Merkle hashes in a
:class:`~carbonpark.ledger.log.NodeStore`; both have in-memory implementations here, the
database ones live in ``carbonpark.store`` and must write an append's entries and nodes in
one transaction.

The ``EntryStore`` protocol
---------------------------
``size() -> int``
    The number of entries stored.
``get_entries(start, end) -> list[bytes]``
    The raw entries of leaves ``[start, end)``, in order.
``put_entries(first_index, rows) -> None``
    Store ``rows`` (a sequence of :class:`EntryRow`: kind, record handle, raw entry bytes)
    as leaves ``first_index, first_index + 1, …``; ``first_index`` must be the current size
    (else :class:`carbonpark.errors.ConflictError`). Kind and record are stored beside the
    bytes so that :meth:`find` is an index lookup.
``find(kind, record) -> int | None``
    The leaf index of the latest entry of that kind for that record handle.

References
----------
RFC 6962 §2.1, §3.5. Guide §3.2.2(2)1 (区块链存证), §7.2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, overload, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonpark.errors import ConflictError, ValidationError
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.bundle import make_bundle
from carbonpark.ledger.entries import Entry
from carbonpark.ledger.log import MerkleLog, NodeStore
from carbonpark.ledger.signing import SignedTreeHead, TreeHead
from carbonpark.ledger.tamper import TamperReport, locate_tampering

__all__ = ["EntryRow", "EntryStore", "Ledger", "MemoryEntryStore", "Receipt"]


class EntryRow(NamedTuple):
    """One stored entry: its raw canonical bytes and copies of fields used for look-ups.

    ``organisation`` and ``timestamp_ms`` are optional for stores that only look up by
    kind and record (the in-memory one ignores them).
    """

    kind: str
    record: str
    data: bytes
    organisation: str = ""
    timestamp_ms: int = 0


@runtime_checkable
class EntryStore(Protocol):
    """Where a :class:`Ledger` keeps its raw entries (see the module text)."""

    def size(self) -> int: ...

    def get_entries(self, start: int, end: int) -> list[bytes]: ...

    def put_entries(self, first_index: int, rows: Sequence[EntryRow]) -> None: ...

    def find(self, kind: str, record: str) -> int | None: ...


class MemoryEntryStore:
    """An :class:`EntryStore` in Python lists."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self._index: dict[tuple[str, str], int] = {}

    def size(self) -> int:
        return len(self.entries)

    def get_entries(self, start: int, end: int) -> list[bytes]:
        return self.entries[start:end]

    def put_entries(self, first_index: int, rows: Sequence[EntryRow]) -> None:
        if first_index != len(self.entries):
            raise ConflictError(f"entry store: size is {len(self.entries)}, the writer expected {first_index}")
        for offset, row in enumerate(rows):
            self._index[(row.kind, row.record)] = first_index + offset
        self.entries.extend(bytes(row.data) for row in rows)

    def find(self, kind: str, record: str) -> int | None:
        return self._index.get((kind, record))


@dataclass(frozen=True)
class Receipt:
    """What an append returns: where the entry sits and the hash the log committed to."""

    index: int
    leaf_hash: bytes
    entry: bytes


class Ledger:
    """The attestation log: one append path, signed heads, proofs, verification.

    Parameters
    ----------
    entries
        Entry store; in memory when omitted.
    nodes
        Node store; in memory when omitted.
    """

    def __init__(self, entries: EntryStore | None = None, nodes: NodeStore | None = None) -> None:
        self.entries: EntryStore = entries if entries is not None else MemoryEntryStore()
        self.log = MerkleLog(nodes)
        if self.entries.size() != self.log.size:
            raise ConflictError(
                f"ledger: {self.entries.size()} entries stored but the Merkle log has {self.log.size} leaves"
            )

    @property
    def size(self) -> int:
        """Number of entries [entries]."""
        return self.log.size

    def append(self, entry: Entry) -> Receipt:
        """Attest one entry (already signed by its organisation when it signs)."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[Entry]) -> list[Receipt]:
        """Attest entries in order, as one batch (one write to each store)."""
        rows = [EntryRow(e.kind, e.record, e.to_bytes(), e.organisation, e.timestamp_ms) for e in entries]
        if not rows:
            return []
        first = self.log.size
        raw = [row.data for row in rows]
        hashes = [merkle.leaf_hash(r) for r in raw]
        self.entries.put_entries(first, rows)
        self.log.append_leaf_hashes(hashes)
        return [Receipt(first + i, h, r) for i, (h, r) in enumerate(zip(hashes, raw, strict=True))]

    def head(self, timestamp_ms: int, size: int | None = None) -> TreeHead:
        """The tree head of the first ``size`` entries (all by default), stamped ``timestamp_ms``."""
        size = self.log.size if size is None else size
        return TreeHead(size, timestamp_ms, self.log.root(size))

    def sign_head(self, key: Ed25519PrivateKey, timestamp_ms: int) -> SignedTreeHead:
        """A signed tree head of the whole log (RFC 6962 §3.5), signed with the park's key."""
        return signing.sign_tree_head(key, self.head(timestamp_ms))

    def index_of(self, kind: str, record: str) -> int:
        """The leaf index of the latest entry of ``kind`` for ``record``."""
        index = self.entries.find(kind, record)
        if index is None:
            raise ValidationError("record", f"a {kind} record handle in the ledger", record)
        return index

    def proof_bundle(self, kind: str, record: str, sth: SignedTreeHead, public_key_pem: bytes) -> dict[str, Any]:
        """The offline proof bundle of ``record`` under the signed head ``sth`` (docs/ledger.md §4)."""
        index = self.index_of(kind, record)
        if index >= sth.head.size:
            raise ValidationError("record", f"a record attested before the signed head (size {sth.head.size})", record)
        entry = self.entries.get_entries(index, index + 1)[0]
        return make_bundle(entry, index, self.log.inclusion_proof(index, sth.head.size), sth, public_key_pem)

    def verify(self, head: TreeHead) -> TamperReport:
        """Check the stored entries against a (signature-checked) tree head; see :func:`locate_tampering`.

        The entries are read from the store in slices, never all at once.
        """
        return locate_tampering(_StoredEntries(self.entries), head, self.log)


class _StoredEntries(Sequence[bytes]):
    """A read-only view of an :class:`EntryStore` as a sequence; slices become ``get_entries`` calls."""

    def __init__(self, store: EntryStore) -> None:
        self._store = store
        self._size = store.size()

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._size)
            if step != 1:
                raise ValidationError("slice", "a contiguous range of entries", index)
            return self._store.get_entries(start, stop) if start < stop else []
        if not -self._size <= index < self._size:
            raise IndexError(index)
        position = index % self._size
        return self._store.get_entries(position, position + 1)[0]
