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

from carbonpark.cli.common import emit_json, err_console, new_app, to_jsonable
from carbonpark.errors import ValidationError

# The trading engine, its service and the store are imported inside the commands: start-up time
# of ``carbonpark`` (tests/test_cli_startup.py).

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
    from carbonpark.trading.simulate import load_scenario, run_scenario

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
    from carbonpark.trading.plans import run_allocation
    from carbonpark.trading.simulate import load_scenario

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
    from carbonpark.trading.plans import run_energy
    from carbonpark.trading.simulate import load_scenario

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
    from carbonpark.trading.compliance import NATIONAL_ETS_2021, NATIONAL_ETS_2024, compliance_calendar

    programmes = {p.name: p for p in (NATIONAL_ETS_2024, NATIONAL_ETS_2021)}
    if rules not in programmes:
        raise ValidationError("--rules", f"one of {', '.join(programmes)}", rules)
    programme = programmes[rules]
    deadlines = compliance_calendar(year, programme)
    doc = {
        "year": year,
        "rules": programme.name,
        "deadlines": deadlines,
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
            [[k, v] for k, v in deadlines.items()],
        )
    )
    _out.print(
        f"CCER cap: {programme.ccer_cap_fraction} of verified emissions, floored; {programme.source}", markup=False
    )


# ---------------------------------------------------------------------------- over the store (--db)

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]
ActorOption = Annotated[str, typer.Option("--actor", help="Who acts (recorded on each movement).")]
MarketOption = Annotated[str, typer.Option("--market", help="park_internal or national_simulation.")]


def _emit(doc: Any, as_json: bool, title: str) -> None:
    if as_json:
        emit_json(doc)
        return
    if isinstance(doc, list):
        if not doc:
            _out.print(f"{title}: none", markup=False)
            return
        columns = list(doc[0])
        _out.print(_table(title, columns, [[row.get(c) for c in columns] for row in doc]))
        return
    _out.print(_table(title, ["key", "value"], [[k, v] for k, v in doc.items() if k != "movements"]))


def _store(fn: Any, *, db: str | None) -> Any:
    from carbonpark.store import session

    with session(db) as s:
        return fn(s)


