"""Forecasting many series (every meter of a park) in one call, over the cores.

Each series is forecast and backtested on its own (under ``auto`` each chooses its own
model), in worker processes started by ``forkserver`` (never a plain fork of a process
that may hold LightGBM's OpenMP threads). ``on_done`` is called in the caller's process
as each series finishes, which is where a progress bar advances.

Parallelism is by process only: each worker keeps BLAS and OpenMP to one thread
(:func:`_init_worker`), as LightGBM already is (``num_threads=1``), so that *n* workers
use *n* cores rather than *n* times the BLAS pool; with one worker the loop runs in the
caller's process under the same limit. A ridge fit makes many BLAS calls on modest
matrices, where a second BLAS thread mostly waits for a core on a busy machine: on 2
shared cores (load 1.7–4, 2026-11-24, bench/README.md ``forecast_speed.py``) 40 series
of a year each took 6.9–16.8 s without the limit and 1.5–4.0 s with it, and 20 series
in one process 3.9–13.2 s against 0.53–0.57 s.

References
----------
Issue 9 items 7 and 9b; DESIGN.md "Scale path" (batch forecasting fans out by series).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed

import pandas as pd

from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.contract import Forecaster, normalise_freq, validate_future, validate_history
from carbonpark.forecast.selection import ForecastRun, run_forecast

__all__ = ["forecast_many"]

# Thread-count variables read by BLAS and OpenMP runtimes when they are loaded; set in a
# worker for the libraries it loads later (scipy's own OpenBLAS, libgomp of LightGBM).
_ONE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker() -> None:
    """Keep a worker process to one BLAS/OpenMP thread.

    numpy's OpenBLAS is already loaded when the worker starts (the forkserver preloads
    :mod:`carbonpark.forecast`), so its pool is resized with ``threadpoolctl``; the
    environment variables cover the runtimes loaded afterwards. The limit is left in
    place for the worker's life (``threadpool_limits`` restores only when used as a
    context manager).
    """
    for name in _ONE_THREAD_ENV:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


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

    Raises
    ------
    ValidationError
        If ``history`` or ``future`` breaks the contract (checked for every series
        before any is forecast, whatever ``failures`` is), or, without ``failures``,
        if a series cannot be forecast.
    """
    freq = normalise_freq(freq)
    hist = validate_history(history, freq, min_length=1)
    # Future rows are checked for every series here, before any is forecast: a wrong
    # count or grid fails the whole call at once (None when there are no features).
    fut_all = validate_future(future, hist, horizon, freq)
    fut_by_sid: dict[str, pd.DataFrame] = (
        {} if fut_all is None else {str(sid): rows for sid, rows in fut_all.groupby("series_id", sort=False)}
    )
    jobs: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    for sid, group in hist.groupby("series_id", sort=False):
        fut = fut_by_sid.get(str(sid))
        jobs[str(sid)] = (group.reset_index(drop=True), None if fut is None else fut.reset_index(drop=True))
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = max(1, min(workers, len(jobs)))
    results: dict[str, ForecastRun | str] = {}
    if n_workers == 1:
        # In this process too: one BLAS thread for the loop, the caller's limits restored
        # afterwards (covers the runtimes already loaded, numpy's OpenBLAS among them).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
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
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_init_worker) as pool:
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
