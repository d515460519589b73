"""The customers a view counts: the scope's customers, labelled on the scope, narrowed to the focus.

This is the one place where a segment focus is applied. Metrics read their customers, orders and
engagement here, never from :mod:`metrics.selection` or :mod:`metrics.mart` directly, so no metric can
forget the focus or re-score the customers it selects:

1. The **scope** (date range, Prime choice, countries) gives the customer mart
   (:func:`metrics.mart.scope_mart`).
2. The mart is scored and labelled with every scheme **on the scope's population**
   (:func:`labelled_mart`): RFM quintiles, tiers and income × spending medians are those of the scope.
3. The **focus** (one label of one scheme) keeps the customers holding that label (:func:`customer_mart`);
   orders and engagement are those of these customers (:func:`orders_in_view`, :func:`engagement_in_view`).

With a focus, a by-segment table of the focused scheme lists that label only (:func:`shown_labels`),
with the customer count the scope's own segment summary gives it. The previous period of a focus
(:meth:`Filters.previous`) is the customers holding the label in the previous period's own scope.
Prospects (no valid order) hold no segment label, so a focus leaves none of them.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.mart import scope_mart
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rules import check_scheme, label_customers, segment_column
from metrics.selection import scope_customers, scope_engagement, scope_orders


@memoized(scope_only=True)
def labelled_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The scope's mart with RFM scores and a ``segment_<scheme>`` column per scheme, every scope customer
    (the focus plays no part), materialised once per scope."""
    return label_customers(scope_mart(engine, filters))


def _narrow(mart: ir.Table, filters: Filters) -> ir.Table:
    focus = filters.focus
    if focus is None:
        return mart
    return mart.filter(mart[segment_column(focus.scheme)] == ibis.literal(focus.label))


def customer_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The labelled mart of the customers in view: the scope's customers holding the focus label (all of
    them without a focus). Columns of :func:`metrics.mart.customer_mart_expr` plus ``r_score``,
    ``f_score``, ``m_score``, ``fm_score``, ``rfm_cell`` and one ``segment_<scheme>`` per scheme."""
    return _narrow(labelled_mart(engine, filters), filters)


def unlabelled_mart(engine: Engine, filters: Filters) -> ir.Table:
    """The customers in view without the segment columns: the scope's mart itself when there is no focus
    (no scoring needed, e.g. for the previous period of a KPI card), else :func:`customer_mart`."""
    return scope_mart(engine, filters) if filters.focus is None else customer_mart(engine, filters)


def customer_mart_frame(engine: Engine, filters: Filters, limit: int | None = None) -> pd.DataFrame:
    """:func:`customer_mart` as pandas (for small selections, exports and tests), sorted by customer_id;
    ``limit`` caps the rows."""
    mart = customer_mart(engine, filters).order_by("customer_id")
    return engine.execute(mart.limit(limit) if limit else mart)


def members(engine: Engine, filters: Filters) -> ir.Table | None:
    """``customer_id`` of the focus's customers, or None without a focus (everyone in scope counts)."""
    if filters.focus is None:
        return None
    return customer_mart(engine, filters).select("customer_id")


def segment_members(engine: Engine, filters: Filters, scheme: str, label: str) -> ir.Table:
    """The customers in view holding ``label`` of ``scheme`` (an audience list), as :func:`customer_mart`
    rows; empty when the focus excludes that label."""
    check_scheme(scheme)
    mart = customer_mart(engine, filters)
    return mart.filter(mart[segment_column(scheme)] == ibis.literal(label))


def customer_segments(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """``customer_id`` and ``segment`` (their label of ``scheme``, assigned on the scope) for every
    customer in view."""
    check_scheme(scheme)
    t = customer_mart(engine, filters)
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


def people_in_view(engine: Engine, filters: Filters) -> ir.Table:
    """dim_customer rows in view: the scope's buyers and prospects, or only the focus's customers."""
    return _only_members(scope_customers(engine, filters), engine, filters)


def engagement_in_view(engine: Engine, filters: Filters) -> ir.Table:
    """Monthly engagement rows of the people in view for the months the date range touches."""
    return _only_members(scope_engagement(engine, filters), engine, filters)


__all__ = ["customer_mart", "customer_mart_frame", "customer_segments", "engagement_in_view", "labelled_mart",
           "members", "orders_in_view", "people_in_view", "segment_members", "shown_labels", "unlabelled_mart"]
