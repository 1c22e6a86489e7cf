"""Build the demo park into a database (issue: foundation, item 6).

``build_demo`` creates the park, its enterprises, sites, devices, meters, calibration
records, emission sources, materials, products with bills of materials, monthly
statistics and the readings of one year (hourly, 15-minute for some meters), with a
few faults put in on purpose; it writes a manifest of those faults and a summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import select

from carbonpark.model import (
    BomLineSpec,
    CalibrationSpec,
    CarrierSpec,
    DeviceSpec,
    EnterpriseSpec,
    MaterialSpec,
    MeterSpec,
    ParkSpec,
    ProductSpec,
    SiteSpec,
    SourceSpec,
    StatisticSpec,
    check_character,
)
from carbonpark.services import demo_data as dd
from carbonpark.services.status import registry_status
from carbonpark.settings import get_settings
from carbonpark.store import connect, insert_readings, session, upgrade
from carbonpark.store import registry as reg
from carbonpark.store.schema import Enterprise, Meter, Park

__all__ = ["DemoResult", "build_demo", "demo_period"]

Size = Literal["small", "full"]
ACTOR = "demo"
CARRIERS = (
    ("electricity", "电力", "Electricity", "energy", "kWh"),
    ("natural_gas", "天然气", "Natural gas", "volume", "Nm3"),
    ("steam", "蒸汽", "Steam", "mass", "t"),
    ("diesel", "柴油", "Diesel", "mass", "t"),
    ("coal", "原煤", "Raw coal", "mass", "t"),
    ("water", "水", "Water", "volume", "m3"),
)
#: Products, materials and bills of materials by profile: (product code suffix, name, unit, [(material, amount)]).
PRODUCTS: dict[str, tuple[str, str, str, list[tuple[str, float]]]] = {
    "chemical": ("chem", "精细化学品", "t", [("methanol", 0.62), ("caustic_soda", 0.08)]),
    "metal": ("part", "金属结构件", "t", [("steel_sheet", 1.08), ("zinc", 0.012)]),
    "electronics": ("board", "控制板", "piece", [("laminate", 0.02), ("copper", 0.00015)]),
    "textile": ("fabric", "印染布", "km", [("grey_fabric", 1.05), ("dye", 0.015)]),
    "food": ("food", "速冻食品", "t", [("flour", 0.55), ("pork", 0.3)]),
    "datacentre": ("rack", "托管机柜服务", "rack_month", []),
    "logistics": ("handling", "仓储周转量", "t", []),
}
MATERIALS = {
    "methanol": ("甲醇", "t", 0.375),
    "caustic_soda": ("液碱", "t", None),
    "steel_sheet": ("冷轧钢板", "t", 0.002),
    "zinc": ("锌锭", "t", None),
    "laminate": ("覆铜板", "m2", None),
    "copper": ("电解铜", "t", None),
    "grey_fabric": ("坯布", "km", None),
    "dye": ("染料", "t", None),
    "flour": ("面粉", "t", None),
    "pork": ("猪肉", "t", None),
}
#: Units of output produced per MWh of electricity, by profile (illustrative intensities).
OUTPUT_PER_MWH = {
    "chemical": 0.9,
    "metal": 1.4,
    "electronics": 55.0,
    "textile": 2.5,
    "food": 1.6,
    "datacentre": 0.06,
    "logistics": 40.0,
}
#: Gross output value per unit of output [CNY], by profile (illustrative).
PRICE_CNY = {
    "chemical": 14000,
    "metal": 9000,
    "electronics": 260,
    "textile": 6500,
    "food": 12000,
    "datacentre": 9000,
    "logistics": 120,
}


@dataclass
class DemoResult:
    """What ``build_demo`` made and where its outputs are."""

    db: str
    size: str
    seed: int
    year: int
    period: tuple[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    already_built: bool = False


def demo_period(size: Size, year: int) -> tuple[date, date]:
    """Local dates covered: the whole ``year`` for ``full``; January–February (Spring Festival) for ``small``."""
    if size == "full":
        return date(year, 1, 1), date(year + 1, 1, 1)
    return date(year, 1, 1), date(year, 3, 1)


def _credit_code(rng: np.random.Generator, division: str = "320500") -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org = "".join(alphabet[int(i)] for i in rng.integers(0, 31, 9))
    first17 = "91" + division + org
    return first17 + check_character(first17)


def build_demo(
    db: str | None,
    size: Size = "small",
    seed: int = 42,
    year: int | None = None,
    out_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Build the demo park into ``db`` (a database that has no park yet).

    Parameters
    ----------
    db
        SQLAlchemy URL or SQLite path.
    size
        ``small`` (6 enterprises, two months: seconds) or ``full`` (20 enterprises, about 200 meters, a year).
    seed
        Seed of every random draw: the same seed gives the same park.
    year
        Calendar year of the readings; default the last full calendar year.
    out_dir
        Where the summary and the fault manifest go.
    on_progress
        Called as ``(stage, done, total)``.
    """
    settings = get_settings()
    year = year or date.today().year - 1
    out = Path(out_dir or settings.output_dir)
    report = on_progress or (lambda stage, done, total: None)
    upgrade(db)
    start, end = demo_period(size, year)
    result = DemoResult(db=str(db), size=size, seed=seed, year=year, period=(start.isoformat(), end.isoformat()))
    with session(db) as s:
        if s.scalars(select(Park)).first() is not None:
            result.already_built = True
            return result
    rng = np.random.default_rng(seed)
    plans = dd.plan_meters(size)
    ents = [e for e in dd.demo_enterprises() if size == "full" or e.small]
    report("registry", 0, 1)
    with session(db) as s:
        park, ent_rows = _build_registry(s, settings.handle_prefix, settings.timezone, ents, plans, rng, year)
        meter_ids = {m.code: m.id for m in s.scalars(select(Meter))}
    report("registry", 1, 1)
    stamps, series, faults = _generate_series(plans, start, end, rng, out, report)
    rows_total = sum(int(np.count_nonzero(~np.isnan(v))) for v in series.values())
    engine = connect(db)
    done = 0

    def rows() -> Any:
        for p in plans:
            ms = dd.epoch_ms(stamps[p.interval_minutes], settings.timezone)
            values = series[p.code]
            keep = ~np.isnan(values)
            yield from zip(
                [meter_ids[p.code]] * int(keep.sum()),
                ms[keep].tolist(),
                values[keep].tolist(),
                [0] * int(keep.sum()),
                strict=True,
            )

    def tick(n: int) -> None:
        nonlocal done
        done += n
        report("readings", done, rows_total)

    insert_readings(engine, rows(), on_chunk=tick)
    with session(db) as s:
        _add_statistics(s, park, ent_rows, plans, series, stamps, start, end)
    result.counts = _counts(db)
    result.faults = [asdict(f) for f in faults]
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo-faults.json").write_text(json.dumps(result.faults, ensure_ascii=False, indent=2), encoding="utf-8")
    result.outputs = {"faults": str(out / "demo-faults.json"), "weather": str(out / "demo-weather.csv")}
    return result


