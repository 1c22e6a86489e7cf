"""Emission forecasting by formula (8), scenarios, the peak year and the path to neutrality."""

from __future__ import annotations

import pandas as pd
import pytest

from carbonpark.errors import ValidationError
from carbonpark.forecast import (
    NewEnterprise,
    RegressionForecaster,
    Removal,
    Retrofit,
    Scenario,
    combustion_emissions_tco2,
    emissions_by_year,
    factor_for_year,
    find_peak,
    forecast_energy_by_carrier,
    neutral_year,
    run_scenario,
)


def test_formula_8_for_50_t_diesel() -> None:
    # Diesel: NCV 42.652 GJ/t, carbon content 20.2 tC/TJ, oxidation 98 % (2013-2015 NDRC industry
    # guidelines table, as in GB/T 32151; REFERENCE_DATA.md table 1a). F = 20.2e-3 * 0.98 * 44/12
    # tCO2/GJ = 0.07258533; C = 50 t * 42.652 GJ/t * F = 154.79548186666667 tCO2
    factor = 20.2e-3 * 0.98 * 44 / 12
    c = combustion_emissions_tco2({"diesel": 50.0}, {"diesel": 42.652}, {"diesel": factor})
    assert c == pytest.approx(154.79548186666667, rel=1e-12)
    with pytest.raises(ValidationError, match="diesel"):
        combustion_emissions_tco2({"diesel": 50.0}, {}, {"diesel": factor})


def test_factor_trajectory_interpolates_and_stays_flat_outside() -> None:
    factors = {"electricity": {2024: 0.5, 2030: 0.2}, "coal": 2.0}
    assert factor_for_year(factors, "electricity", 2027) == pytest.approx(0.35)  # halfway
    assert factor_for_year(factors, "electricity", 2040) == pytest.approx(0.2)
    assert factor_for_year(factors, "electricity", 2000) == pytest.approx(0.5)
    assert factor_for_year(factors, "coal", 2040) == 2.0
    with pytest.raises(ValidationError, match=r"known: \['coal', 'electricity'\]"):
        factor_for_year(factors, "hydrogen", 2030)


@pytest.fixture
def hand_made_bau() -> pd.DataFrame:
    # 2024..2030 (k = 0..6): coal 100 t/a flat; electricity 1000 + 400 k MWh/a
    years = list(range(2024, 2031))
    return pd.DataFrame(
        {
            "year": years * 2,
            "carrier": ["coal"] * 7 + ["electricity"] * 7,
            "amount": [100.0] * 7 + [1000.0 + 400 * k for k in range(7)],
        }
    )


FACTORS = {"coal": 2.0, "electricity": {2024: 0.5, 2030: 0.2}}  # grid factor falls 0.05 a year


def test_business_as_usual_peaks_in_2028(hand_made_bau: pd.DataFrame) -> None:
    # electricity emissions (1000 + 400k)(0.5 - 0.05k): 500 630 720 770 780 750 680; coal 200
    # totals 700 830 920 970 980 950 880: the peak is 2028 at 980 tCO2, then it falls
    result = run_scenario(hand_made_bau, FACTORS, Scenario("bau"), target_year=2030)
    assert result.path["tco2"].to_numpy() == pytest.approx([700, 830, 920, 970, 980, 950, 880])
    assert (result.peak.year, result.peak.tco2, result.peak.reached) == (2028, pytest.approx(980.0), True)
    assert result.neutral_year is None
    assert result.gap_at_target_tco2 == pytest.approx(880.0)


