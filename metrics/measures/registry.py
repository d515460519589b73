"""The measure registry: every business measure defined once (a semantic layer).

A :class:`Measure` is one record: its name, label, unit and display format, whether up is good, whether it
adds up across segments, its business definition (the glossary text) and its expression, written once.
KPI cards, the trend chart, segment details, the glossary, table headers and ``custintel export`` read
the records; adding a measure is one entry in :data:`MEASURES`.

An expression is one of:

- a **sum** over the rows of a *source*, e.g. repeat customers = Σ over customer rows of [orders ≥ 2];
- a **ratio** of two other measures, e.g. repeat purchase rate = repeat customers / customers (0 when
  the denominator is 0);
- a **model** value computed elsewhere for the whole range (the at-risk rate).

Sources, each one row per unit of what they count (all for the customers in view of the filter state,
:mod:`metrics.population`):

- ``customers``: one row per customer with a valid order in the range, or per customer and period
  (week, month, quarter, year) for a trend. Columns: ``orders``, ``revenue`` (net revenue of valid
  orders), ``span_days`` (first → last order date), ``repeat_revenue`` (revenue of the orders after the
  customer's first in the range or period, orders sequenced by timestamp then order_id), ``is_new`` (the
  first valid order ever falls in the range or period), ``is_prime``, ``active_30d``, ``annual_income``,
  ``spending_score``.
- ``orders``: every order in the range, returned and cancelled ones included (``is_returned``).
- ``engagement``: the engagement rows (customer × month) of the customer rows above.
- ``prospects``: people in scope with active engagement (a web visit, an opened email or a cart add) in the
  range or period and no valid order on or before its end. They hold no segment label, so the measures
  of this source have no segment meaning (brand view only).

Values are computed for the whole range, per label of a segmentation scheme, per period, or per period and
label by :func:`measure_frame`. Per label, a customer holds the label of the scope; per period and label,
the label they hold at the end of the period (:mod:`metrics.segments.monthly`: each month end scored like a
range ending there; a week or quarter takes the label at the end of the month its last day falls in; a range
of more than 24 months is labelled at its quarter ends, so each of its months takes the label of its
quarter's end, or of the range's last month).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import ratio, relative_change
from metrics.grains import GRAINS, as_timestamps, check_grain, month_index, month_index_expr, period_starts
from metrics.mart import ATTRIBUTE_COLUMNS, MONEY_DECIMALS, repeat_revenue, with_attributes
from metrics.models.churn import at_risk_rate, mean_churn_risk
from metrics.population import (
    customer_mart,
    customer_months,
    engagement_in_view,
    orders_in_view,
    shown_labels,
    unlabelled_mart,
)
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.monthly import label_month_expr, monthly_labels
from metrics.segments.rules import check_scheme, segment_column
from metrics.selection import first_valid_orders

FORMATS = ("int", "money", "pct", "days", "float")


@dataclass(frozen=True)
class Measure:
    """One business measure. ``fmt`` is the display format (int, money, pct, days, float); ``additive``:
    the segments' values add up to the total (counts and sums, not rates); ``segment_meaning``: it can be
    split by a customer segment; ``trend``: it has a value per period."""

    name: str
    label: str
    unit: str
    fmt: str
    definition: str
    higher_is_better: bool = True
    additive: bool = False
    segment_meaning: bool = True
    trend: bool = True
    source: str = "customers"
    expr: Callable[[ir.Table], ir.NumericValue] | None = None
    ratio_of: tuple[str, str] | None = None
    #: customer attributes (dim_customer columns) the expression reads, joined to the mart rows for it
    attributes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "sum" if self.expr is not None else "ratio" if self.ratio_of is not None else "model"


def _count(t: ir.Table) -> ir.NumericValue:
    return t.customer_id.notnull().cast("int64")  # 1 per row: every source has a customer_id


def _flag(value: ir.BooleanValue) -> ir.NumericValue:
    return value.cast("int64")


def _count_sum(name: str, label: str, definition: str, expr: Callable[[ir.Table], ir.NumericValue], *,
               unit: str = "customers", fmt: str = "int", source: str = "customers", **more: object) -> Measure:
    """A measure that is the sum of ``expr`` over the rows of ``source`` (a count when ``expr`` is 1)."""
    return Measure(name, label, unit, fmt, definition, additive=True, source=source, expr=expr,
                   **more)  # type: ignore[arg-type]


def _rate(name: str, label: str, definition: str, numerator: str, denominator: str, *, fmt: str = "pct",
          unit: str = "share", **more: object) -> Measure:
    """A measure that is the ratio of two other measures (0 where the denominator is 0)."""
    return Measure(name, label, unit, fmt, definition, ratio_of=(numerator, denominator),
                   **more)  # type: ignore[arg-type]


_MEASURES: tuple[Measure, ...] = (
    _count_sum("customers", "Total Customers", "Distinct customers with at least one valid order.", _count),
    _count_sum("orders", "Total Orders", "Valid orders (returned and same-day-cancelled orders excluded).",
               lambda t: t.orders, unit="orders"),
    _count_sum("revenue", "Total Sales", "Net revenue of valid orders.", lambda t: t.revenue, unit="currency",
               fmt="money"),
    _rate("aov", "Average Order Value", "Total Sales / Total Orders.", "revenue", "orders", fmt="money",
          unit="currency"),
    _rate("ltv", "Sales per Customer (LTV)", "Total Sales / Total Customers.", "revenue", "customers",
          fmt="money", unit="currency"),
    _rate("orders_per_customer", "Avg Orders per Customer", "Total Orders / Total Customers.", "orders",
          "customers", fmt="float", unit="orders"),
    _count_sum("repeat_customers", "Repeat Customers", "Customers with 2 or more valid orders.",
               lambda t: _flag(t.orders >= 2)),
    _count_sum("repeat_orders", "Repeat Orders", "Valid orders after each customer's first one (= orders − "
               "customers).", lambda t: t.orders - 1, unit="orders"),
    _count_sum("repeat_sales", "Repeat Sales", "Net revenue of the repeat orders.", lambda t: t.repeat_revenue,
               unit="currency", fmt="money"),
    _rate("repeat_purchase_rate", "Repeat Purchase Rate", "Repeat Customers / Total Customers (target 40 %).",
          "repeat_customers", "customers"),
    _rate("repeat_sales_share", "Repeat Sales %", "Repeat Sales / Total Sales.", "repeat_sales", "revenue"),
    _count_sum("repeat_span_days", "Repeat span (days)", "Σ over customers of days from first to last valid "
               "order: the sum of the gaps between consecutive orders.", lambda t: t.span_days, unit="days"),
    _rate("avg_repeat_interval_days", "Avg Repeat Purchase Interval", "Mean days between consecutive valid "
          "orders of the same customer (a same-day repeat order is a 0-day gap) = Σ(last − first order date) / "
          "Repeat Orders.", "repeat_span_days", "repeat_orders", fmt="days", unit="days", higher_is_better=False),
    _count_sum("new_customers", "New to Brand Customers", "Customers whose first valid order ever falls in "
               "the range (or period).", lambda t: _flag(t.is_new)),
    _count_sum("new_customer_orders", "New to Brand Customer Orders", "Valid orders of the new-to-brand "
               "customers.", lambda t: ibis.ifelse(t.is_new, t.orders, 0), unit="orders"),
    _count_sum("new_customer_sales", "New to Brand Customer Sales", "Net revenue of the new-to-brand "
               "customers' valid orders.", lambda t: ibis.ifelse(t.is_new, t.revenue, 0.0), unit="currency",
               fmt="money"),
    _rate("new_customer_share", "New to Brand Customer %", "New to Brand Customers / Total Customers.",
          "new_customers", "customers"),
    _count_sum("potential_customers", "Potential New Customers", "People with web, email or cart activity "
               "in the range (or period) but no valid order on or before its end (prospects).", _count,
               source="prospects", segment_meaning=False),
    _count_sum("prime_customers", "Prime Customers", "Customers who are Prime members.",
               lambda t: _flag(t.is_prime)),
    _rate("prime_share", "Prime %", "Prime Customers / Total Customers.", "prime_customers", "customers"),
    _count_sum("active_customers", "Active Customers (30 d)", "Customers with a valid order in the 30 days "
               "ending at the as-of date.", lambda t: _flag(t.active_30d), trend=False),
    _rate("active_rate_30d", "Active rate (30 d)", "Active Customers (30 d) / Total Customers.",
          "active_customers", "customers", trend=False),
    _count_sum("recency_days_sum", "Recency (sum of days)", "Σ days from each customer's last valid order to "
               "the as-of date.", lambda t: t.recency_days, unit="days", fmt="days", trend=False),
    _rate("avg_recency_days", "Avg Days Since Last Order", "Mean days from the customers' last valid order to "
          "the as-of date.", "recency_days_sum", "customers", fmt="days", unit="days", higher_is_better=False,
          trend=False),
    Measure("at_risk_rate", "High churn risk (≥ 70 %)", "share", "pct", "Customers whose churn risk is at "
            "least 70 % / Total Customers. Churn risk = 1 − P(alive) from the purchase model in use (chosen on "
            "the data by a holdout test, or picked on the Risk page), fitted on each in-scope customer's whole "
            "history up to the end of the range. Not the loyalty tier \"At-Risk\", the RFM cell \"At Risk\", "
            "the behaviour segment \"At-Risk / Dormant\", the income quadrant \"At Risk\" or the lifecycle "
            "state \"At Risk\": those are rules on recency, frequency, spend or income; this is a model's "
            "probability.", higher_is_better=False, trend=False, source="model"),
    Measure("mean_churn_risk", "Avg churn risk", "share", "pct", "The average churn risk (1 − P(alive), the "
            "probability that a customer has silently stopped buying) of the customers, from the purchase model in "
            "use fitted on each in-scope customer's whole history up to the end of the range. Per month (the "
            "Segmentation page's monthly churn chart) it is the average at each month end (each quarter end for a "
            "range over 24 months) over the customers "
            "holding each label then, each scored on their history up to that month end with the parameters of "
            "the range's fit (one fit, not one per month).", higher_is_better=False, trend=False, source="model"),
    _count_sum("income_sum", "Annual income (sum)", "Σ annual income of the customers.",
               lambda t: t.annual_income, unit="currency", fmt="money", trend=False, attributes=("annual_income",)),
    _rate("avg_annual_income", "Avg Annual Income", "Mean annual income of the customers.", "income_sum",
          "customers", fmt="money", unit="currency", trend=False),
    _count_sum("spending_score_sum", "Spending score (sum)", "Σ spending score of the customers.",
               lambda t: t.spending_score, unit="score", fmt="float", trend=False,
               attributes=("spending_score",)),
    _rate("avg_spending_score", "Avg Spending Score", "Mean spending score (1–100) of the customers.",
          "spending_score_sum", "customers", fmt="float", unit="score", trend=False),
    _count_sum("emails_sent", "Emails sent", "Emails sent to the customers in the months the range touches.",
               lambda t: t.emails_sent, unit="emails", source="engagement", trend=False),
    _count_sum("emails_opened", "Emails opened", "Emails the customers opened.", lambda t: t.emails_opened,
               unit="emails", source="engagement", trend=False),
    _rate("email_open_rate", "Email Open Rate", "Emails opened / emails sent.", "emails_opened", "emails_sent",
          trend=False),
    _count_sum("web_visits", "Web visits", "Web visits of the customers in the months the range touches.",
               lambda t: t.web_visits, unit="visits", source="engagement", trend=False),
    _rate("web_visits_per_customer", "Web Visits per Customer", "Web visits / Total Customers.", "web_visits",
          "customers", fmt="float", unit="visits", trend=False),
    _count_sum("all_orders", "All orders", "Orders placed, returned and cancelled ones included.", _count,
               unit="orders", source="orders"),
    _count_sum("returned_orders", "Returned orders", "Orders placed and later returned.",
               lambda t: _flag(t.is_returned), unit="orders", source="orders", higher_is_better=False),
    _rate("returns_rate", "Returns rate", "Returned orders / all orders placed.", "returned_orders",
          "all_orders", higher_is_better=False),
)

#: Every measure by name, in display order.
MEASURES: dict[str, Measure] = {m.name: m for m in _MEASURES}

#: Measures of the Executive KPI cards, in card order.
KPI_MEASURES: tuple[str, ...] = ("customers", "orders", "revenue", "aov", "ltv", "repeat_purchase_rate",
                                 "prime_share", "active_rate_30d", "new_customers", "at_risk_rate")
#: The Loyalty page's trend chart metrics (brand view; those with a segment meaning also in segment view).
TREND_MEASURES: tuple[str, ...] = ("revenue", "customers", "orders", "new_customers", "new_customer_sales",
                                   "new_customer_orders", "repeat_customers", "repeat_sales", "repeat_orders",
                                   "repeat_purchase_rate", "avg_repeat_interval_days", "potential_customers",
                                   "aov")
#: Per-tier details of the Loyalty page.
SEGMENT_DETAIL_MEASURES: tuple[str, ...] = ("revenue", "ltv", "orders", "orders_per_customer", "aov",
                                            "repeat_customers", "repeat_purchase_rate", "repeat_orders",
                                            "avg_repeat_interval_days", "repeat_sales")


def _check() -> None:
    for m in _MEASURES:
        assert m.fmt in FORMATS, m.name
        assert (m.expr is None) or (m.ratio_of is None), m.name
        for part in m.ratio_of or ():
            assert part in MEASURES, (m.name, part)
            assert MEASURES[part].segment_meaning or not m.segment_meaning, m.name


_check()
assert set(TREND_MEASURES) <= {n for n, m in MEASURES.items() if m.trend}


def sources(name: str) -> frozenset[str]:
    """The sources a measure is computed from (a ratio: those of its two parts)."""
    return frozenset(m.source for m in _sums_needed([name]))


def measure(name: str) -> Measure:
    """The record of a measure (a clear error for an unknown name)."""
    if name not in MEASURES:
        raise ValueError(f"unknown measure {name!r}; choose from {', '.join(MEASURES)}")
    return MEASURES[name]


def _sums_needed(names: Sequence[str]) -> list[Measure]:
    """The sum measures the named measures are built from (ratios resolved), in registry order."""
    needed: set[str] = set()

    def add(name: str) -> None:
        m = measure(name)
        if m.kind == "sum":
            needed.add(name)
        for part in m.ratio_of or ():
            add(part)

    for name in names:
        add(name)
    return [m for m in _MEASURES if m.name in needed]


# ----- sources ---------------------------------------------------------------------------------------------

def _period_end(period: ir.DateValue, grain: str) -> ir.DateValue:
    step = {"week": ibis.interval(days=7), "month": ibis.interval(months=1), "quarter": ibis.interval(months=3),
            "year": ibis.interval(years=1)}[grain]
    return (period.cast("date") + step).cast("date") - ibis.interval(days=1)


def _customer_periods(engine: Engine, filters: Filters, grain: str) -> ir.Table:
    """The ``customers`` source per period: one row per customer and period with a valid order in it.
    Months of a range starting on a month's first day are read from the shared monthly table (every such
    month lies whole in the range but the last, which the table cuts at the as-of date too)."""
    if grain == "month" and filters.start.day == 1:
        m = customer_months(engine, filters)
        m = m.filter(m.mi >= ibis.literal(month_index(filters.start)))
        per = m.select("customer_id", "is_prime", "orders", "revenue", "repeat_revenue",
                       period=ibis.date((m.mi // 12).cast("int32"), (m.mi % 12 + 1).cast("int32"), 1),
                       first_order_date=m.first_date, last_order_date=m.last_date)
    else:
        orders = orders_in_view(engine, filters)
        orders = orders.mutate(period=orders.order_date.truncate(GRAINS[grain]))
        per = orders.group_by("period", "customer_id", "is_prime").aggregate(
            orders=orders.count(),
            revenue=orders.net_revenue.sum().round(MONEY_DECIMALS),
            repeat_revenue=repeat_revenue(orders),
            first_order_date=orders.order_date.min(),
            last_order_date=orders.order_date.max(),
        )
    first = first_valid_orders(engine)
    per = per.inner_join(first, "customer_id")
    since = ibis.greatest(per.period.cast("date"), ibis.literal(filters.start))
    return per.mutate(span_days=per.last_order_date.delta(per.first_order_date, unit="day"),
                      is_new=per.first_order_ever >= since)


def _labelled(t: ir.Table, engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    labels = customer_mart(engine, filters, (scheme,))
    labels = labels.select("customer_id", segment=labels[segment_column(scheme)])
    return t.inner_join(labels, "customer_id")


def _labelled_at_period_end(t: ir.Table, engine: Engine, filters: Filters, scheme: str, grain: str) -> ir.Table:
    """Rows of a per-period source with the label their customer holds at the end of the period (of the
    labelled month end covering the month its last day in the range falls in,
    :func:`metrics.segments.monthly.label_month_expr`): each period's own membership, not the scope's."""
    end = ibis.least(_period_end(t.period, grain), ibis.literal(filters.as_of))
    labels = monthly_labels(engine, filters, scheme)
    labels = labels.select("customer_id", "segment", label_mi=labels.mi)
    return t.mutate(label_mi=label_month_expr(month_index_expr(end).cast("int64"), filters)).inner_join(
        labels, ["customer_id", "label_mi"])


def _source(engine: Engine, filters: Filters, source: str, grain: str | None, scheme: str | None,
            attributes: tuple[str, ...] = ()) -> ir.Table:
    """Rows of ``source`` with a ``period`` column (with a grain), a ``segment`` column (with a scheme)
    and the customer ``attributes`` a measure or a grouping reads (joined from dim_customer)."""
    if source == "customers":
        if grain is None:
            if scheme is None:
                return with_attributes(engine, unlabelled_mart(engine, filters), *attributes)
            t = customer_mart(engine, filters, (scheme,))
            return with_attributes(engine, t.mutate(segment=t[segment_column(scheme)]), *attributes)
        t = _customer_periods(engine, filters, grain)
    elif source == "orders":
        t = orders_in_view(engine, filters, valid_only=False)
        if grain is not None:
            t = t.mutate(period=t.order_date.truncate(GRAINS[grain]))
    elif source == "engagement":
        e = engagement_in_view(engine, filters)
        t = e.semi_join(unlabelled_mart(engine, filters).select("customer_id"), "customer_id")
        if grain is not None:
            t = t.mutate(period=t.month.truncate(GRAINS[grain]))
    elif source == "prospects":
        t = _prospects(engine, filters, grain)
    else:
        raise ValueError(f"unknown source {source!r}")
    if scheme is None:
        return t
    return _labelled(t, engine, filters, scheme) if grain is None else \
        _labelled_at_period_end(t, engine, filters, scheme, grain)


def _prospects(engine: Engine, filters: Filters, grain: str | None) -> ir.Table:
    """One row per prospect (and period): active engagement in it, no valid order on or before its end."""
    e = engagement_in_view(engine, filters)
    active = e.filter((e.web_visits + e.emails_opened + e.cart_adds) > 0)
    if grain is None:
        active = active.select("customer_id").distinct().mutate(period_end=ibis.literal(filters.as_of))
    else:
        active = active.select("customer_id", period=active.month.truncate(GRAINS[grain])).distinct()
        active = active.mutate(period_end=ibis.least(_period_end(active.period, grain),
                                                     ibis.literal(filters.as_of)))
    first = first_valid_orders(engine)
    joined = active.left_join(first, "customer_id").drop("customer_id_right")
    return joined.filter(joined.first_order_ever.isnull() | (joined.first_order_ever > joined.period_end))


# ----- values ----------------------------------------------------------------------------------------------

def _rounded(total: ir.NumericValue, m: Measure) -> ir.NumericValue:
    return total.round(MONEY_DECIMALS) if m.fmt == "money" else total


def _keys(grain: str | None, scheme: str | None, by: str | None) -> list[str]:
    return [k for k, used in (("period", grain is not None), ("segment", scheme is not None), (by, by is not None))
            if used and k is not None]


def _aggregate(engine: Engine, filters: Filters, names: Sequence[str], grain: str | None,
               scheme: str | None, by: str | None) -> pd.DataFrame:
    keys = _keys(grain, scheme, by)
    out: pd.DataFrame | None = None
    by_source: dict[str, list[Measure]] = {}
    for m in _sums_needed(names):
        by_source.setdefault(m.source, []).append(m)
    for source, sums in by_source.items():
        if by is not None and (source != "customers" or grain is not None):
            raise ValueError(f"{', '.join(m.name for m in sums)}: no value per {by}")
        attributes = {a for m in sums for a in m.attributes} | ({by} & set(ATTRIBUTE_COLUMNS) if by else set())
        t = _source(engine, filters, source, grain, scheme, tuple(sorted(attributes)))
        # money sums rounded to the cent: a float sum depends on the engine's summation order
        metrics = {m.name: _rounded(m.expr(t).sum(), m) for m in sums if m.expr is not None}
        grouped = t.group_by(keys).aggregate(**metrics) if keys else t.aggregate(**metrics)
        frame = engine.execute(grouped)
        if keys and frame.empty:
            continue  # nothing in this source: its measures are 0 on the grid
        if grain is not None:
            frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[ns]")
        if "segment" in frame:
            frame["segment"] = frame["segment"].astype("str")
        out = frame if out is None else out.merge(frame, on=keys, how="outer") if keys else out.join(frame)
    if out is None:
        return pd.DataFrame({k: pd.Series(dtype="datetime64[ns]" if k == "period" else "str") for k in keys})
    return out


def _grid(filters: Filters, grain: str | None, scheme: str | None) -> pd.DataFrame:
    parts = []
    if grain is not None:
        parts.append(pd.DataFrame({"period": as_timestamps(period_starts(filters.start, filters.end, grain))}))
    if scheme is not None:  # per period every label: the focus's customers move between labels
        labels = SCHEME_LABELS[scheme] if grain is not None else shown_labels(filters, scheme)
        parts.append(pd.DataFrame({"segment": pd.Series(labels, dtype="str")}))
    if not parts:
        return pd.DataFrame(index=[0])
    grid = parts[0]
    for part in parts[1:]:
        grid = grid.merge(part, how="cross")
    return grid


@memoized
def measure_frame(engine: Engine, filters: Filters, names: tuple[str, ...], grain: str | None = None,
                  scheme: str | None = None, by: str | None = None) -> pd.DataFrame:
    """The named measures of the customers in view: one row for the range, or per ``period`` (start of
    each period of ``grain`` the range touches, partial first and last periods included, zeros where
    nothing happened) and/or per ``segment`` (each label of ``scheme`` shown for the filters, in display
    order; with a grain, every label, each customer under the label they hold at the period's end — see the
    module docstring) and/or per value of a customer attribute ``by`` (a column of the customer mart such as
    ``country`` or ``gender``: the values customers have, sorted). Columns: the keys, then one float
    column per measure. Ratios are 0 where their denominator is 0; model measures exist for the
    whole range only."""
    names = tuple(names)
    for name in names:
        m = measure(name)
        if scheme is not None and not m.segment_meaning:
            raise ValueError(f"{name} has no meaning per segment")
        if grain is not None and not m.trend:
            raise ValueError(f"{name} has no value per period")
        if m.kind == "model" and (grain is not None or scheme is not None):
            raise ValueError(f"{name} is computed for the whole range only")
    if grain is not None:
        check_grain(grain)
    if scheme is not None:
        check_scheme(scheme)
    keys = _keys(grain, scheme, by)
    sums = _aggregate(engine, filters, names, grain, scheme, by)
    if by is not None:  # only the values customers have: the caller knows which others to show
        order = {label: i for i, label in enumerate(shown_labels(filters, scheme))} if scheme else {}
        out = sums.sort_values(keys, key=lambda s: s.map(order) if s.name == "segment" else s).reset_index(drop=True)
    else:
        grid = _grid(filters, grain, scheme)
        out = grid.merge(sums, on=keys, how="left") if keys else grid.join(sums.reset_index(drop=True))
    values = pd.DataFrame(index=out.index)
    for m in _sums_needed(names):
        values[m.name] = pd.to_numeric(out.get(m.name), errors="coerce").astype("float64").fillna(0.0) \
            if m.name in out else 0.0
    for name in names:
        m = MEASURES[name]
        if m.kind == "ratio" and m.ratio_of is not None:
            values[name] = ratio(_resolve(values, m.ratio_of[0]), _resolve(values, m.ratio_of[1]))
        elif m.kind == "model":
            values[name] = _model_value(engine, filters, name)
    result = pd.concat([out[keys].reset_index(drop=True), values[list(names)].reset_index(drop=True)], axis=1)
    return result


def _resolve(values: pd.DataFrame, name: str) -> pd.Series:
    m = MEASURES[name]
    if m.kind == "ratio" and m.ratio_of is not None:
        return ratio(_resolve(values, m.ratio_of[0]), _resolve(values, m.ratio_of[1]))
    return values[name]


def _model_value(engine: Engine, filters: Filters, name: str) -> float:
    if name == "at_risk_rate":
        return at_risk_rate(engine, filters)
    if name == "mean_churn_risk":
        return mean_churn_risk(engine, filters)
    raise ValueError(f"no model value {name!r}")


def measure_values(engine: Engine, filters: Filters, names: Sequence[str]) -> dict[str, float]:
    """The named measures for the whole range as a dict of floats (zeros for an empty selection)."""
    row = measure_frame(engine, filters, tuple(names)).iloc[0]
    return {name: float(row[name]) for name in names}


def change_rows(engine: Engine, filters: Filters, names: Sequence[str]) -> pd.DataFrame:
    """One row per measure: ``key``, ``label``, ``fmt``, ``value``, ``previous`` (the preceding range of
    equal length, same focus), ``delta`` = value − previous, ``delta_pct`` = delta / previous (None when
    the previous value is 0: no invented percentage), ``higher_is_better``, ``definition``."""
    now, before = measure_values(engine, filters, names), measure_values(engine, filters.previous(), names)
    rows = [{"key": name, "label": MEASURES[name].label, "fmt": MEASURES[name].fmt, "value": now[name],
             "previous": before[name], "delta": now[name] - before[name],
             "delta_pct": relative_change(now[name], before[name]),
             "higher_is_better": MEASURES[name].higher_is_better, "definition": MEASURES[name].definition}
            for name in names]
    out = pd.DataFrame(rows)
    out["delta_pct"] = pd.Series([row["delta_pct"] for row in rows], dtype="object")
    return out


__all__ = ["KPI_MEASURES", "MEASURES", "SEGMENT_DETAIL_MEASURES", "TREND_MEASURES", "Measure", "all_measures",
           "change_rows", "measure", "measure_frame", "measure_values"]


def all_measures(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Every measure of the registry for the range: one row per measure with ``name``, ``label``,
    ``value``, ``fmt`` and ``definition`` (the at-risk rate needs the churn model, fitted once per scope)."""
    names = tuple(MEASURES)
    values = measure_values(engine, filters, names)
    return pd.DataFrame([{"name": n, "label": MEASURES[n].label, "value": values[n], "fmt": MEASURES[n].fmt,
                          "definition": MEASURES[n].definition} for n in names])
