"""The customer mart of a scope: one narrow row per customer with at least one valid order in the range.

Everything a page shows about customers derives from it. It is computed once per scope (one pass over
the orders, materialised inside the engine, memoised) and holds **measures only**: the customer's orders
and money in the range, the dates that recency and tenure come from, the scope columns ``is_prime`` and
``country``, and the RFM scores of the scope (three rankings of four narrow columns). Everything else is
derived when a query asks for it:

- the cheap per-row columns (recency, tenure, discount share, "new", "active") by :func:`with_derived`,
  an expression over the stored row;
- segment labels, for the schemes a query asks for only (:mod:`metrics.population`);
- customer attributes (name, demographics, income) by :func:`with_attributes`, joined for the rows a
  view shows or groups by, never copied per scope.

It sees only the scope (:attr:`Filters.scope`): metrics read it labelled and narrowed to the segment focus
through :func:`metrics.population.customer_mart`.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.segments.rfm import rfm_scores, with_rfm_cells
from metrics.selection import range_orders, scope_buyer_facts

#: Customers whose last valid order is within this many days of the as-of date are "active".
ACTIVE_WINDOW_DAYS = 30
#: Money amounts are in currency units with cents.
MONEY_DECIMALS = 2

#: dim_customer attributes a view can join to mart rows (:func:`with_attributes`).
ATTRIBUTE_COLUMNS = (
    "name", "gender", "age", "age_group", "city", "signup_date", "annual_income", "spending_score",
    "preferred_category", "acquisition_channel",
)


def customer_mart_expr(engine: Engine, filters: Filters) -> ir.Table:
    """The stored columns of the mart as an (unmaterialised) Ibis expression, without RFM scores:

    - ``orders``: valid orders in the range; ``revenue``, ``gross_amount``, ``discount_amount``: sums
      over those orders; ``repeat_revenue``: the revenue of the orders after the customer's first in the
      range (sequenced by timestamp, then order_id); ``promo_orders``: orders using a promo
    - ``first_order_date``, ``last_order_date`` in the range; ``first_order_ever``: first valid order up
      to the as-of date regardless of the range start
    - ``is_prime``, ``country``: the scope columns of dim_customer
    """
    orders = range_orders(engine, filters)
    per_customer = orders.group_by("customer_id").aggregate(
        orders=orders.count(),
        # Money sums rounded to the cent: a float sum depends on the engine's summation order, and
        # customers whose revenue is "equal" must tie (M score, discount share) on every backend.
        revenue=orders.net_revenue.sum().round(MONEY_DECIMALS),
        gross_amount=orders.gross_amount.sum().round(MONEY_DECIMALS),
        discount_amount=orders.discount_amount.sum().round(MONEY_DECIMALS),
        repeat_revenue=repeat_revenue(orders),
        promo_orders=orders.promo_used.cast("int64").sum(),
        first_order_date=orders.order_date.min(),
        last_order_date=orders.order_date.max(),
    )
    # every mart customer has a valid order by the as-of date; the join adds the scope columns and keeps
    # the scope's customers only
    return per_customer.inner_join(scope_buyer_facts(engine, filters), "customer_id")


def repeat_revenue(orders: ir.Table) -> ir.FloatingValue:
    """An aggregate: the net revenue of a group's orders after its first one (sequenced by timestamp, then
    order_id), rounded to the cent. The first order is one ordered pick per group (no window over the
    orders); the money is cents, so total − first rounds to the same cent as the sum of the rest."""
    return (orders.net_revenue.sum() - first_order_revenue(orders)).round(MONEY_DECIMALS)


def first_order_revenue(orders: ir.Table) -> ir.FloatingValue:
    """An aggregate: the net revenue of a group's first order (by timestamp, then order_id)."""
    return orders.net_revenue.argmin(ibis.struct({"ts": orders.order_ts, "id": orders.order_id}))


def with_derived(mart: ir.Table, filters: Filters) -> ir.Table:
    """The stored mart with its per-row derived columns:

    - ``recency_days`` = as-of − last order; ``tenure_days`` = as-of − first order in the range;
      ``span_days`` = last − first order in the range
    - ``discount_share`` = discount / gross (0 when gross is 0)
    - ``is_new``: the first valid order ever falls in the range; ``active_30d``: last order within 30 days
      of the as-of date
    """
    as_of = ibis.literal(filters.as_of)
    recency = as_of.delta(mart.last_order_date, unit="day")
    return mart.mutate(
        discount_share=ibis.ifelse(mart.gross_amount > 0, mart.discount_amount / mart.gross_amount, 0.0),
        recency_days=recency,
        tenure_days=as_of.delta(mart.first_order_date, unit="day"),
        span_days=mart.last_order_date.delta(mart.first_order_date, unit="day"),
        is_new=mart.first_order_ever >= ibis.literal(filters.start),
        active_30d=recency < ACTIVE_WINDOW_DAYS,
    )


@memoized(scope_only=True)
def measured_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The materialised columns of :func:`customer_mart_expr` for the filters' scope, without scores
    (memoised per scope): what counts and sums read (the KPI cards of a range and of the range before it),
    and what the scores are ranked on."""
    return customer_mart_expr(engine, filters)


@memoized(scope_only=True)
def stored_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The materialised mart of the filters' scope: :func:`measured_mart` plus ``r_score``, ``f_score`` and
    ``m_score`` ranked on the scope (memoised per scope: the focus plays no part). The scores are ranked
    on a four-column projection of the measured mart."""
    base = measured_mart(engine, filters)
    return base.inner_join(rfm_scores(with_derived(base, filters)), "customer_id")


def scope_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The scope's mart with its derived columns and ``fm_score``, ``rfm_cell``: :func:`stored_mart` +
    :func:`with_derived`, computed per query from the stored row."""
    return with_rfm_cells(with_derived(stored_mart(engine, filters), filters))


def unscored_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The scope's mart with its derived columns but no RFM scores (:func:`measured_mart` +
    :func:`with_derived`): for views that count and sum customers without segmenting them, so the range
    before the selected one is never scored just for its KPI deltas."""
    return with_derived(measured_mart(engine, filters), filters)


def with_attributes(engine: Engine, table: ir.Table, *columns: str) -> ir.Table:
    """``table`` (with ``customer_id``) with the dim_customer ``columns`` joined on (a customer's name,
    demographics, income): for the rows a view shows or groups by, so no mart copies them."""
    unknown = set(columns) - set(ATTRIBUTE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown customer attribute(s) {', '.join(sorted(unknown))}")
    wanted = [c for c in columns if c not in table.columns]
    if not wanted:
        return table
    people = engine.customers.select("customer_id", *wanted)
    return table.inner_join(people, "customer_id")
