"""Engagement & activity: who is active month by month, what each segment orders, when customers buy,
how they respond to email and the web site, and the prospects who browse without buying."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, html

from components.cards import question_card
from components.charts import chart_frame, empty_figure, segment_figure, style_figure
from components.colours import SEQUENTIAL_SCALE, scheme_colours
from components.schemes import chosen_scheme, scheme_dropdown
from components.state import QUERY_STORE, engine, read_filters
from components.tables import capped, column, data_table, register_table, table_outputs, table_update
from metrics.measures.activity import (
    MONTH_NAMES,
    WEEKDAY_NAMES,
    activity_heatmap_weekday_hour,
    activity_heatmap_year_month,
    monthly_active_customers,
)
from metrics.measures.engagement import (
    NO_ORDERS_LABEL,
    RECENT_MONTHS,
    cart_abandoners,
    engagement_by_segment,
    prospects_summary,
    recent_cart_abandoners,
)
from metrics.measures.kpis import customer_kpis
from metrics.measures.retention import cohort_retention
from metrics.measures.trends import trend_by_segment
from metrics.segments.monthly import label_note

dash.register_page(__name__, path="/engagement", name="Engagement & activity", order=10,
                   title="Engagement & activity · Customer Intelligence", segment_filter=True)

ABANDONERS_TABLE = "engagement-cart-abandoners"
ABANDONER_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    column("cart_abandons", "Cart abandons", "int"),
    column("web_visits", "Web visits", "int"),
    column("last_active_month", "Last active month"),
]
register_table(ABANDONERS_TABLE, lambda filters: cart_abandoners(engine(), filters, limit=None),
               stem="cart_abandoners",
               columns=ABANDONER_COLUMNS, max_rows=500, top=True,
               preview=lambda filters, limit: capped(cart_abandoners(engine(), filters, limit=limit)))
RECENT_ABANDONERS_TABLE = "engagement-recent-cart-abandoners"
RECENT_ABANDONER_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    column("status", "Buyer or prospect", tooltip="Buyer: a valid order on or before the end of the range"),
    column("cart_abandons", f"Cart abandons ({RECENT_MONTHS} months)", "int"),
    column("cart_adds", f"Cart adds ({RECENT_MONTHS} months)", "int"),
    column("web_visits", f"Web visits ({RECENT_MONTHS} months)", "int"),
    column("last_abandon_month", "Last abandon month"),
]
register_table(RECENT_ABANDONERS_TABLE, lambda filters: recent_cart_abandoners(engine(), filters, limit=None),
               stem="cart_abandoners_last_3_months", columns=RECENT_ABANDONER_COLUMNS, max_rows=500, top=True,
               preview=lambda filters, limit: capped(recent_cart_abandoners(engine(), filters, limit=limit)))
PROSPECTS_TABLE = "engagement-prospects-table"
PROSPECT_COLUMNS = [
    column("group", "Group", width=110),
    column("people", "People", "int"),
    column("engaged", "Engaged", "int", tooltip="A web visit, an opened email or a cart add in the range"),
    column("abandon_share", "Abandoned a cart", "pct", tooltip="Share of the group with a cart abandon in the range"),
    column("cart_abandons", "Cart abandons", "int"),
]
register_table(PROSPECTS_TABLE, lambda filters: prospects_summary(engine(), filters), stem="prospects_vs_buyers",
               columns=PROSPECT_COLUMNS)
MEASURE_TITLES = {"orders": "Orders", "revenue": "Revenue"}
COHORT_MONTHS = 24


def layout(**_query: str) -> html.Div:
    scheme_picker = html.Div([
        html.Span("Break down by", className="small me-2"),
        scheme_dropdown("engagement-scheme"),
    ], className="d-flex align-items-center")
    measure_picker = dbc.RadioItems(id="engagement-measure", value="orders", inline=True,
                                    options=[{"label": v, "value": k} for k, v in MEASURE_TITLES.items()])
    return html.Div([
        html.Div([
            html.Div([html.H4("Engagement & activity", className="page-title"),
                      html.P("Who is active, when they buy, and how they respond to email and the web site.",
                             className="text-muted mb-2")]),
            scheme_picker,
        ], className="d-flex justify-content-between align-items-end flex-wrap gap-2 mb-2"),
        dbc.Row([
            dbc.Col(chart_frame("Monthly active customers (30 d)",
                                "How many customers of each segment bought in the 30 days before each month end?",
                                "engagement-mac"), lg=6, className="mb-3"),
            dbc.Col(chart_frame("Orders by segment", "How many valid orders does each segment place per month? "
                                "(each customer in the segment they hold at the month's end)",
                                "engagement-orders"), lg=6, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(chart_frame("Activity by year and month", "Which months are busy, and is that changing "
                                "year over year?", "engagement-year-month", controls=measure_picker,
                                min_width=560),
                    lg=6, className="mb-3"),
            dbc.Col(chart_frame("Activity by weekday and hour", "On which days and at what times do customers "
                                "buy?", "engagement-weekday-hour", min_width=560), lg=6, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(chart_frame("Email open rate", "Which segments open our emails? (opened / sent, by month; "
                                "each customer in the segment they hold over the selected range)",
                                "engagement-open-rate"), lg=6, className="mb-3"),
            dbc.Col(chart_frame("Web visits per customer", "How often does each segment visit the web site? (each "
                                "customer in the segment they hold over the selected range)",
                                "engagement-visits"), lg=6, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(chart_frame(
            "Cohort retention", "Of the customers who first bought in a month (the cohort), what share bought "
            "again k months later?", "engagement-cohorts", height=460, min_width=640), className="mb-3")),
        dbc.Row([
            dbc.Col(question_card("Prospects vs buyers", "How many people browse or abandon carts without ever buying?",
                                  html.Div([data_table(PROSPECTS_TABLE, PROSPECT_COLUMNS, height=150),
                                            html.Small("Prospects have never placed a valid order; engaged = a web "
                                                       "visit, an opened email or a cart add in the range.",
                                                       className="text-muted")]), full_height=True),
                    lg=4, className="mb-3"),
            dbc.Col(question_card("Cart abandoners who never bought",
                                  "Whom should a win-over campaign target? (top 500 by abandons)",
                                  data_table(ABANDONERS_TABLE, ABANDONER_COLUMNS, height=330), full_height=True),
                    lg=8, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(question_card(
            f"Cart abandoners of the last {RECENT_MONTHS} months",
            f"Who left something in a cart recently? Buyers and prospects with a cart abandon in the {RECENT_MONTHS} "
            "calendar months ending with the range's last month (whole months: the engagement data are monthly; "
            "they may reach before the range start). Most abandons first.",
            data_table(RECENT_ABANDONERS_TABLE, RECENT_ABANDONER_COLUMNS, height=330)), className="mb-3")),
    ])


@callback(
    Output("engagement-mac", "figure"), Output("engagement-orders", "figure"),
    Output("engagement-open-rate", "figure"), Output("engagement-visits", "figure"),
    Input(QUERY_STORE, "data"), Input("engagement-scheme", "value"),
)
def update_segments(query: str | None, scheme: str | None):
    eng = engine()
    filters = read_filters(query)
    scheme = chosen_scheme(scheme)
    order = [*scheme_colours(scheme), NO_ORDERS_LABEL]
    if customer_kpis(eng, filters)["orders"] == 0:
        return (empty_figure(),) * 4
    mac = monthly_active_customers(eng, filters, scheme)
    orders = trend_by_segment(eng, filters, "orders", "month", scheme)
    emails = engagement_by_segment(eng, filters, scheme)
    return (
        segment_figure(mac, "month", "customers", order, kind="area", y_title="Active customers", scheme=scheme),
        segment_figure(orders, "period", "value", order, kind="bar", y_title="Orders", scheme=scheme,
                       x_title=label_note(filters)),
        segment_figure(emails, "month", "open_rate", order, y_format=".0%", y_title="Open rate", scheme=scheme)
        if not emails.empty else empty_figure("No engagement data for these filters"),
        segment_figure(emails, "month", "visits_per_customer", order, y_format=".1f",
                       y_title="Visits per customer", scheme=scheme) if not emails.empty
        else empty_figure("No engagement data for these filters"),
    )


@callback(
    Output("engagement-year-month", "figure"), Output("engagement-weekday-hour", "figure"),
    Input(QUERY_STORE, "data"), Input("engagement-measure", "value"),
)
def update_heatmaps(query: str | None, measure: str | None):
    eng = engine()
    filters = read_filters(query)
    measure = measure if measure in MEASURE_TITLES else "orders"
    if customer_kpis(eng, filters)["orders"] == 0:
        return empty_figure(), empty_figure()
    year_month = activity_heatmap_year_month(eng, filters, measure)
    weekday_hour = activity_heatmap_weekday_hour(eng, filters, measure)
    value_format = "$,.0f" if measure == "revenue" else ",.0f"
    title = MEASURE_TITLES[measure]
    ym = go.Figure(go.Heatmap(
        x=[MONTH_NAMES[m - 1] for m in year_month.month], y=year_month.year.astype(str), z=year_month.value,
        colorscale=SEQUENTIAL_SCALE, colorbar={"title": {"text": title}}, xgap=2, ygap=2,
        hovertemplate=f"%{{x}} %{{y}}: %{{z:{value_format}}}<extra></extra>",
    ))
    ym.update_yaxes(type="category", autorange="reversed")
    ym.update_xaxes(categoryorder="array", categoryarray=list(MONTH_NAMES))
    wh = go.Figure(go.Heatmap(
        x=weekday_hour.hour, y=[WEEKDAY_NAMES[d] for d in weekday_hour.day_of_week], z=weekday_hour.value,
        colorscale=SEQUENTIAL_SCALE, colorbar={"title": {"text": title}}, xgap=1, ygap=1,
        hovertemplate=f"%{{y}} %{{x}}:00: %{{z:{value_format}}}<extra></extra>",
    ))
    wh.update_yaxes(categoryorder="array", categoryarray=list(reversed(WEEKDAY_NAMES)))
    wh.update_xaxes(title="Hour of the day", dtick=2)
    return style_figure(ym, legend=False), style_figure(wh, legend=False)


@callback(*table_outputs(PROSPECTS_TABLE), *table_outputs(ABANDONERS_TABLE), *table_outputs(RECENT_ABANDONERS_TABLE),
          Input(QUERY_STORE, "data"))
def update_prospects(query: str | None):
    return (*table_update(PROSPECTS_TABLE, query), *table_update(ABANDONERS_TABLE, query),
            *table_update(RECENT_ABANDONERS_TABLE, query))


@callback(Output("engagement-cohorts", "figure"), Input(QUERY_STORE, "data"))
def update_cohorts(query: str | None):
    eng = engine()
    filters = read_filters(query)
    cohorts = cohort_retention(eng, filters, max_months=COHORT_MONTHS)
    if cohorts.empty:
        return empty_figure(height=460)
    fig = go.Figure(go.Heatmap(
        x=cohorts.months_since, y=cohorts.cohort.dt.strftime("%Y-%m"), z=cohorts.retention,
        colorscale=SEQUENTIAL_SCALE, zmin=0, zmax=0.6, colorbar={"title": {"text": "Retention"}, "tickformat": ".0%"},
        customdata=cohorts[["customers", "active"]], xgap=1, ygap=1,
        hovertemplate="Cohort %{y}, month %{x}: %{z:.1%}<br>%{customdata[1]:,} of %{customdata[0]:,} customers"
                      "<extra></extra>",
    ))
    fig.update_yaxes(type="category", autorange="reversed", title="First-order month")
    fig.update_xaxes(title="Months since the first order", dtick=3)
    return style_figure(fig, height=460, legend=False)
