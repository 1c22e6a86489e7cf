"""Tables of the attestation log and the SQL implementations of its node and entry stores.

Four tables (migration ``ledger_0001``):

``ledger_entries``
    One row per leaf: ``leaf_index`` (0-based, primary key), ``kind``, ``record`` (handle of
    the attested record), ``organisation``, ``timestamp_ms`` and ``data``, the raw RFC 8785
    entry bytes that the Merkle leaf hashes. Kind, record and organisation are copies of
    fields inside ``data`` kept for index look-ups; ``ledger verify`` checks they agree.
``ledger_nodes``
    The hash of every completed perfect subtree ``(level, idx)`` (covers leaves
    ``[idx·2^level, (idx+1)·2^level)``); level 0 holds the leaf hashes. Fewer than 2n rows
    for n entries, never updated once written (:mod:`carbonpark.ledger.log`).
``ledger_state``
    One row (``id`` = 1) with the log's ``size``. Appends update it with
    ``WHERE size = old``; on PostgreSQL the append first takes ``SELECT … FOR UPDATE`` on it,
    so concurrent appenders queue behind one another instead of failing.
``ledger_heads``
    Signed tree heads (RFC 6962 §3.5): size, timestamp, root, Ed25519 signature, key id.
    They are public data; the park's private key is never stored here.

Appends write entries, nodes and the size with ``executemany`` on the caller's connection,
so they commit or roll back with the caller's own rows.

References
----------
RFC 6962 §2.1, §3.5. Guide §3.2.2(2)1 (区块链存证). docs/ledger.md §8.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from carbonpark.errors import ConflictError, IntegrityError
from carbonpark.ledger.attestation import EntryRow
from carbonpark.ledger.signing import SignedTreeHead, TreeHead
from carbonpark.store.schema import Base

__all__ = [
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "LedgerState",
    "SqlEntryStore",
    "SqlNodeStore",
    "latest_head",
    "load_heads",
    "save_head",
]

_BIG = BigInteger().with_variant(Integer(), "sqlite")
_IN_CHUNK = 400
"""Keys per ``IN`` list (SQLite allows 32,766 bound parameters; two per key)."""


class LedgerEntry(Base):
    """One leaf of the log: the raw canonical entry and copies of its look-up fields."""

    __tablename__ = "ledger_entries"
    leaf_index: Mapped[int] = mapped_column(_BIG, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    record: Mapped[str] = mapped_column(String(256))
    organisation: Mapped[str] = mapped_column(String(256))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (
        Index("ix_ledger_entries_kind_record", "kind", "record", "leaf_index"),
        Index("ix_ledger_entries_organisation", "organisation", "kind"),
    )


class LedgerNode(Base):
    """The hash of one perfect subtree ``(level, idx)``."""

    __tablename__ = "ledger_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerState(Base):
    """The log's size (one row, ``id`` = 1)."""

    __tablename__ = "ledger_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class LedgerHead(Base):
    """A signed tree head as the park published it."""

    __tablename__ = "ledger_heads"
    id: Mapped[int] = mapped_column(_BIG, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_ledger_heads_tree_size", "tree_size", "timestamp_ms"),)


_nodes: Table = LedgerNode.__table__  # type: ignore[assignment]
_entries: Table = LedgerEntry.__table__  # type: ignore[assignment]
_state: Table = LedgerState.__table__  # type: ignore[assignment]
_heads: Table = LedgerHead.__table__  # type: ignore[assignment]


def _bytes(value: object) -> bytes:
    """A stored blob as bytes (an SQL client may have turned it into text: read that as UTF-8)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    assert isinstance(value, bytes | bytearray | memoryview), type(value)
    return bytes(value)


def _bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` in the caller's transaction: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    The columns and table are constants of this module; the values travel as parameters.
    """
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})", list(rows)
    )


def _size(conn: Connection, lock: bool = False) -> int:
    stmt = select(_state.c.size).where(_state.c.id == 1)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    value = conn.execute(stmt).scalar()
    return int(value or 0)


