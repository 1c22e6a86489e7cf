"""The dashboard's pages: each a list of sections (figures, tables, charts, notes, forms) built
from the service layer (issue 14 item 1; SPEC C20).

A page builder takes a :class:`Ctx` (database, principal, language, query) and returns
sections; the template ``page.html`` renders them, every table exports to Excel
(``/web/<page>/export.xlsx?table=N``) and charts are plotly.js figures (JSON) drawn in the
browser. What a role may see is the services' scope (``access`` filters, ``who`` arguments);
a page whose service has no data yet says so (a *gap* note) instead of inventing figures.
Labels are message keys (``web/i18n``); data values are shown as stored.

References
----------
.. [1] 工业互联网双碳园区建设指南 §3.2.2(2)3 (平台), §4–§7 (监测、核算、预测、调度、评价).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from carbonpark.errors import CarbonparkError, NotFoundError, ValidationError
from carbonpark.services import access
from carbonpark.services.access import Principal
from carbonpark.store import session
from carbonpark.store.schema import Enterprise, Statistic
from carbonpark.store.schema_accounting import AccountingRun, EmissionRecord

__all__ = [
    "PAGES",
    "REPORTS",
    "Chart",
    "Ctx",
    "Form",
    "Kpis",
    "Link",
    "Note",
    "PageDef",
    "Table",
    "allowed",
    "build",
    "menu",
    "plain",
]

ALL = ("park_admin", "enterprise", "verifier", "regulator")


# ------------------------------------------------------------------------------------ sections


@dataclass(frozen=True)
class Link:
    """A table cell linking to another page."""

    text: str
    href: str


@dataclass
class Kpis:
    """Headline figures: ``(label key, value, unit)``."""

    items: list[tuple[str, Any, str]]


@dataclass
class Table:
    """A table: ``title`` and ``columns`` are message keys; cells are data (or :class:`Link`)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Chart:
    """A plotly.js figure (``data`` and ``layout``); ``title`` is a message key."""

    title: str
    figure: dict[str, Any]


@dataclass
class Note:
    """A message (key) with data detail; ``level`` is ``info``, ``gap`` (no data/service yet) or ``error``."""

    key: str
    detail: str = ""
    level: str = "info"


@dataclass
class Form:
    """A GET form on the same page: ``fields`` are ``(name, label key, current value)``."""

    fields: list[tuple[str, str, str]]
    submit: str = "action.show"


Section = Kpis | Table | Chart | Note | Form


@dataclass
class Ctx:
    """What a builder gets: database, principal, language and the query parameters."""

    db: str | None
    who: Principal
    lang: str
    query: Mapping[str, str] = field(default_factory=dict)

    def q(self, name: str, default: str = "") -> str:
        """A query parameter, stripped, at most 200 characters."""
        return str(self.query.get(name, default) or default).strip()[:200]


@dataclass(frozen=True)
class PageDef:
    """One menu entry: message key ``nav.<key>``, the roles that see it, its builder."""

    key: str
    roles: tuple[str, ...]
    build: Callable[[Ctx], list[Section]]
    in_menu: bool = True


def plain(cell: Any) -> Any:
    """A cell as Excel takes it (links as their text, decimals as floats)."""
    if isinstance(cell, Link):
        return cell.text
    if isinstance(cell, Decimal):
        return float(cell)
    if cell is None or isinstance(cell, int | float | str):
        return cell
    return str(cell)


