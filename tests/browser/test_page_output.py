"""What leaves a page and what a phone shows: the modebar sends nothing anywhere, chart images carry
their title and the filter state, every page prints to A4 landscape with no chart cut, and at 390 px the
first screen shows numbers and nothing scrolls sideways."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.browser.dashboard import assert_no_errors, open_page, settle, track_callbacks
from tests.browser.test_dashboard import PAGES, SCREENSHOT_RANGE

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

QUERY = f"?{SCREENSHOT_RANGE.to_query()}"
DATA_PAGES = {name: path for name, path in PAGES.items() if name not in ("customer", "glossary")}
#: the printable area of A4 landscape with 10 mm margins, in CSS pixels (96 per inch)
PRINT_WIDTH, PRINT_HEIGHT = 1047, 718
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("name", list(DATA_PAGES))
def test_no_modebar_button_sends_a_chart_anywhere(name, page, app_url):
    open_page(page, app_url + DATA_PAGES[name] + QUERY)
    graphs = page.locator(".js-plotly-plot")
    assert graphs.count() >= 1
    graphs.first.hover()
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title') || '')")
    assert titles, "the charts have a modebar"
    assert not [t for t in titles if re.search(r"share|cloud|chart studio|edit in", t, re.I)], titles
    assert page.locator(".modebar-btn--logo, a[href*='plotly.com'], a[href*='plot.ly']").count() == 0
    assert_no_errors(page)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"
    return struct.unpack(">II", data[16:24])


def test_chart_image_is_named_after_its_title_and_the_filters_and_is_taller_for_the_title(page, app_url):
    open_page(page, app_url + "/" + QUERY)
    frame = page.locator(".chart-frame").filter(has=page.locator(".js-plotly-plot")).first
    title = frame.locator(".chart-title").inner_text().strip()
    graph = frame.locator(".js-plotly-plot")
    graph.hover()
    box = graph.bounding_box()
    with page.expect_download() as info:
        frame.locator(".modebar-btn[data-title^='Download plot']").click()
    download = info.value
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    assert download.suggested_filename == f"{slug}_{SCREENSHOT_RANGE.describe()}.png"
    width, height = _png_size(Path(download.path()).read_bytes())
    # drawn at scale 2, with room above the chart for the title and the filter line
    assert width == pytest.approx(2 * box["width"], abs=4)
    assert height == pytest.approx(2 * (box["height"] + 64), abs=4)


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_prints_to_a4_landscape_with_no_chart_cut_or_split(name, page, app_url, tmp_path):
    open_page(page, app_url + PAGES[name] + QUERY)
    page.set_viewport_size({"width": PRINT_WIDTH, "height": PRINT_HEIGHT})
    page.emulate_media(media="print")
    page.evaluate("window.custintelPrint.prepare()")
    settle(page)
    # controls are not printed; the filter state is, as one line
    for selector in (".app-navbar", ".filter-bar", "#print-button", ".modebar-container"):
        assert not page.locator(selector).first.is_visible(), f"{selector} is printed"
    line = page.locator(".print-header .filter-line")
    expect(line).to_be_visible()
    expect(line).to_contain_text(SCREENSHOT_RANGE.summary())
    body_width = page.evaluate("document.querySelector('.app-body').getBoundingClientRect().right")
    charts = page.eval_on_selector_all(
        ".js-plotly-plot",
        """els => els.map(e => { const r = e.getBoundingClientRect(); const svg = e.querySelector('svg.main-svg');
              return {left: r.left, right: r.left + (svg ? svg.getBoundingClientRect().width : r.width),
                      height: r.height, card: getComputedStyle(e.closest('.chart-frame') || e).breakInside}; })""")
    for chart in charts:
        assert chart["left"] >= 0 and chart["right"] <= body_width + 1, f"a chart is cut at the side: {chart}"
        assert chart["height"] <= PRINT_HEIGHT, f"a chart taller than a page: {chart}"
        assert chart["card"] == "avoid", "charts are kept whole on one page"
    pdf = page.pdf(format="A4", landscape=True, print_background=True, prefer_css_page_size=True)
    pages = _pdf_pages(pdf)
    assert 1 <= pages <= 20, pages
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    assert_no_errors(page)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(f"page error: {e}"))
    track_callbacks(pg)
    yield pg
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_phone_shows_numbers_first_and_never_scrolls_sideways(name, phone, app_url):
    open_page(phone, app_url + PAGES[name] + QUERY)
    widths = phone.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] == widths[1], f"the page scrolls sideways: scrollWidth {widths[0]} > {widths[1]}"
    # the navbar links and the filter controls are folded away
    assert not phone.locator(".app-navbar .nav-link").first.is_visible()
    assert not phone.locator("#filter-dates").is_visible()
    expect(phone.locator("#filter-toggle")).to_contain_text(SCREENSHOT_RANGE.summary())
    if name in DATA_PAGES:
        first = phone.locator(".kpi-card, .chart-frame").first
        assert first.bounding_box()["y"] < PHONE["height"] - 80, "no number on the first screen"
    assert_no_errors(phone)


def test_phone_filter_button_opens_the_filters(phone, app_url):
    open_page(phone, app_url + "/" + QUERY)
    phone.locator("#filter-toggle").click()
    expect(phone.locator("#filter-dates")).to_be_visible()
    phone.locator(".navbar-toggler").click()
    expect(phone.locator(".app-navbar .nav-link").first).to_be_visible()
