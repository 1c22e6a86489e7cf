"""The model under construction: variables named ``"{asset}-{quantity}"`` and the terms that use them.

Asset ``define_*`` functions add their variables through :class:`DispatchContext` and
register how each variable enters a carrier balance, the cost and the emissions. The
same registry evaluates any schedule (the optimum or the rule-based baseline), so the
baseline's cost, emissions and balance are computed exactly as the optimum's.

References
----------
The guide §4.6; PyPSA's convention of naming linopy variables and constraints
``"{component}-{attribute}"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import linopy
import numpy as np
import pandas as pd
import xarray as xr
from linopy.constants import TERM_DIM

from carbonpark.dispatch.scenario import CARRIERS, Scenario

__all__ = ["BusTerm", "DispatchContext", "LinearTerm", "Schedule", "StepTerm"]

#: Per asset, per quantity, one value per step.
Schedule = dict[str, dict[str, np.ndarray]]

#: Penalty [CNY/kWh] on the slack variables of the diagnostic (relaxed) model.
SLACK_PENALTY = 1.0e6

#: ``(coefficient, variable)`` or ``(coefficient, variable, lag)`` in :meth:`DispatchContext.expression`:
#: the coefficient is one number or one per step; ``lag = k`` takes the variable ``k`` steps earlier.
StepTerm = tuple[object, linopy.Variable] | tuple[object, linopy.Variable, int]


@dataclass(frozen=True)
class BusTerm:
    """``sign × schedule[asset][quantity]`` enters the balance of ``carrier``."""

    carrier: str
    asset: str
    quantity: str
    sign: float


@dataclass(frozen=True)
class LinearTerm:
    """A cost [CNY] or emission [kgCO2] term of one scheduled quantity.

    ``kind == "energy"``: Σ_t coefficient[t] × value[t] × step_hours, the coefficient per kWh.
    ``kind == "peak"``: coefficient[0] × max(floor, max_t value[t]), the coefficient per kW;
    in the model it multiplies the scalar variable ``peak_variable``.
    """

    asset: str
    quantity: str
    coefficient: np.ndarray
    kind: Literal["energy", "peak"] = "energy"
    peak_variable: str = ""
    floor: float = 0.0


@dataclass
class DispatchContext:
    """A linopy model being built for one scenario, with the registry of its terms.

    Attributes
    ----------
    scenario
        The validated scenario.
    model
        The linopy model.
    relaxed
        Build the diagnostic model: balances and end states get penalised slacks.
    """

    scenario: Scenario
    model: linopy.Model = field(default_factory=lambda: linopy.Model(force_dim_names=True))
    relaxed: bool = False
    bus_terms: list[BusTerm] = field(default_factory=list)
    cost_terms: list[LinearTerm] = field(default_factory=list)
    emission_terms: list[LinearTerm] = field(default_factory=list)
    outputs: dict[str, dict[str, linopy.Variable | linopy.LinearExpression]] = field(default_factory=dict)
    slacks: dict[str, linopy.Variable] = field(default_factory=dict)
    integer: bool = False

    @property
    def steps(self) -> pd.RangeIndex:
        """The step index (dimension ``step``)."""
        return pd.RangeIndex(self.scenario.horizon.steps, name="step")

    @property
    def step_hours(self) -> float:
        """Length of one step [h]."""
        return self.scenario.horizon.step_hours

    def series(self, value: object) -> xr.DataArray:
        """A scalar or per-step value as a DataArray over ``step``."""
        values = value if isinstance(value, np.ndarray) else self.scenario.series(value)  # type: ignore[arg-type]
        return xr.DataArray(np.asarray(values, dtype=float), coords=[self.steps])

    def add_flow(
        self, asset: str, quantity: str, upper: object = None, lower: object = 0.0, binary: bool = False
    ) -> linopy.Variable:
        """A per-step variable ``"{asset}-{quantity}"`` between ``lower`` and ``upper`` (``None``: none)."""
        name = f"{asset}-{quantity}"
        if binary:
            self.integer = True
            variable = self.model.add_variables(binary=True, coords=[self.steps], name=name)
        else:
            # bounds as DataArrays over ``step``: linopy takes the coordinates from them
            # without broadcasting scalars (about 3 times faster for 8,760 steps)
            up = self.series(np.inf if upper is None else upper)
            variable = self.model.add_variables(lower=self.series(lower), upper=up, name=name)
        self.outputs.setdefault(asset, {})[quantity] = variable
        return variable

    def expression(self, terms: Sequence[StepTerm], constant: object = None) -> linopy.LinearExpression:
        """``Σ coefficient × variable + constant`` in every step, built in one pass over arrays.

        Equivalent to adding ``coefficient * variable`` expressions with linopy, without the
        alignment and copies of one xarray merge per addition: every per-step variable of
        the context shares the same ``step`` index, so the terms are stacked as they are.

        Parameters
        ----------
        terms
            ``(coefficient, variable)`` or ``(coefficient, variable, lag)``. The coefficient is
            one number or one per step; the variable is over ``step`` or a scalar (the same
            variable in every step). ``lag = k > 0`` uses the variable's value ``k`` steps
            earlier (no term in the first ``k`` steps), as ``variable.shift(step=k)``.
        constant
            One number or one per step (default 0).

        Raises
        ------
        ValueError
            If a variable is over other dimensions, or a coefficient or lag does not fit
            the number of steps.
        """
        coeffs, labels = self._stack(terms)
        const = self._per_step(0.0 if constant is None else constant, "constant")
        data = xr.Dataset(
            {"coeffs": (("step", TERM_DIM), coeffs), "vars": (("step", TERM_DIM), labels), "const": ("step", const)},
            coords={"step": self.steps},
        )
        return linopy.LinearExpression(data, self.model)

    def constraint(self, terms: Sequence[StepTerm], sign: str, rhs: object) -> linopy.Constraint:
        """``Σ coefficient × variable  sign  rhs`` in every step, for ``model.add_constraints``.

        The rows are built from arrays as in :meth:`expression` and handed to linopy as a
        finished constraint (no subtraction of the right-hand side, no alignment).

        Parameters
        ----------
        terms
            As in :meth:`expression`.
        sign
            ``"="`` (or ``"=="``), ``"<="`` or ``">="``.
        rhs
            One number or one per step.

        Raises
        ------
        ValueError
            As :meth:`expression`, or for another sign.
        """
        signs = {"=": "=", "==": "=", "<=": "<=", ">=": ">="}
        if sign not in signs:
            raise ValueError(f"expected a sign '=', '<=' or '>=', got {sign!r}")
        coeffs, labels = self._stack(terms)
        data = xr.Dataset(
            {
                "coeffs": (("step", TERM_DIM), coeffs),
                "vars": (("step", TERM_DIM), labels),
                "sign": ("step", np.full(len(coeffs), signs[sign])),
                "rhs": ("step", self._per_step(rhs, "right-hand side")),
            },
            coords={"step": self.steps},
        )
        return linopy.Constraint(data, model=self.model)

    def _stack(self, terms: Sequence[StepTerm]) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients and variable labels of ``terms`` as (steps × terms) arrays (label −1: no term)."""
        n = self.scenario.horizon.steps
        labels = np.full((n, len(terms)), -1, dtype=np.int64)
        coeffs = np.zeros((n, len(terms)))
        for j, term in enumerate(terms):
            lag = int(term[2]) if len(term) == 3 else 0
            if not 0 <= lag <= n:
                raise ValueError(f"expected a lag between 0 and {n} steps, got {lag}")
            coeffs[:, j] = self._per_step(term[0], "coefficient")
            labels[lag:, j] = np.broadcast_to(self._labels(term[1]), n)[: n - lag]
        return coeffs, labels

    def _labels(self, variable: linopy.Variable) -> np.ndarray:
        """The labels of a variable over ``step`` or of a scalar variable."""
        n = self.scenario.horizon.steps
        values = variable.labels.values
        if variable.dims not in {(), ("step",)} or values.size not in {1, n}:
            raise ValueError(
                f"expected a variable over the {n} steps or a scalar one, got {variable.name!r} "
                f"with dimensions {dict(variable.sizes)}"
            )
        return values

    def total(self, terms: Sequence[tuple[object, linopy.Variable]]) -> linopy.LinearExpression:
        """``Σ_t Σ_terms coefficient[t] × variable[t]`` as one scalar expression.

        Terms ``(coefficient, variable)`` as in :meth:`expression` (no lag); a scalar
        variable (a peak) enters once, with the coefficient's first value.

        Raises
        ------
        ValueError
            As :meth:`expression`.
        """
        labels: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        coeffs: list[np.ndarray] = [np.zeros(0)]
        for coefficient, variable in terms:
            values = self._labels(variable).ravel()
            factor = self._per_step(coefficient, "coefficient")
            labels.append(values.astype(np.int64))
            coeffs.append(factor[: values.size])
        data = xr.Dataset(
            {"coeffs": (TERM_DIM, np.concatenate(coeffs)), "vars": (TERM_DIM, np.concatenate(labels)), "const": 0.0}
        )
        return linopy.LinearExpression(data, self.model)

    def _per_step(self, value: object, what: str) -> np.ndarray:
        """One number or one per step as an array of ``horizon.steps`` floats."""
        n = self.scenario.horizon.steps
        array = np.asarray(value.values if isinstance(value, xr.DataArray) else value, dtype=float)
        if array.ndim == 0:
            return np.full(n, float(array))
        if array.shape != (n,):
            raise ValueError(f"expected a {what} as one number or {n} numbers (one per step), got shape {array.shape}")
        return array

    def add_output(self, asset: str, quantity: str, expression: linopy.LinearExpression) -> None:
        """Report ``expression`` in the schedule as ``quantity`` of ``asset`` (e.g. ``curtailed_kw``)."""
        self.outputs.setdefault(asset, {})[quantity] = expression

    def variable(self, asset: str, quantity: str) -> linopy.Variable:
        """The variable ``"{asset}-{quantity}"``."""
        return self.model.variables[f"{asset}-{quantity}"]

    def add_to_bus(self, carrier: str, asset: str, quantity: str, sign: float) -> None:
        """``sign × {asset}-{quantity}`` flows into the ``carrier`` bus (negative: drawn from it)."""
        if carrier not in CARRIERS:
            raise ValueError(f"unknown carrier {carrier!r}")
        self.bus_terms.append(BusTerm(carrier, asset, quantity, sign))

    def add_energy_cost(self, asset: str, quantity: str, price_per_kwh: object) -> None:
        """Cost [CNY] of ``quantity`` [kW] at ``price_per_kwh`` [CNY/kWh] (negative: revenue)."""
        self.cost_terms.append(LinearTerm(asset, quantity, self.scenario.series(price_per_kwh)))  # type: ignore[arg-type]

    def add_peak_cost(
        self, asset: str, quantity: str, price_per_kw: float, peak_variable: str, floor: float = 0.0
    ) -> None:
        """Cost [CNY] of the highest value of ``quantity`` [kW] (at least ``floor``) at ``price_per_kw``.

        ``peak_variable`` names the scalar model variable bounded below by every step's value.
        """
        self.cost_terms.append(LinearTerm(asset, quantity, np.array([price_per_kw]), "peak", peak_variable, floor))

    def add_emissions(self, asset: str, quantity: str, kg_per_kwh: object) -> None:
        """Emissions [kgCO2] of ``quantity`` [kW] at ``kg_per_kwh`` [kgCO2/kWh]."""
        self.emission_terms.append(LinearTerm(asset, quantity, self.scenario.series(kg_per_kwh)))  # type: ignore[arg-type]

    def slack(self, asset: str, quantity: str, per_step: bool = True) -> linopy.Variable | None:
        """A penalised slack ``"{asset}-{quantity}"`` in the relaxed model, else ``None``."""
        if not self.relaxed:
            return None
        name = f"{asset}-{quantity}"
        coords = [self.steps] if per_step else None
        variable = self.model.add_variables(lower=0.0, coords=coords, name=name)
        self.slacks[name] = variable
        return variable

    # --- evaluation of a schedule with the same terms -------------------------------------

    def evaluate_terms(self, terms: list[LinearTerm], schedule: Mapping[str, Mapping[str, np.ndarray]]) -> float:
        """Σ of ``terms`` over ``schedule`` (energy terms × step_hours, peak terms on the maximum)."""
        total = 0.0
        for term in terms:
            values = np.asarray(schedule[term.asset][term.quantity], dtype=float)
            if term.kind == "peak":
                total += float(term.coefficient[0] * max(term.floor, float(values.max())))
            else:
                total += float(np.dot(term.coefficient, values) * self.step_hours)
        return total

    def balance_residuals(self, schedule: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Per carrier and step: supply − use − load [kW] (zero when the schedule balances)."""
        residuals: dict[str, np.ndarray] = {}
        for carrier in CARRIERS:
            terms = [t for t in self.bus_terms if t.carrier == carrier]
            load = self.scenario.load(carrier)
            if not terms and not load.any():
                continue
            flow = np.zeros(self.scenario.horizon.steps)
            for term in terms:
                flow += term.sign * np.asarray(schedule[term.asset][term.quantity], dtype=float)
            residuals[carrier] = flow - load
        return residuals
