"""Organisational and operational boundaries of an inventory (guide §7.1 step 2).

Organisational boundary: the consolidation approach — ``operational_control``,
``financial_control`` (an entity counts 100 % when controlled, 0 % otherwise) or ``equity_share``
(an entity counts with its share in percent). Operational (reporting) boundary: which ISO
14064-1 categories are included; an excluded category needs a reason, and indirect categories
3-6 are judged against a documented significance criterion.

References
----------
The guide §7.1 step 二 (控制权法或股权比例法, 运营边界三个范畴); ISO 14064-1:2018 clause 5.1
(consolidation approaches), 5.2.3 (significance criteria for indirect emissions) and 9.3.1 items c,
d, h.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonpark.accounting import ISO_CATEGORIES
from carbonpark.errors import ValidationError

__all__ = [
    "APPROACHES",
    "EntityShare",
    "OperationalBoundary",
    "OrganisationalBoundary",
    "significant_categories",
]

#: Consolidation approaches (ISO 14064-1:2018 clause 5.1; GHG Protocol chapter 3).
APPROACHES: dict[str, tuple[str, str]] = {
    "operational_control": ("运营控制权法", "operational control"),
    "financial_control": ("财务控制权法", "financial control"),
    "equity_share": ("股权比例法", "equity share"),
}


@dataclass(frozen=True, slots=True)
class EntityShare:
    """One entity inside the boundary: its ref (handle), equity share [%] and whether it is controlled."""

    entity: str
    share_pct: float = 100.0
    controlled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.share_pct <= 100.0:
            raise ValidationError(f"boundary entity {self.entity}, share_pct", "a percentage 0-100", self.share_pct)


@dataclass(frozen=True)
class OrganisationalBoundary:
    """The consolidation approach and the entities with their shares.

    An entity not listed counts fully (100 %): the park's own sources and an enterprise's own
    installations.
    """

    approach: str = "operational_control"
    entities: tuple[EntityShare, ...] = ()

    def __post_init__(self) -> None:
        if self.approach not in APPROACHES:
            raise ValidationError("boundary approach", f"one of {', '.join(APPROACHES)}", self.approach)

    def factor(self, entity: str) -> float:
        """The fraction [0-1] of ``entity``'s emissions consolidated under this boundary."""
        for e in self.entities:
            if e.entity == entity:
                if self.approach == "equity_share":
                    return e.share_pct / 100.0
                return 1.0 if e.controlled else 0.0
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored with the inventory version)."""
        return {
            "approach": self.approach,
            "entities": [
                {"entity": e.entity, "share_pct": e.share_pct, "controlled": e.controlled} for e in self.entities
            ],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> OrganisationalBoundary:
        """Inverse of :meth:`to_dict`; checks every field."""
        ents = doc.get("entities") or []
        if not isinstance(ents, list):
            raise ValidationError("boundary entities", "a list of {entity, share_pct, controlled}", ents)
        return cls(
            approach=str(doc.get("approach", "operational_control")),
            entities=tuple(
                EntityShare(str(e["entity"]), float(e.get("share_pct", 100.0)), bool(e.get("controlled", True)))
                for e in ents
            ),
        )


@dataclass(frozen=True)
class OperationalBoundary:
    """Categories included, excluded ones with a reason, and the significance criterion.

    ``significance_pct``: an indirect category (3-6) is significant when its estimated emissions
    reach this share of the estimated total [%]; a significant category may only be excluded with
    a reason (ISO 14064-1 clause 5.2.3 asks the organisation to define and document its criteria).
    """

    included: tuple[str, ...] = ("1", "2")
    excluded: Mapping[str, str] = field(default_factory=dict)
    significance_pct: float = 1.0
    criterion: str = (
        "An indirect category is significant when its estimated emissions reach 1 % of the estimated total, "
        "or when data are available at reasonable cost and the enterprise can influence them."
    )

    def __post_init__(self) -> None:
        for cat in (*self.included, *self.excluded):
            if cat not in ISO_CATEGORIES:
                raise ValidationError("operational boundary category", "an ISO 14064-1 category 1-6", cat)
        both = set(self.included) & set(self.excluded)
        if both:
            raise ValidationError("operational boundary", "a category either included or excluded", sorted(both))
        if "1" not in self.included:
            raise ValidationError(
                "operational boundary", "category 1 (direct emissions) always included (ISO 14064-1 5.2.2)", "1"
            )
        for cat, reason in self.excluded.items():
            if not str(reason).strip():
                raise ValidationError(f"exclusion of category {cat}", "a documented reason", reason)
        if not 0.0 <= self.significance_pct <= 100.0:
            raise ValidationError("significance_pct", "a percentage 0-100", self.significance_pct)

    def exclusion_reason(self, category: str) -> str:
        """Why ``category`` is outside the boundary: the stated reason, or that it was not selected."""
        return self.excluded.get(category, "not selected in the operational boundary")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored with the inventory version)."""
        return {
            "included": list(self.included),
            "excluded": dict(self.excluded),
            "significance_pct": self.significance_pct,
            "criterion": self.criterion,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> OperationalBoundary:
        """Inverse of :meth:`to_dict`."""
        base = cls()
        return cls(
            included=tuple(str(c) for c in doc.get("included", base.included)),
            excluded={str(k): str(v) for k, v in (doc.get("excluded") or {}).items()},
            significance_pct=float(doc.get("significance_pct", base.significance_pct)),
            criterion=str(doc.get("criterion", base.criterion)),
        )


def significant_categories(estimates_tco2e: Mapping[str, float], significance_pct: float) -> dict[str, bool]:
    """Which indirect categories (3-6) are significant: estimate ≥ ``significance_pct`` % of the total.

    Categories 1 and 2 are always reported and come out ``True``.

    Examples
    --------
    >>> significant_categories({"1": 900.0, "2": 80.0, "4": 15.0, "6": 5.0}, 1.0)
    {'1': True, '2': True, '3': False, '4': True, '5': False, '6': False}
    """
    total = sum(v for v in estimates_tco2e.values() if v > 0)
    out = {}
    for cat in ISO_CATEGORIES:
        if cat in ("1", "2"):
            out[cat] = True
            continue
        value = float(estimates_tco2e.get(cat, 0.0))
        out[cat] = total > 0 and value > 0 and value / total * 100.0 >= significance_pct
    return out
