"""Live monitoring and alarms: latest values and load, emissions rate, alarm rules and their lifecycle.

* **Latest values and load** per meter, summed per enterprise and for the park over the top-level
  meters (no parent meter, so sub-metering is not counted twice), per measured quantity. Load is
  the rate of the last interval: an interval meter's last value over its interval, a cumulative
  meter's last increase over the time between its last two readings [canonical unit per hour].
* **Emissions rate** [tCO2e/h]: the accounting engine over the last hour of every metered
  emission source, ending at the newest reading (the same factors as the inventory).
* **Alarm rules** (``alarm_rules``): threshold, rate of change, intensity per output and data
  silence (pure checks in :mod:`carbonpark.quality.alarm_rules`). :func:`evaluate_rules` raises
  an alarm when a rule breaks and none of that rule is open, and clears it when the rule holds
  again; people acknowledge alarms. The alarms are the ``alarms`` table of the ingest pipeline,
  which also raises its data-gap alarms there: one list of alarms.
* **Notification hooks** on raise: a webhook (JSON POST) and e-mail over SMTP
  (``CARBONPARK_SMTP_HOST``, ``_PORT``, ``_FROM``, ``_USER``, ``_PASSWORD``, ``_STARTTLS``).
  A failed hook is recorded in the alarm's detail; it never stops the evaluation.

References
----------
Guide §4.1 (实时监测), §6.4 (监测跟踪, 预警); SPEC C5; issue 5 item 7.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from carbonpark import accounting
from carbonpark.accounting.aggregation import Buckets
from carbonpark.errors import ConflictError, NotFoundError, ValidationError
from carbonpark.quality.alarm_rules import (
    Breach,
    check_intensity,
    check_rate_of_change,
    check_silence,
    check_threshold,
    validate_params,
)
from carbonpark.services import access
from carbonpark.services.activity import meter_amounts, park_timezone, source_activity
from carbonpark.services.ingest import open_alarms, raise_alarm
from carbonpark.services.scheduling import run_every
from carbonpark.store import session
from carbonpark.store.registry import resolve, the_park
from carbonpark.store.schema import EmissionSource, Enterprise, Meter, Reading, Statistic
from carbonpark.store.schema_ingest import Alarm
from carbonpark.store.schema_monitoring import AlarmRule
from carbonpark.times import from_ms, local_iso
from carbonpark.units import CANONICAL

__all__ = [
    "ALARM_SORT",
    "RULE_SORT",
    "NotifySettings",
    "acknowledge_alarm",
    "add_rule",
    "alarm_dict",
    "alarms_page",
    "clear_alarm",
    "demo_monitoring_step",
    "evaluate_rules",
    "list_alarms",
    "list_rules",
    "overview",
    "rules_page",
    "watch_rules",
]

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000


class NotifySettings(BaseSettings):
    """Where alarm e-mails go out (secrets from the environment only)."""

    model_config = SettingsConfigDict(env_prefix="CARBONPARK_SMTP_", extra="ignore")
    host: str = ""
    port: int = 25
    sender: str = Field(default="carbonpark@localhost", alias="CARBONPARK_SMTP_FROM")
    user: str = ""
    password: str = Field(default="", repr=False)
    starttls: bool = False
    webhook_timeout_s: float = 5.0
    timeout_s: float = 10.0  # SMTP connection and reply timeout [s] (CARBONPARK_SMTP_TIMEOUT_S)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---------------------------------------------------------------------------------------- latest


def _last_two(s: Session, meter_id: int) -> list[tuple[int, float]]:
    rows = s.execute(
        select(Reading.ts_ms, Reading.value).where(Reading.meter_id == meter_id).order_by(Reading.ts_ms.desc()).limit(2)
    ).all()
    return [(int(ts), float(v)) for ts, v in rows]


def meter_load(meter: Meter, last_two: list[tuple[int, float]]) -> float | None:
    """The rate of the meter's last interval [canonical unit per hour], or None without data.

    Interval meters: last value / interval. Cumulative meters: increase between the last two
    readings over the hours between them (a counter rollover adds ``rollover``). Instantaneous
    meters already measure a rate: their last value.
    """
    if not last_two:
        return None
    ts, value = last_two[0]
    if meter.reading_kind == "interval":
        return value / (meter.interval_minutes / 60)
    if meter.reading_kind == "instantaneous":
        return value
    if len(last_two) < 2:
        return None
    ts0, value0 = last_two[1]
    step = value - value0
    if step < 0 and meter.rollover:
        step += meter.rollover
    return step / ((ts - ts0) / HOUR_MS)


def _visible_meters(s: Session, principal: access.Principal | None, enterprise: str | None) -> list[Meter]:
    stmt = select(Meter).order_by(Meter.id)
    if principal is not None:
        stmt = stmt.where(access.enterprise_filter(principal, Meter.enterprise_id))
    if enterprise is not None:
        ent = resolve(s, Enterprise, enterprise)
        if principal is not None and not s.scalar(
            select(func.count())
            .select_from(Enterprise)
            .where(Enterprise.id == ent.id, access.enterprise_filter(principal, Enterprise.id))
        ):
            raise NotFoundError("enterprise", enterprise)
        stmt = stmt.where(Meter.enterprise_id == ent.id)
    return list(s.scalars(stmt))


def _emissions_rate(s: Session, end_ms: int, enterprise_ids: set[int] | None) -> dict[str, Any]:
    """tCO2e in the hour before ``end_ms`` from every metered source (of the given enterprises)."""
    buckets = Buckets("period", ("last hour",), np.array([end_ms - HOUR_MS, end_ms], dtype=np.int64))
    records: list[accounting.ActivityRecord] = []
    skipped: list[str] = []
    stmt = select(EmissionSource).where(EmissionSource.meter_id.is_not(None)).order_by(EmissionSource.id)
    for source in s.scalars(stmt):
        if enterprise_ids is not None and source.enterprise_id not in enterprise_ids:
            continue
        meter = s.get(Meter, source.meter_id)
        activity_id, params, reason = source_activity(source, meter)
        if activity_id is None or meter is None:
            skipped.append(f"{source.handle}: {reason}")
            continue
        amount = float(meter_amounts(s, meter, buckets).amount.sum())
        params.pop("category", None)
        records.append(
            accounting.ActivityRecord(
                line=source.id,
                source=source.handle or str(source.id),
                activity=activity_id,
                amount=max(amount, 0.0),
                unit=meter.unit,
                **{k: v for k, v in params.items() if k != "scope"},
            )
        )
    total = accounting.account(records).total_tco2e if records else 0.0
    return {"tco2e_per_h": float(total), "sources": len(records), "skipped": skipped}


def overview(
    db: str | None, principal: access.Principal | None = None, enterprise: str | None = None
) -> dict[str, Any]:
    """Latest value and load of every visible meter, the sums per enterprise and park, the emissions rate.

    Returns
    -------
    dict
        ``{"as_of", "meters": [...], "enterprises": {handle: {quantity: load}}, "park": {quantity: load},
        "units": {quantity: "kWh/h" …}, "emissions": {"tco2e_per_h", "sources", "skipped"},
        "open_alarms"}``; loads are in the canonical unit of the quantity per hour.
    """
    with session(db) as s:
        tz = park_timezone(s)
        meters = _visible_meters(s, principal, enterprise)
        ent_handles = dict(s.execute(select(Enterprise.id, Enterprise.handle)).all())
        rows: list[dict[str, Any]] = []
        by_ent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        park: dict[str, float] = defaultdict(float)
        newest = 0
        for meter in meters:
            last = _last_two(s, meter.id)
            load = meter_load(meter, last)
            if last:
                newest = max(newest, last[0][0])
            rows.append(
                {
                    "id": meter.id,
                    "handle": meter.handle,
                    "code": meter.code,
                    "enterprise": ent_handles.get(meter.enterprise_id or 0),
                    "quantity": meter.quantity,
                    "unit": CANONICAL.get(meter.quantity, meter.unit),
                    "last_ts": local_iso(last[0][0], tz) if last else None,
                    "last_value": last[0][1] if last else None,
                    "load_per_h": load,
                }
            )
            if load is None or meter.parent_id is not None:
                continue
            park[meter.quantity] += load
            if meter.enterprise_id is not None:
                by_ent[str(ent_handles.get(meter.enterprise_id))][meter.quantity] += load
        visible = access.visible_enterprise_ids(principal) if principal is not None else None
        emissions = _emissions_rate(s, newest + 1, None if visible is None else set(visible)) if newest else None
        open_count = len(open_alarms(s)) if principal is None or principal.role == "park_admin" else None
    return {
        "as_of": local_iso(newest, tz) if newest else None,
        "meters": rows,
        "enterprises": {k: dict(v) for k, v in sorted(by_ent.items())},
        "park": dict(park) if principal is None or principal.role in ("park_admin", "regulator") else None,
        "units": {q: f"{CANONICAL.get(q, '?')}/h" for q in sorted({r["quantity"] for r in rows})},
        "emissions": emissions,
        "open_alarms": open_count,
    }


# ---------------------------------------------------------------------------------------- rules


def add_rule(
    db: str | None,
    name: str,
    kind: str,
    meter: str,
    params: dict[str, Any],
    *,
    output_metric: str | None = None,
    severity: str = "warning",
    webhook: str | None = None,
    emails: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Create an alarm rule on a meter; parameters are in the meter's canonical unit.

    Raises
    ------
    ValidationError
        For an unknown kind, missing or non-numeric parameters, an intensity rule without
        ``output_metric``, a webhook that is not http(s), or a bad severity.
    """
    checked = validate_params(kind, params)
    if kind == "intensity" and not output_metric:
        raise ValidationError("output_metric", "the statistic metric of output, e.g. output:P-01", output_metric)
    if severity not in ("info", "warning", "critical"):
        raise ValidationError("severity", "info, warning or critical", severity)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ValidationError("webhook", "an http:// or https:// URL", webhook)
    with session(db) as s:
        m = resolve(s, Meter, meter, the_park(s).id)
        if kind == "intensity" and m.enterprise_id is None:
            raise ValidationError("meter", "a meter of an enterprise (output statistics are per enterprise)", meter)
        if s.scalar(select(func.count()).select_from(AlarmRule).where(AlarmRule.name == name)):
            raise ConflictError(f"alarm rule {name!r} already exists")
        rule = AlarmRule(
            name=name,
            kind=kind,
            meter_id=m.id,
            output_metric=output_metric,
            params=checked,
            severity=severity,
            notify={"webhook": webhook, "emails": list(emails)},
            enabled=True,
            created_ms=_now_ms(),
        )
        s.add(rule)
        s.flush()
        return _rule_dict(rule, m)


