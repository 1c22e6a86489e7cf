"""The identifier registry and resolver: Handle REST answers field by field, permissions, history, counts.

Expected shapes and codes are the Handle System's (Handle.Net Technical Manual v9, JSON REST API):
``{"responseCode", "handle", "values": [{"index", "type", "data": {"format", "value"}, "ttl",
"timestamp"}]}``; codes 1 success, 100 handle not found, 102 invalid handle, 200 values not
found, 401 insufficient permissions, 402 authentication needed, 301 server not responsible.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from fastapi.testclient import TestClient

from carbonpark.api.app import create_app
from carbonpark.errors import DuplicateError, PermissionDenied, ValidationError
from carbonpark.identifiers import Reader, Record, StoredValue, answer, validate_value
from carbonpark.model import EnterpriseSpec, MaterialSpec, ParkSpec, ProductSpec, check_character
from carbonpark.services import identifiers as ids
from carbonpark.services.auth import add_user
from carbonpark.store import connect, session, upgrade
from carbonpark.store import registry as reg

ADMIN = Reader(name="admin", role="park_admin")
PASSWORD = "correct horse battery"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def _credit(n: int) -> str:
    first17 = f"91320500MA{n:07d}"
    return first17 + check_character(first17)


def _park(db: str, prefix: str = "1234") -> dict[str, str]:
    """Two enterprises, a product of each, a material; users of each role we need."""
    upgrade(db)
    out: dict[str, str] = {}
    with session(db) as s:
        park = reg.add_park(s, ParkSpec(name="园区", handle_prefix=prefix), "test")
        for key, n in (("A", 1), ("B", 2)):
            ent = reg.add_enterprise(
                s, park, EnterpriseSpec(name=f"企业{key}", credit_code=_credit(n), industry_code="3311"), "test"
            )
            out[key] = str(ent.handle)
            prod = reg.add_product(
                s, park, ProductSpec(code=f"{key}-p", name=f"产品{key}", unit="t", enterprise=ent.handle), "test"
            )
            out[f"{key}-p"] = str(prod.handle)
        out["mat"] = str(reg.add_material(s, park, MaterialSpec(code="steel", name="钢", unit="t"), "test").handle)
        add_user(s, "admin", "park_admin", PASSWORD, "test")
        add_user(s, "alice", "enterprise", PASSWORD, "test", enterprise=out["A"])
        add_user(s, "bob", "enterprise", PASSWORD, "test", enterprise=out["B"])
    return out


# --- pure: the answer ------------------------------------------------------------------------------


def _record() -> Record:
    return Record(
        "88.1234/prod.1",
        (
            StoredValue(1, "URL", "string", "/api/products/88.1234/prod.1", 86400, 1_700_000_000_000, True),
            StoredValue(2, "DESC", "string", "product: p", 3600, 1_700_000_000_000, True),
            StoredValue(
                4, "EMISSION_RECORD", "string", '{"period":"2024","tco2e":1.5}', 86400, 1_700_000_001_000, False
            ),
            StoredValue(
                100,
                "HS_ADMIN",
                "admin",
                '{"handle":"88.1234/ent.1","index":200,"permissions":"011111110011"}',
                86400,
                1_700_000_000_000,
                True,
            ),
        ),
    )


def test_answer_fields_match_the_handle_rest_shape() -> None:
    got = answer(_record(), "88.1234/prod.1", Reader())
    assert got.status == 200
    assert list(got.body) == ["responseCode", "handle", "values"]
    assert got.body["responseCode"] == 1 and got.body["handle"] == "88.1234/prod.1"
    # the restricted EMISSION_RECORD is left out for an anonymous reader; order is by index
    assert [v["index"] for v in got.body["values"]] == [1, 2, 100]
    first = got.body["values"][0]
    assert list(first) == ["index", "type", "data", "ttl", "timestamp"]
    assert first["data"] == {"format": "string", "value": "/api/products/88.1234/prod.1"}
    assert first["ttl"] == 86400
    # 1 700 000 000 000 ms = 2023-11-14T22:13:20Z
    assert first["timestamp"] == "2023-11-14T22:13:20Z" and ISO_Z.match(first["timestamp"])
    admin = got.body["values"][2]
    assert admin["type"] == "HS_ADMIN"
    assert admin["data"] == {
        "format": "admin",
        "value": {"handle": "88.1234/ent.1", "index": 200, "permissions": "011111110011"},
    }


def test_answer_codes_for_filters_permissions_and_unknown() -> None:
    rec = _record()
    assert answer(None, "88.1234/prod.9", Reader()).body == {"responseCode": 100, "handle": "88.1234/prod.9"}
    assert answer(None, "88.1234/prod.9", Reader()).status == 404
    none = answer(rec, rec.handle, Reader(), types=["EMAIL"])
    assert (none.status, none.body["responseCode"], none.body["values"]) == (200, 200, [])
    by_type = answer(rec, rec.handle, Reader(), types=["desc"])  # types compare case-insensitively
    assert [v["index"] for v in by_type.body["values"]] == [2]
    union = answer(rec, rec.handle, Reader(), types=["URL"], indices=[2])
    assert [v["index"] for v in union.body["values"]] == [1, 2]
    anon = answer(rec, rec.handle, Reader(), indices=[4])
    assert (anon.status, anon.body["responseCode"]) == (401, 402)
    other = answer(rec, rec.handle, Reader("bob", "enterprise", "88.1234/ent.2"), indices=[4])
    assert (other.status, other.body["responseCode"]) == (403, 401)
    owner = answer(rec, rec.handle, Reader("alice", "enterprise", "88.1234/ent.1"), indices=[4])
    assert owner.status == 200 and json.loads(owner.body["values"][0]["data"]["value"])["tco2e"] == 1.5


@pytest.mark.parametrize(
    ("type_name", "value", "field"),
    [
        ("URL", "ftp://x", "URL.value"),
        ("EMAIL", "no-at-sign", "EMAIL.value"),
        ("MANUFACTURER", "not a handle", "MANUFACTURER.value"),
        ("HS_ADMIN", {"handle": "88.1234/ent.1", "permissions": "12"}, "HS_ADMIN.permissions"),
        (
            "CARBON_FOOTPRINT",
            {"tco2e_per_unit": "a lot", "unit": "t", "boundary": "x"},
            "CARBON_FOOTPRINT.tco2e_per_unit",
        ),
        ("BATCH", {"product": "88.1234/prod.1", "batch": "b1", "quantity": -1, "unit": "t"}, "BATCH.quantity"),
        ("lower", "x", "type"),
    ],
)
def test_bad_values_name_what_was_expected(type_name: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_value(type_name, value)
    assert err.value.field == field


# --- the registry on the store (SQLite and PostgreSQL) --------------------------------------------


def test_every_registry_entity_resolves_with_derived_values(db_url: str) -> None:
    h = _park(db_url)
    resolver = ids.Resolver(db_url)
    got = resolver.resolve(h["A-p"])
    assert got.status == 200
    types = {v["type"]: v["data"]["value"] for v in got.body["values"]}
    assert types["URL"] == f"/api/products/{h['A-p']}"
    assert types["MANUFACTURER"] == h["A"]
    assert types["HS_ADMIN"]["handle"] == h["A"]
    for handle in (h["A"], h["mat"], "88.1234/park.1"):
        assert resolver.resolve(handle).body["responseCode"] == 1
    assert resolver.resolve("88.1234/prod.99").status == 404
    assert resolver.resolve("88.1234/nodot").body["responseCode"] == 102
    resolver.close()  # writes the counts: 6 resolutions answered (1 + 3 + not found + malformed)
    with session(db_url) as s:
        assert ids.statistics(s, _year()).resolutions == 6


def test_changes_need_permission_and_are_kept_in_history(db_url: str) -> None:
    h = _park(db_url)
    alice = Reader("alice", "enterprise", h["A"])
    bob = Reader("bob", "enterprise", h["B"])
    with session(db_url) as s:
        ids.add_value(s, h["A-p"], "EMISSION_RECORD", {"tco2e": 12.5, "period": "2025-01"}, alice)
        with pytest.raises(PermissionDenied, match="bob"):
            ids.add_value(s, h["A-p"], "DESC", "bob was here", bob)
        with pytest.raises(PermissionDenied):
            ids.add_value(s, h["A-p"], "DESC", "anonymous", Reader())
    with session(db_url) as s:
        record = ids.load_record(s, h["A-p"])
        assert record is not None
        rec_value = next(v for v in record.values if v.type == "EMISSION_RECORD")
        assert rec_value.public is False  # emission records are restricted by default
        with pytest.raises(DuplicateError):
            ids.add_value(s, h["A-p"], "DESC", "again", alice, index=rec_value.index)
    with session(db_url) as s:
        ids.update_value(s, h["A-p"], rec_value.index, {"tco2e": 13.0, "period": "2025-01"}, alice)
        ids.delete_value(s, h["A-p"], rec_value.index, ADMIN)
    with session(db_url) as s:
        changes = ids.history(s, h["A-p"])
    actions = [(c["entity"], c["action"], c["actor"]) for c in changes]
    assert actions[0] == ("identifiers", "create", "user:alice")  # registered on alice's first value
    value_changes = [a for a in actions if a[0] == "identifier_values"]
    assert value_changes[-3:] == [
        ("identifier_values", "create", "user:alice"),
        ("identifier_values", "update", "user:alice"),
        ("identifier_values", "delete", "user:admin"),
    ]
    update = next(c for c in changes if c["action"] == "update")
    assert json.loads(update["before"]["data"])["tco2e"] == 12.5
    assert json.loads(update["after"]["data"])["tco2e"] == 13.0


def test_virtual_assets_and_statistics_of_indicators_15_to_18(db_url: str) -> None:
    h = _park(db_url)
    year = _year()
    with session(db_url) as s:
        ent_a = reg.resolve(s, reg.Enterprise, h["A"])
        rec = ids.register_virtual(
            s, "emission_record", ADMIN, [("EMISSION_RECORD", {"tco2e": 3.2, "period": "2025"})], owner=ent_a
        )
        model = ids.register_virtual(s, "model", ADMIN, [("DESC", "LightGBM load forecaster")])
        ids.add_node(s, "88.1234.1", ADMIN, enterprise=ent_a)
        with pytest.raises(PermissionDenied):
            ids.add_node(s, "88.1234.2", Reader("alice", "enterprise", h["A"]), enterprise=None)
    assert rec.handle == "88.1234/rec.1" and model.handle == "88.1234/model.1"
    resolver = ids.Resolver(db_url)
    for _ in range(3):
        resolver.resolve(model.handle)
    resolver.resolve(rec.handle, Reader("alice", "enterprise", h["A"]))
    resolver.resolve("88.1234/prod.99")
    resolver.close()
    with session(db_url) as s:
        stats = ids.statistics(s, year)
    # 2 enterprises, 1 with a node → 50 %; 2 identifiers registered this year; users: admin (registered),
    # alice (resolved while logged in); 5 resolutions answered (3 + 1 + 1 not found)
    assert stats.node_coverage_percent == pytest.approx(50.0)
    assert stats.platform_figures() == {
        "enterprises_total": 2,
        "enterprises_with_identifier_node": 1,
        "identifiers_registered": 2,
        "identifier_active_users": 2,
        "identifier_resolutions": 5,
    }


# --- over HTTP -----------------------------------------------------------------------------------


def _token(client: TestClient, name: str) -> dict[str, str]:
    reply = client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    h = _park(db)
    with session(db) as s:
        ids.add_value(s, h["A-p"], "EMISSION_RECORD", {"tco2e": 12.5, "period": "2025-01"}, ADMIN)
        ids.add_value(s, h["A-p"], "EMAIL", "carbon@a.example.cn", ADMIN, public=True)
    with TestClient(create_app(db)) as client:
        yield client, h
    connect(db).dispose()


def test_http_status_and_response_code_together(api: tuple[TestClient, dict[str, str]]) -> None:
    client, h = api
    prefix, suffix = h["A-p"].split("/")
    ok = client.get(f"/api/handles/{prefix}/{suffix}")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/json")
    body = ok.json()
    assert body["responseCode"] == 1 and body["handle"] == h["A-p"]
    assert [v["type"] for v in body["values"]] == ["URL", "DESC", "MANUFACTURER", "EMAIL", "HS_ADMIN"]
    email = client.get(f"/api/handles/{prefix}/{suffix}", params={"type": "EMAIL"}).json()
    assert email["values"][0]["data"] == {"format": "string", "value": "carbon@a.example.cn"}
    by_index = client.get(f"/api/handles/{prefix}/{suffix}", params=[("index", "1"), ("index", "3")]).json()
    assert [v["index"] for v in by_index["values"]] == [1, 3]
    nothing = client.get(f"/api/handles/{prefix}/{suffix}", params={"type": "BATCH"})
    assert (nothing.status_code, nothing.json()["responseCode"]) == (200, 200)
    unknown = client.get("/api/handles/88.1234/prod.999")
    assert (unknown.status_code, unknown.json()) == (404, {"responseCode": 100, "handle": "88.1234/prod.999"})
    bad = client.get("/api/handles/88.1234/prod")
    assert (bad.status_code, bad.json()["responseCode"]) == (400, 102)
    foreign = client.get("/api/handles/20.500.12345/abc")
    assert (foreign.status_code, foreign.json()["responseCode"]) == (404, 301)


def test_restricted_values_need_login_and_permission(api: tuple[TestClient, dict[str, str]]) -> None:
    client, h = api
    url = f"/api/handles/{h['A-p']}"
    anon = client.get(url, params={"type": "EMISSION_RECORD"})
    assert (anon.status_code, anon.json()["responseCode"]) == (401, 402)
    bob = client.get(url, params={"type": "EMISSION_RECORD"}, headers=_token(client, "bob"))
    assert (bob.status_code, bob.json()["responseCode"]) == (403, 401)
    for user in ("alice", "admin"):
        got = client.get(url, params={"type": "EMISSION_RECORD"}, headers=_token(client, user))
        assert got.status_code == 200 and got.json()["responseCode"] == 1
        assert json.loads(got.json()["values"][0]["data"]["value"]) == {"period": "2025-01", "tco2e": 12.5}
    forged = client.get(url, headers={"Authorization": "Bearer forged"})
    assert (forged.status_code, forged.json()["responseCode"]) == (401, 403)
    # writing through the API: bob may not, alice may (HS_ADMIN names her enterprise)
    denied = client.post(
        f"/api/identifiers/{h['A-p']}/values", json={"type": "DESC", "value": "x"}, headers=_token(client, "bob")
    )
    assert denied.status_code == 403
    added = client.post(
        f"/api/identifiers/{h['A-p']}/values",
        json={"type": "URL", "value": "https://a.example.cn/p"},
        headers=_token(client, "alice"),
    )
    assert added.status_code == 201
    assert "https://a.example.cn/p" in [v["data"]["value"] for v in added.json()["values"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_foreign_prefix_is_forwarded_to_the_upstream_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream_db = f"sqlite:///{tmp_path / 'upstream.db'}"
    up = _park(upstream_db, prefix="5678")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(upstream_db), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        local_db = f"sqlite:///{tmp_path / 'local.db'}"
        _park(local_db)
        monkeypatch.setenv("CARBONPARK_UPSTREAM_RESOLVER", f"http://127.0.0.1:{port}")
        with TestClient(create_app(local_db)) as client:
            got = client.get(f"/api/handles/{up['B-p']}", params={"type": "MANUFACTURER"})
            assert got.status_code == 200
            assert got.json() == {
                "responseCode": 1,
                "handle": "88.5678/prod.2",
                "values": [got.json()["values"][0]],
            }
            assert got.json()["values"][0]["data"]["value"] == "88.5678/ent.2"
            missing = client.get("/api/handles/88.5678/prod.77")
            assert (missing.status_code, missing.json()["responseCode"]) == (404, 100)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    monkeypatch.setenv("CARBONPARK_UPSTREAM_RESOLVER", f"http://127.0.0.1:{port}")
    down = ids.Resolver(f"sqlite:///{tmp_path / 'local.db'}").resolve("88.5678/prod.2")
    assert (down.status, down.body["responseCode"]) == (502, 2)
    connect(upstream_db).dispose()


def test_cli_resolve_prints_the_resolver_body(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from carbonpark.cli.main import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    h = _park(db)
    runner = CliRunner()
    got = runner.invoke(app, ["resolve", h["B-p"], "--db", db, "--json", "--type", "MANUFACTURER"])
    assert got.exit_code == 0, got.output
    body = json.loads(got.stdout)
    assert (body["status"], body["responseCode"], body["values"][0]["data"]["value"]) == (200, 1, h["B"])
    missing = runner.invoke(app, ["resolve", "88.1234/prod.404", "--db", db, "--json"])
    assert missing.exit_code == 1 and json.loads(missing.stdout) == {
        "status": 404,
        "responseCode": 100,
        "handle": "88.1234/prod.404",
    }
    connect(db).dispose()


# --- the resolver and the principal cache (docs/api.md, "Principal cache and the revocation bound") ----


def _cached_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_s: str) -> tuple[TestClient, str, str]:
    """A client of a park whose product A-p has a restricted EMISSION_RECORD; the API's token cache set."""
    monkeypatch.setenv("CARBONPARK_TOKEN_CACHE_SECONDS", cache_s)
    db = f"sqlite:///{tmp_path / f'cache{cache_s}.db'}"
    h = _park(db)
    with session(db) as s:
        ids.add_value(s, h["A-p"], "EMISSION_RECORD", {"tco2e": 12.5, "period": "2025-01"}, ADMIN)
    return TestClient(create_app(db)), db, f"/api/handles/{h['A-p']}"


