"""Benchmark: bulk insert of readings, carbonpark's path against the raw driver, same rows, same run.

Prints one JSON line: readings/s on SQLite (``executemany``) and PostgreSQL (``COPY``) for
``carbonpark.store.insert_readings`` and for the bare driver, and the ratio (target ≥ 0.70).

Usage: ``python bench/bulk_insert.py [--rows 10000000] [--pg URL]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa

from carbonpark.store import connect, count_readings, insert_readings, upgrade

T0_MS = 1_735_660_800_000  # 2025-01-01T00:00+08:00


def make_rows(n: int, meters: int = 200) -> list[tuple[int, int, float, int]]:
    """``n`` readings of ``meters`` meters, hourly, meter-major (as a day's files arrive)."""
    per_meter = n // meters
    return [
        (m, T0_MS + h * 3_600_000, 100.0 + (m * 7 + h) % 97 * 0.5, 0)
        for m in range(1, meters + 1)
        for h in range(per_meter)
    ]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_sqlite(rows: list[tuple[int, int, float, int]], folder: Path) -> dict[str, float]:
    ours_db, raw_db = folder / "ours.db", folder / "raw.db"
    upgrade(str(ours_db))
    upgrade(str(raw_db))
    engine = connect(str(ours_db))
    t_ours = timed(lambda: insert_readings(engine, rows))
    assert count_readings(engine) == len(rows)

    def raw() -> None:
        conn = sqlite3.connect(raw_db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executemany("INSERT INTO readings (meter_id, ts_ms, value, quality) VALUES (?, ?, ?, ?)", rows)
        conn.commit()
        conn.close()

    t_raw = timed(raw)
    return {"carbonpark_rows_per_s": len(rows) / t_ours, "raw_rows_per_s": len(rows) / t_raw, "ratio": t_raw / t_ours}


def bench_postgres(rows: list[tuple[int, int, float, int]], pg_url: str) -> dict[str, float]:
    schemas = [f"cp_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        for s in schemas:
            conn.execute(sa.text(f'CREATE SCHEMA "{s}"'))
    try:
        urls = [f"{pg_url}?options=-csearch_path%3D{s}" for s in schemas]
        for url in urls:
            upgrade(url)
        engine = connect(urls[0])
        t_ours = timed(lambda: insert_readings(engine, rows))
        assert count_readings(engine) == len(rows)
        dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")

        def raw() -> None:
            with (
                psycopg.connect(dsn, options=f"-csearch_path={schemas[1]}") as conn,
                conn.cursor() as cur,
                cur.copy("COPY readings (meter_id, ts_ms, value, quality) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)

        t_raw = timed(raw)
        engine.dispose()
        return {
            "carbonpark_rows_per_s": len(rows) / t_ours,
            "raw_rows_per_s": len(rows) / t_raw,
            "ratio": t_raw / t_ours,
        }
    finally:
        with admin.begin() as conn:
            for s in schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{s}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    rows = make_rows(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        sqlite_figures = bench_sqlite(rows, Path(folder))
    pg_figures = bench_postgres(rows, args.pg)
    line = {
        "bench": "bulk_insert",
        "rows": len(rows),
        "sqlite": {k: round(v, 3) for k, v in sqlite_figures.items()},
        "postgresql": {k: round(v, 3) for k, v in pg_figures.items()},
        "target_ratio": 0.7,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    sys.stdout.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
