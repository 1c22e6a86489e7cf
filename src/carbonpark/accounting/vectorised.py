"""The vectorised path: many activity rows with resolved factor rows → tCO2e with lineage (NumPy).

For bulk recomputation (millions of activity rows, e.g. hourly data of a whole park) the
row-by-row engine is too slow. Here the factor rows are resolved once into a small
:class:`FactorTable` (one coefficient per row, already converted to the activity unit and
multiplied by the GWP of the gas the row counts); the rows then carry only an amount and the
index of their factor row, and the result keeps that index as its lineage: each emission
points at the factor row id (and the GWP row id) it was computed with.

``E = AD × EF × GWP`` (the guide §4.2 formula (1)), with ``EF`` in t of gas per unit of AD.

References
----------
The guide §4.2 formula (1); SPEC C6 (lineage on every result).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbonpark.accounting.methods import CO2_PER_C, gas_spelling
from carbonpark.accounting.quantities import parse_rate, rate_in
from carbonpark.errors import ValidationError
from carbonpark.factors import DEFAULT_GWP_SET, FactorLibrary, FactorRow, default_library

__all__ = ["FactorTable", "VectorEmissions", "emissions", "factor_table"]

_CHUNK = 1 << 15


@dataclass(frozen=True)
class FactorTable:
    """Resolved factor rows: ``coefficient[i] = EF_i [t gas/unit] × GWP [tCO2e/t]`` per row ``i``.

    Attributes
    ----------
    factor_ids, gwp_ids
        The factor row id(s) (``+``-joined for fuel parameters) and the GWP row id behind each
        coefficient (the lineage).
    units
        The activity unit each coefficient applies to.
    coefficient
        tCO2e per unit of activity [tCO2e/unit].
    gwp_set
        The GWP set used.
    """

    factor_ids: tuple[str, ...]
    gwp_ids: tuple[str, ...]
    units: tuple[str, ...]
    coefficient: np.ndarray
    gwp_set: str

    def __len__(self) -> int:
        return len(self.factor_ids)


def factor_table(
    rows: Sequence[tuple[FactorRow | Sequence[FactorRow], str]],
    gwp_set: str = DEFAULT_GWP_SET,
    *,
    library: FactorLibrary | None = None,
) -> FactorTable:
    """Resolve ``(factor row, activity unit)`` pairs into a :class:`FactorTable`.

    An entry is either one emission-factor row (its species, ``tCO2/MWh`` → CO2, or its ``gas``
    names the gas whose GWP is applied; a factor in ``tCO2e`` keeps GWP 1), or the three fuel
    rows ``(ncv, carbon_content, oxidation_rate)`` of GB/T 32151 combustion, giving
    ``NCV × CC × OF × 44/12`` tCO2 per unit. The ids of all rows used are the entry's lineage,
    joined with ``+``.

    Raises
    ------
    UnitError
        When a factor cannot be expressed per the given activity unit.
    ValidationError
        For an entry that is neither one factor row nor the three fuel rows.
    """
    lib = library or default_library()
    name = lib.check_gwp_set(gwp_set)
    coefficients, gwp_ids, ids = [], [], []
    for entry, unit in rows:
        if isinstance(entry, FactorRow):
            rate = parse_rate(entry.unit, f"factor {entry.id}")
            species = rate.species if rate.species and rate.species not in ("C", "ce") else (entry.gas or "CO2")
            gas = gas_spelling(species, f"factor {entry.id}")
            ef = rate_in(entry.value, entry.unit, "t", unit, f"factor {entry.id}")
            ids.append(entry.id)
        else:
            parts = {r.parameter: r for r in entry}
            if set(parts) != {"ncv", "carbon_content", "oxidation_rate"}:
                raise ValidationError("fuel entry", "rows ncv, carbon_content, oxidation_rate", sorted(parts))
            ncv = rate_in(parts["ncv"].value, parts["ncv"].unit, "GJ", unit, f"factor {parts['ncv'].id}")
            cc_row = parts["carbon_content"]
            cc = rate_in(cc_row.value, cc_row.unit, "t", "GJ", f"factor {cc_row.id}")
            ef = ncv * cc * parts["oxidation_rate"].value * CO2_PER_C
            gas = "CO2"
            ids.append("+".join(r.id for r in entry))
        if gas == "CO2e":
            gwp, gwp_id = 1.0, ""
        else:
            gwp_row = lib.gwp(name, gas)
            gwp, gwp_id = gwp_row.value, gwp_row.id
        coefficients.append(ef * gwp)
        gwp_ids.append(gwp_id)
    return FactorTable(
        tuple(ids),
        tuple(gwp_ids),
        tuple(u for _, u in rows),
        np.asarray(coefficients, dtype=np.float64),
        name,
    )


@dataclass(frozen=True)
class VectorEmissions:
    """Result of :func:`emissions`: tCO2e per row and, as lineage, the factor-table index per row."""

    tco2e: np.ndarray
    factor_index: np.ndarray
    table: FactorTable

    def factor_id(self, i: int) -> str:
        """The factor row id of result row ``i``."""
        return self.table.factor_ids[int(self.factor_index[i])]

    def gwp_id(self, i: int) -> str:
        """The GWP row id of result row ``i`` ('' for factors already in CO2e)."""
        return self.table.gwp_ids[int(self.factor_index[i])]

    def total(self) -> float:
        """Sum of the rows [tCO2e]."""
        return float(self.tco2e.sum())


def _refuse_amount(amount: np.ndarray, lo: int, hi: int) -> None:
    part = amount[lo:hi]
    bad = np.flatnonzero(~np.isfinite(part) | (part < 0))
    at = lo + int(bad[0]) if len(bad) else lo
    raise ValidationError(f"row {at}, amount", "a finite amount >= 0 (and a finite result)", float(amount[at]))


def emissions(amount: np.ndarray, factor_index: np.ndarray, table: FactorTable) -> VectorEmissions:
    """``tCO2e_i = AD_i × coefficient[factor_index_i]`` for every row, in cache-sized chunks.

    Parameters
    ----------
    amount
        Activity data [unit of the factor row's ``units`` entry], finite and >= 0.
    factor_index
        Index into ``table`` of each row's resolved factor row (integer array).
    table
        The resolved factor rows.

    Raises
    ------
    ValidationError
        Naming the first row with a NaN, infinite or negative amount, or a factor index
        outside the table; nothing is returned then.
    """
    amount = np.ascontiguousarray(amount, dtype=np.float64)
    index = np.ascontiguousarray(factor_index)
    if amount.shape != index.shape or amount.ndim != 1:
        raise ValidationError(
            "vectorised rows", "1-D amount and factor_index of equal length", (amount.shape, index.shape)
        )
    if not np.issubdtype(index.dtype, np.integer):
        raise ValidationError("factor_index", "an integer array", index.dtype)
    n, size = len(amount), len(table)
    out = np.empty(n, dtype=np.float64)
    coefficient = table.coefficient
    gathered = np.empty(min(n, _CHUNK), dtype=np.float64)
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        a, i, buf = amount[lo:hi], index[lo:hi], gathered[: hi - lo]
        # checks on the chunk while it is in cache; np.min propagates NaN, so NaN fails ``>= 0``
        if not a.min() >= 0:
            _refuse_amount(amount, lo, hi)
        if i.min() < 0 or i.max() >= size:
            bad = lo + int(np.flatnonzero((i < 0) | (i >= size))[0])
            raise ValidationError(f"row {bad}, factor_index", f"an index 0..{size - 1}", int(index[bad]))
        np.take(coefficient, i, out=buf, mode="wrap")  # indices checked above; "wrap" avoids a buffered copy
        np.multiply(a, buf, out=out[lo:hi])
    if n and not np.isfinite(out.sum()):  # an infinite amount (or an overflow) shows in the total
        _refuse_amount(amount, 0, n)
    return VectorEmissions(out, index, table)
