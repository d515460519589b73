"""How well does each purchase model predict? A calibration–holdout evaluation (FHL 2005, §4).

A **calibration** state (a scope whose range ends at the calibration end) is fitted exactly as the
dashboard fits a state: every purchase model of the family on the whole-history (x, t_x, T), up to the
calibration end, of its model population (every customer of its Prime and country choices acquired by
then, :func:`metrics.models.inputs.model_population`). Each model then predicts, for every calibration
customer (a valid order in the calibration range), the purchase days in the **holdout** period (the day
after the calibration end to the holdout end), and the prediction is compared with what the customers did:

- ``predicted`` / ``actual``: total holdout purchase days (distinct days with a valid order) of the
  calibration customers; customers first seen in the holdout are not part of the check;
- **conditional expectations** by calibration frequency x = 0, 1, …, 6, 7+ (FHL 2005, Figure 3): mean
  actual vs mean predicted holdout purchases per customer, the one-time buyers (x = 0) included;
- ``ce_error``: the customer-weighted mean absolute error of those conditional expectations,
  Σ_b |predicted_b − actual_b| / N over the frequency rows b (purchases per customer). It judges the
  per-customer predictions (a model that is right in total but wrong for one-time and frequent buyers
  scores badly) and is the criterion :mod:`metrics.models.choice` picks the model by;
- the **tracking** curve: cumulative repeat purchase days of the calibration customers week by week over
  calibration and holdout, actual vs the model's expectation Σ_i E[X(t − t0_i)] for customers acquired at
  t0_i (FHL 2005, Figure 2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import ClassVar

import ibis
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, safe_div
from metrics.models.inputs import (
    DEFAULT_TIME_UNIT,
    GROUP_COLUMNS,
    PurchaseModelFit,
    btyd_groups,
    fit_model,
    history_triples,
    model_population,
    months_back,
    triples_in_view,
    unit_days,
)
from metrics.models.purchase_models import PURCHASE_MODELS, PurchaseModel
from metrics.selection import date_key, first_valid_orders, scope_orders

#: Calibration frequencies of 7 and more are pooled in one row.
TOP_FREQUENCY = 7
#: The holdout of a check, unless told otherwise.
HOLDOUT_MONTHS = 6

FREQUENCY_COLUMNS = {"frequency": "str", "customers": "int64", "actual_mean": "float64",
                     "predicted_mean": "float64", "actual_total": "float64", "predicted_total": "float64"}
TRACKING_COLUMNS = {"week": "int64", "date": "datetime64[ns]", "actual_cumulative": "float64",
                    "predicted_cumulative": "float64"}


@dataclass(frozen=True)
class HoldoutResult:
    """One purchase model's calibration fit and its holdout prediction (see the module docstring)."""
    plain_data: ClassVar[bool] = True
    model_key: str
    fit: PurchaseModelFit
    customers: int
    predicted: float
    actual: float
    ce_error: float
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.fit.ok

    @property
    def error_pct(self) -> float:
        """(predicted − actual) / actual of the holdout totals."""
        return safe_div(self.predicted - self.actual, self.actual)


def holdout_end_for(engine: Engine, calibration_end: date, holdout_end: date | None = None) -> date:
    """The holdout end: ``holdout_end`` or :data:`HOLDOUT_MONTHS` months after the calibration end, never
    past the data's last order date."""
    last = engine.date_bounds()[1]
    # the holdout's first day plus HOLDOUT_MONTHS months, less a day: 1 Jul .. 31 Dec after a 30 June end
    day_after = calibration_end + timedelta(days=1)
    end = holdout_end if holdout_end is not None else months_back(day_after, -HOLDOUT_MONTHS) - timedelta(days=1)
    return min(end, last)


def _holdout_days_per_group(engine: Engine, calibration: Filters, holdout_end: date) -> pd.DataFrame:
    """Per whole-history (x, t_x, T) row of the calibration customers: ``actual`` holdout purchase days."""
    triples = history_triples(engine, calibration)
    later = scope_orders(engine, replace(calibration, end=holdout_end), whole_history=True)
    later = later.filter(later.date_key > ibis.literal(date_key(calibration.end)))
    days = later.select("customer_id", "order_date").distinct().semi_join(triples, "customer_id")
    per_customer = days.group_by("customer_id").aggregate(actual=days.count())
    joined = triples.inner_join(per_customer, "customer_id")
    grouped = joined.group_by(*GROUP_COLUMNS).aggregate(actual=joined.actual.sum())
    return engine.execute(grouped).astype({c: "int64" for c in (*GROUP_COLUMNS, "actual")})


def repeat_days_by_offset(engine: Engine, filters: Filters, until: date, start: date | None = None) -> np.ndarray:
    """Repeat purchase days (valid purchase days after each customer's first ever) of the customers in view
    of ``filters`` per day offset from ``start`` (default ``filters.start``) up to ``until``."""
    start = filters.start if start is None else start
    ids = triples_in_view(engine, filters).select("customer_id")
    orders = scope_orders(engine, replace(filters.data_scope, start=start, end=until))
    days = orders.select("customer_id", "order_date").distinct().semi_join(ids, "customer_id")
    days = days.inner_join(first_valid_orders(engine), "customer_id")
    repeat = days.filter(days.order_date > days.first_order_ever)
    per_day = engine.execute(repeat.group_by(
        offset=repeat.order_date.delta(ibis.literal(start), unit="day")).aggregate(n=repeat.count()))
    counts = np.zeros((until - start).days + 1)
    np.add.at(counts, per_day.offset.to_numpy(int), per_day.n.to_numpy(float))
    return counts


