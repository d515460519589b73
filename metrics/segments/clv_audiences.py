"""Audiences that combine a segment with its CLV class, e.g. **Declining Top Tier**: the Top Tier customers
whose predicted sales of the next 12 months fall more than 10 % short of their last 12 months.

Its own module because it joins two layers (segment labels and the CLV model) that do not import each
other. The tier is the customer's label of the scheme on the scope (:mod:`metrics.population`); the CLV
class is :func:`metrics.models.clv.customer_clv`'s (Growing / Maintaining / Declining); how many
customers each combination holds is :func:`metrics.models.clv.clv_by_segment`.
"""

from __future__ import annotations

import ibis
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame
from metrics.mart import with_attributes
from metrics.models.clv import CLV_CLASSES, customer_clv
from metrics.population import customer_mart
from metrics.segments.rules import check_scheme, segment_column

CLV_AUDIENCE_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "orders": "int64",
                        "revenue": "float64", "recency_days": "int64", "last_12m_sales": "float64",
                        "predicted_next_12m_sales": "float64", "expected_change": "float64",
                        "predicted_clv": "float64", "churn_risk": "float64"}


def audience_title(label: str, clv_class: str) -> str:
    """The audience's name in words: the CLV class, then the label ("Declining Top Tier")."""
    return f"{clv_class} {label}"


@memoized
def segment_clv_audience(engine: Engine, filters: Filters, scheme: str = "loyalty", label: str = "Top Tier",
                         clv_class: str = "Declining", limit: int | None = None) -> pd.DataFrame:
    """The customers in view holding ``label`` of ``scheme`` and CLV class ``clv_class``: ``customer_id``,
    ``name``, ``country``, ``orders``, ``revenue`` and ``recency_days`` (in the range),
    ``last_12m_sales``, ``predicted_next_12m_sales``, ``expected_change`` (predicted next 12 months − last
    12 months), ``predicted_clv`` and ``churn_risk``. Sorted by ``expected_change`` (the largest expected
    fall first; ties by customer_id); at most ``limit`` rows (None: all), ``attrs["total_rows"]`` says how
    many qualify. Empty when the CLV model cannot be fitted or nobody holds the combination."""
    check_scheme(scheme)
    if clv_class not in CLV_CLASSES:
        raise ValueError(f"unknown CLV class {clv_class!r}; choose from {', '.join(CLV_CLASSES)}")
    clv = customer_clv(engine, filters)
    mart = customer_mart(engine, filters, (scheme,))
    mart = mart.filter(mart[segment_column(scheme)] == ibis.literal(label))
    t = clv.filter(clv.clv_class == ibis.literal(clv_class)).select(
        "customer_id", "last_12m_sales", "predicted_next_12m_sales", "predicted_clv", "churn_risk",
        expected_change=clv.predicted_next_12m_sales - clv.last_12m_sales)
    t = t.inner_join(mart.select("customer_id", "country", "orders", "revenue", "recency_days"), "customer_id")
    order = [t.expected_change, t.customer_id]
    shown = t.order_by(order).limit(None if limit is None else max(int(limit), 0))
    frame = engine.execute(with_attributes(engine, shown, "name").select(*CLV_AUDIENCE_COLUMNS)
                           .order_by(["expected_change", "customer_id"]))
    frame = empty_frame(CLV_AUDIENCE_COLUMNS) if frame.empty else frame.astype(CLV_AUDIENCE_COLUMNS)
    frame = frame.reset_index(drop=True)
    frame.attrs["total_rows"] = len(frame) if limit is None or len(frame) < int(limit) else int(
        engine.execute(t.count()))
    return frame


__all__ = ["CLV_AUDIENCE_COLUMNS", "audience_title", "segment_clv_audience"]
