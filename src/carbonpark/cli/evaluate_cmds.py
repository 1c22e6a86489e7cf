"""CLI commands of the evaluate capability: ``evaluate``, ``evaluate-compare``, ``evaluate-catalogue``, ``ahp``.

The park evaluation index system of the guide (§5 and appendix); see docs/evaluation.md.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    from carbonpark.evaluate import Evaluation, IndicatorInput, ThresholdOverride, WeightSet

# The evaluation engine (numpy) and YAML are imported inside the functions that use them:
# start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register"]

_out = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on standard output.")]
WeightsOption = Annotated[
    str,
    typer.Option(
        "--weights",
        help="'appendix' (the guide's printed weights), 'equal' (均值处理) or an AHP YAML file (docs/evaluation.md).",
    ),
]
ThresholdsOption = Annotated[
    Path | None,
    typer.Option("--thresholds", help="YAML of per-park, per-year thresholds {id: {min, max, direction, step}}."),
]
PlatformOption = Annotated[
    Path | None,
    typer.Option("--platform", help="YAML of platform figures; the indicators they allow are computed and merged."),
]


def _read_yaml(path: Path, what: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(str(path), f"a YAML {what}", str(exc).splitlines()[0]) from None


def _weights(option: str) -> WeightSet:
    from carbonpark.evaluate import appendix_weights, equal_weights, weights_from_ahp

    if option == "appendix":
        return appendix_weights()
    if option == "equal":
        return equal_weights()
    path = Path(option)
    if not path.is_file():
        raise ValidationError("--weights", "'appendix', 'equal' or the path of an AHP YAML file", option)
    return weights_from_ahp(_read_yaml(path, "AHP file"))


def _thresholds(path: Path | None) -> dict[int, ThresholdOverride]:
    from carbonpark.evaluate import parse_thresholds

    return {} if path is None else parse_thresholds(_read_yaml(path, "thresholds file"))


def _inputs(values: Path, platform: Path | None) -> tuple[list[IndicatorInput], dict[int, str]]:
    from carbonpark.evaluate import indicators_from_platform, merge_inputs, read_values_csv

    entered = read_values_csv(values.read_text(encoding="utf-8"))
    if platform is None:
        return entered, {}
    figures = _read_yaml(platform, "figures file") or {}
    if not isinstance(figures, dict):
        raise ValidationError(str(platform), "a mapping of figure name to value", type(figures).__name__)
    derived = indicators_from_platform(figures)
    return merge_inputs(derived.values, entered), derived.skipped


def _print_evaluation(result: Evaluation, top: int) -> None:
    from carbonpark.evaluate import load_catalogue, weakest

    cat = load_catalogue()
    _out.print(f"[bold]Total score[/bold] {result.score:.2f} / 100  (weights: {result.weight_mode})")
    table = Table(title="First and second level (0-100 within each group)")
    for column in ("id", "first level", "score", "second level", "score"):
        table.add_column(column, justify="right" if column in ("id", "score") else "left")
    for l1_id, l1 in cat.level1.items():
        for k, group in enumerate(cat.level2_of(l1_id)):
            table.add_row(
                str(l1_id) if k == 0 else "",
                f"{l1.name_zh} {l1.name_en}" if k == 0 else "",
                f"{result.level1[l1_id]:.2f}" if k == 0 else "",
                f"({group.id}) {group.name_zh}",
                f"{result.level2[group.id]:.2f}",
            )
    _out.print(table)
    weak = Table(title=f"Weakest {top} indicators: points of the total score available")
    for column in ("id", "indicator", "score", "gain available", "missing"):
        weak.add_column(column, justify="right" if column in ("id", "score", "gain available") else "left")
    for w in weakest(result, top):
        weak.add_row(
            str(w.id),
            f"{w.name_zh} {w.name_en}",
            f"{w.score:.1f}",
            f"{w.gain_available:.3f}",
            "yes" if w.missing else "",
        )
    _out.print(weak)
    if result.missing:
        _out.print(f"Missing (scored 0): {len(result.missing)} indicators: {', '.join(map(str, result.missing))}")


def _stored_evaluation(
    db: str | None,
    year: int,
    extra: Path | None,
    weights: str,
    thresholds: Path | None,
    compare_years: list[int],
    report: Path | None,
    lang: str,
    top: int,
    as_json: bool,
) -> None:
    from carbonpark.evaluate import read_values_csv
    from carbonpark.reports.evaluation import write_evaluation_report
    from carbonpark.services.evaluation import compare_years as compare_stored
    from carbonpark.services.evaluation import evaluate_stored

    entered = read_values_csv(extra.read_text(encoding="utf-8")) if extra is not None else []
    weight_set = _weights(weights)
    stored = evaluate_stored(db, year, entered=entered, weights=weight_set, thresholds=_thresholds(thresholds))
    comparison = None
    if compare_years:
        comparison = compare_stored(db, [year, *compare_years], entered={year: entered}, weights=weight_set)
    if report is not None:
        fmt = "pdf" if report.suffix.lower() == ".pdf" else "html"
        write_evaluation_report(stored, report, lang=lang, fmt=fmt, comparison=comparison)
    if as_json:
        doc = stored.as_dict(top)
        if comparison is not None:
            doc["comparison"] = comparison.as_dict()
        emit_json(doc)
        return
    _print_evaluation(stored.evaluation, top)
    figures = Table(title=f"Platform figures of {year} (indicators {', '.join(map(str, stored.platform_ids))})")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    figures.add_column("how it was counted")
    for name, value in stored.figures.items():
        figures.add_row(
            name, str(value) if isinstance(value, bool) else f"{float(value):,.4g}", stored.notes.get(name, "")
        )
    _out.print(figures)
    for ind_id, why in sorted(stored.skipped.items()):
        _out.print(f"indicator {ind_id} not computed: {why}")


def evaluate_command(
    values: Annotated[
        Path | None, typer.Argument(help="CSV: indicator,value[,min,max,direction,step,evidence] (file mode)")
    ] = None,
    weights: WeightsOption = "appendix",
    thresholds: ThresholdsOption = None,
    platform: PlatformOption = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Store mode: SQLAlchemy URL or SQLite path (default: $CARBONPARK_DB).")
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Store mode: evaluate this year from the platform's data.")
    ] = None,
    extra: Annotated[
        Path | None, typer.Option("--values", help="Store mode: CSV of entered values completing the platform's.")
    ] = None,
    compare_year: Annotated[
        list[int] | None, typer.Option("--compare-year", help="Store mode: also evaluate this year and compare.")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="How many weakest indicators to list.")] = 10,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report to this file (.html, or .pdf in store mode).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Report language: zh or en.")] = "zh",
    as_json: JsonOption = False,
) -> None:
    """Score a park with the 69 indicators: formula (10) per indicator, formula (9) per level and in total.

    File mode: VALUES.csv. Store mode: --year (with --db): the indicators the platform has are computed from
    the store with the computation shown, --values completes the rest.
    """
    from carbonpark.evaluate import evaluate, render_html, weakest

    if lang not in ("zh", "en"):
        raise ValidationError("--lang", "zh or en", lang)
    if year is not None:
        if values is not None:
            raise ValidationError("VALUES", "no positional file with --year (entered values go in --values)", values)
        _stored_evaluation(db, year, extra, weights, thresholds, list(compare_year or []), report, lang, top, as_json)
        return
    if values is None:
        raise ValidationError("VALUES", "a values CSV file, or --year YYYY [--db URL] to evaluate from the store", None)
    inputs, skipped = _inputs(values, platform)
    result = evaluate(inputs, weights=_weights(weights), thresholds=_thresholds(thresholds))
    if report is not None:
        report.write_text(render_html(result, "zh" if lang == "zh" else "en", top=top), encoding="utf-8")
    if as_json:
        doc = result.as_dict()
        doc["weakest"] = [w.as_dict() for w in weakest(result, top)]
        if platform is not None:
            doc["platform_skipped"] = {str(k): v for k, v in skipped.items()}
        emit_json(doc)
        return
    _print_evaluation(result, top)


def evaluate_compare_command(
    files: Annotated[list[Path], typer.Argument(help="Two or more values CSV files; the first is the baseline.")],
    label: Annotated[
        list[str] | None, typer.Option("--label", help="A label per file (default: the file names).")
    ] = None,
    weights: WeightsOption = "appendix",
    thresholds: ThresholdsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare evaluations across years or parks: deltas per indicator and level against the first file."""
    from carbonpark.evaluate import compare, evaluate, load_catalogue, read_values_csv

    labels = list(label) if label else [f.stem for f in files]
    if len(labels) != len(files):
        raise ValidationError("--label", f"one label per file ({len(files)})", labels)
    weight_set = _weights(weights)
    overrides = _thresholds(thresholds)
    results = [
        (name, evaluate(read_values_csv(path.read_text(encoding="utf-8")), weight_set, overrides))
        for name, path in zip(labels, files, strict=True)
    ]
    comparison = compare(results)
    if as_json:
        emit_json(comparison.as_dict())
        return
    cat = load_catalogue()
    table = Table(title=f"Comparison against {labels[0]}")
    table.add_column("level")
    for name in labels:
        table.add_column(name, justify="right")
    table.add_row("total", *[f"{comparison.score[n]:.2f}" for n in labels])
    for l1_id, l1 in cat.level1.items():
        table.add_row(f"{l1_id} {l1.name_zh}", *[f"{comparison.level1[n][l1_id]:.2f}" for n in labels])
    _out.print(table)
    changed = Table(title="Indicators whose score changed")
    changed.add_column("id", justify="right")
    changed.add_column("indicator")
    for name in labels[1:]:
        changed.add_column(f"Δ {name}", justify="right")
    for ind_id, row in comparison.indicators.items():
        deltas = [row["score_delta"][n] for n in labels[1:]]
        if any(abs(d) > 1e-9 for d in deltas):
            changed.add_row(str(ind_id), row["name_zh"], *[f"{d:+.1f}" for d in deltas])
    _out.print(changed)


