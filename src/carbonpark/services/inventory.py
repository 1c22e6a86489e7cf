"""Inventory (碳盘查) and verification (碳核查) over stored data: versions, steps, evidence, statements.

An organisation is an enterprise (id, handle, credit code or name) or ``park``. :func:`build`
compiles the inventory of an organisation and year from the stored activity data (refreshed from
the readings unless the year is locked) through the accounting engine, under the organisation's
boundaries, with IPCC Approach 1 (or 2) uncertainty. :func:`save_version` stores it as a version;
:func:`submit` freezes it; a verification statement (:func:`issue_statement`) marks it verified
unless its opinion is adverse (the version then stays submitted, for correction).
A frozen version is never changed: :func:`reopen` starts a new draft version that supersedes it,
and takes up the corrections and late readings that waited while the year was frozen
(``carbonpark.services.ingest.take_up_corrections``).

:func:`is_period_locked` is the lock the accounting and ingest capabilities consult: an
organisation-year is locked while its newest inventory version is submitted or verified.

References
----------
The guide §7.1 (ten steps), §7.2 (verification, continuous data-driven verification); SPEC C12,
C13; ISO 14064-1:2018 clause 9; MEE 《碳排放权交易管理办法（试行）》 (2021).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from carbonpark import accounting, inventory
from carbonpark.errors import ConflictError, NotFoundError, ValidationError
from carbonpark.factors import DEFAULT_FACTOR_SET, DEFAULT_GWP_SET, default_library
from carbonpark.services.access import MAX_ID, Page, Principal, enterprise_filter, require_role
from carbonpark.services.activity import aggregate_in_session, datum_record, park_timezone, stored_activity
from carbonpark.settings import get_settings
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import EmissionSource, Enterprise, Meter, Park, Reading, Statistic
from carbonpark.store.schema_inventory import (
    InventoryDocument,
    InventorySetting,
    InventoryVersion,
    MonitoringPlan,
    StepEventRow,
    VerificationAssignment,
    VerificationFinding,
    VerificationStatement,
    VerifierOrg,
    VerifierUser,
)
from carbonpark.times import period_bounds_ms

__all__ = [
    "PARK",
    "BuildResult",
    "add_finding",
    "add_plan",
    "add_verifier",
    "add_verifier_user",
    "assign_verifier",
    "build",
    "calendar",
    "compile_in_session",
    "configure",
    "correct_finding",
    "is_period_locked",
    "issue_statement",
    "key_emitter_list",
    "latest_statement",
    "list_findings",
    "org_key",
    "recalculation",
    "reopen",
    "run_checks",
    "save_version",
    "set_finding_status",
    "step",
    "steps",
    "submit",
    "upload_document",
    "verification_step",
    "verification_steps",
    "verify_diff",
    "versions",
]

PARK = "park"
#: A database URL (None: the configured one) or an open session (the API's request transaction).
Db = str | Session | None
FROZEN = ("submitted", "verified")
DOCUMENT_KINDS = ("invoice", "purchase", "weighing", "lab_ncv", "lab_carbon", "meter_calibration", "other")


@contextmanager
def _open(db: Db) -> Iterator[Session]:
    """The caller's session when ``db`` is one (no commit here), else a new one-transaction session."""
    if isinstance(db, Session):
        yield db
    else:
        with session(db) as s:
            yield s


