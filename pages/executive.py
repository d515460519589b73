"""Executive overview: headline KPIs with deltas, repeat rate vs target, order frequency, Prime split,
segment × country matrix and the segment summary table."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from components.cards import question_card
from components.charts import chart_frame, empty_figure, gauge, style_figure
from components.colours import BAND_COLOURS, SEQUENTIAL_SCALE, scheme_colours
from components.formatting import D3_FORMATS, fmt_pct
from components.kpi import kpi_cards
from components.schemes import chosen_scheme, scheme_dropdown
from components.state import QUERY_STORE, engine, read_filters
from components.tables import column, data_table, register_table, segment_summary_columns, table_outputs, table_update
from metrics.measures.kpis import REPEAT_RATE_TARGET, frequency_bands, kpi_summary, kpis
from metrics.measures.registry import MEASURES
from metrics.segments.churn_summary import segment_summary_with_churn
from metrics.segments.tables import segment_country_matrix, segment_summary

dash.register_page(__name__, path="/", name="Executive", title="Executive · Customer Intelligence", order=0,
                   segment_filter=True)

SEGMENT_TABLE = "executive-segments"

#: Measures the segment × country matrix can show (records of metrics.measures.registry).
MATRIX_MEASURES = ("customers", "revenue", "aov", "repeat_purchase_rate")

SEGMENT_COLUMNS = [*segment_summary_columns(),
                   column("mean_churn_risk", "Avg churn risk", "pct",
                          tooltip="Average probability that a customer of the segment has stopped buying "
                                  "(1 − P(alive), purchase model in use)"),
                   column("at_risk_share", "High churn risk", "pct",
                          tooltip="Share of the segment's customers with churn risk ≥ 70 %")]
register_table(SEGMENT_TABLE, lambda filters, scheme="loyalty": segment_summary_with_churn(engine(), filters, scheme),
               stem="segment_summary", columns=SEGMENT_COLUMNS)


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H4("Executive overview", className="page-title"),
        html.P("How many customers bought, how much they spent and how loyal they are, versus the "
               "preceding period of equal length.", className="text-muted"),
        dcc.Loading(dbc.Row(id="executive-kpis", className="row-cols-2 row-cols-md-3 row-cols-xl-5 g-0"),
                    type="dot", delay_show=250),
        dbc.Row([
            dbc.Col(chart_frame("Repeat purchase rate", f"Are we at the {REPEAT_RATE_TARGET:.0%} repeat "
                                "target? Share of customers with 2+ orders.", "executive-gauge", height=280),
                    lg=4, className="mb-3"),
            dbc.Col(chart_frame("Order frequency", "How many orders does a customer place in the range?",
                                "executive-bands", height=280), lg=4, className="mb-3"),
            dbc.Col(chart_frame("Prime vs Non-Prime", "What share of customers and revenue is Prime?",
                                "executive-prime", height=280), lg=4, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(chart_frame(
            "Segment × country", "Where do the segments live, and how do they perform by country?",
            "executive-matrix", height=420, min_width=720,
            controls=html.Div([
                html.Span("Segments", className="small me-2"), scheme_dropdown("executive-scheme"),
                html.Span("Measure", className="small mx-2"),
                dcc.Dropdown(id="executive-measure", value="customers", clearable=False,
                             options=[{"label": MEASURES[k].label, "value": k} for k in MATRIX_MEASURES],
                             style={"minWidth": "200px"}),
            ], className="d-flex align-items-center flex-wrap gap-1"),
        ), className="mb-3")),
        dbc.Row(dbc.Col(question_card(
            "Segment summary", "Which segments bring the customers and the revenue? (segments as chosen above)",
            data_table(SEGMENT_TABLE, SEGMENT_COLUMNS, height=330)), className="mb-3")),
    ])


@callback(
    Output("executive-kpis", "children"), Output("executive-gauge", "figure"),
    Output("executive-bands", "figure"), Output("executive-prime", "figure"),
    Input(QUERY_STORE, "data"),
)
def update_overview(query: str | None):
    eng = engine()
    filters = read_filters(query)
    summary = kpi_summary(eng, filters)
    values = kpis(eng, filters)
    cards = kpi_cards(summary)
    if values["orders"] == 0:
        return cards, empty_figure(height=280), empty_figure(height=280), empty_figure(height=280)
    if filters.prime != "All":  # a one-slice ring says nothing: say what the filter already tells
        prime = empty_figure(f"Only {filters.prime} customers are selected (Customers filter)", height=280)
    else:
        prime = prime_figure(segment_summary(eng, filters, "prime"))
    return (cards, gauge(values["repeat_purchase_rate"], REPEAT_RATE_TARGET),
            bands_figure(frequency_bands(eng, filters)), prime)


def bands_figure(bands) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=bands.band, y=bands.customers, marker_color=[BAND_COLOURS[b] for b in bands.band],
        text=[fmt_pct(s) for s in bands.customer_share], textposition="outside",
        customdata=bands[["orders", "revenue"]],
        hovertemplate="%{x} orders: %{y:,} customers<br>%{customdata[0]:,} orders · "
                      "%{customdata[1]:$,.0f} revenue<extra></extra>",
    ))
    fig.update_xaxes(title="Orders per customer", type="category")
    fig.update_yaxes(title="Customers")
    return style_figure(fig, height=280, legend=False)


def prime_figure(prime) -> go.Figure:
    colours = scheme_colours("prime")
    fig = go.Figure(go.Pie(
        labels=prime.segment, values=prime.customers, hole=0.55, sort=False,
        marker={"colors": [colours[s] for s in prime.segment]},
        customdata=prime[["revenue", "revenue_share"]],
        texttemplate="%{label}<br>%{percent}",
        hovertemplate="%{label}: %{value:,} customers (%{percent})<br>%{customdata[0]:$,.0f} revenue "
                      "(%{customdata[1]:.1%})<extra></extra>",
    ))
    return style_figure(fig, height=280, legend=False)


@callback(
    Output("executive-matrix", "figure"), *table_outputs(SEGMENT_TABLE),
    Input(QUERY_STORE, "data"), Input("executive-scheme", "value"), Input("executive-measure", "value"),
)
def update_segments(query: str | None, scheme: str | None, measure: str | None):
    scheme = chosen_scheme(scheme)
    measure = measure if measure in MATRIX_MEASURES else "customers"
    filters = read_filters(query)
    matrix = segment_country_matrix(engine(), filters, scheme)
    table = table_update(SEGMENT_TABLE, query, scheme=scheme)
    if matrix.empty:
        return (empty_figure(height=420), *table)
    return (matrix_figure(matrix, scheme, measure), *table)


def matrix_figure(matrix, scheme: str, measure: str) -> go.Figure:
    title, fmt = MEASURES[measure].label, MEASURES[measure].fmt
    spec = D3_FORMATS[fmt]
    segments = [s for s in scheme_colours(scheme) if s in set(matrix.segment)]
    fig = go.Figure(go.Heatmap(
        x=matrix.country, y=matrix.segment, z=matrix[measure], colorscale=SEQUENTIAL_SCALE,
        colorbar={"title": {"text": title}, "tickformat": spec},
        texttemplate=f"%{{z:{spec if fmt != 'money' else '$,.0f'}}}", textfont={"size": 11},
        customdata=matrix[["customers"]],
        hovertemplate=f"%{{y}} · %{{x}}<br>{title}: %{{z:{spec}}}<br>%{{customdata[0]:,}} customers"
                      "<extra></extra>",
        xgap=2, ygap=2,
    ))
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(segments)), title="")
    fig.update_xaxes(title="", tickangle=-30)
    return style_figure(fig, height=420, legend=False)