def evaluate_catalogue_command(
    template: Annotated[
        bool, typer.Option("--template", help="Print a values CSV template with all 69 indicators.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the 69 indicators with weights, units and default thresholds."""
    from carbonpark.evaluate import load_catalogue

    cat = load_catalogue()
    if template:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["indicator", "value", "min", "max", "direction", "step", "evidence"])
        for ind in cat.indicators.values():
            writer.writerow([ind.id, "", "", "", "", "", ""])
        typer.echo(buffer.getvalue(), nl=False)
        return
    if as_json:
        emit_json(
            {
                "source": cat.source,
                "level1": [l1.__dict__ for l1 in cat.level1.values()],
                "level2": [l2.__dict__ for l2 in cat.level2.values()],
                "indicators": [ind.__dict__ for ind in cat.indicators.values()],
            }
        )
        return
    table = Table(title="Evaluation indicators (guide appendix, 工业互联网产业联盟 2021)")
    for column in ("id", "group", "indicator", "γ", "type", "unit", "min", "max", "better"):
        table.add_column(column)
    for ind in cat.indicators.values():
        table.add_row(
            str(ind.id),
            f"{ind.level1}.{ind.level2}",
            f"{ind.name_zh} {ind.name_en}",
            f"{ind.weight:g}",
            ind.type,
            ind.unit,
            f"{ind.min:g}",
            f"{ind.max:g}",
            ind.direction,
        )
    _out.print(table)


def ahp_command(
    matrix: Annotated[Path, typer.Argument(help="CSV: header row of criteria, then one row per criterion.")],
    as_json: JsonOption = False,
) -> None:
    """AHP weights of a pairwise comparison matrix: principal eigenvector, λmax, CI, CR (consistent if CR < 0.1)."""
    from carbonpark.evaluate import ahp, read_matrix_csv

    labels, judgements = read_matrix_csv(matrix.read_text(encoding="utf-8"), matrix.name)
    result = ahp(judgements, labels, matrix.name)
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table(title=f"AHP weights of {matrix.name}")
    table.add_column("criterion")
    table.add_column("weight", justify="right")
    for name, weight in zip(result.labels, result.weights, strict=True):
        table.add_row(name, f"{weight:.4f}")
    _out.print(table)
    verdict = "consistent" if result.consistent else "NOT consistent (CR ≥ 0.1)"
    _out.print(
        f"λmax = {result.lambda_max:.4f}  CI = {result.ci:.4f}  RI = {result.ri}  CR = {result.cr:.4f}  {verdict}"
    )
    if result.most_inconsistent is not None and not result.consistent:
        _out.print(f"Most inconsistent judgement: {result.most_inconsistent.describe()}")


def register(app: typer.Typer) -> None:
    """Add the evaluate commands to ``app``."""
    app.command("evaluate")(evaluate_command)
    app.command("evaluate-compare")(evaluate_compare_command)
    app.command("evaluate-catalogue")(evaluate_catalogue_command)
    app.command("ahp")(ahp_command)
