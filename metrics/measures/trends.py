"""Time series of the registry's measures at a chosen grain (week, month, quarter, year).

Every order is put in the period its order date falls in (:mod:`metrics.grains`); each measure of
:mod:`metrics.measures.registry` is then evaluated within each period (e.g. the repeat purchase rate of a month is
the share of that month's customers with 2 or more valid orders in that same month). The first and last
period of a range can be partial: a range starting on a Wednesday still shows its first week as the week
starting on the Monday before, counting only the orders of the range (``partial`` says so). Every period
the range touches is present, with zeros where nothing was ordered.
"""

from __future__ import annotations

import pandas as pd

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.grains import check_grain, partial_periods
from metrics.measures.registry import MEASURES, TREND_MEASURES, Measure, measure_frame, sources

#: Every measure with a value per period, by name (the trend chart offers :data:`TREND_MEASURES`).
TREND_METRICS: dict[str, Measure] = {name: m for name, m in MEASURES.items() if m.trend}
#: The trend chart's metrics with a segment meaning (its segment view).
SEGMENT_TREND_METRICS: tuple[str, ...] = tuple(name for name in TREND_MEASURES if MEASURES[name].segment_meaning)
#: Every per-period measure :func:`trend_by_segment` can split by segment.
SEGMENT_SPLIT_METRICS: tuple[str, ...] = tuple(name for name, m in TREND_METRICS.items() if m.segment_meaning)
#: The per-period counts of :func:`period_sales`.
PERIOD_SALES_COLUMNS: tuple[str, ...] = ("customers", "orders", "revenue", "repeat_customers", "prime_customers",
                                         "new_customers", "all_orders", "returned_orders")


def _alike(metric: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    """The metrics computed from the same sources as ``metric``: evaluated together in one memoised call
    (one query per source), so switching between them costs nothing and no other source is scanned."""
    wanted = sources(metric)
    return tuple(name for name in candidates if sources(name) == wanted)


def check_metric(metric: str, allowed: tuple[str, ...] | None = None) -> None:
    allowed = allowed or tuple(TREND_METRICS)
    if metric not in allowed:
        raise ValueError(f"unknown trend metric {metric!r}; choose from {', '.join(allowed)}")


def period_sales(engine: Engine, filters: Filters, grain: str = "month") -> pd.DataFrame:
    """Per period: customers, orders, revenue, repeat_customers (≥ 2 valid orders in the period),
    prime_customers, new_customers (first valid order ever in the period), all_orders (valid or not) and
    returned_orders. Every period of the range, zeros where nothing happened."""
    check_grain(grain)
    out = measure_frame(engine, filters, PERIOD_SALES_COLUMNS, grain)
    counts = [c for c in PERIOD_SALES_COLUMNS if c != "revenue"]
    out[counts] = out[counts].astype("int64")
    return out


def trend(engine: Engine, filters: Filters, metric: str = "revenue", grain: str = "month") -> pd.DataFrame:
    """One measure of :data:`TREND_METRICS` per period: columns ``period`` (start of the period, a
    timestamp), ``value`` (float) and ``partial`` (the range covers only part of the period). Every period
    the range touches is present; ratios are 0 where their denominator is 0."""
    check_metric(metric)
    check_grain(grain)
    frame = measure_frame(engine, filters, _alike(metric, tuple(TREND_METRICS)), grain)
    return pd.DataFrame({"period": frame["period"], "value": frame[metric].to_numpy(),
                         "partial": partial_periods(filters.start, filters.end, grain)})


def trend_by_segment(engine: Engine, filters: Filters, metric: str = "orders", grain: str = "month",
                     scheme: str = "loyalty") -> pd.DataFrame:
    """One measure with a segment meaning per period and segment of ``scheme``.

    Each period's customers are split by the label they hold **at the end of that period**
    (:mod:`metrics.segments.monthly`: the month end scored like a range of the same number of months
    ending there; a week or quarter takes the label of the month end its last day falls in), so a customer
    counts as Top Tier in the months they were Top Tier. A segment focus keeps the scope's own members of
    the focus label, followed through their monthly labels. Columns ``period``, ``segment``, ``value``,
    ``partial``: every period × every label of the scheme, zeros where nothing happened.
    """
    check_metric(metric, SEGMENT_SPLIT_METRICS)
    check_grain(grain)
    frame = measure_frame(engine, filters, _alike(metric, SEGMENT_SPLIT_METRICS), grain, scheme)
    starts = trend(engine, filters, "orders", grain)[["period", "partial"]]
    out = pd.DataFrame({"period": frame["period"], "segment": frame["segment"].astype("str"),
                        "value": frame[metric].astype("float64").to_numpy()})
    return out.merge(starts, on="period", how="left")


__all__ = ["PERIOD_SALES_COLUMNS", "SEGMENT_TREND_METRICS", "TREND_METRICS", "period_sales", "trend",
           "trend_by_segment"]
