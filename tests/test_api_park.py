"""A two-enterprise park for the API tests (imported by the other ``test_api_*`` modules).

Enterprise A (not a key emitter) and enterprise B (key emitter) each own a site, a meter, a
source and a product; one park-level meter belongs to no enterprise. Users: one per role;
the verifier is assigned enterprise A for 2024. Readings of A's meter straddle the 2024 year
boundary in park-local time (Asia/Shanghai, UTC+8) so the verifier's year filter can be checked
by hand.

``module_park`` builds that park once per test module and database (SQLite, PostgreSQL) for tests
that do not change what other tests read; tests that do (throttling, revocations, new users) take
the function-scoped ``db_url`` and their own ``build_park``.
"""

from __future__ import annotations

import atexit
import functools
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from sqlalchemy import select

from carbonpark.api.app import create_app
from carbonpark.errors import NotFoundError, PermissionDenied
from carbonpark.model import CarrierSpec, EnterpriseSpec, MeterSpec, ParkSpec, ProductSpec, SiteSpec, SourceSpec
from carbonpark.services import access, auth
from carbonpark.services.access import Principal
from carbonpark.store import connect, current_revisions, head_revisions, insert_readings, session, upgrade
from carbonpark.store.registry import (
    add_carrier,
    add_enterprise,
    add_meter,
    add_park,
    add_product,
    add_site,
    add_source,
    as_dict,
)
from carbonpark.store.schema import AuditEntry
from conftest import _PG_PROBLEM, PG_URL


