"""Predictive CLV: spend inputs and CLV per customer vs pandas and the fitters, discounting, classes by
hand, summaries per class and segment, and degenerate selections."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.models.choice import fit_purchase_model
from metrics.models.clv import (
    CLV_CLASSES,
    CLV_SCHEMA,
    SUMMARY_COLUMNS,
    clv_by_segment,
    clv_class_expr,
    clv_model_summary,
    clv_summary,
    customer_clv,
)
from metrics.models.gamma_gamma import GammaGammaModel, customer_lifetime_value
from metrics.models.inputs import fit_spend_model, months_back
from metrics.population import customer_segments
from metrics.segments.labels import SCHEME_LABELS
from metrics.selection import default_filters
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import load_frames, ref_orders
from tests.test_churn import hand, pandas_btyd, pandas_fit, weekly  # noqa: F401

CLV_COLUMNS = list(CLV_SCHEMA.names)


def pandas_classes(predicted: pd.Series, last: pd.Series) -> np.ndarray:
    return np.select([last <= 0, predicted > last * 1.1, predicted < last * 0.9],
                     [np.where(predicted > 0, "Growing", "Maintaining"), "Growing", "Declining"], "Maintaining")


@pytest.fixture(scope="module")
def generated(generated_engine):
    # BG/NBD, the model the pandas fit reproduces; the trailing year is scored by the models of everyone
    # acquired by its end (the population), each with their whole history
    filters = default_filters(generated_engine).with_model("bgnbd")
    frames = load_frames(generated_engine)
    per = pandas_btyd(frames, filters)
    population = pandas_btyd(frames, Filters(generated_engine.date_bounds()[0], filters.end))
    history = ref_orders(frames, filters, whole_history=True)
    since = pd.Timestamp(months_back(filters.end, 12))
    per["last_12m_sales"] = per.customer_id.map(
        history[history.order_date > since].groupby("customer_id").net_revenue.sum()).fillna(0.0)
    bg = pandas_fit(population)
    repeat = population[population.frequency > 0]
    gg = GammaGammaModel().fit(repeat.frequency, repeat.monetary_value)
    per.attrs["population"] = population
    got = generated_engine.execute(customer_clv(generated_engine, filters)).sort_values("customer_id")
    return generated_engine, filters, per.sort_values("customer_id").reset_index(drop=True), bg, gg, \
        got.reset_index(drop=True)


def test_spend_model_matches_a_pandas_fit(generated):
    engine, filters, per, _, gg, _ = generated
    summary = clv_model_summary(engine, filters)
    assert summary["ok"] and summary["converged"] and summary["message"] == "" and not summary["sampled"]
    for name in ("p", "q", "v"):
        assert summary[name] == pytest.approx(getattr(gg.params, name), rel=1e-6)
    population = per.attrs["population"]
    assert summary["repeat_buyers"] == summary["fitted_customers"] == int((population.frequency > 0).sum())
    repeat = population[population.frequency > 0]
    corr = np.corrcoef(repeat.frequency, repeat.monetary_value)[0, 1]
    assert summary["frequency_monetary_corr"] == pytest.approx(corr, abs=1e-3)
    assert summary["correlation_warning"] is bool(abs(corr) >= 0.3)
    assert summary["population_mean_order_value"] == pytest.approx(gg.params.population_mean, rel=1e-6)


def test_customer_clv_matches_the_fitters(generated):
    _, _, per, bg, gg, got = generated
    assert list(got.columns) == CLV_COLUMNS and got.customer_id.tolist() == per.customer_id.tolist()
    assert not got.drop(columns="next_purchase_date").isna().any().any()
    assert np.allclose(got.monetary_value, per.monetary_value, rtol=1e-12)
    x, t_x, T = per.frequency, per.span_days / 7, per.tenure_days / 7
    purchases = bg.expected_purchases(12 * 365.25 / 12 / 7, x, t_x, T)
    assert np.allclose(got.expected_purchases_12m, purchases, rtol=1e-5, atol=1e-9)
    value = gg.expected_order_value(x, per.monetary_value)
    assert np.allclose(got.expected_order_value, value, rtol=1e-5)
    clv = customer_lifetime_value(bg, gg, x, t_x, T, per.monetary_value, time_unit_days=7)
    assert np.allclose(got.predicted_clv, clv, rtol=1e-4, atol=1e-9)
    assert np.allclose(got.predicted_next_12m_sales, got.predicted_clv)  # no discount by default
    assert np.allclose(got.last_12m_sales, per.last_12m_sales, atol=1e-6)
    assert (got.clv_class == pandas_classes(got.predicted_next_12m_sales, got.last_12m_sales)).all()
    assert set(got.clv_class) == set(CLV_CLASSES) and (got.predicted_clv >= 0).all()


def test_discounting(generated):
    engine, filters, per, bg, gg, got = generated
    discounted = engine.execute(customer_clv(engine, filters, discount_rate_monthly=0.01)).sort_values("customer_id")
    x, t_x, T = per.frequency, per.span_days / 7, per.tenure_days / 7
    expected = customer_lifetime_value(bg, gg, x, t_x, T, per.monetary_value, time_unit_days=7,
                                       discount_rate_monthly=0.01)
    assert np.allclose(discounted.predicted_clv, expected, rtol=1e-4, atol=1e-9)
    assert (discounted.predicted_clv.to_numpy() <= got.predicted_clv.to_numpy() + 1e-12).all()
    assert np.allclose(discounted.predicted_next_12m_sales, got.predicted_next_12m_sales)  # classes unchanged
    with pytest.raises(ValueError):
        customer_clv(engine, filters, discount_rate_monthly=-1.5)


def test_summaries_add_up(generated):
    engine, filters, _, _, _, got = generated
    summary = clv_summary(engine, filters)
    assert list(summary.columns) == SUMMARY_COLUMNS and summary.clv_class.tolist() == list(CLV_CLASSES)
    expected = got.groupby("clv_class").agg(customers=("customer_id", "size"), last=("last_12m_sales", "sum"),
                                            nxt=("predicted_next_12m_sales", "sum"))
    s = summary.set_index("clv_class")
    assert s.customers.to_dict() == expected.customers.to_dict()
    assert np.allclose(s.last_12m_sales, expected["last"].reindex(s.index))
    assert np.allclose(s.next_12m_sales_per_customer, (expected.nxt / expected.customers).reindex(s.index))
    by_segment = clv_by_segment(engine, filters, "loyalty")
    assert len(by_segment) == len(SCHEME_LABELS["loyalty"]) * 3 and not by_segment.isna().any().any()
    assert list(by_segment.columns) == ["segment", *SUMMARY_COLUMNS]
    labels = engine.execute(customer_segments(engine, filters, "loyalty"))
    joined = got.merge(labels, on="customer_id")
    counts = joined.groupby(["segment", "clv_class"]).size()
    b = by_segment.set_index(["segment", "clv_class"])
    assert b.customers[b.customers > 0].to_dict() == counts.to_dict()
    assert np.allclose(b.groupby(level="segment").customer_share.sum()[lambda s: s > 0], 1.0)
    assert by_segment.groupby("clv_class").customers.sum().to_dict() == s.customers.to_dict()


# ----- hand-made: class rule and the last-12-month window -------------------------------------------------
def test_class_rule_by_hand(tmp_path):
    engine = engine_for(write_dataset(tmp_path / "data", [{"customer_id": 1}], []))
    cases = pd.DataFrame({
        "last": [100.0, 100.0, 100.0, 100.0, 100.0, 0.0, 0.0],
        "predicted": [111.0, 110.0, 90.0, 89.0, 100.0, 5.0, 0.0],
        "expected": ["Growing", "Maintaining", "Maintaining", "Declining", "Maintaining", "Growing", "Maintaining"],
    })
    t = ibis.memtable(cases)
    got = engine.execute(t.select(t.expected, got=clv_class_expr(t.predicted, t.last)))
    assert got["got"].tolist() == got["expected"].tolist()


def test_last_12_months_by_hand(hand):  # noqa: F811
    clv = hand.execute(customer_clv(hand, Filters("2023-01-01", "2024-12-31"))).set_index("customer_id")
    # customer 21: six orders of 41.0 from 5 Jul 2024, all inside 1 Jan - 31 Dec 2024
    assert clv.loc[21, "last_12m_sales"] == pytest.approx(6 * 41.0)
    # customer 20 (lapsed in Feb 2023) and 22 (one order in May 2023): nothing in the last 12 months
    assert clv.loc[20, "last_12m_sales"] == 0.0 and clv.loc[22, "last_12m_sales"] == 0.0
    assert clv.loc[20, "clv_class"] == "Growing"  # 0 last year and anything predicted counts as growth
    assert clv.loc[22, "monetary_value"] == 0.0 and clv.loc[22, "expected_order_value"] > 0  # population mean
    # customer 1: 3 orders of 21.0 every 4 weeks from 5 Jan 2023
    assert clv.loc[1, "frequency"] == 2 and clv.loc[1, "monetary_value"] == 21.0


def test_last_12_month_window_edges(tmp_path):
    customers = [{"customer_id": i} for i in range(1, 31)]
    orders = []
    for i in range(1, 13):
        orders += weekly(i, f"2023-{i:02d}-05", 3, every=21)
    orders += [{"customer_id": 25, "date": "2023-12-31", "net_revenue": 7.0},  # a day too early
               {"customer_id": 25, "date": "2024-01-01", "net_revenue": 11.0},  # first day of the window
               {"customer_id": 25, "date": "2024-12-31", "net_revenue": 13.0}]  # the as-of date
    engine = engine_for(write_dataset(tmp_path / "data", customers, orders))
    filters = Filters("2024-06-01", "2024-12-31")  # window reaches before the range start
    wide = Filters("2023-01-01", "2024-12-31")
    clv = engine.execute(customer_clv(engine, wide)).set_index("customer_id")
    assert clv.loc[25, "last_12m_sales"] == 24.0
    # one customer in June-Dec, scored by the models of everyone acquired by the end: the same value
    assert engine.execute(customer_clv(engine, filters)).set_index("customer_id").loc[25, "last_12m_sales"] == 24.0
    assert months_back(date(2024, 12, 31), 12) == date(2023, 12, 31)
    assert months_back(date(2024, 2, 29), 12) == date(2023, 2, 28)


@pytest.mark.parametrize("filters", [
    Filters("2022-01-01", "2022-06-30"),  # empty
    Filters("2023-05-01", "2023-05-31"),  # too few repeat buyers acquired by the end
])
def test_degenerate_selections(hand, filters):  # noqa: F811
    assert not fit_purchase_model(hand, filters).ok or not fit_spend_model(hand, filters).ok
    clv = hand.execute(customer_clv(hand, filters))
    assert clv.empty and list(clv.columns) == CLV_COLUMNS
    summary = clv_summary(hand, filters)
    assert summary.clv_class.tolist() == list(CLV_CLASSES) and summary.customers.sum() == 0
    assert not summary.isna().any().any() and summary.attrs["message"]
    seg = clv_by_segment(hand, filters, "prime")
    assert len(seg) == 6 and not seg.isna().any().any() and seg.customers.sum() == 0
    model = clv_model_summary(hand, filters)
    assert model["ok"] is False and model["message"]
    assert all(not (isinstance(v, float) and np.isnan(v)) for v in model.values())
