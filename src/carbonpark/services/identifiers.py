"""The identifier registry on the store (标识注册与解析): register, change, resolve, forward, count.

* Every registry entity already has its handle (``88.<prefix>/<type>.<id>``); it **resolves** with
  values derived from its row (URL of its API resource, DESC, MANUFACTURER for products,
  HS_ADMIN naming its enterprise) until it is registered here, which :func:`sync_registry` does
  for all of them (the demo does it) and :func:`add_value` does on the first value added.
* **Virtual assets** (emission records, models, algorithms, processes, batches; guide §3.2.2(2)1)
  get handles ``88.<prefix>/<rec|model|algo|proc|batch>.<n>`` from :func:`register_virtual`.
* **Changes** (add, update, delete of values; delete of identifiers) need the HS_ADMIN right of
  the change or the ``park_admin`` role, and each writes an audit-log entry: the history.
* **Resolution** answers in the Handle REST shape (:mod:`carbonpark.identifiers.rest`); a prefix
  this park does not serve goes to the node's own resolver or to ``CARBONPARK_UPSTREAM_RESOLVER``.
* **Usage**: resolutions per year and response code and the users active in a year are counted in
  memory and written in batches (:class:`UsageCounter`), for the evaluation indicators 15–18.

References
----------
Guide §2.1(1), §3.2.2(2)1, §5 indicators 15–18; Handle.Net Technical Manual v9; SPEC.md C2; issue 7.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from carbonpark.errors import DuplicateError, NotFoundError, PermissionDenied, ValidationError
from carbonpark.identifiers import (
    DEFAULT_TTL_S,
    VIRTUAL_KINDS,
    Answer,
    IdentifierStatistics,
    Reader,
    Record,
    ResponseCode,
    StoredValue,
    answer,
    can_write,
    is_local_prefix,
    is_public_by_default,
    malformed,
    split_handle,
    validate_value,
)
from carbonpark.model import TYPE_TOKENS, Handle, parse_handle
from carbonpark.settings import get_settings
from carbonpark.store import connect, is_postgres, session
from carbonpark.store.registry import as_dict, audit, now_ms
from carbonpark.store.schema import (
    AuditEntry,
    Base,
    Calibration,
    Carrier,
    Device,
    EmissionSource,
    Enterprise,
    Material,
    Meter,
    Park,
    Product,
    Site,
)
from carbonpark.store.schema_identifiers import (
    Identifier,
    IdentifierNode,
    IdentifierResolutionCount,
    IdentifierUser,
    IdentifierValue,
)

__all__ = [
    "ENTITY_MODELS",
    "IdentifierSettings",
    "Resolver",
    "UsageCounter",
    "add_node",
    "add_value",
    "delete_identifier",
    "delete_value",
    "demo_identifiers",
    "history",
    "load_record",
    "reader_for",
    "register",
    "register_virtual",
    "resolve_once",
    "set_value",
    "statistics",
    "sync_registry",
    "update_value",
]

#: Registry model of each handle type token, and the API collection it is served under.
ENTITY_MODELS: dict[str, tuple[type[Base], str]] = {
    TYPE_TOKENS["park"]: (Park, "parks"),
    TYPE_TOKENS["enterprise"]: (Enterprise, "enterprises"),
    TYPE_TOKENS["site"]: (Site, "sites"),
    TYPE_TOKENS["device"]: (Device, "devices"),
    TYPE_TOKENS["meter"]: (Meter, "meters"),
    TYPE_TOKENS["source"]: (EmissionSource, "sources"),
    TYPE_TOKENS["product"]: (Product, "products"),
    TYPE_TOKENS["material"]: (Material, "materials"),
    TYPE_TOKENS["carrier"]: (Carrier, "carriers"),
    TYPE_TOKENS["calibration"]: (Calibration, "calibrations"),
}
_KIND_OF_TOKEN = {token: kind for kind, token in TYPE_TOKENS.items()}
#: Index of the first value of a type when the caller gives none (Handle convention: HS_ADMIN at 100).
_FIRST_INDEX = {"URL": 1, "DESC": 2, "MANUFACTURER": 3, "EMAIL": 4, "HS_ADMIN": 100}
_ADMIN_BITS = "011111110011"  # every right on the record's values, not on the prefix


class IdentifierSettings(BaseSettings):
    """Settings of the resolver (env prefix ``CARBONPARK_``).

    Attributes
    ----------
    upstream_resolver
        Base URL of the resolver that answers prefixes this park does not serve
        (``CARBONPARK_UPSTREAM_RESOLVER``, e.g. ``http://127.0.0.1:8001``); empty: none.
    upstream_timeout_s
        Time allowed to the upstream resolver [s].
    usage_flush_s
        Longest time resolution counts stay in memory before they are written [s].
    """

    model_config = SettingsConfigDict(env_prefix="CARBONPARK_", extra="ignore")

    upstream_resolver: str = ""
    upstream_timeout_s: float = 5.0
    usage_flush_s: float = 5.0


# --- who asks ----------------------------------------------------------------------------------------


def reader_for(s: Session, name: str | None, role: str | None, enterprise_id: int | None) -> Reader:
    """The :class:`Reader` of a logged-in user (enterprise as its handle); anonymous when ``name`` is None."""
    if name is None:
        return Reader()
    ent_handle = None if enterprise_id is None else s.scalar(select(Enterprise.handle).filter_by(id=enterprise_id))
    return Reader(name=name, role=role, enterprise=ent_handle)


def _actor(reader: Reader) -> str:
    if reader.name is None:
        raise PermissionDenied("changing identifiers needs a logged-in user")
    return reader.name if reader.name.startswith(("user:", "key:")) else f"user:{reader.name}"


# --- records: stored or derived ----------------------------------------------------------------------


def _stored(row: IdentifierValue) -> StoredValue:
    return StoredValue(row.idx, row.type, row.data_format, row.data, row.ttl, row.timestamp_ms, row.public)


def _entity(s: Session, handle: Handle) -> Base | None:
    found = ENTITY_MODELS.get(handle.type_token)
    if found is None:
        return None
    model = found[0]
    return s.scalars(select(model).where(model.handle == str(handle))).first()  # type: ignore[attr-defined]


def _derived_values(s: Session, handle: Handle, row: Base) -> list[tuple[str, Any, int]]:
    """``(type, value, index)`` of a registry entity: its API URL, description, maker and admin."""
    collection = ENTITY_MODELS[handle.type_token][1]
    out: list[tuple[str, Any, int]] = [("URL", f"/api/{collection}/{handle}", 1)]
    fields = as_dict(row)
    words = [str(fields[k]) for k in ("code", "name", "name_en") if fields.get(k)]
    kind = _KIND_OF_TOKEN[handle.type_token]
    out.append(("DESC", f"{kind}: {' · '.join(words) or handle}", 2))
    ent_id = fields.get("enterprise_id")
    ent_handle = s.scalar(select(Enterprise.handle).filter_by(id=ent_id)) if ent_id else None
    if isinstance(row, Enterprise):
        ent_handle = row.handle
    if isinstance(row, Product) and ent_handle:
        out.append(("MANUFACTURER", ent_handle, 3))
    if ent_handle:
        out.append(("HS_ADMIN", {"handle": ent_handle, "index": 200, "permissions": _ADMIN_BITS}, 100))
    return out


def _derived_record(s: Session, text: str) -> tuple[Record, Base] | None:
    try:
        handle = parse_handle(text)
    except ValidationError:
        return None
    row = _entity(s, handle)
    if row is None:
        return None
    stamp = _created_ms(s, row)
    values = []
    for type_name, value, index in _derived_values(s, handle, row):
        fmt, data = validate_value(type_name, value)
        values.append(StoredValue(index, type_name, fmt, data, DEFAULT_TTL_S, stamp, is_public_by_default(type_name)))
    return Record(str(handle), tuple(values)), row


def _created_ms(s: Session, row: Base) -> int:
    stamp = s.execute(
        select(func.min(AuditEntry.at_ms)).where(
            AuditEntry.entity == str(row.__tablename__),
            AuditEntry.entity_id == row.id,  # type: ignore[attr-defined]
            AuditEntry.action == "create",
        )
    ).scalar()
    return int(stamp) if stamp is not None else now_ms()


def load_record(s: Session, handle: str) -> Record | None:
    """The identifier ``handle`` with its values: registered, or derived from its registry entity; else None."""
    ident = s.scalars(select(Identifier).filter_by(handle=handle.strip())).first()
    if ident is not None:
        return Record(ident.handle, tuple(_stored(v) for v in ident.values))
    derived = _derived_record(s, handle.strip())
    return None if derived is None else derived[0]


# --- registering and changing ------------------------------------------------------------------------


def _identifier(s: Session, handle: str) -> Identifier:
    ident = s.scalars(select(Identifier).filter_by(handle=handle.strip())).first()
    if ident is None:
        raise NotFoundError("identifier", handle)
    return ident


def _note_user(s: Session, reader: Reader) -> None:
    if reader.name is None:
        return
    year = _year_now()
    exists = s.get(IdentifierUser, (year, reader.name))
    if exists is None:
        s.add(IdentifierUser(year=year, user=reader.name, first_ms=now_ms()))
        s.flush()


def _year_now(ms: int | None = None) -> int:
    tz = ZoneInfo(get_settings().timezone)
    return datetime.fromtimestamp((ms if ms is not None else now_ms()) / 1000, tz).year


def _check_right(reader: Reader, record: Record | None, right: str, handle: str) -> None:
    if not can_write(reader, record, right):
        who = "an anonymous client" if reader.anonymous else f"user {reader.name!r}"
        raise PermissionDenied(f"{who} may not {right.replace('_', ' ')} on {handle} (needs HS_ADMIN or park_admin)")


def _insert_value(
    s: Session,
    ident: Identifier,
    type_name: str,
    value: Any,
    *,
    index: int | None,
    public: bool | None,
    ttl: int | None,
    actor: str,
) -> IdentifierValue:
    fmt, data = validate_value(type_name, value)
    taken = {v.idx for v in ident.values}
    if index is None:
        index = _FIRST_INDEX.get(type_name, 1)
        while index in taken:
            index += 1
    elif isinstance(index, bool) or index < 1:
        raise ValidationError("index", "a positive integer", index)
    elif index in taken:
        raise DuplicateError(f"{ident.handle} already has a value at index {index} (Handle code 201)")
    if ttl is not None and (isinstance(ttl, bool) or ttl < 0):
        raise ValidationError("ttl", "a time to live ≥ 0 [s]", ttl)
    row = IdentifierValue(
        identifier=ident,
        idx=index,
        type=type_name,
        data_format=fmt,
        data=data,
        ttl=DEFAULT_TTL_S if ttl is None else ttl,
        public=is_public_by_default(type_name) if public is None else bool(public),
        timestamp_ms=now_ms(),
    )
    s.add(row)
    s.flush()
    audit(s, actor, "create", row, None)
    return row


def register(
    s: Session,
    handle: str,
    reader: Reader,
    *,
    kind: str,
    values: Sequence[tuple[str, Any]] = (),
    owner: Enterprise | None = None,
    entity: Base | None = None,
) -> Identifier:
    """Register ``handle`` with ``values`` (``(type, value)`` pairs); :class:`DuplicateError` if it exists.

    The owner enterprise (if any) becomes the record's HS_ADMIN; only a ``park_admin`` or a user
    of the owner enterprise may register.
    """
    parse_handle(handle)
    if s.scalar(select(func.count()).select_from(Identifier).filter_by(handle=handle)):
        raise DuplicateError(f"identifier {handle!r} is already registered (Handle code 101)")
    is_owner = owner is not None and reader.role == "enterprise" and reader.enterprise == owner.handle
    if reader.role != "park_admin" and not is_owner:
        raise PermissionDenied(f"user {reader.name!r} may not register identifiers for this owner")
    actor = _actor(reader)
    ident = Identifier(
        handle=handle,
        kind=kind,
        entity=None if entity is None else entity.__tablename__,
        entity_id=None if entity is None else entity.id,  # type: ignore[attr-defined]
        owner_enterprise_id=None if owner is None else owner.id,
        created_ms=now_ms(),
        created_by=actor,
    )
    s.add(ident)
    s.flush()
    audit(s, actor, "create", ident, None)
    types = {t for t, _ in values}
    if owner is not None and "HS_ADMIN" not in types:
        admin = {"handle": owner.handle, "index": 200, "permissions": _ADMIN_BITS}
        values = [*values, ("HS_ADMIN", admin)]
    for type_name, value in values:
        _insert_value(s, ident, type_name, value, index=None, public=None, ttl=None, actor=actor)
    _note_user(s, reader)
    return ident


def _ensure(s: Session, handle: str, reader: Reader) -> Identifier:
    """The registered identifier ``handle``; a registry entity's is registered first with its derived values."""
    ident = s.scalars(select(Identifier).filter_by(handle=handle.strip())).first()
    if ident is not None:
        return ident
    derived = _derived_record(s, handle.strip())
    if derived is None:
        raise NotFoundError("identifier", handle)
    record, row = derived
    _check_right(reader, record, "add_value", handle)
    ent_id = getattr(row, "enterprise_id", None) or (row.id if isinstance(row, Enterprise) else None)
    owner = s.get(Enterprise, ent_id) if ent_id else None
    admin_reader = Reader(name=reader.name, role="park_admin")  # the right was checked on the derived record
    values = [(v.type, v.data if v.data_format == "string" else _admin_obj(v)) for v in record.values]
    return register(
        s,
        record.handle,
        admin_reader,
        kind=_KIND_OF_TOKEN[parse_handle(handle).type_token],
        values=values,
        owner=owner,
        entity=row,
    )


def _admin_obj(value: StoredValue) -> Any:
    return json.loads(value.data)


def _record_of(ident: Identifier) -> Record:
    return Record(ident.handle, tuple(_stored(v) for v in ident.values))


def add_value(
    s: Session,
    handle: str,
    type_name: str,
    value: Any,
    reader: Reader,
    *,
    index: int | None = None,
    public: bool | None = None,
    ttl: int | None = None,
) -> IdentifierValue:
    """Add a value to ``handle`` (needs HS_ADMIN ``add_value`` or park_admin); returns the stored row."""
    ident = _ensure(s, handle, reader)
    _check_right(reader, _record_of(ident), "add_value", handle)
    row = _insert_value(s, ident, type_name, value, index=index, public=public, ttl=ttl, actor=_actor(reader))
    _note_user(s, reader)
    return row


def update_value(
    s: Session, handle: str, index: int, value: Any, reader: Reader, *, public: bool | None = None
) -> IdentifierValue:
    """Replace the data (and optionally the access) of value ``index``; before and after go to the audit log."""
    ident = _ensure(s, handle, reader)
    _check_right(reader, _record_of(ident), "modify_value", handle)
    row = next((v for v in ident.values if v.idx == index), None)
    if row is None:
        raise NotFoundError(f"value of {handle} at index", index)
    fmt, data = validate_value(row.type, value)
    new_public = row.public if public is None else bool(public)
    if (row.data, row.public) == (data, new_public):
        return row
    before = as_dict(row)
    row.data_format, row.data, row.public, row.timestamp_ms = fmt, data, new_public, now_ms()
    s.flush()
    audit(s, _actor(reader), "update", row, before)
    _note_user(s, reader)
    return row


def set_value(s: Session, handle: str, type_name: str, value: Any, reader: Reader, **kw: Any) -> IdentifierValue:
    """Update the first value of ``type_name`` on ``handle``, or add one (e.g. a recomputed CARBON_FOOTPRINT)."""
    ident = _ensure(s, handle, reader)
    row = next((v for v in ident.values if v.type == type_name), None)
    if row is None:
        return add_value(s, handle, type_name, value, reader, **kw)
    return update_value(s, handle, row.idx, value, reader, public=kw.get("public"))


def delete_value(s: Session, handle: str, index: int, reader: Reader) -> None:
    """Remove value ``index`` (needs ``remove_value``); the audit log keeps what it was."""
    ident = _ensure(s, handle, reader)
    _check_right(reader, _record_of(ident), "remove_value", handle)
    row = next((v for v in ident.values if v.idx == index), None)
    if row is None:
        raise NotFoundError(f"value of {handle} at index", index)
    before = as_dict(row)
    audit(s, _actor(reader), "delete", row, before)
    ident.values.remove(row)
    s.flush()
    _note_user(s, reader)


def delete_identifier(s: Session, handle: str, reader: Reader) -> None:
    """Delete a registered identifier and its values (needs ``delete_handle``); a registry entity's stays derivable."""
    ident = _identifier(s, handle)
    _check_right(reader, _record_of(ident), "delete_handle", handle)
    actor = _actor(reader)
    for row in list(ident.values):
        audit(s, actor, "delete", row, as_dict(row))
    audit(s, actor, "delete", ident, as_dict(ident))
    s.delete(ident)
    s.flush()
    _note_user(s, reader)


def register_virtual(
    s: Session,
    kind: str,
    reader: Reader,
    values: Sequence[tuple[str, Any]],
    *,
    owner: Enterprise | None = None,
) -> Identifier:
    """Register a virtual asset (``emission_record``, ``model``, ``algorithm``, ``process``, ``batch``).

    Its handle is ``88.<park prefix>/<token>.<n>`` with ``n`` the next number of that token.
    """
    token = VIRTUAL_KINDS.get(kind)
    if token is None:
        raise ValidationError("kind", f"one of {', '.join(VIRTUAL_KINDS)}", kind)
    park = s.scalars(select(Park).order_by(Park.id)).first()
    prefix = park.handle_prefix if park is not None else get_settings().handle_prefix
    stem = f"88.{prefix}/{token}."
    count = s.scalar(select(func.count()).select_from(Identifier).where(Identifier.handle.startswith(stem))) or 0
    number = int(count) + 1
    while s.scalar(select(func.count()).select_from(Identifier).filter_by(handle=f"{stem}{number}")):
        number += 1
    return register(s, f"{stem}{number}", reader, kind=kind, values=values, owner=owner)


def add_node(s: Session, prefix: str, reader: Reader, *, enterprise: Enterprise | None, resolver_url: str = "") -> None:
    """Record an identifier node: a sub-prefix of an enterprise (served here, or at ``resolver_url``)."""
    if reader.role != "park_admin":
        raise PermissionDenied("only the park administrator registers identifier nodes")
    split_handle(f"{prefix}/x")
    if resolver_url and not resolver_url.startswith(("http://", "https://")):
        raise ValidationError("resolver_url", "an http(s) base URL of a resolver", resolver_url)
    if s.scalar(select(func.count()).select_from(IdentifierNode).filter_by(prefix=prefix)):
        raise DuplicateError(f"identifier node {prefix!r} already exists")
    row = IdentifierNode(
        prefix=prefix,
        enterprise_id=None if enterprise is None else enterprise.id,
        resolver_url=resolver_url,
        created_ms=now_ms(),
    )
    s.add(row)
    s.flush()
    audit(s, _actor(reader), "create", row, None)


def sync_registry(s: Session, reader: Reader) -> int:
    """Register every registry entity that has no identifier yet, with its derived values; the number registered."""
    known = set(s.scalars(select(Identifier.handle)))
    added = 0
    for _token, (model, _collection) in ENTITY_MODELS.items():
        handles = s.scalars(select(model.handle).where(model.handle.is_not(None))).all()  # type: ignore[attr-defined]
        for handle in handles:
            if handle not in known:
                _ensure(s, handle, reader)
                added += 1
    return added


def history(s: Session, handle: str) -> list[dict[str, Any]]:
    """Every change of ``handle`` and its values, oldest first (from the audit log)."""
    rows = s.scalars(
        select(AuditEntry)
        .where(AuditEntry.handle == handle, AuditEntry.entity.in_(["identifiers", "identifier_values"]))
        .order_by(AuditEntry.id)
    ).all()
    return [
        {
            "at_ms": r.at_ms,
            "actor": r.actor,
            "action": r.action,
            "entity": r.entity,
            "before": r.before,
            "after": r.after,
        }
        for r in rows
    ]


def statistics(s: Session, year: int) -> IdentifierStatistics:
    """Counts of indicators 15–18 for ``year`` (park-local calendar year)."""
    tz = ZoneInfo(get_settings().timezone)
    start = int(datetime(year, 1, 1, tzinfo=tz).timestamp() * 1000)
    end = int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp() * 1000)
    enterprises = int(s.scalar(select(func.count()).select_from(Enterprise)) or 0)
    with_node = int(
        s.scalar(
            select(func.count(func.distinct(IdentifierNode.enterprise_id))).where(
                IdentifierNode.enterprise_id.is_not(None)
            )
        )
        or 0
    )
    registered = int(
        s.scalar(
            select(func.count())
            .select_from(Identifier)
            .where(Identifier.created_ms >= start, Identifier.created_ms < end)
        )
        or 0
    )
    users = int(s.scalar(select(func.count()).select_from(IdentifierUser).filter_by(year=year)) or 0)
    resolutions = int(
        s.scalar(select(func.coalesce(func.sum(IdentifierResolutionCount.count), 0)).filter_by(year=year)) or 0
    )
    return IdentifierStatistics(year, enterprises, with_node, registered, users, resolutions)


