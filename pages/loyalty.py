"""Loyalty: loyalty-tier sizes and their change, new / repeat / potential customers, a trend chart with
selectable metrics and grain (brand view or per segment), segment details, and a recommended action per
tier with an exportable audience list."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from components.cards import question_card
from components.charts import chart_frame, empty_figure, style_figure
from components.colours import CLV_COLOURS, SERIES_COLOURS, scheme_colours
from components.formatting import fmt_pct
from components.kpi import kpi_card
from components.state import QUERY_STORE, engine, read_filters
from components.tables import (
    capped,
    column,
    data_table,
    measure_column,
    register_table,
    segment_details_columns,
    table_outputs,
    table_update,
)
from components.trend_chart import Series, trend_figure
from metrics.grains import GRAINS
from metrics.measures.kpis import customer_kpis
from metrics.measures.registry import MEASURES, TREND_MEASURES
from metrics.measures.repeat import REPEAT_MEASURES, new_repeat_summary_with_change
from metrics.measures.trends import SEGMENT_TREND_METRICS, trend, trend_by_segment
from metrics.models.clv import CLV_CLASSES, clv_by_segment, clv_model_summary, clv_summary
from metrics.segments.clv_audiences import audience_title, segment_clv_audience
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.monthly import label_note
from metrics.segments.tables import audience, audience_preview, segment_details, segment_summary_with_change

dash.register_page(__name__, path="/loyalty", name="Loyalty", order=30,
                   title="Loyalty · Customer Intelligence", segment_filter=True)

TIERS = SCHEME_LABELS["loyalty"]
#: What to do with each loyalty tier (shown next to its audience list).
ACTIONS: dict[str, str] = {
    "Top Tier": "Reward and retain: early access, loyalty perks and referral asks. They buy at full price, "
                "so avoid blanket discounts.",
    "Promising": "Nurture the second and third order: onboarding series, recommendations from their "
                 "preferred category, a small incentive on the next order.",
    "At-Risk": "Win them back before they lapse: personalised reminders and a time-limited offer on the "
               "categories they bought; ask why they stopped.",
    "Hibernating": "Low-cost reactivation: one win-back campaign, then reduce email frequency for those who "
                   "do not respond.",
}

#: The new / repeat / potential cards (Total Customers is on the Executive page).
REPEAT_CARDS = tuple(name for name in REPEAT_MEASURES if name != "customers")

CLV_TABLE = "loyalty-clv-tiers"
CLV_COLUMNS = [
    column("segment", "Tier", pinned=True, width=120),
    column("clv_class", "CLV class", width=120),
    column("customers", "Customers", "int"),
    column("customer_share", "% of tier", "pct"),
    column("last_12m_sales_per_customer", "Last 12 m / customer", "money"),
    column("next_12m_sales_per_customer", "Next 12 m / customer", "money"),
    column("avg_predicted_clv", "Avg predicted CLV", "money"),
    column("predicted_clv", "Predicted CLV (total)", "money"),
    column("predicted_clv_low", "CLV total, 80 % low", "money"),
    column("predicted_clv_high", "CLV total, 80 % high", "money"),
]
register_table(CLV_TABLE, lambda filters: clv_by_segment(engine(), filters, "loyalty"), stem="clv_by_tier",
               columns=CLV_COLUMNS)
SEGMENTS_TABLE = "loyalty-segments"
AUDIENCE_TABLE = "loyalty-audience"
SEGMENT_COLUMNS = segment_details_columns("Tier", width=130)
AUDIENCE_GRID_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    column("is_prime", "Prime"),
    measure_column("orders"),
    measure_column("revenue"),
    column("first_order_date", "First order"),
    column("last_order_date", "Last order"),
    column("recency_days", "Days since last order", "int"),
]
register_table(SEGMENTS_TABLE, lambda filters: segment_details(engine(), filters, "loyalty"),
               stem="loyalty_tier_details", columns=SEGMENT_COLUMNS)
register_table(AUDIENCE_TABLE, lambda filters, tier="At-Risk": audience(engine(), filters, "loyalty", tier),
               stem="audience_loyalty", max_rows=1000, columns=AUDIENCE_GRID_COLUMNS,
               preview=lambda filters, limit, tier="At-Risk": audience_preview(engine(), filters, "loyalty", tier,
                                                                              limit))


CLV_AUDIENCE_TABLE = "loyalty-clv-audience"
CLV_AUDIENCE_COLUMNS = [
    column("customer_id", "Customer", link=True, width=100),
    column("name", "Name", width=150),
    column("country", "Country"),
    measure_column("orders"),
    measure_column("revenue"),
    column("recency_days", "Days since last order", "int"),
    column("last_12m_sales", "Sales, last 12 m", "money"),
    column("predicted_next_12m_sales", "Predicted sales, next 12 m", "money"),
    column("expected_change", "Expected change", "money",
           tooltip="Predicted next 12 months − last 12 months: the largest expected fall first"),
    column("predicted_clv", "Predicted CLV", "money"),
    column("churn_risk", "Churn risk", "pct"),
]
#: The tier × CLV class audience shown first: the tier most worth keeping, declining.
DEFAULT_CLV_AUDIENCE = ("Top Tier", "Declining")
register_table(CLV_AUDIENCE_TABLE,
               lambda filters, tier="Top Tier", clv_class="Declining":
               segment_clv_audience(engine(), filters, "loyalty", tier, clv_class),
               stem="audience_tier_clv", max_rows=500, top=True, columns=CLV_AUDIENCE_COLUMNS,
               preview=lambda filters, limit, tier="Top Tier", clv_class="Declining":
               capped(segment_clv_audience(engine(), filters, "loyalty", tier, clv_class, limit=limit)))


def clv_audience_value(tier: str, clv_class: str) -> str:
    return f"{tier}|{clv_class}"


def clv_audience_options(counts: dict[tuple[str, str], int] | None = None) -> list[dict[str, str]]:
    """Every tier × CLV class, named as an audience ("Declining Top Tier"), with its customer count."""
    return [{"label": audience_title(tier, cls) + ("" if counts is None else f" · {counts.get((tier, cls), 0):,}"),
             "value": clv_audience_value(tier, cls)} for cls in reversed(CLV_CLASSES) for tier in TIERS]


def trend_options(segment_view: bool) -> list[dict[str, str]]:
    """The trend chart's metrics: every one in brand view, those with a segment meaning in segment view."""
    names = SEGMENT_TREND_METRICS if segment_view else TREND_MEASURES
    return [{"label": MEASURES[name].label, "value": name} for name in names]


