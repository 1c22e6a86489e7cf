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

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from carbonpark.errors import CarbonparkError, NotFoundError, ValidationError
from carbonpark.services import access
from carbonpark.services.access import Principal
from carbonpark.store import session
from carbonpark.store.schema import Enterprise, Park, Statistic
from carbonpark.store.schema_accounting import AccountingRun, EmissionRecord
from carbonpark.times import local_iso
from carbonpark.web.i18n import translate

__all__ = [
    "PAGES",
    "Action",
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
    "enterprises_in_scope",
    "footprints_of",
    "has_points",
    "menu",
    "org_of",
    "plain",
    "products_in_scope",
    "retrofit_bundle",
    "series",
    "stored_evaluation",
    "year_of",
]

ALL = ("park_admin", "enterprise", "verifier", "regulator")
#: Metered quantities whose park-wide load the monitoring page shows (``services.monitoring.overview``).
QUANTITIES = ("energy", "volume", "mass")


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


@dataclass
class Action:
    """A button linking to ``href`` (same page with parameters, e.g. ``?verify=all``); ``label`` is a message key."""

    label: str
    href: str
    id: str = ""


Section = Kpis | Table | Chart | Note | Form | Action


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


def series(ctx: Ctx, key: str) -> str:
    """The legend name of a chart series (message ``series.<key>`` in the page's language)."""
    return translate(ctx.lang, f"series.{key}")


def _points(trace: Mapping[str, Any]) -> int:
    """Number of drawable values of a plotly trace (y, r or a Sankey's link values; None does not count)."""
    values = trace.get("y") or trace.get("r") or (trace.get("link") or {}).get("value") or []
    return sum(1 for v in values if v is not None)


def has_points(chart: Chart) -> bool:
    """Whether at least one trace of the figure has a value to draw."""
    return any(_points(trace) for trace in chart.figure.get("data") or [])


def _no_empty_charts(sections: list[Section]) -> list[Section]:
    """A chart without any value becomes a note saying so: no blank plot area on a page."""
    return [
        sec if not isinstance(sec, Chart) or has_points(sec) else Note("note.chart_empty", "", "gap")
        for sec in sections
    ]


def _bar(x: list[Any], y: list[Any], name: str = "", **layout: Any) -> dict[str, Any]:
    return {"data": [{"type": "bar", "x": x, "y": y, "name": name}], "layout": layout}


# ------------------------------------------------------------------------------------ helpers


def _visible(who: Principal) -> frozenset[int] | None:
    return access.visible_enterprise_ids(who)


def enterprises_in_scope(db: str | None, who: Principal) -> list[Enterprise]:
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


def year_of(ctx: Ctx) -> int:
    given = ctx.q("year")
    if given:
        if not given.isdigit():
            raise ValidationError("year", "a year such as 2025", given)
        return int(given)
    years = _years(ctx.db)
    return years[-1] if years else time.localtime().tm_year - 1


def org_of(ctx: Ctx) -> str:
    """The organisation a page is about: the park for park_admin/regulator, else the own/assigned enterprise."""
    wanted = ctx.q("org")
    ents = enterprises_in_scope(ctx.db, ctx.who)
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


def _monthly(ctx: Ctx, rows: list[dict[str, Any]]) -> list[Section]:
    """Emissions by month and scope [tCO2e]: a stacked bar chart and its table."""
    by: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        by[str(r["scope"])][str(r["period"])] += float(r["tco2e"] or 0.0)
    months = sorted({str(r["period"]) for r in rows})
    scopes = sorted(by)
    data = [
        {
            "type": "bar",
            "name": f"{series(ctx, 'scope')} {scope}",
            "x": months,
            "y": [round(by[scope].get(m, 0.0), 3) for m in months],
        }
        for scope in scopes
    ]
    chart = Chart("chart.monthly_trend", {"data": data, "layout": {"barmode": "stack", "yaxis": {"title": "tCO2e"}}})
    table = Table(
        "table.monthly",
        ["col.period", *[f"{series(ctx, 'scope')} {scope}" for scope in scopes], "col.tco2e"],
        [
            [m, *[num(by[scope].get(m, 0.0), 3) for scope in scopes], num(sum(by[sc].get(m, 0.0) for sc in scopes), 3)]
            for m in months
        ],
    )
    return [chart, table]


def overview(ctx: Ctx) -> list[Section]:
    """Total and intensity, by enterprise, by category and scope, monthly trend, targets and the forecast peak."""
    from carbonpark.services.accounting import stored_document

    year = year_of(ctx)
    org = org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        doc = stored_document(ctx.db, org, str(year))
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    ids = None if org == "park" else frozenset(e.id for e in enterprises_in_scope(ctx.db, ctx.who) if e.handle == org)
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
        names = {str(e.handle): str(e.name) for e in enterprises_in_scope(ctx.db, ctx.who)}
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
    scope_names = {k: f"{series(ctx, 'scope')} {k}" for k in scopes}
    cat_names = {k: f"{series(ctx, 'category')} {k}" for k in cats}
    out.append(
        Chart(
            "chart.by_scope_category",
            {
                "data": [
                    {
                        "type": "bar",
                        "name": series(ctx, "scope"),
                        "x": list(scope_names.values()),
                        "y": [num(v) for v in scopes.values()],
                    },
                    {
                        "type": "bar",
                        "name": series(ctx, "category"),
                        "x": list(cat_names.values()),
                        "y": [num(v) for v in cats.values()],
                    },
                ],
                "layout": {"yaxis": {"title": "tCO2e"}},
            },
        )
    )
    out.append(
        Table(
            "table.by_scope_category",
            ["col.breakdown", "col.tco2e", "col.share"],
            [
                [name, num(value, 3), num(100 * float(value) / total, 1) if total else None]
                for names, values in ((scope_names, scopes), (cat_names, cats))
                for key, name in names.items()
                for value in [values[key]]
            ],
        )
    )
    out.extend(_monthly(ctx, doc["rows"]))
    if ctx.who.role in ("park_admin", "regulator") and org == "park":
        out.extend(_targets_brief(ctx, year))
        out.extend(_peak_brief(ctx))
    return out


def _checks_table(checks: list[dict[str, Any]]) -> Table:
    """Every target against the path (``retrofit.targets.check_path``): figures, kept or missed, why."""
    return Table(
        "table.target_checks",
        ["col.target", "col.year", "col.limit", "col.value", "col.unit", "col.met", "col.explanation"],
        [
            [
                c.get("target"),
                c.get("year"),
                num(c.get("limit"), 4),
                num(c.get("value"), 4),
                c.get("unit"),
                "—" if c.get("met") is None else ("✓" if c["met"] else "✗"),
                c.get("explanation"),
            ]
            for c in checks
        ],
    )


