"""Trends: every metric and grain against pandas, and a hand-made quarter with answers worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.grains import GRAINS
from metrics.measures.registry import MEASURES
from metrics.measures.trends import SEGMENT_TREND_METRICS, TREND_METRICS, trend, trend_by_segment
from metrics.segments.labels import SCHEME_LABELS
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import (  # noqa: F401
    data_engine,
    filter_cases,
    load_frames,
    ref_engagement,
    ref_orders,
    rows_under_segment_filter,
)


def truncate(days: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days.dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[grain]).dt.start_time


def ref_trend(frames: dict, filters: Filters, grain: str) -> pd.DataFrame:
    """All trend measures per period computed with pandas from the raw tables."""
    valid = ref_orders(frames, filters).sort_values(["customer_id", "order_ts", "order_id"])
    valid = valid.assign(period=truncate(valid.order_date, grain))
    valid["repeat"] = valid.duplicated(["period", "customer_id"])  # every order after the first in the period
    first_ever = frames["fact_orders"].query("~is_returned & ~is_cancelled").groupby("customer_id").order_date.min()
    per_customer = valid.groupby(["period", "customer_id"]).agg(
        orders=("order_id", "size"), revenue=("net_revenue", "sum"), is_prime=("is_prime", "first"),
        first=("order_date", "min"), last=("order_date", "max"),
        repeat_revenue=("net_revenue", lambda r: r[valid.loc[r.index, "repeat"]].sum())).reset_index()
    since = per_customer.period.where(per_customer.period > pd.Timestamp(filters.start), pd.Timestamp(filters.start))
    per_customer["is_new"] = per_customer.customer_id.map(first_ever) >= since
    per_customer["span"] = (per_customer["last"] - per_customer["first"]).dt.days
    new = per_customer[per_customer.is_new]
    g = per_customer.groupby("period")
    out = pd.DataFrame({
        "customers": g.size(), "orders": g.orders.sum(), "revenue": g.revenue.sum(),
        "repeat_customers": g.orders.apply(lambda s: (s >= 2).sum()), "prime_customers": g.is_prime.sum(),
        "repeat_sales": g.repeat_revenue.sum(), "repeat_span_days": g.span.sum(), "new_customers": g.is_new.sum(),
        "new_customer_orders": new.groupby("period").orders.sum(),
        "new_customer_sales": new.groupby("period").revenue.sum(),
    })
    every = ref_orders(frames, filters, valid_only=False)
    every = every.assign(period=truncate(every.order_date, grain))
    out = out.join(every.groupby("period").agg(all_orders=("order_id", "size"),
                                               returned_orders=("is_returned", "sum")), how="outer")
    engagement = ref_engagement(frames, filters)
    active = engagement[(engagement.web_visits + engagement.emails_opened + engagement.cart_adds) > 0]
    active = active.assign(period=truncate(active.month, grain))[["customer_id", "period"]].drop_duplicates()
    step = {"week": pd.DateOffset(days=7), "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3),
            "year": pd.DateOffset(years=1)}[grain]
    period_end = (active.period + step - pd.Timedelta(days=1)).clip(upper=pd.Timestamp(filters.end))
    bought = active.customer_id.map(first_ever)
    prospects = active[bought.isna() | (bought > period_end)]
    out = out.join(prospects.groupby("period").size().rename("potential_customers"), how="outer")
    start = truncate(pd.Series([pd.Timestamp(filters.start)]), grain)[0]
    end = truncate(pd.Series([pd.Timestamp(filters.end)]), grain)[0]
    periods = pd.date_range(start, end, freq={"week": "7D", "month": "MS", "quarter": "QS", "year": "YS"}[grain])
    out = out.reindex(periods).fillna(0)
    out["repeat_orders"] = out.orders - out.customers

    def div(a: pd.Series, b: pd.Series) -> pd.Series:
        return (a / b.where(b != 0)).fillna(0.0)

    # ratio measures are ratios of two sums checked above: applied to the pandas sums
    for name, m in TREND_METRICS.items():
        if m.ratio_of is not None:
            out[name] = div(out[m.ratio_of[0]], out[m.ratio_of[1]])
    return out


def test_every_metric_and_grain_matches_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    cases = filter_cases(data_engine)
    for filters, grains in ((cases[0], ["month"]), (cases[1], GRAINS), (cases[2], GRAINS)):
        for grain in grains:
            expected = ref_trend(frames, filters, grain)
            for metric in TREND_METRICS:
                got = trend(data_engine, filters, metric, grain)
                assert list(got.columns) == ["period", "value", "partial"]
                assert list(got.period) == list(expected.index), (metric, grain)
                np.testing.assert_allclose(got.value, expected[metric].to_numpy(), rtol=1e-9, atol=1e-9,
                                           err_msg=f"{metric} {grain} {filters}")


def test_segment_trend_adds_up_to_the_total(data_engine):  # noqa: F811
    filters = filter_cases(data_engine)[1]
    for metric in SEGMENT_TREND_METRICS:
        split = trend_by_segment(data_engine, filters, metric, "quarter", "loyalty")
        assert list(split.columns) == ["period", "segment", "value", "partial"]
        total = trend(data_engine, filters, metric, "quarter")
        assert len(split) == len(total) * len(SCHEME_LABELS["loyalty"])
        if not MEASURES[metric].additive:  # a ratio of the segment's own sums, not a share of the total
            numerator, denominator = MEASURES[metric].ratio_of
            top = trend_by_segment(data_engine, filters, numerator, "quarter", "loyalty").value
            bottom = trend_by_segment(data_engine, filters, denominator, "quarter", "loyalty").value
            expected = np.where(bottom > 0, top / bottom.where(bottom > 0, 1), 0.0)
            np.testing.assert_allclose(split.value.to_numpy(), expected, rtol=1e-9)
            continue
        summed = split.groupby("period", sort=True).value.sum()
        if metric == "customers":  # a customer has one segment, so distinct counts add up too
            np.testing.assert_allclose(summed.to_numpy(), total.value.to_numpy())
        else:
            np.testing.assert_allclose(summed.to_numpy(), total.value.to_numpy(), rtol=1e-9)


# ----- hand-made data -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [
        {"customer_id": 1, "country": "Germany", "is_prime": True},
        {"customer_id": 2, "country": "France"},
        {"customer_id": 3, "country": "Germany"},  # one order only
        {"customer_id": 4, "country": "Spain"},  # a prospect
    ]
    orders = [
        {"customer_id": 1, "date": "2023-12-20", "net_revenue": 10},  # before the range: 1 is not new
        {"customer_id": 1, "date": "2024-01-05", "net_revenue": 100},
        {"customer_id": 1, "date": "2024-01-20", "net_revenue": 50},
        {"customer_id": 1, "date": "2024-02-10", "net_revenue": 30, "is_returned": True},
        {"customer_id": 2, "date": "2024-01-10", "net_revenue": 200},
        {"customer_id": 2, "date": "2024-03-01", "net_revenue": 40, "is_cancelled": True},
        {"customer_id": 2, "date": "2024-03-02", "net_revenue": 60},
        {"customer_id": 3, "date": "2024-02-15", "net_revenue": 80},
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("trends") / "data", customers, orders))


Q1 = Filters(date(2024, 1, 1), date(2024, 3, 31))
MONTHS = [pd.Timestamp(f"2024-0{m}-01") for m in (1, 2, 3)]


@pytest.mark.parametrize(("metric", "values"), [
    ("orders", [3, 1, 1]),
    ("revenue", [350, 80, 60]),
    ("customers", [2, 1, 1]),
    ("aov", [350 / 3, 80, 60]),
    ("new_customers", [1, 1, 0]),  # customer 2 in January, 3 in February; 1 bought in December
    ("repeat_purchase_rate", [0.5, 0, 0]),  # only customer 1 bought twice within one month
    ("ltv", [175, 80, 60]),
    ("orders_per_customer", [1.5, 1, 1]),
    ("repeat_customers", [1, 0, 0]),
    ("repeat_orders", [1, 0, 0]),
    ("repeat_sales", [50, 0, 0]),  # customer 1's second January order
    ("avg_repeat_interval_days", [15, 0, 0]),  # 5 → 20 January
    ("new_customer_orders", [1, 1, 0]),
    ("new_customer_sales", [200, 80, 0]),
    ("returns_rate", [0, 0.5, 0]),  # February: 1 returned of 2 orders; a cancellation is not a return
    ("prime_share", [0.5, 0, 0]),  # the returned order does not make customer 1 a February customer
])
def test_monthly_values_by_hand(hand, metric, values):
    got = trend(hand, Q1, metric, "month")
    assert list(got.period) == MONTHS
    assert got.value.tolist() == pytest.approx(values)


def test_quarter_and_year_by_hand(hand):
    for grain in ("quarter", "year"):
        assert trend(hand, Q1, "orders", grain).value.tolist() == [5]
        assert trend(hand, Q1, "repeat_purchase_rate", grain).value.tolist() == pytest.approx([2 / 3])
        assert trend(hand, Q1, "repeat_sales", grain).value.tolist() == pytest.approx([110])  # 50 + 60
        assert trend(hand, Q1, "avg_repeat_interval_days", grain).value.tolist() == pytest.approx([33.5])
        assert trend(hand, Q1, "new_customer_sales", grain).value.tolist() == pytest.approx([340])
        assert trend(hand, Q1, "new_customers", grain).value.tolist() == [2]
        assert trend(hand, Q1, "returns_rate", grain).value.tolist() == pytest.approx([1 / 7])  # 7 orders


def test_weeks_start_on_monday_and_cover_partial_weeks(hand):
    got = trend(hand, Filters(date(2024, 1, 3), date(2024, 1, 21)), "revenue", "week")
    assert list(got.period) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-08"),
                                pd.Timestamp("2024-01-15")]
    assert got.value.tolist() == [100, 200, 50]


def test_filters_change_the_result(hand):
    prime = trend(hand, Filters(Q1.start, Q1.end, prime="Prime"), "revenue", "month")
    assert prime.value.tolist() == [150, 0, 0]
    france = trend(hand, Filters(Q1.start, Q1.end, countries=("France",)), "orders", "month")
    assert france.value.tolist() == [1, 0, 1]


def test_single_day_and_empty_selection(hand):
    one_day = trend(hand, Filters(date(2024, 1, 10), date(2024, 1, 10)), "revenue", "week")
    assert list(one_day.period) == [pd.Timestamp("2024-01-08")]
    assert one_day.value.tolist() == [200]
    nobody = Filters(Q1.start, Q1.end, countries=("Atlantis",))
    for metric in TREND_METRICS:
        got = trend(hand, nobody, metric, "month")
        assert list(got.period) == MONTHS
        assert got.value.tolist() == [0, 0, 0]
    split = trend_by_segment(hand, nobody, "revenue", "month", "prime")
    assert len(split) == 6 and split.value.sum() == 0


def test_segment_trend_by_hand(hand):
    got = trend_by_segment(hand, Q1, "orders", "month", "prime")
    wide = got.pivot(index="period", columns="segment", values="value")
    assert wide["Prime"].tolist() == [2, 0, 0]
    assert wide["Non-Prime"].tolist() == [1, 1, 1]
    customers = trend_by_segment(hand, Q1, "customers", "quarter", "prime")
    assert customers.value.tolist() == [1, 2]  # Prime, Non-Prime in display order
    aov = trend_by_segment(hand, Q1, "aov", "month", "prime").pivot(index="period", columns="segment",
                                                                    values="value")
    assert aov["Prime"].tolist() == pytest.approx([75, 0, 0])  # (100 + 50) / 2; February's was returned
    assert aov["Non-Prime"].tolist() == pytest.approx([200, 80, 60])  # the cancelled March order left out


def test_unknown_metric_or_grain_is_refused(hand):
    with pytest.raises(ValueError, match="unknown trend metric"):
        trend(hand, Q1, "profit", "month")
    with pytest.raises(ValueError, match="unknown grain"):
        trend(hand, Q1, "orders", "day")
    with pytest.raises(ValueError, match="unknown trend metric"):
        trend_by_segment(hand, Q1, "potential_customers", "month", "prime")


def test_segment_filter_keeps_its_customers_under_their_period_end_labels(data_engine):  # noqa: F811
    """Per period a customer holds the label of the period's end, so a focus's customers (the scope's members
    of the label) may hold other tiers in some quarters; together they are the focus's revenue."""
    only = filter_cases(data_engine)[1].with_focus("loyalty", "Top Tier")
    got = trend_by_segment(data_engine, only, "revenue", "quarter", "loyalty")
    np.testing.assert_allclose(got.groupby("period", sort=True).value.sum().to_numpy(),
                               trend(data_engine, only, "revenue", "quarter").value.to_numpy(), rtol=1e-9)
