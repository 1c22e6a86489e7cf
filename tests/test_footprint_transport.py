"""Stored transport legs (``footprint_transport_legs``): import, replace, use in footprints, lineage.

The park is the three-level chain of ``test_footprint_park`` (January 2025, grid factor 0.5703 tCO2/MWh
of factor set ``cn-ndrc-2015``, so 0.0005703 tCO2e/kWh). Legs stored here, by hand
(leg = distance_km × mass_t × factor_tco2e_per_tkm):

* A-part ← steel (1.1 t/t in the BOM, mass from the BOM): rail 500 km × 1.1 t × 0.00003 = 0.0165,
  then truck 100 km × 1.1 t × 0.0001 = 0.011; transport 0.0275.
  part = 2.2 + 0.0275 + 100 kWh × 0.0005703 (0.05703) = **2.28453** tCO2e/t.
* B-frame ← A-part (0.01 t/piece): truck 20 km × 0.01 t × 0.0001 = 0.00002.
  frame = 0.01 × 2.28453 + 0.0005 × 3.0 + 2 kWh × 0.0005703 + 0.00002
  = 0.0228453 + 0.0015 + 0.0011406 + 0.00002 = **0.0255059** tCO2e/piece.
* C-machine ← B-frame (2 pieces, not a mass unit: ``mass_t`` 0.05 t per machine given):
  truck 10 km × 0.05 t × 0.0001 = 0.00005.
  machine = 2 × 0.0255059 + 50 kWh × 0.0005703 (0.028515) + 0.00005 = **0.0795768** tCO2e/piece.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from carbonpark.errors import NotFoundError, ValidationError
from carbonpark.services import footprints as fp
from carbonpark.services import identifiers as ids
from carbonpark.services.registry_io import SECTIONS, import_registry
from carbonpark.store import connect, session, upgrade
from carbonpark.store.schema import AuditEntry
from carbonpark.store.schema_identifiers import TransportLegRow
from test_footprint_park import ADMIN, TRUCK, _park

PERIOD = fp.FootprintOptions(period="2025-01", factor_set="cn-ndrc-2015")

LEGS_CSV = """# legs of the test chain (factors made up for the test)
product,material,input_product,mode,distance_km,mass_t,factor_tco2e_per_tkm,source,grade
A-part,steel,,rail,500,,0.00003,test rail factor,C
A-part,steel,,truck,100,,0.0001,test truck factor,B
B-frame,,A-part,truck,20,,0.0001,test truck factor,
C-machine,,B-frame,truck,10,0.05,0.0001,test truck factor,B
"""


def _legs(db: str, tmp_path: Path, text: str = LEGS_CSV, name: str = "legs.csv") -> dict[str, int]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return fp.import_transport(db, path, "tester")


def _count(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).select_from(TransportLegRow)) or 0)


def test_stored_legs_by_hand_registered_and_in_the_lineage(db_url: str, tmp_path: Path) -> None:
    h = _park(db_url)
    assert _legs(db_url, tmp_path) == {"pairs": 3, "legs": 4, "removed": 0}
    with session(db_url) as s:
        result = fp.park_footprints(s, PERIOD, ADMIN)
    part, frame, machine = (result.footprints[h[k]] for k in ("A-part", "B-frame", "C-machine"))
    assert part.by_stage["inbound_transport"] == pytest.approx(0.0275, abs=1e-12)
    assert part.tco2e_per_unit == pytest.approx(2.28453, abs=1e-9)
    assert frame.by_stage["inbound_transport"] == pytest.approx(0.00002, abs=1e-12)
    assert frame.tco2e_per_unit == pytest.approx(0.0255059, abs=1e-9)
    assert machine.by_stage["inbound_transport"] == pytest.approx(0.00005, abs=1e-12)
    assert machine.tco2e_per_unit == pytest.approx(0.0795768, abs=1e-9)
    # lineage: the legs in their stored order, each with its formula, source and grade
    terms = [c for c in part.contributions if c.kind == "transport"]
    assert [c.ref for c in terms] == [f"rail: {h['steel']}", f"truck: {h['steel']}"]
    assert terms[0].formula == "500.0 km × 1.1 t × 3e-05 tCO2e/(t·km)"
    assert terms[0].source is not None and terms[0].source.startswith("test rail factor (grade C; transport leg ")
    frame_leg = next(c for c in frame.contributions if c.kind == "transport")
    assert frame_leg.source is not None and frame_leg.source.startswith("test truck factor (transport leg ")
    # the registered CARBON_FOOTPRINT value carries the transport stage
    with session(db_url) as s:
        record = ids.load_record(s, h["A-part"])
    assert record is not None
    value = json.loads(next(v.data for v in record.values if v.type == "CARBON_FOOTPRINT"))
    assert value["by_stage"]["inbound_transport"] == pytest.approx(0.0275, abs=1e-12)


def test_import_replaces_each_pair_and_is_all_or_nothing(db_url: str, tmp_path: Path) -> None:
    _park(db_url)
    _legs(db_url, tmp_path)
    # the same file again: the same four legs, the old ones removed (in the audit log)
    assert _legs(db_url, tmp_path) == {"pairs": 3, "legs": 4, "removed": 4}
    assert _count(db_url) == 4
    # a YAML file naming one pair replaces that pair only: A-part ← steel becomes one truck leg
    one = "transport:\n  - {product: A-part, material: steel, mode: truck, distance_km: 100, "
    one += "factor_tco2e_per_tkm: 0.0001, source: test truck factor, grade: B}\n"
    assert _legs(db_url, tmp_path, one, "one.yaml") == {"pairs": 1, "legs": 1, "removed": 2}
    assert _count(db_url) == 3
    with session(db_url) as s:
        part = fp.park_footprints(s, PERIOD, ADMIN, register=False).footprints
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "footprint_transport_legs")).all()
    assert max(f.by_stage["inbound_transport"] for f in part.values()) == pytest.approx(0.011, abs=1e-12)
    assert actions.count("create") == 9 and actions.count("delete") == 6
    # a bad row anywhere stores nothing: row 2 names paint, which is not in A-part's bill of materials
    bad = LEGS_CSV.replace("A-part,steel,,truck", "A-part,paint,,truck")
    with pytest.raises(ValidationError) as err:
        _legs(db_url, tmp_path, bad, "bad.csv")
    assert err.value.field == "transport[2], product A-part, input paint"
    assert "bill of materials" in err.value.expected
    assert _count(db_url) == 3


@pytest.mark.parametrize(
    ("row", "field", "expected"),
    [
        # a frame is counted in pieces: the mass moved must be given
        ("C-machine,,B-frame,truck,10,,0.0001,x,B", "transport[1], mass_t", "B-frame is counted in piece"),
        ("A-part,steel,,truck,100,,0.0001,x,D", "transport[1], grade", "'A', 'B', 'C' or ''"),
        ("A-part,steel,,truck,0,,0.0001,x,B", "transport[1], distance_km", "greater than 0"),
        ("A-part,steel,A-part,truck,100,,0.0001,x,B", "transport[1], material", "exactly one of material"),
        ("A-part,steel,,truck,100,,0.0001,,B", "transport[1], source", "Field required"),
    ],
)
def test_bad_rows_name_the_field(row: str, field: str, expected: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bad.db'}"
    _park(db)
    header = LEGS_CSV.splitlines()[1]
    with pytest.raises(ValidationError) as err:
        _legs(db, tmp_path, f"{header}\n{row}\n")
    assert err.value.field == field
    assert expected in err.value.expected
    assert _count(db) == 0
    connect(db).dispose()


def test_unknown_product_and_missing_columns(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'unknown.db'}"
    _park(db)
    with pytest.raises(NotFoundError):
        _legs(db, tmp_path, "product,material,mode,distance_km,factor_tco2e_per_tkm,source\nZ-x,steel,truck,1,0,x\n")
    with pytest.raises(ValidationError) as err:
        _legs(db, tmp_path, "product,material,mode\nA-part,steel,truck\n")
    assert err.value.field == "legs.csv, header"
    connect(db).dispose()


def test_options_replace_a_stored_pair_for_one_run(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'whatif.db'}"
    h = _park(db)
    _legs(db, tmp_path)
    whatif = fp.FootprintOptions(period="2025-01", factor_set="cn-ndrc-2015", transport={"A-part": {"steel": (TRUCK,)}})
    with session(db) as s:
        got = fp.park_footprints(s, whatif, ADMIN, register=False).footprints
    # A-part ← steel: only the option's truck leg, 0.011 (part 2.26803 as in test_footprint_park);
    # B-frame ← A-part keeps its stored leg: frame = 0.01 × 2.26803 + 0.0015 + 0.0011406 + 0.00002
    assert got[h["A-part"]].tco2e_per_unit == pytest.approx(2.26803, abs=1e-9)
    assert got[h["B-frame"]].tco2e_per_unit == pytest.approx(0.0253409, abs=1e-9)
    connect(db).dispose()


def test_cli_imports_legs_and_footprints_use_them(tmp_path: Path) -> None:
    from carbonpark.cli.main import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    h = _park(db)
    path = tmp_path / "legs.csv"
    path.write_text(LEGS_CSV, encoding="utf-8")
    runner = CliRunner()
    imported = runner.invoke(app, ["footprint-transport", str(path), "--db", db, "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"pairs": 3, "legs": 4, "removed": 0}
    args = ["footprints", "--period", "2025-01", "--db", db, "--factor-set", "cn-ndrc-2015", "--json"]
    got = runner.invoke(app, args)
    assert got.exit_code == 0, got.output
    machine = json.loads(got.stdout)["products"][h["C-machine"]]
    assert machine["tco2e_per_unit"] == pytest.approx(0.0795768, abs=1e-9)
    legs = [t for t in machine["lineage"] if t["kind"] == "transport"]
    assert len(legs) == 1 and legs[0]["formula"] == "10.0 km × 0.05 t × 0.0001 tCO2e/(t·km)"
    connect(db).dispose()


REGISTRY = """
park: {name: 运输园区, handle_prefix: "4321"}
materials:
  - {code: steel, name: 钢板, unit: t}
