"""Who the customers are: sales by demographic attribute, and the income × spending-score map.

Customers are those of the customer mart (≥ 1 valid order in the selected range); their attributes come
from dim_customer.
"""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio
from metrics.mart import with_attributes
from metrics.measures.registry import measure_frame
from metrics.population import customer_segments, unlabelled_mart
from metrics.population import income_spending_medians as income_spending_medians  # the scatter's split lines
from metrics.schema import ACQUISITION_CHANNELS, AGE_GROUPS, CATEGORIES, GENDERS

#: dimension -> its values in display order (None: countries, ordered by customers).
DIMENSIONS: dict[str, tuple[str, ...] | None] = {
    "gender": GENDERS,
    "age_group": AGE_GROUPS,
    "preferred_category": CATEGORIES,
    "country": None,
    "acquisition_channel": ACQUISITION_CHANNELS,
}

DIMENSION_TITLES: dict[str, str] = {
    "gender": "Gender", "age_group": "Age group", "preferred_category": "Preferred category",
    "country": "Country", "acquisition_channel": "Acquisition channel",
}

#: Constants of the sampling hash: a prime modulus (2^31 - 1), Knuth's multiplier and the MINSTD one.
_HASH_PRIME = 2_147_483_647
_HASH_MULTIPLIER = 2_654_435_761
_HASH_MINSTD = 48_271

def _check_dimension(dimension: str) -> None:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")

@memoized
def demographics(engine: Engine, filters: Filters, dimension: str = "gender") -> pd.DataFrame:
    """Customers, orders, revenue per value of a customer attribute (``dimension`` in
    :data:`DIMENSIONS`), with ``aov`` = revenue / orders, ``ltv`` (revenue per customer), ``share`` = the
    value's share of customers and ``revenue_share``.

    The first column is named after the dimension. Known values (the data contract's lists; for
    ``country`` the selected countries, or all countries of the data) are always present, zeros for values
    nobody has, in the contract's order (countries: most customers first, then by name); values outside the
    lists (imported data) follow, sorted.
    """
    _check_dimension(dimension)
    frame = measure_frame(engine, filters, ("customers", "orders", "revenue", "aov", "ltv"), by=dimension)
    frame[dimension] = frame[dimension].astype("str")
    known = DIMENSIONS[dimension]
    if known is None:
        known = filters.countries or tuple(engine.countries())
    extra = sorted(set(frame[dimension]) - set(known))
    out = pd.DataFrame({dimension: pd.Series([*known, *extra], dtype="str")}).merge(
        frame, on=dimension, how="left")
    out[["customers", "orders"]] = out[["customers", "orders"]].fillna(0).astype("int64")
    out[["revenue", "aov", "ltv"]] = out[["revenue", "aov", "ltv"]].fillna(0.0).astype("float64")
    if dimension == "country":
        out = out.sort_values(["customers", dimension], ascending=[False, True], kind="stable")
    out["share"] = ratio(out.customers, out.customers.sum())
    out["revenue_share"] = ratio(out.revenue, out.revenue.sum())
    return out.reset_index(drop=True)[
        [dimension, "customers", "orders", "revenue", "aov", "ltv", "share", "revenue_share"]]

#: The per-quadrant measures of :func:`quadrant_summary`, registry names in table order.
QUADRANT_MEASURES: tuple[str, ...] = ("customers", "avg_annual_income", "avg_spending_score", "revenue", "ltv")
#: The income and spending KPIs shown next to the quadrants.
INCOME_KPIS: tuple[str, ...] = ("avg_annual_income", "avg_spending_score")


@memoized
def quadrant_summary(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Per income × spending quadrant (VIP, Underperformers, Potential Growers, At Risk; split at the
    scope's medians, :func:`income_spending_medians`): ``customers``, ``customer_share``, the quadrant's
    ``avg_annual_income`` and ``avg_spending_score``, ``revenue`` in the range and ``ltv`` (revenue per
    customer) — measures of :mod:`metrics.measures.registry`."""
    frame = measure_frame(engine, filters, QUADRANT_MEASURES, scheme="income_spending")
    frame = frame.astype({"customers": "int64", "segment": "str"})
    frame["customer_share"] = ratio(frame.customers, frame.customers.sum())
    return frame[["segment", "customers", "customer_share", *QUADRANT_MEASURES[1:]]].reset_index(drop=True)


def sample_key(customer_id: ir.IntegerValue, seed: int = 0) -> ir.IntegerValue:
    """A deterministic pseudo-random integer per customer for sampling in the engine: a multiplicative
    step, a square and an MINSTD step modulo the prime 2^31 − 1 (integer arithmetic only, so every
    backend gives the same order). The id is reduced modulo the prime first, which gives the same key and
    keeps intermediate values below 2^63 for any int64 id (imported ids reach 2^53)."""
    x = ((customer_id % _HASH_PRIME) * _HASH_MULTIPLIER + (int(seed) % 10_007) * 104_729) % _HASH_PRIME
    y = (x * x) % _HASH_PRIME
    return (y * _HASH_MINSTD + int(seed) % _HASH_PRIME) % _HASH_PRIME


@memoized
def income_spending_points(engine: Engine, filters: Filters, sample: int = 5000, seed: int = 0) -> pd.DataFrame:
    """One point per customer for the income × spending-score scatter: ``customer_id``,
    ``annual_income``, ``spending_score``, ``revenue`` (in the range) and ``segment`` (the income ×
    spending quadrant, computed on the range's customers before any segment filter).

    With more than ``sample`` customers, a deterministic sample of ``sample`` of them is drawn in the
    engine: customers are ordered by :func:`sample_key` of (customer_id, seed) and the first ones
    kept, so the same filters and seed always give the same points and no full customer list is pulled.
    Rows are sorted by customer_id.
    """
    columns = {"customer_id": "int64", "annual_income": "float64", "spending_score": "int64",
               "revenue": "float64", "segment": "str"}
    mart = with_attributes(engine, unlabelled_mart(engine, filters).select("customer_id", "revenue"),
                           "annual_income", "spending_score")
    labels = customer_segments(engine, filters, "income_spending")
    points = mart.inner_join(labels, "customer_id")
    key = sample_key(points.customer_id, seed)
    chosen = points.order_by([key, points.customer_id]).limit(max(int(sample), 0))
    frame = engine.execute(chosen.select(*columns))
    if frame.empty:
        return empty_frame(columns)
    frame = frame.astype(columns).sort_values("customer_id").reset_index(drop=True)
    return frame