def _rule_dict(rule: AlarmRule, meter: Meter) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": rule.kind,
        "meter": meter.handle,
        "output_metric": rule.output_metric,
        "params": rule.params,
        "severity": rule.severity,
        "notify": rule.notify,
        "enabled": rule.enabled,
    }


#: Sortable names of ``GET /api/alarms/rules``.
RULE_SORT: tuple[str, ...] = ("id", "name", "kind", "severity")


def rules_page(db: str | None, *, sort: str = "id", limit: int = 100, offset: int = 0) -> access.Page:
    """One page of the alarm rules and how many there are; ``sort`` one of :data:`RULE_SORT`, cut in SQL."""
    with session(db) as s:
        rows, total = access.page_of(
            s,
            select(AlarmRule),
            columns=access.columns_of(AlarmRule, RULE_SORT),
            sort=sort,
            limit=limit,
            offset=offset,
        )
        meters = {m.id: m for m in s.scalars(select(Meter).where(Meter.id.in_({r.meter_id for r in rows})))}
        return access.Page([_rule_dict(r, meters[r.meter_id]) for r in rows], total, limit, offset)


def list_rules(db: str | None) -> list[dict[str, Any]]:
    """Every alarm rule."""
    with session(db) as s:
        rules = s.scalars(select(AlarmRule).order_by(AlarmRule.id))
        return [_rule_dict(r, s.get_one(Meter, r.meter_id)) for r in rules]  # meter_id is a non-null foreign key


