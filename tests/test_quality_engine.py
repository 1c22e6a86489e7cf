"""The pure quality engine: each check on small series whose answer is worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from carbonpark.errors import UnknownFactorError, ValidationError
from carbonpark.quality import (
    CalibrationRecord,
    CoverageItem,
    MeterClass,
    MeterSeries,
    QualityFlag,
    accuracy_check,
    balance,
    calibration_due,
    check_meter,
    class_meets,
    coverage_check,
    cumulative_steps,
    electricity_category,
    find_gaps,
    find_skew,
    find_spikes,
    find_stuck,
    flag_names,
    mpe_percent,
    online_calibration,
    parse_flags,
    quality_share,
    required_class,
)

H = 3_600_000  # one hour [ms]
T0 = 1_735_660_800_000  # 2025-01-01T00:00+08:00 (= 2024-12-31T16:00Z), on the hourly grid


def hours(n: int) -> np.ndarray:
    return T0 + H * np.arange(n, dtype=np.int64)


# --------------------------------------------------------------------------- flags
def test_flag_vocabulary_round_trips_and_rejects_unknown_bits() -> None:
    assert flag_names(0) == ["ok"]
    # STUCK is bit 3 (8), SUSPECT_SPIKE bit 2 (4): 12 = both
    assert flag_names(12) == ["suspect_spike", "stuck"]
    assert parse_flags("stuck, uncalibrated") == 8 + 256
    assert parse_flags(["ok"]) == 0
    with pytest.raises(ValidationError, match="quality"):
        flag_names(1 << 14)
    with pytest.raises(ValidationError, match="one of"):
        parse_flags("wobbly")
    assert max(QualityFlag).value < 2**15  # fits the SMALLINT column


def test_quality_share_splits_amounts_by_flag_group() -> None:
    # 10 + 20 clean, 30 gap-filled, 40 stuck and also uncalibrated, 50 rolled over (info only)
    share = quality_share([10, 20, 30, 40, 50], [0, 0, 2, 8 | 256, 32])
    assert share.total == 150
    assert share.measured_ok == 10 + 20 + 50
    assert share.estimated == 30
    assert share.suspect == 40
    assert share.estimated_share == pytest.approx(30 / 150)
    assert share.suspect_share == pytest.approx(40 / 150)


# --------------------------------------------------------------------------- gaps
def test_gaps_inside_and_at_the_edges_of_a_window() -> None:
    ts = np.delete(hours(24), [5, 6, 7])  # 05:00, 06:00, 07:00 missing
    found = find_gaps("m", ts, H)
    assert [(f.start_ms, f.end_ms, f.count) for f in found] == [(T0 + 5 * H, T0 + 7 * H, 3)]
    # window 2 h before the first reading to 26 h after T0: 2 slots before, 2 after (24:00, 25:00)
    found = find_gaps("m", ts, H, start_ms=T0 - 2 * H, end_ms=T0 + 26 * H)
    assert [f.count for f in found] == [2, 3, 2]
    assert found[0].start_ms == T0 - 2 * H and found[2].end_ms == T0 + 25 * H


# --------------------------------------------------------------------------- stuck
def test_stuck_run_found_but_recurring_operating_level_is_not() -> None:
    rng = np.random.default_rng(1)
    v = 100 + rng.normal(0, 1, 60)
    v[20:28] = v[20]  # frozen for 8 readings
    assert find_stuck(v, min_run=6) == [(20, 27)]
    # a battery charging at exactly 112.5 every night: the same constant in 5 separate runs
    b = np.zeros(60)
    for start in range(0, 60, 12):
        b[start : start + 7] = 112.5
    assert find_stuck(b, min_run=6) == []
    # zero runs are a stopped load
    assert find_stuck(np.r_[np.zeros(20), v[:10]], min_run=6) == []


def test_piecewise_constant_series_needs_a_longer_run() -> None:
    # hourly values repeated 4 times (15-minute meter fed hourly data): runs of 4 everywhere
    rng = np.random.default_rng(2)
    v = np.repeat(50 + rng.normal(0, 5, 40), 4)
    assert find_stuck(v, min_run=4) == []  # 95th-percentile run is 4: only runs > 8 count
    v[40:52] = v[40]  # 12 equal readings
    assert find_stuck(v, min_run=4) == [(40, 51)]


# --------------------------------------------------------------------------- spikes
def test_hampel_spike_and_floor_for_on_off_meters() -> None:
    rng = np.random.default_rng(3)
    v = 100 + rng.normal(0, 2, 48)
    v[30] = 100 * 25  # ×25, the demo's injected spike
    assert find_spikes(v).tolist() == [30]
    # on/off load (0 or 112.5): MAD is 0 around every switching edge; the floor keeps them
    onoff = np.tile(np.r_[np.zeros(5), np.full(7, 112.5)], 6)
    assert find_spikes(onoff).size == 0
    # a level step (shift change) is kept by the moving median
    step = np.r_[np.full(24, 25.0), np.full(24, 100.0)] + rng.normal(0, 1, 48)
    assert find_spikes(step).size == 0


# --------------------------------------------------------------------------- cumulative
def test_cumulative_rollover_and_negative_step() -> None:
    # register wrapping at 100 000: 99 990 → 30 is +40; then 130 → 100 goes back 30 (a fault)
    regs = np.array([99_970.0, 99_990.0, 30.0, 130.0, 100.0, 160.0])
    steps, rolls, negs = cumulative_steps(regs, 100_000.0)
    assert rolls.tolist() == [2]
    assert negs.tolist() == [4]
    assert steps[2] == pytest.approx(40.0)
    assert np.isnan(steps[4]) and steps[5] == pytest.approx(60.0)
    # without a rollover value the wrap is a negative step
    _, rolls, negs = cumulative_steps(regs, None)
    assert rolls.tolist() == [] and negs.tolist() == [2, 4]


def test_check_meter_flags_every_reading_it_doubts() -> None:
    ts = hours(8)
    regs = np.array([99_970.0, 99_990.0, 30.0, 130.0, 100.0, 160.0, 250.0, 330.0])
    report = check_meter(MeterSeries("c", ts, regs, "cumulative", 60, 100_000.0))
    assert report.flags[2] == QualityFlag.ROLLOVER
    assert report.flags[4] == QualityFlag.NEGATIVE_STEP
    assert report.count("rollover") == 1 and report.count("negative_step") == 1
    # interval meter: a negative amount
    rep = check_meter(MeterSeries("i", hours(8), np.array([5, 5.5, -2, 6, 5.2, 5.1, 4.9, 5.3])))
    assert rep.flags.tolist() == [0, 0, int(QualityFlag.NEGATIVE_STEP), 0, 0, 0, 0, 0]
    # a rate meter is checked like interval values; a virtual meter has no readings to check
    rate = check_meter(MeterSeries("p", hours(4), np.array([5.0, -1.0, 5.2, 5.1]), "instantaneous"))
    assert rate.count("negative_step") == 1
    with pytest.raises(ValidationError, match="reading_kind"):
        MeterSeries("v", hours(2), np.array([1.0, 2.0]), "virtual")


# --------------------------------------------------------------------------- skew
def test_timestamp_skew_and_future_readings() -> None:
    ts = hours(10)
    ts[3:6] += 95_000  # device clock 95 s ahead for three readings (tolerance 36 s = 1 % of an hour)
    found, mask = find_skew("m", ts, H, now_ms=int(T0 + 8 * H))
    assert mask.tolist() == [False] * 3 + [True] * 3 + [False, False, False, True]
    skew = [f for f in found if f.kind == "timestamp_skew"]
    assert skew[0].count == 3 and skew[0].detail["median_offset_s"] == pytest.approx(95.0)
    future = [f for f in found if f.kind == "future_timestamp"]
    assert future[0].count == 1 and future[0].detail["ahead_s"] == pytest.approx(3600.0)


# --------------------------------------------------------------------------- balance
def test_balance_of_main_against_sub_meters_per_day() -> None:
    ts = hours(48)  # two park-local days
    main = np.full(48, 100.0)
    sub1 = np.full(48, 48.5)
    sub2 = np.full(48, 48.5)  # 3 % losses: inside 5 %
    sub2[30:36] = 0.0  # second day: sub2 lost 6 h of 48.5 → day 2 subs = 24·97 − 6·48.5 = 2037
    found, table = balance("main", ts, main, [("s1", ts, sub1), ("s2", ts, sub2)], tolerance=0.05)
    assert table["imbalance"].iloc[0] == pytest.approx(0.03)
    assert table["imbalance"].iloc[1] == pytest.approx((2400 - 2037) / 2400)  # 0.15125
    assert len(found) == 1 and found[0].detail["subs"] == pytest.approx(2037.0)
    assert found[0].start_ms == T0 + 24 * H


# --------------------------------------------------------------------------- calibration
def test_mpe_and_class_comparison() -> None:
    assert mpe_percent("0.5S") == 0.5 and mpe_percent("2.5") == 2.5
    assert class_meets("0.5S", "1.0") and class_meets("0.5S", "0.5S")
    assert not class_meets("0.5", "0.5S") and not class_meets("1.0", "0.5")
    with pytest.raises(ValidationError, match="class index"):
        mpe_percent("good")


def test_calibration_due_orders_by_urgency() -> None:
    today = date(2025, 6, 1)
    recs = [
        CalibrationRecord("a", date(2023, 1, 1), date(2025, 1, 1)),  # overdue by 151 days
        CalibrationRecord("a", date(2021, 1, 1), date(2023, 1, 1)),  # older record ignored
        CalibrationRecord("b", date(2024, 6, 20), date(2025, 6, 20)),  # due in 19 days
        CalibrationRecord("c", date(2025, 1, 1), date(2027, 1, 1)),
        CalibrationRecord("d", date(2025, 3, 1), date(2026, 3, 1), passed=False),
    ]
    out = calibration_due(recs, today=today, horizon_days=30, meters=["a", "b", "c", "d", "e"])
    assert [(d["meter"], d["status"]) for d in out] == [
        ("d", "failed"),
        ("a", "overdue"),
        ("e", "never"),
        ("b", "due_soon"),
        ("c", "ok"),
    ]
    assert out[1]["days_left"] == -151 and out[3]["days_left"] == 19


def test_online_calibration_against_a_reference() -> None:
    # 4 hours of 250 kWh on the reference; the meter reads 252 each: +0.8 % → passes class 1.0
    res = online_calibration(
        "m",
        [252.0] * 4,
        [250.0] * 4,
        accuracy_class="1.0",
        reference="ref-1",
        reference_class="0.2",
        calibrated_on=date(2025, 3, 1),
        cycle_days=730,
    )
    assert res.error_pct == pytest.approx(0.8)
    assert res.passed and res.due_on == date(2027, 3, 1)
    # the same +0.8 % fails a class 0.5S meter (reference 0.1 ≤ 0.5/3)
    res = online_calibration(
        "m",
        [252.0] * 4,
        [250.0] * 4,
        accuracy_class="0.5S",
        reference="ref-1",
        reference_class="0.1",
        calibrated_on=date(2025, 3, 1),
    )
    assert not res.passed
    with pytest.raises(ValidationError, match="3 times as accurate"):
        online_calibration(
            "m",
            [1.0] * 4,
            [1.0] * 4,
            accuracy_class="0.5S",
            reference="r",
            reference_class="0.2S",
            calibrated_on=date(2025, 3, 1),
        )
    with pytest.raises(ValidationError, match="at least 4"):
        online_calibration(
            "m",
            [1.0] * 3,
            [1.0] * 3,
            accuracy_class="1.0",
            reference="r",
            reference_class="0.2",
            calibrated_on=date(2025, 3, 1),
        )


# --------------------------------------------------------------------------- GB 17167
def test_gb17167_accuracy_requirements() -> None:
    # DL/T 448 categories by monthly consumption: 6 GWh → I, 1.2 GWh → II, 200 MWh → III, 50 MWh → IV
    assert [electricity_category(x) for x in (6e6, 1.2e6, 2e5, 5e4)] == ["I", "II", "III", "IV"]
    # GB 17167-2006 表4: I 0.2S, II 0.5S; gas 2.0; steam 2.5; diesel 0.5; coal dynamic weighing 0.5; water ≤ DN250 2.5
    assert required_class("electricity", monthly_kwh=6e6) == "0.2S"
    assert required_class("electricity", monthly_kwh=1.2e6) == "0.5S"
    assert required_class("natural_gas") == "2.0"
    assert required_class("steam") == "2.5"
    assert required_class("diesel") == "0.5"
    assert required_class("coal") == "0.5" and required_class("coal", condition="static") == "0.1"
    assert required_class("water") == "2.5" and required_class("water", condition="dn_gt_250") == "1.5"
    with pytest.raises(UnknownFactorError):
        required_class("hydrogen")
    rows = accuracy_check(
        [
            MeterClass("e1", "electricity", "0.5S", monthly_kwh=6e6),  # needs 0.2S: fails
            MeterClass("e2", "electricity", "0.5S", monthly_kwh=1.2e6),
            MeterClass("d1", "diesel", "1.0"),  # needs 0.5: fails
            MeterClass("h1", "hydrogen", "1.0"),  # no requirement in the table
        ]
    )
    assert [r["compliant"] for r in rows] == [False, True, False, None]


def test_gb17167_coverage() -> None:
    # 表3: electricity 100/100/95; steam 100/80/70
    rows = coverage_check(
        [
            CoverageItem("ent", "electricity", "unit", 1, 1),
            CoverageItem("ent", "electricity", "sub_unit", 4, 3),  # 75 % < 100 %
            CoverageItem("ent", "steam", "sub_unit", 5, 4),  # 80 % ≥ 80 %
            CoverageItem("ent", "electricity", "equipment", 20, 19),  # 95 % ≥ 95 %
        ]
    )
    assert [(r["rate_pct"], r["required_pct"], r["compliant"]) for r in rows] == [
        (100.0, 100.0, True),
        (75.0, 100.0, False),
        (80.0, 80.0, True),
        (95.0, 95.0, True),
    ]
