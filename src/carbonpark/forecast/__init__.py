"""carbonpark.forecast: energy demand and emission forecasting (SPEC C8, C9; guide §4.4, §4.5).

Every forecaster follows one contract (:mod:`carbonpark.forecast.contract`): a
long-format frame in (``series_id``, ``ts``, ``value``, features), one frame out
(``series_id``, ``ts``, ``mean``, ``lo-80``, ``hi-80``, ``lo-95``, ``hi-95``).
"""

from __future__ import annotations

from carbonpark.forecast.backtest import BacktestResult, interval_metrics, point_metrics, rolling_origin
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.batch import forecast_many
from carbonpark.forecast.calendar import calendar_features, working_days_in_month
from carbonpark.forecast.contract import (
    FREQUENCIES,
    OUTPUT_COLUMNS,
    Forecaster,
    SeriesForecaster,
    check_forecast,
    feature_columns,
    future_timestamps,
    normalise_freq,
    split_history_future,
    validate_future,
    validate_history,
)
from carbonpark.forecast.emissions import (
    combustion_emissions_tco2,
    emissions_by_year,
    factor_for_year,
    linear_trajectory,
)
from carbonpark.forecast.long_term import (
    ARIMAForecaster,
    ElasticityForecaster,
    ETSForecaster,
    MSTLComboForecaster,
    MSTLForecaster,
    RegressionForecaster,
    decompose,
)
from carbonpark.forecast.peak import (
    NewEnterprise,
    Peak,
    Removal,
    Retrofit,
    Scenario,
    ScenarioResult,
    apply_scenario,
    elasticity_projection,
    find_peak,
    forecast_energy_by_carrier,
    neutral_year,
    run_scenario,
)
from carbonpark.forecast.registry import FORECASTERS, available_forecasters, get_forecaster
from carbonpark.forecast.selection import AutoForecaster, ForecastRun, run_forecast, select_model
from carbonpark.forecast.short_term import LightGBMForecaster, RidgeForecaster

__all__ = [
    "FORECASTERS",
    "FREQUENCIES",
    "OUTPUT_COLUMNS",
    "ARIMAForecaster",
    "AutoForecaster",
    "BacktestResult",
    "ETSForecaster",
    "ElasticityForecaster",
    "ForecastRun",
    "Forecaster",
    "LightGBMForecaster",
    "MSTLComboForecaster",
    "MSTLForecaster",
    "NewEnterprise",
    "Peak",
    "RegressionForecaster",
    "Removal",
    "Retrofit",
    "RidgeForecaster",
    "Scenario",
    "ScenarioResult",
    "SeasonalNaive",
    "SeriesForecaster",
    "apply_scenario",
    "available_forecasters",
    "calendar_features",
    "check_forecast",
    "combustion_emissions_tco2",
    "decompose",
    "elasticity_projection",
    "emissions_by_year",
    "factor_for_year",
    "feature_columns",
    "find_peak",
    "forecast_energy_by_carrier",
    "forecast_many",
    "future_timestamps",
    "get_forecaster",
    "interval_metrics",
    "linear_trajectory",
    "neutral_year",
    "normalise_freq",
    "point_metrics",
    "rolling_origin",
    "run_forecast",
    "run_scenario",
    "select_model",
    "split_history_future",
    "validate_future",
    "validate_history",
    "working_days_in_month",
]
