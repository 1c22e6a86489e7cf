"""The demo park, generated deterministically: weather, calendar, load shapes, faults.

Pure functions of a seed (numpy ``default_rng``): the same ``seed``, ``size`` and
``year`` give the same park and the same readings on every machine. The shapes follow
what a park energy manager sees: shifts, weekends, Chinese public holidays and make-up
working days (调休, from the ``holidays`` package), a Spring Festival shutdown, heating
and cooling driven by a generated weather series, production-driven gas and steam.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib.resources import files

import holidays
import numpy as np

from carbonpark.times import to_ms

__all__ = [
    "DemoEnterprise",
    "FaultRecord",
    "MeterPlan",
    "calendar_hours",
    "demo_enterprises",
    "inject_faults",
    "irradiance_w_m2",
    "meter_series",
    "plan_meters",
    "production_factor",
    "temperature_c",
]

LATITUDE_DEG = 31.3  # Suzhou-like location for the solar geometry of the generated weather


@dataclass(frozen=True)
class DemoEnterprise:
    """One demo enterprise and the size of its energy use."""

    key: str
    name: str
    name_en: str
    industry_code: str
    profile: str
    shifts: int
    peak_kw: float
    gas_nm3_h: float
    steam_t_h: float
    diesel_t_h: float
    coal_t_h: float
    water_m3_h: float
    key_emitter: bool
    small: bool


@dataclass(frozen=True)
class MeterPlan:
    """A meter to create and how to generate its series."""

    code: str
    name: str
    quantity: str
    unit: str
    carrier: str
    enterprise: str | None  # enterprise key; None for park-level meters
    shape: (
        str  # electricity | gas | steam | diesel | coal | water | pv | battery_charge | battery_discharge | …
    )
    scale: float  # peak (or mean) value per hour in the meter's unit
    interval_minutes: int = 60
    reading_kind: str = "interval"
    parent: str | None = None
    share: float = 1.0  # sub-meter's share of its parent
    rollover: float | None = None
    profile: str = "metal"
    shifts: int = 2


@dataclass
class FaultRecord:
    """A fault the generator put into a series on purpose (for the quality checks to find)."""

    meter: str
    kind: str  # gap | stuck | spike | rollover
    start: str
    hours: float
    detail: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=1)
def demo_enterprises() -> tuple[DemoEnterprise, ...]:
    """The enterprises of the demo park (packaged table ``data/demo-enterprises.csv``)."""
    text = files("carbonpark.services").joinpath("data/demo-enterprises.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    out = []
    for r in rows:
        out.append(
            DemoEnterprise(
                key=r["key"],
                name=r["name"],
                name_en=r["name_en"],
                industry_code=r["industry_code"],
                profile=r["profile"],
                shifts=int(r["shifts"]),
                peak_kw=float(r["peak_kw"]),
                gas_nm3_h=float(r["gas_nm3_h"]),
                steam_t_h=float(r["steam_t_h"]),
                diesel_t_h=float(r["diesel_t_h"]),
                coal_t_h=float(r["coal_t_h"]),
                water_m3_h=float(r["water_m3_h"]),
                key_emitter=r["key_emitter"] == "true",
                small=r["small"] == "true",
            )
        )
    return tuple(out)


def calendar_hours(start: date, end: date, minutes: int) -> list[datetime]:
    """Naive park-local timestamps from ``start`` (inclusive) to ``end`` (exclusive) every ``minutes``."""
    step = timedelta(minutes=minutes)
    n = int(
        (datetime.combine(end, datetime.min.time()) - datetime.combine(start, datetime.min.time())) / step
    )
    first = datetime.combine(start, datetime.min.time())
    return [first + i * step for i in range(n)]


def _day_index(stamps: list[datetime]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hours = np.array([t.hour + t.minute / 60 for t in stamps])
    doy = np.array([t.timetuple().tm_yday for t in stamps], dtype=float)
    days = np.array([t.toordinal() for t in stamps])
    return hours, doy, days


def temperature_c(stamps: list[datetime], rng: np.random.Generator) -> np.ndarray:
    """Air temperature [°C]: annual cycle (coldest mid-January), diurnal cycle (warmest 14:00), AR(1) weather."""
    hours, doy, days = _day_index(stamps)
    annual = 16.5 - 11.5 * np.cos(2 * np.pi * (doy - 20) / 365.25)
    diurnal = 3.5 * np.cos(2 * np.pi * (hours - 14) / 24)
    unique_days = np.unique(days)
    anomaly = np.zeros(len(unique_days))
    shocks = rng.normal(0, 1.6, len(unique_days))
    for i in range(1, len(unique_days)):
        anomaly[i] = 0.75 * anomaly[i - 1] + shocks[i]
    daily = dict(zip(unique_days, anomaly, strict=True))
    return annual + diurnal + np.array([daily[d] for d in days])


def irradiance_w_m2(stamps: list[datetime], rng: np.random.Generator) -> np.ndarray:
    """Global horizontal irradiance [W/m²]: clear sky from the solar elevation, times a daily cloudiness."""
    hours, doy, days = _day_index(stamps)
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365)
    lat = np.radians(LATITUDE_DEG)
    hour_angle = np.radians(15 * (hours + 0.5 - 12))
    sin_elev = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    clear = 1000 * np.clip(sin_elev, 0, None) ** 1.15
    unique_days = np.unique(days)
    cloud = dict(zip(unique_days, rng.beta(2.2, 1.3, len(unique_days)), strict=True))
    return clear * np.array([0.2 + 0.8 * cloud[d] for d in days])


def _cn_calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=[year - 1, year, year + 1])


def spring_festival(year: int) -> date:
    """Chinese New Year's day of ``year`` (from the ``holidays`` calendar)."""
    cn = _cn_calendar(year)
    return min(d for d, name in cn.items() if d.year == year and "Spring Festival" in name)


