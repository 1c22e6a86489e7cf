"""Formula (10) normalisation and formula (9) weighted score (guide §5), checked against hand computations."""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.evaluate.catalogue import ThresholdOverride
from carbonpark.evaluate.scoring import (
    IndicatorInput,
    cumulative_score,
    evaluate,
    normalise,
    parse_value,
    read_values_csv,
)
from carbonpark.evaluate.weights import equal_weights

THREE = "indicator,value,min,max,direction\n1,50,0,100,higher\n57,yes,,,\n65,0.2,0.1,0.5,lower\n"


def test_formula_10_higher_lower_and_clamped() -> None:
    # Y = (X - Xmin)/(Xmax - Xmin) x 100: (30 - 10)/(50 - 10) x 100 = 50
    assert normalise(30, 10, 50) == pytest.approx(50.0)
    # lower is better: 100 - 50 = 50; X = 20 -> 100 - 25 = 75
    assert normalise(20, 10, 50, "lower") == pytest.approx(75.0)
    # clamped to [0, 100]
    assert normalise(60, 10, 50) == 100.0
    assert normalise(5, 10, 50) == 0.0
    assert normalise(5, 10, 50, "lower") == 100.0


def test_formula_10_refuses_bad_thresholds() -> None:
    with pytest.raises(ValidationError, match="min < max"):
        normalise(1, 5, 5)
    with pytest.raises(ValidationError, match="min < max"):
        normalise(1, 5, 1)


def test_cumulative_rule() -> None:
    # min(count x step, 100): 3 services x 15 points = 45; 8 x 15 = 120 -> capped at 100
    assert cumulative_score(3, 15) == 45.0
    assert cumulative_score(8, 15) == 100.0
    with pytest.raises(ValidationError):
        cumulative_score(-1, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("No", False),
        ("是", True),
        ("否", False),
        ("85%", 85.0),
        ("1,200", 1200.0),
        ("0.2", 0.2),
    ],
)
def test_parse_value(text: str, expected: object) -> None:
    assert parse_value(text) == expected


def test_three_indicator_example_by_hand() -> None:
    # Hand computation with the appendix weights (guide appendix):
    #   indicator 1 : (50 - 0)/(100 - 0) x 100 = 50;  gamma 0.2 in (一) beta 0.3 in 基础设施 alpha 0.15
    #                 level2[1] = 0.2 x 50 = 10; level1[1] = 0.3 x 10 = 3; share of total 0.15 x 3 = 0.45
    #   indicator 57: yes = 100; gamma 0.5 in (十四) beta 0.5 in 绿色低碳 alpha 0.2
    #                 level2[14] = 50; level1[4] = 0.5 x 50 = 25; 0.2 x 25 = 5
    #   indicator 65: lower is better, (0.5 - 0.2)/(0.5 - 0.1) x 100 = 75;
    #                 gamma 0.5 in (十七) beta 0.2 in 发展成效 alpha 0.25
    #                 level2[17] = 37.5; level1[5] = 0.2 x 37.5 = 7.5; 0.25 x 7.5 = 1.875
    #   score = 0.45 + 5 + 1.875 = 7.325; the other 66 indicators are missing and score 0
    result = evaluate(read_values_csv(THREE))
    assert result.indicator(1).score == pytest.approx(50.0)
    assert result.indicator(57).score == 100.0
    assert result.indicator(65).score == pytest.approx(75.0)
    assert result.level2[1] == pytest.approx(10.0)
    assert result.level2[14] == pytest.approx(50.0)
    assert result.level2[17] == pytest.approx(37.5)
    assert result.level1 == pytest.approx({1: 3.0, 2: 0.0, 3: 0.0, 4: 25.0, 5: 7.5})
    assert result.score == pytest.approx(7.325)
    assert len(result.missing) == 66
    assert 2 in result.missing and 65 not in result.missing
    # alpha beta gamma of 65 = 0.25 x 0.2 x 0.5 = 0.025 points per point; loss = 0.025 x 25 = 0.625
    assert result.indicator(65).global_weight == pytest.approx(0.025)
    assert result.indicator(65).loss == pytest.approx(0.625)


def test_three_indicator_example_with_equal_weights() -> None:
    # Equal weights (the guide's 均值处理): alpha = 1/5 everywhere;
    #   1 : gamma 1/6 (6 in (一)), beta 1/4 (4 groups in 基础设施): 50/6/4/5 = 0.41667
    #   57: gamma 1/2, beta 1/2 (2 groups in 绿色低碳): 100/2/2/5 = 5
    #   65: gamma 1/2, beta 1/6 (6 groups in 发展成效): 75/2/6/5 = 1.25
    #   score = 0.41667 + 5 + 1.25 = 6.66667
    result = evaluate(read_values_csv(THREE), weights=equal_weights())
    assert result.score == pytest.approx(0.4166667 + 5 + 1.25)


