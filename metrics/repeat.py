"""New, repeat and potential customers of the selected range (the Loyalty page's panels).

Definitions (valid orders only: returned and same-day-cancelled orders never count):

- **New customers**: customers whose first valid order *ever* (history before the range included, up to
  the as-of date) falls in the range.
- **Repeat customers**: customers with 2 or more valid orders in the range.
- **Repeat orders**: every valid order of a customer after their first one in the range
  (= orders − customers). Orders are put in sequence by timestamp, then order_id.
- **Repeat sales**: the net revenue of those repeat orders.
- **Potential customers**: selected customers with active engagement (a web visit, an opened email or a
  cart add) in a month the range touches, but no valid order ever up to the as-of date (prospects).
- **Avg repeat purchase interval**: the mean number of days between consecutive valid orders of the same
  customer in the range, gaps measured between order *dates*. A second order on the same day is a gap of
  0 days (it is a repeat order, so it counts in the mean). Because the gaps of one customer add up to
  last − first order date, the mean equals Σ(last − first) / Σ(orders − 1) over repeat customers.
  0 when nobody repeated.
"""

from __future__ import annotations

from typing import NamedTuple

import ibis
import pandas as pd

from metrics.cache import memoized
from metrics.engagement import engaged_prospects
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import relative_change, safe_div, scalar
from metrics.population import customer_mart, orders_in_view


class RepeatMetric(NamedTuple):
    label: str
    fmt: str  # "int", "money", "pct", "days"
    definition: str


REPEAT_METRICS: dict[str, RepeatMetric] = {
    "customers": RepeatMetric("Customers", "int", "Distinct customers with a valid order in the range."),
    "new_customers": RepeatMetric(
        "New customers", "int", "Customers whose first valid order ever falls in the range."),
    "repeat_customers": RepeatMetric(
        "Repeat customers", "int", "Customers with 2 or more valid orders in the range."),
    "repeat_rate": RepeatMetric("Repeat Purchase Rate", "pct", "Repeat customers / customers."),
    "repeat_orders": RepeatMetric(
        "Repeat orders", "int", "Valid orders after each customer's first order in the range."),
    "repeat_sales": RepeatMetric("Repeat sales", "money", "Net revenue of the repeat orders."),
    "repeat_sales_share": RepeatMetric("Repeat sales %", "pct", "Repeat sales / revenue."),
    "potential_customers": RepeatMetric(
        "Potential customers", "int",
        "People with web, email or cart activity in the range but no valid order ever (prospects)."),
    "avg_repeat_interval_days": RepeatMetric(
        "Avg repeat purchase interval", "days",
        "Mean days between consecutive valid orders of the same customer in the range "
        "(a same-day repeat order is a 0-day gap)."),
}


def new_repeat_summary(engine: Engine, filters: Filters) -> dict[str, float]:
    """The values of :data:`REPEAT_METRICS` (plus ``orders`` and ``revenue``) for one filter state, as a
    dict of floats; all zeros for an empty selection. Definitions in the module docstring."""
    return dict(_new_repeat_summary(engine, filters))  # a copy: callers may not alter the cached dict


@memoized
def new_repeat_summary_with_change(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row per metric of :data:`REPEAT_METRICS` (in its order): ``key``, ``label``, ``fmt``, ``value``
    (this range), ``previous`` (the preceding range of equal length), ``delta`` = value − previous,
    ``delta_pct`` = delta / previous — **None** when the previous value is 0 (no invented percentage),
    and ``definition``. Values as in :func:`new_repeat_summary`."""
    current, previous = _new_repeat_summary(engine, filters), _new_repeat_summary(engine, filters.previous())
    rows = [{"key": key, "label": spec.label, "fmt": spec.fmt, "value": current[key], "previous": previous[key],
             "delta": current[key] - previous[key], "delta_pct": relative_change(current[key], previous[key]),
             "definition": spec.definition} for key, spec in REPEAT_METRICS.items()]
    out = pd.DataFrame(rows)
    out["delta_pct"] = pd.Series([row["delta_pct"] for row in rows], dtype="object")
    return out


@memoized
def _new_repeat_summary(engine: Engine, filters: Filters) -> dict[str, float]:
    mart = customer_mart(engine, filters)
    row = engine.execute(mart.aggregate(
        customers=mart.count(),
        orders=mart.orders.sum(),
        revenue=mart.revenue.sum(),
        new_customers=mart.is_new.cast("int64").sum(),
        repeat_customers=(mart.orders >= 2).cast("int64").sum(),
        repeat_span_days=mart.span_days.sum(),  # 0 for one-order customers
    )).iloc[0]

    orders = orders_in_view(engine, filters)
    sequence = ibis.row_number().over(group_by=orders.customer_id, order_by=[orders.order_ts, orders.order_id])
    numbered = orders.mutate(sequence=sequence)
    repeat_sales = engine.execute(numbered.filter(numbered.sequence > 0).net_revenue.sum())

    potential = engine.execute(engaged_prospects(engine, filters).count())

    customers, orders_count, revenue = scalar(row.customers), scalar(row.orders), scalar(row.revenue)
    repeat_orders = orders_count - customers
    repeat_customers = scalar(row.repeat_customers)
    return {
        "customers": customers,
        "orders": orders_count,
        "revenue": revenue,
        "new_customers": scalar(row.new_customers),
        "repeat_customers": repeat_customers,
        "repeat_rate": safe_div(repeat_customers, customers),
        "repeat_orders": repeat_orders,
        "repeat_sales": scalar(repeat_sales),
        "repeat_sales_share": safe_div(scalar(repeat_sales), revenue),
        "potential_customers": scalar(potential),
        "avg_repeat_interval_days": safe_div(scalar(row.repeat_span_days), repeat_orders),
    }
