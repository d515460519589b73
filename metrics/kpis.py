"""Headline KPIs and their period-over-period deltas (DESIGN §3).

All are computed from the customer mart of the filter state, so they share one pass over the orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from metrics.cache import memoized
from metrics.churn import at_risk_rate
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import relative_change, safe_div, scalar
from metrics.labels import FREQUENCY_BANDS
from metrics.population import customer_mart

#: Target line drawn on the repeat-rate gauge.
REPEAT_RATE_TARGET = 0.40


@dataclass(frozen=True)
class KpiSpec:
    key: str
    label: str
    fmt: str  # "int", "money", "pct"
    higher_is_better: bool = True
    definition: str = ""


KPI_SPECS: tuple[KpiSpec, ...] = (
    KpiSpec("total_customers", "Total Customers", "int", True,
            "Distinct customers with at least one valid order in the range."),
    KpiSpec("total_orders", "Total Orders", "int", True,
            "Valid orders in the range (returned and same-day-cancelled orders excluded)."),
    KpiSpec("revenue", "Revenue", "money", True, "Sum of net revenue of valid orders."),
    KpiSpec("aov", "Average Order Value", "money", True, "Revenue / Total Orders."),
    KpiSpec("ltv", "Historical LTV", "money", True, "Revenue / Total Customers in the range."),
    KpiSpec("repeat_purchase_rate", "Repeat Purchase Rate", "pct", True,
            "Customers with 2 or more valid orders / Total Customers (target 40 %)."),
    KpiSpec("prime_share", "Prime %", "pct", True, "Prime customers / Total Customers."),
    KpiSpec("active_rate_30d", "Active rate (30 d)", "pct", True,
            "Customers with a valid order in the 30 days ending at the as-of date / Total Customers."),
    KpiSpec("new_customers", "New customers", "int", True,
            "Customers whose first valid order ever falls in the range."),
    KpiSpec("at_risk_rate", "At-risk rate", "pct", False,
            "Customers with churn risk ≥ 0.7 (1 − P(alive) from the BG/NBD model fitted on the range) / "
            "Total Customers; one-time buyers have churn risk 0 in this model."),
)


@memoized
def customer_kpis(engine: Engine, filters: Filters) -> dict[str, float]:
    """The descriptive KPIs of one filter state, read from the customer mart only (no model is fitted):
    every key of :data:`KPI_SPECS` except ``at_risk_rate`` (zeros for an empty selection). Cheap enough
    for emptiness checks (``customer_kpis(engine, filters)["total_orders"] == 0``)."""
    t = customer_mart(engine, filters)
    row = engine.execute(t.aggregate(
        total_customers=t.count(),
        total_orders=t.orders.sum(),
        revenue=t.revenue.sum(),
        repeat_customers=(t.orders >= 2).cast("int64").sum(),
        prime_customers=t.is_prime.cast("int64").sum(),
        active_customers=t.active_30d.cast("int64").sum(),
        new_customers=t.is_new.cast("int64").sum(),
    )).iloc[0]
    customers, orders, revenue = scalar(row.total_customers), scalar(row.total_orders), scalar(row.revenue)
    return {
        "total_customers": customers,
        "total_orders": orders,
        "revenue": revenue,
        "aov": safe_div(revenue, orders),
        "ltv": safe_div(revenue, customers),
        "repeat_purchase_rate": safe_div(scalar(row.repeat_customers), customers),
        "prime_share": safe_div(scalar(row.prime_customers), customers),
        "active_rate_30d": safe_div(scalar(row.active_customers), customers),
        "new_customers": scalar(row.new_customers),
    }


@memoized
def kpis(engine: Engine, filters: Filters) -> dict[str, float]:
    """Every KPI of :data:`KPI_SPECS` for one filter state (zeros for an empty selection):
    :func:`customer_kpis` plus the At-risk rate, which comes from the churn model of
    :mod:`metrics.churn` (fitted once per filter state)."""
    return {**customer_kpis(engine, filters), "at_risk_rate": at_risk_rate(engine, filters)}


def kpi_summary(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row per KPI: value, value in the preceding range of equal length, delta and delta %.

    ``delta_pct`` is None when the previous value is 0 (no prior data: a percentage would be invented).
    """
    current, previous = kpis(engine, filters), kpis(engine, filters.previous())
    rows = []
    for spec in KPI_SPECS:
        value, before = current[spec.key], previous[spec.key]
        rows.append({
            "key": spec.key, "label": spec.label, "fmt": spec.fmt, "value": value, "previous": before,
            "delta": value - before, "delta_pct": relative_change(value, before),
            "higher_is_better": spec.higher_is_better, "definition": spec.definition,
        })
    return pd.DataFrame(rows)


def frequency_band_expr(orders: ibis.expr.types.IntegerValue) -> ibis.expr.types.StringValue:
    return ibis.cases((orders <= 1, "1"), (orders <= 3, "2-3"), (orders <= 5, "4-5"), else_="6+")


@memoized
def frequency_bands(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Customers by number of valid orders in the range: bands 1, 2–3, 4–5, 6+ (all bands, zeros kept),
    with their orders, revenue and share of customers."""
    t = customer_mart(engine, filters)
    grouped = t.group_by(band=frequency_band_expr(t.orders)).aggregate(
        customers=t.count(), orders=t.orders.sum(), revenue=t.revenue.sum())
    frame = engine.execute(grouped)
    out = pd.DataFrame({"band": list(FREQUENCY_BANDS)}).merge(frame, on="band", how="left").fillna(0)
    out = out.astype({"customers": "int64", "orders": "int64", "revenue": "float64"})
    total = out.customers.sum()
    out["customer_share"] = out.customers / total if total else 0.0
    return out