def _url(db: Db) -> str | None:
    """A database URL for services that open their own read session (password kept)."""
    if isinstance(db, Session):
        return db.get_bind().engine.url.render_as_string(hide_password=False)
    return db


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON columns on PostgreSQL reject them)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sha(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def org_key(s: Session, org: str | int) -> tuple[str, Enterprise | None]:
    """``("park", None)`` or ``(handle, enterprise)`` for an id, handle, credit code or name."""
    text = str(org).strip()
    if text.lower() in (PARK, "园区"):
        if s.scalars(select(Park.id)).first() is None:
            raise NotFoundError("park", "(any): the database has no park yet")
        return PARK, None
    ent = resolve(s, Enterprise, text)
    return str(ent.handle), ent


def _latest(s: Session, key: str, year: int) -> InventoryVersion | None:
    return s.scalars(
        select(InventoryVersion)
        .where(InventoryVersion.org == key, InventoryVersion.year == year)
        .order_by(InventoryVersion.version.desc())
    ).first()


def is_period_locked(s: Session, enterprise_id: int | None, year: int) -> bool:
    """Whether the organisation-year is submitted or verified (its newest version is frozen).

    ``enterprise_id`` None means the park. Used by the accounting and ingest capabilities: they
    must not rewrite data of a locked year.
    """
    stmt = select(InventoryVersion.status).where(InventoryVersion.year == year)
    if enterprise_id is None:
        stmt = stmt.where(InventoryVersion.org == PARK)
    else:
        stmt = stmt.where(InventoryVersion.enterprise_id == enterprise_id)
    status = s.scalars(stmt.order_by(InventoryVersion.version.desc())).first()
    return status in FROZEN


# ---------------------------------------------------------------- settings (steps 2, 3)


def _setting(s: Session, key: str, year: int) -> InventorySetting | None:
    return s.scalars(select(InventorySetting).where(InventorySetting.org == key, InventorySetting.year == year)).first()


def _default_boundary(s: Session, ent: Enterprise | None) -> inventory.OrganisationalBoundary:
    ents = [ent] if ent is not None else list(s.scalars(select(Enterprise).order_by(Enterprise.id)))
    approach = ent.boundary_approach if ent is not None else "operational_control"
    if approach not in inventory.APPROACHES:
        approach = "operational_control"
    shares = tuple(inventory.EntityShare(str(e.handle), float(e.equity_share) * 100.0, True) for e in ents)
    return inventory.OrganisationalBoundary(approach, shares)


def _boundaries(
    s: Session, key: str, ent: Enterprise | None, year: int
) -> tuple[inventory.OrganisationalBoundary, inventory.OperationalBoundary, dict[str, Any]]:
    row = _setting(s, key, year)
    if row is None:
        guideline = inventory.default_guideline(ent.industry_code).key if ent is not None else ""
        return _default_boundary(s, ent), inventory.OperationalBoundary(), {"guideline": guideline}
    org_b = inventory.OrganisationalBoundary.from_dict(row.boundary) if row.boundary else _default_boundary(s, ent)
    op_b = (
        inventory.OperationalBoundary.from_dict(row.operational) if row.operational else inventory.OperationalBoundary()
    )
    extra = {"base_year": row.base_year, "threshold_pct": row.threshold_pct, "guideline": row.guideline}
    return org_b, op_b, extra


def configure(
    db: Db,
    org: str | int,
    year: int,
    *,
    actor: str,
    approach: str | None = None,
    shares: dict[str, float] | None = None,
    uncontrolled: list[str] | None = None,
    included: list[str] | None = None,
    excluded: dict[str, str] | None = None,
    significance_pct: float | None = None,
    base_year: int | None = None,
    threshold_pct: float | None = None,
    guideline: str | None = None,
) -> dict[str, Any]:
    """Set the boundaries, base year and guideline of an organisation-year (steps 2 and 3).

    ``shares`` maps an entity (id, handle or name; ``park`` for park-level sources) to its equity
    share [%]; ``uncontrolled`` lists entities outside control. Unset arguments keep their value.

    Raises
    ------
    ConflictError
        If the year is locked (submitted or verified): reopen it first.
    """
    with _open(db) as s:
        key, ent = org_key(s, org)
        if is_period_locked(s, ent.id if ent else None, year):
            raise ConflictError(f"{key} {year} is submitted or verified: run 'inventory reopen' first")
        org_b, op_b, extra = _boundaries(s, key, ent, year)
        entities = {e.entity: e for e in org_b.entities}
        for ref, pct in (shares or {}).items():
            handle = PARK if ref == PARK else str(resolve(s, Enterprise, ref).handle)
            old = entities.get(handle, inventory.EntityShare(handle))
            entities[handle] = inventory.EntityShare(handle, float(pct), old.controlled)
        for ref in uncontrolled or []:
            handle = PARK if ref == PARK else str(resolve(s, Enterprise, ref).handle)
            old = entities.get(handle, inventory.EntityShare(handle))
            entities[handle] = inventory.EntityShare(handle, old.share_pct, False)
        org_b = inventory.OrganisationalBoundary(approach or org_b.approach, tuple(entities.values()))
        op_b = inventory.OperationalBoundary(
            included=tuple(included) if included is not None else op_b.included,
            excluded=excluded if excluded is not None else op_b.excluded,
            significance_pct=significance_pct if significance_pct is not None else op_b.significance_pct,
            criterion=op_b.criterion,
        )
        if guideline is not None and guideline not in inventory.guidelines():
            raise ValidationError("guideline", f"one of {', '.join(inventory.guidelines())}", guideline)
        if base_year is not None:
            inventory.RecalculationPolicy(base_year, threshold_pct or 5.0)
        row = _setting(s, key, year)
        if row is None:
            row = InventorySetting(org=key, enterprise_id=ent.id if ent else None, year=year)
            s.add(row)
        row.boundary, row.operational = org_b.to_dict(), op_b.to_dict()
        row.base_year = base_year if base_year is not None else extra.get("base_year")
        row.threshold_pct = threshold_pct if threshold_pct is not None else float(extra.get("threshold_pct") or 5.0)
        row.guideline = guideline if guideline is not None else str(extra.get("guideline") or "")
        row.updated_ms, row.updated_by = _now_ms(), actor
        s.flush()
        return {
            "org": key,
            "year": year,
            "boundary": row.boundary,
            "operational_boundary": row.operational,
            "base_year": row.base_year,
            "threshold_pct": row.threshold_pct,
            "guideline": row.guideline,
        }


# ---------------------------------------------------------------- compilation (steps 4-7)


@dataclass
class BuildResult:
    """A compiled inventory: the ``build --json`` document, the detail, and where it came from."""

    document: dict[str, Any]
    detail: dict[str, Any]
    compilation: inventory.Compilation | None
    uncertainty: inventory.UncertaintyResult | None
    version: int | None = None
    status: str = "live"


def _quality(s: Session, data: list[Any]) -> dict[int, inventory.DatumQuality]:
    classes = dict(s.execute(select(Meter.id, Meter.accuracy_class)).all())
    codes = dict(s.execute(select(Meter.id, Meter.code)).all())
    out = {}
    for d in data:
        estimated = d.amount and abs(d.estimated_amount) > 0.5 * abs(d.amount)
        if estimated:
            out[d.id] = inventory.DatumQuality("estimated")
        elif d.meter_id is not None and classes.get(d.meter_id):
            out[d.id] = inventory.DatumQuality("metered", str(classes[d.meter_id]), str(codes.get(d.meter_id, "")))
        else:
            out[d.id] = inventory.DatumQuality("document")
    return out


def compile_in_session(
    s: Session,
    org: str | int,
    year: int,
    *,
    refresh: bool = True,
    boundary: inventory.OrganisationalBoundary | None = None,
    operational: inventory.OperationalBoundary | None = None,
    factor_set: str = DEFAULT_FACTOR_SET,
    gwp_set: str = DEFAULT_GWP_SET,
) -> inventory.Compilation:
    """Compile the organisation-year from stored activity data (refreshed from readings unless locked).

    Raises
    ------
    ValidationError
        If there are no activity data for the organisation and year.
    """
    key, ent = org_key(s, org)
    tz = park_timezone(s)
    start, end = period_bounds_ms(str(year), tz)
    ent_id = ent.id if ent else None
    if refresh and not is_period_locked(s, ent_id, year):
        stmt = select(EmissionSource.id)
        if ent is not None:
            stmt = stmt.where(EmissionSource.enterprise_id == ent.id)
        ids = list(s.scalars(stmt))
        if ids:
            aggregate_in_session(s, start, end, "month", source_ids=ids)
    data = stored_activity(s, start, end, None if ent is None else {ent.id})
    if not data:
        raise ValidationError(
            f"activity data of {key} for {year}", "metered sources with readings or activity data entered", "none"
        )
    handles = dict(s.execute(select(Enterprise.id, Enterprise.handle)).all())
    records = [datum_record(d, (handles.get(d.enterprise_id) if d.enterprise_id else None) or PARK, year) for d in data]
    period_of = {d.id: d.period for d in data}
    lib = default_library()
    groups: dict[str, list[accounting.ActivityRecord]] = defaultdict(list)
    for record in records:
        groups[period_of[record.line]].append(record)
    amounts: list[accounting.GasAmount] = []
    for _label, group in sorted(groups.items()):
        amounts.extend(accounting.quantify(group, library=lib, factor_set=factor_set))
    rows = accounting.weight(amounts, gwp_set, library=lib)
    energy = accounting.energy_use(records, library=lib, factor_set=factor_set)
    inv = accounting.aggregate(rows, energy, factor_set=factor_set, gwp_set=lib.check_gwp_set(gwp_set))
    org_b, op_b, _extra = _boundaries(s, key, ent, year)
    org_b, op_b = boundary or org_b, operational or op_b
    by_month: dict[str, float] = defaultdict(float)
    for row in inv.rows:
        a = row.amount
        if a.kind == "emission" and a.category in op_b.included:
            month = period_of.get(a.lines[0] if a.lines else a.line, str(year))[:7]
            by_month[month] += row.tco2e * org_b.factor(a.enterprise or PARK)
    return inventory.compile_inventory(
        inv,
        records,
        org=key,
        year=year,
        boundary=org_b,
        operational=op_b,
        quality=_quality(s, data),
        by_month=dict(sorted(by_month.items())),
    )


def _uncertainty(comp: inventory.Compilation, method: str) -> inventory.UncertaintyResult:
    if method == "approach1":
        return inventory.approach1(comp.terms)
    if method == "approach2":
        return inventory.approach2(comp.terms)
    raise ValidationError("uncertainty method", "approach1 or approach2", method)


def _detail(comp: inventory.Compilation, unc: inventory.UncertaintyResult, extra: dict[str, Any]) -> dict[str, Any]:
    other = inventory.approach2(comp.terms) if unc.method == "approach1" else inventory.approach1(comp.terms)
    a1, a2 = (unc, other) if unc.method == "approach1" else (other, unc)
    detail = comp.detail()
    detail["uncertainty"] = {
        "approach1": {"total": a1.total.to_dict(), "by_category": {c: i.to_dict() for c, i in a1.by_category.items()}},
        "approach2": {
            "total": a2.total.to_dict(),
            "by_category": {c: i.to_dict() for c, i in a2.by_category.items()},
            "draws": a2.draws,
        },
        "reported": unc.method,
        "inputs": inventory.uncertainty.input_table(comp.terms),
    }
    detail.update({k: v for k, v in extra.items() if v is not None})
    return detail


def build(db: Db, org: str | int, year: int, *, method: str = "approach1", fresh: bool = False) -> BuildResult:
    """The inventory of ``org`` for ``year``: the frozen version if the year is locked, else compiled now.

    ``fresh`` compiles from the data even when the year is locked (what :func:`verify_diff` compares).
    """
    with _open(db) as s:
        key, ent = org_key(s, org)
        locked = is_period_locked(s, ent.id if ent else None, year)
        if locked and not fresh:
            v = _latest(s, key, year)
            assert v is not None
            return BuildResult(dict(v.document), dict(v.detail), None, None, v.version, v.status)
        comp = compile_in_session(s, org, year, refresh=not locked)
        unc = _uncertainty(comp, method)
        _b, _o, extra = _boundaries(s, key, ent, year)
        if ent is not None:
            extra["enterprise"] = {
                "name": ent.name,
                "name_en": ent.name_en,
                "credit_code": ent.credit_code,
                "industry_code": ent.industry_code,
            }
        park = s.scalars(select(Park).order_by(Park.id)).first()
        if park is not None:
            extra["park"] = {"name": park.name, "name_en": park.name_en, "region": park.region}
        extra["steps"] = _step_list(s, "inventory", key, year, None)
        return BuildResult(_clean(comp.document(unc)), _clean(_detail(comp, unc, extra)), comp, unc)


# ---------------------------------------------------------------- versions


def _version_dict(v: InventoryVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "org": v.org,
        "year": v.year,
        "version": v.version,
        "status": v.status,
        "total_tco2e": v.total_tco2e,
        "sha256": v.sha256,
        "supersedes_id": v.supersedes_id,
        "created_ms": v.created_ms,
        "created_by": v.created_by,
        "note": v.note,
    }


def _attest(s: Session, kind: str, org: str, record: str, payload: dict[str, Any]) -> None:
    try:
        from carbonpark.services import ledger
    except ImportError:  # the ledger capability is optional
        return
    ledger.attest(s, kind, org, record, payload)


def save_version(db: Db, org: str | int, year: int, *, actor: str, note: str = "") -> dict[str, Any]:
    """Compile now and store it: a new draft version, or the open draft replaced in place.

    Raises
    ------
    ConflictError
        If the newest version is submitted or verified (frozen): :func:`reopen` first.
    """
    result = build(db, org, year)
    with _open(db) as s:
        key, ent = org_key(s, org)
        latest = _latest(s, key, year)
        if latest is not None and latest.status in FROZEN:
            raise ConflictError(f"{key} {year} version {latest.version} is {latest.status} (frozen): reopen it first")
        sha = _sha(result.detail)
        now = _now_ms()
        if latest is None:
            latest = InventoryVersion(
                org=key, enterprise_id=ent.id if ent else None, year=year, version=1, supersedes_id=None
            )
            s.add(latest)
        latest.status, latest.total_tco2e = "draft", float(result.document["total_tco2e"])
        latest.document, latest.detail, latest.sha256 = result.document, result.detail, sha
        latest.created_ms, latest.created_by, latest.status_ms, latest.note = now, actor, now, note
        s.flush()
        return _version_dict(latest)


def submit(db: Db, org: str | int, year: int, *, actor: str) -> dict[str, Any]:
    """Freeze the open draft as submitted (the report to the authority); needs step internal_review done."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        latest = _latest(s, key, year)
        if latest is None or latest.status != "draft":
            raise ConflictError(f"{key} {year} has no open draft to submit (save a version first)")
        status = {st["step"]: st["state"] for st in _step_list(s, "inventory", key, year, None)}
        if status.get("internal_review") != "done":
            raise ConflictError(f"{key} {year}: step internal_review must be done before submission (guide §7.1 九)")
        latest.status, latest.status_ms = "submitted", _now_ms()
        s.flush()
        _attest(
            s,
            "inventory_version",
            key,
            f"inventory/{key}/{year}/v{latest.version}",
            {"year": year, "version": latest.version, "status": "submitted", "sha256": latest.sha256},
        )
        return _version_dict(latest)


def reopen(db: Db, org: str | int, year: int, *, actor: str, reason: str) -> dict[str, Any]:
    """Start a new draft version that supersedes the frozen one (corrections after findings).

    The readings that came late or corrected while the year was frozen wait as pending
    corrections; the new version takes them up (:func:`carbonpark.services.ingest.take_up_corrections`:
    applied to the readings, marked ``taken_up`` by ``inventory_version:<id>`` of the new version,
    attested, the touched periods re-aggregated and the accounting runs over them re-run) and is
    then compiled from the corrected data. Without pending corrections it starts as a copy of the
    frozen version. The frozen version itself is never changed.

    Returns
    -------
    dict
        The new version (as :func:`versions` lists it) with ``taken_up``: what was taken up.
    """
    if not reason.strip():
        raise ValidationError("reason", "why the frozen inventory is reopened", reason)
    from carbonpark.services.ingest import take_up_corrections

    with _open(db) as s:
        key, ent = org_key(s, org)
        latest = _latest(s, key, year)
        if latest is None or latest.status not in FROZEN:
            raise ConflictError(f"{key} {year} has no submitted or verified version to reopen")
        now = _now_ms()
        new = InventoryVersion(
            org=key,
            enterprise_id=ent.id if ent else None,
            year=year,
            version=latest.version + 1,
            status="draft",
            total_tco2e=latest.total_tco2e,
            document=latest.document,
            detail=latest.detail,
            sha256=latest.sha256,
            supersedes_id=latest.id,
            created_ms=now,
            created_by=actor,
            status_ms=now,
            note=f"reopened: {reason}",
        )
        s.add(new)
        s.flush()
        taken = take_up_corrections(s, ent.id if ent else None, year, by=f"inventory_version:{new.id}")
        if taken.taken_up:
            result = build(s, org, year)  # the year is open again: compiled from the corrected readings
            new.total_tco2e = float(result.document["total_tco2e"])
            new.document, new.detail, new.sha256 = result.document, result.detail, _sha(result.detail)
            new.note = f"{new.note}; took up {taken.taken_up} pending correction(s)"
            s.flush()
        return {**_version_dict(new), "taken_up": taken.to_dict()}


def versions(db: Db, org: str | int, year: int) -> list[dict[str, Any]]:
    """Every version of the organisation-year, oldest first."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        rows = s.scalars(
            select(InventoryVersion)
            .where(InventoryVersion.org == key, InventoryVersion.year == year)
            .order_by(InventoryVersion.version)
        )
        return [_version_dict(v) for v in rows]


