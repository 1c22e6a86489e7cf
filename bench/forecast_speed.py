"""Benchmark: day-ahead forecasts for 1,000 hourly series of one year each, on every core.

Series: synthetic loads (deterministic seed) with a daily and weekly shape of random
amplitude, an annual swing, a level and noise, 8,760 hours each. carbonpark's
many-series call (``forecast_many``) with the default model of a park-wide run
(``carbonpark.services.forecasting.BULK_MODEL``, ridge on anchored lags and calendar) is
timed end to end: validation, fitting, its rolling-origin backtest against seasonal naive
(``--windows``) and the day-ahead forecast, in worker processes over the cores. The
baseline measured in the same run is the same call with seasonal naive. The 1-minute
load average before and after the run is printed too (the cores are often shared).

Prints one JSON line. Usage: ``python bench/forecast_speed.py [--series 1000] [--windows 1]``.
Target (issue 9): under 5 minutes for 1,000 series on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd

from carbonpark.forecast import forecast_many
from carbonpark.services.forecasting import BULK_MODEL

HOURS = 8760


def series(count: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=HOURS, freq="h")
    hour = ts.hour.to_numpy()
    weekday = ts.dayofweek.to_numpy() < 5
    annual = np.cos(2 * np.pi * np.arange(HOURS) / HOURS)
    parts = []
    for i in range(count):
        level, day_amp, week_amp, season_amp = rng.uniform([50, 0.2, 0.1, 0.0], [5000, 0.6, 0.5, 0.3])
        shape = np.clip(np.sin((hour - 6) / 14 * np.pi), 0, None)
        y = level * (1 + day_amp * shape * np.where(weekday, 1.0, 1 - week_amp) + season_amp * annual)
        y = y * (1 + rng.normal(0, 0.03, HOURS))
        parts.append(pd.DataFrame({"series_id": f"s{i:04d}", "ts": ts, "value": y}))
    return pd.concat(parts, ignore_index=True)


def timed(frame: pd.DataFrame, model: str, windows: int) -> tuple[float, int]:
    started = time.perf_counter()
    runs = forecast_many(frame, 24, "h", model=model, windows=windows)
    return time.perf_counter() - started, len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    frame = series(args.series)
    ours, n = timed(frame, BULK_MODEL, args.windows)
    naive, _ = timed(frame, "seasonal_naive", args.windows)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        json.dumps(
            {
                "bench": "forecast_speed",
                "series": n,
                "hours_each": HOURS,
                "horizon": 24,
                "backtest_windows": args.windows,
                "cores": cores,
                "model": BULK_MODEL,
                "carbonpark_s": round(ours, 1),
                "seasonal_naive_same_call_s": round(naive, 1),
                "target_s": 300,
                "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
        )
    )


if __name__ == "__main__":
    main()