def _month_amount(s: Session, meter: Meter, now_ms: int, tz: str) -> tuple[str, float]:
    local = from_ms(now_ms, tz)
    period = f"{local.year:04d}-{local.month:02d}"
    start = int(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    buckets = Buckets("period", (period,), np.array([start, now_ms], dtype=np.int64))
    return period, float(meter_amounts(s, meter, buckets).amount.sum())


def _check(s: Session, rule: AlarmRule, meter: Meter, now_ms: int, tz: str) -> Breach | None:
    unit = CANONICAL.get(meter.quantity, meter.unit)
    p = rule.params
    if rule.kind == "silence":
        last = _last_two(s, meter.id)
        return check_silence(last[0][0] if last else None, now_ms, p["minutes"])
    if rule.kind == "intensity":
        period, amount = _month_amount(s, meter, now_ms, tz)
        output = s.scalar(
            select(Statistic.value).where(
                Statistic.enterprise_id == meter.enterprise_id,
                Statistic.period == period,
                Statistic.metric == rule.output_metric,
            )
        )
        return None if output is None else check_intensity(amount, float(output), p["max_per_output"], unit)
    last = [pt for pt in _last_two(s, meter.id) if pt[0] <= now_ms]
    if not last:
        return None
    if rule.kind == "threshold":
        return check_threshold(last[0][1], p.get("low"), p.get("high"), unit)
    if len(last) < 2:
        return None
    return check_rate_of_change(last[1], last[0], p["max_per_hour"], unit)


def _notify(alarm: Alarm, rule: AlarmRule, settings: NotifySettings) -> list[str]:
    """Call the rule's hooks; return what failed (recorded with the alarm, never raised)."""
    failures: list[str] = []
    body = alarm_dict(alarm, None)
    webhook = (rule.notify or {}).get("webhook")
    if webhook:
        try:
            httpx.post(webhook, json=body, timeout=settings.webhook_timeout_s).raise_for_status()
        except httpx.HTTPError as exc:
            failures.append(f"webhook {webhook}: {type(exc).__name__}")
    emails = (rule.notify or {}).get("emails") or []
    if emails:
        if not settings.host:
            failures.append("e-mail: CARBONPARK_SMTP_HOST is not set")
        else:
            msg = EmailMessage()
            msg["Subject"] = f"[carbonpark {alarm.severity}] {alarm.subject}: {alarm.message}"
            msg["From"] = settings.sender
            msg["To"] = ", ".join(emails)
            msg.set_content(f"{alarm.message}\n\nrule {rule.name} ({rule.kind}), raised {alarm.raised_ms} ms")
            try:
                with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
                    if settings.starttls:
                        smtp.starttls()
                    if settings.user:
                        smtp.login(settings.user, settings.password)
                    smtp.send_message(msg)
            except (OSError, smtplib.SMTPException) as exc:
                failures.append(f"e-mail via {settings.host}:{settings.port}: {type(exc).__name__}")
    for failure in failures:
        log.warning("alarm %s notification failed: %s", alarm.id, failure)
    return failures


def evaluate_rules(db: str | None, now_ms: int | None = None, settings: NotifySettings | None = None) -> dict[str, Any]:
    """Check every enabled rule at ``now_ms`` (default: now); raise and clear alarms.

    A rule that breaks raises one alarm (kind ``rule``, subject the rule's name) unless one of it
    is still open; a rule that holds again clears its open alarm. Notifications go out after the
    alarm is stored.

    Returns
    -------
    dict
        ``{"at", "checked", "raised": [alarm…], "cleared": [alarm…], "open"}``.
    """
    now = _now_ms() if now_ms is None else now_ms
    settings = settings or NotifySettings()
    raised: list[tuple[Alarm, AlarmRule]] = []
    cleared: list[Alarm] = []
    with session(db) as s:
        tz = park_timezone(s)
        rules = list(s.scalars(select(AlarmRule).where(AlarmRule.enabled.is_(True)).order_by(AlarmRule.id)))
        for rule in rules:
            meter = s.get(Meter, rule.meter_id)
            assert meter is not None  # foreign key
            breach = _check(s, rule, meter, now, tz)
            open_ = open_alarms(s, kind="rule", subject=rule.name)
            if breach is not None and not open_:
                alarm = raise_alarm(
                    s,
                    "rule",
                    f"{meter.code}: {breach.message}",
                    subject=rule.name,
                    meter_id=meter.id,
                    severity=rule.severity,
                    detail={"rule": rule.kind, **breach.to_dict()},
                    at_ms=now,
                )
                raised.append((alarm, rule))
            elif breach is None:
                for alarm in open_:
                    alarm.cleared_ms = now
                    cleared.append(alarm)
        s.flush()
        for alarm, rule in raised:
            failures = _notify(alarm, rule, settings)
            if failures:
                alarm.detail = {**(alarm.detail or {}), "notification_failures": failures}
        s.flush()
        return {
            "at": local_iso(now, tz),
            "checked": len(rules),
            "raised": [alarm_dict(a, tz) for a, _ in raised],
            "cleared": [alarm_dict(a, tz) for a in cleared],
            "open": len(open_alarms(s)),
        }


# ---------------------------------------------------------------------------------------- lifecycle


def watch_rules(
    db: str | None,
    *,
    every_s: float,
    cycles: int | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Check the rules continuously (``alarms check --every``): :func:`evaluate_rules` every ``every_s`` s.

    Each run is passed to ``on_run``; returns the number of runs. Stops after ``cycles`` runs, or on
    KeyboardInterrupt. Silence rules need this (or a scheduler calling ``alarms check``): a meter
    that stops sending produces no ingest event to react to.
    """
    return run_every(lambda: evaluate_rules(db), every_s=every_s, cycles=cycles, on_run=on_run, sleep=sleep)


def alarm_state(alarm: Alarm) -> str:
    """``raised``, ``acknowledged`` or ``cleared``."""
    if alarm.cleared_ms is not None:
        return "cleared"
    return "acknowledged" if alarm.acknowledged_ms is not None else "raised"


def alarm_dict(alarm: Alarm, tz: str | None) -> dict[str, Any]:
    """An alarm as plain data; times park-local ISO 8601 when ``tz`` is given, else epoch ms."""

    def when(ms: int | None) -> Any:
        return None if ms is None else (local_iso(ms, tz) if tz else ms)

    return {
        "id": alarm.id,
        "kind": alarm.kind,
        "severity": alarm.severity,
        "subject": alarm.subject,
        "meter_id": alarm.meter_id,
        "state": alarm_state(alarm),
        "raised": when(alarm.raised_ms),
        "acknowledged": when(alarm.acknowledged_ms),
        "acknowledged_by": alarm.acknowledged_by,
        "cleared": when(alarm.cleared_ms),
        "message": alarm.message,
        "detail": alarm.detail,
    }


#: Sortable names of ``GET /api/alarms``; ``raised`` is when the alarm was raised.
ALARM_SORT: tuple[str, ...] = ("id", "raised")


def _alarms_query(state: str | None, principal: access.Principal | None) -> Select[Any]:
    if state not in (None, "raised", "acknowledged", "cleared", "open"):
        raise ValidationError("state", "raised, acknowledged, cleared or open", state)
    stmt = select(Alarm)
    if state == "cleared":
        stmt = stmt.where(Alarm.cleared_ms.is_not(None))
    elif state in ("open", "raised", "acknowledged"):
        stmt = stmt.where(Alarm.cleared_ms.is_(None))
        if state == "raised":
            stmt = stmt.where(Alarm.acknowledged_ms.is_(None))
        elif state == "acknowledged":
            stmt = stmt.where(Alarm.acknowledged_ms.is_not(None))
    if principal is not None and access.visible_enterprise_ids(principal) is not None:
        visible = select(Meter.id).where(access.enterprise_filter(principal, Meter.enterprise_id))
        stmt = stmt.where(Alarm.meter_id.in_(visible))
    return stmt


def alarms_page(
    db: str | None,
    state: str | None = None,
    principal: access.Principal | None = None,
    *,
    sort: str = "-id",
    limit: int = 200,
    offset: int = 0,
) -> access.Page:
    """One page of alarms, optionally in one state, and how many there are (cut in SQL).

    An enterprise user sees its meters' alarms only; ``sort`` is one of :data:`ALARM_SORT`
    (``-`` for descending, newest first by default).
    """
    stmt = _alarms_query(state, principal)
    with session(db) as s:
        tz = park_timezone(s)
        columns = {"id": Alarm.id, "raised": Alarm.raised_ms}
        rows, total = access.page_of(s, stmt, columns=columns, sort=sort, limit=limit, offset=offset)
        return access.Page([alarm_dict(a, tz) for a in rows], total, limit, offset)


def list_alarms(
    db: str | None, state: str | None = None, principal: access.Principal | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Alarms, newest first, optionally in one state; an enterprise user sees its meters' alarms only."""
    stmt = _alarms_query(state, principal)
    with session(db) as s:
        tz = park_timezone(s)
        return [alarm_dict(a, tz) for a in s.scalars(stmt.order_by(Alarm.id.desc()).limit(limit))]


def _alarm(s: Session, alarm_id: int, principal: access.Principal | None) -> Alarm:
    alarm = s.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFoundError("alarm", alarm_id)
    if principal is not None and access.visible_enterprise_ids(principal) is not None:
        meter = s.get(Meter, alarm.meter_id) if alarm.meter_id is not None else None
        if meter is None or not s.scalar(
            select(func.count())
            .select_from(Meter)
            .where(Meter.id == meter.id, access.enterprise_filter(principal, Meter.enterprise_id))
        ):
            raise NotFoundError("alarm", alarm_id)
    return alarm


def acknowledge_alarm(
    db: str | None, alarm_id: int, actor: str, principal: access.Principal | None = None
) -> dict[str, Any]:
    """Mark a raised alarm as seen by ``actor``; acknowledging twice changes nothing."""
    with session(db) as s:
        alarm = _alarm(s, alarm_id, principal)
        if alarm.cleared_ms is None and alarm.acknowledged_ms is None:
            alarm.acknowledged_ms = _now_ms()
            alarm.acknowledged_by = actor
            s.flush()
        return alarm_dict(alarm, park_timezone(s))


def clear_alarm(db: str | None, alarm_id: int, actor: str, principal: access.Principal | None = None) -> dict[str, Any]:
    """Clear an open alarm by hand (e.g. a data gap that was back-filled); clearing twice changes nothing."""
    with session(db) as s:
        alarm = _alarm(s, alarm_id, principal)
        if alarm.cleared_ms is None:
            alarm.cleared_ms = _now_ms()
            alarm.detail = {**(alarm.detail or {}), "cleared_by": actor}
            s.flush()
        return alarm_dict(alarm, park_timezone(s))


# ---------------------------------------------------------------------------------------- demo


def demo_monitoring_step(db: str | None, out: Path) -> dict[str, Any]:
    """Demo step: alarm rules on the park's electricity intake, checked as of the newest reading.

    Rules: the intake above its 99th-percentile hourly value (a threshold a park energy manager
    would start with), a ramp of more than half that value within an hour, and every enterprise's
    main electricity meter silent for more than two hours. Writes ``monitoring.json`` (overview,
    rules, alarms).
    """
    with session(db) as s:
        intake = s.scalars(select(Meter).where(Meter.code == "park-E-intake")).one()
        values = np.array(s.scalars(select(Reading.value).where(Reading.meter_id == intake.id)).all(), dtype=float)
        mains = list(s.scalars(select(Meter.code).where(Meter.code.like("%-E-main")).order_by(Meter.id)))
    p99 = float(np.percentile(values, 99))
    existing = {r["name"] for r in list_rules(db)}
    wanted: list[tuple[str, str, str, dict[str, Any]]] = [
        ("进线超限 intake above p99", "threshold", "park-E-intake", {"high": round(p99, 1)}),
        ("进线突变 intake ramp", "rate_of_change", "park-E-intake", {"max_per_hour": round(p99 / 2, 1)}),
        *[(f"数据中断 {code} silent", "silence", code, {"minutes": 120}) for code in mains],
    ]
    for name, kind, meter, params in wanted:
        if name not in existing:
            add_rule(db, name, kind, meter, params, severity="warning")
    ov = overview(db)
    with session(db) as s:
        newest = int(s.scalar(select(func.max(Reading.ts_ms))) or 0)
    checked = evaluate_rules(db, now_ms=newest)
    doc = {"overview": ov, "rules": list_rules(db), "check": checked, "alarms": list_alarms(db)}
    path = out / "monitoring.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return {
        "emissions_tco2e_per_h": ov["emissions"]["tco2e_per_h"] if ov["emissions"] else None,
        "park_load": ov["park"],
        "rules": len(doc["rules"]),
        "alarms_raised": len(checked["raised"]),
        "alarms_open": checked["open"],
        "output": str(path),
    }
