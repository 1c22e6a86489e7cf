"""``ledger verify`` knows every built-in source even when the caller imported no other service.

The CLI imports services lazily (tests/test_cli_startup.py), so the sources that
``services.accounting`` and ``services.trading`` register on import must be loaded by
``services.ledger.sources`` itself; otherwise ``carbonpark ledger verify`` would skip emission
records and allowance movements without a word.
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_sources_include_every_builtin_kind_in_a_fresh_interpreter() -> None:
    code = "import json\nfrom carbonpark.services import ledger\nprint(json.dumps(sorted(ledger.sources())))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    kinds = set(json.loads(out.stdout))
    assert {"emission_record", "allowance_movement", "activity_datum", "audit_log_entry", "reading_batch"} <= kinds
