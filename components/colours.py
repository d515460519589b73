"""One fixed colour per segment label of a scheme, used by every chart (colour-blind-safe).

Colours come from Paul Tol's "muted" and "light" schemes and the Okabe–Ito palette, designed to stay
distinguishable with the common forms of colour-vision deficiency. Within one scheme all colours differ.
"Good" labels lean blue/green, "gone" labels grey. The six "at risk" notions do not share a colour,
because they are different things: the loyalty tier "At-Risk" (rose), the RFM cell "At Risk"
(orange), the behaviour segment "At-Risk / Dormant" (wine), the income quadrant "At Risk" (light
orange), the lifecycle state "At Risk" (pink) and the churn model's High risk band (vermillion); the
glossary explains how they differ.
"""

from __future__ import annotations

from metrics.segments.labels import FREQUENCY_BANDS, LIFECYCLE_LABELS, SCHEME_LABELS

INDIGO, CYAN, TEAL, GREEN = "#332288", "#88CCEE", "#44AA99", "#117733"
OLIVE, SAND, ROSE, WINE, PURPLE = "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"
PALE_GREY, DARK_GREY = "#BBBBBB", "#555555"
LIGHT_ORANGE, PINK = "#EE8866", "#FFAABB"
OI_BLUE, OI_ORANGE, OI_VERMILLION, OI_SKY = "#0072B2", "#E69F00", "#D55E00", "#56B4E9"

SEGMENT_COLOURS: dict[str, str] = {
    # prime
    "Prime": OI_BLUE,
    "Non-Prime": OI_ORANGE,
    # loyalty tiers
    "Top Tier": INDIGO,
    "Promising": TEAL,
    "At-Risk": ROSE,
    "Hibernating": PALE_GREY,
    # classic RFM map
    "Champions": INDIGO,
    "Loyal": GREEN,
    "Potential Loyalist": OLIVE,
    "New": CYAN,
    "Need Attention": SAND,
    "About to Sleep": PURPLE,
    "At Risk": ROSE,
    "Can't Lose Them": WINE,
    "Lost": DARK_GREY,
    # behaviour
    "High-Value Active": GREEN,
    "Discount-Driven": SAND,
    "At-Risk / Dormant": ROSE,
    # income × spending
    "VIP": INDIGO,
    "Underperformers": PURPLE,
    "Potential Growers": TEAL,
    # lifecycle (New, VIP, At Risk above)
    "Regular": GREEN,
    "Inactive": PALE_GREY,
    # customers with engagement but no order in the range (metrics.measures.engagement.NO_ORDERS_LABEL)
    "No orders in range": "#000000",
}

#: Labels whose colour depends on the scheme (the same name means a different thing there).
SCHEME_OVERRIDES: dict[str, dict[str, str]] = {
    "rfm": {"At Risk": OI_ORANGE},
    "behaviour": {"At-Risk / Dormant": WINE},
    "income_spending": {"At Risk": LIGHT_ORANGE},
    "lifecycle": {"At Risk": PINK},
}

#: Other fixed categories shown in charts.
BAND_COLOURS: dict[str, str] = {"1": CYAN, "2-3": TEAL, "4-5": GREEN, "6+": INDIGO}
RISK_COLOURS: dict[str, str] = {"Low": GREEN, "Medium": SAND, "High": OI_VERMILLION}
CLV_COLOURS: dict[str, str] = {"Growing": GREEN, "Maintaining": CYAN, "Declining": ROSE}
#: Colours for non-segment series (metrics, years) in order.
SERIES_COLOURS: tuple[str, ...] = (OI_BLUE, OI_ORANGE, GREEN, WINE, TEAL, PURPLE, OLIVE, DARK_GREY)
#: Sequential scale for heatmaps (light to dark blue, readable in greyscale).
SEQUENTIAL_SCALE: list[str] = ["#F7FBFF", "#C6DBEF", "#6BAED6", "#2171B5", "#08306B"]

assert all(label in SEGMENT_COLOURS for labels in SCHEME_LABELS.values() for label in labels)
assert all(label in SEGMENT_COLOURS for label in LIFECYCLE_LABELS)
assert set(BAND_COLOURS) == set(FREQUENCY_BANDS)
assert all(label in (LIFECYCLE_LABELS if scheme == "lifecycle" else SCHEME_LABELS[scheme])
           for scheme, labels in SCHEME_OVERRIDES.items() for label in labels)


def segment_colour(label: str, scheme: str | None = None) -> str:
    """The label's colour in ``scheme`` (dark grey for a label outside every scheme)."""
    override = SCHEME_OVERRIDES.get(scheme or "", {}).get(label)
    return override or SEGMENT_COLOURS.get(label, DARK_GREY)


def scheme_colours(scheme: str) -> dict[str, str]:
    """label -> colour for one scheme, in the scheme's display order (``lifecycle`` included)."""
    labels = LIFECYCLE_LABELS if scheme == "lifecycle" else SCHEME_LABELS[scheme]
    return {label: segment_colour(label, scheme) for label in labels}