def _targets_brief(ctx: Ctx, year: int) -> list[Section]:
    from carbonpark.services.targets import target_status

    try:
        st = target_status(ctx.db, "park", year)
    except CarbonparkError as exc:
        return [Note("note.targets_missing", str(exc), "gap")]
    return [_checks_table(st["checks"])]


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

    year = year_of(ctx)
    org = org_of(ctx)
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
    units = ov.get("units") or {}
    if ov.get("park"):
        out.append(
            Kpis([(f"quantity.{q}", num(v, 1), units.get(q, "")) for q, v in ov["park"].items() if q in QUANTITIES])
        )
    loads = {ent: v["energy"] for ent, v in (ov.get("enterprises") or {}).items() if v.get("energy") is not None}
    if loads:
        names = {str(e.handle): str(e.name) for e in enterprises_in_scope(ctx.db, ctx.who)}
        out.append(
            Chart(
                "chart.energy_load",
                _bar(
                    [names.get(k, k) for k in loads],
                    [num(v, 1) for v in loads.values()],
                    yaxis={"title": units.get("energy", "kWh/h")},
                ),
            )
        )
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

    year = year_of(ctx)
    ents = enterprises_in_scope(ctx.db, ctx.who)
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
    data, soc, cols, values_of = [], [], [], []
    for asset, variables in res.schedule.items():
        for var, values in variables.items():
            name = f"{asset}.{var}"
            cols.append(name)
            values_of.append([num(float(v), 2) for v in values])
            if var.endswith("_kw") and var != "curtailed_kw":
                sign = -1.0 if var in negative else 1.0
                data.append({"type": "bar", "name": name, "x": x, "y": [round(sign * float(v), 2) for v in values]})
            elif "soc" in var:
                soc.append({"type": "scatter", "name": name, "x": x, "y": [round(float(v), 2) for v in values]})
    out.append(Chart("chart.schedule", {"data": data, "layout": {"barmode": "relative", "yaxis": {"title": "kW"}}}))
    if soc:
        out.append(Chart("chart.soc", {"data": soc, "layout": {"yaxis": {"title": "kWh"}}}))
    out.append(
        Table("table.schedule", ["col.time", *cols], [[x[i], *[col[i] for col in values_of]] for i in range(len(x))])
    )
    return out


# ------------------------------------------------------------------------------------ evaluation


def stored_evaluation(db: str | None, year: int) -> Any:
    """The park's evaluation of ``year`` from the store (``services.evaluation.evaluate_stored``).

    Platform indicators are computed from the store; the indicators the platform cannot count are the
    packaged illustrative entered values (``evaluate.demo_entered_values``), as in the demo and the
    page's note says so.
    """
    from carbonpark import evaluate
    from carbonpark.services.evaluation import evaluate_stored

    return evaluate_stored(db, year, entered=evaluate.demo_entered_values())


