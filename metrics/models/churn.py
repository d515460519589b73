"""Churn risk from the filter state's purchase model (DESIGN §3).

**Churn risk** = 1 − P(alive): the probability that a customer has silently stopped buying, given their
whole purchase history up to the as-of date: repeat purchase days x, the time of their last purchase t_x
and their age T (first valid order ever → as-of date). The range says who is in scope (a valid order in
it); the model learns from everything those customers did before its end. Bands: Low < 0.3 ≤ Medium <
0.7 ≤ High. **High churn risk (≥ 70 %)** = customers with churn risk ≥ 0.7 / Total Customers.

How to read it: a customer who bought often and then went quiet for much longer than their usual gap
scores high; a recent frequent buyer scores low. The purchase model is one of a family
(:mod:`metrics.models.purchase_models`): BG/NBD lets customers drop out only right after a repeat
purchase, so it gives one-time buyers churn risk 0; MBG/NBD and Pareto/NBD let one-time buyers age. The
default is chosen on the data by a holdout test (:mod:`metrics.models.choice`); the state's ``model``
overrides it.

The model is fitted once per scope and model on engine-side groups of identical (x, t_x, T) and memoised;
scores are joined back in the engine (:mod:`metrics.models.scores`). When the selection cannot support a
fit (no customers, one customer, fewer than 10 repeat buyers) every function returns zeros / empty frames
with the right columns, and :func:`churn_model_summary` says why; frames carry the same text in
``frame.attrs["message"]`` ("" when the model is fine).
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
from metrics.frames import empty_frame, ratio, safe_div
from metrics.mart import MONEY_DECIMALS, with_attributes
from metrics.models.choice import fit_purchase_model, model_choice
from metrics.models.clv import customer_clv, left_join_customers
from metrics.models.inputs import (
    DEFAULT_TIME_UNIT,
    GROUP_COLUMNS,
    HIGH_RISK_FROM,
    RISK_BANDS,
    btyd_groups,
    fit_spend_model,
    group_scores,
    model_population,
)
from metrics.models.purchase_models import PURCHASE_MODELS
from metrics.models.quality import repeat_days_by_offset, tracking_curve
from metrics.models.scores import customer_scores
from metrics.population import customer_mart, customer_segments, shown_labels
from metrics.segments.rules import check_scheme

#: "High revenue" in the action table: revenue at or above this quantile of the selection's customers.
ACTION_REVENUE_QUANTILE = 0.75

CHURN_SCHEMA = pa.schema([("customer_id", pa.int64()), ("p_alive", pa.float64()), ("churn_risk", pa.float64()),
                          ("risk_band", pa.string())])


def with_message(frame: pd.DataFrame, message: str) -> pd.DataFrame:
    frame.attrs["message"] = message
    return frame


@memoized
def churn_model_summary(engine: Engine, filters: Filters) -> dict[str, object]:
    """The purchase model of the filter state in plain numbers.

    Keys: ``ok`` (a usable model exists), ``message`` (why not, or a fit warning; "" when all is well),
    ``model`` (its key, e.g. "mbgnbd"), ``model_name`` ("MBG/NBD"), ``is_default`` (it is the data's
    choice), ``default_model``, ``choice_reason`` (why the data chose the default), ``time_unit``
    ("week"), ``params`` (name → value, in the model's order) and ``std_errors`` (name → standard error,
    empty when unavailable), ``log_likelihood``, ``converged``, ``iterations``, ``n_customers``,
    ``n_repeat_buyers``, ``n_groups`` (distinct (x, t_x, T) rows fitted) and ``mean_purchase_rate``
    (r / α, purchases per week while active; 0.0 without a model).
    """
    fit = fit_purchase_model(engine, filters)
    choice = model_choice(engine)
    out: dict[str, object] = {
        "ok": fit.ok, "message": fit.message, "model": fit.model_key, "model_name": fit.model_name,
        "is_default": fit.model_key == choice.chosen, "default_model": choice.chosen,
        "choice_reason": choice.reason, "time_unit": fit.time_unit, "params": {}, "std_errors": {},
        "log_likelihood": 0.0, "converged": False, "iterations": 0, "n_customers": fit.n_customers,
        "n_repeat_buyers": fit.n_repeat_buyers, "n_groups": len(fit.groups), "mean_purchase_rate": 0.0,
    }
    if fit.model is not None and fit.model.result is not None:
        names = PURCHASE_MODELS[fit.model_key].param_names
        values = [float(v) for v in fit.model.params.as_array()]
        errors = fit.model.result.std_errors
        out.update(params=dict(zip(names, values, strict=True)),
                   std_errors={} if errors is None else dict(zip(names, map(float, errors.as_array()), strict=True)),
                   log_likelihood=fit.model.result.log_likelihood, converged=fit.model.converged,
                   iterations=fit.model.result.iterations, mean_purchase_rate=values[0] / values[1])
    return out


def customer_churn(engine: Engine, filters: Filters) -> ir.Table:
    """Per customer of the selection: ``customer_id``, ``p_alive``, ``churn_risk`` (1 − p_alive, 0–1) and
    ``risk_band`` (Low / Medium / High). An Ibis table (it stays in the engine); zero rows when the model
    could not be fitted."""
    scores = customer_scores(engine, filters)
    if scores is None:
        return ibis.memtable(CHURN_SCHEMA.empty_table())
    return scores.select("customer_id", "p_alive", "churn_risk", "risk_band")


@memoized
def churn_bands(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Customers and revenue per churn-risk band: ``band`` (Low, Medium, High — all three, zeros kept),
    ``customers``, ``customer_share``, ``revenue`` (valid revenue in the range), ``revenue_share``."""
    fit = fit_purchase_model(engine, filters)
    frame = pd.DataFrame({"band": list(RISK_BANDS)})
    scores = customer_scores(engine, filters)
    if scores is not None:
        grouped = engine.execute(scores.group_by(band=scores.risk_band).aggregate(
            customers=scores.count(), revenue=scores.revenue.sum()))
        frame = frame.merge(grouped, on="band", how="left")
    else:
        frame["customers"], frame["revenue"] = 0, 0.0
    frame = frame.fillna({"customers": 0, "revenue": 0.0}).astype({"customers": "int64", "revenue": "float64"})
    frame["customer_share"] = ratio(frame.customers, frame.customers.sum())
    frame["revenue_share"] = ratio(frame.revenue, frame.revenue.sum())
    frame["band"] = frame["band"].astype("str")
    return with_message(frame[["band", "customers", "customer_share", "revenue", "revenue_share"]], fit.message)


