"""A two-enterprise park for the API tests (imported by the other ``test_api_*`` modules).

Enterprise A (not a key emitter) and enterprise B (key emitter) each own a site, a meter, a
source and a product; one park-level meter belongs to no enterprise. Users: one per role;
the verifier is assigned enterprise A for 2024. Readings of A's meter straddle the 2024 year
boundary in park-local time (Asia/Shanghai, UTC+8) so the verifier's year filter can be checked
by hand.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from carbonpark.api.app import create_app
from carbonpark.model import CarrierSpec, EnterpriseSpec, MeterSpec, ParkSpec, ProductSpec, SiteSpec, SourceSpec
from carbonpark.services import auth
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store.registry import (
    add_carrier,
    add_enterprise,
    add_meter,
    add_park,
    add_product,
    add_site,
    add_source,
)
from carbonpark.store.schema import AuditEntry

with warnings.catch_warnings():
    warnings.simplefilter("error")
    from fastapi.testclient import TestClient

__all__ = ["PASSWORD", "SECRET", "build_park", "client_for", "fast_hashing", "login"]

PASSWORD = "correct-horse-battery-staple"
SECRET = "test-secret-key-with-more-than-32-characters"
CREDIT = {"A": "91320500MA1XY00019", "B": "91320500MA1XY0002C"}
SH = ZoneInfo("Asia/Shanghai")
#: Local times of the readings of A's meter: the verifier (assigned A for 2024) may see the middle two.
A_READING_TIMES = [
    datetime(2023, 12, 31, 23, 0, tzinfo=SH),
    datetime(2024, 1, 1, 0, 0, tzinfo=SH),
    datetime(2024, 6, 1, 12, 0, tzinfo=SH),
    datetime(2025, 1, 1, 0, 0, tzinfo=SH),
]


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters in tests (the shipped defaults take ~0.5 s a hash on this machine)."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def settings(**overrides: Any) -> auth.SecuritySettings:
    """Security settings of the tests (explicit, not from the environment)."""
    return auth.SecuritySettings(**{"secret_key": SECRET, "env": "test", **overrides})


def build_park(db: str) -> dict[str, Any]:
    """Create the park, users and a device key; return ids and handles by enterprise."""
    upgrade(db)
    out: dict[str, Any] = {}
    with session(db) as s:
        park = add_park(s, ParkSpec(name="测试园区", handle_prefix="1234"), "test")
        add_carrier(
            s,
            park,
            CarrierSpec(code="electricity", name="电力", name_en="Electricity", quantity="energy", unit="kWh"),
            "test",
        )
        out["park"] = {"id": park.id, "handle": park.handle}
        for tag, key_emitter in (("A", False), ("B", True)):
            ent = add_enterprise(
                s,
                park,
                EnterpriseSpec(
                    name=f"企业{tag}", credit_code=CREDIT[tag], industry_code="C2614", key_emitter=key_emitter
                ),
                "test",
            )
            site = add_site(s, park, SiteSpec(name=f"厂区{tag}", enterprise=str(ent.id)), "test")
            meter = add_meter(
                s,
                park,
                MeterSpec(
                    code=f"m-{tag}", quantity="energy", unit="kWh", carrier="electricity", enterprise=str(ent.id)
                ),
                "test",
            )
            source = add_source(
                s,
                park,
                SourceSpec(
                    name=f"外购电{tag}",
                    enterprise=str(ent.id),
                    activity="purchased_electricity",
                    scope=2,
                    meter=str(meter.id),
                ),
                "test",
            )
            product = add_product(
                s, park, ProductSpec(code=f"p-{tag}", name=f"产品{tag}", unit="t", enterprise=str(ent.id)), "test"
            )
            rows = [ent, site, meter, source, product]
            out[tag] = {
                "enterprise_id": ent.id,
                "credit_code": ent.credit_code,
                "meter_id": meter.id,
                "meter_handle": meter.handle,
                "handles": [r.handle for r in rows],
                "refs": {"enterprises": ent, "sites": site, "meters": meter, "sources": source, "products": product},
            }
            out[tag]["refs"] = {k: (v.id, v.handle) for k, v in out[tag]["refs"].items()}
        park_meter = add_meter(s, park, MeterSpec(code="m-park", quantity="energy", unit="kWh"), "test")
        out["park_meter"] = {"id": park_meter.id, "handle": park_meter.handle}
        a_ent = out["A"]["enterprise_id"]
        auth.add_user(s, "admin", "park_admin", PASSWORD, "test")
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, "test", enterprise=a_ent)
        auth.add_user(s, "ent-b", "enterprise", PASSWORD, "test", enterprise=out["B"]["enterprise_id"])
        auth.add_user(s, "verifier-a", "verifier", PASSWORD, "test")
        auth.assign_verifier(s, "verifier-a", a_ent, 2024, "test")
        auth.add_user(s, "regulator", "regulator", PASSWORD, "test")
        _, out["device_key"] = auth.add_api_key(s, settings(), "gw-a", "test", meters=[out["A"]["meter_handle"]])
    a_rows = [(out["A"]["meter_id"], int(t.timestamp() * 1000), float(i + 1), 0) for i, t in enumerate(A_READING_TIMES)]
    b_rows = [
        (out["B"]["meter_id"], int(t.timestamp() * 1000), 10.0 * (i + 1), 0) for i, t in enumerate(A_READING_TIMES)
    ]
    insert_readings(connect(db), a_rows + b_rows)
    return out


def client_for(db: str, **overrides: Any) -> TestClient:
    """A test client of the app on ``db`` with the test secret."""
    return TestClient(create_app(db, settings(**overrides)))


def login(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers of a fresh token of ``name``."""
    r = client.post("/api/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_park_fixture_has_typed_handles_and_history(db_url: str) -> None:
    park = build_park(db_url)
    assert park["A"]["meter_handle"] == f"88.1234/meter.{park['A']['meter_id']}"
    with session(db_url) as s:
        actors = set(s.scalars(select(AuditEntry.actor)))
    assert actors == {"test"}