def recalculation(db: Db, org: str | int, year: int) -> dict[str, Any]:
    """The base year as reported (its newest saved version) against the base year compiled now.

    Compiling the base year again uses the boundaries set for ``year`` (the structural change) and
    today's methods; the result says whether the policy's threshold triggers a recalculation.
    """
    with _open(db) as s:
        key, ent = org_key(s, org)
        row = _setting(s, key, year)
        if row is None or row.base_year is None:
            raise ValidationError(f"base year of {key} {year}", "a base year (inventory configure --base-year)", None)
        policy = inventory.RecalculationPolicy(row.base_year, row.threshold_pct)
        base_version = _latest(s, key, row.base_year)
        if base_version is None:
            raise NotFoundError("base-year inventory version", f"{key} {row.base_year}")
        org_b, op_b, _extra = _boundaries(s, key, ent, year)
        base_b, base_op, _e = _boundaries(s, key, ent, row.base_year)
        original = compile_in_session(s, org, row.base_year, refresh=False, boundary=base_b, operational=base_op)
        again = compile_in_session(s, org, row.base_year, refresh=False, boundary=org_b, operational=op_b)
        trigger = "structural" if (org_b, op_b) != (base_b, base_op) else "method"
        result = inventory.recalculate(policy, original, again, trigger)
        doc = result.to_dict()
        doc["base_year_version"] = base_version.version
        doc["base_year_reported_tco2e"] = base_version.total_tco2e
        return doc


# ---------------------------------------------------------------- steps


def _events(s: Session, workflow: str, key: str, year: int, assignment_id: int | None) -> list[inventory.StepEvent]:
    stmt = select(StepEventRow).where(
        StepEventRow.workflow == workflow, StepEventRow.org == key, StepEventRow.year == year
    )
    if assignment_id is not None:
        stmt = stmt.where(StepEventRow.assignment_id == assignment_id)
    return [
        inventory.StepEvent(e.step, e.state, e.actor, e.at_ms, e.note)
        for e in s.scalars(stmt.order_by(StepEventRow.id))
    ]


def _step_list(s: Session, workflow: str, key: str, year: int, assignment_id: int | None) -> list[dict[str, Any]]:
    defs = inventory.INVENTORY_STEPS if workflow == "inventory" else inventory.VERIFICATION_STEPS
    return [
        {
            "step": st.step.key,
            "name_zh": st.step.name_zh,
            "name_en": st.step.name_en,
            "state": st.state,
            "actor": st.actor,
            "at_ms": st.at_ms,
            "note": st.note,
        }
        for st in inventory.replay(defs, _events(s, workflow, key, year, assignment_id))
    ]


