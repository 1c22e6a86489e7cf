"""Enterprise data-credit rating (碳信用评价) from the trust record: a documented, explainable score.

The guide asks the park to rate its enterprises' carbon-data credit on top of the trusted
data (§3.2.2(2)1: "在可信数据基础上对园区企业进行碳信用评价与认证"). carbonpark scores one
enterprise and year from eight indicators of its trust record, each normalised to
[0, 100] with the guide's formula (10) (SPEC.md §3):

    Y = a + (X − X_min) / (X_max − X_min) · (b − a),  clamped to [a, b] = [0, 100],

reversed (``X_max`` ↔ ``X_min``) where less is better, and combined with fixed weights
(formula (9), one level):

=======================  ======  ======  ======  =============================================
indicator                weight  X_min   X_max   meaning
=======================  ======  ======  ======  =============================================
metered_share            0.20    0       1       share of activity data from meters, not typed in
completeness             0.15    0.90    1       share of expected data actually received
on_time_share            0.15    0.80    1       share of reports submitted by their deadline
signature_coverage       0.15    0       1       share of its ledger entries it signed validly
quality_flag_share       0.10    0.10    0       share of readings flagged by quality checks (↓)
quarantine_share         0.05    0.05    0       share of readings quarantined (↓)
verification_findings    0.10    5       0       material findings of the verifier (↓) [count]
corrections              0.10    10      0       corrections after submission (↓) [count]
=======================  ======  ======  ======  =============================================

Score = Σ weight · Y, in [0, 100]. Grades: AAA ≥ 90, AA ≥ 80, A ≥ 70, B ≥ 60, C below.
Any tamper event (a ledger entry of the enterprise that no longer matches its signed head,
or a bad signature) caps the score at 59 and the grade at C, whatever the rest: data that
was changed behind the ledger's back cannot be rated trustworthy. The thresholds, weights
and the cap are carbonpark's choice (the guide names the rating, not its scale); they are
constants of this module so that a park can read, and a future version can revise, them.

References
----------
Guide §3.2.2(2)1 (碳信用评价与认证), §7.2 (碳核查); SPEC.md §3 formulas (9) and (10);
SPEC.md C18.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from carbonpark.errors import ValidationError

__all__ = [
    "GRADES",
    "INDICATORS",
    "TAMPER_CAP",
    "CreditRating",
    "Indicator",
    "RatingComponent",
    "TrustRecord",
    "grade_of",
    "normalise",
    "rate",
]


@dataclass(frozen=True)
class Indicator:
    """How one indicator is scored: its weight and the values that score 0 and 100."""

    name: str
    weight: float
    x_at_0: float
    x_at_100: float
    meaning: str


INDICATORS = (
    Indicator("metered_share", 0.20, 0.0, 1.0, "share of activity data from meters"),
    Indicator("completeness", 0.15, 0.90, 1.0, "share of expected data received"),
    Indicator("on_time_share", 0.15, 0.80, 1.0, "share of reports on time"),
    Indicator("signature_coverage", 0.15, 0.0, 1.0, "share of ledger entries validly signed"),
    Indicator("quality_flag_share", 0.10, 0.10, 0.0, "share of readings flagged by quality checks"),
    Indicator("quarantine_share", 0.05, 0.05, 0.0, "share of readings quarantined"),
    Indicator("verification_findings", 0.10, 5.0, 0.0, "material verification findings"),
    Indicator("corrections", 0.10, 10.0, 0.0, "corrections after submission"),
)
"""The scored indicators (weights sum to 1)."""

GRADES = ((90.0, "AAA"), (80.0, "AA"), (70.0, "A"), (60.0, "B"), (0.0, "C"))
"""Lower score bound of each grade, best first."""

TAMPER_CAP = 59.0
"""Highest score an enterprise with a tamper event can get (grade C)."""

_SHARES = (
    "metered_share",
    "completeness",
    "on_time_share",
    "signature_coverage",
    "quality_flag_share",
    "quarantine_share",
)


@dataclass(frozen=True)
class TrustRecord:
    """An enterprise's trust record for one year (inputs of :func:`rate`).

    Attributes
    ----------
    enterprise, year
        Whose record, for which reporting year.
    metered_share, completeness, on_time_share, signature_coverage, quality_flag_share, quarantine_share
        Shares [0–1] (see the module table).
    verification_findings, corrections, tamper_events
        Counts [count].
    """

    enterprise: str
    year: int
    metered_share: float
    completeness: float
    on_time_share: float
    signature_coverage: float
    quality_flag_share: float = 0.0
    quarantine_share: float = 0.0
    verification_findings: int = 0
    corrections: int = 0
    tamper_events: int = 0

    def __post_init__(self) -> None:
        for name in _SHARES:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValidationError(name, "a share between 0 and 1", value)
        for name in ("verification_findings", "corrections", "tamper_events"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValidationError(name, "a count ≥ 0", value)


@dataclass(frozen=True)
class RatingComponent:
    """One indicator's part of the score.

    Attributes
    ----------
    name, value
        The indicator and the enterprise's value.
    weight
        Its weight [1].
    points
        The normalised score of the value [0–100], formula (10).
    contribution
        ``weight · points`` [score points].
    reason
        The value in words.
    """

    name: str
    value: float
    weight: float
    points: float
    contribution: float
    reason: str


@dataclass(frozen=True)
class CreditRating:
    """The data-credit rating of an enterprise for a year, with its components and the reasons."""

    enterprise: str
    year: int
    score: float
    grade: str
    components: list[RatingComponent]
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["components"] = [asdict(c) for c in self.components]
        return doc


def normalise(x: float, x_at_0: float, x_at_100: float, a: float = 0.0, b: float = 100.0) -> float:
    """Formula (10): ``a + (x − x_min)/(x_max − x_min)·(b − a)`` clamped to [a, b] (reversed if x_at_0 > x_at_100).

    References
    ----------
    SPEC.md §3 formula (10); guide appendix (evaluation indicators).
    """
    y = a + (x - x_at_0) / (x_at_100 - x_at_0) * (b - a)
    return min(max(y, a), b)


def grade_of(score: float) -> str:
    """The grade of a score (:data:`GRADES`)."""
    return next(grade for bound, grade in GRADES if score >= bound)


def rate(record: TrustRecord) -> CreditRating:
    """Rate an enterprise's data credit from its trust record (see the module text).

    Parameters
    ----------
    record
        The trust record.

    Returns
    -------
    CreditRating
        Score [0–100], grade, each component, and the reasons: every indicator that cost
        more than one point, largest loss first, and the tamper cap when it applied.

    References
    ----------
    Guide §3.2.2(2)1; SPEC.md §3 formulas (9), (10).
    """
    components = []
    for ind in INDICATORS:
        value = float(getattr(record, ind.name))
        points = normalise(value, ind.x_at_0, ind.x_at_100)
        components.append(
            RatingComponent(
                ind.name,
                value,
                ind.weight,
                round(points, 2),
                round(ind.weight * points, 2),
                f"{ind.meaning}: {value:g}",
            )
        )
    score = round(sum(ind.weight * c.points for ind, c in zip(INDICATORS, components, strict=True)), 1)
    losses = sorted(((c.weight * (100 - c.points), c) for c in components), key=lambda t: -t[0])
    reasons = [f"{c.reason} costs {loss:.1f} points" for loss, c in losses if loss > 1.0]
    if record.tamper_events:
        if score > TAMPER_CAP:
            score = TAMPER_CAP
        reasons.insert(0, f"{record.tamper_events} tamper event(s): score capped at {TAMPER_CAP:g}, grade C")
    return CreditRating(record.enterprise, record.year, score, grade_of(score), components, reasons)
