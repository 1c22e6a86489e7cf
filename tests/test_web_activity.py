"""Activity-data upload of the dashboard (issue 14 item 3), on SQLite and PostgreSQL, without a browser.

``services.web_activity.import_activity_file`` stores the good lines of an activity file as hand-entered
activity data, quarantines the others with a reason, and re-accounts. Figures by hand:

* diesel, fuel combustion with the NDRC 2015 guideline defaults (GB/T 32151 series): NCV 42.652 GJ/t,
  CC 20.2 tC/TJ, OF 0.98; CO2 = AD × NCV × CC × OF × 44/12 → 2 t give 6.191819275 tCO2;
* HFC-134a refilled (fugitive): GWP-100 1300 (IPCC AR5 WG1 Table 8.A.1, the default GWP set) →
  0.01 t give 13 tCO2e.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from carbonpark.errors import PermissionDenied, ValidationError
from carbonpark.services import accounting as acc
from carbonpark.services.access import Principal
from carbonpark.services.registry_io import import_registry
from carbonpark.services.web_activity import REASONS, import_activity_file
from carbonpark.store import session, upgrade
from carbonpark.store.schema import AuditEntry, EmissionSource, Enterprise
from carbonpark.store.schema_accounting import ActivityDatum

JIA, YI = "91350100M000100Y43", "91350100M000200Y2L"
REGISTRY = f"""
park: {{name: 测试园区, handle_prefix: "5678"}}
enterprises:
  - {{name: 甲公司, credit_code: {JIA}, industry_code: C2614}}
  - {{name: 乙公司, credit_code: {YI}, industry_code: C3311}}
meters:
  - {{code: m-el, quantity: energy, unit: kWh, enterprise: {JIA}}}
sources:
  - {{name: 外购电力, enterprise: {JIA}, activity: purchased_electricity, scope: 2, category: 2, meter: m-el}}
  - {{name: 制冷剂, enterprise: {JIA}, activity: hfc_134a, scope: 1}}
