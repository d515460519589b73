"""Inputs and fitted customer models of one filter state, shared by churn, CLV and model-quality metrics.

**What the models see.** For every customer of the customer mart (a valid order in the range) the
BTYD triple of :mod:`metrics.mart`:

- ``frequency`` x = distinct days with a valid order in the range − 1 (repeat purchase *days*: two
  orders on one day are one transaction, as usual for BTYD models),
- ``recency`` t_x = ``span_days`` (first → last order day in the range),
- ``T`` = ``tenure_days`` (first order day in the range → the as-of date, the end of the range).

The model is fitted *on the range* and *on the scope*: a customer's "birth" is their first valid order
in the range, so a narrower range fits the same model to a shorter window (history before the range is
not used). A segment focus does not refit: the scope's models score the focus's customers, so a
customer's churn risk and CLV are the same whichever segment is in focus.

**Time unit.** Weeks by default (days / 7, :data:`DEFAULT_TIME_UNIT`): the fitted α and every
horizon are in weeks, which is the unit of the BTYD literature (CDNOW) and keeps α of order one. The
fit itself does not depend on the unit (α scales with it); days are available with
``time_unit="day"``.

**Grouping in the engine.** Customers sharing (x, t_x, T) in whole days are collapsed into one row
with a count by an Ibis ``group_by`` (:func:`btyd_groups`), and the BG/NBD likelihood is fitted on
those rows with ``weights=count``; no per-customer rows reach pandas. On generated data about 60–70 %
of customers share their row with nobody else (repeat buyers have distinct days), so the gain is in
transfer size and in one-time buyers (≈ one row per first-order day), not in orders of magnitude.

**Scoring back.** The BG/NBD closed forms need Gauss hypergeometric and gamma functions that SQL lacks,
so P(alive) and expected purchases are evaluated per distinct (x, t_x, T) row on the driver and joined
back to the mart in the engine through a memtable keyed on whole days (:func:`customer_scores`); the
per-customer table stays in the engine and pages get aggregates or top-N lists.

**Spend (Gamma-Gamma).** The monetary value of a repeat buyer is the *mean revenue per repeat purchase
day*: net revenue of their valid orders on purchase days after their first purchase day in the range,
divided by x (the revenue sum rounded to the cent first, as in the mart, so every backend gets the
same value). This is the BTYD convention (Fader, Hardie & Lee 2005: the mean of the
repeat transactions, the first excluded) and it is what the CLV multiplies: E[purchases] counts
purchase *days*, so the value must be per purchase day (revenue / orders would understate customers who
place two orders on a day), and the first purchase is left out because it is not part of the repeat
process (and x, the count behind the mean, must match the Gamma-Gamma shrinkage). Repeat buyers whose
repeat revenue is not positive are left out of the fit. Rows are grouped on (x, value); above
:data:`MAX_SPEND_CUSTOMERS` repeat buyers a deterministic hash sample of customer ids of about that
size is fitted instead (the spend parameters need far fewer customers than that). The customer's own
expected order value, E[M | x, m] = (p·v + p·x·m) / (p·x + q − 1), is plain arithmetic and is computed
in the engine for every customer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.mart import MONEY_DECIMALS
from metrics.models.bgnbd import BGNBDModel, ModelFitError
from metrics.models.gamma_gamma import DAYS_PER_MONTH, GammaGammaModel, frequency_monetary_correlation
from metrics.population import orders_in_view, unlabelled_mart

#: Days per model time unit.
TIME_UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7}
#: The BG/NBD time unit used by the dashboard (α, horizons and charts in weeks).
DEFAULT_TIME_UNIT = "week"
#: Forecast horizon of "expected purchases" and predictive CLV.
HORIZON_MONTHS = 12
#: At most about this many repeat buyers are used to fit the Gamma-Gamma spend model.
MAX_SPEND_CUSTOMERS = 200_000
#: Churn-risk bands: Low < 0.3 ≤ Medium < 0.7 ≤ High (DESIGN §3).
RISK_BANDS: tuple[str, ...] = ("Low", "Medium", "High")
MEDIUM_RISK_FROM = 0.3
HIGH_RISK_FROM = 0.7

_HASH_MODULUS = 2**32
_HASH_MULTIPLIER = 1_000_003  # odd, so id -> id·k mod 2^32 is a bijection; id < 2^32 keeps it in int64

GROUP_COLUMNS = ("frequency", "span_days", "tenure_days")
NO_CUSTOMERS = "No customers with a valid order in the selected range: nothing to fit."


def unit_days(time_unit: str) -> int:
    """Days in one model time unit (``"week"`` → 7, ``"day"`` → 1)."""
    if time_unit not in TIME_UNIT_DAYS:
        raise ValueError(f"unknown time unit {time_unit!r}; choose from {', '.join(TIME_UNIT_DAYS)}")
    return TIME_UNIT_DAYS[time_unit]


def horizon_units(time_unit: str, months: int = HORIZON_MONTHS) -> float:
    """``months`` average months (365.25 / 12 days each) in the model's time unit (12 months ≈ 52.18 weeks)."""
    return months * DAYS_PER_MONTH / unit_days(time_unit)


