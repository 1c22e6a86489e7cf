"""Enterprise carbon-efficiency grades (碳效码) and the admission check, against hand computations.

Grade limits on K = L / industry average: ≤0.6 → 1, ≤0.8 → 2, ≤1.2 → 3, ≤2.0 → 4, else 5; level limits on
L: ≤0.6 low, ≤2.0 medium, else high (provincial method "规上工业企业碳效等级评价方法", see the data file).
"""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.retrofit.admission import ParkFigures, ParkTargets, admission_check
from carbonpark.retrofit.rating import EnterpriseYear, rate_enterprises

# Textiles, pooled: (50 + 100 + 300) t / (100 + 100 + 100) 万元 = 1.5 t/万元
#   T1: L 0.5, K 0.5/1.5 = 0.333 → grade 1, level low
#   T2: L 1.0, K 0.667 → grade 2, medium
#   T3: L 3.0, K 2.0 → grade 4 (2.0 is inclusive), high
# Chemicals, given benchmark 2.0 t/万元:
#   C1: L 2.4 → K 1.2 → grade 3 (inclusive), high;  C2: L 5.0 → K 2.5 → grade 5, high
ENTERPRISES = [
    EnterpriseYear("T1", "textiles", 50, 100, energy_tce=20, land_mu=50),
    EnterpriseYear("T2", "textiles", 100, 100),
    EnterpriseYear("T3", "textiles", 300, 100),
    EnterpriseYear("C1", "chemicals", 240, 100),
    EnterpriseYear("C2", "chemicals", 500, 100),
]


def test_grades_levels_and_ranking() -> None:
    ratings = rate_enterprises(ENTERPRISES, {"chemicals": 2.0})
    by_id = {r.id: r for r in ratings}
    assert [(i, by_id[i].grade) for i in ("T1", "T2", "T3", "C1", "C2")] == [
        ("T1", 1),
        ("T2", 2),
        ("T3", 4),
        ("C1", 3),
        ("C2", 5),
    ]
    assert by_id["T1"].k == pytest.approx(1 / 3)
    assert by_id["T1"].industry_average == pytest.approx(1.5)
    assert by_id["C1"].benchmark_source == "given industry benchmark"
    assert [by_id[i].level.split()[0] for i in ("T1", "T2", "T3", "C1")] == ["low", "medium", "high", "high"]
    # park order by K: T1 0.333, T2 0.667, C1 1.2, T3 2.0, C2 2.5
    assert [r.id for r in ratings] == ["T1", "T2", "C1", "T3", "C2"]
    assert (by_id["T3"].rank_in_industry, by_id["C2"].rank_in_industry) == (3, 2)
    # per mu: 50 t / 50 mu = 1 t/mu, 100 万元 / 50 mu = 2 万元/mu; energy 20 tce / 100 万元 = 0.2
    assert (by_id["T1"].emissions_per_mu_tco2e, by_id["T1"].value_added_per_mu_10k_cny) == (1.0, 2.0)
    assert by_id["T1"].energy_intensity_tce_per_10k_cny == pytest.approx(0.2)
    assert "K = 2 → grade 4" in by_id["T3"].reason


def test_rating_rejects_zero_value_added() -> None:
    with pytest.raises(ValidationError, match="value_added"):
        rate_enterprises([EnterpriseYear("x", "a", 1, 0)])


# Park before: 10,000 t, 10,000 万元 (1.0 t/万元), 4,000 tce; caps 12,000 t, 1.05 t/万元, 5,000 tce.
PARK = ParkFigures(10_000, 10_000, 4_000)
TARGETS = ParkTargets(cap_total_tco2e=12_000, cap_intensity_tco2e_per_10k_cny=1.05, cap_energy_tce=5_000)


def test_admission_of_a_clean_candidate() -> None:
    # candidate 1,000 t, 2,000 万元, 500 tce → after 11,000 t / 12,000 万元 = 0.91667 t/万元, 4,500 tce: all hold
    # grade against textiles benchmark 1.5: L 0.5, K 0.333 → 1
    result = admission_check(
        "new-mill", ParkFigures(1_000, 2_000, 500), PARK, TARGETS, industry="textiles", industry_benchmark=1.5
    )
    assert result.admissible and result.grade == 1
    assert result.park_intensity_after == pytest.approx(11_000 / 12_000)
    headroom = {c.name: c.headroom_after for c in result.checks}
    assert headroom["total emissions [tCO2e]"] == pytest.approx(1_000)
    assert headroom["energy [tce]"] == pytest.approx(500)
    assert "acceptable" in result.conclusion and "lowers" in result.conclusion


def test_admission_of_a_carbon_heavy_candidate() -> None:
    # candidate 1,500 t, 500 万元 → after 11,500 t / 10,500 万元 = 1.0952 t/万元 > 1.05: intensity cap broken;
    # total 11,500 ≤ 12,000 holds
    result = admission_check("kiln", ParkFigures(1_500, 500, 300), PARK, TARGETS)
    assert not result.admissible
    failed = [c.name for c in result.checks if not c.passed]
    assert failed == ["emission intensity [tCO2e/10^4 CNY]"]
    assert result.park_intensity_after == pytest.approx(11_500 / 10_500)
    assert "not acceptable" in result.conclusion and "raises" in result.conclusion
