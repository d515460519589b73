"""New / repeat / potential customers: against a direct pandas calculation (consecutive gaps) and by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.repeat import REPEAT_METRICS, new_repeat_summary, new_repeat_summary_with_change
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import (  # noqa: F401
    data_engine,
    filter_cases,
    load_frames,
    ref_customers,
    ref_engagement,
    ref_orders,
)


def ref_summary(frames: dict, filters: Filters) -> dict[str, float]:
    valid = ref_orders(frames, filters).sort_values(["customer_id", "order_ts", "order_id"])
    per_customer = valid.groupby("customer_id").agg(orders=("order_id", "size"))
    first_ever = ref_orders(frames, filters, whole_history=True).groupby("customer_id").order_date.min()
    is_repeat_order = valid.customer_id.duplicated()  # every order after the customer's first
    gaps = valid.groupby("customer_id").order_date.diff().dt.days.dropna()  # consecutive orders
    everyone = ref_orders(frames, filters.with_focus(None, None), whole_history=True).customer_id
    engagement = ref_engagement(frames, filters)
    active = engagement[(engagement.web_visits + engagement.emails_opened + engagement.cart_adds) > 0]
    selected = ref_customers(frames, filters).customer_id
    potential = set(active.customer_id) & set(selected) - set(everyone)
    customers = len(per_customer)
    return {
        "customers": customers,
        "orders": len(valid),
        "revenue": valid.net_revenue.sum(),
        "new_customers": int((first_ever.loc[per_customer.index] >= pd.Timestamp(filters.start)).sum()),
        "repeat_customers": int((per_customer.orders >= 2).sum()),
        "repeat_orders": int(is_repeat_order.sum()),
        "repeat_sales": valid.net_revenue[is_repeat_order].sum(),
        "potential_customers": len(potential),
        "avg_repeat_interval_days": gaps.mean() if len(gaps) else 0.0,
    }


def test_summary_matches_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine):
        got = new_repeat_summary(data_engine, filters)
        assert set(REPEAT_METRICS) <= set(got)
        for key, value in ref_summary(frames, filters).items():
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, filters)
        assert got["repeat_purchase_rate"] == pytest.approx(got["repeat_customers"] / max(got["customers"], 1))


def test_interval_identity_with_same_day_orders(data_engine):  # noqa: F811
    """Mean consecutive gap = Σ(last − first) / Σ(orders − 1), same-day orders being 0-day gaps."""
    frames = load_frames(data_engine)
    filters = filter_cases(data_engine)[0]
    valid = ref_orders(frames, filters)
    same_day = valid.groupby(["customer_id", "order_date"]).size()
    spans = valid.groupby("customer_id").order_date.agg(["min", "max", "size"])
    identity = (spans["max"] - spans["min"]).dt.days.sum() / (spans["size"] - 1).sum()
    assert new_repeat_summary(data_engine, filters)["avg_repeat_interval_days"] == pytest.approx(identity)
    if (same_day > 1).any():  # the data has same-day repeats: they pull the mean below the per-day one
        distinct_days = valid.sort_values(["customer_id", "order_date"]).drop_duplicates(
            ["customer_id", "order_date"])
        per_day = distinct_days.groupby("customer_id").order_date.diff().dt.days.dropna().mean()
        assert identity < per_day


# ----- hand-made data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "country": "France"},
        {"customer_id": 2},  # one order in the range, first order before it
        {"customer_id": 3, "is_prime": True},
        {"customer_id": 4},  # prospect, visits in February
        {"customer_id": 5},  # prospect, only received emails
        {"customer_id": 6},  # prospect, active before the range only
        {"customer_id": 7},  # bought before the range, active in it: not a prospect
        {"customer_id": 8},  # only order returned: still a prospect, active in January
    ]
    orders = [
        {"customer_id": 1, "order_ts": "2024-01-05 09:00", "net_revenue": 100},
        {"customer_id": 1, "order_ts": "2024-01-05 15:00", "net_revenue": 20},  # same day: a 0-day gap
        {"customer_id": 1, "order_ts": "2024-01-25 10:00", "net_revenue": 50},  # 20 days later
        {"customer_id": 2, "date": "2023-11-01", "net_revenue": 15},
        {"customer_id": 2, "date": "2024-02-01", "net_revenue": 70},
        {"customer_id": 3, "date": "2024-01-10", "net_revenue": 30},
        {"customer_id": 3, "date": "2024-03-10", "net_revenue": 40, "is_returned": True},
        {"customer_id": 3, "date": "2024-03-20", "net_revenue": 60},  # 70 days after 10 January
        {"customer_id": 7, "date": "2023-06-01", "net_revenue": 25},
        {"customer_id": 8, "date": "2024-01-15", "net_revenue": 35, "is_returned": True},
    ]
    zero = {"web_visits": 0, "emails_sent": 0, "emails_opened": 0, "cart_adds": 0, "cart_abandons": 0}
    engagement = [
        {**zero, "customer_id": 4, "month": date(2024, 2, 1), "web_visits": 3},
        {**zero, "customer_id": 5, "month": date(2024, 2, 1), "emails_sent": 2},
        {**zero, "customer_id": 6, "month": date(2023, 12, 1), "web_visits": 5},
        {**zero, "customer_id": 7, "month": date(2024, 2, 1), "web_visits": 1},
        {**zero, "customer_id": 8, "month": date(2024, 1, 1), "cart_adds": 2, "cart_abandons": 2},
    ]
    folder = write_dataset(tmp_path_factory.mktemp("repeat") / "data", customers, orders, engagement)
    return engine_for(folder)


Q1 = Filters(date(2024, 1, 1), date(2024, 3, 31))


def test_summary_by_hand(hand):
    got = new_repeat_summary(hand, Q1)
    assert got == pytest.approx({
        "customers": 3, "orders": 6, "revenue": 330,
        "new_customers": 2,  # 1 and 3; customer 2 first bought in November
        "repeat_customers": 2, "repeat_purchase_rate": 2 / 3,
        "repeat_orders": 3, "repeat_sales": 130, "repeat_sales_share": 130 / 330,  # 20 + 50 + 60
        "potential_customers": 2,  # 4 and 8
        "avg_repeat_interval_days": 30,  # gaps 0, 20 and 70
    })


def test_filters_change_the_result(hand):
    prime = new_repeat_summary(hand, Filters(Q1.start, Q1.end, prime="Prime"))
    assert (prime["customers"], prime["orders"], prime["repeat_sales"]) == (1, 2, 60)
    assert prime["avg_repeat_interval_days"] == 70
    assert prime["potential_customers"] == 0
    france = new_repeat_summary(hand, Filters(Q1.start, Q1.end, countries=("France",)))
    assert (france["customers"], france["orders"], france["new_customers"]) == (1, 3, 1)
    assert france["avg_repeat_interval_days"] == 10


def test_single_day_with_two_orders(hand):
    got = new_repeat_summary(hand, Filters(date(2024, 1, 5), date(2024, 1, 5)))
    assert (got["customers"], got["orders"], got["repeat_customers"], got["repeat_orders"]) == (1, 2, 1, 1)
    assert got["repeat_sales"] == 20  # the later of the two same-day orders
    assert got["avg_repeat_interval_days"] == 0
    assert got["potential_customers"] == 1  # customer 8's January activity; 4 was active in February


def test_one_order_customer_is_not_a_repeat(hand):
    got = new_repeat_summary(hand, Filters(date(2024, 2, 1), date(2024, 2, 29)))
    assert (got["customers"], got["repeat_customers"], got["repeat_orders"], got["repeat_sales"]) == (1, 0, 0, 0)
    assert got["new_customers"] == 0 and got["avg_repeat_interval_days"] == 0


def test_empty_selection_is_all_zeros(hand):
    got = new_repeat_summary(hand, Filters(Q1.start, Q1.end, countries=("Atlantis",)))
    assert set(got) >= set(REPEAT_METRICS)
    assert all(value == 0 for value in got.values())


def test_change_against_the_preceding_range_by_hand(hand):
    # Q1 2024 (91 days) vs 2 October - 31 December 2023: customer 2's November order (their first ever)
    # and customer 6, a prospect active in December.
    change = new_repeat_summary_with_change(hand, Q1).set_index("key")
    assert list(change.index) == list(REPEAT_METRICS)
    assert list(change.columns) == ["label", "fmt", "value", "previous", "delta", "delta_pct", "higher_is_better",
                                    "definition"]
    assert change.loc["customers", ["value", "previous", "delta"]].tolist() == [3, 1, 2]
    assert change.loc["customers", "delta_pct"] == pytest.approx(2.0)
    assert change.loc["new_customers", "delta_pct"] == pytest.approx(1.0)  # 2 vs 1
    assert change.loc["potential_customers", ["value", "previous"]].tolist() == [2, 1]
    # nothing to compare with: no percentage is invented
    assert change.loc["repeat_customers", "previous"] == 0 and change.loc["repeat_customers", "delta_pct"] is None
    assert change.loc["avg_repeat_interval_days", "delta_pct"] is None
    assert change.loc["avg_repeat_interval_days", "delta"] == 30


def test_change_matches_the_two_summaries(data_engine):  # noqa: F811
    for filters in filter_cases(data_engine):
        change = new_repeat_summary_with_change(data_engine, filters).set_index("key")
        now, before = new_repeat_summary(data_engine, filters), new_repeat_summary(data_engine, filters.previous())
        for key in REPEAT_METRICS:
            assert change.loc[key, "value"] == now[key] and change.loc[key, "previous"] == before[key]
            expected = None if before[key] == 0 else (now[key] - before[key]) / before[key]
            assert change.loc[key, "delta_pct"] == (pytest.approx(expected) if expected is not None else None)


def test_change_of_an_empty_selection(hand):
    change = new_repeat_summary_with_change(hand, Filters(Q1.start, Q1.end, countries=("Atlantis",)))
    assert change.value.eq(0).all() and change.previous.eq(0).all() and change.delta_pct.isna().all()