enterprises:
  - {name: 甲公司, credit_code: 91350100M000100Y43, industry_code: C3311}
products:
  - {code: part, name: 零件, unit: t, enterprise: 91350100M000100Y43}
bom:
  - {product: part, material: steel, amount: 1.1}
transport:
  - {product: part, material: steel, mode: rail, distance_km: 500, factor_tco2e_per_tkm: 0.00003, source: t, grade: C}
  - {product: part, material: steel, mode: truck, distance_km: 100, factor_tco2e_per_tkm: 0.0001, source: t}
"""


@pytest.mark.skipif(
    "transport" not in {name for name, _, _ in SECTIONS},
    reason="registry import has no 'transport' section yet (change requested in services/registry_io.py)",
)
def test_registry_import_takes_a_transport_section(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade(db)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    created = import_registry(db, path, "tester")
    assert created["transport"] == 2
    with session(db) as s:
        fp.register_supplier_footprint(s, "steel", 2.0, "t", "test", ADMIN)
        got = fp.park_footprints(s, fp.FootprintOptions(period="2025-01"), ADMIN, register=False)
    # no metered energy: part = 1.1 × 2.0 + 500 × 1.1 × 0.00003 + 100 × 1.1 × 0.0001 = 2.2 + 0.0165 + 0.011
    assert next(iter(got.footprints.values())).tco2e_per_unit == pytest.approx(2.2275, abs=1e-12)
    connect(db).dispose()
