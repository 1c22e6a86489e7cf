"""``/api/targets`` over HTTP with real logins (issue 13 item 1), on SQLite and PostgreSQL.

Enterprise A has manual grid electricity for January (1000 MWh) and February (500 MWh) 2024; with
the library's grid factor 0.5703 tCO2/MWh (MEE 2022, as in tests/test_inventory_api.py) that is
570.3 and 285.15 tCO2. A has no meters, so nothing forecasts March–December: the run rate fills them.
"""

from __future__ import annotations

import pytest

from carbonpark.model import EnterpriseSpec, ParkSpec
from carbonpark.model.credit_code import check_character
from carbonpark.services import auth
from carbonpark.services.accounting import account_stored
from carbonpark.services.activity import add_manual_activity
from carbonpark.services.targets import target_status
from carbonpark.store import session, upgrade
from carbonpark.store.registry import add_enterprise, add_park
from test_api_park import PASSWORD, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)

JAN, FEB = 570.3, 285.15  # 1000 MWh and 500 MWh × 0.5703 tCO2/MWh


def _park(db: str) -> dict[str, str]:
    upgrade(db)
    with session(db) as s:
        park = add_park(s, ParkSpec(name="目标园区", handle_prefix="4321"), "test")
        ents = {}
        for key, first17 in (("A", "91320500MA0000011"), ("B", "91320500MA0000012")):
            ents[key] = add_enterprise(
                s,
                park,
                EnterpriseSpec(
                    name=f"企业{key}",
                    credit_code=first17 + check_character(first17),
                    industry_code="C2661",
                    key_emitter=key == "B",
                ),
                "t",
            )
        for period, mwh in (("2024-01", 1000), ("2024-02", 500)):
            add_manual_activity(
                s,
                label="grid",
                period=period,
                activity="grid_electricity",
                amount=mwh,
                unit="MWh",
                enterprise_id=ents["A"].id,
            )
        auth.add_user(s, "admin", "park_admin", PASSWORD, "test")
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, "test", enterprise=ents["A"].id)
        auth.add_user(s, "ent-b", "enterprise", PASSWORD, "test", enterprise=ents["B"].id)
        auth.add_user(s, "regulator", "regulator", PASSWORD, "test")
        auth.add_user(s, "verifier", "verifier", PASSWORD, "test")
        handles = {"A": str(ents["A"].handle), "B": str(ents["B"].handle), "park": str(park.handle)}
    account_stored(db, handles["A"], "2024")
    return handles


def test_targets_api_scope_status_and_import(db_url: str) -> None:
    org = _park(db_url)
    client = client_for(db_url)
    admin, ent_a, ent_b = login(client, "admin"), login(client, "ent-a"), login(client, "ent-b")
    regulator, verifier = login(client, "regulator"), login(client, "verifier")
    body = {
        "targets": [
            {"organisation": "park", "peak_year": 2028, "caps_tco2e": {"2024": 50000}},
            {"organisation": org["A"], "peak_year": 2027, "neutrality_year": 2055, "caps_tco2e": {"2024": 6000}},
            {"organisation": org["B"], "caps_tco2e": {"2024": 100}},
        ],
        "path": [
            {
                "organisation": org["A"],
                "id": "led",
                "name": "LED 照明",
                "year": 2025,
                "owner": "企业A",
                "annual_abatement_tco2e": 100,
            }
        ],
    }
    assert client.get("/api/targets").status_code == 401
    # only the park administrator writes
    assert client.post("/api/targets/import", json=body, headers=ent_a).status_code == 403
    assert client.post("/api/targets/import", json=body, headers=regulator).status_code == 403
    r = client.post("/api/targets/import", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 4, "updated": 0, "unchanged": 0}
    assert client.post("/api/targets/import", json=body, headers=admin).json()["unchanged"] == 4
    bad = {"targets": [{"organisation": org["A"], "caps_tco2e": {"2024": -1}}]}
    r = client.post("/api/targets/import", json=bad, headers=admin)
    assert r.status_code == 422 and "caps_tco2e" in r.text

    # lists: the administrator sees all three, the regulator the park's and key emitter B's (SPEC §1),
    # A's user only A's, the verifier none
    assert client.get("/api/targets", headers=admin).json()["total"] == 3
    seen = client.get("/api/targets", headers=regulator).json()
    assert sorted(t["org"] for t in seen["items"]) == sorted([org["park"], org["B"]])
    assert client.get(f"/api/targets/{org['A']}", headers=regulator).status_code == 404
    mine = client.get("/api/targets", headers=ent_a).json()
    assert mine["total"] == 1 and mine["items"][0]["org"] == org["A"]
    assert mine["items"][0]["path"][0]["id"] == "led"
    assert client.get("/api/targets", headers=verifier).json()["total"] == 0
    # one target: A's user reads A's, not B's nor the park's (404, not revealed)
    assert client.get(f"/api/targets/{org['A']}", headers=ent_a).json()["caps_tco2e"] == {"2024": 6000.0}
    assert client.get(f"/api/targets/{org['B']}", headers=ent_a).status_code == 404
    assert client.get("/api/targets/park", headers=ent_a).status_code == 404
    assert client.get(f"/api/targets/{org['A']}/status", params={"year": 2024}, headers=ent_b).status_code == 404
    assert client.get(f"/api/targets/{org['B']}", headers=regulator).status_code == 200

    # status: the CLI's document; January and February actual, ten months at the run rate
    r = client.get(f"/api/targets/{org['A']}/status", params={"year": 2024}, headers=ent_a)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc == target_status(db_url, org["A"], 2024)
    m1, m2 = doc["months"]
    assert m1["actual_tco2e"] == pytest.approx(JAN) and m2["actual_tco2e"] == pytest.approx(FEB)
    assert m2["cap_to_date_tco2e"] == pytest.approx(6000 * 60 / 366)  # 31 + 29 days of leap year 2024
    projected = JAN + FEB + 10 * (JAN + FEB) / 2  # 5132.7
    assert m2["projected_year_tco2e"] == pytest.approx(projected)
    assert m2["gap_tco2e"] == pytest.approx(projected - 6000)
    assert doc["path"]["trajectory_tco2e"]["2025"] == pytest.approx(projected - 100)
    r = client.get(f"/api/targets/{org['A']}/status", params={"year": 1800}, headers=ent_a)
    assert r.status_code == 422
