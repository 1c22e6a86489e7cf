"""Ed25519 keys, the signed tree head byte layout, witnesses, proof bundles."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonpark.errors import IntegrityError, ValidationError
from carbonpark.ledger import signing
from carbonpark.ledger.attestation import Ledger
from carbonpark.ledger.bundle import check_bundle, make_bundle
from carbonpark.ledger.entries import Entry
from carbonpark.ledger.signing import TreeHead
from carbonpark.ledger.tamper import check_head_consistency, witness_tree_head

# Root of the 8 Certificate Transparency test leaves (transparency-dev/merkle, proof/verify_test.go).
ROOT8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_ed25519_matches_rfc8032_test_1() -> None:
    # RFC 8032 §7.1, TEST 1: the empty message.
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = Ed25519PrivateKey.from_private_bytes(secret)
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    pem = signing.public_key_pem(key)
    again = signing.load_public_key(pem)
    raw = again.public_bytes_raw()
    assert raw.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_tree_head_layout_is_rfc6962_section_3_5() -> None:
    # version 0x00, signature_type 0x01 (tree_hash), timestamp 1735660800000 = 0x000001941d720800,
    # tree_size 8 = 0x0000000000000008, then the 32-byte root: 50 bytes.
    head = TreeHead(8, 1735660800000, ROOT8)
    layout = signing.tree_head_bytes(head)
    assert len(layout) == signing.TREE_HEAD_LAYOUT_SIZE == 50
    assert layout.hex() == "0001" + "000001941d720800" + "0000000000000008" + ROOT8.hex()


def test_signed_tree_head_verifies_and_fails_on_any_change() -> None:
    key, other = signing.generate_key(), signing.generate_key()
    sth = signing.sign_tree_head(key, TreeHead(8, 1735660800000, ROOT8))
    public = key.public_key()
    assert signing.verify_tree_head(public, sth)
    again = signing.SignedTreeHead.from_json(sth.to_json())
    assert again == sth and signing.verify_tree_head(public, again)
    assert not signing.verify_tree_head(other.public_key(), sth)
    for changed in (
        TreeHead(9, 1735660800000, ROOT8),
        TreeHead(8, 1735660800001, ROOT8),
        TreeHead(8, 1735660800000, bytes(32)),
    ):
        assert not signing.verify_tree_head(public, signing.SignedTreeHead(changed, sth.signature, sth.key_id))
    with pytest.raises(ValidationError, match="root"):
        TreeHead(1, 0, b"short")
    with pytest.raises(ValidationError, match="key_id"):
        signing.SignedTreeHead(sth.head, sth.signature, "not hex")
    with pytest.raises(ValidationError, match=r"signed_tree_head\.root"):
        signing.SignedTreeHead.from_json({**sth.to_json(), "root": "%%%"})


def test_keys_round_trip_through_pem_with_and_without_password() -> None:
    key = signing.generate_key()
    plain = signing.load_private_key(signing.private_key_pem(key))
    locked = signing.load_private_key(signing.private_key_pem(key, b"s3cret"), b"s3cret")
    assert signing.key_id(plain) == signing.key_id(locked) == signing.key_id(key.public_key())
    assert len(signing.key_id(key)) == 64
    with pytest.raises(ValidationError):
        signing.load_private_key(signing.private_key_pem(key, b"s3cret"), b"wrong")
    with pytest.raises(ValidationError):
        signing.load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def _ledger(n: int, rows_offset: int = 0) -> Ledger:
    ledger = Ledger()
    ledger.append_many(
        Entry("reading_batch", "ENT-0001", f"batch:{i}", 1735660800000 + i, {"rows": i + rows_offset}) for i in range(n)
    )
    return ledger


def test_witness_cosigns_an_extension_and_refuses_a_rewrite() -> None:
    park, witness = signing.generate_key(), signing.generate_key()
    ledger = _ledger(5)
    kept = ledger.sign_head(park, 1000)
    first = witness_tree_head(None, kept, [], park.public_key(), witness, 1001)
    assert signing.verify_cosignature(witness.public_key(), kept, first)
    ledger.append(Entry("activity_datum", "ENT-0001", "datum:1", 1002, {"energy_gj": "1.2"}))
    newer = ledger.sign_head(park, 2000)
    proof = ledger.log.consistency_proof(5)
    cosig = witness_tree_head(kept, newer, proof, park.public_key(), witness, 2001)
    assert signing.verify_cosignature(witness.public_key(), newer, cosig)
    assert not signing.verify_cosignature(witness.public_key(), kept, cosig)
    assert check_head_consistency(kept, newer, proof, park.public_key()) == []
    # A rewritten log: same size 6, but the first 5 entries differ from what was witnessed.
    forged = _ledger(6, rows_offset=1)
    forged_head = forged.sign_head(park, 3000)
    with pytest.raises(IntegrityError, match="rewritten"):
        witness_tree_head(kept, forged_head, forged.log.consistency_proof(5), park.public_key(), witness, 3001)
    # A rolled-back log.
    problems = check_head_consistency(newer, kept, [], park.public_key())
    assert any("shrank" in p for p in problems) and any("older" in p for p in problems)
    # A head signed with another key.
    with pytest.raises(IntegrityError, match="signature"):
        witness_tree_head(None, newer, [], witness.public_key(), witness, 1)


def test_proof_bundle_checks_offline_and_names_each_failure() -> None:
    park = signing.generate_key()
    ledger = _ledger(11)
    sth = ledger.sign_head(park, 5000)
    index = ledger.index_of("reading_batch", "batch:7")
    assert index == 7
    entry = ledger.entries.get_entries(index, index + 1)[0]
    bundle = make_bundle(entry, index, ledger.log.inclusion_proof(index), sth, signing.public_key_pem(park))
    assert ledger.proof_bundle("reading_batch", "batch:7", sth, signing.public_key_pem(park)) == bundle
    ledger.append(Entry("reading_batch", "ENT-0001", "batch:late", 1, {}))
    with pytest.raises(ValidationError, match="before the signed head"):
        ledger.proof_bundle("reading_batch", "batch:late", sth, signing.public_key_pem(park))
    result = check_bundle(bundle, trusted_key=park.public_key())
    assert result.ok and result.problems == [] and result.tree_size == 11
    assert bundle["entry_json"]["record"] == "batch:7"

    changed_entry = entry.replace(b'"rows":7', b'"rows":8')
    bad = {**bundle, "entry": signing.b64encode(changed_entry)}
    assert check_bundle(bad).checks["inclusion_proof"] is False
    other = signing.generate_key()
    assert check_bundle(bundle, trusted_key=other.public_key()).problems == [
        "the bundle is signed by a key other than the trusted one"
    ]
    resigned = make_bundle(entry, index, ledger.log.inclusion_proof(index), sth, signing.public_key_pem(other))
    assert check_bundle(resigned).checks["signed_head_signature"] is False
    with pytest.raises(ValidationError, match="leaf_index"):
        check_bundle({**bundle, "leaf_index": "7"})
    with pytest.raises(ValidationError, match="format"):
        check_bundle({**bundle, "format": "x"})
    with pytest.raises(ValidationError, match="record"):
        ledger.index_of("reading_batch", "batch:99")
