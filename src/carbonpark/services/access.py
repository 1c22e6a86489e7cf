"""Who may see what: the principal and every registry query filtered by its scope (SPEC §1, C19).

Isolation lives here, in the service layer, not in the routes: the API (and anything else
serving a logged-in user) reads registry rows only through :func:`list_rows`,
:func:`get_row`, :func:`list_readings` … which take a :class:`Principal` and add the
enterprise filter to every statement. A route that forgets to check cannot leak, because it
has no unfiltered query to call.

Roles (SPEC.md §1, guide §3.1):

========== =====================================================================
park_admin the whole park, users, keys, the audit log
enterprise only rows of its own enterprise (``enterprise_id``); the park record
verifier   the enterprises of its assignments; readings only inside the assigned years
regulator  the park record and aggregates, the key-emitter list; no meters or readings
device     nothing to read: it only writes readings (``X-API-Key``, issue 5)
========== =====================================================================

References
----------
.. [1] 工业互联网双碳园区建设指南 §3.1 (roles of the park), §3.2.2(2)3 (platform), §8.2 (safeguards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, false, func, or_, select, true
from sqlalchemy.orm import Session

from carbonpark.errors import NotFoundError, PermissionDenied, ValidationError
from carbonpark.store.registry import as_dict, resolve
from carbonpark.store.schema import (
    AuditEntry,
    Base,
    EmissionSource,
    Enterprise,
    Meter,
    Park,
    Product,
    Reading,
    Site,
)
from carbonpark.times import period_bounds_ms

__all__ = [
    "AUDIT_SORT",
    "READING_SORT",
    "RESOURCES",
    "ROLES",
    "Page",
    "Principal",
    "Resource",
    "columns_of",
    "enterprise_filter",
    "get_row",
    "list_audit",
    "list_readings",
    "list_rows",
    "page_of",
    "park_summary",
    "require_role",
    "sort_order",
    "visible_enterprise_ids",
]

Role = Literal["park_admin", "enterprise", "verifier", "regulator", "device"]
#: Every role, in the order of SPEC.md §1.
ROLES: tuple[str, ...] = ("park_admin", "enterprise", "verifier", "regulator", "device")
#: Most rows one page may hold.
MAX_LIMIT = 1000
#: Largest row id (32-bit INTEGER columns); a larger number cannot name a row.
MAX_ID = 2**31 - 1
#: Largest offset a page may start at (beyond any table here; keeps SQL integers in range).
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user (bearer token) or a device (API key).

    Attributes
    ----------
    name
        User or key name; ``actor`` (``user:<name>`` / ``key:<name>``) is what the audit log records.
    role
        One of :data:`ROLES`.
    user_id
        Row id of the user (None for a device key).
    enterprise_id
        The enterprise an ``enterprise`` user or an enterprise-scoped key is bound to.
    meter_ids
        Meters a meter-scoped device key may write (empty: none, or the whole enterprise).
    assignments
        ``(enterprise_id, year)`` pairs of a verifier.
    timezone
        Park time zone, used to turn assigned years into time bounds.
    """

    name: str
    role: str
    user_id: int | None = None
    key_id: int | None = None
    enterprise_id: int | None = None
    meter_ids: frozenset[int] = field(default_factory=frozenset)
    assignments: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    timezone: str = "Asia/Shanghai"

    @property
    def actor(self) -> str:
        """Who the audit log names for changes this principal makes."""
        return f"key:{self.name}" if self.key_id is not None else f"user:{self.name}"

    def may_write_meter(self, meter: Meter) -> bool:
        """Whether this device key may write readings of ``meter`` (issue 5 uses it)."""
        if self.role != "device":
            return False
        if self.meter_ids:
            return meter.id in self.meter_ids
        return self.enterprise_id is not None and meter.enterprise_id == self.enterprise_id


def require_role(principal: Principal, *roles: str) -> None:
    """Raise :class:`PermissionDenied` unless the principal has one of ``roles``."""
    if principal.role not in roles:
        raise PermissionDenied(f"role {principal.role!r} may not do this; it needs one of {', '.join(roles)}")


def visible_enterprise_ids(principal: Principal) -> frozenset[int] | None:
    """Enterprises whose rows the principal may read; None means all of them (park_admin)."""
    if principal.role == "park_admin":
        return None
    if principal.role == "enterprise":
        return frozenset({principal.enterprise_id}) if principal.enterprise_id is not None else frozenset()
    if principal.role == "verifier":
        return frozenset(e for e, _ in principal.assignments)
    return frozenset()


