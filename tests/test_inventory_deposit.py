"""The monthly data deposit (信息化存证) and the industry-outlier cross-check of ``verify check`` (issue 8 item 1a, 4).

On SQLite and PostgreSQL. Expected values are computed by hand in the comments: the readings of the
test park (tests/test_api_park.py ``build_park``), the digests over their canonical text, and the
modified z-score ``0.6745 (x − median) / MAD`` (Iglewicz and Hoaglin 1993) of four peers' intensities.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from carbonpark.cli.main import app
from carbonpark.errors import ValidationError
from carbonpark.inventory import deposit as dep
from carbonpark.model import EnterpriseSpec, StatisticSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import inventory as svc
from carbonpark.services import ledger
from carbonpark.services.activity import add_manual_activity
from carbonpark.store import session
from carbonpark.store.registry import add_enterprise, the_park, upsert_statistic
from test_api_park import A_READING_TIMES, build_park, fast_hashing  # noqa: F401 (autouse fixture)


def _rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")  # BOM: Excel opens the Chinese text as UTF-8
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert rows[0]["parameter"] == "参数"  # the Chinese header row
    return rows[1:]


def test_monthly_deposit_of_metered_data_with_plan_and_ledger(db_url: str, tmp_path: Path) -> None:
    park = build_park(db_url)
    org = park["A"]["refs"]["enterprises"][1]
    source = park["A"]["refs"]["sources"][1]
    svc.add_plan(
        db_url,
        org,
        [
            {
                "source": source,
                "parameter": "activity",
                "method": "measured",
                "meter": "m-A",
                "frequency": "continuous",
                "responsible": "王工",
            }
        ],
        actor="test",
        valid_from_year=2024,
    )
    out = tmp_path / "deposit-2024-01.csv"
    result = CliRunner().invoke(
        app,
        [
            "inventory",
            "deposit",
            "--org",
            org,
            "--year",
            "2024",
            "--month",
            "1",
            "--out",
            str(out),
            "--db",
            db_url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    data = out.read_bytes()
    assert doc["csv_sha256"] == hashlib.sha256(data).hexdigest() and doc["period"] == "2024-01"
    rows = _rows(data)
    activity = [r for r in rows if r["parameter"] == "activity"]
    # January 2024 holds one reading of meter m-A: 2.0 kWh stamped 2024-01-01 00:00 (+08:00), quality 0
    assert [(r["source"], float(r["value"]), r["unit"], r["method"], r["meter"]) for r in activity] == [
        (source, 2.0, "kWh", "measured", "m-A")
    ]
    ts = int(A_READING_TIMES[1].timestamp() * 1000)
    assert activity[0]["evidence_sha256"] == hashlib.sha256(f"{ts},2.0,0\n".encode()).hexdigest()
    assert activity[0]["credit_code"] == park["A"]["credit_code"] and activity[0]["enterprise"] == "企业A"
    # the grid factor the engine used: MEE 2022 national average 0.5703 tCO2/MWh
    grid = [r for r in rows if r["parameter"] == "factor:grid:ets_report:national:2022"]
    assert [(float(r["value"]), r["unit"]) for r in grid] == [(0.5703, "tCO2/MWh")]
    # attested: the ledger proves the record with the CSV's digest
    proof = ledger.inclusion(db_url, f"deposit/{org}/2024-01", kind="inventory_deposit")
    assert proof["record"] == f"deposit/{org}/2024-01"
    # the same rows as Excel; B's data never appear in A's deposit
    xlsx = svc.deposit(db_url, org, 2024, 1, tmp_path / "d.xlsx", actor="test", attest=False)
    sheet = load_workbook(xlsx["out"])["deposit"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert [v[4] for v in values] == [r["parameter"] for r in rows]
    assert xlsx["csv_sha256"] == doc["csv_sha256"]  # same rows, same digest
    assert all(park["B"]["credit_code"] not in str(v) for v in values)
    with pytest.raises(ValidationError, match="month"):
        svc.deposit(db_url, org, 2024, 13, tmp_path / "x.csv", actor="test")
    with pytest.raises(ValidationError, match="enterprise"):
        svc.deposit(db_url, "park", 2024, 1, tmp_path / "x.csv", actor="test")
    with pytest.raises(ValidationError, match="activity data"):
        svc.deposit(db_url, org, 2024, 3, tmp_path / "x.csv", actor="test")  # no reading in March


def _credit(n: int) -> str:
    first17 = f"91320500MA{n:07d}"
    return first17 + check_character(first17)


def test_document_evidence_and_industry_outlier_check(db_url: str, tmp_path: Path) -> None:
    build_park(db_url)
    grid_mwh = {"C1": 1000.0, "C2": 1100.0, "C3": 900.0, "C4": 5000.0}
    handles = {}
    with session(db_url) as s:
        p = the_park(s)
        for i, (name, mwh) in enumerate(grid_mwh.items(), start=10):
            ent = add_enterprise(s, p, EnterpriseSpec(name=name, credit_code=_credit(i), industry_code="C2614"), "t")
            add_manual_activity(
                s,
                label="grid",
                period="2024-02",
                activity="grid_electricity",
                amount=mwh,
                unit="MWh",
                enterprise_id=ent.id,
            )
            upsert_statistic(
                s,
                p,
                StatisticSpec(
                    enterprise=str(ent.id), period="2024", metric="gross_output_value", value=1000.0, unit="万元"
                ),
                "t",
            )
            handles[name] = str(ent.handle)
    for h in handles.values():
        svc.save_version(db_url, h, 2024, actor="test")
    # manual data: the evidence digest is over the supporting documents' digests
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 grid invoice February 2024, 5000 MWh")
    up = svc.upload_document(
        db_url,
        handles["C4"],
        2024,
        invoice,
        kind="invoice",
        actor="t",
        meta={"source": "grid", "amount": 5000, "month": 2},
        as_blob=True,
    )
    rows = _rows(Path(svc.deposit(db_url, handles["C4"], 2024, 2, tmp_path / "c4.csv", actor="t")["out"]).read_bytes())
    activity = next(r for r in rows if r["parameter"] == "activity")
    assert activity["method"] == "document" and activity["meter"] == ""
    assert activity["evidence_sha256"] == hashlib.sha256(f"{up['sha256']}\n".encode()).hexdigest()

    svc.add_verifier(db_url, "核查机构")
    a = svc.assign_verifier(db_url, "核查机构", handles["C4"], 2024, actor="t")["id"]
    checks = svc.run_checks(db_url, a, actor="t")
    outlier = [r for r in checks["results"] if r["check"] == "industry_outlier"]
    # intensities x·0.5703/1000 tCO2e per 10^4 CNY for x = 1000, 1100, 900, 5000 MWh (A and B of build_park
    # have no stored version and are left out): median 1050·k, deviations 50, 50, 150, 3950 (×k) → MAD 100·k;
    # z(C4) = 0.6745 × 3950 / 100 = 26.64 > 3.5
    assert len(outlier) == 1 and outlier[0]["ref"] == handles["C4"] and not outlier[0]["ok"]
    assert "26.64" in outlier[0]["detail"]
    assert outlier[0]["reported"] == pytest.approx(5000 * 0.5703 / 1000)
    assert any(f["check"] == "industry_outlier" for f in checks["findings"])
    # a peer in the middle of its industry passes
    b = svc.assign_verifier(db_url, "核查机构", handles["C1"], 2024, actor="t")["id"]
    mid = [r for r in svc.run_checks(db_url, b, actor="t", record=False)["results"] if r["check"] == "industry_outlier"]
    assert [r["ok"] for r in mid] == [True]  # z = 0.6745 × (1000 − 1050) / 100 = −0.34


def test_digest_helpers_are_canonical() -> None:
    # one line per reading "ts,value!r,quality\n"; documents: sorted unique digests, one per line
    assert dep.digest_readings([(1, 2.5, 0)]) == hashlib.sha256(b"1,2.5,0\n").hexdigest()
    assert dep.digest_documents(["b", "a", "b"]) == hashlib.sha256(b"a\nb\n").hexdigest()
    assert dep.digest_documents([]) == ""
