"""The bulk path for meter readings: ``executemany`` on SQLite, binary ``COPY`` on PostgreSQL.

Rows are ``(meter_id, ts_ms, value, quality)`` tuples with the value already in the
meter's canonical unit. A reading stored by the ingest pipeline also carries the id of its
ingest batch (``readings.batch_id``, migration ``ingest_0002``), so that ``ledger verify``
can rebuild each batch's attested digest from the store; the bulk paths leave it NULL.
``on_conflict="error"`` is the fast load of fresh data (a duplicate (meter, ts) aborts the
whole batch and nothing of it is stored); ``"ignore"`` stores only the rows whose (meter, ts)
is new and reports how many.

:func:`copy_readings` is the column-wise form the ingest pipeline uses inside its own
transaction: numpy arrays in, one binary ``COPY`` (PostgreSQL) or one ``executemany``
(SQLite) out, no Python object per row on PostgreSQL.

References
----------
.. [1] PostgreSQL 16 documentation, COPY, "Binary Format" (file header, tuples of
   field count and length-prefixed big-endian fields, trailer -1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Literal

import numpy as np
from sqlalchemy import BigInteger, Connection, Engine, Float, Integer, SmallInteger, column, func, select, table

from carbonpark.errors import ConflictError
from carbonpark.store.schema import Reading

__all__ = [
    "READINGS",
    "ReadingRow",
    "copy_readings",
    "count_readings",
    "insert_readings",
    "latest_ts",
    "pg_binary_copy",
    "stored_rows",
    "stored_values",
]

ReadingRow = tuple[int, int, float, int]
CHUNK = 50_000
_COLUMNS = "meter_id, ts_ms, value, quality"

READINGS = table(
    "readings",
    column("meter_id", Integer),
    column("ts_ms", BigInteger),
    column("value", Float),
    column("quality", SmallInteger),
    column("batch_id", BigInteger),
)
"""``readings`` with its ``batch_id`` column (added by migration ``ingest_0002``), for Core queries."""


def _chunks(rows: Iterable[ReadingRow], size: int) -> Iterator[list[ReadingRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


#: Header of PostgreSQL's binary COPY format: signature, flags 0, header extension length 0.
_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
#: Trailer: a field count of -1.
_PG_TRAILER = b"\xff\xff"
#: PostgreSQL type of each column name the binary writer knows, with its numpy big-endian form.
_PG_TYPES: dict[str, tuple[str, str]] = {
    "idx": ("integer", ">i4"),
    "meter_id": ("integer", ">i4"),
    "ts_ms": ("bigint", ">i8"),
    "value": ("double precision", ">f8"),
    "quality": ("smallint", ">i2"),
    "batch_id": ("bigint", ">i8"),
}


def pg_binary_copy(columns: dict[str, np.ndarray], *, header: bool = True, trailer: bool = True) -> bytes:
    """The rows of ``columns`` (equal-length arrays, no NULLs) as one PostgreSQL binary COPY stream.

    Parameters
    ----------
    columns
        Column name (one of ``idx``, ``meter_id``, ``ts_ms``, ``value``, ``quality``,
        ``batch_id``) → array, in the order of the ``COPY … (columns)`` list.
    header, trailer
        Include the stream's header and trailer (off for the middle chunks of one stream).

    Returns
    -------
    bytes
        Header, one packed big-endian record per row (field count, then length and value of
        each field), trailer: built by numpy in one pass, no Python object per row.
    """
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    fields: list[tuple[str, str]] = [("_n", ">i2")]
    for name in names:
        fields += [(f"_l_{name}", ">i4"), (name, _PG_TYPES[name][1])]
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["_n"] = len(names)
    for name in names:
        rec[f"_l_{name}"] = np.dtype(_PG_TYPES[name][1]).itemsize
        rec[name] = columns[name]
    return (_PG_HEADER if header else b"") + rec.tobytes() + (_PG_TRAILER if trailer else b"")


def copy_readings(
    conn: Connection,
    meter_id: np.ndarray,
    ts_ms: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    batch_id: int | None = None,
) -> int:
    """Insert readings given as columns in the caller's transaction; a stored (meter, ts) raises.

    Parameters
    ----------
    conn
        The SQLAlchemy connection of the caller's transaction.
    meter_id, ts_ms, value, quality
        Equal-length arrays: meter ids, UTC epoch ms, values in the meter's canonical unit
        (finite), quality bits.
    batch_id
        The ingest batch storing them (``ingest_batches.id``), kept in ``readings.batch_id``
        for every row; None leaves the column NULL.

    Returns
    -------
    int
        Rows stored (all of them). A (meter, ts) already stored, also by a concurrent
        writer, raises the driver's integrity error and leaves the transaction to be
        rolled back: nothing is half-stored.
    """
    n = len(meter_id)
    if n == 0:
        return 0
    names = _COLUMNS if batch_id is None else _COLUMNS + ", batch_id"
    if conn.dialect.name == "postgresql":
        columns = {"meter_id": meter_id, "ts_ms": ts_ms, "value": value, "quality": quality}
        if batch_id is not None:
            columns["batch_id"] = np.full(n, batch_id, dtype=np.int64)
        data = pg_binary_copy(columns)
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cur, cur.copy(f"COPY readings ({names}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(data)
        return n
    rows = zip(meter_id.tolist(), ts_ms.tolist(), value.tolist(), quality.tolist(), strict=True)
    # the batch id is one integer for every row: written into the statement, not bound per row
    values = "?, ?, ?, ?" if batch_id is None else f"?, ?, ?, ?, {int(batch_id)}"
    raw = conn.connection.driver_connection
    raw.executemany(f"INSERT INTO readings ({names}) VALUES ({values})", rows)  # type: ignore[union-attr]
    return n


def latest_ts(conn: Connection, meter_ids: list[int]) -> dict[int, int]:
    """The newest stored ``ts_ms`` of each meter (meters without readings are left out).

    One index probe per meter (``ORDER BY ts_ms DESC LIMIT 1`` on the primary key), in one
    statement on PostgreSQL: a reading newer than this cannot collide with a stored one.
    """
    if not meter_ids:
        return {}
    rows: list[tuple[Any, Any]]
    if conn.dialect.name == "postgresql":
        rows = [
            (m, t)
            for m, t in conn.exec_driver_sql(
                "SELECT k.m, (SELECT r.ts_ms FROM readings r WHERE r.meter_id = k.m ORDER BY r.ts_ms DESC LIMIT 1) "
                "FROM unnest(%(m)s::integer[]) AS k(m)",
                {"m": meter_ids},
            )
        ]
    else:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        sql = "SELECT ts_ms FROM readings WHERE meter_id = ? ORDER BY ts_ms DESC LIMIT 1"
        rows = [(m, (cur.execute(sql, (m,)).fetchone() or (None,))[0]) for m in meter_ids]
        cur.close()
    return {int(m): int(t) for m, t in rows if t is not None}


_LOOKUP_PG = (
    "CREATE TEMP TABLE IF NOT EXISTS readings_lookup (idx integer, meter_id integer, ts_ms bigint) "
    "ON COMMIT DELETE ROWS"
)
_LOOKUP_SQLITE = "CREATE TEMP TABLE IF NOT EXISTS readings_lookup (idx INTEGER, meter_id INTEGER, ts_ms INTEGER)"
_LOOKUP_JOIN = (
    "SELECT k.idx, r.value, r.quality, r.batch_id FROM readings_lookup k "
    "JOIN readings r ON r.meter_id = k.meter_id AND r.ts_ms = k.ts_ms"
)


def stored_values(conn: Connection, meter_id: np.ndarray, ts_ms: np.ndarray) -> dict[int, float]:
    """Which of the (meter, ts) pairs are stored already, with the stored value.

    Returns
    -------
    dict
        Position in the given arrays → stored value [canonical unit], for stored pairs only.
    """
    return {i: row[0] for i, row in stored_rows(conn, meter_id, ts_ms).items()}


def stored_rows(conn: Connection, meter_id: np.ndarray, ts_ms: np.ndarray) -> dict[int, tuple[float, int, int | None]]:
    """Which of the (meter, ts) pairs are stored already, with the stored value, quality and batch.

    The pairs go to a temporary table (binary ``COPY`` on PostgreSQL, ``executemany`` on
    SQLite) joined with ``readings`` by one query.

    Returns
    -------
    dict
        Position in the given arrays → (stored value [canonical unit], quality bits, ingest
        batch id or None), for stored pairs only.
    """
    n = len(meter_id)
    if n == 0:
        return {}
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_LOOKUP_PG)
        conn.exec_driver_sql("DELETE FROM readings_lookup")
        data = pg_binary_copy({"idx": np.arange(n), "meter_id": meter_id, "ts_ms": ts_ms})
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cur, cur.copy("COPY readings_lookup (idx, meter_id, ts_ms) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(data)
    else:
        conn.exec_driver_sql(_LOOKUP_SQLITE)
        conn.exec_driver_sql("DELETE FROM readings_lookup")
        raw = conn.connection.driver_connection
        raw.executemany(  # type: ignore[union-attr]
            "INSERT INTO readings_lookup VALUES (?, ?, ?)",
            zip(range(n), meter_id.tolist(), ts_ms.tolist(), strict=True),
        )
    return {
        int(i): (float(v), int(q), None if b is None else int(b)) for i, v, q, b in conn.exec_driver_sql(_LOOKUP_JOIN)
    }


def _copy_binary(chunk: list[ReadingRow]) -> bytes:
    m, t, v, q = zip(*chunk, strict=True)
    columns = {
        "meter_id": np.asarray(m, dtype=np.int64),
        "ts_ms": np.asarray(t, dtype=np.int64),
        "value": np.asarray(v, dtype=np.float64),
        "quality": np.asarray(q, dtype=np.int64),
    }
    return pg_binary_copy(columns, header=False, trailer=False)


def insert_readings(
    engine: Engine,
    rows: Iterable[ReadingRow],
    *,
    on_conflict: Literal["error", "ignore"] = "error",
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Insert readings in bulk in one transaction; return the number stored.

    Parameters
    ----------
    engine
        SQLite or PostgreSQL engine with the carbonpark schema.
    rows
        ``(meter_id, ts_ms, value, quality)`` tuples: ts in UTC epoch ms, value in the
        meter's canonical unit.
    on_conflict
        ``"error"``: a duplicate (meter, ts) raises :class:`ConflictError` and nothing is
        stored; ``"ignore"``: duplicates are skipped.
    on_chunk
        Called with the number of rows of each chunk sent (for progress bars).
    """
    raw = engine.raw_connection()
    try:
        stored = (
            _insert_postgres(raw, rows, on_conflict, on_chunk)
            if engine.dialect.name == "postgresql"
            else (_insert_sqlite(raw, rows, on_conflict, on_chunk))
        )
        raw.commit()
        return stored
    except Exception as exc:
        raw.rollback()
        if type(exc).__name__ in {"IntegrityError", "UniqueViolation"}:
            raise ConflictError(
                f"a reading for an existing (meter, ts) was sent to the fast load path: {exc}; "
                "nothing of this batch was stored (use on_conflict='ignore' or the ingest pipeline)"
            ) from exc
        raise
    finally:
        raw.close()


