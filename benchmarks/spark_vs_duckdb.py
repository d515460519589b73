"""Spark (local) vs embedded DuckDB on the same metric code, and how much the BTYD grouping shrinks the
model input. Not part of the test suite.

    python benchmarks/spark_vs_duckdb.py                       # timings at 1M orders, groups at 1M and 10M
    python benchmarks/spark_vs_duckdb.py --sizes 1m --group-sizes 1m,10m --runs 3 --pages risk,executive
    python benchmarks/spark_vs_duckdb.py --sizes "" --group-sizes "" --duckdb-sizes 10m   # DuckDB alone

Data is generated once per size under benchmarks/data-<size>/ (seed 42, as metrics_benchmark.py does) and
reused; a size whose folder is missing is generated first (10M takes a while). Every timed run starts
from an empty result cache (a filter state the app has not seen), so it includes building the customer
mart and fitting the models. Prints tables and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import ensure_data  # noqa: E402 (benchmarks/common.py)

from metrics.engine import Engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.settings import Settings  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
Call = Callable[[Engine, Filters], Any]


def page_metrics() -> dict[str, list[tuple[str, Call]]]:
    """The metric calls behind each page's first render (default arguments, loyalty scheme)."""
    from metrics import (
        activity,
        churn,
        clv,
        demographics,
        engagement,
        kpis,
        lifecycle,
        repeat,
        retention,
        segments,
        trends,
    )

    return {
        "executive": [
            ("kpi_summary", kpis.kpi_summary), ("frequency_bands", kpis.frequency_bands),
            ("segment_summary", lambda e, f: segments.segment_summary(e, f, "loyalty")),
            ("segment_country_matrix", lambda e, f: segments.segment_country_matrix(e, f, "loyalty")),
        ],
        "engagement": [
            ("kpis", kpis.kpis),
            ("monthly_active_customers", lambda e, f: activity.monthly_active_customers(e, f, "loyalty")),
            ("trend_by_segment", lambda e, f: trends.trend_by_segment(e, f, "orders", "month", "loyalty")),
            ("heatmap_year_month", activity.activity_heatmap_year_month),
            ("heatmap_weekday_hour", activity.activity_heatmap_weekday_hour),
            ("engagement_by_segment", lambda e, f: engagement.engagement_by_segment(e, f, "loyalty")),
            ("prospects_summary", engagement.prospects_summary),
            ("cart_abandoners", engagement.cart_abandoners),
            ("cohort_retention", retention.cohort_retention),
        ],
        "risk": [
            ("kpis", kpis.kpis), ("churn_model_summary", churn.churn_model_summary),
            ("churn_bands", churn.churn_bands),
            ("churn_by_segment", lambda e, f: churn.churn_by_segment(e, f, "loyalty")),
            ("customer_action_table", churn.customer_action_table),
            ("fitted_vs_actual", churn.fitted_vs_actual),
            ("segment_summary", lambda e, f: segments.segment_summary(e, f, "loyalty")),
        ],
        "loyalty": [
            ("kpis", kpis.kpis),
            ("segment_summary", lambda e, f: segments.segment_summary(e, f, "loyalty")),
            ("segment_summary (previous)", lambda e, f: segments.segment_summary(e, f.previous(), "loyalty")),
            ("new_repeat_summary", repeat.new_repeat_summary),
            ("trend", lambda e, f: trends.trend(e, f, "revenue", "month")),
            ("trend_by_segment", lambda e, f: trends.trend_by_segment(e, f, "orders", "month", "loyalty")),
            ("clv_summary", clv.clv_summary),
            ("clv_by_segment", lambda e, f: clv.clv_by_segment(e, f, "loyalty")),
            ("clv_model_summary", clv.clv_model_summary),
        ],
        "segmentation": [
            ("kpis", kpis.kpis), ("demographics", demographics.demographics),
            ("income_spending_points", demographics.income_spending_points),
            ("engagement_by_segment", lambda e, f: engagement.engagement_by_segment(e, f, "income_spending")),
            ("lifecycle_by_month", lifecycle.lifecycle_by_month),
            ("monthly_retention", retention.monthly_retention),
            ("trend_by_segment", lambda e, f: trends.trend_by_segment(e, f, "orders", "month", "income_spending")),
        ],
    }