"""
DIESEL_T = 42.652 * 20.2e-3 * 0.98 * 44 / 12  # tCO2 per t of diesel: GJ/t × tC/GJ × OF × 44/12
HFC134A_GWP = 1300.0  # tCO2e/t, AR5


@pytest.fixture
def park(db_url: str, tmp_path: Path) -> dict[str, object]:
    upgrade(db_url)
    path = tmp_path / "park.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    import_registry(db_url, path, "tester")
    with session(db_url) as s:
        ents = {e.credit_code: (e.id, str(e.handle)) for e in s.scalars(select(Enterprise))}
        sources = {src.name: str(src.handle) for src in s.scalars(select(EmissionSource))}
    return {"db": db_url, "ents": ents, "sources": sources}


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_enterprise_upload_stores_good_lines_quarantines_the_rest_and_accounts(
    park: dict[str, object], tmp_path: Path
) -> None:
    db = str(park["db"])
    ents: dict[str, tuple[int, str]] = park["ents"]  # type: ignore[assignment]
    sources: dict[str, str] = park["sources"]  # type: ignore[assignment]
    jia_id, jia = ents[JIA]
    who = Principal("jia-user", "enterprise", enterprise_id=jia_id)
    path = _csv(
        tmp_path / "activity.csv",
        [
            ["source", "activity", "amount", "unit", "enterprise", "period"],
            ["forklift fleet", "diesel", "2", "t", "", "2025-03"],  # 2: own enterprise by default
            [sources["制冷剂"], "hfc_134a", "0.01", "t", jia, "2025"],  # 3: the registered, unmetered source
            ["bad amount", "diesel", "abc", "t", "", "2025-03"],  # 4: malformed
            ["no period", "diesel", "1", "t", "", ""],  # 5: no_period
            ["unknown fuel", "unobtainium", "1", "t", "", "2025-03"],  # 6: invalid
            ["someone else's", "diesel", "1", "t", YI, "2025-03"],  # 7: out_of_scope
            [sources["外购电力"], "grid_electricity", "100", "kWh", "", "2025-03"],  # 8: metered_source
            ["forklift fleet", "diesel", "3", "t", "", "2025-03"],  # 9: duplicate of line 2
            ["nobody", "diesel", "1", "t", "no such company", "2025-03"],  # 10: out_of_scope (not "unknown")
        ],
    )
    result = import_activity_file(db, path, who, "activity.csv")
    assert result["rows"] == 9 and result["accepted"] == 2 and result["replaced"] == 0
    reasons = {q["line"]: q["reason"] for q in result["quarantined"]}
    assert reasons == {
        4: "malformed",
        5: "no_period",
        6: "invalid",
        7: "out_of_scope",
        8: "metered_source",
        9: "duplicate",
        10: "out_of_scope",
    }
    assert set(reasons.values()) <= set(REASONS)
    detail = {q["line"]: q["detail"] for q in result["quarantined"]}
    assert detail[4] == "line 4, column amount: expected a number, got 'abc'"  # the activity file's own parser
    assert "line 2 has it" in detail[9]
    assert "no such company" in detail[10] and "乙" not in detail[10]  # nothing about other enterprises
    # no run existed: the enterprise's and the park's 2025 runs are created
    assert result["reaccounted"] == []
    assert result["accounted"] == [{"org": jia, "period": "2025"}, {"org": "park", "period": "2025"}]
    expected = 2 * DIESEL_T + 0.01 * HFC134A_GWP  # 6.191819275 + 13
    assert acc.stored_document(db, jia, "2025")["total_tco2e"] == pytest.approx(expected, rel=1e-9)
    assert acc.stored_document(db, "park", "2025")["total_tco2e"] == pytest.approx(expected, rel=1e-9)
    with session(db) as s:
        data = {d.source_label: d for d in s.scalars(select(ActivityDatum))}
        refrigerant = s.scalars(select(EmissionSource).where(EmissionSource.name == "制冷剂")).one()
        audits = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "activity_data")))
    assert set(data) == {"forklift fleet", sources["制冷剂"]}
    diesel = data["forklift fleet"]
    assert (diesel.enterprise_id, diesel.period, diesel.resolution, diesel.origin) == (
        jia_id,
        "2025-03",
        "month",
        "manual",
    )
    assert data[sources["制冷剂"]].source_id == refrigerant.id and data[sources["制冷剂"]].resolution == "year"
    assert "line 2" in diesel.note and "user:jia-user" in diesel.note
    assert sorted(a.actor for a in audits) == ["user:jia-user", "user:jia-user"]


def test_admin_xlsx_upload_park_level_replacement_and_locked_year(park: dict[str, object], tmp_path: Path) -> None:
    db = str(park["db"])
    ents: dict[str, tuple[int, str]] = park["ents"]  # type: ignore[assignment]
    _yi_id, yi = ents[YI]
    admin = Principal("admin", "park_admin")

    def xlsx(name: str, rows: list[list[object]]) -> Path:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        sheet.cell(row=1, column=9, value=None)  # a wider sheet: empty columns after the header's last name
        path = tmp_path / name
        book.save(path)
        return path

    header = ["source", "activity", "amount", "unit", "enterprise", "period", "year"]
    first = xlsx(
        "first.xlsx",
        [
            header,
            ["boiler diesel", "diesel", 2, "t", YI, datetime(2025, 3, 1), None],  # a date cell: its month
            ["street lights backup", "diesel", 1.5, "t", "", None, 2025],  # the park's own, a yearly datum
            ["old", "diesel", 1, "t", yi, "2024", None],
            ["ghost", "diesel", 1, "t", "no such company", "2025-03", None],
        ],
    )
    result = import_activity_file(db, first, admin)
    assert [q["reason"] for q in result["quarantined"]] == ["unknown_enterprise"]
    assert [(r["enterprise"], r["period"]) for r in result["stored"]] == [
        (yi, "2025-03"),
        ("park", "2025"),
        (yi, "2024"),
    ]
    assert sorted((r["org"], r["period"]) for r in result["accounted"]) == [
        (yi, "2024"),
        (yi, "2025"),
        ("park", "2024"),
        ("park", "2025"),
    ]
    # park 2025: 2 t (乙) + 1.5 t (the park's own) of diesel
    assert acc.stored_document(db, "park", "2025")["total_tco2e"] == pytest.approx(3.5 * DIESEL_T, rel=1e-9)
    acc.lock_period(db, yi, "2024")  # 乙's 2024 submitted
    second = xlsx(
        "second.xlsx",
        [
            header,
            ["boiler diesel", "diesel", 4, "t", yi, "2025-03", None],
            ["late", "diesel", 1, "t", yi, "2024", None],
        ],
    )
    again = import_activity_file(db, second, admin)
    assert again["accepted"] == 1 and again["replaced"] == 1  # same enterprise, source and period: replaced
    assert [q["reason"] for q in again["quarantined"]] == ["locked"]
    assert sorted((r["org"], r["period"]) for r in again["reaccounted"]) == [(yi, "2025"), ("park", "2025")]
    assert again["accounted"] == []
    assert acc.stored_document(db, yi, "2025")["total_tco2e"] == pytest.approx(4 * DIESEL_T, rel=1e-9)
    assert acc.stored_document(db, "park", "2025")["total_tco2e"] == pytest.approx(5.5 * DIESEL_T, rel=1e-9)


def test_bad_header_role_and_empty_file_are_refused(park: dict[str, object], tmp_path: Path) -> None:
    db = str(park["db"])
    admin = Principal("admin", "park_admin")
    bad = _csv(
        tmp_path / "bad.csv", [["source", "activity", "amount", "unit", "colour"], ["a", "diesel", "1", "t", "red"]]
    )
    with pytest.raises(ValidationError, match=r"known columns only: .*period"):
        import_activity_file(db, bad, admin)
    missing = _csv(tmp_path / "missing.csv", [["source", "activity", "amount"], ["a", "diesel", "1"]])
    with pytest.raises(ValidationError, match=r"missing unit"):
        import_activity_file(db, missing, admin)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValidationError, match="an empty file"):
        import_activity_file(db, empty, admin)
    with pytest.raises(PermissionDenied, match="got verifier"):
        import_activity_file(db, missing, Principal("v", "verifier"))
    with pytest.raises(ValidationError, match=r"a \.csv or \.xlsx file"):
        import_activity_file(db, tmp_path / "notes.pdf", admin)
