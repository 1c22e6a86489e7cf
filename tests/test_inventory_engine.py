"""The inventory engine: uncertainty by hand, Monte Carlo against the analytic interval, compilation,
recalculation when a boundary changes, steps, verification opinion, key emitters, cross-checks, calendar."""

from __future__ import annotations

import math
from datetime import date

import pytest

from carbonpark import accounting, inventory
from carbonpark.errors import ConflictError, ValidationError
from carbonpark.inventory import Input, Term, approach1, approach2

Z95 = 1.959963984540054


def test_approach1_sum_of_independent_sources_by_hand() -> None:
    # IPCC 2006 Vol.1 eq. 3.2: U = sqrt((100*10%)^2 + (200*5%)^2) = sqrt(100 + 100) = 14.1421 tCO2e
    r = approach1([Term("a", "1", 100.0, (Input("a", 0.10),)), Term("b", "2", 200.0, (Input("b", 0.05),))])
    assert r.total.upper - r.total.value == pytest.approx(math.sqrt(200.0), rel=1e-12)
    assert r.by_category["1"].upper == pytest.approx(110.0)
    assert r.by_category["2"].lower == pytest.approx(190.0)


def test_approach1_product_and_shared_factor_by_hand() -> None:
    # eq. 3.1: AD ±3 %, EF ±4 % → ±5 % of 1000 = 50
    single = approach1([Term("x", "1", 1000.0, (Input("ad", 0.03), Input("ef", 0.04)))])
    assert single.total.upper - 1000.0 == pytest.approx(50.0)
    # one factor (±10 %) shared by 100 and 200: fully correlated → 10 % of 300 = 30 (not sqrt(10²+20²)=22.36)
    shared = approach1([Term("a", "1", 100.0, (Input("grid", 0.10),)), Term("b", "1", 200.0, (Input("grid", 0.10),))])
    assert shared.total.upper - 300.0 == pytest.approx(30.0)


def test_monte_carlo_matches_analytic_on_a_linear_case() -> None:
    # A sum of independent normal terms is normal: the MC percentiles converge to value ± 1.96 σ.
    terms = [
        Term("boiler", "1", 1200.0, (Input("ad:boiler", 0.06),)),
        Term("kiln", "1", 800.0, (Input("ad:kiln", 0.10),)),
        Term("grid", "2", 2500.0, (Input("ad:grid", 0.04),)),
    ]
    a1, a2 = approach1(terms), approach2(terms, draws=200_000, seed=7)
    half = math.sqrt(72.0**2 + 80.0**2 + 100.0**2)  # 1200*6 %, 800*10 %, 2500*4 % → 146.83 tCO2e
    assert a1.total.upper - a1.total.value == pytest.approx(half)
    assert a2.total.lower == pytest.approx(a1.total.lower, abs=0.02 * half)
    assert a2.total.upper == pytest.approx(a1.total.upper, abs=0.02 * half)
    assert a2.by_category["1"].upper == pytest.approx(a1.by_category["1"].upper, abs=0.02 * 107.63)


def test_factor_defaults_come_from_the_cited_ipcc_ranges() -> None:
    # IPCC 2006 Vol.2 Ch.1 Table 1.2: natural gas NCV 48.0 (46.5-50.4) → (50.4-46.5)/2/48 = 4.0625 %
    row = inventory.factor_uncertainty("ncv", "natural_gas")
    assert row.u95 == pytest.approx(0.040625)
    assert "Table 1.2" in row.source
    assert inventory.activity_uncertainty("metered", "0.5S").u95 == pytest.approx(0.005)
    with pytest.raises(ValidationError, match="accuracy_class"):
        inventory.activity_uncertainty("metered", "class A")


