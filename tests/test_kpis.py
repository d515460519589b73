"""KPIs, deltas and frequency bands: a hand-checked fixture and an independent pandas calculation."""


import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.frames import relative_change
from metrics.measures.kpis import KPI_SPECS, customer_kpis, frequency_bands, kpi_summary, kpis
from metrics.population import customer_mart_frame
from tests.conftest import engine_for
from tests.factory import write_dataset

CUSTOMERS = [
    {"customer_id": 1, "country": "Germany", "is_prime": False},
    {"customer_id": 2, "country": "France", "is_prime": True},
    {"customer_id": 3, "country": "Germany", "is_prime": True},
    {"customer_id": 4, "country": "Germany"},  # a prospect: never ordered
    {"customer_id": 5, "country": "France"},  # only a cancelled order
]
ORDERS = [
    {"customer_id": 1, "date": "2024-01-05", "net_revenue": 10.0},
    {"customer_id": 1, "date": "2024-02-05", "net_revenue": 30.0},
    {"customer_id": 2, "date": "2023-06-01", "net_revenue": 20.0},  # before the range: not new
    {"customer_id": 2, "date": "2024-03-15", "net_revenue": 50.0},
    {"customer_id": 2, "date": "2024-03-20", "net_revenue": 5.0, "is_returned": True},
    {"customer_id": 3, "date": "2024-03-31", "net_revenue": 100.0},  # one order, on the as-of date
    {"customer_id": 5, "date": "2024-02-10", "net_revenue": 70.0, "is_cancelled": True},
]
Q1 = Filters("2024-01-01", "2024-03-31")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return engine_for(write_dataset(tmp_path_factory.mktemp("kpi"), CUSTOMERS, ORDERS))


def test_kpis_by_hand(engine):
    k = kpis(engine, Q1)
    assert k == pytest.approx({
        "customers": 3, "orders": 4, "revenue": 190.0, "aov": 47.5, "ltv": 190 / 3,
        "repeat_purchase_rate": 1 / 3, "prime_share": 2 / 3,
        "active_rate_30d": 2 / 3,  # customer 1's last order is 55 days before 31 March
        "new_customers": 2,  # customers 1 and 3; customer 2 first ordered in 2023
        "at_risk_rate": 0.0,  # one repeat buyer: too few for the churn model, so 0
    })


def test_customer_kpis_are_the_kpis_without_the_model(engine):
    """customer_kpis reads the mart only: every KPI but the at-risk rate, and no churn model is fitted."""
    filters = Filters("2024-01-01", "2024-03-30")  # a state no other test has fitted a model for
    got = customer_kpis(engine, filters)
    assert set(got) == {spec.name for spec in KPI_SPECS} - {"at_risk_rate"}
    assert not [key for key in engine.cache._data if key[0] == "bgnbd" and key[1] == filters]
    assert got == {key: value for key, value in kpis(engine, filters).items() if key != "at_risk_rate"}
    assert (got["customers"], got["orders"], got["revenue"]) == (2, 3, 90.0)
    assert set(customer_kpis(engine, Filters("2022-01-01", "2022-01-31")).values()) == {0.0}


def test_prime_and_country_filters(engine):
    prime = kpis(engine, Filters("2024-01-01", "2024-03-31", prime="Prime"))
    assert (prime["customers"], prime["revenue"]) == (2, 150.0)
    non_prime = kpis(engine, Filters("2024-01-01", "2024-03-31", prime="Non-Prime"))
    assert (non_prime["customers"], non_prime["revenue"]) == (1, 40.0)
    france = kpis(engine, Filters("2024-01-01", "2024-03-31", countries=("France",)))
    assert (france["customers"], france["orders"], france["revenue"]) == (1, 1, 50.0)


def test_single_day_range(engine):
    k = kpis(engine, Filters("2024-03-31", "2024-03-31"))
    assert (k["customers"], k["orders"], k["revenue"], k["new_customers"]) == (1, 1, 100.0, 1)
    assert k["active_rate_30d"] == 1.0


def test_empty_selection_gives_zeros(engine):
    for filters in (Filters("2024-01-01", "2024-03-31", countries=("Spain",)), Filters("2022-01-01", "2022-01-31")):
        assert set(kpis(engine, filters).values()) == {0.0}
        bands = frequency_bands(engine, filters)
        assert list(bands.band) == ["1", "2-3", "4-5", "6+"] and bands.customers.sum() == 0
        summary = kpi_summary(engine, filters)
        assert summary.value.eq(0).all() and len(summary) == len(KPI_SPECS)


def test_delta_against_a_range_with_no_prior_data(engine):
    summary = kpi_summary(engine, Q1).set_index("key")
    assert summary.loc["revenue", "previous"] == 0 and summary.loc["revenue", "delta"] == 190.0
    assert summary.loc["revenue", "delta_pct"] is None  # no invented percentage


