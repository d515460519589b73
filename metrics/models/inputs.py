"""Inputs and fitted customer models of one filter state, shared by churn, CLV and model-quality metrics.

**What the models see.** Every customer's BTYD triple over their **whole valid history up to the
as-of date** (:func:`history_triples`):

- ``frequency`` x = distinct days with a valid order − 1 (repeat purchase *days*: two orders on one day
  are one transaction, as usual for BTYD models),
- ``recency`` t_x = ``span_days`` (first → last valid order day),
- ``T`` = ``tenure_days`` (first valid order day ever → the as-of date, the end of the range).

**Who they are fitted on, whom they score.** A state's models are fitted on its
:func:`model_population` — every customer of its Prime and country choices acquired by the as-of date —
and score the customers in view (a valid order in the range, narrowed to the focus). The range says who
is shown and which period is reported; it does not cut a customer's history, and it does not select the
fitting sample (a sample of the range's buyers would be survivors only, see :func:`model_population`).
A segment focus does not refit, so a customer's churn risk and CLV are the same whichever segment is in
focus; states with the same end and customer choices share one fit. Which model of the family a state
uses is decided in :mod:`metrics.models.choice`.

**Time unit.** Weeks by default (days / 7, :data:`DEFAULT_TIME_UNIT`): the fitted α and every
horizon are in weeks, which is the unit of the BTYD literature (CDNOW) and keeps α of order one. The
fit itself does not depend on the unit (α scales with it); days are available with
``time_unit="day"``.

**Grouping in the engine.** Customers sharing (x, t_x, T) in whole days are collapsed into one row
with a count by an Ibis ``group_by`` (:func:`btyd_groups`), and the purchase model's likelihood is
fitted on those rows with ``weights=count``; no per-customer rows reach pandas. On generated data about 60–70 %
of customers share their row with nobody else (repeat buyers have distinct days), so the gain is in
transfer size and in one-time buyers (≈ one row per first-order day), not in orders of magnitude.

**Scoring back.** The models' closed forms need Gauss hypergeometric and gamma functions that SQL lacks,
so P(alive) and expected purchases are evaluated per distinct (x, t_x, T) row on the driver and joined
back to the customers in the engine through a memtable keyed on whole days
(:func:`metrics.models.scores.customer_scores`); the
per-customer table stays in the engine and pages get aggregates or top-N lists.

**Spend (Gamma-Gamma).** The monetary value of a repeat buyer is the *mean revenue per repeat purchase
day*: net revenue of their valid orders on purchase days after their first purchase day ever (up to the
as-of date), divided by x (the revenue sum rounded to the cent first, as in the mart, so every backend gets the
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
from metrics.models.fitted_model import ModelFitError
from metrics.models.gamma_gamma import DAYS_PER_MONTH, GammaGammaModel, frequency_monetary_correlation
from metrics.models.purchase_models import PURCHASE_MODELS, PurchaseModel
from metrics.population import history_months, members
from metrics.selection import history_scope

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


# ----- purchase-model inputs: each in-scope customer's whole history ---------------------------------------

def history_triples(engine: Engine, filters: Filters) -> ir.Table:
    """Per customer of the scope's mart (a valid order in the range): the BTYD triple over their **whole
    valid history up to the as-of date** — ``frequency`` (x: distinct valid purchase days − 1),
    ``span_days`` (t_x: first → last purchase day) and ``tenure_days`` (T: first purchase day → as-of
    date). The range says who is in scope; the models learn from everything those customers did before
    its end (a customer "born" before the range keeps their age and repeat purchases).

    Read from the triples of the state's :func:`model_population` (one scan of the order history per end
    date and customer choice): a customer has a valid order in the range exactly when their last one, at
    ``tenure_days − span_days`` days before the as-of date, is no earlier than the range start."""
    triples = _acquired_triples(engine, model_population(engine, filters))
    return triples.filter(triples.tenure_days - triples.span_days <= ibis.literal(filters.days - 1))


def whole_history_expr(engine: Engine, filters: Filters) -> ir.Table:
    """Per customer of the scope's customer choices with a valid order on or before the as-of date (the
    range start plays no part), their whole valid history up to it: the BTYD triple ``frequency`` (x:
    distinct purchase days − 1), ``span_days`` (t_x), ``tenure_days`` (T) and ``repeat_revenue`` (the net
    revenue of the purchase days after the first, the Gamma-Gamma input). Read from the shared
    customer-month table (:func:`metrics.population.history_months`): no pass over the orders of its own."""
    months = history_months(engine, filters)
    per = months.group_by("customer_id").aggregate(
        order_days=months.days.sum(), first_day=months.first_date.min(), last_day=months.last_date.max(),
        revenue=months.revenue_raw.sum(), first_revenue=months.first_day_revenue.argmin(months.mi))
    return per.select(
        "customer_id", frequency=(per.order_days - 1).cast("int64"),
        span_days=per.last_day.delta(per.first_day, unit="day").cast("int64"),
        tenure_days=ibis.literal(filters.as_of).delta(per.first_day, unit="day").cast("int64"),
        repeat_revenue=(per.revenue - per.first_revenue).round(MONEY_DECIMALS))


@memoized(scope_only=True)
def _whole_histories(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`whole_history_expr`, materialised once per end date and customer choices."""
    return whole_history_expr(engine, filters)


