"""Admission check (模拟核算 for 招商引资): a candidate enterprise or project against the park's targets.

The candidate's simulated yearly emissions, energy and value added are added to the park's
(forecast) figures of the same year; each cap (total emissions, emission intensity per value
added, total energy) is checked after admission, and the candidate's own intensity is compared
with the park's and, when a benchmark is given, graded against its industry (碳效码).

References
----------
Guide §7.5 (4) (分析园区内实施项目对碳排放强度考核目标可达性的影响程度) and the acceptability conclusion
(给出…是否可接受的结论); guide §1.3.2 (产能过剩分析和预警); issue 13 item 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbonpark.errors import ValidationError
from carbonpark.retrofit.rating import EnterpriseYear, RatingScheme, rate_enterprises

__all__ = ["AdmissionCheck", "AdmissionResult", "ParkFigures", "ParkTargets", "admission_check"]


@dataclass(frozen=True)
class ParkFigures:
    """The park (or a candidate) over one year: emissions [tCO2e], value added [10^4 CNY], energy [tce]."""

    emissions_tco2e: float
    value_added_10k_cny: float
    energy_tce: float = 0.0


@dataclass(frozen=True)
class ParkTargets:
    """Caps of the year; None where the park has none."""

    cap_total_tco2e: float | None = None
    cap_intensity_tco2e_per_10k_cny: float | None = None
    cap_energy_tce: float | None = None


@dataclass(frozen=True)
class AdmissionCheck:
    """One cap: the value before and after admission, the limit, the headroom left."""

    name: str
    limit: float
    before: float
    after: float
    headroom_after: float
    passed: bool


@dataclass(frozen=True)
class AdmissionResult:
    """All checks, the candidate's intensity effect, its grade, and the conclusion in words."""

    candidate: str
    admissible: bool
    checks: list[AdmissionCheck]
    candidate_intensity: float
    park_intensity_before: float
    park_intensity_after: float
    grade: int | None
    conclusion: str


def _check(name: str, limit: float | None, before: float, after: float) -> AdmissionCheck | None:
    if limit is None:
        return None
    return AdmissionCheck(name, limit, before, after, limit - after, after <= limit)


def admission_check(
    candidate_id: str,
    candidate: ParkFigures,
    park: ParkFigures,
    targets: ParkTargets,
    *,
    industry: str | None = None,
    industry_benchmark: float | None = None,
    scheme: RatingScheme | None = None,
) -> AdmissionResult:
    """Whether the park still meets its caps with the candidate admitted.

    Parameters
    ----------
    candidate_id
        Name or id of the candidate enterprise or project.
    candidate
        Its simulated yearly emissions [tCO2e], value added [10^4 CNY] and energy [tce].
    park
        The park's figures of the same year without the candidate (actual or forecast).
    targets
        The park's caps for that year.
    industry, industry_benchmark
        When both are given, the candidate is graded (碳效码) against the benchmark [tCO2e/10^4 CNY].

    References
    ----------
    Guide §7.5 (4); issue 13 item 3 (admission check).
    """
    if park.value_added_10k_cny <= 0 or candidate.value_added_10k_cny <= 0:
        raise ValidationError(
            "value_added_10k_cny",
            "a value added > 0 for the park and the candidate",
            (park.value_added_10k_cny, candidate.value_added_10k_cny),
        )
    after = ParkFigures(
        park.emissions_tco2e + candidate.emissions_tco2e,
        park.value_added_10k_cny + candidate.value_added_10k_cny,
        park.energy_tce + candidate.energy_tce,
    )
    before_intensity = park.emissions_tco2e / park.value_added_10k_cny
    after_intensity = after.emissions_tco2e / after.value_added_10k_cny
    checks = [
        c
        for c in (
            _check("total emissions [tCO2e]", targets.cap_total_tco2e, park.emissions_tco2e, after.emissions_tco2e),
            _check(
                "emission intensity [tCO2e/10^4 CNY]",
                targets.cap_intensity_tco2e_per_10k_cny,
                before_intensity,
                after_intensity,
            ),
            _check("energy [tce]", targets.cap_energy_tce, park.energy_tce, after.energy_tce),
        )
        if c is not None
    ]
    grade = None
    if industry is not None and industry_benchmark is not None:
        rating = rate_enterprises(
            [EnterpriseYear(candidate_id, industry, candidate.emissions_tco2e, candidate.value_added_10k_cny)],
            {industry: industry_benchmark},
            scheme,
        )[0]
        grade = rating.grade
    failed = [c.name for c in checks if not c.passed]
    candidate_intensity = candidate.emissions_tco2e / candidate.value_added_10k_cny
    direction = (
        "lowers" if after_intensity < before_intensity else "raises" if after_intensity > before_intensity else "keeps"
    )
    effect = (
        f"its intensity {candidate_intensity:.4g} t/万元 {direction} the park's from "
        f"{before_intensity:.4g} to {after_intensity:.4g} t/万元"
    )
    graded = "" if grade is None else f"; carbon-efficiency grade {grade} in its industry"
    if failed:
        conclusion = f"{candidate_id}: not acceptable as planned, it breaks {', '.join(failed)}; {effect}{graded}."
    else:
        conclusion = f"{candidate_id}: acceptable, every cap holds after admission; {effect}{graded}."
    return AdmissionResult(
        candidate=candidate_id,
        admissible=not failed,
        checks=checks,
        candidate_intensity=candidate_intensity,
        park_intensity_before=before_intensity,
        park_intensity_after=after_intensity,
        grade=grade,
        conclusion=conclusion,
    )
