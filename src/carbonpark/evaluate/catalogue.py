"""The catalogue of the park evaluation index system: 5 + 20 + 69 indicators with their weights.

The catalogue is packaged data (``data/aii-park-evaluation-indicators-2021.yaml``) transcribed from the
appendix of the guide; this module loads it into typed records and applies per-park, per-year threshold
overrides.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and appendix 《工业互联网双碳园区评价指标》.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from carbonpark.errors import ValidationError

__all__ = [
    "CATALOGUE_FILE",
    "Catalogue",
    "Direction",
    "Indicator",
    "IndicatorType",
    "Level1",
    "Level2",
    "ThresholdOverride",
    "catalogue_from_mapping",
    "load_catalogue",
    "parse_direction",
    "parse_thresholds",
]

CATALOGUE_FILE = "aii-park-evaluation-indicators-2021.yaml"

Direction = Literal["higher", "lower"]
IndicatorType = Literal["quantitative", "yesno"]


@dataclass(frozen=True)
class Level1:
    """A first-level indicator (一级指标) with its weight α."""

    id: int
    name_zh: str
    name_en: str
    weight: float


@dataclass(frozen=True)
class Level2:
    """A second-level indicator (二级指标) with its weight β within its first-level group."""

    id: int
    level1: int
    name_zh: str
    name_en: str
    weight: float


@dataclass(frozen=True)
class Indicator:
    """A third-level indicator (三级指标) with its weight γ within its second-level group.

    ``min``/``max`` are the default thresholds of formula (10) in ``unit``; ``reason`` says why they were
    chosen.
    A yes/no indicator has ``min`` 0 and ``max`` 1 (yes = 1).
    """

    id: int
    level2: int
    level1: int
    weight: float
    name_zh: str
    name_en: str
    description: str
    type: IndicatorType
    direction: Direction
    unit: str
    min: float
    max: float
    reason: str
    cumulative: bool = False
    platform: str | None = None


@dataclass(frozen=True)
class ThresholdOverride:
    """Thresholds of one indicator set for one park and year (any field left ``None`` keeps the default)."""

    min: float | None = None
    max: float | None = None
    direction: Direction | None = None
    step: float | None = None


@dataclass(frozen=True)
class Catalogue:
    """The whole index system: first-level, second-level and third-level indicators by id."""

    level1: dict[int, Level1]
    level2: dict[int, Level2]
    indicators: dict[int, Indicator]
    source: dict[str, str] = field(default_factory=dict)

    def level2_of(self, level1_id: int) -> list[Level2]:
        """The second-level indicators of a first-level group, in id order."""
        return [g for g in self.level2.values() if g.level1 == level1_id]

    def indicators_of(self, level2_id: int) -> list[Indicator]:
        """The third-level indicators of a second-level group, in id order."""
        return [i for i in self.indicators.values() if i.level2 == level2_id]

    def indicator(self, indicator_id: int) -> Indicator:
        """One indicator by id; an unknown id is a :class:`ValidationError`."""
        try:
            return self.indicators[indicator_id]
        except KeyError:
            raise ValidationError("indicator", f"an indicator id 1-{len(self.indicators)}", indicator_id) from None

    def with_thresholds(self, overrides: Mapping[int, ThresholdOverride]) -> Catalogue:
        """A copy with per-park, per-year ``min``/``max``/``direction`` overrides (``step`` not kept)."""
        indicators = dict(self.indicators)
        for indicator_id, override in overrides.items():
            base = self.indicator(indicator_id)
            indicators[indicator_id] = replace(
                base,
                min=base.min if override.min is None else override.min,
                max=base.max if override.max is None else override.max,
                direction=base.direction if override.direction is None else override.direction,
            )
        return replace(self, indicators=indicators)


def _indicator_from_row(row: Mapping[str, Any], level2: Mapping[int, Level2]) -> Indicator:
    group = level2[int(row["level2"])]
    return Indicator(
        id=int(row["id"]),
        level2=group.id,
        level1=group.level1,
        weight=float(row["weight"]),
        name_zh=str(row["name_zh"]),
        name_en=str(row["name_en"]),
        description=str(row["description"]),
        type=row["type"],
        direction=row["direction"],
        unit=str(row["unit"]),
        min=float(row["min"]),
        max=float(row["max"]),
        reason=str(row["reason"]),
        cumulative=bool(row.get("cumulative", False)),
        platform=row.get("platform"),
    )


def catalogue_from_mapping(doc: Mapping[str, Any]) -> Catalogue:
    """Build a :class:`Catalogue` from the parsed YAML document."""
    level1 = {int(r["id"]): Level1(int(r["id"]), r["name_zh"], r["name_en"], float(r["weight"])) for r in doc["level1"]}
    level2 = {
        int(r["id"]): Level2(int(r["id"]), int(r["level1"]), r["name_zh"], r["name_en"], float(r["weight"]))
        for r in doc["level2"]
    }
    indicators = {int(r["id"]): _indicator_from_row(r, level2) for r in doc["indicators"]}
    source = {str(k): str(v) for k, v in doc.get("source", {}).items()}
    return Catalogue(level1=level1, level2=level2, indicators=indicators, source=source)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The packaged catalogue of the guide's appendix (cached).

    Returns
    -------
    Catalogue
        5 first-level, 20 second-level and 69 third-level indicators.

    References
    ----------
    工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, appendix.
    """
    text = resources.files("carbonpark.evaluate").joinpath("data", CATALOGUE_FILE).read_text(encoding="utf-8")
    return catalogue_from_mapping(yaml.safe_load(text))


def _optional_float(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(where, "a number", value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValidationError(where, "a number", value) from None


def parse_direction(value: Any, where: str) -> Direction | None:
    """``higher``/``lower`` (or empty → ``None``); anything else is a :class:`ValidationError`."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    if text in ("higher", "lower"):
        return text  # type: ignore[return-value]
    raise ValidationError(where, "direction 'higher' or 'lower'", value)


def parse_thresholds(doc: Any, catalogue: Catalogue | None = None) -> dict[int, ThresholdOverride]:
    """Per-park, per-year thresholds from a parsed YAML mapping ``{id: {min, max, direction, step}}``.

    The document may also wrap the mapping in a ``thresholds:`` key, next to free metadata such as ``park``
    and ``year``.

    Raises
    ------
    ValidationError
        An unknown indicator id, a non-numeric threshold or an unknown direction.
    """
    catalogue = catalogue or load_catalogue()
    if isinstance(doc, Mapping) and "thresholds" in doc:
        doc = doc["thresholds"]
    if not isinstance(doc, Mapping):
        raise ValidationError("thresholds", "a mapping of indicator id to {min, max, direction, step}", doc)
    overrides: dict[int, ThresholdOverride] = {}
    for key, spec in doc.items():
        where = f"thresholds.{key}"
        try:
            indicator_id = int(key)
        except (TypeError, ValueError):
            raise ValidationError(where, "an indicator id 1-69", key) from None
        catalogue.indicator(indicator_id)
        if not isinstance(spec, Mapping):
            raise ValidationError(where, "a mapping with min, max, direction or step", spec)
        unknown = set(spec) - {"min", "max", "direction", "step", "reason"}
        if unknown:
            raise ValidationError(where, "only the keys min, max, direction, step, reason", sorted(unknown))
        overrides[indicator_id] = ThresholdOverride(
            min=_optional_float(spec.get("min"), f"{where}.min"),
            max=_optional_float(spec.get("max"), f"{where}.max"),
            direction=parse_direction(spec.get("direction"), f"{where}.direction"),
            step=_optional_float(spec.get("step"), f"{where}.step"),
        )
    return overrides
