"""Customer profile: one customer's details, scores, churn risk, lifetime value, monthly activity and order
history (``/customer?id=…``), reached by clicking a customer id in any table (the filters are kept).

The customer id comes from the URL (or the id box, which writes it to the URL) and is checked by
:func:`metrics.customer.parse_customer_id` before any query: anything else than a whole number from 1 to
999,999,999,999 gives a notice, never an error. The page compares one customer with all customers of the
range, so a segment filter does not apply here (the segment selector is hidden).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.cards import question_card
from components.charts import EMPTY_MESSAGE, chart_frame, empty_figure, gauge, style_figure
from components.colours import CLV_COLOURS, RISK_COLOURS, SERIES_COLOURS, segment_colour
from components.formatting import fmt_int, fmt_money, fmt_number, fmt_pct
from components.state import NAV_ID, QUERY_STORE, engine, link_query, parse_query
from components.tables import capped, column, data_table, register_table, table_outputs, table_update
from metrics.customer import (
    MAX_CUSTOMER_ID,
    customer_engagement,
    customer_orders,
    customer_profile,
    customer_search,
    parse_customer_id,
)
from metrics.models.churn import HIGH_RISK_FROM
from metrics.segments.labels import SCHEME_TITLES
from metrics.segments.rules import segment_column

dash.register_page(__name__, path="/customer", name="Customer", order=50,
                   title="Customer · Customer Intelligence", segment_filter=False, data_page=False)

ORDERS_TABLE = "customer-orders"
ORDER_GRID_COLUMNS = [
    column("order_ts", "Date", width=110),
    column("order_id", "Order", width=90),
    column("product_name", "Product", width=160),
    column("category", "Category"),
    column("quantity", "Qty", "int", width=70),
    column("gross_amount", "Gross", "money"),
    column("discount_amount", "Discount", "money"),
    column("net_revenue", "Net revenue", "money"),
    column("channel", "Channel"),
    column("payment_method", "Payment"),
    column("is_returned", "Returned", width=90),
    column("is_cancelled", "Cancelled", width=90),
    column("is_valid", "Counts as a sale", width=110,
           tooltip="Neither returned nor cancelled the same day: only these orders count in sales"),
]
register_table(ORDERS_TABLE, lambda filters, customer_id=None: customer_orders(engine(), filters, customer_id),
               stem="customer_orders", use_segment=False, columns=ORDER_GRID_COLUMNS)
INPUT_ID, TITLE, NOTICE, CONTENT = "customer-id-input", "customer-title", "customer-notice", "customer-content"
FINDER, SEARCH_INPUT, SEARCH_TABLE = "customer-finder", "customer-search-input", "customer-search"
SEARCH_GRID_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=170),
    column("country", "Country"),
    column("orders", "Orders", "int"),
    column("revenue", "Revenue", "money"),
]
register_table(SEARCH_TABLE, lambda filters, text="": customer_search(engine(), filters, text, limit=None),
               stem="customer_search", use_segment=False, columns=SEARCH_GRID_COLUMNS, max_rows=50, top=True,
               preview=lambda filters, limit, text="": capped(customer_search(engine(), filters, text, limit)))
#: Segment colours light enough to need dark text on a badge.
_LIGHT = {"#88CCEE", "#DDCC77", "#BBBBBB", "#999933", "#44AA99", "#E69F00", "#56B4E9"}


def layout(id: str | None = None, **_query: str) -> html.Div:
    typed = parse_customer_id(id)
    return html.Div([
        html.H4("Customer", className="page-title", id=TITLE),
        html.P("One customer's profile, scores, churn risk, lifetime value, monthly activity and order history in "
               "the selected range. Open it by clicking a customer id in any table, or enter an id.",
               className="text-muted"),
        dbc.InputGroup([
            dbc.InputGroupText("Customer id"),
            dbc.Input(id=INPUT_ID, type="number", min=1, max=MAX_CUSTOMER_ID, step=1, debounce=True,
                      value=typed, placeholder="e.g. 42"),
            dbc.FormFeedback(f"A customer id is a whole number from 1 to {MAX_CUSTOMER_ID:,}.", type="invalid"),
        ], className="mb-3 has-validation", style={"maxWidth": "360px"}),
        html.Div(id=NOTICE),
        html.Div(question_card(
            "Find a customer", "Whom do you want to look at? Type an id's first digits or part of a name; the "
            "list starts with the customers with the most revenue in the range. Click an id to open the profile.",
            html.Div([dbc.Input(id=SEARCH_INPUT, type="search", placeholder="id or name, e.g. 123 or Miller",
                                debounce=0.3, className="mb-2", autoComplete="off", style={"maxWidth": "360px"}),
                      data_table(SEARCH_TABLE, SEARCH_GRID_COLUMNS, height=330)])),
            id=FINDER, className="mb-3", style={"display": "none"}),
        dcc.Loading(html.Div([
            dbc.Row([
                dbc.Col(dbc.Card([dbc.CardHeader(html.H6("Profile", className="mb-0")),
                                  dbc.CardBody(id="customer-profile")], className="shadow-sm h-100"),
                        lg=4, className="mb-3"),
                dbc.Col(question_card("Orders in the range", "How much and how recently does this customer buy?",
                                      body_id="customer-summary", full_height=True), lg=4, className="mb-3"),
                dbc.Col(question_card("Scores and segments", "Where does this customer sit among all customers of "
                                      "the range?", body_id="customer-scores", full_height=True),
                        lg=4, className="mb-3"),
            ]),
            dbc.Row([
                dbc.Col(chart_frame("Churn risk", "How likely is it that this customer has stopped buying? "
                                    "(1 − P(alive) from the purchase model in use, on the whole history)",
                                    "customer-churn", height=260,
                                    footer=html.Span(id="customer-churn-note")), lg=4, className="mb-3"),
                dbc.Col(question_card("Lifetime value", "What will this customer spend in the next 12 months, and "
                                      "is that more or less than in the last 12?", body_id="customer-clv",
                                      full_height=True), lg=8, className="mb-3"),
            ]),
            dbc.Row(dbc.Col(chart_frame("Monthly activity", "When did this customer order, visit the web site and "
                                        "open our emails?", "customer-activity", height=320), className="mb-3")),
            dbc.Row(dbc.Col(question_card(
                "Order history", "Every order in the range, returned and same-day-cancelled ones included and "
                "flagged.", data_table(ORDERS_TABLE, ORDER_GRID_COLUMNS, height=380)), className="mb-3")),
        ], id=CONTENT, style={"display": "none"}), delay_show=250),
    ])


@callback(Output(NAV_ID, "href", allow_duplicate=True), Output(INPUT_ID, "invalid"),
          Input(INPUT_ID, "value"), State(QUERY_STORE, "data"), prevent_initial_call=True)
def go_to_customer(typed: object, query: str | None):
    """A typed id opens that customer's profile through the URL (so the view can be shared)."""
    if typed in (None, ""):
        raise PreventUpdate
    customer_id = parse_customer_id(typed)
    if customer_id is None:
        return no_update, True
    current = parse_query(query).page_param("id") if query is not None else None
    if current == str(customer_id):
        return no_update, False
    filters_part = link_query(query).lstrip("?")
    return dash.get_relative_path(f"/customer?id={customer_id}" + (f"&{filters_part}" if filters_part else "")), False


