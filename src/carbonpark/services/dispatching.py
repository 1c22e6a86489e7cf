"""Dispatch of the park from its stored data: day-ahead on forecasts, rolling horizon, annual (issue 10).

The dispatch engine never imports the forecasting engine: this service forecasts the
load with :mod:`carbonpark.services.forecasting` and hands the numbers to the scenario
(day ahead) or to :func:`carbonpark.dispatch.forecast_from_table` (rolling horizon).

The park's electricity system as the demo meters it: the grid intake, a roof-top PV
plant and a battery behind it. The load the dispatch must serve is the *gross* load
``intake + PV − battery charge + battery discharge`` (the intake is net of them). Choices
where the issue is silent:

* PV capacity is the largest hourly PV output observed divided by 0.8 (the plant rarely
  exceeds 80 % of its DC rating); the annual run uses the measured PV profile, the
  day-ahead run a pvlib profile from clear-sky irradiance at the park (an optimistic
  upper bound: the dispatch may curtail);
* prices: an illustrative time-of-use shape (valley 0.29, flat 0.64, peak 1.07 CNY/kWh,
  peaks 8–11 h and 17–22 h) in the style of East-China industrial tariffs;
* the grid factor is the national consumption-side factor of the factor library, via
  the accounting engine;
* the battery: 1,000 kWh / 500 kW, 95 % each way, state of charge 10–95 %, starting
  and ending at 50 %.

References
----------
Guide §4.6 (integrated energy dispatch, source–grid–load–storage); SPEC C10.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carbonpark import dispatch
from carbonpark.dispatch.charts import write_charts
from carbonpark.errors import ValidationError
from carbonpark.services import forecasting

__all__ = [
    "BATTERY",
    "demo_step",
    "park_day_ahead",
    "park_electricity",
    "park_rolling",
    "park_scenario",
    "park_stored_period",
    "tou_prices",
]

#: Demo park's location [°]: the forecasting service's (Suzhou, Jiangsu).
PARK_LATITUDE, PARK_LONGITUDE = forecasting.PARK_LOCATION
BATTERY: dict[str, Any] = {
    "type": "battery",
    "name": "bess",
    "energy_kwh": 1000.0,
    "power_kw": 500.0,
    "charge_efficiency": 0.95,
    "discharge_efficiency": 0.95,
    "soc_initial": 0.5,
    "soc_min": 0.1,
    "soc_max": 0.95,
}
_METERS = {"intake": "park-E-intake", "pv": "park-E-pv", "charge": "park-E-bess-chg", "discharge": "park-E-bess-dis"}


def tou_prices(starts: pd.DatetimeIndex) -> list[float]:
    """Illustrative time-of-use import prices [CNY/kWh] by hour of day (see the module doc)."""
    hour = np.asarray(starts.hour)
    peak = ((hour >= 8) & (hour < 11)) | ((hour >= 17) & (hour < 22))
    price = np.where(hour < 8, 0.29, np.where(peak, 1.07, 0.64))
    return [float(p) for p in price]


def park_electricity(db: str | None) -> pd.DataFrame:
    """Hourly ``intake``, ``pv``, ``charge``, ``discharge`` and gross ``load`` of the park [kWh/h = kW]."""
    stored = forecasting.series_frame(db, meters=[code for code in _METERS.values()])
    wide = stored.frame.pivot(index="ts", columns="series_id", values="value").dropna()
    out = pd.DataFrame({key: wide[code] for key, code in _METERS.items()}, index=wide.index)
    out["load"] = (out["intake"] + out["pv"] - out["charge"] + out["discharge"]).clip(lower=0)
    return out


def _grid_factor_kg_per_kwh() -> float:
    return forecasting.grid_factor_tco2_per_kwh() * 1000.0


def park_scenario(
    start: pd.Timestamp, load: np.ndarray, pv_kw: float, pv: dict[str, Any], objective: Any = "cost"
) -> dispatch.Scenario:
    """The park's electricity scenario: grid, PV (``profile`` or ``irradiance``), battery."""
    starts = pd.date_range(start, periods=len(load), freq="h")
    return dispatch.parse_scenario(
        {
            "horizon": {"start": start.isoformat(), "steps": len(load), "step_hours": 1},
            "loads": {"electricity": [round(float(v), 3) for v in load]},
            "assets": [
                {
                    "type": "grid",
                    "name": "grid",
                    "import_max_kw": float(np.max(load)) * 1.5 + BATTERY["power_kw"],
                    "export_max_kw": 0.0,
                    "import_price": tou_prices(starts),
                    "export_price": 0.0,
                    "carbon_kg_per_kwh": round(_grid_factor_kg_per_kwh(), 6),
                },
                {"type": "pv", "name": "pv", "capacity_kw": pv_kw, **pv},
                BATTERY,
            ],
            "objective": objective,
        }
    )


def _pv_capacity(pv: pd.Series) -> float:
    return round(float(pv.max()) / 0.8, 1) if float(pv.max()) > 0 else 0.0


