"""``/api/inventories`` and ``/api/verification`` over HTTP with real logins (issue 8 "done when").

A park administrator takes an enterprise through the ten steps of guide §7.1, a verifier through the
eight steps of §7.2 (evidence upload, cross-checks, a finding corrected by the enterprise and closed,
the statement); every other role sees only what docs/api.md grants it. The figures are those of
tests/test_verification_workflow.py (hand-computed there).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from carbonpark.model import EnterpriseSpec, ParkSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import auth
from carbonpark.services.activity import add_manual_activity
from carbonpark.store import session, upgrade
from carbonpark.store.registry import add_enterprise, add_park
from carbonpark.store.schema import Enterprise
from test_api_park import PASSWORD, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)

GAS_TCO2 = 2162.188809  # 100 × 10^4 Nm3 natural gas: 100 × 389.31 × 0.0153 × 0.99 × 44/12 (accounting doctest)
GRID_TCO2 = 570.3  # 1000 MWh × 0.5703 tCO2/MWh (MEE 2022 grid factor in the library)
YEAR = 2024
TEN_STEPS = [
    "feasibility",
    "boundary",
    "base_year",
    "sources",
    "quantification",
    "compilation",
    "data_quality",
    "report",
    "internal_review",
    "external_verification",
]


def _credit(first17: str) -> str:
    return first17 + check_character(first17)


def _park(db: str) -> dict[str, str]:
    """Park, enterprise A (key emitter, chemicals) with activity data, enterprise B, one user per role."""
    upgrade(db)
    with session(db) as s:
        park = add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), "test")
        a = add_enterprise(
            s,
            park,
            EnterpriseSpec(name="测试化工", credit_code=_credit("91320500MA0000001"), industry_code="C2661"),
            "t",
        )
        b = add_enterprise(
            s,
            park,
            EnterpriseSpec(name="另一企业", credit_code=_credit("91320500MA0000002"), industry_code="C2661"),
            "t",
        )
        s.execute(update(Enterprise).where(Enterprise.id == a.id).values(key_emitter=True))
        for label, period, activity, amount, unit in (
            ("boiler", "2024-01", "natural_gas", 100, "10^4 Nm3"),
            ("grid", "2024-02", "grid_electricity", 1000, "MWh"),
        ):
            add_manual_activity(
                s, label=label, period=period, activity=activity, amount=amount, unit=unit, enterprise_id=a.id
            )
        add_manual_activity(
            s, label="grid-b", period="2024-03", activity="grid_electricity", amount=10, unit="MWh", enterprise_id=b.id
        )
        auth.add_user(s, "admin", "park_admin", PASSWORD, "test")
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, "test", enterprise=a.id)
        auth.add_user(s, "ent-b", "enterprise", PASSWORD, "test", enterprise=b.id)
        auth.add_user(s, "verifier-a", "verifier", PASSWORD, "test")
        auth.assign_verifier(s, "verifier-a", a.id, YEAR, "test")
        auth.add_user(s, "regulator", "regulator", PASSWORD, "test")
        return {"A": str(a.handle), "B": str(b.handle), "A_credit": a.credit_code}


def test_admin_walks_ten_steps_and_verifier_the_verification(db_url: str) -> None:
    park = _park(db_url)
    org = park["A"]
    client = client_for(db_url)
    q = {"org": org, "year": YEAR}
    assert client.get("/api/inventories/build", params=q).status_code == 401
    admin, ent_a, ent_b = login(client, "admin"), login(client, "ent-a"), login(client, "ent-b")
    verifier, regulator = login(client, "verifier-a"), login(client, "regulator")

    doc = client.get("/api/inventories/build", params=q, headers=admin).json()
    assert doc["total_tco2e"] == pytest.approx(GAS_TCO2 + GRID_TCO2, rel=1e-9)
    assert doc["by_category"]["1"] == pytest.approx(GAS_TCO2, rel=1e-9)
    assert doc["by_category"]["2"] == pytest.approx(GRID_TCO2, rel=1e-9)
    assert set(doc) >= {"org", "year", "by_gas", "removals_tco2e", "biogenic_co2_t", "uncertainty"}
    assert doc["uncertainty"]["lower_tco2e"] < doc["total_tco2e"] < doc["uncertainty"]["upper_tco2e"]
    assert client.get("/api/inventories/build", params=q, headers=ent_a).json()["total_tco2e"] == doc["total_tco2e"]
    # B's user, and the regulator before submission, do not see A's inventory (404: not revealed)
    assert client.get("/api/inventories/build", params=q, headers=ent_b).status_code == 404
    assert client.get("/api/inventories/build", params=q, headers=regulator).status_code == 404
    assert client.get("/api/inventories/build", params={**q, "org": park["B"]}, headers=verifier).status_code == 404

    # step 2: boundaries; then the ten steps in order (a step may not start before the previous is done)
    r = client.post(
        "/api/inventories/configure", headers=admin, json={**q, "approach": "operational_control", "base_year": YEAR}
    )
    assert r.status_code == 200 and r.json()["base_year"] == YEAR
    r = client.post("/api/inventories/steps", headers=admin, json={**q, "step": "boundary", "state": "done"})
    assert r.status_code == 409, r.text
    assert (
        client.post(
            "/api/inventories/steps", headers=ent_b, json={**q, "step": "feasibility", "state": "done"}
        ).status_code
        == 404
    )
    for name in TEN_STEPS[:9]:
        r = client.post(
            "/api/inventories/steps", headers=admin, json={**q, "step": name, "state": "done", "note": name}
        )
        assert r.status_code == 200, r.text
    steps = client.get("/api/inventories/steps", params=q, headers=admin).json()
    assert [(st["step"], st["state"]) for st in steps] == [(n, "done") for n in TEN_STEPS[:9]] + [
        ("external_verification", "pending")
    ]
    assert steps[0]["actor"] == "user:admin" and steps[0]["at_ms"] > 0
    assert [v["status"] for v in client.get("/api/inventories/versions", params=q, headers=admin).json()] == ["draft"]
    r = client.post("/api/inventories/steps", headers=admin, json={**q, "step": TEN_STEPS[9], "state": "done"})
    assert r.status_code == 409 and "statement" in r.json()["detail"]
    r = client.post("/api/inventories/submit", headers=admin, json=q)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert client.post("/api/inventories/versions", headers=admin, json=q).status_code == 409  # frozen
    # the regulator now sees the submitted report of this key emitter, read-only
    assert client.get("/api/inventories/build", params=q, headers=regulator).json()["total_tco2e"] == doc["total_tco2e"]
    assert client.post("/api/inventories/reopen", headers=regulator, json={**q, "reason": "x"}).status_code == 403
    page = client.get("/api/inventories", headers=regulator).json()
    assert [(v["org"], v["status"]) for v in page["items"]] == [(org, "submitted")]
    assert client.get("/api/inventories", headers=ent_b).json()["total"] == 0

    # the verification body, its lead and the assignment (park_admin)
    assert client.post("/api/verification/bodies", headers=admin, json={"name": "某核查机构"}).status_code == 200
    assert client.post("/api/verification/bodies", headers=ent_a, json={"name": "x"}).status_code == 403
    r = client.post(
        "/api/verification/verifiers", headers=admin, json={"verifier": "某核查机构", "name": "李核查", "role": "lead"}
    )
    assert r.status_code == 200
    r = client.post(
        "/api/verification/assignments", headers=admin, json={**q, "verifier": "某核查机构", "lead": "李核查"}
    )
    a = r.json()["id"]
    assert [x["id"] for x in client.get("/api/verification/assignments", headers=verifier).json()] == [a]
    assert client.get("/api/verification/assignments", headers=ent_b).json() == []
    aq = {"assignment": a}
    for name in ("agreement", "preparation"):
        r = client.post("/api/verification/steps", params=aq, headers=verifier, json={"step": name, "state": "done"})
        assert r.status_code == 200, r.text
    assert (
        client.post(
            "/api/verification/steps", params=aq, headers=ent_b, json={"step": "document_review", "state": "done"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/verification/steps", params=aq, headers=ent_a, json={"step": "document_review", "state": "done"}
        ).status_code
        == 403
    )

    # evidence: an invoice of 1030 MWh against 1000 MWh reported (multipart, stored with its sha256)
    invoice = b"%PDF-1.4 invoice for 1030 MWh"
    r = client.post(
        "/api/verification/documents",
        params=aq,
        headers=ent_a,
        data={"kind": "invoice", "meta": json.dumps({"source": "grid", "amount": "1030"})},
        files={"file": ("invoice.pdf", invoice, "application/pdf")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["size"] == len(invoice) and len(r.json()["sha256"]) == 64
    too_big = b"0" * (1024 * 1024 + 1)  # over CARBONPARK_MAX_BODY_BYTES (1 MiB)
    r = client.post(
        "/api/verification/documents",
        params=aq,
        headers=ent_a,
        data={"kind": "invoice"},
        files={"file": ("x.pdf", too_big)},
    )
    assert r.status_code == 413
    r = client.post(
        "/api/verification/documents",
        params=aq,
        headers=ent_a,
        data={"kind": "invoice", "meta": "[1]"},
        files={"file": ("x.pdf", b"1")},
    )
    assert r.status_code == 422 and r.json()["field"] == "meta"
    assert [d["filename"] for d in client.get("/api/verification/documents", params=aq, headers=verifier).json()] == [
        "invoice.pdf"
    ]

    client.post(
        "/api/verification/steps", params=aq, headers=verifier, json={"step": "document_review", "state": "done"}
    )
    assert client.post("/api/verification/checks", params=aq, headers=ent_a).status_code == 403
    checks = client.post("/api/verification/checks", params=aq, headers=verifier).json()
    doc_check = [x for x in checks["results"] if x["check"] == "activity_vs_documents"]
    assert doc_check and not doc_check[0]["ok"]  # 1000 vs 1030 MWh: 2.9 % > 1 %
    finding = next(f for f in checks["findings"] if f["check"] == "activity_vs_documents")
    assert finding["misstatement_tco2e"] == pytest.approx(-30 * 0.5703)  # (1000 − 1030) MWh × 0.5703 tCO2/MWh
    fq = {"finding": finding["id"]}
    assert (
        client.post(
            "/api/verification/findings/correction", params=fq, headers=ent_b, json={"correction": "x"}
        ).status_code
        == 404
    )
    r = client.post(
        "/api/verification/findings/correction", params=fq, headers=ent_a, json={"correction": "invoice spans Jan 2025"}
    )
    assert r.status_code == 200 and r.json()["status"] == "corrected"
    assert (
        client.post(
            "/api/verification/findings/status", params=fq, headers=ent_a, json={"status": "closed"}
        ).status_code
        == 403
    )
    r = client.post("/api/verification/findings/status", params=fq, headers=verifier, json={"status": "closed"})
    assert r.json()["status"] == "closed"
    r = client.post(
        "/api/verification/findings",
        params=aq,
        headers=verifier,
        json={"severity": "observation", "description": "meter seal renewed"},
    )
    assert r.status_code == 200
    for name in ("site_visit", "report", "technical_review"):
        client.post("/api/verification/steps", params=aq, headers=verifier, json={"step": name, "state": "done"})
    r = client.post("/api/verification/statement", params=aq, headers=verifier, json={"level": "reasonable"})
    assert r.status_code == 200, r.text
    stmt = r.json()
    assert stmt["opinion"] == "unmodified" and stmt["materiality_tco2e"] == pytest.approx(0.05 * doc["total_tco2e"])
    assert client.get("/api/verification/statement", params=q, headers=regulator).json()["sha256"] == stmt["sha256"]
    assert client.get("/api/verification/statement", params=q, headers=ent_b).status_code == 404
    for name in ("delivery", "record_keeping"):
        r = client.post("/api/verification/steps", params=aq, headers=verifier, json={"step": name, "state": "done"})
        assert r.status_code == 200
    vsteps = client.get("/api/verification/steps", params=aq, headers=admin).json()
    assert all(st["state"] == "done" for st in vsteps) and len(vsteps) == 8
    assert client.get("/api/verification/assignments", headers=admin).json()[0]["retain_until"] is not None

    # step 10 closes the inventory; all ten done
    r = client.post("/api/inventories/steps", headers=admin, json={**q, "step": TEN_STEPS[9], "state": "done"})
    assert r.status_code == 200 and all(st["state"] == "done" for st in r.json())
    assert [v["status"] for v in client.get("/api/inventories/versions", params=q, headers=admin).json()] == [
        "verified"
    ]
    assert client.get("/api/verification/diff", params=q, headers=verifier).json()["changed"] is False
    assert client.get("/api/verification/diff", params=q, headers=regulator).status_code == 403

    # reports with their media types; the HTML carries the total
    r = client.get("/api/inventories/report", params={**q, "format": "html", "lang": "en"}, headers=ent_a)
    assert r.headers["content-type"].startswith("text/html")
    assert f"{doc['total_tco2e']:,.2f}" in r.text or f"{doc['total_tco2e']:.2f}" in r.text
    r = client.get("/api/inventories/report", params={**q, "format": "xlsx"}, headers=regulator)
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert load_workbook(io.BytesIO(r.content)).sheetnames
    r = client.get("/api/inventories/report", params={**q, "format": "pdf"}, headers=admin)
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert client.get("/api/inventories/report", params={**q, "format": "pdf"}, headers=ent_b).status_code == 404

    # the monthly deposit of January: the gas datum and the default factors behind it
    r = client.get("/api/inventories/deposit", params={**q, "month": 1}, headers=ent_a)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]  # second row: Chinese header
    activity = [x for x in rows if x["parameter"] == "activity"]
    assert [(x["source"], float(x["value"]), x["unit"]) for x in activity] == [("boiler", 100.0, "10^4 Nm3")]
    assert activity[0]["credit_code"] == park["A_credit"] and activity[0]["month"] == "2024-01"
    assert any(x["parameter"].startswith("factor:") for x in rows)

    # calendar and key emitters, each in scope
    cal = client.get("/api/inventories/calendar", params={"year": YEAR, "today": "2025-02-01"}, headers=ent_b).json()
    assert all(c["org"] != org for c in cal)
    assert [c["org"] for c in client.get("/api/inventories/calendar", params={"year": YEAR}, headers=ent_a).json()] == [
        org
    ]
    assert client.get("/api/inventories/key-emitters", params={"year": YEAR}, headers=ent_a).status_code == 403
    # 2,732 tCO2e is below the 26,000 tCO2e line
    assert client.get("/api/inventories/key-emitters", params={"year": YEAR}, headers=regulator).json() == []
