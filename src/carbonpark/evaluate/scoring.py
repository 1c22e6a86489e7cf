"""Scoring of the park evaluation: formula (10) per indicator, formula (9) for the levels and the total.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5: formula (9)
``w = Σ_i Σ_j Σ_k α_i β_j γ_k x_k`` and formula (10) ``Y = a + (X − X_min)/(X_max − X_min) × (b − a)``
with ``[a, b] = [0, 100]``; a qualitative indicator scores 0 for "no" and 100 for "yes"; appendix
indicators 34-36 add points up to a fixed total.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.evaluate.catalogue import (
    Catalogue,
    Direction,
    Indicator,
    ThresholdOverride,
    load_catalogue,
    parse_direction,
)
from carbonpark.evaluate.weights import WeightSet, appendix_weights

__all__ = [
    "SCORE_MAX",
    "SCORE_MIN",
    "Evaluation",
    "IndicatorInput",
    "IndicatorScore",
    "cumulative_score",
    "evaluate",
    "normalise",
    "parse_value",
    "read_values_csv",
]

SCORE_MIN = 0.0
"""``a`` of formula (10)."""
SCORE_MAX = 100.0
"""``b`` of formula (10)."""

_YES = {"yes", "y", "true", "是", "有"}
_NO = {"no", "n", "false", "否", "无"}


@dataclass(frozen=True)
class IndicatorInput:
    """One indicator's value for one park and year, with optional per-row threshold overrides.

    Attributes
    ----------
    id
        Indicator id 1-69.
    value
        A number in the indicator's unit (percentages on 0-100), or ``True``/``False`` for yes/no.
    min, max, direction
        Thresholds of formula (10) for this row; ``None`` keeps the thresholds file's or the catalogue's.
    step
        Points per counted item for the cumulative indicators 34-36.
    evidence
        Where the value comes from (document, link, computation).
    source
        ``"entered"`` or ``"platform"``.
    """

    id: int
    value: float | bool
    min: float | None = None
    max: float | None = None
    direction: Direction | None = None
    step: float | None = None
    evidence: str | None = None
    source: str = "entered"


@dataclass(frozen=True)
class IndicatorScore:
    """The score of one indicator and how it was reached."""

    id: int
    name_zh: str
    name_en: str
    level1: int
    level2: int
    unit: str
    value: float | bool | None
    min: float
    max: float
    direction: Direction
    method: str
    score: float
    weight: float
    global_weight: float
    missing: bool
    evidence: str | None
    source: str | None

    @property
    def weighted(self) -> float:
        """Points of the total score this indicator contributes: ``α β γ Y``."""
        return self.global_weight * self.score

    @property
    def loss(self) -> float:
        """Points of the total score lost on this indicator: ``α β γ (100 − Y)``, the gain available."""
        return self.global_weight * (SCORE_MAX - self.score)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (an element of ``indicators`` in ``carbonpark evaluate --json``)."""
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "level1": self.level1,
            "level2": self.level2,
            "value": self.value,
            "unit": self.unit,
            "min": self.min,
            "max": self.max,
            "direction": self.direction,
            "method": self.method,
            "score": self.score,
            "weight": self.weight,
            "global_weight": self.global_weight,
            "weighted": self.weighted,
            "loss": self.loss,
            "missing": self.missing,
            "evidence": self.evidence,
            "source": self.source,
        }


