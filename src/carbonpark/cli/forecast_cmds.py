"""CLI commands of the forecast capability (SPEC C8, C9; issue 9).

* ``carbonpark forecast SERIES.csv --horizon H [--freq h] [--model auto|NAME] [--json]``:
  the CSV has ``ts,value`` and optionally ``series_id`` and numeric feature columns;
  future values of the features come in rows with an empty ``value``, exactly ``H`` per
  series. ``--json`` prints ``model``, ``forecast`` (rows with ``series_id``, ``ts``,
  ``mean``, ``lo``/``hi`` = the 80 % interval, ``lo-95``/``hi-95``) and ``backtest``
  (rolling-origin metrics next to seasonal naive; ``mase``, ``mape`` and ``baseline_mase``
  are always there, ``null`` with a ``note`` when the history is too short to backtest).
  With several series each is forecast and backtested on its own; ``backtest`` then has
  the figures pooled over every series' points (:func:`carbonpark.forecast.backtest.pool_backtests`) next to
  ``series`` (one report each), and ``models_used`` counts the series per model.
* ``carbonpark forecast --db URL --meter ID|--org ID|--all-meters --horizon H [--carrier C]``:
  the same over stored readings, aggregated to hours (``--freq D``: days) in park-local
  time (:mod:`carbonpark.services.forecasting`); ``--org park`` or an enterprise forecasts
  its intake; ``--all-meters`` forecasts every meter of the park over the cores with a
  progress bar (default model ridge; ``--model auto`` backtests every candidate per meter).
  ``--features FILE.csv`` (with ``--meter``/``--org``) joins ``ts,<feature columns>`` on
  the park-local timestamps for the history and the horizon (:func:`carbonpark.services.forecasting.join_features`).
* ``carbonpark forecast-peak ENERGY.csv --factors FACTORS.csv [--scenarios S.yaml]``:
  yearly energy by carrier forecast to 2060, emissions by formula (8), the peak year and
  height per scenario, and the gap neutrality leaves.
* ``carbonpark forecast-decompose SERIES.csv`` (or ``--db URL --meter ID|--org ID``):
  trend, season and remainder.
* ``carbonpark forecast-models``: the forecasters that can be named with ``--model``.

Naive timestamps are park-local (``--tz``, default Asia/Shanghai); output timestamps
carry the offset (``2025-03-22T00:00:00+08:00``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from carbonpark.cli.common import emit_json, progress
from carbonpark.errors import ValidationError
from carbonpark.times import from_ms, local_iso, parse_timestamp, to_ms

if TYPE_CHECKING:
    import pandas as pd

    from carbonpark.forecast import Scenario

# pandas, YAML and the forecast engine (statsforecast, LightGBM) are imported inside the
# functions that use them: start-up time of ``carbonpark`` (tests/test_cli_startup.py).

__all__ = [
    "read_factors",
    "read_features_csv",
    "read_scenarios",
    "read_series_csv",
    "register",
]

_TZ_HELP = "Park time zone of naive timestamps (IANA name)."


def _parse_ts_column(raw: pd.Series, tz: str) -> pd.Series:
    """Park-local naive timestamps of a CSV column; errors name the line (header is line 1)."""
    import pandas as pd

    out = []
    for i, text in enumerate(raw.tolist()):
        if text is None or (isinstance(text, float) and pd.isna(text)) or str(text).strip() == "":
            raise ValidationError(f"line {i + 2}, column ts", "a timestamp", "")
        ms = parse_timestamp(str(text), tz=tz, field=f"line {i + 2}, column ts")
        out.append(from_ms(ms, tz).replace(tzinfo=None))
    return pd.Series(pd.DatetimeIndex(out), index=raw.index)


def read_series_csv(path: Path, tz: str = "Asia/Shanghai") -> pd.DataFrame:
    """Read a series file (``ts,value`` [, ``series_id``, features]) into the long format.

    Numbers are checked cell by cell so that an error names its line and column;
    ``value`` may be empty (a future row carrying feature values).
    """
    import pandas as pd

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(str(path), "a CSV with a header ts,value", "an empty file") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    for needed in ("ts", "value"):
        if needed not in raw.columns:
            raise ValidationError(
                f"{path.name} header", "columns ts and value (optionally series_id, features)", list(raw.columns)
            )
    if raw.empty:
        raise ValidationError(str(path), "at least one data row", "none")
    frame = pd.DataFrame({"ts": _parse_ts_column(raw["ts"], tz)})
    if "series_id" in raw.columns:
        frame.insert(0, "series_id", raw["series_id"].str.strip())
    for column in [c for c in raw.columns if c not in ("ts", "series_id")]:
        text = raw[column].str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & (text != "")
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise ValidationError(f"line {i + 2}, column {column}", "a number", raw[column].iloc[i])
        empty = text == ""
        if column != "value" and empty.any():
            i = int(empty.to_numpy().nonzero()[0][0])
            raise ValidationError(f"line {i + 2}, column {column}", "a number (features are needed in every row)", "")
        frame[column] = numbers
    _reject_empty_values_inside_history(frame, raw)
    return frame


def _reject_empty_values_inside_history(frame: pd.DataFrame, raw: pd.DataFrame) -> None:
    """An empty ``value`` before a series' last observed value is a hole, not a future row: name its line."""
    import numpy as np

    groups = frame.groupby("series_id", sort=False).indices if "series_id" in frame.columns else {"": range(len(frame))}
    for rows in groups.values():
        values = frame["value"].to_numpy(dtype=float)[list(rows)]
        observed = np.flatnonzero(~np.isnan(values))
        holes = np.flatnonzero(np.isnan(values[: observed[-1]])) if observed.size else observed
        if holes.size:
            i = list(rows)[int(holes[0])]
            raise ValidationError(
                f"line {i + 2}, column value",
                "a number (an empty value marks a future row and may only follow the last observed value)",
                raw["value"].iloc[i],
            )