def _two_enterprises() -> tuple[accounting.Inventory, list[accounting.ActivityRecord]]:
    records = [
        # 100 × 10^4 Nm3 natural gas: 100 × 389.31 × 0.0153 × 0.99 × 44/12 = 2162.188809 tCO2 (accounting doctest)
        accounting.ActivityRecord(1, "boiler", "natural_gas", 100, "10^4 Nm3", enterprise="A"),
        accounting.ActivityRecord(2, "boiler-b", "natural_gas", 50, "10^4 Nm3", enterprise="B"),
        accounting.ActivityRecord(3, "straw", "co2", 40, "t", method="measured", biogenic=True, enterprise="A"),
    ]
    return accounting.account(records), records


def test_compilation_categories_add_up_and_biogenic_apart() -> None:
    inv, records = _two_enterprises()
    comp = inventory.compile_inventory(inv, records, org="park", year=2024)
    assert comp.total_tco2e == pytest.approx(2162.188809 * 1.5, rel=1e-9)
    assert sum(comp.by_category.values()) == pytest.approx(comp.total_tco2e)
    assert comp.direct_by_gas["CO2"] == pytest.approx(comp.total_tco2e)
    assert comp.biogenic_co2_t == pytest.approx(40.0)
    doc = comp.document(approach1(comp.terms))
    assert list(doc) == [
        "org",
        "year",
        "total_tco2e",
        "by_category",
        "by_gas",
        "removals_tco2e",
        "biogenic_co2_t",
        "uncertainty",
    ]
    assert doc["uncertainty"]["lower_tco2e"] < doc["total_tco2e"] < doc["uncertainty"]["upper_tco2e"]


def test_recalculation_when_a_boundary_changes() -> None:
    inv, records = _two_enterprises()
    before = inventory.OrganisationalBoundary("equity_share", (inventory.EntityShare("B", 100.0),))
    after = inventory.OrganisationalBoundary("equity_share", (inventory.EntityShare("B", 60.0),))
    original = inventory.compile_inventory(inv, records, org="park", year=2020, boundary=before)
    again = inventory.compile_inventory(inv, records, org="park", year=2020, boundary=after)
    policy = inventory.RecalculationPolicy(2020, threshold_pct=5.0)
    result = inventory.recalculate(policy, original, again, "structural")
    # B is 1081.09 of 3243.28; 40 % of B leaves: -432.44 tCO2e = -13.33 % ≥ 5 % → recalculate
    assert result.recalculated_tco2e - result.original_tco2e == pytest.approx(-0.4 * 2162.188809 / 2)
    assert result.change_pct == pytest.approx(-40.0 * (1 / 3))
    assert result.triggered
    assert result.side_by_side[-1]["category"] == "total"
    small = inventory.OrganisationalBoundary("equity_share", (inventory.EntityShare("B", 90.0),))
    minor = inventory.compile_inventory(inv, records, org="park", year=2020, boundary=small)
    assert not inventory.recalculate(policy, original, minor).triggered  # -3.33 % < 5 %


def test_excluded_category_is_kept_apart_with_its_reason() -> None:
    records = [
        accounting.ActivityRecord(1, "gas", "natural_gas", 10, "10^4 Nm3"),
        accounting.ActivityRecord(2, "grid", "grid_electricity", 1000, "MWh"),
    ]
    op = inventory.OperationalBoundary(included=("1",), excluded={"2": "reported by the landlord"})
    comp = inventory.compile_inventory(accounting.account(records), records, org="x", year=2024, operational=op)
    assert comp.by_category["2"] == 0.0
    assert comp.excluded_tco2e["2"] == pytest.approx(570.3)  # 1000 MWh × 0.5703 tCO2/MWh
    assert comp.total_tco2e == pytest.approx(216.2188809)
    with pytest.raises(ValidationError, match="reason"):
        inventory.OperationalBoundary(included=("1",), excluded={"2": " "})