@trading_app.command("issue")
def issue_cmd(
    enterprise: Annotated[str, typer.Argument(help="Enterprise (id, handle, credit code or name).")],
    asset: Annotated[str, typer.Argument(help="allowance:YYYY, ccer, energy_right:YYYY or cash.")],
    amount: Annotated[str, typer.Argument(help="Whole tonnes / tce, or CNY with up to 2 decimals.")],
    reason: Annotated[str, typer.Option(help="allocation or deposit.")] = "allocation",
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Bring allowances, CCER, energy-use rights or cash into an enterprise's account (attested)."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.issue(s, enterprise, asset, amount, actor=actor, reason=reason), db=db)
    _emit(doc, as_json, "issued")


@trading_app.command("transfer")
def transfer_cmd(
    from_enterprise: Annotated[str, typer.Argument(help="Giver.")],
    to_enterprise: Annotated[str, typer.Argument(help="Receiver.")],
    asset: Annotated[str, typer.Argument(help="allowance:YYYY, ccer, energy_right:YYYY or cash.")],
    amount: Annotated[str, typer.Argument(help="Whole tonnes / tce, or CNY.")],
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Transfer between two enterprises (double-entry, attested; never below zero)."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.transfer(s, from_enterprise, to_enterprise, asset, amount, actor=actor), db=db)
    _emit(doc, as_json, "transfer")


@trading_app.command("balances")
def balances_cmd(
    enterprise: Annotated[str | None, typer.Option(help="One enterprise only.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Holdings per enterprise and asset (available, reserved, total)."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.balances(s, None, enterprise), db=db)
    if as_json:
        emit_json(doc)
        return
    rows = [
        [h, a, v["available"], v["reserved"], v["total"]]
        for h, assets in doc["accounts"].items()
        for a, v in assets.items()
    ]
    _out.print(_table("Balances 账户余额", ["enterprise", "asset", "available", "reserved", "total"], rows))


@trading_app.command("movements")
def movements_cmd(
    enterprise: Annotated[str | None, typer.Option(help="One enterprise only.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The double-entry journal, newest first (each movement's ledger record is trading_movement:<id>)."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.movements(s, None, enterprise, limit), db=db), as_json, "Movements 流水")


@trading_app.command("trial-balance")
def trial_balance_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Sum of all accounts per asset (zero when the books are sound) and negative accounts."""
    from carbonpark.services import trading as svc

    _emit(_store(svc.trial_balance, db=db), as_json, "Trial balance 试算平衡")


@trading_app.command("allocate-stored")
def allocate_stored_cmd(
    plan: Annotated[Path, typer.Argument(help="YAML: year and a list 'plan' of {enterprise, method, …}.")],
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Allocate allowances from stored output statistics or stored verified emissions, and book them."""
    import yaml

    from carbonpark.services import trading as svc

    doc = yaml.safe_load(_read(plan)) or {}
    if not isinstance(doc, dict) or "year" not in doc:
        raise ValidationError("plan", "a mapping with year and plan", type(doc).__name__)
    result = _store(lambda s: svc.allocate(s, int(doc["year"]), doc.get("plan") or [], actor=actor), db=db)
    _emit(result if as_json else result["allocations"], as_json, "Allocation 配额分配")


@trading_app.command("surrender")
def surrender_cmd(
    enterprise: Annotated[str, typer.Argument(help="Enterprise.")],
    year: Annotated[int, typer.Option(help="Compliance year.")],
    allowances: Annotated[int, typer.Option(help="Allowances to surrender [t].")],
    ccer: Annotated[int, typer.Option(help="CCER to surrender [t].")] = 0,
    programme: Annotated[str, typer.Option(help="national-ets-2024 or national-ets-2021.")] = "national-ets-2024",
    allow_unverified: Annotated[bool, typer.Option(help="Use an unlocked accounting run.")] = False,
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Surrender (清缴) against stored verified emissions: CCER ≤ floor(5 % × verified); shortfall and penalty."""
    from carbonpark.services import trading as svc

    doc = _store(
        lambda s: svc.surrender(
            s, enterprise, year, allowances, ccer, actor=actor, programme=programme, allow_unverified=allow_unverified
        ),
        db=db,
    )
    _emit(doc, as_json, "Surrender 清缴")


@trading_app.command("compliance")
def compliance_cmd(
    year: Annotated[int, typer.Option(help="Compliance year.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Obligation, holdings, position, outcome and days to each deadline per enterprise."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.compliance_status(s, year), db=db)
    if as_json:
        emit_json(doc)
        return
    cols = [
        "enterprise",
        "obligation_t",
        "allowances_available_t",
        "ccer_available_t",
        "ccer_cap_t",
        "position_t",
        "status",
        "shortfall_t",
    ]
    _out.print(_table(f"Compliance 履约 {year}", cols, [[r[c] for c in cols] for r in doc]))


@trading_app.command("statement")
def statement_cmd(
    csv_file: Annotated[Path, typer.Argument(help="National registry statement CSV (docs/trading.md).")],
    align: Annotated[bool, typer.Option(help="Bring the park mirror in line with the statement.")] = False,
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Import a national registry statement and reconcile the park mirror against it."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.import_statement(s, _read(csv_file), actor=actor, align=align), db=db)
    if as_json:
        emit_json(doc)
        return
    cols = ["holder", "asset", "park_t", "national_t", "difference_t"]
    _out.print(
        _table(
            f"Statement {doc['statement']} ({doc['as_of']}): differences",
            cols,
            [[d[c] for c in cols] for d in doc["differences"]],
        )
    )


@trading_app.command("energy-cap")
def energy_cap_cmd(
    org: Annotated[str, typer.Argument(help="Enterprise, or 'park'.")],
    year: Annotated[int, typer.Option(help="Year.")],
    total_tce: Annotated[str | None, typer.Option(help="Total cap [tce].")] = None,
    intensity: Annotated[str | None, typer.Option(help="Intensity cap [tce/10⁴ CNY].")] = None,
    source: Annotated[str, typer.Option(help="Where the caps come from.")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the 能耗双控 caps of an enterprise or the park."""
    from carbonpark.services import trading as svc

    _emit(
        _store(lambda s: svc.set_energy_cap(s, org, year, total_tce, intensity, source=source), db=db), as_json, "cap"
    )


@trading_app.command("energy-position")
def energy_position_cmd(
    org: Annotated[str, typer.Argument(help="Enterprise, or 'park'.")],
    year: Annotated[int, typer.Option(help="Year.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Year-to-date 能耗双控 position from stored energy and value added."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.energy_position(s, org, year), db=db), as_json, f"能耗双控 {org} {year}")


@trading_app.command("key-units")
def key_units_cmd(
    year: Annotated[int, typer.Option(help="Year.")],
    threshold: Annotated[str, typer.Option(help="Threshold [tce].")] = "10000",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Key energy-consuming units (重点用能单位): stored energy ≥ the threshold."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.key_energy_units(s, year, threshold), db=db), as_json, "重点用能单位 key units")


@trading_app.command("quota")
def quota_cmd(
    enterprise: Annotated[str, typer.Argument(help="Enterprise.")],
    product: Annotated[str, typer.Argument(help="Product name.")],
    output_metric: Annotated[str, typer.Option(help="Statistic counting the output, e.g. output:E01-steel.")],
    limit: Annotated[str, typer.Option(help="Limit value [kgce/unit].")],
    advanced: Annotated[str | None, typer.Option(help="Advanced value [kgce/unit].")] = None,
    unit: Annotated[str, typer.Option(help="Product unit.")] = "t",
    standard: Annotated[str, typer.Option(help="Standard and grade of the limit.")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enter a product energy-consumption limit (能耗限额)."""
    from carbonpark.services import trading as svc

    doc = _store(
        lambda s: svc.set_product_quota(
            s, enterprise, product, output_metric, limit, unit=unit, advanced_kgce_per_unit=advanced, standard=standard
        ),
        db=db,
    )
    _emit(doc, as_json, "quota")


@trading_app.command("quotas")
def quotas_cmd(
    year: Annotated[int, typer.Option(help="Year.")], db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Every product quota against metered product energy use."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.check_product_quotas(s, year), db=db), as_json, "能耗限额 quotas")


@trading_app.command("energy-surrender")
def energy_surrender_cmd(
    enterprise: Annotated[str, typer.Argument(help="Enterprise.")],
    year: Annotated[int, typer.Option(help="Year.")],
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Surrender energy-use rights (用能权) for the stored energy of the year."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.surrender_energy_rights(s, enterprise, year, actor=actor), db=db), as_json, "用能权")


@trading_app.command("order")
def order_cmd(
    enterprise: Annotated[str, typer.Argument(help="Enterprise.")],
    side: Annotated[str, typer.Argument(help="buy or sell.")],
    asset: Annotated[str, typer.Argument(help="allowance:YYYY, ccer or energy_right:YYYY.")],
    quantity: Annotated[int, typer.Argument(help="Units [t or tce].")],
    price: Annotated[str | None, typer.Option(help="Limit price [CNY/unit]; omit for a market order.")] = None,
    order_id: Annotated[str | None, typer.Option("--id", help="Order id (default O<n>).")] = None,
    market: MarketOption = "park_internal",
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Place a limit (with --price) or market order in the park market; settles at once when it matches."""
    from carbonpark.services import trading as svc

    kind = "limit" if price is not None else "market"
    doc = _store(
        lambda s: svc.place_order(
            s, enterprise, side, asset, quantity, price, actor=actor, order_type=kind, order_ref=order_id, market=market
        ),
        db=db,
    )
    if as_json:
        emit_json(doc)
        return
    _out.print(f"order {doc['order']}: {doc['status']}, remaining {doc['remaining']} {doc['reason']}", markup=False)
    _emit([{k: t[k] for k in ("buyer", "seller", "quantity", "price")} for t in doc["trades"]], False, "Trades")


@trading_app.command("cancel")
def cancel_cmd(
    order_id: Annotated[str, typer.Argument(help="Order id.")],
    market: MarketOption = "park_internal",
    db: DbOption = None,
    actor: ActorOption = "cli",
    as_json: JsonOption = False,
) -> None:
    """Cancel an open order (its reservation is given back)."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.cancel_order(s, order_id, actor=actor, market=market), db=db), as_json, "cancel")


@trading_app.command("market")
def market_cmd(
    asset: Annotated[str, typer.Argument(help="allowance:YYYY, ccer or energy_right:YYYY.")],
    market: MarketOption = "park_internal",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Market data: last price, depth, daily OHLC (and trade count)."""
    from carbonpark.services import trading as svc

    doc = _store(lambda s: svc.market_data(s, asset, market), db=db)
    if as_json:
        emit_json(doc)
        return
    _out.print(f"{doc['market']} {doc['asset']}: last {to_jsonable(doc['last_price'])}", markup=False)
    _emit(doc["ohlc"], False, "OHLC")


@trading_app.command("trades")
def trades_cmd(
    asset: Annotated[str | None, typer.Option(help="One asset only.")] = None,
    market: MarketOption = "park_internal",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trade history, newest first."""
    from carbonpark.services import trading as svc

    _emit(_store(lambda s: svc.trades(s, None, asset, market), db=db), as_json, "Trades 成交")


@trading_app.command("report")
def report_cmd(
    kind: Annotated[str, typer.Argument(help="compliance or energy.")],
    enterprise: Annotated[str, typer.Argument(help="Enterprise.")],
    year: Annotated[int, typer.Option(help="Year.")],
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
    out: Annotated[Path, typer.Option(help="Output file (.html or .pdf).")] = Path("report.html"),
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compliance statement (履约报告) or energy-use status report (能源利用状况报告) as HTML or PDF."""
    from carbonpark.reports import trading as reports
    from carbonpark.services import trading as svc

    if kind not in ("compliance", "energy"):
        raise ValidationError("kind", "compliance or energy", kind)
    fetch = svc.compliance_statement if kind == "compliance" else svc.energy_status_report
    doc = _store(lambda s: fetch(s, enterprise, year), db=db)
    path = reports.write(kind, doc, out, lang)
    if as_json:
        emit_json({"report": kind, "enterprise": enterprise, "year": year, "lang": lang, "output": str(path)})
    else:
        err_console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the trading commands to ``app``."""
    app.add_typer(trading_app, name="trading")
