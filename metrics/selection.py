"""The single place where the *scope* of a :class:`~metrics.filters.Filters` value is applied to data.

The scope is the date range (both ends included), the Prime choice and the countries. These functions
read nothing else: a segment focus is applied on top of them, in :mod:`metrics.population`, which is
where metrics read their customers, orders and engagement from. Filter values enter the queries as Ibis
literals (bound values), never as SQL text.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters


def date_key(day: date) -> int:
    """yyyymmdd integer of a date, the key of dim_date."""
    return day.year * 10000 + day.month * 100 + day.day


def year_before(day: date) -> date:
    """The same calendar date one year earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def default_filters(engine: Engine) -> Filters:
    """The view a fresh visit opens: all customers over the **trailing 12 months** ending at the last
    order date of the data: ``end`` = the last order date, ``start`` = the day after the same date one
    year earlier (365 days, 366 across a 29 February), or the first order date when the data are shorter.
    Data ending on 31 December 2024 open on 1 January – 31 December 2024. It is the window of the CLV's
    "last 12 months" sales.

    Why not the whole data range: the whole range has no preceding period, so no KPI card could show a
    change on first open. The trailing year keeps the as-of date at the newest data (recency, churn risk
    and "active" mean "now"), covers a full seasonal cycle, and has a preceding year to compare with
    whenever the data reach back two years. (The last full calendar year would leave the newest months out
    whenever the data do not end on 31 December.)
    """
    return Filters(*default_range(*engine.date_bounds()))


def default_range(first: date, last: date) -> tuple[date, date]:
    """The date range of :func:`default_filters` for data whose orders run from ``first`` to ``last``
    (the trailing 12 months ending at ``last``, clipped to ``first``). Split out so the filter bar's
    "Last 12 months" period is this very range."""
    return max(first, year_before(last) + timedelta(days=1)), last


def history_scope(engine: Engine, filters: Filters) -> Filters:
    """The scope's customer choices over their **whole history up to the as-of date**: the range start
    moved back to the data's first order date (the focus and the model choice dropped). States with the
    same end and customer choices share it, and so share what is computed on it."""
    first = engine.date_bounds()[0]
    return Filters(min(first, filters.end), filters.end, filters.prime, filters.countries)


def _customer_predicate(customers: ir.Table, filters: Filters) -> list[ir.BooleanValue]:
    predicates: list[ir.BooleanValue] = []
    if filters.prime != "All":
        predicates.append(customers.is_prime == ibis.literal(filters.prime == "Prime"))
    if filters.countries:
        predicates.append(customers.country.isin([ibis.literal(c) for c in filters.countries]))
    return predicates


def scope_customers(engine: Engine, filters: Filters) -> ir.Table:
    """dim_customer rows of the scope's Prime choice and countries (buyers and prospects)."""
    c = engine.customers
    predicates = _customer_predicate(c, filters)
    return c.filter(*predicates) if predicates else c


def valid_order(orders: ir.Table) -> ir.BooleanValue:
    """A valid order (the sales definition of DESIGN §3): neither returned nor cancelled the same day."""
    return ~orders.is_returned & ~orders.is_cancelled


def scope_orders(engine: Engine, filters: Filters, *, valid_only: bool = True,
                 whole_history: bool = False) -> ir.Table:
    """Orders of the scope's customers in the date range, with ``order_date``, ``is_prime``, ``country``.

    ``valid_only`` drops returned and same-day-cancelled orders (the sales definition of DESIGN §3).
    ``whole_history`` keeps every order up to the as-of date instead of the range (for "first order
    ever" questions such as new customers).
    """
    o = engine.orders
    lo = ibis.literal(date_key(filters.start))
    hi = ibis.literal(date_key(filters.end))
    predicates = [o.date_key <= hi] if whole_history else [o.date_key.between(lo, hi)]
    if valid_only:
        predicates.append(valid_order(o))
    orders = o.filter(*predicates)
    c = engine.customers
    customer_predicates = _customer_predicate(c, filters)
    customers = (c.filter(*customer_predicates) if customer_predicates else c).select(
        "customer_id", "is_prime", "country")
    orders = orders.inner_join(customers, "customer_id")
    return orders.mutate(order_date=orders.order_ts.date())


@memoized
def first_valid_orders(engine: Engine) -> ir.Table:
    """``customer_id``, ``first_order_ever``: the date of every customer's first valid order in the data.

    It is the same for every filter state, so it is computed once per engine instead of scanning the
    whole order history for each state. For a customer with a valid order on or before a state's as-of
    date, this first order is on or before that date too, so it *is* their first order "up to the as-of
    date"; customers without such an order are excluded by the callers' own conditions.
    """

    o = engine.orders
    valid = o.filter(valid_order(o))
    return valid.group_by("customer_id").aggregate(first_order_ever=valid.order_ts.min().date())


@memoized
def buyer_facts(engine: Engine) -> ir.Table:
    """``customer_id``, ``first_order_ever``, ``is_prime``, ``country`` of every customer with a valid
    order in the data: :func:`first_valid_orders` with the scope columns of dim_customer, once per engine,
    so a scope's mart joins one narrow table per customer instead of joining dim_customer to every order."""
    people = engine.customers.select("customer_id", "is_prime", "country")
    return first_valid_orders(engine).inner_join(people, "customer_id")


def scope_buyer_facts(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`buyer_facts` of the scope's Prime choice and countries."""
    facts = buyer_facts(engine)
    predicates = _customer_predicate(facts, filters)
    return facts.filter(*predicates) if predicates else facts


def range_orders(engine: Engine, filters: Filters) -> ir.Table:
    """Valid orders in the date range of the scope's customers, with ``order_date`` and no customer
    columns: a semi-join on dim_customer only when the scope picks customers (Prime choice, countries)."""
    o = engine.orders
    orders = o.filter(o.date_key.between(ibis.literal(date_key(filters.start)), ibis.literal(date_key(filters.end))),
                      valid_order(o))
    if _customer_predicate(engine.customers, filters):
        orders = orders.semi_join(scope_customers(engine, filters).select("customer_id"), "customer_id")
    return orders.mutate(order_date=orders.order_ts.date())


def buyer_ids(engine: Engine, filters: Filters) -> ir.Table:
    """``customer_id`` of the scope's customers with a valid order on or before the as-of date."""
    first = first_valid_orders(engine)
    buyers = first.filter(first.first_order_ever <= ibis.literal(filters.as_of))
    selected = scope_customers(engine, filters).select("customer_id")
    return selected.semi_join(buyers, "customer_id")


def scope_engagement(engine: Engine, filters: Filters) -> ir.Table:
    """Monthly engagement rows of the scope's customers for the months the date range touches."""
    e = engine.engagement
    first_month = date(filters.start.year, filters.start.month, 1)
    rows = e.filter(e.month.between(ibis.literal(first_month), ibis.literal(filters.end)))
    return rows.semi_join(scope_customers(engine, filters).select("customer_id"), "customer_id")
