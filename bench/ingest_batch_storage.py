"""Where to keep the ingest batch of each reading: a column on ``readings`` or a membership table.

The ledger attests each ingest batch once; ``ledger verify`` must find the readings of each
batch again, so the batch id is stored with them. Two ways, measured here in the same run
against the plain insert (no batch at all), with the same bulk path the pipeline uses
(binary ``COPY`` on PostgreSQL, ``executemany`` on SQLite), in transactions of ``--batch``
readings, rounds interleaved with the order rotated each round (plain, column, column4, table;
column, column4, table, plain; …) so that load on a shared machine hits all variants alike:

* ``plain``: ``readings (meter_id, ts_ms, value, quality)``, primary key (meter_id, ts_ms);
* ``column``: the same with a nullable ``batch_id bigint`` column, written by the same COPY
  (``column4``: an ``integer`` column, for comparison);
* ``table``: the plain table plus ``reading_batches (batch_id, meter_id, ts_ms)`` with its
  primary key, written by a second COPY in the same transaction.

Prints ONE JSON line: readings/s of each (median over rounds), the ratios to plain, and the
bytes per reading on PostgreSQL (``pg_total_relation_size``, heap and indexes).
Usage: ``python bench/ingest_batch_storage.py [--db URL ...] [--readings N] [--batch N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from carbonpark.store.readings import pg_binary_copy

PG = os.environ.get("CARBONPARK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = 1_735_660_800_000
METERS = 100

_DDL = {
    "plain": [
        "CREATE TABLE r_plain (meter_id integer, ts_ms bigint, value double precision, quality smallint, "
        "PRIMARY KEY (meter_id, ts_ms))"
    ],
    "column": [
        "CREATE TABLE r_column (meter_id integer, ts_ms bigint, value double precision, quality smallint, "
        "batch_id bigint, PRIMARY KEY (meter_id, ts_ms))"
    ],
    "column4": [
        "CREATE TABLE r_column4 (meter_id integer, ts_ms bigint, value double precision, quality smallint, "
        "batch_id integer, PRIMARY KEY (meter_id, ts_ms))"
    ],
    "table": [
        "CREATE TABLE r_table (meter_id integer, ts_ms bigint, value double precision, quality smallint, "
        "PRIMARY KEY (meter_id, ts_ms))",
        "CREATE TABLE r_members (batch_id bigint, meter_id integer, ts_ms bigint, "
        "PRIMARY KEY (batch_id, meter_id, ts_ms))",
    ],
}


def _columns(batch: int, size: int) -> dict[str, np.ndarray]:
    k = np.arange(batch * size, (batch + 1) * size, dtype=np.int64)
    return {
        "meter_id": k % METERS,
        "ts_ms": T0 + (k // METERS) * 60_000,
        "value": (k % 997).astype(np.float64),
        "quality": np.zeros(size, dtype=np.int64),
    }


def _store_pg(conn: Any, kind: str, batch: int, cols: dict[str, np.ndarray]) -> None:
    cur = conn.cursor()
    names = "meter_id, ts_ms, value, quality"
    if kind in ("column", "column4"):
        data = pg_binary_copy({**cols, "batch_id": np.full(len(cols["ts_ms"]), batch, dtype=np.int64)})
        if kind == "column4":  # the same stream with a 4-byte batch id
            data = pg_binary_copy({**cols, "idx": np.full(len(cols["ts_ms"]), batch, dtype=np.int64)})
        with cur.copy(f"COPY r_{kind} ({names}, batch_id) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(data)
    else:
        with cur.copy(f"COPY r_{kind} ({names}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(pg_binary_copy(cols))
        if kind == "table":
            members = {
                "batch_id": np.full(len(cols["ts_ms"]), batch, np.int64),
                "meter_id": cols["meter_id"],
                "ts_ms": cols["ts_ms"],
            }
            with cur.copy("COPY r_members (batch_id, meter_id, ts_ms) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.write(pg_binary_copy(members))
    cur.close()


def _store_sqlite(conn: Any, kind: str, batch: int, cols: dict[str, np.ndarray]) -> None:
    m, t, v, q = (cols[c].tolist() for c in ("meter_id", "ts_ms", "value", "quality"))
    if kind in ("column", "column4"):  # as copy_readings does: the batch id written into the statement
        conn.executemany(
            f"INSERT INTO r_{kind} (meter_id, ts_ms, value, quality, batch_id) VALUES (?, ?, ?, ?, {batch})",
            zip(m, t, v, q, strict=True),
        )
        return
    conn.executemany(
        f"INSERT INTO r_{kind} (meter_id, ts_ms, value, quality) VALUES (?, ?, ?, ?)", zip(m, t, v, q, strict=True)
    )
    if kind == "table":
        conn.executemany("INSERT INTO r_members VALUES (?, ?, ?)", zip([batch] * len(m), m, t, strict=True))


def run(url: str, readings: int, size: int, rounds: int) -> dict[str, Any]:
    schema = None
    if url.startswith("postgresql"):
        schema = f"bench_bs_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    engine = sa.create_engine(url)
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for statements in _DDL.values():
            for ddl in statements:
                conn.exec_driver_sql(ddl)
    per_round = readings // rounds // size
    rates: dict[str, list[float]] = {k: [] for k in _DDL}
    batch = 0
    raw = engine.raw_connection()
    try:
        kinds = list(_DDL)
        for r in range(rounds):
            for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:  # each variant takes each slot in turn
                start = time.perf_counter()
                for _b in range(per_round):
                    (_store_pg if pg else _store_sqlite)(
                        raw.driver_connection if pg else raw, kind, batch, _columns(batch, size)
                    )
                    raw.commit()
                    batch += 1
                rates[kind].append(per_round * size / (time.perf_counter() - start))
        out: dict[str, Any] = {k: round(statistics.median(v)) for k, v in rates.items()}
        out["column_ratio"] = round(out["column"] / out["plain"], 3)
        out["column4_ratio"] = round(out["column4"] / out["plain"], 3)
        out["table_ratio"] = round(out["table"] / out["plain"], 3)
        if pg:
            cur = raw.cursor()
            sizes = {}
            for kind, tables in (
                ("plain", ["r_plain"]),
                ("column", ["r_column"]),
                ("column4", ["r_column4"]),
                ("table", ["r_table", "r_members"]),
            ):
                total = 0
                for name in tables:
                    cur.execute(f"SELECT pg_total_relation_size('{name}')")
                    total += int(cur.fetchone()[0])
                sizes[kind] = round(total / (per_round * size * rounds), 1)
            out["bytes_per_reading"] = sizes
            cur.close()
    finally:
        raw.close()
        engine.dispose()
        if schema:
            with sa.create_engine(PG).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", action="append", help="database URL(s); default a temporary SQLite file and PostgreSQL")
    ap.add_argument("--readings", type=int, default=300_000, help="readings per variant")
    ap.add_argument("--batch", type=int, default=2_000, help="readings per transaction")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "bench": "ingest_batch_storage",
        "readings": args.readings,
        "batch": args.batch,
        "load": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        urls = args.db or [f"sqlite:///{Path(tmp) / 'b.db'}", PG]
        for i, url in enumerate(urls):
            label = (
                "sqlite" if url.startswith("sqlite") else ("postgresql" if url.startswith("postgresql") else f"db{i}")
            )
            result[label] = run(url, args.readings, args.batch, args.rounds)
            print(f"{label} done", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
