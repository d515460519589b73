"""New, repeat and potential customers of the selected range (the Loyalty page's panels).

The measures are records of :mod:`metrics.measures.registry` (definitions there, and in the glossary): new to brand
customers, repeat customers / orders / sales, repeat purchase rate, repeat sales %, potential new customers
and the average repeat purchase interval. Valid orders only: returned and same-day-cancelled orders never
count. Because the gaps between a customer's consecutive order dates add up to last − first order date,
the mean interval equals Σ(last − first) / Σ(orders − 1) over repeat customers (0 when nobody repeated).
"""

from __future__ import annotations

import pandas as pd

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.registry import MEASURES, Measure, change_rows, measure_values

#: The Loyalty page's new / repeat / potential panel, in card order.
REPEAT_MEASURES: tuple[str, ...] = ("customers", "new_customers", "repeat_customers", "repeat_purchase_rate",
                                    "repeat_orders", "repeat_sales", "repeat_sales_share", "potential_customers",
                                    "avg_repeat_interval_days")
REPEAT_METRICS: dict[str, Measure] = {name: MEASURES[name] for name in REPEAT_MEASURES}


def new_repeat_summary(engine: Engine, filters: Filters) -> dict[str, float]:
    """The values of :data:`REPEAT_MEASURES` plus ``orders`` and ``revenue`` for one filter state, as a
    dict of floats; all zeros for an empty selection."""
    return measure_values(engine, filters, (*REPEAT_MEASURES, "orders", "revenue"))


def new_repeat_summary_with_change(engine: Engine, filters: Filters) -> pd.DataFrame:
    """One row per measure of :data:`REPEAT_MEASURES` (in its order): ``key``, ``label``, ``fmt``, ``value``
    (this range), ``previous`` (the preceding range of equal length), ``delta`` = value − previous,
    ``delta_pct`` = delta / previous — **None** when the previous value is 0 (no invented percentage),
    ``higher_is_better`` and ``definition``."""
    return change_rows(engine, filters, REPEAT_MEASURES)
