"""The customers a view counts: the scope's customers, labelled on the scope, narrowed to the focus.

This is the one place where a segment focus is applied. Metrics read their customers, orders and
engagement here, never from :mod:`metrics.selection` or :mod:`metrics.mart` directly, so no metric can
forget the focus or re-score the customers it selects:

1. The **scope** (date range, Prime choice, countries) gives the customer mart
   (:func:`metrics.mart.scope_mart`).
2. The mart is scored **on the scope's population** (RFM quintiles stored with the mart) and labelled
   for the schemes a query asks for (:func:`labelled_mart`): quintiles, tiers and the income × spending
   medians are those of the scope.
3. The **focus** (one label of one scheme) keeps the customers holding that label (:func:`customer_mart`);
   orders and engagement are those of these customers (:func:`orders_in_view`, :func:`engagement_in_view`).

With a focus, a by-segment table of the focused scheme lists that label only (:func:`shown_labels`),
with the customer count the scope's own segment summary gives it. The previous period of a focus
(:meth:`Filters.previous`) is the customers holding the label in the previous period's own scope.
Prospects (no valid order) hold no segment label, so a focus leaves none of them.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import scalar
from metrics.grains import month_index, month_index_expr
from metrics.mart import (
    ATTRIBUTE_COLUMNS,
    MONEY_DECIMALS,
    first_order_revenue,
    scope_mart,
    unscored_mart,
    with_attributes,
)
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rules import SCHEMES, check_scheme, segment_column, with_labels
from metrics.selection import history_scope, scope_customers, scope_engagement, scope_orders

#: Every segmentation scheme, in definition order (the labels a mart gets when none are named).
ALL_SCHEMES: tuple[str, ...] = tuple(SCHEMES)


@memoized(scope_only=True)
def income_spending_medians(engine: Engine, filters: Filters) -> dict[str, float]:
    """The medians of ``annual_income`` and ``spending_score`` over the scope's customers (a focus does not
    move them): they split the income × spending quadrants and draw the scatter's split lines. 0 for an
    empty selection."""
    mart = with_attributes(engine, scope_mart(engine, filters).select("customer_id"),
                           "annual_income", "spending_score")
    row = engine.execute(mart.aggregate(
        annual_income=mart.annual_income.median(), spending_score=mart.spending_score.median())).iloc[0]
    return {"annual_income": scalar(row.annual_income), "spending_score": scalar(row.spending_score)}


def labelled_mart(engine: Engine, filters: Filters, schemes: tuple[str, ...] | None = None) -> ir.Table:
    """The scope's mart (every scope customer; the focus plays no part) with a ``segment_<scheme>`` column
    for each of ``schemes`` (every scheme when None). The RFM scores are stored with the mart; labels are
    computed per query, so a query pays only for the schemes it reads."""
    schemes = ALL_SCHEMES if schemes is None else tuple(dict.fromkeys(schemes))
    t = scope_mart(engine, filters)
    medians = None
    if "income_spending" in schemes:
        t = with_attributes(engine, t, "annual_income", "spending_score")
        found = income_spending_medians(engine, filters)
        medians = (found["annual_income"], found["spending_score"])
    return with_labels(t, schemes, medians)


def _narrow(mart: ir.Table, filters: Filters) -> ir.Table:
    focus = filters.focus
    if focus is None:
        return mart
    return mart.filter(mart[segment_column(focus.scheme)] == ibis.literal(focus.label))


def customer_mart(engine: Engine, filters: Filters, schemes: tuple[str, ...] | None = None) -> ir.Table:
    """The labelled mart of the customers in view: the scope's customers holding the focus label (all of
    them without a focus). Columns of :func:`metrics.mart.scope_mart` (measures, RFM scores) plus one
    ``segment_<scheme>`` per scheme of ``schemes`` (every scheme when None) and the focus's scheme."""
    focus = filters.focus
    if schemes is not None and focus is not None:
        schemes = (*schemes, focus.scheme)
    return _narrow(labelled_mart(engine, filters, schemes), filters)


def unlabelled_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The customers in view without segment columns or RFM scores when there is no focus: the scope's
    :func:`metrics.mart.unscored_mart` (no scoring needed, e.g. for the previous period of a KPI card);
    with a focus the focus's customers of :func:`customer_mart` (scored, to hold the label)."""
    return unscored_mart(engine, filters) if filters.focus is None else customer_mart(engine, filters, ())


def customer_mart_frame(engine: Engine, filters: Filters, limit: int | None = None) -> pd.DataFrame:
    """:func:`customer_mart` with every label and customer attribute as pandas (for small selections,
    exports and tests), sorted by customer_id; ``limit`` caps the rows."""
    mart = with_attributes(engine, customer_mart(engine, filters), *ATTRIBUTE_COLUMNS).order_by("customer_id")
    return engine.execute(mart.limit(limit) if limit else mart)


def members(engine: Engine, filters: Filters) -> ir.Table | None:
    """``customer_id`` of the focus's customers, or None without a focus (everyone in scope counts)."""
    if filters.focus is None:
        return None
    return customer_mart(engine, filters, ()).select("customer_id")


def segment_members(engine: Engine, filters: Filters, scheme: str, label: str) -> ir.Table:
    """The customers in view holding ``label`` of ``scheme`` (an audience list), as :func:`customer_mart`
    rows; empty when the focus excludes that label."""
    check_scheme(scheme)
    mart = customer_mart(engine, filters, (scheme,))
    return mart.filter(mart[segment_column(scheme)] == ibis.literal(label))


