"""Benchmark: start-up time of the ``carbonpark`` command, next to a bare ``python -c pass``.

Three commands run in fresh interpreters, interleaved round by round so that the machine's load
falls on all of them alike: ``python -c pass`` (the baseline: the interpreter alone),
``carbonpark --help`` and ``carbonpark status --json`` on a small SQLite park (the ``small`` demo
park, built once before the rounds by the code measured, unless ``--db`` names one). carbonpark is started the way its
console script starts it (``from carbonpark.cli.main import main; sys.exit(main())``), with the same
interpreter as the baseline, so no launcher (pyenv shim, virtualenv wrapper) is counted.
``--src DIR`` puts another source tree first on the path, to measure an older commit in the same run
(``git archive <commit> src | tar -x -C DIR``).

Prints one JSON line: medians and minima of the wall time, and medians of the CPU time (user +
system) of each run's process, which a loaded machine disturbs less, all in seconds. Target
(issue 2): ``carbonpark --help`` under about 0.8 s of wall time on a quiet machine.

Usage: ``python bench/cli_startup.py [--runs 15] [--db PATH] [--src DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_HELP_S = 0.8
LAUNCH = "import sys; sys.argv[0] = 'carbonpark'; from carbonpark.cli.main import main; sys.exit(main())"


def _small_park(folder: Path, env: dict[str, str]) -> str:
    """Build the ``small`` demo park (seed 42) into ``folder/park.db`` with the code measured; its path."""
    path = folder / "park.db"
    build = (
        "import sys; from pathlib import Path; from carbonpark.services.demo import build_demo; "
        "build_demo(sys.argv[1], size='small', seed=42, out_dir=Path(sys.argv[2]))"
    )
    _run([sys.executable, "-c", build, str(path), str(folder / "out")], env)
    return str(path)


def _cpu_of_children() -> float:
    """CPU time [s] (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU time [s] of one run and its standard output; a failing run stops the benchmark."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed, _cpu_of_children() - cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="Rounds (each runs the three commands once).")
    parser.add_argument("--db", help="SQLite file of a park for status (default: build the small demo park).")
    parser.add_argument("--src", type=Path, help="Source tree to put first on PYTHONPATH (an older commit).")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs: expected a whole number >= 1, got {args.runs}")

    env = dict(os.environ)
    if args.src is not None:
        if not (args.src / "carbonpark" / "cli" / "main.py").is_file():
            parser.error(f"--src: expected a folder holding carbonpark/cli/main.py, got {args.src}")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(args.src), env.get("PYTHONPATH", "")) if p)

    with tempfile.TemporaryDirectory(prefix="carbonpark-bench-cli-") as tmp:
        db = args.db or _small_park(Path(tmp), env)
        commands = {
            "baseline_python_pass": [sys.executable, "-c", "pass"],
            "help": [sys.executable, "-c", LAUNCH, "--help"],
            "status_json": [sys.executable, "-c", LAUNCH, "status", "--db", db, "--json"],
        }
        *_, out = _run(commands["status_json"], env)  # warm the file cache; check the output once
        readings = json.loads(out)["readings"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                wall, used, _ = _run(argv, env)
                times[name].append(wall)
                cpu[name].append(used)

    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["baseline_python_pass"]
    print(
        json.dumps(
            {
                "bench": "cli_startup",
                "runs": args.runs,
                "src": str(args.src) if args.src else "installed",
                "median_s": {k: round(v, 3) for k, v in median.items()},
                "min_s": {k: round(min(v), 3) for k, v in times.items()},
                "cpu_median_s": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
                "over_baseline_s": {k: round(v - base, 3) for k, v in median.items() if k != "baseline_python_pass"},
                "status_readings": readings,
                "target_help_s": TARGET_HELP_S,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