def test_full_marks_give_100_and_nothing_missing() -> None:
    from carbonpark.evaluate.catalogue import load_catalogue

    values = [
        IndicatorInput(i.id, True if i.type == "yesno" else (i.min if i.direction == "lower" else i.max))
        for i in load_catalogue().indicators.values()
    ]
    result = evaluate(values)
    assert result.score == pytest.approx(100.0)
    assert result.missing == ()
    assert all(v == pytest.approx(100.0) for v in result.level1.values())


def test_catalogue_thresholds_apply_when_the_row_gives_none() -> None:
    # indicator 65 default thresholds [0.1, 1.0], lower is better: (1.0 - 0.49)/0.9 x 100 = 56.667
    result = evaluate([IndicatorInput(65, 0.49)])
    assert result.indicator(65).score == pytest.approx(56.6667, abs=1e-3)


def test_thresholds_file_and_row_precedence() -> None:
    # thresholds file [0.2, 0.6] -> (0.6 - 0.4)/0.4 x 100 = 50; the row's own max 1.0 wins over the file's:
    # [0.2, 1.0] -> (1.0 - 0.4)/0.8 x 100 = 75
    overrides = {65: ThresholdOverride(min=0.2, max=0.6)}
    assert evaluate([IndicatorInput(65, 0.4)], thresholds=overrides).indicator(65).score == pytest.approx(50.0)
    assert evaluate([IndicatorInput(65, 0.4, max=1.0)], thresholds=overrides).indicator(65).score == pytest.approx(75.0)


def test_cumulative_indicators_with_and_without_step() -> None:
    # 34 with step 15: min(5 x 15, 100) = 75; without step: formula (10) on [0, 8]: 5/8 x 100 = 62.5
    csv_text = "indicator,value,step\n34,5,15\n36,2,\n"
    result = evaluate(read_values_csv(csv_text))
    assert result.indicator(34).score == 75.0
    # 36 without step: [0, 5] -> 2/5 x 100 = 40
    assert result.indicator(36).score == pytest.approx(40.0)
    assert evaluate([IndicatorInput(34, 5)]).indicator(34).score == pytest.approx(62.5)


def test_numeric_value_on_a_yes_no_indicator_uses_formula_10() -> None:
    # 57 is yes/no with thresholds [0, 1]; 1 -> 100; with min 0 max 4 a value 3 -> 75
    assert evaluate([IndicatorInput(57, 1.0)]).indicator(57).score == 100.0
    assert evaluate([IndicatorInput(57, 3.0, min=0, max=4)]).indicator(57).score == pytest.approx(75.0)


def test_direction_override_reverses() -> None:
    # indicator 1 on [0, 100] reversed: 100 - 30 = 70
    assert evaluate([IndicatorInput(1, 30.0, direction="lower")]).indicator(1).score == pytest.approx(70.0)


def test_empty_value_rows_stay_missing() -> None:
    result = evaluate(read_values_csv("indicator,value\n1,\n2,40\n"))
    assert 1 in result.missing and 2 not in result.missing


@pytest.mark.parametrize(
    ("csv_text", "fragment"),
    [
        ("indicator,value\n70,1\n", "line 2, column indicator"),
        ("indicator,value\nabc,1\n", "line 2, column indicator"),
        ("indicator,value\n1,lots\n", "line 2, column value"),
        ("indicator,value,direction\n1,5,up\n", "line 2, column direction"),
        ("indicator,value,min\n1,5,low\n", "line 2, column min"),
        ("indicator,value\n1,5\n1,6\n", "one row per indicator"),
        ("indicator\n1\n", "line 1"),
        ("indicator,value,colour\n1,5,red\n", "only the columns"),
        ("", "empty"),
        ("indicator,value\n1,yes\n", "not yes/no"),
        ("indicator,value,min,max\n1,5,10,10\n", "min < max"),
        ("indicator,value,step\n1,5,10\n", "cumulative indicators 34-36"),
    ],
)
def test_bad_values_are_refused_with_the_line(csv_text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        evaluate(read_values_csv(csv_text))


def test_as_dict_has_the_contract_keys() -> None:
    doc = evaluate(read_values_csv(THREE)).as_dict()
    assert {"score", "level1", "level2", "indicators", "missing"} <= set(doc)
    assert set(doc["level1"]) == {"1", "2", "3", "4", "5"}
    assert len(doc["level2"]) == 20
    assert {"id", "value", "score"} <= set(doc["indicators"][0])
