"""Pages at scale: cold and warm seconds per page against plain SQL and plain pandas, and memory over many states.

    python benchmarks/scale_benchmark.py --orders 1000000 --json /tmp/scale-1m.json
    python benchmarks/scale_benchmark.py --orders 10000000 --runs 2 --rss-states 40

For each state — ``default`` (trailing 12 months), ``all`` (all data) and ``narrow`` (the last full calendar
year, Prime, the two countries with most customers):

- every data page opened cold (app callbacks replayed in-process; result cache and rendered responses
  emptied, shared cache off; the data's purchase-model choice is kept, it is made once per data, and
  with it the whole data's customer-month table of all customers: ``once_per_data_s`` is its time; the
  compiled query shapes are kept, as in a running server, and counted in ``query_shapes``) and then warm
  (opened again);
- the **Executive aggregates** three ways, alternating within each run: the product's own functions from
  a cold cache, plain hand-written DuckDB SQL over the same Parquet (no Ibis, no product code:
  ``sql_baseline_s``) and plain pandas re-reading the Parquet (``pandas_s``). The aggregates are the KPI
  set of the range and of the prior range without the model-based at-risk rate, the frequency bands, the
  loyalty tier counts (RFM quintiles and the tier rules) and the segment × country matrix. The three
  results are checked against each other (tier counts and KPI totals), so the baselines do the same work;
- ``peak_rss_mb``: a separate process opens every page for ``--rss-states`` heavy states (trailing-12-month
  windows over all customers ending on different dates) and reports its peak RSS after 20 and after 40.

Writes JSON (``--json``, default ``benchmarks/results/scale-<time>.json``) with the raw numbers and a
``summary``: per state ``exec_over_sql``, ``pandas_over_product``, ``six_pages_over_sql`` (every data page in
sequence, cold, over the SQL baseline), ``heaviest_over_exec`` and ``warm_max_s``, plus ``peak_rss_mb_20`` and
``peak_rss_mb_40``. Ratios come from one run on one machine; absolute times are context only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import ensure_data, machine_info, write_result  # noqa: E402 (benchmarks/common.py)

KPI_NAMES = ("customers", "orders", "revenue", "aov", "ltv", "repeat_purchase_rate", "prime_share",
             "active_rate_30d", "new_customers")
BANDS = ((1, 1, "1"), (2, 3, "2-3"), (4, 5, "4-5"), (6, 10**9, "6+"))


def _label(orders: int) -> str:
    return f"{orders // 1_000_000}m" if orders >= 1_000_000 else f"{orders // 1000}k"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----- the states --------------------------------------------------------------------------------------------

def states(engine: Any) -> dict[str, Any]:
    from metrics.filters import Filters
    from metrics.selection import default_filters

    lo, hi = engine.date_bounds()
    year = hi.year - 1 if hi < date(hi.year, 12, 31) else hi.year
    c = engine.customers
    top = engine.execute(c.group_by("country").aggregate(n=c.count()).order_by([c.country]))
    countries = tuple(top.sort_values(["n", "country"], ascending=[False, True]).country.head(2))
    return {"default": default_filters(engine), "all": Filters(lo, hi),
            "narrow": Filters(max(lo, date(year, 1, 1)), min(hi, date(year, 12, 31)), "Prime", countries)}


# ----- the three ways to compute the Executive aggregates -------------------------------------------------

def product_aggregates(engine: Any, filters: Any) -> dict[str, Any]:
    from metrics.measures.kpis import frequency_bands
    from metrics.measures.registry import measure_values
    from metrics.segments.tables import segment_country_matrix, segment_summary

    tiers = segment_summary(engine, filters, "loyalty")
    return {"kpis": measure_values(engine, filters, KPI_NAMES),
            "previous": measure_values(engine, filters.previous(), KPI_NAMES),
            "bands": frequency_bands(engine, filters),
            "tiers": dict(zip(tiers.segment, tiers.customers.astype(int), strict=True)),
            "matrix": segment_country_matrix(engine, filters, "loyalty")}


_SQL_MART = """
WITH o AS (
  SELECT o.customer_id, o.net_revenue, CAST(o.order_ts AS DATE) AS day, c.country, c.is_prime
  FROM read_parquet($orders) o JOIN read_parquet($customers) c USING (customer_id)
  WHERE NOT o.is_returned AND NOT o.is_cancelled AND o.date_key BETWEEN $lo AND $hi {customer_filter}
), first_ever AS (
  SELECT customer_id, MIN(CAST(order_ts AS DATE)) AS first_day FROM read_parquet($orders)
  WHERE NOT is_returned AND NOT is_cancelled GROUP BY customer_id
), mart AS (
  SELECT o.customer_id, ANY_VALUE(o.country) AS country, BOOL_OR(o.is_prime) AS is_prime, COUNT(*) AS orders,
         ROUND(SUM(o.net_revenue), 2) AS revenue, DATE_DIFF('day', MAX(o.day), $as_of::DATE) AS recency,
         MAX(o.day) AS last_day, ANY_VALUE(f.first_day) AS first_day
  FROM o JOIN first_ever f USING (customer_id) GROUP BY o.customer_id
)
"""

_SQL_KPIS = _SQL_MART + """
SELECT COUNT(*) AS customers, SUM(orders) AS orders, SUM(revenue) AS revenue,
       SUM(CASE WHEN orders >= 2 THEN 1 ELSE 0 END) AS repeat_customers,
       SUM(CASE WHEN is_prime THEN 1 ELSE 0 END) AS prime, SUM(CASE WHEN recency < 30 THEN 1 ELSE 0 END) AS active,
       SUM(CASE WHEN first_day >= $start::DATE THEN 1 ELSE 0 END) AS new_customers