def test_delta_against_the_preceding_range(engine):
    # March vs the 31 days before it (30 Jan - 29 Feb): customer 1's 5 Feb order.
    march = kpi_summary(engine, Filters("2024-03-01", "2024-03-31")).set_index("key")
    assert march.loc["revenue", "value"] == 150.0 and march.loc["revenue", "previous"] == 30.0
    assert march.loc["revenue", "delta_pct"] == pytest.approx(4.0)
    assert march.loc["customers", "delta"] == 1  # 2 customers vs 1


def test_relative_change():
    assert relative_change(150, 100) == pytest.approx(0.5)
    assert relative_change(0, 10) == -1.0
    assert relative_change(5, 0) is None and relative_change(5, None) is None  # nothing to compare with
    assert relative_change(None, 5) is None and relative_change(5, float("nan")) is None


def test_customer_mart_by_hand(engine):
    mart = customer_mart_frame(engine, Q1).set_index("customer_id")
    assert list(mart.index) == [1, 2, 3]
    assert mart.loc[1, ["orders", "revenue", "recency_days", "tenure_days", "span_days", "repeat_revenue"]].tolist() \
        == [2, 40.0, 55, 86, 31, 30.0]
    assert mart.loc[3, ["orders", "recency_days", "tenure_days", "repeat_revenue"]].tolist() == [1, 0, 0, 0.0]
    assert bool(mart.loc[2, "is_new"]) is False and bool(mart.loc[3, "is_new"]) is True


def test_frequency_bands_by_hand(engine):
    bands = frequency_bands(engine, Q1).set_index("band")
    assert bands.customers.to_dict() == {"1": 2, "2-3": 1, "4-5": 0, "6+": 0}
    assert bands.loc["1", "revenue"] == 150.0 and bands.loc["2-3", "orders"] == 2


# ----- independent pandas calculation on generated data -------------------------------------------------

def pandas_kpis(folder, filters: Filters) -> dict[str, float]:
    orders = pd.read_parquet(folder / "fact_orders")
    customers = pd.read_parquet(folder / "dim_customer")
    orders["day"] = orders.order_ts.dt.normalize()
    orders = orders.merge(customers[["customer_id", "is_prime", "country"]], on="customer_id")
    if filters.prime != "All":
        orders = orders[orders.is_prime == (filters.prime == "Prime")]
    if filters.countries:
        orders = orders[orders.country.isin(filters.countries)]
    valid = orders[~orders.is_returned & ~orders.is_cancelled]
    start, end = pd.Timestamp(filters.start), pd.Timestamp(filters.end)
    in_range = valid[(valid.day >= start) & (valid.day <= end)]
    per = in_range.groupby("customer_id").agg(n=("order_id", "size"), last=("day", "max"), prime=("is_prime", "first"))
    first_ever = valid[valid.day <= end].groupby("customer_id").day.min()
    n = len(per)
    return {
        "customers": n, "orders": len(in_range), "revenue": in_range.net_revenue.sum(),
        "aov": in_range.net_revenue.sum() / len(in_range), "ltv": in_range.net_revenue.sum() / n,
        "repeat_purchase_rate": (per.n >= 2).mean(), "prime_share": per.prime.mean(),
        "active_rate_30d": ((end - per["last"]).dt.days < 30).mean(),
        "new_customers": int((first_ever.loc[per.index] >= start).sum()),
    }


@pytest.mark.parametrize("filters", [
    Filters("2021-01-01", "2024-12-31"),
    Filters("2023-04-01", "2023-09-30", prime="Prime"),
    Filters("2024-11-01", "2024-12-31", prime="Non-Prime", countries=("Germany", "United States")),
])
def test_kpis_match_pandas_on_generated_data(generated_engine, generated_dir, filters):
    expected = pandas_kpis(generated_dir, filters)
    assert expected["customers"] > 0
    got = kpis(generated_engine, filters)
    assert 0.0 <= got["at_risk_rate"] <= 1.0  # model-based: checked against pandas in tests/test_churn.py
    assert {key: value for key, value in got.items() if key != "at_risk_rate"} == pytest.approx(expected, rel=1e-9)
    assert customer_kpis(generated_engine, filters) == pytest.approx(expected, rel=1e-9)


def test_frequency_bands_match_pandas_on_generated_data(generated_engine, generated_dir):
    filters = Filters("2022-01-01", "2023-12-31")
    orders = pd.read_parquet(generated_dir / "fact_orders")
    valid = orders[~orders.is_returned & ~orders.is_cancelled]
    valid = valid[(valid.date_key >= 20220101) & (valid.date_key <= 20231231)]
    counts = valid.groupby("customer_id").size()
    band = pd.cut(counts, [0, 1, 3, 5, np.inf], labels=["1", "2-3", "4-5", "6+"])
    expected = band.value_counts().reindex(["1", "2-3", "4-5", "6+"]).tolist()
    assert frequency_bands(generated_engine, filters).customers.tolist() == expected
