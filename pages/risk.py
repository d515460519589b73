"""Risk & revenue: which segments combine churn risk with revenue, which customers to act on first, where
revenue sits by behaviour, and how well the churn model fits the selection."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, callback, html
from dash.exceptions import PreventUpdate

from components.cards import question_card
from components.charts import chart_frame, empty_figure, style_figure
from components.colours import RISK_COLOURS, SERIES_COLOURS, scheme_colours
from components.formatting import fmt_int, fmt_number, fmt_pct
from components.schemes import chosen_scheme, scheme_dropdown
from components.state import NAV_ID, QUERY_STORE, engine, link_query, read_filters
from components.tables import column, data_table, register_table, table_outputs, table_update
from metrics.customer import parse_customer_id, value_loyalty_points
from metrics.measures.kpis import customer_kpis
from metrics.models.churn import (
    HIGH_RISK_FROM,
    churn_bands,
    churn_by_segment,
    churn_model_summary,
    customer_action_table,
    fitted_vs_actual,
)
from metrics.segments.tables import segment_summary

dash.register_page(__name__, path="/risk", name="Risk & revenue", order=20,
                   title="Risk & revenue · Customer Intelligence", segment_filter=True)

#: Customers drawn in the value-vs-loyalty scatter at most (a deterministic sample beyond that).
SCATTER_SAMPLE = 5000
ACTIONS_TABLE = "risk-actions"
register_table(ACTIONS_TABLE, lambda filters: customer_action_table(engine(), filters, limit=500),
               stem="customers_to_act_on")
ACTION_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    column("segment", "Loyalty tier"),
    column("orders", "Orders", "int"),
    column("revenue", "Revenue", "money"),
    column("recency_days", "Days since last order", "int"),
    column("churn_risk", "Churn risk", "pct"),
    column("predicted_clv", "Predicted CLV (12 m)", "money"),
    column("revenue_at_risk", "Revenue at risk", "money"),
]


def layout(**_query: str) -> html.Div:
    scheme_picker = html.Div([
        html.Span("Segments", className="small me-2"),
        scheme_dropdown("risk-scheme"),
    ], className="d-flex align-items-center")
    scatter_picker = html.Div([
        html.Span("Colour by", className="small me-2"),
        scheme_dropdown("risk-scatter-scheme"),
    ], className="d-flex align-items-center")
    return html.Div([
        html.H4("Risk & revenue", className="page-title"),
        html.P("Where revenue is at risk: churn risk (1 − P(alive) from a BG/NBD model fitted on the selected "
               "range) by segment and by customer, and where the revenue sits by behaviour.",
               className="text-muted"),
        html.Div(id="risk-model-note"),
        dbc.Row([
            dbc.Col(chart_frame("Churn risk vs revenue by segment", "Which segments combine high churn risk with "
                                "high revenue? (bubble size = customers)", "risk-bubbles", height=380,
                                controls=scheme_picker), lg=7, className="mb-3"),
            dbc.Col(chart_frame("Churn-risk bands", "How many customers, and how much revenue, are at low, "
                                "medium and high risk?", "risk-bands", height=380), lg=5, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(question_card(
            "Customers to act on", f"Which high-revenue customers (top quarter) have a churn risk of at least "
            f"{HIGH_RISK_FROM:.0%}? Sorted by revenue at risk; click an id for the profile.",
            data_table(ACTIONS_TABLE, ACTION_COLUMNS, height=380)), className="mb-3")),
        dbc.Row([
            dbc.Col(chart_frame("Revenue by behaviour", "How much of the revenue comes from customers who have "
                                "gone quiet (no order in 180 days) or buy mostly on discount?", "risk-behaviour",
                                height=340), lg=6, className="mb-3"),
            dbc.Col(chart_frame("Value vs loyalty", "Which customers buy often and spend a lot, and which of "
                                "them are at risk? Orders vs revenue per customer, coloured by segment; click a "
                                "point for the customer's profile.", "risk-scatter", height=340,
                                controls=scatter_picker, footer=html.Span(id="risk-scatter-note")),
                    lg=6, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(chart_frame("Does the model fit?", "Do the repeat purchases the fitted model expects "
                                    "track the actual ones, week by week?", "risk-fit", height=320,
                                    footer=html.Span(id="risk-model-params")), className="mb-3")),
    ])


@callback(Output("risk-bubbles", "figure"), Input(QUERY_STORE, "data"), Input("risk-scheme", "value"))
def update_bubbles(query: str | None, scheme: str | None):
    eng = engine()
    filters = read_filters(query)
    scheme = chosen_scheme(scheme)
    total_customers = customer_kpis(eng, filters)["customers"]
    if total_customers == 0:
        return empty_figure(height=380)
    frame = churn_by_segment(eng, filters, scheme)
    colours = scheme_colours(scheme)
    fig = go.Figure()
    for row in frame.itertuples(index=False):
        if row.customers == 0:
            continue
        fig.add_scatter(
            x=[row.mean_churn_risk], y=[row.revenue], mode="markers+text", name=row.segment, text=[row.segment],
            textposition="top center", cliponaxis=False,
            marker={"size": [row.customers], "sizemode": "area", "sizeref": 2.0 * total_customers / 90 ** 2,
                    "sizemin": 6, "color": colours.get(row.segment), "line": {"width": 1, "color": "#fff"},
                    "opacity": 0.85},
            customdata=[[row.customers, row.at_risk_share, row.revenue_at_risk]],
            hovertemplate=f"{row.segment}<br>mean churn risk %{{x:.1%}}<br>revenue %{{y:$,.0f}}"
                          "<br>%{customdata[0]:,} customers · %{customdata[1]:.1%} high risk"
                          "<br>revenue at risk %{customdata[2]:$,.0f}<extra></extra>",
        )
    fig.add_vline(x=HIGH_RISK_FROM, line={"dash": "dot", "color": "#495057", "width": 1})
    fig.update_xaxes(title="Mean churn risk", tickformat=".0%", range=[-0.05, 1.05])
    fig.update_yaxes(title="Revenue in the range", tickformat="$,.0f")
    return style_figure(fig, height=380, legend=False)


@callback(Output("risk-scatter", "figure"), Output("risk-scatter-note", "children"),
          Input(QUERY_STORE, "data"), Input("risk-scatter-scheme", "value"))
def update_scatter(query: str | None, scheme: str | None):
    eng = engine()
    filters = read_filters(query)
    scheme = chosen_scheme(scheme)
    total = customer_kpis(eng, filters)["customers"]
    if total == 0:
        return empty_figure(height=340), ""
    points = value_loyalty_points(eng, filters, scheme, sample=SCATTER_SAMPLE)
    return scatter_figure(points, scheme), scatter_note(len(points), total, points)


@callback(Output(NAV_ID, "href", allow_duplicate=True), Input("risk-scatter", "clickData"),
          State(QUERY_STORE, "data"), prevent_initial_call=True)
def open_scatter_customer(click: dict | None, query: str | None) -> str:
    """A click on a point opens that customer's profile with the current filters."""
    try:
        customer_id = parse_customer_id(click["points"][0]["customdata"][0])  # type: ignore[index]
    except (KeyError, IndexError, TypeError) as exc:
        raise PreventUpdate from exc
    if customer_id is None:
        raise PreventUpdate
    filters_part = link_query(query).lstrip("?")
    return dash.get_relative_path(f"/customer?id={customer_id}" + (f"&{filters_part}" if filters_part else ""))


