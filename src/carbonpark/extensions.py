"""Extension points (SPEC C21, the guide's micro-component library §3.2.2(2)2).

A third party adds an accounting method, a forecaster, a dispatch asset or an ingest
connector by installing a package that declares an entry point in one of the groups
below; carbonpark's own built-ins are registered the same way in its ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from carbonpark.errors import UnknownFactorError

__all__ = ["GROUPS", "available", "load"]

GROUPS: dict[str, str] = {
    "accounting_methods": "carbonpark.accounting_methods",
    "forecasters": "carbonpark.forecasters",
    "dispatch_assets": "carbonpark.dispatch_assets",
    "ingest_connectors": "carbonpark.ingest_connectors",
}


def _group(kind: str) -> str:
    if kind not in GROUPS:
        raise UnknownFactorError(f"unknown extension kind {kind!r}; known: {sorted(GROUPS)}")
    return GROUPS[kind]


def available(kind: str) -> list[str]:
    """Names registered in the entry-point group of ``kind``, sorted."""
    return sorted({ep.name for ep in entry_points(group=_group(kind))})


def load(kind: str, name: str) -> Any:
    """Load the object registered as ``name`` in the group of ``kind``.

    Raises
    ------
    UnknownFactorError
        If nothing is registered under that name; the message lists what is.
    """
    for ep in entry_points(group=_group(kind)):
        if ep.name == name:
            return ep.load()
    raise UnknownFactorError(f"no {kind} named {name!r}; installed: {available(kind)}")
