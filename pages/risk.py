"""Risk & revenue: which segments combine churn risk with revenue, which customers to act on first, where
revenue sits by behaviour, which purchase model scores them (chosen by a holdout test, or picked here; the
choice is ``model=`` in the URL) and how well it predicts."""

from __future__ import annotations

from datetime import timedelta

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from components.cards import question_card
from components.charts import chart_frame, empty_figure, style_figure
from components.colours import RISK_COLOURS, SERIES_COLOURS, scheme_colours
from components.formatting import fmt_int, fmt_number, fmt_pct, fmt_signed_pct
from components.schemes import chosen_scheme, scheme_dropdown
from components.state import NAV_ID, QUERY_STORE, URL_ID, UrlState, engine, link_query, parse_query, read_filters
from components.tables import capped, column, data_table, register_table, table_outputs, table_update
from metrics.customer import parse_customer_id, value_loyalty_points
from metrics.measures.kpis import customer_kpis
from metrics.models.choice import model_choice
from metrics.models.churn import (
    HIGH_RISK_FROM,
    churn_bands,
    churn_by_segment,
    churn_model_summary,
    customer_action_table,
    p_alive_matrix,
)
from metrics.models.purchase_models import PURCHASE_MODELS
from metrics.segments.tables import segment_summary

dash.register_page(__name__, path="/risk", name="Risk & revenue", order=20,
                   title="Risk & revenue · Customer Intelligence", segment_filter=True)

#: Customers drawn in the value-vs-loyalty scatter at most (a deterministic sample beyond that).
SCATTER_SAMPLE = 5000
ACTIONS_TABLE = "risk-actions"
ACTION_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    column("segment", "Loyalty tier"),
    column("orders", "Orders", "int"),
    column("revenue", "Revenue", "money"),
    column("recency_days", "Days since last order", "int"),
    column("churn_risk", "Churn risk", "pct"),
    column("expected_purchases_12m", "Expected purchases (12 m)", "float"),
    column("predicted_clv", "Predicted CLV (12 m)", "money"),
    column("predicted_clv_low", "CLV 80 % low", "money"),
    column("predicted_clv_high", "CLV 80 % high", "money"),
    column("revenue_at_risk", "Revenue at risk", "money"),
]
register_table(ACTIONS_TABLE, lambda filters: customer_action_table(engine(), filters, limit=None),
               stem="customers_to_act_on",
               columns=ACTION_COLUMNS, max_rows=500, top=True,
               preview=lambda filters, limit: capped(customer_action_table(engine(), filters, limit=limit)))


MODEL_PICKER = "risk-model"
AUTO = "auto"  # the dropdown value of "the model the data chose" (no model= in the URL)


