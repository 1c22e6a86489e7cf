"""The database-free ledger commands: keygen, verify-inclusion/-consistency/-head, check-proof, rate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from carbonpark.cli.common import new_app
from carbonpark.cli.ledger_cmds import register
from carbonpark.ledger import signing
from carbonpark.ledger.attestation import Ledger
from carbonpark.ledger.bundle import make_bundle
from carbonpark.ledger.entries import Entry

# The 8-leaf Certificate Transparency vectors (transparency-dev/merkle, proof/verify_test.go):
# leaf 5 (0x40414243) in the tree of 8, and the consistency proof from 6 to 8.
LEAF5 = bytes.fromhex("40414243")
PATH_5_OF_8 = [
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
]
ROOT6 = "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"
ROOT8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
PROOF_6_TO_8 = [
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
]


def _app() -> typer.Typer:
    app = new_app("t")
    register(app)
    return app


def _run(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["ledger", *args])


def test_verify_inclusion_of_the_ct_vector(tmp_path: Path) -> None:
    entry = tmp_path / "leaf5"
    entry.write_bytes(LEAF5)
    proof_args = [a for h in PATH_5_OF_8 for a in ("--proof", h)]
    base = ["verify-inclusion", "--entry", str(entry), "--index", "5", "--size", "8", "--root", ROOT8]
    result = _run(*base, *proof_args, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["proof_length"] == 3
    # Comma-separated hashes and a base64 root give the same answer.
    root_b64 = signing.b64encode(bytes.fromhex(ROOT8))
    again = _run(*base[:-2], "--root", root_b64, "--proof", ",".join(PATH_5_OF_8), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["ok"] is True
    # The wrong index fails with exit 1 and says so.
    wrong = _run(*base[:4], "4", *base[5:], *proof_args, "--json")
    assert wrong.exit_code == 1 and json.loads(wrong.stdout)["ok"] is False


def test_verify_consistency_of_the_ct_vector() -> None:
    args = ["verify-consistency", "--old-size", "6", "--new-size", "8", "--old-root", ROOT6]
    args += ["--new-root", ROOT8, *[a for h in PROOF_6_TO_8 for a in ("--proof", h)]]
    result = _run(*args, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
    readable = _run(*args)
    assert readable.exit_code == 0 and "consistency proof" in readable.stdout
    swapped = _run(*args[:5], "--old-root", ROOT8, "--new-root", ROOT6, *args[9:], "--json")
    assert swapped.exit_code == 1


def test_bad_hash_is_an_error_on_stderr_with_nothing_on_stdout(tmp_path: Path) -> None:
    entry = tmp_path / "e"
    entry.write_bytes(b"")
    result = _run("verify-inclusion", "--entry", str(entry), "--index", "0", "--size", "1", "--root", "xyz", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "--root: expected a 32-byte hash" in result.stderr


def _bundle(tmp_path: Path) -> tuple[Path, Path, Path]:
    park = signing.generate_key()
    ledger = Ledger()
    ledger.append_many(
        Entry("emission_record", "ENT-0001", f"emission_record:{i}", 1735660800000, {"t": str(i)}) for i in range(9)
    )
    sth = ledger.sign_head(park, 1735660900000)
    entry = ledger.entries.get_entries(4, 5)[0]
    doc = make_bundle(entry, 4, ledger.log.inclusion_proof(4), sth, signing.public_key_pem(park))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    key = tmp_path / "park.pub"
    key.write_bytes(signing.public_key_pem(park))
    head = tmp_path / "head.json"
    head.write_text(json.dumps(sth.to_json()), encoding="utf-8")
    return path, key, head


def test_check_proof_and_verify_head(tmp_path: Path) -> None:
    bundle, key, head = _bundle(tmp_path)
    result = _run("check-proof", str(bundle), "--public-key", str(key), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["leaf_index"] == 4 and doc["checks"]["trusted_key"] is True
    unpinned = json.loads(_run("check-proof", str(bundle), "--json").stdout)
    assert "warning" in unpinned
    assert _run("verify-head", str(head), "--public-key", str(key), "--json").exit_code == 0
    assert _run("verify-head", str(bundle), "--public-key", str(key)).exit_code == 0
    # Flip one character of the entry: the proof no longer holds.
    data = json.loads(bundle.read_text())
    raw = bytearray(signing.b64decode(data["entry"]))
    raw[-3] ^= 1
    data["entry"] = signing.b64encode(bytes(raw))
    bundle.write_text(json.dumps(data))
    bad = _run("check-proof", str(bundle), "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["problems"] == ["the inclusion proof does not lead from the entry to the root"]
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    broken = _run("check-proof", str(garbage), "--json")
    assert broken.exit_code == 1 and broken.stdout == ""


def test_keygen_writes_a_usable_key_pair_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_TEST_PASSWORD", "s3cret")
    out = tmp_path / "park.pem"
    result = _run("keygen", "--out", str(out), "--password-env", "LEDGER_TEST_PASSWORD", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    key = signing.load_private_key(out.read_bytes(), b"s3cret")
    assert doc["key_id"] == signing.key_id(key) and doc["encrypted"] is True
    assert signing.key_id(signing.load_public_key((tmp_path / "park.pem.pub").read_bytes())) == doc["key_id"]
    assert out.stat().st_mode & 0o077 == 0
    again = _run("keygen", "--out", str(out), "--json")
    assert again.exit_code == 1 and "does not exist yet" in again.stderr


def test_rate_a_trust_record(tmp_path: Path) -> None:
    record = tmp_path / "trust.yaml"
    record.write_text(
        "enterprise: ENT-0002\nyear: 2025\nmetered_share: 0.6\ncompleteness: 0.98\non_time_share: 0.9\n"
        "signature_coverage: 0.5\nquality_flag_share: 0.02\nquarantine_share: 0.01\n"
        "verification_findings: 1\ncorrections: 5\n",
        encoding="utf-8",
    )
    result = _run("rate", str(record), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # Worked by hand in tests/test_ledger_rating.py::test_worked_example: 64.0, grade B.
    assert doc["score"] == 64.0 and doc["grade"] == "B"
    table = _run("rate", str(record), "--lang", "en")
    assert "ENT-0002 2025: 64 (B)" in table.stdout
    assert "ENT-0002 2025 年碳数据信用：64 分（B）" in _run("rate", str(record)).stdout  # zh is the default
    record.write_text("enterprise: E\nyear: 2025\nfoo: 1\n", encoding="utf-8")
    bad = _run("rate", str(record), "--json")
    assert bad.exit_code == 1 and "foo" in bad.stderr


@pytest.mark.skipif(shutil.which("carbonpark") is None, reason="the carbonpark command is not installed")
def test_installed_command_checks_a_bundle(tmp_path: Path) -> None:
    bundle, key, _ = _bundle(tmp_path)
    done = subprocess.run(
        ["carbonpark", "ledger", "check-proof", str(bundle), "--public-key", str(key), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
