"""Accounting over stored data: an enterprise or the whole park for a period, stored with lineage.

:func:`account_stored` reads the stored activity data of an organisation for a local calendar
period (refreshing the metered ones from the readings first), runs the accounting engine and
stores the result as one *accounting run* with its *emission records*: each record names its
activity datum, the factor rows used (with their sources), the GWP set and the formula, and
how much of it rests on estimated or flagged readings.

Locking: a submitted or verified period is frozen. :func:`is_period_locked` is the one check
used by the accounting and the aggregation: it is true when the run of that organisation and
year carries ``locked`` (set with :func:`lock_period`) or when
``carbonpark.services.inventory.is_period_locked(s, enterprise_id, year)`` (the inventory
capability's hook, when present) says so. A locked run is never replaced; asking for it again
returns what is stored.

References
----------
The guide §4.2 (accounting methods), §4.3 formulas (3)-(7); SPEC C6, C7 (lineage, stored
records); GB/T 32150-2015; ISO 14064-1:2018.
"""

from __future__ import annotations

import importlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from carbonpark import accounting
from carbonpark.accounting.aggregation import share
from carbonpark.errors import ConflictError, NotFoundError, ValidationError
from carbonpark.factors import DEFAULT_FACTOR_SET, DEFAULT_GWP_SET, FactorLibrary, FactorRow, default_library
from carbonpark.model import Handle
from carbonpark.services.activity import aggregate_in_session, datum_record, park_timezone, stored_activity
from carbonpark.store import session
from carbonpark.store.registry import resolve
from carbonpark.store.schema import EmissionSource, Enterprise, Park
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum, EmissionRecord
from carbonpark.times import period_bounds_ms

__all__ = [
    "account_in_session",
    "account_stored",
    "demo_step",
    "emission_payload",
    "explain_record",
    "is_period_locked",
    "lock_period",
    "rerun_affected",
    "stored_document",
]

PARK = "park"
_ENERGY_METHODS = ("purchased_electricity", "purchased_heat")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _inventory_hook() -> Any:
    try:
        module = importlib.import_module("carbonpark.services.inventory")
    except ImportError:
        return None
    return getattr(module, "is_period_locked", None)


def is_period_locked(s: Session, enterprise_id: int | None, year: int) -> bool:
    """Whether ``year`` of the enterprise (None: the park) is submitted or verified, hence frozen.

    True if the stored accounting run of that organisation and year is ``locked``, or if the
    inventory capability's ``is_period_locked(s, enterprise_id, year)`` says so.
    """
    stmt = select(AccountingRun.locked).where(AccountingRun.period == str(year), AccountingRun.locked.is_(True))
    stmt = (
        stmt.where(AccountingRun.enterprise_id == enterprise_id)
        if enterprise_id is not None
        else stmt.where(AccountingRun.org == PARK)
    )
    if s.scalars(stmt).first():
        return True
    hook = _inventory_hook()
    return bool(hook(s, enterprise_id, year)) if hook is not None else False


def _org(s: Session, org: str | int) -> tuple[str, Enterprise | None]:
    text = str(org).strip()
    if text.lower() in (PARK, "园区"):
        if s.scalars(select(Park.id)).first() is None:
            raise NotFoundError("park", "(any): the database has no park yet")
        return PARK, None
    enterprise = resolve(s, Enterprise, text)
    return str(enterprise.handle), enterprise


def lock_period(db: str | None, org: str | int, period: str, locked: bool = True) -> dict[str, Any]:
    """Mark the stored run of ``org`` and ``period`` locked (submitted/verified) or unlocked.

    Raises
    ------
    NotFoundError
        If there is no run to lock (account the period first).
    """
    with session(db) as s:
        key, _ent = _org(s, org)
        run = s.scalars(select(AccountingRun).where(AccountingRun.org == key, AccountingRun.period == period)).first()
        if run is None:
            raise NotFoundError("accounting run", f"{key} {period}")
        run.locked = locked
        return {"org": key, "period": period, "locked": locked, "run_id": run.id}