def num(value: Any, digits: int = 2) -> Any:
    """A number rounded for display (None and text as they are)."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, digits)
    return value


_CACHE: dict[tuple[Any, ...], tuple[float, Any]] = {}
_LOCK = threading.Lock()
#: How long a heavy computation (forecast, dispatch, footprints) is reused [s].
CACHE_SECONDS = 300.0


def cached(key: tuple[Any, ...], compute: Callable[[], Any], seconds: float = CACHE_SECONDS) -> Any:
    """``compute()`` once per ``key`` within ``seconds`` (per process)."""
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < seconds:
            return hit[1]
    value = compute()
    with _LOCK:
        _CACHE[key] = (now, value)
    return value


def _gap(exc: Exception) -> Note:
    return Note("note.gap", str(exc), "gap")


def _bar(x: list[Any], y: list[Any], name: str = "", **layout: Any) -> dict[str, Any]:
    return {"data": [{"type": "bar", "x": x, "y": y, "name": name}], "layout": layout}


# ------------------------------------------------------------------------------------ helpers


def _visible(who: Principal) -> frozenset[int] | None:
    return access.visible_enterprise_ids(who)


def _enterprises(db: str | None, who: Principal) -> list[Enterprise]:
    with session(db) as s:
        stmt = select(Enterprise).order_by(Enterprise.id)
        if who.role == "regulator":
            stmt = stmt.where(Enterprise.key_emitter.is_(True))
        elif _visible(who) is not None:
            stmt = stmt.where(access.enterprise_filter(who, Enterprise.id))
        return list(s.scalars(stmt))


def _years(db: str | None) -> list[int]:
    with session(db) as s:
        periods = s.scalars(select(AccountingRun.period).distinct())
        return sorted({int(p[:4]) for p in periods if p[:4].isdigit()})


def _year(ctx: Ctx) -> int:
    given = ctx.q("year")
    if given:
        if not given.isdigit():
            raise ValidationError("year", "a year such as 2025", given)
        return int(given)
    years = _years(ctx.db)
    return years[-1] if years else time.localtime().tm_year - 1


def _org_of(ctx: Ctx) -> str:
    """The organisation a page is about: the park for park_admin/regulator, else the own/assigned enterprise."""
    wanted = ctx.q("org")
    ents = _enterprises(ctx.db, ctx.who)
    handles = [str(e.handle) for e in ents]
    if ctx.who.role in ("park_admin", "regulator"):
        if not wanted or wanted == "park":
            return "park"
        if ctx.who.role == "park_admin" or wanted in handles:
            return wanted
        raise NotFoundError("enterprise", wanted)
    if wanted and wanted in handles:
        return wanted
    if not handles:
        raise NotFoundError("enterprise", "(none in your scope)")
    return handles[0]


def _org_form(ctx: Ctx, year: int, org: str) -> Form:
    return Form([("org", "field.org", org), ("year", "field.year", str(year))])


# ------------------------------------------------------------------------------------ overview


def _value_added(db: str | None, year: int, enterprise_ids: frozenset[int] | None) -> float:
    with session(db) as s:
        stmt = select(func.sum(Statistic.value)).where(
            Statistic.metric == "value_added", Statistic.period.like(f"{year}%")
        )
        if enterprise_ids is not None:
            stmt = stmt.where(Statistic.enterprise_id.in_(enterprise_ids))
        return float(s.scalar(stmt) or 0.0)


def _monthly_chart(rows: list[dict[str, Any]]) -> Chart:
    by: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        by[f"scope {r['scope']}"][str(r["period"])] += float(r["tco2e"] or 0.0)
    months = sorted({str(r["period"]) for r in rows})
    data = [
        {"type": "bar", "name": name, "x": months, "y": [round(v.get(m, 0.0), 3) for m in months]}
        for name, v in sorted(by.items())
    ]
    return Chart("chart.monthly_trend", {"data": data, "layout": {"barmode": "stack", "yaxis": {"title": "tCO2e"}}})


def overview(ctx: Ctx) -> list[Section]:
    """Total and intensity, by enterprise, by category and scope, monthly trend, targets and the forecast peak."""
    from carbonpark.services.accounting import stored_document

    year = _year(ctx)
    org = _org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        doc = stored_document(ctx.db, org, str(year))
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    ids = None if org == "park" else frozenset(e.id for e in _enterprises(ctx.db, ctx.who) if e.handle == org)
    va = _value_added(ctx.db, year, ids)
    total = float(doc["total_tco2e"])
    out.append(
        Kpis(
            [
                ("kpi.total", num(total, 1), "tCO2e"),
                ("kpi.energy", num(doc.get("energy_tce"), 1), "tce"),
                ("kpi.intensity", num(total / va, 3) if va else "—", "tCO2e/10⁴ CNY"),
                ("kpi.records", len(doc["rows"]), ""),
            ]
        )
    )
    by_ent = (doc.get("by_level") or {}).get("enterprise") or {}
    if org == "park" and by_ent:
        names = {str(e.handle): str(e.name) for e in _enterprises(ctx.db, ctx.who)}
        if ctx.who.role == "regulator":
            by_ent = {k: v for k, v in by_ent.items() if k in names or k == "park"}
        items = sorted(by_ent.items(), key=lambda kv: -kv[1])
        out.append(
            Chart("chart.by_enterprise", _bar([names.get(k, k) for k, _ in items], [num(v, 2) for _, v in items]))
        )
        out.append(
            Table(
                "table.by_enterprise",
                ["col.enterprise", "col.name", "col.tco2e", "col.share"],
                [[k, names.get(k, k), num(v, 2), num(100 * v / total, 1) if total else None] for k, v in items],
            )
        )
    scopes = doc.get("by_scope") or {}
    cats = doc.get("by_category") or {}
    out.append(
        Chart(
            "chart.by_scope_category",
            {
                "data": [
                    {
                        "type": "bar",
                        "name": "scope",
                        "x": [f"scope {k}" for k in scopes],
                        "y": [num(v) for v in scopes.values()],
                    },
                    {
                        "type": "bar",
                        "name": "category",
                        "x": [f"cat. {k}" for k in cats],
                        "y": [num(v) for v in cats.values()],
                    },
                ],
                "layout": {"yaxis": {"title": "tCO2e"}},
            },
        )
    )
    out.append(_monthly_chart(doc["rows"]))
    if ctx.who.role in ("park_admin", "regulator") and org == "park":
        out.extend(_targets_brief(ctx, year))
        out.extend(_peak_brief(ctx))
    return out


def _targets_brief(ctx: Ctx, year: int) -> list[Section]:
    from carbonpark.services.targets import target_status

    try:
        st = target_status(ctx.db, "park", year)
    except CarbonparkError as exc:
        return [Note("note.targets_missing", str(exc), "gap")]
    return [
        Table(
            "table.target_checks",
            ["col.check", "col.detail"],
            [
                [c.get("name", c.get("kind", "")), "; ".join(f"{k}={v}" for k, v in c.items() if k != "name")]
                for c in st["checks"]
            ],
        )
    ]


def _peak(db: str | None) -> dict[str, Any]:
    from carbonpark.services.forecasting import park_peak

    result: dict[str, Any] = park_peak(db)
    return result


def _peak_brief(ctx: Ctx) -> list[Section]:
    try:
        peak = cached(("peak", ctx.db), lambda: _peak(ctx.db))
    except CarbonparkError as exc:
        return [_gap(exc)]
    rows = [
        [
            sc.get("name"),
            sc.get("peak_year"),
            num(sc.get("peak_tco2e"), 1),
            sc.get("peak_year_low"),
            sc.get("peak_year_high"),
        ]
        for sc in peak["scenarios"]
    ]
    return [
        Table("table.peak", ["col.scenario", "col.peak_year", "col.peak_tco2e", "col.year_low", "col.year_high"], rows)
    ]


# ------------------------------------------------------------------------------------ accounting and lineage


def accounting_page(ctx: Ctx) -> list[Section]:
    """Stored accounting run of an organisation: records by month, linked to their lineage."""
    from carbonpark.services.accounting import stored_document

    year = _year(ctx)
    org = _org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        doc = stored_document(ctx.db, org, str(year))
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    out.append(Kpis([("kpi.total", num(doc["total_tco2e"], 1), "tCO2e"), ("kpi.records", len(doc["rows"]), "")]))
    rows = [
        [
            Link(str(r["handle"] or r["record_id"]), f"/web/lineage?record={r['handle'] or r['record_id']}"),
            r["period"],
            r["source"],
            r["activity"],
            num(r["activity_amount"], 3),
            r["activity_unit"],
            r["gas"],
            r["scope"],
            r["category"],
            num(r["tco2e"], 3),
            r["method"],
        ]
        for r in doc["rows"]
    ]
    cols = ["col.record", "col.period", "col.source", "col.activity", "col.amount", "col.unit", "col.gas"]
    out.append(Table("table.records", [*cols, "col.scope", "col.category", "col.tco2e", "col.method"], rows))
    return out


def lineage(ctx: Ctx) -> list[Section]:
    """One emission record: its figures, factors and the chain from readings to tCO2e."""
    from carbonpark.services.accounting import explain_record

    ref = ctx.q("record")
    out: list[Section] = [Form([("record", "col.record", ref)])]
    if not ref:
        return out
    with session(ctx.db) as s:
        stmt = select(EmissionRecord).where(
            EmissionRecord.handle == ref if not ref.isdigit() else EmissionRecord.id == int(ref)
        )
        rec = s.scalars(stmt).first()
        if rec is None:
            return [*out, _gap(NotFoundError("emission record", ref))]
        visible = _visible(ctx.who)
        if ctx.who.role == "regulator" or (visible is not None and rec.enterprise_id not in visible):
            return [*out, _gap(NotFoundError("emission record", ref))]
        factors = list(rec.factors or [])
        facts = [
            ["col.period", rec.period],
            ["col.source", rec.source_label],
            ["col.activity", rec.activity],
            ["col.amount", f"{num(rec.activity_amount, 3)} {rec.activity_unit}"],
            ["col.formula", rec.formula],
            ["col.tco2e", num(rec.tco2e, 4)],
            ["col.method", rec.method],
        ]
    out.append(Table("table.record", ["col.field", "col.value"], facts))
    out.append(
        Table(
            "table.factors",
            ["col.factor", "col.value", "col.unit", "col.source_doc"],
            [[f.get("id"), f.get("value"), f.get("unit"), f.get("source")] for f in factors if isinstance(f, dict)],
        )
    )
    try:
        out.append(Note("note.lineage", explain_record(ctx.db, ref), "pre"))
    except CarbonparkError as exc:
        out.append(_gap(exc))
    return out


# ------------------------------------------------------------------------------------ monitoring


def monitoring_page(ctx: Ctx) -> list[Section]:
    """Latest values and loads, emissions rate, data latency and alarms (refreshed live by server-sent events)."""
    from carbonpark.services import monitoring as mon
    from carbonpark.times import parse_timestamp

    if ctx.who.role == "regulator":
        ov = {**mon.overview(ctx.db), "meters": [], "enterprises": {}}
    else:
        ov = mon.overview(ctx.db, ctx.who, ctx.q("enterprise") or None)
    rate = (ov.get("emissions") or {}).get("tco2e_per_h")
    now = time.time() * 1000
    out: list[Section] = [
        Kpis(
            [
                ("kpi.as_of", ov.get("as_of") or "—", ""),
                ("kpi.emissions_rate", num(rate, 3) if rate is not None else "—", "tCO2e/h"),
                ("kpi.open_alarms", ov.get("open_alarms") if ov.get("open_alarms") is not None else "—", ""),
                ("kpi.meters", len(ov["meters"]), ""),
            ]
        )
    ]
    if ov.get("park"):
        park = ov["park"]
        out.append(Chart("chart.park_load", _bar(list(park), [num(v, 3) for v in park.values()])))
    rows = []
    for m in ov["meters"]:
        latency = None
        if m["last_ts"]:
            latency = round((now - parse_timestamp(m["last_ts"])) / 3_600_000, 1)
        rows.append(
            [
                m["handle"],
                m["code"],
                m["enterprise"],
                m["quantity"],
                m["last_ts"],
                num(m["last_value"], 3),
                num(m["load_per_h"], 3),
                m["unit"],
                latency,
            ]
        )
    cols = [
        "col.meter",
        "col.code",
        "col.enterprise",
        "col.quantity",
        "col.last_ts",
        "col.last_value",
        "col.load",
        "col.unit",
    ]
    out.append(Table("table.latest", [*cols, "col.latency_h"], rows))
    if ctx.who.role != "regulator":
        alarms = mon.list_alarms(ctx.db, "open", ctx.who, 200)
        out.append(
            Table(
                "table.alarms",
                ["col.id", "col.kind", "col.subject", "col.state", "col.raised", "col.message"],
                [
                    [
                        a.get("id"),
                        a.get("kind"),
                        a.get("subject") or a.get("meter"),
                        a.get("state"),
                        a.get("raised"),
                        a.get("message"),
                    ]
                    for a in alarms
                ],
            )
        )
    return out


# ------------------------------------------------------------------------------------ enterprise


def enterprise_page(ctx: Ctx) -> list[Section]:
    """Meters, quality flags, inventory status and allowances of one enterprise."""
    from carbonpark.quality.flags import flag_names
    from carbonpark.services import inventory as inv_service
    from carbonpark.services import trading

    year = _year(ctx)
    ents = _enterprises(ctx.db, ctx.who)
    if ctx.who.role == "regulator" or not ents:
        return [Note("note.no_enterprise", "", "gap")]
    wanted = ctx.q("org") or str(ents[0].handle)
    ent = next((e for e in ents if str(e.handle) == wanted), None)
    if ent is None:
        return [_gap(NotFoundError("enterprise", wanted))]
    out: list[Section] = [
        Form([("org", "field.org", str(ent.handle)), ("year", "field.year", str(year))]),
        Kpis(
            [
                ("col.name", ent.name, ""),
                ("col.credit_code", ent.credit_code, ""),
                ("col.key_emitter", "✓" if ent.key_emitter else "—", ""),
            ]
        ),
    ]
    with session(ctx.db) as s:
        meters = access.list_rows(s, ctx.who, "meters", limit=1000, filters={"enterprise": str(ent.id)}).to_dict()
    out.append(
        Table(
            "table.meters",
            ["col.meter", "col.code", "col.quantity", "col.unit", "col.interval"],
            [
                [m.get("handle"), m.get("code"), m.get("quantity"), m.get("unit"), m.get("interval_s")]
                for m in meters["items"]
            ],
        )
    )
    flags = _quality_counts(ctx, ent.id)
    out.append(
        Table(
            "table.quality_flags",
            ["col.flag", "col.readings"],
            [[", ".join(flag_names(f)) or "ok", n] for f, n in flags],
        )
    )
    try:
        steps = inv_service.steps(ctx.db, str(ent.handle), year)
        out.append(
            Table(
                "table.inventory_steps",
                ["col.step", "col.name", "col.state", "col.actor"],
                [
                    [st["step"], st["name_zh"] if ctx.lang == "zh-CN" else st["name_en"], st["state"], st["actor"]]
                    for st in steps
                ],
            )
        )
    except CarbonparkError as exc:
        out.append(_gap(exc))
    with session(ctx.db) as s:
        held = trading.balances(s, ctx.who if ctx.who.role == "enterprise" else None, ent.id)
    rows = [
        [acct, asset, num(v.get("available")), num(v.get("reserved")), num(v.get("total"))]
        for acct, assets in held["accounts"].items()
        for asset, v in assets.items()
    ]
    out.append(
        Table("table.allowances", ["col.account", "col.asset", "col.available", "col.reserved", "col.total"], rows)
    )
    return out


def _quality_counts(ctx: Ctx, enterprise_id: int) -> list[tuple[int, int]]:
    from carbonpark.store.schema import Meter, Reading

    with session(ctx.db) as s:
        rows = s.execute(
            select(Reading.quality, func.count())
            .join(Meter, Meter.id == Reading.meter_id)
            .where(Meter.enterprise_id == enterprise_id, access.enterprise_filter(ctx.who, Meter.enterprise_id))
            .group_by(Reading.quality)
            .order_by(Reading.quality)
        ).all()
    return [(int(q), int(n)) for q, n in rows]


# ------------------------------------------------------------------------------------ forecasts and dispatch


def _forecast(db: str | None, horizon: int) -> Any:
    from carbonpark.services.forecasting import BULK_MODEL, forecast_stored

    run, _stored = forecast_stored(db, horizon, org="park", model=BULK_MODEL, windows=1)
    return run


def forecast_page(ctx: Ctx) -> list[Section]:
    """Day-ahead forecast of the park's electricity intake with its intervals; the peak per scenario."""
    out: list[Section] = []
    try:
        run = cached(("forecast", ctx.db), lambda: _forecast(ctx.db, 24))
    except CarbonparkError as exc:
        out.append(_gap(exc))
    else:
        f = run.forecast
        x = [str(v) for v in f["ts"]]
        data: list[dict[str, Any]] = []
        for level in ("95", "80"):
            if f"lo-{level}" in f and f"hi-{level}" in f:
                data.append(
                    {
                        "type": "scatter",
                        "x": x,
                        "y": f[f"hi-{level}"].round(3).tolist(),
                        "line": {"width": 0},
                        "showlegend": False,
                        "name": f"hi-{level}",
                    }
                )
                data.append(
                    {
                        "type": "scatter",
                        "x": x,
                        "y": f[f"lo-{level}"].round(3).tolist(),
                        "fill": "tonexty",
                        "line": {"width": 0},
                        "name": f"{level} %",
                    }
                )
        data.append({"type": "scatter", "x": x, "y": f["mean"].round(3).tolist(), "name": run.model})
        out.append(Kpis([("kpi.model", run.model, ""), ("kpi.horizon", len(f), "h")]))
        out.append(Chart("chart.forecast", {"data": data, "layout": {"yaxis": {"title": "kWh"}}}))
        cols = [c for c in ("ts", "mean", "lo-80", "hi-80", "lo-95", "hi-95") if c in f]
        heads = {
            "ts": "col.time",
            "mean": "col.yhat",
            "lo-80": "col.lo80",
            "hi-80": "col.hi80",
            "lo-95": "col.lo95",
            "hi-95": "col.hi95",
        }
        out.append(
            Table(
                "table.forecast",
                [heads[c] for c in cols],
                [[str(r[c]) if c == "ts" else num(r[c], 3) for c in cols] for _, r in f.iterrows()],
            )
        )
    out.extend(_peak_brief(ctx))
    return out


