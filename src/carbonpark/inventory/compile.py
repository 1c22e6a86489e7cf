"""Inventory compilation (guide §7.1 step 六): boundary-consolidated totals from accounting rows.

:func:`compile_inventory` takes the accounting engine's :class:`~carbonpark.accounting.Inventory`
(rows with lineage), applies the organisational boundary (each row weighted by its entity's
share) and the operational boundary (rows of excluded categories are kept apart, with reasons),
and returns a :class:`Compilation`: direct emissions by gas, removals, energy indirect emissions,
other indirect emissions by category, and biogenic CO2 apart. Its :meth:`Compilation.document`
is the ``inventory build --json`` contract; its categories add up to ``total_tco2e``.

References
----------
The guide §7.1 steps 五-六; ISO 14064-1:2018 clauses 5.2.4 (categories) and 9.3.1 e-i.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonpark.accounting import ISO_CATEGORIES, ActivityRecord, Inventory
from carbonpark.inventory.boundary import OperationalBoundary, OrganisationalBoundary
from carbonpark.inventory.uncertainty import (
    Input,
    Term,
    UncertaintyResult,
    activity_uncertainty,
    factor_uncertainty,
)

__all__ = ["GASES", "Compilation", "DatumQuality", "SourceLine", "compile_inventory", "gas_group"]

#: The seven gases (groups) of the Kyoto basket plus NF3 (guide §7.1 step 四; ISO 14064-1 9.3.1 e).
GASES: tuple[str, ...] = ("CO2", "CH4", "N2O", "HFCs", "PFCs", "SF6", "NF3")
_PFC = ("CF4", "C2F6", "C3F8", "C4F10", "C-C4F8", "C5F12", "C6F14", "PFC")


def gas_group(gas: str) -> str:
    """The reporting group of a species: ``HFC-134a`` → ``HFCs``, ``CF4`` → ``PFCs``; others as they are."""
    g = gas.strip()
    if g.upper().startswith("HFC"):
        return "HFCs"
    if g.upper() in _PFC or g.upper().startswith("PFC"):
        return "PFCs"
    return g


@dataclass(frozen=True, slots=True)
class DatumQuality:
    """How an activity datum was obtained: ``metered`` (meter accuracy class), ``document`` or ``estimated``."""

    basis: str = "metered"
    accuracy_class: str = ""
    meter: str = ""


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One source's consolidated figures (one row of the report's source table).

    ``line`` is the id of the activity datum it comes from (one datum gives a line per gas and
    period), so that activity amounts are summed once per datum; None when not known.
    """

    source: str
    entity: str
    activity: str
    gas: str
    category: str
    kind: str
    amount: float
    unit: str
    method: str
    share: float
    tco2e: float
    factors: tuple[str, ...]
    included: bool
    line: int | None = None


@dataclass(frozen=True)
class Compilation:
    """A compiled inventory of one organisation and year [tCO2e unless stated]."""

    org: str
    year: int
    boundary: OrganisationalBoundary
    operational: OperationalBoundary
    factor_set: str
    gwp_set: str
    total_tco2e: float
    by_category: dict[str, float]
    by_gas: dict[str, dict[str, float]]
    direct_by_gas: dict[str, float]
    removals_tco2e: float
    biogenic_co2_t: float
    excluded_tco2e: dict[str, float]
    sources: tuple[SourceLine, ...]
    energy_tce: float
    terms: tuple[Term, ...] = ()
    by_month: dict[str, float] = field(default_factory=dict)
    factors: tuple[dict[str, Any], ...] = ()

    @property
    def energy_indirect_tco2e(self) -> float:
        """Category 2 [tCO2e]."""
        return self.by_category["2"]

    @property
    def other_indirect_tco2e(self) -> dict[str, float]:
        """Categories 3-6 [tCO2e]."""
        return {c: self.by_category[c] for c in ("3", "4", "5", "6")}

    def document(self, uncertainty: UncertaintyResult | None) -> dict[str, Any]:
        """The ``inventory build --json`` document (exact keys of issue 8)."""
        unc: dict[str, Any] = {"lower_tco2e": None, "upper_tco2e": None, "confidence": 0.95}
        if uncertainty is not None:
            unc = {
                "lower_tco2e": uncertainty.total.lower,
                "upper_tco2e": uncertainty.total.upper,
                "confidence": uncertainty.confidence,
            }
        return {
            "org": self.org,
            "year": self.year,
            "total_tco2e": self.total_tco2e,
            "by_category": dict(self.by_category),
            "by_gas": {g: dict(v) for g, v in self.by_gas.items()},
            "removals_tco2e": self.removals_tco2e,
            "biogenic_co2_t": self.biogenic_co2_t,
            "uncertainty": unc,
        }

    def detail(self) -> dict[str, Any]:
        """Everything the report and a stored version need, as plain data."""
        return {
            "org": self.org,
            "year": self.year,
            "boundary": self.boundary.to_dict(),
            "operational_boundary": self.operational.to_dict(),
            "factor_set": self.factor_set,
            "gwp_set": self.gwp_set,
            "total_tco2e": self.total_tco2e,
            "by_category": dict(self.by_category),
            "by_gas": {g: dict(v) for g, v in self.by_gas.items()},
            "direct_by_gas": dict(self.direct_by_gas),
            "removals_tco2e": self.removals_tco2e,
            "biogenic_co2_t": self.biogenic_co2_t,
            "excluded_tco2e": dict(self.excluded_tco2e),
            "energy_tce": self.energy_tce,
            "by_month": dict(self.by_month),
            "factors": list(self.factors),
            "sources": [
                {
                    "source": s.source,
                    "entity": s.entity,
                    "activity": s.activity,
                    "gas": s.gas,
                    "category": s.category,
                    "kind": s.kind,
                    "amount": s.amount,
                    "unit": s.unit,
                    "method": s.method,
                    "share": s.share,
                    "tco2e": s.tco2e,
                    "factors": list(s.factors),
                    "included": s.included,
                    "line": s.line,
                }
                for s in self.sources
            ],
        }


