"""Activity heatmaps and monthly active customers: against pandas and by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.activity import (
    activity_heatmap_weekday_hour,
    activity_heatmap_year_month,
    evaluation_dates,
    monthly_active_customers,
)
from metrics.population import customer_segments
from metrics.segments.labels import SCHEME_LABELS
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import (  # noqa: F401
    data_engine,
    filter_cases,
    load_frames,
    ref_orders,
    rows_under_segment_filter,
)


def test_heatmaps_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine)[:4]:
        valid = ref_orders(frames, filters)
        for measure in ("orders", "revenue"):
            got = activity_heatmap_year_month(data_engine, filters, measure)
            years = filters.end.year - filters.start.year + 1
            assert len(got) == 12 * years and list(got.columns) == ["year", "month", "value"]
            keys = [valid.order_date.dt.year, valid.order_date.dt.month]
            ref = valid.groupby(keys).net_revenue.agg("sum" if measure == "revenue" else "size")
            cells = got.set_index(["year", "month"]).value
            np.testing.assert_allclose(cells.reindex(ref.index), ref.astype(float))
            assert cells.sum() == pytest.approx(ref.sum())

            week = activity_heatmap_weekday_hour(data_engine, filters, measure)
            assert len(week) == 7 * 24 and list(week.columns) == ["day_of_week", "hour", "value"]
            keys = [valid.order_ts.dt.day_of_week, valid.order_ts.dt.hour]
            ref = valid.groupby(keys).net_revenue.agg("sum" if measure == "revenue" else "size")
            cells = week.set_index(["day_of_week", "hour"]).value
            np.testing.assert_allclose(cells.reindex(ref.index), ref.astype(float))
            assert cells.sum() == pytest.approx(ref.sum())


def test_monthly_active_customers_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    cases = filter_cases(data_engine)
    for filters in (cases[1], cases[4]):  # a year of everyone, a Non-Prime quarter of two countries
        valid = ref_orders(frames, filters)
        for scheme in ("prime", "loyalty"):
            labels = data_engine.execute(customer_segments(data_engine, filters, scheme))
            got = monthly_active_customers(data_engine, filters, scheme)
            assert list(got.columns) == ["month", "as_of", "segment", "customers"]
            dates = evaluation_dates(filters)
            assert len(got) == len(dates) * len(SCHEME_LABELS[scheme])
            for as_of in dates.as_of:
                day = pd.Timestamp(as_of)
                window = valid[(valid.order_date > day - pd.Timedelta(days=30)) & (valid.order_date <= day)]
                active = labels[labels.customer_id.isin(window.customer_id)].segment.value_counts()
                cells = got[got.as_of == day].set_index("segment").customers
                expected = active.reindex(cells.index).fillna(0).astype(int)
                assert cells.tolist() == expected.tolist(), (filters, scheme, as_of)


# ----- hand-made data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "is_prime": True, "country": "Germany"},
        {"customer_id": 2, "country": "France"},
        {"customer_id": 3, "country": "France"},
    ]
    orders = [
        {"customer_id": 2, "order_ts": "2023-12-31 09:00", "net_revenue": 70},  # a Sunday
        {"customer_id": 1, "order_ts": "2024-01-01 10:30", "net_revenue": 100},  # a Monday
        {"customer_id": 2, "order_ts": "2024-01-01 10:45", "net_revenue": 50},
        {"customer_id": 1, "order_ts": "2024-01-07 23:10", "net_revenue": 20},  # a Sunday
        {"customer_id": 3, "order_ts": "2024-02-14 08:00", "net_revenue": 30, "is_returned": True},
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("activity") / "data", customers, orders))


WINTER = Filters(date(2023, 12, 1), date(2024, 2, 29))


def test_heatmaps_by_hand(hand):
    grid = activity_heatmap_year_month(hand, WINTER).set_index(["year", "month"]).value
    assert len(grid) == 24 and grid.sum() == 4
    assert (grid[(2023, 12)], grid[(2024, 1)], grid[(2024, 2)]) == (1, 3, 0)
    revenue = activity_heatmap_year_month(hand, WINTER, "revenue").set_index(["year", "month"]).value
    assert (revenue[(2023, 12)], revenue[(2024, 1)]) == (70, 170)
    week = activity_heatmap_weekday_hour(hand, WINTER).set_index(["day_of_week", "hour"]).value
    assert (week[(0, 10)], week[(6, 23)], week[(6, 9)], week.sum()) == (2, 1, 1, 4)


def test_monthly_active_customers_by_hand(hand):
    got = monthly_active_customers(hand, WINTER, "prime")
    assert got.as_of.tolist() == [pd.Timestamp(d) for d in ["2023-12-31"] * 2 + ["2024-01-31"] * 2
                                  + ["2024-02-29"] * 2]
    wide = got.pivot(index="month", columns="segment", values="customers")
    assert wide["Prime"].tolist() == [0, 1, 0]
    # 31 January: the 30 days are 2–31 January, so customer 2's New Year's Day order is outside
    assert wide["Non-Prime"].tolist() == [1, 0, 0]


def test_range_ending_mid_month_is_evaluated_at_the_as_of_date(hand):
    got = monthly_active_customers(hand, Filters(date(2023, 12, 1), date(2024, 1, 5)), "prime")
    jan = got[got.month == pd.Timestamp("2024-01-01")].set_index("segment")
    assert jan.as_of.iloc[0] == pd.Timestamp("2024-01-05")
    assert (jan.customers["Prime"], jan.customers["Non-Prime"]) == (1, 1)


def test_single_day_and_filters(hand):
    one_day = Filters(date(2024, 1, 1), date(2024, 1, 1))
    week = activity_heatmap_weekday_hour(hand, one_day).set_index(["day_of_week", "hour"]).value
    assert (week[(0, 10)], week.sum()) == (2, 2)
    active = monthly_active_customers(hand, one_day, "prime").set_index("segment").customers
    assert active.to_dict() == {"Prime": 1, "Non-Prime": 1}
    prime = Filters(WINTER.start, WINTER.end, prime="Prime")
    assert activity_heatmap_year_month(hand, prime).value.sum() == 2
    france = Filters(WINTER.start, WINTER.end, countries=("France",))
    assert activity_heatmap_weekday_hour(hand, france, "revenue").value.sum() == 120
    assert monthly_active_customers(hand, france, "prime").groupby("segment").customers.sum().to_dict() == {
        "Non-Prime": 1, "Prime": 0}


def test_empty_selection(hand):
    nobody = Filters(WINTER.start, WINTER.end, countries=("Atlantis",))
    assert activity_heatmap_year_month(hand, nobody).value.sum() == 0
    assert len(activity_heatmap_weekday_hour(hand, nobody)) == 168
    got = monthly_active_customers(hand, nobody, "loyalty")
    assert len(got) == 3 * 4 and got.customers.sum() == 0


def test_evaluation_dates_cover_every_month():
    dates = evaluation_dates(Filters(date(2024, 1, 15), date(2024, 3, 10)))
    assert dates.as_of.tolist() == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 10)]
    assert dates.window_start.tolist() == [d - timedelta(days=29) for d in dates.as_of]


def test_segment_filter_leaves_only_that_segment(data_engine):  # noqa: F811
    _, got, unfiltered = rows_under_segment_filter(
        lambda engine, filters: monthly_active_customers(engine, filters, "loyalty"), data_engine, "customers")
    np.testing.assert_array_equal(got.customers, unfiltered.customers)
