"""Segment tables: per label of a scheme, the size and value of the customers in view.

Labels are assigned on the scope's population (:mod:`metrics.segment_rules`, :mod:`metrics.population`);
with a segment focus on the same scheme a table lists the focus label only, with the count the scope's
own summary gives it.
"""

from __future__ import annotations

import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, relative_change
from metrics.population import customer_mart, segment_members, shown_labels
from metrics.segment_rules import check_scheme, segment_column


def _all_labels(frame: pd.DataFrame, filters: Filters, scheme: str, zero_columns: list[str]) -> pd.DataFrame:
    """Every label shown for the scheme (:func:`shown_labels`) in display order, zeros for labels nobody has."""
    labels = pd.DataFrame({"segment": list(shown_labels(filters, scheme))})
    out = labels.merge(frame, on="segment", how="left")
    out[zero_columns] = out[zero_columns].fillna(0)
    return out


@memoized
def segment_summary(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment: customers, share of customers, orders, revenue, share of revenue, AOV, revenue per
    customer, repeat purchase rate (share with ≥ 2 orders), mean recency in days."""
    check_scheme(scheme)
    t = customer_mart(engine, filters)
    seg = t[segment_column(scheme)]
    grouped = t.group_by(segment=seg).aggregate(
        customers=t.count(),
        orders=t.orders.sum(),
        revenue=t.revenue.sum(),
        repeat_customers=(t.orders >= 2).cast("int64").sum(),
        avg_recency_days=t.recency_days.mean(),
    )
    frame = engine.execute(grouped)
    out = _all_labels(frame, filters, scheme, ["customers", "orders", "revenue", "repeat_customers"])
    out = out.astype({"customers": "int64", "orders": "int64", "repeat_customers": "int64"})
    total_customers, total_revenue = out.customers.sum(), out.revenue.sum()
    out["customer_share"] = ratio(out.customers, total_customers)
    out["revenue_share"] = ratio(out.revenue, total_revenue)
    out["aov"] = ratio(out.revenue, out.orders)
    out["revenue_per_customer"] = ratio(out.revenue, out.customers)
    out["repeat_rate"] = ratio(out.repeat_customers, out.customers)
    return out[["segment", "customers", "customer_share", "orders", "revenue", "revenue_share", "aov",
                "revenue_per_customer", "repeat_rate", "repeat_customers", "avg_recency_days"]]


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
    """Per segment × country: customers, revenue, AOV and repeat purchase rate (long format)."""
    check_scheme(scheme)
    t = customer_mart(engine, filters)
    grouped = t.group_by(segment=t[segment_column(scheme)], country=t.country).aggregate(
        customers=t.count(), orders=t.orders.sum(), revenue=t.revenue.sum(),
        repeat_customers=(t.orders >= 2).cast("int64").sum(),
    )
    frame = engine.execute(grouped)
    columns = ["segment", "country", "customers", "orders", "revenue", "aov", "repeat_rate"]
    if frame.empty:
        return empty_frame({"segment": "str", "country": "str", "customers": "int64", "orders": "int64",
                            "revenue": "float64", "aov": "float64", "repeat_rate": "float64"})
    frame["aov"] = ratio(frame.revenue, frame.orders)
    frame["repeat_rate"] = ratio(frame.repeat_customers, frame.customers)
    order = {label: i for i, label in enumerate(shown_labels(filters, scheme))}
    frame = frame.sort_values(["segment", "country"], key=lambda s: s.map(order) if s.name == "segment" else s)
    return frame[columns].reset_index(drop=True)



AUDIENCE_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "is_prime": "bool", "orders": "int64",
                    "revenue": "float64", "first_order_date": "datetime64[ns]", "last_order_date": "datetime64[ns]",
                    "recency_days": "int64"}


@memoized
def audience(engine: Engine, filters: Filters, scheme: str = "loyalty", label: str = "At-Risk") -> pd.DataFrame:
    """The audience list of a segment: the customers in view holding ``label`` of ``scheme`` (assigned on
    the scope), sorted by customer_id. Columns ``customer_id``, ``name``, ``country``, ``is_prime``,
    ``orders``, ``revenue``, ``first_order_date``, ``last_order_date``, ``recency_days``. Empty (same
    columns) when nobody holds the label, e.g. a label the segment focus excludes."""
    check_scheme(scheme)
    members = segment_members(engine, filters, scheme, label)
    frame = engine.execute(members.select(*AUDIENCE_COLUMNS).order_by("customer_id"))
    if frame.empty:
        return empty_frame(AUDIENCE_COLUMNS)
    for column in ("first_order_date", "last_order_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame.astype(AUDIENCE_COLUMNS).reset_index(drop=True)