def _day_ahead(db: str | None) -> Any:
    from carbonpark.services.dispatching import park_day_ahead

    result, _scenario = park_day_ahead(db)
    return result


def dispatch_page(ctx: Ctx) -> list[Section]:
    """Day-ahead dispatch: stacked schedule, state of charge, savings against the baseline."""
    try:
        res = cached(("dispatch", ctx.db), lambda: _day_ahead(ctx.db))
    except CarbonparkError as exc:
        return [_gap(exc)]
    base = res.baseline
    saving = float(base.total_cost - res.total_cost) if hasattr(base, "total_cost") else None
    out: list[Section] = [
        Kpis(
            [
                ("kpi.cost", num(res.total_cost, 0), "CNY"),
                ("kpi.baseline_cost", num(getattr(base, "total_cost", None), 0), "CNY"),
                ("kpi.savings", num(saving, 0), "CNY"),
                ("kpi.status", res.status, ""),
            ]
        )
    ]
    x = list(res.timestamps)
    negative = ("charge_kw", "export_kw", "curtailed_kw")
    data, soc, cols, series = [], [], [], []
    for asset, variables in res.schedule.items():
        for var, values in variables.items():
            name = f"{asset}.{var}"
            cols.append(name)
            series.append([num(float(v), 2) for v in values])
            if var.endswith("_kw") and var != "curtailed_kw":
                sign = -1.0 if var in negative else 1.0
                data.append({"type": "bar", "name": name, "x": x, "y": [round(sign * float(v), 2) for v in values]})
            elif "soc" in var:
                soc.append({"type": "scatter", "name": name, "x": x, "y": [round(float(v), 2) for v in values]})
    out.append(Chart("chart.schedule", {"data": data, "layout": {"barmode": "relative", "yaxis": {"title": "kW"}}}))
    if soc:
        out.append(Chart("chart.soc", {"data": soc, "layout": {"yaxis": {"title": "kWh"}}}))
    out.append(
        Table("table.schedule", ["col.time", *cols], [[x[i], *[col[i] for col in series]] for i in range(len(x))])
    )
    return out


