"""Tamper detection: a changed, deleted or inserted entry is named by its leaf index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.ledger import merkle, signing, tamper
from carbonpark.ledger.attestation import Ledger, MemoryEntryStore
from carbonpark.ledger.entries import Entry
from carbonpark.ledger.log import MemoryNodeStore
from carbonpark.ledger.signing import TreeHead
from carbonpark.ledger.tamper import locate_tampering

N = 37  # not a power of two, so the tree has a ragged right edge


def _filled() -> tuple[Ledger, MemoryEntryStore, MemoryNodeStore, TreeHead]:
    entries, nodes = MemoryEntryStore(), MemoryNodeStore()
    ledger = Ledger(entries, nodes)
    ledger.append_many(
        Entry("emission_record", f"ENT-{i % 3}", f"emission_record:{i}", 1735660800000 + i, {"t": str(i)})
        for i in range(N)
    )
    key = signing.generate_key()
    sth = ledger.sign_head(key, 1735660900000)
    assert signing.verify_tree_head(key.public_key(), sth)
    return ledger, entries, nodes, sth.head


def test_untouched_log_verifies() -> None:
    ledger, _, _, head = _filled()
    report = ledger.verify(head)
    assert report.ok and report.first_bad_index is None and report.problems == []
    assert report.to_json()["tree_size"] == N


@pytest.mark.parametrize("victim", [0, 1, 16, 31, 32, 36])
def test_a_changed_entry_is_named(victim: int) -> None:
    ledger, entries, _, head = _filled()
    entries.entries[victim] = entries.entries[victim].replace(b'"t":"', b'"t":"9')
    report = ledger.verify(head)
    assert not report.ok
    assert report.first_bad_index == victim
    assert report.problems[-1] == f"entry {victim} differs from what was attested"


def test_a_deleted_entry_is_named() -> None:
    ledger, entries, _, head = _filled()
    del entries.entries[20]
    report = ledger.verify(head)
    assert not report.ok and report.first_bad_index == 20
    assert report.problems[0] == "1 entries missing: 36 stored, head covers 37"


def test_an_inserted_entry_is_named() -> None:
    ledger, entries, _, head = _filled()
    intruder = Entry("emission_record", "ENT-0", "emission_record:x", 1, {"t": "0"}).to_bytes()
    entries.entries.insert(9, intruder)
    report = ledger.verify(head)
    assert not report.ok and report.first_bad_index == 9


def test_entries_after_the_head_are_not_problems() -> None:
    ledger, _, _, head = _filled()
    ledger.append(Entry("audit_log_entry", "park", "audit:1", 1, {}))
    assert ledger.verify(head).ok


def test_a_rewritten_node_store_is_reported() -> None:
    # Change entry 5 and its stored leaf hash, and rebuild every node above it: the stored
    # tree is self-consistent again, but no longer reproduces the signed root.
    _, entries, nodes, head = _filled()
    entries.entries[5] = entries.entries[5].replace(b'"t":"5"', b'"t":"6"')
    rebuilt = Ledger()
    rebuilt.log.append_many(entries.entries)
    assert isinstance(rebuilt.log.store, MemoryNodeStore)
    for key, digest in rebuilt.log.store._nodes.items():
        nodes.tamper(key, digest)
    report = locate_tampering(entries.entries, head, Ledger(entries, nodes).log)
    assert not report.ok
    assert "the log was rewritten" in report.problems[-1]
    assert report.first_bad_index is None  # stored leaves and entries agree: only the head knows


def test_damaged_node_store_and_no_store() -> None:
    ledger, entries, nodes, head = _filled()
    entries.entries[3] = b"changed"
    # Break node (3, 0) (leaves [0, 8)): the root's tiling (5, 0), (2, 8), (0, 36) still
    # reproduces the signed root, but (4, 0) = H((3, 0), (3, 1)) no longer holds, so the
    # descent stops there and names the damaged range.
    nodes.tamper((3, 0), bytes(32))
    report = ledger.verify(head)
    assert not report.ok and report.first_bad_index == 0
    assert report.problems[-1] == "node store damaged below leaves [0, 16)"
    no_store = locate_tampering(entries.entries, head)
    assert not no_store.ok and no_store.first_bad_index is None
    assert "cannot be located" in no_store.problems[-1]
    assert merkle.root(entries.entries) != head.root


def test_a_changed_entry_with_its_leaf_hash_is_caught_by_the_authenticated_parents() -> None:
    # The attacker changes entry 3 and its stored leaf hash, but not the nodes above it.
    ledger, entries, nodes, head = _filled()
    entries.entries[3] = entries.entries[3].replace(b'"t":"3"', b'"t":"4"')
    nodes.tamper((0, 3), merkle.leaf_hash(entries.entries[3]))
    report = ledger.verify(head)
    assert not report.ok and report.first_bad_index == 2
    assert report.problems[-1] == "node store damaged below leaves [2, 4)"


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 40), data=st.data())
def test_any_change_delete_or_insert_is_located(size: int, data: st.DataObject) -> None:
    ledger = Ledger()
    ledger.append_many(Entry("activity_datum", "ENT-1", f"d:{i}", i, {"v": str(i)}) for i in range(size))
    head = ledger.head(99)
    assert isinstance(ledger.entries, MemoryEntryStore)
    stored = ledger.entries.entries
    victim = data.draw(st.integers(0, size - 1), label="victim")
    mode = data.draw(st.sampled_from(["change", "delete", "insert"]), label="mode")
    if mode == "change":
        stored[victim] = stored[victim].replace(b'"v":"', b'"v":"x')
    elif mode == "delete":
        del stored[victim]
    else:
        stored.insert(victim, Entry("activity_datum", "ENT-1", "intruder", 0, {}).to_bytes())
    report = ledger.verify(head)
    assert not report.ok
    assert report.first_bad_index == victim


def test_entries_are_read_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    # With slices of 4 entries the store is never asked for more than 4 at a time, and the
    # answers are the same as with one big read.
    monkeypatch.setattr(tamper, "CHUNK", 4)
    ledger, entries, nodes, head = _filled()
    asked: list[int] = []
    original = entries.get_entries

    def spy(start: int, end: int) -> list[bytes]:
        asked.append(end - start)
        return original(start, end)

    monkeypatch.setattr(entries, "get_entries", spy)
    assert ledger.verify(head).ok
    entries.entries[29] = entries.entries[29].replace(b'"t":"', b'"t":"0')
    assert ledger.verify(head).first_bad_index == 29
    assert asked and max(asked) <= 4
    nodes.tamper((0, 29), merkle.leaf_hash(entries.entries[29]))
    for level in range(1, 6):
        nodes.tamper((level, 29 >> level), bytes(32))
    # (5, 0) is part of the root's tiling, so the store no longer reproduces the signed root,
    # and its leaf 29 now agrees with entry 29: only the signed head shows the change.
    rewritten = ledger.verify(head)
    assert rewritten.first_bad_index is None
    assert "the log was rewritten" in rewritten.problems[-1]
