"""PV output per unit of capacity from irradiance, with pvlib (for ``pv`` assets given ``irradiance``).

Chain: sun position (NREL SPA in pvlib) → split of global horizontal irradiance into
direct and diffuse (Erbs) → irradiance on the tilted plane (isotropic sky) → cell
temperature (Faiman) → PVWatts DC power per kW of capacity with the temperature
coefficient, times a system derate for losses (inverter, wiring, soiling), clipped to
[0, 1]. Timestamps are the step *starts*; the sun is taken at the middle of each step.

References
----------
Holmgren, Hansen, Mikofski (2018), "pvlib python", JOSS 3(29) 884; Erbs, Klein, Duffie
(1982), Solar Energy 28(4); Faiman (2008), Prog. Photovolt. 16(4); Dobos (2014), PVWatts
Version 5 Manual, NREL/TP-6A20-62641 (default 14 % system losses); the guide §4.6.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from carbonpark.errors import ValidationError

__all__ = ["pv_profile_from_irradiance"]


def pv_profile_from_irradiance(
    starts: Sequence[datetime],
    step_hours: float,
    ghi_w_m2: np.ndarray,
    latitude: float,
    longitude: float,
    tilt_deg: float = 25.0,
    azimuth_deg: float = 180.0,
    temp_air_c: np.ndarray | float = 25.0,
    timezone: str = "Asia/Shanghai",
    gamma_per_k: float = -0.0037,
    system_losses: float = 0.14,
) -> np.ndarray:
    """Available PV output per unit of DC capacity for each step [kW/kWp, 0–1].

    Parameters
    ----------
    starts
        Naive park-local start of each step.
    step_hours
        Step length [h].
    ghi_w_m2
        Global horizontal irradiance, mean of each step [W/m²].
    latitude, longitude
        Site [°].
    tilt_deg, azimuth_deg
        Panel tilt from horizontal and azimuth (180 = south) [°].
    temp_air_c
        Air temperature [°C], one value or one per step.
    timezone
        IANA zone of the naive timestamps.
    gamma_per_k
        Power temperature coefficient [1/K].
    system_losses
        Share of DC output lost in the system [–] (PVWatts default 0.14).
    """
    import pvlib

    ghi = np.asarray(ghi_w_m2, dtype=float)
    if ghi.shape != (len(starts),):
        raise ValidationError("irradiance.ghi_w_m2", f"one value per step ({len(starts)})", f"{ghi.size} values")
    if np.any(ghi < 0) or np.any(ghi > 1500):
        raise ValidationError("irradiance.ghi_w_m2", "values between 0 and 1500 W/m²", float(ghi.min()))
    mid = pd.DatetimeIndex(starts) + pd.Timedelta(hours=step_hours / 2)
    times = mid.tz_localize(timezone)
    sun = pvlib.solarposition.get_solarposition(times, latitude, longitude)
    split = pvlib.irradiance.erbs(ghi, sun["zenith"].to_numpy(), times)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        sun["apparent_zenith"].to_numpy(),
        sun["azimuth"].to_numpy(),
        dni=np.nan_to_num(np.asarray(split["dni"], dtype=float)),
        ghi=ghi,
        dhi=np.nan_to_num(np.asarray(split["dhi"], dtype=float)),
    )
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    temp_air = np.broadcast_to(np.asarray(temp_air_c, dtype=float), ghi.shape)
    cell = pvlib.temperature.faiman(poa_global, temp_air)
    dc = pvlib.pvsystem.pvwatts_dc(poa_global, cell, pdc0=1.0, gamma_pdc=gamma_per_k)
    return np.clip(np.asarray(dc, dtype=float) * (1.0 - system_losses), 0.0, 1.0)
