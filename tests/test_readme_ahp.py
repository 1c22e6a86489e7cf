"""The AHP weights file shown in the README is one that ``carbonpark evaluate --weights`` accepts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_ahp_example_is_accepted(tmp_path: Path) -> None:
    block = re.search(r"## AHP weights file.*?```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block, "README has no AHP weights example"
    weights = tmp_path / "ahp.yaml"
    weights.write_text(block.group(1), encoding="utf-8")
    values = tmp_path / "values.csv"
    values.write_text("indicator,value\n1,50\n", encoding="utf-8")
    p = subprocess.run(
        ["carbonpark", "evaluate", str(values), "--weights", str(weights), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    # the README's level-1 matrix is consistent with weights (1, 2, 1, 1, 2)/7 (its columns are proportional);
    # only first-level indicator 1 scores (3.0, from indicator 1 alone), so the park score is 3.0 × 1/7
    assert doc["level1"]["1"] == 3.0
    assert doc["score"] == pytest.approx(3.0 / 7)