def evaluation_page(ctx: Ctx) -> list[Section]:
    """Evaluation of the park (AII indicator system): score, radar by dimension, weakest indicators, figures."""
    year = year_of(ctx)
    stored = stored_evaluation(ctx.db, year)
    result = stored.evaluation
    out: list[Section] = [
        Form([("year", "field.year", str(year))]),
        Kpis(
            [
                ("kpi.score", num(float(result.score), 2), "/100"),
                ("kpi.platform_indicators", len(stored.platform_ids), ""),
                ("kpi.missing", len(result.missing), ""),
            ]
        ),
        Note("note.entered_demo", "", "info"),
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
    out.append(
        Table(
            "table.platform_figures",
            ["col.figure", "col.value", "col.how"],
            [
                [k, v if isinstance(v, bool) else num(float(v), 4), stored.notes.get(k, "")]
                for k, v in stored.figures.items()
            ],
        )
    )
    return out


# ------------------------------------------------------------------------------------ inventory


def inventory_page(ctx: Ctx) -> list[Section]:
    """Inventory workflow steps, versions, verification statement, reporting calendar and key emitters."""
    from carbonpark.services import inventory as inv

    year = year_of(ctx)
    org = org_of(ctx)
    name = "name_zh" if ctx.lang == "zh-CN" else "name_en"
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        with session(ctx.db) as s:
            key, _ent = inv.org_in_scope(s, ctx.who, org, year)
        steps = inv.steps(ctx.db, key, year)
        vers = inv.versions(ctx.db, key, year)
        statement = inv.latest_statement(ctx.db, key, year)
    except CarbonparkError as exc:
        out.append(_gap(exc))
    else:
        done = sum(1 for st in steps if st["state"] == "done")
        latest = vers[-1] if vers else None
        out.append(
            Kpis(
                [
                    ("kpi.steps_done", f"{done}/{len(steps)}", ""),
                    ("kpi.latest_version", latest.get("version") if latest else "—", ""),
                    ("kpi.version_status", latest.get("status") if latest else "—", ""),
                    ("kpi.opinion", statement.get("opinion") if statement else "—", ""),
                ]
            )
        )
        out.append(
            Table(
                "table.inventory_steps",
                ["col.step", "col.name", "col.state", "col.actor"],
                [[st["step"], st[name], st["state"], st["actor"]] for st in steps],
            )
        )
        out.append(
            Table(
                "table.versions",
                ["col.version", "col.status", "col.tco2e", "col.actor"],
                [[v.get("version"), v.get("status"), num(v.get("total_tco2e")), v.get("actor")] for v in vers],
            )
        )
        if statement:
            out.append(
                Table(
                    "table.statement",
                    [
                        "col.version",
                        "col.verifier",
                        "col.opinion",
                        "col.assurance",
                        "col.materiality_pct",
                        "col.reported_tco2e",
                        "col.misstatement_tco2e",
                        "col.findings",
                    ],
                    [
                        [
                            statement.get("version"),
                            statement.get("verifier"),
                            statement.get("opinion"),
                            statement.get("level_of_assurance"),
                            num(statement.get("materiality_pct")),
                            num(statement.get("reported_tco2e")),
                            num(statement.get("uncorrected_misstatement_tco2e")),
                            len(statement.get("findings") or []),
                        ]
                    ],
                )
            )
    text = "label_zh" if ctx.lang == "zh-CN" else "label_en"
    cal = inv.calendar(ctx.db, year, who=ctx.who)
    rows = [[c["org"], r[text], r["due"], r["days_left"], r["status"]] for c in cal for r in c["reminders"]]
    out.append(Table("table.calendar", ["col.org", "col.item", "col.due", "col.days_left", "col.state"], rows))
    if ctx.who.role in ("park_admin", "regulator"):
        names = {str(e.handle): str(e.name) for e in enterprises_in_scope(ctx.db, ctx.who)}
        kel = cached(("key_emitters", ctx.db, year), lambda: inv.key_emitter_list(ctx.db, year))
        out.append(
            Table(
                "table.key_emitters",
                ["col.org", "col.name", "col.tco2e"],
                [[k["org"], names.get(str(k["org"]), ""), num(k["total_tco2e"], 1)] for k in kel],
            )
        )
    return out


# ------------------------------------------------------------------------------------ trading and energy


def _holdings_table(held: Mapping[str, Any]) -> Table:
    return Table(
        "table.allowances",
        ["col.account", "col.asset", "col.available", "col.reserved", "col.total"],
        [
            [a, asset, num(v.get("available")), num(v.get("reserved")), num(v.get("total"))]
            for a, assets in held["accounts"].items()
            for asset, v in assets.items()
        ],
    )


def trading_page(ctx: Ctx) -> list[Section]:
    """Compliance position, order book, trades and holdings of allowances (the compliance PDF per enterprise)."""
    from carbonpark.services import trading

    year = year_of(ctx)
    who = None if ctx.who.role in ("park_admin", "regulator") else ctx.who
    with session(ctx.db) as s:
        comp = trading.compliance_status(s, year, who=who)
        held = trading.balances(s, who)
        done = trading.trades(s, who)
        book = trading.orders(s, who) if ctx.who.role != "regulator" else []
    if ctx.who.role == "regulator":
        keys = {str(e.handle) for e in enterprises_in_scope(ctx.db, ctx.who)}
        comp = [c for c in comp if c.get("enterprise") in keys]
    org = ctx.q("org") or (str(comp[0]["enterprise"]) if comp else "")
    out: list[Section] = [Form([("org", "field.org", org), ("year", "field.year", str(year))])]
    short = [c for c in comp if c.get("status") == "shortfall"]
    out.append(
        Kpis(
            [
                ("kpi.obligated", len(comp), ""),
                ("kpi.shortfalls", len(short), ""),
                ("kpi.shortfall_t", sum(int(c.get("shortfall_t") or 0) for c in comp), "t"),
                ("kpi.trades", len(done), ""),
            ]
        )
    )
    out.append(
        Table(
            "table.compliance",
            [
                "col.enterprise",
                "col.name",
                "col.obligation_t",
                "col.allowances_t",
                "col.ccer_t",
                "col.ccer_cap_t",
                "col.shortfall_t",
                "col.status",
                "col.surrender_due",
                "col.days_left",
            ],
            [
                [
                    c.get("enterprise"),
                    c.get("name"),
                    c.get("obligation_t"),
                    c.get("allowances_available_t"),
                    c.get("ccer_available_t"),
                    c.get("ccer_cap_t"),
                    c.get("shortfall_t"),
                    c.get("status"),
                    (c.get("deadlines") or {}).get("surrender_due"),
                    (c.get("days_to") or {}).get("surrender_due"),
                ]
                for c in comp
            ],
        )
    )
    if comp:
        x = [str(c.get("name") or c.get("enterprise")) for c in comp]
        out.append(
            Chart(
                "chart.compliance",
                {
                    "data": [
                        {
                            "type": "bar",
                            "name": series(ctx, "obligation"),
                            "x": x,
                            "y": [c.get("obligation_t") for c in comp],
                        },
                        {
                            "type": "bar",
                            "name": series(ctx, "holdings"),
                            "x": x,
                            "y": [
                                int(c.get("allowances_available_t") or 0) + int(c.get("ccer_available_t") or 0)
                                for c in comp
                            ],
                        },
                    ],
                    "layout": {"barmode": "group", "yaxis": {"title": "tCO2e"}},
                },
            )
        )
    if ctx.who.role != "regulator":
        out.append(
            Table(
                "table.orders",
                [
                    "col.order",
                    "col.enterprise",
                    "col.side",
                    "col.asset",
                    "col.type",
                    "col.price",
                    "col.quantity",
                    "col.remaining",
                    "col.state",
                ],
                [
                    [
                        o.get("order"),
                        o.get("enterprise"),
                        o.get("side"),
                        o.get("asset"),
                        o.get("type"),
                        num(o.get("price")),
                        o.get("quantity"),
                        o.get("remaining"),
                        o.get("status"),
                    ]
                    for o in book
                ],
            )
        )
    out.append(
        Table(
            "table.trades",
            [
                "col.seq",
                "col.time",
                "col.asset",
                "col.buyer",
                "col.seller",
                "col.quantity",
                "col.price",
                "col.value_cny",
            ],
            [
                [
                    t.get("seq"),
                    t.get("at"),
                    t.get("asset"),
                    t.get("buyer"),
                    t.get("seller"),
                    t.get("quantity"),
                    num(t.get("price")),
                    num(t.get("value")),
                ]
                for t in done
            ],
        )
    )
    if done:
        ordered = sorted(done, key=lambda t: int(t.get("seq") or 0))
        out.append(
            Chart(
                "chart.trades",
                {
                    "data": [
                        {
                            "type": "scatter",
                            "mode": "markers+lines",
                            "x": [t.get("seq") for t in ordered],
                            "y": [num(t.get("price")) for t in ordered],
                            "text": [t.get("at") for t in ordered],
                        }
                    ],
                    "layout": {"xaxis": {"title": "#"}, "yaxis": {"title": "CNY/t"}},
                },
            )
        )
    if ctx.who.role != "regulator":
        out.append(_holdings_table(held))
    return out


#: The 能耗双控 position's figures shown on the energy page: (key of the service document, label, unit).
_POSITION_ROWS = (
    ("energy_tce", "col.energy_tce", "tce"),
    ("total_cap_tce", "col.cap_tce", "tce"),
    ("total_used_share", "col.used_share", "%"),
    ("projected_energy_tce", "col.projected_tce", "tce"),
    ("remaining_tce", "col.remaining_tce", "tce"),
    ("total_status", "col.total_status", ""),
    ("intensity_tce_per_10k_cny", "col.intensity_tce", "tce/10⁴ CNY"),
    ("intensity_cap_tce_per_10k_cny", "col.intensity_cap", "tce/10⁴ CNY"),
    ("intensity_status", "col.intensity_status", ""),
    ("value_added_10k_cny", "col.value_added", "10⁴ CNY"),
    ("through", "col.through", ""),
    ("energy_source", "col.source_doc", ""),
)


def _position_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "total_used_share":
        return num(100 * float(value), 1)
    if key.endswith(("_tce", "_cny")):
        return num(float(value), 3)
    return value


def _share_of(value: Any, limit: Any) -> float | None:
    """``value`` as a percentage of ``limit`` (None without both, or for a zero limit)."""
    if value is None or limit is None or not float(limit):
        return None
    return round(100 * float(value) / float(limit), 1)


def _position_chart(ctx: Ctx, pos: Mapping[str, Any]) -> Chart:
    """Energy used so far, the year projected from it and the cap [tce]; intensity against its cap beside."""
    bars = [
        ("used", pos.get("energy_tce")),
        ("projected", pos.get("projected_energy_tce")),
        ("cap", pos.get("total_cap_tce")),
    ]
    shown = [(k, v) for k, v in bars if v is not None]
    return Chart(
        "chart.energy_position",
        _bar([series(ctx, k) for k, _ in shown], [num(float(v), 1) for _, v in shown], yaxis={"title": "tce"}),
    )


def _quota_chart(ctx: Ctx, quotas: list[dict[str, Any]]) -> Chart:
    """Unit energy consumption of each product and the advanced value, as a share of its limit [%] (limit = 100)."""
    x = [f"{q.get('enterprise')} · {q.get('product')}" for q in quotas]
    data = [
        {
            "type": "bar",
            "name": series(ctx, "unit_consumption"),
            "x": x,
            "y": [_share_of(q.get("unit_consumption_kgce"), q.get("limit_kgce_per_unit")) for q in quotas],
        },
        {
            "type": "bar",
            "name": series(ctx, "advanced"),
            "x": x,
            "y": [_share_of(q.get("advanced_kgce_per_unit"), q.get("limit_kgce_per_unit")) for q in quotas],
        },
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"dash": "dash"},
            "name": series(ctx, "limit"),
            "x": x,
            "y": [100.0 for _ in quotas],
        },
    ]
    layout = {"barmode": "group", "yaxis": {"title": series(ctx, "share_of_limit")}}
    return Chart("chart.quotas", {"data": data, "layout": layout})


