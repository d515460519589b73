"""Glossary: the definitions of every KPI, segment and metric, taken from the code's own docstrings."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from components.glossary import MEASURE_ROWS, METRIC_LIST, SEARCH, glossary_sections, measure_rows, metric_entries

dash.register_page(__name__, path="/glossary", name="Glossary", title="Glossary · Customer Intelligence",
                   order=90, data_page=False)


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H4("Glossary", className="page-title"),
        html.P("What every number on the dashboard means. The text comes from the definitions in the code, "
               "so it always matches what is computed.", className="text-muted"),
        dcc.Input(id=SEARCH, type="search", placeholder="Search the glossary (e.g. churn, repeat, CLV)",
                  debounce=0.3, className="form-control mb-3 no-print", autoComplete="off"),
        *glossary_sections(),
    ], className="glossary")


@callback(Output(MEASURE_ROWS, "children"), Output(METRIC_LIST, "children"), Input(SEARCH, "value"),
          prevent_initial_call=True)
def search(query: str | None):
    """Measures and metric definitions holding every word of the search."""
    text = query if isinstance(query, str) else ""
    return measure_rows(text[:200]), metric_entries(text[:200])
