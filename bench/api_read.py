"""Benchmark: ``GET /api/meters/{id}`` with a bearer token against a bare ``async def`` endpoint (issue 3 item 8).

One uvicorn server process (``--workers`` workers, uvloop, httptools, no access log) serves the
carbonpark app built by ``create_app`` on a small park in a SQLite file, plus one extra route
``/bench/bare`` returning a constant from a bare ``async def``. ``wrk`` (a second process) loads
each URL in turn with the same threads, connections and duration, after a 2 s warm-up of each,
in ``--rounds`` interleaved rounds (bare, by id, by handle, bare, …) so that a change of the
machine's load hits every URL alike; each figure is the median over the rounds (per-round rates
are listed too). wrk reports requests/s and latency percentiles. The meter is read by numeric id (the target) and
by its Handle identifier (``/api/meters/88.1234/meter.<id>``).

Prints ONE JSON line: carbonpark and bare figures, the rate ratio, p50/p99 [ms].
Target: ratio ≥ 0.5 and carbonpark p99 < 50 ms.

Usage: ``python bench/api_read.py [--seconds 5] [--rounds 3] [--connections 16] [--workers 1]
[--token-cache-seconds 5]`` (needs the Debian ``wrk`` package; ``--token-cache-seconds 0`` measures
a token lookup on every request).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
PASSWORD = "benchmark-password-123"


def make_app() -> Any:
    """The app factory uvicorn calls: carbonpark's app plus the bare baseline route."""
    from carbonpark.api.app import create_app

    app = create_app(os.environ["CARBONPARK_DB"])

    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/bench/bare", bare, methods=["GET"])
    return app


def _build(db: str) -> int:
    from carbonpark.model import CarrierSpec, EnterpriseSpec, MeterSpec, ParkSpec
    from carbonpark.services import auth
    from carbonpark.store import session, upgrade
    from carbonpark.store.registry import add_carrier, add_enterprise, add_meter, add_park

    upgrade(db)
    with session(db) as s:
        park = add_park(s, ParkSpec(name="基准园区"), "bench")
        add_carrier(
            s,
            park,
            CarrierSpec(code="electricity", name="电力", name_en="Electricity", quantity="energy", unit="kWh"),
            "bench",
        )
        ent = add_enterprise(
            s, park, EnterpriseSpec(name="企业", credit_code="91320500MA1XY00019", industry_code="C2614"), "bench"
        )
        meter = None
        for i in range(200):
            meter = add_meter(
                s,
                park,
                MeterSpec(code=f"m-{i}", quantity="energy", unit="kWh", carrier="electricity", enterprise=str(ent.id)),
                "bench",
            )
        auth.add_user(s, "bench", "enterprise", PASSWORD, "bench", enterprise=ent.id)
        assert meter is not None
        return meter.id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m[1]) * _UNIT[m[2]]


def _wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx[1]) if non2xx else 0
    return {"requests_per_s": rate, "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "non_2xx": errors}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="seconds of load per URL and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--token-cache-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        meter_id = _build(db)
        port = _free_port()
        env = {
            **os.environ,
            "CARBONPARK_DB": db,
            "CARBONPARK_SECRET_KEY": "b" * 48,
            "CARBONPARK_TOKEN_CACHE_SECONDS": str(args.token_cache_seconds),
            "PYTHONPATH": str(HERE),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api_read:make_app",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{base}/bench/bare", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(f"{base}/api/auth/token", data={"username": "bench", "password": PASSWORD}).json()[
                "access_token"
            ]
            auth = {"Authorization": f"Bearer {token}"}
            by_id = f"{base}/api/meters/{meter_id}"
            handle = httpx.get(by_id, headers=auth).raise_for_status().json()["handle"]
            by_handle = f"{base}/api/meters/{handle}"
            assert httpx.get(by_handle, headers=auth).json()["id"] == meter_id
            for url, headers in ((f"{base}/bench/bare", {}), (by_id, auth), (by_handle, auth)):
                _wrk(url, 2, args.connections, headers)  # warm-up
            runs: dict[str, list[dict[str, float]]] = {"bare": [], "id": [], "handle": []}
            for _ in range(args.rounds):
                runs["bare"].append(_wrk(f"{base}/bench/bare", args.seconds, args.connections, {}))
                runs["id"].append(_wrk(by_id, args.seconds, args.connections, auth))
                runs["handle"].append(_wrk(by_handle, args.seconds, args.connections, auth))
            bare, ours, ours_handle = (_median(runs[k]) for k in ("bare", "id", "handle"))
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratio = ours["requests_per_s"] / bare["requests_per_s"]
    print(
        json.dumps(
            {
                "bench": "api_read",
                "workers": args.workers,
                "connections": args.connections,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "token_cache_seconds": args.token_cache_seconds,
                "carbonpark_get_meter": ours,
                "carbonpark_get_meter_by_handle": ours_handle,
                "bare_async_constant": bare,
                "ratio": round(ratio, 3),
                "ratio_by_handle": round(ours_handle["requests_per_s"] / bare["requests_per_s"], 3),
                "round_rates": {k: [r["requests_per_s"] for r in v] for k, v in runs.items()},
                "target": {"ratio": 0.5, "p99_ms": 50},
                "met": ratio >= 0.5 and ours["p99_ms"] < 50,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
