"""Churn risk per segment at each month end: how the purchase model's churn risk of each segment evolved.

Its own module because it joins two layers (the monthly segment labels and the churn model) that do not
import each other.

**What is computed.** For every labelled month end of the range (every month end, or for a range over 24
months its quarter ends and last month: :mod:`metrics.segments.monthly`) and every customer holding a
label of the scheme at that month end, churn risk = 1 − P(alive) of their whole valid
history up to the month end — repeat purchase days x, last purchase t_x and age T as of that day — under
the purchase model **fitted for the range** (its parameters, one fit; not a model refitted at every month
end). The last month's value is the one of the range's own churn chart when the range starts on a month's
first day. Earlier months therefore say how risky each segment looked by then to today's model: a fair
picture of how the risk moved, though a model fitted at that month end would weigh the history slightly
differently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import ratio
from metrics.grains import as_timestamps, month_from_index
from metrics.models.choice import fit_purchase_model
from metrics.models.inputs import GROUP_COLUMNS, HIGH_RISK_FROM, unit_days
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.monthly import labelled_scores, month_ends
from metrics.segments.rules import check_scheme

CHURN_TREND_COLUMNS = ["month", "segment", "customers", "mean_churn_risk", "at_risk_customers", "at_risk_share"]


@memoized
def churn_risk_by_month(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per labelled month end of the range (:func:`metrics.segments.monthly.month_ends`) and label of
    ``scheme`` (every label, zeros kept): ``customers`` holding
    the label at that month end, ``mean_churn_risk`` (their average churn risk at the month end, 1 −
    P(alive) under the range's fitted purchase model, see the module docstring), ``at_risk_customers``
    (churn risk ≥ 0.7 at the month end) and ``at_risk_share``. ``month`` is the first day of the month.
    Zeros, with the reason in ``attrs["message"]``, when no model could be fitted."""
    check_scheme(scheme)
    fit = fit_purchase_model(engine, filters)
    grid = month_ends(filters)[["mi"]].merge(
        pd.DataFrame({"segment": pd.Series(SCHEME_LABELS[scheme], dtype="str")}), how="cross")
    sums = pd.DataFrame(columns=["mi", "segment", "customers", "risk_sum", "at_risk_customers"])
    if fit.model is not None:
        t = labelled_scores(engine, filters, scheme)
        counts = engine.execute(t.group_by("mi", "segment", *GROUP_COLUMNS).aggregate(n=t.count()))
        if not counts.empty:
            days = float(unit_days(fit.time_unit))
            triples = counts[list(GROUP_COLUMNS)].drop_duplicates()
            x, t_x, age = (triples[c].to_numpy(float) for c in GROUP_COLUMNS)
            triples = triples.assign(risk=1.0 - np.asarray(fit.model.p_alive(x, t_x / days, age / days), float))
            counts = counts.merge(triples, on=list(GROUP_COLUMNS))
            counts = counts.assign(risk_sum=counts.risk * counts.n,
                                   at_risk_customers=np.where(counts.risk >= HIGH_RISK_FROM, counts.n, 0))
            sums = counts.groupby(["mi", "segment"], as_index=False).agg(
                customers=("n", "sum"), risk_sum=("risk_sum", "sum"), at_risk_customers=("at_risk_customers", "sum"))
            sums["segment"] = sums["segment"].astype("str")
    out = grid.merge(sums, on=["mi", "segment"], how="left")
    out = out.fillna({"customers": 0, "risk_sum": 0.0, "at_risk_customers": 0})
    out = out.astype({"customers": "int64", "at_risk_customers": "int64", "risk_sum": "float64"})
    out["mean_churn_risk"] = ratio(out.risk_sum, out.customers)
    out["at_risk_share"] = ratio(out.at_risk_customers, out.customers)
    out["month"] = as_timestamps([month_from_index(int(m)) for m in out.mi]).to_numpy()
    frame = out[CHURN_TREND_COLUMNS].reset_index(drop=True)
    frame.attrs["message"] = fit.message
    return frame


__all__ = ["CHURN_TREND_COLUMNS", "churn_risk_by_month"]
