"""Issue 7 "Done when" on the small demo park: every entity resolves (API and CLI), products are traced.

The small demo (6 enterprises) is built once; its ``footprint`` step registers every registry entity,
the nodes and virtual assets, the stored transport legs (``services/data/demo-transport-legs.csv``) and
the footprint of every product. Transport by hand from that file (leg = km × t × tCO2e/(t·km); road
0.000078 = GB/T 51366-2019 heavy diesel truck 0.078 kgCO2e/(t·km), rail 0.00002782 = DEFRA freight train):

* chem1-chem: methanol 0.62 t rail 1800 km (0.03104712) + truck 60 km (0.0029016); caustic soda 0.08 t
  truck 150 km (0.000936) → 0.03488472 tCO2e/t;
* metal1-part: steel sheet 1.08 t truck 180 km (0.0151632); zinc 0.012 t rail 1100 km (0.000367224) +
  truck 50 km (0.0000468) → 0.015577224 tCO2e/t;
* elec1-board: laminate 0.000068 t truck 40 km (2.1216e-7); copper 0.00015 t truck 700 km (8.19e-6);
  metal1-part 0.0004 t truck 3 km (9.36e-8) → 8.49576e-6 tCO2e/piece;
* tex1-fabric: grey fabric 0.252 t truck 150 km (0.0029484); dye 0.015 t truck 200 km (0.000234) → 0.0031824;
* food1-food: flour 0.55 t truck 650 km (0.027885); pork 0.3 t truck 250 km (0.00585) → 0.033735;
* dc1-rack: no bill of materials → 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from carbonpark.api.app import create_app
from carbonpark.footprint import trace
from carbonpark.identifiers import Reader
from carbonpark.services import footprints as fp
from carbonpark.services import identifiers as ids
from carbonpark.services.demo import build_demo
from carbonpark.store import connect, session
from carbonpark.store.schema import BomLine, Material, Product
from carbonpark.store.schema_identifiers import Identifier

TRANSPORT = {
    "chem1-chem": 0.03488472,
    "metal1-part": 0.015577224,
    "elec1-board": 8.49576e-6,
    "tex1-fabric": 0.0031824,
    "food1-food": 0.033735,
    "dc1-rack": 0.0,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("demo")
    db = f"sqlite:///{out / 'demo.db'}"
    build_demo(db, "small", seed=5, year=2025, out_dir=out)
    summary = fp.demo_footprints(db, 2025, out / "run")
    with session(db) as s:
        batch = fp.batch_footprint(
            s,
            "metal1-part",
            "M-0115",
            "2025-01-15T00:00",
            "2025-01-16T00:00",
            20,
            Reader(name="demo", role="park_admin"),
            fp.FootprintOptions(period="2025"),
        )
        handles = {
            model.__tablename__: [str(h) for h in s.scalars(select(model.handle).order_by(model.id))]  # type: ignore[attr-defined]
            for model, _ in ids.ENTITY_MODELS.values()
        }
        handles["virtual"] = list(s.scalars(select(Identifier.handle).where(Identifier.entity.is_(None))))
    yield {"db": db, "summary": summary, "handles": handles, "batch": batch["handle"]}
    connect(db).dispose()


def test_every_entity_of_the_demo_park_resolves_over_the_api(demo: dict[str, Any]) -> None:
    handles = demo["handles"]
    # every entity type of the registry is present in the small demo, and the virtual assets too
    assert all(handles[t] for t in handles), {t: len(v) for t, v in handles.items()}
    assert {h.split("/")[1].split(".")[0] for h in handles["virtual"]} == {"model", "algo", "proc", "batch"}
    with TestClient(create_app(demo["db"])) as client:
        for kind, listed in handles.items():
            for handle in listed:
                got = client.get(f"/api/handles/{handle}")  # anonymous: the public values
                assert (got.status_code, got.json()["responseCode"]) == (200, 1), (kind, handle, got.text)
                body = got.json()
                assert body["handle"] == handle and body["values"], (kind, handle)
                if kind != "virtual":  # a registry entity points to its API resource
                    assert any(v["type"] == "URL" for v in body["values"]), (kind, handle)


def test_one_entity_of_each_type_resolves_with_the_cli(demo: dict[str, Any]) -> None:
    from carbonpark.cli.main import app

    runner = CliRunner()
    for kind, listed in demo["handles"].items():
        for handle in {listed[0], listed[-1]}:
            got = runner.invoke(app, ["resolve", handle, "--db", demo["db"], "--json", "--anonymous"])
            assert got.exit_code == 0, (kind, handle, got.output)
            body = json.loads(got.stdout)
            assert (body["status"], body["responseCode"], body["handle"]) == (200, 1, handle)


def test_demo_footprints_include_transport_and_are_traced_to_the_suppliers(demo: dict[str, Any]) -> None:
    assert demo["summary"]["transport_legs"] == 13  # 3 + 3 + 3 + 2 + 2 rows of the file for the small park
    with session(demo["db"]) as s:
        # the stored-data path without options (as the dashboard and `carbonpark footprints` call it)
        result = fp.park_footprints(s, fp.FootprintOptions(period="2025"), register=False)
        code_of = {str(p.handle): p.code for p in s.scalars(select(Product))}
        materials = {m.id: str(m.handle) for m in s.scalars(select(Material))}
        bom = [(line.product_id, line.material_id) for line in s.scalars(select(BomLine))]
        product_handle = {p.id: str(p.handle) for p in s.scalars(select(Product))}
    assert {code_of[h]: f.by_stage["inbound_transport"] for h, f in result.footprints.items()} == pytest.approx(
        TRANSPORT, abs=1e-12
    )
    # each product's leaves reach every material of its bill of materials, through the material's identifier
    for product_id, material_id in bom:
        if material_id is None:
            continue
        leaves = trace(result.all_footprints, product_handle[product_id])
        assert materials[material_id] in {leaf.path[-1] for leaf in leaves}
    # the board (elec1) is traced through metal1's part down to the steel and zinc suppliers
    board = next(h for h, c in code_of.items() if c == "elec1-board")
    part = next(h for h, c in code_of.items() if c == "metal1-part")
    paths = {leaf.path for leaf in trace(result.all_footprints, board)}
    with session(demo["db"]) as s:
        steel, zinc = (str(s.scalars(select(Material.handle).filter_by(code=c)).one()) for c in ("steel_sheet", "zinc"))
    assert (board, part, steel) in paths and (board, part, zinc) in paths
    summary = demo["summary"]
    assert steel in summary["board_traced_to"] and zinc in summary["board_traced_to"]
    assert summary["board_tco2e_per_piece"] == pytest.approx(result.footprints[board].tco2e_per_unit, abs=1e-6)


def test_footprint_values_resolve_and_link_the_supply_chain(demo: dict[str, Any]) -> None:
    with session(demo["db"]) as s:
        code_of = {p.code: str(p.handle) for p in s.scalars(select(Product))}
        steel = str(s.scalars(select(Material.handle).filter_by(code="steel_sheet")).one())
    with TestClient(create_app(demo["db"])) as client:

        def footprint(handle: str) -> dict[str, Any]:
            got = client.get(f"/api/handles/{handle}", params={"type": "CARBON_FOOTPRINT"})
            assert (got.status_code, got.json()["responseCode"]) == (200, 1), got.text
            return dict(json.loads(got.json()["values"][0]["data"]["value"]))

        board, part, supplier = footprint(code_of["elec1-board"]), footprint(code_of["metal1-part"]), footprint(steel)
        batch = client.get(f"/api/handles/{demo['batch']}").json()
    # B's board names A's part among its inputs, with 0.0004 t × A's registered figure
    assert board["inputs"][code_of["metal1-part"]] == pytest.approx(0.0004 * part["tco2e_per_unit"], rel=1e-9)
    assert part["inputs"][steel] == pytest.approx(1.08 * supplier["tco2e_per_unit"], rel=1e-9)
    assert supplier["tco2e_per_unit"] == 2.1 and "supplier declaration" in supplier["source"]
    assert part["by_stage"]["inbound_transport"] == pytest.approx(0.015577224, abs=1e-12)
    # the batch identifier carries its product, quantity and footprint
    values = {
        v["type"]: json.loads(v["data"]["value"]) for v in batch["values"] if v["type"] in ("BATCH", "CARBON_FOOTPRINT")
    }
    assert values["BATCH"]["product"] == code_of["metal1-part"] and values["BATCH"]["quantity"] == 20
    assert values["CARBON_FOOTPRINT"]["tco2e_batch"] == pytest.approx(
        20 * values["CARBON_FOOTPRINT"]["tco2e_per_unit"], rel=1e-12
    )


def test_the_dashboard_footprints_use_the_stored_legs(demo: dict[str, Any]) -> None:
    from carbonpark.web.pages import footprints_of

    result = footprints_of(demo["db"], 2025)  # what /web/footprint and its PDF show
    with session(demo["db"]) as s:
        code_of = {str(p.handle): p.code for p in s.scalars(select(Product))}
    got = {code_of[h]: f.by_stage["inbound_transport"] for h, f in result.footprints.items()}
    assert got == pytest.approx(TRANSPORT, abs=1e-12)