def _notice(text: str, colour: str = "info") -> dbc.Alert:
    return dbc.Alert(text, color=colour, className="py-2", id="customer-notice-alert")


def _stat(label: str, value: str, key: str) -> html.Div:
    return html.Div([html.Div(label, className="small text-muted text-uppercase"),
                     html.Div(value, className="fs-5 fw-semibold", **{"data-stat": key})], className="mb-2")


def _badge(text: str, colour: str, title: str = "") -> html.Span:
    return html.Span(text, className="badge rounded-pill me-1 mb-1", title=title or text,
                     style={"backgroundColor": colour, "color": "#212529" if colour.upper() in _LIGHT else "#fff"})


def _date(value) -> str:
    return value.isoformat() if value is not None else "—"


def profile_card(p: dict) -> list:
    def row(label: str, value: str) -> html.Tr:
        return html.Tr([html.Th(label, className="fw-normal text-muted pe-3"), html.Td(value)])

    prime = _badge("Prime", segment_colour("Prime")) if p["is_prime"] else _badge("Non-Prime",
                                                                                   segment_colour("Non-Prime"))
    return [
        html.H5([p["name"] or "—", " ", prime], className="mb-1", id="customer-name"),
        html.Div(f"Customer {p['customer_id']}", className="small text-muted mb-2"),
        dbc.Table(html.Tbody([
            row("Country", f"{p['country']} · {p['city']}"),
            row("Gender, age", f"{p['gender']}, {p['age']} ({p['age_group']})"),
            row("Signed up", _date(p["signup_date"])),
            row("Annual income", fmt_money(p["annual_income"])),
            row("Spending score", f"{p['spending_score']} / 100"),
            row("Preferred category", p["preferred_category"] or "—"),
            row("Acquired through", p["acquisition_channel"] or "—"),
        ]), size="sm", borderless=True, className="mb-0 small"),
    ]


