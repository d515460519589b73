"""Predictive customer lifetime value: BG/NBD purchases × Gamma-Gamma order value (DESIGN §3).

Per customer of the selection (a valid order in the range), with the models fitted on the range:

- ``expected_purchases_12m``: BG/NBD expected purchase days in the next 12 months (52.18 weeks).
- ``expected_order_value``: Gamma-Gamma E[M | x, m] — the customer's mean value per repeat purchase
  day shrunk towards the population mean (one-time buyers get the population mean); see
  :mod:`metrics.models.inputs` for why the value is per repeat purchase day.
- ``predicted_clv`` = Σ over the next 12 months of expected purchases × expected order value, month i
  divided by (1 + d)^i for a monthly discount rate d (d = 0 by default, then it is the plain product).
- ``last_12m_sales``: valid net revenue in the 12 months ending at the as-of date (from the day after
  the same date a year earlier), taken from all orders up to the as-of date with the customer filters
  applied — so it may reach before the range start; it covers less than 12 months when the data start
  later than that.
- ``predicted_next_12m_sales`` = ``predicted_clv`` without discounting.
- ``clv_class``: **Growing** when predicted next-12-month sales exceed last-12-month sales by more than
  10 %, **Declining** when they fall short by more than 10 %, **Maintaining** within ±10 % (both
  bounds included). A customer with no sales in the last 12 months (bought earlier in a longer range) is
  Growing when anything is predicted (> 0), else Maintaining — a ratio to 0 does not exist, and any
  expected spend is growth over nothing.

When either model cannot be fitted (empty selection, too few repeat buyers, a spend distribution with
no finite mean) the functions return empty tables / zero rows and the reason is in
:func:`clv_model_summary` and ``frame.attrs["message"]``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import ratio
from metrics.mart import MONEY_DECIMALS
from metrics.models.inputs import (
    GROUP_COLUMNS,
    HORIZON_MONTHS,
    customer_scores,
    expected_order_value_expr,
    fit_purchase_model,
    fit_spend_model,
    group_scores,
    months_back,
    repeat_spend,
)
from metrics.population import customer_segments, orders_in_view, shown_labels
from metrics.segments.rules import check_scheme
from metrics.selection import date_key

CLV_CLASSES: tuple[str, ...] = ("Growing", "Maintaining", "Declining")
#: Relative change of predicted vs last-12-month sales beyond which a customer is Growing / Declining.
CLASS_THRESHOLD = 0.10
#: Gamma-Gamma assumes spend per order is independent of frequency; |corr| below this is fine.
CORRELATION_WARNING = 0.3

CLV_SCHEMA = pa.schema([
    ("customer_id", pa.int64()), ("frequency", pa.int64()), ("monetary_value", pa.float64()),
    ("churn_risk", pa.float64()), ("expected_purchases_12m", pa.float64()),
    ("expected_order_value", pa.float64()), ("predicted_clv", pa.float64()), ("last_12m_sales", pa.float64()),
    ("predicted_next_12m_sales", pa.float64()), ("clv_class", pa.string()),
])


def _message(engine: Engine, filters: Filters) -> str:
    fit = fit_purchase_model(engine, filters)
    return fit.message if not fit.ok else fit_spend_model(engine, filters).message


def clv_class_expr(predicted: ir.FloatingValue, last: ir.FloatingValue) -> ir.StringValue:
    """Growing (> +10 %), Maintaining (within ±10 %), Declining (< −10 %); last = 0: Growing if predicted > 0."""
    grow, decline, keep = CLV_CLASSES[0], CLV_CLASSES[2], CLV_CLASSES[1]
    return ibis.cases(
        (last <= 0, ibis.ifelse(predicted > 0, grow, keep)),
        (predicted > last * (1.0 + CLASS_THRESHOLD), grow),
        (predicted < last * (1.0 - CLASS_THRESHOLD), decline),
        else_=keep,
    )


def last_12m_sales_expr(engine: Engine, filters: Filters) -> ir.Table:
    """``customer_id``, ``last_12m_sales``: valid revenue in the 12 months ending at the as-of date."""
    history = orders_in_view(engine, filters, whole_history=True)
    since = date_key(months_back(filters.as_of, 12))
    recent = history.filter(history.date_key > ibis.literal(since))
    return recent.group_by("customer_id").aggregate(
        last_12m_sales=recent.net_revenue.sum().round(MONEY_DECIMALS))


def left_join_customers(left: ir.Table, right: ir.Table) -> ir.Table:
    """``left`` with the columns of ``right`` (keyed by ``customer_id``, at most one row each), nulls where
    ``right`` has no row."""
    return left.left_join(right, "customer_id").drop("customer_id_right")


@memoized
def customer_clv(engine: Engine, filters: Filters, discount_rate_monthly: float = 0.0) -> ir.Table:
    """Per customer of the selection (an Ibis table that stays in the engine): ``customer_id``,
    ``frequency``, ``monetary_value`` (mean value per repeat purchase day, 0 for one-time buyers),
    ``churn_risk``, ``expected_purchases_12m``, ``expected_order_value``, ``predicted_clv``,
    ``last_12m_sales``, ``predicted_next_12m_sales``, ``clv_class`` (definitions in the module
    docstring). Zero rows when a model could not be fitted. Memoised per filter state and rate."""
    discount = float(discount_rate_monthly)
    if not (np.isfinite(discount) and discount > -1.0):
        raise ValueError("discount_rate_monthly must be a number above -1 (e.g. 0.01 for 1% a month)")
    fit, spend = fit_purchase_model(engine, filters), fit_spend_model(engine, filters)
    scores = customer_scores(engine, filters)
    if scores is None or not spend.ok:
        return ibis.memtable(CLV_SCHEMA.empty_table())

    t = scores
    if discount != 0.0:
        discounted = group_scores(fit, discount, HORIZON_MONTHS)[[*GROUP_COLUMNS, "discounted_purchases"]]
        t = t.inner_join(ibis.memtable(discounted), list(GROUP_COLUMNS))
        purchases_discounted = t.discounted_purchases
    else:
        purchases_discounted = t.expected_purchases_12m
    t = t.mutate(purchases_discounted=purchases_discounted)
    t = left_join_customers(t, repeat_spend(engine, filters).select("customer_id", "monetary_value"))
    t = left_join_customers(t, last_12m_sales_expr(engine, filters))
    value = expected_order_value_expr(spend, t.frequency, t.monetary_value)
    t = t.mutate(
        monetary_value=ibis.ifelse(t.frequency > 0, t.monetary_value.fill_null(0.0), 0.0),
        expected_order_value=value,
        predicted_clv=t.purchases_discounted * value,
        predicted_next_12m_sales=t.expected_purchases_12m * value,
        last_12m_sales=t.last_12m_sales.fill_null(0.0),
    )
    t = t.mutate(clv_class=clv_class_expr(t.predicted_next_12m_sales, t.last_12m_sales))
    return t.select(*CLV_SCHEMA.names)


SUMMARY_COLUMNS = ["clv_class", "customers", "customer_share", "last_12m_sales", "predicted_next_12m_sales",
                   "last_12m_sales_per_customer", "next_12m_sales_per_customer", "predicted_clv",
                   "avg_predicted_clv"]


def _aggregate(t: ir.Table, keys: list[str]) -> ir.Table:
    return t.group_by(keys).aggregate(
        customers=t.count(), last_12m_sales=t.last_12m_sales.sum(),
        predicted_next_12m_sales=t.predicted_next_12m_sales.sum(), predicted_clv=t.predicted_clv.sum())


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.fillna({"customers": 0, "last_12m_sales": 0.0, "predicted_next_12m_sales": 0.0,
                          "predicted_clv": 0.0})
    frame = frame.astype({"customers": "int64", "last_12m_sales": "float64",
                          "predicted_next_12m_sales": "float64", "predicted_clv": "float64"})
    frame["last_12m_sales_per_customer"] = ratio(frame.last_12m_sales, frame.customers)
    frame["next_12m_sales_per_customer"] = ratio(frame.predicted_next_12m_sales, frame.customers)
    frame["avg_predicted_clv"] = ratio(frame.predicted_clv, frame.customers)
    frame["clv_class"] = frame["clv_class"].astype("str")
    return frame


@memoized
def clv_summary(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per CLV class (Growing, Maintaining, Declining — all three, zeros kept): ``customers``,
    ``customer_share``, ``last_12m_sales``, ``predicted_next_12m_sales``, their per-customer values,
    ``predicted_clv`` (total) and ``avg_predicted_clv``."""
    clv = customer_clv(engine, filters)
    frame = pd.DataFrame({"clv_class": list(CLV_CLASSES)}).merge(
        engine.execute(_aggregate(clv, ["clv_class"])), on="clv_class", how="left")
    frame = _finish(frame)
    frame["customer_share"] = ratio(frame.customers, frame.customers.sum())
    frame = frame[SUMMARY_COLUMNS]
    frame.attrs["message"] = _message(engine, filters)
    return frame


