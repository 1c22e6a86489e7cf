"""The verifier's walk through ``carbonpark verify …`` on the small demo, as subprocesses (issue 8 item 4).

The demo (small, seed 42, 2025) meters January and February for enterprise 1: its reported activity
data are the meters' aggregates over both months, so the cross-checks find nothing (the check once
compared January alone against the two-month meter totals: three false major findings and an
adverse opinion), the statement is unmodified and the inventory step ``external_verification``
closes. Every ``--json`` command prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from carbonpark.inventory import INVENTORY_STEPS
from carbonpark.services.demo import build_demo

VERIFICATION = ("agreement", "preparation", "document_review", "site_visit", "report", "technical_review")


def _cli(db: str, *args: str) -> Any:
    exe = Path(sys.executable).with_name("carbonpark")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "carbonpark.cli.main"]
    p = subprocess.run([*command, *args, "--db", db, "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{args}: {p.stderr[-2000:]}"
    return json.loads(p.stdout)


def test_the_verifier_walks_the_demo_through_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    build_demo(db, "small", seed=42, year=2025, out_dir=tmp_path)
    org = ("--org", "1", "--year", "2025")
    # the enterprise: nine inventory steps (compilation saves the draft), then submission
    for step in [s.key for s in INVENTORY_STEPS][:9]:
        _cli(db, "inventory", "step", *org, step, "done")
    version = _cli(db, "inventory", "submit", *org)
    assert version["status"] == "submitted" and version["total_tco2e"] > 0
    # the verifier
    body = _cli(db, "verify", "org-add", "某核查机构", "--credit-code", "91310000MA1FL0000X")
    _cli(db, "verify", "user-add", str(body["id"]), "李核查", "--role", "lead")
    a = _cli(db, "verify", "assign", str(body["id"]), *org, "--lead", "李核查")
    assert a["org"] == version["org"] and a["year"] == 2025
    for step in VERIFICATION[:3]:
        _cli(db, "verify", "step", str(a["id"]), step, "done")
    checks = _cli(db, "verify", "check", str(a["id"]))
    meter = [r for r in checks["results"] if r["check"] == "activity_vs_meter"]
    assert len(meter) == 3 and all(r["ok"] for r in meter)  # electricity, gas, heat: both months each
    for r in meter:
        assert r["reported"] == pytest.approx(r["reference"], rel=1e-9)
    assert checks["failed"] == 0 and checks["findings"] == []
    assert _cli(db, "verify", "findings", str(a["id"])) == []
    for step in VERIFICATION[3:]:
        _cli(db, "verify", "step", str(a["id"]), step, "done")
    steps = _cli(db, "verify", "steps", str(a["id"]))
    assert {s["step"]: s["state"] for s in steps}["technical_review"] == "done"
    stmt = _cli(db, "verify", "statement", str(a["id"]))
    assert stmt["opinion"] == "unmodified" and stmt["material_findings"] == 0
    assert stmt["uncorrected_misstatement_tco2e"] == 0 and stmt["version_status"] == "verified"
    assert stmt["reported_tco2e"] == pytest.approx(version["total_tco2e"])
    inv_steps = _cli(db, "inventory", "step", *org, "external_verification", "done")
    assert all(s["state"] == "done" for s in inv_steps)
    assert [v["status"] for v in _cli(db, "inventory", "versions", *org)] == ["verified"]
    diff = _cli(db, "verify", "diff", *org)
    assert diff["verified_version"] == 1 and not diff["changed"]