def _infer_freq(history: pd.DataFrame) -> str:
    """The frequency of the first series, when pandas can tell it."""
    import pandas as pd

    from carbonpark.forecast import normalise_freq
    from carbonpark.forecast.contract import FREQUENCIES

    if "series_id" in history.columns:
        history = history[history["series_id"] == history["series_id"].iloc[0]]
    ts = pd.DatetimeIndex(history["ts"]).sort_values()
    guessed = pd.infer_freq(ts) if len(ts) >= 3 else None
    if guessed is None:
        raise ValidationError("--freq", f"one of {sorted(FREQUENCIES)} (it cannot be inferred from ts)", None)
    guessed = {"YS-JAN": "YS", "AS-JAN": "YS"}.get(guessed, guessed)
    return normalise_freq(guessed)


def _iso(ts: pd.Timestamp, tz: str) -> str:
    return local_iso(to_ms(ts.to_pydatetime(), tz), tz)


def _forecast_rows(frame: pd.DataFrame, tz: str) -> list[dict[str, Any]]:
    """Output rows: ``lo``/``hi`` are the 80 % bounds (the contract), 95 % ones are added."""
    rows = []
    for row in frame.to_dict(orient="records"):
        rows.append(
            {
                "series_id": row["series_id"],
                "ts": _iso(row["ts"], tz),
                "mean": float(row["mean"]),
                "lo": float(row["lo-80"]),
                "hi": float(row["hi-80"]),
                "lo-80": float(row["lo-80"]),
                "hi-80": float(row["hi-80"]),
                "lo-95": float(row["lo-95"]),
                "hi-95": float(row["hi-95"]),
            }
        )
    return rows


def _backtest_doc(run: Any) -> dict[str, Any]:
    """The ``backtest`` entry of one run: its report, or the contract's keys set to ``None``
    with ``note`` saying why the backtest could not run (issue 9 item 6)."""
    from carbonpark.forecast.backtest import POINT_METRICS

    if run.backtest is not None:
        return dict(run.backtest)
    out: dict[str, Any] = {m: None for m in POINT_METRICS}
    out.update({f"baseline_{m}": None for m in POINT_METRICS})
    out["note"] = run.backtest_note
    return out


def _forecast_many_doc(
    history: pd.DataFrame,
    future: pd.DataFrame | None,
    horizon: int,
    freq: str,
    model: str,
    windows: int,
    tz: str,
    resolve: Any,
    count: int,
) -> dict[str, Any]:
    """Every series on its own, over the cores, with a progress bar on standard error."""
    from carbonpark.forecast import forecast_many

    with progress() as bar:
        task = bar.add_task("forecasting series", total=count)
        runs = forecast_many(
            history,
            horizon,
            freq,
            model=model,
            future=future,
            windows=windows,
            on_done=lambda _sid: bar.advance(task),
            resolve=resolve,
        )
    return {
        "model": model,
        "freq": freq,
        "horizon": horizon,
        "timezone": tz,
        **_runs_doc(runs, tz),
    }


