"""Time series of the headline metrics at a chosen grain (week, month, quarter, year).

Every order is put in the period its order date falls in (periods start on a Monday, the 1st of a month,
of a quarter, of a year). The first and last period of a range can be partial: a range starting on a
Wednesday still shows its first week as the week starting on the Monday before, counting only the orders
of the range. Every period the range touches is present, with zeros where nothing was ordered.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import ratio
from metrics.population import customer_mart, customer_segments, orders_in_view, shown_labels
from metrics.segment_rules import check_scheme

#: grain -> Ibis truncate unit.
GRAINS: dict[str, str] = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}


class TrendMetric(NamedTuple):
    label: str
    fmt: str  # "int", "money", "pct" (as in metrics.kpis.KPI_SPECS)
    definition: str


TREND_METRICS: dict[str, TrendMetric] = {
    "revenue": TrendMetric("Revenue", "money", "Sum of net revenue of the period's valid orders."),
    "orders": TrendMetric("Orders", "int", "Valid orders placed in the period."),
    "customers": TrendMetric("Customers", "int", "Distinct customers with a valid order in the period."),
    "aov": TrendMetric("Average Order Value", "money", "The period's revenue / its valid orders."),
    "new_customers": TrendMetric(
        "New customers", "int",
        "Customers whose first valid order ever falls in the period (and the range)."),
    "repeat_rate": TrendMetric(
        "Repeat Purchase Rate", "pct",
        "Share of the period's customers with 2 or more valid orders in that same period."),
    "revenue_per_customer": TrendMetric(
        "Revenue per customer", "money", "The period's revenue / its distinct customers."),
    "returns_rate": TrendMetric(
        "Returns rate", "pct",
        "Returned orders / all orders placed in the period (returned and cancelled ones included)."),
    "prime_share": TrendMetric("Prime %", "pct", "Prime customers / all customers of the period."),
}

#: Metrics :func:`trend_by_segment` can split by segment.
SEGMENT_TREND_METRICS: tuple[str, ...] = ("orders", "revenue", "customers", "aov")


# ----- calendar helpers (also used by activity, engagement and lifecycle) -----------------------------
def check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; choose from {', '.join(GRAINS)}")


def period_start(day: date, grain: str) -> date:
    """First day of the period of ``grain`` containing ``day`` (weeks start on Monday)."""
    check_grain(grain)
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_starts(start: date, end: date, grain: str) -> pd.DatetimeIndex:
    """Start of every period of ``grain`` that the range ``start``..``end`` touches."""
    freq = {"week": "7D", "month": "MS", "quarter": "QS", "year": "YS"}[grain]
    return pd.date_range(period_start(start, grain), period_start(end, grain), freq=freq)


def month_index(day: date) -> int:
    """Months since year 0: year * 12 + month - 1 (consecutive months differ by 1)."""
    return day.year * 12 + day.month - 1


def month_from_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_index_expr(day: ir.DateValue) -> ir.IntegerValue:
    """:func:`month_index` as an Ibis expression (portable: no month deltas)."""
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


def as_timestamps(values: pd.Series | pd.Index) -> pd.Series:
    """Dates/timestamps of any unit as ``datetime64[ns]`` (Ibis, DuckDB and Parquet differ)."""
    return pd.Series(pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[ns]"))


def _periods_frame(filters: Filters, grain: str) -> pd.DataFrame:
    return pd.DataFrame({"period": as_timestamps(period_starts(filters.start, filters.end, grain))})


def _fill(periods: pd.DataFrame, frame: pd.DataFrame, on: list[str], columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["period"] = as_timestamps(frame["period"]).to_numpy()
    out = periods.merge(frame, on=on, how="left")
    for column in columns:
        out[column] = pd.to_numeric(out[column], errors="coerce").fillna(0)
    return out


# ----- per-period building blocks (memoised per filter state and grain) -------------------------------
@memoized
def period_sales(engine: Engine, filters: Filters, grain: str = "month") -> pd.DataFrame:
    """Per period: customers, orders, revenue, repeat_customers (≥ 2 valid orders in the period),
    prime_customers, new_customers (first valid order ever in the period), all_orders (valid or not) and
    returned_orders. Every period of the range, zeros where nothing happened."""
    check_grain(grain)
    unit = GRAINS[grain]
    orders = orders_in_view(engine, filters)
    per_customer = orders.group_by(
        period=orders.order_date.truncate(unit), customer_id=orders.customer_id, is_prime=orders.is_prime,
    ).aggregate(orders=orders.count(), revenue=orders.net_revenue.sum())
    sales = per_customer.group_by("period").aggregate(
        customers=per_customer.count(),
        orders=per_customer.orders.sum(),
        revenue=per_customer.revenue.sum(),
        repeat_customers=(per_customer.orders >= 2).cast("int64").sum(),
        prime_customers=per_customer.is_prime.cast("int64").sum(),
    )
    mart = customer_mart(engine, filters)
    new = mart.filter(mart.is_new)
    new = new.group_by(period=new.first_order_ever.truncate(unit)).aggregate(new_customers=new.count())
    every = orders_in_view(engine, filters, valid_only=False)
    returns = every.group_by(period=every.order_date.truncate(unit)).aggregate(
        all_orders=every.count(), returned_orders=every.is_returned.cast("int64").sum())

    out = _periods_frame(filters, grain)
    for expr, columns in (
        (sales, ["customers", "orders", "revenue", "repeat_customers", "prime_customers"]),
        (new, ["new_customers"]),
        (returns, ["all_orders", "returned_orders"]),
    ):
        out = _fill(out, engine.execute(expr), ["period"], columns)
    counts = ["customers", "orders", "repeat_customers", "prime_customers", "new_customers", "all_orders",
              "returned_orders"]
    out[counts] = out[counts].astype("int64")
    out["revenue"] = out["revenue"].astype("float64")
    return out


def _metric_values(frame: pd.DataFrame, metric: str) -> pd.Series:
    if metric in ("revenue", "orders", "customers", "new_customers"):
        return frame[metric].astype("float64")
    numerator, denominator = {
        "aov": ("revenue", "orders"),
        "repeat_rate": ("repeat_customers", "customers"),
        "revenue_per_customer": ("revenue", "customers"),
        "returns_rate": ("returned_orders", "all_orders"),
        "prime_share": ("prime_customers", "customers"),
    }[metric]
    return ratio(frame[numerator], frame[denominator])


def check_metric(metric: str, allowed: tuple[str, ...] | None = None) -> None:
    allowed = allowed or tuple(TREND_METRICS)
    if metric not in allowed:
        raise ValueError(f"unknown trend metric {metric!r}; choose from {', '.join(allowed)}")


@memoized
def trend(engine: Engine, filters: Filters, metric: str = "revenue", grain: str = "month") -> pd.DataFrame:
    """One metric of :data:`TREND_METRICS` per period: columns ``period`` (start of the period, a
    timestamp) and ``value`` (float). Every period the range touches is present; ratios are 0 where their
    denominator is 0. Definitions are those of :data:`TREND_METRICS`, applied within each period."""
    check_metric(metric)
    frame = period_sales(engine, filters, grain)
    return pd.DataFrame({"period": frame["period"], "value": _metric_values(frame, metric).to_numpy()})


@memoized
def trend_by_segment(engine: Engine, filters: Filters, metric: str = "orders", grain: str = "month",
                     scheme: str = "loyalty") -> pd.DataFrame:
    """Orders, revenue, distinct customers or average order value (``aov`` = the segment's revenue / its
    valid orders in the period) per period and segment of ``scheme``.

    A customer's segment is the one of the whole selected range (the segmentation of the customer mart),
    not re-evaluated per period. Columns ``period``, ``segment``, ``value``: every period × every label of
    the scheme, zeros where nothing happened (an AOV is 0 where the segment placed no order).
    """
    check_metric(metric, SEGMENT_TREND_METRICS)
    check_grain(grain)
    check_scheme(scheme)
    orders = orders_in_view(engine, filters)
    labels = customer_segments(engine, filters, scheme)
    joined = orders.inner_join(labels, "customer_id")
    period = joined.order_date.truncate(GRAINS[grain])
    by = joined.group_by(period=period, segment=joined.segment)
    if metric == "aov":
        sums = by.aggregate(revenue=joined.net_revenue.sum(), orders=joined.count())
        grouped = sums.select("period", "segment", value=sums.revenue / sums.orders)  # orders ≥ 1 per group
    else:
        grouped = by.aggregate(value={
            "orders": joined.count(),
            "revenue": joined.net_revenue.sum(),
            "customers": joined.customer_id.nunique(),
        }[metric])
    frame = engine.execute(grouped)
    grid = _periods_frame(filters, grain).merge(
        pd.DataFrame({"segment": pd.Series(shown_labels(filters, scheme), dtype="str")}), how="cross")
    out = _fill(grid, frame, ["period", "segment"], ["value"])
    out["value"] = out["value"].astype("float64")
    return out[["period", "segment", "value"]]


__all__ = [
    "GRAINS", "SEGMENT_TREND_METRICS", "TREND_METRICS", "TrendMetric", "as_timestamps", "month_from_index",
    "month_index", "month_index_expr", "period_sales", "period_start", "period_starts", "trend",
    "trend_by_segment",
]
