"""CLI commands of the account capability: ``carbonpark account`` and ``carbonpark factors``.

``carbonpark account ACTIVITY.csv [--factor-set NAME] [--gwp SAR|AR4|AR5|AR6] [--json]
[--explain ROW] [--factors USER.csv …]`` accounts an activity file (columns in
:data:`carbonpark.accounting.activity_file.COLUMNS`); ``carbonpark factors list`` shows the factor sets and GWP sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from carbonpark.cli.common import emit_json, err_console, new_app
from carbonpark.errors import ValidationError
from carbonpark.factors import DEFAULT_FACTOR_SET, DEFAULT_GWP_SET, FactorLibrary, default_library, load_user_set

if TYPE_CHECKING:
    from carbonpark.accounting import Inventory

# The accounting engine (pint) and the services are imported inside the functions that use
# them: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]


def _library(user_factors: list[Path]) -> FactorLibrary:
    library = default_library()
    for path in user_factors:
        name, rows = load_user_set(path)
        library = library.with_user_set(name, rows, f"user factor set from {path}")
    return library


def _stdout() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _print_inventory(inventory: Inventory) -> None:
    out = _stdout()
    table = Table(title=f"Emissions (factor set {inventory.factor_set}, GWP {inventory.gwp_set})")
    for column in ("line", "source", "activity", "gas", "method", "scope", "cat.", "mass [t]", "tCO2e"):
        table.add_column(escape(column), justify="right" if column in ("mass [t]", "tCO2e", "line") else "left")
    for row in inventory.rows:
        a = row.amount
        table.add_row(
            str(a.line),
            a.source,
            a.activity,
            a.gas + ("" if a.kind == "emission" else f" ({a.kind})"),
            a.method,
            a.scope,
            a.category,
            f"{a.mass_t:,.6g}",
            f"{row.tco2e:,.4f}",
        )
    out.print(table)
    totals = Table(title="Totals")
    totals.add_column("figure")
    totals.add_column("value", justify="right")
    for label, value in (
        ("total [tCO2e] (scope 1 + 2 location + 3)", inventory.total_tco2e),
        ("scope 1 [tCO2e]", inventory.by_scope["1"]),
        ("scope 2 location-based [tCO2e]", inventory.by_scope["2"]),
        ("scope 2 market-based [tCO2e]", inventory.scope2_market_tco2e),
        ("scope 3 [tCO2e]", inventory.by_scope["3"]),
        ("removals [tCO2e]", inventory.removals_tco2e),
        ("biogenic CO2 [t]", inventory.biogenic_co2_t),
        ("energy, equivalent value [tce]", inventory.energy_tce),
        ("energy, equal-value basis [tce]", inventory.energy_tce_equal_value),
    ):
        totals.add_row(escape(label), f"{value:,.4f}")
    out.print(totals)


def _account_stored_command(
    db: str | None,
    org: str | None,
    year: int | None,
    period: str | None,
    factor_set: str,
    gwp: str,
    library: FactorLibrary,
    as_json: bool,
    explain_ref: str | None,
    refresh: bool,
) -> None:
    # imported here: the file contract must not pay for the store and the ledger at start-up
    from carbonpark.services.accounting import account_stored, explain_record

    if explain_ref is not None and org is None:
        text = explain_record(db, explain_ref)
        emit_json({"record": explain_ref, "explanation": text}) if as_json else typer.echo(text)
        return
    if org is None or (year is None) == (period is None):
        raise ValidationError("account", "an activity FILE, or --org with exactly one of --year or --period", "neither")
    label = str(year) if year is not None else str(period)
    doc = account_stored(db, org, label, factor_set=factor_set, gwp_set=gwp, library=library, refresh=refresh)
    if explain_ref is not None:
        text = explain_record(db, explain_ref)
        emit_json({"record": explain_ref, "explanation": text}) if as_json else typer.echo(text)
        return
    if as_json:
        emit_json(doc)
        return
    _print_stored(doc)


def _print_stored(doc: dict[str, Any]) -> None:
    out = _stdout()
    table = Table(
        title=f"{doc['org']} {doc['period']}: emission records (factor set {doc['factor_set']}, GWP {doc['gwp']})"
        + (" [locked]" if doc.get("locked") else "")
    )
    for column in ("record", "period", "source", "activity", "gas", "method", "scope", "tCO2e", "est.", "flag."):
        table.add_column(column, justify="right" if column in ("tCO2e", "record", "est.", "flag.") else "left")
    for row in doc["rows"]:
        table.add_row(
            str(row["record_id"]),
            row["period"],
            escape(row["source"]),
            row["activity"],
            row["gas"] + ("" if row["kind"] == "emission" else f" ({row['kind']})"),
            row["method"],
            row["scope"],
            f"{row['tco2e']:,.4f}",
            f"{row['estimated_share']:.0%}",
            f"{row['flagged_share']:.0%}",
        )
    out.print(table)
    totals = Table(title="Totals")
    totals.add_column("figure")
    totals.add_column("value", justify="right")
    for label, value in (
        ("total [tCO2e] (scope 1 + 2 location + 3)", doc["total_tco2e"]),
        ("scope 1 [tCO2e]", doc["by_scope"]["1"]),
        ("scope 2 location-based [tCO2e]", doc["by_scope"]["2"]),
        ("scope 2 market-based [tCO2e]", doc["scope2_market_tco2e"]),
        ("scope 3 [tCO2e]", doc["by_scope"]["3"]),
        ("energy, equivalent value [tce]", doc["energy_tce"]),
        ("resting on estimated readings [share]", doc.get("quality", {}).get("estimated_share", 0.0)),
        ("resting on flagged readings [share]", doc.get("quality", {}).get("flagged_share", 0.0)),
    ):
        totals.add_row(escape(label), f"{value:,.4f}")
    out.print(totals)
    for gap in doc.get("sources_without_data", []):
        err_console.print(f"no data: {gap['source']} ({gap['activity']}): {gap['reason']}")


class _AccountCommand(TyperCommand):
    """``account``, or the ``account transfers`` group when the first word is ``transfers``."""

    transfers: TyperGroup | None = None

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        if args and args[0] == "transfers" and self.transfers is not None:
            return self.transfers.make_context("transfers", args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


def _transfers_app() -> typer.Typer:
    """``carbonpark account transfers import FILE.csv`` / ``list``: energy and CO2 passed inside the park."""
    transfers_app = new_app("Energy and CO2 transfers between park enterprises (and the park itself).")

    @transfers_app.command("import")
    def transfers_import(
        file: Annotated[Path, typer.Argument(help="CSV: seller,buyer,carrier,period,amount,unit[,meter,evidence].")],
        db: Annotated[str | None, typer.Option("--db", help="Database URL or SQLite path.")] = None,
        actor: Annotated[str, typer.Option("--actor", help="Who imports (audit log).")] = "cli",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Store transfer records (all or nothing): a deduction at the seller, a purchase at the buyer."""
        from carbonpark.services.transfers import import_transfers

        result = import_transfers(db, file, actor)
        if as_json:
            emit_json(result)
        else:
            typer.echo(f"transfers: {result['created']} created, {result['updated']} updated")

    @transfers_app.command("list")
    def transfers_list(
        db: Annotated[str | None, typer.Option("--db", help="Database URL or SQLite path.")] = None,
        org: Annotated[str | None, typer.Option("--org", help="Only this party (seller or buyer), or 'park'.")] = None,
        period: Annotated[
            str | None, typer.Option("--period", help="Periods starting with this (2025, 2025-03).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """List the stored transfers."""
        from carbonpark.services.transfers import list_transfers

        rows = list_transfers(db, org, period)
        if as_json:
            emit_json(rows)
            return
        table = Table(title="Transfers")
        for column in ("id", "period", "seller", "buyer", "carrier", "amount", "unit", "evidence"):
            table.add_column(column, justify="right" if column in ("id", "amount") else "left")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["period"],
                escape(str(r["seller"])),
                escape(str(r["buyer"])),
                r["carrier"],
                f"{r['amount']:,.4f}",
                escape(r["unit"]),
                escape(r["evidence"]),
            )
        _stdout().print(table)

    return transfers_app


def register(app: typer.Typer) -> None:
    """Add the ``account`` command (with ``account transfers``) and the ``factors`` group to ``app``."""
    _AccountCommand.transfers = typer.main.get_group(_transfers_app())

    @app.command("account", cls=_AccountCommand)
    def account_command(
        file: Annotated[
            Path | None,
            typer.Argument(help="Activity CSV: source,activity,amount,unit[,optional columns]. Omit with --db/--org."),
        ] = None,
        factor_set: Annotated[str, typer.Option("--factor-set", help="Default fuel factor set.")] = DEFAULT_FACTOR_SET,
        gwp: Annotated[str, typer.Option("--gwp", help="GWP set: SAR, AR4, AR5, AR6 (or a user set).")] = (
            DEFAULT_GWP_SET
        ),
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
        explain_line: Annotated[
            str | None,
            typer.Option(
                "--explain",
                help="Explain the result rows of data line ROW (1-based); with --db, an emission record id or handle.",
            ),
        ] = None,
        user_factors: Annotated[
            list[Path] | None,
            typer.Option(
                "--factors", help="User factor-set CSV (same columns as the packaged ones); wins over defaults."
            ),
        ] = None,
        equal_value: Annotated[
            float | None,
            typer.Option("--equal-value-kgce-per-kwh", help="Electricity equal-value coefficient, in kgce/kWh."),
        ] = None,
        db: Annotated[str | None, typer.Option("--db", help="Database URL or SQLite path (stored data).")] = None,
        org: Annotated[
            str | None, typer.Option("--org", help="Enterprise id, handle, credit code or name, or 'park'.")
        ] = None,
        year: Annotated[int | None, typer.Option("--year", help="Calendar year to account (local time).")] = None,
        period: Annotated[
            str | None, typer.Option("--period", help="Instead of --year: YYYY-MM or YYYY-MM-DD (local calendar).")
        ] = None,
        no_refresh: Annotated[
            bool, typer.Option("--no-refresh", help="Use the stored activity data as they are (no re-aggregation).")
        ] = False,
    ) -> None:
        """Account the emissions of an activity file, or of an enterprise or the park from stored data.

        With FILE: the file contract (guide §4.2; GB/T 32151; GB/T 2589). With --org and --year
        (or --period): stored activity data → emission records with lineage in the database.
        Transfers between park enterprises: ``account transfers import FILE.csv`` and ``account transfers list``.
        """
        from carbonpark.accounting import account, explain, inventory_document

        library = _library(user_factors or [])
        if file is None:
            _account_stored_command(
                db, org, year, period, factor_set, gwp, library, as_json, explain_line, not no_refresh
            )
            return
        if org is not None or year is not None or period is not None:
            raise ValidationError("account", "either an activity FILE or --org with --year/--period", "both")
        from carbonpark.accounting.activity_file import parse_number, read_activity_csv

        records = read_activity_csv(file.read_text(encoding="utf-8-sig"))
        inventory = account(
            records, factor_set=factor_set, gwp_set=gwp, library=library, equal_value_kgce_per_kwh=equal_value
        )
        if explain_line is not None:
            wanted = parse_number(explain_line, "--explain")
            chosen = [r for r in inventory.rows if wanted in (r.amount.line, *r.amount.lines)]
            if not chosen:
                raise ValidationError(
                    "--explain", f"a data line 1..{len(records)} that produced a result", explain_line
                )
            text = "\n\n".join(explain(r) for r in chosen)
            if as_json:
                emit_json({"line": int(wanted or 0), "explanation": text})
            else:
                typer.echo(text)
            return
        if as_json:
            emit_json(inventory_document(inventory))
        else:
            _print_inventory(inventory)

    factors_app = new_app("The factor library: factor sets, GWP sets and their sources.")
    app.add_typer(factors_app, name="factors")

    @factors_app.command("list")
    def factors_list(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False) -> None:
        """List the factor sets (the default fuel set and GWP set are marked)."""
        infos = default_library().factor_sets()
        doc = [
            {
                "name": i.name,
                "kind": i.kind,
                "default": i.is_default,
                "description": i.description,
                "files": list(i.files),
            }
            for i in infos
        ]
        if as_json:
            emit_json(doc)
            return
        table = Table(title="Factor sets")
        for column in ("name", "kind", "default", "description"):
            table.add_column(column)
        for item in doc:
            table.add_row(
                str(item["name"]), str(item["kind"]), "yes" if item["default"] else "", str(item["description"])
            )
        _stdout().print(table)
