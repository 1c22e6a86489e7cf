"""Clear-sky irradiance as a forecast feature: known in the future without a weather forecast.

The output of a PV plant is the sun's geometry times the sky's transparency. The geometry
is known for any date ahead, so the clear-sky global horizontal irradiance at the site is
a feature whose future values are exact: it carries the length of the day, the height of
the sun and their drift through the season. What a learner then estimates from the
history is how much of the clear sky the plant usually converts (the cloudiness and the
plant's size and losses); the weather of the forecast day stays unknown, which is what a
weather forecast would add.

Chain: sun position (NREL SPA in pvlib) at the middle of each step → Ineichen–Perez
clear-sky model with pvlib's monthly Linke turbidity climatology at the site. A daily
step gets the mean of its 24 hourly values.

References
----------
Ineichen & Perez (2002), "A new airmass independent formulation for the Linke turbidity
coefficient", Solar Energy 73(3); Reda & Andreas (2004), "Solar position algorithm for
solar radiation applications", Solar Energy 76(5); Holmgren, Hansen, Mikofski (2018),
"pvlib python", JOSS 3(29) 884; guide §4.4(2) (short-term forecasts on weather features).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError
from carbonpark.forecast.contract import future_timestamps, normalise_freq, validate_history

__all__ = ["CLEAR_SKY_COLUMN", "clear_sky_ghi", "with_clear_sky"]

#: Name of the feature column :func:`with_clear_sky` adds [W/m²].
CLEAR_SKY_COLUMN = "clear_sky_ghi_w_m2"

_STEP: dict[str, pd.Timedelta] = {
    "15min": pd.Timedelta(minutes=15),
    "30min": pd.Timedelta(minutes=30),
    "h": pd.Timedelta(hours=1),
}


def clear_sky_ghi(
    ts: pd.DatetimeIndex,
    freq: str,
    latitude: float,
    longitude: float,
    timezone: str = "Asia/Shanghai",
    altitude_m: float = 0.0,
) -> np.ndarray:
    """Mean clear-sky global horizontal irradiance of each step [W/m²].

    Parameters
    ----------
    ts
        Naive local start of each step.
    freq
        ``15min``, ``30min``, ``h`` (the sun at the middle of the step) or ``D`` (the mean
        of the day's 24 hourly values).
    latitude, longitude
        Site [°, north and east positive].
    timezone
        IANA zone of the naive timestamps.
    altitude_m
        Site altitude above sea level [m].

    Raises
    ------
    ValidationError
        For monthly or yearly steps (the feature is meant for day-ahead horizons).
    """
    import pvlib

    f = normalise_freq(freq)
    stamps = pd.DatetimeIndex(ts)
    if f == "D":
        hours = pd.DatetimeIndex(np.repeat(stamps.normalize().to_numpy(), 24)) + pd.to_timedelta(
            np.tile(np.arange(24), len(stamps)), unit="h"
        )
        hourly = clear_sky_ghi(hours, "h", latitude, longitude, timezone, altitude_m)
        return np.asarray(hourly.reshape(len(stamps), 24).mean(axis=1), dtype=float)
    if f not in _STEP:
        raise ValidationError("freq", "15min, 30min, h or D for the clear-sky feature", freq)
    if stamps.empty:
        return np.zeros(0)
    mid = (stamps + _STEP[f] / 2).tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    site = pvlib.location.Location(latitude, longitude, tz=timezone, altitude=altitude_m)
    ghi = site.get_clearsky(mid, model="ineichen")["ghi"].to_numpy(dtype=float)
    return np.clip(np.nan_to_num(ghi), 0.0, None)


def with_clear_sky(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    latitude: float,
    longitude: float,
    timezone: str = "Asia/Shanghai",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contract's history with the clear-sky column added, and its future rows.

    Parameters
    ----------
    history
        Long-format frame (``series_id``, ``ts``, ``value``, any features).
    horizon
        Steps ahead; each series gets that many future rows after its last timestamp.
    freq, latitude, longitude, timezone
        As for :func:`clear_sky_ghi`; every series is taken to be at this one site.

    Returns
    -------
    tuple of pandas.DataFrame
        ``history`` with :data:`CLEAR_SKY_COLUMN` [W/m²], and ``future`` with
        ``series_id``, ``ts`` and the same feature columns (other features must already
        have their future values elsewhere: this adds only the one it can compute).
    """
    f = normalise_freq(freq)
    hist = validate_history(history, f, min_length=1)
    hist[CLEAR_SKY_COLUMN] = clear_sky_ghi(pd.DatetimeIndex(hist["ts"]), f, latitude, longitude, timezone)
    pieces = []
    for sid, group in hist.groupby("series_id", sort=False):
        ts = future_timestamps(group["ts"].iloc[-1], horizon, f)
        pieces.append(pd.DataFrame({"series_id": sid, "ts": ts}))
    future = pd.concat(pieces, ignore_index=True)
    future[CLEAR_SKY_COLUMN] = clear_sky_ghi(pd.DatetimeIndex(future["ts"]), f, latitude, longitude, timezone)
    return hist, future