# ------------------------------------------------------------------------------------ evaluation


def _evaluation(db: str | None, year: int) -> Any:
    from carbonpark import evaluate
    from carbonpark.services.accounting import stored_document

    figures: dict[str, float | bool] = {"carbon_data_platform": True}
    with session(db) as s:
        ents = int(s.scalar(select(func.count()).select_from(Enterprise)) or 0)
        stats = dict(
            s.execute(
                select(Statistic.metric, func.sum(Statistic.value))
                .where(Statistic.period.like(f"{year}%"))
                .group_by(Statistic.metric)
            ).all()
        )
    figures.update({"enterprises_total": ents, "enterprises_on_platform": ents})
    try:
        doc = stored_document(db, "park", str(year))
        figures.update({"emissions_tco2e": float(doc["total_tco2e"]), "energy_total_tce": float(doc["energy_tce"])})
    except CarbonparkError:
        pass
    for metric, key in (
        ("value_added", "gdp_10k_cny"),
        ("gross_output_value", "output_10k_cny"),
        ("employees", "employees"),
    ):
        if stats.get(metric):
            figures[key] = float(stats[metric])
    platform = evaluate.indicators_from_platform(figures)
    values = evaluate.merge_inputs(platform.values, evaluate.demo_entered_values())
    return evaluate.evaluate(values)


