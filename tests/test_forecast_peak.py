"""Emission forecasting by formula (8), scenarios, the peak year and the path to neutrality."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import read_factors, register
from carbonpark.errors import ValidationError
from carbonpark.forecast import (
    NewEnterprise,
    RegressionForecaster,
    Removal,
    Retrofit,
    Scenario,
    combustion_emissions_tco2,
    elasticity_projection,
    emissions_by_year,
    factor_for_year,
    find_peak,
    forecast_energy_by_carrier,
    neutral_year,
    run_scenario,
)
from carbonpark.forecast.emissions import CombustionFactor
from carbonpark.forecast.peak import FORECAST_BAND, elasticity_band_meaning
from carbonpark.services import forecasting
from carbonpark.services.demo import build_demo

app = new_app("t")
register(app)
runner = CliRunner()

# Raw coal (原煤), REFERENCE_DATA.md §1c and §8 case 1, as in the factor library
# (factors/data/ndrc-provincial-inventory-2011.csv): NCV W = 20.908 GJ/t (GB/T 2589),
# carbon content 26.37 tC/TJ and oxidation 94 % (NDRC provincial inventory guideline 2011),
# so F = 26.37e-3 * 0.94 * 44/12 = 0.0908886 tCO2/GJ and W * F = 1.9002988488 tCO2/t.
COAL_NCV = 20.908
COAL_EF = 26.37e-3 * 0.94 * 44 / 12


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


def test_formula_8_with_w_and_f_apart_for_1000_t_raw_coal() -> None:
    # REFERENCE_DATA.md §8 case 1: 1000 t * 20.908 GJ/t * 0.0908886 tCO2/GJ = 1900.2988488 tCO2;
    # bounds 900 t and 1100 t: 1710.26896392 and 2090.32873368 tCO2
    energy = pd.DataFrame({"year": [2030], "carrier": ["raw_coal"], "amount": [1000.0], "lo": [900.0], "hi": [1100.0]})
    out = emissions_by_year(energy, {"raw_coal": CombustionFactor(COAL_NCV, COAL_EF)}).iloc[0]
    assert out["tco2"] == pytest.approx(1900.2988488, rel=1e-12)
    assert (out["tco2_lo"], out["tco2_hi"]) == (pytest.approx(1710.26896392), pytest.approx(2090.32873368))
    assert out["factor_tco2_per_unit"] == pytest.approx(1.9002988488, rel=1e-12)
    assert (out["ncv_gj_per_unit"], out["ef_tco2_per_gj"]) == (COAL_NCV, pytest.approx(0.0908886, rel=1e-12))
    with pytest.raises(ValidationError, match="ncv"):
        CombustionFactor(-1.0, COAL_EF)


def test_a_scenario_mixes_w_and_f_with_a_combined_factor(hand_made_bau: pd.DataFrame) -> None:
    # coal 100 t/a through formula (8): 190.02988488 tCO2/a instead of 200 with the combined 2.0;
    # the electricity path is unchanged, so the totals drop by 9.97011512 and 2028 stays the peak
    factors = {**FACTORS, "coal": CombustionFactor(COAL_NCV, COAL_EF)}
    result = run_scenario(hand_made_bau, factors, Scenario("bau"), target_year=2030)
    expected = [t - 200 + 190.02988488 for t in (700, 830, 920, 970, 980, 950, 880)]
    assert result.path["tco2"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert (result.peak.year, result.peak.tco2) == (2028, pytest.approx(970.02988488, rel=1e-12))


def test_factors_file_reads_ncv_and_ef(tmp_path: Path) -> None:
    path = tmp_path / "factors.csv"
    path.write_text(
        f"carrier,tco2_per_unit,year,ncv,ef\nraw_coal,,,20.908,{COAL_EF!r}\n"
        "electricity,0.5703,2024,,\nelectricity,0.1,2060,,\ngasoline,2.9251,,,\n",
        encoding="utf-8",
    )
    factors = read_factors(path)
    assert factors == {
        "raw_coal": CombustionFactor(20.908, COAL_EF),
        "electricity": {2024: 0.5703, 2060: 0.1},
        "gasoline": 2.9251,
    }
    both = tmp_path / "both.csv"
    both.write_text("carrier,tco2_per_unit,ncv,ef\nraw_coal,1.9,20.908,0.09\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="either tco2_per_unit or ncv and ef"):
        read_factors(both)
    yearly = tmp_path / "yearly.csv"
    yearly.write_text("carrier,year,ncv,ef\nraw_coal,2030,20.908,0.09\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no year"):
        read_factors(yearly)
    half = tmp_path / "half.csv"
    half.write_text("carrier,tco2_per_unit,ncv\nraw_coal,,20.908\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="both ncv and ef"):
        read_factors(half)


def test_default_model_follows_a_growing_history_past_the_last_year(tmp_path: Path) -> None:
    # 2018..2024 raw coal 100 + 5k + d_k with d = (1, -1, 0, 0, 0, -1, 1): d sums to 0 and
    # Σ k d_k = -1 - 5 + 6 = 0, so least squares on time gives exactly 100 + 5k. In 2060
    # (k = 42) that is 310 t, 310 * 1.9002988488 = 589.092643128 tCO2, still rising at the
    # horizon: the peak is not the last observed year 2024. (ETS on this history chose no
    # trend when this was written, and its BAU peak was 2024: the audit's finding.)
    energy = tmp_path / "energy.csv"
    rows = [f"{2018 + k},raw_coal,{v}" for k, v in enumerate([101, 104, 110, 115, 120, 124, 131])]
    energy.write_text("year,carrier,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    factors = tmp_path / "factors.csv"
    factors.write_text(f"carrier,ncv,ef\nraw_coal,{COAL_NCV},{COAL_EF!r}\n", encoding="utf-8")
    result = runner.invoke(app, ["forecast-peak", str(energy), "--factors", str(factors), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["energy_model"] == "regression"
    assert doc["factors"]["raw_coal"]["tco2_per_unit"] == pytest.approx(1.9002988488, rel=1e-12)
    bau = doc["scenarios"][0]
    assert bau["peak_year"] != 2024
    assert (bau["peak_year"], bau["peak_reached"]) == (2060, False)
    assert bau["peak_tco2"] == pytest.approx(589.092643128, rel=1e-9)
    assert bau["band_meaning"] == doc["band_meaning"] == FORECAST_BAND
    table = runner.invoke(app, ["forecast-peak", str(energy), "--factors", str(factors)])
    assert table.exit_code == 0 and "Peak range" in table.stdout and "80% band" not in table.stdout


def test_the_range_says_what_it_is(hand_made_bau: pd.DataFrame) -> None:
    assert run_scenario(hand_made_bau, FACTORS, Scenario("bau"), 2030).summary()["band_meaning"] == FORECAST_BAND
    # elasticity 0.4 / 0.6 / 0.8 on output growing 10 % a year: lo and hi are assumptions
    bau = elasticity_projection({"coal": 100.0}, 2024, 2030, {2025: 0.1}, (0.4, 0.6, 0.8))
    meaning = elasticity_band_meaning(0.4, 0.8)
    summary = run_scenario(bau, {"coal": 2.0}, Scenario("bau"), 2030, band_meaning=meaning).summary()
    assert summary["band_meaning"] == "assumption range: energy elasticity of output 0.4 to 0.8 (not a probability)"
    # 2030: 200 * 1.1^(6e) tCO2 for e = 0.4, 0.6, 0.8
    assert summary["peak_tco2"] == pytest.approx(200 * 1.1**3.6)
    assert summary["peak_tco2_range"] == pytest.approx([200 * 1.1**2.4, 200 * 1.1**4.8])


def test_demo_peak_names_its_range_an_assumption_range(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    build_demo(url, "small", seed=7, year=2025, out_dir=tmp_path)
    peak = forecasting.park_peak(url)
    meaning = "assumption range: energy elasticity of output 0.4 to 0.8 (not a probability)"
    assert peak["band_meaning"] == meaning
    assert all(s["band_meaning"] == meaning for s in peak["scenarios"])
    # BAU grows with output from 2025: 5 % a year 2026-29, 4 % 2030-39, 2.5 % 2040-49, 1.5 % 2050-59,
    # 1 % in 2060, so 2060 is the peak (still rising) at Σ base × factor × ratio^0.6, and the
    # range is the same at the elasticities 0.4 and 0.8
    ratio = 1.05**4 * 1.04**10 * 1.025**10 * 1.015**10 * 1.01
    base = sum(peak["base_energy"][c] * peak["factors_tco2e_per_unit"][c] for c in peak["base_energy"])
    bau = peak["scenarios"][0]
    assert (bau["name"], bau["peak_year"], bau["peak_reached"]) == ("business_as_usual", 2060, False)
    assert bau["peak_tco2"] == pytest.approx(base * ratio**0.6, rel=1e-9)
    assert bau["peak_tco2_range"] == pytest.approx([base * ratio**0.4, base * ratio**0.8], rel=1e-9)
