"""Activity data uploaded from the dashboard: the activity file, stored line by line (issue 14 item 3).

The file is the ``carbonpark account FILE`` contract (:mod:`carbonpark.accounting.activity_file`:
``source,activity,amount,unit`` and the optional columns) as CSV or XLSX, with one more column,
``period`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, local calendar; without it the ``year`` column
gives a yearly datum). ``enterprise`` names the enterprise the datum belongs to (id, handle, credit
code or name; empty or ``park`` = the park's own sources, park admin only).

Each good line becomes a hand-entered activity datum
(:func:`carbonpark.services.activity.add_manual_activity`, series = the ``source`` label, which
replaces the datum of the same label and period) and an audit-log entry; a bad line is set aside
(*quarantined*) with a reason and the detail, and the others go on:

=================== ==========================================================================
reason              when
=================== ==========================================================================
``malformed``       the line breaks the file contract (the parser's message names the column)
``no_period``       neither ``period`` nor ``year`` is given, or they disagree
``invalid``         the accounting engine refuses it (unknown activity, unit that does not fit)
``unknown_enterprise`` the ``enterprise`` names no enterprise of the park (park admin)
``out_of_scope``    another organisation's data or source (an enterprise user writes its own only)
``metered_source``  ``source`` is a registered source with a meter: its data come from readings
``locked``          the year is submitted or verified for that enterprise
``duplicate``       a second line with the same enterprise, source and period
=================== ==========================================================================

Then the stored yearly accounting runs of the organisations and years touched are re-run
(:func:`carbonpark.services.accounting.rerun_affected`, the park's too); an organisation-year
without a run gets one (:func:`carbonpark.services.accounting.account_stored`), so the emissions
shown afterwards include the upload.

References
----------
.. [1] 工业互联网双碳园区建设指南 §4.2 (活动数据), §5.2 (核算).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carbonpark.accounting import ActivityRecord, quantify
from carbonpark.accounting.activity_file import check_header, parse_row
from carbonpark.errors import CarbonparkError, NotFoundError, PermissionDenied, ValidationError
from carbonpark.factors import default_library
from carbonpark.ingest.files import table_rows
from carbonpark.model import is_handle
from carbonpark.services.access import Principal
from carbonpark.services.accounting import PARK, account_stored, is_period_locked, rerun_affected
from carbonpark.services.activity import add_manual_activity, park_timezone
from carbonpark.store import session
from carbonpark.store.registry import as_dict, audit, resolve
from carbonpark.store.schema import EmissionSource, Enterprise
from carbonpark.store.schema_accounting import AccountingRun, ActivityDatum
from carbonpark.times import period_bounds_ms

__all__ = ["REASONS", "UPLOAD_EXTRA", "import_activity_file"]

#: Columns of the upload beyond the activity file's.
UPLOAD_EXTRA: tuple[str, ...] = ("period",)
#: The quarantine reasons, in the order the checks run.
REASONS: tuple[str, ...] = (
    "malformed",
    "no_period",
    "invalid",
    "unknown_enterprise",
    "out_of_scope",
    "metered_source",
    "locked",
    "duplicate",
)
#: Fields of a record that are not stored in the datum's ``params`` (the datum has its own columns).
_OWN_COLUMNS = frozenset({"line", "source", "activity", "amount", "unit", "enterprise", "year"})


class _Quarantine(Exception):
    """A line set aside: ``reason`` (one of :data:`REASONS`) and the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _text(cell: Any, column: str = "") -> str:
    """A CSV or XLSX cell as the activity file's text (a date cell of ``period`` as its month or day)."""
    if cell is None:
        return ""
    if isinstance(cell, datetime | date):
        if column == "period" and cell.day == 1:
            return f"{cell.year:04d}-{cell.month:02d}"
        return f"{cell.year:04d}-{cell.month:02d}-{cell.day:02d}"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _uploader_scope(who: Principal) -> int | None:
    """The enterprise an uploader is bound to (None for the park admin, who may write any)."""
    if who.role == "park_admin":
        return None
    if who.role == "enterprise" and who.enterprise_id is not None:
        return who.enterprise_id
    raise PermissionDenied(f"expected a park_admin or enterprise user to upload activity data, got {who.role}")


