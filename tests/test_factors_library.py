"""Tests of the packaged factor library (carbonpark.factors).

Expected values are those of /work/shared/REFERENCE_DATA.md (sections named per test), which
the packaged CSV files carry with their sources.
"""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest

from carbonpark.errors import UnknownFactorError, ValidationError
from carbonpark.factors import FACTOR_COLUMNS, default_library, read_factor_csv


def _data_files() -> list[str]:
    return sorted(p.name for p in files("carbonpark.factors").joinpath("data").iterdir() if p.name.endswith(".csv"))


@pytest.mark.parametrize("name", [n for n in _data_files() if n != "activities.csv"])
def test_every_row_is_cited_dated_and_graded(name: str) -> None:
    text = files("carbonpark.factors").joinpath("data", name).read_text(encoding="utf-8")
    header = next(csv.reader(text.splitlines()))
    assert tuple(header) == FACTOR_COLUMNS
    rows = read_factor_csv(text, "t", origin="library", where=name)
    assert rows
    for row in rows:
        assert row.source_document and row.table_clause, row.id
        assert row.valid_from is not None, row.id
        assert row.grade in ("A", "B", "C"), row.id
        assert row.unit, row.id


def test_both_fuel_tables_are_named_and_differ_where_the_sources_differ() -> None:
    lib = default_library()
    # REFERENCE_DATA §1a (legacy 42.652 GJ/t) vs §1b (MEE 2022 43.330 GJ/t) for diesel.
    assert lib.find("ncv", "diesel", fuel_set="cn-ndrc-2015").value == 42.652
    assert lib.find("ncv", "diesel", fuel_set="cn-mee-2022").value == 43.330
    # §1b: bituminous coal 23.204 GJ/t in the newer table, 19.570 in the older.
    assert lib.find("ncv", "bituminous_coal", fuel_set="cn-mee-2022").value == 23.204
    assert lib.find("ncv", "bituminous_coal").value == 19.570


def test_unknown_factor_set_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFactorError, match=r"cn-mee-2022.*cn-ndrc-2015"):
        default_library().check_fuel_set("nope")
    with pytest.raises(UnknownFactorError, match="AR5"):
        default_library().check_gwp_set("AR7")


def test_grid_factor_by_purpose_and_year() -> None:
    lib = default_library()
    find = lib.find
    # REFERENCE_DATA §3b: ETS report factor 0.5703 for 2022 onward, 0.5810 for 2021, 0.6101 for 2019-2020.
    assert (
        find("emission_factor", "grid_electricity", region="national", purpose="ets_report", year=2024).value == 0.5703
    )
    assert (
        find("emission_factor", "grid_electricity", region="national", purpose="ets_report", year=2021).value == 0.5810
    )
    assert (
        find("emission_factor", "grid_electricity", region="national", purpose="ets_report", year=2020).value == 0.6101
    )
    # §3a: consumption-side national average 2023 = 0.5306, 2022 = 0.5366 kgCO2/kWh; 2023 east China 0.5500.
    row = find("emission_factor", "grid_electricity", region="national", purpose="consumption", year=2023)
    assert (row.value, row.unit, row.grade) == (0.5306, "kgCO2/kWh", "A")
    assert (
        find("emission_factor", "grid_electricity", region="national", purpose="consumption", year=2022).value == 0.5366
    )
    assert (
        find("emission_factor", "grid_electricity", region="east_china", purpose="consumption", year=2023).value == 0.55
    )
    with pytest.raises(UnknownFactorError, match="years available"):
        find("emission_factor", "grid_electricity", region="national", purpose="ets_report", year=2015)


def test_gwp_sets() -> None:
    lib = default_library()
    # REFERENCE_DATA §4: CH4 21/25/28/27.9, fossil 29.8; N2O 310/298/265/273; SF6 23 900/22 800/23 500/25 200.
    assert [lib.gwp(s, "CH4").value for s in ("SAR", "AR4", "AR5", "AR6")] == [21, 25, 28, 27.9]
    assert lib.gwp("AR6", "CH4", "fossil").value == 29.8
    assert lib.gwp("AR5", "CH4", "fossil").value == 28  # AR5 set has one CH4 value
    assert [lib.gwp(s, "N2O").value for s in ("SAR", "AR4", "AR5", "AR6")] == [310, 298, 265, 273]
    assert [lib.gwp(s, "SF6").value for s in ("SAR", "AR4", "AR5", "AR6")] == [23900, 22800, 23500, 25200]
    assert lib.gwp("AR5", "NF3").value == 16100
    with pytest.raises(UnknownFactorError, match="has no value for gas 'NF3'"):
        lib.gwp("SAR", "NF3")


def test_user_set_takes_precedence_and_is_marked() -> None:
    text = (
        ",".join(FACTOR_COLUMNS)
        + "\nmy:diesel:ncv,ncv,diesel,,,,,43.0,GJ/t,lab report 2025-07,batch 17,2025-01-01,,A,\n"
        + "my:freight,emission_factor,road_freight,CO2e,,,,0.1,kgCO2e/(t*km),carrier data,,2025-01-01,,B,\n"
    )
    lib = default_library().with_user_set("my", read_factor_csv(text, "my"))
    row = lib.find("ncv", "diesel")
    assert (row.value, row.origin, row.set_name) == (43.0, "user", "my")
    assert lib.activity("road_freight") is not None
    assert default_library().find("ncv", "diesel").value == 42.652  # the packaged library is unchanged


def test_bad_user_factor_row_names_line_and_column() -> None:
    text = ",".join(FACTOR_COLUMNS) + "\nx,ncv,diesel,,,,,abc,GJ/t,src,,,,A,\n"
    with pytest.raises(ValidationError, match="line 2, column value"):
        read_factor_csv(text, "u", where="u.csv")


def test_activity_names_and_close_matches() -> None:
    lib = default_library()
    found = {name: lib.activity(name) for name in ("天然气", "原煤", "HFC-134a")}
    assert {k: (v.id if v else None) for k, v in found.items()} == {
        "天然气": "natural_gas",
        "原煤": "raw_coal",
        "HFC-134a": "hfc_134a",
    }
    assert "diesel" in lib.close_activities("desel")