def enterprise_filter(principal: Principal, column: Any) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose ``column`` (an enterprise id) the principal may read.

    Other capabilities call this on their own tables' ``enterprise_id`` column.
    """
    ids = visible_enterprise_ids(principal)
    if ids is None:
        return true()
    if not ids:
        return false()
    return column.in_(sorted(ids))


@dataclass(frozen=True)
class Resource:
    """A registry collection served under ``/api/<name>``.

    Attributes
    ----------
    model
        ORM class of the rows.
    kind
        Entity kind for messages and handles.
    readers
        Roles that may read it at all (others get 403).
    sort_fields
        Columns a ``sort`` parameter may name.
    """

    name: str
    model: type[Base]
    kind: str
    readers: tuple[str, ...]
    sort_fields: tuple[str, ...]

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        """The WHERE clause of the rows of this resource the principal may read."""
        require_role(principal, *self.readers)
        model: Any = self.model
        if self.model is Park:
            return true()
        if self.model is Enterprise:
            if principal.role == "regulator":
                return Enterprise.key_emitter.is_(True)
            return enterprise_filter(principal, Enterprise.id)
        return enterprise_filter(principal, model.enterprise_id)

    def allows(self, principal: Principal, row: Mapping[Any, Any]) -> bool:
        """Whether a row (its column values) is inside :meth:`scope`: the same rule, in Python.

        For one row already fetched by key; ``tests/test_api_park.py`` checks that both rules keep
        the same rows for every role and resource.
        """
        require_role(principal, *self.readers)
        if self.model is Park:
            return True
        if self.model is Enterprise:
            if principal.role == "regulator":
                return bool(row["key_emitter"])
            key = row["id"]
        else:
            key = row["enterprise_id"]
        ids = visible_enterprise_ids(principal)
        return ids is None or (key is not None and key in ids)


_READERS = ("park_admin", "enterprise", "verifier")
#: The registry collections of the API, by URL name.
RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("parks", Park, "park", ("park_admin", "enterprise", "verifier", "regulator"), ("id", "name")),
        Resource(
            "enterprises",
            Enterprise,
            "enterprise",
            ("park_admin", "enterprise", "verifier", "regulator"),
            ("id", "name", "credit_code", "industry_code"),
        ),
        Resource("sites", Site, "site", _READERS, ("id", "name", "kind")),
        Resource("meters", Meter, "meter", _READERS, ("id", "code", "name", "quantity")),
        Resource("sources", EmissionSource, "source", _READERS, ("id", "name", "activity", "scope")),
        Resource("products", Product, "product", _READERS, ("id", "code", "name")),
    )
}


@dataclass(frozen=True)
class Page:
    """One page of a collection: ``items``, the ``total`` matching, and where the page starts."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON body every list route answers with."""
        nxt = self.offset + self.limit if self.offset + self.limit < self.total else None
        return {
            "items": self.items,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": nxt,
        }


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"an integer from 1 to {MAX_LIMIT}", limit)
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationError("offset", f"an integer from 0 to {MAX_OFFSET}", offset)


def sort_order(sort: str, columns: Mapping[str, Any], tie: Any = None) -> list[Any]:
    """ORDER BY keys of ``sort``: a name of ``columns`` ascending, ``-name`` descending.

    Parameters
    ----------
    sort
        What the caller asked for, e.g. ``name`` or ``-id``.
    columns
        Sortable names → SQL column expressions (the names are what the API documents).
    tie
        A unique column appended ascending when ``sort`` names another one, so that rows with
        equal keys come in one stable order from page to page (default ``columns["id"]``).

    A nullable column sorts NULL after every value ascending and before every value descending,
    on SQLite as on PostgreSQL.

    Raises
    ------
    ValidationError
        If ``sort`` names no column of ``columns`` (the message lists what it may be).
    """
    name = sort.removeprefix("-")
    if name not in columns:
        choices = ", ".join(f"{f} or -{f}" for f in columns)
        raise ValidationError("sort", f"one of {choices}", sort)
    column = columns[name]
    key = column.desc() if sort.startswith("-") else column.asc()
    if getattr(getattr(column, "expression", column), "nullable", True):
        # one place for NULLs on every database (PostgreSQL's default; SQLite's is the reverse)
        key = key.nulls_first() if sort.startswith("-") else key.nulls_last()
    keys = [key]
    last = columns["id"] if tie is None else tie
    if column is not last:
        keys.append(last.asc())
    return keys


