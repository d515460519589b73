"""Segmentation rules: each scheme turns the scored customer mart of a scope into one label per customer.

The rules, in business words (the same text is shown in the in-app glossary):

**loyalty** (RFM tiers), checked in this order
  - Top Tier: recent and among the highest spenders (R ≥ 4 and M ≥ 4)
  - Promising: recent enough, occasional, above-average spend (R ≥ 3, F ≤ 3, M ≥ 3)
  - Hibernating: long gone and infrequent (R ≤ 2 and F ≤ 2)
  - At-Risk: everyone else — spent or bought often but not recently, or recent but low value

**rfm** (classic map on R × FM, FM = mean of F and M rounded down)

  ====  ==============  ==================  ==================  ===============  ===============
  R\\FM  1               2                   3                   4                5
  ====  ==============  ==================  ==================  ===============  ===============
  5     New             Potential Loyalist  Potential Loyalist  Champions        Champions
  4     Promising       Potential Loyalist  Potential Loyalist  Loyal            Champions
  3     About to Sleep  About to Sleep      Need Attention      Loyal            Loyal
  2     Hibernating     Hibernating         At Risk             At Risk          Can't Lose Them
  1     Lost            Lost                At Risk             Can't Lose Them  Can't Lose Them
  ====  ==============  ==================  ==================  ===============  ===============

**behaviour**, checked in this order
  - At-Risk / Dormant: no valid order in the last 180 days before the as-of date
  - Discount-Driven: at least 20 % of their gross spend was discounted
  - High-Value Active: everyone else (active, mostly full-price buyers)

**income_spending**: quadrants split at the medians of the selected customers' annual income and
spending score (a value equal to the median counts as high)
  - VIP: high income, high score · Underperformers: high income, low score
  - Potential Growers: low income, high score · At Risk: low income, low score

**prime**: Prime or Non-Prime membership.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import ibis
import ibis.expr.types as ir

from metrics.segments.labels import SCHEME_LABELS

DORMANT_DAYS = 180
DISCOUNT_DRIVEN_SHARE = 0.20

RFM_MAP: dict[int, tuple[str, str, str, str, str]] = {  # R -> label for FM = 1..5
    5: ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Champions"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "Can't Lose Them", "Can't Lose Them"),
}


def prime_label(t: ir.Table) -> ir.StringValue:
    return ibis.ifelse(t.is_prime, "Prime", "Non-Prime")


def loyalty_label(t: ir.Table) -> ir.StringValue:
    return ibis.cases(
        ((t.r_score >= 4) & (t.m_score >= 4), "Top Tier"),
        ((t.r_score >= 3) & (t.f_score <= 3) & (t.m_score >= 3), "Promising"),
        ((t.r_score <= 2) & (t.f_score <= 2), "Hibernating"),
        else_="At-Risk",
    )


def rfm_label(t: ir.Table) -> ir.StringValue:
    cell = t.r_score * 10 + t.fm_score
    branches = [(cell == r * 10 + fm, label) for r, row in RFM_MAP.items() for fm, label in enumerate(row, 1)]
    return ibis.cases(*branches, else_="Lost")


def behaviour_label(t: ir.Table) -> ir.StringValue:
    return ibis.cases(
        (t.recency_days > DORMANT_DAYS, "At-Risk / Dormant"),
        (t.discount_share >= DISCOUNT_DRIVEN_SHARE, "Discount-Driven"),
        else_="High-Value Active",
    )


Median: TypeAlias = "float | ir.NumericValue"


def income_spending_label(t: ir.Table, medians: tuple[Median, Median] | None = None) -> ir.StringValue:
    """Quadrant of ``annual_income`` × ``spending_score``, split at ``medians`` (income, score): the scope's
    medians computed once by the caller (numbers, or columns of ``t`` when each row has its own population),
    or the medians of ``t`` itself when not given."""
    def split(value: Median) -> ir.NumericValue:
        return value if isinstance(value, ir.Value) else ibis.literal(float(value))

    income, score = (t.annual_income.median(), t.spending_score.median()) if medians is None else \
        (split(medians[0]), split(medians[1]))
    high_income = t.annual_income >= income
    high_score = t.spending_score >= score
    return ibis.cases(
        (high_income & high_score, "VIP"),
        (high_income, "Underperformers"),
        (high_score, "Potential Growers"),
        else_="At Risk",
    )


SCHEMES: dict[str, Callable[[ir.Table], ir.StringValue]] = {
    "prime": prime_label,
    "loyalty": loyalty_label,
    "rfm": rfm_label,
    "behaviour": behaviour_label,
    "income_spending": income_spending_label,
}
assert set(SCHEMES) == set(SCHEME_LABELS), "every scheme needs a rule and a label list"


def segment_column(scheme: str) -> str:
    return f"segment_{scheme}"


def with_labels(t: ir.Table, schemes: tuple[str, ...], medians: tuple[float, float] | None = None) -> ir.Table:
    """``t`` (a scored mart) with one ``segment_<scheme>`` column per scheme in ``schemes``: labels are
    per-row CASE expressions, computed only for the schemes a query asks for. ``income_spending`` needs
    ``annual_income`` and ``spending_score`` on ``t`` and the population's ``medians``."""
    columns = {}
    for name in schemes:
        check_scheme(name)
        rule = SCHEMES[name]
        columns[segment_column(name)] = income_spending_label(t, medians) if name == "income_spending" else rule(t)
    return t.mutate(**columns) if columns else t


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown segment scheme {scheme!r}; choose from {', '.join(SCHEMES)}")
