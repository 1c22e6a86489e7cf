"""Tests of park comprehensive accounting, formulas (3)-(7) (the guide §4.3, SPEC §3).

The numbers are small hand-made examples; each expected value is worked out in a comment.
"""

from __future__ import annotations

import math

import pytest

from carbonpark.accounting import (
    ActivityRecord,
    EnergyTransfer,
    ParkComponent,
    account,
    park_account,
    park_components,
)
from carbonpark.errors import ValidationError

C = ParkComponent


def test_park_resale_of_grid_electricity_is_counted_once() -> None:
    # The park buys 1,000 MWh (× 0.5703 = 570.3 tCO2, REFERENCE_DATA §8 case 2) and resells all of it
    # to enterprise E1, which counts the same 570.3 in its scope 2. Park total must be 570.3, not 1,140.6.
    components = [
        C("park_energy", "purchased_electricity_and_heat", "park", 570.3),
        C("enterprises", "purchased_electricity_and_heat", "E1", 570.3),
    ]
    result = park_account(components, [EnergyTransfer("park", "E1", "electricity", 1000, "MWh", 570.3)])
    assert math.isclose(result.total_tco2e, 570.3)
    assert math.isclose(result.transfer_adjustment_tco2e, -570.3)
    assert result.reconciliation[-1].label.startswith("− transfer electricity park→E1")
    assert math.isclose(result.reconciliation[-1].running_total_tco2e, 570.3)


def test_chp_heat_deducted_at_sender_needs_no_adjustment() -> None:
    # E1 burns fuel for 1,000 tCO2 and exports heat worth 300 tCO2, deducted per GB/T 32150 (−300);
    # E2 counts +300 for the heat. Park: 1000 − 300 + 300 = 1000; nothing to remove.
    components = [
        C("enterprises", "fuel_combustion", "E1", 1000.0),
        C("enterprises", "purchased_electricity_and_heat", "E1", -300.0),
        C("enterprises", "purchased_electricity_and_heat", "E2", 300.0),
    ]
    transfer = EnergyTransfer("E1", "E2", "heat", 2727.27, "GJ", 300.0, seller_deducted_tco2e=300.0)
    result = park_account(components, [transfer])
    assert math.isclose(result.total_tco2e, 1000.0)
    assert result.transfer_adjustment_tco2e == 0.0
    assert math.isclose(result.ets_boundary_tco2e, 1000.0)


def test_formula3_terms_deductions_and_gaps() -> None:
    components = [
        C("park_energy", "purchased_electricity_and_heat", "park", 100.0),
        C("enterprises", "fuel_combustion", "E1", 1000.0),
        C("enterprises", "process", "E1", 200.0),
        C("enterprises", "materials", "E1", None),  # known gap: no upstream factors
        C("public", "public_equipment", "park", 50.0),
        C("public", "waste_treatment", "park", 25.0),
        C("new_infra", "servers", "park", 30.0),
        C("transport", "commuting", "park", 40.0),
        C("fixed_in_products", "fixed_in_products", "E1", 60.0),
        C("sinks", "sinks", "park", 10.0),
        C("ccus", "ccus", "E1", 5.0),
    ]
    result = park_account(components)
    # (3): 100 + (1000 + 200) + (50 + 25) + 30 + 40 − 60 − 10 − 5 = 1,370
    assert math.isclose(result.total_tco2e, 1370.0)
    assert result.terms["public"] == 75.0  # (5)
    assert result.terms["new_infra"] == 30.0  # (6), base stations and cooling are gaps
    assert result.parts["new_infra"]["base_stations"] is None
    assert "enterprises.materials" in result.gaps and "transport.in_park" in result.gaps
    assert not result.complete
    # ETS boundary: enterprise combustion + process + purchased energy = 1,200
    assert math.isclose(result.ets_boundary_tco2e, 1200.0)
    assert [line.tco2e for line in result.reconciliation][:3] == [100.0, 1200.0, 75.0]


def test_a_term_without_data_is_a_gap_never_zero() -> None:
    result = park_account([C("enterprises", "fuel_combustion", "E1", 10.0)])
    assert result.terms["public"] is None and result.terms["sinks"] is None
    assert result.reconciliation[2].reason == "gap: no data"


def test_bad_components_are_rejected() -> None:
    with pytest.raises(ValidationError, match="term"):
        park_account([C("factories", "fuel_combustion", "E1", 1.0)])
    with pytest.raises(ValidationError, match="sinks"):
        park_account([C("sinks", "sinks", "park", -5.0)])


def test_components_from_inventories_end_to_end() -> None:
    R = ActivityRecord
    park_inv = account([R(1, "substation", "grid_electricity", 1000, "MWh", year=2023)])
    e1_inv = account(
        [
            R(1, "boiler", "natural_gas", 100, "10^4 Nm3"),
            R(2, "mains", "grid_electricity", 1000, "MWh", year=2023),
            R(3, "kiln", "limestone", 10000, "t", carbonate_fraction=0.9),
        ]
    )
    components = park_components(park_inv, "park", term="park_energy") + park_components(e1_inv, "E1")
    result = park_account(components, [EnergyTransfer("park", "E1", "electricity", 1000, "MWh", 570.3)])
    # park 570.3 + E1 (2162.188809 gas, §8 case 3 + 570.3 + 3960 limestone, §8 case 5b) − 570.3 resale
    assert math.isclose(result.total_tco2e, 2162.188809 + 570.3 + 3960.0, rel_tol=1e-9)
    assert math.isclose(result.parts["enterprises"]["process"] or 0.0, 3960.0)
