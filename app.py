"""Customer Intelligence: the Dash app (``python app.py``, or ``gunicorn app:server`` in production).

The shell holds the navbar (built from ``dash.page_registry``), the global filter bar whose state lives in
the URL, and ``dash.page_container``; each page under ``pages/`` registers itself. Bootstrap's CSS is
served from this server (the ``xstatic-bootstrap`` package), so nothing is loaded from a CDN.
"""

from __future__ import annotations

import time
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import xstatic.pkg.bootstrap as xstatic_bootstrap
from dash import Input, Output, State, dcc, html
from flask import abort, jsonify, send_from_directory

from components.data_status import on_callback_error
from components.filter_bar import NAV_LINK, NOTICES, filter_bar, print_header
from components.state import NAV_ID, QUERY_STORE, URL_ID
from metrics.engine import DataNotFoundError, data_problem, get_engine, table_location
from metrics.schema import TABLES
from metrics.settings import Settings, load_settings
from service.generations import install_generation_pin
from service.responses import install_response_cache
from service.security import install_security

BOOTSTRAP_URL = "/vendor/bootstrap.min.css"
BOOTSTRAP_DIR = Path(xstatic_bootstrap.BASE_DIR) / "css"
APP_TITLE = "Customer Intelligence"


def ensure_data(settings: Settings) -> None:
    """Generate the default data set when the data folder has no tables yet (first run)."""
    if "://" in settings.data_dir:
        return
    try:
        for name in TABLES:
            table_location(settings.data_dir, name)
    except DataNotFoundError:
        from generate_data import generate  # only needed on a first run

        print(f"No data in {settings.data_dir}: generating the default data set…", flush=True)
        generate(settings.data_dir, progress=False)


SETTINGS = load_settings()
ensure_data(SETTINGS)

app = dash.Dash(
    __name__,
    use_pages=True,
    title=APP_TITLE,
    update_title=None,
    external_stylesheets=[BOOTSTRAP_URL],
    serve_locally=True,
    suppress_callback_exceptions=False,
    on_error=on_callback_error,  # data errors become a banner above the page, not a 500
    meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
)
server = app.server
install_security(server, SETTINGS)  # basic auth if CUSTINTEL_AUTH is set; /health stays public
install_generation_pin(server)  # each request reads one generation of the data, even during an import


def _data_generation() -> tuple[int, float, int] | None:
    """What a rendered response depends on besides its request: the engine (the data) and its cache;
    None (nothing is kept) when no data can be served."""
    try:
        eng = get_engine()
    except Exception:
        return None
    return id(eng), eng.loaded_at, eng.cache.clears


# Warm revisits answered from the rendered responses (a sixteenth of the result cache's memory budget).
install_response_cache(server, _data_generation, SETTINGS.memory_mb * 1024 * 1024 // 16)


@server.route(BOOTSTRAP_URL)
def bootstrap_css():
    """Bootstrap 5 CSS from the installed xstatic-bootstrap package."""
    if not (BOOTSTRAP_DIR / "bootstrap.min.css").is_file():
        abort(404)
    return send_from_directory(BOOTSTRAP_DIR, "bootstrap.min.css", max_age=86400)


def data_pages() -> list[str]:
    """Paths of the pages opened with a filter state, in navbar order: every registered page but those
    registered with ``data_page=False`` (the customer page needs a customer, the glossary no data)."""
    pages = sorted(dash.page_registry.values(), key=lambda p: p.get("order") or 0)
    return [p["path"] for p in pages if p.get("data_page", True)]


@server.route("/health")
def health():
    """Liveness and data check: ``status: ok`` with the data range, or 503 naming the data that failed."""
    problem = data_problem()
    try:
        engine = get_engine()
        lo, hi = engine.date_bounds()
    except Exception as exc:  # the endpoint must answer, not crash
        return jsonify(status="error", table=getattr(exc, "table", None),
                       error=f"{type(exc).__name__}: {exc}".splitlines()[0][:400]), 503
    if problem is not None:  # new data failed to open: the previous generation is still being served
        loaded = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(engine.loaded_at))
        return jsonify(status="error", table=problem.table, error=problem.message,
                       serving=f"the data loaded at {loaded}", data_from=lo.isoformat(), data_to=hi.isoformat()), 503
    return jsonify(status="ok", backend=engine.backend_name, data_from=lo.isoformat(), data_to=hi.isoformat(),
                   generation=engine.generation, pages=data_pages(), uptime_s=round(time.time() - STARTED, 1))


NAV_TOGGLER, NAV_COLLAPSE, PRINT_BUTTON = "navbar-toggler", "navbar-collapse", "print-button"


def navbar() -> dbc.Navbar:
    """Links to every registered page, in registry order; hrefs get the current query string."""
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact",
                                id={"type": NAV_LINK, "index": page["path"]}))
        for page in dash.page_registry.values()
        if page.get("nav", True)
    ]
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand(APP_TITLE, href=dash.get_relative_path("/"), className="fw-bold"),
            dbc.NavbarToggler(id=NAV_TOGGLER, n_clicks=0),
            dbc.Collapse([
                dbc.Nav(links, navbar=True, className="flex-wrap"),
                # assets/page_output.js opens the browser's print dialog on the print layout
                dbc.Button("Print / PDF", id=PRINT_BUTTON, color="light", outline=True, size="sm", n_clicks=0,
                           className="ms-md-auto my-2 my-md-0",
                           title="Print this page or save it as PDF (A4 landscape)"),
            ], id=NAV_COLLAPSE, navbar=True, is_open=False),
        ], fluid=True),
        color="dark", dark=True, expand="md", className="mb-3 app-navbar",
    )


@dash.callback(Output(NAV_COLLAPSE, "is_open"), Input(NAV_TOGGLER, "n_clicks"), State(NAV_COLLAPSE, "is_open"),
               prevent_initial_call=True)
def toggle_navbar(_clicks: int | None, is_open: bool | None) -> bool:
    """On a phone the page links fold behind the navbar's toggler."""
    return not is_open


def layout() -> html.Div:
    return html.Div([
        dcc.Location(id=URL_ID, refresh=False),
        dcc.Location(id=NAV_ID, refresh="callback-nav"),
        dcc.Store(id=QUERY_STORE),
        navbar(),
        dbc.Container([
            print_header(),
            filter_bar(),
            html.Div(id=NOTICES),
            dash.page_container,
            html.Footer(html.Small([
                "Customer Intelligence · sales exclude returned and same-day-cancelled orders · ",
                dcc.Link("Glossary", href="/glossary"),
            ], className="text-muted"), className="my-4"),
        ], fluid=True, className="app-body"),
    ])


app.layout = layout
STARTED = time.time()

# Dash wires the pages router and callbacks lazily on the first request, which is not thread-safe under
# gunicorn threads: do it once now.
with server.test_client() as _client:
    _client.get("/")


if __name__ == "__main__":
    from service.exposure import warn_if_exposed

    warn_if_exposed([SETTINGS.host], SETTINGS.auth, "python app.py")
    app.run(host=SETTINGS.host, port=SETTINGS.port, debug=False)