@memoized
def clv_by_segment(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment label of ``scheme`` × CLV class (every combination, zeros kept): ``customers``,
    ``customer_share`` (of the segment), ``last_12m_sales``, ``predicted_next_12m_sales``,
    ``last_12m_sales_per_customer`` vs ``next_12m_sales_per_customer`` (last year vs next year per
    customer), ``predicted_clv`` and ``avg_predicted_clv``."""
    check_scheme(scheme)
    clv = customer_clv(engine, filters)
    t = clv.inner_join(customer_segments(engine, filters, scheme), "customer_id")
    grid = pd.MultiIndex.from_product([shown_labels(filters, scheme), CLV_CLASSES], names=["segment", "clv_class"])
    frame = grid.to_frame(index=False).merge(engine.execute(_aggregate(t, ["segment", "clv_class"])),
                                             on=["segment", "clv_class"], how="left")
    frame = _finish(frame)
    frame["segment"] = frame["segment"].astype("str")
    frame["customer_share"] = ratio(frame.customers, frame.groupby("segment").customers.transform("sum"))
    frame = frame[["segment", *SUMMARY_COLUMNS]]
    frame.attrs["message"] = _message(engine, filters)
    return frame


@memoized
def clv_model_summary(engine: Engine, filters: Filters) -> dict[str, object]:
    """The Gamma-Gamma spend model of the filter state: ``ok``, ``message``, ``p``, ``q``, ``v``,
    ``population_mean_order_value`` (p·v / (q − 1)), ``log_likelihood``, ``converged``, ``repeat_buyers``,
    ``fitted_customers`` (fewer when ``sampled``), ``frequency_monetary_corr`` (Pearson correlation of
    repeat purchase days and mean repeat-day value over the fitted buyers; the model assumes ≈ 0) and
    ``correlation_warning`` (|corr| ≥ 0.3). Numbers are 0.0 without a model."""
    spend = fit_spend_model(engine, filters)
    corr = spend.frequency_monetary_corr
    out: dict[str, object] = {
        "ok": spend.ok and fit_purchase_model(engine, filters).ok, "message": _message(engine, filters),
        "p": 0.0, "q": 0.0, "v": 0.0, "population_mean_order_value": 0.0, "log_likelihood": 0.0,
        "converged": False, "repeat_buyers": spend.repeat_buyers, "fitted_customers": spend.fitted_customers,
        "sampled": spend.sampled, "frequency_monetary_corr": 0.0 if corr is None else corr,
        "correlation_warning": corr is not None and abs(corr) >= CORRELATION_WARNING,
    }
    if spend.model is not None and spend.model.result is not None:
        params = spend.model.params
        out.update(p=params.p, q=params.q, v=params.v, population_mean_order_value=params.population_mean,
                   log_likelihood=spend.model.result.log_likelihood, converged=spend.model.converged)
    return out


__all__ = ["CLV_CLASSES", "clv_by_segment", "clv_model_summary", "clv_summary", "customer_clv"]
