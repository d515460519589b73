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
from metrics.models.choice import fit_purchase_model
from metrics.models.inputs import (
    GROUP_COLUMNS,
    HORIZON_MONTHS,
    PurchaseModelFit,
    SpendModelFit,
    expected_order_value_expr,
    fit_spend_model,
    group_scores,
    months_back,
    purchase_gradients,
    repeat_spend,
)
from metrics.models.scores import customer_scores
from metrics.population import customer_segments, orders_in_view, shown_labels
from metrics.segments.rules import check_scheme
from metrics.selection import date_key

CLV_CLASSES: tuple[str, ...] = ("Growing", "Maintaining", "Declining")
#: Relative change of predicted vs last-12-month sales beyond which a customer is Growing / Declining.
CLASS_THRESHOLD = 0.10
#: Gamma-Gamma assumes spend per order is independent of frequency; |corr| below this is fine.
CORRELATION_WARNING = 0.3

CLV_SCHEMA = pa.schema([
    ("customer_id", pa.int64()), ("frequency", pa.int64()), ("span_days", pa.int64()), ("tenure_days", pa.int64()),
    ("monetary_value", pa.float64()), ("p_alive", pa.float64()), ("churn_risk", pa.float64()),
    ("expected_purchases_12m", pa.float64()), ("next_purchase_date", pa.date32()),
    ("expected_order_value", pa.float64()), ("predicted_clv", pa.float64()), ("predicted_clv_low", pa.float64()),
    ("predicted_clv_high", pa.float64()), ("last_12m_sales", pa.float64()),
    ("predicted_next_12m_sales", pa.float64()), ("clv_class", pa.string()),
    # additive parts of the CLV interval of a group of customers (∂ CLV / ∂ log parameter, per customer)
    *[(f"clv_grad_{k}", pa.float64()) for k in range(4)], *[(f"clv_vgrad_{j}", pa.float64()) for j in range(3)],
])
#: Columns of :func:`customer_clv` that are worth showing (the rest feed the interval of a group).
CLV_COLUMNS = tuple(name for name in CLV_SCHEMA.names if not name.startswith(("clv_grad_", "clv_vgrad_")))
#: The CLV interval covers this central share of the parameters' sampling distribution.
INTERVAL_LEVEL = 0.80
_Z = 1.2815515655446004  # standard normal quantile of 0.90: a central 80 % interval


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


def _covariances(fit: PurchaseModelFit, spend: SpendModelFit) -> tuple[np.ndarray, np.ndarray] | None:
    """Covariance of the log parameters of the purchase and the spend model (None when either is missing)."""
    if fit.model is None or spend.model is None:
        return None
    purchase, value = fit.model.param_covariance(), spend.model.param_covariance()
    if purchase is None or value is None:
        return None
    return np.asarray(purchase, float), np.asarray(value, float)


def _value_gradients(spend: SpendModelFit, x: ir.FloatingValue, m: ir.FloatingValue) -> list[ir.FloatingValue]:
    """∂ log E[M | x, m] / ∂ log (p, q, v) for E[M] = p(v + x·m) / (p·x + q − 1) (x = 0: the population mean)."""
    assert spend.model is not None
    p, q, v = (float(value) for value in spend.model.params.as_array())
    denominator = p * x + (q - 1.0)
    return [1.0 - p * x / denominator, -q / denominator, v / (v + x * m)]


def _quadratic(gradients: list[ir.FloatingValue], covariance: np.ndarray) -> ir.FloatingValue:
    """gᵀ Σ g as an engine expression."""
    total: ir.FloatingValue = ibis.literal(0.0)
    for i, gi in enumerate(gradients):
        for j, gj in enumerate(gradients):
            if covariance[i, j] != 0.0:
                total = total + gi * gj * float(covariance[i, j])
    return total