def _runs_doc(runs: dict[str, Any], tz: str) -> dict[str, Any]:
    """What a forecast of several series adds: the model of each series and how many series
    each model forecast (``models_used``), every forecast row, and the backtest of each
    series with the pooled figures next to them (:func:`carbonpark.forecast.backtest.pool_backtests`)."""
    from collections import Counter

    from carbonpark.forecast.backtest import pool_backtests

    per_series = {sid: _backtest_doc(run) for sid, run in runs.items()}
    pooled = pool_backtests({sid: run.backtest for sid, run in runs.items()})
    return {
        "models": {sid: run.model for sid, run in runs.items()},
        "models_used": dict(Counter(run.model for run in runs.values()).most_common()),
        "forecast": [row for run in runs.values() for row in _forecast_rows(run.forecast, tz)],
        "backtest": {**pooled, "series": per_series},
    }


def read_features_csv(path: Path, tz: str = "Asia/Shanghai") -> pd.DataFrame:
    """Read a features file ``ts,<feature columns>`` (one row per timestamp, every cell a number).

    Naive timestamps are park-local (``tz``). Errors name the line and column.
    """
    import pandas as pd

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(str(path), "a CSV with a header ts,<feature columns>", "an empty file") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    names = [c for c in raw.columns if c != "ts"]
    if "ts" not in raw.columns or not names or {"value", "series_id"} & set(names):
        raise ValidationError(
            f"{path.name} header", "ts and at least one feature column (no value or series_id)", list(raw.columns)
        )
    if raw.empty:
        raise ValidationError(str(path), "at least one data row", "none")
    frame = pd.DataFrame({"ts": _parse_ts_column(raw["ts"], tz)})
    twice = frame["ts"].duplicated()
    if twice.any():
        i = int(twice.to_numpy().nonzero()[0][0])
        raise ValidationError(f"line {i + 2}, column ts", "one row per timestamp", raw["ts"].iloc[i])
    for column in names:
        text = raw[column].str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.isna().any():
            i = int(numbers.isna().to_numpy().nonzero()[0][0])
            raise ValidationError(f"line {i + 2}, column {column}", "a number", raw[column].iloc[i])
        frame[column] = numbers.astype(float)
    return frame


def _stored_doc(
    db: str | None,
    meter: str | None,
    org: str | None,
    carrier: str,
    all_meters: bool,
    horizon: int,
    freq: str | None,
    model: str | None,
    windows: int,
    features: Path | None = None,
) -> dict[str, Any]:
    """Forecast stored readings: one meter, an intake, or every meter of the park."""
    from carbonpark.forecast import FORECASTERS, get_forecaster, normalise_freq
    from carbonpark.services import forecasting

    if sum(x is not None and x is not False for x in (meter, org, all_meters or None)) != 1:
        raise ValidationError("--meter/--org/--all-meters", "exactly one of them with --db", None)
    f = normalise_freq(freq or "h")
    if features is not None and all_meters:
        raise ValidationError("--features", "--meter or --org (not --all-meters)", "--all-meters")
    if all_meters:
        chosen = model or forecasting.BULK_MODEL
        if chosen != "auto" and chosen not in FORECASTERS:
            raise ValidationError("--model", f"a built-in model with --all-meters: {sorted(FORECASTERS)}", chosen)
        with progress() as bar:
            task = bar.add_task("forecasting meters", total=_meter_count(db))

            def advance(_sid: str) -> None:
                bar.advance(task)

            runs, stored, skipped = forecasting.forecast_park_meters(
                db, horizon=horizon, freq=f, model=chosen, windows=windows, on_done=advance
            )
            bar.advance(task, len(skipped))  # meters too short to forecast are done too
        tz = stored.timezone
        return {
            "model": chosen,
            "freq": f,
            "horizon": horizon,
            "timezone": tz,
            **_runs_doc(runs, tz),
            "skipped": skipped,
            "source": stored.meta(),
        }
    model = model or "auto"
    resolve = get_forecaster if model != "auto" else None
    table = None if features is None else read_features_csv(features, forecasting.park_timezone(db))
    run, stored = forecasting.forecast_stored(
        db,
        horizon,
        meter=meter,
        org=org,
        carrier=carrier,
        freq=f,
        model=model,
        windows=windows,
        resolve=resolve,
        features=table,
        features_source=f"--features {features.name}" if features is not None else "features",
    )
    doc: dict[str, Any] = {
        "model": run.model,
        "requested_model": model,
        "freq": f,
        "horizon": horizon,
        "timezone": stored.timezone,
        "forecast": _forecast_rows(run.forecast, stored.timezone),
        "backtest": _backtest_doc(run),
        "source": stored.meta(),
    }
    if features is not None and table is not None and stored.features_from is not None:
        doc["features"] = {
            "file": str(features),
            "columns": [c for c in table.columns if c != "ts"],
            "history_from": _iso(stored.features_from, stored.timezone),
            "history_steps": int((stored.frame["ts"] >= stored.features_from).sum()),
        }
    if run.selection is not None:
        doc["candidates"] = run.selection.table()
    return doc


