"""Segment tables: per label of a scheme, the size and value of the customers in view.

Labels are assigned on the scope's population (:mod:`metrics.segments.rules`, :mod:`metrics.population`);
with a segment focus on the same scheme a table lists the focus label only, with the count the scope's
own summary gives it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, relative_change
from metrics.mart import with_attributes
from metrics.measures.registry import MEASURES, SEGMENT_DETAIL_MEASURES, measure_frame
from metrics.population import segment_members
from metrics.segments.rules import check_scheme

#: The columns of :func:`segment_summary` that are registry measures, in table order.
SUMMARY_MEASURES: tuple[str, ...] = ("customers", "orders", "revenue", "aov", "ltv", "repeat_purchase_rate",
                                     "repeat_customers", "avg_recency_days")
SUMMARY_COUNTS = ("customers", "orders", "repeat_customers")


@memoized
def segment_summary(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment label shown (every label, or the focus label): ``customers``, ``customer_share`` (of
    the customers in view), ``orders``, ``revenue``, ``revenue_share``, ``aov``, ``ltv`` (revenue per
    customer), ``repeat_purchase_rate``, ``repeat_customers`` and ``avg_recency_days`` — measures of
    :mod:`metrics.measures.registry`."""
    check_scheme(scheme)
    out = measure_frame(engine, filters, SUMMARY_MEASURES, scheme=scheme)
    out = out.astype({c: "int64" for c in SUMMARY_COUNTS})
    out["segment"] = out["segment"].astype("str")
    out["customer_share"] = ratio(out.customers, out.customers.sum())
    out["revenue_share"] = ratio(out.revenue, out.revenue.sum())
    return out[["segment", "customers", "customer_share", "orders", "revenue", "revenue_share", "aov", "ltv",
                "repeat_purchase_rate", "repeat_customers", "avg_recency_days"]]


@memoized
def segment_summary_with_change(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Segment sizes now and in the preceding range of equal length (:meth:`Filters.previous`), per label of
    ``scheme`` (all labels, in display order): ``customers`` and ``customer_share`` in the range,
    ``previous_customers`` and ``previous_customer_share`` in the preceding range, ``delta`` = customers −
    previous_customers and ``delta_pct`` = delta / previous_customers — **None** (not a number) when the
    segment had no customers before: a percentage change from nothing would be invented.

    Each period is segmented on its own scope (scores relative to that period's customers, as-of its own
    end), so a customer can move between tiers from one period to the next; with a focus, the previous
    figure is the customers holding the label in the previous period."""
    check_scheme(scheme)
    current = segment_summary(engine, filters, scheme)[["segment", "customers", "customer_share"]]
    before = segment_summary(engine, filters.previous(), scheme)[["segment", "customers", "customer_share"]]
    out = current.merge(before.rename(columns={"customers": "previous_customers",
                                               "customer_share": "previous_customer_share"}), on="segment")
    out["delta"] = (out.customers - out.previous_customers).astype("int64")
    out["delta_pct"] = pd.Series([relative_change(now, then) for now, then in
                                  zip(out.customers, out.previous_customers, strict=True)], dtype="object")
    return out[["segment", "customers", "customer_share", "previous_customers", "previous_customer_share",
                "delta", "delta_pct"]]


@memoized
def segment_country_matrix(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment × country with customers: customers, orders, revenue, AOV and repeat purchase rate
    (long format; segments in display order, then countries by name)."""
    check_scheme(scheme)
    names = ("customers", "orders", "revenue", "aov", "repeat_purchase_rate")
    frame = measure_frame(engine, filters, names, scheme=scheme, by="country")
    if frame.empty:
        return empty_frame({"segment": "str", "country": "str", "customers": "int64", "orders": "int64",
                            "revenue": "float64", "aov": "float64", "repeat_purchase_rate": "float64"})
    frame = frame.astype({"customers": "int64", "orders": "int64", "segment": "str", "country": "str"})
    return frame[["segment", "country", *names]].reset_index(drop=True)


AUDIENCE_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "is_prime": "bool", "orders": "int64",
                    "revenue": "float64", "first_order_date": "datetime64[ns]", "last_order_date": "datetime64[ns]",
                    "recency_days": "int64"}


def _audience_rows(engine: Engine, filters: Filters, scheme: str, label: str, limit: int | None) -> pd.DataFrame:
    check_scheme(scheme)
    members = segment_members(engine, filters, scheme, label).order_by("customer_id")
    if limit is not None:
        members = members.limit(int(limit))
    members = with_attributes(engine, members, "name")  # names for the rows shown only
    frame = engine.execute(members.select(*AUDIENCE_COLUMNS).order_by("customer_id"))
    if frame.empty:
        return empty_frame(AUDIENCE_COLUMNS)
    for column in ("first_order_date", "last_order_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame.astype(AUDIENCE_COLUMNS).reset_index(drop=True)


@memoized
def audience(engine: Engine, filters: Filters, scheme: str = "loyalty", label: str = "At-Risk") -> pd.DataFrame:
    """The audience list of a segment: the customers in view holding ``label`` of ``scheme`` (assigned on
    the scope), sorted by customer_id. Columns ``customer_id``, ``name``, ``country``, ``is_prime``,
    ``orders``, ``revenue``, ``first_order_date``, ``last_order_date``, ``recency_days``. Empty (same
    columns) when nobody holds the label, e.g. a label the segment focus excludes."""
    return _audience_rows(engine, filters, scheme, label, None)


@memoized
def audience_preview(engine: Engine, filters: Filters, scheme: str = "loyalty", label: str = "At-Risk",
                     limit: int = 1000) -> dict[str, Any]:
    """The first ``limit`` rows of :func:`audience` (``rows``) and how many it has (``total``), without
    pulling the whole list out of the engine (what a grid shows; its export asks for the whole list)."""
    t = segment_members(engine, filters, scheme, label)
    total = int(engine.execute(t.count()))
    return {"rows": _audience_rows(engine, filters, scheme, label, limit), "total": total}


def _change(now: pd.Series, before: pd.Series, in_points: bool) -> pd.Series:
    """Relative change per row, or the difference itself for rates (percentage points as a fraction);
    None where a relative change has nothing to compare with (previous value 0)."""
    if in_points:
        return pd.Series((now - before).to_numpy(), dtype="object")
    return pd.Series([relative_change(a, b) for a, b in zip(now, before, strict=True)], dtype="object")


@memoized
def segment_details(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment label shown: every measure of :data:`metrics.measures.registry.SEGMENT_DETAIL_MEASURES` (total
    sales, sales per customer, orders, orders per customer, AOV, repeat customers, repeat purchase rate,
    repeat orders, avg repeat purchase interval, repeat sales), for each additive one its share of the
    total of the customers in view (``<measure>_share``), and for each its change against the preceding
    range of equal length (``<measure>_change``): relative for counts and amounts (None when the segment
    had nothing before), in percentage points for rates (a difference of fractions, 0.05 = 5 pp). The
    previous figure of a label is that of the customers holding it in the previous period's own scope."""
    check_scheme(scheme)
    names = SEGMENT_DETAIL_MEASURES
    now = measure_frame(engine, filters, names, scheme=scheme)
    before = measure_frame(engine, filters.previous(), names, scheme=scheme)
    out = pd.DataFrame({"segment": now["segment"].astype("str")})
    for name in names:
        m = MEASURES[name]
        out[name] = now[name].to_numpy()
        if m.additive:
            out[f"{name}_share"] = ratio(now[name], now[name].sum()).to_numpy()
        out[f"{name}_change"] = _change(now[name], before[name], in_points=m.fmt == "pct")
    return out
