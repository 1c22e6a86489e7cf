"""Diagnosis, comparison, platform-computed indicators and the HTML report of the evaluation (guide §5, §6.5)."""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.evaluate import (
    IndicatorInput,
    compare,
    evaluate,
    indicators_from_platform,
    merge_inputs,
    radar_svg,
    read_matrix_csv,
    render_html,
    weakest,
)


def test_weakest_ranks_by_weighted_loss() -> None:
    # Only indicators 1 (score 50) and 65 (score 75) are given; everything else is missing (score 0).
    # Loss = alpha beta gamma (100 - Y). Largest global weights among the missing: 56, 57 (0.2 x 0.5 x 0.5)
    # and 67 (0.25 x 0.2 x 1), 0.05 each -> loss 5.0, ties in id order;
    # indicator 65: 0.25 x 0.2 x 0.5 = 0.025 x 25 = 0.625;
    # indicator 1: 0.15 x 0.3 x 0.2 = 0.009 x 50 = 0.45
    result = evaluate([IndicatorInput(1, 50.0), IndicatorInput(65, 0.2, min=0.1, max=0.5)])
    top = weakest(result, top=3)
    assert [w.id for w in top] == [56, 57, 67]
    assert top[0].gain_available == pytest.approx(5.0)
    assert top[0].gain_per_10_points == pytest.approx(0.5)
    everything = {w.id: w for w in weakest(result, top=69)}
    assert everything[65].gain_available == pytest.approx(0.625)
    assert everything[1].gain_available == pytest.approx(0.45)
    # the gains of all indicators add up to 100 - score
    assert sum(w.gain_available for w in everything.values()) == pytest.approx(100 - result.score)


def test_weakest_leaves_out_full_marks() -> None:
    result = evaluate([IndicatorInput(57, True)])
    assert 57 not in [w.id for w in weakest(result, top=69)]


def test_compare_years_gives_deltas_per_indicator_and_level() -> None:
    # 2023: indicator 52 (clean energy) 20 % -> 20 points; 2024: 50 % -> 50 points.
    # gamma 0.2 in (十三), beta 0.5 in 绿色低碳, alpha 0.2: level2[13] 4 -> 10 (+6); level1[4] 2 -> 5 (+3);
    # total 0.4 -> 1.0 (+0.6)
    y2023 = evaluate([IndicatorInput(52, 20.0)])
    y2024 = evaluate([IndicatorInput(52, 50.0)])
    comparison = compare([("2023", y2023), ("2024", y2024)])
    assert comparison.score_delta["2024"] == pytest.approx(0.6)
    assert comparison.level1_delta["2024"][4] == pytest.approx(3.0)
    assert comparison.level2_delta["2024"][13] == pytest.approx(6.0)
    assert comparison.indicators[52]["score_delta"]["2024"] == pytest.approx(30.0)
    assert comparison.indicators[52]["value"] == {"2023": 20.0, "2024": 50.0}
    doc = comparison.as_dict()
    assert doc["baseline"] == "2023"
    assert doc["level1_delta"]["2024"]["4"] == pytest.approx(3.0)


def test_compare_needs_two_distinct_labels() -> None:
    one = evaluate([])
    with pytest.raises(ValidationError, match="two or more"):
        compare([("a", one)])
    with pytest.raises(ValidationError, match="distinct"):
        compare([("a", one), ("a", one)])


FIGURES = {
    "devices_total": 400,
    "devices_networked": 300,
    "enterprises_total": 80,
    "enterprises_standard_protocol": 60,
    "enterprises_inventory_completed": 20,
    "energy_total_tce": 50000,
    "energy_clean_tce": 12500,
    "gdp_10k_cny": 100000,
    "emissions_tco2e": 90000,
    "emissions_previous_tco2e": 100000,
    "gdp_previous_10k_cny": 100000,
    "carbon_data_platform": True,
}


def test_indicators_from_platform_figures() -> None:
    # 2: 300/400 = 75 %; 5: 60/80 = 75 %; 52: 12500/50000 = 25 %; 56: 20/80 = 25 %; 57: yes;
    # 65: 50000 tce / 100000 x 10^4 CNY = 0.5 tce/10^4 CNY;
    # 66: intensity 0.9 vs 1.0 tCO2e/10^4 CNY -> (1 - 0.9/1.0) x 100 = 10 %
    derived = indicators_from_platform(FIGURES)
    values = {v.id: v.value for v in derived.values}
    assert values == pytest.approx({2: 75.0, 5: 75.0, 52: 25.0, 56: 25.0, 57: True, 65: 0.5, 66: 10.0})
    assert all(v.source == "platform" and v.evidence for v in derived.values)
    assert "300 / 400" in next(v.evidence for v in derived.values if v.id == 2)  # type: ignore[operator]
    assert "figures missing" in derived.skipped[15]