def summary_block(p: dict) -> list:
    if p["status"] != "ok":
        return [html.Div("No valid order in the selected range.", className="empty-state")]
    return [dbc.Row([
        dbc.Col([_stat("Orders", fmt_int(p["orders"]), "orders"),
                 _stat("Revenue", fmt_money(p["revenue"]), "revenue"),
                 _stat("Average order value", fmt_money(p["aov"]), "aov")], width=6),
        dbc.Col([_stat("First order", _date(p["first_order_date"]), "first_order_date"),
                 _stat("Last order", _date(p["last_order_date"]), "last_order_date"),
                 _stat("Days since last order", fmt_int(p["recency_days"]), "recency_days")], width=6),
    ]), html.Small(
        ("New customer: first order ever in this range." if p["is_new"] else
         f"Customer since their first order on {_date(p['first_order_ever'])}.") +
        f" Discount share {fmt_pct(p['discount_share'])}.", className="text-muted")]


def scores_block(p: dict) -> list:
    if p["status"] != "ok":
        return [html.Div("Scores and segments need a valid order in the range.", className="empty-state")]
    score_help = {"r": "Recency: 5 = among the most recent fifth of buyers",
                  "f": "Frequency: 5 = among the most frequent fifth",
                  "m": "Monetary: 5 = among the top-spending fifth"}
    scores = html.Div([
        html.Span([html.Span(k.upper(), className="small text-muted me-1"),
                   html.Span(str(p[f"{k}_score"]), className="badge bg-dark fs-6 me-3", title=score_help[k],
                             **{"data-score": k})])
        for k in ("r", "f", "m")
    ], className="mb-3")
    rows = [html.Tr([html.Th(title, className="fw-normal text-muted pe-3 small"),
                     html.Td(_badge(p[segment_column(scheme)], segment_colour(p[segment_column(scheme)], scheme)),
                             **{"data-segment": scheme})])
            for scheme, title in SCHEME_TITLES.items()]
    return [scores, dbc.Table(html.Tbody(rows), size="sm", borderless=True, className="mb-0")]


def churn_figure(p: dict) -> tuple[go.Figure, str]:
    if p["status"] != "ok":
        return empty_figure(EMPTY_MESSAGE, height=260), ""
    if p["churn_risk"] is None:
        return empty_figure("No churn model for this selection", height=260), p["churn_message"]
    fig = gauge(p["churn_risk"], HIGH_RISK_FROM, higher_is_better=False, height=260,
                target_label=f"high risk from {HIGH_RISK_FROM:.0%}")
    fig.update_traces(gauge={"bar": {"color": RISK_COLOURS[p["risk_band"]]}})
    note = f"P(alive) {fmt_pct(p['p_alive'])} · {p['risk_band']} risk band (Low < 30 % ≤ Medium < 70 % ≤ High)."
    if p.get("next_purchase_date") is not None:
        note += f" If still active, next purchase expected by {str(p['next_purchase_date'])[:10]}."
    return fig, note


def clv_block(p: dict) -> list:
    if p["status"] != "ok":
        return [html.Div("Lifetime value needs a valid order in the range.", className="empty-state")]
    if p["predicted_clv"] is None:
        return [html.Div(f"No CLV model: {p['clv_message'] or p['churn_message']}", className="empty-state")]
    cls = p["clv_class"]
    return [dbc.Row([
        dbc.Col([_stat("Predicted CLV (next 12 months)", fmt_money(p["predicted_clv"]), "predicted_clv"),
                 html.Div(_clv_interval(p), className="small text-muted mb-1", **{"data-stat": "clv_interval"}),
                 html.Div(_badge(cls, CLV_COLOURS.get(cls, "#555555"),
                                 "Growing / Declining: predicted next-12-month sales more than 10 % above / below the "
                                 "last 12 months"), **{"data-stat": "clv_class"})], md=4),
        dbc.Col([_stat("Expected purchases (12 m)", fmt_number(p["expected_purchases_12m"], 2),
                       "expected_purchases_12m"),
                 _stat("Expected order value", fmt_money(p["expected_order_value"]), "expected_order_value")], md=4),
        dbc.Col([_stat("Sales, last 12 months", fmt_money(p["last_12m_sales"]), "last_12m_sales"),
                 _stat("Sales, next 12 months (predicted)", fmt_money(p["predicted_next_12m_sales"]),
                       "predicted_next_12m_sales")], md=4),
    ]), html.Small("Expected purchases (the purchase model in use) × expected order value (Gamma-Gamma), from "
                   "the customer's whole history up to the as-of date; the last 12 months end at that date.",
                   className="text-muted")]


