"""Retrofit planning: capital recovery, MACC, MILP portfolios, the ``retrofit plan`` contract.

Hand computations are in the comments; the formula is the one of issue 13 item 2:
``(capex × r / (1 − (1 + r)^−n) + annual_opex − annual_savings) / annual_abatement_tco2e``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.retrofit_cmds import register
from carbonpark.errors import DuplicateError, InfeasibleError, ValidationError
from carbonpark.retrofit import (
    Project,
    capital_recovery_factor,
    marginal_abatement_cost_curve,
    parse_plan,
    select_portfolio,
)

D = Decimal


def project(
    pid: str, capex: int | str, years: int | str, abatement: int | str, *, opex: int | str = 0, savings: int | str = 0
) -> Project:
    return Project(pid, pid, D(capex), D(years), D(opex), D(savings), D(abatement))


# --- capital recovery factor -------------------------------------------------------------------


def test_crf_worked_example_r10_n2() -> None:
    # CRF = r(1+r)^n / ((1+r)^n − 1) with r = 0.1, n = 2:
    # (1.1)^2 = 1.21; CRF = 0.1 × 1.21 / 0.21 = 0.121 / 0.21 = 121/210 = 0.576190476190…
    crf = capital_recovery_factor(D("0.1"), D(2))
    assert abs(crf - D(121) / D(210)) < D("1e-25")


def test_crf_textbook_value_r5_n20() -> None:
    # (1.05)^20 = 2.653297705…; CRF = 0.05 × 2.653297705 / 1.653297705 = 0.0802425872 (annuity tables: 0.08024)
    assert abs(capital_recovery_factor(D("0.05"), D(20)) - D("0.0802425872")) < D("1e-10")


def test_crf_at_zero_rate_is_one_over_lifetime() -> None:
    # limit r → 0 of the annuity factor is 1/n: 1/10 = 0.1
    assert capital_recovery_factor(D(0), D(10)) == D("0.1")


@pytest.mark.parametrize(("rate", "years"), [(D("-0.01"), D(10)), (D("0.05"), D(0))])
def test_crf_rejects_bad_inputs(rate: Decimal, years: Decimal) -> None:
    with pytest.raises(ValidationError):
        capital_recovery_factor(rate, years)


def test_cost_per_tonne_with_discounting() -> None:
    # capex 1000 CNY, n = 2, r = 0.1, opex 50, savings 100, abatement 10 t/yr:
    # annualised capex = 1000 × 121/210 = 12100/21 = 576.190476…
    # net = 12100/21 + 50 − 100 = 11050/21 = 526.190476…; per tonne = 11050/210 = 52.6190476… CNY/t
    p = project("x", 1000, 2, 10, opex=50, savings=100)
    assert abs(p.annualised_cost(D("0.1")) - D(11050) / D(21)) < D("1e-20")
    assert abs(p.cost_per_tco2e(D("0.1")) - D(11050) / D(210)) < D("1e-20")


# --- MACC ----------------------------------------------------------------------------------------


def test_macc_contract_example_discount_zero() -> None:
    # p1: 1000/10 = 100 CNY/yr, 10 t → 10 CNY/t; p2: (100 − 50)/10 = 5 CNY/t → order [p2, p1]
    curve = marginal_abatement_cost_curve([project("p1", 1000, 10, 10), project("p2", 1000, 10, 10, savings=50)], D(0))
    assert [(e.id, e.cost_per_tco2e, e.cumulative_abatement_tco2e) for e in curve] == [
        ("p2", D(5), D(10)),
        ("p1", D(10), D(20)),
    ]


def test_macc_order_changes_with_discounting() -> None:
    # A: capex 1000, n = 2, 100 t/yr.  r = 0: 500/100 = 5 CNY/t;  r = 0.1: (12100/21)/100 = 5.7619 CNY/t
    # B: no capex, opex 550 CNY/yr, 100 t/yr: 5.5 CNY/t at any rate
    a = project("A", 1000, 2, 100)
    b = project("B", 0, 2, 100, opex=550)
    assert [e.id for e in marginal_abatement_cost_curve([a, b], D(0))] == ["A", "B"]
    discounted = marginal_abatement_cost_curve([a, b], D("0.1"))
    assert [e.id for e in discounted] == ["B", "A"]
    assert abs(discounted[1].cost_per_tco2e - D(12100) / D(2100)) < D("1e-20")
    assert discounted[1].cumulative_abatement_tco2e == D(200)


def test_macc_negative_cost_first() -> None:
    # savings 300 > annualised capex 100 → (100 − 300)/20 = −10 CNY/t, a no-regret measure
    curve = marginal_abatement_cost_curve([project("x", 1000, 10, 10), project("led", 1000, 10, 20, savings=300)], D(0))
    assert curve[0].id == "led" and curve[0].cost_per_tco2e == D(-10)


# --- portfolios ----------------------------------------------------------------------------------

# r = 0, n = 10, so annualised cost = capex/10:
#   A: capex 60, 10 t → 6/10  = 0.6   CNY/t (cheapest per tonne)
#   B: capex 50,  7 t → 5/7   = 0.714 CNY/t
#   C: capex 50,  7 t → 5/7   = 0.714 CNY/t
KNAPSACK = [project("A", 60, 10, 10), project("B", 50, 10, 7), project("C", 50, 10, 7)]


def test_budget_portfolio_beats_greedy_by_cost() -> None:
    # Budget 100 CNY. Walking the MACC: take A (60), then B (110 > 100) and C do not fit → 10 t.
    # Optimum: B + C = 100 CNY → 14 t/yr.
    assert [e.id for e in marginal_abatement_cost_curve(KNAPSACK, D(0))] == ["A", "B", "C"]
    result = select_portfolio(KNAPSACK, D(0), budget=D(100))
    assert sorted(result.selected) == ["B", "C"]
    assert result.total_abatement_tco2e == D(14)
    assert result.total_capex == D(100)
    assert result.slack == {"portfolio-capex": D(0)}
    assert result.objective == "max_abatement_within_budget"


def test_target_portfolio_beats_greedy_by_cost() -> None:
    # Target 14 t/yr. Greedy: A (10 t, 6 CNY/yr) then B (17 t, 11 CNY/yr).
    # Optimum: B + C = 14 t at 5 + 5 = 10 CNY/yr.
    result = select_portfolio(KNAPSACK, D(0), target_tco2e=D(14))
    assert sorted(result.selected) == ["B", "C"]
    assert result.total_annualised_cost == D(10)
    assert result.slack == {"portfolio-abatement": D(0)}


def test_target_and_budget_together() -> None:
    # Target 10 t within budget 60: only A (60 CNY, 10 t) fits both; B + C would cost 100 capex.
    result = select_portfolio(KNAPSACK, D(0), budget=D(60), target_tco2e=D(10))
    assert result.selected == ["A"]


def test_unreachable_target_says_how_much_is_possible() -> None:
    # all three: 10 + 7 + 7 = 24 t; within budget 100: 14 t
    with pytest.raises(InfeasibleError, match="at most 24 tCO2e"):
        select_portfolio(KNAPSACK, D(0), target_tco2e=D(25))
    with pytest.raises(InfeasibleError, match="at most 14 tCO2e"):
        select_portfolio(KNAPSACK, D(0), budget=D(100), target_tco2e=D(15))


def test_no_budget_no_target_gives_no_regret_set() -> None:
    # led: (100 − 300)/20 < 0 → chosen; x: +10 CNY/t → not chosen
    result = select_portfolio([project("x", 1000, 10, 10), project("led", 1000, 10, 20, savings=300)], D(0))
    assert result.selected == ["led"] and result.objective == "no_regret"


def test_budget_tie_broken_by_lower_cost() -> None:
    # contract example: budget 1000 buys either p1 or p2 (10 t each); p2 is cheaper (5 vs 10 CNY/t)
    result = select_portfolio(
        [project("p1", 1000, 10, 10), project("p2", 1000, 10, 10, savings=50)], D(0), budget=D(1000)
    )
    assert result.selected == ["p2"]


# --- parsing -------------------------------------------------------------------------------------


def test_parse_plan_names_the_bad_field() -> None:
    doc = {
        "discount_rate": 0.05,
        "projects": [{"id": "a", "capex": 1, "lifetime_years": 0, "annual_abatement_tco2e": 1}],
    }
    with pytest.raises(ValidationError, match=r"projects\[0\]\.lifetime_years"):
        parse_plan(doc)
    doc["projects"] = [{"id": "a", "capex": "lots", "lifetime_years": 5, "annual_abatement_tco2e": 1}]
    with pytest.raises(ValidationError, match=r"projects\[0\]\.capex"):
        parse_plan(doc)
    doc["projects"] = [{"id": "a", "capex": 1, "lifetime_years": 5, "annual_abatement_tco2e": 1}] * 2
    with pytest.raises(DuplicateError):
        parse_plan(doc)


def test_parse_plan_keeps_money_exact() -> None:
    plan = parse_plan(
        {
            "discount_rate": 0.07,
            "projects": [
                {"id": "a", "capex": 0.1, "lifetime_years": 5, "annual_savings": 0.2, "annual_abatement_tco2e": 1}
            ],
        }
    )
    assert plan.discount_rate == D("0.07")
    assert plan.projects[0].capex == D("0.1") and plan.projects[0].annual_savings == D("0.2")


# --- CLI -----------------------------------------------------------------------------------------

CONTRACT_YAML = """discount_rate: 0.0
projects:
  - {id: p1, name: one, capex: 1000, lifetime_years: 10, annual_opex: 0, annual_savings: 0, annual_abatement_tco2e: 10}
  - {id: p2, name: two, capex: 1000, lifetime_years: 10, annual_opex: 0, annual_savings: 50, annual_abatement_tco2e: 10}
