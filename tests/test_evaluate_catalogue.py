"""The packaged catalogue of the evaluation index system (guide appendix, 工业互联网产业联盟 2021)."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

import pytest
import yaml

from carbonpark.errors import ValidationError
from carbonpark.evaluate.catalogue import CATALOGUE_FILE, ThresholdOverride, load_catalogue, parse_thresholds


def _raw() -> dict:
    text = resources.files("carbonpark.evaluate").joinpath("data", CATALOGUE_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def test_counts_and_ids_follow_the_appendix() -> None:
    cat = load_catalogue()
    assert sorted(cat.level1) == [1, 2, 3, 4, 5]
    assert sorted(cat.level2) == list(range(1, 21))
    assert sorted(cat.indicators) == list(range(1, 70))
    # appendix: group (十三) 绿色园区建设 holds 52-55, (十七) 低碳效益 holds 65 and 66
    assert [i.id for i in cat.indicators_of(13)] == [52, 53, 54, 55]
    assert [i.id for i in cat.indicators_of(17)] == [65, 66]
    assert cat.indicator(65).level1 == 5
    assert cat.indicator(65).name_zh == "单位GDP综合能耗"


def test_printed_weights_sum_to_one_exactly_in_every_group() -> None:
    # The weights as printed in the appendix, summed in decimal arithmetic (no float rounding): every
    # group sums to exactly 1, so carbonpark applies no normalisation to the appendix weights.
    raw = _raw()
    assert sum(Decimal(str(r["weight"])) for r in raw["level1"]) == Decimal(1)
    for l1 in raw["level1"]:
        members = [r for r in raw["level2"] if r["level1"] == l1["id"]]
        assert sum(Decimal(str(r["weight"])) for r in members) == Decimal(1), l1["name_zh"]
    for l2 in raw["level2"]:
        members = [r for r in raw["indicators"] if r["level2"] == l2["id"]]
        assert members, l2["name_zh"]
        assert sum(Decimal(str(r["weight"])) for r in members) == Decimal(1), l2["name_zh"]


def test_some_printed_weights() -> None:
    cat = load_catalogue()
    # appendix: 一、基础设施 0.15, (七) 保障措施 0.25, 24. "5G+工业互联网" 0.3, 67. 园区协同效益 1
    assert cat.level1[1].weight == 0.15
    assert cat.level2[7].weight == 0.25
    assert cat.indicator(24).weight == 0.3
    assert cat.indicator(67).weight == 1.0


def test_every_indicator_is_complete_and_thresholds_are_ordered() -> None:
    for ind in load_catalogue().indicators.values():
        assert ind.type in ("quantitative", "yesno")
        assert ind.direction in ("higher", "lower")
        assert ind.min < ind.max, ind.id
        assert ind.reason and ind.description and ind.unit and ind.name_en
        if ind.type == "yesno":
            assert (ind.min, ind.max) == (0, 1)


def test_cumulative_indicators_are_34_to_36() -> None:
    assert [i.id for i in load_catalogue().indicators.values() if i.cumulative] == [34, 35, 36]


def test_only_indicator_65_is_lower_is_better() -> None:
    assert [i.id for i in load_catalogue().indicators.values() if i.direction == "lower"] == [65]


def test_threshold_overrides_apply_per_park_and_year() -> None:
    cat = load_catalogue()
    overrides = parse_thresholds({"park": "demo", "year": 2024, "thresholds": {65: {"min": 0.2, "max": 0.8}}})
    assert overrides == {65: ThresholdOverride(min=0.2, max=0.8)}
    edited = cat.with_thresholds(overrides)
    assert (edited.indicator(65).min, edited.indicator(65).max) == (0.2, 0.8)
    assert edited.indicator(65).direction == "lower"
    assert (cat.indicator(65).min, cat.indicator(65).max) == (0.1, 1.0)  # the packaged default is untouched


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({70: {"min": 0}}, "indicator id"),
        ({"x": {"min": 0}}, "indicator id"),
        ({1: {"min": "low"}}, "thresholds.1.min"),
        ({1: {"direction": "up"}}, "direction"),
        ({1: {"maxx": 3}}, "only the keys"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_thresholds_are_refused(doc: object, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        parse_thresholds(doc)
