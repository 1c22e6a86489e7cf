"""Field-protocol commands under ``carbonpark ingest``: ``opcua``, ``modbus``, ``hj212``.

Each reads a YAML map file naming the meters (``docs/field-protocols.md``), stores what it
receives through the one ingest pipeline, and prints the counts when it stops (Ctrl-C,
SIGTERM, ``--until-idle`` or ``--cycles``). Must be registered after ``ingest_cmds``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, progress
from carbonpark.cli.ingest_cmds import ingest_app

if TYPE_CHECKING:
    from carbonpark.services.field import FieldRun

# The field service (asyncua, pymodbus) is imported inside the commands: start-up time of
# ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]

_out = Console()
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB or ./carbonpark.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]
MapOption = Annotated[
    Path,
    typer.Option("--map", exists=True, dir_okay=False, help="YAML map file: the meter of each node/point/code."),
]
IdleOption = Annotated[
    float | None, typer.Option("--until-idle", help="Stop after this many seconds without new data.")
]


def _show(title: str, doc: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(doc)
        return
    table = Table("", "", title=title, show_header=False)
    for key, value in doc.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
    _out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``opcua``, ``modbus`` and ``hj212`` to ``carbonpark ingest`` (``app`` is not used)."""

    @ingest_app.command("opcua")
    def ingest_opcua(
        endpoint: Annotated[str, typer.Option(help="opc.tcp://HOST:PORT/PATH of the OPC UA server.")],
        map_file: MapOption,
        db: DbOption = None,
        until_idle: IdleOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Subscribe to OPC UA nodes mapped to meters and store their values (reconnects with backoff)."""
        from carbonpark.services.field import run_opcua

        with progress(quiet=json_out) as bar:
            task = bar.add_task("OPC UA readings", total=None)

            def tick(run: FieldRun) -> None:
                bar.update(task, completed=run.totals.sent)

            run = run_opcua(db, endpoint, map_file, until_idle=until_idle, on_batch=tick)
        _show("OPC UA ingest", run.to_dict(), json_out)

    @ingest_app.command("modbus")
    def ingest_modbus(
        map_file: MapOption,
        db: DbOption = None,
        cycles: Annotated[int | None, typer.Option(min=1, help="Stop after this many poll cycles.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Poll Modbus TCP meters by their register maps on a clock grid and store the values."""
        from carbonpark.services.field import run_modbus

        with progress(quiet=json_out) as bar:
            task = bar.add_task("Modbus readings", total=None)

            def tick(run: FieldRun) -> None:
                bar.update(task, completed=run.totals.sent)

            run = run_modbus(db, map_file, cycles=cycles, on_batch=tick)
        _show("Modbus ingest", run.to_dict(), json_out)

    @ingest_app.command("hj212")
    def ingest_hj212(
        map_file: MapOption,
        db: DbOption = None,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
        port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on (0: any free port).")] = 9212,
        until_idle: IdleOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Listen for HJ 212-2017 packets (CEMS, monitoring stations): CRC checked, acknowledged after commit."""
        from carbonpark.services.field import run_hj212

        with progress(quiet=json_out) as bar:
            task = bar.add_task("HJ 212 readings", total=None)

            def tick(run: FieldRun) -> None:
                bar.update(task, completed=run.totals.sent)

            run = run_hj212(
                db,
                map_file,
                host=host,
                port=port,
                until_idle=until_idle,
                on_batch=tick,
                on_listening=lambda p: err_console.print(f"HJ 212 listening on {host}:{p}", highlight=False),
            )
        _show("HJ 212 ingest", run.to_dict(), json_out)