def _acquired_triples(engine: Engine, filters: Filters) -> ir.Table:
    return _whole_histories(engine, filters).select(*_TRIPLE)


_TRIPLE = ("customer_id", *GROUP_COLUMNS)


def triples_in_view(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`history_triples` of the customers in view (the focus's customers, or every scope customer)."""
    return _only_in_view(history_triples(engine, filters), engine, filters)


def _only_in_view(table: ir.Table, engine: Engine, filters: Filters) -> ir.Table:
    ids = members(engine, filters)
    return table if ids is None else table.semi_join(ids, "customer_id")


@memoized
def _day_groups(engine: Engine, filters: Filters) -> pd.DataFrame:
    triples = triples_in_view(engine, filters)
    grouped = triples.group_by(*GROUP_COLUMNS).aggregate(customers=triples.count())
    frame = engine.execute(grouped.order_by(*GROUP_COLUMNS))
    return frame.astype({c: "int64" for c in (*GROUP_COLUMNS, "customers")}).reset_index(drop=True)


def btyd_groups(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> pd.DataFrame:
    """Distinct whole-history BTYD rows (:func:`history_triples`) of the customers in view with their
    counts, grouped in the engine.

    Columns: ``frequency`` (x, repeat purchase days), ``span_days`` and ``tenure_days`` (t_x and T in
    whole days, the join keys back to the customers), ``recency`` and ``T`` (the same in ``time_unit``)
    and ``customers`` (how many customers share the row). Sorted by the three keys; empty (same columns)
    for an empty selection. ``customers`` adds up to the mart's customer count.
    """
    days = unit_days(time_unit)
    frame = _day_groups(engine, filters.with_model(None)).copy()  # data only: every model shares it
    frame["recency"] = frame.span_days / days
    frame["T"] = frame.tenure_days / days
    return frame[[*GROUP_COLUMNS, "recency", "T", "customers"]]


# ----- Gamma-Gamma inputs ----------------------------------------------------------------------------------

def _spend_of(histories: ir.Table) -> ir.Table:
    per = histories.filter(histories.frequency > 0)
    return per.select("customer_id", "frequency", monetary_value=per.repeat_revenue / per.frequency)


def repeat_spend_expr(engine: Engine, filters: Filters) -> ir.Table:
    """Per repeat buyer of the selection: ``customer_id``, ``frequency`` (repeat purchase days) and
    ``monetary_value`` (mean net revenue per repeat purchase day) over the customer's whole valid history
    up to the as-of date (as the purchase model sees it), as an Ibis expression."""
    buyers = triples_in_view(engine, filters).select("customer_id")  # a valid order in the range, in view
    return _spend_of(whole_history_expr(engine, filters)).semi_join(buyers, "customer_id")


def repeat_spend(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`repeat_spend_expr` of the customers in view, read from the whole histories computed (and
    materialised) for the state's :func:`model_population`: a customer's whole history up to the as-of
    date is the same in both, so the purchase fit, the spend fit and the CLV table share one pass over
    the orders."""
    spend = _spend_of(_whole_histories(engine, model_population(engine, filters)))
    return spend.semi_join(triples_in_view(engine, filters).select("customer_id"), "customer_id")


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
    """A purchase model (``model_key`` of :data:`PURCHASE_MODELS`) fitted on a scope, or why there is none
    (``model is None``, ``message``)."""
    #: Safe to keep in the shared on-disk cache (numbers, arrays and frames only), see metrics.shared_cache.
    plain_data: ClassVar[bool] = True
    filters: Filters
    time_unit: str
    model_key: str
    model: PurchaseModel | None
    groups: pd.DataFrame
    n_customers: int
    n_repeat_buyers: int
    message: str
    group_seconds: float = 0.0
    fit_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.model is not None

    @property
    def model_name(self) -> str:
        return str(PURCHASE_MODELS[self.model_key].model_name)


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


def _fit_message(model: PurchaseModel | GammaGammaModel) -> str:
    return model.result.message if model.result is not None else "no fit result"


def fit_groups(model_key: str, groups: pd.DataFrame) -> tuple[PurchaseModel | None, str]:
    """Fit purchase model ``model_key`` on grouped rows (``frequency``, ``recency``, ``T``, ``customers``):
    the model, or None, and a message ("" when the fit is fine, else why not or a fit warning)."""
    cls = PURCHASE_MODELS[model_key]
    name = cls.model_name
    if groups.empty or int(groups.customers.sum()) == 0:
        return None, NO_CUSTOMERS
    try:
        model = cls().fit(groups.frequency, groups.recency, groups["T"], weights=groups.customers)
    except ModelFitError as exc:
        return None, f"{name} churn model not fitted: {exc}."
    return model, "" if model.converged else f"{name} churn model fitted with a warning: {_fit_message(model)}."


@memoized(scope_only=True)
def fit_model(engine: Engine, filters: Filters, model_key: str, time_unit: str = DEFAULT_TIME_UNIT
              ) -> PurchaseModelFit:
    """Purchase model ``model_key`` fitted with weights on the engine-side groups of the whole-history
    triples of the customers of ``filters`` (memoised per scope, model and unit; a state's models are
    fitted on its :func:`model_population`, see :func:`metrics.models.choice.fit_purchase_model`). Never
    raises for data reasons: an empty selection, a single customer or too few repeat buyers give
    ``model=None`` and a message saying why."""
    if model_key not in PURCHASE_MODELS:
        raise ValueError(f"unknown purchase model {model_key!r}; choose from {', '.join(PURCHASE_MODELS)}")
    unit_days(time_unit)  # an unknown unit is an error, not a data reason
    started = time.perf_counter()
    groups = btyd_groups(engine, filters, time_unit)
    grouped = time.perf_counter()
    n = int(groups.customers.sum())
    repeat = int(groups.customers[groups.frequency > 0].sum())
    model, message = fit_groups(model_key, groups)
    return PurchaseModelFit(filters=filters, time_unit=time_unit, model_key=model_key, model=model, groups=groups,
                            n_customers=n, n_repeat_buyers=repeat, message=message,
                            group_seconds=grouped - started, fit_seconds=time.perf_counter() - grouped)


def model_population(engine: Engine, filters: Filters) -> Filters:
    """The customers a state's models are fitted on: every customer of its Prime and country choices with
    a valid order on or before the as-of date (the range end), each with their whole history.

    Not only the range's buyers: requiring a purchase in the range selects the survivors, whose long
    histories without a dropout make the fitted dropout far too low (on the default data MBG/NBD's mean
    dropout a/(a+b) fell from 0.18 to 0.04 and the RFM "Lost" customers' mean churn risk from 0.53, what
    the generator's ground truth says, to 0.18). The range still says whom the page shows and scores.
    States with the same end and customer choices share the fit (:func:`metrics.selection.history_scope`)."""
    return history_scope(engine, filters)


def fit_spend_model(engine: Engine, filters: Filters) -> SpendModelFit:
    """Gamma-Gamma of a state: fitted on its :func:`model_population` (memoised there), with the
    frequency–monetary correlation check (the model assumes the two are independent)."""
    return _fit_spend(engine, model_population(engine, filters))


@memoized(scope_only=True)
def _fit_spend(engine: Engine, filters: Filters) -> SpendModelFit:
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

def _discounted_purchases(model: PurchaseModel, time_unit: str, x: np.ndarray, t_x: np.ndarray, age: np.ndarray,
                          discount_rate_monthly: float, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases over the next ``months`` months, plain and with month i divided by (1 + d)^i."""
    step = horizon_units(time_unit, 1)
    if discount_rate_monthly == 0.0:
        expected = model.expected_purchases(step * months, x, t_x, age)
        return expected, expected
    # every month end at once (one P(alive) per customer), then the monthly increments discounted
    cumulative = model.expected_purchases(step * np.arange(1, months + 1)[:, None], x, t_x, age)
    increments = np.diff(cumulative, axis=0, prepend=0.0)
    factors = (1.0 + discount_rate_monthly) ** -np.arange(1, months + 1)
    return cumulative[-1], np.maximum(factors @ increments, 0.0)


def next_purchase_days(model: PurchaseModel, time_unit: str, x: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Days until a customer who stays active has an even chance of having bought again: the median of the
    waiting time when the purchase rate is λ ~ Gamma(r + x, α + T) (the posterior of every model of the
    family given the customer is alive at T): (α + T)·(2^(1/(r+x)) − 1) time units, rounded up."""
    r, alpha = (float(v) for v in model.params.as_array()[:2])
    wait = (alpha + age) * np.expm1(np.log(2.0) / (r + x))
    return np.ceil(wait * unit_days(time_unit))


def group_scores(fit: PurchaseModelFit, discount_rate_monthly: float = 0.0,
                 months: int = HORIZON_MONTHS) -> pd.DataFrame:
    """Per distinct (x, t_x, T) row: ``p_alive``, ``expected_purchases`` (next ``months`` months),
    ``discounted_purchases`` (the same, month i divided by (1 + d)^i; equal when d = 0) and
    ``next_purchase_days`` (:func:`next_purchase_days`; NaN where P(alive) ≤ 0.5: a customer more likely
    gone than not has no expected next purchase). Empty when there is no model."""
    columns = [*GROUP_COLUMNS, "p_alive", "expected_purchases", "discounted_purchases", "next_purchase_days"]
    if fit.model is None or fit.groups.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in GROUP_COLUMNS else "float64") for c in columns})
    if not (np.isfinite(discount_rate_monthly) and discount_rate_monthly > -1.0):
        raise ValueError("discount_rate_monthly must be a number above -1 (e.g. 0.01 for 1% a month)")
    g = fit.groups
    x, t_x, age = g.frequency.to_numpy(float), g.recency.to_numpy(float), g["T"].to_numpy(float)
    model = fit.model
    expected, discounted = _discounted_purchases(model, fit.time_unit, x, t_x, age, discount_rate_monthly, months)
    out = g[list(GROUP_COLUMNS)].copy()
    out["p_alive"] = model.p_alive(x, t_x, age)
    out["expected_purchases"] = expected
    out["discounted_purchases"] = discounted
    out["next_purchase_days"] = np.where(out.p_alive > 0.5, next_purchase_days(model, fit.time_unit, x, age), np.nan)
    return out


#: Central-difference step on the log scale for the gradients of the CLV interval.
_LOG_STEP = 1e-4


def purchase_gradients(fit: PurchaseModelFit, discount_rate_monthly: float = 0.0,
                       months: int = HORIZON_MONTHS) -> pd.DataFrame | None:
    """Per distinct (x, t_x, T) row: ``grad_0`` … ``grad_{k-1}``, the derivative of the (discounted) expected
    purchases of the next ``months`` months with respect to the log of each model parameter (central
    differences), for the delta-method CLV interval. None without a model or a parameter covariance."""
    model = fit.model
    if model is None or fit.groups.empty or model.param_covariance() is None:
        return None
    g = fit.groups
    x, t_x, age = g.frequency.to_numpy(float), g.recency.to_numpy(float), g["T"].to_numpy(float)
    log_params = np.log(model.params.as_array())
    out = g[list(GROUP_COLUMNS)].copy()
    for k in range(len(log_params)):
        values = []
        for sign in (1.0, -1.0):
            shifted = log_params.copy()
            shifted[k] += sign * _LOG_STEP
            other = type(model).from_array(np.exp(shifted))
            values.append(_discounted_purchases(other, fit.time_unit, x, t_x, age, discount_rate_monthly, months)[1])
        out[f"grad_{k}"] = (values[0] - values[1]) / (2 * _LOG_STEP)
    return out


def risk_band_expr(churn_risk: ir.FloatingValue) -> ir.StringValue:
    """Low < 0.3 ≤ Medium < 0.7 ≤ High."""
    return ibis.cases((churn_risk < MEDIUM_RISK_FROM, RISK_BANDS[0]), (churn_risk < HIGH_RISK_FROM, RISK_BANDS[1]),
                      else_=RISK_BANDS[2])


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