class SqlNodeStore:
    """The :class:`carbonpark.ledger.log.NodeStore` on ``ledger_nodes`` and ``ledger_state``.

    Parameters
    ----------
    conn
        The connection of the caller's transaction; nothing is committed here.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def size(self) -> int:
        return _size(self.conn)

    def lock(self) -> int:
        """Take the append lock (PostgreSQL ``FOR UPDATE`` on the state row) and return the size."""
        return _size(self.conn, lock=True)

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        found: dict[tuple[int, int], bytes] = {}
        unique = list(dict.fromkeys((int(level), int(idx)) for level, idx in keys))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            for level, idx, digest in self._select_nodes(chunk):
                found[(int(level), int(idx))] = _bytes(digest)
        try:
            return [found[(int(level), int(idx))] for level, idx in keys]
        except KeyError as exc:
            raise IntegrityError(
                f"ledger_nodes: no hash for perfect subtree {exc.args[0]} (the table was damaged)"
            ) from exc

    def _select_nodes(self, keys: list[tuple[int, int]]) -> Any:
        """One statement per batch of keys, with no per-call SQL compilation (a proof < 1 ms).

        PostgreSQL: a constant statement joining two arrays (psycopg prepares it after a few
        calls); SQLite: one bound pair of parameters per key (the statement text depends only on
        the number of keys, so SQLite's statement cache serves repeated proofs).
        """
        if self.conn.dialect.name == "postgresql":
            return self.conn.exec_driver_sql(
                "SELECT n.level, n.idx, n.hash FROM ledger_nodes n "
                "JOIN unnest(%s::smallint[], %s::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx",
                ([level for level, _ in keys], [idx for _, idx in keys]),
            )
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(keys))
        params = tuple(v for key in keys for v in key)
        return self.conn.exec_driver_sql(f"SELECT level, idx, hash FROM ledger_nodes WHERE {where}", params)

    def get_level_range(self, level: int, start: int, end: int) -> list[bytes]:
        """The hashes ``(level, start) … (level, end − 1)`` in order, by one range scan."""
        rows = self.conn.execute(
            select(_nodes.c.idx, _nodes.c.hash)
            .where(_nodes.c.level == level, _nodes.c.idx >= start, _nodes.c.idx < end)
            .order_by(_nodes.c.idx)
        ).all()
        if len(rows) != end - start or (rows and (rows[0][0] != start or rows[-1][0] != end - 1)):
            have = {int(i) for i, _ in rows}
            missing = next(i for i in range(start, end) if i not in have)
            raise IntegrityError(
                f"ledger_nodes: no hash for perfect subtree {(level, missing)} (the table was damaged)"
            )
        return [bytes(h) for _, h in rows]

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]], old_size: int, new_size: int) -> None:
        if old_size == 0 and not self.conn.execute(select(_state.c.id).where(_state.c.id == 1)).first():
            self.conn.execute(_state.insert(), {"id": 1, "size": 0})
        moved = self.conn.execute(
            update(_state).where(_state.c.id == 1, _state.c.size == old_size).values(size=new_size)
        )
        if moved.rowcount != 1:
            raise ConflictError(f"ledger: the log is no longer at size {old_size} (another writer appended first)")
        if nodes:
            try:
                _bulk_insert(
                    self.conn,
                    "ledger_nodes",
                    ("level", "idx", "hash"),
                    [(int(lv), int(i), bytes(h)) for lv, i, h in nodes],
                )
            except Exception as exc:
                if type(exc).__name__ in {"IntegrityError", "UniqueViolation"}:
                    raise IntegrityError(f"ledger_nodes: a subtree hash already exists: {exc}") from exc
                raise

    def node_count(self) -> int:
        """Number of stored subtree hashes (for checks: 2n − popcount(n) for n leaves)."""
        return int(self.conn.execute(select(func.count()).select_from(_nodes)).scalar() or 0)


class SqlEntryStore:
    """The :class:`carbonpark.ledger.attestation.EntryStore` on ``ledger_entries``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def size(self) -> int:
        return _size(self.conn)

    def count(self) -> int:
        """Rows actually in ``ledger_entries`` (differs from :meth:`size` only after tampering)."""
        return int(self.conn.execute(select(func.count()).select_from(_entries)).scalar() or 0)

    def get_entries(self, start: int, end: int) -> list[bytes]:
        """The raw entries ``[start, end)`` by leaf index; a missing leaf is left out (the caller sees fewer)."""
        rows = self.conn.execute(
            select(_entries.c.data)
            .where(_entries.c.leaf_index >= start, _entries.c.leaf_index < end)
            .order_by(_entries.c.leaf_index)
        ).all()
        return [_bytes(r[0]) for r in rows]

    def put_entries(self, first_index: int, rows: Sequence[EntryRow]) -> None:
        """Insert ``rows`` as leaves ``first_index, first_index + 1, …`` (one ``executemany``)."""
        if not rows:
            return
        _bulk_insert(
            self.conn,
            "ledger_entries",
            ("leaf_index", "kind", "record", "organisation", "timestamp_ms", "data"),
            [
                (first_index + i, row.kind, row.record, row.organisation, row.timestamp_ms, bytes(row.data))
                for i, row in enumerate(rows)
            ],
        )

    def find(self, kind: str, record: str) -> int | None:
        value = self.conn.execute(
            select(func.max(_entries.c.leaf_index)).where(_entries.c.kind == kind, _entries.c.record == record)
        ).scalar()
        return None if value is None else int(value)

    def iter_rows(
        self, start: int = 0, end: int | None = None, chunk: int = 20_000
    ) -> Iterator[tuple[int, str, str, str, int, bytes]]:
        """``(leaf_index, kind, record, organisation, timestamp_ms, data)`` in leaf order, read in slices."""
        position = start
        while True:
            stop = position + chunk if end is None else min(position + chunk, end)
            if position >= stop:
                return
            rows = self.conn.execute(
                select(
                    _entries.c.leaf_index,
                    _entries.c.kind,
                    _entries.c.record,
                    _entries.c.organisation,
                    _entries.c.timestamp_ms,
                    _entries.c.data,
                )
                .where(_entries.c.leaf_index >= position, _entries.c.leaf_index < stop)
                .order_by(_entries.c.leaf_index)
            ).all()
            if not rows and end is None:
                tail = self.conn.execute(select(func.max(_entries.c.leaf_index))).scalar()
                if tail is None or tail < position:
                    return
            for r in rows:
                yield int(r[0]), r[1], r[2], r[3], int(r[4]), _bytes(r[5])
            position = stop


def save_head(conn: Connection, sth: SignedTreeHead) -> None:
    """Store a signed tree head."""
    conn.execute(
        _heads.insert(),
        {
            "tree_size": sth.head.size,
            "timestamp_ms": sth.head.timestamp_ms,
            "root": sth.head.root,
            "signature": sth.signature,
            "key_id": sth.key_id,
        },
    )


def _sth(row: Any) -> SignedTreeHead:
    size, ts, root, signature, key = row
    return SignedTreeHead(TreeHead(int(size), int(ts), bytes(root)), bytes(signature), str(key))


def load_heads(conn: Connection) -> list[SignedTreeHead]:
    """Every stored signed tree head, oldest first (by size, then time)."""
    rows = conn.execute(
        select(_heads.c.tree_size, _heads.c.timestamp_ms, _heads.c.root, _heads.c.signature, _heads.c.key_id).order_by(
            _heads.c.tree_size, _heads.c.timestamp_ms, _heads.c.id
        )
    ).all()
    return [_sth(r) for r in rows]


def latest_head(conn: Connection) -> SignedTreeHead | None:
    """The signed tree head of the largest size (the latest one), or None."""
    row = conn.execute(
        select(_heads.c.tree_size, _heads.c.timestamp_ms, _heads.c.root, _heads.c.signature, _heads.c.key_id)
        .order_by(_heads.c.tree_size.desc(), _heads.c.timestamp_ms.desc(), _heads.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _sth(row)
