"""Segment membership at month ends: every scheme's label as the dashboard would give it with the range
moved to end that month.

**Rule.** For each labelled month end m (below), a customer's label of a scheme is assigned exactly as on
the scope (:mod:`metrics.segments.rules`), but on the **window of the N whole months ending with m**
(N = the months the range touches) and as of m's end (the as-of date for the range's last month): the
population is every customer of the Prime and country choices with a valid order in the window; R, F and
M are ranked among them (recency to m's end, orders and revenue in the window); "dormant" means no valid
order in the 180 days before m's end; the income × spending quadrants split at that population's
medians. A customer with no valid order in the window holds no label that month. For a range that starts
on a month's first day, the last month's labels are the scope's own labels.

**Which month ends.** Every month the range touches, up to :data:`MAX_MONTH_ENDS` (24) months. A longer
range is labelled at the ends of its quarters (of its half-years, or years, when that is still more than 24
month ends) and at the range's last month; a month in between takes the label of the next labelled month
end (e.g. February and March 2022 that of March 2022). The charts say when this happens.

A segment focus keeps the customers it keeps everywhere (the scope's own members of the focus label);
this view then follows those customers through their labels month by month, so with a focus on the
same scheme it can show other labels too.

**How it scales.** Read from the shared customer-month table (:func:`metrics.population.history_months`):
running totals per customer (one window, in month order) give every window's sums as the total at the
window's last month minus the total before its first, so each customer and labelled month end is one row,
made once (never one row per month of the window), and the rows processed are at most 24 × the customers.
They are ranked per month end and materialised once per scope for all schemes; no pass over the orders.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import ratio
from metrics.grains import as_timestamps, month_from_index, month_index
from metrics.mart import MONEY_DECIMALS, with_attributes
from metrics.population import history_months, members
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rfm import with_rfm_cells
from metrics.segments.rules import check_scheme, income_spending_label, segment_column, with_labels
from metrics.selection import history_scope

#: The most month ends one range is labelled at (a longer range is labelled at coarser period ends).
MAX_MONTH_ENDS = 24
#: The spacings tried for the labelled month ends, in months, finest first (then 24, 36, … for very long ranges).
LABEL_STEPS: tuple[int, ...] = (1, 3, 6, 12)
_STEP_NAMES = {1: "month", 3: "quarter", 6: "half-year", 12: "year"}


def window_months(filters: Filters) -> int:
    """N: how many months the range touches (the length of each month end's scoring window)."""
    return month_index(filters.end) - month_index(filters.start) + 1


def _labelled_indices(filters: Filters, step: int) -> list[int]:
    """Month indices of the range whose month ends a ``step``-month calendar period (December for a year,
    June and December for a half-year), plus the range's last month."""
    first, last = month_index(filters.start), month_index(filters.end)
    return [mi for mi in range(first, last + 1) if (mi + 1) % step == 0 or mi == last]


def label_step(filters: Filters) -> int:
    """The spacing of the labelled month ends in months: 1 (every month) for a range of at most
    :data:`MAX_MONTH_ENDS` months, else the finest of :data:`LABEL_STEPS` (then whole multiples of two
    years) that keeps at most that many month ends."""
    steps = itertools.chain(LABEL_STEPS, itertools.count(2 * LABEL_STEPS[-1], LABEL_STEPS[-1]))
    return next(s for s in steps if len(_labelled_indices(filters, s)) <= MAX_MONTH_ENDS)


def label_period_name(filters: Filters) -> str:
    """The period whose end gives the labels, in words: "month", "quarter", "half-year", "year" or "24 months"."""
    step = label_step(filters)
    return _STEP_NAMES.get(step, f"{step} months")


def label_note(filters: Filters) -> str:
    """A chart's note when the range is labelled at coarser ends than every month (e.g. "Segments held at
    each quarter end: ranges over 24 months are labelled quarterly"); empty otherwise."""
    if label_step(filters) == 1:
        return ""
    period = label_period_name(filters)
    return f"Segments held at each {period} end (ranges over {MAX_MONTH_ENDS} months are not labelled monthly)"


def label_month_expr(mi: ir.IntegerValue, filters: Filters) -> ir.IntegerValue:
    """The labelled month end whose label a month (index ``mi``, within the range) takes: the month itself
    when every month is labelled, else the next month that ends a period of :func:`label_step` months, or the
    range's last month."""
    step = label_step(filters)
    labelled = mi if step == 1 else mi + (step - 1 - mi % step)
    return ibis.least(labelled, ibis.literal(month_index(filters.end)))


def month_ends(filters: Filters) -> pd.DataFrame:
    """``mi`` (month index) and ``month_end`` (the month's last day, or the as-of date in the range's last
    month) of every labelled month end of the range (see the module docstring), in order."""
    rows = []
    for mi in _labelled_indices(filters, label_step(filters)):
        first = month_from_index(mi)
        last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        rows.append({"mi": mi, "month_end": min(last, filters.end)})
    return pd.DataFrame(rows).astype({"mi": "int64"})


@memoized(scope_only=True)
def monthly_scores(engine: Engine, filters: Filters) -> ir.Table:
    """Per labelled month end of the range (``mi``) and customer of the scope's customer choices with a
    valid order in that month end's window: ``customer_id``, ``mi``, ``is_prime``, ``recency_days`` (last
    valid order → the month end), ``discount_share`` (discount / gross in the window, both to the cent),
    the whole-history BTYD triple as of the month end (``frequency`` x = purchase days − 1, ``span_days``
    t_x, ``tenure_days`` T, in days, as :func:`metrics.models.inputs.history_triples` gives it at the as-of
    date) and the RFM scores ``r_score``, ``f_score``, ``m_score`` ranked among that month end's customers
    on recency, orders and revenue (to the cent) in the window (ties by customer_id, as on the scope).
    Materialised once per scope."""
    n = window_months(filters)
    ends = month_ends(filters)
    months = history_months(engine, history_scope(engine, filters))
    # running totals in month order: a window's sum is the total at its last month minus the total before it
    by_month = dict(group_by=months.customer_id, order_by=months.mi)
    running = ibis.cumulative_window(**by_month)
    months = months.select(
        "customer_id", "is_prime", "last_date", mi=months.mi.cast("int64"),
        next_mi=ibis.coalesce(months.mi.lead().over(ibis.window(**by_month)).cast("int64"),
                              ibis.literal(int(ends.mi.max()) + n + 1)),
        orders=months.orders.sum().over(running), revenue=months.revenue_raw.sum().over(running),
        gross=months.gross_raw.sum().over(running), discount=months.discount_raw.sum().over(running),
        days_so_far=months.days.sum().over(running), first_day=months.first_date.min().over(running))
    listed = ibis.literal([int(mi) for mi in ends.mi], type="array<int64>")
    # a customer's row of month a (next row: month b) is their latest row at the month ends in [a, b) — in
    # the window of those before a + N — and their last row before the window at the month ends in
    # [a + N, b + N): each customer and month end is made once, from the one row it needs
    latest = months.mutate(end_mi=listed.filter(
        lambda e: (e >= months.mi) & (e < ibis.least(months.next_mi, months.mi + n))).unnest())
    before = months.mutate(end_mi=listed.filter(
        lambda e: (e >= months.mi + n) & (e < months.next_mi + n)).unnest())
    before = before.select("customer_id", "end_mi", b_orders=before.orders, b_revenue=before.revenue,
                           b_gross=before.gross, b_discount=before.discount)
    t = latest.left_join(before, ["customer_id", "end_mi"])
    t = t.inner_join(engine.memtable(ends.rename(columns={"mi": "end_mi"})), "end_mi")

    def window_sum(column: str) -> ir.NumericValue:
        return t[column] - ibis.coalesce(t[f"b_{column}"], 0)

    gross, discount = window_sum("gross").round(MONEY_DECIMALS), window_sum("discount").round(MONEY_DECIMALS)
    per = t.select(
        "customer_id", "is_prime", mi=t.end_mi, orders=window_sum("orders").cast("int64"),
        revenue=window_sum("revenue").round(MONEY_DECIMALS),
        recency_days=t.month_end.delta(t.last_date, unit="day").cast("int32"),
        discount_share=ibis.ifelse(gross > 0, discount / gross, 0.0),
        frequency=(t.days_so_far - 1).cast("int32"),
        span_days=t.last_date.delta(t.first_day, unit="day").cast("int32"),
        tenure_days=t.month_end.delta(t.first_day, unit="day").cast("int32"))

    # ranked on a five-column projection of a first materialisation (each sort would carry every column)
    per = engine.materialize(per)
    ranked = per.select("customer_id", "mi", "recency_days", "orders", "revenue")

    def score(*order: ir.Value) -> ir.IntegerValue:
        return (ibis.ntile(5).over(group_by=ranked.mi, order_by=[*order, ranked.customer_id]) + 1).cast("int8")

    ranked = ranked.select("customer_id", "mi", r_score=score(ibis.desc(ranked.recency_days)),
                           f_score=score(ranked.orders), m_score=score(ranked.revenue))
    return per.drop("orders", "revenue").inner_join(ranked, ["customer_id", "mi"])


def labelled_scores(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """:func:`monthly_scores` of the customers in view with ``segment``: their label of ``scheme`` at each
    labelled month end (rules in the module docstring)."""
    check_scheme(scheme)
    t = monthly_scores(engine, filters)
    if scheme == "income_spending":
        t = with_attributes(engine, t, "annual_income", "spending_score")
        medians = t.group_by("mi").aggregate(income_median=t.annual_income.median(),
                                             score_median=t.spending_score.median())
        t = t.inner_join(medians, "mi")
        t = t.mutate(segment=income_spending_label(t, (t.income_median, t.score_median)))
    else:
        t = with_labels(with_rfm_cells(t) if scheme in ("loyalty", "rfm") else t, (scheme,))
        t = t.mutate(segment=t[segment_column(scheme)])
    ids = members(engine, filters)
    return t if ids is None else t.semi_join(ids, "customer_id")


def monthly_labels(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """``customer_id``, ``mi`` and ``segment`` (their label of ``scheme`` at that month's end, rules in the
    module docstring) for every customer in view and labelled month end at which they hold a label."""
    return labelled_scores(engine, filters, scheme).select("customer_id", "mi", "segment")


@memoized
def segment_sizes_by_month(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Customers holding each label of ``scheme`` at each labelled month end of the range (rules and which
    month ends in the module docstring). Columns ``month`` (first day of the month, a timestamp), ``segment``
    (every label of the scheme, in display order), ``customers`` and ``share`` (of the customers labelled
    at that month end); zeros where nobody holds a label."""
    labels = monthly_labels(engine, filters, scheme)
    counts = engine.execute(labels.group_by("mi", "segment").aggregate(customers=labels.count()))
    grid = month_ends(filters)[["mi"]].merge(
        pd.DataFrame({"segment": pd.Series(SCHEME_LABELS[scheme], dtype="str")}), how="cross")
    counts["segment"] = counts["segment"].astype("str")
    out = grid.merge(counts, on=["mi", "segment"], how="left").fillna({"customers": 0})
    out["customers"] = out["customers"].astype("int64")
    out["share"] = ratio(out.customers, out.groupby("mi").customers.transform("sum"))
    out["month"] = as_timestamps([month_from_index(int(m)) for m in out.mi]).to_numpy()
    return out[["month", "segment", "customers", "share"]].reset_index(drop=True)


__all__ = ["LABEL_STEPS", "MAX_MONTH_ENDS", "label_month_expr", "label_note", "label_period_name", "label_step",
           "labelled_scores", "month_ends", "monthly_labels", "monthly_scores", "segment_sizes_by_month",
           "window_months"]
