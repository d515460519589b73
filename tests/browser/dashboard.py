"""Helpers to drive the dashboard in Playwright: wait for Dash's callbacks to settle, read KPI cards and
the filter controls, and change filters the way a user does."""

from __future__ import annotations

import time
from typing import Any

CALLBACK_PATH = "/_dash-update-component"
QUIET_SECONDS = 0.5


def wait_for_charts(page: Any, timeout_ms: float = 60_000) -> None:
    """Every chart drawn: Plotly draws after the callbacks have answered (at once when the answers come from
    the rendered responses), so settling the callbacks is not enough."""
    page.wait_for_function("""() => { const graphs = [...document.querySelectorAll('.dash-graph')];
        return graphs.length > 0 && graphs.every(g => g.querySelector('.js-plotly-plot .main-svg')); }""",
                           timeout=timeout_ms)


def wait_for_grids(page: Any, timeout_ms: float = 60_000) -> None:
    """Every data grid initialised and filled (a grid comes after the charts on a loaded machine)."""
    page.wait_for_function("""() => [...document.querySelectorAll('.data-table')].every(t =>
        t.querySelector('.ag-root-wrapper') && !t.querySelector('[data-dash-is-loading="true"]'))""",
                           timeout=timeout_ms)


def track_callbacks(page: Any) -> None:
    """Count the Dash callback requests in flight (used by :func:`settle`)."""
    state = {"pending": 0, "last": time.monotonic(), "failed": []}

    def started(request: Any) -> None:
        if CALLBACK_PATH in request.url:
            state["pending"] += 1
            state["last"] = time.monotonic()

    def finished(request: Any) -> None:
        if CALLBACK_PATH in request.url:
            state["pending"] -= 1
            state["last"] = time.monotonic()

    def failed(request: Any) -> None:
        finished(request)
        if CALLBACK_PATH in request.url:
            state["failed"].append(request.failure)

    def response(resp: Any) -> None:
        if CALLBACK_PATH in resp.url and resp.status >= 400:
            state["failed"].append(f"HTTP {resp.status} from a callback")

    page.on("request", started)
    page.on("requestfinished", finished)
    page.on("requestfailed", failed)
    page.on("response", response)
    page.callback_state = state


def settle(page: Any, timeout: float = 30.0) -> None:
    """Wait until no callback is in flight and none started for a moment, and the app has rendered."""
    page.wait_for_selector("#react-entry-point ._dash-loading", state="detached")
    state = page.callback_state
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        if state["pending"] <= 0 and time.monotonic() - state["last"] > QUIET_SECONDS:
            return
    raise AssertionError(f"Dash callbacks did not settle within {timeout} s")


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    settle(page)


def current_search(page: Any) -> str:
    """The address bar's query (Playwright's page.url can lag behind history.pushState)."""
    return page.evaluate("() => window.location.search")


def current_url(page: Any) -> str:
    return page.evaluate("() => window.location.href")


def kpi_values(page: Any) -> dict[str, tuple[float, str]]:
    """KPI key -> (exact value from ``data-value``, the text shown)."""
    rows = page.eval_on_selector_all(
        "[data-kpi]", "els => els.map(e => [e.dataset.kpi, e.dataset.value, e.textContent])")
    return {key: (float(value), text.strip()) for key, value, text in rows}


def assert_no_errors(page: Any) -> None:
    """No console error, no failed callback request, no Dash error overlay."""
    assert page.console_errors == [], f"browser console errors: {page.console_errors}"
    assert page.callback_state["failed"] == [], f"failed callbacks: {page.callback_state['failed']}"
    assert page.locator(".dash-fe-error__title, .dash-fe-error-top").count() == 0, "Dash error overlay shown"


def set_prime(page: Any, choice: str) -> None:
    page.locator(f"#filter-prime input[value='{choice}']").check()
    settle(page)


def add_country(page: Any, country: str) -> None:
    page.locator("#filter-countries").click()
    search = page.locator(".dash-dropdown-content input.dash-dropdown-search")
    search.fill(country)
    page.locator(".dash-dropdown-content").get_by_text(country, exact=True).click()
    page.keyboard.press("Escape")
    settle(page)


def choose(page: Any, dropdown_id: str, label: str) -> None:
    """Pick one option of a single-value dcc.Dropdown by its label."""
    content = page.locator(".dash-dropdown-content")
    for _ in range(3):  # a click right after a pick of the same dropdown can close it instead of opening it
        page.locator(f"#{dropdown_id}").click()
        try:
            content.wait_for(state="visible", timeout=2000)
            break
        except Exception:
            page.keyboard.press("Escape")
    content.get_by_text(label, exact=True).click()
    settle(page)


def set_dates(page: Any, start: str, end: str) -> None:
    """Type both ends of the date range picker (YYYY-MM-DD) and confirm with Enter."""
    start_input = page.locator("#filter-dates")
    start_input.fill(start)
    start_input.press("Enter")
    settle(page)
    end_input = page.locator(".dash-datepicker-end-date")
    end_input.fill(end)
    end_input.press("Enter")
    settle(page)


def control_state(page: Any) -> dict[str, Any]:
    """What the filter controls show: dates, Prime choice, selected countries."""
    return {
        "start": page.locator("#filter-dates").input_value(),
        "end": page.locator(".dash-datepicker-end-date").input_value(),
        "prime": page.locator("#filter-prime input:checked").get_attribute("value"),
        "countries": page.locator("#filter-countries").inner_text().strip(),
    }