def layout(**_query: str) -> html.Div:
    trend_controls = html.Div([
        dbc.RadioItems(id="loyalty-view", value="brand", inline=True, className="me-3",
                       options=[{"label": "Brand view", "value": "brand"},
                                {"label": "Segment view", "value": "segment"}]),
        html.Span("Metric", className="small me-1"),
        dcc.Dropdown(id="loyalty-primary", value="revenue", clearable=False, options=trend_options(False),
                     style={"minWidth": "190px"}),
        html.Span("vs", className="small mx-1", id="loyalty-secondary-label"),
        dcc.Dropdown(id="loyalty-secondary", value="customers", clearable=True, placeholder="(none)",
                     options=trend_options(False), style={"minWidth": "190px"}),
        html.Span("Grain", className="small mx-1"),
        dcc.Dropdown(id="loyalty-grain", value="month", clearable=False, style={"minWidth": "120px"},
                     options=[{"label": g.capitalize() + "ly" if g != "day" else g, "value": g} for g in GRAINS]),
    ], className="d-flex align-items-center flex-wrap gap-1")
    return html.Div([
        html.H4("Loyalty", className="page-title"),
        html.P("How loyal the customer base is, how that changes against the preceding period, and what to do "
               "with each loyalty tier.", className="text-muted"),
        html.H6("Loyalty tiers (RFM)", className="mt-2"),
        dcc.Loading(dbc.Row(id="loyalty-tiers", className="row-cols-2 row-cols-lg-4 g-0"), type="dot",
                    delay_show=250),
        html.H6("New, repeat and potential customers", className="mt-3"),
        dcc.Loading(dbc.Row(id="loyalty-repeat", className="row-cols-2 row-cols-md-4 g-0"), type="dot",
                    delay_show=250),
        dbc.Row(dbc.Col(chart_frame("Trend", "How do the chosen metrics develop over time, for the whole brand "
                                    "or per loyalty tier?", "loyalty-trend", height=380,
                                    controls=trend_controls), className="my-3")),
        dbc.Row([
            dbc.Col(question_card("Tier details", "What does each tier bring, and how did that change against "
                                  "the preceding period?",
                                  data_table(SEGMENTS_TABLE, SEGMENT_COLUMNS, height=320), full_height=True),
                    lg=12, className="mb-3"),
        ]),
        dbc.Row([
            dbc.Col(chart_frame("Predictive CLV: growing, maintaining, declining", "Will customers spend more "
                                "next year than last year? Sales per customer, last 12 months vs the model's next "
                                "12 months", "loyalty-clv", height=340), lg=5, className="mb-3"),
            dbc.Col(question_card("CLV by loyalty tier", "Which tiers grow, hold or decline, and what are they worth "
                                  "next year?", data_table(CLV_TABLE, CLV_COLUMNS, height=300), full_height=True),
                    lg=7, className="mb-3"),
        ]),
        dbc.Row(dbc.Col(question_card(
            "Tier × CLV class audiences", "Whom should we reach before their spend falls? Each audience combines a "
            "loyalty tier with its CLV class (e.g. Declining Top Tier: Top Tier customers predicted to spend more than "
            "10 % less in the next 12 months than in the last 12); the count is its customers.",
            [
                dcc.Dropdown(id="loyalty-clv-audience-pick", clearable=False, className="mb-2",
                             value=clv_audience_value(*DEFAULT_CLV_AUDIENCE), options=clv_audience_options(),
                             style={"maxWidth": "360px"}),
                data_table(CLV_AUDIENCE_TABLE, CLV_AUDIENCE_COLUMNS, height=330),
            ]), className="mb-3")),
        dbc.Row(dbc.Col(question_card(
            "Recommended action and audience", "What should we do with each tier, and whom exactly does that reach?",
            [
                dbc.RadioItems(id="loyalty-tier", value="At-Risk", inline=True, className="mb-2",
                               options=[{"label": t, "value": t} for t in TIERS]),
                dbc.Alert(id="loyalty-action", color="info", className="py-2"),
                data_table(AUDIENCE_TABLE, AUDIENCE_GRID_COLUMNS, height=360),
            ]), className="mb-3")),
    ])