# ----- BG/NBD inputs ---------------------------------------------------------------------------------------

@memoized
def _day_groups(engine: Engine, filters: Filters) -> pd.DataFrame:
    mart = unlabelled_mart(engine, filters)
    grouped = mart.group_by(*GROUP_COLUMNS).aggregate(customers=mart.count())
    frame = engine.execute(grouped.order_by(*GROUP_COLUMNS))
    return frame.astype({c: "int64" for c in (*GROUP_COLUMNS, "customers")}).reset_index(drop=True)


def btyd_groups(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> pd.DataFrame:
    """Distinct BTYD rows of the selection with their customer counts, grouped in the engine.

    Columns: ``frequency`` (x, repeat purchase days), ``span_days`` and ``tenure_days`` (t_x and T in
    whole days, the join keys back to the mart), ``recency`` and ``T`` (the same in ``time_unit``) and
    ``customers`` (how many customers share the row). Sorted by the three keys; empty (same columns)
    for an empty selection. ``customers`` adds up to the mart's customer count.
    """
    days = unit_days(time_unit)
    frame = _day_groups(engine, filters).copy()
    frame["recency"] = frame.span_days / days
    frame["T"] = frame.tenure_days / days
    return frame[[*GROUP_COLUMNS, "recency", "T", "customers"]]


# ----- Gamma-Gamma inputs ----------------------------------------------------------------------------------

def repeat_spend_expr(engine: Engine, filters: Filters) -> ir.Table:
    """Per repeat buyer of the selection: ``customer_id``, ``frequency`` (repeat purchase days) and
    ``monetary_value`` (mean net revenue per repeat purchase day), as an Ibis expression."""
    orders = orders_in_view(engine, filters)
    days = orders.group_by(["customer_id", "order_date"]).aggregate(day_revenue=orders.net_revenue.sum())
    days = days.mutate(first_day=days.order_date.min().over(group_by=days.customer_id))
    repeat = days.order_date > days.first_day
    per = days.group_by("customer_id").aggregate(
        frequency=repeat.cast("int64").sum(),
        repeat_revenue=ibis.ifelse(repeat, days.day_revenue, 0.0).sum().round(MONEY_DECIMALS),
    )
    per = per.filter(per.frequency > 0)
    return per.select("customer_id", "frequency", monetary_value=per.repeat_revenue / per.frequency)


@memoized
def repeat_spend(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`repeat_spend_expr` computed once per filter state (it is read by the spend fit and by the
    CLV table)."""
    return repeat_spend_expr(engine, filters)


def _hash_fraction(customer_id: ir.IntegerValue) -> ir.FloatingValue:
    """A deterministic pseudo-random number in [0, 1) per customer id (integer arithmetic, portable)."""
    bucket = (customer_id.cast("int64") % _HASH_MODULUS) * _HASH_MULTIPLIER % _HASH_MODULUS
    return bucket.cast("float64") / float(_HASH_MODULUS)


@dataclass(frozen=True)
class SpendInputs:
    """Grouped Gamma-Gamma inputs: ``groups`` has ``frequency``, ``monetary_value``, ``customers``."""
    groups: pd.DataFrame
    repeat_buyers: int  # all repeat buyers of the selection with positive repeat revenue
    sampled: bool  # True when only a hash sample of them is in ``groups``


@memoized(scope_only=True)
def spend_inputs(engine: Engine, filters: Filters, max_customers: int = MAX_SPEND_CUSTOMERS) -> SpendInputs:
    """Repeat buyers' (x, mean repeat-day value) grouped in the engine; a hash sample of about
    ``max_customers`` when there are more (memoised per scope: the spend model is the scope's)."""
    spend = repeat_spend(engine, filters)
    spend = spend.filter(spend.monetary_value > 0)
    total = int(engine.execute(spend.count()))
    sampled = total > max_customers
    if sampled:
        spend = spend.filter(_hash_fraction(spend.customer_id) < max_customers / total)
    grouped = spend.group_by("frequency", "monetary_value").aggregate(customers=spend.count())
    frame = engine.execute(grouped.order_by("frequency", "monetary_value"))
    frame = frame.astype({"frequency": "int64", "monetary_value": "float64", "customers": "int64"})
    return SpendInputs(frame.reset_index(drop=True), total, sampled)


# ----- fitted models ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PurchaseModelFit:
    """The BG/NBD model of a filter state, or why there is none (``model is None``, ``message``)."""
    #: Safe to keep in the shared on-disk cache (numbers, arrays and frames only), see metrics.shared_cache.
    plain_data: ClassVar[bool] = True
    filters: Filters
    time_unit: str
    model: BGNBDModel | None
    groups: pd.DataFrame
    n_customers: int
    n_repeat_buyers: int
    message: str
    group_seconds: float = 0.0
    fit_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.model is not None


@dataclass(frozen=True)
class SpendModelFit:
    """The Gamma-Gamma model of a filter state, or why there is none."""
    plain_data: ClassVar[bool] = True
    model: GammaGammaModel | None
    message: str
    repeat_buyers: int = 0
    fitted_customers: int = 0
    sampled: bool = False
    frequency_monetary_corr: float | None = None
    fit_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.model is not None


def _fit_message(model: BGNBDModel | GammaGammaModel) -> str:
    return model.result.message if model.result is not None else "no fit result"


@memoized(scope_only=True)
def fit_purchase_model(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> PurchaseModelFit:
    """BG/NBD fitted with weights on the engine-side groups of the filter state (memoised per state and
    unit). Never raises for data reasons: an empty selection, a single customer or too few repeat
    buyers give ``model=None`` and a message saying why. Fitted on the scope (a focus does not refit)."""
    unit_days(time_unit)  # an unknown unit is an error, not a data reason
    started = time.perf_counter()
    groups = btyd_groups(engine, filters, time_unit)
    grouped = time.perf_counter()
    n = int(groups.customers.sum())
    repeat = int(groups.customers[groups.frequency > 0].sum())
    common: dict[str, Any] = {"filters": filters, "time_unit": time_unit, "groups": groups, "n_customers": n,
                              "n_repeat_buyers": repeat, "group_seconds": grouped - started}
    if n == 0:
        return PurchaseModelFit(model=None, message=NO_CUSTOMERS, **common)
    try:
        model = BGNBDModel().fit(groups.frequency, groups.recency, groups["T"], weights=groups.customers)
    except ModelFitError as exc:
        return PurchaseModelFit(model=None, message=f"Churn model not fitted: {exc}.", **common)
    message = "" if model.converged else f"Churn model fitted with a warning: {_fit_message(model)}."
    return PurchaseModelFit(model=model, message=message, fit_seconds=time.perf_counter() - grouped, **common)


@memoized(scope_only=True)
def fit_spend_model(engine: Engine, filters: Filters) -> SpendModelFit:
    """Gamma-Gamma fitted on the repeat buyers' mean repeat-day value (memoised per filter state), with
    the frequency–monetary correlation check (the model assumes the two are independent). Fitted on the
    scope (a focus does not refit)."""
    inputs = spend_inputs(engine, filters)
    g = inputs.groups
    fitted = int(g.customers.sum())
    x = np.repeat(g.frequency.to_numpy(float), g.customers.to_numpy())
    m = np.repeat(g.monetary_value.to_numpy(float), g.customers.to_numpy())
    corr = frequency_monetary_correlation(x, m) if fitted >= 2 else float("nan")
    common: dict[str, Any] = {"repeat_buyers": inputs.repeat_buyers, "fitted_customers": fitted,
                              "sampled": inputs.sampled, "frequency_monetary_corr": None if np.isnan(corr) else corr}
    if fitted == 0:
        return SpendModelFit(model=None, message="Spend model not fitted: no repeat buyers in the selection.",
                             **common)
    started = time.perf_counter()
    try:
        model = GammaGammaModel().fit(g.frequency, g.monetary_value, weights=g.customers)
    except ModelFitError as exc:
        return SpendModelFit(model=None, message=f"Spend model not fitted: {exc}.", **common)
    message = "" if model.converged else f"Spend model fitted with a warning: {_fit_message(model)}."
    return SpendModelFit(model=model, message=message, fit_seconds=time.perf_counter() - started, **common)


# ----- scoring ---------------------------------------------------------------------------------------------

def group_scores(fit: PurchaseModelFit, discount_rate_monthly: float = 0.0,
                 months: int = HORIZON_MONTHS) -> pd.DataFrame:
    """Per distinct (x, t_x, T) row: ``p_alive``, ``expected_purchases`` (next ``months`` months) and
    ``discounted_purchases`` (the same, month i divided by (1 + d)^i; equal when d = 0). Empty when
    there is no model."""
    columns = [*GROUP_COLUMNS, "p_alive", "expected_purchases", "discounted_purchases"]
    if fit.model is None or fit.groups.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in GROUP_COLUMNS else "float64") for c in columns})
    if not (np.isfinite(discount_rate_monthly) and discount_rate_monthly > -1.0):
        raise ValueError("discount_rate_monthly must be a number above -1 (e.g. 0.01 for 1% a month)")
    g = fit.groups
    x, t_x, age = g.frequency.to_numpy(float), g.recency.to_numpy(float), g["T"].to_numpy(float)
    model = fit.model
    step = horizon_units(fit.time_unit, 1)
    expected = model.expected_purchases(step * months, x, t_x, age)
    if discount_rate_monthly == 0.0:
        discounted = expected
    else:
        discounted, previous = np.zeros(len(g)), np.zeros(len(g))
        for i in range(1, months + 1):
            current = model.expected_purchases(step * i, x, t_x, age)
            discounted += (current - previous) / (1.0 + discount_rate_monthly) ** i
            previous = current
    out = g[list(GROUP_COLUMNS)].copy()
    out["p_alive"] = model.p_alive(x, t_x, age)
    out["expected_purchases"] = expected
    out["discounted_purchases"] = np.maximum(discounted, 0.0)
    return out


def risk_band_expr(churn_risk: ir.FloatingValue) -> ir.StringValue:
    """Low < 0.3 ≤ Medium < 0.7 ≤ High."""
    return ibis.cases((churn_risk < MEDIUM_RISK_FROM, RISK_BANDS[0]), (churn_risk < HIGH_RISK_FROM, RISK_BANDS[1]),
                      else_=RISK_BANDS[2])


SCORE_COLUMNS = ("customer_id", "orders", "revenue", "frequency", "recency_days", "span_days", "tenure_days",
                 "p_alive", "churn_risk", "risk_band", "expected_purchases_12m")


@memoized
def customer_scores(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> ir.Table | None:
    """The customers in view with ``p_alive``, ``churn_risk`` (= 1 − p_alive), ``risk_band`` and
    ``expected_purchases_12m``: the scope model's group scores joined back in the engine and materialised
    once per filter state. ``None`` when the model could not be fitted (see :func:`fit_purchase_model`)."""
    fit = fit_purchase_model(engine, filters, time_unit)
    if fit.model is None:
        return None

    scores = ibis.memtable(group_scores(fit)[[*GROUP_COLUMNS, "p_alive", "expected_purchases"]])
    mart = unlabelled_mart(engine, filters)
    joined = mart.inner_join(scores, list(GROUP_COLUMNS))
    churn_risk = 1.0 - joined.p_alive
    out = joined.select(
        "customer_id", "orders", "revenue", "frequency", "recency_days", "span_days", "tenure_days",
        "p_alive", churn_risk=churn_risk, risk_band=risk_band_expr(churn_risk),
        expected_purchases_12m=joined.expected_purchases,
    )
    return out


def expected_order_value_expr(spend: SpendModelFit, frequency: ir.IntegerValue,
                              monetary_value: ir.FloatingValue) -> ir.FloatingValue:
    """Gamma-Gamma E[M | x, m] = (p·v + p·x·m) / (p·x + q − 1) as an engine expression (x = 0 gives the
    population mean p·v / (q − 1)); never below 0."""
    assert spend.model is not None
    p, q, v = (float(value) for value in spend.model.params.as_array())
    x = frequency.cast("float64")
    m = monetary_value.fill_null(0.0)
    m = ibis.ifelse(x > 0, m, 0.0)
    return ibis.greatest((p * v + p * x * m) / (p * x + (q - 1.0)), 0.0)


def months_back(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