def _stored_series(
    db: str | None, meter: str | None, org: str | None, carrier: str, freq: str | None
) -> tuple[pd.DataFrame, str, str, dict[str, Any]]:
    """One stored series as ``forecast --db`` builds it: history, frequency, park zone, source."""
    from carbonpark.forecast import normalise_freq
    from carbonpark.services import forecasting

    if (meter is None) == (org is None):
        raise ValidationError("--meter/--org", "exactly one of them with --db", None)
    f = normalise_freq(freq or "h")
    stored = forecasting.series_frame(
        db, meter=meter, org=org, carrier=carrier, freq=f, exclude_quality=forecasting.FORECAST_EXCLUDED_FLAGS
    )
    return stored.frame, f, stored.timezone, stored.meta()


def _meter_count(db: str | None) -> int:
    """Number of meters of the park: the total of the ``--all-meters`` progress bar."""
    from sqlalchemy import func, select

    from carbonpark.store import registry, session
    from carbonpark.store.schema import Meter

    with session(db) as s:
        park = registry.the_park(s)
        return int(s.scalar(select(func.count()).select_from(Meter).where(Meter.park_id == park.id)) or 0)


def _print_forecast(doc: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"Forecast ({doc['model']}, {doc['horizon']} steps of {doc['freq']})")
    for column in ("series", "ts", "mean", "lo (80%)", "hi (80%)", "lo (95%)", "hi (95%)"):
        table.add_column(column, justify="left" if column in ("series", "ts") else "right")
    for row in doc["forecast"]:
        table.add_row(
            str(row["series_id"]),
            row["ts"],
            *(f"{row[k]:.4f}" for k in ("mean", "lo-80", "hi-80", "lo-95", "hi-95")),
        )
    console.print(table)
    bt = doc["backtest"]
    if "series" in bt:
        summary = Table(title="Backtest per series (rolling origin, against seasonal naive)")
        for column in ("series", "model", "MAE", "naive MAE", "MASE", "coverage 80%"):
            summary.add_column(column, justify="left" if column in ("series", "model") else "right")
        for sid, report in bt["series"].items():
            summary.add_row(
                sid,
                doc["models"][sid],
                _fmt(report.get("mae")),
                _fmt(report.get("baseline_mae")),
                _fmt(report.get("mase")),
                _fmt(report.get("coverage_80")),
            )
        console.print(summary)
        console.print(f"pooled: MASE {_fmt(bt.get('mase'))}, seasonal naive {_fmt(bt.get('baseline_mase'))}")
        if bt.get("verdict"):
            console.print(bt["verdict"])
    elif bt.get("mae") is not None:
        metrics = Table(title=f"Backtest ({bt['method']}, {bt['windows']} windows of {bt['horizon']} steps)")
        metrics.add_column("metric")
        metrics.add_column(doc["model"], justify="right")
        metrics.add_column("seasonal naive", justify="right")
        for key in ("mae", "rmse", "mape", "smape", "mase"):
            metrics.add_row(key, _fmt(bt.get(key)), _fmt(bt.get(f"baseline_{key}")))
        for key in ("pinball", "coverage_80", "coverage_95"):
            metrics.add_row(key, _fmt(bt.get(key)), "")
        console.print(metrics)
        console.print(bt["verdict"])
    else:
        console.print(f"backtest: {bt.get('note')}")
    for row in doc.get("candidates", []):
        if "error" in row:
            console.print(f"candidate {row['model']} left out: {row['error']}")


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return f"{value:.4f}"