def model_options() -> list[dict[str, str]]:
    chosen = model_choice(engine()).chosen
    return [{"label": f"Chosen by the data ({PURCHASE_MODELS[chosen].model_name})", "value": AUTO}] + [
        {"label": cls.model_name, "value": key} for key, cls in PURCHASE_MODELS.items()]


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
        html.P("Where revenue is at risk: churn risk (1 − P(alive) from a purchase model fitted on each in-scope "
               "customer's whole history up to the end of the range) by segment and by customer, and where the "
               "revenue sits by behaviour.", className="text-muted"),
        dbc.Card(dbc.CardBody(dbc.Row([
            dbc.Col([dbc.Label("Purchase model", html_for=MODEL_PICKER, className="small fw-semibold mb-1"),
                     dcc.Dropdown(id=MODEL_PICKER, options=model_options(), value=AUTO, clearable=False,
                                  searchable=False)], md=3),
            dbc.Col(html.Div(id="risk-model-card", className="small"), md=9),
        ], className="g-2")), className="mb-3 model-card"),
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
        dbc.Row(dbc.Col(chart_frame("Does the model predict?", "Fitted on the history up to the calibration end "
                                    "(dotted line), does it forecast the repeat purchases of the months after? "
                                    "Whole customer base, cumulative, week by week.", "risk-fit", height=320,
                                    footer=html.Span(id="risk-model-params")), className="mb-3")),
        dbc.Row([
            dbc.Col(chart_frame("Holdout purchases by calibration frequency", "Customers grouped by their repeat "
                                "purchases before the holdout: do the predicted purchases per customer in the "
                                "holdout match the actual ones, one-time buyers (0) included?", "risk-ce",
                                height=320), lg=6, className="mb-3"),
            dbc.Col(chart_frame("Probability a customer is still active", "P(alive) by repeat purchases and weeks "
                                "since the last purchase, for a customer first seen as long ago as the median "
                                "customer.", "risk-palive", height=320, min_width=480), lg=6, className="mb-3"),
        ]),
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
        fig.add_scatter(  # SVG, as on the segmentation page: WebGL traces need eval, which the CSP refuses
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


@callback(Output(MODEL_PICKER, "value"), Output("risk-model-card", "children"), Input(QUERY_STORE, "data"))
def update_model_card(query: str | None):
    filters = read_filters(query)
    model = churn_model_summary(engine(), filters)
    default = PURCHASE_MODELS[str(model["default_model"])].model_name
    if model["is_default"] and filters.model is None:
        why = [html.Strong(f"{model['model_name']}, chosen by the data. "), str(model["choice_reason"])]
    else:
        why = [html.Strong(f"{model['model_name']}, picked here. "),
               f"The data's holdout test chose {default}: {model['choice_reason']}"]
    fitted = ""
    if model["ok"]:
        params = ", ".join(f"{PARAM_SYMBOLS.get(k, k)} = {fmt_number(v, 3)}" for k, v in model["params"].items())
        fitted = (f" Fitted for this selection on {model['n_customers']:,} customers' whole history up to "
                  f"{filters.end} ({model['n_repeat_buyers']:,} repeat buyers, time unit week): {params}.")
    return filters.model or AUTO, [*why, fitted]


PARAM_SYMBOLS = {"alpha": "α", "beta": "β"}


@callback(Output(URL_ID, "search", allow_duplicate=True), Input(MODEL_PICKER, "value"), State(QUERY_STORE, "data"),
          prevent_initial_call=True)
def pick_model(value: str | None, query: str | None) -> str:
    """Picking a model puts it in the URL (``model=…``), so every page and a shared link follow it."""
    if query is None:
        raise PreventUpdate
    state = parse_query(query)
    model = value if value in PURCHASE_MODELS else None
    if model == state.filters.model:
        raise PreventUpdate
    return "?" + UrlState(state.filters.with_model(model), (), state.page_params).query


@callback(Output("risk-fit", "figure"), Output("risk-model-params", "children"), Output("risk-ce", "figure"),
          Output("risk-palive", "figure"), Input(QUERY_STORE, "data"))
def update_fit(query: str | None):
    eng = engine()
    filters = read_filters(query)
    if customer_kpis(eng, filters)["orders"] == 0:
        return empty_figure(height=320), "", empty_figure(height=320), empty_figure(height=320)
    model = churn_model_summary(eng, filters)
    choice = model_choice(eng)
    result = choice.result(str(model["model"]))
    palive_figure = p_alive_figure(p_alive_matrix(eng, filters))
    if result is None or not result.ok or choice.calibration is None:
        note = "No holdout test: " + choice.reason
        return empty_figure("No holdout test on this data", height=320), note, empty_figure(height=320), palive_figure
    cal = choice.calibration
    note = (f"{PURCHASE_MODELS[result.model_key].model_name} fitted on {result.customers:,} customers' history from "
            f"{cal.start} to {cal.end}; holdout {cal.end + timedelta(days=1)} – {choice.holdout_end}: predicted "
            f"{fmt_int(result.predicted)} vs actual {fmt_int(result.actual)} repeat purchases "
            f"({fmt_signed_pct(result.error_pct)}).")
    return (fit_figure(result.tracking, cal.end), note, ce_figure(choice, result.model_key), palive_figure)


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


def fit_figure(tracking, calibration_end) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=tracking.date, y=tracking.actual_cumulative, name="Actual", mode="lines",
                    line={"color": SERIES_COLOURS[0], "width": 2},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f} repeat purchases (actual)<extra></extra>")
    fig.add_scatter(x=tracking.date, y=tracking.predicted_cumulative, name="Model", mode="lines",
                    line={"color": SERIES_COLOURS[1], "width": 2, "dash": "dash"},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f} repeat purchases (model)<extra></extra>")
    fig.add_vline(x=pd.Timestamp(calibration_end).timestamp() * 1000, line={"dash": "dot", "color": "#495057",
                                                                           "width": 1})
    fig.update_yaxes(title="Cumulative repeat purchase days")
    return style_figure(fig, height=320)


def ce_figure(choice, in_use: str) -> go.Figure:
    fig = go.Figure()
    first = next(r for r in choice.results if r.ok)
    fig.add_bar(x=first.by_frequency.frequency, y=first.by_frequency.actual_mean, name="Actual",
                marker_color="#adb5bd", customdata=first.by_frequency[["customers"]],
                hovertemplate="%{x} repeat purchases before: %{y:.2f} per customer in the holdout (actual, "
                              "%{customdata[0]:,} customers)<extra></extra>")
    for i, result in enumerate(r for r in choice.results if r.ok):
        name = PURCHASE_MODELS[result.model_key].model_name
        fig.add_scatter(x=result.by_frequency.frequency, y=result.by_frequency.predicted_mean, mode="lines+markers",
                        name=name + (" (in use)" if result.model_key == in_use else ""),
                        line={"color": SERIES_COLOURS[i + 1], "width": 3 if result.model_key == in_use else 1.5},
                        hovertemplate=f"%{{x}}: %{{y:.2f}} per customer ({name})<extra></extra>")
    fig.update_xaxes(title="Repeat purchase days before the holdout", type="category")
    fig.update_yaxes(title="Holdout purchases per customer")
    return style_figure(fig, height=320)


def p_alive_figure(frame) -> go.Figure:
    if frame.empty:
        return empty_figure("No purchase model for this selection", height=320)
    grid = frame.pivot(index="frequency", columns="weeks_since_last", values="p_alive")
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index), zmin=0, zmax=1, colorscale="Blues",
        colorbar={"title": "P(alive)", "tickformat": ".0%"},
        hovertemplate="%{y} repeat purchases, last one %{x} weeks ago: P(alive) %{z:.0%}<extra></extra>"))
    fig.update_xaxes(title=f"Weeks since the last purchase (first purchase {frame.attrs.get('age_weeks', 0):.0f} "
                           "weeks ago)")
    fig.update_yaxes(title="Repeat purchase days")
    return style_figure(fig, height=320, legend=False)
