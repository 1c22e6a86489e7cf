"""Reconciliation of the park registry against a national-registry statement.

The national registry (全国碳排放权注册登记系统) is the record of title: the park
registry mirrors each enterprise's national holdings. A statement lists holdings per
account and asset (allowances by vintage, CCER); :func:`reconcile` lists where the park
registry differs, and :func:`align_to_statement` books the movements that bring the park
mirror in line (from or to the outside world, reason ``registry_statement``).

Park holdings are compared as available + reserved: the national registry knows nothing
of orders resting in the park market.

References
----------
Guide §7.3(3): 全国碳排放权注册登记系统记录的信息是判断碳排放配额归属的最终依据.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from carbonpark.errors import ValidationError
from carbonpark.trading.assets import ALLOWANCE, CCER, Asset, parse_asset, to_tonnes
from carbonpark.trading.registry import Movement, Registry

__all__ = [
    "HoldingDifference",
    "Statement",
    "align_to_statement",
    "parse_statement",
    "reconcile",
]

Statement = dict[str, dict[Asset, int]]
"""Holdings per holder and asset [t], as the national registry states them."""

RECONCILED_KINDS = (ALLOWANCE, CCER)


@dataclass(frozen=True, slots=True)
class HoldingDifference:
    """One holder's asset where the park mirror and the national statement differ.

    Attributes
    ----------
    holder, asset
        Which account.
    park_t, national_t
        Holdings in the park registry and in the statement [t].
    """

    holder: str
    asset: Asset
    park_t: int
    national_t: int

    @property
    def difference_t(self) -> int:
        """Park minus national [t]: positive when the park shows more than the title."""
        return self.park_t - self.national_t

    def as_dict(self) -> dict[str, object]:
        """Plain form for JSON."""
        return {
            "holder": self.holder,
            "asset": self.asset.code,
            "park_t": self.park_t,
            "national_t": self.national_t,
            "difference_t": self.difference_t,
        }


def parse_statement(doc: Mapping[str, object]) -> Statement:
    """Read ``{holder: {"allowance:2024": 100, "ccer": 5}}`` into a :data:`Statement`."""
    if not isinstance(doc, Mapping):
        raise ValidationError("statement", "a mapping of holder to holdings", doc)
    result: Statement = {}
    for holder, holdings in doc.items():
        if not isinstance(holdings, Mapping):
            raise ValidationError(f"statement.{holder}", "a mapping of asset to tonnes", holdings)
        parsed: dict[Asset, int] = {}
        for code, amount in holdings.items():
            asset = parse_asset(str(code))
            if asset.kind not in RECONCILED_KINDS:
                raise ValidationError(f"statement.{holder}.{code}", "an allowance or CCER holding", code)
            parsed[asset] = to_tonnes(amount, f"statement.{holder}.{code}")
        result[str(holder)] = parsed
    return result


def reconcile(
    registry: Registry, statement: Statement, holders: Iterable[str] | None = None
) -> list[HoldingDifference]:
    """Differences between the park registry and a national statement, sorted by holder and asset.

    Parameters
    ----------
    registry
        The park registry.
    statement
        National holdings per holder and asset.
    holders
        Holders to compare; by default every enterprise in either.
    """
    names = sorted(set(holders)) if holders is not None else sorted(set(registry.holders()) | set(statement))
    differences: list[HoldingDifference] = []
    for holder in names:
        park = {a: int(v) for a, v in registry.holdings(holder).items() if a.kind in RECONCILED_KINDS}
        national = statement.get(holder, {})
        for asset in sorted(set(park) | set(national)):
            park_t, national_t = park.get(asset, 0), national.get(asset, 0)
            if park_t != national_t:
                differences.append(HoldingDifference(holder, asset, park_t, national_t))
    return differences


def align_to_statement(
    registry: Registry, differences: Iterable[HoldingDifference], ref: str | None = None
) -> list[Movement]:
    """Book the movements that make the park mirror equal the statement, atomically.

    A holder with more in the park than in the title gives the difference back to the
    outside world; one with less receives it. Reserved tonnes are not touched, so a
    reduction larger than the available balance raises
    :class:`~carbonpark.errors.IntegrityError` (cancel the orders first).
    """
    moves: list[Movement] = []
    with registry.atomic():
        for diff in differences:
            if diff.difference_t > 0:
                moves.append(registry.withdraw(diff.holder, diff.asset, diff.difference_t, "registry_statement", ref))
            elif diff.difference_t < 0:
                moves.append(registry.issue(diff.holder, diff.asset, -diff.difference_t, "registry_statement", ref))
    return moves
