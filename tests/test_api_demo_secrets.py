"""The demo's generated password and device key are shown once and never written to a file (issue 3 items 2, 5).

``services.auth.demo_users_step`` returns them under ``secrets`` (what ``carbonpark demo`` prints once,
on the console or in its ``--json`` output); ``without_secrets`` is what the demo writes to
``demo-summary.json``: where they were shown, not what they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carbonpark.services import auth
from test_api_park import SECRET, build_park, client_for, fast_hashing, login  # noqa: F401 (autouse fixture)


def _summary(figures: dict[str, Any]) -> dict[str, Any]:
    """The shape of ``carbonpark demo``'s summary around the users step (services/demo_run.py)."""
    return {"capabilities": {"users": {"status": "ok", **figures}}, "outputs": {"summary": "demo-summary.json"}}


def test_generated_password_and_key_are_shown_once_and_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARBONPARK_DEMO_PASSWORD", raising=False)
    monkeypatch.setenv("CARBONPARK_SECRET_KEY", SECRET)  # the server below checks the key with the same secret
    db = f"sqlite:///{tmp_path / 'park.db'}"
    park = build_park(db)
    figures = auth.demo_users_step(db, 2024)
    once = figures[auth.SECRETS]
    assert set(once) == {"password", "device_key"}
    assert len(once["password"]) == 16  # secrets.token_urlsafe(12): 12 random bytes in base64url
    assert once["device_key"].startswith("cpk_")
    written = json.dumps(auth.without_secrets(_summary(figures)), ensure_ascii=False)
    assert once["password"] not in written and once["device_key"] not in written
    assert auth.SECRETS not in json.loads(written)["capabilities"]["users"]
    assert "shown once" in json.loads(written)["capabilities"]["users"]["password"]
    # what was shown works: demo-admin logs in, and the gateway key (scoped to the first key emitter, B) sends a reading
    client = client_for(db)
    assert client.get("/api/auth/me", headers=login(client, "demo-admin", once["password"])).json()["name"] == (
        "demo-admin"
    )
    reading = {"meter": park["B"]["meter_handle"], "ts": "2024-03-01T08:00:00+08:00", "value": 5.0, "unit": "kWh"}
    r = client.post("/api/readings", json=reading, headers={"X-API-Key": once["device_key"]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    # a second run creates nothing and shows nothing
    again = auth.demo_users_step(db, 2024)
    assert auth.SECRETS not in again and again["password"] == "unchanged (users existed already)"


def test_a_password_from_the_environment_is_not_repeated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONPARK_DEMO_PASSWORD", "a-password-the-user-chose")
    db = f"sqlite:///{tmp_path / 'park.db'}"
    build_park(db)
    figures = auth.demo_users_step(db, 2024)
    assert figures["password"] == "$CARBONPARK_DEMO_PASSWORD"
    assert set(figures[auth.SECRETS]) == {"device_key"}  # the user knows the password; the key is new
    assert "a-password-the-user-chose" not in json.dumps(figures)


def test_without_secrets_walks_nested_documents() -> None:
    doc = {"a": [{"secrets": {"k": "v"}, "b": 1}], "secrets": "x", "c": {"d": {"secrets": 2, "e": None}}}
    assert auth.without_secrets(doc) == {"a": [{"b": 1}], "c": {"d": {"e": None}}}
    assert doc["secrets"] == "x"  # a copy: the document printed on the console keeps them
