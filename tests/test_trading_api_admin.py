"""Administrative trading routes (``api/routers/trading_admin.py``, issue 12 item 5), SQLite and PostgreSQL.

Each route: a result worked by hand (in the comment next to it), the roles refused, and bad input
answered 422 with a problem document naming the field. The park is ``tests/test_trading_store._park``
(three enterprises with credit codes ``_credit(1..3)``); accounting runs stand for what the
accounting capability stores.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from carbonpark.api.app import create_app
from carbonpark.model.entities import ProductSpec, StatisticSpec
from carbonpark.services import auth
from carbonpark.services import trading as svc
from carbonpark.store import registry as reg
from carbonpark.store import session
from carbonpark.store.schema_accounting import AccountingRun
from carbonpark.store.schema_ledger import LedgerEntry
from test_api_park import fast_hashing  # noqa: F401 (fixture: cheap password hashes)
from test_trading_store import _credit, _park

PASSWORD = "correct horse battery staple"
ACTOR = "test"


def _client(db: str) -> tuple[TestClient, list[str], dict[str, dict[str, str]]]:
    """The app on a three-enterprise park, and the bearer headers of one user per role."""
    a, b, c = _park(db)
    with session(db) as s:
        auth.add_user(s, "admin", "park_admin", PASSWORD, ACTOR)
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, ACTOR, enterprise=a)
        auth.add_user(s, "verifier", "verifier", PASSWORD, ACTOR)
        auth.add_user(s, "regulator", "regulator", PASSWORD, ACTOR)
    client = TestClient(create_app(db))
    headers = {}
    for name in ("admin", "ent-a", "verifier", "regulator"):
        r = client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return client, [a, b, c], headers


def _run(db: str, org: str, year: int, total_tco2e: float, energy_tce: float) -> None:
    """A locked accounting run of ``org`` for ``year`` (its total counts as verified)."""
    with session(db) as s:
        ent = reg.resolve(s, reg.Enterprise, org)
        s.add(
            AccountingRun(
                org=org,
                enterprise_id=ent.id,
                period=str(year),
                start_ms=0,
                end_ms=1,
                factor_set="cn-ndrc-2015",
                gwp_set="AR5",
                computed_ms=1,
                total_tco2e=total_tco2e,
                locked=True,
                summary={"energy_tce": energy_tce, "energy": [{"activity": "grid_electricity", "tce": energy_tce}]},
            )
        )


def _stat(db: str, enterprise: str, period: str, metric: str, value: float, unit: str) -> None:
    with session(db) as s:
        spec = StatisticSpec(enterprise=enterprise, period=period, metric=metric, value=value, unit=unit)
        reg.upsert_statistic(s, reg.the_park(s), spec, ACTOR)


def _problem(r: Any, status: int, field: str) -> None:
    """``r`` is a problem document of ``status`` naming ``field`` (its own or one of its ``errors``)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    fields = [doc.get("field")] + [e["field"] for e in doc.get("errors", [])]
    assert field in fields, (field, doc)


def _movements(db: str) -> int:
    with session(db) as s:
        return int(s.scalar(select(func.count()).where(LedgerEntry.kind == svc.MOVEMENT_KIND)) or 0)