def _insert_sqlite(
    raw: object, rows: Iterable[ReadingRow], on_conflict: str, on_chunk: Callable[[int], None] | None
) -> int:
    verb = "INSERT OR IGNORE" if on_conflict == "ignore" else "INSERT"
    sql = f"{verb} INTO readings ({_COLUMNS}) VALUES (?, ?, ?, ?)"
    cur = raw.cursor()  # type: ignore[attr-defined]
    stored = 0
    for chunk in _chunks(rows, CHUNK):
        cur.executemany(sql, chunk)
        stored += cur.rowcount
        if on_chunk:
            on_chunk(len(chunk))
    cur.close()
    return stored


def _insert_postgres(
    raw: object, rows: Iterable[ReadingRow], on_conflict: str, on_chunk: Callable[[int], None] | None
) -> int:
    cur = raw.cursor()  # type: ignore[attr-defined]
    target = "readings"
    if on_conflict == "ignore":
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS readings_stage (LIKE readings) ON COMMIT DROP")
        target = "readings_stage"
    sent = 0
    with cur.copy(f"COPY {target} ({_COLUMNS}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(_PG_HEADER)
        for chunk in _chunks(rows, CHUNK):
            copy.write(_copy_binary(chunk))
            sent += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
        copy.write(_PG_TRAILER)
    if on_conflict == "ignore":
        cur.execute(
            f"INSERT INTO readings ({_COLUMNS}) SELECT {_COLUMNS} FROM readings_stage "
            "ON CONFLICT (meter_id, ts_ms) DO NOTHING"
        )
        sent = cur.rowcount
    cur.close()
    return sent


def count_readings(engine: Engine) -> int:
    """Number of stored readings."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Reading)) or 0)
