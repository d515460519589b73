"""Glossary: the definitions of every KPI, segment and metric, taken from the code's own docstrings."""

from __future__ import annotations

import dash
from dash import html

from components.glossary import glossary_sections

dash.register_page(__name__, path="/glossary", name="Glossary", title="Glossary · Customer Intelligence",
                   order=90, data_page=False)


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H4("Glossary", className="page-title"),
        html.P("What every number on the dashboard means. The text comes from the definitions in the code, "
               "so it always matches what is computed.", className="text-muted"),
        *glossary_sections(),
    ], className="glossary")
