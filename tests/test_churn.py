"""Churn risk: model inputs grouped in the engine vs pandas, scores vs hand formulas, bands, segments, the
action table, the fitted-vs-actual curve, and degenerate selections (empty, one customer, no repeat buyers)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.kpis import kpis
from metrics.models.bgnbd import BGNBDModel, group_customers
from metrics.models.choice import fit_purchase_model
from metrics.models.churn import (
    ACTION_COLUMNS,
    at_risk_rate,
    churn_bands,
    churn_by_segment,
    churn_model_summary,
    customer_action_table,
    customer_churn,
    fitted_vs_actual,
)
from metrics.models.inputs import btyd_groups, spend_inputs
from metrics.population import customer_segments
from metrics.segments.labels import SCHEME_LABELS
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import load_frames, ref_orders


# ----- independent pandas version of the model inputs ------------------------------------------------------
def pandas_btyd(frames: dict, filters: Filters) -> pd.DataFrame:
    """Per customer with a valid order in the range, over their whole valid history up to the end:
    frequency (repeat purchase days), span_days (t_x), tenure_days (T), recency_days, monetary_value (mean
    revenue per repeat purchase day); orders and revenue in the range."""
    orders = ref_orders(frames, filters)
    history = ref_orders(frames, Filters(date(2000, 1, 1), filters.end, filters.prime, filters.countries))
    history = history[history.customer_id.isin(orders.customer_id)]
    as_of = pd.Timestamp(filters.end)
    days = history.groupby(["customer_id", "order_date"]).net_revenue.sum().reset_index()
    first = days.groupby("customer_id").order_date.transform("min")
    days["repeat"] = days.order_date > first
    per = days.groupby("customer_id").agg(first=("order_date", "min"), last=("order_date", "max"),
                                          days=("order_date", "size"))
    repeat = days[days.repeat].groupby("customer_id").net_revenue.agg(["sum", "size"])
    per["frequency"] = per.days - 1
    per["span_days"] = (per["last"] - per["first"]).dt.days
    per["tenure_days"] = (as_of - per["first"]).dt.days
    per["recency_days"] = (as_of - per["last"]).dt.days
    per["orders"] = orders.groupby("customer_id").size()
    per["revenue"] = orders.groupby("customer_id").net_revenue.sum()
    per["monetary_value"] = (repeat["sum"].round(2) / repeat["size"]).reindex(per.index).fillna(0.0)
    return per.reset_index()


def pandas_fit(per: pd.DataFrame) -> BGNBDModel:
    x, t_x, T, counts = group_customers(per.frequency, per.span_days / 7, per.tenure_days / 7)
    return BGNBDModel().fit(x, t_x, T, weights=counts)


@pytest.fixture(scope="module")
def generated(generated_engine):
    # the whole range (lapsed buyers need years of data), so the range's buyers are the model's population;
    # BG/NBD, the model the pandas fit below reproduces
    filters = Filters(*generated_engine.date_bounds(), model="bgnbd")
    frames = load_frames(generated_engine)
    per = pandas_btyd(frames, filters)
    return generated_engine, filters, frames, per, pandas_fit(per)


def test_engine_groups_match_pandas(generated):
    engine, filters, _, per, _ = generated
    groups = btyd_groups(engine, filters)
    assert list(groups.columns) == ["frequency", "span_days", "tenure_days", "recency", "T", "customers"]
    expected = per.groupby(["frequency", "span_days", "tenure_days"]).size().rename("customers").reset_index()
    pd.testing.assert_frame_equal(groups[["frequency", "span_days", "tenure_days", "customers"]], expected,
                                  check_dtype=False)
    assert np.allclose(groups.recency, groups.span_days / 7) and np.allclose(groups["T"], groups.tenure_days / 7)
    assert len(groups) < len(per)  # one-time buyers of a day share a row
    days = btyd_groups(engine, filters, "day")
    assert np.array_equal(days["T"], days.tenure_days)


def test_fit_matches_a_pandas_fit_and_is_memoised(generated):
    engine, filters, _, per, model = generated
    summary = churn_model_summary(engine, filters)
    assert summary["ok"] and summary["converged"] and summary["message"] == ""
    assert summary["n_customers"] == len(per) and summary["n_repeat_buyers"] == int((per.frequency > 0).sum())
    for name in ("r", "alpha", "a", "b"):
        assert summary["params"][name] == pytest.approx(getattr(model.params, name), rel=1e-6)
    assert summary["log_likelihood"] == pytest.approx(model.log_likelihood, rel=1e-9)
    assert summary["time_unit"] == "week"
    assert fit_purchase_model(engine, filters) is fit_purchase_model(engine, filters)


def test_scores_match_the_model_per_customer(generated):
    engine, filters, _, per, model = generated
    got = engine.execute(customer_churn(engine, filters)).sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == ["customer_id", "p_alive", "churn_risk", "risk_band"]
    expected = per.sort_values("customer_id").reset_index(drop=True)
    assert got.customer_id.tolist() == expected.customer_id.tolist()
    p_alive = model.p_alive(expected.frequency, expected.span_days / 7, expected.tenure_days / 7)
    assert np.allclose(got.p_alive, p_alive, rtol=1e-5, atol=1e-9)
    assert np.allclose(got.churn_risk, 1 - got.p_alive)
    band = np.select([got.churn_risk < 0.3, got.churn_risk < 0.7], ["Low", "Medium"], "High")
    assert (got.risk_band == band).all()
    assert got.churn_risk.between(0, 1).all() and not got.isna().any().any()
    assert (got.churn_risk[expected.frequency == 0] == 0).all()  # BG/NBD: no repeat purchase, no dropout


def test_lapsed_customers_are_riskier_than_recent_frequent_buyers(generated):
    engine, filters, _, per, _ = generated
    risk = engine.execute(customer_churn(engine, filters)).set_index("customer_id").churn_risk
    per = per.set_index("customer_id").assign(risk=risk)
    lapsed = per[(per.frequency >= 2) & (per.recency_days > 365)]
    recent = per[(per.frequency >= 5) & (per.recency_days <= 30)]
    assert len(lapsed) > 20 and len(recent) > 20
    assert lapsed.risk.mean() > 0.8 > 0.2 > recent.risk.mean()
    assert lapsed.risk.median() > recent.risk.quantile(0.9)


def test_at_risk_rate_and_bands_match_pandas(generated):
    engine, filters, _, per, model = generated
    risk = 1 - model.p_alive(per.frequency, per.span_days / 7, per.tenure_days / 7)
    rate = at_risk_rate(engine, filters)
    assert 0 < rate < 1 and rate == pytest.approx((risk >= 0.7).mean(), abs=1e-12)
    assert kpis(engine, filters)["at_risk_rate"] == rate
    bands = churn_bands(engine, filters)
    assert list(bands.columns) == ["band", "customers", "customer_share", "revenue", "revenue_share"]
    assert bands.band.tolist() == ["Low", "Medium", "High"]
    band = pd.Series(np.select([risk < 0.3, risk < 0.7], ["Low", "Medium"], "High"), index=per.index)
    expected = per.groupby(band).agg(customers=("customer_id", "size"), revenue=("revenue", "sum"))
    assert bands.set_index("band").customers.to_dict() == expected.customers.to_dict()
    assert np.allclose(bands.set_index("band").revenue, expected.revenue.reindex(bands.band))
    assert bands.customer_share.sum() == pytest.approx(1.0) and bands.attrs["message"] == ""


def test_churn_by_segment_matches_pandas(generated):
    engine, filters, _, per, model = generated
    frame = churn_by_segment(engine, filters, "loyalty")
    assert frame.segment.tolist() == list(SCHEME_LABELS["loyalty"])
    assert list(frame.columns) == ["segment", "customers", "revenue", "mean_churn_risk", "at_risk_customers",
                                   "at_risk_share", "revenue_at_risk"]
    labels = engine.execute(customer_segments(engine, filters, "loyalty"))
    per = per.merge(labels, on="customer_id")
    per["risk"] = 1 - model.p_alive(per.frequency, per.span_days / 7, per.tenure_days / 7)
    expected = per.groupby("segment").agg(customers=("customer_id", "size"), mean_churn_risk=("risk", "mean"),
                                          at_risk_customers=("risk", lambda r: int((r >= 0.7).sum())))
    got = frame.set_index("segment")
    assert got.customers.to_dict() == expected.customers.to_dict()
    assert got.at_risk_customers.to_dict() == expected.at_risk_customers.to_dict()
    assert np.allclose(got.mean_churn_risk, expected.mean_churn_risk.reindex(got.index), atol=1e-6)
    assert got.mean_churn_risk.between(0, 1).all()


def test_segment_summary_with_churn_adds_each_segments_risk(generated):
    from metrics.segments.churn_summary import segment_summary_with_churn
    from metrics.segments.tables import segment_summary

    engine, filters, _, per, model = generated
    frame = segment_summary_with_churn(engine, filters, "loyalty")
    summary = segment_summary(engine, filters, "loyalty")
    assert frame.drop(columns=["mean_churn_risk", "at_risk_share"]).equals(summary)
    labels = engine.execute(customer_segments(engine, filters, "loyalty"))
    per = per.merge(labels, on="customer_id")
    per["risk"] = 1 - model.p_alive(per.frequency, per.span_days / 7, per.tenure_days / 7)
    expected = per.groupby("segment").risk.agg(["mean", lambda r: (r >= 0.7).mean()])
    got = frame.set_index("segment").loc[expected.index]
    assert np.allclose(got.mean_churn_risk, expected["mean"], atol=1e-6)
    assert np.allclose(got.at_risk_share, expected.iloc[:, 1], atol=1e-9)


def test_action_table_lists_high_risk_high_revenue_customers(generated):
    engine, filters, _, per, model = generated
    table = customer_action_table(engine, filters, limit=50)
    assert list(table.columns) == list(ACTION_COLUMNS) and 0 < len(table) <= 50
    assert (table.churn_risk >= 0.7).all()
    assert (table.revenue >= per.revenue.quantile(0.75) - 1e-6).all()
    assert table.revenue_at_risk.is_monotonic_decreasing
    assert np.allclose(table.revenue_at_risk, table.revenue * table.churn_risk)
    assert set(table.segment) <= set(SCHEME_LABELS["loyalty"]) and not table.isna().any().any()
    assert (table.predicted_clv >= 0).all()
    everyone = customer_action_table(engine, filters, limit=100_000)
    risk = 1 - model.p_alive(per.frequency, per.span_days / 7, per.tenure_days / 7)
    expected = (risk >= 0.7) & (per.revenue >= per.revenue.quantile(0.75))
    assert len(everyone) == int(expected.sum())


def test_fitted_vs_actual_curve(generated):
    engine, filters, _, per, _ = generated
    curve = fitted_vs_actual(engine, filters)
    assert list(curve.columns) == ["week", "date", "actual", "expected", "actual_cumulative", "expected_cumulative"]
    assert curve.week.tolist() == list(range(len(curve))) and curve.date.iloc[-1] == pd.Timestamp(filters.end)
    assert curve.actual_cumulative.iloc[0] == 0 and curve.expected_cumulative.iloc[0] == 0
    assert curve.actual_cumulative.iloc[-1] == per.frequency.sum()  # every repeat purchase day, once
    assert curve.actual_cumulative.is_monotonic_increasing and curve.expected_cumulative.is_monotonic_increasing
    assert np.allclose(curve.actual.cumsum(), curve.actual_cumulative)
    ratio = curve.expected_cumulative.iloc[-1] / curve.actual_cumulative.iloc[-1]
    assert 0.9 < ratio < 1.1


# ----- a hand-made base: 12 regular repeat buyers, plus customers whose risk is known by construction -------
def weekly(customer: int, first: str, n: int, every: int = 7) -> list[dict]:
    start = date.fromisoformat(first)
    return [{"customer_id": customer, "date": start + timedelta(days=every * i), "net_revenue": 20.0 + customer}
            for i in range(n)]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    customers = [{"customer_id": i, "is_prime": i % 2 == 0} for i in range(1, 31)]
    orders = []
    for i in range(1, 13):  # the base: buyers with 2..6 orders every 3..8 weeks, starting through 2023
        orders += weekly(i, f"2023-{i:02d}-05", 2 + i % 5, every=7 * (3 + i % 6))
    orders += weekly(20, "2023-01-02", 6)  # lapsed: six weekly orders in January 2023, then nothing
    orders += weekly(21, "2024-07-05", 6, every=30)  # recent and frequent: monthly since July 2024
    orders += [{"customer_id": 22, "date": "2023-05-05", "net_revenue": 80.0}]  # one order only
    orders += [{"customer_id": 23, "date": "2024-12-01", "net_revenue": 15.0, "is_returned": True}]  # no sale
    return engine_for(write_dataset(tmp_path_factory.mktemp("churn") / "data", customers, orders))


FULL = Filters("2023-01-01", "2024-12-31", model="bgnbd")


def test_hand_btyd_inputs(tmp_path):
    customers = [{"customer_id": i} for i in (1, 2, 3)]
    orders = [
        {"customer_id": 1, "date": "2024-01-01", "net_revenue": 10.0},
        {"customer_id": 1, "date": "2024-01-01", "net_revenue": 20.0},  # same day: one purchase day
        {"customer_id": 1, "date": "2024-01-15", "net_revenue": 30.0},
        {"customer_id": 1, "date": "2024-01-20", "net_revenue": 99.0, "is_returned": True},  # not a sale
        {"customer_id": 1, "date": "2024-02-01", "net_revenue": 50.0},
        {"customer_id": 2, "date": "2024-03-01", "net_revenue": 5.0},
        {"customer_id": 3, "date": "2024-03-01", "net_revenue": 7.0},
    ]
    engine = engine_for(write_dataset(tmp_path / "data", customers, orders))
    q1 = Filters("2024-01-01", "2024-03-31")
    groups = btyd_groups(engine, q1)
    # customer 1: x = 2 repeat days, t_x = 31 days (1 Jan -> 1 Feb), T = 90 days; 2 and 3 share one row
    assert groups[["frequency", "span_days", "tenure_days", "customers"]].values.tolist() == [[0, 0, 30, 2],
                                                                                               [2, 31, 90, 1]]
    assert groups.recency.tolist() == [0.0, 31 / 7] and groups["T"].tolist() == [30 / 7, 90 / 7]
    spend = spend_inputs(engine, q1)
    # repeat days of customer 1: 15 Jan (30) and 1 Feb (50); the first day (10 + 20) is left out
    assert spend.groups.values.tolist() == [[2, 40.0, 1]] and spend.repeat_buyers == 1 and not spend.sampled
    summary = churn_model_summary(engine, q1)
    assert not summary["ok"] and "at least 10 customers with a repeat purchase" in summary["message"]


def test_hand_risk_follows_the_closed_form(hand):
    summary = churn_model_summary(hand, FULL)
    assert summary["ok"] and summary["n_customers"] == 15 and summary["n_repeat_buyers"] == 14
    r, alpha, a, b = (summary["params"][k] for k in ("r", "alpha", "a", "b"))
    risk = hand.execute(customer_churn(hand, FULL)).set_index("customer_id").churn_risk

    def by_hand(x: int, t_x_days: int, T_days: int) -> float:  # FHL 2008: P(alive) written out
        t_x, T = t_x_days / 7, T_days / 7
        return 1 - 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))

    # lapsed: 2 Jan .. 6 Feb 2023 (x = 5, t_x = 35 days), watched until 31 Dec 2024 (T = 729 days)
    assert risk[20] == pytest.approx(by_hand(5, 35, 729), rel=1e-9)
    # recent: 5 Jul 2024 + 30-day steps, last on 2 Dec 2024 (x = 5, t_x = 150, T = 179)
    assert risk[21] == pytest.approx(by_hand(5, 150, 179), rel=1e-9)
    assert risk[20] > 0.9 and risk[21] < risk[20] - 0.4
    assert risk[22] == 0.0 and 23 not in risk.index


@pytest.mark.parametrize("filters, why", [
    (Filters("2022-01-01", "2022-06-30"), "No customers"),  # empty selection
    (Filters("2023-05-01", "2023-05-31"), "at least 10 customers with a repeat purchase"),  # a few buyers
    (Filters("2023-01-01", "2024-12-31", countries=("Atlantis",)), "No customers"),
])
def test_degenerate_selections_give_messages_and_zeros(hand, filters, why):
    summary = churn_model_summary(hand, filters)
    assert summary["ok"] is False and why in summary["message"]
    assert all(not (isinstance(v, float) and np.isnan(v)) for v in summary.values())
    assert hand.execute(customer_churn(hand, filters).count()) == 0
    assert list(hand.execute(customer_churn(hand, filters)).columns) == ["customer_id", "p_alive", "churn_risk",
                                                                          "risk_band"]
    assert at_risk_rate(hand, filters) == 0.0 and kpis(hand, filters)["at_risk_rate"] == 0.0
    bands = churn_bands(hand, filters)
    assert bands.band.tolist() == ["Low", "Medium", "High"] and bands.customers.sum() == 0
    assert not bands.isna().any().any() and why in bands.attrs["message"]
    seg = churn_by_segment(hand, filters, "prime")
    assert seg.segment.tolist() == ["Prime", "Non-Prime"] and not seg.isna().any().any()
    assert seg[["customers", "mean_churn_risk"]].eq(0).all().all()
    table = customer_action_table(hand, filters)
    assert table.empty and list(table.columns) == list(ACTION_COLUMNS)
    curve = fitted_vs_actual(hand, filters)
    assert curve.empty and "expected_cumulative" in curve.columns


def test_a_short_range_is_scored_by_the_model_of_everyone_acquired_by_its_end(hand):
    december = Filters("2024-12-01", "2024-12-31", model="bgnbd")  # one buyer (21) in the range
    summary = churn_model_summary(hand, december)
    assert summary["ok"] and summary["n_customers"] == 15  # the 15 buyers acquired by 31 December 2024
    assert summary["params"] == churn_model_summary(hand, FULL)["params"]  # same end, same population
    risk = hand.execute(customer_churn(hand, december))
    assert risk.customer_id.tolist() == [21]
    full = hand.execute(customer_churn(hand, FULL)).set_index("customer_id")
    assert risk.churn_risk.iloc[0] == pytest.approx(full.churn_risk[21])


def test_filters_change_the_fit(hand):
    prime = churn_model_summary(hand, Filters("2023-01-01", "2024-12-31", prime="Prime"))
    assert prime["n_customers"] == 8 and prime["n_repeat_buyers"] == 7  # 2, 4, ..., 12, 20 and 22
    assert not prime["ok"] and "got 7 of 8 customers" in prime["message"]