_FACTORS_HEADER = "carrier,tco2_per_unit[,year][,ncv,ef]"


def _combustion_factor(row: Any, line: int) -> Any:
    """The ``ncv`` [GJ/unit] and ``ef`` [tCO2/GJ] of a factors row as W and F of formula (8)."""
    from carbonpark.forecast.emissions import CombustionFactor

    numbers = []
    for column, unit in (("ncv", "GJ per unit of the carrier"), ("ef", "tCO2/GJ")):
        try:
            numbers.append(float(row[column]))
        except ValueError as exc:
            raise ValidationError(f"line {line}, column {column}", f"a number [{unit}]", row[column]) from exc
    if row.get("tco2_per_unit", "").strip():
        raise ValidationError(f"line {line}", "either tco2_per_unit or ncv and ef", "both")
    if row.get("year", "").strip():
        raise ValidationError(f"line {line}", "ncv and ef as constants (no year)", row["year"])
    return CombustionFactor(numbers[0], numbers[1])


def read_factors(path: Path) -> dict[str, Any]:
    """Read ``carrier,tco2_per_unit[,year][,ncv,ef]``.

    A carrier has one constant ``tco2_per_unit``, a trajectory (rows with a ``year``), or
    ``ncv`` (W, net calorific value [GJ/t, GJ/10^4 Nm3]) and ``ef`` (F, CO2 factor
    [tCO2/GJ]) on one row without a year, whose emissions are then formula (8),
    C = E × W × F (guide §4.5).
    """
    import pandas as pd

    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    apart = {"ncv", "ef"} <= set(raw.columns)
    if "carrier" not in raw.columns or not ("tco2_per_unit" in raw.columns or apart):
        raise ValidationError(f"{path.name} header", _FACTORS_HEADER, list(raw.columns))
    if ("ncv" in raw.columns) != ("ef" in raw.columns):
        raise ValidationError(f"{path.name} header", "both ncv and ef, or neither", list(raw.columns))
    factors: dict[str, Any] = {}
    for i, row in raw.iterrows():
        line = int(str(i)) + 2
        carrier = row["carrier"].strip()
        if apart and (row["ncv"].strip() or row["ef"].strip()):
            if carrier in factors:
                raise ValidationError(f"line {line}, carrier {carrier}", "one factor per carrier", "a second one")
            factors[carrier] = _combustion_factor(row, line)
            continue
        try:
            value = float(row.get("tco2_per_unit", ""))
        except ValueError as exc:
            raise ValidationError(
                f"line {line}, column tco2_per_unit",
                "a number [tCO2/unit] (or ncv and ef)",
                row.get("tco2_per_unit", ""),
            ) from exc
        year_text = row["year"].strip() if "year" in raw.columns else ""
        if year_text:
            if not year_text.isdigit():
                raise ValidationError(f"line {line}, column year", "a year such as 2030", year_text)
            trajectory = factors.setdefault(carrier, {})
            if not isinstance(trajectory, dict):
                raise ValidationError(f"line {line}, carrier {carrier}", "either one constant or yearly rows", "both")
            trajectory[int(year_text)] = value
        else:
            if carrier in factors:
                raise ValidationError(f"line {line}, carrier {carrier}", "one factor per carrier", "a second one")
            factors[carrier] = value
    return factors


def _scenario(item: Any, i: int) -> Scenario:
    from carbonpark.forecast import NewEnterprise, Removal, Retrofit, Scenario

    if not isinstance(item, dict) or "name" not in item:
        raise ValidationError(f"scenarios[{i}]", "a mapping with a name", item)
    where = f"scenario {item['name']!r}"
    try:
        return Scenario(
            name=str(item["name"]),
            retrofits=[Retrofit(**r) for r in item.get("retrofits") or []],
            new_enterprises=[NewEnterprise(**a) for a in item.get("new_enterprises") or []],
            removals=[Removal(**r) for r in item.get("removals") or []],
            factors={
                str(k): ({int(y): float(v) for y, v in val.items()} if isinstance(val, dict) else float(val))
                for k, val in (item.get("factors") or {}).items()
            },
        )
    except TypeError as exc:
        raise ValidationError(
            where,
            "retrofits {carrier, from_year, share|amount}, new_enterprises {carrier, from_year, amount}, "
            "removals {from_year, tco2}, factors {carrier: value or {year: value}}",
            str(exc),
        ) from exc


