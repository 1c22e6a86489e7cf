"""CLI of live monitoring and alarms: ``carbonpark monitor`` and ``carbonpark alarms …`` (issue 5 item 7)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app
from carbonpark.errors import ValidationError

__all__ = ["register"]

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]


def _params(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValidationError("--param", "NAME=NUMBER, e.g. high=500", pair)
        out[name.strip()] = value.strip()
    return out


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _print_overview(doc: dict[str, Any]) -> None:
    console = Console()
    table = Table(
        "meter 表计", "enterprise 企业", "last 最新时间", "value 读数", "load/h 负荷", title=f"as of {doc['as_of']}"
    )
    for m in doc["meters"]:
        table.add_row(
            m["code"],
            m["enterprise"] or "park",
            m["last_ts"] or "—",
            _fmt(m["last_value"]),
            f"{_fmt(m['load_per_h'])} {m['unit']}/h",
        )
    console.print(table)
    if doc["park"] is not None:
        console.print("park 园区: " + ", ".join(f"{q} {_fmt(v)} {doc['units'][q]}" for q, v in doc["park"].items()))
    if doc["emissions"]:
        console.print(f"emissions 排放速率: {doc['emissions']['tco2e_per_h']:.4f} tCO2e/h")


def register(app: typer.Typer) -> None:
    """Add ``monitor`` and ``alarms`` to ``app``."""
    alarms = new_app("Alarms: rules, checks and the raised → acknowledged → cleared lifecycle (报警).")
    rules = new_app("Alarm rules: threshold, rate_of_change, intensity, silence.")
    alarms.add_typer(rules, name="rules")

    @app.command("monitor")
    def monitor(
        db: DbOption = None,
        enterprise: Annotated[str | None, typer.Option(help="Only this enterprise (id, handle, code or name).")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Latest value and load of every meter, sums per enterprise and park, emissions rate (实时监测)."""
        from carbonpark.services.monitoring import overview

        doc = overview(db, enterprise=enterprise)
        emit_json(doc) if json_out else _print_overview(doc)

    @alarms.command("list")
    def alarms_list(
        db: DbOption = None,
        state: Annotated[str | None, typer.Option(help="raised, acknowledged, cleared or open.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Alarms, newest first."""
        from carbonpark.services.monitoring import list_alarms

        rows = list_alarms(db, state)
        if json_out:
            emit_json(rows)
            return
        for a in rows:
            typer.echo(f"#{a['id']} {a['state']:<12} {a['severity']:<8} {a['raised']} {a['subject']}: {a['message']}")

    @alarms.command("ack")
    def alarms_ack(
        alarm_id: Annotated[int, typer.Argument(min=1)], db: DbOption = None, json_out: JsonOption = False
    ) -> None:
        """Acknowledge an alarm (who and when are recorded)."""
        from carbonpark.services.monitoring import acknowledge_alarm
        from carbonpark.settings import get_settings

        doc = acknowledge_alarm(db, alarm_id, get_settings().actor)
        emit_json(doc) if json_out else err_console.print(f"alarm #{alarm_id}: {doc['state']}")

    @alarms.command("clear")
    def alarms_clear(
        alarm_id: Annotated[int, typer.Argument(min=1)], db: DbOption = None, json_out: JsonOption = False
    ) -> None:
        """Clear an alarm by hand."""
        from carbonpark.services.monitoring import clear_alarm
        from carbonpark.settings import get_settings

        doc = clear_alarm(db, alarm_id, get_settings().actor)
        emit_json(doc) if json_out else err_console.print(f"alarm #{alarm_id}: {doc['state']}")

    @alarms.command("check")
    def alarms_check(
        db: DbOption = None,
        at: Annotated[
            str | None, typer.Option(help="Check as of this time (ISO 8601, park-local), default now.")
        ] = None,
        every: Annotated[
            float | None, typer.Option("--every", help="Run continuously: check every this many seconds.")
        ] = None,
        cycles: Annotated[int | None, typer.Option(min=1, help="With --every: stop after this many checks.")] = None,
        json_out: JsonOption = False,
    ) -> None:
        """Check every enabled rule: raise alarms for broken rules, clear those that hold again."""
        from carbonpark.services.monitoring import evaluate_rules, watch_rules
        from carbonpark.settings import get_settings
        from carbonpark.times import parse_timestamp

        if every is not None:
            if at is not None:
                raise ValidationError("--at", "no --at with --every (continuous checks run at the current time)", at)
            runs = watch_rules(
                db,
                every_s=every,
                cycles=cycles,
                on_run=lambda d: err_console.print(
                    f"{d['checked']} rules: {len(d['raised'])} raised, {len(d['cleared'])} cleared, {d['open']} open",
                    highlight=False,
                ),
            )
            if json_out:
                emit_json({"runs": runs})
            return
        now = None if at is None else parse_timestamp(at, get_settings().timezone, "--at")
        doc = evaluate_rules(db, now_ms=now)
        if json_out:
            emit_json(doc)
        else:
            err_console.print(
                f"{doc['checked']} rules: {len(doc['raised'])} raised, {len(doc['cleared'])} cleared, "
                f"{doc['open']} open"
            )

    @rules.command("add")
    def rules_add(
        name: Annotated[str, typer.Argument(help="A unique rule name.")],
        kind: Annotated[str, typer.Option(help="threshold, rate_of_change, intensity or silence.")],
        meter: Annotated[str, typer.Option(help="Meter id, handle or code.")],
        param: Annotated[list[str], typer.Option(help="NAME=NUMBER: low/high, max_per_hour, max_per_output, minutes.")],
        output_metric: Annotated[str | None, typer.Option(help="Statistic metric of output (intensity rules).")] = None,
        severity: Annotated[str, typer.Option(help="info, warning or critical.")] = "warning",
        webhook: Annotated[str | None, typer.Option(help="URL that gets each raised alarm as JSON.")] = None,
        email: Annotated[list[str] | None, typer.Option(help="Address for alarm e-mails (CARBONPARK_SMTP_*).")] = None,
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Add an alarm rule on a meter (values in the meter quantity's canonical unit)."""
        from carbonpark.services.monitoring import add_rule

        doc = add_rule(
            db,
            name,
            kind,
            meter,
            _params(param),
            output_metric=output_metric,
            severity=severity,
            webhook=webhook,
            emails=tuple(email or ()),
        )
        emit_json(doc) if json_out else err_console.print(f"rule #{doc['id']} {doc['name']} on {doc['meter']}")

    @rules.command("list")
    def rules_list(db: DbOption = None, json_out: JsonOption = False) -> None:
        """Every alarm rule."""
        from carbonpark.services.monitoring import list_rules

        rows = list_rules(db)
        if json_out:
            emit_json(rows)
            return
        for r in rows:
            typer.echo(f"#{r['id']} {r['name']}: {r['kind']} on {r['meter']} {r['params']}")

    app.add_typer(alarms, name="alarms")
