"""The seed views: segments and churn risk at each month end, the income × spending quadrants with their
averages, tier × CLV class audiences and the cart abandoners of the last 3 months — each checked against an
independent pandas calculation on the generated data."""

from __future__ import annotations

import calendar
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.demographics import quadrant_summary
from metrics.measures.engagement import recent_cart_abandoners
from metrics.measures.trends import trend, trend_by_segment
from metrics.models.choice import fit_purchase_model
from metrics.models.churn import churn_by_segment, mean_churn_risk
from metrics.models.clv import CLV_CLASSES, clv_by_segment
from metrics.models.inputs import unit_days
from metrics.segments.churn_trend import churn_risk_by_month
from metrics.segments.clv_audiences import segment_clv_audience
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.monthly import MAX_MONTH_ENDS, label_step, month_ends, segment_sizes_by_month
from metrics.segments.tables import segment_summary

YEAR = Filters("2024-01-01", "2024-12-31")
#: A range starting mid-month, ending mid-month, one country: the windows and the partial last month.
ODD = Filters("2023-03-15", "2023-08-20", countries=("Germany",))
#: 35 months (more than MAX_MONTH_ENDS), ending mid-quarter and mid-month: labelled at its quarter ends and
#: its last month.
LONG = Filters("2022-01-01", "2024-11-20")


@pytest.fixture(scope="module")
def frames(generated_dir: Path) -> dict[str, pd.DataFrame]:
    orders = pd.read_parquet(generated_dir / "fact_orders")
    orders = orders[~orders.is_returned & ~orders.is_cancelled].copy()
    orders["day"] = pd.to_datetime(orders.order_ts).dt.normalize()
    customers = pd.read_parquet(generated_dir / "dim_customer")
    engagement = pd.read_parquet(generated_dir / "fact_engagement")
    engagement["month"] = pd.to_datetime(engagement.month)
    return {"orders": orders.merge(customers[["customer_id", "country"]], on="customer_id"),
            "customers": customers, "engagement": engagement}