def test_allocation_by_benchmark_power_and_history(db_url: str, fast_hashing: None) -> None:  # noqa: F811
    client, (a, b, c), h = _client(db_url)
    _stat(db_url, a, "2025-01", "output:cement", 1000, "t")
    _stat(db_url, a, "2025-02", "output:cement", 2000, "t")
    _stat(db_url, a, "2024-12", "output:cement", 999, "t")  # another year: not counted
    with session(db_url) as s:
        for code, unit in (("power", "MWh"), ("heat", "GJ")):
            reg.add_product(s, reg.the_park(s), ProductSpec(code=code, name=code, unit=unit, enterprise=c), ACTOR)
    _stat(db_url, c, "2025", "output:power", 2000, "MWh")
    _stat(db_url, c, "2025", "output:heat", 1000, "GJ")
    _run(db_url, b, 2023, 1000.4, 10)  # verified 1000.4 → 1000 t (half-up)
    _run(db_url, b, 2024, 1201.0, 10)
    plan = {
        "year": 2025,
        "plan": [
            {
                "enterprise": a,
                "method": "benchmark",
                "benchmark": "1.5",
                "output_metric": "output:cement",
                "correction_factors": ["0.98", 1.02],
            },
            {
                "enterprise": c,
                "method": "power",
                "supply_benchmark": "0.877",
                "power_metric": "output:power",
                "correction_factors": ["0.956"],
                "heat_benchmark": "0.126",
                "heat_metric": "output:heat",
            },
            {"enterprise": b, "method": "history", "base_years": [2023, 2024], "control_factor": "0.97"},
        ],
    }
    for role in ("ent-a", "verifier", "regulator"):
        assert client.post("/api/trading/allocations", headers=h[role], json=plan).status_code == 403
    r = client.post("/api/trading/allocations", headers=h["admin"], json=plan)
    assert r.status_code == 200, r.text
    doc = r.json()
    # benchmark: 1.5 t/t × (1000 + 2000) t × 0.98 × 1.02 = 4410 × 1.02 = 4498.2 → 4498 t
    assert doc["allocations"][a]["allowances_t"] == 4498
    # power: 0.877 t/MWh × 2000 MWh × 0.956 + 0.126 t/GJ × 1000 GJ = 1676.824 + 126 = 1802.824 → 1803 t
    assert doc["allocations"][c]["allowances_t"] == 1803
    # history: mean(1000, 1201) = 1100.5 t × 0.97 = 1067.485 → 1067 t
    assert doc["allocations"][b]["allowances_t"] == 1067
    assert doc["allocations"][b]["inputs"]["base_emissions_tco2e"] == [1000, 1201]
    assert doc["asset"] == "allowance:2025" and len(doc["movements"]) == 3
    assert _movements(db_url) == 3  # one attested ledger entry per movement
    held = client.get("/api/trading/balances", headers=h["admin"]).json()["accounts"]
    assert [held[x]["allowance:2025"]["available"] for x in (a, b, c)] == [4498, 1067, 1803]
    # bad input: the field is named, and nothing is booked
    bad = {"year": 2025, "plan": [{**plan["plan"][0], "benchmark": -1}]}
    _problem(client.post("/api/trading/allocations", headers=h["admin"], json=bad), 422, "body.plan.0.benchmark")
    bad = {"year": 2025, "plan": [{"enterprise": a, "method": "grandfathering"}]}
    _problem(client.post("/api/trading/allocations", headers=h["admin"], json=bad), 422, "body.plan.0.method")
    _problem(
        client.post("/api/trading/allocations", headers=h["admin"], json={"year": 2025, "plan": []}), 422, "body.plan"
    )
    no_output = {"year": 2025, "plan": [{"enterprise": b, "benchmark": 1, "output_metric": "output:steel"}]}
    _problem(client.post("/api/trading/allocations", headers=h["admin"], json=no_output), 422, "plan[0].output_metric")
    assert _movements(db_url) == 3


