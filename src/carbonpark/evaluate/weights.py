"""The weights α, β, γ of formula (9): the appendix's, equal weights, or weights from AHP judgements.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 (weights by AHP; "目前评价体系对各级权重采取
均值处理", i.e. equal weights for now) and appendix (the printed weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonpark.errors import ValidationError
from carbonpark.evaluate.ahp import AhpResult, ahp, geometric_mean_matrix, parse_judgement, require_consistent
from carbonpark.evaluate.catalogue import Catalogue, load_catalogue

__all__ = [
    "WeightSet",
    "appendix_weights",
    "equal_weights",
    "weights_from_ahp",
]


@dataclass(frozen=True)
class WeightSet:
    """Weights of every level, each group summing to 1.

    Attributes
    ----------
    mode
        ``"appendix"``, ``"equal"`` or ``"ahp"``.
    alpha
        First-level id → α.
    beta
        Second-level id → β within its first-level group.
    gamma
        Indicator id → γ within its second-level group.
    ahp
        For AHP weights: the result of every matrix by its name (``level1``, ``level2.1``, ``level3.13``).
    """

    mode: str
    alpha: dict[int, float]
    beta: dict[int, float]
    gamma: dict[int, float]
    ahp: dict[str, AhpResult] = field(default_factory=dict)

    def global_weight(self, catalogue: Catalogue, indicator_id: int) -> float:
        """``α_i β_j γ_k`` of one indicator: the points of the total score per point of the indicator."""
        ind = catalogue.indicator(indicator_id)
        return self.alpha[ind.level1] * self.beta[ind.level2] * self.gamma[ind.id]


def appendix_weights(catalogue: Catalogue | None = None) -> WeightSet:
    """The weights printed in the guide's appendix (the default)."""
    cat = catalogue or load_catalogue()
    return WeightSet(
        mode="appendix",
        alpha={k: v.weight for k, v in cat.level1.items()},
        beta={k: v.weight for k, v in cat.level2.items()},
        gamma={k: v.weight for k, v in cat.indicators.items()},
    )


def equal_weights(catalogue: Catalogue | None = None) -> WeightSet:
    """Equal weights within every group (the guide's 均值处理, §5): 1/n within a group of n."""
    cat = catalogue or load_catalogue()
    return WeightSet(
        mode="equal",
        alpha={k: 1 / len(cat.level1) for k in cat.level1},
        beta={k: 1 / len(cat.level2_of(v.level1)) for k, v in cat.level2.items()},
        gamma={k: 1 / len(cat.indicators_of(v.level2)) for k, v in cat.indicators.items()},
    )


def _group_members(cat: Catalogue, level: str, key: str) -> tuple[list[int], str]:
    if level == "level1":
        return sorted(cat.level1), "first-level indicators"
    try:
        group_id = int(key)
    except ValueError:
        raise ValidationError(f"{level}.{key}", "a group id (a number)", key) from None
    if level == "level2":
        if group_id not in cat.level1:
            raise ValidationError(f"level2.{key}", f"a first-level id {sorted(cat.level1)}", group_id)
        return [g.id for g in cat.level2_of(group_id)], f"second level under {cat.level1[group_id].name_zh}"
    if group_id not in cat.level2:
        raise ValidationError(f"level3.{key}", "a second-level id 1-20", group_id)
    return [i.id for i in cat.indicators_of(group_id)], f"third level under {cat.level2[group_id].name_zh}"


def _matrix_from_yaml(rows: Any, name: str) -> list[list[float]]:
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ValidationError(name, "a list of rows, each a list of judgements", rows)
    matrix: list[list[float]] = []
    for r, row in enumerate(rows, start=1):
        if not isinstance(row, Sequence) or isinstance(row, str):
            raise ValidationError(f"{name} row {r}", "a list of judgements", row)
        matrix.append([parse_judgement(cell, f"{name} row {r}, column {c}") for c, cell in enumerate(row, start=1)])
    return matrix