def _meter_site(code: str, enterprise: str, places: dict[str, str]) -> str | None:
    """Where an enterprise meter hangs: a workshop sub-meter (``…-E-ws2``) in its workshop, others on the site."""
    workshop = code.rsplit("-", 1)[-1]
    if workshop.startswith("ws"):
        return places.get(f"{enterprise}-{workshop}")
    return places.get(f"{enterprise}-main")


def _build_registry(
    s: Any,
    prefix: str,
    tz: str,
    ents: list[dd.DemoEnterprise],
    plans: list[dd.MeterPlan],
    rng: np.random.Generator,
    year: int,
) -> tuple[Park, dict[str, Enterprise]]:
    park = reg.add_park(
        s,
        ParkSpec(
            name="绿源工业互联网双碳示范园区",
            name_en="Lüyuan Dual-Carbon Demonstration Park",
            handle_prefix=prefix,
            timezone=tz,
            region="江苏省",
        ),
        ACTOR,
    )
    for code, name, name_en, qty, unit in CARRIERS:
        reg.add_carrier(s, park, CarrierSpec(code=code, name=name, name_en=name_en, quantity=qty, unit=unit), ACTOR)
    for code, (name, unit, cc) in MATERIALS.items():
        reg.add_material(s, park, MaterialSpec(code=code, name=name, unit=unit, carbon_content_t_per_t=cc), ACTOR)
    ent_rows: dict[str, Enterprise] = {}
    places: dict[str, str] = {}  # "<enterprise>-main" / "<enterprise>-ws<N>" → site or workshop handle
    boilers: dict[str, str] = {}  # enterprise → its gas boiler's handle
    for e in ents:
        row = reg.add_enterprise(
            s,
            park,
            EnterpriseSpec(
                name=e.name,
                name_en=e.name_en,
                credit_code=_credit_code(rng),
                industry_code=e.industry_code,
                key_emitter=e.key_emitter,
            ),
            ACTOR,
        )
        ent_rows[e.key] = row
        site = reg.add_site(s, park, SiteSpec(name=f"{e.name}厂区", kind="site", enterprise=row.handle), ACTOR)
        places[f"{e.key}-main"] = str(site.handle)
        for w in range(1, 3):
            workshop = reg.add_site(
                s,
                park,
                SiteSpec(name=f"{w}号车间", kind="workshop", enterprise=row.handle, parent=site.handle),
                ACTOR,
            )
            places[f"{e.key}-ws{w}"] = str(workshop.handle)
        if e.gas_nm3_h > 0 or e.steam_t_h > 0:
            boilers[e.key] = str(
                reg.add_device(
                    s,
                    park,
                    DeviceSpec(
                        name="燃气锅炉",
                        kind="gas_boiler",
                        site=site.handle,
                        enterprise=str(row.handle),
                        rated_power_kw=e.gas_nm3_h * 9.0,
                    ),
                    ACTOR,
                ).handle
            )
        suffix, pname, punit, bom = PRODUCTS[e.profile]
        product = reg.add_product(
            s,
            park,
            ProductSpec(code=f"{e.key}-{suffix}", name=pname, unit=punit, enterprise=row.handle),
            ACTOR,
        )
        for material, amount in bom:
            reg.add_bom_line(s, park, BomLineSpec(product=product.code, material=material, amount=amount), ACTOR)
    if "elec1" in ent_rows and "metal1" in ent_rows:  # a cross-enterprise link for product footprints
        reg.add_bom_line(s, park, BomLineSpec(product="elec1-board", input_product="metal1-part", amount=0.0004), ACTOR)
    public = reg.add_site(s, park, SiteSpec(name="园区公共设施", kind="public_facility"), ACTOR)
    reg.add_device(
        s, park, DeviceSpec(name="屋顶光伏 2 MWp", kind="pv", site=public.handle, rated_power_kw=2000), ACTOR
    )
    reg.add_device(
        s,
        park,
        DeviceSpec(name="储能 1 MWh / 500 kW", kind="battery", site=public.handle, rated_power_kw=500),
        ACTOR,
    )
    ent_handles = {k: v.handle for k, v in ent_rows.items()}
    for p in plans:
        reg.add_meter(
            s,
            park,
            MeterSpec(
                code=p.code,
                name=p.name,
                quantity=p.quantity,
                unit=p.unit,
                carrier=p.carrier,
                reading_kind=p.reading_kind,  # type: ignore[arg-type]
                interval_minutes=p.interval_minutes,
                enterprise=ent_handles.get(p.enterprise) if p.enterprise else None,
                site=_meter_site(p.code, p.enterprise, places) if p.enterprise else public.handle,
                device=boilers.get(p.enterprise or "") if p.code.endswith("-G-main") else None,
                parent=p.parent,
                accuracy_class="0.5S" if p.carrier == "electricity" else "1.0",
                rollover=p.rollover,
            ),
            ACTOR,
        )
        calibrated = date(year - 1, 1, 1) + timedelta(days=int(rng.integers(0, 360)))
        overdue = p.code.endswith("-W-main") and rng.random() < 0.5
        due = calibrated + timedelta(days=300 if overdue else 730)
        reg.add_calibration(
            s,
            park,
            CalibrationSpec(
                meter=p.code,
                calibrated_on=calibrated,
                due_on=due,
                certificate=f"JL{year - 1}-{p.code}",
                agency="江苏省计量科学研究院",
            ),
            ACTOR,
        )
    for e in ents:
        _add_sources(s, park, e, ent_rows[e.key])
    reg.add_source(
        s,
        park,
        SourceSpec(
            name="公共设施外购电力",
            activity="purchased_electricity",
            scope=2,
            category=2,
            meter="park-E-lighting",
        ),
        ACTOR,
    )
    reg.add_source(
        s,
        park,
        SourceSpec(
            name="污水处理甲烷逸散",
            activity="wastewater_treatment",
            gas="CH4",
            scope=1,
            category=1,
            meter="park-W-wwtp",
        ),
        ACTOR,
    )
    return park, ent_rows


