"""Footprints over stored data: a three-level supply chain inside the park, computed by hand.

Park (prefix 1234), January 2025, energy accounted with factor set ``cn-ndrc-2015`` whose grid
factor is 0.5703 tCO2/MWh (MEE notice of Feb 2023, national grid 2022 for ETS reporting), i.e.
0.0005703 tCO2e/kWh:

* steel sheet (bought outside): supplier figure 2.0 tCO2e/t on its identifier; paint 3.0 tCO2e/t.
* A makes *part* [t]: 1.1 t steel/t + truck 100 km × 1.1 t × 0.0001 = 0.011; metered 10 000 kWh for
  100 t → 100 kWh/t × 0.0005703 = 0.05703.  part = 2.2 + 0.011 + 0.05703 = **2.26803** tCO2e/t.
* B makes *frame* [piece]: 0.01 t part + 0.0005 t paint; 2 000 kWh for 1 000 pieces → 2 kWh × 0.0005703.
  frame = 0.0226803 + 0.0015 + 0.0011406 = **0.0253209** tCO2e/piece.
* C makes *machine* [piece]: 2 frames; 5 000 kWh for 100 pieces → 50 kWh × 0.0005703 = 0.028515.
  machine = 0.0506418 + 0.028515 = **0.0791568** tCO2e/piece.

When the steel supplier's figure becomes 2.5, part gains 1.1 × 0.5 = 0.55, frame 0.01 × 0.55 = 0.0055,
machine 2 × 0.0055 = 0.011.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from carbonpark.errors import ValidationError
from carbonpark.footprint import TransportLeg
from carbonpark.identifiers import Reader
from carbonpark.model import (
    BomLineSpec,
    CarrierSpec,
    EnterpriseSpec,
    MaterialSpec,
    MeterSpec,
    ParkSpec,
    ProductSpec,
    StatisticSpec,
    check_character,
)
from carbonpark.reports.footprint import render_html, render_pdf, sankey_svg
from carbonpark.services import footprints as fp
from carbonpark.services import identifiers as ids
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store import registry as reg
from carbonpark.store.schema import Meter
from carbonpark.times import to_ms

ADMIN = Reader(name="tester", role="park_admin")
TRUCK = TransportLeg("truck", 100.0, 0.0001, source="test factor")
OPTIONS = fp.FootprintOptions(period="2025-01", factor_set="cn-ndrc-2015", transport={"A-part": {"steel": (TRUCK,)}})


def _credit(n: int) -> str:
    first17 = f"91320500MA{n:07d}"
    return first17 + check_character(first17)


def _park(db: str, extra_products: bool = False) -> dict[str, str]:
    upgrade(db)
    handles: dict[str, str] = {}
    with session(db) as s:
        park = reg.add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), "test")
        reg.add_carrier(
            s,
            park,
            CarrierSpec(code="electricity", name="电力", name_en="Electricity", quantity="energy", unit="kWh"),
            "test",
        )
        for code, unit in (("steel", "t"), ("paint", "t")):
            handles[code] = str(reg.add_material(s, park, MaterialSpec(code=code, name=code, unit=unit), "test").handle)
        plan = {
            "A": ("part", "t", 10_000.0, 100.0),
            "B": ("frame", "piece", 2_000.0, 1_000.0),
            "C": ("machine", "piece", 5_000.0, 100.0),
        }
        if extra_products:
            plan["D"] = ("x", "t", 10_000.0, 60.0)
        for i, (key, (product, unit, _kwh, output)) in enumerate(plan.items(), start=1):
            ent = reg.add_enterprise(
                s, park, EnterpriseSpec(name=f"企业{key}", credit_code=_credit(i), industry_code="3311"), "test"
            )
            handles[key] = str(ent.handle)
            prod = reg.add_product(
                s, park, ProductSpec(code=f"{key}-{product}", name=product, unit=unit, enterprise=ent.handle), "test"
            )
            handles[f"{key}-{product}"] = str(prod.handle)
            reg.add_meter(
                s,
                park,
                MeterSpec(code=f"{key}-E", quantity="energy", unit="kWh", carrier="electricity", enterprise=ent.handle),
                "test",
            )
            reg.upsert_statistic(
                s,
                park,
                StatisticSpec(
                    enterprise=ent.handle, period="2025-01", metric=f"output:{key}-{product}", value=output, unit=unit
                ),
                "test",
            )
            if key == "D":
                y = reg.add_product(s, park, ProductSpec(code="D-y", name="y", unit="t", enterprise=ent.handle), "test")
                handles["D-y"] = str(y.handle)
                reg.upsert_statistic(
                    s,
                    park,
                    StatisticSpec(enterprise=ent.handle, period="2025-01", metric="output:D-y", value=40.0, unit="t"),
                    "test",
                )
        reg.add_bom_line(s, park, BomLineSpec(product="A-part", material="steel", amount=1.1), "test")
        reg.add_bom_line(s, park, BomLineSpec(product="B-frame", input_product="A-part", amount=0.01), "test")
        reg.add_bom_line(s, park, BomLineSpec(product="B-frame", material="paint", amount=0.0005), "test")
        reg.add_bom_line(s, park, BomLineSpec(product="C-machine", input_product="B-frame", amount=2), "test")
        meters = {m.code: m.id for m in s.scalars(select(Meter))}
        fp.register_supplier_footprint(s, "steel", 2.0, "t", "steel mill EPD (test)", ADMIN)
        fp.register_supplier_footprint(s, "paint", 3.0, "t", "paint maker declaration (test)", ADMIN)
    rows = []
    for key, (_p, _u, kwh, _o) in plan.items():
        for day in (10, 20):  # two hourly readings, half the month's energy each
            rows.append((meters[f"{key}-E"], to_ms(datetime(2025, 1, day, 12)), kwh / 2, 0))
    insert_readings(connect(db), rows)
    return handles


def _footprints(db: str, options: fp.FootprintOptions = OPTIONS) -> dict[str, float]:
    with session(db) as s:
        result = fp.park_footprints(s, options, ADMIN)
    return {h: f.tco2e_per_unit for h, f in result.footprints.items()}


def test_three_level_chain_by_hand_and_registered_values(db_url: str) -> None:
    h = _park(db_url)
    got = _footprints(db_url)
    assert got[h["A-part"]] == pytest.approx(2.26803, abs=1e-9)
    assert got[h["B-frame"]] == pytest.approx(0.0253209, abs=1e-9)
    assert got[h["C-machine"]] == pytest.approx(0.0791568, abs=1e-9)
    with session(db_url) as s:
        record = ids.load_record(s, h["C-machine"])
        assert record is not None
        value = json.loads(next(v.data for v in record.values if v.type == "CARBON_FOOTPRINT"))
        assert value["tco2e_per_unit"] == pytest.approx(0.0791568, abs=1e-9)
        assert value["unit"] == "piece" and value["boundary"] == "cradle-to-gate"
        assert value["inputs"] == {h["B-frame"]: pytest.approx(2 * 0.0253209, abs=1e-9)}
        # the manufacturer's handle is on the product identifier, derived from the registry
        assert next(v.data for v in record.values if v.type == "MANUFACTURER") == h["C"]


def test_a_change_of_the_supplier_value_flows_to_b_and_c(db_url: str) -> None:
    h = _park(db_url)
    before = _footprints(db_url)
    with session(db_url) as s:
        fp.register_supplier_footprint(s, "steel", 2.5, "t", "steel mill EPD 2025 (test)", ADMIN)
    after = _footprints(db_url)
    assert after[h["A-part"]] - before[h["A-part"]] == pytest.approx(0.55, abs=1e-9)
    assert after[h["B-frame"]] - before[h["B-frame"]] == pytest.approx(0.0055, abs=1e-9)
    assert after[h["C-machine"]] - before[h["C-machine"]] == pytest.approx(0.011, abs=1e-9)
    with session(db_url) as s:
        changes = [c for c in ids.history(s, h["C-machine"]) if c["entity"] == "identifier_values"]
    updates = [c for c in changes if c["action"] == "update"]
    assert len(updates) == 1  # the recomputed footprint replaced the old one, with before and after kept
    assert json.loads(updates[0]["before"]["data"])["tco2e_per_unit"] == pytest.approx(0.0791568, abs=1e-9)
    assert json.loads(updates[0]["after"]["data"])["tco2e_per_unit"] == pytest.approx(0.0901568, abs=1e-9)


def test_cycle_in_the_supply_graph_is_named(db_url: str) -> None:
    h = _park(db_url)
    with session(db_url) as s:
        park = reg.the_park(s)
        reg.add_bom_line(s, park, BomLineSpec(product="A-part", input_product="C-machine", amount=0.001), "test")
    with pytest.raises(ValidationError) as err:
        _footprints(db_url)
    message = str(err.value)
    assert "supply graph" in message
    for key in ("A-part", "B-frame", "C-machine"):
        assert h[key] in message


def test_material_without_supplier_figure_is_an_error_naming_it(db_url: str) -> None:
    _park(db_url)
    with session(db_url) as s:
        park = reg.the_park(s)
        reg.add_material(s, park, MaterialSpec(code="glue", name="glue", unit="kg"), "test")
        reg.add_bom_line(s, park, BomLineSpec(product="C-machine", material="glue", amount=0.2), "test")
    with pytest.raises(ValidationError, match=r"material glue .*CARBON_FOOTPRINT"):
        _footprints(db_url)


@pytest.mark.parametrize(
    ("allocation", "x_kwh_per_t", "y_kwh_per_t"),
    [
        # mass and physical: 10 000 kWh × 60/100 ÷ 60 t = 100 kWh/t for both products
        ("mass", 100.0, 100.0),
        ("physical", 100.0, 100.0),
        # economic: X 60 t × 8000 = 480 000 CNY, Y 40 t × 7000 = 280 000 CNY; X share 480/760
        # → 10 000 × 480/760 ÷ 60 = 105.263 kWh/t; Y 10 000 × 280/760 ÷ 40 = 92.105 kWh/t
        ("economic", 10_000 * 480 / 760 / 60, 10_000 * 280 / 760 / 40),
    ],
)
def test_metered_energy_shared_by_allocation(
    allocation: str, x_kwh_per_t: float, y_kwh_per_t: float, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'alloc.db'}"
    h = _park(db, extra_products=True)
    options = fp.FootprintOptions(
        period="2025-01",
        factor_set="cn-ndrc-2015",
        allocation=allocation,
        prices={"D-x": Decimal(8000), "D-y": Decimal(7000)},
    )
    got = _footprints(db, options)
    assert got[h["D-x"]] == pytest.approx(x_kwh_per_t * 0.0005703, rel=1e-9)
    assert got[h["D-y"]] == pytest.approx(y_kwh_per_t * 0.0005703, rel=1e-9)
    connect(db).dispose()


def test_batch_footprint_registered_under_a_batch_identifier(db_url: str) -> None:
    h = _park(db_url)
    # batch B-0110 of frames: the reading of 10 Jan (1 000 kWh) for 400 pieces → 2.5 kWh/piece
    # frame batch = 0.0226803 + 0.0015 + 2.5 × 0.0005703 = 0.02560605 tCO2e/piece; × 400 = 10.24242 t
    with session(db_url) as s:
        doc = fp.batch_footprint(s, "B-frame", "B-0110", "2025-01-10T00:00", "2025-01-11T00:00", 400, ADMIN, OPTIONS)
    assert doc["handle"].startswith("88.1234/batch.")
    assert doc["tco2e_per_unit"] == pytest.approx(0.02560605, abs=1e-9)
    assert doc["tco2e_batch"] == pytest.approx(10.24242, abs=1e-6)
    with session(db_url) as s:
        record = ids.load_record(s, doc["handle"])
    assert record is not None
    types = {v.type: v for v in record.values}
    assert json.loads(types["BATCH"].data)["product"] == h["B-frame"]
    assert json.loads(types["CARBON_FOOTPRINT"].data)["tco2e_batch"] == pytest.approx(10.24242, abs=1e-6)


def test_report_iso14067_sections_both_languages_and_pdf(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'report.db'}"
    h = _park(db)
    with session(db) as s:
        result = fp.park_footprints(s, OPTIONS, ADMIN, register=False)
    inventory = fp.product_inventory(result, "C-machine")
    assert inventory["product"] == h["C-machine"]
    zh, en = render_html(inventory, "zh"), render_html(inventory, "en")
    for heading in ("功能单位", "系统边界", "数据来源与数据质量", "结果（按生命周期阶段）", "热点", "分配方法"):
        assert heading in zh
    for heading in (
        "Functional unit",
        "System boundary",
        "Data sources",
        "Results by life-cycle stage",
        "Hotspots",
        "Allocation",
    ):
        assert heading in en
    svg = sankey_svg(inventory, "en")
    # the chain reaches the steel supplier's figure through A's part and B's frame
    assert "steel" in svg and "A-part" in svg and "B-frame" in svg and svg.count("<path") >= 4
    assert render_pdf(en)[:5] == b"%PDF-"
    connect(db).dispose()


def test_cli_footprints_json_and_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from carbonpark.cli.main import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    h = _park(db)
    got = CliRunner().invoke(
        app,
        [
            "footprints",
            "--period",
            "2025-01",
            "--db",
            db,
            "--factor-set",
            "cn-ndrc-2015",
            "--json",
            "--report",
            "B-frame",
            "--lang",
            "en",
            "--no-pdf",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    # no transport option on the command line: part = 2.2 + 0.05703; frame = 0.01 × 2.25703 + 0.0015 + 0.0011406
    assert doc["products"][h["B-frame"]]["tco2e_per_unit"] == pytest.approx(0.0252109, abs=1e-9)
    assert Path(doc["report"]["html"]).read_text(encoding="utf-8").count("<svg") == 1
    connect(db).dispose()