def steps(db: Db, org: str | int, year: int) -> list[dict[str, Any]]:
    """The ten inventory steps of the organisation-year with state, who and when."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        return _step_list(s, "inventory", key, year, None)


def step(
    db: Db, org: str | int, year: int, name: str, state: str, *, actor: str, note: str = ""
) -> list[dict[str, Any]]:
    """Move one inventory step.

    Finishing ``compilation`` saves a version; ``external_verification`` is done only on a verified
    version whose newest statement is not adverse.
    """
    if state == "done" and name == "compilation":
        save_version(db, org, year, actor=actor, note="compilation step done")
    with _open(db) as s:
        key, _ent = org_key(s, org)
        events = _events(s, "inventory", key, year, None)
        inventory.check_transition(inventory.INVENTORY_STEPS, events, name, state)
        if state == "done" and name == "external_verification":
            latest = _latest(s, key, year)
            if latest is None or latest.status != "verified":
                raise ConflictError(f"{key} {year}: external verification is done when a statement has verified it")
            last = s.scalars(
                select(VerificationStatement)
                .where(VerificationStatement.version_id == latest.id)
                .order_by(VerificationStatement.id.desc())
            ).first()
            if last is not None and last.opinion == "adverse":  # versions marked verified before adverse stopped it
                raise ConflictError(
                    f"{key} {year}: the newest statement on version {latest.version} is adverse "
                    "(material misstatement): correct the inventory (reopen) and have the statement re-issued"
                )
        s.add(
            StepEventRow(
                workflow="inventory",
                org=key,
                year=year,
                step=name,
                state=state,
                actor=actor,
                at_ms=_now_ms(),
                note=note,
            )
        )
        s.flush()
        return _step_list(s, "inventory", key, year, None)


# ---------------------------------------------------------------- verification


def add_verifier(db: Db, name: str, *, credit_code: str = "", accreditation: str = "") -> dict[str, Any]:
    """Register a verification body."""
    with _open(db) as s:
        if s.scalars(select(VerifierOrg).where(VerifierOrg.name == name)).first():
            raise ConflictError(f"verifier {name!r} already exists")
        row = VerifierOrg(name=name, credit_code=credit_code, accreditation=accreditation, created_ms=_now_ms())
        s.add(row)
        s.flush()
        return {"id": row.id, "name": row.name, "credit_code": credit_code, "accreditation": accreditation}


def _verifier(s: Session, ref: str | int) -> VerifierOrg:
    text = str(ref).strip()
    cond = VerifierOrg.id == int(text) if text.isdigit() else VerifierOrg.name == text
    row = s.scalars(select(VerifierOrg).where(cond)).first()
    if row is None:
        raise NotFoundError("verifier", ref)
    return row


def add_verifier_user(db: Db, verifier: str | int, name: str, role: str = "member") -> dict[str, Any]:
    """Add a person to a verification body; ``role`` lead, member or technical_reviewer."""
    if role not in ("lead", "member", "technical_reviewer"):
        raise ValidationError("role", "lead, member or technical_reviewer", role)
    with _open(db) as s:
        org = _verifier(s, verifier)
        row = VerifierUser(verifier_org_id=org.id, name=name, role=role)
        s.add(row)
        s.flush()
        return {"id": row.id, "verifier": org.name, "name": name, "role": role}


def assign_verifier(
    db: Db, verifier: str | int, org: str | int, year: int, *, actor: str, lead: str | None = None
) -> dict[str, Any]:
    """Assign a verification body (and its lead verifier) to an organisation-year."""
    with _open(db) as s:
        body = _verifier(s, verifier)
        key, ent = org_key(s, org)
        lead_id = None
        if lead is not None:
            user = s.scalars(
                select(VerifierUser).where(VerifierUser.verifier_org_id == body.id, VerifierUser.name == lead)
            ).first()
            if user is None:
                raise NotFoundError("verifier user", lead)
            lead_id = user.id
        row = VerificationAssignment(
            verifier_org_id=body.id,
            lead_user_id=lead_id,
            org=key,
            enterprise_id=ent.id if ent else None,
            year=year,
            created_ms=_now_ms(),
            created_by=actor,
        )
        s.add(row)
        s.flush()
        return {"id": row.id, "verifier": body.name, "org": key, "year": year, "lead": lead}


def _assignment(s: Session, ref: int) -> VerificationAssignment:
    row = s.get(VerificationAssignment, int(ref))
    if row is None:
        raise NotFoundError("verification assignment", ref)
    return row


def verification_steps(db: Db, assignment: int) -> list[dict[str, Any]]:
    """The eight verification steps of an assignment with state, who and when."""
    with _open(db) as s:
        a = _assignment(s, assignment)
        return _step_list(s, "verification", a.org, a.year, a.id)


def verification_step(
    db: Db, assignment: int, name: str, state: str, *, actor: str, note: str = "", today: date | None = None
) -> list[dict[str, Any]]:
    """Move one verification step; ``delivery`` done sets the record-keeping date (five years on)."""
    with _open(db) as s:
        a = _assignment(s, assignment)
        events = _events(s, "verification", a.org, a.year, a.id)
        inventory.check_transition(inventory.VERIFICATION_STEPS, events, name, state)
        if state == "done" and name == "delivery":
            a.retain_until = inventory.retain_until(today or date.today())
        if state == "done" and name == "record_keeping" and a.retain_until is None:
            raise ConflictError("record keeping needs the delivery date (finish step delivery first)")
        s.add(
            StepEventRow(
                workflow="verification",
                org=a.org,
                year=a.year,
                assignment_id=a.id,
                step=name,
                state=state,
                actor=actor,
                at_ms=_now_ms(),
                note=note,
            )
        )
        s.flush()
        return _step_list(s, "verification", a.org, a.year, a.id)


def upload_document(
    db: Db,
    org: str | int,
    year: int,
    path: Path,
    *,
    kind: str,
    actor: str,
    meta: dict[str, Any] | None = None,
    as_blob: bool = False,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Store an evidence file (copied under ``<output>/documents/<sha256>/`` or as a blob) with its sha256.

    ``meta`` says what it supports: ``source`` + ``amount`` (+ ``unit``) for invoices and weighing
    records; ``fuel``, ``batch``, ``mass_t`` for weighing; ``fuel``, ``batch``, ``ncv`` for lab reports.
    """
    data = Path(path).read_bytes()
    return store_document(
        db, org, year, Path(path).name, data, kind=kind, actor=actor, meta=meta, as_blob=as_blob, out_dir=out_dir
    )