def page_of(
    s: Session,
    stmt: Select[Any],
    *,
    columns: Mapping[str, Any],
    sort: str,
    limit: int,
    offset: int,
    tie: Any = None,
) -> tuple[list[Any], int]:
    """One page of the ORM rows ``stmt`` selects, and how many it selects in all.

    The page is cut in SQL (``ORDER BY`` :func:`sort_order`, ``LIMIT``, ``OFFSET``) and the total is
    one ``SELECT count(*)`` over ``stmt`` without its order: no row outside the page is fetched.
    Every paged list of the API goes through here (or :func:`list_rows`, which does), so ``limit``,
    ``offset`` and ``sort`` mean the same on every route (docs/api.md, "Lists"). ``tie`` is the
    unique column that ends the order (:func:`sort_order`).

    Raises
    ------
    ValidationError
        On a ``limit`` outside 1..:data:`MAX_LIMIT`, an ``offset`` outside 0..:data:`MAX_OFFSET`
        or a ``sort`` not in ``columns``.
    """
    _check_page(limit, offset)
    order = sort_order(sort, columns, tie)
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(s.scalars(stmt.order_by(*order).limit(limit).offset(offset)))
    return rows, int(total)


def columns_of(model: Any, names: Sequence[str]) -> dict[str, Any]:
    """``{name: model.name}`` for the sortable ``names`` of an ORM class."""
    return {name: getattr(model, name) for name in names}


