"""Demographics and the income × spending scatter: against pandas and by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.demographics import (
    DIMENSIONS,
    demographics,
    income_spending_medians,
    income_spending_points,
)
from metrics.population import customer_segments
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import data_engine, filter_cases, load_frames, ref_orders  # noqa: F401


def test_demographics_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine)[:4]:
        valid = ref_orders(frames, filters)
        per_customer = valid.groupby("customer_id").agg(orders=("order_id", "size"), revenue=("net_revenue", "sum"))
        people = per_customer.join(frames["dim_customer"].set_index("customer_id"))
        for dimension in DIMENSIONS:
            got = demographics(data_engine, filters, dimension).set_index(dimension)
            ref = people.groupby(dimension).agg(customers=("orders", "size"), orders=("orders", "sum"),
                                                revenue=("revenue", "sum"))
            assert got.customers.sum() == len(people)
            assert set(ref.index) <= set(got.index)
            assert (got.drop(index=ref.index).customers == 0).all()
            part = got.loc[ref.index]
            np.testing.assert_array_equal(part.customers, ref.customers)
            np.testing.assert_array_equal(part.orders, ref.orders)
            np.testing.assert_allclose(part.revenue, ref.revenue)
            np.testing.assert_allclose(part.aov, ref.revenue / ref.orders)
            np.testing.assert_allclose(part.share, ref.customers / len(people))
            if dimension == "country":
                assert got.customers.is_monotonic_decreasing


def test_scatter_points_and_medians_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    filters = filter_cases(data_engine)[0]
    valid = ref_orders(frames, filters)
    revenue = valid.groupby("customer_id").net_revenue.sum()
    people = frames["dim_customer"].set_index("customer_id").loc[revenue.index]
    medians = income_spending_medians(data_engine, filters)
    assert medians["annual_income"] == pytest.approx(people.annual_income.median())
    assert medians["spending_score"] == pytest.approx(people.spending_score.median())

    everyone = income_spending_points(data_engine, filters, sample=10**9)
    assert everyone.customer_id.tolist() == sorted(revenue.index)
    np.testing.assert_allclose(everyone.revenue, revenue.to_numpy())
    high_income = everyone.annual_income >= medians["annual_income"]
    high_score = everyone.spending_score >= medians["spending_score"]
    expected = np.select([high_income & high_score, high_income, high_score],
                         ["VIP", "Underperformers", "Potential Growers"], default="At Risk")
    assert everyone.segment.tolist() == expected.tolist()

    sample = income_spending_points(data_engine, filters, sample=40, seed=3)
    assert len(sample) == 40 and sample.customer_id.is_unique
    assert sample.equals(income_spending_points.uncached(data_engine, filters, sample=40, seed=3))
    assert set(sample.customer_id) <= set(everyone.customer_id)
    other = income_spending_points(data_engine, filters, sample=40, seed=4)
    assert set(other.customer_id) != set(sample.customer_id)
    merged = sample.merge(everyone, on="customer_id", suffixes=("", "_all"))
    assert (merged.segment == merged.segment_all).all()


# ----- hand-made data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "gender": "Female", "age": 30, "preferred_category": "Books", "country": "Germany",
         "acquisition_channel": "Email", "annual_income": 40_000.0, "spending_score": 80},
        {"customer_id": 2, "gender": "Male", "age": 40, "preferred_category": "Electronics", "country": "France",
         "acquisition_channel": "Social", "annual_income": 100_000.0, "spending_score": 20},
        {"customer_id": 3, "gender": "Female", "age": 70, "preferred_category": "Books", "country": "Germany",
         "annual_income": 90_000.0, "spending_score": 90},  # only order returned: not a customer
        {"customer_id": 4, "gender": "Other", "age": 20, "preferred_category": "Toys", "country": "Spain",
         "acquisition_channel": "Referral", "is_prime": True, "annual_income": 60_000.0, "spending_score": 50},
    ]
    orders = [
        {"customer_id": 1, "date": "2024-01-05", "net_revenue": 100},  # a customer with two orders
        {"customer_id": 1, "date": "2024-02-05", "net_revenue": 50},
        {"customer_id": 2, "date": "2024-01-10", "net_revenue": 200},  # one order
        {"customer_id": 3, "date": "2024-01-10", "net_revenue": 90, "is_returned": True},
        {"customer_id": 4, "date": "2024-03-01", "net_revenue": 30},
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("demographics") / "data", customers, orders))


Q1 = Filters(date(2024, 1, 1), date(2024, 3, 31))


def test_demographics_by_hand(hand):
    gender = demographics(hand, Q1, "gender")
    assert list(gender.columns) == ["gender", "customers", "orders", "revenue", "aov", "ltv",
                                    "share", "revenue_share"]
    assert gender.gender.tolist() == ["Female", "Male", "Other"]
    assert gender.customers.tolist() == [1, 1, 1]
    assert gender.orders.tolist() == [2, 1, 1]
    assert gender.revenue.tolist() == [150, 200, 30]
    assert gender.aov.tolist() == [75, 200, 30]
    assert gender.share.tolist() == pytest.approx([1 / 3] * 3)
    assert gender.revenue_share.tolist() == pytest.approx([150 / 380, 200 / 380, 30 / 380])
    ages = demographics(hand, Q1, "age_group").set_index("age_group").customers
    assert ages.to_dict() == {"18-24": 1, "25-34": 1, "35-44": 1, "45-54": 0, "55-64": 0, "65+": 0}
    category = demographics(hand, Q1, "preferred_category").set_index("preferred_category")
    assert (category.customers["Books"], category.revenue["Books"], category.customers["Beauty"]) == (1, 150, 0)
    country = demographics(hand, Q1, "country")
    assert country.country.tolist() == ["France", "Germany", "Spain"]  # ties on customers: by name
    channel = demographics(hand, Q1, "acquisition_channel").set_index("acquisition_channel")
    assert channel.customers["Referral"] == 1 and channel.customers["Paid Search"] == 0


def test_income_spending_by_hand(hand):
    assert income_spending_medians(hand, Q1) == {"annual_income": 60_000.0, "spending_score": 50.0}
    points = income_spending_points(hand, Q1)
    assert list(points.columns) == ["customer_id", "annual_income", "spending_score", "revenue", "segment"]
    assert points.customer_id.tolist() == [1, 2, 4]
    assert points.revenue.tolist() == [150, 200, 30]
    # a value equal to the median counts as high
    assert points.segment.tolist() == ["Potential Growers", "Underperformers", "VIP"]
    two = income_spending_points(hand, Q1, sample=2)
    assert len(two) == 2 and set(two.customer_id) <= {1, 2, 4}


def test_filters_single_day_and_empty_selection(hand):
    prime = demographics(hand, Filters(Q1.start, Q1.end, prime="Prime"), "gender")
    assert prime.customers.tolist() == [0, 0, 1]
    germany = Filters(Q1.start, Q1.end, countries=("Germany",))
    assert demographics(hand, germany, "country").country.tolist() == ["Germany"]
    assert income_spending_points(hand, germany).customer_id.tolist() == [1]
    one_day = Filters(date(2024, 1, 10), date(2024, 1, 10))
    assert demographics(hand, one_day, "gender").customers.tolist() == [0, 1, 0]
    assert income_spending_medians(hand, one_day) == {"annual_income": 100_000.0, "spending_score": 20.0}
    nobody = Filters(Q1.start, Q1.end, countries=("Atlantis",))
    empty = demographics(hand, nobody, "gender")
    assert empty.customers.sum() == 0 and empty.share.sum() == 0 and len(empty) == 3
    assert income_spending_medians(hand, nobody) == {"annual_income": 0.0, "spending_score": 0.0}
    points = income_spending_points(hand, nobody)
    assert points.empty and list(points.columns)[:2] == ["customer_id", "annual_income"]


def test_segment_filter_keeps_the_unfiltered_split(hand):
    vip = Filters(Q1.start, Q1.end).with_focus("income_spending", "VIP")
    points = income_spending_points(hand, vip)
    assert points.customer_id.tolist() == [4] and points.segment.tolist() == ["VIP"]
    assert income_spending_medians(hand, vip) == income_spending_medians(hand, Q1)
    labels = hand.execute(customer_segments(hand, Q1, "income_spending"))
    assert pd.Series(labels.segment).value_counts().to_dict() == {
        "Potential Growers": 1, "Underperformers": 1, "VIP": 1}


def test_unknown_dimension_is_refused(hand):
    with pytest.raises(ValueError, match="unknown dimension"):
        demographics(hand, Q1, "shoe_size")
