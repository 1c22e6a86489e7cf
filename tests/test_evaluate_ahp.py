"""AHP weights and consistency (Saaty), on known matrices with published results."""

from __future__ import annotations

import pytest

from carbonpark.errors import ValidationError
from carbonpark.evaluate.ahp import (
    InconsistentMatrixError,
    ahp,
    geometric_mean_matrix,
    parse_judgement,
    random_index,
    require_consistent,
    validate_matrix,
)
from carbonpark.evaluate.weights import weights_from_ahp

# Saaty, "How to make a decision: the analytic hierarchy process", EJOR 48 (1990) 9-26, the house example
# (criteria: size, transport, neighbourhood, age, yard, modern facilities, condition, financing), with the
# published results lambda_max = 9.669, CI = 0.238, CR = 0.169 and priorities
# .173 .054 .188 .018 .031 .036 .167 .333 (three decimals).
SAATY_HOUSE = [
    ["1", "5", "3", "7", "6", "6", "1/3", "1/4"],
    ["1/5", "1", "1/3", "5", "3", "3", "1/5", "1/7"],
    ["1/3", "3", "1", "6", "3", "4", "6", "1/5"],
    ["1/7", "1/5", "1/6", "1", "1/3", "1/4", "1/7", "1/8"],
    ["1/6", "1/3", "1/3", "3", "1", "1/2", "1/5", "1/6"],
    ["1/6", "1/3", "1/4", "4", "2", "1", "1/5", "1/6"],
    ["3", "5", "1/6", "7", "5", "5", "1", "1/2"],
    ["4", "7", "5", "8", "6", "6", "2", "1"],
]


def _parse(rows: list[list[str]]) -> list[list[float]]:
    return [[parse_judgement(c) for c in row] for row in rows]


def test_consistent_matrix_gives_exact_weights() -> None:
    # a = 2b, b = 2c -> w proportional to (4, 2, 1) -> (4/7, 2/7, 1/7); a consistent matrix has lambda_max = n
    result = ahp(_parse([["1", "2", "4"], ["1/2", "1", "2"], ["1/4", "1/2", "1"]]), ["a", "b", "c"])
    assert result.weights == pytest.approx((4 / 7, 2 / 7, 1 / 7), abs=1e-9)
    assert result.lambda_max == pytest.approx(3.0, abs=1e-9)
    assert result.ci == pytest.approx(0.0, abs=1e-9)
    assert result.cr == pytest.approx(0.0, abs=1e-9)
    assert result.consistent is True
    assert result.ri == 0.58


def test_saaty_1990_house_example_is_inconsistent() -> None:
    result = ahp(_parse(SAATY_HOUSE))
    assert result.lambda_max == pytest.approx(9.669, abs=5e-4)
    assert result.ci == pytest.approx(0.238, abs=5e-4)
    assert result.ri == 1.41
    assert result.cr == pytest.approx(0.169, abs=5e-4)
    assert result.consistent is False
    assert sum(result.weights) == pytest.approx(1.0)
    assert result.weights == pytest.approx((0.173, 0.054, 0.188, 0.018, 0.031, 0.036, 0.167, 0.333), abs=5e-4)
    assert result.most_inconsistent is not None
    with pytest.raises(InconsistentMatrixError, match=r"house.*CR below 0.1.*most inconsistent judgement: a\["):
        require_consistent(result, "house")


def test_small_matrices() -> None:
    # n = 1: weight 1; n = 2: always consistent (RI = 0, CR defined as 0); 3 vs 1 -> (3/4, 1/4)
    assert ahp([[1.0]]).weights == (1.0,)
    two = ahp([[1, 3], [1 / 3, 1]])
    assert two.weights == pytest.approx((0.75, 0.25))
    assert two.cr == 0.0 and two.consistent


