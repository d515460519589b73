"""One fixed colour per segment label, used by every chart (colour-blind-safe).

Colours come from Paul Tol's "muted" scheme and the Okabe–Ito palette, both designed to stay
distinguishable with the common forms of colour-vision deficiency. A label name has the same colour in
every scheme it appears in (e.g. "At Risk" is rose in the RFM map, the income quadrants and the monthly
lifecycle), and within one scheme all colours differ. "Good" labels lean blue/green, "risk" labels rose
or wine, "gone" labels grey.
"""

from __future__ import annotations

from metrics.segments.labels import FREQUENCY_BANDS, LIFECYCLE_LABELS, SCHEME_LABELS

INDIGO, CYAN, TEAL, GREEN = "#332288", "#88CCEE", "#44AA99", "#117733"
OLIVE, SAND, ROSE, WINE, PURPLE = "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"
PALE_GREY, DARK_GREY = "#BBBBBB", "#555555"
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

#: Other fixed categories shown in charts.
BAND_COLOURS: dict[str, str] = {"1": CYAN, "2-3": TEAL, "4-5": GREEN, "6+": INDIGO}
RISK_COLOURS: dict[str, str] = {"Low": GREEN, "Medium": SAND, "High": ROSE}
CLV_COLOURS: dict[str, str] = {"Growing": GREEN, "Maintaining": CYAN, "Declining": ROSE}
#: Colours for non-segment series (metrics, years) in order.
SERIES_COLOURS: tuple[str, ...] = (OI_BLUE, OI_ORANGE, GREEN, WINE, TEAL, PURPLE, OLIVE, DARK_GREY)
#: Sequential scale for heatmaps (light to dark blue, readable in greyscale).
SEQUENTIAL_SCALE: list[str] = ["#F7FBFF", "#C6DBEF", "#6BAED6", "#2171B5", "#08306B"]

assert all(label in SEGMENT_COLOURS for labels in SCHEME_LABELS.values() for label in labels)
assert all(label in SEGMENT_COLOURS for label in LIFECYCLE_LABELS)
assert set(BAND_COLOURS) == set(FREQUENCY_BANDS)


def segment_colour(label: str) -> str:
    """The label's colour (dark grey for a label outside every scheme)."""
    return SEGMENT_COLOURS.get(label, DARK_GREY)


def scheme_colours(scheme: str) -> dict[str, str]:
    """label -> colour for one scheme, in the scheme's display order (``lifecycle`` included)."""
    labels = LIFECYCLE_LABELS if scheme == "lifecycle" else SCHEME_LABELS[scheme]
    return {label: segment_colour(label) for label in labels}
