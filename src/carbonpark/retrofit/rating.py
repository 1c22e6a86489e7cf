"""Enterprise carbon-efficiency grades (碳效码) and ranking against industry benchmarks.

``L = emissions / value added`` [tCO2e/10^4 CNY] gives the level (low/medium/high carbon) against
fixed limits; ``K = L / industry average L`` gives the grade 1 (best) to 5. The industry average is
the benchmark given for the industry, or else the pooled intensity of the park's enterprises in
that industry (Σ emissions / Σ value added). Emissions and value added per mu (亩) of land and
energy intensity are reported alongside. Grades, limits and the source are packaged data
(``data/carbon-efficiency-zhejiang-style.yaml``).

References
----------
Guide §3.2.2(1) (碳效率评价), §7.5 (与所在区域、行业横向对比); provincial 碳效码 method
"规上工业企业碳效等级评价方法" (grade C copy, see the data file); issue 13 item 4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from carbonpark.errors import ValidationError

__all__ = ["EnterpriseRating", "EnterpriseYear", "RatingScheme", "load_rating_scheme", "rate_enterprises"]


@dataclass(frozen=True)
class RatingScheme:
    """Level limits on L and grade limits on K (upper bounds inclusive; None = unbounded)."""

    name: str
    source: str
    levels: tuple[tuple[str, str, float | None], ...]
    grades: tuple[tuple[int, str, str, float | None], ...]


@lru_cache(maxsize=1)
def load_rating_scheme() -> RatingScheme:
    """The packaged 碳效码 scheme."""
    path = resources.files("carbonpark.retrofit") / "data" / "carbon-efficiency-zhejiang-style.yaml"
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RatingScheme(
        name=doc["scheme"],
        source=doc["source"],
        levels=tuple((r["name"], r["name_zh"], r["upper"]) for r in doc["levels"]),
        grades=tuple((int(r["grade"]), r["meaning"], r["meaning_zh"], r["upper"]) for r in doc["grades"]),
    )


@dataclass(frozen=True)
class EnterpriseYear:
    """One enterprise over one period.

    Attributes
    ----------
    emissions_tco2e
        Net emissions of the period [tCO2e] (own zero-carbon generation and sinks deducted).
    value_added_10k_cny
        Value added of the period [10^4 CNY, 万元].
    energy_tce
        Energy use [tce], optional.
    land_mu
        Land used [mu, 亩], optional.
    """

    id: str
    industry: str
    emissions_tco2e: float
    value_added_10k_cny: float
    energy_tce: float | None = None
    land_mu: float | None = None


@dataclass(frozen=True)
class EnterpriseRating:
    """Grade, level, ranks and the reason in words."""

    id: str
    industry: str
    intensity_tco2e_per_10k_cny: float
    industry_average: float
    benchmark_source: str
    k: float
    grade: int
    grade_meaning: str
    level: str
    rank_in_industry: int
    rank_in_park: int
    energy_intensity_tce_per_10k_cny: float | None
    emissions_per_mu_tco2e: float | None
    value_added_per_mu_10k_cny: float | None
    reason: str


def _band(value: float, bounds: Sequence[float | None]) -> int:
    for i, upper in enumerate(bounds):
        if upper is None or value <= upper:
            return i
    return len(bounds) - 1


def rate_enterprises(
    enterprises: Sequence[EnterpriseYear],
    industry_benchmarks: Mapping[str, float] | None = None,
    scheme: RatingScheme | None = None,
) -> list[EnterpriseRating]:
    """Grade and rank enterprises; the best (lowest K, then lowest L) first.

    Parameters
    ----------
    enterprises
        One period of each enterprise.
    industry_benchmarks
        Industry average intensity [tCO2e/10^4 CNY] by industry; industries not listed use the
        pooled intensity of the park's enterprises in that industry.
    scheme
        Grade limits (default: the packaged 碳效码 scheme).

    References
    ----------
    Provincial 碳效码 method (K = L / industry average; grades at 0.6, 0.8, 1.2, 2.0); guide §3.2.2(1).
    """
    scheme = scheme or load_rating_scheme()
    benchmarks = dict(industry_benchmarks or {})
    for e in enterprises:
        if e.value_added_10k_cny <= 0:
            raise ValidationError(
                f"enterprise {e.id!r}.value_added_10k_cny", "a value added > 0", e.value_added_10k_cny
            )
        if e.emissions_tco2e < 0:
            raise ValidationError(f"enterprise {e.id!r}.emissions_tco2e", "net emissions ≥ 0", e.emissions_tco2e)
    pooled: dict[str, tuple[float, float]] = {}
    for e in enterprises:
        emissions, value = pooled.get(e.industry, (0.0, 0.0))
        pooled[e.industry] = (emissions + e.emissions_tco2e, value + e.value_added_10k_cny)
    rows = []
    for e in enterprises:
        intensity = e.emissions_tco2e / e.value_added_10k_cny
        if e.industry in benchmarks:
            average, origin = benchmarks[e.industry], "given industry benchmark"
        else:
            average, origin = pooled[e.industry][0] / pooled[e.industry][1], "pooled park average of the industry"
        if average <= 0:
            raise ValidationError(f"industry {e.industry!r}", "an average intensity > 0", average)
        rows.append((e, intensity, average, origin, intensity / average))
    park_order = sorted(rows, key=lambda r: (r[4], r[1], r[0].id))
    industry_rank: dict[str, int] = {}
    seen: dict[str, int] = {}
    for row in park_order:
        seen[row[0].industry] = seen.get(row[0].industry, 0) + 1
        industry_rank[row[0].id] = seen[row[0].industry]
    ratings = []
    for rank, (e, intensity, average, origin, k) in enumerate(park_order, start=1):
        grade_row = scheme.grades[_band(k, [g[3] for g in scheme.grades])]
        level_row = scheme.levels[_band(intensity, [lv[2] for lv in scheme.levels])]
        ratings.append(
            EnterpriseRating(
                id=e.id,
                industry=e.industry,
                intensity_tco2e_per_10k_cny=intensity,
                industry_average=average,
                benchmark_source=origin,
                k=k,
                grade=grade_row[0],
                grade_meaning=f"{grade_row[1]} ({grade_row[2]})",
                level=f"{level_row[0]} ({level_row[1]})",
                rank_in_industry=industry_rank[e.id],
                rank_in_park=rank,
                energy_intensity_tce_per_10k_cny=None if e.energy_tce is None else e.energy_tce / e.value_added_10k_cny,
                emissions_per_mu_tco2e=None if not e.land_mu else e.emissions_tco2e / e.land_mu,
                value_added_per_mu_10k_cny=None if not e.land_mu else e.value_added_10k_cny / e.land_mu,
                reason=(
                    f"L = {e.emissions_tco2e:g} t / {e.value_added_10k_cny:g} 万元 = {intensity:.4g} t/万元; "
                    f"{origin} {average:.4g} t/万元; K = {k:.4g} → grade {grade_row[0]} ({grade_row[1]})"
                ),
            )
        )
    return ratings
