"""An enterprise through the ten inventory steps and a verifier through the verification, on SQLite and
PostgreSQL: versions freeze, the period locks, findings drive the opinion, the diff shows later changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from carbonpark.errors import ConflictError
from carbonpark.model import EnterpriseSpec, ParkSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import inventory as svc
from carbonpark.services.activity import add_manual_activity
from carbonpark.store import session, upgrade
from carbonpark.store.registry import add_enterprise, add_park
from carbonpark.store.schema_accounting import ActivityDatum

GAS_TCO2 = 2162.188809  # 100 × 10^4 Nm3: 100 × 389.31 × 0.0153 × 0.99 × 44/12 (accounting doctest)
GRID_TCO2 = 570.3  # 1000 MWh × 0.5703 tCO2/MWh (MEE 2022 grid factor used by the library)


def _setup(db: str) -> tuple[str, int]:
    upgrade(db)
    first17 = "91320500MA0000001"
    with session(db) as s:
        park = add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), "test")
        ent = add_enterprise(
            s,
            park,
            EnterpriseSpec(name="测试化工", credit_code=first17 + check_character(first17), industry_code="C2661"),
            "test",
        )
        add_manual_activity(
            s,
            label="boiler",
            period="2024-01",
            activity="natural_gas",
            amount=100,
            unit="10^4 Nm3",
            enterprise_id=ent.id,
        )
        add_manual_activity(
            s,
            label="grid",
            period="2024-02",
            activity="grid_electricity",
            amount=1000,
            unit="MWh",
            enterprise_id=ent.id,
        )
        return str(ent.handle), ent.id


def test_inventory_and_verification_end_to_end(db_url: str, tmp_path: Path) -> None:
    org, ent_id = _setup(db_url)
    doc = svc.build(db_url, org, 2024).document
    assert doc["total_tco2e"] == pytest.approx(GAS_TCO2 + GRID_TCO2, rel=1e-9)
    assert doc["by_category"]["1"] == pytest.approx(GAS_TCO2, rel=1e-9)
    assert doc["by_category"]["2"] == pytest.approx(GRID_TCO2, rel=1e-9)
    # the ten steps in order; compilation saves a draft version
    for name in [s.key for s in svc.inventory.INVENTORY_STEPS][:9]:
        svc.step(db_url, org, 2024, name, "done", actor="admin", note=name)
    assert [v["status"] for v in svc.versions(db_url, org, 2024)] == ["draft"]
    with pytest.raises(ConflictError, match="statement"):
        svc.step(db_url, org, 2024, "external_verification", "done", actor="admin")
    submitted = svc.submit(db_url, org, 2024, actor="admin")
    with session(db_url) as s:
        assert svc.is_period_locked(s, ent_id, 2024)
        assert not svc.is_period_locked(s, ent_id, 2023)
    with pytest.raises(ConflictError, match="frozen"):
        svc.save_version(db_url, org, 2024, actor="admin")
    # the verifier
    svc.add_verifier(db_url, "某核查机构")
    svc.add_verifier_user(db_url, "某核查机构", "李核查", "lead")
    a = svc.assign_verifier(db_url, "某核查机构", org, 2024, actor="admin", lead="李核查")["id"]
    evidence = tmp_path / "invoice.pdf"
    evidence.write_bytes(b"%PDF-1.4 invoice for 1030 MWh")
    up = svc.upload_document(
        db_url,
        org,
        2024,
        evidence,
        kind="invoice",
        actor="ent",
        meta={"source": "grid", "amount": "1030"},
        as_blob=True,
    )
    assert len(up["sha256"]) == 64
    for name in ("agreement", "preparation", "document_review"):
        svc.verification_step(db_url, a, name, "done", actor="李核查")
    checks = svc.run_checks(db_url, a, actor="李核查")
    doc_check = [r for r in checks["results"] if r["check"] == "activity_vs_documents"]
    assert doc_check and not doc_check[0]["ok"]  # reported 1000 MWh vs invoice 1030 MWh: 2.9 % > 1 %
    finding = next(f for f in checks["findings"] if f["check"] == "activity_vs_documents")
    assert finding["misstatement_tco2e"] == pytest.approx(-30 * 0.5703)  # (1000 − 1030) MWh × 0.5703
    for name in ("site_visit", "report"):
        svc.verification_step(db_url, a, name, "done", actor="李核查")
    with pytest.raises(ConflictError, match="technical_review"):
        svc.issue_statement(db_url, a, actor="李核查")
    svc.verification_step(db_url, a, "technical_review", "done", actor="复核人")
    svc.correct_finding(db_url, finding["id"], "invoice covers January 2025 too", actor="ent")
    svc.set_finding_status(db_url, finding["id"], "closed", actor="李核查")
    stmt = svc.issue_statement(db_url, a, actor="李核查")
    assert stmt["opinion"] == "unmodified" and stmt["materiality_pct"] == 5.0
    assert stmt["materiality_tco2e"] == pytest.approx(0.05 * submitted["total_tco2e"])
    svc.step(db_url, org, 2024, "external_verification", "done", actor="admin")
    assert [v["status"] for v in svc.versions(db_url, org, 2024)] == ["verified"]
    # continuous verification: the committed data change after verification
    assert not svc.verify_diff(db_url, org, 2024)["changed"]
    with session(db_url) as s:
        s.execute(update(ActivityDatum).where(ActivityDatum.source_label == "grid").values(amount=1100.0))
    diff = svc.verify_diff(db_url, org, 2024)
    assert diff["changed"] and diff["total"]["difference"] == pytest.approx(100 * 0.5703)
    assert diff["by_category"]["2"]["after"] == pytest.approx(1100 * 0.5703)
    # the frozen version stays; a correction is a new version
    assert svc.build(db_url, org, 2024).document["total_tco2e"] == pytest.approx(GAS_TCO2 + GRID_TCO2)
    new = svc.reopen(db_url, org, 2024, actor="admin", reason="grid meter corrected")
    assert new["version"] == 2 and new["supersedes_id"] is not None
    with session(db_url) as s:
        assert not svc.is_period_locked(s, ent_id, 2024)
    assert svc.save_version(db_url, org, 2024, actor="admin")["total_tco2e"] == pytest.approx(GAS_TCO2 + 1100 * 0.5703)
    assert [v["status"] for v in svc.versions(db_url, org, 2024)] == ["verified", "draft"]