@memoized
def customer_clv(engine: Engine, filters: Filters, discount_rate_monthly: float = 0.0) -> ir.Table:
    """Per customer of the selection (an Ibis table that stays in the engine): ``customer_id``,
    ``frequency``, ``span_days``, ``tenure_days`` (the whole-history x, t_x and T in days),
    ``monetary_value`` (mean value per repeat purchase day, 0 for one-time buyers), ``p_alive``,
    ``churn_risk``, ``expected_purchases_12m``, ``next_purchase_date``, ``expected_order_value``,
    ``predicted_clv`` with its 80 % interval ``predicted_clv_low`` … ``predicted_clv_high``,
    ``last_12m_sales``, ``predicted_next_12m_sales``, ``clv_class`` (definitions in the module
    docstring). Zero rows when a model could not be fitted. Memoised per filter state and rate."""
    discount = float(discount_rate_monthly)
    if not (np.isfinite(discount) and discount > -1.0):
        raise ValueError("discount_rate_monthly must be a number above -1 (e.g. 0.01 for 1% a month)")
    fit, spend = fit_purchase_model(engine, filters), fit_spend_model(engine, filters)
    scores = customer_scores(engine, filters)
    if scores is None or not spend.ok:
        return ibis.memtable(CLV_SCHEMA.empty_table())

    per_group = group_scores(fit, discount, HORIZON_MONTHS)[[*GROUP_COLUMNS, "discounted_purchases"]]
    covariances = _covariances(fit, spend)
    gradients = purchase_gradients(fit, discount) if covariances is not None else None
    if gradients is not None and covariances is not None:
        # Var(log purchases) per group from the purchase model's parameter covariance (delta method)
        grads = gradients[[c for c in gradients.columns if c.startswith("grad_")]].to_numpy()
        relative = grads / np.maximum(per_group.discounted_purchases.to_numpy()[:, None], 1e-300)
        per_group = per_group.assign(purchases_log_var=np.einsum("ij,jk,ik->i", relative, covariances[0], relative),
                                     **{f"grad_{k}": grads[:, k] for k in range(grads.shape[1])})
    else:
        per_group = per_group.assign(purchases_log_var=np.nan, **{f"grad_{k}": np.nan for k in range(4)})
    t = scores.inner_join(engine.memtable(per_group), list(GROUP_COLUMNS))
    t = left_join_customers(t, repeat_spend(engine, filters).select("customer_id", "monetary_value"))
    t = left_join_customers(t, last_12m_sales_expr(engine, filters))
    t = t.mutate(monetary_value=ibis.ifelse(t.frequency > 0, t.monetary_value.fill_null(0.0), 0.0))
    value = expected_order_value_expr(spend, t.frequency, t.monetary_value)
    clv = t.discounted_purchases * value
    value_gradients = _value_gradients(spend, t.frequency.cast("float64"), t.monetary_value)
    if covariances is not None:
        value_log_var = _quadratic(value_gradients, covariances[1])
        spread = ((t.purchases_log_var + value_log_var).sqrt() * _Z).exp()
        low, high = clv / spread, clv * spread
    else:
        low = high = ibis.null("float64")
    t = t.mutate(
        **{f"clv_grad_{k}": t[f"grad_{k}"] * value for k in range(4)},
        **{f"clv_vgrad_{j}": clv * g for j, g in enumerate(value_gradients)},
        expected_order_value=value, predicted_clv=clv, predicted_clv_low=low, predicted_clv_high=high,
        predicted_next_12m_sales=t.expected_purchases_12m * value, last_12m_sales=t.last_12m_sales.fill_null(0.0),
    )
    t = t.mutate(clv_class=clv_class_expr(t.predicted_next_12m_sales, t.last_12m_sales))
    return t.select(*CLV_SCHEMA.names)


SUMMARY_COLUMNS = ["clv_class", "customers", "customer_share", "last_12m_sales", "predicted_next_12m_sales",
                   "last_12m_sales_per_customer", "next_12m_sales_per_customer", "predicted_clv",
                   "predicted_clv_low", "predicted_clv_high", "avg_predicted_clv"]


_GRADIENT_SUMS = tuple(name for name in CLV_SCHEMA.names if name.startswith(("clv_grad_", "clv_vgrad_")))