def customer_segments(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """``customer_id`` and ``segment`` (their label of ``scheme``, assigned on the scope) for every
    customer in view."""
    check_scheme(scheme)
    t = customer_mart(engine, filters, (scheme,))
    return t.select("customer_id", segment=t[segment_column(scheme)])


def shown_labels(filters: Filters, scheme: str) -> tuple[str, ...]:
    """The labels of ``scheme`` a by-segment table lists: only the focus label when the focus is on that
    scheme (the others have no customers in view by definition), else every label in display order."""
    check_scheme(scheme)
    focus = filters.focus
    if focus is not None and focus.scheme == scheme:
        return (focus.label,)
    return SCHEME_LABELS[scheme]


def _only_members(table: ir.Table, engine: Engine, filters: Filters) -> ir.Table:
    ids = members(engine, filters)
    return table if ids is None else table.semi_join(ids, "customer_id")


def orders_in_view(engine: Engine, filters: Filters, *, valid_only: bool = True,
                   whole_history: bool = False) -> ir.Table:
    """Orders of the customers in view (:func:`metrics.selection.scope_orders` narrowed to the focus):
    ``valid_only`` drops returned and cancelled orders, ``whole_history`` keeps every order up to the
    as-of date instead of the range."""
    return _only_members(scope_orders(engine, filters, valid_only=valid_only, whole_history=whole_history),
                         engine, filters)


def _month_rows(orders: ir.Table) -> ir.Table:
    """One row per customer and month of ``orders`` (valid orders with ``order_date`` and ``is_prime``),
    built from one row per customer and purchase day (the columns of :func:`history_months`)."""
    days = orders.group_by(["customer_id", "order_date"]).aggregate(
        is_prime=orders.is_prime.arbitrary(), n=orders.count(), day_revenue=orders.net_revenue.sum(),
        first_revenue=first_order_revenue(orders), day_gross=orders.gross_amount.sum(),
        day_discount=orders.discount_amount.sum())
    per = days.group_by(customer_id=days.customer_id, mi=month_index_expr(days.order_date))
    return per.aggregate(
        is_prime=days.is_prime.arbitrary(), orders=days.n.sum(), days=days.count(),
        revenue=days.day_revenue.sum().round(MONEY_DECIMALS), revenue_raw=days.day_revenue.sum(),
        repeat_revenue=(days.day_revenue.sum() - days.first_revenue.argmin(days.order_date)).round(MONEY_DECIMALS),
        first_day_revenue=days.day_revenue.argmin(days.order_date),
        gross_raw=days.day_gross.sum(), discount_raw=days.day_discount.sum(),
        first_date=days.order_date.min(), last_date=days.order_date.max())


@memoized(scope_only=True)
def _months_of_data(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`_month_rows` of every valid order of the customer choices (once per choice: every end date
    reads it)."""
    return _month_rows(scope_orders(engine, filters, whole_history=True))


@memoized(scope_only=True)
def _as_of_month(engine: Engine, filters: Filters) -> ir.Table:
    """:func:`_month_rows` of the as-of month, its orders up to the as-of date only."""
    month = Filters(date(filters.end.year, filters.end.month, 1), filters.end, filters.prime, filters.countries)
    return _month_rows(scope_orders(engine, month))


def history_months(engine: Engine, filters: Filters) -> ir.Table:
    """One row per customer of the scope's customer choices and month with a valid order, over the whole
    history up to the as-of date (the range start plays no part; the focus neither): ``customer_id``,
    ``mi``, ``is_prime``, ``orders``, ``days`` (distinct purchase days), ``revenue`` (rounded to the cent)
    and ``revenue_raw`` (unrounded, for sums over months), ``repeat_revenue`` (after the month's first
    order), ``first_day_revenue`` (the revenue of the month's first purchase day), ``gross_raw`` and
    ``discount_raw`` (unrounded gross and discount sums, for the behaviour segments at each month end),
    ``first_date``, ``last_date``.

    The months before the as-of month are those of the whole data, computed once per customer choice and
    shared by every end date; the as-of month is the whole data's too when the as-of date ends it (or the
    data), else it is computed from that month's orders up to the as-of date."""
    lo, hi = engine.date_bounds()
    whole = _months_of_data(engine, Filters(lo, max(lo, hi), filters.prime, filters.countries))
    end_mi = month_index(filters.end)
    if filters.end >= hi or (filters.end + timedelta(days=1)).day == 1:
        return whole if filters.end >= hi else whole.filter(whole.mi <= ibis.literal(end_mi))
    return whole.filter(whole.mi < ibis.literal(end_mi)).union(_as_of_month(engine, filters))


def customer_months(engine: Engine, filters: Filters) -> ir.Table:
    """One row per customer in view and month with a valid order, over their whole history up to the as-of
    date: the columns of :func:`history_months` (computed once per customer choice, see there), shared
    by the monthly views (lifecycle, cohorts, monthly
    activity, monthly trends) and the models' whole histories, each of which used to scan the orders."""
    return _only_members(history_months(engine, history_scope(engine, filters)), engine, filters)


def people_in_view(engine: Engine, filters: Filters) -> ir.Table:
    """dim_customer rows in view: the scope's buyers and prospects, or only the focus's customers."""
    return _only_members(scope_customers(engine, filters), engine, filters)


def engagement_in_view(engine: Engine, filters: Filters) -> ir.Table:
    """Monthly engagement rows of the people in view for the months the date range touches."""
    return _only_members(scope_engagement(engine, filters), engine, filters)


__all__ = [
    "ALL_SCHEMES",
    "customer_mart",
    "customer_mart_frame",
    "customer_months",
    "customer_segments",
    "engagement_in_view",
    "income_spending_medians",
    "labelled_mart",
    "members",
    "orders_in_view",
    "people_in_view",
    "segment_members",
    "shown_labels",
    "unlabelled_mart",
]
