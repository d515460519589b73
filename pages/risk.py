"""Risk & revenue: which customers and segments carry revenue at risk, and whom to act on first."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, html

from components.charts import chart_frame, empty_figure, style_figure
from components.colours import scheme_colours
from components.formatting import fmt_pct
from components.state import QUERY_STORE, engine, read_filters
from metrics.kpis import kpis
from metrics.segments import segment_summary

dash.register_page(__name__, path="/risk", name="Risk & revenue", order=20,
                   title="Risk & revenue · Customer Intelligence", segment_filter=True)

PENDING = "needs the churn-risk and predictive-CLV metrics, which are not available yet"


def pending_card(title: str, question: str, component_id: str) -> dbc.Card:
    return dbc.Card([
        dbc.CardHeader([html.H6(title, className="mb-0"), html.Small(question, className="text-muted")]),
        dbc.CardBody(html.Div(f"This view {PENDING}.", className="empty-state", id=component_id)),
    ], className="shadow-sm h-100")


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H4("Risk & revenue", className="page-title"),
        html.P("Where revenue is at risk: dormant and discount-driven customers, churn risk by segment, and the "
               "customers to act on first.", className="text-muted"),
        dbc.Row([
            dbc.Col(chart_frame("Revenue by behaviour", "How much of the revenue comes from customers who have "
                                "gone quiet (no order in 180 days) or buy mostly on discount?", "risk-behaviour",
                                height=340), lg=6, className="mb-3"),
            dbc.Col(pending_card("Value vs loyalty", "Which customers buy often and spend a lot? (orders vs "
                                 "revenue per customer, by segment)", "risk-scatter"), lg=6, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(pending_card("Churn risk vs revenue by segment", "Which segments combine high churn risk "
                                 "with high revenue?", "risk-bubbles"), lg=6, className="mb-3"),
            dbc.Col(pending_card("Customers to act on", "Which high-revenue customers are most likely to churn? "
                                 "(recency, revenue, predicted CLV)", "risk-actions"), lg=6, className="mb-3"),
        ]),
    ])


@callback(Output("risk-behaviour", "figure"), Input(QUERY_STORE, "data"))
def update_behaviour(query: str | None):
    eng = engine()
    filters = read_filters(query)
    if kpis(eng, filters)["total_orders"] == 0:
        return empty_figure()
    summary = segment_summary(eng, filters, "behaviour")
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
