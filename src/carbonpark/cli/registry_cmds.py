"""Foundation commands: demo, db upgrade, status, meters, registry and statistics imports, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark import __version__
from carbonpark.cli.common import emit_json, err_console, new_app, progress

# The services, the store and the settings are imported inside the commands: ``carbonpark --help``
# and the light commands must not pay for the engines at start-up (tests/test_cli_startup.py).

__all__ = ["DbOption", "JsonOption", "register"]

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB or ./carbonpark.db)."),
]
out_console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]


def register(app: typer.Typer) -> None:
    """Add the foundation commands to ``app``."""
    db_app = new_app("Database schema.")
    app.add_typer(db_app, name="db")
    registry_app = new_app("Park registry: enterprises, sites, devices, meters, sources, products.")
    app.add_typer(registry_app, name="registry")
    stats_app = new_app("Periodic enterprise statistics (output, output value, value added, area, employees).")
    app.add_typer(stats_app, name="stats")

    @app.command()
    def version() -> None:
        """Print the carbonpark version."""
        typer.echo(__version__)

    @db_app.command("upgrade")
    def db_upgrade(db: DbOption = None) -> None:
        """Create or migrate the schema to the newest revision."""
        from carbonpark.store import normalise_url, upgrade

        revision = upgrade(db)
        err_console.print(f"schema at revision {revision}: {normalise_url(db)}")

    @app.command()
    def demo(
        db: DbOption = None,
        size: Annotated[
            str, typer.Option(help="small (seconds, for tests) or full (about 200 meters, a year).")
        ] = "full",
        seed: Annotated[int, typer.Option(help="Seed of the generator: the same seed gives the same park.")] = 42,
        year: Annotated[int | None, typer.Option(help="Year of readings (default: last full calendar year).")] = None,
        out: Annotated[Path | None, typer.Option(help="Output folder (default: $CARBONPARK_OUTPUT_DIR).")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Build the demo park, run every capability that exists, print a summary and where the outputs are."""
        from carbonpark.services.demo import Size, build_demo
        from carbonpark.services.demo_run import run_capabilities
        from carbonpark.services.status import registry_status
        from carbonpark.settings import get_settings
        from carbonpark.store import normalise_url

        if size not in {"small", "full"}:
            raise typer.BadParameter(f"expected small or full, got {size!r}", param_hint="--size")
        chosen: Size = "small" if size == "small" else "full"
        out_dir = out or get_settings().output_dir
        with progress(quiet=False) as bar:
            tasks: dict[str, Any] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = build_demo(db, size=chosen, seed=seed, year=year, out_dir=out_dir, on_progress=report)
            capabilities = run_capabilities(db, result.year, out_dir, on_progress=report)
        summary: dict[str, Any] = {
            "db": normalise_url(db),
            "size": result.size,
            "seed": result.seed,
            "year": result.year,
            "period": list(result.period),
            "already_built": result.already_built,
            "registry": registry_status(db),
            "faults": result.faults,
            "capabilities": capabilities,
            "outputs": {**result.outputs, **{k: v["output"] for k, v in capabilities.items() if "output" in v}},
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        summary_path = out_dir / "demo-summary.json"
        summary["outputs"]["summary"] = str(summary_path)
        from carbonpark.services.auth import without_secrets

        # the file never holds the generated demo password and key (world-readable under the usual
        # umask); they are shown once on the console, or in the --json document on standard output
        summary_path.write_text(json.dumps(without_secrets(summary), ensure_ascii=False, indent=2), encoding="utf-8")
        failed = {k: v["error"] for k, v in capabilities.items() if v["status"] != "ok"}
        for name, error in failed.items():
            err_console.print(f"[red]error:[/red] capability {name} failed: {error}", highlight=False)
        if json_out:
            emit_json(summary)
        else:
            _print_summary(summary)
        if failed:
            raise typer.Exit(1)

    @app.command()
    def status(db: DbOption = None, json_out: JsonOption = False) -> None:
        """Counts of the registry and the readings."""
        from carbonpark.services.status import registry_status

        doc = registry_status(db)
        if json_out:
            emit_json(doc)
            return
        table = Table("what", "value", title="carbonpark status")
        for key, value in doc.items():
            table.add_row(key, str(value))
        out_console.print(table)

    @app.command()
    def meters(
        db: DbOption = None,
        enterprise: Annotated[str | None, typer.Option(help="Enterprise id, handle, credit code or name.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """List meters with their handle, enterprise, quantity, unit and carrier."""
        from carbonpark.services.status import list_meters

        rows = list_meters(db, enterprise)
        if json_out:
            emit_json(rows)
            return
        table = Table("id", "handle", "code", "enterprise", "quantity", "unit", "carrier", title="meters")
        for m in rows:
            table.add_row(
                str(m["id"]),
                m["handle"],
                m["code"],
                m["enterprise"] or "(park)",
                m["quantity"],
                m["unit"],
                m["carrier"] or "",
            )
        out_console.print(table)

    @registry_app.command("import")
    def registry_import(
        file: Annotated[Path, typer.Argument(help="YAML file with park, enterprises, meters … (see docs).")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Create registry entities from a YAML file, all or nothing."""
        from carbonpark.services.registry_io import import_registry
        from carbonpark.settings import get_settings

        created = import_registry(db, file, get_settings().actor)
        emit_json({"created": created}) if json_out else err_console.print(f"created: {created}")

    @registry_app.command("update")
    def registry_update(
        kind: Annotated[
            str,
            typer.Argument(help="enterprise, site, device, carrier, meter, calibration, source, material or product."),
        ],
        ref: Annotated[str, typer.Argument(help="Numeric id, Handle identifier or code.")],
        assignments: Annotated[
            list[str], typer.Option("--set", help="FIELD=VALUE, repeatable; an empty VALUE clears the field.")
        ],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Change fields of one entity, validated like a new one; before and after go to the history."""
        from carbonpark.services import registry_io
        from carbonpark.settings import get_settings

        result = registry_io.update_entity(
            db, kind, ref, registry_io.parse_assignments(assignments), get_settings().actor
        )
        if json_out:
            emit_json(result)
        else:
            err_console.print(f"{result['handle']}: {'updated' if result['changed'] else 'unchanged'}")

    @registry_app.command("delete")
    def registry_delete(
        kind: Annotated[
            str,
            typer.Argument(help="enterprise, site, device, carrier, meter, calibration, source, material or product."),
        ],
        ref: Annotated[str, typer.Argument(help="Numeric id, Handle identifier or code.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Delete one entity that nothing refers to; its last state stays in the history."""
        from carbonpark.services import registry_io
        from carbonpark.settings import get_settings

        result = registry_io.delete_entity(db, kind, ref, get_settings().actor)
        if json_out:
            emit_json(result)
        else:
            err_console.print(f"deleted {result['deleted'].get('handle')}")

    @stats_app.command("import")
    def stats_import(
        file: Annotated[Path, typer.Argument(help="CSV with columns enterprise,period,metric,value,unit.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Import periodic enterprise statistics, all or nothing; a repeated row changes nothing."""
        from carbonpark.services.registry_io import import_statistics
        from carbonpark.settings import get_settings

        counts = import_statistics(db, file, get_settings().actor)
        emit_json(counts) if json_out else err_console.print(f"statistics: {counts}")

    @app.command()
    def history(
        db: DbOption = None,
        handle: Annotated[str | None, typer.Option(help="Only the changes of this entity (Handle).")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
        json_out: JsonOption = False,
    ) -> None:
        """The change history (audit log): who changed what, when, before and after."""
        from sqlalchemy import select

        from carbonpark.settings import get_settings
        from carbonpark.store import session
        from carbonpark.store.schema import AuditEntry
        from carbonpark.times import local_iso

        with session(db) as s:
            stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if handle:
                stmt = stmt.where(AuditEntry.handle == handle)
            rows = [
                {
                    "at": local_iso(e.at_ms, get_settings().timezone),
                    "actor": e.actor,
                    "action": e.action,
                    "entity": e.entity,
                    "entity_id": e.entity_id,
                    "handle": e.handle,
                    "before": e.before,
                    "after": e.after,
                }
                for e in s.scalars(stmt)
            ]
        if json_out:
            emit_json(rows)
            return
        for r in rows:
            typer.echo(f"{r['at']} {r['actor']} {r['action']} {r['entity']} {r['handle'] or r['entity_id']}")


def _print_summary(summary: dict[str, Any]) -> None:
    console = out_console
    reg = summary["registry"]
    table = Table("", "", title=f"carbonpark demo ({summary['size']}, seed {summary['seed']}, {summary['year']})")
    for key in (
        "park",
        "enterprises",
        "sites",
        "meters",
        "sources",
        "products",
        "readings",
        "quarantined",
        "first_reading",
        "last_reading",
    ):
        table.add_row(key, str(reg[key]))
    table.add_row("faults injected", str(len(summary["faults"])))
    console.print(table)
    caps = Table("capability", "status", "figures", title="capabilities run on the demo park")
    secrets: list[tuple[str, str, Any]] = []
    for name, figures in summary["capabilities"].items():
        shown = {k: v for k, v in figures.items() if k not in {"status", "output", "secrets"}}
        caps.add_row(name, figures["status"], ", ".join(f"{k}={v}" for k, v in shown.items()))
        secrets += [(name, key, value) for key, value in (figures.get("secrets") or {}).items()]
    console.print(caps)
    for name, key, value in secrets:
        console.print(f"{name} {key} (shown once, not stored / 仅显示一次，不写入文件): {value}", highlight=False)
    console.print(f"database: {summary['db']}")
    for name, path in summary["outputs"].items():
        console.print(f"{name}: {path}")
