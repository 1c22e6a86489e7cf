"""Diagnosis of an evaluation: the weakest indicators, the score gain available, comparisons across years and parks.

The guide (§5, §6.5) uses the evaluation to locate a park's stage of development, diagnose its problems and set
staged targets; this module ranks where points are lost and compares evaluations.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and §6.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.evaluate.scoring import SCORE_MAX, Evaluation

__all__ = ["Comparison", "Weakness", "compare", "weakest"]


@dataclass(frozen=True)
class Weakness:
    """Where points of the total score are lost on one indicator.

    Attributes
    ----------
    gain_available
        Points of the total score [0-100] gained by raising the indicator to 100: ``α β γ (100 − Y)``.
    gain_per_10_points
        Points of the total gained per 10 more points of the indicator: ``10 α β γ`` (the sensitivity).
    """

    id: int
    name_zh: str
    name_en: str
    score: float
    missing: bool
    global_weight: float
    gain_available: float
    gain_per_10_points: float

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form."""
        return dict(self.__dict__)


def weakest(evaluation: Evaluation, top: int = 10) -> list[Weakness]:
    """The indicators with the largest weighted loss ``α β γ (100 − Y)``, largest first.

    Parameters
    ----------
    evaluation
        A scored evaluation.
    top
        How many to return (ties keep id order).

    Returns
    -------
    list of Weakness
        Indicators already at 100 are left out.
    """
    losses = [i for i in evaluation.indicators if i.score < SCORE_MAX]
    losses.sort(key=lambda i: (-i.loss, i.id))
    return [
        Weakness(
            id=i.id,
            name_zh=i.name_zh,
            name_en=i.name_en,
            score=i.score,
            missing=i.missing,
            global_weight=i.global_weight,
            gain_available=i.loss,
            gain_per_10_points=10 * i.global_weight,
        )
        for i in losses[: max(0, top)]
    ]


@dataclass(frozen=True)
class Comparison:
    """Several evaluations side by side (years of one park, or several parks), with deltas against the first.

    Every ``*_delta`` maps a label (other than the baseline's) to ``this − baseline`` in score points.
    """

    labels: tuple[str, ...]
    score: dict[str, float]
    score_delta: dict[str, float]
    level1: dict[str, dict[int, float]]
    level1_delta: dict[str, dict[int, float]]
    level2: dict[str, dict[int, float]]
    level2_delta: dict[str, dict[int, float]]
    indicators: dict[int, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (the ``carbonpark evaluate-compare --json`` document)."""

        def keyed(d: dict[str, dict[int, float]]) -> dict[str, dict[str, float]]:
            return {label: {str(k): v for k, v in inner.items()} for label, inner in d.items()}

        return {
            "labels": list(self.labels),
            "baseline": self.labels[0],
            "score": self.score,
            "score_delta": self.score_delta,
            "level1": keyed(self.level1),
            "level1_delta": keyed(self.level1_delta),
            "level2": keyed(self.level2),
            "level2_delta": keyed(self.level2_delta),
            "indicators": [{"id": k, **v} for k, v in self.indicators.items()],
        }


def _delta(this: dict[int, float], base: dict[int, float]) -> dict[int, float]:
    return {k: this[k] - base[k] for k in base}


def compare(evaluations: Sequence[tuple[str, Evaluation]]) -> Comparison:
    """Compare two or more evaluations; the first is the baseline.

    Parameters
    ----------
    evaluations
        ``(label, evaluation)`` pairs, e.g. ``("2023", e1), ("2024", e2)`` or one per park.

    Raises
    ------
    ValidationError
        Fewer than two evaluations or a repeated label.
    """
    if len(evaluations) < 2:
        raise ValidationError("compare", "two or more evaluations", len(evaluations))
    labels = tuple(label for label, _ in evaluations)
    if len(set(labels)) != len(labels):
        raise ValidationError("compare", "distinct labels", list(labels))
    base_label, base = evaluations[0]
    others = evaluations[1:]
    indicators: dict[int, dict[str, Any]] = {}
    for item in base.indicators:
        scored = {label: ev.indicator(item.id) for label, ev in evaluations}
        indicators[item.id] = {
            "name_zh": item.name_zh,
            "name_en": item.name_en,
            "value": {label: s.value for label, s in scored.items()},
            "score": {label: s.score for label, s in scored.items()},
            "score_delta": {label: s.score - item.score for label, s in scored.items() if label != base_label},
            "weighted_delta": {label: s.weighted - item.weighted for label, s in scored.items() if label != base_label},
        }
    return Comparison(
        labels=labels,
        score={label: ev.score for label, ev in evaluations},
        score_delta={label: ev.score - base.score for label, ev in others},
        level1={label: dict(ev.level1) for label, ev in evaluations},
        level1_delta={label: _delta(ev.level1, base.level1) for label, ev in others},
        level2={label: dict(ev.level2) for label, ev in evaluations},
        level2_delta={label: _delta(ev.level2, base.level2) for label, ev in others},
        indicators=indicators,
    )
