"""Base year and its recalculation policy (guide §7.1 step 三).

The base-year inventory is kept as it was reported. When the boundary (structural change:
acquisition, divestment, a changed share) or a quantification method changes, the base year is
compiled again under the new conditions; if the change reaches the policy's significance
threshold the base year is recalculated, and the report shows both figures side by side.

References
----------
The guide §7.1 step 三 (选择并设定基准年 … 设定基准年的再计算程序); ISO 14064-1:2018 clause 6.4.1-6.4.2
(base year, recalculation) and 9.3.1 items j-k; GHG Protocol Corporate Standard chapter 5
(a significance threshold, commonly 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carbonpark.accounting import ISO_CATEGORIES
from carbonpark.errors import ValidationError
from carbonpark.inventory.compile import Compilation

__all__ = ["TRIGGERS", "Recalculation", "RecalculationPolicy", "recalculate"]

#: What may trigger a recalculation.
TRIGGERS: dict[str, str] = {
    "structural": "structural change (boundary, ownership or control, share)",
    "method": "change of quantification method or factors",
    "error": "discovery of significant errors",
}


@dataclass(frozen=True)
class RecalculationPolicy:
    """Base year and the threshold [%] of the base-year total above which it is recalculated."""

    base_year: int
    threshold_pct: float = 5.0
    triggers: tuple[str, ...] = ("structural", "method", "error")

    def __post_init__(self) -> None:
        if not 1990 <= self.base_year <= 2100:
            raise ValidationError("base_year", "a year 1990-2100", self.base_year)
        if not 0 < self.threshold_pct <= 100:
            raise ValidationError("threshold_pct", "a percentage in (0, 100]", self.threshold_pct)
        bad = [t for t in self.triggers if t not in TRIGGERS]
        if bad:
            raise ValidationError("triggers", f"some of {', '.join(TRIGGERS)}", bad)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"base_year": self.base_year, "threshold_pct": self.threshold_pct, "triggers": list(self.triggers)}


@dataclass(frozen=True)
class Recalculation:
    """The base year as reported and as compiled again, side by side [tCO2e]."""

    policy: RecalculationPolicy
    trigger: str
    original_tco2e: float
    recalculated_tco2e: float
    change_pct: float
    triggered: bool
    side_by_side: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for reports and the JSON output."""
        return {
            "policy": self.policy.to_dict(),
            "trigger": self.trigger,
            "original_tco2e": self.original_tco2e,
            "recalculated_tco2e": self.recalculated_tco2e,
            "change_pct": self.change_pct,
            "triggered": self.triggered,
            "side_by_side": list(self.side_by_side),
        }


def recalculate(
    policy: RecalculationPolicy, original: Compilation, recalculated: Compilation, trigger: str = "structural"
) -> Recalculation:
    """Compare the base year as reported with the base year under the new conditions.

    ``triggered`` when ``|recalculated − original| / original ≥ threshold`` (and the trigger is
    one the policy names). The side-by-side rows are per ISO category plus the total.

    Raises
    ------
    ValidationError
        If the two compilations are not of the base year, or the trigger is unknown.
    """
    if trigger not in TRIGGERS:
        raise ValidationError("trigger", f"one of {', '.join(TRIGGERS)}", trigger)
    for comp in (original, recalculated):
        if comp.year != policy.base_year:
            raise ValidationError("recalculation", f"compilations of the base year {policy.base_year}", comp.year)
    before, after = original.total_tco2e, recalculated.total_tco2e
    change = (after - before) / before * 100.0 if before else (0.0 if after == 0 else float("inf"))
    rows = [
        {
            "category": cat,
            "original_tco2e": original.by_category[cat],
            "recalculated_tco2e": recalculated.by_category[cat],
            "difference_tco2e": recalculated.by_category[cat] - original.by_category[cat],
        }
        for cat in ISO_CATEGORIES
    ]
    rows.append(
        {"category": "total", "original_tco2e": before, "recalculated_tco2e": after, "difference_tco2e": after - before}
    )
    triggered = trigger in policy.triggers and abs(change) >= policy.threshold_pct
    return Recalculation(policy, trigger, before, after, change, triggered, tuple(rows))
