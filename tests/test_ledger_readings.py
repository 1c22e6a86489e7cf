"""The attested form of an ingest batch (carbonpark.ledger.readings), without a database.

Timestamp runs must give back exactly the timestamps they encode, and the row diff must name
every changed, deleted or inserted row; both are checked by hand on small cases and by
property tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.errors import ValidationError
from carbonpark.ledger.readings import (
    RowChange,
    batch_payload,
    diff_batches,
    expand_runs,
    fingerprints,
    ts_runs,
)


def test_runs_by_hand() -> None:
    # 1, 2, 3 step 1; then 5, 7, 9 step 2; 10 alone (greedy from the left)
    assert ts_runs(np.array([1, 2, 3, 5, 7, 9, 10])) == [[1, 1, 3], [5, 2, 3], [10, 0, 1]]
    assert ts_runs(np.array([42])) == [[42, 0, 1]]
    assert ts_runs(np.array([], dtype=np.int64)) == []
    # 96 quarter-hours of a day: one run however many readings
    day = 1_735_660_800_000 + 900_000 * np.arange(96)
    assert ts_runs(day) == [[1_735_660_800_000, 900_000, 96]]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**13), unique=True, max_size=60))
def test_runs_give_back_every_timestamp(stamps: list[int]) -> None:
    ts = np.array(sorted(stamps), dtype=np.int64)
    runs = ts_runs(ts)
    assert expand_runs(runs).tolist() == ts.tolist()
    assert all(count >= 1 for _, _, count in runs)


def test_bad_runs_are_refused() -> None:
    with pytest.raises(ValidationError, match="count ≥ 1"):
        expand_runs([[1, 2, 0]])
    with pytest.raises(ValidationError, match="list of"):
        expand_runs("1,2,3")


def test_locator_of_zero_and_minus_zero_agree() -> None:
    # -0.0 and +0.0 are the same reading (SQLite may give back either); both are written as +0.0
    assert fingerprints(np.array([-0.0, 0.0]), np.array([0, 0])).tolist() == [0, 0]
    assert fingerprints(np.array([1.0]), np.array([0]))[0] != fingerprints(np.array([1.0]), np.array([1]))[0]


def _payload(rows: list[tuple[int, int, float, int]], batch: int = 1) -> dict:
    m, t, v, q = (np.array(c) for c in zip(*rows, strict=True)) if rows else (np.empty(0, np.int64),) * 4
    return batch_payload(batch, "test", m, t, v, q, lambda mid: f"meter.{mid}")


def test_diff_names_each_row() -> None:
    attested = _payload([(1, 10, 1.0, 0), (1, 20, 2.0, 0), (2, 10, 3.0, 0)])
    stored = _payload([(1, 10, 1.5, 0), (1, 30, 2.0, 0), (2, 10, 3.0, 4)])
    assert diff_batches(attested, stored) == [
        RowChange("meter.1", 10, "changed"),
        RowChange("meter.1", 20, "deleted"),
        RowChange("meter.1", 30, "inserted"),
        RowChange("meter.2", 10, "changed"),  # the quality bits changed
    ]
    assert diff_batches(attested, attested) == []
    assert diff_batches(attested, None) == [
        RowChange("meter.1", 10, "deleted"),
        RowChange("meter.1", 20, "deleted"),
        RowChange("meter.2", 10, "deleted"),
    ]
    assert [c.change for c in diff_batches(None, stored)] == ["inserted"] * 3


def test_the_payload_does_not_depend_on_row_order() -> None:
    rows = [(2, 10, 3.0, 0), (1, 20, 2.0, 0), (1, 10, 1.0, 0)]
    assert _payload(rows) == _payload(sorted(rows))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 50), st.floats(-1e6, 1e6, allow_nan=False)),
        unique_by=lambda r: (r[0], r[1]),
        min_size=1,
        max_size=40,
    ),
    st.data(),
)
def test_any_single_change_is_located(rows: list[tuple[int, int, float]], data: st.DataObject) -> None:
    base = [(m, t, v, 0) for m, t, v in rows]
    k = data.draw(st.integers(0, len(base) - 1))
    m, t, v, q = base[k]
    what = data.draw(st.sampled_from(["changed", "deleted", "inserted"]))
    if what == "changed":
        new = v + 1.0 if abs(v) < 1e5 else v / 2
        altered = [*base[:k], (m, t, new, q), *base[k + 1 :]]
        expected = [RowChange(f"meter.{m}", t, "changed")]
    elif what == "deleted":
        altered = base[:k] + base[k + 1 :]
        expected = [RowChange(f"meter.{m}", t, "deleted")]
    else:
        free = max(r[1] for r in base if r[0] == m) + 1
        altered = [*base, (m, free, v, q)]
        expected = [RowChange(f"meter.{m}", free, "inserted")]
    before, after = _payload(base), _payload(altered) if altered else None
    assert before["sha256"] != (after or {}).get("sha256")
    # a changed value whose 32-bit locator happens to collide would be missed: chance 2^-32
    assert diff_batches(before, after) == expected