def _add_sources(s: Any, park: Park, e: dd.DemoEnterprise, row: Enterprise) -> None:
    h = row.handle
    sources: list[tuple[str, str, str, str, int, int, str | None]] = [
        ("外购电力", "purchased_electricity", "CO2", "emission_factor", 2, 2, f"{e.key}-E-main")
    ]
    if e.gas_nm3_h:
        sources.append(("天然气燃烧", "natural_gas", "CO2", "emission_factor", 1, 1, f"{e.key}-G-main"))
    if e.steam_t_h:
        sources.append(("外购蒸汽", "purchased_heat", "CO2", "emission_factor", 2, 2, f"{e.key}-S-main"))
    if e.diesel_t_h:
        sources.append(("叉车及车队柴油", "diesel", "CO2", "emission_factor", 1, 1, f"{e.key}-D-main"))
    if e.coal_t_h:
        sources.append(("燃煤锅炉", "raw_coal", "CO2", "emission_factor", 1, 1, f"{e.key}-C-main"))
    if e.profile == "chemical" and e.key_emitter:
        sources.append(("工艺过程排放", "process_carbon_balance", "CO2", "mass_balance", 1, 1, None))
    if e.profile == "datacentre" or e.key == "log2":
        sources.append(("制冷剂逸散 HFC-134a", "refrigerant_hfc134a", "HFCs", "emission_factor", 1, 1, None))
    for name, activity, gas, method, scope, category, meter in sources:
        reg.add_source(
            s,
            park,
            SourceSpec(
                name=name,
                enterprise=h,
                activity=activity,
                gas=gas,  # type: ignore[arg-type]
                method=method,  # type: ignore[arg-type]
                scope=scope,
                category=category,
                meter=meter,
            ),
            ACTOR,
        )


