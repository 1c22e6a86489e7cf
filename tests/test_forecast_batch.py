"""Many series in one call, over the cores: the same answers as one at a time."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import register
from carbonpark.errors import ValidationError
from carbonpark.forecast import forecast_many, run_forecast
from carbonpark.forecast.batch import _init_worker


def _meters() -> pd.DataFrame:
    # two meters, 14 days hourly: a daily cycle of amplitude 20 around 100 and 200, noise sd 1
    hours = np.arange(24 * 14)
    rng = np.random.default_rng(11)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "series_id": f"meter-{i}",
                    "ts": pd.date_range("2025-04-01", periods=hours.size, freq="h"),
                    "value": 100 * (i + 1) + 20 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, hours.size),
                }
            )
            for i in range(2)
        ],
        ignore_index=True,
    )


def test_parallel_equals_one_at_a_time() -> None:
    meters = _meters()
    finished: list[str] = []
    runs = forecast_many(meters, 24, "h", model="ridge", workers=2, on_done=finished.append)
    assert sorted(finished) == ["meter-0", "meter-1"]
    assert list(runs) == ["meter-0", "meter-1"]
    for sid, run in runs.items():
        alone = run_forecast(meters[meters["series_id"] == sid], 24, "h", model="ridge")
        assert np.allclose(run.forecast["mean"], alone.forecast["mean"], rtol=0, atol=1e-9)
        assert run.backtest is not None and alone.backtest is not None
        assert run.backtest["mae"] == alone.backtest["mae"]
        # each meter keeps its own level: ~100 and ~200
        assert abs(run.forecast["mean"].mean() - (100 if sid == "meter-0" else 200)) < 5


def test_cli_forecasts_every_series_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "meters.csv"
    meters = _meters()
    meters.assign(ts=meters["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(path, index=False)
    app = new_app("t")
    register(app)
    result = CliRunner().invoke(
        app, ["forecast", str(path), "--horizon", "24", "--freq", "h", "--model", "seasonal_naive", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["models"] == {"meter-0": "seasonal_naive", "meter-1": "seasonal_naive"}
    assert len(doc["forecast"]) == 48
    assert set(doc["backtest"]["series"]) == {"meter-0", "meter-1"}
    assert doc["forecast"][24]["series_id"] == "meter-1"
    assert doc["forecast"][24]["ts"] == "2025-04-15T00:00:00+08:00"


def _with_temperature() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two meters with a temperature column, and its 24 known future hours per meter."""
    meters = _meters()
    hours = np.arange(24 * 15)
    temp = 20 + 5 * np.cos(2 * np.pi * hours / 24)
    history = meters.assign(temperature=np.tile(temp[: 24 * 14], 2))
    future = pd.concat(
        [
            pd.DataFrame(
                {
                    "series_id": sid,
                    "ts": pd.date_range("2025-04-15", periods=24, freq="h"),
                    "temperature": temp[24 * 14 :],
                }
            )
            for sid in ("meter-0", "meter-1")
        ],
        ignore_index=True,
    )
    return history, future


def test_features_over_workers_equal_one_at_a_time() -> None:
    history, future = _with_temperature()
    runs = forecast_many(history, 24, "h", model="ridge", future=future, workers=2)
    for sid, run in runs.items():
        alone = run_forecast(
            history[history["series_id"] == sid], 24, "h", model="ridge", future=future[future["series_id"] == sid]
        )
        assert np.allclose(run.forecast["mean"], alone.forecast["mean"], rtol=0, atol=1e-9)


def test_wrong_future_row_count_fails_before_any_series_is_forecast() -> None:
    history, future = _with_temperature()
    short = future.drop(index=future.index[-1])  # meter-1 gets 23 future hours instead of 24
    finished: list[str] = []
    failures: dict[str, str] = {}
    with pytest.raises(ValidationError) as caught:
        forecast_many(
            history, 24, "h", model="ridge", future=short, workers=2, on_done=finished.append, failures=failures
        )
    assert caught.value.field == "series 'meter-1' future rows"
    assert caught.value.got == 23
    # nothing ran: meter-0, whose rows are right, was not forecast either
    assert finished == [] and failures == {}


def test_worker_keeps_blas_and_openmp_to_one_thread() -> None:
    # A pool built like forecast_many's: forkserver preloading carbonpark.forecast (numpy's
    # OpenBLAS already loaded when the initializer runs), one worker so every call lands in it.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["carbonpark.forecast"])
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init_worker) as pool:
        before = pool.submit(threadpool_info).result()
        # runtimes loaded after the initializer: scipy's own OpenBLAS, LightGBM's libgomp
        # (``exec`` returns None; a module itself cannot travel back between processes)
        pool.submit(exec, "import scipy.linalg, lightgbm").result()
        after = pool.submit(threadpool_info).result()
        omp = pool.submit(os.getenv, "OMP_NUM_THREADS").result()
    assert any(lib["internal_api"] == "openblas" for lib in before)
    assert [lib["num_threads"] for lib in before] == [1] * len(before)
    assert len(after) >= len(before)
    assert [lib["num_threads"] for lib in after] == [1] * len(after)
    assert omp == "1"


def test_one_worker_runs_with_one_blas_thread_and_restores_the_callers() -> None:
    before = [lib["num_threads"] for lib in threadpool_info()]
    during: list[list[int]] = []
    forecast_many(
        _meters(),
        24,
        "h",
        model="ridge",
        workers=1,
        on_done=lambda _sid: during.append([lib["num_threads"] for lib in threadpool_info()]),
    )
    # on_done runs in this process inside the loop: two series, every pool at one thread
    assert len(during) == 2 and all(threads == [1] * len(threads) for threads in during)
    assert [lib["num_threads"] for lib in threadpool_info()][: len(before)] == before
