"""One style for every list of the API (issue 3 item 1): ``limit``, ``offset``, ``sort``, one envelope.

1. Generated over the app's routes: every GET route that takes ``limit`` takes the shared ``offset``
   and ``sort`` (``deps.paging_for``), and no route answers a bare JSON array unless it is one of the
   bounded per-subject answers in :data:`BOUNDED` (docs/api.md says why each is not paged).
2. The lists that were bare arrays or half paged (trading trades, orders and movements, alarms and
   alarm rules, users, API keys, readings' ``order``) answer ``{items, total, limit, offset,
   next_offset}``, in the order ``sort`` asks for, with totals counted by hand on the park of
   ``test_api_park.build_market`` (its docstring lists the orders, trades and alarms).
"""

from __future__ import annotations

import typing
from typing import Any

from test_api_park import api_routes, fast_hashing, login, module_market  # noqa: F401 (fixtures)

#: GET routes answering a JSON array that is bounded by its subject, not a growing collection:
#: (method, path) → why it is not paged. A new bare-array route fails the test until it is paged
#: (``deps.paging_for`` + ``access.page_of``) or listed here with its bound.
BOUNDED = {
    ("GET", "/api/inventories/steps"): "the ten inventory steps of one organisation-year",
    ("GET", "/api/inventories/versions"): "the versions of one organisation-year (GET /api/inventories pages all)",
    ("GET", "/api/inventories/key-emitters"): "one row per key-emitting enterprise of a year",
    ("GET", "/api/inventories/calendar"): "the reporting deadlines of one year per organisation in scope",
    ("GET", "/api/verification/assignments"): "one per verified organisation-year in scope",
    ("GET", "/api/verification/steps"): "the eight verification steps of one assignment",
    ("GET", "/api/verification/documents"): "the evidence of one assignment",
    ("GET", "/api/verification/findings"): "the findings of one assignment",
    ("GET", "/api/trading/compliance"): "one row per obligated enterprise of a year",
    ("GET", "/api/trading/energy/key-units"): "one row per key energy-consuming unit of a year",
    ("GET", "/api/trading/energy/quotas"): "one row per product quota of a year",
}
#: Paged routes whose ``sort`` needs a change outside this capability's files (docs/api.md, "Lists").
SORT_PENDING = {("GET", "/api/inventories"): "services/inventory.list_versions takes no sort yet"}


