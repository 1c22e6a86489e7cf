"""A product footprint inventory report as structured data, in the ISO 14067 layout.

The sections follow what ISO 14067:2018 §7 asks a CFP study report to state: functional or
declared unit, system boundary and the stages in and out of it, data and their sources,
allocation choices, results by stage, the significant contributions (hotspots), and the
lineage of every figure. Rendering (HTML, PDF, zh-CN/English, a Sankey chart) is done by the
reports layer from this structure.

References
----------
ISO 14067:2018 §6.3, §6.4.6, §7; guide §2.2 (生成 LCA 报告: 提供产品生命周期能耗、二氧化碳排放等清单结果).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from carbonpark.errors import NotFoundError
from carbonpark.footprint.engine import ProductFootprint, trace
from carbonpark.footprint.model import STAGES

__all__ = ["inventory_report"]


def _supply_chain(footprints: dict[str, ProductFootprint], product_id: str) -> list[str]:
    seen: list[str] = []
    pending = [product_id]
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.append(pid)
        pending.extend(t.ref for t in footprints[pid].contributions if t.kind == "input")
    return seen


def inventory_report(footprints: dict[str, ProductFootprint], product_id: str, *, hotspots: int = 10) -> dict[str, Any]:
    """The inventory of one product as plain data (JSON-ready).

    Parameters
    ----------
    footprints
        Result of :func:`~carbonpark.footprint.engine.compute_footprints`.
    product_id
        The product reported on.
    hotspots
        How many of the largest leaf contributions to list.

    Returns
    -------
    dict
        ``functional_unit``, ``system_boundary``, ``results`` (total, by stage, by input),
        ``hotspots`` (leaf terms through the supply chain with their share), ``allocation``,
        ``data_sources`` and ``lineage``.

    References
    ----------
    ISO 14067:2018 §7 (CFP study report).
    """
    if product_id not in footprints:
        raise NotFoundError("product", product_id)
    fp = footprints[product_id]
    chain = _supply_chain(footprints, product_id)
    leaves = trace(footprints, product_id)
    total = fp.tco2e_per_unit
    ranked = sorted(leaves, key=lambda leaf: -abs(leaf.tco2e))[:hotspots]
    given = [footprints[pid] for pid in chain if footprints[pid].given]
    given_total = sum(leaf.tco2e for leaf in leaves if leaf.kind == "given")
    sources: list[dict[str, Any]] = []
    for pid in chain:
        for term in footprints[pid].contributions:
            if term.kind in ("given", "energy", "transport"):
                sources.append(
                    {
                        "product": pid,
                        "kind": term.kind,
                        "ref": term.ref,
                        "factor": term.factor,
                        "factor_unit": term.factor_unit,
                        "source": term.source or "not stated",
                    }
                )
    included = list(fp.by_stage)
    return {
        "standard": "ISO 14067:2018 (report layout)",
        "product": fp.product,
        "functional_unit": f"1 {fp.unit} of {fp.product}",
        "system_boundary": {
            "boundary": fp.boundary,
            "stages_included": included,
            "stages_excluded": [s for s in STAGES if s not in included] + ["end_of_life"],
        },
        "results": {
            "tco2e_per_unit": total,
            "cradle_to_gate_tco2e_per_unit": fp.cradle_to_gate_tco2e_per_unit,
            "by_stage": fp.by_stage,
            "by_input": fp.by_input,
        },
        "hotspots": [
            {
                "path": list(leaf.path),
                "stage": leaf.stage,
                "origin_stage": leaf.origin_stage,
                "kind": leaf.kind,
                "ref": leaf.ref,
                "tco2e_per_unit": leaf.tco2e,
                "share": leaf.tco2e / total if total else None,
                "source": leaf.source,
            }
            for leaf in ranked
        ],
        "allocation": [
            {"product": pid, **asdict(alloc)} for pid in chain if (alloc := footprints[pid].allocation) is not None
        ],
        "data_sources": sources,
        "data_quality": {
            "products_in_supply_chain": len(chain),
            "given_footprints": [g.product for g in given],
            "share_from_given_footprints": given_total / total if total else None,
        },
        "lineage": {pid: [asdict(t) for t in footprints[pid].contributions] for pid in chain},
    }