def list_rows(
    s: Session,
    principal: Principal,
    resource: str,
    *,
    filters: dict[str, Any] | None = None,
    sort: str = "id",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """One page of ``resource`` the principal may read, with equality ``filters`` on columns.

    Parameters
    ----------
    filters
        Column name → value; ``None`` values are ignored. ``enterprise`` is resolved by id,
        handle, credit code or name and compared with ``enterprise_id``; an enterprise outside
        the principal's scope is :class:`NotFoundError`, like one that does not exist.
    sort
        A column of the resource's ``sort_fields``, ``-`` in front for descending.
    """
    res = RESOURCES[resource]
    model: Any = res.model
    stmt = select(model).where(res.scope(principal))
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key == "enterprise":
            if str(value).strip().isdigit() and int(value) > MAX_ID:
                raise NotFoundError("enterprise", value)
            ent = resolve(s, Enterprise, value)
            if not RESOURCES["enterprises"].allows(principal, as_dict(ent)):
                # the same answer as an unknown enterprise: an empty page would reveal that it exists
                raise NotFoundError("enterprise", value)
            stmt = stmt.where(model.enterprise_id == ent.id)
        else:
            stmt = stmt.where(getattr(model, key) == value)
    rows, total = page_of(s, stmt, columns=columns_of(model, res.sort_fields), sort=sort, limit=limit, offset=offset)
    return Page([as_dict(r) for r in rows], total, limit, offset)


def get_row(s: Session | Connection, principal: Principal, resource: str, ref: str | int) -> dict[str, Any]:
    """One row of ``resource`` by numeric id or Handle identifier; 404 if it is outside the scope.

    A row the principal may not see is reported as not found (its existence is not revealed).
    One prepared Core statement by primary key or unique handle, then the principal's scope
    (:meth:`Resource.allows`, the same rule as :meth:`Resource.scope`) on the row: no ORM
    object, no per-call statement building (the API's hottest read, bench/api_read.py).
    """
    res = RESOURCES[resource]
    require_role(principal, *res.readers)
    text = str(ref).strip()
    if text.isdigit():
        if int(text) > MAX_ID:
            raise NotFoundError(res.kind, ref)
        row = s.execute(_lookup(resource, "id"), {"ref": int(text)}).mappings().first()
    else:
        row = s.execute(_lookup(resource, "handle"), {"ref": text}).mappings().first()
    if row is None or not res.allows(principal, row):
        raise NotFoundError(res.kind, ref)
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


@cache
def _lookup(resource: str, by: str) -> Select[Any]:
    """``SELECT <every column> FROM <table> WHERE <id or handle> = :ref``, built once per resource."""
    table: Any = RESOURCES[resource].model.__table__
    return select(table).where(table.c[by] == bindparam("ref"))


def _year_bounds(principal: Principal, enterprise_id: int) -> list[tuple[int, int]]:
    years = sorted(y for e, y in principal.assignments if e == enterprise_id)
    return [period_bounds_ms(str(y), principal.timezone) for y in years]


#: Sortable names of readings: ``ts`` is the reading's time (``ts_ms``).
READING_SORT: tuple[str, ...] = ("ts",)
#: Sortable names of the audit log.
AUDIT_SORT: tuple[str, ...] = ("id", "at_ms")


def list_readings(
    s: Session,
    principal: Principal,
    meter: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 500,
    offset: int = 0,
    sort: str = "ts",
) -> Page:
    """Readings of one meter in ``[start_ms, end_ms)`` the principal may read, ordered by time.

    ``sort`` is ``ts`` (oldest first) or ``-ts`` (newest first). A verifier sees only readings
    inside the years it is assigned to the meter's enterprise.
    """
    m = get_row(s, principal, "meters", meter)
    stmt = select(Reading).where(Reading.meter_id == m["id"])
    if start_ms is not None:
        stmt = stmt.where(Reading.ts_ms >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(Reading.ts_ms < end_ms)
    if principal.role == "verifier":
        bounds = _year_bounds(principal, m["enterprise_id"])
        stmt = stmt.where(or_(*[and_(Reading.ts_ms >= a, Reading.ts_ms < b) for a, b in bounds]) if bounds else false())
    # (meter_id, ts_ms) is the key of a reading: one meter's times are unique, so ts alone is stable
    rows, total = page_of(
        s, stmt, columns={"ts": Reading.ts_ms}, sort=sort, limit=limit, offset=offset, tie=Reading.ts_ms
    )
    items = [{"meter_id": r.meter_id, "ts_ms": r.ts_ms, "value": r.value, "quality": r.quality} for r in rows]
    return Page(items, total, limit, offset)


def park_summary(s: Session, principal: Principal, ref: str) -> dict[str, Any]:
    """Aggregates of a park a regulator may see: counts, key emitters, readings span.

    Regulators and park administrators only (SPEC §1: "read-only park aggregates").
    """
    require_role(principal, "park_admin", "regulator")
    park = get_row(s, principal, "parks", ref)
    pid = park["id"]

    def count(model: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(model).where(model.park_id == pid)) or 0)

    key_emitters = int(
        s.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.park_id == pid, Enterprise.key_emitter))
        or 0
    )
    span = s.execute(
        select(func.count(), func.min(Reading.ts_ms), func.max(Reading.ts_ms))
        .select_from(Reading)
        .join(Meter, Meter.id == Reading.meter_id)
        .where(Meter.park_id == pid)
    ).one()
    return {
        "park_id": pid,
        "handle": park["handle"],
        "enterprises": count(Enterprise),
        "key_emitters": key_emitters,
        "sites": count(Site),
        "meters": count(Meter),
        "sources": count(EmissionSource),
        "products": count(Product),
        "readings": int(span[0]),
        "first_reading_ms": span[1],
        "last_reading_ms": span[2],
    }


def list_audit(
    s: Session,
    principal: Principal,
    *,
    entity: str | None = None,
    handle: str | None = None,
    actor: str | None = None,
    since_ms: int | None = None,
    limit: int = 100,
    offset: int = 0,
    sort: str = "-id",
) -> Page:
    """The change history (audit log), newest first by default; park administrators only."""
    require_role(principal, "park_admin")
    stmt = select(AuditEntry)
    if entity is not None:
        stmt = stmt.where(AuditEntry.entity == entity)
    if handle is not None:
        stmt = stmt.where(AuditEntry.handle == handle)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if since_ms is not None:
        stmt = stmt.where(AuditEntry.at_ms >= since_ms)
    rows, total = page_of(s, stmt, columns=columns_of(AuditEntry, AUDIT_SORT), sort=sort, limit=limit, offset=offset)
    return Page([as_dict(r) for r in rows], total, limit, offset)


def assigned_years(principal: Principal) -> dict[int, list[int]]:
    """A verifier's assignments as enterprise id → sorted years."""
    out: dict[int, list[int]] = {}
    for e, y in sorted(principal.assignments):
        out.setdefault(e, []).append(y)
    return out


def check_year(year: int) -> int:
    """A reporting year between 1990 and next year, or :class:`ValidationError`."""
    if not 1990 <= year <= date.today().year + 1:
        raise ValidationError("year", f"a reporting year from 1990 to {date.today().year + 1}", year)
    return year