def evaluation_page(ctx: Ctx) -> list[Section]:
    """Evaluation of the park (AII indicator system): score, radar by dimension, weakest indicators."""
    year = _year(ctx)
    result = _evaluation(ctx.db, year)
    out: list[Section] = [
        Kpis([("kpi.score", num(float(result.score), 2), "/100"), ("kpi.missing", len(result.missing), "")])
    ]
    doc = result.as_dict()
    level1 = doc["level1"]
    theta = [f"L1-{k}" for k in level1]
    r = [num(float(v), 2) for v in level1.values()]
    radar = {"type": "scatterpolar", "r": [*r, r[0]], "theta": [*theta, theta[0]], "fill": "toself"}
    out.append(Chart("chart.radar", {"data": [radar], "layout": {"polar": {"radialaxis": {"range": [0, 100]}}}}))
    name = "name_zh" if ctx.lang == "zh-CN" else "name_en"
    weakest = sorted(doc["indicators"], key=lambda i: -float(i["loss"] or 0.0))[:15]
    rows = [
        [
            i["id"],
            i[name],
            num(i["score"], 2),
            num(i["global_weight"], 4),
            num(i["loss"], 3),
            "✓" if i["missing"] else "",
        ]
        for i in weakest
    ]
    out.append(
        Table("table.weakest", ["col.id", "col.name", "col.score", "col.weight", "col.loss", "col.missing"], rows)
    )
    return out


# ------------------------------------------------------------------------------------ inventory


def inventory_page(ctx: Ctx) -> list[Section]:
    """Inventory workflow steps, versions, reporting calendar and the key-emitter list."""
    from carbonpark.services import inventory as inv

    year = _year(ctx)
    org = _org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        steps = inv.steps(ctx.db, org, year)
        name = "name_zh" if ctx.lang == "zh-CN" else "name_en"
        out.append(
            Table(
                "table.inventory_steps",
                ["col.step", "col.name", "col.state", "col.actor"],
                [[st["step"], st[name], st["state"], st["actor"]] for st in steps],
            )
        )
        vers = inv.versions(ctx.db, org, year)
        out.append(
            Table(
                "table.versions",
                ["col.version", "col.status", "col.tco2e", "col.actor"],
                [[v.get("version"), v.get("status"), num(v.get("total_tco2e")), v.get("actor")] for v in vers],
            )
        )
        statement = inv.latest_statement(ctx.db, org, year)
        if statement:
            out.append(
                Table("table.statement", ["col.field", "col.value"], [[k, str(v)[:200]] for k, v in statement.items()])
            )
    except CarbonparkError as exc:
        out.append(_gap(exc))
    cal = inv.calendar(ctx.db, year)
    text = "label_zh" if ctx.lang == "zh-CN" else "label_en"
    rows = [[c["org"], r[text], r["due"], r["days_left"], r["status"]] for c in cal for r in c["reminders"]]
    out.append(Table("table.calendar", ["col.org", "col.item", "col.due", "col.days_left", "col.state"], rows))
    if ctx.who.role in ("park_admin", "regulator"):
        kel = inv.key_emitter_list(ctx.db, year)
        out.append(
            Table(
                "table.key_emitters",
                ["col.field", "col.value"],
                [[str(k.get("handle", "")), str(k)[:300]] for k in kel],
            )
        )
    return out


