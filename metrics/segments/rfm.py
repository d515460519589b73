"""RFM scores: Recency, Frequency and Monetary value, each scored 1–5 by quintile.

- R: days since the last valid order (to the as-of date); the most recent fifth scores 5.
- F: number of valid orders in the range; the most frequent fifth scores 5.
- M: revenue in the range; the highest-spending fifth scores 5.

Customers are ranked and cut into five equal-count groups (SQL ``NTILE(5)``). Ties are broken by
``customer_id`` so the scores are deterministic on every backend: two customers with the same recency
can land in neighbouring quintiles. With fewer than five customers, the groups are the first n scores
(e.g. three customers get scores 1, 2 and 3 for each measure). ``fm_score`` is the mean of F and M
rounded down (1–5), the second axis of the classic RFM map.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def rfm_scores(mart: ir.Table) -> ir.Table:
    """``customer_id``, ``r_score``, ``f_score``, ``m_score`` (1–5) of every row of ``mart`` (which has
    ``recency_days``, ``orders`` and ``revenue``). The three rankings run over a four-column projection:
    a window over the whole table would carry every column through each sort."""
    narrow = mart.select("customer_id", "recency_days", "orders", "revenue")
    r = ibis.ntile(5).over(order_by=[ibis.desc(narrow.recency_days), narrow.customer_id]) + 1
    f = ibis.ntile(5).over(order_by=[narrow.orders, narrow.customer_id]) + 1
    m = ibis.ntile(5).over(order_by=[narrow.revenue, narrow.customer_id]) + 1
    return narrow.select("customer_id", r_score=r.cast("int32"), f_score=f.cast("int32"), m_score=m.cast("int32"))


def with_rfm_cells(scored: ir.Table) -> ir.Table:
    """A table with ``r_score``, ``f_score``, ``m_score`` plus ``fm_score`` and ``rfm_cell`` (e.g. '545')."""
    return scored.mutate(
        fm_score=((scored.f_score + scored.m_score) // 2).cast("int32"),
        rfm_cell=scored.r_score.cast("string") + scored.f_score.cast("string") + scored.m_score.cast("string"),
    )

