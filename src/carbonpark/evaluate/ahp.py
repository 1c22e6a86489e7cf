"""Analytic hierarchy process (AHP): weights from pairwise comparison matrices, with a consistency check.

The guide (§5) derives the weights of formula (9) by AHP and leaves them to be revised by the evaluating
authority with experts; this module turns one or several experts' judgement matrices into weights.

References
----------
T. L. Saaty, *The Analytic Hierarchy Process*, McGraw-Hill, New York, 1980 (principal eigenvector, consistency
index, random index).
T. L. Saaty, "How to make a decision: the analytic hierarchy process", *European Journal of Operational
Research* 48 (1990) 9-26 (the random index table used here for n ≤ 10).
E. Forman, K. Peniwati, "Aggregating individual judgments and priorities with the analytic hierarchy process",
*European Journal of Operational Research* 108 (1998) 165-169 (group decisions: geometric mean of judgements).
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from carbonpark.errors import ValidationError

__all__ = [
    "CONSISTENCY_THRESHOLD",
    "RANDOM_INDEX",
    "AhpResult",
    "InconsistentMatrixError",
    "Judgement",
    "ahp",
    "geometric_mean_matrix",
    "parse_judgement",
    "random_index",
    "read_matrix_csv",
    "require_consistent",
    "validate_matrix",
]

CONSISTENCY_THRESHOLD = 0.1
"""A matrix is consistent enough when CR < 0.1 (Saaty 1980)."""

RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}
"""Saaty's random consistency index RI by matrix order n: n ≤ 10 as in Saaty (1990), n = 11-15 as in Saaty
(1980). The largest group of the guide's index system has 8 members."""

_RECIPROCAL_TOLERANCE = 0.01
"""Relative tolerance of ``a_ij × a_ji = 1``: judgements typed as decimals (``0.33`` for 1/3) pass."""

_SCALE_MIN, _SCALE_MAX = 1 / 9, 9.0
"""Saaty's fundamental scale runs from 1/9 to 9."""


class InconsistentMatrixError(ValidationError):
    """A judgement matrix whose consistency ratio is 0.1 or more, refused where weights are to be used."""


@dataclass(frozen=True)
class Judgement:
    """One judgement ``a[row, col]`` and the value the weights would make consistent (``w_row/w_col``)."""

    row: str
    col: str
    value: float
    implied: float

    def describe(self) -> str:
        """Readable form, e.g. ``a[b, c] = 5 while the weights imply 1.2``."""
        given = _format_judgement(self.value)
        return f"a[{self.row}, {self.col}] = {given} while the weights imply {self.implied:.3g}"


@dataclass(frozen=True)
class AhpResult:
    """Weights and consistency figures of one judgement matrix.

    Attributes
    ----------
    labels
        The criteria in row order.
    weights
        Normalised principal eigenvector, in row order, summing to 1.
    lambda_max
        Principal eigenvalue λmax.
    ci
        Consistency index ``(λmax − n)/(n − 1)`` (0 for n ≤ 2).
    ri
        Saaty's random index for n.
    cr
        Consistency ratio ``CI/RI`` (0 when RI is 0, i.e. n ≤ 2).
    consistent
        ``cr < 0.1``.
    most_inconsistent
        The judgement furthest from what the weights imply (``None`` for n ≤ 2).
    """

    labels: tuple[str, ...]
    weights: tuple[float, ...]
    lambda_max: float
    ci: float
    ri: float
    cr: float
    consistent: bool
    most_inconsistent: Judgement | None

    def as_dict(self) -> dict[str, object]:
        """Plain-data form (the ``carbonpark ahp --json`` document)."""
        return {
            "labels": list(self.labels),
            "weights": list(self.weights),
            "lambda_max": self.lambda_max,
            "ci": self.ci,
            "ri": self.ri,
            "cr": self.cr,
            "consistent": self.consistent,
            "most_inconsistent": None
            if self.most_inconsistent is None
            else {
                "row": self.most_inconsistent.row,
                "col": self.most_inconsistent.col,
                "value": self.most_inconsistent.value,
                "implied": self.most_inconsistent.implied,
                "text": self.most_inconsistent.describe(),
            },
        }


