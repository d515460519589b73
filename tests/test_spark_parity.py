"""The same metric code on DuckDB and on Spark gives the same answers.

Every public metric function of ``metrics/`` runs on a DuckDB engine and on a Spark engine (local[2],
started once per test session) over the same generated data, for several filter states, and the results
must match: exactly for counts, labels and dates, to 1e-9 relative for money and ratios, and segment labels
per customer identically. A guard test fails when a new metric function is not in :data:`CASES`, so the
list grows with the modules.

Skipped when pyspark or Java is missing (``pip install .[spark]``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

import metrics
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.models.inputs import months_back
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rules import SCHEMES
from metrics.settings import Settings
from tests.spark_support import assert_same_value, spark_engine_for

pytest_plugins = ["tests.spark_support"]  # fixtures: spark_app, spark_engine, duckdb_twin, parity_dir
pytestmark = pytest.mark.spark

Case = Callable[[Engine, Filters], Any]


def _optional(module: str) -> Any:
    """A metric module, or None while it has not landed yet."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _cases() -> dict[str, Case]:
    from metrics import population
    from metrics.grains import GRAINS
    from metrics.mart import measured_mart, stored_mart
    from metrics.measures import kpis
    from metrics.measures import registry as measures
    from metrics.population import customer_mart_frame
    from metrics.segments import tables as segments

    cases: dict[str, Case] = {
        # the customer mart itself, every column, one row per customer (ordered by customer_id)
        "customer_mart": lambda e, f: customer_mart_frame(e, f),
        "kpis": kpis.kpis,
        "customer_kpis": kpis.customer_kpis,
        "kpi_summary": kpis.kpi_summary,
        "frequency_bands": kpis.frequency_bands,
        # every RFM score and every scheme's label, per customer
        "labelled_mart": lambda e, f: e.execute(population.customer_mart(e, f).order_by("customer_id")),
        # the stored mart: measures and RFM scores, one row per customer of the scope
        "stored_mart": lambda e, f: e.execute(stored_mart(e, f).order_by("customer_id")),
        "measured_mart": lambda e, f: e.execute(measured_mart(e, f).order_by("customer_id")),
    }
    # the labelled mart holds every scheme's label per customer; customer_segments selects one of them
    cases["customer_segments[rfm]"] = (
        lambda e, f: e.execute(population.customer_segments(e, f, "rfm").order_by("customer_id")))
    for scheme in SCHEMES:
        cases[f"segment_summary[{scheme}]"] = lambda e, f, s=scheme: segments.segment_summary(e, f, s)
        cases[f"segment_country_matrix[{scheme}]"] = lambda e, f, s=scheme: segments.segment_country_matrix(e, f, s)
    cases["segment_summary_with_change[loyalty]"] = (
        lambda e, f: segments.segment_summary_with_change(e, f, "loyalty"))

    # every measure of the registry: for the range, per segment, per period and per period and segment
    plain = tuple(n for n, m in measures.MEASURES.items() if m.kind != "model")
    per_period = tuple(n for n, m in measures.MEASURES.items() if m.trend)
    cases["measure_frame[all]"] = lambda e, f: measures.measure_frame(e, f, plain)
    cases["measure_frame[segment,loyalty]"] = lambda e, f: measures.measure_frame(
        e, f, tuple(n for n in plain if measures.MEASURES[n].segment_meaning), scheme="loyalty")
    cases["measure_frame[month]"] = lambda e, f: measures.measure_frame(e, f, per_period, "month")
    cases["segment_details[loyalty]"] = lambda e, f: segments.segment_details(e, f, "loyalty").astype(
        {c: "float64" for c in segments.segment_details(e, f, "loyalty").columns if c.endswith("_change")})
    cases["audience[loyalty,At-Risk]"] = lambda e, f: segments.audience(e, f, "loyalty", "At-Risk")
    cases["audience_preview[loyalty,At-Risk]"] = (
        lambda e, f: segments.audience_preview(e, f, "loyalty", "At-Risk", 25)["rows"])
    if trends := _optional("metrics.measures.trends"):
        for grain in GRAINS:
            cases[f"period_sales[{grain}]"] = lambda e, f, g=grain: trends.period_sales(e, f, g)
        for metric in ("revenue", "repeat_purchase_rate", "avg_repeat_interval_days", "potential_customers"):
            cases[f"trend[{metric}]"] = lambda e, f, m=metric: trends.trend(e, f, m, "month")
        for metric in ("repeat_sales", "aov"):
            cases[f"trend_by_segment[{metric},week,rfm]"] = (
                lambda e, f, m=metric: trends.trend_by_segment(e, f, m, "week", "rfm"))
        cases["trend_by_segment[orders,quarter,loyalty]"] = (
            lambda e, f: trends.trend_by_segment(e, f, "orders", "quarter", "loyalty"))
    if activity := _optional("metrics.measures.activity"):
        for measure in activity.HEATMAP_MEASURES:
            cases[f"activity_heatmap_year_month[{measure}]"] = (
                lambda e, f, m=measure: activity.activity_heatmap_year_month(e, f, m))
            cases[f"activity_heatmap_weekday_hour[{measure}]"] = (
                lambda e, f, m=measure: activity.activity_heatmap_weekday_hour(e, f, m))
        for scheme in ("loyalty", "behaviour"):
            cases[f"monthly_active_customers[{scheme}]"] = (
                lambda e, f, s=scheme: activity.monthly_active_customers(e, f, s))
    if engagement := _optional("metrics.measures.engagement"):
        for scheme in ("loyalty", "income_spending"):
            cases[f"engagement_by_segment[{scheme}]"] = (
                lambda e, f, s=scheme: engagement.engagement_by_segment(e, f, s))
        cases["prospects_summary"] = engagement.prospects_summary
        cases["cart_abandoners"] = lambda e, f: engagement.cart_abandoners(e, f, 50)
        cases["recent_cart_abandoners"] = lambda e, f: engagement.recent_cart_abandoners(e, f, 50)
    if lifecycle := _optional("metrics.segments.lifecycle"):
        cases["lifecycle_by_month"] = lifecycle.lifecycle_by_month
    if repeat := _optional("metrics.measures.repeat"):
        cases["new_repeat_summary"] = repeat.new_repeat_summary
        # delta_pct holds None where there is no previous value: compared as floats (None -> NaN)
        cases["new_repeat_summary_with_change"] = (
            lambda e, f: repeat.new_repeat_summary_with_change(e, f).astype({"delta_pct": "float64"}))
    if demographics := _optional("metrics.measures.demographics"):
        for dimension in demographics.DIMENSIONS:
            cases[f"demographics[{dimension}]"] = (
                lambda e, f, d=dimension: demographics.demographics(e, f, d))
        # fewer points than customers, so the engine-side hash sample is exercised
        cases["income_spending_points"] = lambda e, f: demographics.income_spending_points(e, f, 300, 1)
        cases["income_spending_medians"] = demographics.income_spending_medians
        cases["quadrant_summary"] = demographics.quadrant_summary
    if churn := _optional("metrics.models.churn"):
        cases["customer_churn"] = lambda e, f: e.execute(churn.customer_churn(e, f).order_by("customer_id"))
        cases["churn_model_summary"] = churn.churn_model_summary
        cases["churn_bands"] = churn.churn_bands
        cases["at_risk_rate"] = churn.at_risk_rate
        cases["mean_churn_risk"] = churn.mean_churn_risk
        cases["churn_by_segment[loyalty]"] = lambda e, f: churn.churn_by_segment(e, f, "loyalty")
        cases["customer_action_table"] = lambda e, f: churn.customer_action_table(e, f, 100)
        cases["fitted_vs_actual"] = churn.fitted_vs_actual
        cases["p_alive_matrix"] = churn.p_alive_matrix
        for key in ("bgnbd", "mbgnbd", "pareto_nbd"):  # every model of the family, picked in the state
            cases[f"churn_by_segment[loyalty,{key}]"] = (
                lambda e, f, k=key: churn.churn_by_segment(e, f.with_model(k), "loyalty"))
    if clv := _optional("metrics.models.clv"):
        cases["customer_clv"] = lambda e, f: e.execute(clv.customer_clv(e, f).order_by("customer_id"))
        cases["clv_summary"] = clv.clv_summary
        cases["clv_by_segment[rfm]"] = lambda e, f: clv.clv_by_segment(e, f, "rfm")
        cases["clv_model_summary"] = clv.clv_model_summary
        cases["segment_clv[loyalty]"] = lambda e, f: clv.segment_clv(e, f, "loyalty")
    if monthly := _optional("metrics.segments.monthly"):  # month-end labels (their scores: monthly_scores)
        for scheme in ("loyalty", "income_spending"):
            cases[f"segment_sizes_by_month[{scheme}]"] = (
                lambda e, f, s=scheme: monthly.segment_sizes_by_month(e, f, s))
    if churn_trend := _optional("metrics.segments.churn_trend"):
        cases["churn_risk_by_month[loyalty]"] = lambda e, f: churn_trend.churn_risk_by_month(e, f, "loyalty")
    if clv_audiences := _optional("metrics.segments.clv_audiences"):
        cases["segment_clv_audience[loyalty]"] = (
            lambda e, f: clv_audiences.segment_clv_audience(e, f, "loyalty", "Top Tier", "Declining", 50))
    if retention := _optional("metrics.measures.retention"):
        cases["monthly_retention"] = retention.monthly_retention
        cases["monthly_retention[behaviour]"] = lambda e, f: retention.monthly_retention(e, f, "behaviour")
        cases["cohort_retention"] = lambda e, f: retention.cohort_retention(e, f, 12)
    if customer := _optional("metrics.customer"):
        def busiest(e: Engine, f: Filters) -> int:
            """The selection's customer with the most orders (lowest id on ties); id 1 when empty."""
            mart = customer_mart_frame(e, f)
            ranked = mart.sort_values(["orders", "customer_id"], ascending=[False, True])
            return int(ranked.customer_id.iloc[0]) if len(ranked) else 1

        cases["customer_profile"] = lambda e, f: customer.customer_profile(e, f, busiest(e, f))
        cases["customer_orders"] = lambda e, f: customer.customer_orders(e, f, busiest(e, f))
        cases["customer_engagement"] = lambda e, f: customer.customer_engagement(e, f, busiest(e, f))
        cases["value_loyalty_points"] = lambda e, f: customer.value_loyalty_points(e, f, "rfm", 300, 1)
    if choice := _optional("metrics.models.choice"):
        cases["model_fit"] = choice.model_fit
        cases["holdout_tracking"] = choice.holdout_tracking
        cases["conditional_expectations"] = choice.conditional_expectations

        def holdout(e: Engine, f: Filters):
            """The check of a range ending 6 months before the state's end (there must be data after it)."""
            end = months_back(f.end, 6)
            return choice.holdout_check(e, replace(f, start=min(f.start, end), end=end))

        cases["holdout_check"] = holdout
    return cases