def _generate_series(
    plans: list[dd.MeterPlan],
    start: date,
    end: date,
    rng: np.random.Generator,
    out: Path,
    report: Callable[[str, int, int], None],
) -> tuple[dict[int, list[Any]], dict[str, np.ndarray], list[dd.FaultRecord]]:
    stamps = {m: dd.calendar_hours(start, end, m) for m in sorted({p.interval_minutes for p in plans} | {60})}
    weather = {
        m: {
            "temperature_c": dd.temperature_c(st, np.random.default_rng(rng.integers(2**32))),
            "ghi_w_m2": dd.irradiance_w_m2(st, np.random.default_rng(rng.integers(2**32))),
        }
        for m, st in stamps.items()
    }
    # one weather for all resolutions: the 15-min series is the hourly one repeated
    if 15 in stamps:
        weather[15] = {k: np.repeat(v, 4) for k, v in weather[60].items()}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "demo-weather.csv").open("w", encoding="utf-8") as f:
        f.write("ts,temperature_c,ghi_w_m2\n")
        for t, temp, ghi in zip(stamps[60], weather[60]["temperature_c"], weather[60]["ghi_w_m2"], strict=True):
            f.write(f"{t.isoformat()},{temp:.2f},{ghi:.1f}\n")
    series: dict[str, np.ndarray] = {}
    derived = {"intake", "gas_intake", "water_intake"}
    for i, p in enumerate(plans):
        report("series", i, len(plans))
        if p.shape in derived:
            continue
        sub_rng = np.random.default_rng(rng.integers(2**32))
        if p.parent is not None:
            parent = series[p.parent]
            series[p.code] = parent * p.share * np.clip(1 + sub_rng.normal(0, 0.02, len(parent)), 0.9, 1.1)
        else:
            series[p.code] = dd.meter_series(p, stamps[p.interval_minutes], weather[p.interval_minutes], sub_rng)
    report("series", len(plans), len(plans))
    series.update(_derived_intakes(plans, series))
    stamps_by_meter = {p.code: stamps[p.interval_minutes] for p in plans}
    series, faults = dd.inject_faults(series, stamps_by_meter, plans, rng)
    return stamps, series, faults


