"""The typed client and the CLI's ``remote`` and ``users``/``keys`` commands against a real uvicorn server (SQLite)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from typer.testing import CliRunner

from carbonpark.api.app import create_app
from carbonpark.cli.main import app as cli
from carbonpark.client import Client
from carbonpark.errors import NotFoundError
from carbonpark.services import auth
from test_api_park import PASSWORD, build_park, fast_hashing, settings  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any], str]]:
    """One server for the module (the tests add only their own users and keys)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('served') / 'park.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        park = build_park(db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(db, settings()), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", park, db
    server.should_exit = True
    thread.join(10)


def test_client_logs_in_pages_and_maps_problems(served: tuple[str, dict[str, Any], str]) -> None:
    url, park, _ = served
    with Client(url) as api:
        api.login("ent-a", PASSWORD)
        assert api.me()["enterprise_id"] == park["A"]["enterprise_id"]
        assert api.get("meters", park["A"]["meter_handle"])["code"] == "m-A"
        values = [r["value"] for r in api.readings(park["A"]["meter_handle"], page_size=1)]
        assert values == [1.0, 2.0, 3.0, 4.0]  # four pages of one, in time order
        with pytest.raises(NotFoundError):
            api.get("meters", park["B"]["meter_handle"])
        assert api.logout() is True


def test_client_pages_every_list_with_sort(served: tuple[str, dict[str, Any], str]) -> None:
    url, park, _ = served
    with Client(url) as api:
        api.login("admin", PASSWORD)
        # build_park's four readings of A's meter have the values 1 to 4 in time order
        newest = [r["value"] for r in api.readings(park["A"]["meter_handle"], page_size=3, sort="-ts")]
        assert newest == [4.0, 3.0, 2.0, 1.0]  # two pages: three, then one
        first = api.users(sort="name", limit=1)
        assert first["items"][0]["name"] == "admin" and first["next_offset"] == 1  # 'admin' sorts before the rest
        assert [k["name"] for k in api.keys(sort="id", limit=1)["items"]] == ["gw-a"]  # build_park's key
        for page in (api.alarms(), api.trades(), api.orders(), api.movements()):
            assert (page["items"], page["total"], page["next_offset"]) == ([], 0, None)  # no market, no alarms here
        assert api.list("alarms/rules")["total"] == 0


def test_cli_remote_list_reads_what_the_role_may_see(served: tuple[str, dict[str, Any], str]) -> None:
    url, _park, _ = served
    result = CliRunner().invoke(
        cli,
        ["remote", "list", "meters", "--server", url, "--user", "ent-a", "--password-stdin", "--json"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [m["code"] for m in doc["items"]] == ["m-A"]
    # every list answers the same page, so remote list reads the former bare lists too
    for resource in ("users", "trading/trades"):
        args = ["remote", "list", resource, "--server", url, "--user", "admin", "--password-stdin", "--json"]
        result = CliRunner().invoke(cli, args, input=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        assert set(json.loads(result.stdout)) == {"items", "total", "limit", "offset", "next_offset"}


def test_cli_users_and_keys(served: tuple[str, dict[str, Any], str]) -> None:
    _, park, db = served
    runner = CliRunner()
    args = ["users", "add", "--db", db, "--name", "carol", "--role", "verifier", "--password-stdin", "--json"]
    result = runner.invoke(cli, args, input="a-long-enough-password\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["role"] == "verifier"
    result = runner.invoke(cli, ["users", "add", "--db", db, "--name", "dave", "--role", "regulator"])
    assert result.exit_code == 1 and "--password-stdin" in result.output
    result = runner.invoke(cli, ["keys", "add", "--db", db, "--name", "gw-x", "--meter", park["B"]["meter_handle"]])
    assert result.exit_code == 0 and result.stdout.strip().startswith("cpk_")
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--db", db, "--json"]).stdout)
    assert [k["meter_ids"] for k in listed if k["name"] == "gw-x"] == [[park["B"]["meter_id"]]]
    assert all("key" not in k for k in listed)


def test_serve_refuses_production_with_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBONPARK_ENV", "production")
    monkeypatch.delenv("CARBONPARK_SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 1 and "CARBONPARK_SECRET_KEY" in result.output
