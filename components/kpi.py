"""KPI card: a value, its change versus the preceding period, an arrow and a colour that says whether
the change is good (green) or bad (red). ``higher_is_better=False`` reverses the colour for metrics where
up is bad (churn risk, at-risk rate), as Vizro's ``reverse_color`` does."""

from __future__ import annotations

import math

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from components.formatting import fmt_signed_pct, format_value

GOOD, BAD, NEUTRAL = "text-success", "text-danger", "text-muted"


def delta_style(delta_pct: float | None, higher_is_better: bool = True) -> tuple[str, str]:
    """(arrow, bootstrap text class) for a relative change."""
    if delta_pct is None or (isinstance(delta_pct, float) and math.isnan(delta_pct)) or delta_pct == 0:
        return "■", NEUTRAL
    up = delta_pct > 0
    good = up if higher_is_better else not up
    return ("▲" if up else "▼"), (GOOD if good else BAD)


def kpi_text(value: float, fmt: str, has_data: bool = True) -> str:
    """The value as a card shows it. Without data (no customer in the state) a count is a real 0, but a
    sum, rate or average has no value: an em dash, not "$0.00" or "0.0 %"."""
    if not has_data and fmt != "int":
        return "—"
    return format_value(value, fmt, compact=fmt == "money")


def kpi_card(label: str, value: float, previous: float | None = None, delta_pct: float | None = None,
             fmt: str = "int", higher_is_better: bool = True, *, key: str | None = None,
             definition: str | None = None, accent: str | None = None, has_data: bool = True) -> dbc.Card:
    """One KPI: label, formatted value, and "▲ +12.3 % vs previous period (1,234)".

    The raw value is kept in the ``data-value`` attribute (the browser tests compare it exactly);
    ``accent`` colours the card's left edge (e.g. the segment colour); ``has_data=False`` shows "—" for
    everything but counts (see :func:`kpi_text`).
    """
    arrow, colour = delta_style(delta_pct, higher_is_better)
    if previous is None:
        delta_line = html.Span("no comparison", className=NEUTRAL)
    elif delta_pct is None:
        delta_line = html.Span(f"no data in previous period ({format_value(previous, fmt, compact=True)})",
                               className=NEUTRAL)
    else:
        delta_line = html.Span([
            html.Span(f"{arrow} {fmt_signed_pct(delta_pct)}", className=f"{colour} fw-semibold kpi-delta"),
            html.Span(f" vs {format_value(previous, fmt, compact=True)}", className=NEUTRAL),
        ])
    return dbc.Card(
        dbc.CardBody(html.Div([
            html.Div(label, className="kpi-label text-muted small text-uppercase"),
            html.Div(kpi_text(value, fmt, has_data), className="kpi-value",
                     **{"data-value": repr(float(value)), "data-kpi": key or label}),
            html.Div(delta_line, className="kpi-delta-line small"),
        ], title=definition or label)),
        className="kpi-card h-100 shadow-sm",
        **({"style": {"borderLeftColor": accent}} if accent else {}),
    )


def kpi_cards(summary: pd.DataFrame) -> list[dbc.Col]:
    """Columns of cards from :func:`metrics.measures.kpis.kpi_summary`, for a row sized with ``row-cols-*``."""
    cols = []
    customers = summary.loc[summary.key == "customers", "value"]
    has_data = customers.empty or float(customers.iloc[0]) > 0
    for row in summary.itertuples(index=False):
        delta = None if row.delta_pct is None or pd.isna(row.delta_pct) else float(row.delta_pct)
        card = kpi_card(row.label, row.value, row.previous, delta, row.fmt, bool(row.higher_is_better),
                        key=row.key, definition=row.definition, has_data=has_data)
        cols.append(dbc.Col(card, className="p-1"))
    return cols

