"""``/api/monitoring`` and ``/api/alarms`` over HTTP: scoping per role and a bounded server-sent event stream."""

from __future__ import annotations

import json
from typing import Any

from test_api_park import build_park, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)


def _events(text: str) -> list[dict[str, Any]]:
    """The ``data`` of each ``event: overview`` block of an SSE body."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        assert lines["event"] == "overview"
        out.append(json.loads(lines["data"]))
    return out


def test_overview_and_alarms_are_scoped_per_role(db_url: str) -> None:
    park = build_park(db_url)
    client = client_for(db_url)
    admin, ent_a, regulator = login(client, "admin"), login(client, "ent-a"), login(client, "regulator")
    whole = client.get("/api/monitoring/overview", headers=admin).json()
    assert {m["id"] for m in whole["meters"]} >= {park["A"]["meter_id"], park["B"]["meter_id"]}
    own = client.get("/api/monitoring/overview", headers=ent_a).json()
    assert {m["id"] for m in own["meters"]} == {park["A"]["meter_id"]}  # no B meter, no park meter
    assert own["park"] is None and own["open_alarms"] is None
    reg = client.get("/api/monitoring/overview", headers=regulator).json()
    assert reg["meters"] == [] and reg["park"] == whole["park"]  # park aggregates only
    assert client.get("/api/monitoring/overview").status_code == 401
    rule = {
        "name": "B high",
        "kind": "threshold",
        "meter": park["B"]["meter_handle"],
        "params": {"high": 0},
    }
    assert client.post("/api/alarms/rules", json=rule, headers=ent_a).status_code == 403
    assert client.post("/api/alarms/rules", json=rule, headers=admin).status_code == 201
    raised = client.post("/api/alarms/evaluate", headers=admin).json()["raised"]
    assert [a["subject"] for a in raised] == ["B high"]
    assert client.get("/api/alarms", headers=ent_a).json()["items"] == []  # B's alarm is not A's to see
    assert client.post(f"/api/alarms/{raised[0]['id']}/acknowledge", headers=ent_a).status_code == 404
    acked = client.post(f"/api/alarms/{raised[0]['id']}/acknowledge", headers=admin).json()
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "user:admin")


def test_stream_sends_the_overview_as_server_sent_events(db_url: str) -> None:
    build_park(db_url)
    client = client_for(db_url)
    headers = login(client, "ent-a")
    with client.stream("GET", "/api/monitoring/stream?events=2&interval=1", headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    first, second = _events(body)
    assert first["meters"] == second["meters"] and first["park"] is None
