"""Benchmark: day-ahead accuracy on real electricity load shipped inside a PyPI package.

Data: the half-hourly electricity demand of England and Wales, Monday 5 June to Sunday
27 August 2000 (4,032 values, MW), from Taylor (2003), "Short-term electricity demand
forecasting using double seasonal exponential smoothing", J. Oper. Res. Soc. 54(8); it
ships inside the ``pmdarima`` wheel (``pmdarima.datasets.load_taylor``): nothing is
downloaded at run time.

Day-ahead (48 half-hours) forecasts from ``--origins`` daily origins (default 28: every
day of the last four weeks, the post-sample period of Taylor 2003, whose first eight
weeks are for estimation); ``--before D`` moves the block of origins D days earlier
(``--origins 34 --before 28`` is the development run on weeks 4-8 on which auto's rule
was fixed). At each origin every method sees only the data before it. Compared in the
same run: carbonpark ``auto`` (selection and tie rule on its own rolling-origin backtest
of ``--windows`` daily windows inside the training data), each of auto's candidates on
its own, the better of daily and weekly seasonal naive, and statsforecast's AutoETS
(season 48) and MSTL (seasons 48 and 336, non-seasonal AutoETS trend). Metrics: MAPE
[%] and MASE (scale: in-sample mean absolute daily seasonal difference of each training
part), pooled over the origins, for all origins and for the last 7 (the origins of the
earlier 7-origin runs); the per-origin MASE difference of auto and the better
statsforecast model with its standard error; the coverage of auto's 80 % and 95 %
intervals. carbonpark's calendar features are Chinese holidays; none falls in these
weeks, so they act as plain weekday flags here.

Prints one JSON line (progress on stderr). Usage:
``python bench/forecast_accuracy.py [--origins 28] [--before 0] [--windows 7]``.
Targets (issue 9): MASE at least 25 % below the better naive, and below statsforecast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

from carbonpark.forecast import run_forecast
from carbonpark.forecast.backtest import mase_scale
from carbonpark.forecast.selection import _BUILT_INS, candidates_for

DAY = 48
WEEK = 7 * DAY


def load() -> pd.DataFrame:
    """The Taylor (2003) series as a contract frame (one series, naive timestamps)."""
    from pmdarima.datasets import load_taylor

    y = np.asarray(load_taylor(), dtype=float)
    ts = pd.date_range("2000-06-05", periods=y.size, freq="30min")
    return pd.DataFrame({"series_id": "taylor", "ts": ts, "value": y})


def naive(train: np.ndarray, period: int) -> np.ndarray:
    """Seasonal naive day-ahead path with season ``period`` [half-hours]."""
    return np.asarray([train[-period + (h % period)] for h in range(DAY)])


def statsforecast_paths(train: pd.DataFrame) -> dict[str, np.ndarray]:
    """statsforecast's AutoETS (season 48) and MSTL (48, 336) day-ahead paths."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    frame = train.rename(columns={"series_id": "unique_id", "ts": "ds", "value": "y"})
    sf = StatsForecast(
        models=[AutoETS(season_length=DAY), MSTL(season_length=[DAY, WEEK], trend_forecaster=AutoETS(model="ZZN"))],
        freq="30min",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = sf.forecast(df=frame, h=DAY)
    return {"statsforecast_autoets": out["AutoETS"].to_numpy(), "statsforecast_mstl": out["MSTL"].to_numpy()}


def summarise(
    errors: dict[str, list[np.ndarray]], actuals: list[np.ndarray], scales: list[np.ndarray], last: int
) -> dict[str, dict[str, float]]:
    """MAPE [%] and MASE of every model over the last ``last`` origins."""
    actual = np.concatenate(actuals[-last:])
    scale = np.concatenate(scales[-last:])
    out = {}
    for name, parts in errors.items():
        e = np.concatenate(parts[-last:])
        out[name] = {
            "mape": round(float(100 * np.mean(np.abs(e) / np.abs(actual))), 3),
            "mase": round(float(np.mean(np.abs(e) / scale)), 4),
        }
    return out


def verdict(
    metrics: dict[str, dict[str, float]],
    errors: dict[str, list[np.ndarray]],
    scales: list[np.ndarray],
    last: int,
    statsforecast_models: tuple[str, ...] = ("statsforecast_autoets", "statsforecast_mstl"),
) -> dict[str, object]:
    """Targets over the last ``last`` origins: auto against the better naive and statsforecast."""
    better_naive = min(("naive_daily", "naive_weekly"), key=lambda n: metrics[n]["mase"])
    best_sf = min(statsforecast_models, key=lambda n: metrics[n]["mase"])
    ours = metrics["carbonpark_auto"]["mase"]
    per_origin = np.asarray(
        [
            np.mean(np.abs(a) / s) - np.mean(np.abs(b) / s)
            for a, b, s in zip(errors["carbonpark_auto"][-last:], errors[best_sf][-last:], scales[-last:], strict=True)
        ]
    )
    return {
        "origins": last,
        "better_naive": better_naive,
        "improvement_over_better_naive_mase": round(1 - ours / metrics[better_naive]["mase"], 4),
        "better_statsforecast": best_sf,
        "improvement_over_statsforecast_mase": round(1 - ours / metrics[best_sf]["mase"], 4),
        "beats_statsforecast": ours < metrics[best_sf]["mase"],
        "auto_minus_statsforecast_mase_per_origin": {
            "mean": round(float(per_origin.mean()), 4),
            "standard_error": round(float(per_origin.std(ddof=1) / np.sqrt(per_origin.size)), 4)
            if per_origin.size > 1
            else None,
            "auto_better_at": int((per_origin < 0).sum()),
        },
    }


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--origins", type=int, default=28)
    parser.add_argument("--before", type=int, default=0, help="days between the last origin's day and the end")
    parser.add_argument("--windows", type=int, default=7, help="backtest windows auto chooses on")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    data = load()
    candidates = candidates_for("30min", has_features=False)
    errors: dict[str, list[np.ndarray]] = {}
    actuals: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    chosen: list[str] = []
    inside = {80: 0, 95: 0}
    seconds: dict[str, float] = {"carbonpark_auto": 0.0, "statsforecast": 0.0}
    for k in range(args.origins + args.before, args.before, -1):
        cut = len(data) - k * DAY
        train, test = data.iloc[:cut], data["value"].to_numpy()[cut : cut + DAY]
        y = train["value"].to_numpy()
        started = time.perf_counter()
        run = run_forecast(train, DAY, "30min", model="auto", windows=args.windows)
        seconds["carbonpark_auto"] += time.perf_counter() - started
        chosen.append(run.model)
        for level in inside:
            fc = run.forecast
            inside[level] += int(((test >= fc[f"lo-{level}"]) & (test <= fc[f"hi-{level}"])).sum())
        paths = {"carbonpark_auto": run.forecast["mean"].to_numpy()}
        for name in candidates:  # each candidate on its own, for reference (not a target figure)
            paths[f"carbonpark_{name}"] = _BUILT_INS[name]().forecast(train, DAY, "30min")["mean"].to_numpy()
        paths["naive_daily"] = naive(y, DAY)
        paths["naive_weekly"] = naive(y, WEEK)
        started = time.perf_counter()
        paths.update(statsforecast_paths(train))
        seconds["statsforecast"] += time.perf_counter() - started
        for name, path in paths.items():
            errors.setdefault(name, []).append(test - path)
        actuals.append(test)
        scales.append(np.full(DAY, mase_scale(y, DAY)))
        print(f"origin {train['ts'].iloc[-1]}: auto chose {run.model}", file=sys.stderr, flush=True)
    groups = sorted({args.origins, min(7, args.origins)}, reverse=True)
    results = {}
    for last in groups:
        metrics = summarise(errors, actuals, scales, last)
        results[f"last_{last}_origins"] = {"metrics": metrics, **verdict(metrics, errors, scales, last)}
    n = args.origins * DAY
    line = {
        "bench": "forecast_accuracy",
        "date": dt.date.today().isoformat(),
        "data": "pmdarima.datasets.load_taylor (England and Wales demand, Jun-Aug 2000, half-hourly)",
        "origins": args.origins,
        "training_days_at_first_origin": int(len(data) // DAY - args.origins - args.before),
        "before": args.before,
        "auto_backtest_windows": args.windows,
        "horizon": DAY,
        "results": results,
        "carbonpark_models_chosen": chosen,
        "auto_interval_coverage": {f"{level}": round(count / n, 3) for level, count in inside.items()},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "load_average_1min": {"start": round(load_at_start[0], 2), "end": round(os.getloadavg()[0], 2)},
        "cpus": os.cpu_count(),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