def _by_frequency(groups: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
    g = groups.assign(bucket=np.minimum(groups.frequency.to_numpy(), TOP_FREQUENCY),
                      predicted_total=predicted * groups.customers.to_numpy(float))
    per = g.groupby("bucket").agg(customers=("customers", "sum"), actual_total=("actual", "sum"),
                                  predicted_total=("predicted_total", "sum"))
    per = per.reindex(range(TOP_FREQUENCY + 1), fill_value=0)
    out = pd.DataFrame({
        "frequency": [str(b) if b < TOP_FREQUENCY else f"{TOP_FREQUENCY}+" for b in per.index],
        "customers": per.customers.to_numpy("int64"),
        "actual_total": per.actual_total.to_numpy(float),
        "predicted_total": per.predicted_total.to_numpy(float),
    })
    out["actual_mean"] = ratio(out.actual_total, out.customers)
    out["predicted_mean"] = ratio(out.predicted_total, out.customers)
    return out[list(FREQUENCY_COLUMNS)]


def tracking_curve(model: PurchaseModel, time_unit: str, groups: pd.DataFrame, filters: Filters,
                   repeat_days: np.ndarray) -> pd.DataFrame:
    """Cumulative repeat purchases week by week from ``filters.start`` over ``repeat_days`` (one entry per
    day): actual vs the model's Σ_i E[X(t − t0_i)] for the customers of ``groups`` (whole-history rows at
    ``filters.end``; customers acquired before the start count only their later purchases)."""
    span = len(repeat_days) - 1
    grid = np.unique(np.minimum(np.arange(0, span + 7, 7), span))
    born = groups.groupby(filters.days - 1 - groups.tenure_days).customers.sum()
    offsets, counts = born.index.to_numpy(float), born.to_numpy(float)
    unit = unit_days(time_unit)
    elapsed = np.maximum(grid[None, :] - offsets[:, None], 0.0) / unit
    before = np.maximum(-offsets, 0.0) / unit
    expected = model.expected_purchases_population(elapsed) - model.expected_purchases_population(before)[:, None]
    return pd.DataFrame({
        "week": np.arange(len(grid), dtype="int64"),
        "date": pd.to_datetime([filters.start + timedelta(days=int(d)) for d in grid]).astype("datetime64[ns]"),
        "actual_cumulative": np.cumsum(repeat_days)[grid],
        "predicted_cumulative": counts @ np.maximum(expected, 0.0),
    })


@memoized
def evaluate_holdout(engine: Engine, calibration: Filters, holdout_end: date,
                     time_unit: str = DEFAULT_TIME_UNIT) -> tuple[HoldoutResult, ...]:
    """Every purchase model fitted on ``calibration`` (its scope) and scored on the holdout that runs from
    the day after ``calibration.end`` to ``holdout_end`` (see the module docstring); one result per model
    of :data:`PURCHASE_MODELS`, in its order. A model that cannot be fitted has ``ok`` False and zeros."""
    calibration = calibration.data_scope
    holdout_days = (holdout_end - calibration.end).days
    if holdout_days < 1:
        raise ValueError("the holdout must end after the calibration end")
    actual = _holdout_days_per_group(engine, calibration, holdout_end)
    repeat_days = repeat_days_by_offset(engine, calibration, holdout_end)
    groups = btyd_groups(engine, calibration, time_unit).merge(actual, on=list(GROUP_COLUMNS), how="left")
    groups["actual"] = groups.actual.fillna(0).astype("int64")
    n = int(groups.customers.sum())
    actual_total = float(groups.actual.sum())
    x, t_x, age = (groups.frequency.to_numpy(float), groups.recency.to_numpy(float), groups["T"].to_numpy(float))
    horizon = holdout_days / unit_days(time_unit)
    out = []
    population = model_population(engine, calibration)
    for key in PURCHASE_MODELS:
        fit = fit_model(engine, population, key, time_unit)
        if fit.model is None:
            out.append(HoldoutResult(key, fit, n, 0.0, actual_total, float("inf"), empty_frame(FREQUENCY_COLUMNS),
                                     empty_frame(TRACKING_COLUMNS)))
            continue
        predicted = fit.model.expected_purchases(horizon, x, t_x, age)
        by_frequency = _by_frequency(groups, predicted)
        ce_error = safe_div(float((by_frequency.predicted_total - by_frequency.actual_total).abs().sum()), n)
        out.append(HoldoutResult(key, fit, n, float(by_frequency.predicted_total.sum()), actual_total, ce_error,
                                 by_frequency, tracking_curve(fit.model, time_unit, groups, calibration,
                                                              repeat_days)))
    return tuple(out)




__all__ = ["HOLDOUT_MONTHS", "HoldoutResult", "evaluate_holdout", "holdout_end_for",
           "repeat_days_by_offset", "tracking_curve"]
