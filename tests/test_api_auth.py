"""Login, tokens, keys, roles, audit log and hardening of the API (issue 3 items 1–5), SQLite and PostgreSQL.

The park is built once per module and database (``module_park``); tests add only rows of their own
(users, keys, tokens) to it. The throttling test counts failures per client address, so it has a
database of its own.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import Request
from sqlalchemy import select, update

from carbonpark.api.deps import Device
from carbonpark.errors import ValidationError
from carbonpark.services import auth
from carbonpark.services.access import Principal
from carbonpark.store import connect, session
from carbonpark.store.schema import AuditEntry, Meter
from carbonpark.store.schema_auth import ApiKey, AuthToken, User
from test_api_park import (  # noqa: F401 (fixtures)
    PASSWORD,
    SECRET,
    build_park,
    client_for,
    fast_hashing,
    login,
    module_park,
)

Shared = tuple[Any, dict[str, Any]]


@pytest.fixture
def park(module_park: Shared) -> dict[str, Any]:  # noqa: F811
    """The module's park (``park["db"]`` is its URL)."""
    return module_park[1]


@pytest.fixture
def db_url(park: dict[str, Any]) -> str:  # the module park's database, not a fresh one
    return str(park["db"])


def test_password_login_gives_an_expiring_revocable_bearer_token(db_url: str, park: dict[str, Any]) -> None:
    # no principal cache: the expiry below is written to the database behind the API's back
    client = client_for(db_url, token_ttl_minutes=30, token_cache_seconds=0)
    r = client.post("/api/auth/token", data={"username": "ent-a", "password": PASSWORD})
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_type"] == "bearer" and doc["expires_in"] == 30 * 60  # 30 min in seconds
    headers = {"Authorization": f"Bearer {doc['access_token']}"}
    me = client.get("/api/auth/me", headers=headers).json()
    assert me == {"name": "ent-a", "role": "enterprise", "enterprise_id": park["A"]["enterprise_id"], "assignments": []}
    digest = auth.token_digest(auth.SecuritySettings(secret_key=SECRET), doc["access_token"])
    with session(db_url) as s:  # only the keyed digest (HMAC-SHA256, 64 hex digits) is stored, never the token
        digests = s.scalars(select(AuthToken.digest)).all()
        assert doc["access_token"] not in digests and digest in digests and len(digest) == 64
        # the clock passes this token's expiry
        s.execute(update(AuthToken).where(AuthToken.digest == digest).values(expires_ms=AuthToken.issued_ms))
    r = client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    headers = login(client, "ent-a")
    assert client.post("/api/auth/revoke", data={"token": headers["Authorization"][7:]}, headers=headers).json() == {
        "revoked": True
    }
    r = client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