def test_known_inconsistent_triangle() -> None:
    # a = 9b, b = 9c but c = 9a: the worst possible cycle; lambda_max of [[1,9,1/9],[1/9,1,9],[9,1/9,1]]
    # is 1 + 9 + 1/9 = 10.111 (circulant matrix, eigenvector (1,1,1)); CI = 3.556; CR = 6.13
    result = ahp([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    assert result.lambda_max == pytest.approx(1 + 9 + 1 / 9)
    assert result.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert result.cr == pytest.approx((1 + 9 + 1 / 9 - 3) / 2 / 0.58)


def test_random_index_table() -> None:
    assert [random_index(n) for n in range(1, 11)] == [0, 0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49]
    with pytest.raises(ValidationError, match="order between 1 and 15"):
        random_index(16)


@pytest.mark.parametrize(
    ("matrix", "fragment"),
    [
        ([[1, 2], [1 / 2, 1], [1, 1]], "square"),
        ([[1, 2, 3], [1 / 2, 1, 1]], "square"),
        ([[1, -2], [-1 / 2, 1]], r"m\[1, 2\].*positive"),
        ([[2, 1], [1, 1]], "diagonal"),
        ([[1, 2], [2, 1]], r"m\[1, 2\].*reciprocal"),
        ([[1, 12], [1 / 12, 1]], "Saaty's scale"),
        ([], "square"),
    ],
)
def test_matrix_validation(matrix: list[list[float]], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        validate_matrix(matrix, name="m")


def test_decimal_reciprocals_are_accepted() -> None:
    validate_matrix([[1, 3], [0.333, 1]])


@pytest.mark.parametrize("text", ["1/0", "abc", "-1", "0", "1/-3"])
def test_bad_judgements(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_judgement(text)


def test_fractions() -> None:
    assert parse_judgement("1/3") == pytest.approx(1 / 3)
    assert parse_judgement(" 5 ") == 5.0
    assert parse_judgement("0.5") == 0.5


def test_geometric_mean_of_experts() -> None:
    # expert 1 says a = 2b, expert 2 says a = 8b: geometric mean sqrt(16) = 4, reciprocal 1/4
    mean = geometric_mean_matrix([[[1, 2], [1 / 2, 1]], [[1, 8], [1 / 8, 1]]])
    assert mean[0][1] == pytest.approx(4.0)
    assert mean[1][0] == pytest.approx(0.25)
    with pytest.raises(ValidationError, match="shape"):
        geometric_mean_matrix([[[1, 2], [1 / 2, 1]], [[1]]])


def test_weights_from_ahp_file_layout() -> None:
    # level3 group 17 (indicators 65, 66): 65 three times as important -> (0.75, 0.25); level2 under
    # first-level 4 (groups 13, 14) by two experts 1 and 4 -> geometric mean 2 -> (2/3, 1/3);
    # the rest keep the appendix weights.
    spec = {
        "level3": {"17": {"matrix": [[1, 3], ["1/3", 1]]}},
        "level2": {4: {"matrices": [[[1, 1], [1, 1]], [[1, 4], ["1/4", 1]]]}},
    }
    w = weights_from_ahp(spec)
    assert w.mode == "ahp"
    assert (w.gamma[65], w.gamma[66]) == pytest.approx((0.75, 0.25))
    assert (w.beta[13], w.beta[14]) == pytest.approx((2 / 3, 1 / 3))
    assert w.alpha[1] == 0.15 and w.gamma[1] == 0.2
    assert set(w.ahp) == {"level3.17", "level2.4"}


def test_weights_from_ahp_refuses_an_inconsistent_matrix() -> None:
    with pytest.raises(InconsistentMatrixError, match=r"level1 .*most inconsistent judgement"):
        weights_from_ahp(
            {
                "level1": {
                    "matrix": [
                        [1, 9, "1/9", 1, 1],
                        ["1/9", 1, 9, 1, 1],
                        [9, "1/9", 1, 1, 1],
                        [1, 1, 1, 1, 1],
                        [1, 1, 1, 1, 1],
                    ]
                }
            }
        )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"level3": {"17": {"matrix": [[1, 2, 3], ["1/2", 1, 1], ["1/3", 1, 1]]}}}, "level3.17"),
        ({"level3": {"99": {"matrix": [[1]]}}}, "second-level id"),
        ({"level2": {"1": {"order": [1, 2, 3, 9], "matrix": [[1] * 4] * 4}}}, "order"),
        ({"levels": {}}, "only the keys"),
        ({"base": "other"}, "appendix"),
        ({"level1": {"weights": [1]}}, "matrix"),
    ],
)
def test_weights_from_ahp_errors(spec: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        weights_from_ahp(spec)