def _clear_sky_ghi(starts: pd.DatetimeIndex) -> list[float]:
    from carbonpark.forecast.solar import clear_sky_ghi

    return [round(float(v), 2) for v in clear_sky_ghi(starts, "h", PARK_LATITUDE, PARK_LONGITUDE)]


def _load_forecast(history: pd.Series, horizon: int, model: str) -> np.ndarray:
    frame = pd.DataFrame({"series_id": "load", "ts": history.index, "value": history.to_numpy()})
    out = forecasting.forecast.get_forecaster(model).forecast(frame, horizon, "h")
    return np.clip(out["mean"].to_numpy(dtype=float), 0.0, None)


def park_day_ahead(db: str | None, model: str = forecasting.BULK_MODEL) -> tuple[dispatch.DispatchResult, Any]:
    """Dispatch of the day after the data on the forecast gross load, PV from pvlib (clear sky)."""
    data = park_electricity(db)
    load = _load_forecast(data["load"], 24, model)
    start = data.index[-1] + pd.Timedelta(hours=1)
    starts = pd.date_range(start, periods=24, freq="h")
    irradiance = {"ghi_w_m2": _clear_sky_ghi(starts), "latitude": PARK_LATITUDE, "longitude": PARK_LONGITUDE}
    scenario = park_scenario(start, load, _pv_capacity(data["pv"]), {"irradiance": irradiance})
    return dispatch.solve_dispatch(scenario), scenario


def park_stored_period(db: str | None) -> tuple[dispatch.DispatchResult, Any]:
    """Dispatch over the whole stored record (a year of 8,760 hours for the full demo), measured PV."""
    data = park_electricity(db)
    capacity = _pv_capacity(data["pv"])
    profile = (data["pv"] / capacity).clip(0, 1).round(6).tolist() if capacity else 0.0
    scenario = park_scenario(data.index[0], data["load"].to_numpy(), capacity, {"profile": profile})
    return dispatch.solve_dispatch(scenario), scenario


def park_rolling(
    db: str | None, days: int = 2, window: int = 24, commit: int = 6, model: str = forecasting.BULK_MODEL
) -> tuple[dispatch.DispatchResult, Any]:
    """Rolling horizon over the last ``days`` of data on forecasts issued every ``commit`` hours.

    At each issue the load of the next ``window`` hours is forecast from the data before
    it; the kept hours are settled on the measured load (``solve_rolling``).
    """
    data = park_electricity(db)
    steps = 24 * days
    if len(data) < steps + 24 * 14:
        raise ValidationError("park data", f"at least {steps + 24 * 14} hours", len(data))
    period = data.iloc[-steps:]
    capacity = _pv_capacity(data["pv"])
    profile = (period["pv"] / capacity).clip(0, 1).round(6).tolist() if capacity else 0.0
    scenario = park_scenario(period.index[0], period["load"].to_numpy(), capacity, {"profile": profile})
    rows: list[dict[str, Any]] = []  # issued forecasts in the long form of forecast_from_table
    first = len(data) - steps
    for issued in range(0, steps, commit):
        length = min(window, steps - issued)
        values = _load_forecast(data["load"].iloc[: first + issued], length, model)
        rows.extend(
            {"issued_step": issued, "path": "loads.electricity", "step": issued + k, "value": float(v)}
            for k, v in enumerate(values)
        )
    result = dispatch.solve_rolling(scenario, window, commit, dispatch.forecast_from_table(rows))
    return result, scenario


def _summary(result: dispatch.DispatchResult) -> dict[str, Any]:
    savings = result.savings
    return {
        "steps": len(result.timestamps),
        "mode": result.mode,
        "cost_cny": float(result.total_cost),
        "baseline_cost_cny": None if result.baseline.total_cost is None else float(result.baseline.total_cost),
        "savings_cny": None if savings["cost"] is None else float(savings["cost"]),
        "savings_percent": savings["cost_percent"],
        "emissions_tco2e": round(result.total_emissions_tco2e, 3),
        "baseline_emissions_tco2e": result.baseline.total_emissions_tco2e,
    }


def demo_step(db: str | None, out: Path) -> dict[str, Any]:
    """The demo's dispatch step: day ahead, rolling and the stored period, each against its baseline.

    Writes ``dispatch-day-ahead.json`` with charts under ``dispatch-day-ahead/``,
    ``dispatch-rolling.json`` and ``dispatch-annual.json`` to ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    runs = (
        ("day_ahead", park_day_ahead),
        ("rolling", park_rolling),
        ("annual", park_stored_period),
    )
    for name, run in runs:
        result, scenario = run(db)
        doc = result.to_document()
        path = out / f"dispatch-{name.replace('_', '-')}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
        if name == "day_ahead":
            write_charts(result, scenario, out / "dispatch-day-ahead")
        figures[name] = _summary(result)
    figures["output"] = str(out / "dispatch-day-ahead.json")
    return figures
