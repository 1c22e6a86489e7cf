"""CLI commands of the footprint capability (产品碳足迹): ``carbonpark footprint``.

References
----------
Guide §2.1(1), §2.2; ISO 14067:2018; issue 7 item 4 (file contract).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json
from carbonpark.errors import ValidationError
from carbonpark.footprint import (
    ProductFootprint,
    accounting_energy_accountant,
    compute_footprints,
    inventory_report,
    parse_study,
)

__all__ = ["register"]


def _read_yaml(path: Path) -> Any:
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
