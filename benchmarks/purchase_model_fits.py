"""What fitting the whole purchase-model family costs next to BG/NBD alone, on grouped daily data.

    python benchmarks/purchase_model_fits.py                      # 200k and 2M customers, 3 runs each
    python benchmarks/purchase_model_fits.py --customers 200k --runs 5

Customers are drawn from a BG/NBD process (r 0.35, α 2.5 weeks, a 1.2, b 6.5; first purchases spread
over 4 years, whole days, times in weeks as the dashboard uses them), grouped on (x, t_x, T) with
``group_customers`` (about 0.14 M rows at 200k customers, 1.2 M at 2M), and fitted with weights by
BG/NBD, MBG/NBD and Pareto/NBD one after another in the same process, each from scratch (no fit
starts from another's parameters). The figure that matters is the ratio of the three fits together
to the BG/NBD fit alone; the budget is 3. Each run simulates anew (seed = run number); the table
shows medians over runs, and the ratio's median and worst run.

Prints a table and writes JSON to ``benchmarks/results/purchase-model-fits-<time>.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine_info, write_result  # noqa: E402

from metrics.models.bgnbd import BGNBDParams, group_customers, simulate_bgnbd  # noqa: E402
from metrics.models.purchase_models import PURCHASE_MODELS  # noqa: E402

CUSTOMERS = {"200k": 200_000, "2m": 2_000_000}
TRUE_PARAMS = BGNBDParams(r=0.35, alpha=2.5, a=1.2, b=6.5)  # weeks
DAYS = 1461  # first purchases over 4 years


def simulated_groups(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, t_x, T = simulate_bgnbd(TRUE_PARAMS, rng.integers(0, DAYS, size=n) / 7, rng)
    t_x = np.floor(t_x * 7) / 7  # purchases on whole days
    return group_customers(x, t_x, T)


def one_run(n: int, seed: int) -> dict[str, Any]:
    gx, gt, gT, counts = simulated_groups(n, seed)
    out: dict[str, Any] = {"customers": n, "groups": int(gx.size), "seed": seed}
    for key, cls in PURCHASE_MODELS.items():
        started = time.perf_counter()
        model = cls().fit(gx, gt, gT, weights=counts)
        out[f"{key}_s"] = time.perf_counter() - started
        out[key] = {"converged": model.converged, "log_likelihood": model.log_likelihood,
                    "params": dict(zip(cls.param_names, model.params.as_array().tolist(), strict=True)),
                    "iterations": model.result.iterations if model.result else None}
    out["all_s"] = sum(out[f"{key}_s"] for key in PURCHASE_MODELS)
    out["ratio"] = out["all_s"] / out["bgnbd_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--customers", default="200k,2m", help="comma list of 200k, 2m")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sizes = [s.strip().lower() for s in args.customers.split(",") if s.strip()]
    if unknown := [s for s in sizes if s not in CUSTOMERS]:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(CUSTOMERS)}")

    one_run(20_000, seed=0)  # warm-up: imports, first calls
    summary: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for size in sizes:
        size_runs = []
        for run in range(args.runs):
            result = one_run(CUSTOMERS[size], seed=run + 1)
            size_runs.append(result)
            print(f"{size:>5} run {run}: " + ", ".join(f"{key} {result[f'{key}_s']:.2f} s" for key in PURCHASE_MODELS)
                  + f", ratio {result['ratio']:.2f}", flush=True)
        runs.extend(size_runs)
        row: dict[str, Any] = {"size": size, "customers": CUSTOMERS[size],
                               "groups": int(statistics.median(r["groups"] for r in size_runs)), "runs": args.runs}
        for key in (*PURCHASE_MODELS, "all"):
            row[f"{key}_s"] = statistics.median(r[f"{key}_s"] for r in size_runs)
        row["ratio_median"] = statistics.median(r["ratio"] for r in size_runs)
        row["ratio_worst"] = max(r["ratio"] for r in size_runs)
        row["all_converged"] = all(r[key]["converged"] for r in size_runs for key in PURCHASE_MODELS)
        summary.append(row)

    names = {key: cls.model_name for key, cls in PURCHASE_MODELS.items()}
    print("\nFit seconds on grouped rows (median of runs); ratio = all three / BG/NBD alone (budget 3)")
    print(f"{'customers':>10} {'groups':>10} " + " ".join(f"{names[k]:>10}" for k in PURCHASE_MODELS)
          + f" {'all three':>10} {'ratio':>6} {'worst':>6}")
    for row in summary:
        print(f"{row['customers']:>10,} {row['groups']:>10,} "
              + " ".join(f"{row[f'{k}_s']:>10.2f}" for k in PURCHASE_MODELS)
              + f" {row['all_s']:>10.2f} {row['ratio_median']:>6.2f} {row['ratio_worst']:>6.2f}"
              + ("" if row["all_converged"] else "  (a fit did not converge)"))
    out = write_result("purchase-model-fits", {"summary": summary, "runs": runs, "machine": machine_info()}, args.out)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