@callback(Output("loyalty-tiers", "children"), Output("loyalty-repeat", "children"), *table_outputs(SEGMENTS_TABLE),
          Input(QUERY_STORE, "data"))
def update_tiers(query: str | None):
    eng = engine()
    filters = read_filters(query)
    sizes = segment_summary_with_change(eng, filters, "loyalty").set_index("segment")
    tiers = []
    for tier in sizes.index:  # the focus tier only, when a loyalty tier is in focus
        row = sizes.loc[tier]
        card = kpi_card(f"{tier} · {fmt_pct(row.customer_share)} of customers", row.customers,
                        row.previous_customers, row.delta_pct, "int", tier not in ("Hibernating", "At-Risk"),
                        key=f"tier-{tier}", definition=f"{tier}: customers in the tier now vs the preceding period",
                        accent=scheme_colours("loyalty")[tier])
        tiers.append(dbc.Col(card, className="p-1"))
    changes = new_repeat_summary_with_change(eng, filters).set_index("key")
    repeat_cards = []
    for key in REPEAT_CARDS:
        row = changes.loc[key]
        fmt = row.fmt if row.fmt in ("int", "money", "pct") else "float"
        label = row.label + (" (days)" if row.fmt == "days" else "")
        repeat_cards.append(dbc.Col(kpi_card(label, row.value, row.previous, row.delta_pct, fmt,
                                             bool(row.higher_is_better), key=f"repeat-{key}",
                                             definition=row.definition), className="p-1"))
    return (tiers, repeat_cards, *table_update(SEGMENTS_TABLE, query))


