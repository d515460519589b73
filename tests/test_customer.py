"""One customer's profile, orders and monthly activity, and the value-vs-loyalty sample: by hand on a tiny
star schema and against pandas (and the per-customer model tables) on generated data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.customer import (
    ENGAGEMENT_COLUMNS,
    MAX_CUSTOMER_ID,
    ORDER_COLUMNS,
    POINT_COLUMNS,
    PROFILE_KEYS,
    customer_engagement,
    customer_orders,
    customer_profile,
    parse_customer_id,
    value_loyalty_points,
)
from metrics.filters import Filters
from metrics.models.churn import customer_churn
from metrics.models.clv import customer_clv
from metrics.population import customer_mart, customer_segments
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import load_frames, ref_engagement, ref_orders

Q1 = Filters(date(2024, 1, 1), date(2024, 3, 31))
MONTHS = [pd.Timestamp(f"2024-0{m}-01") for m in (1, 2, 3)]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "name": "Ann Example", "is_prime": True, "country": "Germany", "city": "Berlin",
         "age": 30, "signup_date": date(2023, 5, 1)},
        {"customer_id": 2, "name": "Bo Example", "country": "France", "city": "Paris"},
        {"customer_id": 3, "name": "Cy Prospect"},  # never ordered, browses in January
        {"customer_id": 4, "name": "Di Cancelled"},  # only a cancelled order in the range
    ]
    orders = [
        {"customer_id": 1, "date": "2023-06-01", "net_revenue": 20.0},  # before the range: not new
        {"customer_id": 1, "order_ts": "2024-01-05 09:30", "net_revenue": 100.0, "order_id": 11},
        {"customer_id": 1, "date": "2024-02-10", "net_revenue": 50.0, "is_returned": True, "order_id": 12},
        {"customer_id": 1, "date": "2024-03-01", "net_revenue": 60.0, "product_id": 2, "order_id": 13},
        {"customer_id": 2, "date": "2024-03-20", "net_revenue": 30.0, "order_id": 21},
        {"customer_id": 4, "date": "2024-02-02", "net_revenue": 70.0, "is_cancelled": True, "order_id": 41},
    ]
    zero = {"web_visits": 0, "emails_sent": 0, "emails_opened": 0, "cart_adds": 0, "cart_abandons": 0}
    engagement = [
        {**zero, "customer_id": 1, "month": date(2024, 2, 1), "web_visits": 4, "emails_sent": 4, "emails_opened": 1},
        {**zero, "customer_id": 1, "month": date(2023, 12, 1), "web_visits": 9},  # before the range
        {**zero, "customer_id": 3, "month": date(2024, 1, 1), "web_visits": 2, "cart_adds": 1, "cart_abandons": 1},
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("customer") / "data", customers, orders, engagement))


# ----- ids ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("42", 42), (" 42 ", 42), (42, 42), (42.0, 42), (np.int64(7), 7), (str(MAX_CUSTOMER_ID), MAX_CUSTOMER_ID),
    ("0", None), ("-1", None), ("4.2", None), (4.2, None), ("1e3", None), ("abc", None), ("", None), (None, None),
    (True, None), (MAX_CUSTOMER_ID + 1, None), ("9" * 17, None), ("1; DROP TABLE", None), (float("nan"), None),
    ("٣", None),  # a non-ASCII digit
])
def test_customer_ids_are_whole_bounded_numbers(raw, expected):
    assert parse_customer_id(raw) == expected


# ----- profile by hand ------------------------------------------------------------------------------------------

def test_profile_of_a_customer_with_orders_by_hand(hand):
    p = customer_profile(hand, Q1, 1)
    assert list(p) == list(PROFILE_KEYS)
    assert (p["status"], p["message"], p["customer_id"]) == ("ok", "", 1)
    assert (p["name"], p["country"], p["city"], p["age"], p["is_prime"]) == ("Ann Example", "Germany", "Berlin",
                                                                              30, True)
    assert p["signup_date"] == date(2023, 5, 1)
    # two valid orders in Q1 (the February one was returned)
    assert (p["orders"], p["revenue"], p["aov"]) == (2, 160.0, 80.0)
    assert (p["first_order_date"], p["last_order_date"]) == (date(2024, 1, 5), date(2024, 3, 1))
    assert p["first_order_ever"] == date(2023, 6, 1) and p["is_new"] is False
    assert (p["recency_days"], p["tenure_days"], p["order_days"]) == (30, 86, 2)  # to 31 March
    # two customers: 1 is the older, more frequent and bigger spender -> R 1, F 2, M 2
    assert (p["r_score"], p["f_score"], p["m_score"], p["fm_score"], p["rfm_cell"]) == (1, 2, 2, 2, "122")
    assert p["segment_loyalty"] == "Hibernating" and p["segment_rfm"] == "Lost"
    assert p["segment_prime"] == "Prime" and p["segment_behaviour"] == "High-Value Active"
    assert p["segment_income_spending"] == "VIP"  # both at the medians: counts as high
    # two customers are too few for the churn model: no scores, and the reason is given
    assert p["churn_risk"] is None and p["p_alive"] is None and p["predicted_clv"] is None
    assert p["churn_message"] and p["clv_message"]


@pytest.mark.parametrize(("customer_id", "filters", "status"), [
    (3, Q1, "no_orders"),  # a prospect
    (4, Q1, "no_orders"),  # only a cancelled order
    (1, Filters(date(2024, 2, 1), date(2024, 2, 29)), "no_orders"),  # only a returned order in February
    (2, Filters(Q1.start, Q1.end, prime="Prime"), "outside_filters"),
    (2, Filters(Q1.start, Q1.end, countries=("Germany",)), "outside_filters"),
    (1, Q1.with_focus("loyalty", "Top Tier"), "outside_filters"),
    (99, Q1, "not_found"),
    ("x", Q1, "invalid"),
    (0, Q1, "invalid"),
    (2**53, Q1, "invalid"),  # above the largest id a browser holds exactly
])
def test_profile_says_what_was_found(hand, customer_id, filters, status):
    p = customer_profile(hand, filters, customer_id)
    assert list(p) == list(PROFILE_KEYS)
    assert p["status"] == status and p["message"]
    assert p["orders"] is None and p["churn_risk"] is None and p["segment_loyalty"] is None
    if status in ("no_orders", "outside_filters"):
        assert p["name"] and p["customer_id"] == customer_id  # the attributes are still shown
    if status == "no_orders":
        assert str(filters.start) in p["message"]


# ----- orders and activity by hand ------------------------------------------------------------------------------

def test_order_history_by_hand(hand):
    orders = customer_orders(hand, Q1, 1)
    assert list(orders.columns) == list(ORDER_COLUMNS)
    assert orders.order_id.tolist() == [11, 12, 13]  # by time; the 2023 order is outside the range
    assert orders.order_ts.iloc[0] == pd.Timestamp("2024-01-05 09:30")
    assert orders.net_revenue.tolist() == [100.0, 50.0, 60.0]
    assert orders.is_returned.tolist() == [False, True, False] and orders.is_valid.tolist() == [True, False, True]
    assert orders.product_name.tolist() == ["Book", "Book", "Lamp"]
    assert orders.category.tolist() == ["Books", "Books", "Home & Kitchen"]
    cancelled = customer_orders(hand, Q1, 4)
    assert cancelled.order_id.tolist() == [41] and cancelled.is_cancelled.all() and not cancelled.is_valid.any()
    for nothing in (customer_orders(hand, Q1, 3), customer_orders(hand, Filters(Q1.start, Q1.end, "Prime"), 2),
                    customer_orders(hand, Q1, 99), customer_orders(hand, Q1, "abc"), customer_orders(hand, Q1, None)):
        assert nothing.empty and list(nothing.columns) == list(ORDER_COLUMNS)


def test_monthly_activity_by_hand(hand):
    ann = customer_engagement(hand, Q1, 1)
    assert list(ann.columns) == list(ENGAGEMENT_COLUMNS)
    assert list(ann.month) == MONTHS
    assert ann.orders.tolist() == [1, 0, 1] and ann.revenue.tolist() == [100.0, 0.0, 60.0]  # returned one left out
    assert ann.web_visits.tolist() == [0, 4, 0]  # December's row is before the range
    assert ann.open_rate.tolist() == [0.0, 0.25, 0.0]
    prospect = customer_engagement(hand, Q1, 3)
    assert prospect.orders.sum() == 0 and prospect.cart_abandons.tolist() == [1, 0, 0]
    bo = customer_engagement(hand, Q1, 2)  # an order, no engagement rows
    assert bo.orders.tolist() == [0, 0, 1] and bo.web_visits.sum() == 0
    for nothing in (customer_engagement(hand, Q1, 4), customer_engagement(hand, Q1, 99),
                    customer_engagement(hand, Q1, "1.5")):
        assert nothing.empty and list(nothing.columns) == list(ENGAGEMENT_COLUMNS)


def test_value_loyalty_points_by_hand(hand):
    points = value_loyalty_points(hand, Q1, "prime")
    assert list(points.columns) == list(POINT_COLUMNS)
    assert points.customer_id.tolist() == [1, 2]
    assert points.orders.tolist() == [2, 1] and points.revenue.tolist() == [160.0, 30.0]
    assert points.segment.tolist() == ["Prime", "Non-Prime"]
    assert points.churn_risk.isna().all()  # no model for two customers
    one = value_loyalty_points(hand, Q1, "prime", sample=1)
    assert len(one) == 1 and one.equals(value_loyalty_points.uncached(hand, Q1, "prime", sample=1))
    empty = value_loyalty_points(hand, Filters(Q1.start, Q1.end, countries=("Spain",)))
    assert empty.empty and list(empty.columns) == list(POINT_COLUMNS)
    with pytest.raises(ValueError, match="unknown segment scheme"):
        value_loyalty_points(hand, Q1, "zodiac")


# ----- generated data: pandas and the per-customer model tables ---------------------------------------------------

@pytest.fixture(scope="module")
def generated(generated_engine):
    filters = Filters(date(2023, 7, 1), date(2024, 6, 30))
    frames = load_frames(generated_engine)
    valid = ref_orders(frames, filters)
    per = valid.groupby("customer_id").agg(orders=("order_id", "size"), revenue=("net_revenue", "sum"),
                                           first=("order_date", "min"), last=("order_date", "max"))
    return generated_engine, filters, frames, per


def _picked(per: pd.DataFrame) -> list[int]:
    """A frequent buyer, a two-order buyer and a one-order buyer."""
    by_orders = per.sort_values(["orders", "revenue"], ascending=False)
    return [int(by_orders.index[0]), int(per[per.orders == 2].index[0]), int(per[per.orders == 1].index[0])]


def test_profile_matches_pandas_and_the_model_tables(generated):
    engine, filters, frames, per = generated
    churn = engine.execute(customer_churn(engine, filters)).set_index("customer_id")
    clv = engine.execute(customer_clv(engine, filters)).set_index("customer_id")
    scored = engine.execute(customer_mart(engine, filters)).set_index("customer_id")
    people = frames["dim_customer"].set_index("customer_id")
    for cid in _picked(per):
        p = customer_profile(engine, filters, cid)
        assert p["status"] == "ok", p["message"]
        assert p["name"] == people.loc[cid, "name"] and p["country"] == people.loc[cid, "country"]
        assert p["orders"] == per.loc[cid, "orders"]
        assert p["revenue"] == pytest.approx(per.loc[cid, "revenue"], abs=0.005)
        assert p["aov"] == pytest.approx(per.loc[cid, "revenue"] / per.loc[cid, "orders"], rel=1e-6)
        assert pd.Timestamp(p["first_order_date"]) == per.loc[cid, "first"]
        assert pd.Timestamp(p["last_order_date"]) == per.loc[cid, "last"]
        assert p["recency_days"] == (pd.Timestamp(filters.end) - per.loc[cid, "last"]).days
        for key in ("r_score", "f_score", "m_score", "segment_loyalty", "segment_rfm", "segment_behaviour",
                    "segment_income_spending"):
            assert p[key] == scored.loc[cid, key], key
        assert p["churn_risk"] == pytest.approx(churn.loc[cid, "churn_risk"], rel=1e-12)
        assert p["p_alive"] == pytest.approx(1 - p["churn_risk"]) and p["risk_band"] == churn.loc[cid, "risk_band"]
        for key in ("predicted_clv", "expected_purchases_12m", "expected_order_value", "last_12m_sales"):
            assert p[key] == pytest.approx(clv.loc[cid, key], rel=1e-12), key
        assert p["clv_class"] == clv.loc[cid, "clv_class"]
        assert p["churn_message"] == "" and p["clv_message"] == ""


def test_orders_and_activity_match_pandas(generated):
    engine, filters, frames, per = generated
    products = pd.read_parquet(engine.settings.data_dir + "/dim_product").set_index("product_id")
    every = ref_orders(frames, filters, valid_only=False)
    engagement = ref_engagement(frames, filters)
    for cid in _picked(per):
        got = customer_orders(engine, filters, cid)
        mine = every[every.customer_id == cid].sort_values(["order_ts", "order_id"])
        assert got.order_id.tolist() == mine.order_id.tolist()
        np.testing.assert_allclose(got.net_revenue, mine.net_revenue)
        assert got.is_valid.tolist() == (~mine.is_returned & ~mine.is_cancelled).tolist()
        assert got.product_name.tolist() == products.loc[mine.product_id, "product_name"].tolist()
        assert got.is_valid.sum() == per.loc[cid, "orders"]

        monthly = customer_engagement(engine, filters, cid).set_index("month")
        assert len(monthly) == 12
        valid = mine[~mine.is_returned & ~mine.is_cancelled]
        by_month = valid.groupby(valid.order_date.dt.to_period("M").dt.start_time).net_revenue.agg(["size", "sum"])
        assert monthly.orders.sum() == len(valid)
        np.testing.assert_allclose(monthly.loc[by_month.index, "revenue"], by_month["sum"])
        rows = engagement[engagement.customer_id == cid].set_index("month")
        assert monthly.web_visits.sum() == rows.web_visits.sum()
        assert (monthly.loc[rows.index, "emails_opened"].to_numpy() == rows.emails_opened.to_numpy()).all()


def _python_sample_key(customer_id: int, seed: int = 0) -> int:
    """metrics.measures.demographics.sample_key in plain Python integers."""
    p = 2_147_483_647
    x = (customer_id * 2_654_435_761 + (seed % 10_007) * 104_729) % p
    return ((x * x) % p * 48_271 + seed % p) % p


def test_value_loyalty_points_match_pandas(generated):
    engine, filters, _, per = generated
    everyone = value_loyalty_points(engine, filters, "rfm", sample=10**9)
    assert everyone.customer_id.tolist() == sorted(per.index)
    assert everyone.orders.tolist() == per.sort_index().orders.tolist()
    np.testing.assert_allclose(everyone.revenue, per.sort_index().revenue, atol=0.005)
    churn = engine.execute(customer_churn(engine, filters)).set_index("customer_id").churn_risk
    np.testing.assert_allclose(everyone.churn_risk, churn.loc[everyone.customer_id], rtol=1e-12)
    labels = engine.execute(customer_segments(engine, filters, "rfm")).set_index("customer_id").segment
    assert everyone.segment.tolist() == labels.loc[everyone.customer_id].tolist()

    sample = value_loyalty_points(engine, filters, "rfm", sample=300, seed=5)
    expected = sorted(sorted(per.index, key=lambda c: (_python_sample_key(int(c), 5), c))[:300])
    assert sample.customer_id.tolist() == expected
    merged = sample.merge(everyone, on="customer_id", suffixes=("", "_all"))
    assert (merged.segment == merged.segment_all).all() and (merged.orders == merged.orders_all).all()


def test_segment_labels_of_the_points_ignore_a_segment_filter(generated):
    engine, filters, _, _ = generated
    top = value_loyalty_points(engine, filters.with_focus("loyalty", "Top Tier"), "loyalty", sample=10**9)
    assert len(top) > 0 and set(top.segment) == {"Top Tier"}


# ----- finding a customer -------------------------------------------------------------------------------------

def test_customer_search_by_hand(hand):
    from metrics.customer import customer_search

    everyone = customer_search(hand, Q1)  # buyers in the range, most revenue first
    assert everyone[["customer_id", "name", "orders", "revenue"]].values.tolist() == [
        [1, "Ann Example", 2, 160.0], [2, "Bo Example", 1, 30.0]]
    assert everyone.attrs["total_rows"] == 2
    assert customer_search(hand, Q1, "  bo ex ").customer_id.tolist() == [2]  # name, case-insensitive
    assert customer_search(hand, Q1, "1").customer_id.tolist() == [1]  # an id's first digits
    assert customer_search(hand, Q1, "Cy").empty  # a prospect has no order in the range
    capped = customer_search(hand, Q1, "", limit=1)
    assert capped.customer_id.tolist() == [1] and capped.attrs["total_rows"] == 2


def test_customer_search_matches_pandas_on_generated_data(generated_engine):
    from metrics.customer import customer_search
    from metrics.selection import default_filters

    filters = default_filters(generated_engine)
    frames = load_frames(generated_engine)
    orders = ref_orders(frames, filters)
    per = orders.groupby("customer_id").net_revenue.sum().rename("revenue").reset_index()
    people = frames["dim_customer"][["customer_id", "name"]]
    per = per.merge(people, on="customer_id")
    hit = per[per.name.str.lower().str.contains("an") | per.customer_id.astype(str).str.startswith("an")]
    expected = hit.sort_values(["revenue", "customer_id"], ascending=[False, True]).head(20)
    got = customer_search(generated_engine, filters, "An", limit=20)
    assert got.customer_id.tolist() == expected.customer_id.tolist()
    assert got.revenue.to_numpy() == pytest.approx(expected.revenue.to_numpy())
    assert got.attrs["total_rows"] == len(hit)
