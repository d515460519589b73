"""The customer mart of a scope: one row per customer with at least one valid order in the range.

Everything a page shows about customers derives from it, and it is computed once per scope
(materialised by the engine, memoised), so a filter change costs one pass over the orders. It sees only
the scope (:attr:`Filters.scope`): metrics read it labelled and narrowed to the segment focus through
:func:`metrics.population.customer_mart`.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.selection import first_valid_orders, scope_orders

#: Customers whose last valid order is within this many days of the as-of date are "active".
ACTIVE_WINDOW_DAYS = 30
#: Money amounts are in currency units with cents.
MONEY_DECIMALS = 2

DIMENSION_COLUMNS = (
    "name", "gender", "age", "age_group", "city", "signup_date", "annual_income", "spending_score",
    "preferred_category", "acquisition_channel",
)


def customer_mart_expr(engine: Engine, filters: Filters) -> ir.Table:
    """The mart as an (unmaterialised) Ibis expression. Column meanings:

    - ``orders``: valid orders in the range; ``order_days``: distinct days with a valid order
    - ``revenue``, ``gross_amount``, ``discount_amount``: sums over those orders; ``repeat_revenue``: the
      revenue of the orders after the customer's first in the range (sequenced by timestamp, order_id);
      ``discount_share`` = discount / gross (0 when gross is 0); ``promo_orders``: orders using a promo
    - ``first_order_date``, ``last_order_date`` in the range; ``first_order_ever``: first valid order up
      to the as-of date regardless of the range start; ``is_new``: that first order falls in the range
    - ``recency_days`` = as-of − last order; ``tenure_days`` = as-of − first order (BTYD's T);
      ``span_days`` = last − first order (BTYD's recency); ``frequency`` = order_days − 1 (repeat
      purchase days, BTYD's x); ``active_30d``: last order within 30 days of the as-of date
    - customer attributes from dim_customer (Prime, country, demographics, income, spending score)
    """
    as_of = ibis.literal(filters.as_of)
    orders = scope_orders(engine, filters)
    sequence = ibis.row_number().over(group_by=orders.customer_id, order_by=[orders.order_ts, orders.order_id])
    orders = orders.mutate(sequence=sequence)
    per_customer = orders.group_by("customer_id").aggregate(
        orders=orders.count(),
        order_days=orders.order_date.nunique(),
        # Money sums rounded to the cent: a float sum depends on the engine's summation order, and
        # customers whose revenue is "equal" must tie (M score, discount share) on every backend.
        revenue=orders.net_revenue.sum().round(MONEY_DECIMALS),
        gross_amount=orders.gross_amount.sum().round(MONEY_DECIMALS),
        discount_amount=orders.discount_amount.sum().round(MONEY_DECIMALS),
        repeat_revenue=ibis.ifelse(orders.sequence > 0, orders.net_revenue, 0.0).sum().round(MONEY_DECIMALS),
        promo_orders=orders.promo_used.cast("int64").sum(),
        first_order_date=orders.order_date.min(),
        last_order_date=orders.order_date.max(),
    )
    first_ever = first_valid_orders(engine)  # every mart customer has a valid order by the as-of date
    customers = engine.customers.select("customer_id", "is_prime", "country", *DIMENSION_COLUMNS)
    mart = per_customer.inner_join(first_ever, "customer_id").inner_join(customers, "customer_id")
    recency = as_of.delta(mart.last_order_date, unit="day")
    return mart.mutate(
        discount_share=ibis.ifelse(mart.gross_amount > 0, mart.discount_amount / mart.gross_amount, 0.0),
        recency_days=recency,
        tenure_days=as_of.delta(mart.first_order_date, unit="day"),
        span_days=mart.last_order_date.delta(mart.first_order_date, unit="day"),
        frequency=mart.order_days - 1,
        is_new=mart.first_order_ever >= ibis.literal(filters.start),
        active_30d=recency < ACTIVE_WINDOW_DAYS,
    ).order_by("customer_id")


@memoized(scope_only=True)
def scope_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The materialised mart of the filters' scope (memoised per scope: the focus plays no part)."""
    return customer_mart_expr(engine, filters)
