"""Time the customer models (BG/NBD churn risk, Gamma-Gamma spend, predictive CLV) at 100k and 1M
customers. Not part of the test suite.

    python benchmarks/models_benchmark.py                       # both parts, 100k and 1M customers
    python benchmarks/models_benchmark.py --customers 100k --runs 3
    python benchmarks/models_benchmark.py --part simulated      # only the pure-fit numbers

Two parts:

1. **simulated** — the pure model cost: customers drawn from a known BG/NBD process (observed for
   0–4 years, whole days), grouped on (x, t_x, T) with ``group_customers``, fitted with weights, and
   scored per group (P(alive) and 12-month expected purchases).
2. **end-to-end** — the dashboard's path on generated data (``generate_data.generate``, ~4.9 orders per
   buying customer, written once to ``benchmarks/data-models-<size>/``): customer mart, grouping in the
   engine, BG/NBD fit, scoring joined back in the engine, Gamma-Gamma inputs and fit, the per-customer
   CLV table and the page aggregates (bands, at-risk rate, CLV classes), each from an empty result cache.

Prints a table and writes JSON to ``benchmarks/results/models-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import ensure_data  # noqa: E402 (benchmarks/common.py)

from metrics import model_inputs  # noqa: E402
from metrics.engine import Engine  # noqa: E402
from metrics.models.bgnbd import BGNBDModel, BGNBDParams, group_customers, simulate_bgnbd  # noqa: E402
from metrics.models.churn import at_risk_rate, churn_bands  # noqa: E402
from metrics.models.clv import clv_summary, customer_clv  # noqa: E402
from metrics.population import customer_mart  # noqa: E402
from metrics.selection import default_filters  # noqa: E402
from metrics.settings import Settings  # noqa: E402

CUSTOMERS = {"100k": 100_000, "1m": 1_000_000}
#: Orders generated per wanted buying customer (generate_data: orders / 4 people, ~15 % prospects, and
#: about 4.86 orders per buyer over 2021-2024 with the default settings; measured on seed 42).
ORDERS_PER_BUYER = 4.86
#: Parameters close to what the generated data give (weeks).
TRUE_PARAMS = BGNBDParams(r=0.35, alpha=2.5, a=1.2, b=6.5)
HORIZON_WEEKS = 12 * 365.25 / 12 / 7


def simulated_run(n: int, seed: int = 1) -> dict[str, float]:
    """Simulate n customers (T uniform over 0..1460 days), then group + fit + score; seconds per step."""
    rng = np.random.default_rng(seed)
    T_days = rng.integers(0, 1461, size=n)
    x, t_x, T = simulate_bgnbd(TRUE_PARAMS, T_days / 7, rng)
    t_x = np.floor(t_x * 7) / 7  # purchases on whole days, as in the data
    t0 = time.perf_counter()
    gx, gt, gT, counts = group_customers(x, t_x, T)
    t1 = time.perf_counter()
    model = BGNBDModel().fit(gx, gt, gT, weights=counts)
    t2 = time.perf_counter()
    model.p_alive(gx, gt, gT)
    model.expected_purchases(HORIZON_WEEKS, gx, gt, gT)
    t3 = time.perf_counter()
    p = model.params
    return {"customers": n, "groups": len(counts), "group_s": t1 - t0, "fit_s": t2 - t1, "score_s": t3 - t2,
            "total_s": t3 - t0, "converged": model.converged, "r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b}


def models_data(size: str) -> Path:
    folder = ROOT / "benchmarks" / f"data-models-{size}"
    return ensure_data(folder, round(CUSTOMERS[size] * ORDERS_PER_BUYER))


def end_to_end_run(engine: Engine) -> dict[str, float]:
    """One filter change the app has not seen: every step from an empty cache, in dependency order."""
    engine.cache.clear()
    filters = default_filters(engine)
    steps: dict[str, float] = {}

    def step(name: str, fn) -> object:
        t0 = time.perf_counter()
        out = fn()
        steps[name] = time.perf_counter() - t0
        return out

    step("mart_s", lambda: customer_mart(engine, filters))
    groups = step("group_in_engine_s", lambda: model_inputs.btyd_groups(engine, filters))
    fit = step("bgnbd_fit_s", lambda: model_inputs.fit_purchase_model(engine, filters))
    step("score_join_s", lambda: model_inputs.customer_scores(engine, filters))
    spend = step("gamma_gamma_s", lambda: model_inputs.fit_spend_model(engine, filters))
    step("clv_table_s", lambda: customer_clv(engine, filters))
    step("aggregates_s", lambda: (churn_bands(engine, filters), at_risk_rate(engine, filters),
                                  clv_summary(engine, filters)))
    steps["models_total_s"] = sum(v for k, v in steps.items() if k != "mart_s")
    steps["total_s"] = sum(v for k, v in steps.items() if k not in ("models_total_s",))
    p = fit.model.params
    steps.update(customers=int(groups.customers.sum()), groups=len(groups), converged=fit.model.converged,
                 r=p.r, alpha=p.alpha, a=p.a, b=p.b, spend_customers=spend.fitted_customers,
                 spend_sampled=spend.sampled)
    return steps


def median_of(runs: list[dict]) -> dict:
    out = dict(runs[-1])
    for key in runs[0]:
        if key.endswith("_s"):
            out[key] = statistics.median(r[key] for r in runs)
            out[key.replace("_s", "_min_s")] = min(r[key] for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", default="100k,1m", help="comma list of 100k, 1m")
    parser.add_argument("--part", choices=("both", "simulated", "end-to-end"), default="both")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [s.strip().lower() for s in args.customers.split(",") if s.strip()]
    if unknown := [s for s in sizes if s not in CUSTOMERS]:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(CUSTOMERS)}")

    results: dict[str, list[dict]] = {"simulated": [], "end_to_end": []}
    for size in sizes:
        if args.part in ("both", "simulated"):
            runs = [simulated_run(CUSTOMERS[size], seed=i + 1) for i in range(args.runs)]
            results["simulated"].append({"size": size, "runs": args.runs, **median_of(runs)})
        if args.part in ("both", "end-to-end"):
            engine = Engine(Settings(data_dir=str(models_data(size)), cache_dir="off"), validate=False)
            end_to_end_run(engine)  # warm-up: file metadata, imports, DuckDB's first queries
            runs = [end_to_end_run(engine) for _ in range(args.runs)]
            results["end_to_end"].append({"size": size, "runs": args.runs, **median_of(runs)})

    if results["simulated"]:
        print("\nPure model cost on simulated customers (median of runs, seconds)")
        print(f"{'customers':>10} {'groups':>9} {'group':>7} {'fit':>7} {'score':>7} {'total':>7}  params (r, α, a, b)")
        for r in results["simulated"]:
            print(f"{r['customers']:>10,} {r['groups']:>9,} {r['group_s']:>7.2f} {r['fit_s']:>7.2f} "
                  f"{r['score_s']:>7.2f} {r['total_s']:>7.2f}  "
                  f"{r['r']:.3f}, {r['alpha']:.3f}, {r['a']:.3f}, {r['b']:.3f}")
    if results["end_to_end"]:
        print("\nEnd to end on generated data, empty cache (median of runs, seconds)")
        print(f"{'customers':>10} {'groups':>9} {'mart':>6} {'group':>6} {'fit':>6} {'score':>6} {'spend':>6} "
              f"{'clv':>6} {'aggr':>6} {'models':>7} {'total':>6}")
        for r in results["end_to_end"]:
            print(f"{r['customers']:>10,} {r['groups']:>9,} {r['mart_s']:>6.2f} {r['group_in_engine_s']:>6.2f} "
                  f"{r['bgnbd_fit_s']:>6.2f} {r['score_join_s']:>6.2f} {r['gamma_gamma_s']:>6.2f} "
                  f"{r['clv_table_s']:>6.2f} {r['aggregates_s']:>6.2f} {r['models_total_s']:>7.2f} "
                  f"{r['total_s']:>6.2f}")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"models-{datetime.now():%Y%m%d-%H%M%S}.json"
    meta = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor(),
            "cpus": __import__("os").cpu_count()}
    out.write_text(json.dumps({"meta": meta, **results}, indent=2, default=str))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