@pytest.fixture
def own_db(tmp_path: Any, request: pytest.FixtureRequest) -> str:
    """A park of its own on SQLite (the throttle's failures would lock the module's logins out)."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    build_park(url)
    request.addfinalizer(connect(url).dispose)
    return url


def test_wrong_password_is_401_and_guessing_is_throttled(own_db: str) -> None:
    client = client_for(own_db, login_max_failures=3, login_window_seconds=600)
    for _ in range(3):
        r = client.post("/api/auth/token", data={"username": "admin", "password": "wrong-password-xx"})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
    # the fourth attempt is refused before the password is looked at, even the right one
    r = client.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 600
    assert r.json()["type"] == "urn:carbonpark:problem:throttled"
    # other names from the same address: 3 × 4 = 12 failures in all before the address is throttled too
    for i in range(9):
        assert client.post("/api/auth/token", data={"username": f"nobody{i}", "password": "x"}).status_code == 401
    assert client.post("/api/auth/token", data={"username": "ent-a", "password": PASSWORD}).status_code == 429


def test_roles_see_what_spec_section_1_allows(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url)
    regulator = login(client, "regulator")
    ents = client.get("/api/enterprises", headers=regulator).json()
    assert [e["id"] for e in ents["items"]] == [park["B"]["enterprise_id"]]  # the key emitter only
    assert client.get("/api/meters", headers=regulator).status_code == 403
    summary = client.get(f"/api/parks/{park['park']['handle']}/summary", headers=regulator).json()
    # by construction: 2 enterprises (1 key emitter), 1 site/meter/source/product each + the park meter, 4 + 4 readings
    assert {
        k: summary[k] for k in ("enterprises", "key_emitters", "sites", "meters", "sources", "products", "readings")
    } == {
        "enterprises": 2,
        "key_emitters": 1,
        "sites": 2,
        "meters": 3,
        "sources": 2,
        "products": 2,
        "readings": 8,
    }
    ent_a = login(client, "ent-a")
    assert client.get(f"/api/parks/{park['park']['id']}/summary", headers=ent_a).status_code == 403
    assert client.get("/api/audit", headers=ent_a).status_code == 403
    assert client.get("/api/users", headers=ent_a).status_code == 403
    r = client.post("/api/users", headers=ent_a, json={"name": "mallory", "role": "park_admin", "password": "x" * 12})
    assert r.status_code == 403
    b_meter = park["B"]["meter_handle"]
    assert client.get(f"/api/meters/{b_meter}", headers=ent_a).status_code == 404  # existence not revealed
    assert client.get(f"/api/meters/{park['A']['meter_handle']}", headers=ent_a).json()["code"] == "m-A"


def test_verifier_reads_only_its_assigned_enterprise_year(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url)
    verifier = login(client, "verifier-a")
    r = client.get("/api/readings", params={"meter": park["A"]["meter_handle"]}, headers=verifier).json()
    # readings at 2023-12-31 23:00, 2024-01-01 00:00, 2024-06-01 12:00, 2025-01-01 00:00 (+08:00) valued 1..4;
    # assigned 2024 (park-local) keeps the middle two
    assert [i["value"] for i in r["items"]] == [2.0, 3.0]
    assert [i["ts"] for i in r["items"]] == ["2024-01-01T00:00:00+08:00", "2024-06-01T12:00:00+08:00"]
    r = client.get("/api/readings", params={"meter": park["B"]["meter_handle"]}, headers=verifier)
    assert r.status_code == 404


def test_lists_page_sort_and_filter_in_one_style(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url)
    admin = login(client, "admin")
    codes = [m["code"] for m in client.get("/api/meters", params={"sort": "-code"}, headers=admin).json()["items"]]
    assert codes == ["m-park", "m-B", "m-A"]  # descending byte order: 'p' > 'B' > 'A'
    page = client.get("/api/meters", params={"enterprise": park["A"]["credit_code"]}, headers=admin).json()
    assert [m["code"] for m in page["items"]] == ["m-A"]
    r = client.get("/api/readings", params={"meter": park["A"]["meter_id"], "limit": 3}, headers=admin).json()
    assert (r["total"], len(r["items"]), r["next_offset"]) == (4, 3, 3)
    r = client.get(
        "/api/readings",
        params={"meter": park["A"]["meter_handle"], "start": "2024-01-01", "end": "2025-01-01", "order": "desc"},
        headers=admin,
    ).json()
    assert [i["value"] for i in r["items"]] == [3.0, 2.0]
    bad = client.get("/api/meters", params={"sort": "password"}, headers=admin)
    assert bad.status_code == 422
    error = bad.json()["errors"][0]  # the sortable fields are in the OpenAPI pattern, checked before the route
    assert error["field"] == "query.sort" and error["got"] == "password" and "code|name" in error["expected"]
    assert bad.headers["content-type"] == "application/problem+json"
    nope = client.get("/api/nothing-here", headers=admin)
    assert nope.status_code == 404 and nope.headers["content-type"] == "application/problem+json"


def test_writes_are_audited_under_the_user_and_the_log_is_append_only(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url)
    admin = login(client, "admin")
    r = client.post(
        "/api/users",
        headers=admin,
        json={"name": "ent-a2", "role": "enterprise", "password": "another-long-password", "enterprise": "1"},
    )
    assert r.status_code == 201, r.text
    audit = client.get("/api/audit", params={"entity": "users", "limit": 1}, headers=admin).json()["items"][0]
    assert audit["actor"] == "user:admin" and audit["action"] == "create"
    assert audit["after"]["name"] == "ent-a2" and "password_hash" not in audit["after"]
    engine = connect(db_url)
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with session(db_url) as s:
        assert s.scalar(select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.actor == "x")) == 0


def test_device_keys_are_shown_once_stored_hashed_and_scoped(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url)
    app = client.app

    def whoami(request: Request, dev: Device) -> dict[str, Any]:
        with session(db_url) as s:
            meters = {m.code: dev.may_write_meter(m) for m in s.scalars(select(Meter))}
        return {"name": dev.name, "role": dev.role, "may_write": meters, "actor": dev.actor}

    app.add_api_route("/api/test-device", whoami, methods=["GET"])
    r = client.get("/api/test-device", headers={"X-API-Key": park["device_key"]}).json()
    assert r == {
        "name": "gw-a",
        "role": "device",
        "may_write": {"m-A": True, "m-B": False, "m-park": False},
        "actor": "key:gw-a",
    }
    assert client.get("/api/meters", headers={"X-API-Key": park["device_key"]}).status_code == 401  # no reading
    admin = login(client, "admin")
    made = client.post(
        "/api/keys", headers=admin, json={"name": "gw-b", "enterprise": str(park["B"]["enterprise_id"])}
    ).json()
    assert made["key"].startswith("cpk_")
    listed = client.get("/api/keys", headers=admin).json()
    assert all("key" not in k and "digest" not in k for k in listed)
    with session(db_url) as s:
        assert made["key"] not in s.scalars(select(ApiKey.digest)).all()
    r = client.get("/api/test-device", headers={"X-API-Key": made["key"]}).json()
    assert r["may_write"] == {"m-A": False, "m-B": True, "m-park": False}
    assert client.post("/api/keys/gw-b/revoke", headers=admin).json()["revoked_ms"] is not None
    assert client.get("/api/test-device", headers={"X-API-Key": made["key"]}).status_code == 401


def test_users_need_a_known_role_a_long_password_and_an_enterprise_only_for_that_role(
    db_url: str, park: dict[str, Any]
) -> None:
    with session(db_url) as s:
        for kwargs, field in (
            ({"role": "god"}, "role"),
            ({"role": "device"}, "role"),
            ({"role": "enterprise"}, "enterprise"),
            ({"role": "regulator", "enterprise": 1}, "enterprise"),
            ({"role": "regulator", "password": "short"}, "password"),
        ):
            args: dict[str, Any] = {"name": "x", "password": "long-enough-password", **kwargs}
            with pytest.raises(ValidationError) as info:
                auth.add_user(s, args.pop("name"), args.pop("role"), args.pop("password"), "test", **args)
            assert info.value.field == field
        assert s.scalar(select(sa.func.count()).select_from(User).where(User.name == "x")) == 0


def test_hardening_headers_body_limit_cors_and_production_secret(db_url: str, park: dict[str, Any]) -> None:
    client = client_for(db_url, max_body_bytes=2048)
    r = client.get("/api/openapi.json")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "access-control-allow-origin" not in r.headers
    r = client.post(
        "/api/auth/token",
        content=b"username=a&password=" + b"x" * 4096,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413 and r.json()["type"] == "urn:carbonpark:problem:too-large"
    cors = client_for(db_url, cors_origins="https://park.example")
    r = cors.options("/api/meters", headers={"Origin": "https://park.example", "Access-Control-Request-Method": "GET"})
    assert r.headers["access-control-allow-origin"] == "https://park.example"
    r = cors.get("/api/parks", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    with pytest.raises(ValidationError, match="CARBONPARK_SECRET_KEY"):
        client_for(db_url, env="production", secret_key=auth.DEFAULT_SECRET)
    with pytest.raises(ValidationError, match="CARBONPARK_SECRET_KEY"):
        client_for(db_url, env="production", secret_key="short")
    client_for(db_url, env="production", secret_key="k" * 48)  # a real secret starts


def test_no_secret_reaches_the_logs(db_url: str, park: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(db_url)
    token = login(client, "admin")["Authorization"][7:]
    client.get("/api/meters", headers={"Authorization": f"Bearer {token}"})
    client.post("/api/auth/token", data={"username": "admin", "password": "a-wrong-secret-pw"})
    text = caplog.text
    assert token not in text and PASSWORD not in text and "a-wrong-secret-pw" not in text


def test_principal_scope_of_a_meter_scoped_key_is_its_meters() -> None:
    p = Principal(name="gw", role="device", key_id=1, meter_ids=frozenset({7}))
    assert p.may_write_meter(Meter(id=7, enterprise_id=1)) and not p.may_write_meter(Meter(id=8, enterprise_id=1))
    user = Principal(name="u", role="enterprise", user_id=1, enterprise_id=1)
    assert not user.may_write_meter(Meter(id=7, enterprise_id=1))  # only devices write readings


class FakeClock:
    """A monotonic clock the test moves by hand [s]."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _own_user(db: str, name: str, role: str = "regulator") -> None:
    with session(db) as s:
        auth.add_user(s, name, role, PASSWORD, "test")


