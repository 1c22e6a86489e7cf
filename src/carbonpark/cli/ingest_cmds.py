"""Ingest commands: ``carbonpark ingest mqtt …`` and ``carbonpark import readings FILE``.

``ingest_app`` is the ``carbonpark ingest`` group; other modules add their connectors to
it (``from carbonpark.cli.ingest_cmds import ingest_app``, then ``@ingest_app.command("opcua")``)
and must be listed after this module in ``cli/main.py``. ``import_app`` is the
``carbonpark import`` group.
"""

from __future__ import annotations

import typer

from carbonpark.cli.common import new_app

__all__ = ["import_app", "ingest_app", "register"]

ingest_app = new_app("Receive readings from gateways and field devices (MQTT, Sparkplug B, OPC UA …).")
import_app = new_app("Import data files (readings).")


def register(app: typer.Typer) -> None:
    """Add ``carbonpark ingest`` and ``carbonpark import`` to ``app``."""
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(import_app, name="import")