def test_statement_import_reconciles_and_aligns(db_url: str, fast_hashing: None) -> None:  # noqa: F811
    client, (a, b, _), h = _client(db_url)
    with session(db_url) as s:
        svc.issue(s, a, "allowance:2025", 100, actor=ACTOR)
        svc.issue(s, b, "ccer", 7, actor=ACTOR)
    csv_text = (
        "statement_id,as_of,credit_code,asset,quantity\n"
        f"NR-1,2026-01-05,{_credit(1)},allowance:2025,100\n"
        f"NR-1,2026-01-05,{_credit(2)},ccer,9\n"
    )

    def upload(text: str | bytes, who: str = "admin", align: bool = False) -> Any:
        files = {"file": ("statement.csv", text, "text/csv")}
        return client.post("/api/trading/statements", headers=h[who], files=files, data={"align": str(align).lower()})

    for role in ("ent-a", "verifier", "regulator"):
        assert upload(csv_text, role).status_code == 403
    r = upload(csv_text)
    assert r.status_code == 200, r.text
    # A: park 100 = national 100; B: park 7 − national 9 = −2 t of CCER
    assert r.json()["differences"] == [{"holder": b, "asset": "ccer", "park_t": 7, "national_t": 9, "difference_t": -2}]
    assert r.json()["movements"] == [] and r.json()["holders"] == 2
    dup = upload(csv_text)
    assert dup.status_code == 409 and dup.json()["type"] == "urn:carbonpark:problem:duplicate"
    r = upload(csv_text.replace("NR-1", "NR-2"), align=True)
    assert r.status_code == 200, r.text
    assert [(int(m["amount"]), m["reason"]) for m in r.json()["movements"]] == [(2, "registry_statement")]
    held = client.get("/api/trading/balances", headers=h["admin"], params={"enterprise": b}).json()["accounts"]
    assert held[b]["ccer"]["total"] == 9  # 7 + 2 booked from @external
    # a credit code of no park enterprise, on line 2 of the file
    unknown = csv_text.replace(_credit(1), _credit(9)).replace("NR-1", "NR-3")
    _problem(upload(unknown), 422, "statement line 2.credit_code")
    _problem(upload(b"statement_id,as_of\n\xff\xfe\n"), 422, "file")
    _problem(upload("a,b\n1,2\n"), 422, "statement")
    _problem(client.post("/api/trading/statements", headers=h["admin"], data={"align": "false"}), 422, "body.file")


def test_energy_caps_set_and_read_back_in_the_position(db_url: str, fast_hashing: None) -> None:  # noqa: F811
    client, (a, _, _), h = _client(db_url)
    _run(db_url, a, 2025, 1000, 520)
    _stat(db_url, a, "2025", "value_added", 1300, "万元")
    cap = {"org": a, "year": 2025, "total_tce": 1000, "intensity": "0.5", "source": "test allocation"}
    for role in ("ent-a", "verifier", "regulator"):  # the regulator sets the park's caps only
        assert client.put("/api/trading/energy/caps", headers=h[role], json=cap).status_code == 403
    r = client.put("/api/trading/energy/caps", headers=h["admin"], json=cap)
    assert r.status_code == 200, r.text
    assert r.json()["org"] == a and Decimal(str(r.json()["total_cap_tce"])) == 1000
    pos = client.get("/api/trading/energy/position", headers=h["admin"], params={"org": a, "year": 2025}).json()
    # no monthly data → the whole year: 520 tce of a 1000 tce cap, 480 left, within;
    # 520 tce / 1300 × 10⁴ CNY = 0.4 ≤ 0.5 → within
    assert pos["total_status"] == "within" and Decimal(str(pos["remaining_tce"])) == 480
    assert Decimal(str(pos["intensity_tce_per_10k_cny"])) == Decimal("0.4") and pos["intensity_status"] == "within"
    park_cap = {"org": "park", "year": 2025, "total_tce": "50000"}
    r = client.put("/api/trading/energy/caps", headers=h["regulator"], json=park_cap)
    assert r.status_code == 200 and r.json()["org"] == "park", r.text
    _problem(
        client.put("/api/trading/energy/caps", headers=h["admin"], json={**cap, "total_tce": -5}), 422, "body.total_tce"
    )
    _problem(client.put("/api/trading/energy/caps", headers=h["admin"], json={"org": a, "year": 2025}), 422, "caps")
    _problem(client.put("/api/trading/energy/caps", headers=h["admin"], json={**cap, "year": 1800}), 422, "body.year")


