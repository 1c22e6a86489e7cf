"""The enterprise data-credit rating: formula (10) per indicator, fixed weights, tamper cap."""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.ledger.rating import INDICATORS, TrustRecord, grade_of, normalise, rate


def test_weights_sum_to_one() -> None:
    assert sum(ind.weight for ind in INDICATORS) == pytest.approx(1.0)


def test_formula_10_normalisation_and_reversal() -> None:
    # Y = a + (X - Xmin)/(Xmax - Xmin)(b - a): completeness 0.95 on [0.90, 1] -> 50.
    assert normalise(0.95, 0.90, 1.0) == pytest.approx(50.0)
    assert normalise(0.5, 0.90, 1.0) == 0.0  # clamped at a
    # Reversed: 2 findings on [5 -> 0, 0 -> 100] -> (2 - 5)/(0 - 5) * 100 = 60.
    assert normalise(2, 5.0, 0.0) == pytest.approx(60.0)
    assert grade_of(90.0) == "AAA" and grade_of(89.99) == "AA" and grade_of(59.9) == "C"


def test_perfect_record_scores_100_aaa() -> None:
    rating = rate(TrustRecord("ENT-0001", 2025, 1.0, 1.0, 1.0, 1.0))
    assert rating.score == 100.0 and rating.grade == "AAA" and rating.reasons == []
    assert len(rating.components) == 8


def test_worked_example() -> None:
    # By hand, points per indicator (formula 10) times weight:
    #   metered 0.6 -> 60 * 0.20 = 12.0
    #   completeness 0.98 on [0.9, 1] -> 80 * 0.15 = 12.0
    #   on time 0.9 on [0.8, 1] -> 50 * 0.15 = 7.5
    #   signatures 0.5 -> 50 * 0.15 = 7.5
    #   flags 0.02 on [0.10 -> 0] -> 80 * 0.10 = 8.0
    #   quarantine 0.01 on [0.05 -> 0] -> 80 * 0.05 = 4.0
    #   findings 1 on [5 -> 0] -> 80 * 0.10 = 8.0
    #   corrections 5 on [10 -> 0] -> 50 * 0.10 = 5.0
    # total 64.0 -> grade B. Largest loss: metered, 40 points * 0.20 = 8.0.
    record = TrustRecord("ENT-0002", 2025, 0.6, 0.98, 0.9, 0.5, 0.02, 0.01, 1, 5)
    rating = rate(record)
    assert rating.score == pytest.approx(64.0)
    assert rating.grade == "B"
    assert rating.reasons[0] == "share of activity data from meters: 0.6 costs 8.0 points"
    contributions = {c.name: c.contribution for c in rating.components}
    assert contributions["on_time_share"] == pytest.approx(7.5)
    doc = rating.to_json()
    assert doc["components"][0]["name"] == "metered_share"


def test_a_tamper_event_caps_at_grade_c() -> None:
    rating = rate(TrustRecord("ENT-0003", 2025, 1.0, 1.0, 1.0, 1.0, tamper_events=1))
    assert rating.score == 59.0 and rating.grade == "C"
    assert rating.reasons[0].startswith("1 tamper event(s)")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="metered_share"):
        TrustRecord("E", 2025, 1.2, 1.0, 1.0, 1.0)
    with pytest.raises(ValidationError, match="corrections"):
        TrustRecord("E", 2025, 1.0, 1.0, 1.0, 1.0, corrections=-1)
