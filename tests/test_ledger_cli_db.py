"""The ledger commands on a park database: sign, verify, proof → check-proof offline, keys, rate --db.

Run through the ledger command group (``cli/ledger_cmds.register``) on SQLite and PostgreSQL;
tests/test_ledger_cli.py checks that the installed ``carbonpark`` command has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.ledger_cmds import register
from carbonpark.ledger import signing
from carbonpark.services import ledger as service
from carbonpark.store import connect, session
from test_ledger_store import DAY0_MS, HOUR_MS, hourly, small_park, store_readings

runner = CliRunner()
app = new_app("carbonpark")
register(app)


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


def test_sign_verify_proof_and_offline_check(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = small_park(db_url)
    enterprise_key = signing.generate_key()
    service.register_key(db_url, ids["enterprise"], enterprise_key)
    with session(db_url) as s:
        rows = hourly(ids["meter_id"], skip=frozenset({5}), flagged=frozenset({40, 41}))
        store_readings(s, rows)
        # days 1 and 2 accepted an hour after they ended, day 3 three days late (2025-01-04 + 3 d)
        for day, accepted in ((0, 25), (1, 49), (2, 24 * 6)):
            items = [
                service.Attestation("reading_batch", org, rec, p, DAY0_MS + accepted * HOUR_MS, enterprise_key)
                for rec, org, p in service.reading_batches(s, [(ids["meter_id"], f"2025-01-0{day + 1}")])
            ]
            service.attest_many(s, items)
    key_file = tmp_path / "park.pem"
    code, out = _run("ledger", "keygen", "--out", str(key_file), "--json")
    assert code == 0
    monkeypatch.setenv(service.LEDGER_KEY_ENV, str(key_file))
    code, out = _run("ledger", "sign", "--db", db_url, "--json")
    assert code == 0, out
    head = json.loads(out)
    code, out = _run("ledger", "verify", "--db", db_url, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] and report["key_source"] == "given (pinned)" and report["signed_tree_size"] == head["tree_size"]
    assert report["checked"]["entry_signatures"] == 3

    record = f"{ids['meter']}@2025-01-02"
    bundle = tmp_path / "bundle.json"
    code, _ = _run("ledger", "proof", record, "--db", db_url, "--out", str(bundle))
    assert code == 0
    doc = json.loads(bundle.read_text())
    assert doc["record"] == record and doc["entry_json"]["payload"]["count"] == 24
    code, out = _run("ledger", "check-proof", str(bundle), "--public-key", str(key_file) + ".pub", "--json")
    assert code == 0 and json.loads(out)["ok"], out
    # the bundle's checks fail once one byte of the entry changes
    forged = dict(doc, entry=signing.b64encode(signing.b64decode(doc["entry"]).replace(b'"count":24', b'"count":25')))
    bundle.write_text(json.dumps(forged))
    code, out = _run("ledger", "check-proof", str(bundle), "--json")
    assert code == 1 and json.loads(out)["checks"]["inclusion_proof"] is False

    # data credit from the stored data, by hand (docs/ledger.md §9; formula (10), weights of rating.py):
    # metered_share 1/2 sources → 50 pts; completeness 71/72 (hour 5 missing; window 72 h) → 86.11;
    # on time 2/3 (< 0.8) → 0; signatures 3/3 → 100; flagged 2/71 → (0.1 − 0.028169)/0.1 = 71.83;
    # quarantine 0, findings 0, corrections 0 → 100 each.
    # 0.2·50 + 0.15·86.11 + 0 + 0.15·100 + 0.1·71.83 + 0.05·100 + 0.1·100 + 0.1·100 = 70.0995 → 70.1, grade A
    code, out = _run("ledger", "rate", "--db", db_url, "--org", ids["enterprise"], "--year", "2025", "--json")
    assert code == 0, out
    rating = json.loads(out)
    values = {c["name"]: c["value"] for c in rating["components"]}
    assert values["metered_share"] == 0.5
    assert values["completeness"] == pytest.approx(71 / 72)
    assert values["on_time_share"] == pytest.approx(2 / 3)
    assert values["signature_coverage"] == 1.0
    assert values["quality_flag_share"] == pytest.approx(2 / 71)
    assert (rating["score"], rating["grade"]) == (70.1, "A")

    # a reading changed with SQL: verify exits 1 and names the day; the enterprise's rating is capped
    with connect(db_url).begin() as conn:
        conn.execute(text("UPDATE readings SET value = 0 WHERE ts_ms = :t"), {"t": DAY0_MS + 50 * HOUR_MS})
    code, out = _run("ledger", "verify", "--db", db_url, "--json")
    assert code == 1
    assert [f["record"] for f in json.loads(out)["findings"]] == [f"{ids['meter']}@2025-01-03"]
    code, out = _run("ledger", "verify", "--db", db_url, "--lang", "en")
    assert code == 1 and "1 finding(s)" in out
    assert "发现 1 处问题" in _run("ledger", "verify", "--db", db_url)[1]  # zh is the default
    code, out = _run("ledger", "rate", "--db", db_url, "--org", ids["enterprise"], "--year", "2025", "--json")
    assert json.loads(out)["grade"] == "C" and json.loads(out)["score"] == 59.0
    # an entry row overwritten with text: verify names it, the rating still answers (capped)
    with connect(db_url).begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET data = :d WHERE record = :r"), {"d": b"garbage", "r": record})
    code, out = _run("ledger", "verify", "--db", db_url, "--json")
    assert code == 1 and record in {f["record"] for f in json.loads(out)["findings"]}
    code, out = _run("ledger", "rate", "--db", db_url, "--org", ids["enterprise"], "--year", "2025", "--json")
    assert code == 0 and json.loads(out)["grade"] == "C"


def test_key_commands_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    ids = small_park(db)
    key_file = tmp_path / "ent.pem"
    assert _run("ledger", "keygen", "--out", str(key_file))[0] == 0
    code, out = _run(
        "ledger",
        "key",
        "register",
        "--db",
        db,
        "--org",
        ids["enterprise"],
        "--public-key",
        str(key_file) + ".pub",
        "--json",
    )
    assert code == 0
    kid = json.loads(out)["key_id"]
    code, out = _run(
        "ledger", "key", "revoke", "--db", db, "--org", ids["enterprise"], "--key-id", kid, "--reason", "lost", "--json"
    )
    assert code == 0
    revoked = json.loads(out)
    code, out = _run("ledger", "key", "list", "--db", db, "--json")
    (listed,) = json.loads(out)["items"]
    assert (listed["key_id"], listed["revoked_at_leaf"]) == (kid, revoked["leaf_index"])
    monkeypatch.delenv(service.LEDGER_KEY_ENV, raising=False)
    result = runner.invoke(app, ["ledger", "sign", "--db", db])
    assert result.exit_code == 1 and "CARBONPARK_LEDGER_KEY" in result.stderr
    result = runner.invoke(app, ["ledger", "verify", "--db", db])
    assert result.exit_code == 1 and "no signed tree head" in result.stdout
    result = runner.invoke(app, ["ledger", "proof", "nothing@2025-01-01", "--db", db])
    assert result.exit_code == 1 and "nothing@2025-01-01" in result.stderr
