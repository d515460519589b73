"""Holdout check: calibration fit and holdout actuals vs pandas, frequency groups and weekly curve add up,
and clear messages for ranges that are too short or selections the model cannot fit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.models.quality import holdout_check
from metrics.selection import default_filters
from tests.generated import load_frames, ref_orders
from tests.test_churn import hand, pandas_btyd, pandas_fit  # noqa: F401

SUMMARY_KEYS = {"ok", "message", "holdout_months", "calibration_start", "calibration_end", "holdout_start",
                "holdout_end", "holdout_weeks", "customers", "actual_purchases", "predicted_purchases", "error_pct",
                "mae", "rmse", "mean_actual", "mean_predicted", "params", "weekly", "by_frequency"}


@pytest.fixture(scope="module")
def checked(generated_engine):
    filters = default_filters(generated_engine)
    return generated_engine, filters, holdout_check(generated_engine, filters, holdout_months=6)


def test_holdout_matches_pandas(checked):
    engine, filters, result = checked
    assert set(result) == SUMMARY_KEYS and result["ok"] and result["message"] == ""
    assert result["calibration_end"] == date(2024, 6, 30) and result["holdout_start"] == date(2024, 7, 1)
    assert result["holdout_weeks"] == pytest.approx(184 / 7)
    frames = load_frames(engine)
    calibration = replace(filters, end=date(2024, 6, 30))
    per = pandas_btyd(frames, calibration)
    model = pandas_fit(per)
    for name, value in result["params"].items():
        assert value == pytest.approx(getattr(model.params, name), rel=1e-6)
    history = ref_orders(frames, filters, whole_history=True)
    later = history[history.order_date > pd.Timestamp("2024-06-30")]
    actual = later.groupby("customer_id").order_date.nunique().reindex(per.customer_id).fillna(0).to_numpy()
    predicted = model.expected_purchases(184 / 7, per.frequency, per.span_days / 7, per.tenure_days / 7)
    assert result["customers"] == len(per)
    assert result["actual_purchases"] == actual.sum()
    assert result["predicted_purchases"] == pytest.approx(predicted.sum(), rel=1e-6)
    assert result["mae"] == pytest.approx(np.abs(actual - predicted).mean(), rel=1e-6)
    assert result["rmse"] == pytest.approx(np.sqrt(((actual - predicted) ** 2).mean()), rel=1e-6)
    assert result["error_pct"] == pytest.approx(predicted.sum() / actual.sum() - 1, rel=1e-6)
    assert abs(result["error_pct"]) < 0.3

    groups = result["by_frequency"]
    assert list(groups.columns) == ["frequency", "customers", "actual_mean", "predicted_mean", "actual_total",
                                    "predicted_total"]
    assert groups.frequency.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    bucket = np.minimum(per.frequency.to_numpy(), 7)
    assert groups.customers.tolist() == [int((bucket == b).sum()) for b in range(8)]
    assert np.allclose(groups.actual_mean, [actual[bucket == b].mean() for b in range(8)])
    assert np.allclose(groups.predicted_mean, [predicted[bucket == b].mean() for b in range(8)], rtol=1e-6)
    assert groups.predicted_mean.iloc[-1] > groups.predicted_mean.iloc[0]  # frequent buyers are expected to buy more


def test_weekly_curve(checked):
    _, _, result = checked
    weekly = result["weekly"]
    assert list(weekly.columns) == ["week", "date", "actual_cumulative", "predicted_cumulative"]
    assert weekly.date.iloc[0] == pd.Timestamp("2024-06-30") and weekly.date.iloc[-1] == pd.Timestamp("2024-12-31")
    assert weekly.actual_cumulative.iloc[0] == 0 and weekly.predicted_cumulative.iloc[0] == 0
    assert weekly.actual_cumulative.iloc[-1] == result["actual_purchases"]
    assert weekly.predicted_cumulative.iloc[-1] == pytest.approx(result["predicted_purchases"], rel=1e-9)
    assert weekly.actual_cumulative.is_monotonic_increasing and weekly.predicted_cumulative.is_monotonic_increasing
    assert (weekly.date.diff().dropna() <= pd.Timedelta(days=7)).all()


@pytest.mark.parametrize("filters, months, why", [
    (Filters("2024-06-01", "2024-12-31"), 6, "too short"),
    (Filters("2023-01-01", "2024-12-31"), 0, "at least one month"),
    (Filters("2022-01-01", "2022-12-31"), 3, "No customers"),
    (Filters("2023-01-01", "2023-08-31"), 3, "at least 10 customers with a repeat purchase"),
])
def test_messages_instead_of_errors(hand, filters, months, why):  # noqa: F811
    result = holdout_check(hand, filters, holdout_months=months)
    assert set(result) == SUMMARY_KEYS and result["ok"] is False and why in result["message"]
    assert result["weekly"].empty and result["by_frequency"].empty
    assert all(not (isinstance(v, float) and np.isnan(v)) for v in result.values())


def test_hand_base_runs(hand):  # noqa: F811
    result = holdout_check(hand, Filters("2023-01-01", "2024-12-31"), holdout_months=3)
    assert result["ok"] and result["calibration_end"] == date(2024, 9, 30)
    # in the holdout (Oct-Dec 2024) only customer 21 buys: 3 Oct, 2 Nov, 2 Dec (5 Jul + 3, 4, 5 × 30 days)
    assert result["actual_purchases"] == 3.0 and result["customers"] == 15
    assert result["by_frequency"].customers.sum() == 15