class _PortalTransport(httpx.BaseTransport):
    """Calls the ASGI app synchronously through one event loop kept for the whole test process.

    Starlette's ``TestClient`` starts an event loop in a new thread (a blocking portal) for every
    request, and a fresh loop also means fresh thread-pool workers: about 2.7 ms a call on this
    machine against well under 1 ms here, and the generated tests make thousands of calls. Like
    ``TestClient``, exceptions that escape the app are raised in the test.
    """

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("testclient", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

        return _portal().call(call)


@functools.cache
def _portal() -> BlockingPortal:
    """The one event loop (anyio portal thread) of the in-process clients, stopped at exit."""
    manager = start_blocking_portal()
    portal = manager.__enter__()
    atexit.register(manager.__exit__, None, None, None)
    return portal


class TestClient(httpx.Client):
    """A synchronous in-process client of an ASGI app with ``.app``, as the API tests use it."""

    __test__ = False  # not a test class for pytest

    def __init__(self, app: Any) -> None:
        super().__init__(transport=_PortalTransport(app), base_url="http://testserver", follow_redirects=True)
        self.app = app


__all__ = [
    "PASSWORD",
    "SECRET",
    "api_routes",
    "build_market",
    "build_park",
    "client_for",
    "fast_hashing",
    "login",
    "module_market",
    "module_park",
]

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


def _cheap_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters in tests (the shipped defaults take ~0.5 s a hash on this machine)."""
    monkeypatch.setattr(auth, "_hasher", _cheap_hasher())


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
            rows: list[Any] = [ent, site, meter, source, product]
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


def build_market(db: str, park: dict[str, Any]) -> dict[str, Any]:
    """Trading, orders, trades and alarms of both enterprises on the park of :func:`build_park`.

    A gets 100 allowance:2025, B 5000.00 CNY; A offers 30 at 60 (``a-1``) and 20 at 70 (``a-2``);
    B buys 30 at market (``b-1``: trade 1, 30 @ 60.00), 10 at 70 (``b-2``: trade 2, 10 @ 70.00)
    and bids 5 at 50 (``b-3``, left open). Alarm rules ``A high`` and ``B high`` (threshold 0 on
    each enterprise's meter) raise one alarm each. Returns order refs and alarm ids by enterprise tag.
    """
    from carbonpark.services import monitoring, trading

    a, b = park["A"]["enterprise_id"], park["B"]["enterprise_id"]
    with session(db) as s:
        trading.issue(s, a, "allowance:2025", "100", actor="test")
        trading.issue(s, b, "cash", "5000.00", actor="test")
        for ent, side, qty, price, ref in (
            (a, "sell", 30, "60", "a-1"),
            (a, "sell", 20, "70", "a-2"),
            (b, "buy", 30, None, "b-1"),
            (b, "buy", 10, "70", "b-2"),
            (b, "buy", 5, "50", "b-3"),
        ):
            kind = "market" if price is None else "limit"
            trading.place_order(
                s, ent, side, "allowance:2025", qty, price, actor="test", order_type=kind, order_ref=ref
            )
    for tag in ("A", "B"):
        monitoring.add_rule(db, f"{tag} high", "threshold", park[tag]["meter_handle"], {"high": 0})
    raised = monitoring.evaluate_rules(db)["raised"]
    alarms = {a["subject"][0]: a["id"] for a in raised}
    return {"orders": {"A": ["a-1", "a-2"], "B": ["b-1", "b-2", "b-3"]}, "alarms": alarms}


def _module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, build: Any
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """``(client, park)`` on a fresh SQLite file or PostgreSQL schema (``request.param``), built by ``build(url)``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'park.db'}"
        schema = None
    else:
        if _PG_PROBLEM:
            pytest.skip(_PG_PROBLEM)
        schema = f"cp_api_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(auth, "_hasher", _cheap_hasher())
            park = build(url)
        yield client_for(url), {**park, "db": url}
    finally:
        connect(url).dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_park(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """``(client, park)``: the park built once for the module on SQLite and on PostgreSQL (a fresh schema).

    For tests that only read it, or add rows nobody else reads (their own users, keys, tokens);
    ``park["db"]`` is the database URL.
    """
    yield from _module_database(request, tmp_path_factory, build_park)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_market(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """Like :func:`module_park`, with the orders, trades and alarms of :func:`build_market` (``park["market"]``)."""

    def build(url: str) -> dict[str, Any]:
        park = build_park(url)
        return {**park, "market": build_market(url, park)}

    yield from _module_database(request, tmp_path_factory, build)


def api_routes(app: Any) -> list[Any]:
    """Every ``APIRoute`` of ``app``, walking the routers FastAPI keeps nested.

    The routers here are included without an extra prefix, so a route's own path is its full path.
    """
    from fastapi.routing import APIRoute

    found: list[Any] = []
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        nested = getattr(route, "original_router", None)
        if nested is not None:
            pending.extend(nested.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def client_for(db: str, **overrides: Any) -> TestClient:
    """A test client of the app on ``db`` with the test secret."""
    return TestClient(create_app(db, settings(**overrides)))


def login(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers of a fresh token of ``name``."""
    r = client.post("/api/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_park_fixture_has_typed_handles_and_history(module_park: tuple[TestClient, dict[str, Any]]) -> None:
    _, park = module_park
    assert park["A"]["meter_handle"] == f"88.1234/meter.{park['A']['meter_id']}"
    # what upgrade stored is what the schema check expects (a head another head depends on is not stored)
    assert current_revisions(connect(park["db"])) == head_revisions()
    with session(park["db"]) as s:
        actors = set(s.scalars(select(AuditEntry.actor)))
    assert actors == {"test"}


def test_row_rule_and_query_rule_of_every_scope_agree(module_park: tuple[TestClient, dict[str, Any]]) -> None:
    """``get_row`` checks a fetched row with ``Resource.allows``; lists filter with ``Resource.scope``.

    For every resource and every role of the park, both keep exactly the same rows (and both refuse
    a role that may not read the resource at all).
    """
    _, park = module_park
    a, b = park["A"]["enterprise_id"], park["B"]["enterprise_id"]
    principals = [
        Principal(name="admin", role="park_admin", user_id=1),
        Principal(name="ent-a", role="enterprise", user_id=2, enterprise_id=a),
        Principal(name="ent-b", role="enterprise", user_id=3, enterprise_id=b),
        Principal(name="verifier-a", role="verifier", user_id=4, assignments=frozenset({(a, 2024)})),
        Principal(name="regulator", role="regulator", user_id=5),
        Principal(name="gw", role="device", key_id=1, enterprise_id=a),
    ]
    kept_somewhere = 0
    with session(park["db"]) as s:
        for name, res in access.RESOURCES.items():
            table: Any = res.model.__table__
            rows = [dict(r) for r in s.execute(select(table)).mappings()]
            assert rows, name
            for who in principals:
                if who.role not in res.readers:
                    with pytest.raises(PermissionDenied):
                        res.scope(who)
                    with pytest.raises(PermissionDenied):
                        res.allows(who, rows[0])
                    continue
                by_query = set(s.scalars(select(table.c.id).where(res.scope(who))))
                by_row = {r["id"] for r in rows if res.allows(who, r)}
                assert by_query == by_row, (name, who.name)
                kept_somewhere += len(by_row)
                # and get_row answers exactly those rows, with the ORM's column values
                for r in rows:
                    if r["id"] in by_row:
                        assert access.get_row(s, who, name, r["id"])["id"] == r["id"]
                    else:
                        with pytest.raises(NotFoundError):
                            access.get_row(s, who, name, str(r["id"]))
    # not vacuous: the admin alone keeps every row (1 park, 2 enterprises, 2 sites, 3 meters, 2 sources, 2 products)
    assert kept_somewhere > 12


def test_get_row_answers_what_the_orm_row_holds(module_park: tuple[TestClient, dict[str, Any]]) -> None:
    _, park = module_park
    admin = Principal(name="admin", role="park_admin", user_id=1)
    with session(park["db"]) as s:
        for name, res in access.RESOURCES.items():
            model: Any = res.model
            for row in s.scalars(select(model)):
                assert access.get_row(s, admin, name, row.handle) == as_dict(row), name
