"""Uncertainty of an inventory: IPCC Approach 1 (error propagation) and Approach 2 (Monte Carlo).

Every emission term is ``value = AD × F1 × F2 × …`` [tCO2e]. Each input carries a 95 %
relative uncertainty ``u`` (half-width of the 95 % interval over the value, IPCC's convention):
the activity datum from its meter's accuracy class, a document or an estimate flag; each factor
from :func:`factor_uncertainty` (IPCC 2006 defaults in ``data/ipcc-2006-uncertainty-defaults.csv``).
An input that several terms share (the same factor row, e.g. the grid factor) is one random
variable: its errors are perfectly correlated across those terms.

Approach 1 is first-order propagation: with relative standard deviation ``s = u / 1.96``,
``Var(T) = Σ_inputs (Σ_{terms using it} value)² s²``. With no shared inputs this is exactly
IPCC equations 3.1 (products: ``U = √ΣU_i²``) and 3.2 (sums: ``U = √Σ(U_i x_i)² / |Σx_i|``).
Approach 2 draws every input (normal with mean 1; lognormal with mean 1 when ``u`` > 30 %, as
IPCC advises for large, positive quantities) and reports the 2.5th and 97.5th percentiles.

References
----------
2006 IPCC Guidelines, Vol. 1 Ch. 3 (Uncertainties): §3.2.3.1 Approach 1 (eq. 3.1, 3.2),
§3.2.3.2 Approach 2 (Monte Carlo); Vol. 2 Ch. 1 Tables 1.2-1.3 (default ranges).
The guide §7.1 step 七 (数据与信息品质管理: 进行不确定性评估).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "Input",
    "Interval",
    "Term",
    "UncertaintyDefault",
    "UncertaintyResult",
    "activity_uncertainty",
    "approach1",
    "approach2",
    "defaults",
    "factor_uncertainty",
]

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
_LOGNORMAL_ABOVE = 0.30


@dataclass(frozen=True, slots=True)
class UncertaintyDefault:
    """One row of the defaults file: 95 % relative uncertainty [fraction] and its source."""

    parameter: str
    subject: str
    u95: float
    source: str
    grade: str


@lru_cache(maxsize=1)
def defaults() -> dict[tuple[str, str], UncertaintyDefault]:
    """The packaged defaults keyed ``(parameter, subject)``; ``subject`` ``*`` is the fallback."""
    text = files("carbonpark.inventory").joinpath("data/ipcc-2006-uncertainty-defaults.csv").read_text("utf-8")
    out: dict[tuple[str, str], UncertaintyDefault] = {}
    for row in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        if row["u95_pct"]:
            u = float(row["u95_pct"]) / 100.0
        elif row["default"]:
            u = (float(row["upper"]) - float(row["lower"])) / 2.0 / float(row["default"])
        else:
            u = math.nan  # given per datum (meter class)
        out[row["parameter"], row["subject"]] = UncertaintyDefault(
            row["parameter"], row["subject"], u, row["source"], row["grade"]
        )
    return out


def factor_uncertainty(parameter: str, subject: str, origin: str = "library") -> UncertaintyDefault:
    """The 95 % relative uncertainty of a factor row; a measured value uses the ``measured`` row.

    Examples
    --------
    >>> round(factor_uncertainty("carbon_content", "natural_gas").u95, 5)  # (15.9 - 14.8) / 2 / 15.3
    0.03595
    """
    table = defaults()
    if origin == "measured":
        return table["measured", "*"]
    hit = table.get((parameter, subject)) or table.get((parameter, "*"))
    if hit is None:
        return table["emission_factor", "*"]
    return hit


def activity_uncertainty(basis: str, accuracy_class: str | float | None = None) -> UncertaintyDefault:
    """The 95 % relative uncertainty of an activity datum.

    Parameters
    ----------
    basis
        ``metered`` (give ``accuracy_class``: ``0.5S``, ``1.0``, ``2`` … [% max. permissible error]),
        ``document`` or ``estimated``.

    Raises
    ------
    ValidationError
        For an unknown basis or an accuracy class that is not a number (an optional ``S`` suffix allowed).
    """
    table = defaults()
    if basis not in ("metered", "document", "estimated"):
        raise ValidationError("activity basis", "metered, document or estimated", basis)
    row = table["activity", basis]
    if basis != "metered":
        return row
    text = str(accuracy_class if accuracy_class is not None else "").strip().upper().rstrip("S")
    try:
        pct = float(text)
    except ValueError as exc:
        raise ValidationError("meter accuracy_class", "a class such as 0.2S, 0.5S, 1.0 or 2", accuracy_class) from exc
    if not 0 < pct <= 10:
        raise ValidationError("meter accuracy_class", "a class between 0 and 10 %", accuracy_class)
    return UncertaintyDefault("activity", "metered", pct / 100.0, f"meter accuracy class {accuracy_class}", "A")


@dataclass(frozen=True, slots=True)
class Input:
    """An uncertain input: ``key`` identifies it (shared key = the same random variable)."""

    key: str
    u95: float
    source: str = ""

    def __post_init__(self) -> None:
        if not (self.u95 >= 0 and math.isfinite(self.u95)):
            raise ValidationError(f"uncertainty of {self.key}", "a finite fraction >= 0", self.u95)


@dataclass(frozen=True, slots=True)
class Term:
    """One emission term [tCO2e] in a category, the product of its inputs."""

    key: str
    category: str
    value: float
    inputs: tuple[Input, ...]


@dataclass(frozen=True, slots=True)
class Interval:
    """A central value and its 95 % interval [tCO2e]; ``u95_pct`` = half-width / value [%]."""

    value: float
    lower: float
    upper: float

    @property
    def u95_pct(self) -> float:
        """Half-width of the interval relative to the value [%] (NaN for a zero value)."""
        return (self.upper - self.lower) / 2.0 / abs(self.value) * 100.0 if self.value else math.nan

    def to_dict(self) -> dict[str, float | None]:
        """``{"value", "lower", "upper", "u95_pct"}`` (``u95_pct`` None for a zero value: JSON has no NaN)."""
        u = self.u95_pct
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "u95_pct": None if math.isnan(u) else u}


@dataclass(frozen=True)
class UncertaintyResult:
    """Intervals per category and for the total; ``method`` is ``approach1`` or ``approach2``."""

    method: str
    total: Interval
    by_category: dict[str, Interval]
    confidence: float = 0.95
    draws: int = 0


def _check(terms: Sequence[Term]) -> None:
    for term in terms:
        seen: dict[str, float] = {}
        for inp in term.inputs:
            if inp.key in seen:
                raise ValidationError(f"term {term.key}", "each input at most once", inp.key)
            seen[inp.key] = inp.u95
    u_of: dict[str, float] = {}
    for term in terms:
        for inp in term.inputs:
            if u_of.setdefault(inp.key, inp.u95) != inp.u95:
                raise ValidationError(f"input {inp.key}", "one uncertainty for a shared input", inp.u95)


def _variance(terms: Iterable[Term]) -> tuple[float, float]:
    weight: dict[str, float] = {}
    s_of: dict[str, float] = {}
    total = 0.0
    for term in terms:
        total += term.value
        for inp in term.inputs:
            weight[inp.key] = weight.get(inp.key, 0.0) + term.value
            s_of[inp.key] = inp.u95 / Z95
    return total, sum((weight[k] * s_of[k]) ** 2 for k in weight)


def approach1(terms: Sequence[Term], categories: Sequence[str] = ("1", "2", "3", "4", "5", "6")) -> UncertaintyResult:
    """IPCC Approach 1: first-order propagation, shared inputs perfectly correlated.

    Examples
    --------
    Two independent sources of 100 and 200 tCO2e at ±10 % and ±5 %: ``√(10² + 10²) = 14.142``:

    >>> r = approach1([Term("a", "1", 100.0, (Input("ad:a", 0.10),)), Term("b", "1", 200.0, (Input("ad:b", 0.05),))])
    >>> round(r.total.upper - r.total.value, 3)
    14.142
    """
    _check(terms)

    def interval(subset: list[Term]) -> Interval:
        value, var = _variance(subset)
        half = Z95 * math.sqrt(var)
        return Interval(value, value - half, value + half)

    by_cat = {c: interval([t for t in terms if t.category == c]) for c in categories}
    return UncertaintyResult("approach1", interval(list(terms)), by_cat)


def approach2(
    terms: Sequence[Term],
    categories: Sequence[str] = ("1", "2", "3", "4", "5", "6"),
    *,
    draws: int = 20_000,
    seed: int = 2006,
) -> UncertaintyResult:
    """IPCC Approach 2: Monte Carlo over every input; 2.5th-97.5th percentile interval.

    Inputs with ``u`` ≤ 30 % are normal N(1, u/1.96) clipped at 0; larger ones lognormal with
    mean 1 and the same standard deviation. The central value is the deterministic sum (as
    reported), not the sample mean.
    """
    _check(terms)
    if draws < 100:
        raise ValidationError("draws", "at least 100 Monte Carlo draws", draws)
    rng = np.random.default_rng(seed)
    multipliers: dict[str, np.ndarray] = {}
    for term in terms:
        for inp in term.inputs:
            if inp.key in multipliers:
                continue
            s = inp.u95 / Z95
            if s == 0:
                multipliers[inp.key] = np.ones(draws)
            elif inp.u95 <= _LOGNORMAL_ABOVE:
                multipliers[inp.key] = np.clip(rng.normal(1.0, s, draws), 0.0, None)
            else:
                sigma = math.sqrt(math.log1p(s * s))
                multipliers[inp.key] = rng.lognormal(-sigma * sigma / 2.0, sigma, draws)
    samples = {c: np.zeros(draws) for c in categories}
    total = np.zeros(draws)
    for term in terms:
        sample = np.full(draws, term.value)
        for inp in term.inputs:
            sample = sample * multipliers[inp.key]
        total += sample
        if term.category in samples:
            samples[term.category] += sample

    def interval(values: np.ndarray, central: float) -> Interval:
        lo, hi = np.percentile(values, [2.5, 97.5])
        return Interval(central, float(lo), float(hi))

    by_cat = {c: interval(samples[c], sum(t.value for t in terms if t.category == c)) for c in categories}
    return UncertaintyResult("approach2", interval(total, sum(t.value for t in terms)), by_cat, draws=draws)


def input_table(terms: Sequence[Term]) -> list[dict[str, object]]:
    """Every distinct input with its uncertainty [%] and source, for the report."""
    seen: dict[str, Input] = {}
    weight: Mapping[str, float] = {}
    acc: dict[str, float] = {}
    for term in terms:
        for inp in term.inputs:
            seen.setdefault(inp.key, inp)
            acc[inp.key] = acc.get(inp.key, 0.0) + term.value
    weight = acc
    return [
        {"input": k, "u95_pct": v.u95 * 100.0, "source": v.source, "weight_tco2e": weight[k]} for k, v in seen.items()
    ]
