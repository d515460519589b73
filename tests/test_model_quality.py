"""Holdout evaluation: calibration fits, holdout actuals and predictions vs pandas, the per-frequency
criterion and the tracking curve add up, and the holdout check of a range scores only its buyers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.models.choice import holdout_check
from metrics.models.purchase_models import PURCHASE_MODELS
from metrics.models.quality import evaluate_holdout, holdout_end_for
from tests.generated import load_frames, ref_orders
from tests.test_churn import pandas_btyd, pandas_fit

CAL_END, HOLDOUT_END = date(2024, 6, 30), date(2024, 12, 31)


@pytest.fixture(scope="module")
def checked(generated_engine):
    first = generated_engine.date_bounds()[0]
    calibration = Filters(first, CAL_END)
    results = {r.model_key: r for r in evaluate_holdout(generated_engine, calibration, HOLDOUT_END)}
    frames = load_frames(generated_engine)
    per = pandas_btyd(frames, calibration)  # every customer acquired by the calibration end
    history = ref_orders(frames, Filters(first, HOLDOUT_END))
    later = history[history.order_date > pd.Timestamp(CAL_END)]
    per["actual"] = later.groupby("customer_id").order_date.nunique().reindex(per.customer_id).fillna(0).to_numpy()
    return generated_engine, calibration, results, per, frames


def test_every_model_is_evaluated_on_the_same_customers(checked):
    _, _, results, per, _ = checked
    assert list(results) == list(PURCHASE_MODELS)
    for result in results.values():
        assert result.ok and result.customers == len(per) and result.actual == per.actual.sum()


def test_bgnbd_holdout_matches_pandas(checked):
    _, _, results, per, _ = checked
    model = pandas_fit(per)
    bg = results["bgnbd"]
    assert np.allclose(bg.fit.model.params.as_array(), model.params.as_array(), rtol=1e-6)
    predicted = model.expected_purchases(184 / 7, per.frequency, per.span_days / 7, per.tenure_days / 7)
    assert bg.predicted == pytest.approx(predicted.sum(), rel=1e-6)
    assert bg.error_pct == pytest.approx(predicted.sum() / per.actual.sum() - 1, rel=1e-6)
    groups = bg.by_frequency
    assert list(groups.columns) == ["frequency", "customers", "actual_mean", "predicted_mean", "actual_total",
                                    "predicted_total"]
    assert groups.frequency.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    bucket = np.minimum(per.frequency.to_numpy(), 7)
    assert groups.customers.tolist() == [int((bucket == b).sum()) for b in range(8)]
    assert np.allclose(groups.actual_mean, [per.actual[bucket == b].mean() for b in range(8)])
    assert np.allclose(groups.predicted_mean, [predicted[bucket == b].mean() for b in range(8)], rtol=1e-6)
    errors = [abs(predicted[bucket == b].sum() - per.actual[bucket == b].sum()) for b in range(8)]
    assert bg.ce_error == pytest.approx(sum(errors) / len(per), rel=1e-6)


def test_tracking_curve_counts_every_repeat_purchase(checked):
    _, calibration, results, per, frames = checked
    orders = ref_orders(frames, Filters(calibration.start, HOLDOUT_END))
    days = orders[orders.customer_id.isin(per.customer_id)].drop_duplicates(["customer_id", "order_date"])
    first = days.groupby("customer_id").order_date.transform("min")
    repeat_days = int((days.order_date > first).sum())
    for result in results.values():
        tracking = result.tracking
        assert list(tracking.columns) == ["week", "date", "actual_cumulative", "predicted_cumulative"]
        assert tracking.date.iloc[0] == pd.Timestamp(calibration.start)
        assert tracking.date.iloc[-1] == pd.Timestamp(HOLDOUT_END)
        assert tracking.actual_cumulative.iloc[-1] == repeat_days
        assert tracking.predicted_cumulative.is_monotonic_increasing
        assert tracking.predicted_cumulative.iloc[-1] == pytest.approx(repeat_days, rel=0.25)


def test_holdout_check_of_a_range_scores_its_buyers_only(generated_engine, checked):
    _, _, _, _, frames = checked
    state = Filters("2024-01-01", "2024-06-30")
    frame = holdout_check(generated_engine, state)
    buyers = ref_orders(frames, state).customer_id.nunique()
    assert (frame.customers == buyers).all() and frame.holdout_end.iloc[0] == HOLDOUT_END
    assert frame.chosen.sum() == 1 and frame.predicted.gt(0).all()


def test_holdout_end_defaults_to_six_months_and_stops_at_the_data(generated_engine):
    assert holdout_end_for(generated_engine, date(2024, 6, 30)) == date(2024, 12, 31)
    assert holdout_end_for(generated_engine, date(2023, 2, 28)) == date(2023, 8, 31)
    last = generated_engine.date_bounds()[1]
    assert holdout_end_for(generated_engine, date(2024, 9, 30)) == last
    with pytest.raises(ValueError, match="no data after"):
        holdout_check(generated_engine, Filters("2024-01-01", last))