def energy_page(ctx: Ctx) -> list[Section]:
    """能耗双控 position of the park or an enterprise against its caps; product quotas; key energy units."""
    from carbonpark.services import trading

    year = year_of(ctx)
    org = org_of(ctx)
    who = None if ctx.who.role == "park_admin" else ctx.who
    out: list[Section] = [_org_form(ctx, year, org)]
    with session(ctx.db) as s:
        try:
            pos = trading.energy_position(s, org, year, who if org != "park" else None)
        except CarbonparkError as exc:
            out.append(_gap(exc))
        else:
            share = pos.get("total_used_share")
            out.append(
                Kpis(
                    [
                        ("col.energy_tce", num(float(pos["energy_tce"]), 1), "tce"),
                        ("col.used_share", num(100 * float(share), 1) if share is not None else "—", "%"),
                        ("col.total_status", pos.get("total_status") or "—", ""),
                        ("col.intensity_status", pos.get("intensity_status") or "—", ""),
                    ]
                )
            )
            out.append(_position_chart(ctx, pos))
            out.append(
                Table(
                    "table.energy_position",
                    ["col.figure", "col.value", "col.unit"],
                    [[label, _position_value(k, pos.get(k)), unit] for k, label, unit in _POSITION_ROWS if k in pos],
                )
            )
        quotas = trading.check_product_quotas(s, year, who)
        if quotas:
            out.append(_quota_chart(ctx, quotas))
        out.append(
            Table(
                "table.quotas",
                [
                    "col.enterprise",
                    "col.product",
                    "col.unit",
                    "col.unit_consumption",
                    "col.limit",
                    "col.advanced",
                    "col.margin",
                    "col.state",
                    "col.standard",
                ],
                [
                    [
                        q.get("enterprise"),
                        q.get("product"),
                        f"kgce/{q.get('unit')}",
                        num(q.get("unit_consumption_kgce"), 2),
                        num(q.get("limit_kgce_per_unit"), 2),
                        num(q.get("advanced_kgce_per_unit"), 2),
                        num(q.get("margin_kgce"), 2),
                        q.get("status"),
                        q.get("standard"),
                    ]
                    for q in quotas
                ],
            )
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


def _actual_by_year(ctx: Ctx, org: str) -> dict[int, float]:
    """Total emissions of the organisation's stored yearly accounting runs [tCO2e] (the year so far)."""
    with session(ctx.db) as s:
        runs = s.execute(
            select(AccountingRun.period, AccountingRun.total_tco2e).where(
                AccountingRun.org == org, func.length(AccountingRun.period) == 4
            )
        ).all()
    return {int(period): float(total) for period, total in runs if total is not None}


def _point(name: str, x: Any, y: Any, symbol: str) -> dict[str, Any]:
    """One marked point of a chart (a projection, a target)."""
    return {
        "type": "scatter",
        "mode": "markers",
        "marker": {"size": 13, "symbol": symbol},
        "name": name,
        "x": [x],
        "y": [num(y, 1)],
    }


def _path_chart(ctx: Ctx, st: Mapping[str, Any], actual: Mapping[int, float], peak: Mapping[str, Any] | None) -> Chart:
    """Caps, the planned path, stored and projected actuals and (for the park) the forecast scenarios [tCO2e/yr]."""
    targets = st["targets"]
    caps = {int(y): float(v) for y, v in targets["caps_tco2e"].items()}
    traj = {int(y): float(v) for y, v in st["path"]["trajectory_tco2e"].items()}
    data: list[dict[str, Any]] = []
    if peak is not None:
        for sc in peak["scenarios"]:
            path = [p for p in sc.get("path") or [] if p.get("tco2") is not None]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "line": {"dash": "dot", "width": 1.5},
                    "name": f"{series(ctx, 'forecast')}: {sc['name']}",
                    "x": [p["year"] for p in path],
                    "y": [num(p["tco2"], 1) for p in path],
                }
            )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "line": {"width": 3},
            "name": series(ctx, "path"),
            "x": list(traj),
            "y": [num(v, 1) for v in traj.values()],
        }
    )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "line": {"shape": "hv"},
            "name": series(ctx, "cap"),
            "x": list(caps),
            "y": [num(v, 1) for v in caps.values()],
        }
    )
    data.append(
        {"type": "bar", "name": series(ctx, "actual"), "x": list(actual), "y": [num(v, 1) for v in actual.values()]}
    )
    if st["months"]:
        data.append(_point(series(ctx, "projected"), st["year"], st["months"][-1]["projected_year_tco2e"], "diamond"))
    if targets.get("peak_year") and targets.get("peak_tco2e") is not None:
        data.append(_point(series(ctx, "peak_target"), targets["peak_year"], targets["peak_tco2e"], "star"))
    layout = {
        "yaxis": {"title": "tCO2e/yr", "rangemode": "tozero"},
        "xaxis": {"title": translate(ctx.lang, "col.year")},
    }
    return Chart("chart.path", {"data": data, "layout": layout})