def scatter_figure(points, scheme: str) -> go.Figure:
    fig = go.Figure()
    for label, colour in scheme_colours(scheme).items():
        part = points[points.segment == label]
        if part.empty:
            continue
        fig.add_scattergl(
            x=part.orders, y=part.revenue, mode="markers", name=label,
            marker={"color": colour, "size": 6, "opacity": 0.65, "line": {"width": 0}},
            customdata=part[["customer_id", "churn_risk"]],
            hovertemplate="Customer %{customdata[0]}<br>%{x} orders · %{y:$,.2f}<br>churn risk "
                          "%{customdata[1]:.0%}<extra>" + label + "</extra>")
    # both measures are heavily skewed: log axes spread the crowd of one- and two-order customers out
    positive = bool(len(points)) and points.revenue.min() > 0
    fig.update_xaxes(title="Valid orders in the range (loyalty, log scale)", type="log")
    fig.update_yaxes(title="Revenue in the range (value" + (", log scale)" if positive else ")"),
                     tickformat="$,.0f", type="log" if positive else "linear")
    return style_figure(fig, height=340)


def scatter_note(shown: int, total: float, points) -> str:
    if shown >= total:
        text = f"All {fmt_int(total)} customers of the selection are shown."
    else:
        text = (f"Showing {fmt_int(shown)} of {fmt_int(total)} customers: a fixed sample (the same one for the same "
                "filters), drawn in the database.")
    if points.churn_risk.isna().all():
        text += " No churn model for this selection, so no churn risk in the hover text."
    return text


