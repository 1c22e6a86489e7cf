"""CLI commands for dual-carbon targets and the implementation path: ``carbonpark targets …``.

References
----------
Guide §3.2.2(1) (双碳目标和实施路径); issue 13 item 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app

__all__ = ["register"]

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _print_status(doc: dict[str, Any]) -> None:
    console = Console()
    months = Table(
        "month 月",
        "actual 实际",
        "to date 累计",
        "cap to date 进度上限",
        "projected 全年预计",
        "gap 缺口",
        title=f"{doc['org']} {doc['year']}: position against the cap 对照年度上限",
    )
    for m in doc["months"]:
        months.add_row(
            str(m["month"]),
            _number(m["actual_tco2e"]),
            _number(m["actual_to_date_tco2e"]),
            _number(m["cap_to_date_tco2e"]),
            _number(m["projected_year_tco2e"]),
            _number(m["gap_tco2e"]),
        )
    forecast = doc.get("forecast") or {}
    for month, value in (forecast.get("forecast_tco2e") or {}).items():
        months.add_row(f"{month}*", _number(value), "", "", "", "")
        months.caption = "* forecast, not actual 预测值"
    console.print(months)
    if forecast:
        err_console.print(
            f"forecast 预测: model {forecast['model']}, tCO2e per unit {forecast['tco2e_per_unit']}, "
            f"at the run rate 按月均: {forecast['run_rate_activities']}"
        )
    checks = Table(
        "target 目标", "year 年", "limit 限值", "value 路径值", "met 达成", "why 说明", title="path 实施路径"
    )
    for c in doc["checks"]:
        met = {True: "✓", False: "✗", None: "?"}[c["met"]]
        checks.add_row(
            c["target"], str(c["year"] or ""), _number(c["limit"], 3), _number(c["value"], 3), met, c["explanation"]
        )
    console.print(checks)
    err_console.print(f"path basis: {doc['path']['basis']}")


def register(app: typer.Typer) -> None:
    """Add the ``targets`` commands to ``app``."""
    targets = new_app("Dual-carbon targets and implementation path (双碳目标和实施路径).")

    @targets.command("import")
    def targets_import(
        file: Annotated[Path, typer.Argument(help="YAML with 'targets' and 'path' lists (docs/targets.md).")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Create or update targets and path measures, all or nothing; changes go to the history."""
        from carbonpark.services.targets import import_targets
        from carbonpark.settings import get_settings

        counts = import_targets(db, file, get_settings().actor)
        emit_json(counts) if json_out else err_console.print(f"targets and measures: {counts}")

    @targets.command("status")
    def targets_status(
        org: Annotated[str, typer.Option("--org", help="'park' or an enterprise id, handle, credit code or name.")],
        year: Annotated[int, typer.Option("--year", help="Calendar year to track.")],
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Monthly gap against this year's cap, and the path checked against every target."""
        from carbonpark.services.targets import target_status

        doc = target_status(db, org, year)
        emit_json(doc) if json_out else _print_status(doc)

    app.add_typer(targets, name="targets")
