"""CLI commands of the footprint capability (产品碳足迹).

``footprint`` (file contract), ``footprints`` (stored data), ``footprint-transport`` (import transport
legs), ``footprint-batch`` (one production batch).

References
----------
Guide §2.1(1), §2.2; ISO 14067:2018; issue 7 item 4 (file contract).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.footprint import ProductFootprint

# The footprint engine, the services, the store, the settings and YAML are imported inside the
# commands: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        raise ValidationError(where, "valid YAML", getattr(exc, "problem", str(exc))) from exc


def _product_doc(fp: ProductFootprint) -> dict[str, Any]:
    return {
        "unit": fp.unit,
        "tco2e_per_unit": fp.tco2e_per_unit,
        "cradle_to_gate_tco2e_per_unit": fp.cradle_to_gate_tco2e_per_unit,
        "boundary": fp.boundary,
        "given": fp.given,
        "by_stage": fp.by_stage,
        "by_input": fp.by_input,
        "allocation": None if fp.allocation is None else asdict(fp.allocation),
        "lineage": [asdict(t) for t in fp.contributions],
    }


def _print(footprints: dict[str, ProductFootprint]) -> None:
    stages = list(next(iter(footprints.values())).by_stage)
    table = Table(title="Product carbon footprints [tCO2e per unit]")
    table.add_column("product")
    table.add_column("unit")
    table.add_column("total", justify="right")
    for stage in stages:
        table.add_column(stage.replace("_", " "), justify="right")
    for fp in footprints.values():
        table.add_row(
            fp.product + (" (given)" if fp.given else ""),
            fp.unit,
            f"{fp.tco2e_per_unit:.6g}",
            *(f"{fp.by_stage[s]:.6g}" for s in stages),
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the footprint commands to ``app``."""

    @app.command("footprint")
    def footprint(
        products_file: Annotated[Path, typer.Argument(help="YAML with products (and optionally processes).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
        use_phase: Annotated[
            bool,
            typer.Option("--use-phase", help="Add each product's use_phase_tco2e_per_unit to its total."),
        ] = False,
        report: Annotated[
            str | None,
            typer.Option("--report", help="Also give the ISO 14067-style inventory of this product."),
        ] = None,
        factor_set: Annotated[
            str | None,
            typer.Option("--factor-set", help="Factor set for energy lines without their own factor."),
        ] = None,
        gwp: Annotated[str | None, typer.Option("--gwp", help="GWP set (AR4, AR5, AR6).")] = None,
    ) -> None:
        """Cradle-to-gate product carbon footprints from bills of materials (产品碳足迹).

        Energy lines without ``factor_tco2e_per_unit`` are accounted by the accounting engine.
        """
        from carbonpark.footprint import accounting_energy_accountant, compute_footprints, inventory_report, parse_study

        study = parse_study(_read_yaml(products_file))
        accountant = accounting_energy_accountant(factor_set, gwp)
        footprints = compute_footprints(study, include_use_phase=use_phase, energy_accountant=accountant)
        inventory = None if report is None else inventory_report(footprints, report)
        if as_json:
            doc: dict[str, Any] = {"products": {pid: _product_doc(fp) for pid, fp in footprints.items()}}
            if inventory is not None:
                doc["report"] = inventory
            emit_json(doc)
            return
        _print(footprints)
        if inventory is not None:
            console = Console()
            console.print(f"\nInventory of {inventory['functional_unit']} ({inventory['system_boundary']['boundary']})")
            for spot in inventory["hotspots"]:
                share = "" if spot["share"] is None else f" ({spot['share']:.1%})"
                console.print(
                    f"  {' → '.join(spot['path'])}: {spot['kind']} {spot['ref']} "
                    f"{spot['tco2e_per_unit']:.6g} tCO2e{share}"
                )

    @app.command("footprints")
    def footprints(
        period: Annotated[str, typer.Option("--period", help="Period of metered energy and output: YYYY or YYYY-MM.")],
        db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")] = None,
        allocation: Annotated[
            str, typer.Option("--allocation", help="mass, economic or physical (enterprises with several products).")
        ] = "mass",
        use_phase: Annotated[bool, typer.Option("--use-phase", help="Add use-phase figures.")] = False,
        register_values: Annotated[
            bool, typer.Option("--register/--no-register", help="Register each footprint as CARBON_FOOTPRINT.")
        ] = True,
        report: Annotated[str | None, typer.Option("--report", help="Product (code or handle) to report on.")] = None,
        lang: Annotated[str, typer.Option("--lang", help="Report language: zh or en.")] = "zh",
        pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the report as PDF.")] = True,
        out: Annotated[
            Path | None, typer.Option("--out", help="Report folder (default $CARBONPARK_OUTPUT_DIR).")
        ] = None,
        factor_set: Annotated[str | None, typer.Option("--factor-set", help="Factor set for energy.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Footprints of the park's stored products (BOMs, metered energy, supplier figures by identifier)."""
        from carbonpark.identifiers import Reader
        from carbonpark.reports.footprint import write_report
        from carbonpark.services import footprints as park_fp
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        options = park_fp.FootprintOptions(
            period=period, allocation=allocation, include_use_phase=use_phase, factor_set=factor_set
        )
        operator = Reader(name=get_settings().actor, role="park_admin")
        with session(db) as s:
            result = park_fp.park_footprints(s, options, operator, register=register_values)
        doc = result.to_dict()
        if report is not None:
            inventory = park_fp.product_inventory(result, report)
            paths = write_report(inventory, out or get_settings().output_dir, lang=lang, pdf=pdf)
            doc["report"] = {kind: str(path) for kind, path in paths.items()}
            err_console.print(f"report: {', '.join(doc['report'].values())}")
        if as_json:
            emit_json(doc)
            return
        table = Table(title=f"Product carbon footprints, {period} [tCO2e per unit]")
        for col in ("product", "name", "unit", "total"):
            table.add_column(col)
        for handle, row in doc["products"].items():
            table.add_row(handle, row["name"], row["unit"], f"{row['tco2e_per_unit']:.6g}")
        Console().print(table)
        for handle, why in doc["skipped"].items():
            err_console.print(f"skipped {handle}: {why}")

    @app.command("footprint-transport")
    def footprint_transport(
        file: Annotated[Path, typer.Argument(help="CSV or YAML of transport legs (see docs/footprint.md).")],
        db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Store the inbound transport legs of products' inputs (each pair in the file replaces its legs)."""
        from carbonpark.services import footprints as park_fp
        from carbonpark.settings import get_settings

        counts = park_fp.import_transport(db, file, get_settings().actor)
        if as_json:
            emit_json(counts)
            return
        Console().print(f"{counts['legs']} legs of {counts['pairs']} (product, input) pairs stored")

    @app.command("footprint-batch")
    def footprint_batch(
        product: Annotated[str, typer.Argument(help="Product code or handle.")],
        batch: Annotated[str, typer.Option("--batch", help="Batch number.")],
        start: Annotated[str, typer.Option("--start", help="Start of production (park-local ISO time).")],
        end: Annotated[str, typer.Option("--end", help="End of production (exclusive).")],
        quantity: Annotated[float, typer.Option("--quantity", help="Quantity made, in the product's unit.")],
        period: Annotated[str, typer.Option("--period", help="Period for the footprints of the inputs.")],
        db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Footprint of one production batch, registered under a batch identifier."""
        from carbonpark.identifiers import Reader
        from carbonpark.services import footprints as park_fp
        from carbonpark.settings import get_settings
        from carbonpark.store import session

        operator = Reader(name=get_settings().actor, role="park_admin")
        with session(db) as s:
            doc = park_fp.batch_footprint(
                s, product, batch, start, end, quantity, operator, park_fp.FootprintOptions(period=period)
            )
        doc.pop("names", None)
        if as_json:
            emit_json(doc)
            return
        Console().print(
            f"{doc['handle']}: {doc['tco2e_per_unit']:.6g} tCO2e per {doc['unit']}, "
            f"batch {doc['tco2e_batch']:.6g} tCO2e"
        )