#: DuckDB's memory limit in this benchmark (its default, 80 % of RAM, is unfriendly on a shared machine).
DUCKDB_MEMORY_LIMIT = "6GB"


def duckdb_engine(folder: str, validate: bool = True) -> Engine:
    engine = Engine(Settings(data_dir=folder, cache_dir="off"), validate=False)
    engine.con.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    if validate:
        from metrics.contract import validate_tables

        validate_tables(engine.tables, engine.execute)
    return engine


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


# ----- how much the grouping shrinks the model input ------------------------------------------------------
def group_counts(size: str) -> dict[str, Any]:
    """Customers vs distinct BTYD rows on the full date range (counted by DuckDB)."""
    from metrics.models.inputs import btyd_groups, spend_inputs
    from metrics.population import customer_mart

    engine = duckdb_engine(str(ensure_data(ROOT / "benchmarks" / f"data-{size}", SIZES[size])), validate=False)
    filters = Filters(*engine.date_bounds())
    progress(f"groups at {size}")
    seconds, groups = timed(lambda: btyd_groups(engine, filters, "week"))
    mart = customer_mart(engine, filters)
    whole_weeks = mart.group_by(
        mart.frequency, weeks_span=mart.span_days // 7, weeks_tenure=mart.tenure_days // 7).aggregate(n=mart.count())
    repeat_only = mart.filter(mart.frequency > 0)
    spend = spend_inputs(engine, filters)
    return {
        "size": size, "orders": SIZES[size],
        "customers": int(groups.customers.sum()),
        "repeat_buyers": int(engine.execute(repeat_only.count())),
        # what the models fit: (x, t_x, T) in whole days; weeks are days / 7, so the same rows
        "groups_weeks": len(groups), "groups_days": len(btyd_groups(engine, filters, "day")),
        # for comparison: recency and age cut to whole weeks (not what the app fits)
        "groups_whole_weeks": int(engine.execute(whole_weeks.count())),
        "one_time_buyer_groups": int((groups.frequency == 0).sum()),
        "spend_rows": len(spend.groups), "spend_buyers": spend.repeat_buyers,
        "group_seconds_duckdb": seconds,
    }


# ----- Spark vs DuckDB per page ---------------------------------------------------------------------------
def time_pages(engine: Engine, filters: Filters, pages: list[str], runs: int) -> list[dict[str, Any]]:
    metrics = page_metrics()
    rows = []
    for page in pages:
        totals, per_call = [], {name: [] for name, _ in metrics[page]}
        for _ in range(runs):
            engine.cache.clear()
            started = time.perf_counter()
            for name, call in metrics[page]:
                seconds, _ = timed(lambda call=call: call(engine, filters))
                per_call[name].append(seconds)
                progress(f"{engine.backend_name} {page} {name}: {seconds:.2f} s")
            totals.append(time.perf_counter() - started)
        rows.append({"page": page, "runs": runs, "min_s": min(totals), "median_s": statistics.median(totals),
                     "calls": {name: statistics.median(v) for name, v in per_call.items()}})
    return rows


def compare(size: str, pages: list[str], runs: int, master: str, spark: bool = True) -> dict[str, Any]:
    folder = str(ensure_data(ROOT / "benchmarks" / f"data-{size}", SIZES[size]))
    out: dict[str, Any] = {"size": size, "orders": SIZES[size], "pages": {}}

    open_s, duck = timed(lambda: duckdb_engine(folder))
    filters = Filters(*duck.date_bounds())
    out["filters"] = filters.to_query()
    out["duckdb_open_s"] = open_s
    duck_rows = time_pages(duck, filters, pages, runs)
    if not spark:
        out["pages"] = {d["page"]: {"duckdb": d} for d in duck_rows}
        return out

    from metrics.spark import spark_session

    out["spark_start_s"], session = timed(lambda: spark_session(Settings(backend="spark", spark_master=master)))
    out["spark_driver_memory"] = session.sparkContext.getConf().get("spark.driver.memory")
    out["spark_open_validated_s"], spark_engine = timed(
        lambda: Engine(Settings(data_dir=folder, backend="spark", spark_master=master, cache_dir="off")))
    spark_engine.execute(spark_engine.orders.count())  # first query (JIT warm-up) outside the page timings
    spark_rows = time_pages(spark_engine, filters, pages, runs)
    for d, s in zip(duck_rows, spark_rows, strict=True):
        out["pages"][d["page"]] = {"duckdb": d, "spark": s}
    return out


def print_tables(groups: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> None:
    if groups:
        print("\nBTYD model input: customers vs distinct rows (full date range)")
        print(f"{'orders':>10} {'customers':>10} {'repeat':>9} {'rows d/w':>9} {'% of cust':>9} "
              f"{'whole-wk':>9} {'spend rows':>10} {'/ buyers':>9} {'group s':>8}")
        for g in groups:
            print(f"{g['orders']:>10,} {g['customers']:>10,} {g['repeat_buyers']:>9,} {g['groups_days']:>9,} "
                  f"{g['groups_days'] / max(g['customers'], 1):>9.1%} {g['groups_whole_weeks']:>9,} "
                  f"{g['spend_rows']:>10,} {g['spend_buyers']:>9,} {g['group_seconds_duckdb']:>8.2f}")
    for c in comparisons:
        if "spark_start_s" not in c:
            print(f"\nPage metrics at {c['orders']:,} orders on DuckDB only, empty cache each run "
                  f"({c['filters']}); open + validate {c['duckdb_open_s']:.2f} s")
            for page, pair in c["pages"].items():
                print(f"  {page:<14} median {pair['duckdb']['median_s']:.2f} s")
            continue
        print(f"\nPage metrics at {c['orders']:,} orders, empty cache each run ({c['filters']})")
        print(f"  DuckDB open + validate {c['duckdb_open_s']:.2f} s; Spark ({c['spark_driver_memory']} driver) "
              f"start {c['spark_start_s']:.1f} s, open + validate {c['spark_open_validated_s']:.1f} s")
        print(f"  {'page':<14} {'DuckDB median s':>16} {'Spark median s':>15} {'Spark / DuckDB':>15}")
        for page, pair in c["pages"].items():
            d, s = pair["duckdb"]["median_s"], pair["spark"]["median_s"]
            print(f"  {page:<14} {d:>16.2f} {s:>15.2f} {s / d:>15.1f}")
        heaviest = max(c["pages"], key=lambda p: c["pages"][p]["duckdb"]["median_s"])
        print(f"  heaviest page on DuckDB: {heaviest}; per call (median s, DuckDB / Spark):")
        for name, d in c["pages"][heaviest]["duckdb"]["calls"].items():
            print(f"    {name:<28} {d:>7.2f} {c['pages'][heaviest]['spark']['calls'][name]:>7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m", help="sizes timed on both engines (100k, 1m, 10m)")
    parser.add_argument("--duckdb-sizes", default="", help="sizes timed on DuckDB only (e.g. 10m)")
    parser.add_argument("--group-sizes", default="1m,10m", help="sizes whose BTYD group counts are measured")
    parser.add_argument("--pages", default="executive,engagement,risk,loyalty,segmentation")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--skip-missing", action="store_true", help="skip sizes whose data is not generated yet")
    args = parser.parse_args(argv)

    def wanted(spec: str) -> list[str]:
        sizes = [s for s in spec.split(",") if s]
        if args.skip_missing:
            sizes = [s for s in sizes if (ROOT / "benchmarks" / f"data-{s}" / "fact_orders").exists()]
        return sizes

    pages = [p for p in args.pages.split(",") if p]
    groups = []
    for size in wanted(args.group_sizes):
        groups.append(group_counts(size))
        print_tables(groups[-1:], [])
    comparisons = []
    for size, spark in [(s, False) for s in wanted(args.duckdb_sizes)] + [(s, True) for s in wanted(args.sizes)]:
        comparisons.append(compare(size, pages, args.runs, args.master, spark=spark))
        print_tables([], comparisons[-1:])

    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"spark-vs-duckdb-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({
        "machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
        "master": args.master, "duckdb_memory_limit": DUCKDB_MEMORY_LIMIT, "groups": groups, "comparisons": comparisons,
    }, indent=2, default=str))
    print(f"\nwrote {path.relative_to(ROOT)}")
    from metrics.spark import stop_spark

    stop_spark()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