"""


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(CONTRACT_YAML, encoding="utf-8")
    return path


def cli_app() -> typer.Typer:
    app = new_app("t")
    register(app)
    return app


def test_cli_contract_json(plan_file: Path) -> None:
    result = CliRunner().invoke(cli_app(), ["retrofit", "plan", str(plan_file), "--budget", "1000", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(m["id"], m["cost_per_tco2e"], m["annual_abatement_tco2e"]) for m in doc["macc"]] == [
        ("p2", 5, 10),
        ("p1", 10, 10),
    ]
    assert doc["selected"] == ["p2"]
    assert doc["total_abatement_tco2e"] == 10 and doc["total_capex"] == 1000


def test_cli_target_alias_and_table(plan_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app(), ["retrofit", "plan", str(plan_file), "--target-tco2e", "15", "--json"])
    assert json.loads(result.stdout)["selected"] == ["p2", "p1"]  # 15 t needs both
    table = runner.invoke(cli_app(), ["retrofit", "plan", str(plan_file), "--target", "5"])
    assert table.exit_code == 0 and "p2" in table.stdout and "min_cost_for_target" in table.stdout


def test_cli_bad_input_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("discount_rate: 0\nprojects:\n  - {id: a, capex: 1, lifetime_years: 5}\n", encoding="utf-8")
    result = CliRunner().invoke(cli_app(), ["retrofit", "plan", str(bad), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "projects[0].annual_abatement_tco2e" in result.stderr


@pytest.mark.skipif(shutil.which("carbonpark") is None, reason="the carbonpark command is not installed")
def test_installed_command(plan_file: Path) -> None:
    proc = subprocess.run(
        ["carbonpark", "retrofit", "plan", str(plan_file), "--budget", "1000", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [m["id"] for m in json.loads(proc.stdout)["macc"]] == ["p2", "p1"]
