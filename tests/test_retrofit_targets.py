"""Dual-carbon targets and the implementation path (issue 13 item 1), hand-checked."""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.retrofit.targets import (
    DualCarbonTargets,
    PathMeasure,
    check_path,
    monthly_gap,
    path_trajectory,
    peak,
)


def test_monthly_gap_projects_with_forecast_then_run_rate() -> None:
    # 2025 is not a leap year: Jan 31 d, Feb 28 d → 59 of 365 days by the end of February.
    actual = {1: 100.0, 2: 80.0}
    forecast = {3: 90.0, 4: 90.0}  # the rest of the year has no forecast: run rate
    rows = monthly_gap(2025, actual, forecast, cap_tco2e=1095.0)
    jan, feb = rows
    # January: 100 actual; Feb..Dec: no forecast for Feb → run rate 100; Mar, Apr forecast 90 each;
    # May..Dec (8 months) run rate 100 → 100 + 100 + 90 + 90 + 800 = 1180.
    assert jan.projected_year_tco2e == pytest.approx(1180.0)
    assert jan.cap_to_date_tco2e == pytest.approx(1095.0 * 31 / 365)  # = 93.0
    assert jan.gap_tco2e == pytest.approx(1180.0 - 1095.0)
    # February: 180 to date, run rate 90; Mar, Apr forecast 180; May..Dec 8 × 90 = 720 → 1080.
    assert feb.actual_to_date_tco2e == pytest.approx(180.0)
    assert feb.projected_year_tco2e == pytest.approx(1080.0)
    assert feb.cap_to_date_tco2e == pytest.approx(1095.0 * 59 / 365)  # = 177.0
    assert feb.gap_tco2e == pytest.approx(-15.0)
    assert feb.basis == "actual 1–2, forecast 3–4, run rate for 8 month(s)"


def test_monthly_gap_without_cap_and_with_a_hole_in_actuals() -> None:
    (row,) = monthly_gap(2024, {1: 10.0}, {m: 10.0 for m in range(2, 13)}, cap_tco2e=None)
    assert (row.projected_year_tco2e, row.gap_tco2e, row.cap_to_date_tco2e) == (120.0, None, None)
    with pytest.raises(ValidationError, match="consecutive months"):
        monthly_gap(2024, {1: 1.0, 3: 1.0}, {}, cap_tco2e=10.0)


def test_path_abates_from_each_measure_year_and_finds_the_peak() -> None:
    bau = {2024: 1000.0, 2025: 1100.0, 2026: 1200.0, 2027: 1300.0, 2028: 1400.0}
    measures = [
        PathMeasure("pv", "rooftop PV", 2026, "园区管委会", 250.0),
        PathMeasure("hp", "heat pump", 2027, "甲公司", 200.0, status="in_progress"),
        PathMeasure("ccus", "CCUS pilot", 2026, "乙公司", 999.0, status="cancelled"),
    ]
    path = path_trajectory(bau, measures)
    # 2026: 1200 − 250 = 950; 2027: 1300 − 450 = 850; 2028: 1400 − 450 = 950.
    assert path == {2024: 1000.0, 2025: 1100.0, 2026: 950.0, 2027: 850.0, 2028: 950.0}
    assert peak(path) == (2025, 1100.0)
    assert peak({2030: 5.0, 2031: 5.0}) == (2030, 5.0)  # a tie peaks at the earlier year


def test_check_path_judges_every_target_with_figures() -> None:
    targets = DualCarbonTargets(
        "park",
        peak_year=2025,
        peak_tco2e=1050.0,
        neutrality_year=2028,
        caps_tco2e={2026: 960.0, 2027: 800.0},
        intensity_caps={2026: 0.5},
        clean_share_targets={2026: 0.3, 2027: 0.3},
    )
    path = {2024: 1000.0, 2025: 1100.0, 2026: 950.0, 2027: 850.0, 2028: 950.0}
    checks = {(c.target, c.year): c for c in check_path(targets, path, {2026: 2000.0}, {2026: 0.25})}
    assert checks["peak_year", 2025].met is True  # peaks in 2025
    assert checks["peak_tco2e", 2025].met is False and checks["peak_tco2e", 2025].value == 1100.0
    assert checks["cap_tco2e", 2026].met is True  # 950 ≤ 960
    assert checks["cap_tco2e", 2027].met is False  # 850 > 800
    assert checks["intensity", 2026].value == pytest.approx(950.0 / 2000.0)  # 0.475 ≤ 0.5
    assert checks["intensity", 2026].met is True
    assert checks["clean_share", 2026].met is False  # 25 % < 30 %
    assert checks["clean_share", 2027].met is None  # no energy mix given
    assert checks["neutrality", 2028].value == 950.0 and checks["neutrality", 2028].met is False
    assert "950.0 tCO2e remain" in checks["neutrality", 2028].explanation


def test_peak_year_cannot_be_judged_before_the_trajectory_passes_it() -> None:
    (check,) = check_path(DualCarbonTargets("ent", peak_year=2030), {2024: 1.0, 2025: 2.0})
    assert check.met is None and "cannot be excluded" in check.explanation


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"caps_tco2e": {2030: -1.0}}, "caps_tco2e[2030]"),
        ({"clean_share_targets": {2030: 1.5}}, "clean_share_targets[2030]"),
        ({"peak_year": 2030, "neutrality_year": 2030}, "neutrality_year"),
    ],
)
def test_bad_targets_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        DualCarbonTargets("x", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_measure_status_is_refused() -> None:
    with pytest.raises(ValidationError, match="planned"):
        PathMeasure("a", "A", 2026, "x", 1.0, status="maybe")