def _months_chart(ctx: Ctx, months: list[dict[str, Any]], forecast: dict[str, Any] | None = None) -> Chart:
    """The year: monthly actuals, the forecast of the months still to come, cumulative actuals, cap to date [tCO2e].

    ``forecast`` is ``target_status(...)["forecast"]`` (``services.targets.forecast_rest_of_year``):
    its ``forecast_tco2e`` maps the remaining months to their forecast emissions.
    """
    x = [m["month"] for m in months]
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": series(ctx, "actual"), "x": x, "y": [num(m["actual_tco2e"], 1) for m in months]},
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": series(ctx, "actual_to_date"),
            "x": x,
            "y": [num(m["actual_to_date_tco2e"], 1) for m in months],
        },
    ]
    if any(m["cap_to_date_tco2e"] is not None for m in months):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"dash": "dash"},
                "name": series(ctx, "cap_to_date"),
                "x": x,
                "y": [num(m["cap_to_date_tco2e"], 1) for m in months],
            }
        )
    ahead = sorted(((int(k), v) for k, v in ((forecast or {}).get("forecast_tco2e") or {}).items()))
    if ahead:
        data.insert(
            1,
            {
                "type": "bar",
                "name": series(ctx, "forecast"),
                "x": [k for k, _ in ahead],
                "y": [num(v, 1) for _, v in ahead],
                "marker": {"opacity": 0.5},
            },
        )
    return Chart("chart.months", {"data": data, "layout": {"yaxis": {"title": "tCO2e"}, "xaxis": {"dtick": 1}}})


def targets_page(ctx: Ctx) -> list[Section]:
    """Targets against the path, the stored actuals and the forecast (``services.targets.target_status``).

    One chart of the years (caps, planned path with its measures, stored yearly accounting, this
    year's projection from its months and, for the park, the forecast scenarios of
    ``services.forecasting.park_peak``), one of this year's months against the cap to date, and the
    tables behind them: targets by year, months, measures and every target checked.
    """
    from carbonpark.services.targets import target_status

    year = year_of(ctx)
    org = org_of(ctx)
    out: list[Section] = [_org_form(ctx, year, org)]
    try:
        st = target_status(ctx.db, org, year)
    except CarbonparkError as exc:
        return [*out, Note("note.targets_missing", str(exc), "gap")]
    targets = st["targets"]
    months = st["months"]
    traj = {int(y): float(v) for y, v in st["path"]["trajectory_tco2e"].items()}
    caps = {int(y): float(v) for y, v in targets["caps_tco2e"].items()}
    intensity = {int(y): float(v) for y, v in targets["intensity_caps"].items()}
    clean = {int(y): float(v) for y, v in targets["clean_share_targets"].items()}
    actual = _actual_by_year(ctx, org)
    peak = None
    if org == "park":
        try:
            peak = cached(("peak", ctx.db), lambda: _peak(ctx.db))
        except CarbonparkError as exc:
            out.append(_gap(exc))
    last = months[-1] if months else None
    out.append(
        Kpis(
            [
                ("kpi.peak_target", f"{targets['peak_year'] or '—'} · {num(targets['peak_tco2e'], 0) or '—'}", "tCO2e"),
                ("kpi.neutrality_year", targets["neutrality_year"] or "—", ""),
                ("kpi.cap_year", num(caps.get(year), 0) if year in caps else "—", "tCO2e"),
                ("kpi.projected_year", num(last["projected_year_tco2e"], 0) if last else "—", "tCO2e"),
                ("kpi.gap_year", num(last["gap_tco2e"], 0) if last and last["gap_tco2e"] is not None else "—", "tCO2e"),
            ]
        )
    )
    out.append(_path_chart(ctx, st, actual, peak))
    out.append(Note("note.path_basis", st["path"]["basis"]))
    last_cap = max(caps or [year])
    years = sorted(set(caps) | set(intensity) | set(clean) | set(actual) | {y for y in traj if y <= last_cap})
    out.append(
        Table(
            "table.target_years",
            ["col.year", "col.cap", "col.path", "col.actual", "col.intensity_cap", "col.clean_share_target"],
            [
                [
                    y,
                    num(caps.get(y), 1),
                    num(traj.get(y), 1),
                    num(actual.get(y), 1),
                    num(intensity.get(y), 3),
                    num(100 * clean[y], 1) if y in clean else None,
                ]
                for y in years
            ],
        )
    )
    if months:
        out.append(_months_chart(ctx, months, st.get("forecast")))
    out.append(
        Table(
            "table.months",
            [
                "col.month",
                "col.actual",
                "col.actual_to_date",
                "col.cap_to_date",
                "col.projected",
                "col.gap",
                "col.basis",
            ],
            [
                [
                    m["month"],
                    num(m["actual_tco2e"], 1),
                    num(m["actual_to_date_tco2e"], 1),
                    num(m["cap_to_date_tco2e"], 1),
                    num(m["projected_year_tco2e"], 1),
                    num(m["gap_tco2e"], 1),
                    m["basis"],
                ]
                for m in months
            ],
        )
    )
    out.append(
        Table(
            "table.measures",
            ["col.id", "col.name", "col.year", "col.owner", "col.tco2e", "col.state"],
            [
                [
                    m.get("id"),
                    m.get("name"),
                    m.get("year"),
                    m.get("owner"),
                    num(m.get("annual_abatement_tco2e")),
                    m.get("status"),
                ]
                for m in st["path"]["measures"]
            ],
        )
    )
    out.append(_checks_table(st["checks"]))
    return out


def retrofit_bundle(db: str | None, year: int) -> dict[str, Any]:
    """``{plan, evaluation, admission, ratings}`` of the packaged plan over the stored year (services/retrofit.py).

    The plan is the packaged one (``services/data/demo-retrofit.yaml``, the demo park's measures on its
    stored sources), the same document ``carbonpark retrofit stored`` uses without ``--plan``.
    """
    from carbonpark.services import retrofit as svc

    plan = svc.load_plan()
    planned = svc.plan_stored(db, year, plan)
    return {
        "plan": planned,
        "evaluation": svc.carbon_evaluation(db, year, plan, planned),
        "admission": svc.admission_stored(db, year, plan["candidate"], plan),
        "ratings": svc.rate_stored(db, year, plan),
    }


