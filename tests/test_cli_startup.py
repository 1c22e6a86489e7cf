"""Start-up of the ``carbonpark`` command: the heavy libraries load only in the commands that use them.

``import carbonpark.cli.main`` used to take 3–4 s on a quiet machine because every command module
imported its engine (linopy, statsforecast, LightGBM, WeasyPrint, …) at module level (issue 2,
measured with ``python -X importtime``). The commands now import them inside their bodies. A
timing test would be flaky on a shared machine; whether a module was imported is not, so these
tests look at ``sys.modules`` of a fresh interpreter. ``bench/cli_startup.py`` measures the time.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Libraries that must not load for ``carbonpark --help``: each costs 0.05–1 s to import
#: (``python -X importtime``), and none is needed to list the commands and their options.
HEAVY = (
    "alembic",
    "asyncua",
    "cryptography",
    "fastapi",
    "highspy",
    "httpx",
    "jinja2",
    "lightgbm",
    "linopy",
    "matplotlib",
    "numpy",
    "openpyxl",
    "pandas",
    "paho",
    "pint",
    "plotly",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "pymodbus",
    "scipy",
    "sqlalchemy",
    "statsforecast",
    "uvicorn",
    "weasyprint",
    "xarray",
)
#: carbonpark's own layers below the CLI: the commands reach them at run time only.
LAYERS = ("carbonpark.services", "carbonpark.store", "carbonpark.reports", "carbonpark.api", "carbonpark.web")


def _loaded_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the HEAVY modules and LAYERS packages it left loaded."""
    probe = (
        f"{code}\n"
        "import json, sys\n"
        f"names = {list(HEAVY + LAYERS)!r}\n"
        "print(json.dumps(sorted(n for n in names if n in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    """``import carbonpark.cli.main`` (what the console script does first) loads none of HEAVY or LAYERS."""
    assert _loaded_after("import carbonpark.cli.main") == []


def test_help_of_every_command_loads_no_heavy_module() -> None:
    """``carbonpark --help`` and the parameters of every command and group load none of HEAVY or LAYERS.

    Typer reads each command's signature (evaluating its annotations) when it builds the Click
    command, so this also catches an engine type used in a command's signature.
    """
    code = (
        "import typer.main\n"
        "from typer.testing import CliRunner\n"
        "from carbonpark.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'status' in result.output and 'meters' in result.output, result.output\n"
        "root = typer.main.get_command(app)\n"
        "def walk(cmd, depth=0):\n"
        "    ctx = root.context_class(cmd)\n"
        "    cmd.get_params(ctx)\n"
        "    for name in getattr(cmd, 'list_commands', lambda _ctx: [])(ctx):\n"
        "        walk(cmd.get_command(ctx, name), depth + 1)\n"
        "walk(root)\n"
    )
    assert _loaded_after(code) == []


def test_ledger_key_variable_named_in_help_is_the_services() -> None:
    """``ledger sign --help`` names the key's variable without importing the ledger service: the two agree."""
    from carbonpark.cli.ledger_cmds import LEDGER_KEY_ENV
    from carbonpark.services.ledger import LEDGER_KEY_ENV as SERVICE_LEDGER_KEY_ENV

    assert LEDGER_KEY_ENV == SERVICE_LEDGER_KEY_ENV == "CARBONPARK_LEDGER_KEY"
