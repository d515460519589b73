"""In the browser: a segment focus shows 100 % of its label, and the Loyalty trend chart draws every metric.

Expected values come from the metrics on the same data, so the page must show exactly what they compute.
"""

from __future__ import annotations

from datetime import date

import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.grains import GRAINS
from metrics.measures.registry import MEASURES, TREND_MEASURES
from metrics.measures.trends import SEGMENT_TREND_METRICS
from metrics.segments.tables import segment_summary
from tests.browser.dashboard import assert_no_errors, choose, open_page, settle

playwright_api = pytest.importorskip("playwright.sync_api")

YEAR = Filters(date(2024, 1, 1), date(2024, 12, 31))
TOP = YEAR.with_focus("loyalty", "Top Tier")


def grid(table_id: str) -> str:
    """The CSS selector of a registered table's grid (Dash renders its dict id as sorted JSON)."""
    return f"""[id='{{"index":"{table_id}","type":"data-table"}}']"""


def grid_column(page, table_id: str, field: str) -> list[str]:
    """The texts of one column of an AG Grid (the rows the browser shows)."""
    return page.eval_on_selector_all(f"{grid(table_id)} .ag-row [col-id='{field}']",
                                     "els => els.map(e => e.textContent.trim())")


def figure(page, graph_id: str) -> dict:
    """The traces and layout Plotly drew for a dcc.Graph."""
    return page.evaluate(
        """id => { const el = document.getElementById(id).querySelector('.js-plotly-plot');
                   return {data: el.data.map(t => ({name: t.name, type: t.type || 'scatter', x: t.x, y: t.y,
                                                     yaxis: t.yaxis || 'y'})),
                           annotations: (el.layout.annotations || []).map(a => a.text),
                           xtype: el._fullLayout.xaxis.type}; }""", graph_id)


def test_executive_and_loyalty_with_top_tier_show_only_top_tier(page, app_url, generated_engine: Engine):
    top_customers = int(segment_summary(generated_engine, YEAR, "loyalty").set_index("segment").customers["Top Tier"])

    open_page(page, f"{app_url}/?{TOP.to_query()}")
    page.wait_for_selector(f"{grid('executive-segments')} .ag-row")
    assert grid_column(page, "executive-segments", "segment") == ["Top Tier"]
    assert grid_column(page, "executive-segments", "customer_share") == ["100.0%"]
    assert grid_column(page, "executive-segments", "customers") == [f"{top_customers:,}"]
    matrix = figure(page, "executive-matrix")
    assert set(matrix["data"][0]["y"]) == {"Top Tier"}
    assert_no_errors(page)

    open_page(page, f"{app_url}/loyalty?{TOP.to_query()}")
    page.wait_for_selector(f"{grid('loyalty-segments')} .ag-row")
    tiers = page.eval_on_selector_all("#loyalty-tiers [data-kpi]", "els => els.map(e => e.dataset.kpi)")
    assert tiers == ["tier-Top Tier"]
    assert "100.0 % of customers" in page.locator("#loyalty-tiers").text_content()
    assert grid_column(page, "loyalty-segments", "segment") == ["Top Tier"]
    assert grid_column(page, "loyalty-segments", "revenue_share") == ["100.0%"]
    assert set(grid_column(page, "loyalty-clv-tiers", "segment")) == {"Top Tier"}
    page.wait_for_selector(f"{grid('loyalty-audience')} .ag-row")
    assert page.locator("#loyalty-action").inner_text().startswith("Top Tier")
    assert_no_errors(page)


def _trend(page) -> dict:
    settle(page)
    return figure(page, "loyalty-trend")


def test_trend_chart_draws_every_metric_as_primary_and_secondary_at_every_grain(page, app_url):
    open_page(page, f"{app_url}/loyalty?{YEAR.to_query()}")
    page.wait_for_selector("#loyalty-trend .js-plotly-plot")
    labels = {name: MEASURES[name].label for name in TREND_MEASURES}
    for name in TREND_MEASURES:  # brand view, each as primary (with the default secondary)
        choose(page, "loyalty-primary", labels[name])
        fig = _trend(page)
        assert fig["data"][0]["name"] == labels[name] and fig["xtype"] == "category"
        assert len(fig["data"][0]["x"]) == 12  # the months of 2024
    choose(page, "loyalty-primary", labels["revenue"])
    for name in TREND_MEASURES:
        if name == "revenue":
            continue
        choose(page, "loyalty-secondary", labels[name])
        second = [t for t in _trend(page)["data"] if t["yaxis"] == "y2"]
        assert [t["name"] for t in second] == [labels[name]]
    assert_no_errors(page)

    page.locator("#loyalty-view input[value='segment']").check()
    settle(page)
    page.locator("#loyalty-primary").click()
    options = page.locator(".dash-dropdown-content").inner_text()
    page.keyboard.press("Escape")
    assert labels["potential_customers"] not in options  # no segment meaning: brand view only
    for name in SEGMENT_TREND_METRICS:
        choose(page, "loyalty-primary", labels[name])
        fig = _trend(page)
        tiers = {t["name"].split(" · ")[0] for t in fig["data"] if t["yaxis"] == "y"}
        assert tiers == {"Top Tier", "Promising", "At-Risk", "Hibernating"}, name
    choose(page, "loyalty-secondary", labels["repeat_orders"])
    assert any(t["yaxis"] == "y2" for t in _trend(page)["data"])
    assert_no_errors(page)

    page.locator("#loyalty-view input[value='brand']").check()
    settle(page)
    for grain in GRAINS:
        choose(page, "loyalty-grain", grain.capitalize() + "ly")
        fig = _trend(page)
        expected = {"week": 53, "month": 12, "quarter": 4, "year": 1}[grain]  # 2024 starts on a Monday
        assert len(fig["data"][0]["x"]) == expected, grain
        if grain == "year":  # one period: bars and a note, not a lone dot on a time axis
            assert {t["type"] for t in fig["data"]} == {"bar"}
            assert any("single year" in text for text in fig["annotations"])
            assert fig["data"][0]["x"] == ["2024"]
        elif grain == "week":  # the last week of 2024 runs into 2025
            assert fig["data"][0]["x"][-1].endswith("(partial)")
    assert_no_errors(page)
