"""Engagement by segment, prospects vs buyers and the cart-abandoner list: against pandas and by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.engagement import (
    NO_ORDERS_LABEL,
    cart_abandoners,
    engagement_by_segment,
    prospects_summary,
)
from metrics.population import customer_segments
from metrics.segments.labels import SCHEME_LABELS
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import (  # noqa: F401
    data_engine,
    filter_cases,
    load_frames,
    ref_customers,
    ref_engagement,
    ref_orders,
    rows_under_segment_filter,
)

MEASURES = ["emails_sent", "emails_opened", "web_visits", "cart_adds", "cart_abandons"]


def test_engagement_by_segment_matches_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine)[:4]:
        for scheme in ("prime", "loyalty"):
            got = engagement_by_segment(data_engine, filters, scheme)
            labels = data_engine.execute(customer_segments(data_engine, filters, scheme))
            e = ref_engagement(frames, filters).merge(labels, on="customer_id", how="left")
            e["segment"] = e["segment"].fillna(NO_ORDERS_LABEL)
            ref = e.groupby(["month", "segment"]).agg(customers=("customer_id", "nunique"),
                                                      **{m: (m, "sum") for m in MEASURES})
            months = pd.date_range(date(filters.start.year, filters.start.month, 1), filters.end, freq="MS")
            assert len(got) == len(months) * (len(SCHEME_LABELS[scheme]) + 1)
            merged = got.merge(ref.reset_index(), on=["month", "segment"], how="left", suffixes=("", "_ref"))
            for column in ["customers", *MEASURES]:
                np.testing.assert_array_equal(merged[column], merged[f"{column}_ref"].fillna(0).astype("int64"))
            sent = merged.emails_sent.where(merged.emails_sent > 0)
            np.testing.assert_allclose(merged.open_rate, (merged.emails_opened / sent).fillna(0))
            buyers_in_range = set(ref_orders(frames, filters).customer_id)
            no_orders = got[got.segment == NO_ORDERS_LABEL].customers.sum()
            assert no_orders == e[~e.customer_id.isin(buyers_in_range)].shape[0]


def test_prospects_and_abandoners_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine)[:4]:
        people = ref_customers(frames, filters)
        buyers = set(ref_orders(frames, filters, whole_history=True).customer_id)
        people = people.assign(is_buyer=people.customer_id.isin(buyers))
        e = ref_engagement(frames, filters)
        people = people[people.is_buyer | (people.signup_date <= pd.Timestamp(filters.end))
                        | people.customer_id.isin(e.customer_id)]
        e = e.assign(active=(e.web_visits + e.emails_opened + e.cart_adds) > 0)
        per = e.groupby("customer_id").agg(cart_abandons=("cart_abandons", "sum"),
                                           web_visits=("web_visits", "sum"), active=("active", "any"))
        people = people.join(per, on="customer_id").fillna(
            {"cart_abandons": 0, "web_visits": 0, "active": False})
        got = prospects_summary(data_engine, filters).set_index("group")
        for group, is_buyer in (("Prospects", False), ("Buyers", True)):
            part = people[people.is_buyer == is_buyer]
            assert got.loc[group, "people"] == len(part)
            assert got.loc[group, "engaged"] == part.active.sum()
            assert got.loc[group, "with_cart_abandon"] == (part.cart_abandons > 0).sum()
            assert got.loc[group, "cart_abandons"] == part.cart_abandons.sum()
            assert got.loc[group, "web_visits"] == part.web_visits.sum()

        listed = cart_abandoners(data_engine, filters, limit=15)
        prospects = people[~people.is_buyer & (people.cart_abandons > 0)]
        expected = prospects.sort_values(["cart_abandons", "web_visits", "customer_id"],
                                         ascending=[False, False, True]).head(15)
        assert listed.customer_id.tolist() == expected.customer_id.tolist()
        assert listed.cart_abandons.tolist() == expected.cart_abandons.astype(int).tolist()
        last_active = e[e.active].groupby("customer_id").month.max()
        assert listed.last_active_month.tolist() == last_active.reindex(listed.customer_id).tolist()


# ----- hand-made data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "is_prime": True, "country": "Germany", "name": "Ada"},
        {"customer_id": 2, "country": "France", "name": "Ben"},
        {"customer_id": 3, "country": "Germany", "name": "Cleo"},  # prospect
        {"customer_id": 4, "country": "France", "signup_date": date(2024, 5, 1)},  # signs up after the range
        {"customer_id": 5, "country": "Germany"},  # bought before the range only
        {"customer_id": 6, "country": "Germany"},  # prospect without engagement
        {"customer_id": 7, "country": "France", "name": "Dan"},  # prospect
    ]
    orders = [
        {"customer_id": 1, "date": "2024-01-10", "net_revenue": 50},
        {"customer_id": 2, "date": "2024-02-10", "net_revenue": 80},
        {"customer_id": 5, "date": "2023-05-01", "net_revenue": 20},
        {"customer_id": 3, "date": "2024-02-01", "net_revenue": 20, "is_cancelled": True},  # not a sale
    ]

    def row(customer, month, visits=0, sent=0, opened=0, adds=0, abandons=0):
        return {"customer_id": customer, "month": month, "web_visits": visits, "emails_sent": sent,
                "emails_opened": opened, "cart_adds": adds, "cart_abandons": abandons}

    jan, feb, mar = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
    engagement = [
        row(1, jan, visits=5, sent=4, opened=2, adds=2, abandons=1),
        row(1, feb, visits=1, sent=4),
        row(2, feb, visits=2, sent=2, opened=1, adds=1),
        row(3, date(2023, 12, 1), visits=9, adds=5, abandons=5),  # before the range
        row(3, jan, visits=3, sent=1, opened=1, adds=3, abandons=3),
        row(3, mar, visits=4, adds=2, abandons=1),
        row(5, mar, visits=1, sent=3, opened=3),
        row(7, feb, visits=10, adds=4, abandons=4),
    ]
    folder = write_dataset(tmp_path_factory.mktemp("engagement") / "data", customers, orders, engagement)
    return engine_for(folder)


Q1 = Filters(date(2024, 1, 1), date(2024, 3, 31))


def cell(frame: pd.DataFrame, month: str, segment: str) -> dict:
    row = frame[(frame.month == pd.Timestamp(month)) & (frame.segment == segment)]
    assert len(row) == 1
    return row.iloc[0].to_dict()


def test_engagement_by_segment_by_hand(hand):
    got = engagement_by_segment(hand, Q1, "prime")
    assert list(got.columns) == ["month", "segment", "customers", "emails_sent", "emails_opened", "open_rate",
                                 "web_visits", "visits_per_customer", "cart_adds", "cart_abandons"]
    assert len(got) == 3 * 3
    jan_prime = cell(got, "2024-01-01", "Prime")
    assert (jan_prime["customers"], jan_prime["emails_sent"], jan_prime["open_rate"]) == (1, 4, 0.5)
    assert (jan_prime["web_visits"], jan_prime["cart_adds"], jan_prime["cart_abandons"]) == (5, 2, 1)
    assert cell(got, "2024-01-01", "Non-Prime")["customers"] == 0
    jan_none = cell(got, "2024-01-01", NO_ORDERS_LABEL)
    assert (jan_none["customers"], jan_none["open_rate"], jan_none["cart_abandons"]) == (1, 1.0, 3)
    feb_prime = cell(got, "2024-02-01", "Prime")
    assert (feb_prime["emails_sent"], feb_prime["open_rate"]) == (4, 0.0)
    feb_non = cell(got, "2024-02-01", "Non-Prime")
    assert (feb_non["customers"], feb_non["web_visits"], feb_non["open_rate"]) == (1, 2, 0.5)
    feb_none = cell(got, "2024-02-01", NO_ORDERS_LABEL)  # prospect 7
    assert (feb_none["customers"], feb_none["web_visits"], feb_none["cart_abandons"]) == (1, 10, 4)
    mar_none = cell(got, "2024-03-01", NO_ORDERS_LABEL)  # prospect 3 and lapsed buyer 5
    assert (mar_none["customers"], mar_none["emails_sent"], mar_none["open_rate"]) == (2, 3, 1.0)
    assert (mar_none["web_visits"], mar_none["visits_per_customer"]) == (5, 2.5)
    assert cell(got, "2024-03-01", "Prime")["visits_per_customer"] == 0


def test_single_day_puts_non_buyers_of_the_day_in_no_orders(hand):
    got = engagement_by_segment(hand, Filters(date(2024, 2, 10), date(2024, 2, 10)), "prime")
    assert got.month.unique().tolist() == [pd.Timestamp("2024-02-01")]
    assert cell(got, "2024-02-01", "Non-Prime")["customers"] == 1  # customer 2 ordered that day
    assert cell(got, "2024-02-01", "Prime")["customers"] == 0
    none = cell(got, "2024-02-01", NO_ORDERS_LABEL)  # customer 1 (no order that day) and prospect 7
    assert (none["customers"], none["web_visits"], none["emails_sent"]) == (2, 11, 4)


def test_prospects_summary_by_hand(hand):
    got = prospects_summary(hand, Q1).set_index("group")
    assert got.index.tolist() == ["Prospects", "Buyers"]
    # prospects 3, 6, 7 (4 signs up after the range; 3's cancelled order is not a purchase)
    assert got.loc["Prospects"].to_dict() == pytest.approx({
        "people": 3, "engaged": 2, "with_cart_abandon": 2, "cart_abandons": 8, "web_visits": 17,
        "abandon_share": 2 / 3})
    assert got.loc["Buyers"].to_dict() == pytest.approx({
        "people": 3, "engaged": 3, "with_cart_abandon": 1, "cart_abandons": 1, "web_visits": 9,
        "abandon_share": 1 / 3})


def test_cart_abandoners_by_hand(hand):
    got = cart_abandoners(hand, Q1)
    assert list(got.columns) == ["customer_id", "name", "country", "cart_abandons", "web_visits",
                                 "last_active_month"]
    # both abandoned 4 carts; 7 visited more often
    assert got.customer_id.tolist() == [7, 3]
    assert got.name.tolist() == ["Dan", "Cleo"]
    assert got.web_visits.tolist() == [10, 7]
    assert got.last_active_month.tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]
    assert cart_abandoners(hand, Q1, limit=1).customer_id.tolist() == [7]


def test_filters_change_the_result(hand):
    prime = Filters(Q1.start, Q1.end, prime="Prime")
    summary = prospects_summary(hand, prime).set_index("group")
    assert (summary.loc["Prospects", "people"], summary.loc["Buyers", "people"]) == (0, 1)
    assert cart_abandoners(hand, prime).empty
    assert engagement_by_segment(hand, prime, "prime").groupby("segment").customers.sum().to_dict() == {
        "Prime": 2, "Non-Prime": 0, NO_ORDERS_LABEL: 0}
    france = Filters(Q1.start, Q1.end, countries=("France",))
    assert cart_abandoners(hand, france).customer_id.tolist() == [7]
    summary = prospects_summary(hand, france).set_index("group")
    assert (summary.loc["Prospects", "people"], summary.loc["Buyers", "people"]) == (1, 1)


def test_empty_selection(hand):
    nobody = Filters(Q1.start, Q1.end, countries=("Atlantis",))
    got = engagement_by_segment(hand, nobody, "loyalty")
    assert len(got) == 3 * 5 and got.customers.sum() == 0 and got.open_rate.sum() == 0
    summary = prospects_summary(hand, nobody)
    assert summary.group.tolist() == ["Prospects", "Buyers"] and summary.people.sum() == 0
    empty = cart_abandoners(hand, nobody)
    assert empty.empty and empty.columns.tolist()[:2] == ["customer_id", "name"]


def test_segment_filter_leaves_only_that_segment(data_engine):  # noqa: F811
    top, got, unfiltered = rows_under_segment_filter(
        lambda engine, filters: engagement_by_segment(engine, filters, "loyalty"), data_engine, "customers")
    pd.testing.assert_frame_equal(got, unfiltered)
    assert prospects_summary(data_engine, top).set_index("group").loc["Prospects", "people"] == 0