def _macc_chart(macc: list[dict[str, Any]], selected: set[str]) -> Chart:
    """The MACC as plotly bars: width = annual abatement [tCO2e/yr], height = cost [CNY/tCO2e], ascending."""
    left = 0.0
    x, widths = [], []
    for e in macc:
        w = float(e["annual_abatement_tco2e"])
        x.append(round(left + w / 2, 3))
        widths.append(round(w, 3))
        left += w
    bar = {
        "type": "bar",
        "x": x,
        "y": [num(float(e["cost_per_tco2e"]), 1) for e in macc],
        "width": widths,
        "text": [str(e["id"]) for e in macc],
        "hovertext": [str(e["name"]) for e in macc],
        "marker": {"color": ["#2e7d5b" if e["id"] in selected else "#b0b7b3" for e in macc]},
    }
    layout = {
        "xaxis": {"title": "tCO2e/yr"},
        "yaxis": {"title": "CNY/tCO2e"},
        "bargap": 0,
    }
    return Chart("chart.macc", {"data": [bar], "layout": layout})


def retrofit_page(ctx: Ctx) -> list[Section]:
    """MACC and MILP portfolio of the plan's measures on the stored sources; §7.5 carbon evaluation."""
    year = year_of(ctx)
    try:
        bundle = cached(("retrofit", ctx.db, year), lambda: retrofit_bundle(ctx.db, year))
    except CarbonparkError as exc:
        return [Form([("year", "field.year", str(year))]), _gap(exc)]
    plan, ev = bundle["plan"], bundle["evaluation"]
    selected = set(plan["selected"])
    out: list[Section] = [
        Form([("year", "field.year", str(year))]),
        Note("note.retrofit_plan", "services/data/demo-retrofit.yaml", "info"),
        Kpis(
            [
                ("kpi.selected", f"{len(selected)}/{len(plan['projects'])}", ""),
                ("kpi.abatement", num(float(plan["total_abatement_tco2e"]), 1), "tCO2e/yr"),
                ("kpi.capex", num(float(plan["total_capex"]) / 1e4, 1), "10⁴ CNY"),
                ("kpi.acceptable", "✓" if ev["acceptable"] else "✗", ""),
            ]
        ),
        _macc_chart(plan["macc"], selected),
    ]
    cost = {e["id"]: e["cost_per_tco2e"] for e in plan["macc"]}
    out.append(
        Table(
            "table.portfolio",
            [
                "col.id",
                "col.name",
                "col.measure",
                "col.source",
                "col.start_year",
                "col.capex_cny",
                "col.abatement",
                "col.cost_per_t",
                "col.selected",
            ],
            [
                [
                    p["id"],
                    p["name"],
                    p["measure"],
                    p["source"],
                    p["start_year"],
                    num(float(p["capex"]), 0),
                    num(float(p["annual_abatement_tco2e"]), 1),
                    num(float(cost[p["id"]]), 1) if p["id"] in cost else None,
                    "✓" if p["id"] in selected else "",
                ]
                for p in sorted(plan["projects"], key=lambda p: float(cost.get(p["id"], 0)))
            ],
        )
    )
    before, after = ev["before"], ev["after"]
    out.append(
        Table(
            "table.before_after",
            ["col.figure", "col.before", "col.after"],
            [
                ["col.tco2e", num(before["emissions_tco2e"], 1), num(after["emissions_tco2e"], 1)],
                [
                    "col.intensity",
                    num(before["intensity_tco2e_per_10k_cny"], 4),
                    num(after["intensity_tco2e_per_10k_cny"], 4),
                ],
            ],
        )
    )
    out.append(
        Table(
            "table.achievability",
            ["col.year", "col.cap", "col.projected", "col.margin", "col.passed"],
            [
                [
                    a["year"],
                    num(a["cap"], 4),
                    num(a["projected"], 4),
                    num(a["margin"], 4),
                    "✓" if a["achievable"] else "✗",
                ]
                for a in ev["achievability"]
            ],
        )
    )
    out.append(Note("note.conclusion", ev["conclusion"]["en" if ctx.lang == "en" else "zh"]))
    return out


