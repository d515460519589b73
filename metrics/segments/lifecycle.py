"""Lifecycle segments evaluated at every month end, so their sizes can be followed month by month.

Rules, checked in this order for month m (months counted as year * 12 + month, so m − 3 is "three
months before m"), for every selected customer with a valid order up to the end of m (history before
the range counts; in the last month of a range ending mid-month, orders up to the as-of date):

- **New**: the customer's first valid order ever is in month m.
- **Inactive**: no valid order in the last 6 months including m (last order month ≤ m − 6).
- **At Risk**: last order month in m − 5 … m − 3.
- **VIP**: 6 or more valid orders in the trailing 12 months m − 11 … m.
- **Regular**: everyone else (ordered in m − 2 … m, fewer than 6 orders in 12 months, not new).

How it scales: orders are first reduced to one row per customer and month with orders. Each such row
"governs" the months from its own month until the customer's next month with orders; in those months the
label depends only on the distance k to it (k = 0–2: New/VIP/Regular, VIP read from a trailing
range-window sum of orders; 3–5: At Risk; ≥ 6: Inactive). Each row becomes at most five label intervals
(one pass over the rows),
and a running sum over months (a difference array) counts the customers per label — no customer × month
grid is built.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.grains import as_timestamps, month_from_index, month_index
from metrics.population import customer_months
from metrics.segments.labels import LIFECYCLE_LABELS

VIP_MIN_ORDERS = 6
VIP_WINDOW_MONTHS = 12
AT_RISK_AFTER_MONTHS = 3  # last order month ≤ m − 3
INACTIVE_AFTER_MONTHS = 6  # last order month ≤ m − 6


def _label_intervals(engine: Engine, filters: Filters) -> ir.Table:
    """``segment``, ``first_month``, ``last_month`` (month indexes, both included, clipped to the range):
    one row per customer, label and stretch of months in which the customer has that label."""
    start_mi, end_mi = month_index(filters.start), month_index(filters.end)
    months = customer_months(engine, filters)
    monthly = months.select("customer_id", "mi", n=months.orders)
    by_customer = ibis.window(group_by=monthly.customer_id, order_by=monthly.mi)  # mi unique per customer

    def trailing(k: int) -> ir.IntegerValue:
        """Orders in the 12 months ending k months after this row's month (no orders in between)."""
        window = ibis.window(group_by=monthly.customer_id, order_by=monthly.mi,
                             range=(-(VIP_WINDOW_MONTHS - 1 - k), 0))
        return monthly.n.sum().over(window)

    rows = monthly.mutate(
        first_mi=monthly.mi.min().over(group_by=monthly.customer_id),
        governed_to=(monthly.mi.lead().over(by_customer) - 1).fill_null(end_mi),
        **{f"trailing_{k}": trailing(k) for k in range(AT_RISK_AFTER_MONTHS)},
    )

    def active_label(k: int) -> ir.StringValue:
        vip = rows[f"trailing_{k}"] >= VIP_MIN_ORDERS
        if k == 0:
            return ibis.cases((rows.mi == rows.first_mi, "New"), (vip, "VIP"), else_="Regular")
        return ibis.ifelse(vip, "VIP", "Regular")

    # Each row yields five intervals: months k = 0, 1, 2 after it (one each, active labels), 3–5 (At Risk)
    # and 6 on (Inactive), each cut at the row's governed end. One pass: every row is repeated per part
    # (an unnest), not scanned once per part by a union.
    parts = rows.mutate(part=ibis.literal(list(range(AT_RISK_AFTER_MONTHS + 2))).unnest())
    part = parts.part
    at_risk, inactive = AT_RISK_AFTER_MONTHS, AT_RISK_AFTER_MONTHS + 1
    lo = ibis.cases((part < at_risk, part), (part == at_risk, AT_RISK_AFTER_MONTHS), else_=INACTIVE_AFTER_MONTHS)
    hi = ibis.cases((part < at_risk, part), else_=INACTIVE_AFTER_MONTHS - 1)
    last = ibis.ifelse(part == inactive, parts.governed_to, ibis.least(parts.mi + hi, parts.governed_to))
    segment = ibis.cases(*[(part == k, active_label(k)) for k in range(AT_RISK_AFTER_MONTHS)],
                         (part == at_risk, "At Risk"), else_="Inactive")
    intervals = parts.select(
        segment=segment,
        first_month=ibis.greatest(parts.mi + lo, ibis.literal(start_mi)),
        last_month=ibis.least(last, ibis.literal(end_mi)),
    )
    return intervals.filter(intervals.first_month <= intervals.last_month)


@memoized
def lifecycle_by_month(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Customers per lifecycle label at each month the range touches (rules in the module docstring).

    Columns ``month`` (first day of the month, a timestamp), ``segment`` (one of
    :data:`~metrics.segments.labels.LIFECYCLE_LABELS`) and ``customers``; every month × label present, zeros where
    nobody has the label. The labels of a month add up to the selected customers who had ordered by then.
    """
    start_mi, end_mi = month_index(filters.start), month_index(filters.end)
    t = _label_intervals(engine, filters)
    starts = t.select("segment", month=t.first_month, change=ibis.literal(1))
    ends = t.select("segment", month=t.last_month + 1, change=ibis.literal(-1))
    events = ibis.union(starts, ends, distinct=False)
    changes = engine.execute(events.group_by("month", "segment").aggregate(change=events.change.sum()))

    months = np.arange(start_mi, end_mi + 2)  # one past the end, where the last intervals close
    grid = changes.pivot_table(index="month", columns="segment", values="change", aggfunc="sum")
    grid = grid.reindex(index=months, columns=list(LIFECYCLE_LABELS)).fillna(0).cumsum().iloc[:-1]
    long = grid.reset_index(names="month_index").melt(
        id_vars="month_index", var_name="segment", value_name="customers")
    long["month"] = as_timestamps([month_from_index(int(m)) for m in long.month_index]).to_numpy()
    order = {label: i for i, label in enumerate(LIFECYCLE_LABELS)}
    long = long.sort_values(["month_index", "segment"], key=lambda s: s.map(order) if s.name == "segment" else s)
    long["segment"] = long["segment"].astype("str")
    long["customers"] = long["customers"].round().astype("int64")
    return long[["month", "segment", "customers"]].reset_index(drop=True)
