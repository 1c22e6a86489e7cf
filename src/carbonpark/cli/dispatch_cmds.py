"""CLI commands of the dispatch capability: ``carbonpark dispatch SCENARIO.yaml``.

Contract (issue 10): ``--json`` prints ``status``, ``objective``, ``total_cost``,
``total_emissions_tco2e``, ``baseline`` (``total_cost``, ``total_emissions_tco2e``) and
``schedule`` (per asset, per quantity, one value per step), plus savings, balance
residuals and timestamps.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, err_console
from carbonpark.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from carbonpark.dispatch import DispatchResult, Scenario

# pandas and the dispatch engine (linopy, HiGHS) are imported inside the functions that use
# them: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = ["register", "schedule_frame", "write_outputs"]


def schedule_frame(result: DispatchResult) -> pd.DataFrame:
    """The schedule as one row per step and one column ``"{asset}-{quantity}"`` per quantity."""
    import pandas as pd

    columns: dict[str, Any] = {"step": range(len(result.timestamps)), "timestamp": result.timestamps}
    for asset, quantities in result.schedule.items():
        for quantity, values in quantities.items():
            columns[f"{asset}-{quantity}"] = values
    return pd.DataFrame(columns)


def write_outputs(result: DispatchResult, out: Path, scenario: Scenario | None = None, lang: str = "zh") -> Path:
    """Write the schedule as CSV: to ``out`` itself, or to ``out/schedule.csv`` when it is a folder.

    A path that exists as a folder, ends with a slash or has no suffix is a folder
    (created when missing); the folder also receives ``result.json`` and, given the
    scenario, the charts (stacked dispatch per carrier, state of charge, prices; SVG).
    """
    as_folder = out.is_dir() or str(out).endswith(("/", "\\")) or not out.suffix
    target = out / "schedule.csv" if as_folder else out
    target.parent.mkdir(parents=True, exist_ok=True)
    schedule_frame(result).to_csv(target, index=False, float_format="%.6f")
    if as_folder:
        import json

        from carbonpark.cli.common import to_jsonable
        from carbonpark.dispatch.charts import write_charts

        summary = {k: v for k, v in result.to_document().items() if k != "schedule"}
        (out / "result.json").write_text(json.dumps(to_jsonable(summary), ensure_ascii=False, indent=2))
        if scenario is not None:
            write_charts(result, scenario, out, lang=lang)
    return target


def _print_tables(result: DispatchResult, pareto: list[dict[str, Any]] | None) -> None:
    import pandas as pd

    console = Console()
    totals = Table(title=f"Dispatch ({result.objective_kind}, {result.mode})")
    for column in ("", "cost [CNY]", "emissions [tCO2e]"):
        totals.add_column(column, justify="right" if column else "left")
    totals.add_row("optimised", str(result.total_cost), f"{result.total_emissions_tco2e:.6f}")
    baseline = result.baseline
    if baseline.total_cost is not None and baseline.total_emissions_tco2e is not None:
        totals.add_row("baseline (rules)", str(baseline.total_cost), f"{baseline.total_emissions_tco2e:.6f}")
        savings = result.savings
        totals.add_row("savings", str(savings["cost"]), f"{savings['emissions_tco2e']:.6f}")
    else:
        totals.add_row("baseline (rules)", "infeasible", "; ".join(baseline.problems))
    console.print(totals)
    console.print(f"objective: {result.objective:.6f}")
    hours = (
        (pd.Timestamp(result.timestamps[1]) - pd.Timestamp(result.timestamps[0])).total_seconds() / 3600.0
        if len(result.timestamps) > 1
        else 1.0
    )
    flows = Table(title=f"Schedule over {len(result.timestamps)} steps (per step: --json or --out)")
    for column in ("asset", "quantity", "energy [kWh]", "peak [kW]", "last step"):
        flows.add_column(column, justify="left" if column in {"asset", "quantity"} else "right")
    for asset, quantities in result.schedule.items():
        for quantity, values in quantities.items():
            energy = "" if quantity in {"soc_kwh", "on"} else f"{float(values.sum()) * hours:.3f}"
            flows.add_row(asset, quantity, energy, f"{float(values.max()):.3f}", f"{float(values[-1]):.3f}")
    console.print(flows)
    if pareto:
        front = Table(title="Pareto front (ε-constraint)")
        front.add_column("cost [CNY]", justify="right")
        front.add_column("emissions [tCO2e]", justify="right")
        for point in pareto:
            front.add_row(str(point["total_cost"]), f"{point['total_emissions_tco2e']:.6f}")
        console.print(front)


def dispatch(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML (see docs/dispatch.md).")],
    objective: Annotated[
        str | None, typer.Option("--objective", help="cost, emissions or weighted (overrides the file).")
    ] = None,
    carbon_price: Annotated[
        float | None, typer.Option("--carbon-price", help="Carbon price [CNY/tCO2e]; alone it means weighted.")
    ] = None,
    cost_weight: Annotated[float, typer.Option("--cost-weight", help="Weight of cost in weighted.")] = 1.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the schedule as CSV to FILE, or to DIR/schedule.csv with result.json and charts."
        ),
    ] = None,
    window: Annotated[
        int | None, typer.Option("--window", help="Rolling horizon: steps looked ahead per solve.")
    ] = None,
    commit: Annotated[int | None, typer.Option("--commit", help="Rolling horizon: steps kept per solve.")] = None,
    forecasts: Annotated[
        Path | None,
        typer.Option(
            "--forecasts", help="Rolling horizon: CSV with issued_step, path, step, value (see docs/dispatch.md)."
        ),
    ] = None,
    pareto: Annotated[
        int | None, typer.Option("--pareto", help="Also trace N points of the cost–emissions front.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the charts written by --out DIR: zh or en.")] = "zh",
) -> None:
    """Optimise the dispatch of a park's energy assets (electricity, heat, cooling, gas) on HiGHS."""
    import pandas as pd

    from carbonpark.dispatch import (
        forecast_from_table,
        load_scenario,
        pareto_front,
        solve_dispatch,
        solve_rolling,
        with_objective,
    )

    if objective is not None and objective not in {"cost", "emissions", "weighted"}:
        raise ValidationError("--objective", "cost, emissions or weighted", objective)
    scenario = with_objective(load_scenario(scenario_file), objective, carbon_price, cost_weight)
    if window is None and commit is not None:
        raise ValidationError("--window", "a window length when --commit is given", None)
    if forecasts is not None and window is None:
        raise ValidationError("--forecasts", "--window (forecasts drive a rolling horizon)", str(forecasts))
    if window is not None:
        forecast = None
        if forecasts is not None:
            forecast = forecast_from_table(pd.read_csv(forecasts).to_dict("records"))
        result = solve_rolling(scenario, window, commit or 1, forecast)
    else:
        result = solve_dispatch(scenario)
    front = None
    if pareto is not None:
        front = [
            {"total_cost": p.total_cost, "total_emissions_tco2e": p.total_emissions_tco2e}
            for p in pareto_front(scenario, pareto)
        ]
    if out is not None:
        written = write_outputs(result, out, scenario, lang)
        err_console.print(f"schedule written to {written}")
    if json_output:
        document = result.to_document()
        if front is not None:
            document["pareto"] = front
        emit_json(document)
    else:
        _print_tables(result, front)


def register(app: typer.Typer) -> None:
    """Add the dispatch commands to ``app``."""
    app.command("dispatch")(dispatch)