def _format_judgement(value: float) -> str:
    if value >= 1:
        return f"{value:.4g}"
    return f"1/{1 / value:.4g}"


def parse_judgement(text: object, where: str = "judgement") -> float:
    """A judgement from a number or a fraction such as ``1/3``.

    Raises
    ------
    ValidationError
        Text that is neither a number nor a fraction ``p/q``, or a value that is not positive.
    """
    if isinstance(text, bool):
        raise ValidationError(where, "a positive number or a fraction such as 1/3", text)
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            value = float(Fraction(raw.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValidationError(where, "a positive number or a fraction such as 1/3", raw) from None
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(where, "a positive number or a fraction such as 1/3", text)
    return value


def random_index(n: int) -> float:
    """Saaty's random index RI for a matrix of order ``n`` (1-15).

    References
    ----------
    Saaty (1980); Saaty (1990), EJOR 48, 9-26.
    """
    try:
        return RANDOM_INDEX[n]
    except KeyError:
        raise ValidationError("matrix", f"an order between 1 and {max(RANDOM_INDEX)} (Saaty's RI table)", n) from None


def validate_matrix(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[str] | None = None,
    name: str = "matrix",
) -> np.ndarray:
    """Check a pairwise comparison matrix: square, positive, Saaty's 1/9-9 scale, unit diagonal, reciprocal.

    Parameters
    ----------
    matrix
        The judgements ``a_ij`` (importance of criterion i over criterion j).
    labels
        Criterion names used in messages (default ``1..n``).
    name
        The matrix's name used in messages.

    Returns
    -------
    numpy.ndarray
        The matrix as floats.

    Raises
    ------
    ValidationError
        Naming the matrix and the cell that fails.
    """
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(name, "a square matrix of numbers", matrix) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValidationError(name, "a square matrix (n rows of n judgements)", f"shape {a.shape}")
    n = a.shape[0]
    names = list(labels) if labels is not None else [str(i + 1) for i in range(n)]
    if len(names) != n:
        raise ValidationError(name, f"{n} labels for {n} rows", names)
    random_index(n)
    for i in range(n):
        for j in range(n):
            cell = f"{name}[{names[i]}, {names[j]}]"
            value = a[i, j]
            if not math.isfinite(value) or value <= 0:
                raise ValidationError(cell, "a positive judgement", float(value))
            if i == j and not math.isclose(value, 1.0, rel_tol=1e-9):
                raise ValidationError(cell, "1 on the diagonal (a criterion compared with itself)", float(value))
            if value < _SCALE_MIN * (1 - _RECIPROCAL_TOLERANCE) or value > _SCALE_MAX * (1 + _RECIPROCAL_TOLERANCE):
                raise ValidationError(cell, "a judgement on Saaty's scale 1/9 to 9", float(value))
            if j > i and abs(value * a[j, i] - 1.0) > _RECIPROCAL_TOLERANCE:
                raise ValidationError(
                    cell,
                    f"the reciprocal of {name}[{names[j]}, {names[i]}] = {_format_judgement(a[j, i])}, "
                    f"i.e. {_format_judgement(1 / a[j, i])}",
                    float(value),
                )
    return a


def geometric_mean_matrix(
    matrices: Sequence[Sequence[Sequence[float]] | np.ndarray], name: str = "matrices"
) -> np.ndarray:
    """Aggregate several experts' judgement matrices by the element-wise geometric mean.

    The geometric mean keeps the matrix reciprocal (Aczél and Saaty 1983; Forman and Peniwati 1998, AIJ).

    Raises
    ------
    ValidationError
        No matrix, or matrices of different orders.
    """
    if len(matrices) == 0:
        raise ValidationError(name, "at least one judgement matrix", [])
    arrays = [np.asarray(m, dtype=float) for m in matrices]
    shape = arrays[0].shape
    for k, arr in enumerate(arrays):
        if arr.shape != shape:
            raise ValidationError(f"{name}[{k + 1}]", f"a matrix of shape {shape} like the first", arr.shape)
    return np.exp(np.mean(np.log(np.stack(arrays)), axis=0))


def _most_inconsistent(a: np.ndarray, w: np.ndarray, labels: Sequence[str]) -> Judgement | None:
    n = a.shape[0]
    if n <= 2:
        return None
    best: tuple[float, int, int] | None = None
    for i in range(n):
        for j in range(i + 1, n):
            deviation = abs(math.log(a[i, j] * w[j] / w[i]))
            if best is None or deviation > best[0]:
                best = (deviation, i, j)
    assert best is not None
    _, i, j = best
    return Judgement(row=labels[i], col=labels[j], value=float(a[i, j]), implied=float(w[i] / w[j]))


def ahp(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[str] | None = None,
    name: str = "matrix",
) -> AhpResult:
    """Weights and consistency of a pairwise comparison matrix by the principal eigenvector method.

    Parameters
    ----------
    matrix
        Positive reciprocal matrix ``a_ij`` on Saaty's 1/9-9 scale.
    labels
        Criterion names (default ``1..n``).
    name
        The matrix's name, used in error messages.

    Returns
    -------
    AhpResult
        ``w`` with ``A w = λmax w`` and ``Σ w = 1``; ``CI = (λmax − n)/(n − 1)``; ``CR = CI/RI``;
        consistent when ``CR < 0.1``.

    References
    ----------
    Saaty (1980), chapter 1; Saaty (1990), EJOR 48, 9-26.
    """
    a = validate_matrix(matrix, labels, name)
    n = a.shape[0]
    names = tuple(labels) if labels is not None else tuple(str(i + 1) for i in range(n))
    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    lambda_max = float(eigenvalues[k].real)
    vector = np.abs(eigenvectors[:, k].real)
    w = vector / vector.sum()
    ci = 0.0 if n <= 2 else max(0.0, (lambda_max - n) / (n - 1))
    ri = random_index(n)
    cr = 0.0 if ri == 0 else ci / ri
    return AhpResult(
        labels=names,
        weights=tuple(float(x) for x in w),
        lambda_max=lambda_max,
        ci=ci,
        ri=ri,
        cr=cr,
        consistent=cr < CONSISTENCY_THRESHOLD,
        most_inconsistent=_most_inconsistent(a, w, names),
    )


def require_consistent(result: AhpResult, name: str = "matrix") -> AhpResult:
    """``result`` if CR < 0.1, else :class:`InconsistentMatrixError` naming the worst judgement."""
    if result.consistent:
        return result
    worst = f"; most inconsistent judgement: {result.most_inconsistent.describe()}" if result.most_inconsistent else ""
    raise InconsistentMatrixError(
        name,
        f"a consistency ratio CR below {CONSISTENCY_THRESHOLD} (λmax = {result.lambda_max:.4f}, "
        f"CI = {result.ci:.4f}, RI = {result.ri}){worst}",
        round(result.cr, 4),
    )


def read_matrix_csv(text: str, name: str = "matrix") -> tuple[list[str], list[list[float]]]:
    """A judgement matrix from CSV text: a header row of criterion names (first cell empty), then one row per
    criterion starting with its name; cells are numbers or fractions such as ``1/3``.

    Example::

        ,a,b,c
        a,1,2,4
        b,1/2,1,2
        c,1/4,1/2,1

    Returns
    -------
    tuple
        The labels in row order and the matrix (validated by :func:`validate_matrix`).

    Raises
    ------
    ValidationError
        Naming the line and column: rows of the wrong length, row names that differ from the header, bad cells.
    """
    rows = [row for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) if any(c.strip() for c in row)]
    if len(rows) < 2:
        raise ValidationError(name, "a header row of criterion names and one row per criterion", f"{len(rows)} rows")
    labels = [c.strip() for c in rows[0][1:]]
    n = len(labels)
    if len(rows) - 1 != n:
        raise ValidationError(name, f"{n} rows for the {n} criteria of the header", len(rows) - 1)
    matrix: list[list[float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != n + 1:
            raise ValidationError(f"line {line}", f"a criterion name and {n} judgements", len(row))
        if row[0].strip() != labels[line - 2]:
            raise ValidationError(f"line {line}, column 1", f"the criterion {labels[line - 2]!r} of the header", row[0])
        matrix.append(
            [
                parse_judgement(cell, f"line {line}, column {col} ({labels[col - 2]})")
                for col, cell in enumerate(row[1:], start=2)
            ]
        )
    validate_matrix(matrix, labels, name)
    return labels, matrix
