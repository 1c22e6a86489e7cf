"""The enterprise's rules: its industry guideline and its monitoring plan (数据质量控制计划).

Each enterprise reports under one MEE/NDRC industry guideline (``data/mee-industry-guidelines.csv``),
chosen by default from its GB/T 4754 industry code. It keeps a versioned monitoring plan: per source
and parameter, the method, the meter, the frequency, the laboratory, the responsible person and the
fallback default. Verifiers check the data against the plan in force for the year.

References
----------
The guide §7.2; MEE notice of February 2023 (data-quality control plan, monthly 信息化存证;
REFERENCE_DATA §5a); 《碳排放权交易管理暂行条例》 (2024): key emitters prepare and follow a data-quality
control plan.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from carbonpark.errors import ValidationError

__all__ = [
    "FREQUENCIES",
    "PLAN_PARAMETERS",
    "Guideline",
    "PlanEntry",
    "check_plan",
    "default_guideline",
    "guidelines",
    "plan_gaps",
]

FREQUENCIES = ("continuous", "per_batch", "daily", "monthly", "quarterly", "yearly")
PLAN_PARAMETERS = ("activity", "ncv", "carbon_content", "oxidation_rate", "emission_factor", "output")


@dataclass(frozen=True, slots=True)
class Guideline:
    """One industry guideline: key, names, the document, default GB/T 4754 codes and source types."""

    key: str
    name_zh: str
    name_en: str
    document: str
    divisions: tuple[str, ...]
    source_types: tuple[str, ...]


@lru_cache(maxsize=1)
def guidelines() -> dict[str, Guideline]:
    """The packaged guidelines by key."""
    text = files("carbonpark.inventory").joinpath("data/mee-industry-guidelines.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {
        r["key"]: Guideline(
            r["key"],
            r["name_zh"],
            r["name_en"],
            r["document"],
            tuple(d for d in r["divisions"].split(";") if d),
            tuple(s for s in r["source_types"].split(";") if s),
        )
        for r in rows
    }


def default_guideline(industry_code: str) -> Guideline:
    """The guideline whose GB/T 4754 code is the longest prefix of ``industry_code``; else ``other``.

    Examples
    --------
    >>> default_guideline("C2661").key, default_guideline("C3011").key, default_guideline("I6450").key
    ('chemicals', 'cement', 'other')
    """
    code = industry_code.strip().upper()
    best, length = guidelines()["other"], 0
    for g in guidelines().values():
        for prefix in g.divisions:
            if code.startswith(prefix) and len(prefix) > length:
                best, length = g, len(prefix)
    return best


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One line of the monitoring plan (per source and parameter)."""

    source: str
    parameter: str
    method: str
    frequency: str
    responsible: str
    meter: str = ""
    laboratory: str = ""
    fallback_default: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain data."""
        return {
            "source": self.source,
            "parameter": self.parameter,
            "method": self.method,
            "frequency": self.frequency,
            "responsible": self.responsible,
            "meter": self.meter,
            "laboratory": self.laboratory,
            "fallback_default": self.fallback_default,
        }


def check_plan(entries: Iterable[Mapping[str, Any]]) -> list[PlanEntry]:
    """Parse and check plan entries; every measured parameter needs a meter or a laboratory.

    Raises
    ------
    ValidationError
        Naming the entry (1-based) and field of the first problem.
    """
    out: list[PlanEntry] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(entries, start=1):
        where = f"plan entry {i}"
        for key in ("source", "parameter", "method", "frequency", "responsible"):
            if not str(raw.get(key, "")).strip():
                raise ValidationError(f"{where}, {key}", "a value", raw.get(key, ""))
        entry = PlanEntry(**{k: str(raw.get(k, "")).strip() for k in PlanEntry.__slots__})
        if entry.parameter not in PLAN_PARAMETERS:
            raise ValidationError(f"{where}, parameter", f"one of {', '.join(PLAN_PARAMETERS)}", entry.parameter)
        if entry.frequency not in FREQUENCIES:
            raise ValidationError(f"{where}, frequency", f"one of {', '.join(FREQUENCIES)}", entry.frequency)
        if entry.method == "measured" and not (entry.meter or entry.laboratory):
            raise ValidationError(f"{where}, meter", "a meter or a laboratory for a measured parameter", "")
        if entry.method == "default" and entry.fallback_default:
            pass
        if (entry.source, entry.parameter) in seen:
            raise ValidationError(where, "one entry per source and parameter", (entry.source, entry.parameter))
        seen.add((entry.source, entry.parameter))
        out.append(entry)
    return out


def plan_gaps(plan: Sequence[PlanEntry], sources: Iterable[str]) -> list[str]:
    """Sources that have no ``activity`` entry in the plan (a verifier's first check)."""
    covered = {e.source for e in plan if e.parameter == "activity"}
    return sorted(set(sources) - covered)
