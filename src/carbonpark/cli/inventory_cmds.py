"""CLI of the inventory (碳盘查) and verification (碳核查) capability: ``carbonpark inventory …`` and ``verify …``.

``inventory build --org ID --year YYYY [--json]`` prints the compiled inventory (exact keys of issue 8);
``inventory report --org ID --year YYYY --format pdf|html|xlsx --lang zh|en --out PATH`` writes the report;
``inventory configure/step/steps/save/submit/reopen/versions/recalc/plan/key-emitters/calendar/deposit`` walk the ten
steps; ``verify org-add/user-add/assign/step/steps/upload/check/finding/correct/close/findings/statement/diff``
take a verifier through the verification. ``--org`` takes an enterprise's id, handle, credit code or name,
or ``park``. See docs/inventory.md.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, new_app
from carbonpark.errors import ValidationError

# The inventory service and its reports (WeasyPrint, openpyxl), the store and the settings are
# imported inside the commands: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]

_out = Console(highlight=False)
DbOption = Annotated[
    str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on standard output.")]
OrgOption = Annotated[str, typer.Option("--org", help="Enterprise id, handle, credit code or name; or 'park'.")]
YearOption = Annotated[int, typer.Option("--year", help="Reporting year (YYYY).")]
NoteOption = Annotated[str, typer.Option("--note", help="What was done (kept with the step).")]


def _actor() -> str:
    from carbonpark.settings import get_settings

    return str(get_settings().actor)


def _print(doc: Any, as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    else:
        _out.print_json(json.dumps(doc, ensure_ascii=False, default=str))


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError(what, "KEY=VALUE", item)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# ---------------------------------------------------------------- inventory


def build_cmd(
    org: OrgOption,
    year: YearOption,
    db: DbOption = None,
    as_json: JsonOption = False,
    method: Annotated[str, typer.Option("--uncertainty", help="approach1 or approach2 (Monte Carlo).")] = "approach1",
) -> None:
    """Compile the inventory of an organisation and year (frozen version when submitted/verified)."""
    from carbonpark.services import inventory as svc

    result = svc.build(db, org, year, method=method)
    doc = result.document
    if as_json:
        emit_json(doc)
        return
    table = Table(title=f"{doc['org']} {doc['year']} (tCO2e)")
    table.add_column("category")
    table.add_column("tCO2e", justify="right")
    for cat, value in doc["by_category"].items():
        table.add_row(cat, f"{value:,.2f}")
    table.add_row("total", f"{doc['total_tco2e']:,.2f}")
    _out.print(table)
    u = doc["uncertainty"]
    _out.print(f"95 % interval: {u['lower_tco2e']:,.2f} – {u['upper_tco2e']:,.2f} tCO2e")
    _out.print(f"removals {doc['removals_tco2e']:,.2f} tCO2e; biogenic CO2 {doc['biogenic_co2_t']:,.2f} t")


def report_cmd(
    org: OrgOption,
    year: YearOption,
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="pdf, html or xlsx.")] = "pdf",
    lang: Annotated[str, typer.Option("--lang", help="zh (MEE layout) or en (ISO 14064-1).")] = "zh",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the inventory report (ISO 14064-1 content; MEE layout in Chinese) as PDF, HTML or Excel."""
    from carbonpark.reports import inventory_report
    from carbonpark.services import inventory as svc

    if fmt not in ("pdf", "html", "xlsx"):
        raise ValidationError("--format", "pdf, html or xlsx", fmt)
    if lang not in ("zh", "en"):
        raise ValidationError("--lang", "zh or en", lang)
    detail, context = svc.report_context(db, org, year, fmt)
    path = inventory_report.write_report(detail, out, fmt=fmt, lang=lang, **context)
    doc = {"org": detail["org"], "year": year, "format": fmt, "lang": lang, "out": str(path)}
    doc["total_tco2e"] = detail["total_tco2e"]
    if as_json:
        emit_json(doc)
    else:
        _out.print(f"wrote {path}")


