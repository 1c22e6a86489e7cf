"""Automated cross-checks a verifier runs on an inventory (guide §7.2, data-driven verification).

Each check returns :class:`CheckResult` rows; a failed row becomes a finding. The checks:

* :func:`reported_activity` — the activity data an inventory reports per source, every datum once;
* :func:`activity_vs_meter` — reported activity data against the meters' aggregates;
* :func:`activity_vs_documents` — reported activity data against invoices and weighing records;
* :func:`ncv_batches` — every weighed fuel batch has a lab NCV of the same batch, and no lab batch is
  orphaned (the guide: NCV must be measured on the same batch of fuel that was weighed);
* :func:`year_on_year` — change against last year beyond a tolerance;
* :func:`industry_outliers` — intensity far from the industry peers (robust z-score, median/MAD);
* :func:`energy_balance` — a parent meter against the sum of its children.

References
----------
The guide §7.2 (测量数据对应不一: 低位发热量的测量与燃料的称量针对同一批次燃料); MEE 《企业温室气体排放报告
核查指南（试行）》 (cross-checking activity data against independent sources); Iglewicz & Hoaglin (1993),
*How to Detect and Handle Outliers* (modified z-score, 3.5).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CheckResult",
    "activity_vs_documents",
    "activity_vs_meter",
    "energy_balance",
    "industry_outliers",
    "ncv_batches",
    "reported_activity",
    "year_on_year",
]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checked item: ``ok``, the figures compared and a suggested finding severity if not ok."""

    check: str
    ref: str
    ok: bool
    detail: str
    reported: float | None = None
    reference: float | None = None
    severity: str = "minor"

    @property
    def difference_pct(self) -> float | None:
        """(reported − reference) / reference [%], None without both figures."""
        if self.reported is None or not self.reference:
            return None
        return (self.reported - self.reference) / self.reference * 100.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "check": self.check,
            "ref": self.ref,
            "ok": self.ok,
            "detail": self.detail,
            "reported": self.reported,
            "reference": self.reference,
            "difference_pct": self.difference_pct,
            "severity": None if self.ok else self.severity,
        }


def _relative_check(
    check: str, ref: str, reported: float, reference: float, tolerance_pct: float, what: str
) -> CheckResult:
    diff = abs(reported - reference)
    limit = abs(reference) * tolerance_pct / 100.0
    ok = diff <= limit
    severity = "major" if reference and diff > 4 * limit else "minor"
    detail = f"{what}: reported {reported:.6g}, reference {reference:.6g} (tolerance {tolerance_pct:g} %)"
    return CheckResult(check, ref, ok, detail, reported, reference, severity)