# --- usage counting ----------------------------------------------------------------------------------


class UsageCounter:
    """Resolutions per (year, response code) and active users, kept in memory and written in batches.

    A resolution must not wait for a write: :meth:`count` only adds to a counter under a lock;
    :meth:`flush` (called every ``usage_flush_s`` by the next resolution, at shutdown, and by the
    CLI at once) adds the counts to the database in one transaction. Counts of a process that is
    killed between two flushes are lost (at most ``usage_flush_s`` of them); none is counted twice.
    """

    def __init__(self, db: str | None, flush_every_s: float) -> None:
        self.db = db
        self.flush_every_s = flush_every_s
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one flush at a time: no two inserts of the same key
        self._counts: Counter[tuple[int, int]] = Counter()
        self._users: dict[tuple[int, str], int] = {}
        self._last_flush = time.monotonic()
        self._tz = ZoneInfo(get_settings().timezone)

    def count(self, response_code: int, user: str | None) -> None:
        """Count one resolution answered with ``response_code`` (by ``user`` when logged in)."""
        stamp = now_ms()
        year = datetime.fromtimestamp(stamp / 1000, self._tz).year
        due = False
        with self._lock:
            self._counts[(year, response_code)] += 1
            if user is not None:
                self._users.setdefault((year, user), stamp)
            if time.monotonic() - self._last_flush >= self.flush_every_s:
                self._last_flush = time.monotonic()
                due = True
        if due:  # written by a helper thread: a resolution never waits for the database
            threading.Thread(target=self.flush, name="identifier-usage-flush", daemon=True).start()

    def flush(self) -> None:
        """Write the counts gathered so far."""
        with self._lock:
            counts, users = self._counts, self._users
            self._counts, self._users = Counter(), {}
            self._last_flush = time.monotonic()
        if not counts and not users:
            return
        with self._write_lock, session(self.db, require_schema=False) as s:
            for (year, code), n in sorted(counts.items()):
                done = s.execute(
                    update(IdentifierResolutionCount)
                    .where(IdentifierResolutionCount.year == year, IdentifierResolutionCount.response_code == code)
                    .values(count=IdentifierResolutionCount.count + n)
                ).rowcount  # type: ignore[attr-defined]
                if not done:
                    s.add(IdentifierResolutionCount(year=year, response_code=code, count=n))
            for (year, user), first in users.items():
                if s.get(IdentifierUser, (year, user)) is None:
                    s.add(IdentifierUser(year=year, user=user, first_ms=first))
            s.flush()


