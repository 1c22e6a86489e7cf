"""Verification (碳核查, guide §7.2): findings, materiality, the statement, key emitters, retention.

A verifier raises findings (severity ``major`` non-conformity, ``minor`` non-conformity or
``observation``), each with the misstatement it causes [tCO2e]. The enterprise corrects them
(a new inventory version); a finding is closed when its correction is accepted. The statement's
opinion follows from what stays uncorrected: the sum of uncorrected misstatements against the
materiality threshold (5 % of the reported total by default) and any open major finding.

References
----------
The guide §7.2 (2.6 万吨二氧化碳当量; 核查步骤); MEE 《碳排放权交易管理办法（试行）》 (2021):
report by 31 March, records kept at least five years; ISO 14064-3:2019 (levels of assurance,
materiality); REFERENCE_DATA §5a.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from carbonpark.errors import ValidationError

__all__ = [
    "ASSURANCE_LEVELS",
    "KEY_EMITTER_THRESHOLD_TCO2E",
    "MATERIALITY_PCT",
    "RETENTION_YEARS",
    "SEVERITIES",
    "Finding",
    "Opinion",
    "is_key_emitter",
    "key_emitters",
    "opinion",
    "retain_until",
]

#: Key emitters: annual emissions ≥ 26,000 tCO2e (guide §7.2; REFERENCE_DATA §5a, grade C).
KEY_EMITTER_THRESHOLD_TCO2E = 26_000.0
#: Default materiality: 5 % of the reported total (issue 8; common for reasonable assurance in ETS verification).
MATERIALITY_PCT = 5.0
#: Records kept at least five years (MEE Measures 2021; REFERENCE_DATA §5a).
RETENTION_YEARS = 5
SEVERITIES: dict[str, tuple[str, str]] = {
    "major": ("严重不符合", "major non-conformity"),
    "minor": ("一般不符合", "minor non-conformity"),
    "observation": ("观察项", "observation"),
}
ASSURANCE_LEVELS: dict[str, tuple[str, str]] = {
    "reasonable": ("合理保证", "reasonable assurance"),
    "limited": ("有限保证", "limited assurance"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: severity, what, the misstatement [tCO2e, signed: reported − correct] and status."""

    severity: str
    description: str
    misstatement_tco2e: float = 0.0
    status: str = "open"
    ref: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValidationError("finding severity", f"one of {', '.join(SEVERITIES)}", self.severity)
        if self.status not in ("open", "corrected", "closed"):
            raise ValidationError("finding status", "open, corrected or closed", self.status)


@dataclass(frozen=True)
class Opinion:
    """The statement's conclusion: ``unmodified``, ``qualified`` or ``adverse``."""

    opinion: str
    level_of_assurance: str
    materiality_pct: float
    materiality_tco2e: float
    uncorrected_misstatement_tco2e: float
    open_major: int
    reported_tco2e: float
    material_findings: int = 0

    @property
    def verifies(self) -> bool:
        """Whether the statement verifies the inventory (an adverse opinion does not)."""
        return self.opinion != "adverse"

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "opinion": self.opinion,
            "level_of_assurance": self.level_of_assurance,
            "materiality_pct": self.materiality_pct,
            "materiality_tco2e": self.materiality_tco2e,
            "uncorrected_misstatement_tco2e": self.uncorrected_misstatement_tco2e,
            "open_major": self.open_major,
            "reported_tco2e": self.reported_tco2e,
            "material_findings": self.material_findings,
        }


def opinion(
    reported_tco2e: float,
    findings: Iterable[Finding],
    *,
    level_of_assurance: str = "reasonable",
    materiality_pct: float = MATERIALITY_PCT,
) -> Opinion:
    """The verification opinion from the findings left uncorrected.

    * ``adverse``: uncorrected misstatements (absolute sum) ≥ materiality.
    * ``qualified``: below materiality, but a major non-conformity is still open.
    * ``unmodified``: below materiality and no open major non-conformity.

    ``material_findings`` counts the findings left open that are major non-conformities or whose
    own misstatement reaches materiality (what the data-credit rating counts, docs/ledger.md §9).
    An adverse opinion does not verify the inventory (:attr:`Opinion.verifies`): under ISO 14064-3:2019 an
    adverse opinion says the GHG statement is materially misstated, so it returns for correction.

    Examples
    --------
    >>> opinion(10_000.0, [Finding("minor", "rounding", 120.0)]).opinion  # 120 < 500 = 5 % of 10,000
    'unmodified'
    >>> op = opinion(10_000.0, [Finding("minor", "meter", 500.0), Finding("major", "plan", 0.0)])
    >>> op.opinion, op.material_findings, op.verifies
    ('adverse', 2, False)
    """
    if level_of_assurance not in ASSURANCE_LEVELS:
        raise ValidationError("level_of_assurance", f"one of {', '.join(ASSURANCE_LEVELS)}", level_of_assurance)
    if not 0 < materiality_pct <= 100:
        raise ValidationError("materiality_pct", "a percentage in (0, 100]", materiality_pct)
    open_findings = [f for f in findings if f.status == "open"]
    misstatement = sum(abs(f.misstatement_tco2e) for f in open_findings)
    threshold = abs(reported_tco2e) * materiality_pct / 100.0
    majors = sum(1 for f in open_findings if f.severity == "major")
    material = sum(
        1
        for f in open_findings
        if f.severity == "major" or (f.misstatement_tco2e and abs(f.misstatement_tco2e) >= threshold)
    )
    if misstatement >= threshold and misstatement > 0:
        verdict = "adverse"
    elif majors:
        verdict = "qualified"
    else:
        verdict = "unmodified"
    return Opinion(
        verdict, level_of_assurance, materiality_pct, threshold, misstatement, majors, reported_tco2e, material
    )


def is_key_emitter(total_tco2e: float, threshold: float = KEY_EMITTER_THRESHOLD_TCO2E) -> bool:
    """Whether annual emissions reach the key-emitter threshold (≥, so 26,000 is in, 25,999 is out).

    Examples
    --------
    >>> is_key_emitter(26_000.0), is_key_emitter(25_999.0)
    (True, False)
    """
    return total_tco2e >= threshold


def key_emitters(totals: Mapping[str, float], threshold: float = KEY_EMITTER_THRESHOLD_TCO2E) -> list[dict[str, Any]]:
    """The key-emitter list: every organisation at or above ``threshold``, largest first."""
    rows = [{"org": org, "total_tco2e": v, "key_emitter": is_key_emitter(v, threshold)} for org, v in totals.items()]
    return sorted((r for r in rows if r["key_emitter"]), key=lambda r: -float(r["total_tco2e"]))


def retain_until(delivered: date, years: int = RETENTION_YEARS) -> date:
    """The last day records must be kept: ``years`` after delivery (29 February → 28 February)."""
    try:
        return delivered.replace(year=delivered.year + years)
    except ValueError:
        return delivered.replace(year=delivered.year + years, day=28)