def reported_activity(sources: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Activity data an inventory reports per source [the data's unit]: every period summed, every datum once.

    ``sources`` are the source lines of an inventory's detail, one per datum, gas and period: a
    datum of natural gas gives a CO2, a CH4 and an N2O line carrying the same ``amount``. Lines
    with the datum's ``line`` id count once per datum. Lines without it (versions stored before
    the id was kept) are summed per (source, activity, gas), and the gases of one activity, which
    all carry the datum's amount, counted once (the largest sum). Lines without a finite amount
    are left out.

    Examples
    --------
    Two months of natural gas (two gases each) and one of electricity:

    >>> lines = [
    ...     {"source": "boiler", "activity": "natural_gas", "gas": g, "amount": a, "line": n}
    ...     for n, a in ((1, 10.0), (2, 12.0))
    ...     for g in ("CO2", "CH4")
    ... ] + [{"source": "grid", "activity": "grid_electricity", "gas": "CO2", "amount": 500.0, "line": 3}]
    >>> reported_activity(lines)
    {'boiler': 22.0, 'grid': 500.0}
    >>> reported_activity([{k: v for k, v in x.items() if k != "line"} for x in lines])
    {'boiler': 22.0, 'grid': 500.0}
    """
    per_datum: dict[tuple[str, str, Any], float] = {}
    per_gas: dict[tuple[str, str, str], float] = defaultdict(float)
    for src in sources:
        amount = float(src["amount"])
        if not math.isfinite(amount):
            continue
        line = src.get("line")
        if line is not None:
            per_datum.setdefault((str(src["source"]), str(src["activity"]), line), amount)
        else:
            per_gas[(str(src["source"]), str(src["activity"]), str(src.get("gas", "")))] += amount
    out: dict[str, float] = defaultdict(float)
    for (source, _activity, _line), amount in per_datum.items():
        out[source] += amount
    legacy: dict[tuple[str, str], float] = {}
    for (source, activity, _gas), amount in per_gas.items():
        legacy[(source, activity)] = max(legacy.get((source, activity), amount), amount)
    for (source, _activity), amount in legacy.items():
        out[source] += amount
    return dict(out)


def activity_vs_meter(
    reported: Mapping[str, float], metered: Mapping[str, float], tolerance_pct: float = 2.0
) -> list[CheckResult]:
    """Reported activity per source against the meter aggregate of the same period and unit.

    A source without a meter aggregate is reported as not checkable (``ok`` False, observation).
    """
    out = []
    for ref, value in reported.items():
        if ref not in metered:
            out.append(CheckResult("activity_vs_meter", ref, False, "no meter aggregate", value, None, "observation"))
            continue
        out.append(_relative_check("activity_vs_meter", ref, value, metered[ref], tolerance_pct, "activity vs meter"))
    return out


def activity_vs_documents(
    reported: Mapping[str, float], documented: Mapping[str, float], tolerance_pct: float = 1.0
) -> list[CheckResult]:
    """Reported activity per source against the sum of its supporting documents (invoices, weighing)."""
    out = []
    for ref, value in reported.items():
        if ref not in documented:
            out.append(
                CheckResult("activity_vs_documents", ref, False, "no supporting document", value, None, "observation")
            )
            continue
        out.append(
            _relative_check(
                "activity_vs_documents", ref, value, documented[ref], tolerance_pct, "activity vs documents"
            )
        )
    return out


def ncv_batches(weighing: Iterable[Mapping[str, Any]], lab: Iterable[Mapping[str, Any]]) -> list[CheckResult]:
    """Match weighed fuel batches with lab NCV reports by ``(fuel, batch)``.

    ``weighing`` rows: ``fuel``, ``batch``, ``mass_t``; ``lab`` rows: ``fuel``, ``batch``, ``ncv``.
    A weighed batch without a lab NCV is a minor finding (the default NCV applies); a lab batch
    that was never weighed is a major one (the NCV does not belong to the fuel burnt).
    """
    weighed = {(str(w["fuel"]), str(w["batch"])): float(w.get("mass_t", 0.0)) for w in weighing}
    tested = {(str(x["fuel"]), str(x["batch"])): float(x.get("ncv", 0.0)) for x in lab}
    out = []
    for (fuel, batch), mass in sorted(weighed.items()):
        ok = (fuel, batch) in tested
        detail = f"{fuel} batch {batch}: " + ("lab NCV of the same batch" if ok else "weighed but no lab NCV")
        out.append(CheckResult("ncv_batch", f"{fuel}/{batch}", ok, detail, mass, None, "minor"))
    for fuel, batch in sorted(set(tested) - set(weighed)):
        out.append(
            CheckResult(
                "ncv_batch",
                f"{fuel}/{batch}",
                False,
                f"{fuel} batch {batch}: lab NCV for a batch that was never weighed",
                None,
                tested[fuel, batch],
                "major",
            )
        )
    return out


def year_on_year(
    current: Mapping[str, float], previous: Mapping[str, float], tolerance_pct: float = 20.0
) -> list[CheckResult]:
    """Change of each item against last year beyond ``tolerance_pct`` [%] (needs an explanation)."""
    out = []
    for ref, value in current.items():
        if ref not in previous:
            continue
        result = _relative_check("year_on_year", ref, value, previous[ref], tolerance_pct, "this year vs last year")
        out.append(
            CheckResult(
                result.check,
                result.ref,
                result.ok,
                result.detail,
                result.reported,
                result.reference,
                "observation",
            )
        )
    return out


def industry_outliers(
    intensities: Mapping[str, float], industry_of: Mapping[str, str], threshold: float = 3.5
) -> list[CheckResult]:
    """Modified z-score ``0.6745 (x − median) / MAD`` of each intensity within its industry peers.

    Groups with fewer than three members, or a zero MAD, are not judged (``ok`` True).
    """
    groups: dict[str, list[str]] = {}
    for ref in intensities:
        groups.setdefault(industry_of.get(ref, ""), []).append(ref)
    out: list[CheckResult] = []
    for industry, refs in groups.items():
        values = [intensities[r] for r in refs]
        if len(values) < 3:
            out.extend(
                CheckResult("industry_outlier", r, True, f"fewer than 3 peers in {industry or '?'}", intensities[r])
                for r in refs
            )
            continue
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        for r in refs:
            z = 0.0 if mad == 0 else 0.6745 * (intensities[r] - med) / mad
            ok = abs(z) <= threshold
            detail = f"intensity {intensities[r]:.6g} vs industry {industry} median {med:.6g}: modified z {z:.2f}"
            out.append(CheckResult("industry_outlier", r, ok, detail, intensities[r], med, "observation"))
    return out


def energy_balance(
    parent: Mapping[str, float], children: Mapping[str, Mapping[str, float]], tolerance_pct: float = 5.0
) -> list[CheckResult]:
    """Each parent meter's total against the sum of its child meters' totals.

    The children may sum to less than the parent (losses, unmetered loads) within the tolerance;
    more than the parent beyond it means a meter or mapping error.
    """
    out = []
    for ref, total in parent.items():
        kids = children.get(ref) or {}
        if not kids:
            continue
        out.append(
            _relative_check(
                "energy_balance", ref, sum(kids.values()), total, tolerance_pct, f"sum of {len(kids)} sub-meters"
            )
        )
    return out