FROM mart
"""

_SQL_SEGMENTS = _SQL_MART + """
, scored AS (
  SELECT *, NTILE(5) OVER (ORDER BY recency DESC, customer_id) AS r,
            NTILE(5) OVER (ORDER BY orders, customer_id) AS f,
            NTILE(5) OVER (ORDER BY revenue, customer_id) AS m
  FROM mart
), labelled AS (
  SELECT *, CASE WHEN r >= 4 AND m >= 4 THEN 'Top Tier' WHEN r >= 3 AND f <= 3 AND m >= 3 THEN 'Promising'
                 WHEN r <= 2 AND f <= 2 THEN 'Hibernating' ELSE 'At-Risk' END AS tier,
            CASE WHEN orders = 1 THEN '1' WHEN orders <= 3 THEN '2-3' WHEN orders <= 5 THEN '4-5' ELSE '6+' END AS band
  FROM scored
)
SELECT tier, country, band, COUNT(*) AS customers, SUM(orders) AS orders, SUM(revenue) AS revenue,
       SUM(CASE WHEN orders >= 2 THEN 1 ELSE 0 END) AS repeat_customers
FROM labelled GROUP BY ALL
"""


def _sql_params(data_dir: Path, filters: Any) -> tuple[dict[str, Any], str]:
    params: dict[str, Any] = {
        "orders": str(data_dir / "fact_orders" / "*.parquet"),
        "customers": str(data_dir / "dim_customer" / "*.parquet"),
        "lo": int(filters.start.strftime("%Y%m%d")), "hi": int(filters.end.strftime("%Y%m%d")),
        "as_of": filters.end.isoformat(), "start": filters.start.isoformat()}
    clauses = []
    if filters.prime != "All":
        params["prime"] = filters.prime == "Prime"
        clauses.append("AND c.is_prime = $prime")
    if filters.countries:
        params["countries"] = list(filters.countries)
        clauses.append("AND list_contains($countries, c.country)")
    return params, " ".join(clauses)


def sql_aggregates(data_dir: Path, filters: Any) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    out: dict[str, Any] = {}
    for key, state in (("kpis", filters), ("previous", filters.previous())):
        params, where = _sql_params(data_dir, state)
        used = {k: v for k, v in params.items() if f"${k}" in _SQL_KPIS.format(customer_filter=where)}
        out[key] = con.execute(_SQL_KPIS.format(customer_filter=where), used).df()
    params, where = _sql_params(data_dir, filters)
    query = _SQL_SEGMENTS.format(customer_filter=where)
    cells = con.execute(query, {k: v for k, v in params.items() if f"${k}" in query}).df()
    out["tiers"] = cells.groupby("tier").customers.sum().astype(int).to_dict()
    out["bands"] = cells.groupby("band")[["customers", "orders", "revenue"]].sum()
    out["matrix"] = cells.groupby(["tier", "country"])[["customers", "orders", "revenue", "repeat_customers"]].sum()
    con.close()
    return out


def pandas_aggregates(data_dir: Path, filters: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    orders = pd.read_parquet(data_dir / "fact_orders", columns=[
        "customer_id", "order_ts", "date_key", "net_revenue", "is_returned", "is_cancelled"])
    customers = pd.read_parquet(data_dir / "dim_customer", columns=["customer_id", "country", "is_prime"])
    valid = orders[~orders.is_returned & ~orders.is_cancelled]
    first_ever = valid.groupby("customer_id").order_ts.min().dt.normalize()

    def mart(state: Any) -> pd.DataFrame:
        lo, hi = int(state.start.strftime("%Y%m%d")), int(state.end.strftime("%Y%m%d"))
        o = valid[(valid.date_key >= lo) & (valid.date_key <= hi)].merge(customers, on="customer_id")
        if state.prime != "All":
            o = o[o.is_prime == (state.prime == "Prime")]
        if state.countries:
            o = o[o.country.isin(state.countries)]
        per = o.groupby("customer_id").agg(country=("country", "first"), is_prime=("is_prime", "first"),
                                          orders=("net_revenue", "size"), revenue=("net_revenue", "sum"),
                                          last_ts=("order_ts", "max"))
        per["revenue"] = per.revenue.round(2)
        per["recency"] = (pd.Timestamp(state.end) - per.last_ts.dt.normalize()).dt.days
        per["first_day"] = first_ever.reindex(per.index)
        return per.reset_index()

    def kpis(per: pd.DataFrame, state: Any) -> dict[str, float]:
        return {"customers": len(per), "orders": int(per.orders.sum()), "revenue": float(per.revenue.sum()),
                "repeat_customers": int((per.orders >= 2).sum()), "prime": int(per.is_prime.sum()),
                "active": int((per.recency < 30).sum()),
                "new_customers": int((per.first_day >= pd.Timestamp(state.start)).sum())}

    per = mart(filters)
    out: dict[str, Any] = {"kpis": kpis(per, filters), "previous": kpis(mart(filters.previous()), filters.previous())}
    n = len(per)

    def ntile(frame: pd.DataFrame, by: list[str], ascending: list[bool]) -> np.ndarray:
        order = frame.sort_values(by, ascending=ascending, kind="stable").index.to_numpy()
        scores = np.empty(n, dtype=int)
        q, extra = divmod(n, 5)  # NTILE(5): equal-count groups, the first `extra` one customer larger
        scores[order] = np.repeat(np.arange(1, 6), [q + (g < extra) for g in range(5)])
        return scores

    if n:
        r = ntile(per, ["recency", "customer_id"], [False, True])
        f = ntile(per, ["orders", "customer_id"], [True, True])
        m = ntile(per, ["revenue", "customer_id"], [True, True])
        tier = np.select([(r >= 4) & (m >= 4), (r >= 3) & (f <= 3) & (m >= 3), (r <= 2) & (f <= 2)],
                         ["Top Tier", "Promising", "Hibernating"], "At-Risk")
        per["tier"] = tier
    else:
        per["tier"] = []
    per["band"] = pd.cut(per.orders, [0, 1, 3, 5, np.inf], labels=["1", "2-3", "4-5", "6+"])
    out["tiers"] = per.groupby("tier").size().astype(int).to_dict()
    out["bands"] = per.groupby("band", observed=True)[["orders", "revenue"]].sum()
    per["repeat"] = per.orders >= 2
    out["matrix"] = per.groupby(["tier", "country"]).agg(customers=("customer_id", "size"),
                                                         orders=("orders", "sum"), revenue=("revenue", "sum"),
                                                         repeat_customers=("repeat", "sum"))
    return out


def _check_same(product: dict[str, Any], sql: dict[str, Any], pandas_out: dict[str, Any]) -> None:
    """The three computed the same aggregates (so the baselines did the product's work)."""
    tiers = {k: v for k, v in product["tiers"].items() if v}
    assert tiers == {k: v for k, v in sql["tiers"].items() if v} == pandas_out["tiers"], (tiers, sql["tiers"])
    assert int(product["kpis"]["customers"]) == int(sql["kpis"].customers.iloc[0]) == pandas_out["kpis"]["customers"]
    assert int(product["kpis"]["orders"]) == int(sql["kpis"].orders.iloc[0]) == pandas_out["kpis"]["orders"]


# ----- pages ---------------------------------------------------------------------------------------------------

def _site():
    import app
    from service.replay import InProcessClient, learn_site

    client = InProcessClient(app.server)
    from service.replay import data_pages

    return client, learn_site(client, list(data_pages()))


def open_pages(client: Any, site: Any, filters: Any) -> dict[str, float]:
    from service.replay import data_pages, filter_request, page_callbacks

    query = filter_request(client, site, filters.to_query(), None, "url.search")
    out = {}
    for page in data_pages():
        started = time.perf_counter()
        page_callbacks(client, site, page, query)
        out[page] = time.perf_counter() - started
    return out


def _keep_choice(engine: Any) -> None:
    from metrics.models.choice import model_choice

    model_choice(engine)


def run_state(engine: Any, client: Any, site: Any, data_dir: Path, name: str, filters: Any, runs: int
              ) -> dict[str, Any]:
    product_s, sql_s, pandas_s = [], [], []
    for run in range(runs):
        order = ("product", "sql", "pandas")[run % 3:] + ("product", "sql", "pandas")[:run % 3]
        results = {}
        for approach in order:
            engine.cache.clear()
            _keep_choice(engine)
            started = time.perf_counter()
            if approach == "product":
                results[approach] = product_aggregates(engine, filters)
                product_s.append(time.perf_counter() - started)
            elif approach == "sql":
                results[approach] = sql_aggregates(data_dir, filters)
                sql_s.append(time.perf_counter() - started)
            else:
                results[approach] = pandas_aggregates(data_dir, filters)
                pandas_s.append(time.perf_counter() - started)
        _check_same(results["product"], results["sql"], results["pandas"])
    cold, warm, once = [], [], []
    for _ in range(runs):
        engine.cache.clear()
        started = time.perf_counter()
        _keep_choice(engine)
        once.append(time.perf_counter() - started)
        cold.append(open_pages(client, site, filters))
        warm.append(open_pages(client, site, filters))
    pages = list(cold[0])
    out = {
        "filters": filters.to_query(), "product_exec_s": statistics.median(product_s),
        "sql_baseline_s": statistics.median(sql_s), "pandas_s": statistics.median(pandas_s),
        "cold_s": {p: statistics.median(c[p] for c in cold) for p in pages},
        "warm_s": {p: statistics.median(w[p] for w in warm) for p in pages},
        # made once per data, before the cold pages: the purchase-model choice and what it computes on the
        # way (the whole data's customer-month table of all customers)
        "once_per_data_s": statistics.median(once),
    }
    out["all_pages_cold_s"] = sum(out["cold_s"].values())
    return out


def rss_child(data_dir: Path, n_states: int) -> dict[str, float]:
    """Open every page for ``n_states`` trailing-12-month states ending on different dates; peak RSS."""
    from metrics.filters import Filters
    from metrics.selection import year_before

    client, site = _site()
    from components.state import engine

    eng = engine()
    lo, hi = eng.date_bounds()
    out: dict[str, float] = {"start_mb": _rss_mb()}
    for i in range(n_states):
        end = hi - timedelta(days=9 * i)
        open_pages(client, site, Filters(max(lo, year_before(end) + timedelta(days=1)), end))
        if i + 1 in (20, 40) or i + 1 == n_states:
            out[f"peak_rss_mb_{i + 1}"] = _rss_mb()
            print(f"  {i + 1} states: peak RSS {_rss_mb():,.0f} MB", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--data-dir", help="data folder (default /tmp/bench-<size>, generated if missing)")
    parser.add_argument("--json", help="output JSON (default benchmarks/results/scale-<time>.json)")
    parser.add_argument("--runs", type=int, default=3, help="runs per state and approach (median)")
    parser.add_argument("--rss-states", type=int, default=40, help="heavy states of the memory run (0: skip)")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    data_dir = ensure_data(Path(args.data_dir or f"/tmp/bench-{_label(args.orders)}").resolve(), args.orders)
    os.environ["CUSTINTEL_DATA_DIR"] = str(data_dir)
    os.environ["CUSTINTEL_CACHE_DIR"] = "off"
    os.environ.pop("CUSTINTEL_AUTH", None)
    if args.rss_child:
        print(json.dumps(rss_child(data_dir, args.rss_states)))
        return 0

    client, site = _site()
    from components.state import engine

    eng = engine()
    result: dict[str, Any] = {"orders": args.orders, "data_dir": str(data_dir), "states": {}}
    for name, filters in states(eng).items():
        r = run_state(eng, client, site, data_dir, name, filters, args.runs)
        result["states"][name] = r
        print(f"{name:>8}: exec product {r['product_exec_s']:.2f} s, SQL {r['sql_baseline_s']:.2f} s, pandas "
              f"{r['pandas_s']:.2f} s; pages cold " + ", ".join(f"{p} {s:.2f}" for p, s in r["cold_s"].items())
              + f" (all {r['all_pages_cold_s']:.2f} s); warm max {max(r['warm_s'].values()):.3f} s", flush=True)
    # cold = result cache and rendered responses empty; compiled query shapes are kept, as in a running
    # server (the first state's first run compiles them): CUSTINTEL_QUERY_SHAPES=off measures without
    shapes = eng.shapes
    result["query_shapes"] = {"on": shapes is not None, "compiled": shapes.misses if shapes else 0,
                              "reused": shapes.hits if shapes else 0}
    if args.rss_states:
        child = subprocess.run([sys.executable, __file__, "--orders", str(args.orders), "--data-dir", str(data_dir),
                                "--rss-states", str(args.rss_states), "--rss-child"],
                               capture_output=True, text=True, check=True)
        result["rss"] = json.loads(child.stdout.strip().splitlines()[-1])
    summary: dict[str, Any] = {}
    for name, r in result["states"].items():
        summary[name] = {
            "exec_over_sql": r["product_exec_s"] / r["sql_baseline_s"],
            "pandas_over_product": r["pandas_s"] / r["product_exec_s"],
            "six_pages_over_sql": r["all_pages_cold_s"] / r["sql_baseline_s"],
            "heaviest_over_exec": max(r["cold_s"].values()) / r["cold_s"]["/"],
            "warm_max_s": max(r["warm_s"].values()),
        }
    if "rss" in result:
        summary["peak_rss_mb_20"] = result["rss"].get("peak_rss_mb_20")
        summary["peak_rss_mb_40"] = result["rss"].get("peak_rss_mb_40")
    result["summary"] = summary
    result["machine"] = machine_info()
    print(json.dumps(summary, indent=2))
    path = write_result("scale", result, args.json)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
