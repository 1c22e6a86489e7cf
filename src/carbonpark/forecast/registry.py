"""Forecasters by name: the built-ins, then those installed under ``carbonpark.forecasters``.

A third party adds a forecaster by declaring an entry point in the group
``carbonpark.forecasters`` whose object is a class (or any callable without arguments)
returning an object with ``name`` and ``forecast(history, horizon, freq, future)`` that
follows :mod:`carbonpark.forecast.contract`.

References
----------
SPEC C21 (extension points); DESIGN.md "One contract per family of models".
"""

from __future__ import annotations

from collections.abc import Callable

from carbonpark import extensions
from carbonpark.errors import CarbonparkError, ValidationError
from carbonpark.forecast.baselines import SeasonalNaive
from carbonpark.forecast.contract import Forecaster
from carbonpark.forecast.long_term import (
    ARIMAForecaster,
    ElasticityForecaster,
    ETSForecaster,
    MSTLComboForecaster,
    MSTLForecaster,
    RegressionForecaster,
)
from carbonpark.forecast.selection import AutoForecaster
from carbonpark.forecast.short_term import LightGBMForecaster, LightGBMQuantileForecaster, RidgeForecaster

__all__ = ["FORECASTERS", "available_forecasters", "get_forecaster"]

#: The built-in forecasters: name → factory.
FORECASTERS: dict[str, Callable[[], Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "ridge": RidgeForecaster,
    "lightgbm": LightGBMForecaster,
    "lightgbm_quantile": LightGBMQuantileForecaster,
    "ets": ETSForecaster,
    "arima": ARIMAForecaster,
    "mstl": MSTLForecaster,
    "mstl_combo": MSTLComboForecaster,
    "regression": RegressionForecaster,
    "elasticity": ElasticityForecaster,
    "auto": AutoForecaster,
}


def available_forecasters() -> list[str]:
    """Every forecaster name: built-ins and installed entry points, sorted."""
    return sorted(set(FORECASTERS) | set(extensions.available("forecasters")))


def get_forecaster(name: str) -> Forecaster:
    """A new forecaster called ``name``.

    Raises
    ------
    ValidationError
        If no built-in and no installed entry point has that name; the message lists them.
    """
    if name in FORECASTERS:
        return FORECASTERS[name]()
    try:
        factory = extensions.load("forecasters", name)
    except CarbonparkError as exc:
        raise ValidationError("model", f"one of {available_forecasters()}", name) from exc
    forecaster = factory() if callable(factory) else factory
    if not isinstance(forecaster, Forecaster):
        raise ValidationError(f"forecaster {name!r}", "an object with name and forecast()", type(forecaster).__name__)
    return forecaster