@dataclass(frozen=True)
class Evaluation:
    """The result of formula (9): total, first- and second-level sub-scores, indicator scores, missing ids.

    Every sub-score is on 0-100 within its group: ``level2[j] = Σ_k γ_k Y_k``,
    ``level1[i] = Σ_j β_j level2[j]``, ``score = Σ_i α_i level1[i]``.
    """

    score: float
    level1: dict[int, float]
    level2: dict[int, float]
    indicators: tuple[IndicatorScore, ...]
    missing: tuple[int, ...]
    weight_mode: str

    def indicator(self, indicator_id: int) -> IndicatorScore:
        """The score record of one indicator."""
        for item in self.indicators:
            if item.id == indicator_id:
                return item
        raise ValidationError("indicator", "an indicator id 1-69", indicator_id)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form: the ``carbonpark evaluate --json`` document."""
        return {
            "score": self.score,
            "level1": {str(k): v for k, v in self.level1.items()},
            "level2": {str(k): v for k, v in self.level2.items()},
            "indicators": [i.as_dict() for i in self.indicators],
            "missing": list(self.missing),
            "missing_rule": "a missing indicator scores 0 (its weight is kept)",
            "weights": self.weight_mode,
        }


def normalise(value: float, x_min: float, x_max: float, direction: Direction = "higher", where: str = "value") -> float:
    """Formula (10): map ``value`` linearly onto [0, 100] between the thresholds, clamped.

    Parameters
    ----------
    value
        Indicator value X [indicator unit].
    x_min, x_max
        Thresholds X_min < X_max [indicator unit].
    direction
        ``"higher"``: X_min → 0, X_max → 100; ``"lower"`` (less is better): X_min → 100, X_max → 0.

    Returns
    -------
    float
        ``Y = a + (X − X_min)/(X_max − X_min) × (b − a)`` with a = 0, b = 100, clamped to [0, 100]
        (``Y = b − (X − X_min)/(X_max − X_min) × (b − a)`` when lower is better).

    Raises
    ------
    ValidationError
        ``x_min ≥ x_max`` or a value that is not finite.

    References
    ----------
    The guide §5, formula (10).
    """
    if not math.isfinite(value):
        raise ValidationError(where, "a finite number", value)
    if not (math.isfinite(x_min) and math.isfinite(x_max)) or x_min >= x_max:
        raise ValidationError(
            where, "thresholds with min < max (use direction 'lower' when less is better)", (x_min, x_max)
        )
    fraction = (value - x_min) / (x_max - x_min)
    if direction == "lower":
        fraction = 1.0 - fraction
    y = SCORE_MIN + fraction * (SCORE_MAX - SCORE_MIN)
    return min(SCORE_MAX, max(SCORE_MIN, y))


def cumulative_score(count: float, step: float, where: str = "value") -> float:
    """Points added per item, capped: ``min(count × step, 100)`` (appendix indicators 34-36).

    Parameters
    ----------
    count
        Number of services offered [-].
    step
        Points per service [points].

    References
    ----------
    The guide, appendix, indicators 34-36 ("累加式加分,总分不超过固定值").
    """
    if not math.isfinite(count) or count < 0:
        raise ValidationError(where, "a count of 0 or more", count)
    if not math.isfinite(step) or step <= 0:
        raise ValidationError(where, "a step of points per item above 0", step)
    return min(SCORE_MAX, count * step)


def parse_value(text: object, where: str = "value") -> float | bool:
    """A value cell: a number (a trailing ``%`` is dropped, percentages are on 0-100) or yes/no (是/否)."""
    if isinstance(text, bool):
        return text
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = str(text).strip()
        lowered = raw.lower()
        if lowered in _YES:
            return True
        if lowered in _NO:
            return False
        try:
            value = float(raw.removesuffix("%").replace(",", ""))
        except ValueError:
            raise ValidationError(where, "a number or yes/no (是/否)", raw) from None
    if not math.isfinite(value):
        raise ValidationError(where, "a finite number", text)
    return value


def _score_one(ind: Indicator, item: IndicatorInput, override: ThresholdOverride | None) -> IndicatorScore:
    where = f"indicator {ind.id}"
    x_min = item.min if item.min is not None else (override.min if override and override.min is not None else ind.min)
    x_max = item.max if item.max is not None else (override.max if override and override.max is not None else ind.max)
    direction: Direction = item.direction or (override.direction if override and override.direction else ind.direction)
    step = item.step if item.step is not None else (override.step if override else None)
    value = item.value
    if isinstance(value, bool):
        if ind.type != "yesno":
            raise ValidationError(f"{where} ({ind.name_zh}) value", f"a number in {ind.unit} (not yes/no)", value)
        score, method = (SCORE_MAX if value else SCORE_MIN), "yes/no: yes = 100, no = 0"
    elif step is not None:
        if not ind.cumulative:
            raise ValidationError(f"{where} step", "no step (only the cumulative indicators 34-36 take one)", step)
        score = cumulative_score(value, step, f"{where} value")
        method = f"cumulative: min({value:g} × {step:g}, 100)"
    else:
        score = normalise(value, x_min, x_max, direction, f"{where} value")
        method = f"formula (10): {direction} is better on [{x_min:g}, {x_max:g}]"
    return IndicatorScore(
        id=ind.id,
        name_zh=ind.name_zh,
        name_en=ind.name_en,
        level1=ind.level1,
        level2=ind.level2,
        unit=ind.unit,
        value=value,
        min=x_min,
        max=x_max,
        direction=direction,
        method=method,
        score=score,
        weight=0.0,
        global_weight=0.0,
        missing=False,
        evidence=item.evidence,
        source=item.source,
    )


def _missing(ind: Indicator, override: ThresholdOverride | None) -> IndicatorScore:
    return IndicatorScore(
        id=ind.id,
        name_zh=ind.name_zh,
        name_en=ind.name_en,
        level1=ind.level1,
        level2=ind.level2,
        unit=ind.unit,
        value=None,
        min=override.min if override and override.min is not None else ind.min,
        max=override.max if override and override.max is not None else ind.max,
        direction=override.direction if override and override.direction else ind.direction,
        method="missing: scores 0",
        score=SCORE_MIN,
        weight=0.0,
        global_weight=0.0,
        missing=True,
        evidence=None,
        source=None,
    )


def evaluate(
    values: Iterable[IndicatorInput],
    weights: WeightSet | None = None,
    thresholds: Mapping[int, ThresholdOverride] | None = None,
    catalogue: Catalogue | None = None,
) -> Evaluation:
    """Score a park: formula (10) per indicator, then formula (9) with sub-scores per level.

    Parameters
    ----------
    values
        Indicator values (each id at most once). Ids not given are *missing*: they score 0 and keep their
        weight, so an incomplete evaluation cannot look better than a complete one; they are listed in
        ``missing``.
    weights
        α, β, γ (default: the appendix's).
    thresholds
        Per-park, per-year threshold overrides; a row's own ``min``/``max``/``direction``/``step`` win.
    catalogue
        The index system (default: the packaged one).

    Returns
    -------
    Evaluation
        ``score`` [0-100] = Σ α_i level1[i]; ``level1[i]`` = Σ β_j level2[j]; ``level2[j]`` = Σ γ_k Y_k.

    Raises
    ------
    ValidationError
        An unknown or repeated indicator id, bad thresholds, yes/no for a quantitative indicator.

    References
    ----------
    The guide §5, formulas (9) and (10).
    """
    cat = catalogue or load_catalogue()
    w = weights or appendix_weights(cat)
    overrides = dict(thresholds or {})
    given: dict[int, IndicatorInput] = {}
    for item in values:
        cat.indicator(item.id)
        if item.id in given:
            raise ValidationError(f"indicator {item.id}", "each indicator at most once", "a second value")
        given[item.id] = item
    scored: list[IndicatorScore] = []
    for ind in cat.indicators.values():
        override = overrides.get(ind.id)
        base = _score_one(ind, given[ind.id], override) if ind.id in given else _missing(ind, override)
        scored.append(_with_weights(base, w.gamma[ind.id], w.global_weight(cat, ind.id)))
    by_id = {s.id: s for s in scored}
    level2 = {g: sum(w.gamma[i.id] * by_id[i.id].score for i in cat.indicators_of(g)) for g in cat.level2}
    level1 = {f: sum(w.beta[g.id] * level2[g.id] for g in cat.level2_of(f)) for f in cat.level1}
    score = sum(w.alpha[f] * level1[f] for f in cat.level1)
    missing = tuple(s.id for s in scored if s.missing)
    return Evaluation(
        score=score,
        level1=level1,
        level2=level2,
        indicators=tuple(scored),
        missing=missing,
        weight_mode=w.mode,
    )


def _with_weights(item: IndicatorScore, weight: float, global_weight: float) -> IndicatorScore:
    return replace(item, weight=weight, global_weight=global_weight)


_COLUMNS = ("indicator", "value", "min", "max", "direction", "step", "evidence")


def _cell(row: Sequence[str], header: Mapping[str, int], name: str) -> str:
    index = header.get(name)
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def read_values_csv(text: str, catalogue: Catalogue | None = None) -> list[IndicatorInput]:
    """Indicator values from CSV text: ``indicator,value``, optional ``min,max,direction,step,evidence``.

    An empty ``value`` leaves the indicator missing (a template with all 69 rows can be filled in bit by bit);
    lines starting with ``#`` are comments.

    Raises
    ------
    ValidationError
        Naming the line and column: a missing required column, an unknown indicator id, a bad number,
        direction or yes/no.
    """
    cat = catalogue or load_catalogue()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = [
        (reader.line_num, row)
        for row in reader
        if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise ValidationError("line 1", "a header with the columns indicator,value", "an empty file")
    header_line, header_row = rows[0]
    where_header = f"line {header_line}"
    header = {name.strip().lower(): k for k, name in enumerate(header_row)}
    for required in ("indicator", "value"):
        if required not in header:
            raise ValidationError(where_header, f"a header with the column '{required}'", ",".join(header_row))
    unknown = [name for name in header if name and name not in _COLUMNS]
    if unknown:
        raise ValidationError(where_header, f"only the columns {', '.join(_COLUMNS)}", unknown)
    inputs: list[IndicatorInput] = []
    for line, row in rows[1:]:
        raw_id = _cell(row, header, "indicator")
        try:
            indicator_id = int(raw_id)
        except ValueError:
            raise ValidationError(f"line {line}, column indicator", "an indicator id 1-69", raw_id) from None
        if indicator_id not in cat.indicators:
            raise ValidationError(f"line {line}, column indicator", "an indicator id 1-69", indicator_id)
        raw_value = _cell(row, header, "value")
        if not raw_value:
            continue
        inputs.append(
            IndicatorInput(
                id=indicator_id,
                value=parse_value(raw_value, f"line {line}, column value"),
                min=_number_or_none(_cell(row, header, "min"), f"line {line}, column min"),
                max=_number_or_none(_cell(row, header, "max"), f"line {line}, column max"),
                direction=parse_direction(_cell(row, header, "direction"), f"line {line}, column direction"),
                step=_number_or_none(_cell(row, header, "step"), f"line {line}, column step"),
                evidence=_cell(row, header, "evidence") or None,
            )
        )
    seen: set[int] = set()
    for item in inputs:
        if item.id in seen:
            raise ValidationError(f"indicator {item.id}", "one row per indicator", "two rows")
        seen.add(item.id)
    return inputs


def _number_or_none(text: str, where: str) -> float | None:
    if not text:
        return None
    value = parse_value(text, where)
    if isinstance(value, bool):
        raise ValidationError(where, "a number", text)
    return value
