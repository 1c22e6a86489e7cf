"""Benchmark: day-ahead accuracy on real electricity load shipped inside a PyPI package.

Data: the half-hourly electricity demand of England and Wales, Monday 5 June to Sunday
27 August 2000 (4,032 values, MW), from Taylor (2003), "Short-term electricity demand
forecasting using double seasonal exponential smoothing", J. Oper. Res. Soc. 54(8); it
ships inside the ``pmdarima`` wheel (``pmdarima.datasets.load_taylor``): nothing is
downloaded at run time.

Day-ahead (48 half-hours) forecasts from ``--origins`` daily origins at the end of the
series; at each origin every method sees only the data before it. Compared in the same
run: carbonpark ``auto`` (selection by its own rolling-origin backtest inside the
training data), the better of daily and weekly seasonal naive, and statsforecast's
AutoETS (season 48) and MSTL (seasons 48 and 336, non-seasonal AutoETS trend). Metrics: MAPE [%] and
MASE (scale: in-sample mean absolute daily seasonal difference of each training part),
pooled over the origins. carbonpark's calendar features are Chinese holidays; none falls
in these weeks, so they act as plain weekday flags here.

Prints one JSON line. Usage: ``python bench/forecast_accuracy.py [--origins 7] [--windows 3]``;
``carbonpark_mstl_combo`` is one of auto's candidates on its own, for reference.
Targets (issue 9): MASE at least 25 % below the better naive, and below statsforecast.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

from carbonpark.forecast import MSTLComboForecaster, run_forecast
from carbonpark.forecast.backtest import mase_scale

DAY = 48
WEEK = 7 * DAY


def load() -> pd.DataFrame:
    from pmdarima.datasets import load_taylor

    y = np.asarray(load_taylor(), dtype=float)
    ts = pd.date_range("2000-06-05", periods=y.size, freq="30min")
    return pd.DataFrame({"series_id": "taylor", "ts": ts, "value": y})


def naive(train: np.ndarray, period: int) -> np.ndarray:
    return np.asarray([train[-period + (h % period)] for h in range(DAY)])


def statsforecast_paths(train: pd.DataFrame) -> dict[str, np.ndarray]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=7)
    parser.add_argument("--windows", type=int, default=3, help="backtest windows auto selects on")
    args = parser.parse_args()
    data = load()
    errors: dict[str, list[np.ndarray]] = {}
    actuals: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    chosen: list[str] = []
    seconds: dict[str, float] = {"carbonpark_auto": 0.0, "statsforecast": 0.0}
    for k in range(args.origins, 0, -1):
        cut = len(data) - k * DAY
        train, test = data.iloc[:cut], data["value"].to_numpy()[cut : cut + DAY]
        y = train["value"].to_numpy()
        started = time.perf_counter()
        run = run_forecast(train, DAY, "30min", model="auto", windows=args.windows)
        seconds["carbonpark_auto"] += time.perf_counter() - started
        chosen.append(run.model)
        paths = {
            "carbonpark_auto": run.forecast["mean"].to_numpy(),
            "naive_daily": naive(y, DAY),
            "naive_weekly": naive(y, WEEK),
            # one candidate on its own, for reference (not a target figure)
            "carbonpark_mstl_combo": MSTLComboForecaster().forecast(train, DAY, "30min")["mean"].to_numpy(),
        }
        started = time.perf_counter()
        paths.update(statsforecast_paths(train))
        seconds["statsforecast"] += time.perf_counter() - started
        for name, path in paths.items():
            errors.setdefault(name, []).append(test - path)
        actuals.append(test)
        scales.append(np.full(DAY, mase_scale(y, DAY)))
    actual = np.concatenate(actuals)
    scale = np.concatenate(scales)
    metrics = {}
    for name, parts in errors.items():
        e = np.concatenate(parts)
        metrics[name] = {
            "mape": round(float(100 * np.mean(np.abs(e) / np.abs(actual))), 3),
            "mase": round(float(np.mean(np.abs(e) / scale)), 4),
        }
    better_naive = min(("naive_daily", "naive_weekly"), key=lambda n: metrics[n]["mase"])
    best_sf = min(("statsforecast_autoets", "statsforecast_mstl"), key=lambda n: metrics[n]["mase"])
    ours = metrics["carbonpark_auto"]["mase"]
    line = {
        "bench": "forecast_accuracy",
        "data": "pmdarima.datasets.load_taylor (England and Wales demand, Jun-Aug 2000, half-hourly)",
        "origins": args.origins,
        "auto_backtest_windows": args.windows,
        "horizon": DAY,
        "metrics": metrics,
        "carbonpark_models_chosen": chosen,
        "better_naive": better_naive,
        "improvement_over_better_naive_mase": round(1 - ours / metrics[better_naive]["mase"], 4),
        "better_statsforecast": best_sf,
        "beats_statsforecast": ours < metrics[best_sf]["mase"],
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
