"""What changed between two inventory states (continuous verification, issue 8 item 5).

:func:`diff_details` compares two compiled inventories (the stored detail of the last verified
version and the inventory as it is now): totals by category and gas, and each source's activity
amount and emissions. Sources are matched by ``(source, gas, activity)``.

References
----------
The guide §7.2 (动态碳核查: continuous, data-driven verification instead of a 1-1.5 year lag).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["diff_details"]


def _close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _source_key(row: Mapping[str, Any]) -> str:
    return f"{row['source']}|{row['gas']}|{row['activity']}"


def diff_details(before: Mapping[str, Any], after: Mapping[str, Any], rel_tol: float = 1e-9) -> dict[str, Any]:
    """Changes from ``before`` to ``after`` (both :meth:`Compilation.detail` documents).

    Returns
    -------
    dict
        ``changed`` (bool), ``total`` {before, after, difference}, ``by_category`` and ``by_gas``
        rows that differ, ``sources`` rows added, removed or changed (amount or tCO2e), and
        ``boundary_changed``.
    """

    def row(b: float | None, a: float | None) -> dict[str, float | None]:
        diff = None if a is None or b is None else a - b
        return {"before": b, "after": a, "difference": diff}

    cats = sorted(set(before.get("by_category", {})) | set(after.get("by_category", {})))
    by_category = {
        c: row(before["by_category"].get(c), after["by_category"].get(c))
        for c in cats
        if not _close(before["by_category"].get(c), after["by_category"].get(c), rel_tol)
    }
    gases = sorted(set(before.get("by_gas", {})) | set(after.get("by_gas", {})))
    by_gas = {}
    for g in gases:
        b = (before["by_gas"].get(g) or {}).get("tco2e")
        a = (after["by_gas"].get(g) or {}).get("tco2e")
        if not _close(b, a, rel_tol):
            by_gas[g] = row(b, a)
    old = {_source_key(r): r for r in before.get("sources", [])}
    new = {_source_key(r): r for r in after.get("sources", [])}
    sources = []
    for key in sorted(set(old) | set(new)):
        o, n = old.get(key), new.get(key)
        if o is None or n is None:
            sources.append({"source": key, "change": "added" if o is None else "removed", "before": o, "after": n})
            continue
        if not (_close(o["amount"], n["amount"], rel_tol) and _close(o["tco2e"], n["tco2e"], rel_tol)):
            sources.append(
                {
                    "source": key,
                    "change": "changed",
                    "amount": row(o["amount"], n["amount"]),
                    "tco2e": row(o["tco2e"], n["tco2e"]),
                }
            )
    boundary_changed = before.get("boundary") != after.get("boundary") or before.get(
        "operational_boundary"
    ) != after.get("operational_boundary")
    total = row(before.get("total_tco2e"), after.get("total_tco2e"))
    changed = bool(by_category or by_gas or sources or boundary_changed)
    return {
        "changed": changed,
        "total": total,
        "by_category": by_category,
        "by_gas": by_gas,
        "sources": sources,
        "boundary_changed": boundary_changed,
    }
