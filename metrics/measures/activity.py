"""When customers buy: calendar heatmaps and monthly active customers by segment.

Valid orders of the selected range only (returned and same-day-cancelled orders excluded).
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import pandas as pd
import pyarrow as pa

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.grains import as_timestamps, month_from_index, month_index
from metrics.mart import ACTIVE_WINDOW_DAYS
from metrics.population import customer_months, customer_segments, orders_in_view, shown_labels
from metrics.segments.rules import check_scheme

HEATMAP_MEASURES = ("orders", "revenue")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _check_measure(measure: str) -> None:
    if measure not in HEATMAP_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {', '.join(HEATMAP_MEASURES)}")


def _grid(frame: pd.DataFrame, axes: dict[str, range]) -> pd.DataFrame:
    """Every combination of the axes' values, with ``value`` from ``frame`` or 0."""
    index = pd.MultiIndex.from_product(list(axes.values()), names=list(axes))
    out = pd.DataFrame(index=index).reset_index()
    frame = frame.astype({name: "int64" for name in axes})
    out = out.astype("int64").merge(frame, on=list(axes), how="left")
    out["value"] = pd.to_numeric(out["value"], errors="coerce").fillna(0).astype("float64")
    return out


@memoized
def activity_heatmap_year_month(engine: Engine, filters: Filters, measure: str = "orders") -> pd.DataFrame:
    """Valid orders (``measure="orders"``) or their net revenue (``"revenue"``) per calendar year and
    month. Columns ``year``, ``month`` (1–12), ``value``: every month of every year the range touches,
    zeros where nothing was ordered (also months outside the range)."""
    _check_measure(measure)
    orders = orders_in_view(engine, filters)
    value = orders.count() if measure == "orders" else orders.net_revenue.sum()
    grouped = orders.group_by(year=orders.order_date.year(), month=orders.order_date.month()).aggregate(
        value=value)
    years = range(filters.start.year, filters.end.year + 1)
    return _grid(engine.execute(grouped), {"year": years, "month": range(1, 13)})


@memoized
def activity_heatmap_weekday_hour(engine: Engine, filters: Filters, measure: str = "orders") -> pd.DataFrame:
    """Valid orders (or their net revenue) per day of the week and hour of the order timestamp. Columns
    ``day_of_week`` (0 = Monday … 6 = Sunday, names in :data:`WEEKDAY_NAMES`), ``hour`` (0–23),
    ``value``: all 7 × 24 cells, zeros where nothing was ordered."""
    _check_measure(measure)
    orders = orders_in_view(engine, filters)
    value = orders.count() if measure == "orders" else orders.net_revenue.sum()
    grouped = orders.group_by(
        day_of_week=orders.order_ts.day_of_week.index(), hour=orders.order_ts.hour()).aggregate(value=value)
    return _grid(engine.execute(grouped), {"day_of_week": range(7), "hour": range(24)})


def evaluation_dates(filters: Filters) -> pd.DataFrame:
    """One row per month the range touches: ``mi`` (year * 12 + month − 1), ``as_of`` (the month end, or
    the range's as-of date in a month the range ends before its end) and ``window_start`` (the first day of
    the 30 days ending at ``as_of``)."""
    rows = []
    for mi in range(month_index(filters.start), month_index(filters.end) + 1):
        month_end = month_from_index(mi + 1) - timedelta(days=1)
        as_of = min(month_end, filters.end)
        rows.append((mi, as_of, as_of - timedelta(days=ACTIVE_WINDOW_DAYS - 1)))
    return pd.DataFrame(rows, columns=["mi", "as_of", "window_start"])


@memoized
def monthly_active_customers(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Monthly active customers by segment: at the end of every month the range touches (the as-of date
    for a last month the range ends inside), the customers with a valid order in the 30 days ending
    then, counted by their segment of ``scheme`` (the segmentation of the whole range).

    Only orders in the range count, so in a range starting mid-month the first month's window is cut at
    the range start. Columns ``month`` (first day, a timestamp), ``as_of`` (evaluation date, a
    timestamp), ``segment``, ``customers``: every month × label, zeros where nobody was active.

    Scales with customer-months, not orders × months: a 30-day window ending in month m reaches back at
    most into month m − 1, so each customer's last order date per month decides both months.
    """
    check_scheme(scheme)
    dates = evaluation_dates(filters)
    # The monthly table holds the whole history; a window cut at the range start counts only range orders
    # (a month's last order on or after the start is its last order in the range).
    evals = engine.memtable(pa.table({
        "eval_mi": pa.array(dates.mi, pa.int64()),
        "eval_date": pa.array(list(dates.as_of), pa.date32()),
        "window_start": pa.array([max(day, filters.start) for day in dates.window_start], pa.date32()),
    }))
    monthly = customer_months(engine, filters).select("customer_id", "mi", "last_date")
    parts = []
    for offset in (0, 1):  # the order month is the evaluation month, or the month before it
        joined = monthly.inner_join(evals, monthly.mi + offset == evals.eval_mi)
        parts.append(joined.filter(
            (joined.last_date >= joined.window_start) & (joined.last_date <= joined.eval_date),
        ).select("customer_id", "eval_mi"))
    active = ibis.union(*parts, distinct=True)
    labels = customer_segments(engine, filters, scheme)
    labelled = active.inner_join(labels, "customer_id")
    counts = engine.execute(labelled.group_by("eval_mi", "segment").aggregate(customers=labelled.count()))

    grid = dates.merge(pd.DataFrame({"segment": pd.Series(shown_labels(filters, scheme), dtype="str")}), how="cross")
    counts = counts.astype({"eval_mi": "int64"}).rename(columns={"eval_mi": "mi"})
    out = grid.merge(counts, on=["mi", "segment"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["month"] = as_timestamps([month_from_index(int(m)) for m in out.mi]).to_numpy()
    out["as_of"] = as_timestamps(out["as_of"]).to_numpy()
    return out[["month", "as_of", "segment", "customers"]]