def read_scenarios(path: Path | None) -> list[Scenario]:
    """Business as usual, then the scenarios of a YAML file (``scenarios: [...]``)."""
    import yaml

    from carbonpark.forecast import Scenario

    scenarios = [Scenario("business_as_usual")]
    if path is None:
        return scenarios
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = doc.get("scenarios") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ValidationError(f"{path.name}", "a mapping with a list 'scenarios'", type(doc).__name__)
    scenarios.extend(_scenario(item, i) for i, item in enumerate(items))
    return scenarios


def register(app: typer.Typer) -> None:
    """Add the forecast commands to ``app``."""

    @app.command("forecast")
    def forecast_cmd(
        horizon: Annotated[int, typer.Option("--horizon", min=1, help="Steps of --freq to forecast.")],
        series: Annotated[
            Path | None, typer.Argument(help="CSV with ts,value [,series_id, feature columns] (or --db …).")
        ] = None,
        freq: Annotated[
            str | None, typer.Option("--freq", help="15min, 30min, h, D, MS or YS (inferred when left out).")
        ] = None,
        model: Annotated[
            str | None,
            typer.Option(
                "--model", help="auto or a name from forecast-models (default auto; ridge with --all-meters)."
            ),
        ] = None,
        windows: Annotated[
            int | None, typer.Option("--windows", min=1, help="Rolling-origin backtest windows (3; 7 with --db).")
        ] = None,
        tz: Annotated[str, typer.Option("--tz", help=_TZ_HELP)] = "Asia/Shanghai",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
        db: Annotated[str | None, typer.Option("--db", help="Database URL: forecast stored readings.")] = None,
        meter: Annotated[str | None, typer.Option("--meter", help="With --db: one meter (id, handle, code).")] = None,
        org: Annotated[
            str | None, typer.Option("--org", help="With --db: 'park' or an enterprise; forecasts its intake.")
        ] = None,
        carrier: Annotated[str, typer.Option("--carrier", help="With --org: carrier of the intake.")] = "electricity",
        all_meters: Annotated[
            bool, typer.Option("--all-meters", help="With --db: every meter of the park, over the cores.")
        ] = False,
        features: Annotated[
            Path | None,
            typer.Option(
                "--features",
                help="With --db --meter/--org: CSV ts,<feature columns> (park-local) covering the history "
                "and the horizon, joined on ts.",
            ),
        ] = None,
    ) -> None:
        """Forecast a series and backtest the model against seasonal naive (guide §4.4)."""
        from carbonpark.forecast import (
            feature_columns,
            get_forecaster,
            normalise_freq,
            run_forecast,
            split_history_future,
        )

        if db is not None or meter is not None or org is not None or all_meters or features is not None:
            if series is not None:
                raise ValidationError("SERIES", "a CSV file or --db with --meter/--org/--all-meters, not both", series)
            doc = _stored_doc(db, meter, org, carrier, all_meters, horizon, freq, model, windows or 7, features)
            if as_json:
                emit_json(doc)
            else:
                _print_forecast(doc)
            return
        if series is None:
            raise ValidationError("SERIES", "a CSV file, or --db URL with --meter, --org or --all-meters", None)
        model = model or "auto"
        windows = windows or 3
        frame = read_series_csv(series, tz)
        history, future = split_history_future(frame)
        if future is not None and not feature_columns(frame):
            raise ValidationError(
                "column value", "a number in every row (empty only in rows that carry future features)", ""
            )
        if history.empty:
            raise ValidationError(str(series), "observed values", "only empty values")
        f = normalise_freq(freq) if freq else _infer_freq(history)
        resolve = get_forecaster if model != "auto" else None
        series_ids = history["series_id"].astype(str).unique() if "series_id" in history.columns else ["series"]
        if len(series_ids) > 1:
            doc = _forecast_many_doc(history, future, horizon, f, model, windows, tz, resolve, len(series_ids))
        else:
            run = run_forecast(history, horizon, f, model=model, future=future, windows=windows, resolve=resolve)
            doc = {
                "model": run.model,
                "requested_model": model,
                "freq": f,
                "horizon": horizon,
                "timezone": tz,
                "forecast": _forecast_rows(run.forecast, tz),
                "backtest": _backtest_doc(run),
            }
            if run.selection is not None:
                doc["candidates"] = run.selection.table()
        if as_json:
            emit_json(doc)
        else:
            _print_forecast(doc)

    @app.command("forecast-peak")
    def forecast_peak_cmd(
        energy: Annotated[Path, typer.Argument(help="CSV year,carrier,amount: yearly use per carrier.")],
        factors: Annotated[
            Path,
            typer.Option(
                "--factors",
                help="CSV carrier,tco2_per_unit[,year][,ncv,ef]: a factor per unit of the carrier [tCO2/t, "
                "tCO2/MWh, …], rows with a year form a trajectory; or, for a fuel, ncv = net calorific value "
                "W [GJ/t, GJ/10^4 Nm3] and ef = CO2 factor F [tCO2/GJ] on one row, computed by formula (8) "
                "C = E × W × F.",
            ),
        ],
        scenarios: Annotated[Path | None, typer.Option("--scenarios", help="YAML with a list 'scenarios'.")] = None,
        until: Annotated[int, typer.Option("--until", help="Last year forecast.")] = 2060,
        target_year: Annotated[int, typer.Option("--target-year", help="Neutrality target year.")] = 2060,
        model: Annotated[
            str,
            typer.Option(
                "--model",
                help="Yearly forecaster of energy use (ets, arima, regression, …). Default regression: a "
                "least-squares trend in time follows a steadily growing history, where ETS fitted to a few "
                "years often chooses no trend and stays flat, making the last observed year the peak; auto "
                "is refused because a backtest of a horizon of decades needs a longer history than parks have.",
            ),
        ] = "regression",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    ) -> None:
        """Emission scenarios, the peak year and the path to neutrality (guide §4.5, formula (8))."""
        from carbonpark.forecast import forecast_energy_by_carrier, get_forecaster, run_scenario
        from carbonpark.forecast.emissions import CombustionFactor
        from carbonpark.forecast.peak import FORECAST_BAND

        history = _read_energy(energy)
        factor_table = read_factors(factors)
        plans = read_scenarios(scenarios)
        if model == "auto":
            raise ValidationError(
                "--model", "a yearly model such as regression, arima, ets (a backtest cannot check decades)", "auto"
            )
        get_forecaster(model)  # fail early on an unknown name
        bau = forecast_energy_by_carrier(history, until, lambda: get_forecaster(model))
        results = [run_scenario(bau, factor_table, plan, target_year).summary() for plan in plans]
        doc = {
            "energy_model": model,
            "until": until,
            "target_year": target_year,
            "factors": {
                carrier: {
                    "ncv_gj_per_unit": value.ncv_gj_per_unit,
                    "ef_tco2_per_gj": value.ef_tco2_per_gj,
                    "tco2_per_unit": value.tco2_per_unit,
                }
                if isinstance(value, CombustionFactor)
                else value
                for carrier, value in factor_table.items()
            },
            "band_meaning": FORECAST_BAND,
            "energy": bau.to_dict(orient="records"),
            "scenarios": results,
        }
        if as_json:
            emit_json(doc)
            return
        table = Table(
            title=f"Emission peak by scenario (energy model {model})", caption=f"Peak range: {FORECAST_BAND}."
        )
        for column in (
            "scenario",
            "peak year",
            "peak [tCO2]",
            "peak years (range)",
            "neutral year",
            f"gap {target_year} [tCO2]",
        ):
            table.add_column(column)
        for r in results:
            table.add_row(
                r["name"],
                f"{r['peak_year']}{'' if r['peak_reached'] else ' (still rising)'}",
                f"{r['peak_tco2']:.1f}",
                f"{r['peak_year_range'][0]}–{r['peak_year_range'][1]}",
                str(r["neutral_year"] or "not reached"),
                f"{r['gap_at_target_tco2']:.1f}",
            )
        Console().print(table)

    @app.command("forecast-decompose")
    def decompose_cmd(
        series: Annotated[
            Path | None, typer.Argument(help="CSV with ts,value (one series), or --db with --meter/--org.")
        ] = None,
        freq: Annotated[
            str | None, typer.Option("--freq", help="15min, 30min, h, D, MS or YS (with --db: h or D, default h).")
        ] = None,
        tz: Annotated[str, typer.Option("--tz", help=_TZ_HELP)] = "Asia/Shanghai",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
        db: Annotated[str | None, typer.Option("--db", help="Database URL: decompose stored readings.")] = None,
        meter: Annotated[str | None, typer.Option("--meter", help="With --db: one meter (id, handle, code).")] = None,
        org: Annotated[
            str | None, typer.Option("--org", help="With --db: 'park' or an enterprise; its intake.")
        ] = None,
        carrier: Annotated[str, typer.Option("--carrier", help="With --org: carrier of the intake.")] = "electricity",
    ) -> None:
        """Trend, season and remainder of a series (MSTL; guide §4.4(1))."""
        from carbonpark.forecast import decompose, normalise_freq, split_history_future

        source: dict[str, Any] | None = None
        if db is not None or meter is not None or org is not None:
            if series is not None:
                raise ValidationError("SERIES", "a CSV file or --db with --meter/--org, not both", series)
            history, f, tz, source = _stored_series(db, meter, org, carrier, freq)
        elif series is None:
            raise ValidationError("SERIES", "a CSV file, or --db URL with --meter or --org", None)
        else:
            frame = read_series_csv(series, tz)
            history, _ = split_history_future(frame)
            if "series_id" in history and history["series_id"].nunique() > 1:
                raise ValidationError("series_id", "one series", sorted(history["series_id"].unique()))
            f = normalise_freq(freq) if freq else _infer_freq(history)
        parts = decompose(history["value"].to_numpy(dtype=float), f)
        parts.insert(0, "ts", [_iso(t, tz) for t in history["ts"]])
        if as_json:
            doc: dict[str, Any] = {"freq": f, "rows": parts.to_dict(orient="records")}
            if source is not None:
                doc["timezone"], doc["source"] = tz, source
            emit_json(doc)
            return
        table = Table(title=f"Decomposition ({f})")
        for column in ("ts", "value", "trend", "season", "remainder"):
            table.add_column(column, justify="left" if column == "ts" else "right")
        for row in parts.itertuples(index=False):
            table.add_row(row.ts, *(f"{getattr(row, c):.4f}" for c in ("value", "trend", "season", "remainder")))
        Console().print(table)

    @app.command("forecast-models")
    def models_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False) -> None:
        """The forecasters --model accepts (built-in and installed plug-ins)."""
        from carbonpark.forecast import FORECASTERS, available_forecasters

        names = available_forecasters()
        rows = [{"name": n, "builtin": n in FORECASTERS} for n in names]
        if as_json:
            emit_json({"models": rows})
            return
        for row in rows:
            typer.echo(f"{row['name']}{'' if row['builtin'] else ' (plug-in)'}")


def _read_energy(path: Path) -> pd.DataFrame:
    import pandas as pd

    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if not {"year", "carrier", "amount"} <= set(raw.columns):
        raise ValidationError(f"{path.name} header", "year,carrier,amount", list(raw.columns))
    out = pd.DataFrame({"carrier": raw["carrier"].str.strip()})
    for column in ("year", "amount"):
        numbers = pd.to_numeric(raw[column].str.strip(), errors="coerce")
        if numbers.isna().any():
            i = int(numbers.isna().to_numpy().nonzero()[0][0])
            raise ValidationError(f"line {i + 2}, column {column}", "a number", raw[column].iloc[i])
        out[column] = numbers
    if (out["year"] % 1 != 0).any():
        raise ValidationError("column year", "whole years", out.loc[out["year"] % 1 != 0, "year"].iloc[0])
    out["year"] = out["year"].astype(int)
    if out.duplicated(["year", "carrier"]).any():
        dup = out.loc[out.duplicated(["year", "carrier"])].iloc[0]
        raise ValidationError(f"carrier {dup['carrier']!r}", "one row per year", f"{dup['year']} twice")
    return out
