"""Benchmark: identifier resolutions per second over HTTP against a registry of 1,000,000 identifiers.

Two uvicorn servers with the same settings (one worker, uvloop, httptools, access log off), run one
after the other: carbonpark's app answering ``GET /api/handles/88.1234/rec.<n>`` with random ``n`` in
1..N (each identifier has a URL and a DESC value), and a bare FastAPI app whose ``async def``
endpoint returns a constant. Load comes from wrk in a second process (Lua script choosing the
handle at random), with the same threads, connections and duration. Prints one JSON line.

Usage::

    python bench/resolve.py [--identifiers 1000000] [--duration 10] [--connections 32] [--db PATH]

The registry is built once into ``--db`` (default ``/tmp/carbonpark-bench-resolve.db``) and kept for
the next run when it already holds the asked number of identifiers. Needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from carbonpark.model import ParkSpec
from carbonpark.store import registry as reg
from carbonpark.store import session, upgrade

SERVER = (
    "uvicorn {target} --factory --host 127.0.0.1 --port {port} --workers 1 --loop uvloop --http httptools"
    " --no-access-log --log-level warning"
)
BARE_APP = """
from fastapi import FastAPI

def make():
    app = FastAPI()

    @app.get("/bare/{prefix}/{suffix:path}")
    async def bare(prefix: str, suffix: str):
        return {"responseCode": 1}

    return app
"""
LUA = """
math.randomseed(42)
request = function()
  return wrk.format("GET", "%s" .. math.random(1, %d))
end
"""


def build(db: Path, n: int) -> None:
    """A park and ``n`` identifiers 88.1234/rec.<i>, each with a URL and a DESC value (bulk insert)."""
    url = f"sqlite:///{db}"
    if db.exists():
        with sqlite3.connect(db) as conn:
            try:
                have = conn.execute("select count(*) from identifiers").fetchone()[0]
            except sqlite3.OperationalError:
                have = -1
        if have == n:
            upgrade(url)  # other capabilities may have added tables since the registry was built
            return
        db.unlink()
    upgrade(url)
    with session(url) as s:
        reg.add_park(s, ParkSpec(name="bench park", handle_prefix="1234"), "bench")
    stamp = int(time.time() * 1000)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        chunk = 100_000
        for lo in range(1, n + 1, chunk):
            ids = range(lo, min(lo + chunk, n + 1))
            conn.executemany(
                "insert into identifiers (id, handle, kind, created_ms, created_by)"
                " values (?, ?, 'emission_record', ?, 'bench')",
                ((i, f"88.1234/rec.{i}", stamp) for i in ids),
            )
            conn.executemany(
                "insert into identifier_values (identifier_id, idx, type, data_format, data, ttl, public, timestamp_ms)"
                " values (?, ?, ?, 'string', ?, 86400, 1, ?)",
                (
                    row
                    for i in ids
                    for row in (
                        (i, 1, "URL", f"/api/records/88.1234/rec.{i}", stamp),
                        (i, 2, "DESC", f"emission record {i} of the bench park", stamp),
                    )
                ),
            )
            conn.commit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, path: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def run_wrk(port: int, path_prefix: str, n: int, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    script = workdir / "resolve.lua"
    script.write_text(LUA % (path_prefix, n), encoding="utf-8")
    out = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.duration + 60,
    ).stdout

    def latency_ms(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": rps,
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "non_2xx": int(non2xx[1]) if non2xx else 0,
    }


def serve_and_load(
    target: str, path_prefix: str, probe: str, n: int, args: argparse.Namespace, env: dict[str, str], workdir: Path
) -> dict[str, float]:
    port = free_port()
    cmd = SERVER.format(target=target, port=port).split()
    server = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_up(port, probe)
        except RuntimeError:
            server.terminate()
            raise RuntimeError(server.communicate(timeout=30)[1].decode()[-2000:]) from None
        run_wrk(port, path_prefix, n, argparse.Namespace(**{**vars(args), "duration": 2}), workdir)  # warm-up
        return run_wrk(port, path_prefix, n, args, workdir)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identifiers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "carbonpark-bench-resolve.db")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    t0 = time.perf_counter()
    build(args.db, args.identifiers)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        env = {**os.environ, "CARBONPARK_DB": f"sqlite:///{args.db}", "PYTHONPATH": str(workdir)}
        env.pop("CARBONPARK_UPSTREAM_RESOLVER", None)
        ours = serve_and_load(
            "carbonpark.api.app:create_app",
            "/api/handles/88.1234/rec.",
            "/api/handles/88.1234/rec.1",
            args.identifiers,
            args,
            env,
            workdir,
        )
        bare = serve_and_load(
            "bare_app:make", "/bare/88.1234/rec.", "/bare/88.1234/rec.1", args.identifiers, args, env, workdir
        )
    result: dict[str, Any] = {
        "bench": "resolve",
        "identifiers": args.identifiers,
        "build_s": round(build_s, 1),
        "load": {"tool": "wrk", "threads": args.threads, "connections": args.connections, "duration_s": args.duration},
        "server": "uvicorn, 1 worker, uvloop, httptools, SQLite",
        "carbonpark": ours,
        "bare": bare,
        "ratio": round(ours["requests_per_s"] / bare["requests_per_s"], 3),
        "target": {"ratio": 0.6, "p99_ms": 50},
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