def _library(library: FactorLibrary | None) -> FactorLibrary:
    return library or default_library()


def _run_document(run: AccountingRun, records: list[EmissionRecord]) -> dict[str, Any]:
    doc = dict(run.summary or {})
    doc.update({"org": run.org, "period": run.period, "run_id": run.id, "locked": run.locked})
    doc["rows"] = [_record_row(r) for r in records]
    return doc


def _record_row(r: EmissionRecord) -> dict[str, Any]:
    return {
        "line": r.activity_datum_id,
        "record_id": r.id,
        "handle": r.handle,
        "activity_datum_id": r.activity_datum_id,
        "period": r.period,
        "source": r.source_label,
        "activity": r.activity,
        "activity_amount": r.activity_amount,
        "activity_unit": r.activity_unit,
        "gas": r.gas,
        "kind": r.kind,
        "mass_t": r.mass_t,
        "gwp": r.gwp,
        "gwp_set": r.gwp_set,
        "tco2e": r.tco2e,
        "market_tco2e": r.market_tco2e,
        "method": r.method,
        "formula": r.formula,
        "scope": r.scope,
        "category": r.category,
        "factors": r.factors,
        "factor_ids": r.factor_ids,
        "notes": r.notes,
        "estimated_share": r.estimated_share,
        "flagged_share": r.flagged_share,
    }


def stored_document(db: str | None, org: str | int, period: str) -> dict[str, Any]:
    """The stored run of ``org`` and ``period`` as the ``account --json`` document (with ``rows``)."""
    with session(db) as s:
        key, _ent = _org(s, org)
        run = s.scalars(select(AccountingRun).where(AccountingRun.org == key, AccountingRun.period == period)).first()
        if run is None:
            raise NotFoundError("accounting run", f"{key} {period}")
        records = list(
            s.scalars(select(EmissionRecord).where(EmissionRecord.run_id == run.id).order_by(EmissionRecord.id))
        )
        return _run_document(run, records)


def _park_section(
    inv: accounting.Inventory,
    owner_of: dict[int, str],
    gaps: list[dict[str, Any]],
    transfers: list[accounting.EnergyTransfer] | None = None,
) -> dict[str, Any]:
    """Formula (3) and its reconciliation over the run: enterprise rows → (4), park rows → park energy/public;
    ``transfers`` (energy and CO2 passed inside the park, :mod:`carbonpark.services.transfers`) go to
    :func:`carbonpark.accounting.park_account` so each is listed and no tonne is counted twice."""
    by_owner: dict[str, list[accounting.EmissionRow]] = defaultdict(list)
    for row in inv.rows:
        by_owner[owner_of.get(row.amount.line, PARK)].append(row)
    components: list[accounting.ParkComponent] = []
    for owner, rows in by_owner.items():
        if owner == PARK:
            energy = [r for r in rows if r.amount.method in _ENERGY_METHODS or r.amount.category == "2"]
            components.extend(accounting.park_components(accounting.aggregate(energy), owner, term="park_energy"))
            for row in rows:
                if row in energy or row.amount.kind == "biogenic":
                    continue
                if row.amount.kind == "removal":
                    components.append(accounting.ParkComponent("sinks", "sinks", owner, -row.tco2e))
                    continue
                part = "waste_treatment" if row.amount.gas == "CH4" else "public_equipment"
                components.append(accounting.ParkComponent("public", part, owner, row.tco2e))
        else:
            components.extend(accounting.park_components(accounting.aggregate(rows), owner))
    park = accounting.park_account(components, transfers or ())
    return {
        "total_tco2e": park.total_tco2e,
        "ets_boundary_tco2e": park.ets_boundary_tco2e,
        "terms": park.terms,
        "gaps": list(park.gaps),
        "complete": park.complete,
        "sources_without_data": gaps,
        "transfer_adjustment_tco2e": park.transfer_adjustment_tco2e,
        "transfers": [
            {
                "seller": tr.seller,
                "buyer": tr.buyer,
                "carrier": tr.carrier,
                "amount": tr.amount,
                "unit": tr.unit,
                "buyer_tco2e": tr.buyer_tco2e,
                "seller_deducted_tco2e": tr.seller_deducted_tco2e,
            }
            for tr in transfers or ()
        ],
        "reconciliation": [
            {
                "label": line.label,
                "tco2e": line.tco2e,
                "running_total_tco2e": line.running_total_tco2e,
                "reason": line.reason,
            }
            for line in park.reconciliation
        ],
    }