def store_document(
    db: Db,
    org: str | int,
    year: int,
    filename: str,
    data: bytes,
    *,
    kind: str,
    actor: str,
    meta: dict[str, Any] | None = None,
    as_blob: bool = False,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Store evidence bytes named ``filename`` (the API's multipart upload; :func:`upload_document` for files).

    Raises
    ------
    ValidationError
        For an unknown ``kind``, an empty file, a file name with a path, or a non-numeric
        ``amount``/``mass_t``/``ncv`` in ``meta``.
    """
    if kind not in DOCUMENT_KINDS:
        raise ValidationError("document kind", f"one of {', '.join(DOCUMENT_KINDS)}", kind)
    name = Path(str(filename)).name
    if not name or name in (".", "..") or len(name) > 300:
        raise ValidationError("document file name", "a plain file name of 1-300 characters", filename)
    if not data:
        raise ValidationError("document", "a non-empty file", "0 bytes")
    sha = hashlib.sha256(data).hexdigest()
    meta = dict(meta or {})
    for key in ("amount", "mass_t", "ncv"):
        if key in meta:
            try:
                meta[key] = float(meta[key])
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"document meta {key}", "a number", meta[key]) from exc
            if not math.isfinite(meta[key]):
                raise ValidationError(f"document meta {key}", "a finite number", meta[key])
    stored: str | None = None
    if not as_blob:
        folder = Path(out_dir or get_settings().output_dir) / "documents" / sha
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(data)
        stored = str(target.resolve())
    with _open(db) as s:
        key, ent = org_key(s, org)
        row = InventoryDocument(
            org=key,
            enterprise_id=ent.id if ent else None,
            year=year,
            kind=kind,
            filename=name,
            sha256=sha,
            size=len(data),
            path=stored,
            blob=data if as_blob else None,
            meta=meta,
            uploaded_by=actor,
            at_ms=_now_ms(),
        )
        s.add(row)
        s.flush()
        return {"id": row.id, "org": key, "year": year, "kind": kind, "sha256": sha, "size": len(data), "path": stored}


def _finding_dict(f: VerificationFinding) -> dict[str, Any]:
    return {
        "id": f.id,
        "assignment": f.assignment_id,
        "severity": f.severity,
        "check": f.check,
        "ref": f.ref,
        "description": f.description,
        "misstatement_tco2e": f.misstatement_tco2e,
        "status": f.status,
        "correction": f.correction,
        "corrected_version_id": f.corrected_version_id,
    }


def add_finding(
    db: Db,
    assignment: int,
    severity: str,
    description: str,
    *,
    actor: str,
    misstatement_tco2e: float = 0.0,
    ref: str = "",
    check: str = "manual",
) -> dict[str, Any]:
    """Record a finding of a verification."""
    inventory.Finding(severity, description, misstatement_tco2e)
    with _open(db) as s:
        a = _assignment(s, assignment)
        row = VerificationFinding(
            assignment_id=a.id,
            severity=severity,
            check=check,
            ref=ref,
            description=description,
            misstatement_tco2e=misstatement_tco2e,
            status="open",
            created_ms=_now_ms(),
            created_by=actor,
        )
        s.add(row)
        s.flush()
        return _finding_dict(row)


def correct_finding(db: Db, finding: int, correction: str, *, actor: str) -> dict[str, Any]:
    """The enterprise's correction: the finding becomes ``corrected``, tied to the newest version."""
    with _open(db) as s:
        row = s.get(VerificationFinding, int(finding))
        if row is None:
            raise NotFoundError("finding", finding)
        if row.status != "open":
            raise ConflictError(f"finding {finding} is {row.status}, not open")
        a = _assignment(s, row.assignment_id)
        latest = _latest(s, a.org, a.year)
        row.status, row.correction = "corrected", correction
        row.corrected_version_id = latest.id if latest else None
        s.flush()
        return _finding_dict(row)


def set_finding_status(db: Db, finding: int, status: str, *, actor: str) -> dict[str, Any]:
    """The verifier accepts a correction (``closed``) or rejects it (``open`` again)."""
    if status not in ("open", "closed"):
        raise ValidationError("status", "open or closed", status)
    with _open(db) as s:
        row = s.get(VerificationFinding, int(finding))
        if row is None:
            raise NotFoundError("finding", finding)
        row.status = status
        row.closed_ms = _now_ms() if status == "closed" else None
        s.flush()
        return _finding_dict(row)


def list_findings(db: Db, assignment: int) -> list[dict[str, Any]]:
    """Findings of an assignment, oldest first."""
    with _open(db) as s:
        rows = s.scalars(
            select(VerificationFinding)
            .where(VerificationFinding.assignment_id == int(assignment))
            .order_by(VerificationFinding.id)
        )
        return [_finding_dict(f) for f in rows]


def _metered_amounts(db: Db, year: int) -> dict[str, float]:
    from carbonpark.services.activity import activity_records

    records, _gaps = activity_records(_url(db), str(year))
    return {r.source: r.amount for r in records}


def run_checks(db: Db, assignment: int, *, actor: str, record: bool = True) -> dict[str, Any]:
    """Run the automated cross-checks on the newest version; failed items become findings when ``record``."""
    with _open(db) as s:
        a = _assignment(s, assignment)
        latest = _latest(s, a.org, a.year)
        if latest is None:
            raise NotFoundError("inventory version", f"{a.org} {a.year}")
        detail = latest.detail
        docs = list(
            s.scalars(select(InventoryDocument).where(InventoryDocument.org == a.org, InventoryDocument.year == a.year))
        )
        previous = _latest(s, a.org, a.year - 1)
        prev_detail = previous.detail if previous is not None else None
        # the organisation's own meters only (the park's inventory: every meter)
        meter_stmt = select(Meter)
        if a.enterprise_id is not None:
            meter_stmt = meter_stmt.where(Meter.enterprise_id == a.enterprise_id)
        meters = list(s.scalars(meter_stmt))
        codes: dict[int, str] = {int(i): str(c) for i, c in s.execute(select(Meter.id, Meter.code)).all()}
        peers = _industry_peers(s, a.enterprise_id, a.year)
    per_unit: dict[str, float] = {}
    tco2e_of: dict[str, float] = defaultdict(float)
    for src in detail["sources"]:
        if src["kind"] == "emission":
            tco2e_of[src["source"]] += src["tco2e"]
    # every period's datum summed, each datum once (not once per gas)
    reported = inventory.crosschecks.reported_activity(detail["sources"])
    for ref, amount in reported.items():
        per_unit[ref] = tco2e_of[ref] / amount if amount else 0.0
    results: list[inventory.crosschecks.CheckResult] = []
    metered = _metered_amounts(db, a.year)
    results += inventory.crosschecks.activity_vs_meter({k: v for k, v in reported.items() if k in metered}, metered)
    documented: dict[str, float] = defaultdict(float)
    weighing, lab = [], []
    for d in docs:
        m = d.meta or {}
        if d.kind in ("invoice", "purchase", "weighing") and "source" in m and "amount" in m:
            documented[str(m["source"])] += float(m["amount"])
        if d.kind == "weighing" and "batch" in m:
            weighing.append({"fuel": m.get("fuel", ""), "batch": m["batch"], "mass_t": m.get("mass_t", 0.0)})
        if d.kind == "lab_ncv" and "batch" in m:
            lab.append({"fuel": m.get("fuel", ""), "batch": m["batch"], "ncv": m.get("ncv", 0.0)})
    if documented:
        results += inventory.crosschecks.activity_vs_documents(
            {k: v for k, v in reported.items() if k in documented}, documented
        )
    results += inventory.crosschecks.ncv_batches(weighing, lab)
    if prev_detail is not None:
        prev: dict[str, float] = defaultdict(float)
        for src in prev_detail["sources"]:
            if src["kind"] == "emission":
                prev[src["source"]] += src["tco2e"]
        results += inventory.crosschecks.year_on_year(dict(tco2e_of), dict(prev))
    if peers is not None:
        intensities, industry_of = peers
        results += [r for r in inventory.crosschecks.industry_outliers(intensities, industry_of) if r.ref == a.org]
    parent_of = {m.id: m.parent_id for m in meters if m.parent_id is not None}
    if parent_of:
        metered_by_meter = _meter_totals(db, a.year, {*parent_of, *parent_of.values()})
        parents = {codes[p]: metered_by_meter.get(p, 0.0) for p in set(parent_of.values())}
        children: dict[str, dict[str, float]] = defaultdict(dict)
        for child, parent in parent_of.items():
            children[codes[parent]][codes[child]] = metered_by_meter.get(child, 0.0)
        results += inventory.crosschecks.energy_balance(parents, children)
    findings = []
    if record:
        with _open(db) as s:
            for r in results:
                if r.ok or (r.severity == "observation" and r.check not in ("year_on_year", "industry_outlier")):
                    continue
                mis = 0.0
                if r.check in ("activity_vs_meter", "activity_vs_documents") and r.reference is not None:
                    mis = ((r.reported or 0.0) - r.reference) * per_unit.get(r.ref, 0.0)
                row = VerificationFinding(
                    assignment_id=int(assignment),
                    severity=r.severity,
                    check=r.check,
                    ref=r.ref,
                    description=r.detail,
                    misstatement_tco2e=mis,
                    status="open",
                    created_ms=_now_ms(),
                    created_by=actor,
                )
                s.add(row)
                s.flush()
                findings.append(_finding_dict(row))
    return {
        "assignment": int(assignment),
        "checked": len(results),
        "failed": sum(1 for r in results if not r.ok),
        "results": [r.to_dict() for r in results],
        "findings": findings,
    }


def _industry_peers(s: Session, enterprise_id: int | None, year: int) -> tuple[dict[str, float], dict[str, str]] | None:
    """Emission intensities [tCO2e / 10^4 CNY gross output] of the enterprise's industry peers in ``year``.

    Peers share the GB/T 4754 division (section letter and two-digit major class, e.g. ``C26``);
    each one's emissions are its newest stored inventory version of the year, its output the
    statistics ``gross_output_value`` of the year. Enterprises without either are left out.
    None for the park's own inventory or an enterprise without an industry code.
    """
    if enterprise_id is None:
        return None
    ent = s.get(Enterprise, enterprise_id)
    if ent is None or not ent.industry_code:
        return None
    division = str(ent.industry_code)[:3]
    intensities: dict[str, float] = {}
    industry_of: dict[str, str] = {}
    for peer in s.scalars(select(Enterprise).where(Enterprise.industry_code.like(f"{division}%"))):
        latest = _latest(s, str(peer.handle), year)
        output = statistics_output(s, peer.id, year)
        if latest is None or output <= 0:
            continue
        intensities[str(peer.handle)] = latest.total_tco2e / output
        industry_of[str(peer.handle)] = division
    return intensities, industry_of


def _meter_totals(db: Db, year: int, meter_ids: set[int]) -> dict[int, float]:
    from carbonpark.services.activity import meter_amounts, period_buckets, quality_masks

    with _open(db) as s:
        tz = park_timezone(s)
        start, end = period_bounds_ms(str(year), tz)
        buckets = period_buckets(start, end, "year", tz)
        masks = quality_masks()
        out = {}
        for meter in s.scalars(select(Meter).where(Meter.id.in_(meter_ids))):
            out[meter.id] = float(meter_amounts(s, meter, buckets, masks=masks).amount.sum())
        return out


def issue_statement(
    db: Db,
    assignment: int,
    *,
    actor: str,
    level_of_assurance: str = "reasonable",
    materiality_pct: float = inventory.MATERIALITY_PCT,
) -> dict[str, Any]:
    """Issue (or re-issue) the verification statement on the newest version.

    Needs the verification step ``technical_review`` done and the newest version submitted (or
    verified, for a re-issue). The opinion follows from the findings left open. An ``unmodified``
    or ``qualified`` opinion marks the version verified; an ``adverse`` one (material misstatement)
    does not: the version stays submitted, the inventory step ``external_verification`` cannot be
    finished, and the enterprise corrects (:func:`reopen`, a new version) for a re-issue. The
    statement's ``material_findings`` (open major findings, or open findings whose misstatement
    reaches materiality) is attested in the ledger, where the data-credit rating counts it.
    """
    with _open(db) as s:
        a = _assignment(s, assignment)
        status = {st["step"]: st["state"] for st in _step_list(s, "verification", a.org, a.year, a.id)}
        if status.get("technical_review") != "done":
            raise ConflictError("the statement needs step technical_review done (guide §7.2 内部技术评审)")
        latest = _latest(s, a.org, a.year)
        if latest is None or latest.status not in FROZEN:
            raise ConflictError(f"{a.org} {a.year}: only a submitted inventory can be verified (submit it first)")
        rows = list(s.scalars(select(VerificationFinding).where(VerificationFinding.assignment_id == a.id)))
        findings = [inventory.Finding(f.severity, f.description, f.misstatement_tco2e, f.status, f.ref) for f in rows]
        op = inventory.opinion(
            latest.total_tco2e, findings, level_of_assurance=level_of_assurance, materiality_pct=materiality_pct
        )
        body = s.get(VerifierOrg, a.verifier_org_id)
        prev = s.scalars(
            select(VerificationStatement)
            .where(VerificationStatement.assignment_id == a.id)
            .order_by(VerificationStatement.id.desc())
        ).first()
        doc = {
            "org": a.org,
            "year": a.year,
            "version": latest.version,
            "inventory_sha256": latest.sha256,
            "verifier": body.name if body else "",
            **op.to_dict(),
            "version_status": "verified" if op.verifies else latest.status,
            "findings": [_finding_dict(f) for f in rows],
            "standard": "ISO 14064-3:2019; MEE 企业温室气体排放报告核查指南（试行）",
        }
        sha = _sha(doc)
        row = VerificationStatement(
            assignment_id=a.id,
            version_id=latest.id,
            level_of_assurance=level_of_assurance,
            materiality_pct=materiality_pct,
            opinion=op.opinion,
            verified_total_tco2e=latest.total_tco2e,
            document=doc,
            sha256=sha,
            supersedes_id=prev.id if prev else None,
            issued_ms=_now_ms(),
            issued_by=actor,
        )
        s.add(row)
        if op.verifies:
            latest.status, latest.status_ms = "verified", _now_ms()
        s.flush()
        _attest(
            s,
            "verification_statement",
            a.org,
            f"statement/{a.org}/{a.year}/{row.id}",
            {
                "year": a.year,
                "version": latest.version,
                "opinion": op.opinion,
                "sha256": sha,
                "material_findings": op.material_findings,
            },
        )
        return {"id": row.id, "sha256": sha, "supersedes_id": row.supersedes_id, **doc}


def verify_diff(db: Db, org: str | int, year: int) -> dict[str, Any]:
    """What changed in the data since the last verified version (continuous verification)."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        verified = s.scalars(
            select(InventoryVersion)
            .where(InventoryVersion.org == key, InventoryVersion.year == year, InventoryVersion.status == "verified")
            .order_by(InventoryVersion.version.desc())
        ).first()
        if verified is None:
            raise NotFoundError("verified inventory version", f"{key} {year}")
        before, version = dict(verified.detail), verified.version
    now = build(db, org, year, fresh=True)
    out = inventory.diff_details(before, now.detail)
    return {"org": key, "year": year, "verified_version": version, **out}


# ---------------------------------------------------------------- plans, key emitters, calendar


def add_plan(
    db: Db,
    org: str | int,
    entries: list[dict[str, Any]],
    *,
    actor: str,
    valid_from_year: int,
    guideline: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Store a new version of the enterprise's monitoring plan (数据质量控制计划); old versions stay."""
    plan = inventory.check_plan(entries)
    with _open(db) as s:
        key, ent = org_key(s, org)
        if ent is None:
            raise ValidationError("org", "an enterprise (monitoring plans belong to enterprises)", org)
        g = guideline or inventory.default_guideline(ent.industry_code).key
        if g not in inventory.guidelines():
            raise ValidationError("guideline", f"one of {', '.join(inventory.guidelines())}", g)
        last = s.scalar(select(func.max(MonitoringPlan.version)).where(MonitoringPlan.enterprise_id == ent.id)) or 0
        sources = [
            str(h) for h in s.scalars(select(EmissionSource.handle).where(EmissionSource.enterprise_id == ent.id))
        ]
        row = MonitoringPlan(
            enterprise_id=ent.id,
            version=last + 1,
            guideline=g,
            valid_from_year=valid_from_year,
            entries=[e.to_dict() for e in plan],
            created_ms=_now_ms(),
            created_by=actor,
            note=note,
        )
        s.add(row)
        s.flush()
        return {
            "org": key,
            "version": row.version,
            "guideline": g,
            "valid_from_year": valid_from_year,
            "entries": len(plan),
            "sources_without_plan": inventory.plan_gaps(plan, sources),
        }


_BATCH_PARAMETERS = {
    "ncv": ("ncv_unit", "lab_ncv"),
    "carbon_content": ("carbon_content_unit", "lab_carbon"),
    "oxidation_rate": ("", "lab_carbon"),
    "emission_factor": ("emission_factor_unit", "lab_carbon"),
}


def deposit(
    db: Db,
    org: str | int,
    year: int,
    month: int,
    out: Path | str,
    *,
    actor: str,
    attest: bool = True,
) -> dict[str, Any]:
    """Write the monthly data deposit (信息化存证) of an enterprise as CSV or XLSX and attest it.

    One row per source and parameter of the month (layout :data:`carbonpark.inventory.deposit.COLUMNS`):
    the activity datum, batch-measured parameters (NCV, carbon content, oxidation rate, a measured
    factor) and the default factors the accounting engine used. ``method``/``meter`` come from the
    monitoring plan in force for the year when it names the source and parameter, else from how
    the datum was obtained; the evidence digest is that of the meter's readings of the month or of
    the supporting documents. When ``attest``, the SHA-256 of the CSV form is attested in the
    ledger as ``inventory_deposit`` (record ``deposit/<org>/<YYYY-MM>``).

    Raises
    ------
    ValidationError
        For a month outside 1-12, the park as organisation, or a month without activity data.
    """
    if not 1 <= int(month) <= 12:
        raise ValidationError("month", "1 to 12", month)
    dep = inventory.deposit
    period = f"{int(year):04d}-{int(month):02d}"
    with _open(db) as s:
        key, ent = org_key(s, org)
        if ent is None:
            raise ValidationError("org", "an enterprise (the deposit is per enterprise)", org)
        start, end = period_bounds_ms(period, park_timezone(s))
        if not is_period_locked(s, ent.id, year):
            ids = list(s.scalars(select(EmissionSource.id).where(EmissionSource.enterprise_id == ent.id)))
            if ids:
                aggregate_in_session(s, start, end, "month", source_ids=ids)
        data = stored_activity(s, start, end, {ent.id})
        if not data:
            raise ValidationError(f"activity data of {key} for {period}", "metered or entered activity data", "none")
        plan_row = s.scalars(
            select(MonitoringPlan)
            .where(MonitoringPlan.enterprise_id == ent.id, MonitoringPlan.valid_from_year <= year)
            .order_by(MonitoringPlan.version.desc())
        ).first()
        plan = {(e["source"], e["parameter"]): e for e in (plan_row.entries if plan_row else [])}
        handles = dict(s.execute(select(EmissionSource.id, EmissionSource.handle)).all())
        codes = dict(s.execute(select(Meter.id, Meter.code)).all())
        docs = list(
            s.scalars(select(InventoryDocument).where(InventoryDocument.org == key, InventoryDocument.year == year))
        )
        quality = _quality(s, data)
        records = {d.id: datum_record(d, key, year) for d in data}
        lib = default_library()
        factor_rows: dict[int, dict[str, Any]] = defaultdict(dict)
        for wrow in accounting.weight(
            accounting.quantify(list(records.values()), library=lib), DEFAULT_GWP_SET, library=lib
        ):
            for line in wrow.amount.lines or (wrow.amount.line,):
                for f in wrow.factor_rows:
                    factor_rows[int(line)][f.id] = f
        rows: list[Any] = []
        for d in data:
            source = str((handles.get(d.source_id) if d.source_id is not None else None) or d.source_label)
            names = {source, d.source_label}

            def supporting(kinds: tuple[str, ...], names: set[str] = names) -> str:
                return dep.digest_documents(
                    doc.sha256
                    for doc in docs
                    if doc.kind in kinds
                    and str((doc.meta or {}).get("source", "")) in names
                    and str((doc.meta or {}).get("month", month)).lstrip("0") == str(int(month))
                )

            def row(
                parameter: str, value: float, unit: str, method: str, meter: str, evidence: str, source: str = source
            ) -> Any:
                entry = plan.get((source, parameter)) or {}
                return dep.DepositRow(
                    str(ent.name),
                    str(ent.credit_code),
                    period,
                    source,
                    parameter,
                    float(value),
                    unit,
                    str(entry.get("method") or method),
                    str(entry.get("meter") or meter),
                    evidence,
                )

            q = quality.get(d.id, inventory.DatumQuality("document"))
            if d.meter_id is not None and d.origin != "manual":
                readings = s.execute(
                    select(Reading.ts_ms, Reading.value, Reading.quality)
                    .where(Reading.meter_id == d.meter_id, Reading.ts_ms >= d.start_ms, Reading.ts_ms < d.end_ms)
                    .order_by(Reading.ts_ms)
                ).all()
                evidence = dep.digest_readings((r[0], r[1], r[2]) for r in readings)
            else:
                evidence = supporting(("invoice", "purchase", "weighing"))
            meter_code = str(codes.get(d.meter_id, "")) if d.meter_id is not None else ""
            rows.append(row("activity", d.amount, d.unit, q.basis, meter_code, evidence))
            params = d.params or {}
            for name, (unit_key, doc_kind) in _BATCH_PARAMETERS.items():
                if params.get(name) is not None:
                    unit = str(params.get(unit_key, "")) if unit_key else "1"
                    rows.append(row(name, params[name], unit, "measured", "", supporting((doc_kind,))))
            for f in factor_rows.get(d.id, {}).values():
                rows.append(row(f"factor:{f.id}", f.value, f.unit, f"default ({f.source_document})", "", ""))
        rows.sort(key=lambda r: (r.source, r.parameter != "activity", r.parameter))
        csv_sha = hashlib.sha256(dep.to_csv(rows)).hexdigest()
        meta = {
            "enterprise": str(ent.name),
            "org": key,
            "period": period,
            "rows": str(len(rows)),
            "csv_sha256": csv_sha,
        }
        path = dep.write_deposit(rows, out, meta=meta | {"generated_by": actor})
        if attest:
            _attest(
                s,
                "inventory_deposit",
                key,
                f"deposit/{key}/{period}",
                {"period": period, "rows": len(rows), "sha256": csv_sha},
            )
        return {
            "org": key,
            "period": period,
            "rows": len(rows),
            "csv_sha256": csv_sha,
            "out": str(path),
            "attested": attest,
        }


def key_emitter_list(db: Db, year: int) -> list[dict[str, Any]]:
    """Enterprises whose inventory of ``year`` (newest version, else compiled now) reaches 26,000 tCO2e."""
    totals: dict[str, float] = {}
    with _open(db) as s:
        ents = list(s.scalars(select(Enterprise).order_by(Enterprise.id)))
        stored = {
            v.org: v.total_tco2e
            for v in s.scalars(
                select(InventoryVersion).where(InventoryVersion.year == year).order_by(InventoryVersion.version)
            )
        }
    for ent in ents:
        key = str(ent.handle)
        if key in stored:
            totals[key] = stored[key]
            continue
        try:
            totals[key] = float(build(db, key, year).document["total_tco2e"])
        except ValidationError:
            continue
    return inventory.key_emitters(totals)


def calendar(db: Db, year: int, today: date | None = None, *, who: Principal | None = None) -> list[dict[str, Any]]:
    """Deadlines of reporting year ``year`` with reminders (the dashboard's card), per organisation.

    With ``who``, only the organisations in the principal's scope (:func:`org_in_scope`).
    """
    today = today or datetime.now().date()
    with _open(db) as s:
        rows = list(s.scalars(select(InventoryVersion).where(InventoryVersion.year == year)))
        orgs = sorted({r.org for r in rows}) or [PARK]
        if who is not None:
            require_role(who, "park_admin", "enterprise", "verifier", "regulator")
            orgs = [k for k in orgs if _in_scope(s, who, k, year)]
        out = []
        for key in orgs:
            latest = _latest(s, key, year)
            done = {
                "report": latest is not None and latest.status in FROZEN,
                "verification": latest is not None and latest.status == "verified",
            }
            out.append({"org": key, "reminders": [r.to_dict() for r in inventory.reminders(year, today, done)]})
        return out


def statistics_output(s: Session, enterprise_id: int, year: int) -> float:
    """Gross output value of the year [10^4 CNY] (for intensities)."""
    return float(
        s.scalar(
            select(func.sum(Statistic.value)).where(
                Statistic.enterprise_id == enterprise_id,
                Statistic.metric == "gross_output_value",
                Statistic.period.like(f"{year}%"),
            )
        )
        or 0.0
    )


def latest_statement(db: Db, org: str | int, year: int) -> dict[str, Any] | None:
    """The newest verification statement on the organisation-year, or None."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        row = s.scalars(
            select(VerificationStatement)
            .join(VerificationAssignment, VerificationStatement.assignment_id == VerificationAssignment.id)
            .where(VerificationAssignment.org == key, VerificationAssignment.year == year)
            .order_by(VerificationStatement.id.desc())
        ).first()
        return None if row is None else {"id": row.id, "sha256": row.sha256, **row.document}


def demo_step(db: Db, year: int, out: Path) -> dict[str, Any]:
    """The demo's inventory step: the park's inventory of ``year`` written to ``inventory.json``."""
    result = build(db, PARK, year)
    path = Path(out) / "inventory.json"
    path.write_text(json.dumps(result.document, ensure_ascii=False, indent=2), encoding="utf-8")
    unc = result.document["uncertainty"]
    return {
        "total_tco2e": round(float(result.document["total_tco2e"]), 3),
        "interval_tco2e": [round(float(unc["lower_tco2e"]), 1), round(float(unc["upper_tco2e"]), 1)],
        "output": str(path),
    }


# ---------------------------------------------------------------- who may see what (API, docs/api.md)

#: Roles that may change an organisation's own inventory (steps, boundaries, versions, corrections).
INVENTORY_WRITERS = ("park_admin", "enterprise")
#: Roles that run a verification (steps, checks, findings, statement).
VERIFICATION_WRITERS = ("park_admin", "verifier")


def org_in_scope(
    s: Session, who: Principal, org: str | int, year: int, *, write: bool = False
) -> tuple[str, Enterprise | None]:
    """``org_key`` of an organisation-year the principal may reach; 404 outside its scope.

    park_admin: every organisation. enterprise: its own enterprise. verifier: the enterprise-years
    of its assignments (``who.assignments``). regulator: key emitters, read-only, and only what was
    submitted or verified (:func:`frozen_only`). The park's own inventory is park_admin's (and the
    regulator's once submitted). A row outside the scope is reported as not found (docs/api.md).

    Raises
    ------
    PermissionDenied
        For a role that may not read inventories at all (device), or a write by a read-only role.
    NotFoundError
        For an organisation outside the scope (its existence is not revealed).
    """
    require_role(who, "park_admin", "enterprise", "verifier", "regulator")
    if write:
        require_role(who, *INVENTORY_WRITERS, "verifier")
    text = str(org).strip()
    if text.isdigit() and int(text) > MAX_ID:
        raise NotFoundError("organisation", org)
    key, ent = org_key(s, org)
    if who.role == "park_admin":
        return key, ent
    allowed = False
    if ent is None:
        allowed = who.role == "regulator"
    elif who.role == "enterprise":
        allowed = ent.id == who.enterprise_id
    elif who.role == "verifier":
        allowed = (ent.id, int(year)) in who.assignments
    elif who.role == "regulator":
        allowed = bool(ent.key_emitter)
    if not allowed:
        raise NotFoundError("organisation", org)
    return key, ent


def _in_scope(s: Session, who: Principal, org: str, year: int) -> bool:
    try:
        org_in_scope(s, who, org, year)
    except NotFoundError:
        return False
    return True


def frozen_only(who: Principal) -> bool:
    """Whether the principal sees only submitted or verified inventories (the regulator)."""
    return who.role == "regulator"


def require_frozen(s: Session, who: Principal, key: str, year: int) -> None:
    """For a regulator, 404 unless the organisation-year has a submitted or verified version."""
    if frozen_only(who):
        latest = _latest(s, key, year)
        if latest is None or latest.status not in FROZEN:
            raise NotFoundError("submitted inventory", f"{key} {year}")


def _org_filter(s: Session, who: Principal) -> Any:
    """WHERE clause on ``InventoryVersion``-like rows (``enterprise_id``, ``year``, ``org``) for ``who``."""
    if who.role == "park_admin":
        return true()
    if who.role == "enterprise":
        return enterprise_filter(who, InventoryVersion.enterprise_id)
    if who.role == "verifier":
        pairs = sorted(who.assignments)
        if not pairs:
            return false()
        return or_(*[and_(InventoryVersion.enterprise_id == e, InventoryVersion.year == y) for e, y in pairs])
    if who.role == "regulator":
        keys = select(Enterprise.id).where(Enterprise.key_emitter.is_(True))
        return and_(
            or_(InventoryVersion.enterprise_id.in_(keys), InventoryVersion.org == PARK),
            InventoryVersion.status.in_(FROZEN),
        )
    return false()


def list_versions(
    s: Session,
    who: Principal,
    *,
    year: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the inventory versions the principal may see, newest first."""
    require_role(who, "park_admin", "enterprise", "verifier", "regulator")
    stmt = select(InventoryVersion).where(_org_filter(s, who))
    if year is not None:
        stmt = stmt.where(InventoryVersion.year == year)
    if status is not None:
        stmt = stmt.where(InventoryVersion.status == status)
    total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = s.scalars(
        stmt.order_by(InventoryVersion.year.desc(), InventoryVersion.org, InventoryVersion.version.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [{**_version_dict(v), "enterprise_id": v.enterprise_id} for v in rows]
    return Page(items, total, limit, offset).to_dict()


def assignment_in_scope(s: Session, who: Principal, assignment: int, *, write: bool = False) -> VerificationAssignment:
    """A verification assignment the principal may reach; 404 outside its scope.

    park_admin: all. verifier: those on its assigned enterprise-years. enterprise: those on its own
    enterprise (read, and corrections). regulator: key emitters' (read). ``write`` (steps, checks,
    findings, statement) is for park_admin and verifiers.
    """
    require_role(who, "park_admin", "enterprise", "verifier", "regulator")
    if write:
        require_role(who, *VERIFICATION_WRITERS)
    if not 0 < int(assignment) <= MAX_ID:
        raise NotFoundError("verification assignment", assignment)
    a = _assignment(s, assignment)
    if who.role != "park_admin":
        try:
            org_in_scope(s, who, a.enterprise_id if a.enterprise_id is not None else PARK, a.year)
        except NotFoundError:
            raise NotFoundError("verification assignment", assignment) from None
    return a


def finding_in_scope(s: Session, who: Principal, finding: int) -> VerificationFinding:
    """A finding whose assignment the principal may reach; 404 otherwise."""
    if not 0 < int(finding) <= MAX_ID:
        raise NotFoundError("finding", finding)
    row = s.get(VerificationFinding, int(finding))
    if row is None:
        raise NotFoundError("finding", finding)
    try:
        assignment_in_scope(s, who, row.assignment_id)
    except NotFoundError:
        raise NotFoundError("finding", finding) from None
    return row


def _assignment_dict(s: Session, a: VerificationAssignment) -> dict[str, Any]:
    body = s.get(VerifierOrg, a.verifier_org_id)
    lead = s.get(VerifierUser, a.lead_user_id) if a.lead_user_id is not None else None
    return {
        "id": a.id,
        "verifier": body.name if body else "",
        "lead": lead.name if lead else None,
        "org": a.org,
        "enterprise_id": a.enterprise_id,
        "year": a.year,
        "retain_until": a.retain_until.isoformat() if a.retain_until else None,
        "created_by": a.created_by,
    }


def list_assignments(s: Session, who: Principal, *, year: int | None = None) -> list[dict[str, Any]]:
    """Verification assignments the principal may see, oldest first."""
    require_role(who, "park_admin", "enterprise", "verifier", "regulator")
    stmt = select(VerificationAssignment)
    if year is not None:
        stmt = stmt.where(VerificationAssignment.year == year)
    if who.role == "enterprise":
        stmt = stmt.where(enterprise_filter(who, VerificationAssignment.enterprise_id))
    elif who.role == "verifier":
        pairs = sorted(who.assignments)
        cond = [and_(VerificationAssignment.enterprise_id == e, VerificationAssignment.year == y) for e, y in pairs]
        stmt = stmt.where(or_(*cond) if cond else false())
    elif who.role == "regulator":
        keys = select(Enterprise.id).where(Enterprise.key_emitter.is_(True))
        stmt = stmt.where(VerificationAssignment.enterprise_id.in_(keys))
    return [_assignment_dict(s, a) for a in s.scalars(stmt.order_by(VerificationAssignment.id))]


def list_documents(db: Db, org: str | int, year: int) -> list[dict[str, Any]]:
    """Evidence documents of an organisation-year (without their bytes), oldest first."""
    with _open(db) as s:
        key, _ent = org_key(s, org)
        rows = s.scalars(
            select(InventoryDocument)
            .where(InventoryDocument.org == key, InventoryDocument.year == year)
            .order_by(InventoryDocument.id)
        )
        return [
            {
                "id": d.id,
                "org": d.org,
                "year": d.year,
                "kind": d.kind,
                "filename": d.filename,
                "sha256": d.sha256,
                "size": d.size,
                "meta": d.meta,
                "uploaded_by": d.uploaded_by,
                "at_ms": d.at_ms,
            }
            for d in rows
        ]


def report_context(db: Db, org: str | int, year: int, fmt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(detail, context)`` for :func:`carbonpark.reports.inventory_report.write_report`.

    The detail is the frozen version when the year is locked, else compiled now; the context
    carries the newest version, the latest statement and the base-year recalculation (if any).
    """
    result = build(db, org, year)
    context: dict[str, Any] = {}
    if fmt != "xlsx":
        vs = versions(db, org, year)
        context["version"] = vs[-1] if vs and result.version is not None else None
        context["statement"] = latest_statement(db, org, year)
        try:
            context["recalculation"] = recalculation(db, org, year)
        except (ValidationError, NotFoundError):
            context["recalculation"] = None
    return result.detail, context