@callback(
    Output("loyalty-trend", "figure"), Output("loyalty-primary", "options"), Output("loyalty-secondary", "options"),
    Input(QUERY_STORE, "data"), Input("loyalty-view", "value"), Input("loyalty-primary", "value"),
    Input("loyalty-secondary", "value"), Input("loyalty-grain", "value"),
)
def update_trend(query: str | None, view: str | None, primary: str | None, secondary: str | None,
                 grain: str | None):
    eng = engine()
    filters = read_filters(query)
    grain = grain if grain in GRAINS else "month"
    segment_view = view == "segment"
    options = trend_options(segment_view)
    allowed = [o["value"] for o in options]
    primary = primary if primary in allowed else allowed[0]
    secondary = secondary if secondary in allowed and secondary != primary else None
    if customer_kpis(eng, filters)["orders"] == 0:
        return empty_figure(height=380), options, options
    chosen = [(primary, False)] + ([(secondary, True)] if secondary else [])
    series = []
    if segment_view:
        colours = scheme_colours("loyalty")
        for name, second in chosen:
            m = MEASURES[name]
            frame = trend_by_segment(eng, filters, name, grain, "loyalty")
            for tier in dict.fromkeys(frame.segment):
                series.append(Series(f"{tier} · {m.label}", frame[frame.segment == tier], m.fmt, colours[tier],
                                     secondary=second, dashed=second))
    else:
        for (name, second), colour in zip(chosen, SERIES_COLOURS, strict=False):
            m = MEASURES[name]
            series.append(Series(m.label, trend(eng, filters, name, grain), m.fmt, colour, secondary=second,
                                 dashed=second))
    fig = trend_figure(series, grain, height=380, y_title=MEASURES[primary].label,
                       y2_title=MEASURES[secondary].label if secondary else "")
    if segment_view and label_note(filters):
        fig.update_xaxes(title=label_note(filters))
    return fig, options, options


@callback(Output("loyalty-action", "children"), *table_outputs(AUDIENCE_TABLE),
          Input(QUERY_STORE, "data"), Input("loyalty-tier", "value"))
def update_audience(query: str | None, tier: str | None):
    focus = read_filters(query).focus
    if focus is not None and focus.scheme == "loyalty":
        tier = focus.label  # the other tiers have nobody in view
    tier = tier if tier in TIERS else "At-Risk"
    action = [html.Strong(f"{tier}: "), ACTIONS[tier]]
    return (action, *table_update(AUDIENCE_TABLE, query, tier=tier))


@callback(Output("loyalty-clv", "figure"), *table_outputs(CLV_TABLE), Input(QUERY_STORE, "data"))
def update_clv(query: str | None):
    eng = engine()
    filters = read_filters(query)
    table = table_update(CLV_TABLE, query)
    if customer_kpis(eng, filters)["orders"] == 0:
        return (empty_figure(height=340), *table)
    model = clv_model_summary(eng, filters)
    if not model["ok"]:
        return (empty_figure(f"No CLV model: {model['message']}"[:120], height=340), *table)
    summary = clv_summary(eng, filters)
    fig = go.Figure()
    fig.add_bar(x=summary.clv_class, y=summary.last_12m_sales_per_customer, name="Last 12 months",
                marker_color="#ADB5BD", hovertemplate="%{x}: %{y:$,.2f} per customer, last 12 months<extra></extra>")
    fig.add_bar(x=summary.clv_class, y=summary.next_12m_sales_per_customer, name="Next 12 months (predicted)",
                marker_color=[CLV_COLOURS[c] for c in summary.clv_class],
                customdata=summary[["customers", "avg_predicted_clv"]],
                hovertemplate="%{x}: %{y:$,.2f} per customer predicted<br>%{customdata[0]:,} customers · avg CLV "
                              "%{customdata[1]:$,.2f}<extra></extra>")
    fig.update_xaxes(categoryorder="array", categoryarray=list(CLV_CLASSES), tickmode="array",
                     tickvals=list(summary.clv_class),
                     ticktext=[f"{c}<br>{fmt_pct(s)} of customers" for c, s in
                               zip(summary.clv_class, summary.customer_share, strict=True)])
    fig.update_yaxes(title="Sales per customer", tickformat="$,.0f")
    return (style_figure(fig, height=340), *table)


@callback(Output("loyalty-clv-audience-pick", "options"), *table_outputs(CLV_AUDIENCE_TABLE),
          Input(QUERY_STORE, "data"), Input("loyalty-clv-audience-pick", "value"))
def update_clv_audience(query: str | None, picked: str | None):
    tier, _, clv_class = (picked if isinstance(picked, str) else "").partition("|")  # any JSON may arrive
    if tier not in TIERS or clv_class not in CLV_CLASSES:
        tier, clv_class = DEFAULT_CLV_AUDIENCE
    counts = clv_by_segment(engine(), read_filters(query), "loyalty")
    sizes = {(r.segment, r.clv_class): int(r.customers) for r in counts.itertuples(index=False)}
    return (clv_audience_options(sizes), *table_update(CLV_AUDIENCE_TABLE, query, tier=tier, clv_class=clv_class))
