"""Monthly retention and the cohort retention triangle (DESIGN §3).

**Monthly retention** of month m: of the customers *active* at the end of month m − 1, the share still
active at the end of month m. A customer is active at a day e when they have a valid order in the 90
days ending at e (e − 89 … e). The end of a month is its last day, except that the month of the as-of
date ends at the as-of date (a range ending mid-month is not extrapolated). Months are those the range
touches; the activity window looks back before the range start (orders of the selected customers up to
the as-of date count, whenever they were placed), so the first month is measured like every other.
By segment (``scheme``), customers carry their label of the filter state (:func:`customer_segments`),
which exists only for customers with a valid order in the range; customers active at a month end but
without an order in the range are then left out (they are in the overall figure).

**Cohort retention**: a cohort is the month of a customer's first valid order *ever*; cohorts are the
customers whose first valid order ever falls in the range (new customers, the range start month being
partial when the range starts mid-month). Cell k = share of the cohort with a valid order in calendar
month cohort + k (k = 0 is 100 % by definition: that is where the first order is). Cells run up to the
month of the as-of date (the last one partial, counting orders up to the as-of date) and at most
``max_months``. Months are counted as year × 12 + month integers, which every backend computes alike.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio
from metrics.grains import as_timestamps, month_from_index, month_index
from metrics.population import customer_months, customer_segments, orders_in_view, shown_labels
from metrics.segments.rules import check_scheme
from metrics.selection import date_key

#: A customer is active at a day when they have a valid order in the trailing window of this many days.
ACTIVE_WINDOW_DAYS = 90


def month_end(index: int, as_of: date) -> date:
    """Last day of month ``index`` (year * 12 + month − 1), or the as-of date in the as-of month."""
    first = month_from_index(index)
    last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
    return min(last, as_of)


def _month_ends(filters: Filters) -> pd.DataFrame:
    """``mi``, ``month_end``, ``window_start`` for the month before the range and every month it touches."""
    indexes = range(month_index(filters.start) - 1, month_index(filters.end) + 1)
    ends = [month_end(i, filters.as_of) for i in indexes]
    return pd.DataFrame({"mi": np.array(list(indexes), dtype="int64"), "month_end": ends,
                         "window_start": [e - timedelta(days=ACTIVE_WINDOW_DAYS - 1) for e in ends]})


def active_at_month_ends(engine: Engine, filters: Filters) -> ir.Table:
    """``customer_id``, ``mi``: the selected customers active at the end of month ``mi`` (one row each),
    for the month before the range and every month of it."""
    ends = _month_ends(filters)
    history = orders_in_view(engine, filters, whole_history=True)
    history = history.filter(history.date_key >= ibis.literal(date_key(ends.window_start.min())))
    days = history.select("customer_id", "order_date").distinct()
    cal = engine.memtable(ends)
    joined = days.inner_join(cal, [days.order_date >= cal.window_start, days.order_date <= cal.month_end])
    return joined.select("customer_id", "mi").distinct()


RETENTION_COLUMNS = {"month": "datetime64[ns]", "active_start": "int64", "retained": "int64", "retention": "float64"}


@memoized
def monthly_retention(engine: Engine, filters: Filters, scheme: str | None = None) -> pd.DataFrame:
    """Monthly retention for every month the range touches (definition in the module docstring).

    Columns ``month`` (first day of the month, a timestamp), ``active_start`` (customers active at the end
    of the previous month), ``retained`` (of those, active at the end of this month) and ``retention``
    (retained / active_start, in [0, 1]; 0 when nobody was active). With ``scheme`` there is also a
    ``segment`` column (after ``month``) with every label of the scheme for every month, zeros kept.
    """
    if scheme is not None:
        check_scheme(scheme)
    active = active_at_month_ends(engine, filters)
    keys = ["mi"]
    if scheme is not None:
        active = active.inner_join(customer_segments(engine, filters, scheme), "customer_id")
        keys = ["mi", "segment"]
    following = active.mi.lead().over(group_by=active.customer_id, order_by=active.mi)  # mi unique per customer
    flagged = active.mutate(retained=(following == active.mi + 1).fill_null(False).cast("int64"))
    frame = engine.execute(flagged.group_by(keys).aggregate(active_start=flagged.count(),
                                                            retained=flagged.retained.sum()))
    frame["mi"] = frame["mi"] + 1  # counted at the end of m − 1, reported for month m

    months = np.arange(month_index(filters.start), month_index(filters.end) + 1, dtype="int64")
    grid = pd.DataFrame({"mi": months})
    if scheme is not None:
        grid = grid.merge(pd.DataFrame({"segment": list(shown_labels(filters, scheme))}), how="cross")
    out = grid.merge(frame, on=keys, how="left").fillna({"active_start": 0, "retained": 0})
    out = out.astype({"active_start": "int64", "retained": "int64"})
    out["retention"] = ratio(out.retained, out.active_start)
    out["month"] = as_timestamps([month_from_index(int(m)) for m in out.mi]).to_numpy()
    columns = ["month", "segment", "active_start", "retained", "retention"] if scheme else list(RETENTION_COLUMNS)
    if scheme is not None:
        order = {label: i for i, label in enumerate(shown_labels(filters, scheme))}
        out = out.sort_values(["mi", "segment"], key=lambda s: s.map(order) if s.name == "segment" else s)
        out["segment"] = out["segment"].astype("str")
    return out[columns].reset_index(drop=True)


COHORT_COLUMNS = {"cohort": "datetime64[ns]", "months_since": "int64", "customers": "int64", "active": "int64",
                  "retention": "float64"}


@memoized
def cohort_retention(engine: Engine, filters: Filters, max_months: int = 24) -> pd.DataFrame:
    """The cohort triangle in long form (definition in the module docstring).

    Columns ``cohort`` (first day of the cohort month, a timestamp), ``months_since`` (k = 0, 1, …),
    ``customers`` (cohort size), ``active`` (cohort customers with a valid order in month cohort + k) and
    ``retention`` (active / customers; 1.0 at k = 0). Every cell up to the as-of month or ``max_months``
    is present, zeros kept; sorted by cohort, then k. Empty (same columns) when no new customers.
    """
    max_months = int(max_months)
    if max_months < 0:
        raise ValueError("max_months must be >= 0")
    months = customer_months(engine, filters)  # one row per customer and month with orders
    firsts = months.group_by("customer_id").aggregate(first_date=months.first_date.min(), cohort_mi=months.mi.min())
    cohorts = firsts.filter(firsts.first_date >= ibis.literal(filters.start)).select("customer_id", "cohort_mi")
    active = months.select("customer_id", "mi").inner_join(cohorts, "customer_id")
    active = active.mutate(k=active.mi - active.cohort_mi)
    active = active.filter(active.k <= max_months)
    counts = engine.execute(active.group_by("cohort_mi", "k").aggregate(active=active.count()))
    if counts.empty:
        return empty_frame(COHORT_COLUMNS)
    end_mi = month_index(filters.end)
    sizes = counts[counts.k == 0].set_index("cohort_mi").active
    cells = [(int(c), k) for c in sizes.index for k in range(min(max_months, end_mi - int(c)) + 1)]
    grid = pd.DataFrame(cells, columns=["cohort_mi", "k"]).astype("int64")
    out = grid.merge(counts.astype("int64"), on=["cohort_mi", "k"], how="left").fillna({"active": 0})
    out["customers"] = out.cohort_mi.map(sizes).astype("int64")
    out["active"] = out["active"].astype("int64")
    out["retention"] = ratio(out.active, out.customers)
    out["cohort"] = as_timestamps([month_from_index(int(m)) for m in out.cohort_mi]).to_numpy()
    out = out.rename(columns={"k": "months_since"}).sort_values(["cohort_mi", "months_since"])
    return out[list(COHORT_COLUMNS)].reset_index(drop=True)


__all__ = ["ACTIVE_WINDOW_DAYS", "cohort_retention", "monthly_retention"]
