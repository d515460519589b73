"""What leaves a page and what a phone shows: the modebar sends nothing anywhere, chart images carry
their title and the filter state, every page prints to A4 landscape with no chart cut, and at 390 px the
first screen shows numbers and nothing scrolls sideways."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
from pathlib import Path

import openpyxl
import pytest

from tests.browser.conftest import watched_page
from tests.browser.dashboard import assert_no_errors, choose, open_page, settle, wait_for_charts, wait_for_grids
from tests.browser.test_dashboard import PAGES, SCREENSHOT_RANGE

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

QUERY = f"?{SCREENSHOT_RANGE.to_query()}"
DATA_PAGES = {name: path for name, path in PAGES.items() if name not in ("customer", "glossary")}
#: the printable area of A4 landscape with 10 mm margins, in CSS pixels (96 per inch)
PRINT_WIDTH, PRINT_HEIGHT = 1047, 718
PHONE = {"width": 390, "height": 844}


def assert_no_modebar_button_sends_a_chart_anywhere(page) -> None:
    """Plotly's modebar offers no share, cloud or Chart Studio button and no logo link."""
    graphs = page.locator(".js-plotly-plot")
    assert graphs.count() >= 1
    graphs.first.hover()
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title') || '')")
    assert titles, "the charts have a modebar"
    assert not [t for t in titles if re.search(r"share|cloud|chart studio|edit in", t, re.I)], titles
    assert page.locator(".modebar-btn--logo, a[href*='plotly.com'], a[href*='plot.ly']").count() == 0


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"
    return struct.unpack(">II", data[16:24])


def test_chart_image_is_named_after_its_title_and_the_filters_and_is_taller_for_the_title(page, app_url):
    open_page(page, app_url + "/" + QUERY)
    wait_for_charts(page)
    frame = page.locator(".chart-frame").filter(has=page.locator(".js-plotly-plot")).first
    title = frame.locator(".chart-title").inner_text().strip()
    graph = frame.locator(".js-plotly-plot")
    graph.hover()
    box = dict(zip(("width", "height"), graph.evaluate("gd => [gd._fullLayout.width, gd._fullLayout.height]"),
                   strict=True))
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
def test_every_page_prints_to_a4_landscape_with_no_chart_cut_or_split(name, page, app_url, tmp_path,
                                                                       screenshot_dir):
    """Also: no modebar button sends a chart anywhere (checked on the screen layout first)."""
    open_page(page, app_url + PAGES[name] + QUERY)
    if name in DATA_PAGES:
        wait_for_charts(page)
        wait_for_grids(page)  # the print layout caps the grids it finds
        assert_no_modebar_button_sends_a_chart_anywhere(page)
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
    if name == "executive":  # the README's picture of a printed page: its first A4 sheet
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshot_dir / "print-executive.png"),
                        clip={"x": 0, "y": 0, "width": PRINT_WIDTH, "height": PRINT_HEIGHT})
    # a long table prints its first 25 rows, not its 1,000-row preview (printing restores the screen after)
    captions = page.eval_on_selector_all(".table-caption", "els => els.map(e => e.textContent)")
    assert not [c for c in captions if "Showing the first" in c], captions
    pdf = page.pdf(format="A4", landscape=True, print_background=True, prefer_css_page_size=True)
    pages = _pdf_pages(pdf)
    assert 1 <= pages <= 20, pages  # a long table prints its first 25 rows, not its 1,000-row preview
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    assert_no_errors(page)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield watched_page(context)
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_phone_shows_numbers_first_and_never_scrolls_sideways(name, phone, app_url, screenshot_dir):
    open_page(phone, app_url + PAGES[name] + QUERY)
    if name in DATA_PAGES:
        wait_for_charts(phone)
    if name == "executive":
        phone.screenshot(path=str(screenshot_dir / "phone-executive.png"))
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


# ----- exports an analyst opens without cleaning ----------------------------------------------------------

def _grid_headers(page, table_id: str) -> list[str]:
    """The headers the grid shows, in its column order (from the grid's own API)."""
    dom_id = json.dumps({"index": table_id, "type": "data-table"}, separators=(",", ":"))
    # the grid's API exists only once the grid has initialised (later than the page's charts under load)
    page.wait_for_function("id => { try { return !!dash_ag_grid.getApi(id); } catch (e) { return false; } }",
                           arg=dom_id, timeout=30_000)
    return page.evaluate(
        "id => dash_ag_grid.getApi(id).getAllDisplayedColumns().map(c => c.getColDef().headerName)", dom_id)