CASES = _cases()

#: Public functions that are not metrics of a filter state (helpers, registries), or that are covered
#: through another case (``trend`` is derived from ``period_sales``).
NOT_METRICS = {
    # building blocks compared through the cases built on them (the mart, the measures, churn and CLV;
    # the fitted models also in tests/test_spark_models.py)
    "metrics.population.labelled_mart", "metrics.mart.scope_mart", "metrics.selection.first_valid_orders",
    "metrics.selection.buyer_facts",
    "metrics.models.inputs.repeat_spend", "metrics.models.inputs.spend_inputs",
    "metrics.models.inputs.history_triples", "metrics.models.inputs.fit_model",
    "metrics.models.scores.customer_scores", "metrics.models.quality.evaluate_holdout",
    "metrics.models.choice.model_choice",
    "metrics.segments.monthly.monthly_scores",
}


def _filter_states(engine: Engine) -> dict[str, Filters]:
    lo, hi = engine.date_bounds()
    countries = engine.countries()
    mid = lo + (hi - lo) * 3 // 5
    return {
        "all": Filters(lo, hi),
        # a mid-week, mid-month start: partial first week/month, previous period inside the data
        "prime-2-countries": Filters(mid + timedelta(days=2 - mid.weekday() % 7), hi, "Prime",
                                     tuple(countries[:2])),
        "segment": Filters(lo, hi).with_focus("loyalty", SCHEME_LABELS["loyalty"][0]),
        "empty": Filters(lo, hi, countries=("Atlantis",)),
    }


