"""Ingest commands: ``carbonpark ingest mqtt …`` and ``carbonpark import readings FILE``.

``ingest_app`` is the ``carbonpark ingest`` group; other modules add their connectors to
it (``from carbonpark.cli.ingest_cmds import ingest_app``, then ``@ingest_app.command("opcua")``)
and must be listed after this module in ``cli/main.py``. ``import_app`` is the
``carbonpark import`` group.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app, progress
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.services.ingest import IngestResult

# The ingest pipeline, the MQTT worker and YAML are imported inside the commands: start-up
# time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["import_app", "ingest_app", "register"]

ingest_app = new_app("Receive readings from gateways and field devices (MQTT, Sparkplug B, OPC UA …).")
import_app = new_app("Import data files (readings).")
out_console = Console()

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB or ./carbonpark.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]


def register(app: typer.Typer) -> None:
    """Add ``carbonpark ingest`` and ``carbonpark import`` to ``app``."""
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(import_app, name="import")


def _summary(result: IngestResult) -> dict[str, Any]:
    reasons = Counter(reason for _, reason in result.quarantined)
    return {
        "sent": result.sent,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "corrected": result.corrected,
        "pending_corrections": result.pending,
        "quarantined": len(result.quarantined),
        "quarantined_by_reason": dict(sorted(reasons.items())),
        "alarms": len(result.alarms),
    }


def _print(title: str, doc: dict[str, Any]) -> None:
    table = Table("", "", title=title, show_header=False)
    for key, value in doc.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
    out_console.print(table)


def _metric_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise ValidationError("--metric-map", "a YAML/JSON mapping of Sparkplug metric → meter id/handle/code", path)
    return {k: str(v) for k, v in doc.items()}


@ingest_app.command("mqtt")
def ingest_mqtt(
    broker: Annotated[str, typer.Option(help="mqtt://HOST:PORT or mqtts://HOST:PORT (TLS).")],
    topic: Annotated[
        list[str],
        typer.Option(help="Topic filter (repeatable); $share/carbonpark/<filter> splits a stream between workers."),
    ],
    db: DbOption = None,
    until_idle: Annotated[
        float | None, typer.Option("--until-idle", help="Stop after this many seconds without a message.")
    ] = None,
    client_id: Annotated[
        str, typer.Option(help="Fixed client id: the broker keeps this worker's session across restarts.")
    ] = "carbonpark-ingest",
    username: Annotated[str | None, typer.Option(help="Broker user name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="CARBONPARK_MQTT_PASSWORD", help="Broker password (or $CARBONPARK_MQTT_PASSWORD)."),
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="CA certificate(s) to verify the broker (turns TLS on).")] = None,
    cert_file: Annotated[Path | None, typer.Option(help="Client certificate for TLS client authentication.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Private key of the client certificate.")] = None,
    tls_insecure: Annotated[bool, typer.Option(help="Do not check the broker's host name (testing only).")] = False,
    metric_map: Annotated[
        Path | None, typer.Option(help="YAML mapping of Sparkplug metric names to meters (when names are not codes).")
    ] = None,
    max_batch: Annotated[int, typer.Option(min=1, max=60000, help="Messages per transaction at most.")] = 2000,
    json_out: JsonOption = False,
) -> None:
    """Store readings published over MQTT (JSON or Sparkplug B); acknowledge each message after commit."""
    from carbonpark.ingest.mqtt import MqttOptions, MqttWorker
    from carbonpark.services.ingest import MqttHandler

    options = MqttOptions(
        broker=broker,
        topics=topic,
        client_id=client_id,
        username=username,
        password=password,
        ca_file=str(ca_file) if ca_file else None,
        cert_file=str(cert_file) if cert_file else None,
        key_file=str(key_file) if key_file else None,
        tls_insecure=tls_insecure,
    )
    handler = MqttHandler(db, client_id, _metric_map(metric_map))
    with progress(quiet=json_out) as bar:
        task = bar.add_task("MQTT messages", total=None)

        def on_batch(_result: Any) -> None:
            bar.update(task, completed=handler.messages)

        worker = MqttWorker(
            options,
            handler,
            max_batch=max_batch,
            until_idle_s=until_idle,
            on_batch=on_batch,
            log=lambda text: err_console.print(text, markup=False, highlight=False),
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: worker.stop())
        stats = worker.run()
    doc = {
        "broker": broker,
        "topics": topic,
        "client_id": client_id,
        "messages": stats.messages,
        "acknowledged": stats.acknowledged,
        "redeliveries_already_stored": handler.redeliveries,
        "batches": stats.batches,
        "retries": stats.retries,
        **_summary(handler.totals),
    }
    if json_out:
        emit_json(doc)
    else:
        _print("MQTT ingest", doc)


@import_app.command("readings")
def import_readings(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX: meter,ts,value[,unit] (long) or ts,<meter>,… (wide).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import meter readings from a file through the ingest pipeline (same checks as MQTT and REST)."""
    from carbonpark.services.ingest import import_readings_file

    with progress(quiet=json_out) as bar:
        task = bar.add_task(f"{file.name}", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        rf, result = import_readings_file(db, file, on_progress=on_progress)
    doc = {"file": str(file), "layout": rf.layout, **_summary(result)}
    if json_out:
        doc["quarantined_readings"] = [{"index": i, "reason": r} for i, r in result.quarantined]
        emit_json(doc)
        return
    _print(f"import {file.name}", doc)
    for i, reason in result.quarantined[:20]:
        err_console.print(f"quarantined reading {i}: {reason}", markup=False, highlight=False)
    if len(result.quarantined) > 20:
        err_console.print(f"… and {len(result.quarantined) - 20} more (see the quarantine table)", markup=False)
