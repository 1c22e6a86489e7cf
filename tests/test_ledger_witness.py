"""A witness against a real carbonpark server (uvicorn on a free port) and the /api/ledger routes.

The witness keeps its state in its own directory; it accepts a head that extends the one it
kept (RFC 9162 §2.1.4.2 consistency proof), co-signs it, and raises the alarm, keeping its old
head, when the park's log was rewritten or rolled back (RFC 9162 §8.2).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from carbonpark.api.app import create_app
from carbonpark.ledger import merkle, signing
from carbonpark.ledger.bundle import check_bundle
from carbonpark.ledger.signing import Cosignature, SignedTreeHead
from carbonpark.services import ledger as service
from carbonpark.services.auth import SecuritySettings, add_user, issue_token
from carbonpark.store import connect, session
from carbonpark.store.schema_ledger import save_head
from test_ledger_store import DAY0_MS, HOUR_MS, hourly, small_park, store_readings

PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def park(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A small park with attested readings and a signed head, served by uvicorn in a thread."""
    db = f"sqlite:///{tmp_path / 'park.db'}"
    ids = small_park(db)
    settings = SecuritySettings(secret_key="w" * 48)
    with session(db) as s:
        rows = hourly(ids["meter_id"], days=2) + hourly(ids["park_meter_id"], days=2)
        store_readings(s, rows)
        service.attest_readings(s, rows)
        add_user(s, "regulator", "regulator", PASSWORD, "test")
        add_user(s, "ent", "enterprise", PASSWORD, "test", enterprise=ids["enterprise"])
    with session(db) as s:
        tokens = {name: issue_token(s, settings, name, PASSWORD, "test").access_token for name in ("regulator", "ent")}
    park_key = signing.generate_key()
    service.sign(db, park_key)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db, settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield {**ids, "db": db, "url": f"http://127.0.0.1:{port}", "tokens": tokens, "key": park_key}
    server.should_exit = True
    thread.join(timeout=10)


def _grow(park: dict[str, Any], day: int) -> None:
    with session(park["db"]) as s:
        rows = [(park["meter_id"], DAY0_MS + (24 * day + h) * HOUR_MS, 1.0 + h, 0) for h in range(24)]
        store_readings(s, rows)
        service.attest_readings(s, rows)
    service.sign(park["db"], park["key"])


def test_witness_cosigns_growth_and_catches_a_rewritten_or_rolled_back_log(
    park: dict[str, Any], tmp_path: Path
) -> None:
    state = tmp_path / "witness"
    token = park["tokens"]["regulator"]
    first = service.witness(park["url"], state, token=token)
    assert first.ok and first.previous_size is None, first.problems
    _grow(park, 2)
    second = service.witness(park["url"], state, token=token)
    assert second.ok and second.previous_size == first.tree_size and second.tree_size > first.tree_size
    kept = SignedTreeHead.from_json(json.loads((state / "head.json").read_text()))
    assert kept.head.size == second.tree_size
    witness_key = signing.load_private_key((state / "witness.pem").read_bytes())
    line = json.loads((state / "cosignatures.jsonl").read_text().splitlines()[-1])
    cosig = Cosignature(
        line["cosignature"]["witness_key_id"],
        line["cosignature"]["witnessed_at_ms"],
        signing.b64decode(line["cosignature"]["signature"]),
    )
    assert signing.verify_cosignature(witness_key.public_key(), kept, cosig)

    # the operator rebuilds the log with one reading batch changed and signs it with the same key
    with connect(park["db"]).begin() as conn:
        for table in ("ledger_entries", "ledger_nodes", "ledger_heads"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE ledger_state SET size = 0"))
        conn.execute(text("UPDATE readings SET value = 0 WHERE ts_ms = :t"), {"t": DAY0_MS})
    with session(park["db"]) as s:
        service.attest_audit_backlog(s)
        rows = hourly(park["meter_id"], days=3) + hourly(park["park_meter_id"], days=2)
        service.attest_readings(s, rows)
        service.attest_factor_sets(s)  # grows the forged log past the witnessed size
    service.sign(park["db"], park["key"])
    alarm = service.witness(park["url"], state, token=token)
    assert not alarm.ok and "rewritten" in alarm.problems[0]
    assert SignedTreeHead.from_json(json.loads((state / "head.json").read_text())) == kept

    # rolled back: a smaller log than the witness has seen
    with connect(park["db"]).begin() as conn:
        conn.execute(text("DELETE FROM ledger_heads"))
    with session(park["db"]) as s:
        log = service._ledger(s.connection()).log  # a head over a prefix, as a rolled-back log would be signed
        save_head(s.connection(), signing.sign_tree_head(park["key"], signing.TreeHead(3, 1, log.root(3))))
    alarm = service.witness(park["url"], state, token=token)
    assert not alarm.ok and any("shrank" in p for p in alarm.problems)


def test_api_routes_answer_in_scope_and_their_bundle_checks_offline(park: dict[str, Any]) -> None:
    ent = {"Authorization": f"Bearer {park['tokens']['ent']}"}
    with httpx.Client(base_url=park["url"], timeout=30) as http:
        assert http.get("/api/ledger/head").status_code == 401
        head = http.get("/api/ledger/head", headers=ent).json()
        own = f"{park['meter']}@2025-01-02"
        bundle = http.get("/api/ledger/proof", params={"record": own}, headers=ent).json()
        result = check_bundle(bundle, park["key"].public_key())
        assert result.ok and bundle["signed_tree_head"] == head
        # a park-level meter is outside an enterprise user's scope: 404, not revealed
        other = http.get("/api/ledger/proof", params={"record": f"{park['park_meter']}@2025-01-02"}, headers=ent)
        assert other.status_code == 404
        keys = http.get("/api/ledger/keys", headers=ent).json()["items"]
        assert [k["role"] for k in keys] == ["park"]
        proof = http.get("/api/ledger/consistency", params={"first": 3}, headers=ent).json()
        assert signing.b64decode(proof["second_root"]) == signing.b64decode(head["root"])
        assert merkle.verify_consistency(
            3,
            proof["second"],
            signing.b64decode(proof["first_root"]),
            signing.b64decode(proof["second_root"]),
            [signing.b64decode(p) for p in proof["consistency_proof"]],
        )
        bad = http.get("/api/ledger/consistency", params={"first": 10**9}, headers=ent)
        assert bad.status_code == 422
