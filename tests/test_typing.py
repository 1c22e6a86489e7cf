"""mypy over ``src/carbonpark`` with the project's configuration (``[tool.mypy]`` of pyproject.toml).

The type check is part of the suite, so a change that breaks the types fails like a broken test.
mypy runs in-process (``mypy.api.run``) from the project root, where the configuration's
``mypy_path = "src"`` points; its cache is the project's ``.mypy_cache`` (ignored by git).
Cost, measured on the 2-core development machine (issue 2): about 30 s of CPU without a cache
(2 min 40 s wall while other work loaded the machine), about 15 s with a warm cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_error_in_src(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mypy src/carbonpark`` finds nothing: exit status 0 and no ``error:`` line."""
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-color-output", "src/carbonpark"]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert status == 0 and not errors, f"mypy exit status {status}, {len(errors)} error(s):\n{stdout}{stderr}"