def test_every_list_route_pages_in_one_style(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_market
    doc = client.get("/api/openapi.json").json()
    paged = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        if "limit" not in params:
            continue
        paged.append(path)
        assert params["limit"]["schema"]["maximum"] == 1000 and params["limit"]["schema"]["minimum"] == 1, path
        assert params["offset"]["schema"]["minimum"] == 0, path
        if ("GET", path) in SORT_PENDING:
            continue
        sort = params.get("sort")
        assert sort is not None, f"GET {path} takes limit but no sort: use deps.paging_for"
        assert sort["schema"]["pattern"].startswith("^-?("), path
        assert "'-field' sorts descending" in sort["description"], path
    # the lists of issue 3 item 1, registry and audit included
    expected = {"/api/trading/trades", "/api/trading/orders", "/api/trading/movements", "/api/alarms"}
    expected |= {"/api/alarms/rules", "/api/users", "/api/keys", "/api/readings", "/api/audit", "/api/meters"}
    assert expected <= set(paged), expected - set(paged)
    bare = set()
    for route in api_routes(client.app):
        returns = typing.get_type_hints(route.endpoint).get("return")
        if typing.get_origin(returns) is list and "GET" in (route.methods or ()):
            bare.add(("GET", route.path_format))
    assert bare == set(BOUNDED), f"bare JSON arrays not listed as bounded: {bare - set(BOUNDED)}"


def _page(client: Any, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, (path, params, r.text)
    doc: dict[str, Any] = r.json()
    assert set(doc) == {"items", "total", "limit", "offset", "next_offset"}, path
    return doc


def test_trades_and_orders_page_and_sort(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_market
    admin, ent_a = login(client, "admin"), login(client, "ent-a")
    # build_market: trade 1 is 30 @ 60.00 (b-1 against a-1), trade 2 is 10 @ 70.00 (b-2 against a-2)
    page = _page(client, "/api/trading/trades", admin)
    assert [t["seq"] for t in page["items"]] == [2, 1] and page["total"] == 2  # newest first by default
    assert [t["price"] for t in _page(client, "/api/trading/trades", admin, sort="price")["items"]] == [
        "60.00",
        "70.00",
    ]
    assert [t["quantity"] for t in _page(client, "/api/trading/trades", admin, sort="-quantity")["items"]] == [30, 10]
    one = _page(client, "/api/trading/trades", admin, limit=1)
    assert ([t["seq"] for t in one["items"]], one["total"], one["next_offset"]) == ([2], 2, 1)
    last = _page(client, "/api/trading/trades", admin, limit=1, offset=1)
    assert ([t["seq"] for t in last["items"]], last["next_offset"]) == ([1], None)
    assert _page(client, "/api/trading/trades", ent_a)["total"] == 2  # A sold in both
    # five orders, placed a-1, a-2, b-1, b-2, b-3; the default is newest first (and the old cap of 1000 rows)
    orders = _page(client, "/api/trading/orders", admin)
    assert [o["order"] for o in orders["items"]] == ["b-3", "b-2", "b-1", "a-2", "a-1"]
    assert (orders["total"], orders["limit"]) == (5, 1000)
    assert [o["seq"] for o in orders["items"]] == [5, 4, 3, 2, 1]
    # by price: 50, 60, 70, 70 (a-2 before b-2: ties in placement order), the market order's NULL price last
    by_price = _page(client, "/api/trading/orders", admin, sort="price")["items"]
    assert [o["order"] for o in by_price] == ["b-3", "a-1", "a-2", "b-2", "b-1"]
    by_price_down = _page(client, "/api/trading/orders", admin, sort="-price")["items"]
    assert [o["order"] for o in by_price_down] == ["b-1", "a-2", "b-2", "a-1", "b-3"]  # NULL first, ties still by id
    assert [o["order"] for o in _page(client, "/api/trading/orders", ent_a)["items"]] == ["a-2", "a-1"]
    opened = _page(client, "/api/trading/orders", admin, status="open", sort="seq")
    assert [o["order"] for o in opened["items"]] == ["a-2", "b-3"] and opened["total"] == 2  # a-2 has 10 left


def test_movements_page_counts_what_the_caller_takes_part_in(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_market
    admin, ent_a = login(client, "admin"), login(client, "ent-a")
    # build_market's movements, in order: 1 allowance to A, 2 cash to B, 3-4 A reserves 30 and 20
    # allowances, 5 B reserves cash for b-1, 6-7 trade 1 (allowance, cash), 8 B reserves for b-2,
    # 9-10 trade 2, 11 B reserves for b-3: eleven in all; A takes part in 1, 3, 4, 6, 7, 9, 10
    everything = _page(client, "/api/trading/movements", admin, sort="id")
    assert [m["id"] for m in everything["items"]] == list(range(1, 12)) and everything["total"] == 11
    mine = _page(client, "/api/trading/movements", ent_a, sort="id")
    assert [m["id"] for m in mine["items"]] == [1, 3, 4, 6, 7, 9, 10] and mine["total"] == 7
    tail = _page(client, "/api/trading/movements", ent_a, sort="-id", limit=3, offset=6)
    assert ([m["id"] for m in tail["items"]], tail["total"], tail["next_offset"]) == ([1], 7, None)
    assert [m["reason"] for m in _page(client, "/api/trading/movements", admin, limit=1)["items"]] == ["reserve"]


def test_alarms_and_rules_page(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, park = module_market
    admin, ent_a = login(client, "admin"), login(client, "ent-a")
    ids = park["market"]["alarms"]
    page = _page(client, "/api/alarms", admin, limit=1)
    assert ([a["id"] for a in page["items"]], page["total"], page["next_offset"]) == ([ids["B"]], 2, 1)
    assert [a["id"] for a in _page(client, "/api/alarms", admin, sort="id")["items"]] == [ids["A"], ids["B"]]
    own = _page(client, "/api/alarms", ent_a)
    assert [a["id"] for a in own["items"]] == [ids["A"]] and own["total"] == 1  # B's alarm is not A's
    assert _page(client, "/api/alarms", admin, state="cleared")["total"] == 0
    rules = _page(client, "/api/alarms/rules", admin, sort="-name")
    assert [r["name"] for r in rules["items"]] == ["B high", "A high"] and rules["total"] == 2
    assert client.get("/api/alarms/rules", headers=ent_a).status_code == 403


def test_users_and_keys_page(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_market
    admin = login(client, "admin")
    # build_park's users in creation order: admin, ent-a, ent-b, verifier-a, regulator
    users = _page(client, "/api/users", admin, sort="name", limit=2)
    assert [u["name"] for u in users["items"]] == ["admin", "ent-a"]
    assert (users["total"], users["next_offset"]) == (5, 2)
    by_role = [u["name"] for u in _page(client, "/api/users", admin, sort="role")["items"]]
    assert by_role == ["ent-a", "ent-b", "admin", "regulator", "verifier-a"]  # enterprise < park_admin < …
    verifier = _page(client, "/api/users", admin, sort="-name", limit=1)["items"][0]
    assert verifier["name"] == "verifier-a" and [a["year"] for a in verifier["assignments"]] == [2024]
    keys = _page(client, "/api/keys", admin, sort="-created")
    assert [k["name"] for k in keys["items"]] == ["gw-a"] and keys["total"] == 1
    assert all("digest" not in k and "key" not in k for k in keys["items"])


def test_readings_sort_and_the_order_alias(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, park = module_market
    admin = login(client, "admin")
    meter = park["A"]["meter_handle"]  # A's four readings have the values 1, 2, 3, 4 in time order
    newest = _page(client, "/api/readings", admin, meter=meter, sort="-ts", limit=3)
    assert [r["value"] for r in newest["items"]] == [4.0, 3.0, 2.0]
    assert (newest["total"], newest["next_offset"]) == (4, 3)
    alias = _page(client, "/api/readings", admin, meter=meter, order="desc", limit=3)
    assert alias == newest
    same = _page(client, "/api/readings", admin, meter=meter, order="asc", sort="ts")
    assert [r["value"] for r in same["items"]] == [1.0, 2.0, 3.0, 4.0]
    r = client.get("/api/readings", params={"meter": meter, "order": "asc", "sort": "-ts"}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "order"


def test_a_bad_sort_is_refused_with_the_fields_it_may_be(module_market: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_market
    admin = login(client, "admin")
    for path in ("/api/trading/trades", "/api/alarms", "/api/users", "/api/keys"):
        r = client.get(path, params={"sort": "password"}, headers=admin)
        assert r.status_code == 422, path
        assert r.json()["errors"][0]["field"] == "query.sort"
    r = client.get("/api/trading/orders", params={"limit": 1001}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"