def _group_risks(engine: Engine, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
    """Customers in view per distinct (x, t_x, T) row and that row's churn risk (empty without a model).
    Churn risk depends only on the row, so rates need no join of scores to every customer."""
    scores = group_scores(fit_purchase_model(engine, filters))
    if scores.empty:
        return np.zeros(0), np.zeros(0)
    groups = btyd_groups(engine, filters)[[*GROUP_COLUMNS, "customers"]].merge(scores, on=list(GROUP_COLUMNS))
    return groups["customers"].to_numpy(float), 1.0 - groups["p_alive"].to_numpy(float)


@memoized
def at_risk_rate(engine: Engine, filters: Filters) -> float:
    """Customers with churn risk ≥ 0.7 / Total Customers (0 when empty or when no model can be fitted)."""
    counts, risks = _group_risks(engine, filters)
    return safe_div(float(counts[risks >= HIGH_RISK_FROM].sum()), float(counts.sum()))


@memoized
def mean_churn_risk(engine: Engine, filters: Filters) -> float:
    """The average churn risk (1 − P(alive)) of the customers in view (0 when empty or when no model can
    be fitted)."""
    counts, risks = _group_risks(engine, filters)
    return safe_div(float((counts * risks).sum()), float(counts.sum()))


@memoized
def churn_by_segment(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment label of ``scheme`` (all labels, zeros kept): ``customers``, ``revenue``,
    ``mean_churn_risk``, ``at_risk_customers`` (risk ≥ 0.7), ``at_risk_share`` and ``revenue_at_risk``
    (Σ revenue × churn risk) — the data of the churn-risk vs revenue bubble chart."""
    check_scheme(scheme)
    fit = fit_purchase_model(engine, filters)
    columns = ["segment", "customers", "revenue", "mean_churn_risk", "at_risk_customers", "at_risk_share",
               "revenue_at_risk"]
    frame = pd.DataFrame({"segment": list(shown_labels(filters, scheme))})
    scores = customer_scores(engine, filters)
    if scores is not None:
        labels = customer_segments(engine, filters, scheme)
        t = scores.inner_join(labels, "customer_id")
        grouped = engine.execute(t.group_by("segment").aggregate(
            # money to the cent: a float sum's last bits depend on the engine's thread order
            customers=t.count(), revenue=t.revenue.sum().round(MONEY_DECIMALS), risk_sum=t.churn_risk.sum(),
            at_risk_customers=(t.churn_risk >= HIGH_RISK_FROM).cast("int64").sum(),
            revenue_at_risk=(t.revenue * t.churn_risk).sum().round(MONEY_DECIMALS)))
        frame = frame.merge(grouped, on="segment", how="left")
    else:
        frame = frame.assign(customers=0, revenue=0.0, risk_sum=0.0, at_risk_customers=0, revenue_at_risk=0.0)
    frame = frame.fillna({"customers": 0, "revenue": 0.0, "risk_sum": 0.0, "at_risk_customers": 0,
                          "revenue_at_risk": 0.0})
    frame = frame.astype({"customers": "int64", "at_risk_customers": "int64", "revenue": "float64",
                          "revenue_at_risk": "float64"})
    frame["mean_churn_risk"] = ratio(frame.risk_sum, frame.customers)
    frame["at_risk_share"] = ratio(frame.at_risk_customers, frame.customers)
    frame["segment"] = frame["segment"].astype("str")
    return with_message(frame[columns], fit.message)


ACTION_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "segment": "str", "orders": "int64",
                  "revenue": "float64", "recency_days": "int64", "churn_risk": "float64",
                  "expected_purchases_12m": "float64", "predicted_clv": "float64", "predicted_clv_low": "float64",
                  "predicted_clv_high": "float64", "revenue_at_risk": "float64"}


@memoized
def customer_action_table(engine: Engine, filters: Filters, limit: int | None = 200) -> pd.DataFrame:
    """The customers to act on first: **high risk** (churn risk ≥ 0.7) **and high revenue** (revenue in the
    range at or above the 75th percentile of the scope's customers, so a focus only narrows the list),
    sorted by revenue at risk
    (revenue × churn risk, largest first; ties by customer_id), at most ``limit`` rows (None: all); the
    frame's ``attrs["total_rows"]`` is how many customers qualify, so a capped list can say "top 500 of 503".

    Columns: ``customer_id``, ``name``, ``country``, ``segment`` (loyalty tier), ``orders``, ``revenue``,
    ``recency_days``, ``churn_risk``, ``expected_purchases_12m``, ``predicted_clv`` (next 12 months, 0 when
    the spend model is not available) with its 80 % interval ``predicted_clv_low`` … ``predicted_clv_high``
    (empty without one), ``revenue_at_risk``.
    """
    fit = fit_purchase_model(engine, filters)
    scores = customer_scores(engine, filters)
    if scores is None:
        return with_message(empty_frame(ACTION_COLUMNS), fit.message)
    mart = customer_mart(engine, filters, ("loyalty",))
    info = mart.select("customer_id", "country", segment=mart.segment_loyalty)
    scope_scores = customer_scores(engine, filters.scope)
    threshold = (scope_scores if scope_scores is not None else scores).revenue.quantile(ACTION_REVENUE_QUANTILE)
    high = scores.filter((scores.churn_risk >= HIGH_RISK_FROM) & (scores.revenue >= threshold))
    t = high.inner_join(info, "customer_id")
    clv = customer_clv(engine, filters)
    t = left_join_customers(t, clv.select("customer_id", "predicted_clv_low", "predicted_clv_high",
                                          clv_value=clv.predicted_clv))
    t = t.mutate(predicted_clv=t.clv_value.fill_null(0.0), revenue_at_risk=t.revenue * t.churn_risk)
    order = [ibis.desc("revenue_at_risk"), "customer_id"]
    shown = with_attributes(engine, t.order_by(order).limit(None if limit is None else int(limit)),
                            "name")  # names of the rows shown
    frame = engine.execute(shown.select(*ACTION_COLUMNS).order_by(order))
    frame = frame.astype(ACTION_COLUMNS) if not frame.empty else empty_frame(ACTION_COLUMNS)
    frame = frame.reset_index(drop=True)
    frame.attrs["total_rows"] = len(frame) if limit is None or len(frame) < int(limit) else int(
        engine.execute(high.count()))
    message = fit.message or fit_spend_model(engine, filters).message
    return with_message(frame, message)


FITTED_COLUMNS = {"week": "int64", "date": "datetime64[ns]", "actual": "float64", "expected": "float64",
                  "actual_cumulative": "float64", "expected_cumulative": "float64"}


@memoized
def fitted_vs_actual(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Cumulative repeat purchases over the range, actual vs what the state's model expects, week by week
    (the tracking chart, FHL 2005, Figure 2), for the customers the model is fitted on: everyone of the
    state's Prime and country choices acquired by its end (:func:`~metrics.models.inputs.model_population`;
    a segment focus plays no part — a chart of only the range's buyers would compare survivors with a model
    of everyone).

    Week k ends on day min(7k, D − 1) of the range (day 0 = start, D = days in the range; the last week
    may be partial). ``actual_cumulative`` counts repeat purchase days (valid purchase days after each
    customer's first ever) from the range start up to that day; ``expected_cumulative`` is Σ over those
    customers of the model's E[X(t)] over the same days for a customer acquired at their first purchase
    (customers acquired before the range count only what falls in it). ``actual`` / ``expected`` are the
    weekly increments. Columns ``week``, ``date`` (end of the week), ``actual``, ``expected``,
    ``actual_cumulative``, ``expected_cumulative``; empty without a model.
    """
    fit = fit_purchase_model(engine, filters)
    if fit.model is None:
        return with_message(empty_frame(FITTED_COLUMNS), fit.message)
    population = model_population(engine, filters)
    groups = btyd_groups(engine, population)
    repeat_days = repeat_days_by_offset(engine, population, filters.end, start=filters.start)
    curve = tracking_curve(fit.model, fit.time_unit, groups, filters.scope, repeat_days)
    frame = curve.rename(columns={"predicted_cumulative": "expected_cumulative"})
    frame["actual"] = frame.actual_cumulative.diff().fillna(frame.actual_cumulative)
    frame["expected"] = frame.expected_cumulative.diff().fillna(frame.expected_cumulative)
    return with_message(frame[list(FITTED_COLUMNS)], fit.message)


P_ALIVE_COLUMNS = {"frequency": "int64", "weeks_since_last": "int64", "p_alive": "float64"}
#: Rows (repeat purchase days 0 … this) and columns (weeks since the last purchase) of the P(alive) grid.
P_ALIVE_MAX_FREQUENCY = 20
P_ALIVE_WEEK_STEP = 4


@memoized
def p_alive_matrix(engine: Engine, filters: Filters) -> pd.DataFrame:
    """P(alive) under the state's model over repeat purchase days x = 0 … 20 and weeks since the last
    purchase (0, 4, 8, …) for a customer whose first purchase was as long ago as the median customer in
    view's (``frame.attrs["age_weeks"]``): the lifetimes-style "probability alive" matrix. Long format:
    ``frequency``, ``weeks_since_last``, ``p_alive``; empty without a model."""
    fit = fit_purchase_model(engine, filters)
    groups = btyd_groups(engine, filters)
    if fit.model is None or groups.empty:
        return with_message(empty_frame(P_ALIVE_COLUMNS), fit.message)
    order = groups.sort_values("T")
    cumulative = order.customers.cumsum().to_numpy()
    age = float(order["T"].to_numpy()[np.searchsorted(cumulative, cumulative[-1] / 2.0)])
    weeks = np.arange(0, int(age) + 1, P_ALIVE_WEEK_STEP)
    x_grid, since_grid = np.meshgrid(np.arange(P_ALIVE_MAX_FREQUENCY + 1), weeks, indexing="ij")
    x, since = x_grid.ravel().astype(float), since_grid.ravel().astype(float)
    recency = np.where(x > 0, age - since, 0.0)  # a one-time buyer's last purchase is their first
    keep = (x == 0) & (since == weeks.max()) | (x > 0)
    p = fit.model.p_alive(x[keep], recency[keep], np.full(keep.sum(), age))
    frame = pd.DataFrame({"frequency": x[keep].astype("int64"), "weeks_since_last": since[keep].astype("int64"),
                          "p_alive": p})
    frame.attrs["age_weeks"] = age
    return with_message(frame, fit.message)


__all__ = [
    "DEFAULT_TIME_UNIT",
    "at_risk_rate",
    "churn_bands",
    "churn_by_segment",
    "churn_model_summary",
    "customer_action_table",
    "customer_churn",
    "fitted_vs_actual",
    "mean_churn_risk",
    "p_alive_matrix",
]