def test_platform_growth_and_productivity() -> None:
    # 59: (1331/1000)^(1/3) - 1 = 10 %/a; 61: 1100/1000 - 1 = 10 %; 63: 80000 / 200 mu = 400; 64: 80000/1100
    derived = indicators_from_platform(
        {
            "output_10k_cny": 1331,
            "output_3_years_ago_10k_cny": 1000,
            "employees": 1100,
            "employees_previous": 1000,
            "area_mu": 200,
        }
    )
    values = {v.id: v.value for v in derived.values}
    assert values[59] == pytest.approx(10.0)
    assert values[61] == pytest.approx(10.0)
    assert values[63] == pytest.approx(1331 / 200)
    assert values[64] == pytest.approx(1331 / 1100)


def test_platform_zero_denominator_is_skipped_and_bad_figures_refused() -> None:
    derived = indicators_from_platform({"devices_total": 0, "devices_networked": 0})
    assert 2 in derived.skipped and "zero" in derived.skipped[2]
    with pytest.raises(ValidationError, match="figures among"):
        indicators_from_platform({"devices": 3})
    with pytest.raises(ValidationError, match="devices_total"):
        indicators_from_platform({"devices_total": -1})


def test_entered_values_replace_platform_values() -> None:
    platform = indicators_from_platform(FIGURES).values
    merged = merge_inputs(platform, [IndicatorInput(52, 40.0, evidence="energy audit 2024")])
    by_id = {v.id: v for v in merged}
    assert by_id[52].value == 40.0 and by_id[52].source == "entered"
    assert by_id[2].source == "platform"
    # scores: 52 on [0, 100] -> 40; 65 0.5 on [0.1, 1.0] lower -> (1.0 - 0.5)/0.9 x 100 = 55.56
    result = evaluate(merged)
    assert result.indicator(52).score == pytest.approx(40.0)
    assert result.indicator(65).score == pytest.approx(55.5556, abs=1e-3)


def test_read_matrix_csv() -> None:
    labels, matrix = read_matrix_csv(",a,b,c\na,1,2,4\nb,1/2,1,2\nc,1/4,1/2,1\n")
    assert labels == ["a", "b", "c"]
    assert matrix[1][0] == 0.5


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (",a,b\na,1,2\n", "2 rows"),
        (",a,b\na,1,2\nc,1/2,1\n", "line 3, column 1"),
        (",a,b\na,1,2\nb,x,1\n", r"line 3, column 2 \(a\)"),
        (",a,b\na,1\nb,1/2,1\n", "line 2"),
        (",a,b\na,1,2\nb,1/3,1\n", "reciprocal"),
        ("", "header row"),
    ],
)
def test_read_matrix_csv_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        read_matrix_csv(text)


def test_radar_and_html_report() -> None:
    svg = radar_svg(["a", "b", "c"], [100.0, 50.0, 0.0])
    assert svg.startswith("<svg") and svg.count("<polygon") == 6  # five rings and the score shape
    result = evaluate(merge_inputs(indicators_from_platform(FIGURES).values, []))
    zh = render_html(result, "zh", title="示范园区 2024")
    en = render_html(result, "en")
    assert "综合得分" in zh and "示范园区 2024" in zh and "基础设施" in zh
    assert "Total score" in en and "Infrastructure" in en
    assert f"{result.score:.2f}" in en
    assert "300 / 400" in en  # the platform computation is shown as evidence


def test_demo_park_gets_a_complete_evaluation() -> None:
    from carbonpark.evaluate import demo_entered_values

    figures = {
        **FIGURES,
        "enterprises_on_platform": 70,
        "enterprises_with_identifier_node": 10,
        "identifiers_registered": 250000,
        "identifier_active_users": 300,
        "identifier_resolutions": 2000000,
        "enterprises_total_previous": 75,
        "output_10k_cny": 1200000,
        "output_3_years_ago_10k_cny": 1000000,
        "employees": 12000,
        "employees_previous": 11500,
        "area_mu": 3000,
    }
    derived = indicators_from_platform(figures)
    assert derived.skipped == {}
    result = evaluate(merge_inputs(derived.values, demo_entered_values()))
    assert result.missing == ()
    assert 0 < result.score < 100
    # the total is the alpha-weighted sum of the first-level sub-scores (formula (9) level by level)
    alphas = {1: 0.15, 2: 0.25, 3: 0.15, 4: 0.2, 5: 0.25}
    assert result.score == pytest.approx(sum(alphas[k] * v for k, v in result.level1.items()))


def test_comment_lines_keep_line_numbers() -> None:
    from carbonpark.evaluate import read_values_csv

    with pytest.raises(ValidationError, match="line 4, column value"):
        read_values_csv("# a comment, with a comma\nindicator,value\n1,5\n2,bad\n")