def _period(record: ActivityRecord, given: str, tz: str) -> str:
    period = given.strip()
    if not period:
        if record.year is None:
            raise _Quarantine("no_period", f"line {record.line}: expected a period column or a year, got neither")
        return str(record.year)
    try:
        period_bounds_ms(period, tz)
    except ValidationError as exc:
        raise _Quarantine("no_period", f"line {record.line}, column period: {exc}") from exc
    if record.year is not None and int(period[:4]) != record.year:
        raise _Quarantine(
            "no_period", f"line {record.line}: expected year {period[:4]} as in the period {period}, got {record.year}"
        )
    return period


def _enterprise(s: Session, record: ActivityRecord, bound: int | None) -> Enterprise | None:
    ref = record.enterprise.strip()
    if not ref or ref.lower() in (PARK, "园区"):
        if bound is not None:
            return s.get(Enterprise, bound)
        return None
    try:
        ent = resolve(s, Enterprise, ref)
    except (NotFoundError, ValidationError) as exc:
        if bound is not None:  # an enterprise user learns nothing about other enterprises
            ent = None
        else:
            raise _Quarantine("unknown_enterprise", f"line {record.line}, column enterprise: {exc}") from exc
    if bound is not None and (ent is None or ent.id != bound):
        raise _Quarantine("out_of_scope", f"line {record.line}: expected your own enterprise, got {ref!r}")
    return ent


def _source(s: Session, record: ActivityRecord, ent: Enterprise | None) -> EmissionSource | None:
    """The registered source the line names by handle (None for a free label)."""
    if not is_handle(record.source):
        return None
    try:
        src = resolve(s, EmissionSource, record.source)
    except NotFoundError:
        return None
    if src.enterprise_id != (ent.id if ent is not None else None):
        raise _Quarantine(
            "out_of_scope", f"line {record.line}: expected a source of {_label(ent)}, got {record.source}"
        )
    if src.meter_id is not None:
        raise _Quarantine(
            "metered_source",
            f"line {record.line}: {record.source} is metered, its activity data come from its readings "
            "(upload readings instead)",
        )
    return src


def _params(record: ActivityRecord) -> dict[str, Any]:
    """The record's optional fields that differ from their defaults (kept in the datum's ``params``)."""
    return {
        f.name: getattr(record, f.name)
        for f in dataclasses.fields(record)
        if f.name not in _OWN_COLUMNS and getattr(record, f.name) != f.default
    }


def _label(ent: Enterprise | None) -> str:
    return PARK if ent is None else str(ent.handle)