def account_in_session(
    s: Session,
    org: str | int,
    period: str,
    *,
    factor_set: str = DEFAULT_FACTOR_SET,
    gwp_set: str = DEFAULT_GWP_SET,
    library: FactorLibrary | None = None,
    refresh: bool = True,
) -> dict[str, Any]:
    """:func:`account_stored` inside the caller's transaction."""
    lib = _library(library)
    gwp_name = lib.check_gwp_set(gwp_set)
    lib.check_fuel_set(factor_set)
    key, enterprise = _org(s, org)
    tz = park_timezone(s)
    start, end = period_bounds_ms(period, tz)
    year = int(period.strip()[:4])
    ent_id = enterprise.id if enterprise is not None else None
    existing = s.scalars(select(AccountingRun).where(AccountingRun.org == key, AccountingRun.period == period)).first()
    if is_period_locked(s, ent_id, year):
        if existing is None:
            raise ConflictError(f"{key} {year} is submitted or verified (locked) and has no stored accounting run")
        frozen = list(
            s.scalars(select(EmissionRecord).where(EmissionRecord.run_id == existing.id).order_by(EmissionRecord.id))
        )
        return _run_document(existing, frozen)
    source_stmt = select(EmissionSource.id)
    if enterprise is not None:
        source_stmt = source_stmt.where(EmissionSource.enterprise_id == enterprise.id)
    source_ids = list(s.scalars(source_stmt))
    gaps: list[dict[str, Any]] = []
    notes: list[str] = []
    if refresh and source_ids:
        result = aggregate_in_session(s, start, end, "month", source_ids=source_ids)
        gaps, notes = result.gaps, result.notes
    data = stored_activity(s, start, end, None if enterprise is None else {enterprise.id})
    if not data:
        raise ValidationError(
            f"activity data of {key} for {period}",
            "metered sources with readings or activity data entered by hand",
            "none",
        )
    handles: dict[int | None, str | None] = {k: v for k, v in s.execute(select(Enterprise.id, Enterprise.handle))}
    datum_of = {d.id: d for d in data}
    records = [datum_record(d, handles.get(d.enterprise_id) or PARK, year) for d in data]
    groups: dict[str, list[accounting.ActivityRecord]] = defaultdict(list)
    for record in records:
        groups[datum_of[record.line].period].append(record)
    amounts: list[accounting.GasAmount] = []
    for _label, group in sorted(groups.items()):
        amounts.extend(accounting.quantify(group, library=lib, factor_set=factor_set))
    rows = accounting.weight(amounts, gwp_name, library=lib)
    energy = accounting.energy_use(records, library=lib, factor_set=factor_set)
    inv = accounting.aggregate(rows, energy, factor_set=factor_set, gwp_set=gwp_name)
    doc = accounting.inventory_document(inv)
    doc["org"], doc["period"] = key, period
    total_abs = sum(abs(r.tco2e) for r in inv.rows) or 0.0
    est = flag = 0.0
    record_rows: list[EmissionRecord] = []
    for row in inv.rows:
        a = row.amount
        datum = datum_of[a.lines[0] if a.lines else a.line]
        basis = [datum_of[line] for line in (a.lines or (a.line,))]
        whole = sum(abs(d.amount) for d in basis)
        est_share = share(sum(abs(d.estimated_amount) for d in basis), whole)
        flag_share = share(sum(abs(d.flagged_amount) for d in basis), whole)
        est += abs(row.tco2e) * est_share
        flag += abs(row.tco2e) * flag_share
        record_rows.append(
            EmissionRecord(
                activity_datum_id=datum.id,
                enterprise_id=datum.enterprise_id,
                source_id=datum.source_id,
                period=datum.period,
                start_ms=datum.start_ms,
                end_ms=datum.end_ms,
                source_label=a.source,
                activity=a.activity,
                activity_amount=datum.amount,
                activity_unit=datum.unit,
                gas=a.gas,
                kind=a.kind,
                method=a.method,
                formula=a.formula,
                scope=a.scope,
                category=a.category,
                mass_t=a.mass_t,
                gwp_set=row.gwp_set,
                gwp=row.gwp,
                tco2e=row.tco2e,
                market_tco2e=row.market_tco2e,
                factor_ids=[f.id for f in row.factor_rows],
                factors=[f.cite() for f in row.factor_rows],
                steps=list(a.steps),
                notes=list(a.notes),
                estimated_share=est_share,
                flagged_share=flag_share,
            )
        )
    doc["quality"] = {
        "estimated_share": share(est, total_abs),
        "flagged_share": share(flag, total_abs),
        "basis": "share of |tCO2e| resting on estimated / flagged readings",
    }
    doc["sources_without_data"] = gaps
    doc["notes"] = notes
    if enterprise is None:
        owner_of = {d.id: handles.get(d.enterprise_id) or PARK for d in data}
        from carbonpark.services.transfers import park_energy_transfers  # imports this module

        doc["park"] = _park_section(inv, owner_of, gaps, park_energy_transfers(s, inv.rows, datum_of))
    summary = {k: v for k, v in doc.items() if k != "rows"}
    replaced: list[str] = []
    if existing is not None:
        replaced = [
            str(h) for h in s.scalars(select(EmissionRecord.handle).where(EmissionRecord.run_id == existing.id)) if h
        ]
        s.execute(delete(EmissionRecord).where(EmissionRecord.run_id == existing.id))
        run = existing
        run.factor_set, run.gwp_set = factor_set, gwp_name
        run.start_ms, run.end_ms = start, end
        run.computed_ms, run.total_tco2e, run.summary = _now_ms(), inv.total_tco2e, summary
    else:
        run = AccountingRun(
            org=key,
            enterprise_id=ent_id,
            period=period,
            start_ms=start,
            end_ms=end,
            factor_set=factor_set,
            gwp_set=gwp_name,
            computed_ms=_now_ms(),
            total_tco2e=inv.total_tco2e,
            locked=False,
            summary=summary,
        )
        s.add(run)
    s.flush()
    prefix = s.scalars(select(Park.handle_prefix).order_by(Park.id)).first() or "0"
    for rec in record_rows:
        rec.run_id = run.id
        s.add(rec)
    s.flush()
    for rec in record_rows:
        rec.handle = str(Handle(prefix, "emission", str(rec.id)))
    s.flush()
    _attest(s, run, record_rows, replaced)
    return _run_document(run, record_rows)


