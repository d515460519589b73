"""The dashboard without a browser: every page builds, every callback returns figures and tables for the
default and for an empty selection, the filter bar keeps URL and controls in step, exports rebuild the
table's frame, the served HTML loads nothing from outside, and pages do no data work of their own."""

from __future__ import annotations

import ast
import base64
import importlib
import io
import re
from contextvars import copy_context
from datetime import timedelta
from pathlib import Path

import dash
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

from components.colours import scheme_colours
from metrics.engine import Engine
from metrics.export import export_filename
from metrics.filters import Filters
from metrics.measures.kpis import customer_kpis, kpis
from metrics.segments.tables import segment_summary
from metrics.selection import default_filters
from tests.app_support import app_over
from tests.generated import first_empty_day

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILES = sorted((ROOT / "pages").glob("[!_]*.py"))
EMPTY_TEXT = "No orders match these filters"


@pytest.fixture(scope="module")
def app_module(generated_dir: Path):
    """The app over the session's generated data (the engine follows CUSTINTEL_DATA_DIR)."""
    with app_over(generated_dir) as app:
        yield app


@pytest.fixture(scope="module")
def engine(app_module) -> Engine:
    from components.state import engine as app_engine

    return app_engine()


@pytest.fixture(scope="module")
def empty_query(engine: Engine) -> str:
    """A one-day, one-country selection without orders."""
    return first_empty_day(engine).to_query()


def page_module(name: str):
    return importlib.import_module(f"pages.{name}")