def test_resolver_takes_the_principal_from_the_token_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carbonpark.services.auth import revoke_user_tokens

    client, db, url = _cached_client(tmp_path, monkeypatch, "60")
    with client:
        alice = _token(client, "alice")
        restricted = {"type": "EMISSION_RECORD"}
        assert client.get(url, params=restricted, headers=alice).status_code == 200
        # revoked outside this worker (as `carbonpark users revoke-tokens` does): the cached principal still
        # answers until CARBONPARK_TOKEN_CACHE_SECONDS pass, the documented bound, so no query was made
        with session(db) as s:
            assert revoke_user_tokens(s, "alice", "test") == 1
        cached = client.get(url, params=restricted, headers=alice)
        assert (cached.status_code, cached.json()["responseCode"]) == (200, 1)
        # the enterprise of the caller was read once and is reused: alice still reads A's record
        assert json.loads(cached.json()["values"][0]["data"]["value"])["tco2e"] == 12.5
        # a revocation through the API clears this worker's cache once it commits: refused from the next request
        admin = _token(client, "admin")
        assert client.post("/api/users/alice/revoke-tokens", headers=admin).status_code == 200
        refused = client.get(url, params=restricted, headers=alice)
        assert (refused.status_code, refused.json()["responseCode"]) == (401, 403)
        assert "revoked" in refused.json()["message"]
        # anonymous resolution of the public values is unaffected; the restricted one still needs a login
        public = client.get(url)
        assert (public.status_code, public.json()["responseCode"]) == (200, 1)
        assert "EMISSION_RECORD" not in [v["type"] for v in public.json()["values"]]
        anon = client.get(url, params=restricted)
        assert (anon.status_code, anon.json()["responseCode"]) == (401, 402)
    connect(db).dispose()


def test_resolver_without_the_cache_refuses_a_revoked_token_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carbonpark.services.auth import revoke_user_tokens

    client, db, url = _cached_client(tmp_path, monkeypatch, "0")
    with client:
        bob, alice = _token(client, "bob"), _token(client, "alice")
        denied = client.get(url, params={"type": "EMISSION_RECORD"}, headers=bob)
        assert (denied.status_code, denied.json()["responseCode"]) == (403, 401)  # logged in, not an admin of A
        assert client.get(url, params={"type": "EMISSION_RECORD"}, headers=alice).status_code == 200
        with session(db) as s:
            revoke_user_tokens(s, "alice", "test")
        refused = client.get(url, params={"type": "EMISSION_RECORD"}, headers=alice)
        assert (refused.status_code, refused.json()["responseCode"]) == (401, 403)
    connect(db).dispose()
