"""Segment membership at each month end: every scheme's label as the dashboard would give it with the
range moved to end that month.

**Rule.** For each month m the range touches, a customer's label of a scheme is assigned exactly as on
the scope (:mod:`metrics.segments.rules`), but on the **window of the N whole months ending with m**
(N = the months the range touches) and as of m's end (the as-of date for the range's last month): the
population is every customer of the Prime and country choices with a valid order in the window; R, F and
M are ranked among them (recency to m's end, orders and revenue in the window); "dormant" means no valid
order in the 180 days before m's end; the income × spending quadrants split at that population's
medians. A customer with no valid order in the window holds no label that month. For a range that starts
on a month's first day, the last month's labels are the scope's own labels.

A segment focus keeps the customers it keeps everywhere (the scope's own members of the focus label);
this view then follows those customers through their labels month by month, so with a focus on the
same scheme it can show other labels too.

**How it scales.** Read from the shared customer-month table (:func:`metrics.population.history_months`):
each customer-month row is spread over the N month ends whose windows hold it (an unnest and an
equi-join with the month list), summed per customer and month end, and ranked per month end — one
materialised table per scope for all schemes, no pass over the orders.
"""

from __future__ import annotations

import calendar
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


def window_months(filters: Filters) -> int:
    """N: how many months the range touches (the length of each month end's scoring window)."""
    return month_index(filters.end) - month_index(filters.start) + 1


def month_ends(filters: Filters) -> pd.DataFrame:
    """``mi`` (month index) and ``month_end`` (the month's last day, or the as-of date in the range's last
    month) of every month the range touches."""
    rows = []
    for mi in range(month_index(filters.start), month_index(filters.end) + 1):
        first = month_from_index(mi)
        last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        rows.append({"mi": mi, "month_end": min(last, filters.end)})
    return pd.DataFrame(rows).astype({"mi": "int64"})


@memoized(scope_only=True)
def monthly_scores(engine: Engine, filters: Filters) -> ir.Table:
    """Per month end of the range (``mi``) and customer of the scope's customer choices with a valid order
    in that month end's window: ``customer_id``, ``mi``, ``is_prime``, ``orders``, ``revenue`` (to the
    cent), ``gross_amount``, ``discount_amount``, ``recency_days`` (last valid order → the month end),
    ``discount_share``, the whole-history BTYD triple as of the month end (``frequency`` x = purchase days
    − 1, ``span_days`` t_x, ``tenure_days`` T, in days, as :func:`metrics.models.inputs.history_triples`
    gives it at the as-of date) and the RFM scores ``r_score``, ``f_score``, ``m_score`` ranked among that month
    end's customers (ties by customer_id, as on the scope). Materialised once per scope."""
    n = window_months(filters)
    start_mi, end_mi = month_index(filters.start), month_index(filters.end)
    months = history_months(engine, history_scope(engine, filters))
    # purchase days up to and including each month, and the first purchase day ever: the BTYD triple at a
    # month end is read from the customer's last row of the window
    months = months.mutate(
        days_so_far=months.days.sum().over(ibis.cumulative_window(group_by=months.customer_id, order_by=months.mi)),
        first_day=months.first_date.min().over(group_by=months.customer_id))
    months = months.filter(months.mi.between(ibis.literal(start_mi - n + 1), ibis.literal(end_mi)))
    ends = engine.memtable(month_ends(filters).rename(columns={"mi": "end_mi"}))
    # each row belongs to the windows of its own month end and the N − 1 after it: an unnest and an equi-join
    # (a range join of rows × month ends is many times slower)
    months = months.mutate(end_mi=months.mi + ibis.literal(list(range(n))).unnest())
    spread = months.inner_join(ends, "end_mi")
    per = spread.group_by(customer_id=spread.customer_id, mi=spread.end_mi).aggregate(
        is_prime=spread.is_prime.arbitrary(), orders=spread.orders.sum(),
        revenue=spread.revenue_raw.sum().round(MONEY_DECIMALS),
        gross_amount=spread.gross_raw.sum().round(MONEY_DECIMALS),
        discount_amount=spread.discount_raw.sum().round(MONEY_DECIMALS),
        last_date=spread.last_date.max(), month_end=spread.month_end.max(),
        days_so_far=spread.days_so_far.max(), first_day=spread.first_day.min())
    per = per.mutate(recency_days=per.month_end.delta(per.last_date, unit="day").cast("int64"),
                     frequency=(per.days_so_far - 1).cast("int64"),
                     span_days=per.last_date.delta(per.first_day, unit="day").cast("int64"),
                     tenure_days=per.month_end.delta(per.first_day, unit="day").cast("int64"))
    per = per.mutate(discount_share=ibis.ifelse(per.gross_amount > 0, per.discount_amount / per.gross_amount, 0.0))

    def score(*order: ir.Value) -> ir.IntegerValue:
        return (ibis.ntile(5).over(group_by=per.mi, order_by=[*order, per.customer_id]) + 1).cast("int32")

    return per.select("customer_id", "mi", "is_prime", "orders", "revenue", "gross_amount", "discount_amount",
                      "recency_days", "discount_share", "frequency", "span_days", "tenure_days",
                      r_score=score(ibis.desc(per.recency_days)), f_score=score(per.orders), m_score=score(per.revenue))


def monthly_labels(engine: Engine, filters: Filters, scheme: str) -> ir.Table:
    """``customer_id``, ``mi`` and ``segment`` (their label of ``scheme`` at that month's end, rules in the
    module docstring) for every customer in view and month end at which they hold a label."""
    check_scheme(scheme)
    t = with_rfm_cells(monthly_scores(engine, filters))
    if scheme == "income_spending":
        t = with_attributes(engine, t, "annual_income", "spending_score")
        medians = t.group_by("mi").aggregate(income_median=t.annual_income.median(),
                                             score_median=t.spending_score.median())
        t = t.inner_join(medians, "mi")
        labelled = t.select("customer_id", "mi",
                            segment=income_spending_label(t, (t.income_median, t.score_median)))
    else:
        t = with_labels(t, (scheme,))
        labelled = t.select("customer_id", "mi", segment=t[segment_column(scheme)])
    ids = members(engine, filters)
    return labelled if ids is None else labelled.semi_join(ids, "customer_id")


@memoized
def segment_sizes_by_month(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Customers holding each label of ``scheme`` at each month end of the range (rules in the module
    docstring). Columns ``month`` (first day of the month, a timestamp), ``segment`` (every label of the
    scheme, in display order), ``customers`` and ``share`` (of the customers labelled at that month end);
    zeros where nobody holds a label."""
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


__all__ = ["month_ends", "monthly_labels", "monthly_scores", "segment_sizes_by_month", "window_months"]