def _aggregate(t: ir.Table, keys: list[str]) -> ir.Table:
    return t.group_by(keys).aggregate(
        customers=t.count(), last_12m_sales=t.last_12m_sales.sum(),
        predicted_next_12m_sales=t.predicted_next_12m_sales.sum(), predicted_clv=t.predicted_clv.sum(),
        **{name: t[name].sum() for name in _GRADIENT_SUMS})


def _group_interval(frame: pd.DataFrame, covariances: tuple[np.ndarray, np.ndarray] | None) -> pd.DataFrame:
    """``predicted_clv_low`` / ``_high`` of each row's total CLV: the delta method on the summed gradients,
    Var(total) = sᵀ Σ s per model, as a log-normal 80 % interval (NaN without a covariance)."""
    if covariances is None or frame.empty:
        none = np.where(frame.predicted_clv.to_numpy(float) > 0, np.nan, 0.0)  # nothing predicted: exactly 0
        return frame.assign(predicted_clv_low=none, predicted_clv_high=none)
    purchase = frame[[f"clv_grad_{k}" for k in range(4)]].fillna(0.0).to_numpy()
    value = frame[[f"clv_vgrad_{j}" for j in range(3)]].fillna(0.0).to_numpy()
    variance = (np.einsum("ij,jk,ik->i", purchase, covariances[0], purchase)
                + np.einsum("ij,jk,ik->i", value, covariances[1], value))
    total = frame.predicted_clv.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.exp(_Z * np.sqrt(np.maximum(variance, 0.0)) / total)
    spread = np.where(total > 0, spread, 1.0)
    return frame.assign(predicted_clv_low=total / spread, predicted_clv_high=total * spread)


def _state_covariances(engine: Engine, filters: Filters) -> tuple[np.ndarray, np.ndarray] | None:
    return _covariances(fit_purchase_model(engine, filters), fit_spend_model(engine, filters))


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
    frame = _group_interval(_finish(frame), _state_covariances(engine, filters))
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
    frame = _group_interval(_finish(frame), _state_covariances(engine, filters))
    frame["segment"] = frame["segment"].astype("str")
    frame["customer_share"] = ratio(frame.customers, frame.groupby("segment").customers.transform("sum"))
    frame = frame[["segment", *SUMMARY_COLUMNS]]
    frame.attrs["message"] = _message(engine, filters)
    return frame


SEGMENT_CLV_COLUMNS = ["segment", "customers", "predicted_clv", "predicted_clv_low", "predicted_clv_high",
                       "avg_predicted_clv", "avg_predicted_clv_low", "avg_predicted_clv_high"]


@memoized
def segment_clv(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment label of ``scheme`` (all shown labels, zeros kept): ``customers``, the segment's total
    ``predicted_clv`` with its 80 % interval ``predicted_clv_low`` … ``predicted_clv_high`` (from both
    models' parameter uncertainty, the delta method on the segment's total) and the same per customer
    (``avg_predicted_clv``, ``avg_predicted_clv_low``, ``avg_predicted_clv_high``)."""
    check_scheme(scheme)
    clv = customer_clv(engine, filters)
    t = clv.inner_join(customer_segments(engine, filters, scheme), "customer_id")
    frame = pd.DataFrame({"segment": list(shown_labels(filters, scheme))}).merge(
        engine.execute(_aggregate(t, ["segment"])), on="segment", how="left")
    frame = frame.fillna({"customers": 0, "predicted_clv": 0.0}).astype({"customers": "int64",
                                                                          "predicted_clv": "float64"})
    frame = _group_interval(frame, _state_covariances(engine, filters))
    for column in ("predicted_clv", "predicted_clv_low", "predicted_clv_high"):
        frame[f"avg_{column}"] = ratio(frame[column], frame.customers)
    frame["segment"] = frame["segment"].astype("str")
    frame = frame[SEGMENT_CLV_COLUMNS]
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


__all__ = ["CLV_CLASSES", "clv_by_segment", "clv_model_summary", "clv_summary", "customer_clv", "segment_clv"]
