"""The segmentation-scheme picker that several pages show next to a chart, and the scheme it yields."""

from __future__ import annotations

from dash import dcc

from metrics.segments.labels import SCHEME_TITLES

DEFAULT_SCHEME = "loyalty"


def scheme_dropdown(component_id: str, value: str = DEFAULT_SCHEME) -> dcc.Dropdown:
    """A dropdown of every segmentation scheme by its title (never empty)."""
    return dcc.Dropdown(id=component_id, options=[{"label": t, "value": s} for s, t in SCHEME_TITLES.items()],
                        value=value, clearable=False, style={"minWidth": "220px"})


def chosen_scheme(value: object) -> str:
    """The picked scheme, or the default one for a missing or unknown value (e.g. a hand-made request)."""
    return value if isinstance(value, str) and value in SCHEME_TITLES else DEFAULT_SCHEME
