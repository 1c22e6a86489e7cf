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
from carbonpark.errors import ValidationError
from carbonpark.trading.compliance import NATIONAL_ETS_2021, NATIONAL_ETS_2024, compliance_calendar
from carbonpark.trading.plans import run_allocation, run_energy
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


@trading_app.command("allocate")
def allocate(
    plan: Annotated[Path, typer.Argument(help="Allocation YAML: rounding and facilities with their method.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Allowances per facility and enterprise by benchmark, power-sector, history or intensity method."""
    doc = run_allocation(load_scenario(_read(plan), source=str(plan)))
    if json_out:
        emit_json(doc)
        return
    _out.print(
        _table(
            f"Allocation (配额分配), rounding {doc['rounding']}",
            ["enterprise", "facility", "method", "allowances [tCO2e]"],
            [[f["enterprise"], f["id"], f["method"], f["allowances_t"]] for f in doc["facilities"]],
        )
    )
    _out.print(
        _table(
            "Per enterprise",
            ["enterprise", "allowances [tCO2e]"],
            [*([n, t] for n, t in doc["enterprises"].items()), ["total", doc["total_t"]]],
        )
    )


def _status_cell(position: dict[str, Any] | None, key: str) -> str:
    if not position or position.get(key) is None:
        return ""
    return str(position[key])


@trading_app.command("energy")
def energy(
    positions: Annotated[Path, typer.Argument(help="Energy YAML: year, as_of, park caps, enterprises, quotas.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """能耗双控 positions of enterprises and park, key energy-consuming units and product quota checks."""
    doc = run_energy(load_scenario(_read(positions), source=str(positions)))
    if json_out:
        emit_json(doc)
        return
    rows = [
        [
            name,
            p["energy_tce"],
            p["total_cap_tce"],
            p["projected_energy_tce"],
            _status_cell(p, "total_status"),
            p["intensity_tce_per_10k_cny"],
            p["intensity_cap_tce_per_10k_cny"],
            _status_cell(p, "intensity_status"),
        ]
        for name, p in [*doc["enterprises"].items(), *([("park", doc["park"])] if doc["park"] else [])]
    ]
    _out.print(
        _table(
            f"Dual control of energy (能耗双控) {doc['year']}, {to_jsonable(doc['elapsed_fraction'])} of the year",
            [
                "name",
                "energy [tce]",
                "cap [tce]",
                "projected [tce]",
                "total",
                "intensity [tce/10⁴ CNY]",
                "cap",
                "intensity",
            ],
            rows,
        )
    )
    _out.print(
        _table(
            "Key energy-consuming units (重点用能单位)",
            ["name", "annual [tce]"],
            [[k["name"], k["annual_tce"]] for k in doc["key_energy_units"]],
        )
    )
    if doc["quota_checks"]:
        _out.print(
            _table(
                "Product energy quotas (能耗限额)",
                ["enterprise", "product", "unit consumption [kgce]", "limit [kgce]", "status", "standard"],
                [
                    [
                        c["enterprise"],
                        c["product"],
                        c["unit_consumption_kgce"],
                        c["limit_kgce_per_unit"],
                        c["status"],
                        c["standard"],
                    ]
                    for c in doc["quota_checks"]
                ],
            )
        )


@trading_app.command("calendar")
def calendar(
    year: Annotated[int, typer.Argument(help="Compliance (reporting) year.")],
    rules: Annotated[
        str, typer.Option("--rules", help="national-ets-2024 or national-ets-2021.")
    ] = "national-ets-2024",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Deadlines of a compliance year: report, verification, surrender; CCER cap and penalty rules."""
    programmes = {p.name: p for p in (NATIONAL_ETS_2024, NATIONAL_ETS_2021)}
    if rules not in programmes:
        raise ValidationError("--rules", f"one of {', '.join(programmes)}", rules)
    programme = programmes[rules]
    doc = {
        "year": year,
        "rules": programme.name,
        "deadlines": compliance_calendar(year, programme),
        "ccer_cap_fraction": programme.ccer_cap_fraction,
        "source": programme.source,
    }
    if json_out:
        emit_json(doc)
        return
    _out.print(
        _table(
            f"Compliance year {year} ({programme.name})",
            ["deadline", "date"],
            [[k, v] for k, v in doc["deadlines"].items()],  # type: ignore[attr-defined]
        )
    )
    _out.print(
        f"CCER cap: {programme.ccer_cap_fraction} of verified emissions, floored; {programme.source}", markup=False
    )


def register(app: typer.Typer) -> None:
    """Add the trading commands to ``app``."""
    app.add_typer(trading_app, name="trading")
