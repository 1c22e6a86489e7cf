"""The bulk path for meter readings: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Rows are ``(meter_id, ts_ms, value, quality)`` tuples with the value already in the
meter's canonical unit. ``on_conflict="error"`` is the fast load of fresh data (a
duplicate (meter, ts) aborts the whole batch and nothing of it is stored);
``"ignore"`` stores only the rows whose (meter, ts) is new and reports how many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Literal

from sqlalchemy import Engine, func, select

from carbonpark.errors import ConflictError
from carbonpark.store.schema import Reading

__all__ = ["ReadingRow", "count_readings", "insert_readings"]

ReadingRow = tuple[int, int, float, int]
CHUNK = 50_000
_COLUMNS = "meter_id, ts_ms, value, quality"


def _chunks(rows: Iterable[ReadingRow], size: int) -> Iterator[list[ReadingRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _copy_text(chunk: list[ReadingRow]) -> str:
    return "".join(f"{m}\t{t}\t{v!r}\t{q}\n" for m, t, v, q in chunk)


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
    with cur.copy(f"COPY {target} ({_COLUMNS}) FROM STDIN") as copy:
        for chunk in _chunks(rows, CHUNK):
            copy.write(_copy_text(chunk))
            sent += len(chunk)
            if on_chunk:
                on_chunk(len(chunk))
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
