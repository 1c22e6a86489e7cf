"""Generated over EVERY route of the OpenAPI document (issue 3 items 3 and 7), on SQLite and PostgreSQL.

1. Without credentials every route but the login answers 401 with a problem document.
2. For each (caller, other) pair, every operation is called with the other's ids and handles in
   every path and query parameter (and with none); no answer may carry a row of the other
   enterprise (by ``enterprise_id``, ``meter_id``, credit code or handle anywhere in the JSON),
   and none may be a server error. Routes added later by other capabilities are covered as well.

The park is built once per module and database (both tests only read it); a server-sent event
stream is read with its bounding parameters (:data:`STREAMS`) so that it ends.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any

from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute

from test_api_park import fast_hashing, login, module_park  # noqa: F401 (fixtures)

#: Operations that need no credentials: the login, and the Handle resolver (public values without
#: login, issue 7). A capability marks another public route with ``openapi_extra={"x-public": True}``.
PUBLIC = {("post", "/api/auth/token"), ("get", "/api/handles/{prefix}/{suffix}")}


#: Server-sent event streams, with the query parameters that make them end after one event: they are
#: checked like every other route, with these values forced (an endless stream would never answer).
STREAMS = {("get", "/api/monitoring/stream"): {"events": "1", "interval": "1"}}


def _streaming_routes(client: Any) -> set[tuple[str, str]]:
    """(method, path) of every route whose endpoint answers a ``StreamingResponse``.

    Walks included routers (FastAPI keeps each ``include_router`` as a nested router); the
    routers here are included without an extra prefix, so a route's own path is its full path.
    """
    found = set()
    pending = list(client.app.routes)
    while pending:
        route = pending.pop()
        nested = getattr(route, "original_router", None)
        if nested is not None:
            pending.extend(nested.routes)
        elif isinstance(route, APIRoute):
            returns = typing.get_type_hints(route.endpoint).get("return")
            if isinstance(returns, type) and issubclass(returns, StreamingResponse):
                found |= {(m.lower(), route.path_format) for m in route.methods or ()}
    return found


def _public(method: str, path: str, op: dict[str, Any]) -> bool:
    return (method, path) in PUBLIC or bool(op.get("x-public"))


_PARAM = re.compile(r"{([^}:]+)(?::path)?}")


def _operations(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    doc = client.get("/api/openapi.json").json()
    ops = [
        (m, p, op)
        for p, item in doc["paths"].items()
        for m, op in item.items()
        if m in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(ops) >= 20, "the OpenAPI document lists the routes"
    return ops


def _fill(path: str, value: str) -> str:
    return _PARAM.sub(lambda _m: value, path)


def _markers(other: dict[str, Any]) -> tuple[set[int], set[int], set[str]]:
    return {other["enterprise_id"]}, {other["meter_id"]}, {*other["handles"], other["credit_code"]}


def _leaks(doc: Any, markers: tuple[set[int], set[int], set[str]]) -> list[str]:
    ents, meters, strings = markers
    found: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if x.get("enterprise_id") in ents:
                found.append(f"enterprise_id {x['enterprise_id']}")
            if x.get("meter_id") in meters:
                found.append(f"meter_id {x['meter_id']}")
            if "credit_code" in x and x.get("id") in ents:
                found.append(f"enterprise row {x['id']}")
            for k, v in x.items():
                if k not in {"instance", "detail", "got", "errors"}:  # problem members echo the request
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x in strings:
            found.append(f"value {x!r}")

    walk(doc)
    return found


def test_unauthenticated_requests_get_401_on_every_route(module_park: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, park = module_park
    ref = str(park["A"]["meter_id"])
    checked = 0
    for method, path, op in _operations(client):
        if _public(method, path, op):
            continue
        assert op.get("security"), f"{method} {path} declares no security scheme and is not marked public"
        params = {p["name"]: ref for p in op.get("parameters", []) if p["in"] == "query" and p.get("required")}
        r = client.request(method.upper(), _fill(path, ref), params=params, json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers.get("www-authenticate") == "Bearer" or "X-API-Key" in r.json()["detail"]
        checked += 1
    assert checked >= 20


def _check_no_leaks(client: Any, caller: str, other: dict[str, Any]) -> int:
    headers = login(client, caller)
    markers = _markers(other)
    refs = sorted({str(i) for i, _ in other["refs"].values()} | {h for _, h in other["refs"].values()})
    problems: list[str] = []
    calls = 0
    for method, path, op in _operations(client):
        if _public(method, path, op):
            continue
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        required = [p["name"] for p in params if p.get("required")]
        textual = [p["name"] for p in params if "string" in str(p.get("schema"))]
        templated = bool(_PARAM.search(path))
        for ref in refs:
            # the ref in the required parameters only, in every textual one, and in every one
            attempts = [dict.fromkeys(required, ref), dict.fromkeys(required + textual, ref)]
            attempts.append(dict.fromkeys([p["name"] for p in params], ref))
            for query in {tuple(sorted(a.items())) for a in attempts}:
                url = _fill(path, ref) if templated else path
                forced = {**dict(query), **STREAMS.get((method, path), {})}
                r = client.request(method.upper(), url, params=forced, json={}, headers=headers)
                calls += 1
                if r.status_code >= 500:
                    problems.append(f"{method} {url} {query}: {r.status_code}")
                    continue
                if r.headers.get("content-type", "").startswith("text/event-stream"):
                    data = [json.loads(x[6:]) for x in r.text.splitlines() if x.startswith("data: ")]
                    leaked = _leaks(data, markers)
                    if leaked:
                        problems.append(f"{method} {url} {query}: stream leaks {leaked[:3]}")
                if r.headers.get("content-type", "").startswith("application/json"):
                    leaked = _leaks(r.json(), markers)
                    if leaked:
                        problems.append(f"{method} {url} {query}: {r.status_code} leaks {leaked[:3]}")
            if not templated and not params:
                break
    assert not problems, "\n".join(problems[:20])
    return calls


def test_every_stream_is_bounded_here(module_park: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, _ = module_park
    streams = _streaming_routes(client)
    assert ("get", "/api/monitoring/stream") in streams  # the detection works
    assert streams <= set(STREAMS), f"add the bounding parameters of {streams - set(STREAMS)} to STREAMS"


def test_no_caller_sees_outside_its_scope_on_any_route(module_park: tuple[Any, dict[str, Any]]) -> None:  # noqa: F811
    client, park = module_park
    # not vacuous: the administrator sees both enterprises' meters, enterprise A only its own
    body = client.get("/api/meters", headers=login(client, "admin")).json()
    assert _leaks(body, _markers(park["A"])) and _leaks(body, _markers(park["B"]))
    own = client.get("/api/meters", headers=login(client, "ent-a")).json()
    assert [m["id"] for m in own["items"]] == [park["A"]["meter_id"]]
    assert own["total"] == 1  # not the park-level meter, not B's
    # enterprise A never sees B; the verifier (assigned A only) never sees B;
    # the regulator sees key emitters (B) and never A, which is not one
    calls = _check_no_leaks(client, "ent-a", park["B"])
    calls += _check_no_leaks(client, "verifier-a", park["B"])
    calls += _check_no_leaks(client, "regulator", park["A"])
    assert calls > 300
