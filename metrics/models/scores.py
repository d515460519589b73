"""Per-customer scores of a filter state under its purchase model, joined back in the engine.

The scope's model (the one :func:`metrics.models.choice.fit_purchase_model` gives the state) scores each
distinct whole-history (x, t_x, T) row once on the driver (:func:`metrics.models.inputs.group_scores`);
the rows are joined back to the customers in view through a memtable keyed on whole days, so the
per-customer table stays in the engine and pages get aggregates or top-N lists.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.models.choice import fit_purchase_model
from metrics.models.inputs import DEFAULT_TIME_UNIT, GROUP_COLUMNS, group_scores, history_triples, risk_band_expr
from metrics.population import unlabelled_mart

SCORE_COLUMNS = ("customer_id", "orders", "revenue", "frequency", "recency_days", "span_days", "tenure_days",
                 "p_alive", "churn_risk", "risk_band", "expected_purchases_12m", "next_purchase_date")


@memoized
def customer_scores(engine: Engine, filters: Filters, time_unit: str = DEFAULT_TIME_UNIT) -> ir.Table | None:
    """The customers in view with ``orders``, ``revenue`` and ``recency_days`` (in the range), their
    whole-history ``frequency``, ``span_days`` and ``tenure_days`` (the model's x, t_x and T in days),
    ``p_alive``, ``churn_risk`` (= 1 − p_alive), ``risk_band``, ``expected_purchases_12m`` and
    ``next_purchase_date`` (the as-of date plus :func:`metrics.models.inputs.next_purchase_days`; null
    where P(alive) ≤ 0.5); materialised once per filter state. ``None`` when the model could not be fitted
    (see :func:`fit_purchase_model`)."""
    fit = fit_purchase_model(engine, filters, time_unit)
    if fit.model is None:
        return None
    scores = engine.memtable(group_scores(fit)[[*GROUP_COLUMNS, "p_alive", "expected_purchases",
                                             "next_purchase_days"]])
    mart = unlabelled_mart(engine, filters).select("customer_id", "orders", "revenue", "recency_days")
    joined = mart.inner_join(history_triples(engine, filters), "customer_id").inner_join(scores, list(GROUP_COLUMNS))
    churn_risk = 1.0 - joined.p_alive
    return joined.select(
        "customer_id", "orders", "revenue", "frequency", "recency_days", "span_days", "tenure_days",
        "p_alive", churn_risk=churn_risk, risk_band=risk_band_expr(churn_risk),
        expected_purchases_12m=joined.expected_purchases,
        next_purchase_date=ibis.literal(filters.as_of) + joined.next_purchase_days.cast("int64").as_interval("D"),
    )


__all__ = ["SCORE_COLUMNS", "customer_scores"]
