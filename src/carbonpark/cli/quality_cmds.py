"""Metrology and data-quality commands: ``carbonpark quality …`` and ``carbonpark calibration …``.

``quality check`` runs the value checks over stored readings and writes the quality flags;
``quality metrology`` checks meter coverage and accuracy classes against GB 17167-2006;
``quality flags`` prints the flag vocabulary; ``calibration due`` lists overdue and
soon-due meters; ``calibration online`` compares a meter with a movable reference meter
and records the calibration (the guide §4.1).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console, new_app, progress
from carbonpark.errors import ValidationError

# The quality engine (pandas) and its service are imported inside the commands: start-up time
# of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]

_out = Console(highlight=False)
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB or ./carbonpark.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on standard output.")]
LangOption = Annotated[str, typer.Option("--lang", help="zh (default) or en for the table headings.")]

_KIND_LABELS = {
    "gap": ("缺测", "gap"),
    "stuck": ("数值冻结", "stuck value"),
    "spike": ("尖峰", "spike"),
    "negative_step": ("负增量", "negative step"),
    "rollover": ("计数器翻转", "rollover"),
    "timestamp_skew": ("时间戳偏差", "timestamp skew"),
    "future_timestamp": ("未来时间戳", "future timestamp"),
    "imbalance": ("总分表不平衡", "main/sub imbalance"),
    "uncalibrated": ("超期未检定", "overdue calibration"),
}
_STATUS_LABELS = {
    "failed": ("校准不合格", "failed"),
    "overdue": ("已超期", "overdue"),
    "never": ("无检定记录", "never calibrated"),
    "due_soon": ("即将到期", "due soon"),
    "ok": ("有效", "ok"),
}


def _lang(lang: str) -> int:
    if lang not in {"zh", "en"}:
        raise ValidationError("--lang", "zh or en", lang)
    return 0 if lang == "zh" else 1


def register(app: typer.Typer) -> None:
    """Add ``quality`` and ``calibration`` to ``app``."""
    quality_app = new_app("Data quality and metrology: value checks, quality flags, GB 17167 coverage.")
    calibration_app = new_app("Calibration of meters: due dates and remote online calibration.")
    app.add_typer(quality_app, name="quality")
    app.add_typer(calibration_app, name="calibration")

    @quality_app.command("check")
    def quality_check(
        db: DbOption = None,
        meter: Annotated[
            str | None, typer.Option("--meter", help="One meter (id, handle or code) and its sub-meters.")
        ] = None,
        start: Annotated[str | None, typer.Option(help="From (ISO 8601, park-local when naive).")] = None,
        end: Annotated[str | None, typer.Option(help="Until, exclusive.")] = None,
        tolerance: Annotated[
            float, typer.Option(help="Largest |main − Σ sub-meters| / main per day [fraction].")
        ] = 0.05,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; do not write flags.")] = False,
        every: Annotated[
            float | None,
            typer.Option("--every", help="Run continuously: every this many seconds over the last --window-hours."),
        ] = None,
        window_hours: Annotated[float, typer.Option(help="Trailing window of --every [h].")] = 48.0,
        json_out: JsonOption = False,
        lang: LangOption = "zh",
    ) -> None:
        """Check stored readings and flag them: gaps, stuck, spikes, negative steps, rollovers, skew, balance."""
        from carbonpark.services.quality import check_readings, watch_readings

        li = _lang(lang)
        if every is not None:
            runs = watch_readings(
                db,
                every_s=every,
                window_hours=window_hours,
                tolerance=tolerance,
                on_run=lambda d: err_console.print(
                    f"checked {d['readings']} readings: {d['by_kind'] or 'nothing found'}", highlight=False
                ),
            )
            if json_out:
                emit_json({"runs": runs})
            return
        with progress(quiet=json_out) as bar:
            task = bar.add_task("quality", total=None)

            def tick(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            doc = check_readings(
                db, meter, start=start, end=end, tolerance=tolerance, write_flags=not dry_run, on_progress=tick
            )
        if json_out:
            emit_json(doc)
            return
        table = Table(title=("数据质量检查" if li == 0 else "Data quality check"))
        for head in (("计量表", "meter"), ("问题", "finding"), ("开始", "start"), ("结束", "end"), ("条数", "count")):
            table.add_column(head[li])
        for f in doc["findings"]:
            table.add_row(
                f["meter"], _KIND_LABELS.get(f["kind"], (f["kind"],) * 2)[li], f["start"], f["end"], str(f["count"])
            )
        _out.print(table)
        summary = "，".join(f"{_KIND_LABELS.get(k, (k, k))[li]} {n}" for k, n in doc["by_kind"].items()) or "-"
        _out.print(
            f"{'表计' if li == 0 else 'meters'} {doc['meters']}  "
            f"{'读数' if li == 0 else 'readings'} {doc['readings']}  "
            f"{'标记读数' if li == 0 else 'flagged readings'} {doc['flagged_readings']}  "
            f"{'写入' if li == 0 else 'flags written'} {doc['flags_written']}  ({summary})"
        )

    @quality_app.command("metrology")
    def quality_metrology(db: DbOption = None, json_out: JsonOption = False, lang: LangOption = "zh") -> None:
        """Meter coverage (GB 17167-2006 Table 3) and accuracy classes of boundary meters (Table 4)."""
        from carbonpark.services.quality import metrology_check

        li = _lang(lang)
        doc = metrology_check(db)
        if json_out:
            emit_json(doc)
            return
        cov = Table(
            title=("能源计量器具配备率 (GB 17167-2006 表3)" if li == 0 else "Equipping rate (GB 17167-2006 Table 3)")
        )
        for head in (
            ("企业", "enterprise"),
            ("能源", "carrier"),
            ("层级", "level"),
            ("配备率 %", "rate %"),
            ("要求 %", "required %"),
            ("符合", "compliant"),
        ):
            cov.add_column(head[li])
        for r in doc["coverage"]:
            cov.add_row(
                r["enterprise"],
                r["carrier"],
                r["level"],
                f"{r['rate_pct']:.0f}",
                _fmt(r["required_pct"]),
                _yes(r["compliant"], li),
            )
        _out.print(cov)
        acc = Table(title=("准确度等级 (GB 17167-2006 表4)" if li == 0 else "Accuracy classes (GB 17167-2006 Table 4)"))
        for head in (
            ("计量表", "meter"),
            ("能源", "carrier"),
            ("等级", "class"),
            ("要求", "required"),
            ("类别", "category"),
            ("符合", "compliant"),
        ):
            acc.add_column(head[li])
        for r in doc["accuracy"]:
            acc.add_row(
                r["meter"],
                r["carrier"],
                r["accuracy_class"],
                _fmt(r["required"]),
                _fmt(r["category"]),
                _yes(r["compliant"], li),
            )
        _out.print(acc)

    @quality_app.command("flags")
    def quality_flags(json_out: JsonOption = False) -> None:
        """The quality flag vocabulary (bits of readings.quality)."""
        from carbonpark.quality import FLAG_LABELS, QualityFlag

        rows = [
            {"name": name, "bit": int(QualityFlag[name.upper()]), "zh": zh, "en": en}
            for name, (zh, en) in FLAG_LABELS.items()
        ]
        if json_out:
            emit_json(rows)
            return
        table = Table(title="quality flags")
        for head in ("bit", "name", "zh", "en"):
            table.add_column(head)
        for r in rows:
            table.add_row(str(r["bit"]), str(r["name"]), str(r["zh"]), str(r["en"]))
        _out.print(table)

    @calibration_app.command("due")
    def calibration_due(
        db: DbOption = None,
        today: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default today).")] = None,
        horizon: Annotated[int, typer.Option(help="Days ahead that count as due soon.")] = 30,
        json_out: JsonOption = False,
        lang: LangOption = "zh",
    ) -> None:
        """Meters overdue or soon due for calibration (and failed or never calibrated), most urgent first."""
        from carbonpark.services.quality import calibration_due_list

        li = _lang(lang)
        day = _date(today, "--today") if today else None
        doc = calibration_due_list(db, today=day, horizon_days=horizon)
        if json_out:
            emit_json(doc)
            return
        table = Table(title=(f"检定/校准到期清单 ({doc['today']})" if li == 0 else f"Calibration due ({doc['today']})"))
        for head in (
            ("计量表", "meter"),
            ("状态", "status"),
            ("上次检定", "calibrated"),
            ("到期", "due"),
            ("剩余天数", "days left"),
        ):
            table.add_column(head[li])
        for r in doc["meters"]:
            if r["status"] == "ok":
                continue
            table.add_row(
                r["meter"],
                _STATUS_LABELS[r["status"]][li],
                _fmt(r["calibrated_on"]),
                _fmt(r["due_on"]),
                _fmt(r["days_left"]),
            )
        _out.print(table)
        _out.print("  ".join(f"{_STATUS_LABELS[k][li]} {v}" for k, v in doc["counts"].items()))

    @calibration_app.command("online")
    def calibration_online(
        meter: Annotated[str, typer.Option("--meter", help="Meter under test (id, handle or code).")],
        reference_class: Annotated[
            str, typer.Option("--reference-class", help="Accuracy class of the reference (e.g. 0.2, 0.1, 0.05).")
        ],
        db: DbOption = None,
        reference: Annotated[
            str | None, typer.Option("--reference", help="The movable reference as a registered meter with readings.")
        ] = None,
        reference_file: Annotated[
            Path | None, typer.Option("--reference-file", help="CSV ts,value of the reference's interval amounts.")
        ] = None,
        start: Annotated[str | None, typer.Option(help="Comparison from (ISO 8601).")] = None,
        end: Annotated[str | None, typer.Option(help="Comparison until, exclusive.")] = None,
        on: Annotated[str | None, typer.Option("--on", help="Date of the record (default: last compared day).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Compare only; write no calibration record.")] = False,
        json_out: JsonOption = False,
        lang: LangOption = "zh",
    ) -> None:
        """Remote online calibration: parallel comparison with a movable reference meter, error vs the class."""
        from carbonpark.services.quality import online_calibrate

        li = _lang(lang)
        doc = online_calibrate(
            db,
            meter,
            reference_class=reference_class,
            reference=reference,
            reference_file=reference_file,
            start=start,
            end=end,
            calibrated_on=_date(on, "--on") if on else None,
            record=not dry_run,
        )
        if json_out:
            emit_json(doc)
            return
        verdict = ("合格" if doc["passed"] else "不合格") if li == 0 else ("passed" if doc["passed"] else "failed")
        _out.print(
            f"{doc['meter']} vs {doc['reference']}: {doc['intervals']} "
            f"{'个时段' if li == 0 else 'intervals'}, {'误差' if li == 0 else 'error'} {doc['error_pct']:+.3f} % "
            f"(MPE ±{doc['mpe_pct']:g} %) → {verdict}; {'下次到期' if li == 0 else 'next due'} {doc['due_on']}"
        )
        if doc["recorded"]:
            err_console.print(f"calibration recorded: {doc['recorded']} ({doc['certificate']})")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(option, "a date YYYY-MM-DD", text) from None


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def _yes(value: bool | None, li: int) -> str:
    if value is None:
        return "-"
    return ("是" if value else "否") if li == 0 else ("yes" if value else "no")