def test_revocation_through_the_api_takes_effect_at_once_despite_the_principal_cache(
    db_url: str, park: dict[str, Any]
) -> None:
    _own_user(db_url, "cache-api")
    client = client_for(db_url, token_cache_seconds=60)  # a long cache: only the invalidation can explain a 401
    mine = login(client, "cache-api")
    assert client.get("/api/auth/me", headers=mine).status_code == 200  # now cached
    token = mine["Authorization"][7:]
    assert client.post("/api/auth/revoke", data={"token": token}, headers=mine).json() == {"revoked": True}
    r = client.get("/api/auth/me", headers=mine)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # an administrator logging a user out everywhere
    mine, admin = login(client, "cache-api"), login(client, "admin")
    assert client.get("/api/parks", headers=mine).status_code == 200
    assert client.post("/api/users/cache-api/revoke-tokens", headers=admin).json() == {"revoked": 1}
    assert client.get("/api/parks", headers=mine).status_code == 401
    assert client.get("/api/parks", headers=admin).status_code == 200  # the administrator's own token lives on


def test_revocation_elsewhere_takes_effect_within_the_cache_lifetime(db_url: str, park: dict[str, Any]) -> None:
    _own_user(db_url, "cache-cli")
    client = client_for(db_url, token_cache_seconds=5)
    clock = FakeClock()
    client.app.state.principals = auth.PrincipalCache(5, clock=clock)
    mine = login(client, "cache-cli")
    assert client.get("/api/auth/me", headers=mine).status_code == 200  # checked at t = 0, cached until t = 5 s
    with session(db_url) as s:  # as `carbonpark users revoke-tokens` does, from another process
        assert auth.revoke_user_tokens(s, "cache-cli", "cli") == 1
    clock.now += 4.9
    assert client.get("/api/auth/me", headers=mine).status_code == 200  # the documented bound: up to 5 s late
    clock.now += 0.1
    r = client.get("/api/auth/me", headers=mine)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_principal_cache_drops_stale_entries_and_racing_lookups() -> None:
    clock = FakeClock()
    cache = auth.PrincipalCache(5, clock=clock)
    who = Principal(name="u", role="regulator", user_id=1)
    far = 2**62  # token expiry [epoch ms] far away
    cache.put("d1", who, far, cache.generation)
    assert cache.get("d1") is who
    # a lookup that read the database before a revocation committed must not store the old state after it
    seen = cache.generation
    cache.clear()
    cache.put("d1", who, far, seen)
    assert cache.get("d1") is None
    # an entry never outlives its token: expired 1 ms ago answers None although the cache time is left
    cache.put("d2", who, auth._now_ms() - 1, cache.generation)
    assert cache.get("d2") is None
    # and not the cache lifetime either
    cache.put("d3", who, far, cache.generation)
    clock.now += 5
    assert cache.get("d3") is None
    # lifetime 0 disables it
    off = auth.PrincipalCache(0, clock=clock)
    off.put("d4", who, far, off.generation)
    assert off.get("d4") is None
