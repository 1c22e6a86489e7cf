"""A full inventory of the small demo park and of one enterprise; the report's ISO 14064-1 content items,
the PDF text (pdftotext) with the totals, the Excel workbook and the CLI's JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from carbonpark import accounting
from carbonpark.cli.main import app
from carbonpark.reports import inventory_report
from carbonpark.services import inventory as svc
from carbonpark.services.activity import activity_records
from carbonpark.services.demo import build_demo


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("inv")
    db = f"sqlite:///{folder / 'demo.db'}"
    build_demo(db, "small", year=2024, out_dir=folder)
    return db


def test_full_inventory_of_the_park_and_one_enterprise(demo_db: str) -> None:
    # the reference: the accounting engine on the activity computed straight from the readings
    records, _gaps = activity_records(demo_db, "2024")
    expected = accounting.account(records)
    park = svc.build(demo_db, "park", 2024).document
    assert park["total_tco2e"] == pytest.approx(expected.total_tco2e, rel=1e-9)
    assert sum(park["by_category"].values()) == pytest.approx(park["total_tco2e"], rel=1e-12)
    assert park["uncertainty"]["lower_tco2e"] < park["total_tco2e"] < park["uncertainty"]["upper_tco2e"]
    ent = records[0].enterprise
    one = svc.build(demo_db, ent, 2024).document
    assert one["total_tco2e"] == pytest.approx(expected.by_level["enterprise"][ent], rel=1e-9)
    # the CLI prints the same document, exactly the contract's keys
    result = CliRunner().invoke(app, ["inventory", "build", "--org", ent, "--year", "2024", "--db", demo_db, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {
        "org",
        "year",
        "total_tco2e",
        "by_category",
        "by_gas",
        "removals_tco2e",
        "biogenic_co2_t",
        "uncertainty",
    }
    assert set(doc["by_category"]) == {"1", "2", "3", "4", "5", "6"}
    assert set(doc["uncertainty"]) == {"lower_tco2e", "upper_tco2e", "confidence"}
    assert doc["total_tco2e"] == pytest.approx(one["total_tco2e"])


def test_every_iso_content_item_is_in_both_languages(demo_db: str) -> None:
    detail = svc.build(demo_db, "park", 2024).detail
    items = inventory_report.content_items()
    assert len(items) == 19
    for lang in ("zh", "en"):
        html = inventory_report.render_html(detail, lang=lang)
        present = set(re.findall(r'data-iso-item="(\d\d)"', html))
        assert {i["id"] for i in items} <= present, lang
        assert html.count("<svg") == 3  # charts by category, gas and month
        assert inventory_report.num(detail["total_tco2e"]) in html


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_pdf_text_has_the_totals_and_excel_the_numbers(demo_db: str, tmp_path: Path) -> None:
    records, _gaps = activity_records(demo_db, "2024")
    ent = records[0].enterprise
    pdf, xlsx = tmp_path / "report.pdf", tmp_path / "inventory.xlsx"
    runner = CliRunner()
    for fmt, path in (("pdf", pdf), ("xlsx", xlsx)):
        args = ["inventory", "report", "--org", ent, "--year", "2024", "--format", fmt, "--lang", "zh"]
        result = runner.invoke(app, [*args, "--out", str(path), "--db", demo_db])
        assert result.exit_code == 0, result.output
    doc = svc.build(demo_db, ent, 2024).document
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "温室气体排放报告" in text  # CJK text extractable
    assert inventory_report.num(doc["total_tco2e"]) in text
    assert inventory_report.num(doc["by_category"]["1"]) in text
    assert inventory_report.num(doc["uncertainty"]["upper_tco2e"]) in text
    sheet = load_workbook(xlsx)["summary"]
    values = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert values["合计"] == pytest.approx(doc["total_tco2e"])
