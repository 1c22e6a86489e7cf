"""RFC 6962 Merkle tree: published test vectors and properties.

The vectors (leaves, roots of every prefix size, inclusion and consistency proofs) are
those of the Certificate Transparency reference implementation maintained by
transparency-dev: repository ``transparency-dev/merkle``, file ``proof/verify_test.go``
(variables ``leaves``, ``roots``, ``inclusionProofs``, ``consistencyProofs``; the Go tests
number leaves from 1, here they are 0-based), and ``rfc6962/rfc6962_test.go`` for the
single hashes. The same values appear in ``google/certificate-transparency``
(``cpp/merkletree/merkle_tree_test.cc``).
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.errors import ValidationError
from carbonpark.ledger import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

# roots[n - 1] is the root of the first n leaves.
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# (0-based leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def test_single_hashes_match_rfc6962_hasher_vectors() -> None:
    # rfc6962/rfc6962_test.go: empty tree, empty leaf, leaf "L123456", node ("N123", "N456").
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert (
        merkle.node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_each_prefix_matches_vector(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proof_matches_vector_and_verifies(index: int, size: int, path: list[bytes]) -> None:
    assert merkle.inclusion_proof(LEAVES[:size], index) == path
    assert merkle.verify_inclusion(LEAVES[index], index, size, path, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proof_matches_vector_and_verifies(old: int, new: int, proof: list[bytes]) -> None:
    assert merkle.consistency_proof(LEAVES[:new], old) == proof
    assert merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[1:])
def test_inclusion_rejects_the_corruptions_of_the_reference_suite(index: int, size: int, path: list[bytes]) -> None:
    # The probes of corruptInclusionProof() in proof/verify_test.go.
    leaf, root = LEAVES[index], ROOTS[size - 1]
    some_hash = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    assert not merkle.verify_inclusion(leaf, index - 1, size, path, root)
    assert not merkle.verify_inclusion(leaf, index + 1, size, path, root)
    assert not merkle.verify_inclusion(leaf, index ^ 2, size, path, root)
    assert not merkle.verify_inclusion(leaf, index, size * 2, path, root)
    assert not merkle.verify_inclusion(leaf, index, size // 2, path, root)
    assert not merkle.verify_inclusion(b"WrongLeaf", index, size, path, root)
    assert not merkle.verify_inclusion(leaf, index, size, path, merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(leaf, index, size, path, some_hash)
    assert not merkle.verify_inclusion(leaf, index, size, [*path, b""], root)
    assert not merkle.verify_inclusion(leaf, index, size, [*path, root], root)
    assert not merkle.verify_inclusion(leaf, index, size, [b"", *path], root)
    assert not merkle.verify_inclusion(leaf, index, size, [root, *path], root)
    assert not merkle.verify_inclusion(leaf, index, size, path[:-1], root)
    assert not merkle.verify_inclusion(leaf, index, size, [path[0], some_hash, *path[1:]], root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[1:])
def test_consistency_rejects_the_corruptions_of_the_reference_suite(old: int, new: int, proof: list[bytes]) -> None:
    # The probes of corruptConsistencyProof() in proof/verify_test.go.
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    for o, n, a, b, p in [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]:
        assert not merkle.verify_consistency(o, n, a, b, p), (o, n, len(p))


def test_consistency_edge_cases() -> None:
    r = ROOTS[0]
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 1, merkle.EMPTY_ROOT, r, [])
    assert merkle.verify_consistency(1, 1, r, r, [])
    assert not merkle.verify_consistency(1, 1, r, ROOTS[1], [])  # same size, other root
    assert not merkle.verify_consistency(1, 0, r, merkle.EMPTY_ROOT, [])  # time travel
    assert not merkle.verify_consistency(1, 1, r, r, [r])  # equal trees need an empty proof
    assert not merkle.verify_consistency(0, 1, r, r, [])  # the empty tree's root is SHA-256()
    assert merkle.consistency_proof(LEAVES, 0) == []


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValidationError):
        merkle.inclusion_proof(LEAVES, 8)
    with pytest.raises(ValidationError):
        merkle.consistency_proof(LEAVES, 9)
    assert not merkle.verify_inclusion(b"", 0, 0, [], merkle.EMPTY_ROOT)
    assert merkle.split_point(5) == 4 and merkle.split_point(8) == 4 and merkle.split_point(2) == 1


def test_perfect_subtrees_tile_a_right_edge_subtree() -> None:
    # Leaves [8, 15): 4 from 8, 2 from 12, 1 at 14 -> (2, 2), (1, 6), (0, 14).
    assert merkle.perfect_subtrees(8, 15) == [(2, 2), (1, 6), (0, 14)]
    subtree = [bytes([i]) for i in range(8, 15)]
    parts = [
        merkle.root([bytes([i]) for i in range(ix << lv, (ix + 1) << lv)]) for lv, ix in merkle.perfect_subtrees(8, 15)
    ]
    assert merkle.fold_subtrees(parts) == merkle.root(subtree)
    assert merkle.perfect_subtrees(0, 6) == [(2, 0), (1, 2)]


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_any_changed_byte_fails(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    top = merkle.root(leaves)
    proof = merkle.inclusion_proof(leaves, index)
    assert merkle.verify_inclusion(leaves[index], index, len(leaves), proof, top)
    # A changed byte in the entry (or an appended one when it is empty).
    entry = bytearray(leaves[index]) or bytearray(b"\x00")
    if leaves[index]:
        position = data.draw(st.integers(0, len(entry) - 1))
        entry[position] ^= data.draw(st.integers(1, 255))
    assert not merkle.verify_inclusion(bytes(entry), index, len(leaves), proof, top)
    # A changed byte in the root.
    bad_root = bytearray(top)
    bad_root[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
    assert not merkle.verify_inclusion(leaves[index], index, len(leaves), proof, bytes(bad_root))
    # A changed byte in the proof.
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        node = bytearray(proof[which])
        node[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
        bad = [*proof[:which], bytes(node), *proof[which + 1 :]]
        assert not merkle.verify_inclusion(leaves[index], index, len(leaves), bad, top)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_consistency_proof_verifies_and_any_changed_byte_fails(leaves: list[bytes], data: st.DataObject) -> None:
    old = data.draw(st.integers(1, len(leaves)))
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, old)
    assert merkle.verify_consistency(old, len(leaves), old_root, new_root, proof)
    for which_root in (0, 1):
        changed = bytearray((old_root, new_root)[which_root])
        changed[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
        roots = [old_root, new_root]
        roots[which_root] = bytes(changed)
        assert not merkle.verify_consistency(old, len(leaves), roots[0], roots[1], proof)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        node = bytearray(proof[which])
        node[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
        bad = [*proof[:which], bytes(node), *proof[which + 1 :]]
        assert not merkle.verify_consistency(old, len(leaves), old_root, new_root, bad)