def _to_15min(p: dd.MeterPlan, values: np.ndarray) -> np.ndarray:
    return values if p.interval_minutes == 15 else np.repeat(values / 4, 4)


def _derived_intakes(plans: list[dd.MeterPlan], series: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Park intake meters: the sum of what is behind them (electricity net of PV and storage, ×1.02 losses)."""
    mains = [p for p in plans if p.parent is None and p.code in series]
    elec = sum(
        _to_15min(p, series[p.code])
        for p in mains
        if p.carrier == "electricity" and p.shape not in {"pv", "battery_charge", "battery_discharge"}
    )
    pv = series.get("park-E-pv", 0)
    chg, dis = series.get("park-E-bess-chg", 0), series.get("park-E-bess-dis", 0)
    intake = np.clip(np.asarray(elec) * 1.02 - pv + chg - dis, 0, None)
    gas = sum(series[p.code] for p in mains if p.carrier == "natural_gas") * 1.005
    water = sum(series[p.code] for p in mains if p.carrier == "water" and p.code != "park-W-wwtp") * 1.03
    return {"park-E-intake": intake, "park-G-intake": np.asarray(gas), "park-W-intake": np.asarray(water)}


def _add_statistics(
    s: Any,
    park: Park,
    ent_rows: dict[str, Enterprise],
    plans: list[dd.MeterPlan],
    series: dict[str, np.ndarray],
    stamps: dict[int, list[Any]],
    start: date,
    end: date,
) -> None:
    ents = {e.key: e for e in dd.demo_enterprises()}
    for key, row in ent_rows.items():
        e = ents[key]
        main = next(p for p in plans if p.code == f"{key}-E-main")
        st = stamps[main.interval_minutes]
        values = series[main.code]
        if main.reading_kind == "cumulative":  # the register; use the sub-meters' sum instead
            values = np.sum([series[p.code] for p in plans if p.parent == main.code], axis=0) / 0.97
        months = np.array([t.month for t in st])
        suffix, _, unit, _ = PRODUCTS[e.profile]
        for month in sorted(set(months.tolist())):
            mwh = float(np.nansum(values[months == month])) / 1000
            output = round(mwh * OUTPUT_PER_MWH[e.profile], 1)
            period = f"{start.year}-{month:02d}"
            gov = round(output * PRICE_CNY[e.profile] / 1e4, 1)
            for metric, value, u in (
                (f"output:{key}-{suffix}", output, unit),
                ("gross_output_value", gov, "万元"),
                ("value_added", round(gov * 0.24, 1), "万元"),
            ):
                reg.upsert_statistic(
                    s,
                    park,
                    StatisticSpec(
                        enterprise=str(row.handle),
                        period=period,
                        metric=metric,
                        value=value,
                        unit=u,
                        source="企业月度统计报表（演示数据）",
                        evidence=f"demo/{key}/{period}",
                    ),
                    ACTOR,
                )
        for metric, value, u in (
            ("floor_area", round(e.peak_kw * 9.5, -2), "m2"),
            ("employees", round(e.peak_kw / 12), "persons"),
        ):
            reg.upsert_statistic(
                s,
                park,
                StatisticSpec(
                    enterprise=str(row.handle),
                    period=str(start.year),
                    metric=metric,
                    value=value,
                    unit=u,
                    source="企业年报（演示数据）",
                ),
                ACTOR,
            )


def _counts(db: str | None) -> dict[str, int]:
    return {k: v for k, v in registry_status(db).items() if isinstance(v, int)}