def production_factor(stamps: list[datetime], profile: str, shifts: int) -> np.ndarray:
    """Share of full production [0–1] per timestamp: shifts, weekends, holidays, Spring Festival shutdown."""
    years = sorted({t.year for t in stamps})
    cn = _cn_calendar(years[0])
    for y in years[1:]:
        cn.update(dict(_cn_calendar(y).items()))
    festivals = [spring_festival(y) for y in years]
    out = np.empty(len(stamps))
    for i, t in enumerate(stamps):
        d = t.date()
        working = cn.is_working_day(d)
        shutdown = any(timedelta(days=-2) <= d - f <= timedelta(days=8) for f in festivals)
        h = t.hour
        if profile == "datacentre":
            level = 1.0
        elif shifts >= 3:
            level = 0.92 if working else 0.75
        elif shifts == 2:
            level = (1.0 if 7 <= h < 23 else 0.25) if working else 0.2
        else:
            level = (1.0 if 8 <= h < 17 and h != 12 else 0.12) if working else 0.1
        if shutdown and profile != "datacentre":
            level = 0.35 * level if shifts >= 3 else 0.08
        out[i] = level
    return out


def plan_meters(size: str) -> list[MeterPlan]:
    """The meters of the demo park: per enterprise and park level (about 200 for ``full``)."""
    ents = [e for e in demo_enterprises() if size == "full" or e.small]
    plans: list[MeterPlan] = []
    workshops = 5 if size == "full" else 2
    for idx, e in enumerate(ents):
        main = f"{e.key}-E-main"
        cumulative = idx % 5 == 2
        plans.append(
            MeterPlan(
                main,
                f"{e.name} 总电表",
                "energy",
                "kWh",
                "electricity",
                e.key,
                "electricity",
                e.peak_kw,
                interval_minutes=15 if e.profile == "datacentre" else 60,
                reading_kind="cumulative" if cumulative else "interval",
                rollover=100_000_000.0 if cumulative else None,
                profile=e.profile,
                shifts=e.shifts,
            )
        )
        shares = np.full(workshops, 0.97 / workshops)
        for w in range(workshops):
            plans.append(
                MeterPlan(
                    f"{e.key}-E-ws{w + 1}",
                    f"{e.name} {w + 1}号车间电表",
                    "energy",
                    "kWh",
                    "electricity",
                    e.key,
                    "electricity",
                    e.peak_kw,
                    parent=main,
                    share=float(shares[w]),
                    profile=e.profile,
                    shifts=e.shifts,
                    interval_minutes=15 if e.profile == "datacentre" else 60,
                )
            )
        for code, qty, unit, carrier, shape, scale in (
            ("G", "volume", "Nm3", "natural_gas", "gas", e.gas_nm3_h),
            ("S", "mass", "t", "steam", "steam", e.steam_t_h),
            ("D", "mass", "t", "diesel", "diesel", e.diesel_t_h),
            ("C", "mass", "t", "coal", "coal", e.coal_t_h),
            ("W", "volume", "m3", "water", "water", e.water_m3_h),
        ):
            if scale > 0:
                plans.append(
                    MeterPlan(
                        f"{e.key}-{code}-main",
                        f"{e.name} {carrier}",
                        qty,
                        unit,
                        carrier,
                        e.key,
                        shape,
                        scale,
                        profile=e.profile,
                        shifts=e.shifts,
                    )
                )
    park_meters = [
        ("park-E-intake", "园区总进线电表", "energy", "kWh", "electricity", "intake", 0.0, 15),
        ("park-E-pv", "屋顶光伏发电表", "energy", "kWh", "electricity", "pv", 2000.0, 15),
        ("park-E-bess-chg", "储能充电表", "energy", "kWh", "electricity", "battery_charge", 500.0, 15),
        ("park-E-bess-dis", "储能放电表", "energy", "kWh", "electricity", "battery_discharge", 500.0, 15),
        ("park-E-lighting", "公共照明电表", "energy", "kWh", "electricity", "lighting", 180.0, 60),
        ("park-E-wwtp", "污水处理厂电表", "energy", "kWh", "electricity", "wwtp", 420.0, 60),
        ("park-E-waste", "固废处理站电表", "energy", "kWh", "electricity", "waste", 150.0, 60),
        ("park-E-admin", "管委会大楼电表", "energy", "kWh", "electricity", "office", 260.0, 60),
        ("park-E-ev", "公共充电站电表", "energy", "kWh", "electricity", "ev", 300.0, 60),
        ("park-G-intake", "园区天然气门站表", "volume", "Nm3", "natural_gas", "gas_intake", 0.0, 60),
        ("park-W-intake", "园区供水总表", "volume", "m3", "water", "water_intake", 0.0, 60),
        ("park-W-wwtp", "污水处理厂进水表", "volume", "m3", "water", "water", 400.0, 60),
    ]
    for code, name, qty, unit, carrier, shape, scale, minutes in park_meters:
        plans.append(
            MeterPlan(
                code,
                name,
                qty,
                unit,
                carrier,
                None,
                shape,
                scale,
                interval_minutes=minutes,
                profile="public",
                shifts=3,
            )
        )
    if size == "full":
        for i in range(1, 17):
            plans.append(
                MeterPlan(
                    f"park-E-street{i}",
                    f"道路照明回路{i}",
                    "energy",
                    "kWh",
                    "electricity",
                    None,
                    "lighting",
                    25.0,
                    profile="public",
                    shifts=3,
                )
            )
    return plans