def _clv_interval(p: dict) -> str:
    low, high = p.get("predicted_clv_low"), p.get("predicted_clv_high")
    if low is None or high is None or low != low:  # NaN: no parameter covariance
        return ""
    return f"80 % interval {fmt_money(low)} – {fmt_money(high)} (from the models' parameter uncertainty)"


def activity_figure(frame) -> go.Figure:
    if frame.empty:
        return empty_figure("No orders or engagement in the selected range", height=320)
    fig = go.Figure()
    fig.add_bar(x=frame.month, y=frame.orders, name="Orders", marker_color=SERIES_COLOURS[0],
                customdata=frame[["revenue"]],
                hovertemplate="%{x|%b %Y}: %{y} orders, %{customdata[0]:$,.2f}<extra></extra>")
    for col, label, colour in (("web_visits", "Web visits", SERIES_COLOURS[1]),
                               ("emails_opened", "Emails opened", SERIES_COLOURS[2]),
                               ("cart_abandons", "Cart abandons", SERIES_COLOURS[3])):
        fig.add_scatter(x=frame.month, y=frame[col], name=label, mode="lines+markers", yaxis="y2",
                        line={"color": colour, "width": 2},
                        hovertemplate=f"%{{x|%b %Y}}: %{{y}} {label.lower()}<extra></extra>")
    fig.update_yaxes(title="Orders", rangemode="tozero", tickformat=",.0f")
    fig.update_layout(yaxis2={"title": "Visits, opens, abandons", "overlaying": "y", "side": "right",
                              "showgrid": False, "rangemode": "tozero", "tickformat": ",.0f"})
    return style_figure(fig, height=320)


@callback(
    Output(TITLE, "children"), Output(NOTICE, "children"), Output(CONTENT, "style"), Output(FINDER, "style"),
    Output("customer-profile", "children"), Output("customer-summary", "children"),
    Output("customer-scores", "children"), Output("customer-churn", "figure"),
    Output("customer-churn-note", "children"), Output("customer-clv", "children"),
    Output("customer-activity", "figure"), *table_outputs(ORDERS_TABLE),
    Input(QUERY_STORE, "data"),
)
def update_customer(query: str | None):
    if query is None:
        raise PreventUpdate
    state = parse_query(query)
    filters = state.filters.scope
    raw = state.page_param("id")
    hidden, shown = {"display": "none"}, {}
    nothing = ([], [], [], empty_figure(EMPTY_MESSAGE, height=260), "", [], empty_figure(EMPTY_MESSAGE, height=320))
    if raw is None:
        return ("Customer", _notice("Choose a customer: click an id in any table, type one above or find one "
                                    "below."), hidden, shown, *nothing, *table_update(ORDERS_TABLE, query))
    customer_id = parse_customer_id(raw)
    if customer_id is None:
        return ("Customer", _notice(f"{raw[:40]!r} is not a customer id: ids are whole numbers from 1 to "
                                    f"{MAX_CUSTOMER_ID:,}.", "warning"), hidden, shown, *nothing,
                *table_update(ORDERS_TABLE, query))
    eng = engine()
    p = customer_profile(eng, filters, customer_id)
    table = table_update(ORDERS_TABLE, query, customer_id=customer_id)
    title = f"Customer {customer_id}" + (f" · {p['name']}" if p["name"] else "")
    if p["status"] == "not_found":
        return (title, _notice(p["message"], "warning"), hidden, shown, *nothing, *table)
    notice = None if p["status"] == "ok" else _notice(p["message"])
    churn, churn_note = churn_figure(p)
    activity = activity_figure(customer_engagement(eng, filters, customer_id))
    return (title, notice, shown, hidden, profile_card(p), summary_block(p), scores_block(p), churn, churn_note,
            clv_block(p), activity, *table)


@callback(*table_outputs(SEARCH_TABLE), Input(QUERY_STORE, "data"), Input(SEARCH_INPUT, "value"))
def find_customers(query: str | None, text: str | None):
    """The finder's list: customers whose id starts with, or whose name contains, the typed text."""
    return table_update(SEARCH_TABLE, query, text=(text if isinstance(text, str) else "")[:80])