def emission_payload(rec: EmissionRecord, org: str) -> dict[str, Any]:
    """What the ledger attests for an emission record (amounts as decimal strings, RFC 8785)."""
    return {
        "org": org,
        "period": rec.period,
        "source": rec.source_label,
        "activity": rec.activity,
        "activity_datum": rec.activity_datum_id,
        "activity_amount": repr(float(rec.activity_amount)),
        "activity_unit": rec.activity_unit,
        "gas": rec.gas,
        "kind": rec.kind,
        "method": rec.method,
        "formula": rec.formula,
        "scope": rec.scope,
        "category": rec.category,
        "mass_t": repr(float(rec.mass_t)),
        "gwp_set": rec.gwp_set,
        "gwp": repr(float(rec.gwp)),
        "tco2e": repr(float(rec.tco2e)),
        "factor_ids": list(rec.factor_ids),
    }


def _ledger() -> Any:
    try:
        return importlib.import_module("carbonpark.services.ledger")
    except ImportError:
        return None


def _organisation(s: Session, run: AccountingRun) -> str:
    if run.org != PARK:
        return run.org
    return s.scalars(select(Park.handle).order_by(Park.id)).first() or PARK


def _stored_records(s: Session) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """Every stored emission record as the ledger attested it (``ledger verify`` recomputes these)."""
    runs = {r.id: r for r in s.scalars(select(AccountingRun))}
    orgs = {run_id: _organisation(s, run) for run_id, run in runs.items()}
    for rec in s.scalars(select(EmissionRecord).order_by(EmissionRecord.id)):
        yield str(rec.handle), orgs[rec.run_id], emission_payload(rec, runs[rec.run_id].org)