def _ntile(values: pd.DataFrame, by: list[str], ascending: list[bool]) -> np.ndarray:
    """SQL NTILE(5) + 1 over the rows ordered by ``by`` (ties by customer_id)."""
    ordered = values.sort_values([*by, "customer_id"], ascending=[*ascending, True])
    n = len(ordered)
    rank = np.arange(n)
    big, size = n % 5, n // 5  # the first n % 5 tiles hold one row more
    tile = np.where(rank < big * (size + 1), rank // (size + 1), big + (rank - big * (size + 1)) // max(size, 1))
    return pd.Series(tile + 1, index=ordered.index).reindex(values.index).to_numpy()


def _loyalty(r: pd.Series, f: pd.Series, m: pd.Series) -> np.ndarray:
    return np.select([(r >= 4) & (m >= 4), (r >= 3) & (f <= 3) & (m >= 3), (r <= 2) & (f <= 2)],
                     ["Top Tier", "Promising", "Hibernating"], "At-Risk")


def month_end_labels(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    """Per month end of the range: the window's customers with their loyalty tier, the BTYD triple and
    the month index — from the orders, one month at a time (the rules of metrics.segments.monthly)."""
    orders = frames["orders"]
    if filters.countries:
        orders = orders[orders.country.isin(filters.countries)]
    months = pd.period_range(filters.start, filters.end, freq="M")
    n = len(months)
    out = []
    for month in months:
        end = min(date(month.year, month.month, calendar.monthrange(month.year, month.month)[1]), filters.end)
        first = (month - (n - 1)).start_time
        upto = orders[orders.day <= pd.Timestamp(end)]
        window = upto[upto.day >= first]
        per = window.groupby("customer_id").agg(orders=("order_id", "count"), revenue=("net_revenue", "sum"),
                                                last=("day", "max")).reset_index()
        per["revenue"] = per.revenue.round(2)
        per["recency"] = (pd.Timestamp(end) - per["last"]).dt.days
        r = _ntile(per, ["recency"], [False])
        f = _ntile(per, ["orders"], [True])
        m = _ntile(per, ["revenue"], [True])
        per["segment"] = _loyalty(pd.Series(r), pd.Series(f), pd.Series(m))
        history = upto[upto.customer_id.isin(per.customer_id)].groupby("customer_id").agg(
            days=("day", "nunique"), first_day=("day", "min"), last_day=("day", "max"))
        per = per.merge(history.reset_index(), on="customer_id")
        per["frequency"] = per.days - 1
        per["span_days"] = (per.last_day - per.first_day).dt.days
        per["tenure_days"] = (pd.Timestamp(end) - per.first_day).dt.days
        per["month"] = pd.Timestamp(month.start_time).as_unit("ns")
        out.append(per)
    return pd.concat(out, ignore_index=True)


@pytest.mark.parametrize("filters", [YEAR, ODD], ids=["year", "odd"])
def test_segment_sizes_follow_each_month_end(generated_engine, frames, filters):
    expected = month_end_labels(frames, filters).groupby(["month", "segment"]).size()
    got = segment_sizes_by_month(generated_engine, filters, "loyalty").set_index(["month", "segment"]).customers
    assert len(got) == len(pd.period_range(filters.start, filters.end, freq="M")) * 4
    pd.testing.assert_series_equal(got[got > 0].sort_index(), expected.rename("customers").sort_index(),
                                   check_dtype=False, check_names=False)
    shares = segment_sizes_by_month(generated_engine, filters, "loyalty").groupby("month").share.sum()
    assert np.allclose(shares, 1.0)


def test_the_last_month_end_is_the_scope_itself(generated_engine):
    for scheme in SCHEME_LABELS:
        sizes = segment_sizes_by_month(generated_engine, YEAR, scheme)
        last = sizes[sizes.month == sizes.month.max()].set_index("segment").customers
        scope = segment_summary(generated_engine, YEAR, scheme).set_index("segment").customers
        assert last.to_dict() == scope.reindex(last.index).to_dict(), scheme


def test_segment_trend_counts_each_month_by_its_month_end_label(generated_engine, frames):
    labels = month_end_labels(frames, YEAR)
    orders = frames["orders"]
    orders = orders[(orders.day >= "2024-01-01") & (orders.day <= "2024-12-31")].copy()
    orders["month"] = orders.day.dt.to_period("M").dt.start_time.astype("datetime64[ns]")
    joined = orders.merge(labels[["customer_id", "month", "segment"]], on=["customer_id", "month"])
    for metric, expected in (("orders", joined.groupby(["month", "segment"]).size()),
                             ("customers", joined.groupby(["month", "segment"]).customer_id.nunique())):
        got = trend_by_segment(generated_engine, YEAR, metric, "month", "loyalty").set_index(
            ["period", "segment"]).value
        got.index.names = ["month", "segment"]
        pd.testing.assert_series_equal(got[got > 0].sort_index(), expected.astype(float).sort_index(),
                                       check_names=False)
    # every order counts once: the month-end labels cover every customer who ordered that month
    total = trend(generated_engine, YEAR, "orders", "month").value.to_numpy()
    split = trend_by_segment(generated_engine, YEAR, "orders", "month", "loyalty").groupby("period").value.sum()
    np.testing.assert_allclose(split.to_numpy(), total)


def test_a_focus_follows_its_customers_through_their_monthly_labels(generated_engine):
    focus = YEAR.with_focus("loyalty", "Top Tier")
    got = trend_by_segment(generated_engine, focus, "customers", "month", "loyalty")
    total = trend(generated_engine, focus, "customers", "month").value.to_numpy()
    np.testing.assert_allclose(got.groupby("period").value.sum().to_numpy(), total)
    last = got[got.period == got.period.max()].set_index("segment").value
    assert last["Top Tier"] == total[-1] and last.drop("Top Tier").sum() == 0  # the last month is the scope's
    assert got[got.segment != "Top Tier"].value.sum() > 0  # earlier, some held another tier


@pytest.mark.parametrize("filters", [YEAR, ODD], ids=["year", "odd"])
def test_churn_risk_by_month_uses_each_month_end_history(generated_engine, frames, filters):
    fit = fit_purchase_model(generated_engine, filters)
    assert fit.model is not None
    labels = month_end_labels(frames, filters)
    days = unit_days(fit.time_unit)
    labels["risk"] = 1.0 - fit.model.p_alive(labels.frequency.to_numpy(float), labels.span_days.to_numpy(float) / days,
                                             labels.tenure_days.to_numpy(float) / days)
    expected = labels.groupby(["month", "segment"]).agg(customers=("risk", "size"), mean=("risk", "mean"),
                                                        high=("risk", lambda r: (r >= 0.7).mean()))
    got = churn_risk_by_month(generated_engine, filters, "loyalty").set_index(["month", "segment"])
    got = got[got.customers > 0].sort_index()
    assert got.customers.tolist() == expected.customers.tolist()
    np.testing.assert_allclose(got.mean_churn_risk, expected["mean"], rtol=1e-9)
    np.testing.assert_allclose(got.at_risk_share, expected.high, rtol=1e-9)


def test_churn_risk_of_the_last_month_is_the_as_of_value(generated_engine):
    got = churn_risk_by_month(generated_engine, YEAR, "behaviour")
    last = got[got.month == got.month.max()].set_index("segment")
    at_as_of = churn_by_segment(generated_engine, YEAR, "behaviour").set_index("segment")
    np.testing.assert_allclose(last.mean_churn_risk, at_as_of.mean_churn_risk.reindex(last.index), rtol=1e-9)
    weights = at_as_of.customers / at_as_of.customers.sum()
    assert mean_churn_risk(generated_engine, YEAR) == pytest.approx((at_as_of.mean_churn_risk * weights).sum())


def test_empty_range_gives_zero_rows_not_errors(generated_engine):
    from tests.generated import first_empty_day

    empty = first_empty_day(generated_engine)
    assert segment_sizes_by_month(generated_engine, empty, "rfm").customers.sum() == 0
    assert churn_risk_by_month(generated_engine, empty, "loyalty").customers.sum() == 0
    assert segment_clv_audience(generated_engine, empty, limit=10).empty
    assert quadrant_summary(generated_engine, empty).customers.sum() == 0


def test_quadrant_averages_match_pandas(generated_engine, frames):
    orders = frames["orders"]
    buyers = orders[(orders.day >= "2024-01-01") & (orders.day <= "2024-12-31")].customer_id.unique()
    people = frames["customers"].set_index("customer_id").loc[np.sort(buyers)]
    high_income = people.annual_income >= people.annual_income.median()
    high_score = people.spending_score >= people.spending_score.median()
    people["segment"] = np.select([high_income & high_score, high_income, high_score],
                                  ["VIP", "Underperformers", "Potential Growers"], "At Risk")
    expected = people.groupby("segment").agg(customers=("name", "size"), income=("annual_income", "mean"),
                                             score=("spending_score", "mean"))
    got = quadrant_summary(generated_engine, YEAR).set_index("segment")
    assert got.index.tolist() == list(SCHEME_LABELS["income_spending"])
    expected = expected.reindex(got.index)
    assert got.customers.tolist() == expected.customers.tolist()
    np.testing.assert_allclose(got.avg_annual_income, expected.income, rtol=1e-9)
    np.testing.assert_allclose(got.avg_spending_score, expected.score, rtol=1e-9)
    assert got.customer_share.sum() == pytest.approx(1.0)


def test_tier_clv_audiences_hold_the_counts_of_the_clv_table(generated_engine):
    counts = clv_by_segment(generated_engine, YEAR, "loyalty").set_index(["segment", "clv_class"]).customers
    for tier in SCHEME_LABELS["loyalty"]:
        for clv_class in CLV_CLASSES:
            whole = segment_clv_audience(generated_engine, YEAR, "loyalty", tier, clv_class)
            assert len(whole) == counts[(tier, clv_class)] == whole.attrs["total_rows"], (tier, clv_class)
            if clv_class == "Declining" and len(whole):
                assert (whole.expected_change < -0.1 * whole.last_12m_sales + 1e-9).all()
                assert whole.expected_change.is_monotonic_increasing
    top = segment_clv_audience(generated_engine, YEAR, "loyalty", "Top Tier", "Declining", limit=5)
    whole = segment_clv_audience(generated_engine, YEAR, "loyalty", "Top Tier", "Declining")
    pd.testing.assert_frame_equal(top, whole.head(5))
    assert top.attrs["total_rows"] == counts[("Top Tier", "Declining")]


@pytest.mark.parametrize("filters", [YEAR, ODD], ids=["year", "odd"])
def test_recent_cart_abandoners_are_those_of_the_last_three_months(generated_engine, frames, filters):
    e = frames["engagement"]
    people = frames["customers"]
    if filters.countries:
        people = people[people.country.isin(filters.countries)]
    first = pd.Timestamp(filters.end.year, filters.end.month, 1) - pd.DateOffset(months=2)
    recent = e[(e.month >= first) & (e.month <= pd.Timestamp(filters.end)) & e.customer_id.isin(people.customer_id)]
    per = recent.groupby("customer_id").agg(cart_abandons=("cart_abandons", "sum"), web_visits=("web_visits", "sum"))
    per = per[per.cart_abandons > 0].reset_index()
    per = per.sort_values(["cart_abandons", "web_visits", "customer_id"], ascending=[False, False, True])
    orders = frames["orders"]
    bought = set(orders[orders.day <= pd.Timestamp(filters.end)].customer_id)
    got = recent_cart_abandoners(generated_engine, filters, limit=None)
    assert got.customer_id.tolist() == per.customer_id.tolist()
    assert got.cart_abandons.tolist() == per.cart_abandons.tolist()
    assert got.status.tolist() == ["Buyer" if c in bought else "Prospect" for c in per.customer_id]
    capped = recent_cart_abandoners(generated_engine, filters, limit=3)
    assert capped.attrs["total_rows"] == len(got) and capped.customer_id.tolist() == got.customer_id.head(3).tolist()


def test_a_range_over_the_cap_is_labelled_at_its_quarter_ends(generated_engine, frames):
    assert label_step(YEAR) == 1 and label_step(LONG) == 3 and len(month_ends(LONG)) <= MAX_MONTH_ENDS
    labelled = [pd.Timestamp(y, m, 1) for y in (2022, 2023, 2024) for m in (3, 6, 9, 12)
                if pd.Timestamp(y, m, 1) < pd.Timestamp(2024, 11, 1)] + [pd.Timestamp(2024, 11, 1)]
    labels = month_end_labels(frames, LONG)  # every month end, from the orders
    labels = labels[labels.month.isin(labelled)]
    got = segment_sizes_by_month(generated_engine, LONG, "loyalty")
    assert sorted(got.month.unique()) == labelled
    got = got.set_index(["month", "segment"]).customers
    pd.testing.assert_series_equal(got[got > 0].sort_index(),
                                   labels.groupby(["month", "segment"]).size().rename("customers").sort_index(),
                                   check_dtype=False, check_names=False)
    # each month's orders count under the label of the next labelled month end (its quarter's, or November 2024)
    orders = frames["orders"]
    orders = orders[(orders.day >= "2022-01-01") & (orders.day <= "2024-11-20")].copy()
    month = orders.day.dt.to_period("M").dt.start_time
    orders["month"] = month.astype("datetime64[ns]")
    orders["label_month"] = [min(m + pd.DateOffset(months=(2 - (m.month - 1) % 3)), pd.Timestamp(2024, 11, 1))
                             for m in month]
    joined = orders.merge(labels[["customer_id", "month", "segment"]].rename(columns={"month": "label_month"}),
                          on=["customer_id", "label_month"])
    assert len(joined) == len(orders)  # every order's customer holds a label at its month's labelled end
    expected = joined.groupby(["month", "segment"]).size().astype(float).sort_index()
    trend_got = trend_by_segment(generated_engine, LONG, "orders", "month", "loyalty").set_index(["period", "segment"])
    trend_got.index.names = ["month", "segment"]
    pd.testing.assert_series_equal(trend_got.value[trend_got.value > 0].sort_index(), expected, check_names=False)
