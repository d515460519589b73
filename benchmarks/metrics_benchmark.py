"""Time the metric set for a typical filter change: the Ibis metrics vs the same aggregates written
directly in DuckDB SQL and in plain pandas. Not part of the test suite.

    python benchmarks/metrics_benchmark.py                 # 100k and 1M orders
    python benchmarks/metrics_benchmark.py --sizes 100k,1m,10m --runs 5

Data is generated once per size under benchmarks/data-<size>/ and reused. Each run starts from an
empty result cache (a filter change the app has not seen). Prints a table (min / median of the runs and
the ratio to the Ibis metrics) and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import ensure_data  # noqa: E402 (benchmarks/common.py)

from metrics.engine import Engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.measures.kpis import frequency_bands, kpis  # noqa: E402
from metrics.segments.tables import segment_country_matrix, segment_summary  # noqa: E402
from metrics.settings import Settings  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
FILTERS = Filters(date(2024, 1, 1), date(2024, 12, 31), "Prime", ("Germany", "United Kingdom", "United States"))


# ----- 1. the product's metric functions (Ibis on DuckDB) ----------------------------------------------

def run_ibis(engine: Engine, f: Filters) -> dict:
    engine.cache.clear()
    return {
        "kpis": kpis(engine, f), "kpis_previous": kpis(engine, f.previous()),
        "bands": frequency_bands(engine, f), "loyalty": segment_summary(engine, f, "loyalty"),
        "rfm": segment_summary(engine, f, "rfm"), "matrix": segment_country_matrix(engine, f, "loyalty"),
    }


# ----- 2. the same aggregates hand-written in DuckDB SQL -----------------------------------------------

SQL_MART = """
WITH o AS (
  SELECT o.customer_id, CAST(o.order_ts AS DATE) AS d, o.net_revenue
  FROM read_parquet('{dir}/fact_orders/*.parquet') o
  JOIN read_parquet('{dir}/dim_customer/*.parquet') c USING (customer_id)
  WHERE o.date_key BETWEEN {lo} AND {hi} AND NOT o.is_returned AND NOT o.is_cancelled
    AND c.is_prime = {prime} AND c.country IN ({countries})
)
SELECT customer_id, count(*) AS orders, sum(net_revenue) AS revenue, max(d) AS last_d, min(d) AS first_d,
       DATE '{as_of}' - max(d) AS recency_days
FROM o GROUP BY customer_id
"""

SQL_SCORES = """
CREATE OR REPLACE TEMP TABLE scored AS
SELECT *, NTILE(5) OVER (ORDER BY recency_days DESC, customer_id) AS r,
          NTILE(5) OVER (ORDER BY orders, customer_id) AS f,
          NTILE(5) OVER (ORDER BY revenue, customer_id) AS m
FROM mart
"""

SQL_LOYALTY = """
SELECT CASE WHEN r >= 4 AND m >= 4 THEN 'Top Tier'
            WHEN r >= 3 AND f <= 3 AND m >= 3 THEN 'Promising'
            WHEN r <= 2 AND f <= 2 THEN 'Hibernating' ELSE 'At-Risk' END AS segment,
       count(*) AS customers, sum(orders) AS orders, sum(revenue) AS revenue
