"""``carbonpark demo`` leaves a log that ``ledger verify`` passes, and its sample bundle checks offline."""

from __future__ import annotations

import json
from pathlib import Path

from carbonpark.ledger import signing
from carbonpark.ledger.bundle import check_bundle
from carbonpark.services import ledger as service
from carbonpark.services.demo import build_demo


def test_the_demo_log_verifies_and_its_bundle_checks_offline(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    build_demo(db, "small", seed=11, year=2025, out_dir=tmp_path)
    summary = service.demo_attestation(db, tmp_path)
    # small demo: 45 meters × 59 local days (January–February 2025), every day has readings
    assert summary["reading_batches"] == 45 * 59
    assert summary["signing_enterprises"] >= 1
    report = service.verify(db)
    assert report.ok, [f.to_json() for f in report.findings[:5]]
    assert report.checked["reading_batch"] == 45 * 59
    assert report.checked["entry_signatures"] > 0
    head = json.loads((tmp_path / "ledger-head.json").read_text())
    assert head["tree_size"] == report.signed_tree_size == summary["entries"]
    bundle = json.loads((tmp_path / "ledger-proof-sample.json").read_text())
    park_key = signing.load_public_key(head["public_key"].encode())
    assert check_bundle(bundle, park_key).ok
    # a second run attests nothing new but signs a new head of the same size
    again = service.demo_attestation(db, tmp_path)
    assert (again["reading_batches"], again["entries"]) == (0, summary["entries"])
