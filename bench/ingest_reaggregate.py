"""What re-aggregating late data costs the ingest pipeline (issue 5 items 1 and 6).

1. **Queue cost on the MQTT path.** Every committed batch inserts its (meter, first ts, last ts)
   ranges into ``ingest_dirty_ranges`` and the worker drains the queue every 5 s. The same
   pre-published messages (1 and 100 readings per message, 100 meters; ``bench/ingest_mqtt.py``'s
   broker, sessions and payloads) are drained by the carbonpark worker with the queue (``queue``)
   and with ``_queue_dirty`` and the handler's drain switched off (``no_queue``, the code before
   the queue), alternating in rounds; medians of readings/s of wall time and their ratio.
2. **Queue and drain cost per batch of the batch API** (files, REST, field protocols: they drain
   after every batch). 2 000 readings over 100 meters per ``ingest_readings`` call, with the queue
   and its drain after the commit (``queue``) and without (``no_queue``), alternating, 10 rounds;
   medians of milliseconds per batch and their ratio. No emission source: the drain finds nothing to
   rewrite, so this is the fixed cost every batch pays.
3. **Drain cost in a live stream.** 20 metered electricity sources with a month of hourly readings,
   stored monthly activity data and a stored accounting run of their enterprise; one batch of one
   new reading per meter, then the drain that re-aggregates the 20 months and re-runs the run. The
   baseline of the same round is the batch itself (``ingest_readings(…, reaggregate=False)``).

Prints ONE JSON line. Usage: ``python bench/ingest_reaggregate.py [--readings N] [--single N]
[--rounds R] [--db URL …]`` (default: a temporary SQLite file and $CARBONPARK_TEST_PG).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from carbonpark.ingest.model import RawReading
from carbonpark.services import accounting
from carbonpark.services import ingest as pipeline
from carbonpark.services.registry_io import import_registry
from carbonpark.store import upgrade
from carbonpark.times import parse_timestamp

PG = os.environ.get("CARBONPARK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_spec = importlib.util.spec_from_file_location("bench_ingest_mqtt", Path(__file__).with_name("ingest_mqtt.py"))
assert _spec is not None and _spec.loader is not None
mqtt_bench: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mqtt_bench)

SOURCES = 20
CREDIT = "91350100M000100Y43"


class _NoQueue:
    """Switch the re-aggregation queue off (the pipeline as it was before it)."""

    def __enter__(self) -> None:
        self.saved = (pipeline._queue_dirty, pipeline.MqttHandler.finish)
        pipeline._queue_dirty = lambda *_a, **_k: None  # type: ignore[assignment]
        pipeline.MqttHandler.finish = lambda _self: None  # type: ignore[method-assign]

    def __exit__(self, *_exc: object) -> None:
        pipeline._queue_dirty, pipeline.MqttHandler.finish = self.saved  # type: ignore[method-assign]


def _schema(url: str) -> str:
    if not url.startswith("postgresql"):
        return url
    schema = f"bench_reagg_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def queue_cost(port: int, url: str, tmp: Path, n_batched: int, n_single: int, rounds: int) -> dict[str, Any]:
    db = mqtt_bench.prepare_db(url, tmp)
    rates: dict[str, list[float]] = {f"{c}_{v}": [] for c in ("single", "batched_100") for v in ("queue", "no_queue")}
    offset = 0
    for r in range(rounds):
        order = ("queue", "no_queue") if r % 2 == 0 else ("no_queue", "queue")
        for case, per, n in (("single", 1, n_single), ("batched_100", 100, n_batched)):
            for variant in order:
                if variant == "no_queue":
                    with _NoQueue():
                        got = mqtt_bench.run_case(port, db, n, per, offset, False)
                else:
                    got = mqtt_bench.run_case(port, db, n, per, offset, False)
                rates[f"{case}_{variant}"].append(got["carbonpark_readings_per_s"])
                offset += n // mqtt_bench.METERS + 1
    out: dict[str, Any] = {k: round(statistics.median(v)) for k, v in rates.items()}
    for case in ("single", "batched_100"):
        out[f"{case}_ratio"] = round(out[f"{case}_queue"] / out[f"{case}_no_queue"], 3)
    out["rounds"] = rates
    return out


def batch_cost(url: str, tmp: Path, rounds: int, size: int = 2000) -> dict[str, Any]:
    db = mqtt_bench.prepare_db(url, tmp)
    t0 = parse_timestamp("2025-01-01T00:00", "Asia/Shanghai")
    per_meter = size // mqtt_bench.METERS
    times: dict[str, list[float]] = {"queue": [], "no_queue": []}
    k = 0
    for r in range(rounds + 1):
        order = ("queue", "no_queue") if r % 2 == 0 else ("no_queue", "queue")
        for variant in order:
            batch = [
                RawReading(f"m{m}", t0 + (k + j) * 60_000, 1.0)
                for j in range(per_meter)
                for m in range(mqtt_bench.METERS)
            ]
            k += per_meter
            start = time.perf_counter()
            if variant == "no_queue":
                with _NoQueue():
                    pipeline.ingest_readings(db, batch, channel="bench", attest=False, reaggregate=False)
            else:
                pipeline.ingest_readings(db, batch, channel="bench", attest=False)
            if r > 0:  # the first round warms the caches (meter book, schema check)
                times[variant].append((time.perf_counter() - start) * 1000)
    out: dict[str, Any] = {v: round(statistics.median(x), 2) for v, x in times.items()}
    out["ratio"] = round(out["no_queue"] / out["queue"], 3)  # rate with the queue / rate without
    out["batch_readings"] = per_meter * mqtt_bench.METERS
    return out


def drain_cost(url: str, tmp: Path, rounds: int) -> dict[str, Any]:
    db = _schema(url)
    upgrade(db)
    lines = ['park: {name: 基准园区, handle_prefix: "1234"}', "enterprises:"]
    lines += [f"  - {{name: 甲公司, credit_code: {CREDIT}, industry_code: C2614}}", "meters:"]
    lines += [f"  - {{code: e{i}, quantity: energy, unit: kWh, enterprise: {CREDIT}}}" for i in range(SOURCES)]
    lines += ["sources:"]
    source = "activity: purchased_electricity, scope: 2, category: 2"
    lines += [f"  - {{name: 电力{i}, enterprise: {CREDIT}, {source}, meter: e{i}}}" for i in range(SOURCES)]
    reg = tmp / f"reagg-{uuid.uuid4().hex[:6]}.yaml"
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_registry(db, reg, "bench")
    pipeline.forget_meters()
    t0 = parse_timestamp("2025-01-01T00:00", "Asia/Shanghai")
    hour = 3_600_000
    month = [RawReading(f"e{i}", t0 + h * hour, 1.0 + (h % 24)) for i in range(SOURCES) for h in range(720)]
    pipeline.ingest_readings(db, month, channel="bench", attest=False, reaggregate=False)
    pipeline.drain_dirty(db)
    accounting.account_stored(db, CREDIT, "2025")
    batch_ms: list[float] = []
    drain_ms: list[float] = []
    for r in range(rounds):
        live = [RawReading(f"e{i}", t0 + (720 + r) * hour, 5.0) for i in range(SOURCES)]
        start = time.perf_counter()
        pipeline.ingest_readings(db, live, channel="bench", attest=False, reaggregate=False)
        batch_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        done = pipeline.drain_dirty(db)
        drain_ms.append((time.perf_counter() - start) * 1000)
        assert done["ranges"] == SOURCES and done["rewritten"] == SOURCES and done["reaccounted"], done
    return {
        "sources": SOURCES,
        "readings_per_source": 720,
        "batch_ms": round(statistics.median(batch_ms), 1),
        "drain_ms": round(statistics.median(drain_ms), 1),
        "drain_ms_rounds": [round(x, 1) for x in drain_ms],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=100_000, help="readings per batched case and variant")
    ap.add_argument("--single", type=int, default=10_000, help="readings (= messages) per single-reading case")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db", action="append", help="database URL(s); default SQLite and PostgreSQL")
    args = ap.parse_args()
    out: dict[str, Any] = {
        "bench": "ingest_reaggregate",
        "readings_batched": args.readings,
        "readings_single": args.single,
        "load_average": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker, port = mqtt_bench.start_broker(tmp)
        try:
            urls = (
                [(f"db{i}", u) for i, u in enumerate(args.db)]
                if args.db
                else [("sqlite", f"sqlite:///{tmp / 'b.db'}"), ("postgresql", PG)]
            )
            for label, url in urls:
                seed = url if not url.startswith("sqlite") else f"sqlite:///{tmp / f'q-{label}.db'}"
                out[label] = {
                    "queue": queue_cost(port, seed, tmp, args.readings, args.single, args.rounds),
                    "batch": batch_cost(
                        url if not url.startswith("sqlite") else f"sqlite:///{tmp / f'b-{label}.db'}", tmp, 10
                    ),
                    "drain": drain_cost(
                        url if not url.startswith("sqlite") else f"sqlite:///{tmp / f'd-{label}.db'}", tmp, 5
                    ),
                }
        finally:
            broker.terminate()
            broker.wait(timeout=10)
    out["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
