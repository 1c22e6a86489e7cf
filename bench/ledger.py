"""Benchmark: the attestation log — in-memory appends, durable appends, proofs at 10 million entries.

Prints one JSON line with, measured in the same run:

- ``memory``: appends/s of :class:`carbonpark.ledger.MerkleLog` (in-memory node store, batches
  of 10,000) on N raw entries of about 200 bytes, against a plain ``hashlib`` loop doing the
  two SHA-256 a leaf needs (its leaf hash and one interior hash) on the same entries, best of
  three alternating rounds each (target: carbonpark ≥ 25 % of the loop);
- ``durable``: entries/s through ``carbonpark.services.ledger.attest_many`` (RFC 8785
  serialisation, entries, subtree hashes and size written with ``executemany``) with one
  commit per batch of 10,000, into SQLite and PostgreSQL (target ≥ 10,000 entries/s);
- ``proofs``: a store of ``--proof-size`` entries (default 10,000,000; its subtree hashes are
  bulk-loaded into ``ledger_nodes``, the entry rows are not, since a proof does not read
  them), then inclusion and consistency proofs generated from the store by a new process-
  level connection (the first one is reported as ``cold``), and their RFC 9162 verification
  (target: a proof under 1 ms).

Usage: ``python bench/ledger.py [--entries 100000] [--durable 50000] [--proof-size 10000000]
[--pg URL] [--proof-pg]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy as sa

from carbonpark.ledger import MemoryNodeStore, MerkleLog, merkle
from carbonpark.services import ledger as service
from carbonpark.store import connect, session, upgrade
from carbonpark.store.schema_ledger import SqlNodeStore

BATCH = 10_000


def raw_entries(n: int) -> list[bytes]:
    """``n`` entries of about 200 bytes, shaped like reading-batch entries."""
    return [
        (
            '{"format":"carbonpark-entry/1","kind":"reading_batch","organisation":"88.1234/ent.3",'
            f'"payload":{{"count":96,"sha256":"{hashlib.sha256(str(i).encode()).hexdigest()}"}},'
            f'"record":"88.1234/meter.{i % 500}@{i}","timestamp_ms":{1_735_660_800_000 + i}}}'
        ).encode()
        for i in range(n)
    ]


def bench_memory(entries: list[bytes], rounds: int = 3) -> dict[str, float]:
    """Best of ``rounds`` alternating runs of each, so that both see the same machine load."""
    loop_rates, our_rates = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for e in entries:  # the baseline: the two SHA-256 a leaf costs, nothing else
            h = hashlib.sha256(b"\x00" + e).digest()
            hashlib.sha256(b"\x01" + h + h).digest()
        loop_rates.append(len(entries) / (time.perf_counter() - start))
        log = MerkleLog(MemoryNodeStore())
        start = time.perf_counter()
        for i in range(0, len(entries), BATCH):
            log.append_many(entries[i : i + BATCH])
        our_rates.append(len(entries) / (time.perf_counter() - start))
    assert log.root() == merkle.root(entries)
    ours, loop = max(our_rates), max(loop_rates)
    return {"carbonpark_appends_per_s": round(ours), "hashlib_loop_per_s": round(loop), "ratio": round(ours / loop, 3)}


def bench_durable(url: str, n: int) -> dict[str, float]:
    upgrade(url)
    items = [
        service.Attestation(
            "reading_batch",
            "88.1234/ent.3",
            f"88.1234/meter.{i % 500}@{i}",
            {"count": 96, "sha256": hashlib.sha256(str(i).encode()).hexdigest()},
            1_735_660_800_000 + i,
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    for i in range(0, n, BATCH):
        with session(url) as s:
            service.attest_many(s, items[i : i + BATCH])
    rate = n / (time.perf_counter() - start)
    assert service.log_size(url) == n
    return {"entries_per_s": round(rate), "entries": n, "batch": BATCH}


def node_rows(n: int) -> Iterator[tuple[int, int, bytes]]:
    """Every perfect-subtree hash of a log of the synthetic entries ``b"entry-<i>"``, streamed."""
    stack: list[tuple[int, int, bytes]] = []
    for i in range(n):
        node = (0, i, merkle.leaf_hash(b"entry-%d" % i))
        yield node
        stack.append(node)
        while len(stack) >= 2 and stack[-2][0] == stack[-1][0]:
            right, left = stack.pop(), stack.pop()
            parent = (left[0] + 1, left[1] >> 1, merkle.node_hash(left[2], right[2]))
            yield parent
            stack.append(parent)


def load_sqlite(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    rows = node_rows(n)
    while chunk := [r for _, r in zip(range(500_000), rows, strict=False)]:
        conn.executemany("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", chunk)
    conn.execute("UPDATE ledger_state SET size = ?", (n,))
    conn.commit()
    conn.close()


def load_pg(url: str, n: int) -> None:
    raw = url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]
    schema = url.split("csearch_path%3D")[1]
    with psycopg.connect(raw, options=f"-csearch_path={schema}") as conn, conn.cursor() as cur:
        with cur.copy("COPY ledger_nodes (level, idx, hash) FROM STDIN") as copy:
            for row in node_rows(n):
                copy.write_row(row)
        cur.execute("UPDATE ledger_state SET size = %s", (n,))


def bench_proofs(url: str, n: int, samples: int = 500) -> dict[str, float | int]:
    rng = random.Random(6962)
    engine = sa.create_engine(connect(url).url)  # a new engine: no pooled connection, no warm statement cache
    timings, verify_times, consistency_times = [], [], []
    with engine.connect() as conn:
        log = MerkleLog(SqlNodeStore(conn))
        start = time.perf_counter()
        root = log.root(n)
        root_ms = (time.perf_counter() - start) * 1000
        for k in range(samples):
            index = rng.randrange(n)
            start = time.perf_counter()
            proof = log.inclusion_proof(index, n)
            timings.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            ok = merkle.verify_inclusion(b"entry-%d" % index, index, n, proof, root)
            verify_times.append((time.perf_counter() - start) * 1000)
            assert ok, index
            if k < 50:
                old = rng.randrange(1, n)
                start = time.perf_counter()
                cproof = log.consistency_proof(old, n)
                consistency_times.append((time.perf_counter() - start) * 1000)
                assert merkle.verify_consistency(old, n, log.root(old), root, cproof)
    engine.dispose()
    return {
        "size": n,
        "root_ms_cold": round(root_ms, 3),
        "inclusion_ms_cold": round(timings[0], 3),
        "inclusion_ms_median": round(statistics.median(timings), 3),
        "inclusion_ms_p95": round(sorted(timings)[int(0.95 * len(timings))], 3),
        "verify_ms_median": round(statistics.median(verify_times), 4),
        "consistency_ms_median": round(statistics.median(consistency_times), 3),
        "proof_hashes": len(merkle.inclusion_ranges(0, n)),
    }


def pg_schema(pg: str) -> tuple[str, sa.Engine, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return f"{pg}?options=-csearch_path%3D{schema}", admin, schema


def drop_schema(admin: sa.Engine, schema: str) -> None:
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--durable", type=int, default=50_000)
    parser.add_argument("--proof-size", type=int, default=10_000_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--proof-pg", action="store_true", help="Also load the proof-size store into PostgreSQL.")
    args = parser.parse_args()
    result: dict[str, object] = {"bench": "ledger", "python": platform.python_version(), "machine": platform.machine()}
    print(f"in-memory: {args.entries} entries", file=sys.stderr)
    result["memory"] = bench_memory(raw_entries(args.entries))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'durable.db'}"
        print(f"durable SQLite: {args.durable} entries", file=sys.stderr)
        durable = {"sqlite": bench_durable(url, args.durable)}
        connect(url).dispose()
        pg_url, admin, schema = pg_schema(args.pg)
        try:
            print(f"durable PostgreSQL: {args.durable} entries", file=sys.stderr)
            durable["postgresql"] = bench_durable(pg_url, args.durable)
            connect(pg_url).dispose()
        finally:
            drop_schema(admin, schema)
        result["durable"] = durable
        path = Path(tmp) / "proofs.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        connect(url).dispose()
        start = time.perf_counter()
        print(f"loading {args.proof_size} entries' subtree hashes into SQLite", file=sys.stderr)
        load_sqlite(path, args.proof_size)
        proofs = {"sqlite": {**bench_proofs(url, args.proof_size), "load_s": round(time.perf_counter() - start, 1)}}
        if args.proof_pg:
            pg_url, admin, schema = pg_schema(args.pg)
            try:
                upgrade(pg_url)
                connect(pg_url).dispose()
                start = time.perf_counter()
                print(f"loading {args.proof_size} entries' subtree hashes into PostgreSQL", file=sys.stderr)
                load_pg(pg_url, args.proof_size)
                proofs["postgresql"] = {
                    **bench_proofs(pg_url, args.proof_size),
                    "load_s": round(time.perf_counter() - start, 1),
                }
                connect(pg_url).dispose()
            finally:
                drop_schema(admin, schema)
        result["proofs"] = proofs
    result["targets"] = {"memory_ratio": 0.25, "durable_entries_per_s": 10_000, "proof_ms": 1.0}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
