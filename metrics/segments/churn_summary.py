"""The segment summary with each segment's churn risk: the Executive page's segment table. Its own module
because it joins two layers (segment tables and the churn model) that do not import each other."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.models.churn import churn_by_segment
from metrics.models.scores import customer_scores
from metrics.segments.tables import segment_summary


def segment_summary_with_churn(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """:func:`metrics.segments.tables.segment_summary` with each segment's churn risk from the purchase
    model in use: ``mean_churn_risk`` (the average of 1 − P(alive) over the segment's customers) and
    ``at_risk_share`` (the share with churn risk ≥ 0.7); both empty when no model could be fitted."""
    summary = segment_summary(engine, filters, scheme)
    churn = churn_by_segment(engine, filters, scheme)[["segment", "mean_churn_risk", "at_risk_share"]]
    out = summary.merge(churn, on="segment", how="left")
    if customer_scores(engine, filters) is None:
        out[["mean_churn_risk", "at_risk_share"]] = np.nan
    return out