def test_product_quota_entered_and_checked(db_url: str, fast_hashing: None) -> None:  # noqa: F811
    client, (a, _, _), h = _client(db_url)
    _run(db_url, a, 2025, 1000, 11_500)  # 11,500 tce = 11,500,000 kgce
    _stat(db_url, a, "2025", "output:clinker", 100_000, "t")
    quota = {
        "enterprise": a,
        "product": "clinker",
        "output_metric": "output:clinker",
        "limit": 112,
        "advanced": 100,
        "standard": "GB 16780-2021 grade 3",
    }
    for role in ("ent-a", "verifier", "regulator"):
        assert client.put("/api/trading/energy/quotas", headers=h[role], json=quota).status_code == 403
    r = client.put("/api/trading/energy/quotas", headers=h["admin"], json=quota)
    assert r.status_code == 200 and r.json()["product"] == "clinker", r.text
    (check,) = client.get("/api/trading/energy/quotas", headers=h["ent-a"], params={"year": 2025}).json()
    # 11,500,000 kgce / 100,000 t = 115 kgce/t > 112 → exceeds by 3
    assert Decimal(str(check["unit_consumption_kgce"])) == 115 and check["status"] == "exceeds"
    assert Decimal(str(check["margin_kgce"])) == -3
    assert client.put("/api/trading/energy/quotas", headers=h["admin"], json={**quota, "limit": 120}).status_code == 200
    (check,) = client.get("/api/trading/energy/quotas", headers=h["admin"], params={"year": 2025}).json()
    assert check["status"] == "within" and Decimal(str(check["margin_kgce"])) == 5  # 120 − 115
    _problem(
        client.put("/api/trading/energy/quotas", headers=h["admin"], json={**quota, "limit": 0}), 422, "body.limit"
    )
    over = {**quota, "limit": 90}  # the advanced value 100 may not be above the limit
    _problem(client.put("/api/trading/energy/quotas", headers=h["admin"], json=over), 422, "advanced_kgce_per_unit")
    _problem(
        client.put("/api/trading/energy/quotas", headers=h["admin"], json={**quota, "product": None}),
        422,
        "body.product",
    )


def test_energy_use_rights_surrendered_by_their_holder(db_url: str, fast_hashing: None) -> None:  # noqa: F811
    client, (a, b, _), h = _client(db_url)
    _run(db_url, a, 2025, 1000, 100.2)  # 100.2 tce → 101 tce of rights (rounded up)
    _run(db_url, b, 2025, 1000, 50)
    with session(db_url) as s:
        svc.issue(s, a, "energy_right:2025", 60, actor=ACTOR)
        svc.issue(s, a, "energy_right:2024", 30, actor=ACTOR)
    body = {"enterprise": a, "year": 2025}
    for role in ("verifier", "regulator"):
        assert client.post("/api/trading/energy/surrender", headers=h[role], json=body).status_code == 403
    other = client.post("/api/trading/energy/surrender", headers=h["ent-a"], json={"enterprise": b, "year": 2025})
    assert other.status_code == 404  # another enterprise: not revealed
    before = _movements(db_url)
    r = client.post("/api/trading/energy/surrender", headers=h["ent-a"], json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    # 30 (2024, oldest first) + 60 (2025) = 90 surrendered of 101 needed, 11 short
    assert (doc["needed_tce"], doc["surrendered_tce"], doc["shortfall_tce"], doc["status"]) == (
        101,
        90,
        11,
        "shortfall",
    )
    assert _movements(db_url) == before + 2  # one per vintage, each attested
    held = client.get("/api/trading/balances", headers=h["ent-a"]).json()["accounts"][a]
    assert held["energy_right:2025"]["total"] == 0 and held["energy_right:2024"]["total"] == 0
    _problem(
        client.post("/api/trading/energy/surrender", headers=h["admin"], json={**body, "year": 1800}), 422, "body.year"
    )
    _problem(
        client.post("/api/trading/energy/surrender", headers=h["admin"], json={"year": 2025}), 422, "body.enterprise"
    )
    no_run = client.post("/api/trading/energy/surrender", headers=h["admin"], json={**body, "year": 2024})
    _problem(no_run, 422, f"energy of {a} 2024")