def test_steps_run_in_order_with_who_and_when() -> None:
    events: list[inventory.StepEvent] = []
    with pytest.raises(ConflictError, match="feasibility"):
        inventory.check_transition(inventory.INVENTORY_STEPS, events, "boundary", "in_progress")
    inventory.check_transition(inventory.INVENTORY_STEPS, events, "feasibility", "done")
    events.append(inventory.StepEvent("feasibility", "done", "alice", 1_700_000_000_000, "ok"))
    inventory.check_transition(inventory.INVENTORY_STEPS, events, "boundary", "in_progress")
    status = inventory.replay(inventory.INVENTORY_STEPS, events)
    assert (status[0].state, status[0].actor, status[0].at_ms) == ("done", "alice", 1_700_000_000_000)
    assert len(inventory.INVENTORY_STEPS) == 10 and len(inventory.VERIFICATION_STEPS) == 8


def test_opinion_materiality_and_key_emitters() -> None:
    assert inventory.opinion(10_000.0, [inventory.Finding("minor", "x", 499.0)]).opinion == "unmodified"
    assert inventory.opinion(10_000.0, [inventory.Finding("minor", "x", 500.0)]).opinion == "adverse"
    assert inventory.opinion(10_000.0, [inventory.Finding("major", "x", 10.0)]).opinion == "qualified"
    closed = inventory.Finding("major", "x", 900.0, status="closed")
    assert inventory.opinion(10_000.0, [closed]).opinion == "unmodified"
    assert inventory.is_key_emitter(26_000.0) and not inventory.is_key_emitter(25_999.0)
    assert [r["org"] for r in inventory.key_emitters({"a": 25_999.0, "b": 30_000.0, "c": 26_000.0})] == ["b", "c"]
    assert inventory.retain_until(date(2024, 2, 29)) == date(2029, 2, 28)


def test_cross_checks() -> None:
    ncv = inventory.crosschecks.ncv_batches(
        [{"fuel": "coal", "batch": "B1", "mass_t": 500}, {"fuel": "coal", "batch": "B2", "mass_t": 400}],
        [{"fuel": "coal", "batch": "B1", "ncv": 20.9}, {"fuel": "coal", "batch": "B9", "ncv": 23.0}],
    )
    assert [(r.ref, r.ok, r.severity) for r in ncv] == [
        ("coal/B1", True, "minor"),
        ("coal/B2", False, "minor"),
        ("coal/B9", False, "major"),
    ]
    meter = inventory.crosschecks.activity_vs_meter({"s1": 103.0, "s2": 100.5}, {"s1": 100.0, "s2": 100.0})
    assert [r.ok for r in meter] == [False, True]  # 3 % > 2 % tolerance; 0.5 % within
    assert meter[0].difference_pct == pytest.approx(3.0)
    balance = inventory.crosschecks.energy_balance({"main": 1000.0}, {"main": {"a": 600.0, "b": 460.0}})
    assert not balance[0].ok  # sub-meters 1060 > 1000 by 6 % > 5 %
    # modified z-score: peers 1.0, 1.1, 0.9, 1.05, 5.0 → median 1.05, MAD 0.05; z(5.0) = 0.6745×3.95/0.05 = 53.3
    out = inventory.crosschecks.industry_outliers(
        {"a": 1.0, "b": 1.1, "c": 0.9, "d": 1.05, "e": 5.0}, dict.fromkeys("abcde", "C26")
    )
    assert [r.ref for r in out if not r.ok] == ["e"]


def test_calendar_and_guideline_choice() -> None:
    rem = {r.key: r for r in inventory.reminders(2024, date(2025, 3, 10))}
    assert rem["report"].due == date(2025, 3, 31) and rem["report"].status == "due_soon"
    assert rem["verification"].status == "upcoming"
    assert inventory.reminders(2024, date(2025, 4, 1))[0].status == "overdue"
    assert inventory.default_guideline("C3011").key == "cement"
    plan = inventory.check_plan(
        [
            {
                "source": "s1",
                "parameter": "activity",
                "method": "measured",
                "frequency": "monthly",
                "responsible": "王工",
                "meter": "M1",
            }
        ]
    )
    assert inventory.plan_gaps(plan, ["s1", "s2"]) == ["s2"]
    with pytest.raises(ValidationError, match="meter"):
        inventory.check_plan(
            [{"source": "s", "parameter": "ncv", "method": "measured", "frequency": "per_batch", "responsible": "x"}]
        )
