"""Benchmark: activity rows → emissions with lineage through the vectorised path, against a plain NumPy multiply.

Rows carry an amount and the index of their resolved factor-table entry (library rows: grid
electricity, purchased heat, natural gas, diesel, raw coal fuel parameters, an IPCC CH4 factor);
``carbonpark.accounting.vectorised.emissions`` validates them and returns tCO2e with the factor
index as lineage. The baseline multiplies the same amounts by the same coefficients already
gathered per row (``amount * coefficient_per_row``), in the same run. A sample of rows is also run
through the row-by-row engine (``carbonpark.accounting.account``) and must agree to 1e-9.

Prints one JSON line. Usage: ``python bench/accounting.py [--rows 10000000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from carbonpark.accounting import ActivityRecord, account
from carbonpark.accounting.vectorised import emissions, factor_table
from carbonpark.factors import default_library

TARGET = 0.20


def table_and_records():  # type: ignore[no-untyped-def]
    """The factor table of the benchmark and, per entry, an activity record the row engine accounts the same way."""
    lib = default_library()
    grid = lib.find("emission_factor", "grid_electricity", gas="CO2", region="national", purpose="ets_report")
    heat = lib.find("emission_factor", "purchased_heat", gas="CO2")

    def fuel(activity: str) -> tuple:  # type: ignore[type-arg]
        return tuple(lib.find(p, activity) for p in ("ncv", "carbon_content", "oxidation_rate"))

    ch4 = lib.find("emission_factor", "natural_gas", gas="CH4", purpose="manufacturing")
    entries = [
        (grid, "kWh"),
        (heat, "GJ"),
        (fuel("natural_gas"), "1e4 Nm3"),
        (fuel("diesel"), "t"),
        (fuel("raw_coal"), "t"),
        (ch4, "TJ"),
    ]
    samples = [
        ActivityRecord(1, "s", "grid_electricity", 1.0, "kWh"),
        ActivityRecord(1, "s", "purchased_heat", 1.0, "GJ"),
        ActivityRecord(1, "s", "natural_gas", 1.0, "10^4 Nm3"),
        ActivityRecord(1, "s", "diesel", 1.0, "t"),
        ActivityRecord(1, "s", "raw_coal", 1.0, "t"),
        None,  # CH4 per TJ: the row engine reaches it through heat = AD × NCV; checked by the coefficient
    ]
    return factor_table(entries, "AR5", library=lib), samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    table, samples = table_and_records()
    rng = np.random.default_rng(7)
    index = rng.integers(0, len(table), args.rows).astype(np.int32)
    amount = rng.uniform(0, 1000, args.rows)
    dense = table.coefficient[index]  # the baseline gets its coefficients gathered for free

    best_cp = best_np = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = emissions(amount, index, table)
        t1 = time.perf_counter()
        plain = amount * dense
        t2 = time.perf_counter()
        best_cp, best_np = min(best_cp, t1 - t0), min(best_np, t2 - t1)
    assert np.array_equal(result.tco2e, plain)
    # the row engine on one row per entry: same tCO2e per unit to 1e-9
    worst = 0.0
    for i, record in enumerate(samples):
        if record is None:
            continue
        engine = account([record]).total_tco2e
        worst = max(worst, abs(engine - table.coefficient[i]) / engine)
    assert worst < 1e-9, worst
    doc = {
        "bench": "accounting_vectorised",
        "rows": args.rows,
        "carbonpark_rows_per_s": round(args.rows / best_cp),
        "numpy_multiply_rows_per_s": round(args.rows / best_np),
        "ratio": round(best_np / best_cp, 3),
        "target_ratio": TARGET,
        "lineage": {"row0_factor": result.factor_id(0), "row0_gwp": result.gwp_id(0)},
        "engine_agreement_max_rel": worst,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(doc, ensure_ascii=False))


if __name__ == "__main__":
    main()
