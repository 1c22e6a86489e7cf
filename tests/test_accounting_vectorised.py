"""The vectorised path (issue 4 item 10): rows with resolved factor rows → tCO2e with lineage.

Hand numbers: grid 0.5703 tCO2/MWh (MEE ETS notice, Feb 2023) = 0.0005703 t/kWh; diesel
42.652 GJ/t × 20.2 tC/TJ × 0.98 × 44/12 (NDRC 2015 default table, GB/T 32151) per tonne;
HFC-134a factor in CO2e keeps GWP 1; CH4 under AR5 has GWP 28.
"""

from __future__ import annotations

import numpy as np
import pytest

from carbonpark.accounting import ActivityRecord, account
from carbonpark.accounting.vectorised import emissions, factor_table
from carbonpark.errors import ValidationError
from carbonpark.factors import FactorRow, default_library

LIB = default_library()
GRID = LIB.find("emission_factor", "grid_electricity", gas="CO2", region="national", purpose="ets_report", year=2023)
DIESEL = tuple(LIB.find(p, "diesel") for p in ("ncv", "carbon_content", "oxidation_rate"))
CH4 = FactorRow("user:ch4", "emission_factor", "wastewater", 0.25, "kgCH4/m3", "test set", gas="CH4")
DIESEL_T_PER_T = 42.652 * 20.2e-3 * 0.98 * 44 / 12


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return factor_table([(GRID, "kWh"), (DIESEL, "t"), (CH4, "m3")], "AR5")


def test_coefficients_and_lineage_by_hand(table) -> None:  # type: ignore[no-untyped-def]
    assert table.coefficient.tolist() == pytest.approx([0.5703e-3, DIESEL_T_PER_T, 0.25e-3 * 28], rel=1e-12)
    result = emissions(np.array([1000.0, 2.0, 400.0, 0.0]), np.array([0, 1, 2, 0]), table)
    # 1000 kWh × 0.5703e-3; 2 t diesel; 400 m3 × 0.25 kg/m3 × 28 = 2.8 tCO2e
    assert result.tco2e.tolist() == pytest.approx([0.5703, 2 * DIESEL_T_PER_T, 2.8, 0.0], rel=1e-12)
    assert result.factor_id(0) == GRID.id and result.gwp_id(0) == "gwp:AR5:CO2"
    assert result.factor_id(1) == "+".join(r.id for r in DIESEL) and result.gwp_id(2) == "gwp:AR5:CH4"


def test_agrees_with_the_row_engine(table) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ActivityRecord(1, "a", "grid_electricity", 1234.5, "kWh", year=2023),
        ActivityRecord(2, "b", "diesel", 3.25, "t"),
    ]
    engine = account(rows)
    fast = emissions(np.array([1234.5, 3.25]), np.array([0, 1]), table)
    assert fast.total() == pytest.approx(engine.total_tco2e, rel=1e-12)


@pytest.mark.parametrize(
    ("amount", "index", "message"),
    [
        ([1.0, float("nan")], [0, 0], "row 1, amount"),
        ([1.0, -2.0], [0, 0], "row 1, amount"),
        ([float("inf"), 1.0], [0, 0], "row 0, amount"),
        ([1.0, 1.0], [0, 3], "row 1, factor_index"),
        ([1.0, 1.0], [-1, 0], "row 0, factor_index"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_returned(table, amount, index, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=message):
        emissions(np.array(amount), np.array(index), table)
