"""How well does the churn / purchase model predict? A calibration–holdout check (FHL 2005, §4).

The selected range is split in two: the **calibration** period (the range minus its last N calendar
months) and the **holdout** period (those N months, ending at the as-of date). The BG/NBD model is
fitted on the calibration period exactly as the dashboard fits it on a range (same filters, same
grouping), and for every calibration customer it predicts the purchase days in the holdout period. The
prediction is compared with what the customers actually did:

- week by week: cumulative actual vs predicted purchase days of the calibration customers in the holdout;
- by calibration frequency x = 0, 1, …, 6, 7+: mean actual vs mean predicted holdout purchases
  (FHL 2005, Figure 3 — the "conditional expectations" plot);
- summary numbers: totals and their relative error, per-customer mean absolute error and RMSE.

Holdout purchases count distinct purchase days with a valid order (the model's transactions) of the
calibration customers; customers first seen in the holdout are not part of the check. A segment filter
is evaluated on the calibration period (the customers the model was fitted on).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import ibis
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, safe_div, scalar
from metrics.models.inputs import GROUP_COLUMNS, fit_purchase_model, months_back, unit_days
from metrics.population import customer_mart, orders_in_view
from metrics.selection import date_key

#: The calibration period must be at least this long for the check to run.
MIN_CALIBRATION_DAYS = 90
#: Calibration frequencies of 7 and more are pooled in one row.
TOP_FREQUENCY = 7

WEEKLY_COLUMNS = {"week": "int64", "date": "datetime64[ns]", "actual_cumulative": "float64",
                  "predicted_cumulative": "float64"}
FREQUENCY_COLUMNS = {"frequency": "str", "customers": "int64", "actual_mean": "float64",
                     "predicted_mean": "float64", "actual_total": "float64", "predicted_total": "float64"}


def _result(filters: Filters, holdout_months: int, message: str, **values: object) -> dict[str, object]:
    out: dict[str, object] = {
        "ok": False, "message": message, "holdout_months": holdout_months,
        "calibration_start": filters.start, "calibration_end": None, "holdout_start": None,
        "holdout_end": filters.end, "holdout_weeks": 0.0, "customers": 0, "actual_purchases": 0.0,
        "predicted_purchases": 0.0, "error_pct": 0.0, "mae": 0.0, "rmse": 0.0, "mean_actual": 0.0,
        "mean_predicted": 0.0, "params": {},
        "weekly": empty_frame(WEEKLY_COLUMNS), "by_frequency": empty_frame(FREQUENCY_COLUMNS),
    }
    out.update(values)
    return out


@memoized
def holdout_check(engine: Engine, filters: Filters, holdout_months: int = 6) -> dict[str, object]:
    """Fit on the range minus its last ``holdout_months`` months, predict those months, compare.

    Returns a dict: ``ok``, ``message`` (why the check could not run, or a fit warning), the periods
    (``calibration_start``/``_end``, ``holdout_start``/``_end`` as dates, ``holdout_weeks``),
    ``customers`` (calibration customers), ``actual_purchases`` and ``predicted_purchases`` (holdout
    purchase days, totals), ``error_pct`` ((predicted − actual) / actual), ``mae`` and ``rmse`` (per
    customer), ``mean_actual``, ``mean_predicted``, ``params`` (r, alpha, a, b of the calibration fit),
    ``weekly`` (DataFrame: ``week``, ``date`` = end of the holdout week, ``actual_cumulative``,
    ``predicted_cumulative``; week k ends 7k days after the calibration end, the last one at the as-of
    date) and ``by_frequency`` (DataFrame: ``frequency`` "0" … "6", "7+", ``customers``, ``actual_mean``,
    ``predicted_mean``, ``actual_total``, ``predicted_total``; every row present, zeros kept).

    It checks the scope's model, which scores every view of the scope, so a segment focus does not change
    it.
    """
    filters = filters.scope
    holdout_months = int(holdout_months)
    if holdout_months < 1:
        return _result(filters, holdout_months, "The holdout period must be at least one month.")
    cal_end = months_back(filters.end, holdout_months)
    if (cal_end - filters.start).days + 1 < MIN_CALIBRATION_DAYS:
        return _result(filters, holdout_months,
                       f"The range is too short for a {holdout_months}-month holdout check: it needs at least "
                       f"{MIN_CALIBRATION_DAYS} days before the holdout months (choose a longer range or fewer "
                       "holdout months).")
    calibration = replace(filters, end=cal_end)
    periods: dict[str, object] = {"calibration_end": cal_end, "holdout_start": cal_end + timedelta(days=1)}
    fit = fit_purchase_model(engine, calibration)
    if fit.model is None:
        return _result(filters, holdout_months, f"Calibration period: {fit.message}", **periods)
    model, days = fit.model, unit_days(fit.time_unit)
    holdout_days = (filters.end - cal_end).days
    periods["holdout_weeks"] = holdout_days / 7

    # predictions per (x, t_x, T) group, joined back to the calibration customers in the engine
    g = fit.groups
    x, t_x, age, w = (g.frequency.to_numpy(float), g.recency.to_numpy(float), g["T"].to_numpy(float),
                      g.customers.to_numpy(float))
    predicted = model.expected_purchases(holdout_days / days, x, t_x, age)
    scores = ibis.memtable(g[list(GROUP_COLUMNS)].assign(predicted=predicted))
    mart = customer_mart(engine, calibration)
    customers = mart.select("customer_id", *GROUP_COLUMNS).inner_join(scores, list(GROUP_COLUMNS))

    orders = orders_in_view(engine, filters, whole_history=True)
    later = orders.filter(orders.date_key > ibis.literal(date_key(cal_end)))
    later_days = later.select("customer_id", "order_date").distinct().semi_join(mart, "customer_id")
    actual = later_days.group_by("customer_id").aggregate(actual=later_days.count())
    joined = customers.left_join(actual, "customer_id").drop("customer_id_right")
    joined = joined.mutate(actual=joined.actual.fill_null(0).cast("float64"))
    error = joined.actual - joined.predicted
    bucket = ibis.least(joined.frequency, TOP_FREQUENCY)
    per_bucket = engine.execute(joined.group_by(bucket=bucket).aggregate(
        customers=joined.count(), actual_total=joined.actual.sum(), predicted_total=joined.predicted.sum(),
        abs_error=error.abs().sum(), squared_error=(error * error).sum()))

    by_frequency = pd.DataFrame({"bucket": np.arange(TOP_FREQUENCY + 1, dtype="int64")}).merge(
        per_bucket.astype({"bucket": "int64"}), on="bucket", how="left").fillna(0)
    by_frequency["frequency"] = [str(b) if b < TOP_FREQUENCY else f"{TOP_FREQUENCY}+" for b in by_frequency.bucket]
    by_frequency["customers"] = by_frequency.customers.astype("int64")
    by_frequency["actual_mean"] = ratio(by_frequency.actual_total, by_frequency.customers)
    by_frequency["predicted_mean"] = ratio(by_frequency.predicted_total, by_frequency.customers)
    n = int(by_frequency.customers.sum())
    actual_total, predicted_total = float(by_frequency.actual_total.sum()), float(by_frequency.predicted_total.sum())

    # weekly cumulative: predictions factor as P(alive | x, t_x, T) × A(t | x, T), so A is evaluated once
    # per distinct (x, T) and horizon; A(t | x, T) = E[Y(t) | x, T, T] / P(alive | x, T, T).
    grid = np.unique(np.minimum(np.arange(0, holdout_days + 7, 7), holdout_days))
    pairs = pd.DataFrame({"x": x, "T": age, "weight": w * model.p_alive(x, t_x, age)})
    pairs = pairs.groupby(["x", "T"], as_index=False).weight.sum()
    px, pT = pairs.x.to_numpy(), pairs["T"].to_numpy()
    alive_at_T = model.p_alive(px, pT, pT)
    curve = [float(pairs.weight.to_numpy() @ (model.expected_purchases(d / days, px, pT, pT) / alive_at_T))
             for d in grid]
    per_day = engine.execute(later_days.group_by(
        offset=later_days.order_date.delta(ibis.literal(cal_end), unit="day")).aggregate(n=later_days.count()))
    counts = np.zeros(holdout_days + 1)
    np.add.at(counts, per_day.offset.to_numpy(int), per_day.n.to_numpy(float))
    weekly = pd.DataFrame({
        "week": np.arange(len(grid), dtype="int64"),
        "date": pd.to_datetime([cal_end + timedelta(days=int(d)) for d in grid]).astype("datetime64[ns]"),
        "actual_cumulative": np.cumsum(counts)[grid],
        "predicted_cumulative": np.array(curve),
    })
    p = model.params
    return _result(
        filters, holdout_months, fit.message, ok=True, **periods, customers=n,
        actual_purchases=actual_total, predicted_purchases=predicted_total,
        error_pct=safe_div(predicted_total - actual_total, actual_total),
        mae=safe_div(scalar(by_frequency.abs_error.sum()), n),
        rmse=float(np.sqrt(safe_div(scalar(by_frequency.squared_error.sum()), n))),
        mean_actual=safe_div(actual_total, n), mean_predicted=safe_div(predicted_total, n),
        params={"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b},
        weekly=weekly, by_frequency=by_frequency[list(FREQUENCY_COLUMNS)],
    )


__all__ = ["holdout_check"]
