"""CLI commands of the trading capability (``carbonpark trading …``).

References
----------
Guide §7.3 (碳交易), §2.2(4) (用能权), §8.1 (约束性指标).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from carbonpark.cli.common import emit_json, new_app, to_jsonable
from carbonpark.trading.simulate import load_scenario, run_scenario

__all__ = ["register"]

trading_app = new_app("Allowances, CCER, energy-use rights, compliance and the park market (碳交易, 用能权).")

_out = Console(highlight=False, soft_wrap=True)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=escape(title), title_justify="left")
    for column in columns:
        table.add_column(escape(column))
    for row in rows:
        table.add_row(*("" if v is None else escape(str(to_jsonable(v))) for v in row))
    return table


def _print_simulation(doc: dict[str, Any]) -> None:
    _out.print(f"market: {doc['market']}", markup=False)
    if doc.get("reference_price"):
        ref = doc["reference_price"]
        _out.print(f"reference price for fines: {to_jsonable(ref['price'])} CNY/t ({ref['source']})", markup=False)
    _out.print(
        _table(
            "Trades",
            ["#", "buyer", "seller", "instrument", "quantity [t]", "price [CNY/t]", "value [CNY]"],
            [
                [t["seq"], t["buyer"], t["seller"], t["instrument"], t["quantity"], t["price"], t["value"]]
                for t in doc["trades"]
            ],
        )
    )
    if doc["rejected"]:
        _out.print(_table("Rejected orders", ["id", "reason"], [[r["id"], r["reason"]] for r in doc["rejected"]]))
    if doc["cancelled"]:
        _out.print(
            _table(
                "Cancelled",
                ["id", "quantity [t]", "reason"],
                [[c["id"], c["quantity"], c["reason"]] for c in doc["cancelled"]],
            )
        )
    _out.print(
        _table(
            "Balances after trading, before surrender",
            ["account", "allowance [t]", "ccer [t]", "cash [CNY]"],
            [[name, b["allowance"], b["ccer"], b["cash"]] for name, b in doc["balances"].items()],
        )
    )
    if doc["compliance"]:
        rows = []
        for name, c in doc["compliance"].items():
            penalty = c.get("penalty") or {}
            fine = (
                f"{to_jsonable(penalty.get('fine_min_cny'))}–{to_jsonable(penalty.get('fine_max_cny'))}"
                if penalty and penalty.get("fine_min_cny") is not None
                else ("price needed" if penalty else "")
            )
            rows.append(
                [
                    name,
                    c["status"],
                    c.get("verified_tco2e"),
                    c.get("ccer_cap_t"),
                    c.get("shortfall_tco2e"),
                    fine,
                    c["reason"],
                ]
            )
        _out.print(
            _table(
                "Compliance (清缴履约)",
                ["account", "status", "verified [tCO2e]", "CCER cap [t]", "shortfall [t]", "fine [CNY]", "reason"],
                rows,
            )
        )


@trading_app.command("simulate")
def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML: accounts, orders, compliance.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Run accounts, orders and compliance of SCENARIO in memory and show trades, balances and compliance."""
    doc = run_scenario(load_scenario(_read(scenario), source=str(scenario)))
    if json_out:
        emit_json(doc)
    else:
        _print_simulation(doc)


def register(app: typer.Typer) -> None:
    """Add the trading commands to ``app``."""
    app.add_typer(trading_app, name="trading")
