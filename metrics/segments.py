"""Segmentation schemes: each turns the scored customer mart into one label per customer.

The rules, in business words (the same text is shown in the in-app glossary):

**loyalty** (RFM tiers), checked in this order
  - Top Tier: recent and among the highest spenders (R ≥ 4 and M ≥ 4)
  - Promising: recent enough, occasional, above-average spend (R ≥ 3, F ≤ 3, M ≥ 3)
  - Hibernating: long gone and infrequent (R ≤ 2 and F ≤ 2)
  - At-Risk: everyone else — spent or bought often but not recently, or recent but low value

**rfm** (classic map on R × FM, FM = mean of F and M rounded down)

  ====  ==============  ==================  ==================  ===============  ===============
  R\\FM  1               2                   3                   4                5
  ====  ==============  ==================  ==================  ===============  ===============
  5     New             Potential Loyalist  Potential Loyalist  Champions        Champions
  4     Promising       Potential Loyalist  Potential Loyalist  Loyal            Champions
  3     About to Sleep  About to Sleep      Need Attention      Loyal            Loyal
  2     Hibernating     Hibernating         At Risk             At Risk          Can't Lose Them
  1     Lost            Lost                At Risk             Can't Lose Them  Can't Lose Them
  ====  ==============  ==================  ==================  ===============  ===============

**behaviour**, checked in this order
  - At-Risk / Dormant: no valid order in the last 180 days before the as-of date
  - Discount-Driven: at least 20 % of their gross spend was discounted
  - High-Value Active: everyone else (active, mostly full-price buyers)

**income_spending**: quadrants split at the medians of the selected customers' annual income and
spending score (a value equal to the median counts as high)
  - VIP: high income, high score · Underperformers: high income, low score
  - Potential Growers: low income, high score · At Risk: low income, low score

**prime**: Prime or Non-Prime membership.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, relative_change
from metrics.labels import SCHEME_LABELS
from metrics.mart import customer_mart
from metrics.rfm import add_rfm_scores

DORMANT_DAYS = 180
DISCOUNT_DRIVEN_SHARE = 0.20

RFM_MAP: dict[int, tuple[str, str, str, str, str]] = {  # R -> label for FM = 1..5
    5: ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Champions"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "Can't Lose Them", "Can't Lose Them"),
}


def prime_label(t: ir.Table) -> ir.StringValue:
    return ibis.ifelse(t.is_prime, "Prime", "Non-Prime")


def loyalty_label(t: ir.Table) -> ir.StringValue:
    return ibis.cases(
        ((t.r_score >= 4) & (t.m_score >= 4), "Top Tier"),
        ((t.r_score >= 3) & (t.f_score <= 3) & (t.m_score >= 3), "Promising"),
        ((t.r_score <= 2) & (t.f_score <= 2), "Hibernating"),
        else_="At-Risk",
    )


def rfm_label(t: ir.Table) -> ir.StringValue:
    cell = t.r_score * 10 + t.fm_score
    branches = [(cell == r * 10 + fm, label) for r, row in RFM_MAP.items() for fm, label in enumerate(row, 1)]
    return ibis.cases(*branches, else_="Lost")


def behaviour_label(t: ir.Table) -> ir.StringValue:
    return ibis.cases(
        (t.recency_days > DORMANT_DAYS, "At-Risk / Dormant"),
        (t.discount_share >= DISCOUNT_DRIVEN_SHARE, "Discount-Driven"),
        else_="High-Value Active",
    )


def income_spending_label(t: ir.Table) -> ir.StringValue:
    high_income = t.annual_income >= t.annual_income.median()
    high_score = t.spending_score >= t.spending_score.median()
    return ibis.cases(
        (high_income & high_score, "VIP"),
        (high_income, "Underperformers"),
        (high_score, "Potential Growers"),
        else_="At Risk",
    )


SCHEMES: dict[str, Callable[[ir.Table], ir.StringValue]] = {
    "prime": prime_label,
    "loyalty": loyalty_label,
    "rfm": rfm_label,
    "behaviour": behaviour_label,
    "income_spending": income_spending_label,
}
assert set(SCHEMES) == set(SCHEME_LABELS), "every scheme needs a rule and a label list"


def segment_column(scheme: str) -> str:
    return f"segment_{scheme}"


def label_customers(mart: ir.Table) -> ir.Table:
    """The mart with RFM scores and one ``segment_<scheme>`` column per scheme."""
    scored = add_rfm_scores(mart)
    return scored.mutate(**{segment_column(name): rule(scored) for name, rule in SCHEMES.items()})


def segmented_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The materialised, scored and labelled mart of a filter state (memoised)."""
    return engine.memo(("segmented_mart", filters),
                       lambda: engine.materialize(label_customers(customer_mart(engine, filters))))


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown segment scheme {scheme!r}; choose from {', '.join(SCHEMES)}")


def customer_segments(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """``customer_id`` and ``segment`` (the scheme's label) for every customer of the mart."""
    check_scheme(scheme)
    t = segmented_mart(engine, filters)
    return t.select("customer_id", segment=t[segment_column(scheme)])


def _all_labels(frame: pd.DataFrame, scheme: str, zero_columns: list[str]) -> pd.DataFrame:
    """Every label of the scheme in display order, zeros for labels nobody has."""
    labels = pd.DataFrame({"segment": list(SCHEME_LABELS[scheme])})
    out = labels.merge(frame, on="segment", how="left")
    out[zero_columns] = out[zero_columns].fillna(0)
    return out


@memoized
def segment_summary(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per segment: customers, share of customers, orders, revenue, share of revenue, AOV, revenue per
    customer, repeat purchase rate (share with ≥ 2 orders), mean recency in days."""
    check_scheme(scheme)
    t = segmented_mart(engine, filters)
    seg = t[segment_column(scheme)]
    grouped = t.group_by(segment=seg).aggregate(
        customers=t.count(),
        orders=t.orders.sum(),
        revenue=t.revenue.sum(),
        repeat_customers=(t.orders >= 2).cast("int64").sum(),
        avg_recency_days=t.recency_days.mean(),
    )
    frame = engine.execute(grouped)
    out = _all_labels(frame, scheme, ["customers", "orders", "revenue", "repeat_customers"])
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

    Each period is segmented on its own (scores relative to that period's customers, as-of its own end),
    so a customer can move between tiers from one period to the next."""
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
    t = segmented_mart(engine, filters)
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
    order = {label: i for i, label in enumerate(SCHEME_LABELS[scheme])}
    frame = frame.sort_values(["segment", "country"], key=lambda s: s.map(order) if s.name == "segment" else s)
    return frame[columns].reset_index(drop=True)