def test_retrofits_new_enterprises_and_removals_move_the_peak(hand_made_bau: pd.DataFrame) -> None:
    # retrofit: coal -50 % from 2026 -> coal 200 200 100 100 100 100 100
    # new enterprise: +500 MWh from 2027 at 0.35 0.30 0.25 0.20 -> +175 +150 +125 +100
    # totals 700 830 820 1045 1030 975 880: the peak moves to 2027 at 1045 tCO2
    # removals 900 tCO2/a from 2029: net 2029 = 75, 2030 = -20 -> neutral from 2030, no gap left
    plan = Scenario(
        "plan",
        retrofits=[Retrofit("coal", 2026, share=0.5)],
        new_enterprises=[NewEnterprise("electricity", 2027, 500.0)],
        removals=[Removal(2029, 900.0, kind="CCUS")],
    )
    result = run_scenario(hand_made_bau, FACTORS, plan, target_year=2030)
    assert result.path["tco2"].to_numpy() == pytest.approx([700, 830, 820, 1045, 1030, 975, 880])
    assert result.peak.year == 2027
    assert result.peak.tco2 == pytest.approx(1045.0)
    assert result.path["net_tco2"].to_numpy()[-2:] == pytest.approx([75.0, -20.0])
    assert result.neutral_year == 2030
    assert result.gap_at_target_tco2 == 0.0


def test_a_scenario_factor_overrides_the_base_table(hand_made_bau: pd.DataFrame) -> None:
    # a flat grid factor of 0.5: electricity emissions keep growing, so the peak is the last year
    # 2030: 200 + 3400 * 0.5 = 1900, still rising -> not reached within the horizon
    result = run_scenario(hand_made_bau, FACTORS, Scenario("flat grid", factors={"electricity": 0.5}), target_year=2030)
    assert (result.peak.year, result.peak.reached) == (2030, False)
    assert result.peak.tco2 == pytest.approx(1900.0)


def test_peak_band_comes_from_the_interval_bounds(hand_made_bau: pd.DataFrame) -> None:
    # lo = amount - 10 %, hi = amount + 10 %: every year scales alike, so the peak year is the same
    # and its height spans 0.9 * 980 .. 1.1 * 980
    bau = hand_made_bau.assign(lo=lambda d: 0.9 * d["amount"], hi=lambda d: 1.1 * d["amount"])
    summary = run_scenario(bau, FACTORS, Scenario("bau"), target_year=2030).summary()
    assert summary["peak_year_range"] == [2028, 2028]
    assert summary["peak_tco2_range"] == pytest.approx([882.0, 1078.0])


def test_emissions_count_negative_extrapolated_use_as_zero() -> None:
    energy = pd.DataFrame({"year": [2030, 2031], "carrier": ["coal", "coal"], "amount": [5.0, -3.0]})
    out = emissions_by_year(energy, {"coal": 2.0})
    assert out["tco2"].tolist() == [10.0, 0.0]


def test_find_peak_and_neutral_year_edge_cases() -> None:
    rising = pd.Series([1.0, 2.0, 3.0], index=[2025, 2026, 2027])
    assert find_peak(rising).reached is False
    plateau = pd.Series([1.0, 3.0, 3.0, 2.0], index=[2025, 2026, 2027, 2028])
    assert find_peak(plateau).year == 2026  # the first year the maximum is reached
    # net dips below zero and comes back: neutrality is the year from which it stays at or below 0
    assert neutral_year(pd.Series([5.0, -1.0, 2.0, 0.0, -3.0], index=range(2056, 2061))) == 2059
    assert neutral_year(pd.Series([5.0, 1.0], index=[2059, 2060])) is None


def test_bau_energy_of_a_linear_history_to_2060() -> None:
    # coal 100 + 5 k for 2015..2024 -> 2060 is k = 45: 325 t, by regression on time
    history = pd.DataFrame({"year": range(2015, 2025), "carrier": "coal", "amount": [100.0 + 5 * k for k in range(10)]})
    bau = forecast_energy_by_carrier(history, 2060, RegressionForecaster)
    last = bau.loc[bau["year"] == 2060].iloc[0]
    assert last["amount"] == pytest.approx(325.0)
    assert bau["year"].min() == 2015 and len(bau) == 46
    with pytest.raises(ValidationError, match="after the last observed"):
        forecast_energy_by_carrier(history, 2024, RegressionForecaster)


def test_retrofit_needs_a_share_or_an_amount() -> None:
    with pytest.raises(ValidationError, match="either share or amount"):
        Retrofit("coal", 2026)
    with pytest.raises(ValidationError, match="between 0 and 1"):
        Retrofit("coal", 2026, share=1.5)
