"""The segmentation schemes and their labels, in display order (rules live in :mod:`metrics.segments.tables`)."""

from __future__ import annotations

SCHEME_LABELS: dict[str, tuple[str, ...]] = {
    "prime": ("Prime", "Non-Prime"),
    "loyalty": ("Top Tier", "Promising", "At-Risk", "Hibernating"),
    "rfm": (
        "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
        "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
    ),
    "behaviour": ("High-Value Active", "Discount-Driven", "At-Risk / Dormant"),
    "income_spending": ("VIP", "Underperformers", "Potential Growers", "At Risk"),
}

#: Evaluated at every month end, so it is a time series rather than a per-customer filter.
LIFECYCLE_LABELS: tuple[str, ...] = ("New", "VIP", "Regular", "At Risk", "Inactive")

SCHEME_TITLES: dict[str, str] = {
    "prime": "Prime membership",
    "loyalty": "Loyalty tier (RFM)",
    "rfm": "Classic RFM map",
    "behaviour": "Behaviour",
    "income_spending": "Income × spending",
}

FREQUENCY_BANDS: tuple[str, ...] = ("1", "2-3", "4-5", "6+")