def ratings_page(ctx: Ctx) -> list[Section]:
    """碳效码 grades and ranking of the enterprises (``services.retrofit.rate_stored``), industry structure."""
    year = year_of(ctx)
    try:
        doc = cached(("retrofit", ctx.db, year), lambda: retrofit_bundle(ctx.db, year))["ratings"]
    except CarbonparkError as exc:
        return [Form([("year", "field.year", str(year))]), _gap(exc)]
    keys = {str(e.handle) for e in enterprises_in_scope(ctx.db, ctx.who)}
    ratings = [r for r in doc["ratings"] if r["id"] in keys]
    rows = [
        [
            r["rank_in_park"],
            r["id"],
            r["name"],
            r["industry"],
            num(r["intensity_tco2e_per_10k_cny"], 3),
            num(r["industry_average"], 3),
            num(r["k"], 3),
            r["grade"],
            r["level"],
            r["reason"],
        ]
        for r in ratings
    ]
    out: list[Section] = [
        Form([("year", "field.year", str(year))]),
        Chart(
            "chart.ratings",
            _bar([r["name"] for r in ratings], [num(r["intensity_tco2e_per_10k_cny"], 3) for r in ratings]),
        ),
        Table(
            "table.ratings",
            [
                "col.rank",
                "col.enterprise",
                "col.name",
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
    if ctx.who.role == "park_admin":
        out.append(
            Table(
                "table.industries",
                [
                    "col.industry",
                    "col.tco2e",
                    "col.emission_share",
                    "col.value_added_share",
                    "col.intensity",
                    "col.utilisation",
                ],
                [
                    [
                        i["industry"],
                        num(i["emissions_tco2e"], 1),
                        num(100 * i["emission_share"], 1),
                        num(100 * i["value_added_share"], 1),
                        num(i["intensity_tco2e_per_10k_cny"], 3),
                        num(100 * i["capacity_utilisation"], 1) if i["capacity_utilisation"] is not None else None,
                    ]
                    for i in doc["industries"]
                ],
            )
        )
        out.extend(Note("note.warning", w, "gap") for w in doc["warnings"])
    return out


def admission_page(ctx: Ctx) -> list[Section]:
    """Whether the park still meets its stored caps with a candidate admitted (``services.retrofit.admission_stored``).

    The form starts with the packaged plan's candidate; every figure can be changed.
    """
    from carbonpark.services import retrofit as svc

    year = year_of(ctx)
    plan = svc.load_plan()
    given = dict(plan.get("candidate") or {})
    names = (
        ("name", "field.candidate"),
        ("emissions_tco2e", "field.emissions"),
        ("value_added_10k_cny", "field.value_added"),
        ("energy_tce", "field.energy"),
        ("industry", "field.industry"),
    )
    candidate = {k: ctx.q(k, str(given.get(k, ""))) for k, _ in names}
    out: list[Section] = [
        Form([(k, label, candidate[k]) for k, label in names] + [("year", "field.year", str(year))], "action.check")
    ]
    for k in ("emissions_tco2e", "value_added_10k_cny", "energy_tce"):
        if candidate[k]:
            try:
                float(candidate[k])
            except ValueError:
                return [*out, _gap(ValidationError(k, "a number", candidate[k]))]
    try:
        result = svc.admission_stored(ctx.db, year, {k: v for k, v in candidate.items() if v != ""}, plan)
    except CarbonparkError as exc:
        return [*out, _gap(exc)]
    out.append(
        Kpis(
            [
                ("kpi.admissible", "✓" if result["admissible"] else "✗", ""),
                ("kpi.grade", result["grade"] if result["grade"] is not None else "—", ""),
                ("kpi.intensity_before", num(result["park_intensity_before"], 3), "tCO2e/10⁴ CNY"),
                ("kpi.intensity_after", num(result["park_intensity_after"], 3), "tCO2e/10⁴ CNY"),
            ]
        )
    )
    out.append(
        Table(
            "table.admission",
            ["col.check", "col.limit", "col.before", "col.after", "col.headroom", "col.passed"],
            [
                [
                    c["name"],
                    num(c["limit"]),
                    num(c["before"]),
                    num(c["after"]),
                    num(c["headroom_after"]),
                    "✓" if c["passed"] else "✗",
                ]
                for c in result["checks"]
            ],
        )
    )
    checked = [str(c["name"]) for c in result["checks"]]
    out.append(
        Chart(
            "chart.admission",
            {
                "data": [
                    {
                        "type": "bar",
                        "name": name,
                        "x": checked,
                        "y": [_share_of(c[key], c["limit"]) for c in result["checks"]],
                    }
                    for key, name in (("before", series(ctx, "before")), ("after", series(ctx, "after")))
                ]
                + [
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "line": {"dash": "dash"},
                        "name": series(ctx, "limit"),
                        "x": checked,
                        "y": [100.0 for _ in checked],
                    }
                ],
                "layout": {"barmode": "group", "yaxis": {"title": series(ctx, "share_of_limit")}},
            },
        )
    )
    out.append(Note("note.conclusion", result["conclusion"]))
    return out


# ------------------------------------------------------------------------------------ ledger, identifiers, footprint


def ledger_page(ctx: Ctx) -> list[Section]:
    """Signed tree head; a record's proof checked offline (scoped); full verification for the park admin.

    The proof bundle of ``?record=`` (``services.ledger.scoped_proof``) is checked the way an outside
    party checks it (``ledger.bundle.check_bundle``: entry hash, inclusion proof to the signed root,
    head signature). ``?verify=all`` recomputes every entry and the signed heads (``services.ledger.verify``).
    """
    from carbonpark.ledger.bundle import check_bundle
    from carbonpark.services import ledger

    out: list[Section] = []
    try:
        head = ledger.head_json(ctx.db)
    except CarbonparkError as exc:
        out.append(_gap(exc))
    else:
        out.append(
            Kpis(
                [
                    ("kpi.tree_size", head["tree_size"], ""),
                    ("kpi.signed_at", local_iso(int(head["timestamp_ms"]), _tz(ctx.db)), ""),
                    ("kpi.key_id", str(head["key_id"])[:16] + "…", ""),
                ]
            )
        )
        out.append(
            Table(
                "table.tree_head",
                ["col.tree_size", "col.time", "col.root", "col.key_id", "col.signature"],
                [
                    [
                        head["tree_size"],
                        local_iso(int(head["timestamp_ms"]), _tz(ctx.db)),
                        head["root"],
                        head["key_id"],
                        head["signature"],
                    ]
                ],
            )
        )
    record = ctx.q("record")
    out.append(Form([("record", "col.record", record)], "action.verify"))
    if ctx.who.role == "park_admin":
        out.append(Action("action.verify_all", "/web/ledger?verify=all", "verify-all"))
    if record:
        try:
            with session(ctx.db) as s:
                proof = ledger.scoped_proof(s, ctx.who, record)
            checked = check_bundle(proof)
        except CarbonparkError as exc:
            out.append(_gap(exc))
        else:
            entry = proof.get("entry_json") or {}
            out.append(
                Kpis(
                    [
                        ("kpi.proof_ok", "✓" if checked.ok else "✗", ""),
                        ("kpi.leaf_index", proof.get("leaf_index"), ""),
                        ("kpi.tree_size", proof.get("tree_size"), ""),
                    ]
                )
            )
            out.append(
                Table(
                    "table.proof",
                    ["col.record", "col.kind", "col.organisation", "col.leaf_index", "col.proof_length"],
                    [
                        [
                            proof.get("record"),
                            proof.get("kind"),
                            entry.get("organisation") or entry.get("org") if isinstance(entry, dict) else None,
                            proof.get("leaf_index"),
                            len(proof.get("inclusion_proof") or []),
                        ]
                    ],
                )
            )
            out.append(
                Table(
                    "table.proof_checks",
                    ["col.check", "col.passed"],
                    [[name, "✓" if ok else "✗"] for name, ok in checked.checks.items()],
                )
            )
            out.extend(Note("note.error", p, "error") for p in checked.problems)
    if ctx.who.role == "park_admin" and ctx.q("verify") == "all":
        rep = ledger.verify(ctx.db)
        out.append(
            Kpis(
                [
                    ("kpi.ledger_ok", "✓" if rep.ok else "✗", ""),
                    ("kpi.tree_size", rep.tree_size, ""),
                    ("kpi.entries_stored", rep.entries_stored, ""),
                    ("kpi.findings", len(rep.findings), ""),
                ]
            )
        )
        out.append(Table("table.checked", ["col.check", "col.count"], [[k, v] for k, v in rep.checked.items()]))
        out.append(
            Table(
                "table.findings",
                ["col.kind", "col.record", "col.problem", "col.leaf_index"],
                [[f.kind, f.record, f.problem, f.leaf_index] for f in rep.findings],
            )
        )
        out.extend(Note("note.warning", w, "gap") for w in rep.warnings)
    return out


def _tz(db: str | None) -> str:
    from carbonpark.services.activity import park_timezone

    with session(db) as s:
        return park_timezone(s)


def identifiers_page(ctx: Ctx) -> list[Section]:
    """Resolve a Handle identifier with the reader's rights; the park's and its enterprises' handles as examples.

    The answer is the Handle REST document of ``services.identifiers.resolve_once`` (status, response
    code, values; an administrative value shows as its JSON).
    """
    from carbonpark.services import identifiers as ids

    handle = ctx.q("handle")
    out: list[Section] = [Form([("handle", "field.handle", handle)], "action.resolve")]
    if handle:
        with session(ctx.db) as s:
            reader = ids.reader_for(s, ctx.who.name, ctx.who.role, ctx.who.enterprise_id)
        try:
            answer = ids.resolve_once(ctx.db, handle, reader)
        except CarbonparkError as exc:
            out.append(_gap(exc))
        else:
            body = answer.body if isinstance(answer.body, dict) else {}
            values = body.get("values") or []
            out.append(
                Kpis(
                    [
                        ("kpi.http_status", answer.status, ""),
                        ("kpi.response_code", body.get("responseCode", "—"), ""),
                        ("kpi.values", len(values), ""),
                    ]
                )
            )
            if body.get("message"):
                out.append(Note("note.gap", str(body["message"]), "gap"))
            out.append(
                Table(
                    "table.identifier",
                    ["col.index", "col.type", "col.value", "col.ttl", "col.time"],
                    [
                        [
                            v.get("index"),
                            v.get("type"),
                            _value_text((v.get("data") or {}).get("value")),
                            v.get("ttl"),
                            v.get("timestamp"),
                        ]
                        for v in values
                    ],
                )
            )
    examples = [(str(e.handle), str(e.name)) for e in enterprises_in_scope(ctx.db, ctx.who)]
    with session(ctx.db) as s:
        park = s.scalars(select(Park).order_by(Park.id)).first()
    if park is not None and park.handle:
        examples.insert(0, (str(park.handle), str(park.name)))
    out.append(
        Table(
            "table.identifier_examples",
            ["col.handle", "col.name"],
            [[Link(h, "/web/identifiers?" + urlencode({"handle": h})), name] for h, name in examples],
        )
    )
    return out


def _value_text(value: Any) -> str:
    """A Handle value's data as text (JSON for an object), at most 300 characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:300]


def footprints_of(db: str | None, year: int) -> Any:
    """The park's product footprints of ``year`` (``services.footprints.park_footprints``; cached, not registered)."""
    from carbonpark.services.footprints import FootprintOptions, park_footprints

    def compute() -> Any:
        with session(db) as s:
            return park_footprints(s, FootprintOptions(period=str(year)), register=False)

    return cached(("footprint", db, year), compute)


def products_in_scope(ctx: Ctx, result: Any) -> list[str]:
    """Handles of the footprinted products ``ctx.who`` may see (an enterprise user: its own products)."""
    from carbonpark.store.schema import Product

    visible = _visible(ctx.who)
    with session(ctx.db) as s:
        owner = dict(s.execute(select(Product.handle, Product.enterprise_id)).all())
    return [h for h in result.footprints if visible is None or owner.get(h) in visible]


def _sankey(fp: Any, product: str, names: Mapping[str, str]) -> dict[str, Any]:
    """Inputs → raw-material stage, stages → product: a plotly Sankey of one unit's footprint [tCO2e/unit]."""
    stages = {k: float(v) for k, v in fp.by_stage.items() if abs(float(v)) > 0}
    inputs = {k: float(v) for k, v in fp.by_input.items() if abs(float(v)) > 0}
    labels = [names.get(product, product), *stages]
    source, target, value = [], [], []
    for i, v in enumerate(stages.values()):
        source.append(i + 1)
        target.append(0)
        value.append(abs(v))
    if "raw_materials" in stages:
        raw = labels.index("raw_materials")
        for ref, v in inputs.items():
            labels.append(names.get(ref, ref))
            source.append(len(labels) - 1)
            target.append(raw)
            value.append(abs(v))
    return {
        "data": [
            {
                "type": "sankey",
                "valueformat": ".4g",
                "valuesuffix": f" tCO2e/{fp.unit}",
                "node": {"label": labels, "pad": 18},
                "link": {"source": source, "target": target, "value": [float(f"{v:.6g}") for v in value]},
            }
        ],
        "layout": {},
    }


def footprint_page(ctx: Ctx) -> list[Section]:
    """Product carbon footprints and a Sankey of one product's footprint by input and life-cycle stage."""
    year = year_of(ctx)
    try:
        res = footprints_of(ctx.db, year)
    except CarbonparkError as exc:
        return [Form([("year", "field.year", str(year))]), _gap(exc)]
    names = res.names
    products = products_in_scope(ctx, res)
    rows = [
        [
            Link(h, f"/web/footprint?year={year}&product={h}"),
            names.get(h, h),
            res.footprints[h].unit,
            num(res.footprints[h].tco2e_per_unit, 6),
            num(1000 * res.footprints[h].tco2e_per_unit, 3),
            "✓" if res.footprints[h].given else "",
        ]
        for h in products
    ]
    chosen = ctx.q("product") or (products[0] if products else "")
    out: list[Section] = [
        Form([("product", "col.product", chosen), ("year", "field.year", str(year))]),
        Table(
            "table.footprints",
            ["col.product", "col.name", "col.unit", "col.tco2e_unit", "col.kgco2e", "col.given"],
            rows,
        ),
    ]
    if chosen not in products:
        return [*out, _gap(NotFoundError("product footprint", chosen or "(none in your scope)"))]
    fp = res.footprints[chosen]
    out.append(Chart("chart.sankey", _sankey(fp, chosen, names)))
    out.append(
        Table(
            "table.by_stage",
            ["col.stage", "col.tco2e_unit", "col.share"],
            [
                [k, num(float(v), 6), num(100 * float(v) / fp.tco2e_per_unit, 1) if fp.tco2e_per_unit else None]
                for k, v in fp.by_stage.items()
            ],
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
        return _no_empty_charts(PAGES[key].build(ctx))
    except CarbonparkError as exc:
        return [Note("note.error", str(exc), "error")]