def import_activity_file(db: str | None, path: Path, who: Principal, filename: str = "") -> dict[str, Any]:
    """Store the good lines of an activity file as ``who``; quarantine the others; re-account.

    Parameters
    ----------
    db
        Database URL or SQLite path.
    path
        The uploaded ``.csv`` (UTF-8, a BOM allowed) or ``.xlsx`` (first worksheet) file.
    who
        The uploader: a park admin (any enterprise or the park) or an enterprise user (its own).
    filename
        The name the file had on the uploader's computer (kept in each datum's note).

    Returns
    -------
    dict
        ``rows`` (data lines), ``accepted``, ``replaced`` (data that replaced a datum of the same
        source and period), ``stored`` (one dict per stored line: ``line``, ``enterprise``,
        ``source``, ``activity``, ``amount``, ``unit``, ``period``, ``datum_id``), ``quarantined``
        (``line``, ``source``, ``activity``, ``amount``, ``unit``, ``enterprise``, ``reason``,
        ``detail``), ``reaccounted`` and ``accounted`` (``{org, period}`` of the runs re-run or
        created).

    Raises
    ------
    ValidationError
        For a file that is not CSV/XLSX or whose header breaks the contract (nothing is stored).
    PermissionDenied
        For a role other than park_admin or enterprise.
    """
    bound = _uploader_scope(who)
    rows = table_rows(path)
    first = next(rows, None)
    if first is None:
        raise ValidationError("FILE", "a header line and data lines", "an empty file")
    names = [_text(c) for c in first[1]]
    while names and not names[-1]:  # a worksheet's empty columns after the header's last name
        names.pop()
    header = check_header(names, extra=UPLOAD_EXTRA)
    at_period = header.index("period") if "period" in header else None
    library = default_library()
    stored: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], int] = {}
    touched: set[tuple[int | None, int]] = set()
    replaced = 0
    n_rows = 0
    note = f"uploaded by {who.actor}" + (f" from {filename}" if filename else "")
    with session(db) as s:
        tz = park_timezone(s)
        for line, raw in rows:
            cells = [_text(c, header[i] if i < len(header) else "") for i, c in enumerate(raw)]
            if not any(cells):
                continue
            while len(cells) > len(header) and not cells[-1]:
                cells.pop()
            n_rows += 1
            fields = dict(zip(header, cells, strict=False))
            try:
                record = parse_row(header, cells, line)
                if record is None:
                    continue
                period = _period(record, cells[at_period] if at_period is not None else "", tz)
                year = int(period[:4])
                try:
                    quantify([dataclasses.replace(record, year=year)], library=library)
                except CarbonparkError as exc:
                    raise _Quarantine("invalid", str(exc)) from exc
                ent = _enterprise(s, record, bound)
                src = _source(s, record, ent)
                ent_id = ent.id if ent is not None else None
                if is_period_locked(s, ent_id, year):
                    raise _Quarantine("locked", f"line {line}: {_label(ent)} {year} is submitted or verified")
                key = (_label(ent), record.source, period)
                if key in seen:
                    raise _Quarantine(
                        "duplicate",
                        f"line {line}: one line per enterprise, source and period (line {seen[key]} has it)",
                    )
                seen[key] = line
            except (_Quarantine, ValidationError) as exc:
                quarantined.append(
                    {
                        "line": line,
                        **{c: fields.get(c, "") for c in ("source", "activity", "amount", "unit", "enterprise")},
                        "period": cells[at_period] if at_period is not None and at_period < len(cells) else "",
                        "reason": exc.reason if isinstance(exc, _Quarantine) else "malformed",
                        "detail": str(exc),
                    }
                )
                continue
            before_row = s.scalars(
                select(ActivityDatum).where(
                    ActivityDatum.origin == "manual",
                    ActivityDatum.source_label == record.source,
                    ActivityDatum.period == period,
                    ActivityDatum.enterprise_id.is_(None) if ent_id is None else ActivityDatum.enterprise_id == ent_id,
                )
            ).first()
            before = as_dict(before_row) if before_row is not None else None
            datum = add_manual_activity(
                s,
                label=record.source,
                period=period,
                activity=record.activity,
                amount=record.amount,
                unit=record.unit,
                enterprise_id=ent_id,
                source_id=src.id if src is not None else None,
                params=_params(record),
                note=f"{note}, line {line}",
            )
            audit(s, who.actor, "create" if before is None else "update", datum, before)
            replaced += before is not None
            touched.add((ent_id, year))
            stored.append(
                {
                    "line": line,
                    "enterprise": _label(ent),
                    "source": record.source,
                    "activity": record.activity,
                    "amount": record.amount,
                    "unit": record.unit,
                    "period": period,
                    "datum_id": datum.id,
                }
            )
        handles = dict(s.execute(select(Enterprise.id, Enterprise.handle)).all())
        runs = {(r.org, r.period) for r in s.execute(select(AccountingRun.org, AccountingRun.period))}
    wanted = {(str(handles[e]) if e is not None else PARK, str(y)) for e, y in touched} | {
        (PARK, str(y)) for _, y in touched
    }
    reaccounted = rerun_affected(db, touched) if touched else []
    accounted = []
    for org, period_of_run in sorted(wanted - runs):
        account_stored(db, org, period_of_run)
        accounted.append({"org": org, "period": period_of_run})
    return {
        "rows": n_rows,
        "accepted": len(stored),
        "replaced": replaced,
        "stored": stored,
        "quarantined": quarantined,
        "reaccounted": reaccounted,
        "accounted": accounted,
    }