REPORTS: dict[str, Callable[[Ctx], tuple[bytes, str]]] = {}


# ------------------------------------------------------------------------------------ trading and energy


def trading_page(ctx: Ctx) -> list[Section]:
    """Order book, trades, holdings and compliance of allowances."""
    from carbonpark.services import trading

    year = _year(ctx)
    who = None if ctx.who.role in ("park_admin", "regulator") else ctx.who
    with session(ctx.db) as s:
        comp = trading.compliance_status(s, year, who=who)
        held = trading.balances(s, who)
        done = trading.trades(s, who)
        book = trading.orders(s, who) if ctx.who.role != "regulator" else []
    out: list[Section] = []
    out.append(
        Table(
            "table.compliance",
            ["col.enterprise", "col.field", "col.value"],
            [[c.get("enterprise"), k, str(v)[:120]] for c in comp for k, v in c.items() if k != "enterprise"],
        )
    )
    out.append(
        Table(
            "table.orders",
            ["col.id", "col.side", "col.asset", "col.price", "col.quantity", "col.state"],
            [
                [
                    o.get("id"),
                    o.get("side"),
                    o.get("asset"),
                    num(o.get("price")),
                    num(o.get("quantity")),
                    o.get("status"),
                ]
                for o in book
            ],
        )
    )
    out.append(
        Table(
            "table.trades",
            ["col.id", "col.asset", "col.price", "col.quantity", "col.time"],
            [
                [t.get("id"), t.get("asset"), num(t.get("price")), num(t.get("quantity")), t.get("at") or t.get("ts")]
                for t in done
            ],
        )
    )
    if done:
        out.append(
            Chart(
                "chart.trades",
                {
                    "data": [
                        {
                            "type": "scatter",
                            "mode": "markers+lines",
                            "x": [t.get("at") or t.get("ts") or i for i, t in enumerate(done)],
                            "y": [num(t.get("price")) for t in done],
                        }
                    ],
                    "layout": {"yaxis": {"title": "CNY/t"}},
                },
            )
        )
    if ctx.who.role != "regulator":
        out.append(
            Table(
                "table.allowances",
                ["col.account", "col.asset", "col.available", "col.reserved", "col.total"],
                [
                    [a, asset, num(v.get("available")), num(v.get("reserved")), num(v.get("total"))]
                    for a, assets in held["accounts"].items()
                    for asset, v in assets.items()
                ],
            )
        )
    return out


def energy_page(ctx: Ctx) -> list[Section]:
    """能耗双控 position of the park or an enterprise against its caps; product quotas; key energy units."""
    from carbonpark.services import trading

    year = _year(ctx)
    org = _org_of(ctx)
    who = None if ctx.who.role == "park_admin" else ctx.who
    out: list[Section] = [_org_form(ctx, year, org)]
    with session(ctx.db) as s:
        try:
            pos = trading.energy_position(s, org, year, who if org != "park" else None)
            out.append(
                Table(
                    "table.energy_position", ["col.field", "col.value"], [[k, plain(num(v, 3))] for k, v in pos.items()]
                )
            )
        except CarbonparkError as exc:
            out.append(_gap(exc))
        quotas = trading.check_product_quotas(s, year, who)
        out.append(
            Table("table.quotas", ["col.field", "col.value"], [[q.get("product", ""), str(q)[:300]] for q in quotas])
        )
        if ctx.who.role in ("park_admin", "regulator"):
            units = trading.key_energy_units(s, year)
            out.append(
                Table(
                    "table.key_energy_units",
                    ["col.enterprise", "col.energy_tce"],
                    [[u.get("enterprise") or u.get("handle"), num(u.get("energy_tce"))] for u in units],
                )
            )
    return out


# ------------------------------------------------------------------------- targets, retrofit, ratings, admission


def targets_page(ctx: Ctx) -> list[Section]:
    """Targets, monthly gap and the path (``services.targets.target_status``)."""
    from carbonpark.services.targets import target_status

    year = _year(ctx)
    org = _org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        st = target_status(ctx.db, org, year)
    except CarbonparkError as exc:
        return [*out, Note("note.targets_missing", str(exc), "gap")]
    out.append(Table("table.targets", ["col.field", "col.value"], [[k, str(v)] for k, v in st["targets"].items()]))
    traj = st["path"]["trajectory_tco2e"]
    caps = st["targets"]["caps_tco2e"]
    data = [{"type": "scatter", "name": "path", "x": list(traj), "y": [num(v) for v in traj.values()]}]
    if caps:
        data.append({"type": "scatter", "mode": "markers", "name": "cap", "x": list(caps), "y": list(caps.values())})
    out.append(Chart("chart.path", {"data": data, "layout": {"yaxis": {"title": "tCO2e"}}}))
    out.append(Table("table.months", ["col.field", "col.value"], [[m.get("month"), str(m)] for m in st["months"]]))
    out.append(
        Table(
            "table.measures",
            ["col.id", "col.name", "col.year", "col.tco2e", "col.state"],
            [
                [m.get("id"), m.get("name"), m.get("year"), num(m.get("annual_abatement_tco2e")), m.get("status")]
                for m in st["path"]["measures"]
            ],
        )
    )
    out.append(
        Table(
            "table.target_checks",
            ["col.check", "col.detail"],
            [[c.get("name", c.get("kind", "")), "; ".join(f"{k}={v}" for k, v in c.items())] for c in st["checks"]],
        )
    )
    return out