def configure_cmd(
    org: OrgOption,
    year: YearOption,
    approach: Annotated[
        str | None, typer.Option("--approach", help="operational_control, financial_control or equity_share.")
    ] = None,
    share: Annotated[list[str] | None, typer.Option("--share", help="ENTITY=PERCENT (repeat).")] = None,
    uncontrolled: Annotated[list[str] | None, typer.Option("--uncontrolled", help="Entity outside control.")] = None,
    include: Annotated[list[str] | None, typer.Option("--include", help="ISO category included (repeat).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="CATEGORY=REASON (repeat).")] = None,
    significance: Annotated[float | None, typer.Option("--significance-pct", help="Significance [%].")] = None,
    base_year: Annotated[int | None, typer.Option("--base-year", help="Base year.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold-pct", help="Recalculation threshold [%].")] = None,
    guideline: Annotated[str | None, typer.Option("--guideline", help="Industry guideline key.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set boundaries (step 2), base year and recalculation policy (step 3), and the industry guideline."""
    from carbonpark.services import inventory as svc

    shares = {k: float(v) for k, v in _pairs(share, "--share").items()}
    doc = svc.configure(
        db,
        org,
        year,
        actor=_actor(),
        approach=approach,
        shares=shares or None,
        uncontrolled=uncontrolled,
        included=include,
        excluded=_pairs(exclude, "--exclude") or None,
        significance_pct=significance,
        base_year=base_year,
        threshold_pct=threshold,
        guideline=guideline,
    )
    _print(doc, as_json)


def step_cmd(
    org: OrgOption,
    year: YearOption,
    name: Annotated[str, typer.Argument(help="Step key (inventory steps lists them).")],
    state: Annotated[str, typer.Argument(help="in_progress or done.")],
    note: NoteOption = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move one of the ten inventory steps (guide §7.1); prints every step's state."""
    from carbonpark.services import inventory as svc

    _print(svc.step(db, org, year, name, state, actor=_actor(), note=note), as_json)


def steps_cmd(org: OrgOption, year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The ten inventory steps with state, who and when."""
    from carbonpark.services import inventory as svc

    rows = svc.steps(db, org, year)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="inventory steps")
    for col in ("step", "state", "actor", "note"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r['step']} {r['name_zh']}", r["state"], r["actor"], r["note"])
    _out.print(table)


def save_cmd(
    org: OrgOption, year: YearOption, note: NoteOption = "", db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Store the inventory compiled now as the open draft version."""
    from carbonpark.services import inventory as svc

    _print(svc.save_version(db, org, year, actor=_actor(), note=note), as_json)


def submit_cmd(org: OrgOption, year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Submit (freeze) the open draft; locks the year for accounting and ingest."""
    from carbonpark.services import inventory as svc

    _print(svc.submit(db, org, year, actor=_actor()), as_json)


def reopen_cmd(
    org: OrgOption,
    year: YearOption,
    reason: Annotated[str, typer.Option("--reason", help="Why the frozen inventory is reopened.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new draft version superseding the frozen one (never overwrites it)."""
    from carbonpark.services import inventory as svc

    _print(svc.reopen(db, org, year, actor=_actor(), reason=reason), as_json)


def versions_cmd(org: OrgOption, year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every version of the organisation-year."""
    from carbonpark.services import inventory as svc

    _print(svc.versions(db, org, year), as_json)


def recalc_cmd(org: OrgOption, year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The base year as reported and recompiled under this year's boundaries, side by side."""
    from carbonpark.services import inventory as svc

    _print(svc.recalculation(db, org, year), as_json)


def plan_cmd(
    org: OrgOption,
    file: Annotated[Path, typer.Argument(help="JSON list of plan entries (source, parameter, method, …).")],
    valid_from: Annotated[int, typer.Option("--valid-from", help="First year the plan applies to.")],
    guideline: Annotated[str | None, typer.Option("--guideline", help="Industry guideline key.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a new version of the enterprise's monitoring plan (数据质量控制计划)."""
    from carbonpark.services import inventory as svc

    entries = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValidationError(str(file), "a JSON list of plan entries", type(entries).__name__)
    _print(svc.add_plan(db, org, entries, actor=_actor(), valid_from_year=valid_from, guideline=guideline), as_json)


def key_emitters_cmd(year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Enterprises at or above 26,000 tCO2e in the year (the key-emitter list)."""
    from carbonpark.services import inventory as svc

    _print(svc.key_emitter_list(db, year), as_json)


def deposit_cmd(
    org: OrgOption,
    year: YearOption,
    month: Annotated[int, typer.Option("--month", help="Month (1-12).", min=1, max=12)],
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv or .xlsx.")],
    no_attest: Annotated[bool, typer.Option("--no-attest", help="Do not attest the deposit in the ledger.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the monthly data deposit (信息化存证) of an enterprise (CSV/XLSX) and attest its digest."""
    from carbonpark.services import inventory as svc

    doc = svc.deposit(db, org, year, month, out, actor=_actor(), attest=not no_attest)
    if as_json:
        emit_json(doc)
    else:
        _out.print(f"wrote {doc['out']}: {doc['rows']} rows, sha256 {doc['csv_sha256']}")


def calendar_cmd(
    year: YearOption,
    today: Annotated[str | None, typer.Option("--today", help="Date to judge reminders on (YYYY-MM-DD).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deadlines (report by 31 March, verification by 30 June) and reminders per organisation."""
    from carbonpark.services import inventory as svc

    day = date.fromisoformat(today) if today else None
    _print(svc.calendar(db, year, day), as_json)


# ---------------------------------------------------------------- verification

AssignmentArg = Annotated[int, typer.Argument(help="Assignment id (verify assign prints it).")]


def org_add_cmd(
    name: Annotated[str, typer.Argument(help="Name of the verification body.")],
    credit_code: Annotated[str, typer.Option("--credit-code")] = "",
    accreditation: Annotated[str, typer.Option("--accreditation")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a verification body."""
    from carbonpark.services import inventory as svc

    _print(svc.add_verifier(db, name, credit_code=credit_code, accreditation=accreditation), as_json)


def user_add_cmd(
    verifier: Annotated[str, typer.Argument(help="Verification body id or name.")],
    name: Annotated[str, typer.Argument(help="Verifier's name.")],
    role: Annotated[str, typer.Option("--role", help="lead, member or technical_reviewer.")] = "member",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a verifier to a verification body."""
    from carbonpark.services import inventory as svc

    _print(svc.add_verifier_user(db, verifier, name, role), as_json)


def assign_cmd(
    verifier: Annotated[str, typer.Argument(help="Verification body id or name.")],
    org: OrgOption,
    year: YearOption,
    lead: Annotated[str | None, typer.Option("--lead", help="Lead verifier's name.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assign a verification body to an organisation-year."""
    from carbonpark.services import inventory as svc

    _print(svc.assign_verifier(db, verifier, org, year, actor=_actor(), lead=lead), as_json)


def vstep_cmd(
    assignment: AssignmentArg,
    name: Annotated[str, typer.Argument(help="agreement, preparation, document_review, site_visit, report, …")],
    state: Annotated[str, typer.Argument(help="in_progress or done.")],
    note: NoteOption = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move one of the eight verification steps (guide §7.2)."""
    from carbonpark.services import inventory as svc

    _print(svc.verification_step(db, assignment, name, state, actor=_actor(), note=note), as_json)


def vsteps_cmd(assignment: AssignmentArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The verification steps of an assignment."""
    from carbonpark.services import inventory as svc

    _print(svc.verification_steps(db, assignment), as_json)


def upload_cmd(
    org: OrgOption,
    year: YearOption,
    file: Annotated[Path, typer.Argument(help="The evidence file.")],
    kind: Annotated[str, typer.Option("--kind", help="invoice, purchase, weighing, lab_ncv, lab_carbon, …")],
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="KEY=VALUE: source, amount, fuel, batch, ncv …")
    ] = None,
    blob: Annotated[bool, typer.Option("--blob", help="Store the bytes in the database instead of on disk.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a document (stored with its sha256) and what activity data it supports."""
    from carbonpark.services import inventory as svc

    _print(
        svc.upload_document(db, org, year, file, kind=kind, actor=_actor(), meta=_pairs(meta, "--meta"), as_blob=blob),
        as_json,
    )


def check_cmd(assignment: AssignmentArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Run the automated cross-checks; failed items become findings."""
    from carbonpark.services import inventory as svc

    _print(svc.run_checks(db, assignment, actor=_actor()), as_json)


def finding_cmd(
    assignment: AssignmentArg,
    severity: Annotated[str, typer.Option("--severity", help="major, minor or observation.")],
    description: Annotated[str, typer.Option("--description")],
    misstatement: Annotated[float, typer.Option("--misstatement", help="Misstatement [tCO2e].")] = 0.0,
    ref: Annotated[str, typer.Option("--ref", help="What it concerns (source, document).")] = "",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a finding."""
    from carbonpark.services import inventory as svc

    doc = svc.add_finding(
        db, assignment, severity, description, actor=_actor(), misstatement_tco2e=misstatement, ref=ref
    )
    _print(doc, as_json)


def correct_cmd(
    finding: Annotated[int, typer.Argument(help="Finding id.")],
    correction: Annotated[str, typer.Option("--correction", help="What was corrected.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The enterprise's correction of a finding."""
    from carbonpark.services import inventory as svc

    _print(svc.correct_finding(db, finding, correction, actor=_actor()), as_json)


def close_cmd(
    finding: Annotated[int, typer.Argument(help="Finding id.")],
    reopen: Annotated[bool, typer.Option("--reopen", help="Reject the correction: open again.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The verifier accepts a correction (closed) or rejects it (--reopen)."""
    from carbonpark.services import inventory as svc

    _print(svc.set_finding_status(db, finding, "open" if reopen else "closed", actor=_actor()), as_json)


def findings_cmd(assignment: AssignmentArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Findings of an assignment."""
    from carbonpark.services import inventory as svc

    _print(svc.list_findings(db, assignment), as_json)


def statement_cmd(
    assignment: AssignmentArg,
    level: Annotated[str, typer.Option("--level", help="reasonable or limited assurance.")] = "reasonable",
    materiality: Annotated[float, typer.Option("--materiality-pct", help="Materiality [%].")] = 5.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue (or re-issue) the verification statement; the version becomes verified unless the opinion is adverse."""
    from carbonpark.services import inventory as svc

    _print(
        svc.issue_statement(db, assignment, actor=_actor(), level_of_assurance=level, materiality_pct=materiality),
        as_json,
    )


def diff_cmd(org: OrgOption, year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """What changed in the committed data since the last verified inventory."""
    from carbonpark.services import inventory as svc

    _print(svc.verify_diff(db, org, year), as_json)


def register(app: typer.Typer) -> None:
    """Add the ``inventory`` and ``verify`` groups to ``app``."""
    inv = new_app("Carbon inventory (碳盘查): the ten steps, boundaries, uncertainty, reports (docs/inventory.md).")
    inv.command("build")(build_cmd)
    inv.command("report")(report_cmd)
    inv.command("configure")(configure_cmd)
    inv.command("step")(step_cmd)
    inv.command("steps")(steps_cmd)
    inv.command("save")(save_cmd)
    inv.command("submit")(submit_cmd)
    inv.command("reopen")(reopen_cmd)
    inv.command("versions")(versions_cmd)
    inv.command("recalc")(recalc_cmd)
    inv.command("plan")(plan_cmd)
    inv.command("key-emitters")(key_emitters_cmd)
    inv.command("calendar")(calendar_cmd)
    inv.command("deposit")(deposit_cmd)
    app.add_typer(inv, name="inventory")
    ver = new_app("Carbon verification (碳核查): verifiers, steps, evidence, cross-checks, findings, statements.")
    ver.command("org-add")(org_add_cmd)
    ver.command("user-add")(user_add_cmd)
    ver.command("assign")(assign_cmd)
    ver.command("step")(vstep_cmd)
    ver.command("steps")(vsteps_cmd)
    ver.command("upload")(upload_cmd)
    ver.command("check")(check_cmd)
    ver.command("finding")(finding_cmd)
    ver.command("correct")(correct_cmd)
    ver.command("close")(close_cmd)
    ver.command("findings")(findings_cmd)
    ver.command("statement")(statement_cmd)
    ver.command("diff")(diff_cmd)
    app.add_typer(ver, name="verify")
