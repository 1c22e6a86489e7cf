"""The node-store Merkle log: same roots and proofs as the RFC 6962 functions, O(log n) reads."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.errors import ConflictError, IntegrityError, ValidationError
from carbonpark.ledger import merkle
from carbonpark.ledger.log import MemoryNodeStore, MerkleLog, NodeKey, NodeStore


def _log_of(leaves: Sequence[bytes], batches: Sequence[int]) -> MerkleLog:
    log = MerkleLog()
    start = 0
    for size in batches:
        log.append_many(leaves[start : start + size])
        start += size
    for leaf in leaves[start:]:
        log.append(leaf)
    return log


@settings(max_examples=40, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=70),
    batches=st.lists(st.integers(0, 20), max_size=5),
    data=st.data(),
)
def test_store_proofs_equal_proofs_from_raw_leaves(
    leaves: list[bytes], batches: list[int], data: st.DataObject
) -> None:
    log = _log_of(leaves, batches)
    assert log.size == len(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    prefix = leaves[:size]
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")
    assert log.root(size) == merkle.root(prefix)
    assert log.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
    assert log.consistency_proof(old, size) == merkle.consistency_proof(prefix, old)
    assert log.leaf_hashes(0, size) == [merkle.leaf_hash(x) for x in prefix]


def test_vector_root_through_the_log() -> None:
    # Root of the 8 CT leaves of proof/verify_test.go (transparency-dev/merkle).
    leaves = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243"]]
    leaves += [bytes.fromhex("5051525354555657"), bytes.fromhex("606162636465666768696a6b6c6d6e6f")]
    log = MerkleLog()
    assert log.root() == merkle.EMPTY_ROOT
    assert log.append_many(leaves[:3]) == [0, 1, 2]
    assert log.append_many(leaves[3:]) == [3, 4, 5, 6, 7]
    assert log.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert log.root(3).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"
    # 8 leaves keep 8 + 4 + 2 + 1 = 15 perfect subtrees.
    assert isinstance(log.store, MemoryNodeStore)
    assert len(log.store._nodes) == 15
    assert isinstance(log.store, NodeStore)


def test_store_refuses_a_stale_writer_and_a_rewrite() -> None:
    store = MemoryNodeStore()
    log = MerkleLog(store)
    log.append(b"a")
    with pytest.raises(ConflictError):
        store.put_nodes([(0, 1, merkle.leaf_hash(b"b"))], 0, 2)
    with pytest.raises(IntegrityError):
        store.put_nodes([(0, 0, merkle.leaf_hash(b"other"))], 1, 1)
    assert log.size == 1 and log.root() == merkle.leaf_hash(b"a")


def test_missing_node_is_an_integrity_error_and_bad_sizes_are_refused() -> None:
    store = MemoryNodeStore()
    log = MerkleLog(store)
    log.append_many([b"a", b"b", b"c"])
    del store._nodes[(1, 0)]
    with pytest.raises(IntegrityError):
        log.root()
    with pytest.raises(ValidationError):
        log.root(4)
    with pytest.raises(ValidationError):
        log.inclusion_proof(3)
    with pytest.raises(ValidationError):
        log.append_leaf_hashes([b"short"])


class UniformStore:
    """A synthetic node store of ``size`` identical leaves: every perfect subtree of a level has one hash.

    It lets a test ask a 10-million-entry log for roots and proofs without building it, and
    counts what the log reads.
    """

    def __init__(self, size: int, entry: bytes) -> None:
        self._size = size
        self.level_hash = [merkle.leaf_hash(entry)]
        for _ in range(40):
            self.level_hash.append(merkle.node_hash(self.level_hash[-1], self.level_hash[-1]))
        self.extra: dict[NodeKey, bytes] = {}
        self.reads = 0

    def size(self) -> int:
        return self._size

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        self.reads += len(keys)
        out = []
        for level, index in keys:
            assert (index + 1) << level <= self._size, (level, index)
            out.append(self.extra.get((level, index), self.level_hash[level]))
        return out

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]], old_size: int, new_size: int) -> None:
        assert old_size == self._size
        self.extra.update({(lv, ix): h for lv, ix, h in nodes})
        self._size = new_size


def test_ten_million_entries_need_logarithmic_reads() -> None:
    n = 10_000_000
    store = UniformStore(n, b"reading")
    log = MerkleLog(store)
    top = log.root()
    # 10,000,000 = 0b100110001001011010000000: 8 bits set, so 8 perfect subtrees.
    assert store.reads == 8
    store.reads = 0
    proof = log.inclusion_proof(9_999_999)
    assert merkle.verify_inclusion(b"reading", 9_999_999, n, proof, top)
    assert len(proof) <= 24 and store.reads <= 2 * 24
    store.reads = 0
    old_root = log.root(6_543_210)
    consistency = log.consistency_proof(6_543_210)
    assert merkle.verify_consistency(6_543_210, n, old_root, top, consistency)
    assert store.reads <= 4 * 24
    store.reads = 0
    log.append(b"reading")
    assert store.reads == 8  # the frontier only
    # Appending the same entry again extends the uniform tree: the new root is that of n + 1 leaves.
    assert merkle.verify_consistency(n, n + 1, top, log.root(), log.consistency_proof(n))