#: Every case runs on these filter states ...
FULL_RUN_STATES = ("all", "prime-2-countries", "empty")
#: ... and these cases also under a segment filter (a semi-join on the labels, which every page uses).
SEGMENT_STATE_CASES = ("kpis", "frequency_bands", "segment_summary[rfm]", "customer_segments[rfm]",
                       "period_sales[month]", "monthly_active_customers[loyalty]", "new_repeat_summary",
                       "lifecycle_by_month", "engagement_by_segment[loyalty]", "measure_frame[month]",
                       "segment_details[loyalty]", "churn_by_segment[loyalty]")
RUNS = [(name, state) for state in FULL_RUN_STATES for name in CASES] + [
    (name, "segment") for name in SEGMENT_STATE_CASES if name in CASES]


@pytest.fixture(scope="module")
def filter_states(duckdb_twin: Engine) -> dict[str, Filters]:
    return _filter_states(duckdb_twin)


@pytest.mark.parametrize(("name", "state"), RUNS, ids=[f"{state}:{name}" for name, state in RUNS])
def test_metric_parity(name: str, state: str, duckdb_twin: Engine, spark_engine: Engine,
                       filter_states: dict[str, Filters]) -> None:
    filters = filter_states[state]
    expected = CASES[name](duckdb_twin, filters)
    actual = CASES[name](spark_engine, filters)
    assert_same_value(f"{name}@{state}", expected, actual)


