"""End-to-end: the real app in a real headless Chromium.

Expected values are computed in this process with the metrics on the same data, so the browser must show
exactly what ``metrics`` computes for the filters the URL holds.
"""

from __future__ import annotations

import math
import re
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from components.kpi import kpi_text
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.kpis import KPI_SPECS, customer_kpis, kpis
from metrics.periods import period_presets
from metrics.population import customer_mart_frame
from metrics.selection import default_filters
from tests.browser.dashboard import (
    add_country,
    assert_no_errors,
    choose,
    control_state,
    current_search,
    current_url,
    kpi_values,
    open_page,
    set_dates,
    set_prime,
    settle,
    wait_for_grids,
)
from tests.generated import first_empty_day

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PAGES = {
    "executive": "/",
    "engagement": "/engagement",
    "risk": "/risk",
    "loyalty": "/loyalty",
    "segmentation": "/segmentation",
    "customer": "/customer",
    "glossary": "/glossary",
}
FMT = {spec.name: spec.fmt for spec in KPI_SPECS}


def assert_kpis_match(page, engine: Engine, filters: Filters, timeout: float = 10.0) -> None:
    """The KPI cards show exactly ``kpis(engine, filters)`` (retried while late callbacks land)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _kpis_match(page, engine, filters)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(250)


def _kpis_match(page, engine: Engine, filters: Filters) -> None:
    shown = kpi_values(page)
    expected = kpis(engine, filters)
    assert set(expected) <= set(shown), f"missing KPI cards: {set(expected) - set(shown)}"
    for key, value in expected.items():
        got, text = shown[key]
        assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), f"{key}: page {got} != metric {value}"
        assert text == kpi_text(value, FMT[key], expected["customers"] > 0), f"{key} shows {text!r}"


def url_filters(page, engine: Engine) -> Filters:
    filters, notices = Filters.from_query(current_search(page), default_filters(engine), engine.countries(),
                                          engine.date_bounds())
    assert notices == []
    return filters


SCREENSHOT_RANGE = Filters(date(2024, 1, 1), date(2024, 12, 31))


@pytest.fixture(scope="module")
def some_customer(generated_engine: Engine) -> int:
    """A repeat buyer of the screenshot range (so the profile has scores, churn risk and CLV to show)."""
    mart = customer_mart_frame(generated_engine, SCREENSHOT_RANGE)
    return int(mart[mart.orders >= 4].customer_id.iloc[0])


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_errors_and_is_screenshotted(name, page, app_url, screenshot_dir: Path,
                                                         some_customer: int):
    # the last full year, so the cards have a preceding period to compare with
    query = f"?{SCREENSHOT_RANGE.to_query()}"
    path = PAGES[name] + (f"{query}&id={some_customer}" if name == "customer" else query)
    open_page(page, app_url + path)
    expect(page.locator(".page-title").first).to_be_visible()
    assert_no_errors(page)
    page.screenshot(path=str(screenshot_dir / f"{name}.png"))


def test_each_filter_changes_kpis_to_the_metric_values(page, app_url, generated_engine: Engine):
    eng = generated_engine
    open_page(page, app_url + "/")
    default = default_filters(eng)
    assert_kpis_match(page, eng, default)

    set_prime(page, "Prime")
    assert parse_qs(current_search(page).lstrip("?"))["prime"] == ["Prime"]
    assert_kpis_match(page, eng, Filters(default.start, default.end, "Prime"))

    country = eng.countries()[0]
    add_country(page, country)
    assert parse_qs(current_search(page).lstrip("?"))["country"] == [country]
    assert_kpis_match(page, eng, Filters(default.start, default.end, "Prime", (country,)))

    set_dates(page, "2023-01-01", "2023-06-30")
    expected = Filters(date(2023, 1, 1), date(2023, 6, 30), "Prime", (country,))
    assert url_filters(page, eng) == expected
    assert_kpis_match(page, eng, expected)

    page.go_back()  # the end-date change is undone by the back button
    settle(page)
    back = Filters(date(2023, 1, 1), default.end, "Prime", (country,))
    assert url_filters(page, eng) == back
    assert_kpis_match(page, eng, back)
    assert control_state(page)["end"] == default.end.isoformat()
    assert_no_errors(page)


def test_a_period_preset_sets_the_url_dates_and_the_kpis(page, app_url, generated_engine: Engine):
    eng = generated_engine
    presets = period_presets(*eng.date_bounds())
    years = [p for p in presets if p.key.isdigit() and p.label == p.key]  # whole calendar years, newest first
    year = next((p for p in years if p.key == "2023"), years[0])
    open_page(page, app_url + "/")
    expect(page.locator("#filter-period")).to_contain_text("Last 12 months")

    choose(page, "filter-period", year.label)
    assert parse_qs(current_search(page).lstrip("?")) == {"start": [year.start.isoformat()],
                                                         "end": [year.end.isoformat()]}
    expected = Filters(year.start, year.end)
    assert url_filters(page, eng) == expected
    assert_kpis_match(page, eng, expected)
    state = control_state(page)
    assert (state["start"], state["end"]) == (year.start.isoformat(), year.end.isoformat())
    expect(page.locator("#filter-period")).to_contain_text(year.label)

    set_dates(page, year.start.isoformat(), (year.end - timedelta(days=1)).isoformat())  # by hand: no preset
    expect(page.locator("#filter-period")).to_contain_text("Custom")
    assert_kpis_match(page, eng, Filters(year.start, year.end - timedelta(days=1)))
    assert_no_errors(page)


def test_a_copied_link_reopens_the_same_view(page, browser, app_url, generated_engine: Engine):
    eng = generated_engine
    country = eng.countries()[1]
    open_page(page, app_url + "/")
    set_prime(page, "Non-Prime")
    add_country(page, country)
    set_dates(page, "2022-03-01", "2023-02-28")
    link = current_url(page)
    before_kpis, before_controls = kpi_values(page), control_state(page)

    other = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        fresh = other.new_page()
        from tests.browser.dashboard import track_callbacks

        track_callbacks(fresh)
        fresh.goto(link)
        settle(fresh)
        assert_kpis_match(fresh, eng, Filters(date(2022, 3, 1), date(2023, 2, 28), "Non-Prime", (country,)))
        assert kpi_values(fresh) == before_kpis
        assert control_state(fresh) == before_controls
        assert before_controls["prime"] == "Non-Prime" and country in before_controls["countries"]
    finally:
        other.close()


def test_empty_selection_shows_the_empty_state(page, app_url, generated_engine: Engine):
    filters = first_empty_day(generated_engine)
    open_page(page, f"{app_url}/?{filters.to_query()}")
    expect(page.get_by_text("No orders match these filters").first).to_be_visible()
    assert_kpis_match(page, generated_engine, filters)
    shown = kpi_values(page)
    assert shown["customers"] == (0, "0")
    assert shown["revenue"][1] == "—" and shown["repeat_purchase_rate"][1] == "—"  # no data, not "$0.00"
    assert_no_errors(page)
    for path in ("/engagement", "/segmentation", "/loyalty", "/risk"):
        open_page(page, f"{app_url}{path}?{filters.to_query()}")
        expect(page.get_by_text("No orders match these filters").first).to_be_visible()
        assert_no_errors(page)


def test_an_invalid_link_is_corrected_with_a_notice(page, app_url, generated_engine: Engine):
    open_page(page, f"{app_url}/?start=yesterday&end=2099-01-01&prime=Gold&country=Atlantis&scheme=x")
    notice = page.locator("#filter-notices .alert")
    expect(notice).to_be_visible()
    assert "Some link values were corrected" in notice.inner_text()
    filters = url_filters(page, generated_engine)  # the address now holds the corrected, valid filters
    assert filters == default_filters(generated_engine)
    assert_kpis_match(page, generated_engine, filters)
    assert_no_errors(page)


def test_segment_filter_applies_and_is_hidden_where_unused(page, app_url, generated_engine: Engine):
    eng = generated_engine
    open_page(page, app_url + "/")
    choose(page, "filter-scheme", "Loyalty tier (RFM)")
    assert "segment=" not in current_search(page)  # a scheme alone filters nothing
    choose(page, "filter-segment", "Top Tier")
    expected = default_filters(eng).with_focus("loyalty", "Top Tier")
    assert url_filters(page, eng) == expected
    assert_kpis_match(page, eng, expected)
    page.locator(".app-navbar a.nav-link", has_text="Segmentation").click()
    settle(page)
    expect(page.locator("#filter-segment-box")).to_be_hidden()
    assert_no_errors(page)


def test_navbar_links_keep_the_filters(page, app_url, generated_engine: Engine):
    open_page(page, app_url + "/")
    set_prime(page, "Prime")
    query = current_search(page)
    page.locator(".app-navbar a.nav-link", has_text="Segmentation").click()
    settle(page)
    assert urlparse(current_url(page)).path == "/segmentation"
    assert current_search(page) == query
    assert control_state(page)["prime"] == "Prime"
    page.go_back()
    settle(page)
    assert urlparse(current_url(page)).path == "/"
    assert_kpis_match(page, generated_engine, url_filters(page, generated_engine))
    assert_no_errors(page)


def test_clicking_a_customer_id_opens_the_profile(page, app_url, generated_engine: Engine):
    open_page(page, app_url + "/engagement")
    wait_for_grids(page)  # on a loaded machine the grids come seconds after the callbacks settle
    cell = page.locator(".ag-cell.customer-link").first
    expect(cell).to_have_text(re.compile(r"^\s*\d+\s*$"), timeout=30_000)  # AG Grid fills cells late
    customer_id = (cell.text_content() or "").strip()  # innerText is empty while the grid is off screen
    cell.click()
    settle(page)
    assert urlparse(current_url(page)).path == "/customer"
    assert parse_qs(current_search(page).lstrip("?"))["id"] == [customer_id]
    expect(page.locator("#customer-title")).to_contain_text(customer_id)
    assert_no_errors(page)


def test_customer_profile_shows_the_metric_values(page, app_url, generated_engine: Engine, some_customer: int):
    from components.formatting import fmt_int, fmt_money
    from metrics.customer import customer_orders, customer_profile

    eng, cid = generated_engine, some_customer
    open_page(page, f"{app_url}/customer?{SCREENSHOT_RANGE.to_query()}&id={cid}")
    profile = customer_profile(eng, SCREENSHOT_RANGE, cid)
    expect(page.locator("#customer-title")).to_have_text(f"Customer {cid} · {profile['name']}")
    expect(page.locator("[data-stat='orders']")).to_have_text(fmt_int(profile["orders"]))
    expect(page.locator("[data-stat='revenue']")).to_have_text(fmt_money(profile["revenue"]))
    expect(page.locator("[data-score='r']")).to_have_text(str(profile["r_score"]))
    expect(page.locator("[data-stat='predicted_clv']")).to_have_text(fmt_money(profile["predicted_clv"]))
    orders = customer_orders(eng, SCREENSHOT_RANGE, cid)
    expect(page.locator("#customer-content .table-caption")).to_have_text(f"{len(orders)} rows")
    with page.expect_download() as info:
        page.locator("#customer-content button.export-button").first.click()
    assert info.value.suggested_filename == f"customer_orders_{cid}_{SCREENSHOT_RANGE.describe()}.csv"
    assert_no_errors(page)


def test_customer_id_box_and_bad_ids(page, app_url, generated_engine: Engine, some_customer: int):
    open_page(page, f"{app_url}/customer?{SCREENSHOT_RANGE.to_query()}&id=not-a-number")
    expect(page.locator("#customer-notice")).to_contain_text("is not a customer id")
    expect(page.locator("#customer-content")).to_be_hidden()
    box = page.locator("#customer-id-input")
    box.fill(str(some_customer))
    box.press("Enter")
    settle(page)
    assert parse_qs(current_search(page).lstrip("?"))["id"] == [str(some_customer)]
    assert url_filters(page, generated_engine) == SCREENSHOT_RANGE  # the filters travel with the id
    expect(page.locator("#customer-title")).to_contain_text(str(some_customer))
    expect(page.locator("#customer-content")).to_be_visible()
    assert_no_errors(page)


def test_value_loyalty_scatter_is_drawn(page, app_url, generated_engine: Engine):
    open_page(page, f"{app_url}/risk?{SCREENSHOT_RANGE.to_query()}")
    total = int(customer_kpis(generated_engine, SCREENSHOT_RANGE)["customers"])
    # the note comes with the scatter, drawn as SVG: slower than the page's other callbacks under load
    expect(page.locator("#risk-scatter-note")).to_contain_text(f"{total:,} customers", timeout=60_000)
    expect(page.locator("#risk-scatter .scatterlayer, #risk-scatter canvas").first).to_be_attached()
    assert_no_errors(page)
