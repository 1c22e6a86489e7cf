"""Forecasting many series (every meter of a park) in one call, over the cores.

Each series is forecast and backtested on its own (under ``auto`` each chooses its own
model), in worker processes started by ``forkserver`` (never a plain fork of a process
that may hold LightGBM's OpenMP threads). ``on_done`` is called in the caller's process
as each series finishes, which is where a progress bar advances.

References
----------
Issue 9 item 7; DESIGN.md "Scale path" (batch forecasting fans out by series).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed

import pandas as pd

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.contract import Forecaster, feature_columns, normalise_freq, validate_history
from carbonpark.forecast.selection import ForecastRun, run_forecast

__all__ = ["forecast_many"]


def _one(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    model: str,
    future: pd.DataFrame | None,
    windows: int,
    resolve: Callable[[str], Forecaster] | None,
) -> ForecastRun | str:
    """One series; a carbonpark error comes back as its message (exceptions with required
    arguments do not survive the trip between processes)."""
    try:
        return run_forecast(history, horizon, freq, model=model, future=future, windows=windows, resolve=resolve)
    except CarbonparkError as exc:
        return str(exc)


def forecast_many(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    model: str = "auto",
    future: pd.DataFrame | None = None,
    windows: int = 3,
    workers: int | None = None,
    on_done: Callable[[str], None] | None = None,
    resolve: Callable[[str], Forecaster] | None = None,
    failures: dict[str, str] | None = None,
) -> dict[str, ForecastRun]:
    """Forecast and backtest every series of ``history`` separately.

    Parameters
    ----------
    history, future
        The contract's frames, any number of series.
    horizon, freq, model, windows
        As for :func:`carbonpark.forecast.run_forecast` (built-in model names).
    workers
        Processes to use (default: the cores available); 1 runs in this process.
    on_done
        Called with each series id as it finishes.
    resolve
        Turns a model name into a forecaster (a module-level function, so that it
        reaches the worker processes), e.g. the registry's ``get_forecaster``.
    failures
        If given, a series that cannot be forecast (too short, constant, …) is recorded
        here (series id → reason) and left out of the result; otherwise the first such
        series raises :class:`ValidationError` naming it.

    Returns
    -------
    dict
        series id → :class:`ForecastRun`, in the order of the series in ``history``.
    """
    freq = normalise_freq(freq)
    hist = validate_history(history, freq, min_length=1)
    features = feature_columns(hist)
    jobs: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    for sid, group in hist.groupby("series_id", sort=False):
        fut = None
        if future is not None and features:
            ids = (
                future["series_id"].astype(str)
                if "series_id" in future.columns
                else pd.Series("series", index=future.index)
            )
            fut = future.loc[ids == sid]
        jobs[str(sid)] = (group.reset_index(drop=True), fut)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = max(1, min(workers, len(jobs)))
    results: dict[str, ForecastRun | str] = {}
    if n_workers == 1:
        for sid, (group, fut) in jobs.items():
            results[sid] = _one(group, horizon, freq, model, fut, windows, resolve)
            if on_done is not None:
                on_done(sid)
        return _collect(jobs, results, failures)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["carbonpark.forecast"])
    # Series travel in chunks (fewer round trips; about four chunks per worker keeps the
    # cores balanced and the progress bar moving).
    ids = list(jobs)
    size = max(1, min(64, math.ceil(len(ids) / (4 * n_workers))))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
        pending = {
            pool.submit(_chunk, [(sid, *jobs[sid]) for sid in chunk], horizon, freq, model, windows, resolve): chunk
            for chunk in chunks
        }
        for done in as_completed(pending):
            for sid, result in zip(pending[done], done.result(), strict=True):
                results[sid] = result
                if on_done is not None:
                    on_done(sid)
    return _collect(jobs, results, failures)


def _chunk(
    items: list[tuple[str, pd.DataFrame, pd.DataFrame | None]],
    horizon: int,
    freq: str,
    model: str,
    windows: int,
    resolve: Callable[[str], Forecaster] | None,
) -> list[ForecastRun | str]:
    """Several series in one worker call, in order."""
    return [_one(group, horizon, freq, model, fut, windows, resolve) for _, group, fut in items]


def _collect(
    jobs: Mapping[str, object], results: dict[str, ForecastRun | str], failures: dict[str, str] | None
) -> dict[str, ForecastRun]:
    out: dict[str, ForecastRun] = {}
    for sid in jobs:
        result = results[sid]
        if isinstance(result, str):
            if failures is None:
                raise ValidationError(f"series {sid!r}", "a series the model can forecast", result)
            failures[sid] = result
        else:
            out[sid] = result
    return out