def test_every_metric_function_is_compared() -> None:
    """Every memoised metric function of metrics/ appears in CASES (by name), so parity grows with
    the code: add a case when you add a metric."""
    covered = {name.split("[")[0] for name in CASES}
    missing = []
    for info in pkgutil.walk_packages(metrics.__path__, prefix="metrics."):
        if info.ispkg or info.name in {"metrics.spark", "metrics.engine"}:
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
                continue
            if hasattr(value, "uncached") and attr not in covered and f"{module.__name__}.{attr}" not in NOT_METRICS:
                missing.append(f"{module.__name__}.{attr}")
    assert not missing, f"metric functions without a Spark parity case: {missing}"


def test_two_spark_engines_keep_their_own_tables(spark_app, parity_dir, tmp_path, duckdb_twin) -> None:
    """Engines on the shared Spark application use separate sessions: a second engine over other data
    does not replace the first one's tables (they share view names like fact_orders)."""
    from tests.factory import day, write_dataset

    small = write_dataset(tmp_path / "small", customers=[{"customer_id": 1}],
                          orders=[{"customer_id": 1, "date": day("2022-03-01"), "net_revenue": 10.0}])
    first = spark_engine_for(parity_dir, spark_app, validate=False)
    second = spark_engine_for(small, spark_app)  # valid data passes the contract checks on Spark
    assert second.execute(second.orders.count()) == 1
    assert first.execute(first.orders.count()) == duckdb_twin.execute(duckdb_twin.orders.count())


def test_materialize_caches_on_spark(spark_engine: Engine) -> None:
    """On Spark the customer mart is cached on the cluster (Ibis ``cache()``), not pulled to the driver."""
    from metrics.mart import customer_mart_expr, scope_mart

    lo, hi = spark_engine.date_bounds()
    mart = scope_mart(spark_engine, Filters(lo, hi))
    assert mart.op().__class__.__name__ != "InMemoryTable"
    fresh = customer_mart_expr(spark_engine, Filters(lo, hi))
    assert spark_engine.execute(mart.count()) == spark_engine.execute(fresh.count())


def test_contract_violation_is_reported_on_spark(spark_app, tmp_path) -> None:
    """Validation runs on Spark too and names the table and column. The broken value is the one the
    last check looks at, so every check of the contract runs on Spark once."""
    import pandas as pd

    from metrics.contract import ContractError
    from tests.factory import day, write_dataset

    products = pd.DataFrame({"product_id": [1, 2], "product_name": ["Book", "Lamp"],
                             "category": ["Books", "Home & Kitchen"], "subcategory": ["Novels", "Lighting"],
                             "brand": ["Acme", "Lumo"], "list_price": [10.0, -40.0]})
    bad = write_dataset(tmp_path / "bad", customers=[{"customer_id": 1}],
                        orders=[{"customer_id": 1, "date": day("2022-03-01"), "net_revenue": 10.0}],
                        tables={"dim_product": products})
    with pytest.raises(ContractError, match=r"dim_product\.list_price"):
        spark_engine_for(bad, spark_app)


