"""Hand a built linopy model to HiGHS as arrays and read the solution back as arrays.

linopy's ``Model.solve`` also sanitises every constraint, and afterwards writes a
labelled DataArray of values into every variable and of duals into every constraint;
the dispatch engine reads a few dozen per-step quantities once and needs no duals. Here
the model's matrices (:attr:`linopy.Model.matrices`: ``A``, ``b``, ``sense``, ``lb``,
``ub``, ``c``, ``vtypes``, in the order of ``vlabels`` and ``clabels``) go to highspy in
the calls a direct highspy user makes (``addCols``, ``addRows``), and the column values
come back as one array indexed by linopy variable label.

References
----------
Huangfu and Hall (2018), *Parallelizing the dual revised simplex method*, Mathematical
Programming Computation 10, 119–142 (HiGHS); linopy's ``MatrixAccessor``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import highspy
import linopy
import numpy as np
from linopy.constants import TERM_DIM

__all__ = ["HighsSolution", "solve_with_highs"]

_CONDITIONS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
}


@dataclass(frozen=True)
class HighsSolution:
    """What HiGHS returned for a model.

    Attributes
    ----------
    condition
        ``"optimal"``, ``"infeasible"``, ``"unbounded"``, ``"infeasible_or_unbounded"`` or
        HiGHS's own words for another status (a limit, an error).
    objective
        Objective value (in the objective's unit; NaN without a solution).
    values
        Primal value per linopy variable label (NaN for labels HiGHS did not see).
    """

    condition: str
    objective: float
    values: np.ndarray

    def value(self, item: linopy.Variable | linopy.LinearExpression) -> np.ndarray:
        """The solution of a variable or linear expression, one value per coordinate.

        Raises
        ------
        ValueError
            If the model was not solved to a solution (no values to read).
        """
        if self.values.size == 0:
            raise ValueError(f"expected a solved model, got HiGHS status {self.condition!r} without values")
        if isinstance(item, linopy.Variable):
            return self._lookup(item.labels.values)
        labels = item.vars.values
        axis = item.vars.dims.index(TERM_DIM)
        coeffs = np.moveaxis(item.coeffs.values, item.coeffs.dims.index(TERM_DIM), axis)
        terms = np.where(labels >= 0, coeffs * self._lookup(labels), 0.0)
        return np.asarray(terms.sum(axis=axis) + item.const.values, dtype=float)

    def _lookup(self, labels: np.ndarray) -> np.ndarray:
        safe = np.where(labels >= 0, labels, 0)
        return np.where(labels >= 0, self.values[safe], np.nan)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what the solver library prints on file descriptor 1 to standard error."""
    try:
        stdout_fd = sys.__stdout__.fileno() if sys.__stdout__ else 1
        stderr_fd = sys.__stderr__.fileno() if sys.__stderr__ else 2
    except (OSError, ValueError):  # pragma: no cover - no real descriptors
        yield
        return
    sys.stdout.flush()
    saved = os.dup(stdout_fd)
    try:
        os.dup2(stderr_fd, stdout_fd)
        yield
    finally:
        os.dup2(saved, stdout_fd)
        os.close(saved)


def solve_with_highs(
    model: linopy.Model, options: Mapping[str, bool | int | float | str] | None = None
) -> HighsSolution:
    """Minimise ``model``'s objective with HiGHS (LP, or MILP when it has integer variables).

    Parameters
    ----------
    model
        A built linopy model with a linear objective to minimise.
    options
        HiGHS options, e.g. ``{"output_flag": False, "mip_rel_gap": 1e-7}``.

    Returns
    -------
    HighsSolution
        The status, objective and the value of every variable label.

    Raises
    ------
    ValueError
        If the objective is quadratic or maximised, or the model has indicator constraints
        or semi-continuous variables (the dispatch engine builds none of them).

    Notes
    -----
    The objective constant (always 0 in the dispatch models) is added to the objective value.
    """
    if model.is_quadratic or model.objective.sense != "min":
        raise ValueError("expected a linear objective to minimise, got a quadratic or maximised one")
    matrices = model.matrices
    vtypes = np.asarray(matrices.vtypes)
    if getattr(matrices, "indicator_A", None) is not None or (vtypes == "S").any():
        raise ValueError("expected linear rows and continuous, binary or integer variables only")
    labels = np.asarray(matrices.vlabels)
    columns = len(labels)
    with _stdout_to_stderr():
        h = highspy.Highs()
        for key, value in (options or {}).items():
            h.setOptionValue(key, value)
        empty_int, empty = np.array([], dtype=np.int32), np.array([], dtype=float)
        h.addCols(columns, matrices.c, matrices.lb, matrices.ub, 0, empty_int, empty_int, empty)
        integer = np.flatnonzero(np.isin(vtypes, ["B", "I"]))
        if integer.size:
            h.changeColsIntegrality(integer.size, integer.astype(np.int32), np.ones(integer.size, dtype=np.uint8))
        if matrices.A is not None and len(matrices.clabels):
            a = matrices.A.tocsr()
            sense, b = np.asarray(matrices.sense), np.asarray(matrices.b, dtype=float)
            lower = np.where(sense != "<", b, -np.inf)
            upper = np.where(sense != ">", b, np.inf)
            starts, indices = a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32)
            h.addRows(len(b), lower, upper, a.nnz, starts, indices, a.data)
        h.run()
    status = h.getModelStatus()
    condition = _CONDITIONS.get(status, h.modelStatusToString(status))
    if condition != "optimal":
        return HighsSolution(condition, float("nan"), np.array([]))
    # linopy hands solvers scaled columns and objective when scaling is set (not by the
    # dispatch models; undone here as linopy does when it reads a solution back)
    values = np.full(int(labels.max(initial=-1)) + 1, np.nan)
    values[labels] = np.asarray(h.getSolution().col_value, dtype=float) / getattr(matrices, "var_scaling", 1.0)
    objective = float(h.getInfo().objective_function_value) / float(getattr(model.objective, "scaling", 1.0))
    constant = float(np.asarray(model.objective.expression.const.values).sum())
    return HighsSolution(condition, objective + constant, values)
