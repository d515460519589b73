"""Segmentation: the income × spending-score quadrants, who the customers are (gender, age, preferred
category), lifecycle segments month by month and each segment's monthly performance."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from components.cards import question_card
from components.charts import chart_frame, empty_figure, segment_figure, style_figure
from components.colours import SERIES_COLOURS, scheme_colours
from components.kpi import kpi_card
from components.schemes import chosen_scheme, scheme_dropdown
from components.state import QUERY_STORE, engine, read_filters
from components.tables import column, data_table, grid_id, measure_column, register_table, table_outputs, table_update
from components.trend_chart import VALUE_FORMATS
from metrics.measures.demographics import (
    DIMENSION_TITLES,
    INCOME_KPIS,
    demographics,
    income_spending_medians,
    income_spending_points,
    quadrant_summary,
)
from metrics.measures.engagement import NO_ORDERS_LABEL, engagement_by_segment
from metrics.measures.kpis import customer_kpis
from metrics.measures.registry import MEASURES, change_rows
from metrics.measures.retention import monthly_retention
from metrics.measures.trends import trend_by_segment
from metrics.models.churn import HIGH_RISK_FROM
from metrics.segments.churn_trend import churn_risk_by_month
from metrics.segments.labels import LIFECYCLE_LABELS, SCHEME_TITLES
from metrics.segments.lifecycle import lifecycle_by_month
from metrics.segments.monthly import label_note, segment_sizes_by_month

dash.register_page(__name__, path="/segmentation", name="Segmentation", order=40,
                   title="Segmentation · Customer Intelligence", segment_filter=False)

#: This page compares all segments, so it ignores a segment filter (the selector is hidden here).
USE_SEGMENT = False
SCATTER_SAMPLE = 3000

DEMOGRAPHICS_TABLE = "segmentation-demographics"
register_table(DEMOGRAPHICS_TABLE, lambda filters, dimension="gender": demographics(engine(), filters, dimension),
               stem="customers_by_attribute", use_segment=USE_SEGMENT,
               columns=lambda dimension="gender": demographics_columns(dimension))

QUADRANTS_TABLE = "segmentation-quadrants-table"
QUADRANT_COLUMNS = [
    column("segment", "Quadrant", pinned=True, width=150),
    measure_column("customers"),
    column("customer_share", "% of customers", "pct"),
    measure_column("avg_annual_income"),
    measure_column("avg_spending_score"),
    measure_column("revenue"),
    measure_column("ltv"),
]
register_table(QUADRANTS_TABLE, lambda filters: quadrant_summary(engine(), filters), stem="income_spending_quadrants",
               use_segment=USE_SEGMENT, columns=QUADRANT_COLUMNS)

CHURN_TABLE = "segmentation-churn-table"
CHURN_COLUMNS = [
    column("month", "Month end of", pinned=True, width=110),
    column("segment", "Segment", width=140),
    column("customers", "Customers at month end", "int"),
    measure_column("mean_churn_risk"),
    column("at_risk_share", f"High churn risk (≥ {HIGH_RISK_FROM:.0%}) share", "pct"),
]
register_table(CHURN_TABLE, lambda filters, scheme="loyalty": churn_risk_by_month(engine(), filters, scheme),
               stem="churn_risk_by_month", use_segment=USE_SEGMENT, columns=CHURN_COLUMNS)

#: Monthly performance measures: (title, source, column, y-format). Sources are metric functions below;
#: the registry's measures take their label and format from it.
PERFORMANCE = {
    "segment_size": ("Customers holding the label at month end", "sizes", "customers", ",.0f"),
    **{name: (MEASURES[name].label, "trend", name, VALUE_FORMATS[MEASURES[name].fmt])
       for name in ("customers", "orders", "revenue", "aov")},
    "retention": ("Monthly retention (90-day activity)", "retention", "retention", ".0%"),
    "open_rate": ("Email open rate", "engagement", "open_rate", ".0%"),
    "visits_per_customer": ("Web visits per customer", "engagement", "visits_per_customer", ".1f"),
}


def _dropdown(component_id: str, options: dict[str, str], value: str, width: int = 200) -> dcc.Dropdown:
    return dcc.Dropdown(id=component_id, value=value, clearable=False, style={"minWidth": f"{width}px"},
                        options=[{"label": v, "value": k} for k, v in options.items()])


def layout(**_query: str) -> html.Div:
    performance_controls = html.Div([
        html.Span("Segments", className="small me-2"),
        scheme_dropdown("segmentation-scheme"),
        html.Span("Measure", className="small mx-2"),
        _dropdown("segmentation-measure", {k: v[0] for k, v in PERFORMANCE.items()}, "segment_size", 260),
    ], className="d-flex align-items-center flex-wrap gap-1")
    return html.Div([
        html.H4("Segmentation", className="page-title"),
        html.P("Who the customers are and how each segment performs over time. This page compares all "
               "segments, so the segment filter does not apply here.", className="text-muted"),
        dbc.Row([
            dbc.Col(chart_frame("Income × spending score", "Which customers earn and spend a lot, and which earn "
                                "a lot but spend little? (quadrants split at the medians)", "segmentation-quadrants",
                                height=400), lg=7, className="mb-3"),
            dbc.Col(chart_frame("Lifecycle segments by month", "How many customers are new, VIP, regular, at "
                                "risk or inactive at each month end?", "segmentation-lifecycle", height=400),
                    lg=5, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(dcc.Loading(dbc.Row(id="segmentation-income-kpis", className="row-cols-2 row-cols-lg-1 g-0"),
                                type="dot", delay_show=250), lg=3, className="mb-3"),
            dbc.Col(question_card("Income × spending quadrants", "How many customers are in each quadrant, and "
                                  "what do they earn, score and spend?",
                                  data_table(QUADRANTS_TABLE, QUADRANT_COLUMNS, height=290), full_height=True),
                    lg=9, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(chart_frame("Gender", "Who buys, and who brings the revenue?", "segmentation-gender",
                                height=280), lg=4, className="mb-3"),
            dbc.Col(chart_frame("Age group", "Which age groups buy, and who brings the revenue?",
                                "segmentation-age", height=280), lg=4, className="mb-3"),
            dbc.Col(chart_frame("Preferred category", "Which categories do our customers prefer?",
                                "segmentation-category", height=280), lg=4, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(chart_frame("Segment monthly performance", "How does each segment's size, sales and "
                                "engagement develop month by month? Each month's customers are in the segment they "
                                "hold at that month's end (scored like a range of as many months ending there); "
                                "a range over 24 months is labelled at its quarter ends, each month taking the "
                                "label of its quarter's end.",
                                "segmentation-performance", height=380, controls=performance_controls),
                    lg=6, className="mb-3"),
            dbc.Col(chart_frame("Churn risk by segment, month by month", "How has churn risk evolved? Average "
                                "churn risk (1 − P(alive)) at each month end of the customers holding each label "
                                "then, on their history up to that day, with the purchase model fitted for the "
                                "range (one fit, not one per month); quarter ends only for a range over 24 "
                                "months.", "segmentation-churn", height=380,
                                footer=data_table(CHURN_TABLE, CHURN_COLUMNS, height=220)),
                    lg=6, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(question_card(
            "Customers by attribute", "How do customers, orders and revenue split by one attribute?",
            [
                html.Div(_dropdown("segmentation-dimension", DIMENSION_TITLES, "gender"), className="mb-2",
                         style={"maxWidth": "280px"}),
                data_table(DEMOGRAPHICS_TABLE, demographics_columns("gender"), height=330),
            ]), className="mb-3")),
    ])


def demographics_columns(dimension: str) -> list[dict]:
    return [
        column(dimension, DIMENSION_TITLES.get(dimension, dimension), pinned=True, width=150),
        measure_column("customers"),
        column("share", "% of customers", "pct"),
        measure_column("orders"),
        measure_column("revenue"),
        column("revenue_share", "% of sales", "pct"),
        measure_column("aov"),
        measure_column("ltv"),
    ]


def share_bars(frame, dimension: str) -> go.Figure:
    """Share of customers and of revenue per attribute value, side by side."""
    fig = go.Figure()
    for name, col, colour in (("Customers", "share", SERIES_COLOURS[0]),
                              ("Revenue", "revenue_share", SERIES_COLOURS[1])):
        fig.add_bar(x=frame[dimension], y=frame[col], name=f"% of {name.lower()}", marker_color=colour,
                    customdata=frame[["customers", "revenue"]],
                    hovertemplate="%{x}: %{y:.1%} of " + name.lower() +
                                  "<br>%{customdata[0]:,} customers · %{customdata[1]:$,.0f}<extra></extra>")
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(type="category")
    return style_figure(fig, height=280)


@callback(
    Output("segmentation-quadrants", "figure"), Output("segmentation-lifecycle", "figure"),
    Output("segmentation-gender", "figure"), Output("segmentation-age", "figure"),
    Output("segmentation-category", "figure"),
    Input(QUERY_STORE, "data"),
)
def update_overview(query: str | None):
    eng = engine()
    filters = read_filters(query, use_segment=USE_SEGMENT)
    if customer_kpis(eng, filters)["orders"] == 0:
        return (empty_figure(height=400), empty_figure(height=400), empty_figure(height=280),
                empty_figure(height=280), empty_figure(height=280))
    points = income_spending_points(eng, filters, sample=SCATTER_SAMPLE)
    medians = income_spending_medians(eng, filters)
    quadrants = go.Figure()
    for label, colour in scheme_colours("income_spending").items():
        part = points[points.segment == label]
        quadrants.add_scatter(
            x=part.annual_income, y=part.spending_score, mode="markers", name=label,
            marker={"color": colour, "size": 5, "opacity": 0.6}, customdata=part[["customer_id", "revenue"]],
            hovertemplate="Customer %{customdata[0]}<br>income %{x:$,.0f} · score %{y}<br>"
                          "revenue %{customdata[1]:$,.2f}<extra>" + label + "</extra>")
    quadrants.add_vline(x=medians["annual_income"], line={"dash": "dash", "color": "#495057", "width": 1})
    quadrants.add_hline(y=medians["spending_score"], line={"dash": "dash", "color": "#495057", "width": 1})
    quadrants.update_xaxes(title="Annual income", tickformat="$,.0f")
    quadrants.update_yaxes(title="Spending score (1–100)")
    style_figure(quadrants, height=400)

    life = lifecycle_by_month(eng, filters)
    lifecycle = segment_figure(life, "month", "customers", list(LIFECYCLE_LABELS), kind="area",
                               y_title="Customers", height=400, scheme="lifecycle")
    return (quadrants, lifecycle, share_bars(demographics(eng, filters, "gender"), "gender"),
            share_bars(demographics(eng, filters, "age_group"), "age_group"),
            share_bars(demographics(eng, filters, "preferred_category"), "preferred_category"))


@callback(
    Output("segmentation-performance", "figure"),
    Input(QUERY_STORE, "data"), Input("segmentation-scheme", "value"), Input("segmentation-measure", "value"),
)
def update_performance(query: str | None, scheme: str | None, measure: str | None):
    eng = engine()
    filters = read_filters(query, use_segment=USE_SEGMENT)
    scheme = chosen_scheme(scheme)
    measure = measure if measure in PERFORMANCE else "customers"
    if customer_kpis(eng, filters)["orders"] == 0:
        return empty_figure(height=380)
    title, source, col, y_format = PERFORMANCE[measure]
    order = list(scheme_colours(scheme))
    if source == "sizes":
        frame = segment_sizes_by_month(eng, filters, scheme)
        return segment_figure(frame, "month", col, order, kind="area", y_format=y_format, y_title=title,
                              x_title=label_note(filters), height=380, scheme=scheme)
    if source == "trend":
        frame = trend_by_segment(eng, filters, col, "month", scheme)
        return segment_figure(frame, "period", "value", order, y_format=y_format, y_title=title, height=380,
                              x_title=label_note(filters), scheme=scheme)
    if source == "retention":
        frame = monthly_retention(eng, filters, scheme)
        return segment_figure(frame, "month", col, order, y_format=y_format, y_title=title, height=380,
                              scheme=scheme)
    frame = engagement_by_segment(eng, filters, scheme)
    return segment_figure(frame, "month", col, [*order, NO_ORDERS_LABEL], y_format=y_format, y_title=title,
                          height=380, scheme=scheme)


@callback(Output("segmentation-churn", "figure"), *table_outputs(CHURN_TABLE),
          Input(QUERY_STORE, "data"), Input("segmentation-scheme", "value"))
def update_segment_churn(query: str | None, scheme: str | None):
    eng = engine()
    filters = read_filters(query, use_segment=USE_SEGMENT)
    scheme = chosen_scheme(scheme)
    table = table_update(CHURN_TABLE, query, scheme=scheme)
    if customer_kpis(eng, filters)["orders"] == 0:
        return (empty_figure(height=380), *table)
    frame = churn_risk_by_month(eng, filters, scheme)
    if not frame.customers.any():
        return (empty_figure(f"No churn model: {frame.attrs.get('message', '')}"[:120], height=380), *table)
    shown = frame[frame.customers > 0]  # a label nobody holds at a month end has no average
    fig = segment_figure(shown, "month", "mean_churn_risk", list(scheme_colours(scheme)), y_format=".0%",
                         y_title=f"{MEASURES['mean_churn_risk'].label} at month end", height=380, scheme=scheme,
                         x_title=label_note(filters),
                         hover_name=f"{MEASURES['mean_churn_risk'].label} ({SCHEME_TITLES[scheme]})")
    fig.update_yaxes(rangemode="tozero")
    return (fig, *table)


@callback(Output("segmentation-income-kpis", "children"), *table_outputs(QUADRANTS_TABLE), Input(QUERY_STORE, "data"))
def update_income(query: str | None):
    filters = read_filters(query, use_segment=USE_SEGMENT)
    rows = change_rows(engine(), filters, INCOME_KPIS)
    has_data = customer_kpis(engine(), filters)["customers"] > 0
    cards = [dbc.Col(kpi_card(row.label, row.value, row.previous,
                              None if row.delta_pct is None else float(row.delta_pct), row.fmt,
                              bool(row.higher_is_better), key=row.key, definition=row.definition,
                              has_data=has_data), className="p-1")
             for row in rows.itertuples(index=False)]
    return (cards, *table_update(QUADRANTS_TABLE, query))


@callback(Output(grid_id(DEMOGRAPHICS_TABLE), "columnDefs"),
          *table_outputs(DEMOGRAPHICS_TABLE),
          Input(QUERY_STORE, "data"), Input("segmentation-dimension", "value"))
def update_table(query: str | None, dimension: str | None):
    dimension = dimension if dimension in DIMENSION_TITLES else "gender"
    return (demographics_columns(dimension), *table_update(DEMOGRAPHICS_TABLE, query, dimension=dimension))

