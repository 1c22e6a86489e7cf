"""Readings → activity data per local calendar period: the pure arithmetic, checked by hand.

Conventions under test (carbonpark.accounting.aggregation): an interval value stamped t is the
amount of the interval labelled t; a register advance r_i − r_{i−1} belongs to the interval
labelled t_i; a register wraps at ``rollover``; an advance over a gap is spread evenly over the
missed intervals and counts as estimated.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonpark.accounting.aggregation import VirtualFormula, bucket_amounts, period_buckets
from carbonpark.errors import ValidationError
from carbonpark.quality import ESTIMATE_MASK, FLAGGED_MASK, QualityFlag
from carbonpark.times import parse_timestamp, period_bounds_ms

TZ = "Asia/Shanghai"
H = 3_600_000


def ts(text: str) -> int:
    return parse_timestamp(text, TZ)


def months_2025():
    return period_buckets(*period_bounds_ms("2025", TZ), "month", TZ)


def test_local_calendar_buckets_and_dst_day() -> None:
    year = period_buckets(*period_bounds_ms("2025", TZ), "hour", TZ)
    assert len(year) == 8760  # 365 × 24, no DST in China
    assert year.labels[0] == "2025-01-01T00"
    # 2025-01-01 00:00 +08:00 is 2024-12-31 16:00 UTC
    assert year.bounds(0)[0] == 1_735_660_800_000
    # Europe/Berlin: clocks go forward on 2025-03-30, that local day is 23 hours long
    march = period_buckets(*period_bounds_ms("2025-03", "Europe/Berlin"), "day", "Europe/Berlin")
    start, end = march.bounds(29)
    assert march.labels[29] == "2025-03-30" and end - start == 23 * H
    assert len(period_buckets(*period_bounds_ms("2025-03", "Europe/Berlin"), "hour", "Europe/Berlin")) == 31 * 24 - 1


def test_interval_meter_sums_and_quality_parts() -> None:
    # 100, 200 kWh in January (22:00, 23:00 on the 31st), 300, 400 in February. Flags (carbonpark.quality.flags):
    # 200 carries ROLLOVER (32, information only), 300 ESTIMATED (1), 400 SUSPECT_SPIKE (4)
    stamps = np.array([ts("2025-01-31T22:00"), ts("2025-01-31T23:00"), ts("2025-02-01T00:00"), ts("2025-02-01T01:00")])
    got = bucket_amounts(
        stamps,
        np.array([100.0, 200.0, 300.0, 400.0]),
        np.array([0, int(QualityFlag.ROLLOVER), int(QualityFlag.ESTIMATED), int(QualityFlag.SUSPECT_SPIKE)]),
        months_2025(),
        kind="interval",
        interval_minutes=60,
        estimated_mask=ESTIMATE_MASK,
        flagged_mask=FLAGGED_MASK,
    )
    assert got.amount[:3].tolist() == [300.0, 700.0, 0.0]
    assert got.flagged[:2].tolist() == [0.0, 700.0]  # the estimate and the spike; the rollover note is not a doubt
    assert got.estimated[:2].tolist() == [0.0, 300.0]
    assert got.n_readings[:2].tolist() == [2, 2]


def test_cumulative_register_with_rollover_and_gap() -> None:
    # register 9990 at Jan 31 22:00 → 5 at Feb 1 01:00 (wraps at 10000: advance 15 over 3 intervals
    # labelled Jan 31 23:00, Feb 1 00:00, 01:00 → 5 each, estimated) → 25 at 02:00 (advance 20, measured)
    stamps = np.array([ts("2025-01-31T22:00"), ts("2025-02-01T01:00"), ts("2025-02-01T02:00")])
    got = bucket_amounts(
        stamps,
        np.array([9990.0, 5.0, 25.0]),
        np.zeros(3, int),
        months_2025(),
        kind="cumulative",
        interval_minutes=60,
        rollover=10_000.0,
    )
    assert got.amount[:2] == pytest.approx([5.0, 30.0], abs=1e-12)
    assert got.estimated[:2] == pytest.approx([5.0, 10.0], abs=1e-12)
    assert got.amount.sum() == pytest.approx(35.0)  # = 25 + 10000 − 9990
    assert any("gap" in n for n in got.notes)


def test_register_drop_without_rollover_is_reported_not_counted() -> None:
    stamps = np.array([ts("2025-01-10T00:00"), ts("2025-01-10T01:00"), ts("2025-01-10T02:00")])
    got = bucket_amounts(
        stamps, np.array([50.0, 40.0, 45.0]), np.zeros(3, int), months_2025(), kind="cumulative", interval_minutes=60
    )
    assert got.amount[0] == 5.0  # only the 40 → 45 advance
    assert "drop" in got.notes[0]


def test_instantaneous_meters_are_refused() -> None:
    with pytest.raises(ValidationError, match="interval or cumulative"):
        bucket_amounts(
            np.array([0]), np.array([1.0]), np.array([0]), months_2025(), kind="instantaneous", interval_minutes=60
        )


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=200), st.integers(0, 8000))
def test_periods_add_up_whatever_the_resolution(increments: list[float], offset_h: int) -> None:
    """Property: hours, days and months of the same readings sum to the year (both meter kinds)."""
    start = period_bounds_ms("2025", TZ)[0] + offset_h * H
    stamps = start + H * np.arange(len(increments), dtype=np.int64)
    register = 1000.0 + np.cumsum(increments)
    year = period_buckets(*period_bounds_ms("2025", TZ), "year", TZ)
    for kind, values in (("interval", np.array(increments)), ("cumulative", register)):
        totals = [
            bucket_amounts(
                stamps,
                values,
                np.zeros(len(values), int),
                period_buckets(year.bounds(0)[0], year.bounds(0)[1], r, TZ),
                kind=kind,
                interval_minutes=60,
            ).amount.sum()
            for r in ("hour", "day", "month", "year")
        ]
        assert totals == pytest.approx([totals[-1]] * 4, rel=1e-12, abs=1e-9)


def test_virtual_formula_is_evaluated_without_eval() -> None:
    f = VirtualFormula.parse("{park-E-intake} - {88.1234/meter.7} * 0.5 + max({park-E-intake}, 0) / 2")
    assert f.refs == ("park-E-intake", "88.1234/meter.7")
    got = f.evaluate({"park-E-intake": np.array([100.0, 40.0]), "88.1234/meter.7": np.array([20.0, 10.0])})
    assert got.tolist() == [100 - 10 + 50, 40 - 5 + 20]


@pytest.mark.parametrize(
    "text",
    [
        "{a}.__class__",
        "__import__('os')",
        "{a} ** 2",
        "{a} if {b} else 1",
        "'x' + {a}",
        "{a}[0]",
        "open({a})",
        "{a} @ {b}",
    ],
)
def test_virtual_formula_refuses_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(ValidationError, match="virtual meter formula"):
        VirtualFormula.parse(text)


def test_virtual_formula_division_by_zero_is_an_error() -> None:
    with pytest.raises(ValidationError, match="finite"):
        VirtualFormula.parse("{a} / {b}").evaluate([np.array([1.0]), np.array([0.0])])
