"""Customer profile: one customer's details, order history, scores, churn risk and CLV (``/customer?id=…``),
reached by clicking a customer id in any table."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from components.state import QUERY_STORE, parse_query

dash.register_page(__name__, path="/customer", name="Customer", order=50,
                   title="Customer · Customer Intelligence", segment_filter=False)


def layout(id: str | None = None, **_query: str) -> html.Div:
    return html.Div([
        html.H4("Customer", className="page-title", id="customer-title"),
        html.P("One customer's profile, order history, scores, churn risk and lifetime value. Open it by "
               "clicking a customer id in any table, or enter an id.", className="text-muted"),
        dbc.InputGroup([
            dbc.InputGroupText("Customer id"),
            dbc.Input(id="customer-id-input", type="number", min=1, step=1, value=id, debounce=True),
        ], className="mb-3", style={"maxWidth": "320px"}),
        dcc.Loading(html.Div(id="customer-body"), delay_show=250),
    ])


@callback(Output("customer-title", "children"), Output("customer-body", "children"),
          Input(QUERY_STORE, "data"), Input("customer-id-input", "value"))
def update_customer(query: str | None, typed_id: object):
    state = parse_query(query or "")
    raw = typed_id if typed_id not in (None, "") else state.page_param("id")
    try:
        customer_id = int(str(raw))
    except (TypeError, ValueError):
        return "Customer", html.Div("Choose a customer: click an id in any table or type one above.",
                                    className="empty-state")
    body = dbc.Card(dbc.CardBody(html.Div(
        "The per-customer profile metrics (details, order history, RFM scores, churn risk, CLV) are not "
        "available yet.", className="empty-state")), className="shadow-sm")
    return f"Customer {customer_id}", body