def run_with_trigger(fn, prop_ids: list[str], *args, **kwargs):
    """Call a callback that reads ``dash.ctx`` as if ``prop_ids`` had triggered it."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": p, "value": None} for p in prop_ids]))
        return fn(*args, **kwargs)

    return copy_context().run(run)


def figures_in(value) -> list[go.Figure]:
    values = value if isinstance(value, tuple) else (value,)
    return [v for v in values if isinstance(v, go.Figure)]


def figure_text(fig: go.Figure) -> str:
    return " ".join(a.text or "" for a in fig.layout.annotations)


# ----- app shell ------------------------------------------------------------------------------------------

def test_every_page_is_registered_and_its_layout_builds(app_module):
    paths = {page["path"] for page in dash.page_registry.values()}
    assert {"/", "/engagement", "/risk", "/loyalty", "/segmentation", "/customer", "/glossary"} <= paths
    for page in dash.page_registry.values():
        layout = page["layout"]
        component = layout() if callable(layout) else layout
        assert component is not None and page["name"]
    assert page_module("customer").layout(id="12") is not None
    assert page_module("customer").layout(id="<script>") is not None  # an invalid id does not break the layout


def test_served_html_loads_no_external_asset(app_module):
    client = app_module.server.test_client()
    html = client.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/vendor/bootstrap.min.css" in assets
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), f"external asset {asset}"
    assert "https://" not in html.split("<body>")[0].replace('content="', "")
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    css = client.get("/vendor/bootstrap.min.css").get_data(as_text=True)
    assert ".btn" in css and "@import" not in css


def test_health_endpoint(app_module, engine: Engine):
    body = app_module.server.test_client().get("/health").get_json()
    lo, hi = engine.date_bounds()
    assert body["status"] == "ok" and body["data_from"] == lo.isoformat() and body["data_to"] == hi.isoformat()


def test_dash_layout_and_callbacks_answer_through_the_server(app_module):
    client = app_module.server.test_client()
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200


# ----- page callbacks -------------------------------------------------------------------------------------

PAGE_CALLBACKS = {
    "executive": [("update_overview", ()), ("update_segments", ("rfm", "revenue"))],
    "engagement": [("update_segments", ("behaviour",)), ("update_heatmaps", ("revenue",)),
                   ("update_prospects", ()), ("update_cohorts", ())],
    "segmentation": [("update_overview", ()), ("update_performance", ("loyalty", "open_rate")),
                     ("update_performance", ("behaviour", "retention")),
                     ("update_performance", ("prime", "revenue")), ("update_performance", ("rfm", "aov")),
                     ("update_performance", ("income_spending", "segment_size")),
                     ("update_segment_churn", ("loyalty",)), ("update_income", ()), ("update_table", ("age_group",))],
    "loyalty": [("update_tiers", ()), ("update_trend", ("brand", "revenue", "customers", "quarter")),
                ("update_trend", ("segment", "orders", None, "week")),
                ("update_trend", ("segment", "aov", None, "month")), ("update_audience", ("Top Tier",)),
                ("update_clv", ()), ("update_clv_audience", ("Promising|Declining",))],
    "risk": [("update_bubbles", ("rfm",)), ("update_risk", ()), ("update_fit", ()), ("update_scatter", ("rfm",))],
}


@pytest.mark.parametrize(("page", "name", "args"),
                         [(p, n, a) for p, calls in PAGE_CALLBACKS.items() for n, a in calls])
def test_page_callbacks_return_figures_for_default_and_empty_filters(app_module, engine, empty_query, page,
                                                                     name, args):
    fn = getattr(page_module(page), name)
    default = fn(default_filters(engine).to_query(), *args)
    for fig in figures_in(default):
        assert fig.data, f"{page}.{name}: an empty figure for the default filters"
    empty = fn(empty_query, *args)
    for fig in figures_in(empty):
        assert not fig.data and EMPTY_TEXT in figure_text(fig), f"{page}.{name}: no empty state"


def test_page_callbacks_wait_for_the_filter_bar(app_module):
    with pytest.raises(PreventUpdate):
        page_module("executive").update_overview(None)


def test_executive_kpi_cards_show_the_kpis(app_module, engine):
    filters = Filters(*engine.date_bounds(), prime="Prime")
    cards = page_module("executive").update_overview(filters.to_query())[0]
    shown = {}
    for col in cards:
        value_div = col.children.children.children.children[1]  # Col > Card > CardBody > Div > [label, value]
        shown[getattr(value_div, "data-kpi")] = float(getattr(value_div, "data-value"))
    assert shown == pytest.approx(kpis(engine, filters))


def test_prime_donut_under_a_prime_filter_is_a_sentence(app_module, engine):
    lo, hi = engine.date_bounds()
    prime_only = page_module("executive").update_overview(Filters(lo, hi, prime="Prime").to_query())[3]
    assert prime_only.layout.meta["empty"] is True
    assert "Only Prime customers are selected" in figure_text(prime_only)
    both = page_module("executive").update_overview(Filters(lo, hi).to_query())[3]
    assert set(both.data[0].labels) == {"Prime", "Non-Prime"}


def test_kpi_cards_without_data_show_a_dash_except_counts(app_module, engine):
    from tests.generated import first_empty_day

    cards = page_module("executive").update_overview(first_empty_day(engine).to_query())[0]
    texts = {}
    for col in cards:
        value_div = col.children.children.children.children[1]
        texts[getattr(value_div, "data-kpi")] = value_div.children
    assert texts["customers"] == "0" and texts["orders"] == "0"
    assert texts["revenue"] == "—" and texts["aov"] == "—" and texts["repeat_purchase_rate"] == "—"


def test_glossary_search_filters_measures_and_definitions(app_module):
    rows, entries = page_module("glossary").search("repeat purchase rate")
    labels = [row.children[0].children for row in rows]
    assert "Repeat Purchase Rate" in labels and "Total Sales" not in labels
    assert entries and len(page_module("glossary").search("")[0]) > len(rows)


def test_segmentation_ignores_a_segment_filter(app_module, engine):
    filters = default_filters(engine)
    with_segment = filters.with_focus("loyalty", "Top Tier").to_query()
    seg = page_module("segmentation")
    assert seg.update_table(with_segment, "gender")[1] == seg.update_table(filters.to_query(), "gender")[1]


def test_segment_churn_lines_show_each_month_end_and_end_at_the_as_of_value(app_module, engine):
    from metrics.models.churn import churn_by_segment
    from metrics.segments.churn_trend import churn_risk_by_month

    filters = default_filters(engine)
    fig, rows, _state, caption = page_module("segmentation").update_segment_churn(filters.to_query(), "behaviour")
    expected = churn_risk_by_month(engine, filters, "behaviour")
    at_as_of = churn_by_segment(engine, filters, "behaviour").set_index("segment").mean_churn_risk
    for trace in fig.data:
        mine = expected[expected.segment == trace.name]
        assert list(trace.y) == pytest.approx(mine.mean_churn_risk.tolist())
        assert trace.y[-1] == pytest.approx(at_as_of[trace.name])  # the default range starts on the 1st
    assert "month end" in fig.layout.yaxis.title.text and len(rows) == len(expected) and caption


def test_segmentation_income_kpis_are_the_registry_averages(app_module, engine):
    from metrics.measures.registry import measure_values

    filters = default_filters(engine)
    cards, rows, _state, _caption = page_module("segmentation").update_income(filters.to_query())
    shown = {}
    for col in cards:
        value_div = col.children.children.children.children[1]
        shown[getattr(value_div, "data-kpi")] = float(getattr(value_div, "data-value"))
    assert shown == pytest.approx(measure_values(engine, filters, ["avg_annual_income", "avg_spending_score"]))
    assert [r["segment"] for r in rows] == ["VIP", "Underperformers", "Potential Growers", "At Risk"]


def test_loyalty_clv_audience_names_each_combination_with_its_count(app_module, engine):
    from metrics.models.clv import clv_by_segment

    filters = default_filters(engine)
    options, rows, state, caption = page_module("loyalty").update_clv_audience(filters.to_query(), "bogus")
    counts = clv_by_segment(engine, filters, "loyalty").set_index(["segment", "clv_class"]).customers
    labels = {o["value"]: o["label"] for o in options}
    assert labels["Top Tier|Declining"] == f"Declining Top Tier · {counts[('Top Tier', 'Declining')]:,}"
    assert state["params"] == {"tier": "Top Tier", "clv_class": "Declining"}  # a bad pick falls back
    assert len(rows) == min(500, counts[("Top Tier", "Declining")]) and caption


def test_segment_aov_is_drawn_as_lines_not_stacked(app_module, engine):
    from metrics.measures.trends import trend_by_segment

    filters = default_filters(engine)
    fig = page_module("segmentation").update_performance(filters.to_query(), "prime", "aov")
    expected = trend_by_segment(engine, filters, "aov", "month", "prime")
    assert [t.type for t in fig.data] == ["scatter", "scatter"] and fig.layout.barmode is None
    assert list(fig.data[0].y) == pytest.approx(expected[expected.segment == "Prime"].value.tolist())
    loyalty = page_module("loyalty").update_trend(filters.to_query(), "segment", "aov", None, "month")[0]
    assert {t.type for t in loyalty.data} == {"scatter"}


def test_value_loyalty_scatter_says_how_many_customers_it_shows(app_module, engine, monkeypatch):
    from metrics.customer import value_loyalty_points

    risk = page_module("risk")
    filters = default_filters(engine)
    total = int(customer_kpis(engine, filters)["customers"])
    fig, note = risk.update_scatter(filters.to_query(), "behaviour")
    assert sum(len(t.x) for t in fig.data) == total and f"All {total:,} customers" in note
    points = value_loyalty_points(engine, filters, "behaviour", sample=risk.SCATTER_SAMPLE)
    top = points[points.segment == fig.data[0].name]
    assert list(fig.data[0].x) == top.orders.tolist() and list(fig.data[0].y) == pytest.approx(top.revenue.tolist())
    assert fig.data[0].marker.color == scheme_colours("behaviour")[fig.data[0].name]
    monkeypatch.setattr(risk, "SCATTER_SAMPLE", 100)
    fig, note = risk.update_scatter(filters.to_query(), "behaviour")
    assert sum(len(t.x) for t in fig.data) == 100 and f"Showing 100 of {total:,} customers" in note


def test_a_click_on_a_scatter_point_opens_the_customer(app_module):
    risk = page_module("risk")
    click = {"points": [{"x": 3, "y": 120.0, "customdata": [77, 0.4]}]}
    assert risk.open_scatter_customer(click, "start=2023-01-01&end=2023-02-01") == (
        "/customer?id=77&start=2023-01-01&end=2023-02-01")
    for bad in (None, {}, {"points": []}, {"points": [{"customdata": ["x"]}]}):
        with pytest.raises(PreventUpdate):
            risk.open_scatter_customer(bad, "")


# ----- customer page ----------------------------------------------------------------------------------------

def _ids_with(engine, filters, orders: int) -> int:
    from metrics.population import customer_mart_frame

    mart = customer_mart_frame(engine, filters)
    return int(mart[mart.orders >= orders].customer_id.iloc[0])


def _walk(component) -> list:
    """Every component of a Dash tree (children lists included)."""
    out, stack = [], [component]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif hasattr(item, "to_plotly_json"):
            out.append(item)
            stack.append(getattr(item, "children", None))
    return out


def _data(component, attribute: str) -> dict[str, str]:
    """``data-…`` attribute -> text of the components that carry it."""
    return {getattr(c, attribute): str(c.children) for c in _walk(component) if hasattr(c, attribute)}


def test_customer_page_shows_the_profile_with_the_metric_values(app_module, engine):
    from components.formatting import fmt_int, fmt_money
    from metrics.customer import customer_engagement, customer_orders, customer_profile

    filters = default_filters(engine)
    cid = _ids_with(engine, filters, 4)
    out = page_module("customer").update_customer(f"{filters.to_query()}&id={cid}")
    (title, notice, style, finder, card, summary, scores, churn, churn_note, clv, activity, rows, state,
     caption) = out
    profile = customer_profile(engine, filters, cid)
    assert title == f"Customer {cid} · {profile['name']}" and notice is None and style == {}
    assert finder == {"display": "none"}  # the finder is for choosing a customer
    assert profile["name"] in str(card) and profile["city"] in str(card)
    stats = _data(summary, "data-stat")
    assert stats["orders"] == fmt_int(profile["orders"]) and stats["revenue"] == fmt_money(profile["revenue"])
    assert _data(scores, "data-score") == {k: str(profile[f"{k}_score"]) for k in ("r", "f", "m")}
    assert profile["segment_loyalty"] in str(_data(scores, "data-segment")["loyalty"])
    assert churn.data and churn.data[0].value == pytest.approx(round(profile["churn_risk"] * 100, 1))
    assert "P(alive)" in churn_note
    assert _data(clv, "data-stat")["predicted_clv"] == fmt_money(profile["predicted_clv"])
    expected = customer_engagement(engine, filters, cid)
    assert list(activity.data[0].y) == expected.orders.tolist()
    orders = customer_orders(engine, filters, cid)
    assert [r["order_id"] for r in rows] == orders.order_id.tolist() and state["params"] == {"customer_id": cid}
    assert caption == f"{len(orders)} rows"


def test_customer_orders_export_has_the_customer_orders(app_module, engine):
    from components import tables
    from metrics.customer import customer_orders

    filters = default_filters(engine)
    cid = _ids_with(engine, filters, 2)
    _rows, state, _ = tables.table_update("customer-orders", filters.to_query(), customer_id=cid)
    sent, notice = run_with_trigger(tables.export_table,
                                    ['{"index":"customer-orders","type":"table-export"}.n_clicks'], 1, None, state)
    orders = customer_orders(engine, filters, cid)
    csv = pd.read_csv(io.StringIO(sent["content"].removeprefix("\ufeff")))
    assert sent["content"].startswith("\ufeff") and notice == ""
    assert list(csv.columns)[:3] == ["Date", "Order", "Product"]
    assert csv["Order"].tolist() == orders.order_id.tolist()
    assert csv["Net revenue"].tolist() == orders.net_revenue.round(2).tolist()
    assert sent["filename"] == export_filename(f"customer_orders_{cid}", filters.describe())


@pytest.mark.parametrize(("suffix", "expected_notice", "content_shown"), [
    ("", "Choose a customer", False),
    ("&id=abc", "is not a customer id", False),
    ("&id=-5", "is not a customer id", False),
    ("&id=999999999999", "There is no customer 999999999999", False),
])
def test_customer_page_explains_missing_or_bad_ids(app_module, engine, suffix, expected_notice, content_shown):
    out = page_module("customer").update_customer(default_filters(engine).to_query() + suffix)
    notice, style, finder = out[1], out[2], out[3]
    assert expected_notice in str(notice.children)
    assert (style == {}) is content_shown and finder == {}  # the finder offers another customer
    assert not out[7].data and not out[10].data  # empty churn gauge and activity chart, no error


def test_customer_page_for_a_customer_without_orders_in_the_range(app_module, engine, empty_query):
    from metrics.customer import customer_profile

    filters = default_filters(engine)
    prospect = next(i for i in range(1, 5000) if customer_profile(engine, filters, i)["status"] == "no_orders")
    out = page_module("customer").update_customer(f"{filters.to_query()}&id={prospect}")
    assert "has no valid order" in str(out[1].children) and out[2] == {}  # the attributes are still shown
    assert not out[7].data and EMPTY_TEXT in figure_text(out[7])
    empty = page_module("customer").update_customer(f"{empty_query}&id={_ids_with(engine, filters, 1)}")
    assert not empty[7].data and not empty[10].data


def test_a_typed_customer_id_opens_its_profile_through_the_url(app_module):
    customer = page_module("customer")
    query = "start=2023-01-01&end=2023-02-01&id=9"
    assert customer.go_to_customer(42, query) == ("/customer?id=42&start=2023-01-01&end=2023-02-01", False)
    assert customer.go_to_customer("42", None) == ("/customer?id=42", False)
    assert customer.go_to_customer(4.5, query) == (dash.no_update, True)
    assert customer.go_to_customer(9, query) == (dash.no_update, False)  # already shown
    with pytest.raises(PreventUpdate):
        customer.go_to_customer(None, query)


# ----- filter bar -----------------------------------------------------------------------------------------

def test_filter_bar_reads_the_url_and_corrects_invalid_values(app_module, engine):
    from components import filter_bar

    default = default_filters(engine)
    end_date = (default.end - timedelta(days=31)).isoformat()  # after the default start
    out = run_with_trigger(filter_bar.sync_filters, ["url.search"],
                           f"?start=2023-02-30&end={end_date}&prime=Gold&country=Atlantis&id=7",
                           None, None, "All", [], None, None, 0)
    search, query, start, end, prime, countries, _scheme, _segment, _options, notices, _period = out
    assert search == f"?{query}" and query.endswith("&id=7")
    assert (start, end, prime, countries) == (default.start.isoformat(), end_date, "All", [])
    assert notices is not None and "corrected" in str(notices)


def test_filter_bar_writes_controls_to_the_url(app_module, engine):
    from components import filter_bar

    country = engine.countries()[0]
    out = run_with_trigger(filter_bar.sync_filters, ["filter-prime.value"], "?start=2023-01-01&end=2023-12-31",
                           "2023-01-01", "2023-12-31", "Prime", [country], "loyalty", "Top Tier", 0)
    expected = Filters("2023-01-01", "2023-12-31", "Prime", (country,)).with_focus("loyalty", "Top Tier").to_query()
    assert out[0] == f"?{expected}" and out[1] == expected and out[9] is None

    changed_scheme = run_with_trigger(filter_bar.sync_filters, ["filter-scheme.value"], f"?{expected}",
                                      "2023-01-01", "2023-12-31", "Prime", [country], "rfm", "Top Tier", 0)
    assert "scheme" not in changed_scheme[1] and changed_scheme[7] is None  # a new scheme clears the label
    assert {o["value"] for o in changed_scheme[8]} >= {"Champions", "Lost"}

    reset = run_with_trigger(filter_bar.sync_filters, ["filter-reset.n_clicks"], f"?{expected}&id=3",
                             "2023-01-01", "2023-12-31", "Prime", [country], "loyalty", "Top Tier", 1)
    assert reset[1] == f"{default_filters(engine).to_query()}&id=3"


def test_filter_bar_period_presets_set_the_url_dates_and_hand_set_dates_show_custom(app_module, engine):
    from components import filter_bar
    from metrics.periods import CUSTOM, period_presets

    presets = {p.key: p for p in period_presets(*engine.date_bounds())}
    default = default_filters(engine)
    start, end = default.start.isoformat(), default.end.isoformat()
    url = f"?{Filters(default.start, default.end, 'Prime').to_query()}&id=3"
    year = presets["2023"]

    def sync(trigger: str, search: str, start: str, end: str, period: str | None):
        return run_with_trigger(filter_bar.sync_filters, [trigger], search, start, end, "Prime", [], None, None, 0,
                                period)

    # picking a preset writes its two dates (and nothing else new) to the URL and to the date picker
    out = sync("filter-period.value", url, start, end, "2023")
    expected = f"{Filters(year.start, year.end, 'Prime').to_query()}&id=3"
    assert out[0] == f"?{expected}" and out[1] == expected
    assert (out[2], out[3]) == ("2023-01-01", "2023-12-31") and out[10] is dash.no_update
    last30 = presets["last-30-days"]
    out = sync("filter-period.value", url, start, end, "last-30-days")
    assert out[1] == f"{Filters(last30.start, last30.end, 'Prime').to_query()}&id=3"

    # dates set by hand show "Custom", unless they are exactly a preset's
    out = sync("filter-dates.end_date", f"?{expected}", "2023-01-01", "2023-12-30", "2023")
    assert out[1].startswith("start=2023-01-01&end=2023-12-30") and out[10] == CUSTOM
    out = sync("filter-dates.end_date", "?start=2023-01-01&end=2023-12-30", "2023-01-01", "2023-12-31", CUSTOM)
    assert out[10] == "2023"

    # a link (or the back button) sets the dropdown from the dates; the defaults are "Last 12 months"
    out = sync("url.search", f"?start={last30.start}&end={last30.end}", start, end, "last-12-months")
    assert out[10] == "last-30-days"
    out = sync("url.search", "?start=2023-02-01&end=2023-03-01", start, end, "last-12-months")
    assert out[10] == CUSTOM
    reset = run_with_trigger(filter_bar.sync_filters, ["filter-reset.n_clicks"], f"?{expected}", "2023-01-01",
                             "2023-12-31", "Prime", [], None, None, 1, "2023")
    assert reset[1] == f"{default.to_query()}&id=3" and reset[10] == "last-12-months"

    # a picked preset stays shown when an earlier one covers the same days; a link shows the first match
    twin = next((p for p in presets.values() if p.key != "last-12-months" and (p.start, p.end) == (
        default.start, default.end)), None)
    if twin is not None:  # the generated data end on 31 December: that year is the last 12 months
        out = sync("filter-period.value", url, "2023-01-01", "2023-12-31", twin.key)
        assert (out[2], out[3]) == (start, end) and out[10] is dash.no_update
        assert sync("url.search", f"?start={start}&end={end}", start, end, twin.key)[10] == twin.key
        assert sync("url.search", f"?start={start}&end={end}", start, end, CUSTOM)[10] == "last-12-months"

    # "Custom" or an unknown key (only a tampered client can send them) leave the dates alone
    for bogus in (CUSTOM, "1999", None):
        out = sync("filter-period.value", "?start=2023-01-01&end=2023-12-31", "2023-01-01", "2023-12-31", bogus)
        assert out[1] == "start=2023-01-01&end=2023-12-31&prime=Prime" and out[10] == "2023"


def test_navbar_links_carry_filters_but_not_page_keys(app_module):
    from components import filter_bar

    def run():
        context_value.set(AttributeDict(triggered_inputs=[], outputs_list=[
            {"id": {"type": "nav-link", "index": "/"}, "property": "href"},
            {"id": {"type": "nav-link", "index": "/loyalty"}, "property": "href"}]))
        return filter_bar.carry_query("start=2023-01-01&end=2023-02-01&id=5")

    assert copy_context().run(run) == ["/?start=2023-01-01&end=2023-02-01", "/loyalty?start=2023-01-01&end=2023-02-01"]


# ----- tables ---------------------------------------------------------------------------------------------

def test_csv_export_rebuilds_the_frame_the_table_shows(app_module, engine):
    from components import tables

    filters = Filters(*engine.date_bounds(), prime="Non-Prime")
    rows, state, _caption = tables.table_update("executive-segments", filters.to_query(), scheme="rfm")
    expected = segment_summary(engine, filters, "rfm")
    assert [r["segment"] for r in rows] == list(expected.segment)
    sent, _ = run_with_trigger(tables.export_table,
                               ['{"index":"executive-segments","type":"table-export"}.n_clicks'], 1, None, state)
    assert sent["filename"] == export_filename("segment_summary_rfm", filters.describe())
    csv = pd.read_csv(io.StringIO(sent["content"].removeprefix("\ufeff")))
    # the grid's headers and columns, values as displayed: shares in percent to 0.1, money to cents
    assert list(csv.columns) == ["Segment", "Total Customers", "% of customers", "Total Orders", "Total Sales",
                                 "% of sales", "Average Order Value", "Sales per Customer (LTV)",
                                 "Repeat Purchase Rate (%)", "Avg Days Since Last Order", "Avg churn risk (%)",
                                 "High churn risk (%)"]
    assert csv["Segment"].tolist() == expected.segment.tolist()
    assert csv["% of customers"].tolist() == [round(v * 100, 1) for v in expected.customer_share]
    assert csv["Total Sales"].tolist() == [round(v, 2) for v in expected.revenue]
    assert csv["Total Customers"].tolist() == expected.customers.tolist()

    xlsx, _ = run_with_trigger(tables.export_table,
                               ['{"index":"executive-segments","type":"table-export-xlsx"}.n_clicks'], None, 1, state)
    assert xlsx["filename"] == export_filename("segment_summary_rfm", filters.describe(), "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(xlsx["content"]))).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(csv.columns)
    assert [r[1] for r in values[1:]] == expected.customers.tolist()
    assert all(isinstance(r[4], float) for r in values[1:])
    assert sheet.cell(row=2, column=5).number_format == "#,##0.00"


def test_every_registered_table_fills_for_default_and_empty_filters(app_module, engine, empty_query):
    from components import tables

    for table_id in list(tables._TABLES):
        rows, state, caption = tables.table_update(table_id, default_filters(engine).to_query())
        assert isinstance(rows, list) and state["query"] and caption
        empty_rows, _, _ = tables.table_update(table_id, empty_query)
        assert isinstance(empty_rows, list)


def test_a_customer_id_click_opens_the_profile_with_the_filters(app_module):
    from components import tables

    click = {"value": 42, "colId": "customer_id", "rowIndex": 0}

    def run(value):
        context_value.set(AttributeDict(triggered_inputs=[
            {"prop_id": '{"index":"t","type":"data-table"}.cellClicked', "value": value}]))
        return tables.open_customer([value], "start=2023-01-01&end=2023-02-01&id=9")

    assert copy_context().run(run, click) == "/customer?id=42&start=2023-01-01&end=2023-02-01"
    with pytest.raises(PreventUpdate):
        copy_context().run(run, {"value": "x", "colId": "name"})


# ----- static rules -----------------------------------------------------------------------------------------

FORBIDDEN_MODULES = {"ibis", "duckdb", "sqlalchemy", "pyspark", "sqlite3"}
FORBIDDEN_CALLS = {"groupby", "group_by", "aggregate", "agg", "pivot_table", "resample", "execute", "sql",
                   "sum", "mean", "median", "cumsum", "value_counts", "merge"}


#: service/ modules that drive the app rather than query data (they were in components/); the CLI's
#: validate command counts rows with engine queries itself, so service/cli.py is not held to the rule.
SERVICE_FILES = [p for p in sorted((ROOT / "service").glob("[!_]*.py")) if p.name != "cli.py"]


@pytest.mark.parametrize("path", [*PAGE_FILES, *sorted((ROOT / "components").glob("[!_]*.py")), *SERVICE_FILES],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pages_and_components_do_no_data_work(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            names = set()
        assert not names & FORBIDDEN_MODULES, f"{path.name} imports {names & FORBIDDEN_MODULES}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls .{node.func.attr}()"