FROM scored GROUP BY 1
"""


def run_sql(con: duckdb.DuckDBPyConnection, folder: Path, f: Filters) -> dict:
    def mart(filters: Filters) -> None:
        sql = SQL_MART.format(
            dir=folder, lo=filters.start.strftime("%Y%m%d"), hi=filters.end.strftime("%Y%m%d"),
            prime="TRUE" if filters.prime == "Prime" else "FALSE", as_of=filters.end.isoformat(),
            countries=", ".join(f"'{c}'" for c in filters.countries))
        con.execute(f"CREATE OR REPLACE TEMP TABLE mart AS {sql}")

    out = {}
    for key, filters in (("kpis_previous", f.previous()), ("kpis", f)):
        mart(filters)
        out[key] = con.execute(
            "SELECT count(*), sum(orders), sum(revenue), avg((orders >= 2)::INT), "
            "avg((recency_days < 30)::INT) FROM mart").fetchall()
    out["bands"] = con.execute(
        "SELECT CASE WHEN orders = 1 THEN '1' WHEN orders <= 3 THEN '2-3' WHEN orders <= 5 THEN '4-5' "
        "ELSE '6+' END AS band, count(*), sum(revenue) FROM mart GROUP BY 1").fetchall()
    con.execute(SQL_SCORES)
    out["loyalty"] = con.execute(SQL_LOYALTY).fetchall()
    out["matrix"] = con.execute(
        "SELECT c.country, count(*), sum(revenue) FROM scored JOIN "
        f"read_parquet('{folder}/dim_customer/*.parquet') c USING (customer_id) GROUP BY 1").fetchall()
    return out


# ----- 3. the same aggregates in plain pandas (reads the columns it needs) ------------------------------

def run_pandas(folder: Path, f: Filters) -> dict:
    orders = pd.read_parquet(folder / "fact_orders", columns=[
        "customer_id", "date_key", "order_ts", "net_revenue", "is_returned", "is_cancelled"])
    customers = pd.read_parquet(folder / "dim_customer", columns=["customer_id", "is_prime", "country"])
    selected = customers[(customers.is_prime == (f.prime == "Prime")) & customers.country.isin(f.countries)]

    def mart(filters: Filters) -> pd.DataFrame:
        lo, hi = int(filters.start.strftime("%Y%m%d")), int(filters.end.strftime("%Y%m%d"))
        o = orders[orders.date_key.between(lo, hi) & ~orders.is_returned & ~orders.is_cancelled]
        o = o[o.customer_id.isin(selected.customer_id)]
        per = o.groupby("customer_id").agg(orders=("net_revenue", "size"), revenue=("net_revenue", "sum"),
                                           last=("order_ts", "max"))
        per["recency_days"] = (pd.Timestamp(filters.end) - per["last"].dt.normalize()).dt.days
        return per.reset_index()

    out = {}
    for key, filters in (("kpis_previous", f.previous()), ("kpis", f)):
        m = mart(filters)
        out[key] = (len(m), m.orders.sum(), m.revenue.sum(), (m.orders >= 2).mean(), (m.recency_days < 30).mean())
    m = mart(f)
    out["bands"] = m.groupby(pd.cut(m.orders, [0, 1, 3, 5, np.inf])).revenue.agg(["size", "sum"])
    n = len(m)

    def ntile(order: np.ndarray) -> np.ndarray:
        size, extra = divmod(n, 5)
        bounds = np.cumsum([size + (1 if i < extra else 0) for i in range(5)])
        ranks = np.empty(n, dtype=int)
        ranks[order] = np.arange(n)
        return np.searchsorted(bounds, ranks, side="right") + 1

    r = ntile(np.lexsort((m.customer_id, -m.recency_days)))
    fq = ntile(np.lexsort((m.customer_id, m.orders)))
    mq = ntile(np.lexsort((m.customer_id, m.revenue)))
    label = np.select([(r >= 4) & (mq >= 4), (r >= 3) & (fq <= 3) & (mq >= 3), (r <= 2) & (fq <= 2)],
                      ["Top Tier", "Promising", "Hibernating"], "At-Risk")
    out["loyalty"] = m.groupby(label).agg(customers=("orders", "size"), revenue=("revenue", "sum"))
    out["matrix"] = m.merge(selected, on="customer_id").groupby("country").revenue.agg(["size", "sum"])
    return out


def time_runs(fn, runs: int) -> list[float]:
    fn()  # warm-up: file metadata, imports, DuckDB's first query
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1m", help="comma list of 100k, 1m, 10m")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")

    rows = []
    for size in sizes:
        folder = ensure_data(ROOT / "benchmarks" / f"data-{size}", SIZES[size])
        engine = Engine(Settings(data_dir=str(folder), cache_dir="off"))  # cold runs must compute
        con = duckdb.connect()
        ibis_result = run_ibis(engine, FILTERS)
        sql_result = run_sql(con, folder, FILTERS)
        assert round(ibis_result["kpis"]["revenue"], 2) == round(float(sql_result["kpis"][0][2]), 2), \
            "the hand-written SQL must compute the same revenue as the metrics"
        for name, fn in (("ibis metrics", functools.partial(run_ibis, engine, FILTERS)),
                         ("duckdb sql", functools.partial(run_sql, con, folder, FILTERS)),
                         ("pandas", functools.partial(run_pandas, folder, FILTERS))):
            times = time_runs(fn, args.runs)
            rows.append({"size": size, "orders": SIZES[size], "approach": name, "runs": args.runs,
                         "min_s": min(times), "median_s": statistics.median(times)})
        base = next(r["median_s"] for r in rows if r["size"] == size and r["approach"] == "ibis metrics")
        for r in rows:
            if r["size"] == size:
                r["median_vs_ibis"] = r["median_s"] / base

    print(f"\nFilter change: {FILTERS.describe()} (KPIs + prior period, bands, loyalty & RFM summaries, matrix)")
    print(f"{'size':>6} {'approach':<14} {'min s':>8} {'median s':>9} {'x ibis':>7}")
    for r in rows:
        print(f"{r['size']:>6} {r['approach']:<14} {r['min_s']:8.3f} {r['median_s']:9.3f} {r['median_vs_ibis']:7.2f}")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"metrics-{stamp}.json"
    path.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                                "filters": FILTERS.to_query(), "rows": rows}, indent=2))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