def _group_result(cat: Catalogue, level: str, key: str, spec: Any) -> tuple[str, dict[int, float], AhpResult]:
    members, description = _group_members(cat, level, key)
    name = level if level == "level1" else f"{level}.{key}"
    if not isinstance(spec, Mapping):
        raise ValidationError(name, "a mapping with 'matrix' or 'matrices' (and optional 'order')", spec)
    order = [int(x) for x in spec.get("order", members)]
    if sorted(order) != sorted(members):
        raise ValidationError(f"{name}.order", f"the ids {members} of the {description} in some order", order)
    matrix: Sequence[Sequence[float]] | Any
    if "matrices" in spec:
        experts = spec["matrices"]
        if not isinstance(experts, Sequence) or isinstance(experts, str) or not experts:
            raise ValidationError(f"{name}.matrices", "a non-empty list of judgement matrices", experts)
        parsed = [_matrix_from_yaml(m, f"{name}.matrices[{k + 1}]") for k, m in enumerate(experts)]
        for k, m in enumerate(parsed):
            require_consistent(
                ahp(m, [str(x) for x in order], f"{name}.matrices[{k + 1}]"), f"{name}.matrices[{k + 1}]"
            )
        matrix = geometric_mean_matrix(parsed, f"{name}.matrices")
    elif "matrix" in spec:
        matrix = _matrix_from_yaml(spec["matrix"], f"{name}.matrix")
    else:
        raise ValidationError(name, "a 'matrix' or a list of experts' 'matrices'", sorted(spec))
    result = require_consistent(ahp(matrix, [str(x) for x in order], name), f"{name} ({description})")
    return name, dict(zip(order, result.weights, strict=True)), result


def weights_from_ahp(spec: Mapping[str, Any], catalogue: Catalogue | None = None) -> WeightSet:
    """Weights from AHP judgement matrices; groups without a matrix keep the ``base`` weights.

    Parameters
    ----------
    spec
        Parsed YAML (layout in docs/evaluation.md)::

            base: appendix            # or equal: weights of the groups not given below
            level1:                   # the 5 first-level indicators
              matrix: [[1, 2, ...], ["1/2", 1, ...], ...]
            level2:
              "1":                    # the second-level indicators of first-level 1 (ids 1-4)
                order: [1, 2, 3, 4]   # optional, default: id order
                matrix: [...]
            level3:
              "13":                   # the indicators of second-level 13 (ids 52-55)
                matrices: [[...], [...]]   # several experts: geometric mean of their judgements

    catalogue
        The index system (default: the packaged one).

    Raises
    ------
    InconsistentMatrixError
        A matrix (or one expert's matrix) with CR ≥ 0.1, naming it and its most inconsistent judgement.
    ValidationError
        A malformed matrix, unknown group or wrong order.

    References
    ----------
    Saaty (1980); Forman and Peniwati (1998); the guide §5.
    """
    cat = catalogue or load_catalogue()
    if not isinstance(spec, Mapping):
        raise ValidationError("AHP file", "a mapping with level1, level2, level3", spec)
    unknown = set(spec) - {"base", "level1", "level2", "level3", "park", "year", "note"}
    if unknown:
        raise ValidationError("AHP file", "only the keys base, level1, level2, level3 (and park, year, note)", unknown)
    base_name = str(spec.get("base", "appendix"))
    if base_name not in ("appendix", "equal"):
        raise ValidationError("AHP file.base", "'appendix' or 'equal'", base_name)
    base = appendix_weights(cat) if base_name == "appendix" else equal_weights(cat)
    alpha, beta, gamma = dict(base.alpha), dict(base.beta), dict(base.gamma)
    results: dict[str, AhpResult] = {}
    if "level1" in spec:
        name, weights, result = _group_result(cat, "level1", "", spec["level1"])
        alpha.update(weights)
        results[name] = result
    for level, target in (("level2", beta), ("level3", gamma)):
        groups = spec.get(level) or {}
        if not isinstance(groups, Mapping):
            raise ValidationError(level, "a mapping of group id to its matrix", groups)
        for key, group_spec in groups.items():
            name, weights, result = _group_result(cat, level, str(key), group_spec)
            target.update(weights)
            results[name] = result
    return WeightSet(mode="ahp", alpha=alpha, beta=beta, gamma=gamma, ahp=results)
