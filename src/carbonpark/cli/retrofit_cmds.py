"""CLI commands of the retrofit capability (碳改造): ``plan``, ``stored``, ``admit``, ``rate``, ``verify-savings``.

References
----------
Guide §7.4; issue 13 item 5 (file contract).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, new_app
from carbonpark.errors import ValidationError

# The retrofit engine (SciPy's MILP solver) and YAML are imported
# inside the commands: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark is not None else str(path)
        raise ValidationError(where, "valid YAML", getattr(exc, "problem", str(exc))) from exc


def _plan_document(path: Path, budget: str | None, target: str | None) -> dict[str, Any]:
    from carbonpark.retrofit import marginal_abatement_cost_curve, parse_plan, select_portfolio
    from carbonpark.retrofit.projects import to_decimal

    plan = parse_plan(_read_yaml(path))
    budget_cny = None if budget is None else to_decimal(budget, "--budget")
    target_t = None if target is None else to_decimal(target, "--target")
    curve = marginal_abatement_cost_curve(plan.projects, plan.discount_rate)
    portfolio = select_portfolio(plan.projects, plan.discount_rate, budget_cny, target_t)
    return {
        "discount_rate": plan.discount_rate,
        "macc": [
            {
                "id": e.id,
                "name": e.name,
                "cost_per_tco2e": e.cost_per_tco2e,
                "annual_abatement_tco2e": e.annual_abatement_tco2e,
                "annualised_cost": e.annualised_cost,
                "cumulative_abatement_tco2e": e.cumulative_abatement_tco2e,
                "capex": e.capex,
            }
            for e in curve
        ],
        "selected": portfolio.selected,
        "objective": portfolio.objective,
        "total_abatement_tco2e": portfolio.total_abatement_tco2e,
        "total_capex": portfolio.total_capex,
        "total_annualised_cost": portfolio.total_annualised_cost,
        "budget": portfolio.budget,
        "target_tco2e": portfolio.target_tco2e,
        "slack": portfolio.slack,
    }


DbOpt = Annotated[
    str | None, typer.Option("--db", help="SQLAlchemy URL or SQLite file path (default: $CARBONPARK_DB).")
]
YearOpt = Annotated[int, typer.Option("--year", help="Calendar year of the stored accounting run.")]
PlanOpt = Annotated[
    Path | None, typer.Option("--plan", help="Plan YAML (docs/retrofit.md); default: the demo park's plan.")
]
CandidateOpt = Annotated[
    Path, typer.Option("--candidate", help="YAML: name, emissions_tco2e, value_added_10k_cny, energy_tce, industry.")
]


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _print_plan(doc: dict[str, Any]) -> None:
    table = Table(title=f"Marginal abatement cost curve (discount rate {doc['discount_rate']})")
    for column in ("", "id", "name", "CNY/tCO2e", "tCO2e/yr", "cumulative tCO2e/yr", "capex CNY"):
        table.add_column(column, justify="left" if column in ("", "id", "name") else "right")
    chosen = set(doc["selected"])
    for e in doc["macc"]:
        table.add_row(
            "✔" if e["id"] in chosen else "",
            e["id"],
            e["name"],
            _money(e["cost_per_tco2e"]),
            f"{e['annual_abatement_tco2e']:,}",
            f"{e['cumulative_abatement_tco2e']:,}",
            _money(e["capex"]),
        )
    console = Console()
    console.print(table)
    console.print(
        f"selected ({doc['objective']}): {', '.join(doc['selected']) or 'none'}; "
        f"abatement {doc['total_abatement_tco2e']:,} tCO2e/yr, capex {_money(doc['total_capex'])} CNY, "
        f"net annualised cost {_money(doc['total_annualised_cost'])} CNY/yr"
    )


ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="Write the full report (.html or .pdf): MACC, evaluation, admission, ratings."),
]
LangOpt = Annotated[str, typer.Option("--lang", help="Report language: zh or en.")]


def _write_report(
    db: str | None,
    year: int,
    plan: dict[str, Any],
    report: Path,
    lang: str,
    *,
    planned: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    admission: dict[str, Any] | None = None,
) -> None:
    """The dashboard's retrofit report (``reports.retrofit.write_retrofit_report``) of the same bundle.

    The bundle is ``{plan, evaluation, admission, ratings}`` as the dashboard's download builds it;
    figures already computed by the command are passed in. The admission check is that of the
    plan's ``candidate`` unless ``admission`` is given, and is left out (said on stderr) when the
    plan has no candidate; the ratings are left out when the stored year cannot be rated.
    """
    from carbonpark.cli.common import err_console
    from carbonpark.errors import CarbonparkError
    from carbonpark.reports.retrofit import write_retrofit_report
    from carbonpark.services import retrofit as svc

    if lang not in ("zh", "en"):
        raise ValidationError("--lang", "zh or en", lang)
    fmt = {".pdf": "pdf", ".html": "html", ".htm": "html"}.get(report.suffix.lower())
    if fmt is None:
        raise ValidationError("--report", "a file name ending in .pdf or .html", report.name)
    planned = planned if planned is not None else svc.plan_stored(db, year, plan)
    bundle: dict[str, Any] = {
        "plan": planned,
        "evaluation": evaluation if evaluation is not None else svc.carbon_evaluation(db, year, plan, planned),
    }
    if admission is None and plan.get("candidate"):
        admission = svc.admission_stored(db, year, plan["candidate"], plan)
    if admission is not None:
        bundle["admission"] = admission
    else:
        err_console.print("report: no candidate in the plan, so no admission check")
    try:
        bundle["ratings"] = svc.rate_stored(db, year, plan)
    except CarbonparkError as exc:
        err_console.print(f"report: no ratings ({exc})")
    write_retrofit_report(bundle, report, lang=lang, fmt=fmt)
    err_console.print(f"report: {report}")


def register(app: typer.Typer) -> None:
    """Add the retrofit commands to ``app``."""
    retrofit = new_app("Carbon retrofit planning (碳改造): MACC and project portfolios.")

    @retrofit.command("plan")
    def plan(
        projects_file: Annotated[Path, typer.Argument(help="YAML with discount_rate and projects.")],
        budget: Annotated[
            str | None, typer.Option("--budget", help="Capex budget [CNY]: maximise abatement within it.")
        ] = None,
        target: Annotated[
            str | None,
            typer.Option("--target", "--target-tco2e", help="Abatement target [tCO2e/yr]: reach it at least cost."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Marginal abatement cost curve and the optimal portfolio (MILP) of a project list."""
        doc = _plan_document(projects_file, budget, target)
        if as_json:
            emit_json(doc)
        else:
            _print_plan(doc)

    def _emit(doc: dict[str, Any], as_json: bool, text: str) -> None:
        from carbonpark.services.retrofit import plain

        if as_json:
            emit_json(plain(doc))
        else:
            Console().print(text)

    @retrofit.command("stored")
    def stored(
        year: YearOpt,
        db: DbOpt = None,
        plan_file: PlanOpt = None,
        budget: Annotated[str | None, typer.Option("--budget", help="Capex budget [CNY].")] = None,
        target: Annotated[str | None, typer.Option("--target-tco2e", help="Abatement target [tCO2e/yr].")] = None,
        report: ReportOpt = None,
        lang: LangOpt = "zh",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Catalogue measures applied to stored sources: MACC, portfolio and the §7.5 carbon evaluation."""
        from carbonpark.retrofit.projects import to_decimal
        from carbonpark.services import retrofit as svc

        plan = svc.load_plan(plan_file)
        planned = svc.plan_stored(
            db,
            year,
            plan,
            budget=None if budget is None else to_decimal(budget, "--budget"),
            target_tco2e=None if target is None else to_decimal(target, "--target-tco2e"),
        )
        evaluation = svc.carbon_evaluation(db, year, plan, planned)
        if report is not None:
            _write_report(db, year, plan, report, lang, planned=planned, evaluation=evaluation)
        if not as_json:
            _print_plan(planned)
        _emit({**planned, "evaluation": evaluation}, as_json, evaluation["conclusion"]["zh" if lang == "zh" else "en"])

    @retrofit.command("admit")
    def admit(
        year: YearOpt,
        candidate: CandidateOpt,
        db: DbOpt = None,
        plan_file: PlanOpt = None,
        report: ReportOpt = None,
        lang: LangOpt = "zh",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Admission check (招商引资模拟核算) of a candidate enterprise against the park's stored targets."""
        from carbonpark.services import retrofit as svc

        plan = svc.load_plan(plan_file)
        doc = svc.admission_stored(db, year, _read_yaml(candidate) or {}, plan)
        if report is not None:
            _write_report(db, year, plan, report, lang, admission=doc)
        _emit(doc, as_json, doc["conclusion"])

    @retrofit.command("rate")
    def rate(
        year: YearOpt,
        db: DbOpt = None,
        plan_file: PlanOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Carbon-efficiency grade (碳效码) of every enterprise, industry structure, overcapacity warnings."""
        from carbonpark.services import retrofit as svc

        doc = svc.rate_stored(db, year, svc.load_plan(plan_file))
        if not as_json:
            table = Table(title=f"Carbon-efficiency ratings {year}")
            for column in ("rank", "enterprise", "industry", "grade", "t/万元", "reason"):
                table.add_column(column)
            for r in doc["ratings"]:
                table.add_row(
                    str(r["rank_in_park"]),
                    r["name"],
                    r["industry"],
                    str(r["grade"]),
                    f"{r['intensity_tco2e_per_10k_cny']:.3f}",
                    r["reason"],
                )
            Console().print(table)
        _emit(doc, as_json, "\n".join(doc["warnings"]) or "no overcapacity warning")

    @retrofit.command("verify-savings")
    def verify_savings(
        source: Annotated[str, typer.Option("--source", help="Emission source (id, handle or name) of the project.")],
        baseline: Annotated[str, typer.Option("--baseline", help="Months before the project: YYYY-MM:YYYY-MM.")],
        reporting: Annotated[str, typer.Option("--reporting", help="Months after commissioning: YYYY-MM:YYYY-MM.")],
        planned_tco2e: Annotated[str, typer.Option("--planned-tco2e", help="Planned abatement [tCO2e/yr].")],
        planned_cny: Annotated[str, typer.Option("--planned-cny", help="Planned money saved [CNY/yr].")],
        price: Annotated[str, typer.Option("--price", help="Energy price [CNY per meter unit, e.g. CNY/kWh].")],
        db: DbOpt = None,
        factor: Annotated[
            float | None,
            typer.Option("--factor", help="[tCO2e per meter unit]; default: the source's stored emission records."),
        ] = None,
        output_metric: Annotated[
            str | None, typer.Option("--output-metric", help="Production driver, e.g. output:p1 (monthly statistic).")
        ] = None,
        weather: Annotated[
            Path | None, typer.Option("--weather", help="CSV ts,temperature_c: monthly HDD18/CDD26 as drivers.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Realised against planned savings (M&V, IPMVP adjusted baseline) from the stored monthly meter data."""
        from carbonpark.retrofit.projects import to_decimal
        from carbonpark.services import retrofit as svc

        doc = svc.verify_savings_stored(
            db,
            source,
            baseline,
            reporting,
            planned_annual_abatement_tco2e=to_decimal(planned_tco2e, "--planned-tco2e"),
            planned_annual_savings_cny=to_decimal(planned_cny, "--planned-cny"),
            price_cny=to_decimal(price, "--price"),
            emission_factor_tco2e=factor,
            output_metric=output_metric,
            weather=weather,
        )
        model = doc["baseline_model"]
        if not as_json:
            table = Table(title=f"M&V of {doc['source']}: adjusted baseline against metered use [{doc['unit']}]")
            for column in ("period", "adjusted baseline", "metered", "avoided"):
                table.add_column(column, justify="left" if column == "period" else "right")
            for row in doc["periods"]:
                table.add_row(
                    str(row["period"]),
                    f"{row['adjusted_baseline']:,.1f}",
                    f"{row['actual']:,.1f}",
                    f"{row['avoided']:,.1f}",
                )
            Console().print(table)
        realisation = "n/a" if doc["realisation"] is None else f"{doc['realisation']:.0%}"
        text = (
            f"baseline on {', '.join(doc['drivers']) or 'no driver'}: R² {model['r_squared']:.3f}, "
            f"CV(RMSE) {model['cv_rmse']:.1%}, NMBE {model['nmbe']:.1%} "
            f"({'meets' if model['meets_ashrae_guideline_14_monthly'] else 'fails'} ASHRAE Guideline 14 monthly); "
            f"realised {doc['realised_abatement_tco2e']:,.3f} tCO2e against {doc['planned_abatement_tco2e']:,.3f} "
            f"planned ({realisation}), {doc['realised_savings_cny']:,.2f} CNY against {doc['planned_savings_cny']:,.2f}"
        )
        _emit(doc, as_json, text)

    app.add_typer(retrofit, name="retrofit")
