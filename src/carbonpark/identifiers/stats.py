"""Figures of the evaluation indicators 15–18 (工业互联网标识解析) from identifier counts.

The service counts; this module turns the counts into the figures that
:func:`carbonpark.evaluate.indicators_from_platform` reads (``enterprises_with_identifier_node``,
``identifiers_registered``, ``identifier_active_users``, ``identifier_resolutions``).

References
----------
Guide §5 appendix, indicators 15 节点覆盖率, 16 标识注册量, 17 活跃用户数, 18 标识解析量.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VIRTUAL_KINDS", "IdentifierStatistics"]

#: Type tokens of virtual assets (虚拟资产, guide §3.2.2(2)1) registered next to the registry's entities.
VIRTUAL_KINDS: dict[str, str] = {
    "emission_record": "rec",
    "model": "model",
    "algorithm": "algo",
    "process": "proc",
    "batch": "batch",
}


@dataclass(frozen=True)
class IdentifierStatistics:
    """Identifier counts of one park and year.

    Attributes
    ----------
    year
        Calendar year (park-local).
    enterprises_total, enterprises_with_node
        Enterprises in the park, and those running an enterprise node (a sub-prefix of their own) [-].
    registered
        Identifiers registered in the year [-].
    active_users
        Distinct users who registered, changed or resolved (logged in) identifiers in the year [-].
    resolutions
        Resolutions answered in the year, any outcome [-].
    """

    year: int
    enterprises_total: int
    enterprises_with_node: int
    registered: int
    active_users: int
    resolutions: int

    @property
    def node_coverage_percent(self) -> float | None:
        """Indicator 15 [%]: enterprises with a node / enterprises × 100 (None without enterprises)."""
        if not self.enterprises_total:
            return None
        return self.enterprises_with_node / self.enterprises_total * 100

    def platform_figures(self) -> dict[str, int]:
        """The figures of indicators 15–18 under the names the evaluation engine reads."""
        return {
            "enterprises_total": self.enterprises_total,
            "enterprises_with_identifier_node": self.enterprises_with_node,
            "identifiers_registered": self.registered,
            "identifier_active_users": self.active_users,
            "identifier_resolutions": self.resolutions,
        }
