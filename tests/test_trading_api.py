"""``/api/trading`` over HTTP with real logins: scoping per enterprise and an order settled (issue 12 item 5)."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from carbonpark.api.app import create_app
from carbonpark.services import auth
from carbonpark.services import trading as svc
from carbonpark.store import session
from test_trading_store import _park

PASSWORD = "correct horse battery staple"


def _login(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_enterprise_sees_only_its_accounts_and_trades_settle(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    a, b, c = _park(db)
    with session(db) as s:
        auth.add_user(s, "admin", "park_admin", PASSWORD, "test")
        auth.add_user(s, "ent-a", "enterprise", PASSWORD, "test", enterprise=a)
        auth.add_user(s, "ent-c", "enterprise", PASSWORD, "test", enterprise=c)
    client = TestClient(create_app(db))
    assert client.get("/api/trading/balances").status_code == 401
    admin, ent_a, ent_c = _login(client, "admin"), _login(client, "ent-a"), _login(client, "ent-c")
    r = client.post(
        "/api/trading/issue", headers=admin, json={"enterprise": a, "asset": "allowance:2025", "amount": "100"}
    )
    assert r.status_code == 200, r.text
    client.post("/api/trading/issue", headers=admin, json={"enterprise": b, "asset": "cash", "amount": "5000.00"})
    assert (
        client.post(
            "/api/trading/issue", headers=ent_a, json={"enterprise": a, "asset": "ccer", "amount": "5"}
        ).status_code
        == 403
    )
    r = client.post(
        "/api/trading/orders",
        headers=ent_a,
        json={"enterprise": a, "side": "sell", "asset": "allowance:2025", "quantity": 30, "price": "60.00"},
    )
    assert r.status_code == 200 and r.json()["status"] == "open"
    # enterprise C cannot sell A's holdings (A is outside its scope: 404, existence not revealed)
    r = client.post(
        "/api/trading/orders",
        headers=ent_c,
        json={"enterprise": a, "side": "sell", "asset": "allowance:2025", "quantity": 1, "price": "1"},
    )
    assert r.status_code == 404
    r = client.post(
        "/api/trading/orders",
        headers=admin,
        json={"enterprise": b, "side": "buy", "asset": "allowance:2025", "quantity": 30},
    )
    assert [(t["quantity"], t["price"]) for t in r.json()["trades"]] == [(30, "60.00")]
    mine = client.get("/api/trading/balances", headers=ent_a).json()["accounts"]
    assert list(mine) == [a] and mine[a]["cash"]["available"] == "1800.00"  # 30 × 60 CNY
    assert client.get("/api/trading/balances", headers=ent_c).json()["accounts"] == {}
    assert client.get("/api/trading/trades", headers=ent_c).json()["items"] == []
    assert client.get("/api/trading/trades", headers=ent_a).json()["total"] == 1
    assert client.get("/api/trading/trial-balance", headers=ent_a).status_code == 403
    market = client.get("/api/trading/market", headers=ent_c, params={"asset": "allowance:2025"}).json()
    assert market["last_price"] == "60.00"
    with session(db) as s:
        assert svc.balances(s)["accounts"][b]["cash"]["available"] == Decimal("3200.00")