def test_missing_pyspark_message(monkeypatch) -> None:
    """Choosing Spark without pyspark installed says how to install it."""
    import builtins

    from metrics import spark as spark_module
    from metrics.settings import Settings

    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name.startswith("pyspark"):
            raise ImportError("No module named 'pyspark'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    monkeypatch.setattr(spark_module, "_BASE_SESSION", None)
    with pytest.raises(spark_module.SparkNotInstalledError, match=r"pip install \.\[spark\]"):
        spark_module.spark_session(Settings(backend="spark"))


def test_local_settings_stay_on_loopback() -> None:
    from metrics.settings import Settings
    from metrics.spark import spark_conf

    local = spark_conf(Settings(backend="spark"), "/tmp/x")
    assert local["spark.driver.bindAddress"] == local["spark.driver.host"] == "127.0.0.1"
    assert local["spark.ui.enabled"] == "false" and local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.sql.warehouse.dir"] == "/tmp/x/warehouse"
    assert local["spark.sql.shuffle.partitions"] == "2"  # one per core of local[2]
    assert local["spark.driver.memory"].endswith("g")  # not Spark's 1 GB default (fails at 1M orders)
    cluster = spark_conf(Settings(backend="spark", spark_master="spark://head:7077"), "/tmp/x")
    assert "spark.driver.bindAddress" not in cluster and "spark.sql.shuffle.partitions" not in cluster


def test_object_store_paths_pass_through() -> None:
    from metrics.engine import table_location

    assert table_location("s3a://bucket/custintel/", "fact_orders") == "s3a://bucket/custintel/fact_orders/*.parquet"


# ----- a tiny dataset built to hit the places where engines usually disagree ----------------------------
def edge_rows() -> tuple[list[dict], list[dict], list[dict]]:
    """Customers and orders on purpose: revenues equal only after float sums (10.1 + 20.2 vs 30.3), an
    even number of buyers so the income median is interpolated and spending scores equal to the median,
    a discount share of exactly 20 %, orders on Sunday/Monday week edges, at 00:00:00 and 23:59:59, on a
    leap day, across year ends and month ends (31 Jan -> 28 Feb), same-day repeats, returns,
    cancellations, and a prospect with engagement but no order."""
    scores = [50, 50, 50, 50, 60, 60, 40, 40, 70, 30, 50, 55]
    customers = [{"customer_id": i, "annual_income": 10_000.0 * i, "spending_score": scores[i - 1],
                  "is_prime": i % 3 == 0, "country": ("Germany", "France")[i % 2]} for i in range(1, 13)]
    customers.append({"customer_id": 13, "annual_income": 1.0, "spending_score": 1})  # prospect
    o = []

    def add(cid: int, ts: str, revenue: float, **extra: object) -> None:
        o.append({"customer_id": cid, "order_ts": ts, "net_revenue": revenue, **extra})

    add(1, "2023-01-01 23:59:59", 10.1)  # Sunday, last second
    add(1, "2023-01-02 00:00:00", 20.2)  # Monday, first second: next ISO week
    add(2, "2023-06-15 12:00:00", 30.3)  # same revenue as customer 1 only after rounding the float sum
    add(3, "2023-01-31 10:00:00", 8.0, discount_amount=2.0)   # gross 10
    add(3, "2023-02-28 10:00:00", 16.0, discount_amount=4.0)  # gross 20: discount share exactly 0.2
    add(4, "2024-02-29 08:00:00", 55.5)  # leap day
    add(4, "2024-02-29 18:00:00", 44.5)  # same-day repeat: frequency counts days
    add(4, "2023-12-31 23:30:00", 12.0)  # year end
    add(5, "2024-01-01 00:00:00", 12.0)
    add(5, "2024-03-31 09:00:00", 99.99, is_returned=True)
    add(5, "2024-04-01 09:00:00", 7.77, is_cancelled=True)
    add(5, "2024-04-30 09:00:00", 0.01)
    for k, cid in enumerate(range(6, 13)):  # a spread of frequencies and recencies
        for j in range(cid - 5):
            add(cid, f"2023-{1 + (k + 3 * j) % 12:02d}-{1 + (7 * j + k) % 28:02d} {(5 * j) % 24:02d}:15:00",
                round(5.0 + 3.3 * j + k, 2))
        add(cid, "2024-06-30 23:59:59", 19.99)
    engagement = [{"customer_id": c, "month": date(2024, m, 1), "web_visits": c + m, "emails_sent": 4,
                   "emails_opened": (c + m) % 5, "cart_adds": 2, "cart_abandons": 1 + (c % 2)}
                  for c in (1, 4, 7, 13) for m in (1, 2, 6)]
    return customers, o, engagement


@pytest.fixture(scope="module")
def edge_engines(spark_app, tmp_path_factory) -> tuple[Engine, Engine]:
    from tests.factory import write_dataset

    customers, orders, engagement = edge_rows()
    folder = write_dataset(tmp_path_factory.mktemp("edge") / "data", customers, orders, engagement,
                           dates=(date(2022, 1, 1), date(2024, 12, 31)))
    return Engine(Settings(data_dir=str(folder))), spark_engine_for(folder, spark_app, validate=False)


EDGE_STATES = {
    "all": Filters(date(2023, 1, 1), date(2024, 6, 30)),
    # starts on a Wednesday in mid-March, ends on a leap day
    "mid": Filters(date(2023, 3, 15), date(2024, 2, 29), countries=("Germany",)),
}


#: The cases whose code does date arithmetic, week/month truncation, ranking or medians (the models need
#: more repeat buyers than this dataset has; they are compared on the generated data).
EDGE_CASE_PREFIXES = ("customer_mart", "labelled_mart", "period_sales", "trend_by_segment[orders",
                      "activity_heatmap", "monthly_active_customers[loyalty]", "lifecycle_by_month",
                      "monthly_retention[", "cohort_retention", "new_repeat_summary", "income_spending_points",
                      "engagement_by_segment[loyalty]", "prospects_summary", "cart_abandoners", "kpis")


@pytest.mark.parametrize("state", list(EDGE_STATES))
def test_edge_cases_parity(state: str, edge_engines: tuple[Engine, Engine]) -> None:
    duck, spark = edge_engines
    failures = []
    for name, case in CASES.items():
        if not name.startswith(EDGE_CASE_PREFIXES):
            continue
        try:
            assert_same_value(f"{name}@edge-{state}", case(duck, EDGE_STATES[state]), case(spark, EDGE_STATES[state]))
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)


