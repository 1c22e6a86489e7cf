"""Verification of an inventory with several months of data (issue 8 item 4; issue 6 item 5), SQLite and PostgreSQL.

Hand-computed figures (natural gas: 100 × 10^4 Nm3 give 2162.188809 tCO2 — the accounting doctest,
100 × 389.31 GJ/10^4 Nm3 × 0.0153 tC/GJ × 0.99 × 44/12; grid: 0.5703 tCO2/MWh, MEE 2022):

* boiler, natural gas: January 100, February 120, March 80 → 300 × 10^4 Nm3 → 6486.566427 tCO2;
* grid electricity: January 1000, February 1000 → 2000 MWh → 1140.6 tCO2;
* total 7627.166427 tCO2e, materiality 5 % → 381.358321 tCO2e.

Invoices of 300 and 2000 match the year's data: no finding (the check once counted January only:
100 against 300). A further boiler invoice of 30 makes 330 documented: −9.1 % (beyond 4 × the 1 %
tolerance: major), misstatement (300 − 330) × 21.62188809 = −648.656643 tCO2e ≥ materiality →
adverse, one material finding. Rating (docs/ledger.md §9): one material finding on [5 → 0] scores
80 points × weight 0.10 = 8.0; none scores 10.0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from carbonpark.errors import ConflictError
from carbonpark.inventory.crosschecks import reported_activity
from carbonpark.ledger.rating import rate
from carbonpark.model import EnterpriseSpec, ParkSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import inventory as svc
from carbonpark.services import ledger as ledger_svc
from carbonpark.services.activity import add_manual_activity
from carbonpark.store import session, upgrade
from carbonpark.store.registry import add_enterprise, add_park, resolve
from carbonpark.store.schema import Enterprise
from carbonpark.store.schema_inventory import InventoryVersion

GAS_PER_UNIT = 21.62188809  # tCO2 per 10^4 Nm3 (module docstring)
GAS_TCO2 = 300 * GAS_PER_UNIT
GRID_TCO2 = 2000 * 0.5703
TOTAL = GAS_TCO2 + GRID_TCO2


def test_reported_activity_sums_periods_and_counts_each_datum_once() -> None:
    # natural gas with CO2, CH4 and N2O lines per datum (the IPCC option), three months; a removal apart
    lines = [
        {"source": "boiler", "activity": "natural_gas", "gas": gas, "amount": amount, "line": line}
        for line, amount in ((11, 100.0), (12, 120.0), (13, 80.0))
        for gas in ("CO2", "CH4", "N2O")
    ]
    lines += [
        {"source": "grid", "activity": "grid_electricity", "gas": "CO2", "amount": 1000.0, "line": n} for n in (21, 22)
    ]
    assert reported_activity(lines) == {"boiler": 300.0, "grid": 2000.0}  # 100 + 120 + 80; 1000 + 1000
    # a version stored before the datum id was kept: per gas summed, the gases of one activity once
    legacy = [{k: v for k, v in x.items() if k != "line"} for x in lines]
    assert reported_activity(legacy) == {"boiler": 300.0, "grid": 2000.0}
    # the same amount in two months is two data, not one
    twice = [{"source": "s", "activity": "a", "gas": "CO2", "amount": 5.0, "line": n} for n in (1, 2)]
    assert reported_activity(twice) == {"s": 10.0}
    assert reported_activity([{"source": "s", "activity": "a", "gas": "CO2", "amount": float("nan")}]) == {}


def _setup(db: str) -> str:
    upgrade(db)
    first17 = "91320500MA0000002"
    with session(db) as s:
        park = add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), "test")
        ent = add_enterprise(
            s,
            park,
            EnterpriseSpec(name="多月化工", credit_code=first17 + check_character(first17), industry_code="C2661"),
            "test",
        )
        for period, amount in (("2024-01", 100), ("2024-02", 120), ("2024-03", 80)):
            add_manual_activity(
                s,
                label="boiler",
                period=period,
                activity="natural_gas",
                amount=amount,
                unit="10^4 Nm3",
                enterprise_id=ent.id,
            )
        for period in ("2024-01", "2024-02"):
            add_manual_activity(
                s,
                label="grid",
                period=period,
                activity="grid_electricity",
                amount=1000,
                unit="MWh",
                enterprise_id=ent.id,
            )
        return str(ent.handle)


def _invoice(db: str, org: str, tmp: Path, name: str, source: str, amount: float) -> None:
    path = tmp / name
    path.write_bytes(f"%PDF-1.4 invoice {source} {amount}".encode())
    svc.upload_document(db, org, 2024, path, kind="invoice", actor="ent", meta={"source": source, "amount": amount})


def _rating_findings(db: str, org: str) -> tuple[int, float]:
    record = ledger_svc.trust_record(db, org, 2024)
    component = next(c for c in rate(record).components if c.name == "verification_findings")
    return record.verification_findings, component.contribution


def test_months_are_summed_and_an_adverse_statement_does_not_verify(db_url: str, tmp_path: Path) -> None:
    org = _setup(db_url)
    for name in [s.key for s in svc.inventory.INVENTORY_STEPS][:9]:
        svc.step(db_url, org, 2024, name, "done", actor="admin")
    submitted = svc.submit(db_url, org, 2024, actor="admin")
    assert submitted["total_tco2e"] == pytest.approx(TOTAL, rel=1e-6)
    svc.add_verifier(db_url, "某核查机构")
    a = svc.assign_verifier(db_url, "某核查机构", org, 2024, actor="admin")["id"]
    _invoice(db_url, org, tmp_path, "gas.pdf", "boiler", 300)
    _invoice(db_url, org, tmp_path, "grid.pdf", "grid", 2000)
    clean = svc.run_checks(db_url, a, actor="李核查", record=False)
    docs = {r["ref"]: r for r in clean["results"] if r["check"] == "activity_vs_documents"}
    assert docs["boiler"]["reported"] == pytest.approx(300.0) and docs["boiler"]["ok"]
    assert docs["grid"]["reported"] == pytest.approx(2000.0) and docs["grid"]["ok"]
    assert clean["failed"] == 0
    # a further boiler invoice found on site: 330 documented against 300 reported
    _invoice(db_url, org, tmp_path, "gas2.pdf", "boiler", 30)
    checks = svc.run_checks(db_url, a, actor="李核查")
    [finding] = checks["findings"]
    assert finding["ref"] == "boiler" and finding["severity"] == "major"
    assert finding["misstatement_tco2e"] == pytest.approx(-30 * GAS_PER_UNIT, rel=1e-6)
    for name in ("agreement", "preparation", "document_review", "site_visit", "report", "technical_review"):
        svc.verification_step(db_url, a, name, "done", actor="李核查")
    stmt = svc.issue_statement(db_url, a, actor="李核查")
    assert stmt["opinion"] == "adverse" and stmt["material_findings"] == 1
    assert stmt["materiality_tco2e"] == pytest.approx(0.05 * TOTAL, rel=1e-6)
    assert stmt["version_status"] == "submitted"
    assert [v["status"] for v in svc.versions(db_url, org, 2024)] == ["submitted"]
    with pytest.raises(ConflictError, match="verified"):
        svc.step(db_url, org, 2024, "external_verification", "done", actor="admin")
    # the attested statement lowers the rating: 1 material finding → 8.0 of 10 points
    assert _rating_findings(db_url, org) == (1, pytest.approx(8.0))
    # a version marked verified under an adverse statement (before this rule) cannot close the inventory either
    with session(db_url) as s:
        s.execute(update(InventoryVersion).values(status="verified"))
    with pytest.raises(ConflictError, match="adverse"):
        svc.step(db_url, org, 2024, "external_verification", "done", actor="admin")
    with session(db_url) as s:
        s.execute(update(InventoryVersion).values(status="submitted"))
    # the enterprise corrects: a new version with the missing 30 × 10^4 Nm3, the verifier re-issues
    svc.reopen(db_url, org, 2024, actor="admin", reason="boiler gas of the second invoice was missing")
    with session(db_url) as s:
        ent = resolve(s, Enterprise, org)
        add_manual_activity(
            s,
            label="boiler",
            period="2024-04",
            activity="natural_gas",
            amount=30,
            unit="10^4 Nm3",
            enterprise_id=ent.id,
        )
    saved = svc.save_version(db_url, org, 2024, actor="admin")
    assert saved["total_tco2e"] == pytest.approx(TOTAL + 30 * GAS_PER_UNIT, rel=1e-6)
    svc.correct_finding(db_url, finding["id"], "April gas added (invoice 2)", actor="ent")
    svc.set_finding_status(db_url, finding["id"], "closed", actor="李核查")
    svc.submit(db_url, org, 2024, actor="admin")
    again = svc.issue_statement(db_url, a, actor="李核查")
    assert again["opinion"] == "unmodified" and again["material_findings"] == 0
    assert again["supersedes_id"] == stmt["id"]
    assert [v["status"] for v in svc.versions(db_url, org, 2024)] == ["submitted", "verified"]
    svc.step(db_url, org, 2024, "external_verification", "done", actor="admin")
    # the re-issue supersedes: the newest statement of the year counts
    assert _rating_findings(db_url, org) == (0, pytest.approx(10.0))