def retrofit_page(ctx: Ctx) -> list[Section]:
    """MACC and portfolio of the packaged illustrative measures catalogue; stored projects are a gap."""
    from carbonpark.retrofit.catalogue import load_catalogue

    out: list[Section] = [Note("note.retrofit_gap", "", "gap")]
    cat = load_catalogue()
    rows = [[k, getattr(m, "name", ""), str(getattr(m, "category", ""))] for k, m in cat.items()]
    out.append(Table("table.catalogue", ["col.id", "col.name", "col.category"], rows))
    return out


def _enterprise_years(ctx: Ctx, year: int) -> list[Any]:
    from carbonpark.retrofit.rating import EnterpriseYear
    from carbonpark.services.accounting import stored_document

    out = []
    for ent in _enterprises(ctx.db, ctx.who):
        try:
            doc = stored_document(ctx.db, str(ent.handle), str(year))
        except CarbonparkError:
            continue
        va = _value_added(ctx.db, year, frozenset({ent.id}))
        if va > 0:
            out.append(
                EnterpriseYear(
                    str(ent.handle),
                    str(ent.industry_code or ""),
                    float(doc["total_tco2e"]),
                    va,
                    float(doc.get("energy_tce") or 0.0),
                )
            )
    return out


def ratings_page(ctx: Ctx) -> list[Section]:
    """碳效码 grades and ranking of the enterprises from their stored emissions and value added."""
    from carbonpark.retrofit.rating import rate_enterprises

    year = _year(ctx)
    years = _enterprise_years(ctx, year)
    if not years:
        return [Note("note.gap", "no stored enterprise emissions with value added", "gap")]
    ratings = rate_enterprises(years)
    rows = [
        [
            r.rank_in_park,
            r.id,
            r.industry,
            num(r.intensity_tco2e_per_10k_cny, 3),
            num(r.industry_average, 3),
            num(r.k, 3),
            r.grade,
            r.level,
            r.reason,
        ]
        for r in ratings
    ]
    return [
        Chart("chart.ratings", _bar([r.id for r in ratings], [num(r.intensity_tco2e_per_10k_cny, 3) for r in ratings])),
        Table(
            "table.ratings",
            [
                "col.rank",
                "col.enterprise",
                "col.industry",
                "col.intensity",
                "col.industry_avg",
                "col.k",
                "col.grade",
                "col.level",
                "col.reason",
            ],
            rows,
        ),
    ]


def admission_page(ctx: Ctx) -> list[Section]:
    """Whether the park still meets its caps with a candidate project admitted (figures from the form)."""
    from carbonpark.retrofit.admission import ParkFigures, admission_check
    from carbonpark.services.accounting import stored_document

    year = _year(ctx)
    fields = [
        ("candidate", "field.candidate", ctx.q("candidate", "candidate")),
        ("emissions", "field.emissions", ctx.q("emissions")),
        ("value_added", "field.value_added", ctx.q("value_added")),
        ("energy", "field.energy", ctx.q("energy")),
        ("industry", "field.industry", ctx.q("industry")),
    ]
    out: list[Section] = [Form(fields, "action.check")]
    try:
        doc = stored_document(ctx.db, "park", str(year))
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    park = ParkFigures(float(doc["total_tco2e"]), _value_added(ctx.db, year, None), float(doc.get("energy_tce") or 0.0))
    out.append(
        Kpis(
            [
                ("kpi.total", num(park.emissions_tco2e, 1), "tCO2e"),
                ("kpi.value_added", num(park.value_added_10k_cny, 1), "10⁴ CNY"),
            ]
        )
    )
    if not ctx.q("emissions"):
        return out
    try:
        cand = ParkFigures(float(ctx.q("emissions")), float(ctx.q("value_added") or 0), float(ctx.q("energy") or 0))
    except ValueError:
        return [*out, Note("note.error", "expected numbers for emissions, value added and energy", "error")]
    caps = _park_caps(ctx, year)
    result = admission_check(ctx.q("candidate", "candidate"), cand, park, caps, industry=ctx.q("industry") or None)
    out.append(
        Kpis(
            [
                ("kpi.admissible", "✓" if result.admissible else "✗", ""),
                ("kpi.grade", result.grade if result.grade is not None else "—", ""),
            ]
        )
    )
    out.append(
        Table(
            "table.admission",
            ["col.check", "col.limit", "col.before", "col.after", "col.headroom", "col.passed"],
            [
                [c.name, num(c.limit), num(c.before), num(c.after), num(c.headroom_after), "✓" if c.passed else "✗"]
                for c in result.checks
            ],
        )
    )
    out.append(Note("note.conclusion", result.conclusion))
    return out


def _park_caps(ctx: Ctx, year: int) -> Any:
    from carbonpark.retrofit.admission import ParkTargets
    from carbonpark.services.targets import target_status

    try:
        st = target_status(ctx.db, "park", year)
    except CarbonparkError:
        return ParkTargets()
    t = st["targets"]
    return ParkTargets(t["caps_tco2e"].get(str(year)), t["intensity_caps"].get(str(year)), None)


# ------------------------------------------------------------------------------------ ledger, identifiers, footprint