def _register_ledger_source() -> None:
    ledger = _ledger()
    if ledger is None or not hasattr(ledger, "register_source"):
        return
    ledger.register_source(ledger.Source("emission_record", _stored_records, "emission records of the accounting runs"))


def _attest(s: Session, run: AccountingRun, records: list[EmissionRecord], replaced: list[str]) -> None:
    """Attest the run's records (and the deletion of the records they replace) through the ledger."""
    ledger = _ledger()
    if ledger is None or not hasattr(ledger, "attest_many"):
        return
    organisation = _organisation(s, run)
    for handle in replaced:
        ledger.attest_deletion(s, "emission_record", organisation, handle, "accounting run re-run")
    ledger.attest_many(
        s,
        [
            ledger.Attestation("emission_record", organisation, str(rec.handle), emission_payload(rec, run.org))
            for rec in records
        ],
    )


_register_ledger_source()


def account_stored(
    db: str | None,
    org: str | int,
    period: str,
    *,
    factor_set: str = DEFAULT_FACTOR_SET,
    gwp_set: str = DEFAULT_GWP_SET,
    library: FactorLibrary | None = None,
    refresh: bool = True,
) -> dict[str, Any]:
    """Account ``org`` (enterprise id/handle/credit code/name, or ``park``) for ``period`` and store it.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    period
        Local calendar period: ``YYYY`` (the usual), ``YYYY-MM`` or ``YYYY-MM-DD``.
    factor_set, gwp_set, library
        As for :func:`carbonpark.accounting.account`.
    refresh
        Recompute the metered activity data (monthly) from the readings first.

    Returns
    -------
    dict
        The ``carbonpark account --json`` document (same keys as for a file) plus ``org``,
        ``period``, ``run_id``, ``locked``, ``quality``, ``sources_without_data`` and, for the
        park, ``park`` (formula (3) with its reconciliation). Each row carries ``record_id``,
        ``activity_datum_id``, ``period``, the factor rows and the shares.

    Raises
    ------
    ValidationError
        When the organisation has no activity data for the period, or a datum is bad (the error
        names the activity datum id as its ``line``).
    ConflictError
        When the period is locked and there is no stored run.
    """
    with session(db) as s:
        return account_in_session(
            s, org, period, factor_set=factor_set, gwp_set=gwp_set, library=library, refresh=refresh
        )


def demo_step(db: str | None, year: int, out: Path) -> dict[str, Any]:
    """The demo's accounting step: monthly activity data from the meters, then one stored run per
    enterprise and one for the park, all with emission records and lineage; writes ``accounting.json``."""
    with session(db) as s:
        tz = park_timezone(s)
        start, end = period_bounds_ms(str(year), tz)
        aggregation = aggregate_in_session(s, start, end, "month")
        enterprises = list(s.scalars(select(Enterprise.handle).order_by(Enterprise.id)))
        per_enterprise: dict[str, dict[str, Any]] = {}
        for handle in enterprises:
            try:
                doc = account_in_session(s, str(handle), str(year), refresh=False)
            except ValidationError as exc:  # an enterprise without any data is reported, the others go on
                per_enterprise[str(handle)] = {"error": str(exc)}
                continue
            per_enterprise[str(handle)] = {"total_tco2e": doc["total_tco2e"], "records": len(doc["rows"])}
        park = account_in_session(s, PARK, str(year), refresh=False)
        n_records = int(s.scalar(select(func.count()).select_from(EmissionRecord)) or 0)
    summary = {k: v for k, v in park.items() if k not in ("rows", "energy")}
    summary["enterprises"] = per_enterprise
    summary["aggregation"] = aggregation.to_dict()
    path = out / "accounting.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return {
        "total_tco2e": round(park["total_tco2e"], 3),
        "energy_tce": round(park["energy_tce"], 3),
        "emission_records": n_records,
        "activity_data": aggregation.written,
        "sources_without_data": len(aggregation.gaps),
        "output": str(path),
        "_inventory": SimpleNamespace(total_tco2e=park["total_tco2e"], energy_tce=park["energy_tce"]),
    }


