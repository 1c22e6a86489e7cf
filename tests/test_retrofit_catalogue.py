"""The measure catalogue, projects derived from measures, and M&V of realised savings.

Factors used (given by the caller, as the factor library would): grid electricity 0.0005306 tCO2/kWh
(MEE/NBS 2023 national average, REFERENCE_DATA.md §3a, grade A) and natural gas 0.0561 tCO2/GJ
(IPCC 2006 default 56,100 kg/TJ, REFERENCE_DATA.md §7). Prices are illustrative.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbonpark.errors import UnknownFactorError, ValidationError
from carbonpark.retrofit import (
    PeriodObservation,
    catalogue_names,
    fit_baseline,
    load_catalogue,
    marginal_abatement_cost_curve,
    parse_catalogue,
    project_from_measure,
    verify_savings,
)

D = Decimal
FACTORS = {"electricity": 0.0005306, "natural_gas": 0.0561}
PRICES = {"electricity": D("0.7"), "natural_gas": D("100")}


def test_packaged_catalogue_has_the_named_measures_with_sources() -> None:
    measures = load_catalogue()
    assert {
        "led_lighting",
        "vfd_motors",
        "waste_heat_recovery",
        "rooftop_pv",
        "heat_pump_for_gas_boiler",
        "compressed_air_leak_repair",
    } <= set(measures)
    assert all(m.source and m.grade in ("A", "B", "C") for m in measures.values())
    assert "illustrative-2024" in catalogue_names()


def test_unknown_catalogue_lists_known_names() -> None:
    with pytest.raises(UnknownFactorError, match="illustrative-2024"):
        load_catalogue("nope")


def test_rooftop_pv_project() -> None:
    # 100 kWp × 1100 kWh/kWp = 110,000 kWh/yr; × 0.0005306 = 58.366 tCO2/yr; × 0.7 CNY = 77,000 CNY/yr
    # capex 100 × 3500 = 350,000 CNY; opex 1 % = 3,500 CNY/yr
    derived = project_from_measure(
        load_catalogue()["rooftop_pv"],
        project_id="pv-1",
        size=100,
        baseline={},
        prices_cny=PRICES,
        emission_factors_tco2e=FACTORS,
    )
    p = derived.project
    assert (p.capex, p.annual_opex, p.annual_savings) == (D(350000), D(3500), D(77000))
    assert float(p.annual_abatement_tco2e) == pytest.approx(58.366)
    assert p.lifetime_years == 25 and p.measure == "rooftop_pv"
    # r = 0.05, n = 25: (1.05)^25 = 3.3863549; CRF = 0.05 × 3.3863549 / 2.3863549 = 0.0709525
    # net = 350,000 × 0.0709525 + 3,500 − 77,000 = 24,833.4 − 73,500 = −48,666.6 CNY/yr → −833.8 CNY/t
    assert float(p.cost_per_tco2e(D("0.05"))) == pytest.approx(-48666.64 / 58.366, rel=1e-5)


def test_heat_pump_replacing_gas_boiler() -> None:
    # gas 1000 GJ/yr × boiler 0.9 = 900 GJ of heat; ÷ COP 3 = 300 GJ = 300 / 0.0036 = 83,333.33 kWh
    # abatement = 1000 × 0.0561 − 83,333.33 × 0.0005306 = 56.1 − 44.21667 = 11.88333 tCO2/yr
    # savings = 1000 × 100 − 83,333.33 × 0.7 = 100,000 − 58,333.33 = 41,666.67 CNY/yr
    derived = project_from_measure(
        load_catalogue()["heat_pump_for_gas_boiler"],
        project_id="hp",
        size=400,
        baseline={"natural_gas": 1000},
        prices_cny=PRICES,
        emission_factors_tco2e=FACTORS,
    )
    assert derived.energy_saved["electricity"] == pytest.approx(-83333.3333)
    assert float(derived.project.annual_abatement_tco2e) == pytest.approx(11.883333, rel=1e-6)
    assert derived.project.annual_savings == D("41666.67")
    assert derived.project.capex == D(800000)  # 400 kW × 2000 CNY/kW


def test_leak_repair_and_macc_of_derived_projects() -> None:
    # 500,000 kWh/yr × 0.15 = 75,000 kWh → 39.795 tCO2/yr, 52,500 CNY/yr; capex 200 kW × 60 = 12,000 CNY
    catalogue = load_catalogue()
    leak = project_from_measure(
        catalogue["compressed_air_leak_repair"],
        project_id="leak",
        size=200,
        baseline={"electricity": 500_000},
        prices_cny=PRICES,
        emission_factors_tco2e=FACTORS,
    ).project
    assert float(leak.annual_abatement_tco2e) == pytest.approx(39.795)
    assert leak.annual_savings == D(52500) and leak.capex == D(12000)
    pv = project_from_measure(
        catalogue["rooftop_pv"],
        project_id="pv",
        size=100,
        baseline={},
        prices_cny=PRICES,
        emission_factors_tco2e=FACTORS,
    ).project
    # leak: (12,000/2 − 52,500)/39.795 = −1168.4 CNY/t at r = 0; pv: (14,000 + 3,500 − 77,000)/58.366 = −1019.4
    assert [e.id for e in marginal_abatement_cost_curve([pv, leak], D(0))] == ["leak", "pv"]


def test_missing_baseline_or_factor_is_an_error() -> None:
    vfd = load_catalogue()["vfd_motors"]
    with pytest.raises(ValidationError, match="baseline"):
        project_from_measure(
            vfd, project_id="v", size=10, baseline={}, prices_cny=PRICES, emission_factors_tco2e=FACTORS
        )
    with pytest.raises(ValidationError, match=r"emission_factors_tco2e\.electricity"):
        project_from_measure(
            vfd, project_id="v", size=10, baseline={"electricity": 1000}, prices_cny=PRICES, emission_factors_tco2e={}
        )


def test_user_catalogue_is_validated() -> None:
    with pytest.raises(ValidationError, match=r"measures\[0\]\.fraction"):
        parse_catalogue(
            {
                "measures": [
                    {
                        "id": "x",
                        "model": "saving_fraction",
                        "carrier": "electricity",
                        "size_unit": "kW",
                        "source": "me",
                        "grade": "C",
                        "lifetime_years": 5,
                    }
                ]
            }
        )


# --- M&V ----------------------------------------------------------------------------------------

# Baseline months follow E = 100 + 2 × output + 0.5 × HDD exactly (CDD constant, so left out):
BASELINE = [
    PeriodObservation("2025-01", 170, output=10, hdd=100),  # 100 + 20 + 50
    PeriodObservation("2025-02", 165, output=20, hdd=50),  # 100 + 40 + 25
    PeriodObservation("2025-03", 200, output=30, hdd=80),  # 100 + 60 + 40
    PeriodObservation("2025-04", 180, output=40, hdd=0),  # 100 + 80 + 0
    PeriodObservation("2025-05", 215, output=50, hdd=30),  # 100 + 100 + 15
    PeriodObservation("2025-06", 225, output=60, hdd=10),  # 100 + 120 + 5
]


def test_baseline_regression_recovers_the_coefficients() -> None:
    model = fit_baseline(BASELINE)
    assert model.intercept == pytest.approx(100)
    assert model.coefficients == pytest.approx({"output": 2.0, "hdd": 0.5, "cdd": 0.0})
    assert model.r_squared == pytest.approx(1.0)
    assert model.meets_guideline_14_monthly


def test_realised_against_planned() -> None:
    # 2025-07: adjusted baseline 100 + 2 × 40 + 0.5 × 60 = 210, metered 180 → 30 avoided
    # 2025-08: 100 + 2 × 50 + 0.5 × 20 = 210, metered 190 → 20 avoided; total 50 kWh
    # realised 50 × 0.0005306 = 0.02653 t; planned 0.12 t/yr × 2/12 = 0.02 t → realisation 1.3265
    # money 50 × 0.7 = 35.00 CNY against 600 × 2/12 = 100.00 CNY
    result = verify_savings(
        fit_baseline(BASELINE),
        [PeriodObservation("2025-07", 180, output=40, hdd=60), PeriodObservation("2025-08", 190, output=50, hdd=20)],
        emission_factor_tco2e=0.0005306,
        price_cny=D("0.7"),
        planned_annual_abatement_tco2e=D("0.12"),
        planned_annual_savings_cny=D(600),
    )
    assert [row["avoided"] for row in result.periods] == pytest.approx([30, 20])
    assert result.realised_abatement_tco2e == pytest.approx(0.02653)
    assert result.planned_abatement_tco2e == pytest.approx(0.02)
    assert result.realisation == pytest.approx(1.3265)
    assert (result.realised_savings_cny, result.planned_savings_cny) == (D("35.00"), D("100.00"))


def test_baseline_needs_enough_periods() -> None:
    with pytest.raises(ValidationError, match="at least 4 baseline periods"):
        fit_baseline(BASELINE[:3])