def ledger_page(ctx: Ctx) -> list[Section]:
    """Signed tree head; a record's inclusion proof (scoped); full verification for the park admin."""
    from carbonpark.services import ledger

    out: list[Section] = []
    try:
        head = ledger.head_json(ctx.db)
        out.append(Table("table.tree_head", ["col.field", "col.value"], [[k, str(v)] for k, v in head.items()]))
    except CarbonparkError as exc:
        out.append(_gap(exc))
    record = ctx.q("record")
    out.append(Form([("record", "col.record", record)], "action.verify"))
    if record:
        try:
            with session(ctx.db) as s:
                proof = ledger.scoped_proof(s, ctx.who, record)
            out.append(Table("table.proof", ["col.field", "col.value"], [[k, str(v)[:300]] for k, v in proof.items()]))
        except CarbonparkError as exc:
            out.append(_gap(exc))
    if ctx.who.role == "park_admin" and ctx.q("verify") == "all":
        rep = ledger.verify(ctx.db)
        out.append(Kpis([("kpi.ledger_ok", "✓" if rep.ok else "✗", ""), ("kpi.findings", len(rep.findings), "")]))
    return out


def identifiers_page(ctx: Ctx) -> list[Section]:
    """Resolve a Handle identifier (with the reader's rights)."""
    from carbonpark.services import identifiers as ids

    handle = ctx.q("handle")
    out: list[Section] = [Form([("handle", "field.handle", handle)], "action.resolve")]
    if not handle:
        return out
    with session(ctx.db) as s:
        reader = ids.reader_for(s, ctx.who.name, ctx.who.role, ctx.who.enterprise_id)
    try:
        answer = ids.resolve_once(ctx.db, handle, reader)
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    doc = answer.to_dict() if hasattr(answer, "to_dict") else vars(answer)
    values = doc.get("values") or []
    out.append(
        Table(
            "table.identifier",
            ["col.index", "col.type", "col.value"],
            [[v.get("index"), v.get("type"), str(v.get("data", v.get("value")))[:300]] for v in values],
        )
    )
    return out


def _footprints(db: str | None, year: int) -> Any:
    from carbonpark.services.footprints import FootprintOptions, park_footprints

    with session(db) as s:
        return park_footprints(s, FootprintOptions(period=str(year)), register=False)


def footprint_page(ctx: Ctx) -> list[Section]:
    """Product carbon footprints and a Sankey of one product's contributions by life-cycle stage."""
    year = _year(ctx)
    try:
        res = cached(("footprint", ctx.db, year), lambda: _footprints(ctx.db, year))
    except CarbonparkError as exc:
        return [_gap(exc)]
    names = res.names
    rows = []
    for handle, fp in res.footprints.items():
        rows.append(
            [
                handle,
                names.get(handle, handle),
                num(getattr(fp, "total_kgco2e", getattr(fp, "total", None)), 4),
                getattr(fp, "unit", ""),
            ]
        )
    out: list[Section] = [Table("table.footprints", ["col.product", "col.name", "col.kgco2e", "col.unit"], rows)]
    first = ctx.q("product") or (rows[0][0] if rows else "")
    fp = res.footprints.get(first)
    stages = getattr(fp, "by_stage", None) if fp is not None else None
    if stages:
        labels = [names.get(first, first), *stages.keys()]
        out.append(
            Chart(
                "chart.sankey",
                {
                    "data": [
                        {
                            "type": "sankey",
                            "node": {"label": labels},
                            "link": {
                                "source": [i + 1 for i in range(len(stages))],
                                "target": [0] * len(stages),
                                "value": [num(abs(float(v)), 6) for v in stages.values()],
                            },
                        }
                    ],
                    "layout": {},
                },
            )
        )
    return out


# ------------------------------------------------------------------------------------ registry of pages


PAGES: dict[str, PageDef] = {
    p.key: p
    for p in (
        PageDef("overview", ALL, overview),
        PageDef("monitoring", ALL, monitoring_page),
        PageDef("enterprise", ("park_admin", "enterprise", "verifier"), enterprise_page),
        PageDef("accounting", ("park_admin", "enterprise", "verifier"), accounting_page),
        PageDef("lineage", ("park_admin", "enterprise", "verifier"), lineage, in_menu=False),
        PageDef("forecast", ("park_admin", "regulator"), forecast_page),
        PageDef("dispatch", ("park_admin",), dispatch_page),
        PageDef("evaluation", ("park_admin", "regulator"), evaluation_page),
        PageDef("inventory", ALL, inventory_page),
        PageDef("trading", ("park_admin", "enterprise", "regulator"), trading_page),
        PageDef("energy", ("park_admin", "enterprise", "regulator"), energy_page),
        PageDef("targets", ("park_admin", "regulator"), targets_page),
        PageDef("retrofit", ("park_admin",), retrofit_page),
        PageDef("ratings", ("park_admin", "regulator"), ratings_page),
        PageDef("admission", ("park_admin", "regulator"), admission_page),
        PageDef("ledger", ALL, ledger_page),
        PageDef("identifiers", ALL, identifiers_page),
        PageDef("footprint", ("park_admin", "enterprise"), footprint_page),
        PageDef("upload", ("park_admin", "enterprise"), lambda ctx: [], in_menu=True),
    )
}


def allowed(key: str, role: str) -> bool:
    """Whether ``role`` may open page ``key``."""
    page = PAGES.get(key)
    return page is not None and role in page.roles


def menu(role: str) -> list[str]:
    """The page keys of ``role``'s menu, in order."""
    return [p.key for p in PAGES.values() if p.in_menu and role in p.roles]


def build(key: str, ctx: Ctx) -> list[Section]:
    """The sections of page ``key``; a carbonpark error becomes a visible note, never a blank page."""
    try:
        return PAGES[key].build(ctx)
    except CarbonparkError as exc:
        return [Note("note.error", str(exc), "error")]