def rerun_affected(db: str | None, touched: Iterable[tuple[int | None, int]]) -> list[dict[str, Any]]:
    """Re-run the stored yearly (and park) runs over (enterprise id, year) pairs whose data changed.

    Locked runs are left alone. Runs keep their factor set and GWP set.
    """
    done: list[dict[str, Any]] = []
    pairs = set(touched)
    with session(db) as s:
        handles = dict(s.execute(select(Enterprise.id, Enterprise.handle)).all())
        wanted: set[tuple[str, int]] = set()
        for ent_id, year in pairs:
            wanted.add((handles.get(ent_id) or PARK, year) if ent_id is not None else (PARK, year))
            wanted.add((PARK, year))
        runs = [
            run
            for run in s.scalars(select(AccountingRun))
            if (run.org, int(run.period[:4])) in wanted and not run.locked
        ]
        for run in runs:
            if is_period_locked(s, run.enterprise_id, int(run.period[:4])):
                continue
            account_in_session(s, run.org, run.period, factor_set=run.factor_set, gwp_set=run.gwp_set, refresh=False)
            done.append({"org": run.org, "period": run.period})
    return done


def _factor_row(cite: dict[str, Any]) -> FactorRow:
    return FactorRow(
        id=str(cite.get("id", "")),
        parameter=str(cite.get("parameter", "")),
        subject="",
        value=float(cite.get("value", 0.0)),
        unit=str(cite.get("unit", "")),
        source_document=str(cite.get("source", "")),
        table_clause=str(cite.get("table", "")),
        grade=str(cite.get("grade", "C")),
        set_name=str(cite.get("set", "")),
        origin=str(cite.get("origin", "library")),
    )


def explain_record(db: str | None, record: str | int) -> str:
    """The chain of one stored emission record (id or handle) in words and numbers."""
    with session(db) as s:
        text = str(record).strip()
        stmt = select(EmissionRecord).where(
            EmissionRecord.id == int(text) if text.isdigit() else EmissionRecord.handle == text
        )
        rec = s.scalars(stmt).first()
        if rec is None:
            raise NotFoundError("emission record", record)
        datum = s.get(ActivityDatum, rec.activity_datum_id) if rec.activity_datum_id else None
        rows = [_factor_row(c) for c in rec.factors]
        gwp_row = rows[-1] if rows and rows[-1].parameter == "gwp" else None
        factors = tuple(rows[:-1] if gwp_row else rows)
        amount = accounting.GasAmount(
            line=rec.activity_datum_id or 0,
            source=rec.source_label,
            activity=rec.activity,
            gas=rec.gas,
            mass_t=rec.mass_t,
            method=rec.method,
            formula=rec.formula,
            factors=factors,
            scope=rec.scope,
            category=rec.category,
            kind=rec.kind,
            steps=tuple(rec.steps),
            notes=tuple(rec.notes),
        )
        row = accounting.EmissionRow(amount, rec.gwp_set, rec.gwp, gwp_row, rec.tco2e, rec.market_tco2e)
        head = [f"emission record {rec.handle or rec.id} · period {rec.period}"]
        if datum is not None:
            head.append(
                f"activity datum {datum.id} ({datum.origin}, {datum.resolution} {datum.period}): "
                f"{datum.amount:.10g} {datum.unit} of {datum.activity}"
                + (f" from meter {datum.meter_id}, {datum.n_readings} readings" if datum.meter_id else "")
            )
        head.append(
            f"resting on estimated readings: {rec.estimated_share:.1%}; on flagged readings: {rec.flagged_share:.1%}"
        )
        return "\n".join([*head, accounting.explain(row).replace(f"line {amount.line}", f"datum {amount.line}", 1)])
