"""Many series in one call, over the cores: the same answers as one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from carbonpark.cli.common import new_app
from carbonpark.cli.forecast_cmds import register
from carbonpark.forecast import forecast_many, run_forecast


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
