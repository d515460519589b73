"""Headline KPIs and their period-over-period deltas (DESIGN §3).

All are computed from the customer mart of the filter state, so they share one pass over the orders.
"""

from __future__ import annotations

import ibis
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.registry import KPI_MEASURES, MEASURES, Measure, change_rows, measure_values
from metrics.population import unlabelled_mart
from metrics.segments.labels import FREQUENCY_BANDS

#: Target line drawn on the repeat-rate gauge.
REPEAT_RATE_TARGET = 0.40

#: The KPI cards' measures (records of :mod:`metrics.measures.registry`), in card order.
KPI_SPECS: tuple[Measure, ...] = tuple(MEASURES[name] for name in KPI_MEASURES)
#: The KPIs read from the customer rows only (every card but the model's at-risk rate).
CUSTOMER_KPIS: tuple[str, ...] = tuple(name for name in KPI_MEASURES if MEASURES[name].kind != "model")


def customer_kpis(engine: Engine, filters: Filters) -> dict[str, float]:
    """The descriptive KPIs of one filter state (no model is fitted): every card measure but
    ``at_risk_rate``, by measure name (zeros for an empty selection). Cheap enough for emptiness checks
    (``customer_kpis(engine, filters)["orders"] == 0``)."""
    return measure_values(engine, filters, CUSTOMER_KPIS)


def kpis(engine: Engine, filters: Filters) -> dict[str, float]:
    """Every KPI card measure for one filter state (zeros for an empty selection): :func:`customer_kpis`
    plus the At-risk rate of the churn model of :mod:`metrics.models.churn` (fitted once per scope)."""
    return measure_values(engine, filters, KPI_MEASURES)


def kpi_summary(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row per KPI card: ``key``, ``label``, ``fmt``, ``value``, ``previous`` (the preceding range of
    equal length), ``delta``, ``delta_pct`` (None when the previous value is 0: no invented percentage),
    ``higher_is_better`` and ``definition``."""
    return change_rows(engine, filters, KPI_MEASURES)


def frequency_band_expr(orders: ibis.expr.types.IntegerValue) -> ibis.expr.types.StringValue:
    return ibis.cases((orders <= 1, "1"), (orders <= 3, "2-3"), (orders <= 5, "4-5"), else_="6+")


@memoized
def frequency_bands(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Customers by number of valid orders in the range: bands 1, 2–3, 4–5, 6+ (all bands, zeros kept),
    with their orders, revenue and share of customers."""
    t = unlabelled_mart(engine, filters)
    grouped = t.group_by(band=frequency_band_expr(t.orders)).aggregate(
        customers=t.count(), orders=t.orders.sum(), revenue=t.revenue.sum())
    frame = engine.execute(grouped)
    out = pd.DataFrame({"band": list(FREQUENCY_BANDS)}).merge(frame, on="band", how="left").fillna(0)
    out = out.astype({"customers": "int64", "orders": "int64", "revenue": "float64"})
    total = out.customers.sum()
    out["customer_share"] = out.customers / total if total else 0.0
    return out