def test_edge_dataset_hits_the_edges(edge_engines: tuple[Engine, Engine]) -> None:
    """The edge data really contains the ties it is meant to test (checked on DuckDB, by hand)."""
    duck, _ = edge_engines
    from metrics.population import customer_mart as labelled
    from metrics.population import customer_mart_frame

    mart = customer_mart_frame(duck, EDGE_STATES["all"]).set_index("customer_id")
    assert mart.loc[1, "revenue"] == mart.loc[2, "revenue"] == 30.3
    assert mart.loc[3, "discount_share"] == 0.2
    from metrics.models.inputs import history_triples

    triples = duck.execute(history_triples(duck, EDGE_STATES["all"])).set_index("customer_id")
    assert triples.loc[4, "frequency"] == 1  # two purchase days, one of them with two orders
    labels = duck.execute(labelled(duck, EDGE_STATES["all"])).set_index("customer_id")
    # 12 buyers: income median 65,000 (between 60k and 70k), spending median 50 (counts as high)
    assert labels.loc[1, "segment_income_spending"] == "Potential Growers"
    assert labels.loc[7, "segment_income_spending"] == "Underperformers"
    assert labels.loc[11, "segment_income_spending"] == "VIP"
    assert labels.loc[3, "segment_behaviour"] != "Discount-Driven" or mart.loc[3, "recency_days"] <= 180