def _noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    return np.clip(1 + rng.normal(0, sigma, n), 0.5, 1.5)


def meter_series(
    plan: MeterPlan, stamps: list[datetime], weather: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Values per interval in the meter's unit (energy or amount used in that interval)."""
    n = len(stamps)
    hours_per_step = plan.interval_minutes / 60
    temp, ghi = weather["temperature_c"], weather["ghi_w_m2"]
    hours = np.array([t.hour for t in stamps])
    prod = production_factor(stamps, plan.profile, plan.shifts)
    cooling = np.clip(temp - 24, 0, None) / 10
    heating = np.clip(12 - temp, 0, None) / 12
    if plan.shape == "electricity":
        if plan.profile == "datacentre":
            it = 0.72 * _noise(rng, n, 0.015)
            kw = plan.scale * (it * (1.25 + 0.35 * cooling))
        else:
            kw = plan.scale * (0.12 + 0.70 * prod + 0.10 * cooling + 0.06 * heating) * _noise(rng, n, 0.05)
        return kw * hours_per_step * plan.share
    if plan.shape in {"gas", "steam", "coal"}:
        season = 1 + (0.25 * heating if plan.shape != "coal" else 0.1 * heating)
        return plan.scale * (0.08 + 0.85 * prod) * season * _noise(rng, n, 0.06) * hours_per_step
    if plan.shape == "diesel":
        day = ((hours >= 6) & (hours < 22)).astype(float)
        return plan.scale * (0.1 + 0.9 * day * prod) * _noise(rng, n, 0.15) * hours_per_step
    if plan.shape == "water":
        return plan.scale * (0.2 + 0.75 * prod) * _noise(rng, n, 0.08) * hours_per_step
    if plan.shape == "pv":
        return plan.scale * ghi / 1000 * 0.82 * hours_per_step
    if plan.shape in {"battery_charge", "battery_discharge"}:
        minute = np.array([t.hour * 60 + t.minute for t in stamps])
        if plan.shape == "battery_charge":
            active = (minute < 6 * 60) | (minute >= 23 * 60)  # valley hours
            return plan.scale * active * 0.9 * hours_per_step
        active = ((minute >= 10 * 60) & (minute < 12 * 60)) | ((minute >= 18 * 60) & (minute < 20 * 60))
        return plan.scale * active * 0.85 * 1.75 * hours_per_step
    if plan.shape == "lighting":
        dark = ghi < 20
        return plan.scale * dark * _noise(rng, n, 0.02) * hours_per_step
    if plan.shape == "office":
        occupied = production_factor(stamps, "office", 1)
        return plan.scale * (0.15 + 0.6 * occupied + 0.2 * cooling + 0.15 * heating) * _noise(rng, n, 0.04)
    if plan.shape in {"wwtp", "waste"}:
        return plan.scale * (0.85 + 0.15 * np.sin(2 * np.pi * (hours - 8) / 24)) * _noise(rng, n, 0.03)
    if plan.shape == "ev":
        busy = np.exp(-0.5 * ((hours - 13) / 3.5) ** 2)
        return plan.scale * (0.05 + 0.9 * busy) * _noise(rng, n, 0.2)
    raise ValueError(f"unknown demo shape {plan.shape!r}")


def inject_faults(
    series: dict[str, np.ndarray],
    stamps_by_meter: dict[str, list[datetime]],
    plans: list[MeterPlan],
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], list[FaultRecord]]:
    """Put a gap, a stuck meter, a spike and a counter rollover into chosen series.

    Returns the series (gaps as NaN, dropped before storing) and what was injected where.
    """
    faults: list[FaultRecord] = []
    enterprise_subs = [p for p in plans if p.parent is not None]
    hourly = [
        p for p in plans if p.enterprise is not None and p.parent is None and p.reading_kind == "interval"
    ]
    choose = {
        "gap": enterprise_subs[0].code,
        "stuck": enterprise_subs[-1].code,
        "spike": hourly[min(1, len(hourly) - 1)].code,
    }
    for kind, code in choose.items():
        values = series[code].copy()
        n = len(values)
        step_h = next(p.interval_minutes for p in plans if p.code == code) / 60
        at = int(rng.integers(n // 4, 3 * n // 4))
        stamp = stamps_by_meter[code][at].isoformat()
        if kind == "gap":
            length = 18
            values[at : at + length] = np.nan
            faults.append(FaultRecord(code, "gap", stamp, length * step_h))
        elif kind == "stuck":
            length = 30
            values[at : at + length] = values[at]
            faults.append(FaultRecord(code, "stuck", stamp, length * step_h, {"value": float(values[at])}))
        else:
            factor = 25.0
            values[at] = values[at] * factor
            faults.append(FaultRecord(code, "spike", stamp, step_h, {"factor": factor}))
        series[code] = values
    for p in plans:
        if p.reading_kind == "cumulative" and p.rollover:
            register = _register(series[p.code], p.rollover, rng)
            wraps = np.flatnonzero(np.diff(register) < 0)
            for w in wraps:
                faults.append(
                    FaultRecord(
                        p.code,
                        "rollover",
                        stamps_by_meter[p.code][w + 1].isoformat(),
                        0.0,
                        {"rollover": p.rollover},
                    )
                )
            series[p.code] = register
    return series, faults


def _register(interval_values: np.ndarray, rollover: float, rng: np.random.Generator) -> np.ndarray:
    """A cumulative register starting near its maximum so that it wraps once: reading = (start + Σ) mod max."""
    total = float(np.nansum(interval_values))
    start = rollover - min(total * 0.4, rollover * 0.5) + float(rng.uniform(0, 1))
    return np.round((start + np.cumsum(np.nan_to_num(interval_values))) % rollover, 1)


def epoch_ms(stamps: list[datetime], tz: str) -> np.ndarray:
    """UTC epoch ms of naive park-local timestamps."""
    return np.array([to_ms(t, tz) for t in stamps], dtype=np.int64)
