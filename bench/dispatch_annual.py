"""Benchmark: a park year (8,760 hourly steps) dispatched by carbonpark against HiGHS on raw arrays.

Scenario: grid with time-of-use prices, PV, battery, CHP, gas boiler, heat pump and a
hot-water tank, electricity and heat loads with daily, weekly and seasonal shape
(synthetic, deterministic). carbonpark builds the linopy model, solves it with HiGHS,
reads the schedule by name and evaluates the rule-based baseline; the reference builds
the same LP directly as sparse arrays (scipy) and hands it to highspy, in the same run.
Both objectives must agree to 1e-6 relative. The electricity-only part (grid, PV,
battery) is also solved by carbonpark and by PyPSA (linopy + HiGHS underneath: one bus,
generators for import, export and PV, a store with charge and discharge links), and the
objectives must agree to 1e-6 relative; both times are reported.

The direct solve and carbonpark's end-to-end run alternate for ``--rounds`` rounds (the
machine's load changes between them); times are medians over the rounds, the ratio is the
median of the per-round ratios, which are listed too, with the same ratio on process CPU
time (less sensitive to other jobs on a shared machine). The first build of the process is
timed on its own (it also pays one-time imports) and not counted in the rounds. Both sides
hand HiGHS the same options (``output_flag`` off, defaults otherwise).

Prints one JSON line. Usage: ``python bench/dispatch_annual.py [--steps 8760] [--rounds 3]``.
Target (issue 10): carbonpark build + solve ≤ 2 × the direct HiGHS solve and < 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from carbonpark.dispatch import build_model, parse_scenario, solve_dispatch

GAS_PRICE = 0.35
GAS_CARBON = 0.20
GRID_CARBON = 0.5366
CHP = {"cap": 1200.0, "ee": 0.38, "te": 0.45}
BOILER = {"cap": 3000.0, "eff": 0.92}
HEAT_PUMP = {"cap": 1000.0, "cop": 3.5}
BATTERY = {"E": 4000.0, "P": 1000.0, "eta": 0.95, "init": 0.5, "min": 0.1, "max": 0.95}
TANK = {"E": 3000.0, "P": 800.0, "eta": 0.98, "init": 0.3, "loss": 0.005}
IMPORT_MAX, EXPORT_MAX, EXPORT_PRICE, PV_KW = 8000.0, 1000.0, 0.39, 2500.0


def profiles(steps: int) -> dict[str, np.ndarray]:
    """Synthetic hourly loads [kW], PV per unit and TOU prices [CNY/kWh] (deterministic)."""
    t = np.arange(steps)
    hour, day = t % 24, t // 24
    season = np.cos(2 * np.pi * (day - 15) / 365)  # +1 mid-January, −1 mid-July
    weekday = (day % 7) < 5
    elec = 3200 + 1300 * np.clip(np.sin((hour - 6) / 14 * np.pi), 0, None) * np.where(weekday, 1.0, 0.5)
    elec = elec + 400 * np.clip(-season, 0, None)  # summer cooling load on the electricity bus
    heat = (1500 + 700 * np.clip(season, 0, None)) * (1 + 0.2 * np.sin((hour - 5) / 24 * 2 * np.pi))
    pv = np.clip(np.sin((hour - 5.5) / 13.5 * np.pi), 0, None) * (0.7 - 0.15 * season)
    price = np.where(hour < 8, 0.29, np.where(((hour >= 8) & (hour < 11)) | ((hour >= 17) & (hour < 22)), 1.07, 0.64))
    return {"elec": elec, "heat": heat, "pv": np.clip(pv, 0, 1), "price": price}


def scenario_document(data: dict[str, np.ndarray]) -> dict[str, Any]:
    steps = len(data["elec"])
    return {
        "horizon": {"start": "2025-01-01T00:00:00", "steps": steps, "step_hours": 1},
        "loads": {"electricity": data["elec"].tolist(), "heat": data["heat"].tolist()},
        "assets": [
            {
                "type": "grid",
                "name": "grid",
                "import_max_kw": IMPORT_MAX,
                "export_max_kw": EXPORT_MAX,
                "import_price": data["price"].tolist(),
                "export_price": EXPORT_PRICE,
                "carbon_kg_per_kwh": GRID_CARBON,
            },
            {"type": "gas", "name": "gas", "price_per_kwh": GAS_PRICE, "carbon_kg_per_kwh": GAS_CARBON},
            {"type": "pv", "name": "pv", "capacity_kw": PV_KW, "profile": data["pv"].tolist()},
            {
                "type": "battery",
                "name": "bess",
                "energy_kwh": BATTERY["E"],
                "power_kw": BATTERY["P"],
                "charge_efficiency": BATTERY["eta"],
                "discharge_efficiency": BATTERY["eta"],
                "soc_initial": BATTERY["init"],
                "soc_min": BATTERY["min"],
                "soc_max": BATTERY["max"],
            },
            {
                "type": "chp",
                "name": "chp",
                "electric_capacity_kw": CHP["cap"],
                "electric_efficiency": CHP["ee"],
                "thermal_efficiency": CHP["te"],
            },
            {"type": "gas_boiler", "name": "boiler", "capacity_kw": BOILER["cap"], "efficiency": BOILER["eff"]},
            {"type": "heat_pump", "name": "hp", "capacity_kw": HEAT_PUMP["cap"], "cop": HEAT_PUMP["cop"]},
            {
                "type": "thermal_storage",
                "name": "tank",
                "energy_kwh": TANK["E"],
                "power_kw": TANK["P"],
                "charge_efficiency": TANK["eta"],
                "discharge_efficiency": TANK["eta"],
                "soc_initial": TANK["init"],
                "self_discharge_per_hour": TANK["loss"],
            },
        ],
        "objective": "cost",
    }


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def direct_highs(data: dict[str, np.ndarray]) -> tuple[float, float, float, float]:
    """The same LP as sparse arrays, solved by highspy: (objective, build s, solve s, solve CPU s).

    Per step, 12 columns: import, export, pv, battery charge, discharge, soc, chp fuel,
    boiler fuel, heat-pump electricity, tank charge, discharge, soc (conversions substituted).
    """
    started = time.perf_counter()
    n = len(data["elec"])
    k = 12
    imp, exp_, pv, ch, dis, soc, chp, boil, hp, tch, tdis, tsoc = range(k)

    def col(v: int, t: np.ndarray) -> np.ndarray:
        return v * n + t

    t = np.arange(n)
    inf = highspy.kHighsInf
    lower = np.zeros(k * n)
    upper = np.full(k * n, inf)
    cost = np.zeros(k * n)
    upper[col(imp, t)], upper[col(exp_, t)] = IMPORT_MAX, EXPORT_MAX
    upper[col(pv, t)] = PV_KW * data["pv"]
    upper[col(ch, t)] = upper[col(dis, t)] = BATTERY["P"]
    lower[col(soc, t)], upper[col(soc, t)] = BATTERY["min"] * BATTERY["E"], BATTERY["max"] * BATTERY["E"]
    upper[col(chp, t)] = CHP["cap"] / CHP["ee"]
    upper[col(boil, t)] = BOILER["cap"] / BOILER["eff"]
    upper[col(hp, t)] = HEAT_PUMP["cap"] / HEAT_PUMP["cop"]
    upper[col(tch, t)] = upper[col(tdis, t)] = TANK["P"]
    upper[col(tsoc, t)] = TANK["E"]
    cost[col(imp, t)] = data["price"]
    cost[col(exp_, t)] = -EXPORT_PRICE
    cost[col(chp, t)] = cost[col(boil, t)] = GAS_PRICE

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    row_lo: list[np.ndarray] = []
    row_hi: list[np.ndarray] = []

    def add_rows(entries: Sequence[tuple[int, np.ndarray, float]], lo: np.ndarray, hi: np.ndarray) -> None:
        """One row per element of ``lo``; entry (variable, steps, coefficient) puts one term in each row."""
        base = int(sum(len(r) for r in row_lo))
        for variable, steps_of_row, coefficient in entries:
            rows.append(base + np.arange(len(lo)))
            cols.append(col(variable, steps_of_row))
            vals.append(np.full(len(lo), float(coefficient)))
        row_lo.append(lo)
        row_hi.append(hi)

    ee, te = CHP["ee"], CHP["te"]
    add_rows(
        [(imp, t, 1.0), (exp_, t, -1.0), (pv, t, 1.0), (dis, t, 1.0), (ch, t, -1.0), (chp, t, ee), (hp, t, -1.0)],
        data["elec"],
        data["elec"],
    )
    add_rows(
        [(chp, t, te), (boil, t, BOILER["eff"]), (hp, t, HEAT_PUMP["cop"]), (tdis, t, 1.0), (tch, t, -1.0)],
        data["heat"],
        data["heat"],
    )
    for state, charge, discharge, spec, keep in (
        (soc, ch, dis, BATTERY, 1.0),
        (tsoc, tch, tdis, TANK, 1.0 - TANK.get("loss", 0.0)),
    ):
        rhs = np.zeros(n)
        rhs[0] = keep * spec["init"] * spec["E"]
        previous = np.arange(1, n)
        entries = [(state, t, 1.0), (charge, t, -spec["eta"]), (discharge, t, 1.0 / spec["eta"])]
        base = int(sum(len(r) for r in row_lo))
        add_rows(entries, rhs, rhs)
        rows.append(base + previous)
        cols.append(col(state, previous - 1))
        vals.append(np.full(n - 1, -keep))
        end = np.array([n - 1])
        add_rows([(state, end, 1.0)], np.array([spec["init"] * spec["E"]]), np.array([inf]))

    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(sum(len(r) for r in row_lo), k * n),
    )
    lo, hi = np.concatenate(row_lo), np.concatenate(row_hi)
    with stdout_to_stderr():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addCols(k * n, cost, lower, upper, 0, np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([]))
    h.addRows(
        len(lo), lo, hi, matrix.nnz, matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32), matrix.data
    )
    built, cpu = time.perf_counter(), time.process_time()
    h.run()
    solved, cpu = time.perf_counter(), time.process_time() - cpu
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SystemExit(f"direct HiGHS: {h.modelStatusToString(h.getModelStatus())}")
    return float(h.getInfo().objective_function_value), built - started, solved - built, cpu


def electricity_only(document: dict[str, Any]) -> dict[str, Any]:
    """The grid, PV and battery of the park with the electricity load only."""
    keep = {"grid", "pv", "battery"}
    return {
        **document,
        "loads": {"electricity": document["loads"]["electricity"]},
        "assets": [a for a in document["assets"] if a["type"] in keep],
    }


def pypsa_objective(data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The electricity-only LP in PyPSA: (objective [CNY], build + solve seconds)."""
    import logging

    import pandas as pd
    import pypsa

    logging.getLogger("pypsa").setLevel(logging.ERROR)
    logging.getLogger("linopy").setLevel(logging.ERROR)
    started = time.perf_counter()
    n_steps = len(data["elec"])
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(n_steps))
    n.add("Bus", "bus")
    n.add("Bus", "battery")
    n.add("Load", "load", bus="bus", p_set=data["elec"])
    n.add("Generator", "import", bus="bus", p_nom=IMPORT_MAX, marginal_cost=data["price"])
    # export: negative generation earning the export price
    n.add("Generator", "export", bus="bus", p_nom=EXPORT_MAX, p_min_pu=-1.0, p_max_pu=0.0, marginal_cost=EXPORT_PRICE)
    n.add("Generator", "pv", bus="bus", p_nom=PV_KW, p_max_pu=data["pv"], marginal_cost=0.0)
    e = BATTERY["E"]
    n.add(
        "Store",
        "soc",
        bus="battery",
        e_nom=e,
        e_min_pu=BATTERY["min"],
        e_max_pu=BATTERY["max"],
        e_initial=BATTERY["init"] * e,
    )
    # power_kw limits the charge drawn from the bus and the discharge delivered to it
    n.add("Link", "charge", bus0="bus", bus1="battery", p_nom=BATTERY["P"], efficiency=BATTERY["eta"])
    n.add(
        "Link", "discharge", bus0="battery", bus1="bus", p_nom=BATTERY["P"] / BATTERY["eta"], efficiency=BATTERY["eta"]
    )

    def end_state(network: Any, snapshots: Any) -> None:
        level = network.model["Store-e"]
        network.model.add_constraints(level.loc[snapshots[-1], "soc"] >= BATTERY["init"] * e, name="soc-end")

    with stdout_to_stderr():
        status, condition = n.optimize(
            solver_name="highs", extra_functionality=end_state, solver_options={"output_flag": False}
        )
    if status != "ok":
        raise SystemExit(f"PyPSA: {status} {condition}")
    return float(n.objective), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8760)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of direct solve and carbonpark")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds: expected at least 1, got {args.rounds}")
    data = profiles(args.steps)
    scenario = parse_scenario(scenario_document(data))

    # the first build in a process also pays one-time imports (xarray loads its optional
    # array backends on first use): reported on its own, outside the rounds
    started = time.perf_counter()
    ctx = build_model(scenario)
    first_build = time.perf_counter() - started

    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        direct_objective, direct_build, direct_solve, direct_cpu = direct_highs(data)
        started = time.perf_counter()
        build_model(scenario)
        build_seconds = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        result = solve_dispatch(scenario)  # build + solve + read by name + baseline + balance check
        end_to_end, cpu = time.perf_counter() - started, time.process_time() - cpu
        rounds.append(
            {
                "direct_build": direct_build,
                "direct_solve": direct_solve,
                "build": build_seconds,
                "end_to_end": end_to_end,
                "ratio": end_to_end / direct_solve,
                "ratio_cpu": cpu / direct_cpu,
            }
        )

    def median(key: str) -> float:
        return float(np.median([r[key] for r in rounds]))

    gap = abs(result.objective - direct_objective) / max(1.0, abs(direct_objective))

    elec_scenario = parse_scenario(electricity_only(scenario_document(data)))
    started = time.perf_counter()
    elec_result = solve_dispatch(elec_scenario)
    elec_seconds = time.perf_counter() - started
    try:
        pypsa_obj, pypsa_seconds = pypsa_objective(data)
        pypsa_part: dict[str, Any] = {
            "pypsa_version": __import__("pypsa").__version__,
            "carbonpark_end_to_end_s": round(elec_seconds, 3),
            "pypsa_build_and_solve_s": round(pypsa_seconds, 3),
            "objective_carbonpark": round(elec_result.objective, 4),
            "objective_pypsa": round(pypsa_obj, 4),
            "objective_relative_gap": abs(elec_result.objective - pypsa_obj) / max(1.0, abs(pypsa_obj)),
        }
    except ImportError:
        pypsa_part = {"note": "pypsa not installed (pip install carbonpark[test]): comparison not run"}
    line = {
        "bench": "dispatch_annual",
        "steps": args.steps,
        "variables": int(ctx.model.nvars),
        "constraints": int(ctx.model.ncons),
        "rounds": args.rounds,
        "carbonpark_first_build_s": round(first_build, 3),
        "carbonpark_build_s": round(median("build"), 3),
        "carbonpark_end_to_end_s": round(median("end_to_end"), 3),
        "direct_highs_build_s": round(median("direct_build"), 3),
        "direct_highs_solve_s": round(median("direct_solve"), 3),
        "ratio_end_to_end_to_direct_solve": round(median("ratio"), 3),
        "ratio_per_round": [round(r["ratio"], 3) for r in rounds],
        "ratio_cpu_time": round(median("ratio_cpu"), 3),
        "ratio_cpu_time_per_round": [round(r["ratio_cpu"], 3) for r in rounds],
        "objective_carbonpark": round(result.objective, 4),
        "objective_direct_highs": round(direct_objective, 4),
        "objective_relative_gap": gap,
        "optimised_cost": float(result.total_cost),
        "baseline_cost": None if result.baseline.total_cost is None else float(result.baseline.total_cost),
        "optimised_tco2e": result.total_emissions_tco2e,
        "baseline_tco2e": result.baseline.total_emissions_tco2e,
        "electricity_only_vs_pypsa": pypsa_part,
    }
    print(json.dumps(line))
    if gap > 1e-6:
        raise SystemExit(f"objectives differ: {result.objective} vs {direct_objective}")
    if pypsa_part.get("objective_relative_gap", 0.0) > 1e-6:
        raise SystemExit(f"objectives differ from PyPSA: {pypsa_part}")


if __name__ == "__main__":
    main()