def _decimals(cell: str) -> int:
    return len(cell.split(".")[1]) if re.fullmatch(r"-?\d+\.\d+", cell) else 0


@pytest.mark.parametrize(("path", "table_id", "stem"), [
    ("/", "executive-segments", "segment_summary_loyalty"),
    ("/risk", "risk-actions", "customers_to_act_on"),
])
def test_csv_and_xlsx_exports_carry_the_grid_as_displayed(path, table_id, stem, page, app_url, tmp_path):
    open_page(page, app_url + path + QUERY)
    headers = _grid_headers(page, table_id)
    table = page.locator(".data-table").filter(has=page.locator(f"[id*='{table_id}']"))
    with page.expect_download() as info:
        table.get_by_role("button", name="Export CSV").click()
    csv_download = info.value
    assert csv_download.suggested_filename == f"{stem}_{SCREENSHOT_RANGE.describe()}.csv"
    raw = Path(csv_download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte-order mark"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == headers
    assert len(rows) > 1
    # no cell has more than the displayed precision (money to cents, shares to 0.1 %)
    assert max(_decimals(cell) for row in rows[1:] for cell in row) <= 2
    assert not any("e-" in cell or "e+" in cell for row in rows[1:] for cell in row)

    with page.expect_download() as info:
        table.get_by_role("button", name="Excel").click()
    xlsx_download = info.value
    assert xlsx_download.suggested_filename == f"{stem}_{SCREENSHOT_RANGE.describe()}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(xlsx_download.path()).read_bytes())).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == headers
    assert len(values) == len(rows)
    numeric = [v for row in values[1:] for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
    assert len(numeric) >= len(values[1:]) * 3, "numbers are numeric cells"
    assert_no_errors(page)


def test_export_file_names_differ_across_schemes(page, app_url):
    open_page(page, app_url + "/" + QUERY)
    table = page.locator(".data-table").filter(has=page.locator("[id*='executive-segments']"))
    names = []
    for scheme in ("Loyalty tier (RFM)", "Classic RFM map"):
        choose(page, "executive-scheme", scheme)
        with page.expect_download() as info:
            table.get_by_role("button", name="Export CSV").click()
        names.append(info.value.suggested_filename)
    assert names == [f"segment_summary_loyalty_{SCREENSHOT_RANGE.describe()}.csv",
                     f"segment_summary_rfm_{SCREENSHOT_RANGE.describe()}.csv"]
    assert_no_errors(page)


def test_a_capped_list_says_so_and_its_export_has_every_row(page, app_url):
    open_page(page, app_url + "/risk")  # the default view: more customers qualify than the grid shows
    table = page.locator(".data-table").filter(has=page.locator("[id*='risk-actions']"))
    caption = table.locator(".table-caption").inner_text()
    match = re.fullmatch(r"Top 500 of ([\d,]+); the export has all", caption) or re.fullmatch(r"([\d,]+) rows?",
                                                                                               caption)
    assert match, caption
    total = int(match.group(1).replace(",", ""))
    with page.expect_download() as info:
        table.get_by_role("button", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_bytes().decode("utf-8-sig"))))
    assert len(rows) - 1 == total


def test_customer_page_without_an_id_offers_a_search_and_top_customers(page, app_url, generated_engine):
    from metrics.customer import customer_search

    open_page(page, app_url + "/customer" + QUERY)
    finder = page.locator("#customer-finder")
    expect(finder).to_be_visible()
    top = customer_search(generated_engine, SCREENSHOT_RANGE, "", limit=50)
    first_id = page.locator("#customer-finder .ag-row[row-index='0'] [col-id='customer_id']")
    expect(first_id).to_have_text(str(top.customer_id.iloc[0]))
    name = str(top.name.iloc[3])
    page.locator("#customer-search-input").fill(name.split()[-1])
    settle(page)
    expected = customer_search(generated_engine, SCREENSHOT_RANGE, name.split()[-1], limit=50)
    expect(first_id).to_have_text(str(expected.customer_id.iloc[0]))
    first_id.click()
    settle(page)
    assert f"id={expected.customer_id.iloc[0]}" in page.url
    expect(page.locator("#customer-finder")).to_be_hidden()
    assert_no_errors(page)