# --- resolution --------------------------------------------------------------------------------------


@dataclass
class Resolver:
    """Resolves handles against one database, forwarding foreign prefixes; counts every answer.

    Parameters
    ----------
    db
        SQLAlchemy URL or SQLite path.
    settings
        Upstream resolver and flush interval (default: from the environment).
    """

    db: str | None
    settings: IdentifierSettings | None = None

    def __post_init__(self) -> None:
        self.settings = self.settings or IdentifierSettings()
        self.engine: Engine = connect(self.db)
        self.usage = UsageCounter(self.db, self.settings.usage_flush_s)
        self._park_prefix: str | None = None
        self._nodes: dict[str, str] = {}
        self._nodes_loaded = 0.0
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            "SELECT v.idx, v.type, v.data_format, v.data, v.ttl, v.timestamp_ms, v.public "
            "FROM identifiers i LEFT OUTER JOIN identifier_values v ON v.identifier_id = i.id "
            f"WHERE i.handle = {mark} ORDER BY v.idx"
        )
        self._local = threading.local()

    def _prefixes(self) -> tuple[str, dict[str, str]]:
        """The park's prefix and the nodes (prefix → resolver URL, empty when served here), cached 30 s."""
        if self._park_prefix is None or time.monotonic() - self._nodes_loaded > 30:
            with session(self.db, require_schema=False) as s:
                park = s.scalars(select(Park.handle_prefix).order_by(Park.id)).first()
                self._nodes = dict(s.execute(select(IdentifierNode.prefix, IdentifierNode.resolver_url)).all())
            self._park_prefix = park or get_settings().handle_prefix
            self._nodes_loaded = time.monotonic()
        return self._park_prefix, self._nodes

    def is_foreign(self, handle: str) -> bool:
        """Whether ``handle`` belongs to a prefix served elsewhere (its resolution is forwarded)."""
        try:
            prefix, _suffix = split_handle(handle)
        except ValidationError:
            return False
        park_prefix, nodes = self._prefixes()
        return not is_local_prefix(prefix, park_prefix, [p for p, url in nodes.items() if not url])

    def _cursor(self) -> Any:
        """A DB-API cursor on this thread's own connection (autocommit reads: each sees the newest data)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            raw = self.engine.raw_connection()
            driver = raw.driver_connection
            if is_postgres(self.engine):
                driver.autocommit = True  # type: ignore[union-attr]
            self._local.raw = raw  # keep the pooled connection checked out for this thread
            cursor = self._local.cursor = driver.cursor()  # type: ignore[union-attr]
        return cursor

    def lookup(self, handle: str) -> Record | None:
        """The record of a local handle: one indexed query on the driver; the registry entity's values otherwise.

        The hot path of resolution skips the ORM and SQLAlchemy's statement machinery: a fixed
        SQL text with one bound parameter on a connection kept per thread.
        """
        cursor = self._cursor()
        cursor.execute(self._sql, (handle,))
        rows = cursor.fetchall()
        if rows:
            values = tuple(
                StoredValue(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))
                for row in rows
                if row[0] is not None
            )
            return Record(handle, values)
        with session(self.db, require_schema=False) as s:
            return load_record(s, handle)

    def resolve(
        self,
        handle: str,
        reader: Reader | None = None,
        types: Sequence[str] = (),
        indices: Sequence[int] = (),
        *,
        hops: int = 0,
    ) -> Answer:
        """Resolve ``handle`` as ``reader`` sees it, with ``?type=``/``?index=`` filters; the answer is counted."""
        who = reader or Reader()
        result = self._resolve(handle, who, types, indices, hops)
        self.usage.count(result.response_code, who.name)
        return result

    def _resolve(self, handle: str, who: Reader, types: Sequence[str], indices: Sequence[int], hops: int) -> Answer:
        try:
            prefix, _suffix = split_handle(handle)
        except ValidationError as exc:
            return malformed(handle, str(exc))
        park_prefix, nodes = self._prefixes()
        local_nodes = [p for p, url in nodes.items() if not url]
        if not is_local_prefix(prefix, park_prefix, local_nodes):
            return self.forward(handle, nodes.get(prefix) or self.settings.upstream_resolver, types, indices, hops)  # type: ignore[union-attr]
        try:
            parse_handle(handle)
        except ValidationError as exc:
            return malformed(handle, str(exc))
        return answer(self.lookup(handle), handle, who, types, indices)

    def forward(self, handle: str, base_url: str, types: Sequence[str], indices: Sequence[int], hops: int) -> Answer:
        """Ask the resolver at ``base_url`` (same REST path) for a handle of a prefix served elsewhere.

        The caller's credentials are never passed on; ``X-Carbonpark-Hops`` stops forwarding loops.
        """
        if not base_url:
            return Answer(
                404,
                {
                    "responseCode": int(ResponseCode.SERVER_NOT_RESPONSIBLE),
                    "handle": handle,
                    "message": "prefix not served here and no upstream resolver is configured "
                    "(CARBONPARK_UPSTREAM_RESOLVER)",
                },
            )
        if hops >= 3:
            return Answer(
                508,
                {"responseCode": 6, "handle": handle, "message": "forwarded too many times (a resolver loop)"},
            )
        params: list[tuple[str, str | int | float | bool | None]] = [("type", t) for t in types]
        params += [("index", i) for i in indices]
        url = f"{base_url.rstrip('/')}/api/handles/{handle}"
        try:
            reply = httpx.get(
                url,
                params=params,
                headers={"X-Carbonpark-Hops": str(hops + 1), "Accept": "application/json"},
                timeout=self.settings.upstream_timeout_s,  # type: ignore[union-attr]
            )
            body = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            return Answer(
                502,
                {
                    "responseCode": int(ResponseCode.ERROR),
                    "handle": handle,
                    "message": f"upstream resolver {base_url} did not answer: {type(exc).__name__}",
                },
            )
        if not isinstance(body, dict) or "responseCode" not in body:
            return Answer(
                502,
                {
                    "responseCode": int(ResponseCode.ERROR),
                    "handle": handle,
                    "message": "upstream answer not in Handle shape",
                },
            )
        return Answer(reply.status_code, body)

    def close(self) -> None:
        """Write pending usage counts."""
        self.usage.flush()


def resolve_once(
    db: str | None, handle: str, reader: Reader, types: Iterable[str] = (), indices: Iterable[int] = ()
) -> Answer:
    """Resolve one handle and write its count at once (the CLI)."""
    resolver = Resolver(db)
    try:
        return resolver.resolve(handle, reader, list(types), list(indices))
    finally:
        resolver.close()


def demo_identifiers(s: Session, reader: Reader) -> dict[str, int]:
    """Demo: every registry entity registered, a node for each key emitter, the platform's models as virtual assets.

    The nodes (``88.<prefix>.<enterprise id>``, served here) and the virtual assets are illustrative: they
    show indicators 15 and 16 with figures, not a real park's deployment.
    """
    added = sync_registry(s, reader)
    park = s.scalars(select(Park).order_by(Park.id)).first()
    prefix = park.handle_prefix if park is not None else get_settings().handle_prefix
    nodes = 0
    for ent in s.scalars(select(Enterprise).where(Enterprise.key_emitter.is_(True)).order_by(Enterprise.id)):
        node = f"88.{prefix}.{ent.id}"
        if not s.scalar(select(func.count()).select_from(IdentifierNode).filter_by(prefix=node)):
            add_node(s, node, reader, enterprise=ent)
            nodes += 1
    assets = {
        "model": ("DESC", "forecast model: LightGBM short-term load forecaster (carbonpark.forecast)"),
        "algorithm": ("DESC", "accounting method: emission-factor method, GB/T 32150 (carbonpark.accounting)"),
        "process": ("DESC", "process: day-ahead dispatch of the park battery (carbonpark.dispatch)"),
    }
    existing = set(s.scalars(select(Identifier.kind)))
    for kind, value in assets.items():
        if kind not in existing:
            register_virtual(s, kind, reader, [value])
    return {"registered": added, "nodes": nodes}