def _entity(enterprise: str) -> str:
    return enterprise or "park"


def compile_inventory(
    inventory: Inventory,
    records: Sequence[ActivityRecord],
    *,
    org: str,
    year: int,
    boundary: OrganisationalBoundary | None = None,
    operational: OperationalBoundary | None = None,
    quality: Mapping[int, DatumQuality] | None = None,
    by_month: Mapping[str, float] | None = None,
) -> Compilation:
    """Consolidate accounting rows under the boundaries.

    Parameters
    ----------
    inventory
        The accounting engine's result for ``records``.
    records
        The activity records (for amount and unit of each source line).
    quality
        Per record line, how the datum was obtained (default: metered of class 2, the loosest usual class).
    by_month
        Monthly totals [tCO2e] (``YYYY-MM`` → value), carried into the report's chart.

    Returns
    -------
    Compilation
        ``by_category`` sums to ``total_tco2e``; removals (≤ 0) and biogenic CO2 [t] apart.
    """
    org_b = boundary or OrganisationalBoundary()
    op_b = operational or OperationalBoundary()
    quality = quality or {}
    by_line = {r.line: r for r in records}
    by_category = dict.fromkeys(ISO_CATEGORIES, 0.0)
    excluded = dict.fromkeys(ISO_CATEGORIES, 0.0)
    by_gas: dict[str, dict[str, float]] = {}
    direct = dict.fromkeys(GASES, 0.0)
    removals = biogenic = 0.0
    sources: list[SourceLine] = []
    terms: list[Term] = []
    factors: dict[str, dict[str, Any]] = {}
    for row in inventory.rows:
        a = row.amount
        share = org_b.factor(_entity(a.enterprise))
        tco2e = row.tco2e * share
        included = a.category in op_b.included
        record = by_line.get(a.line)
        for f in row.factor_rows:
            factors.setdefault(
                f.id,
                {"id": f.id, "value": f.value, "unit": f.unit, "source": f.source_document, "clause": f.table_clause},
            )
        sources.append(
            SourceLine(
                source=a.source,
                entity=_entity(a.enterprise),
                activity=a.activity,
                gas=a.gas,
                category=a.category,
                kind=a.kind,
                amount=(record.amount if record else float("nan")),
                unit=(record.unit if record else ""),
                method=a.method,
                share=share,
                tco2e=tco2e,
                factors=tuple(f.id for f in row.factor_rows),
                included=included,
                line=a.line,
            )
        )
        if a.kind == "removal":
            removals += tco2e if included else 0.0
            continue
        if a.kind == "biogenic":
            biogenic += a.mass_t * share
            continue
        if not included:
            excluded[a.category] += tco2e
            continue
        by_category[a.category] += tco2e
        gas = by_gas.setdefault(a.gas, {"mass_t": 0.0, "tco2e": 0.0})
        gas["mass_t"] += a.mass_t * share
        gas["tco2e"] += tco2e
        if a.category == "1":
            group = gas_group(a.gas)
            direct[group] = direct.get(group, 0.0) + tco2e
        lines = a.lines or (a.line,)
        inputs: list[Input] = []
        for line in lines:
            q = quality.get(line, DatumQuality("metered", "2"))
            ud = activity_uncertainty(q.basis, q.accuracy_class if q.basis == "metered" else None)
            inputs.append(Input(f"activity:{line}", ud.u95, ud.source))
        for f in a.factors:
            origin = getattr(f, "origin", "library")
            fu = factor_uncertainty(f.parameter, f.subject, origin)
            key = f"factor:{f.id}" if origin != "measured" else f"factor:{f.id}:line{a.line}"
            inputs.append(Input(key, fu.u95, fu.source))
        terms.append(Term(f"{a.source}:{a.line}:{a.gas}", a.category, tco2e, tuple(inputs)))
    return Compilation(
        org=org,
        year=year,
        boundary=org_b,
        operational=op_b,
        factor_set=inventory.factor_set,
        gwp_set=inventory.gwp_set,
        total_tco2e=sum(by_category.values()),
        by_category=by_category,
        by_gas=by_gas,
        direct_by_gas=direct,
        removals_tco2e=removals,
        biogenic_co2_t=biogenic,
        excluded_tco2e={c: v for c, v in excluded.items() if v},
        sources=tuple(sources),
        energy_tce=inventory.energy_tce,
        terms=tuple(terms),
        by_month=dict(by_month or {}),
        factors=tuple(factors.values()),
    )


def sum_by(values: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Sum ``(key, value)`` pairs by key (helper for monthly series)."""
    out: dict[str, float] = defaultdict(float)
    for key, value in values:
        out[key] += value
    return dict(out)