@callback(Output("risk-bands", "figure"), Output("risk-behaviour", "figure"), Output("risk-model-note", "children"),
          *table_outputs(ACTIONS_TABLE), Input(QUERY_STORE, "data"))
def update_risk(query: str | None):
    eng = engine()
    filters = read_filters(query)
    table = table_update(ACTIONS_TABLE, query)
    if customer_kpis(eng, filters)["orders"] == 0:
        return (empty_figure(height=380), empty_figure(), None, *table)
    model = churn_model_summary(eng, filters)
    note = None
    if model["message"]:
        note = dbc.Alert(f"Churn model: {model['message']}", color="info" if model["ok"] else "warning",
                         className="py-2")
    return (bands_figure(churn_bands(eng, filters)), behaviour_figure(segment_summary(eng, filters, "behaviour")),
            note, *table)


@callback(Output("risk-fit", "figure"), Output("risk-model-params", "children"), Input(QUERY_STORE, "data"))
def update_fit(query: str | None):
    eng = engine()
    filters = read_filters(query)
    if customer_kpis(eng, filters)["orders"] == 0:
        return empty_figure(height=320), ""
    model = churn_model_summary(eng, filters)
    if not model["ok"]:
        return empty_figure("The churn model could not be fitted on this selection", height=320), ""
    params = (f"BG/NBD fitted on {model['n_customers']:,} customers ({model['n_repeat_buyers']:,} repeat buyers): "
              f"r = {fmt_number(model['r'], 3)}, α = {fmt_number(model['alpha'], 3)} weeks, "
              f"a = {fmt_number(model['a'], 3)}, b = {fmt_number(model['b'], 3)}; mean purchase rate "
              f"{fmt_number(model['mean_purchase_rate'], 3)} per week while active, mean drop-out chance "
              f"{fmt_pct(model['mean_dropout'])} after a purchase.")
    return fit_figure(fitted_vs_actual(eng, filters)), params


def bands_figure(bands) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=bands.band, y=bands.customer_share, name="% of customers",
                marker_color=[RISK_COLOURS[b] for b in bands.band], customdata=bands[["customers"]],
                hovertemplate="%{x} risk: %{y:.1%} of customers (%{customdata[0]:,})<extra></extra>")
    fig.add_bar(x=bands.band, y=bands.revenue_share, name="% of revenue", marker_color="#6c757d",
                customdata=bands[["revenue"]],
                hovertemplate="%{x} risk: %{y:.1%} of revenue (%{customdata[0]:$,.0f})<extra></extra>")
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(title="Churn-risk band (Low < 30 % ≤ Medium < 70 % ≤ High)")
    return style_figure(fig, height=380)


def behaviour_figure(summary) -> go.Figure:
    colours = scheme_colours("behaviour")
    fig = go.Figure(go.Bar(
        x=summary.segment, y=summary.revenue, marker_color=[colours[s] for s in summary.segment],
        text=[f"{fmt_pct(s)} of revenue" for s in summary.revenue_share], textposition="outside",
        customdata=summary[["customers", "customer_share", "avg_recency_days"]],
        hovertemplate="%{x}<br>%{y:$,.0f} revenue<br>%{customdata[0]:,} customers (%{customdata[1]:.1%})"
                      "<br>avg %{customdata[2]:.0f} days since last order<extra></extra>",
    ))
    fig.update_yaxes(title="Revenue", tickformat="$,.0f")
    return style_figure(fig, legend=False)


def fit_figure(fit) -> go.Figure:
    if fit.empty:
        return empty_figure("The churn model could not be fitted on this selection", height=320)
    fig = go.Figure()
    fig.add_scatter(x=fit.date, y=fit.actual_cumulative, name="Actual", mode="lines",
                    line={"color": SERIES_COLOURS[0], "width": 2},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f} repeat purchases (actual)<extra></extra>")
    fig.add_scatter(x=fit.date, y=fit.expected_cumulative, name="Model", mode="lines",
                    line={"color": SERIES_COLOURS[1], "width": 2, "dash": "dash"},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f} repeat purchases (model)<extra></extra>")
    fig.update_yaxes(title="Cumulative repeat purchase days")
    return style_figure(fig, height=320)
