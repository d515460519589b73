"""The global filter bar: date range with period presets, Prime choice, countries and (on pages that use
it) a segment.

Its state lives in the URL query string. One callback keeps the two in step:

- URL → controls: on load, on the back/forward buttons and on links, the query is parsed (invalid values
  are corrected and the notices shown) and the controls are set from it;
- controls → URL: a change writes the normalised query to the URL (``refresh=False``: no reload) and to
  the ``url-query`` store that every page callback reads.

So a copied link reproduces the view, and the navbar links carry the query between pages.

The *Period* dropdown (:mod:`metrics.periods`) is a shortcut for the two dates, not a filter of its own:
picking a preset sets the date picker, and the URL keeps only ``start`` and ``end``. What it shows is
derived from the dates after every change: the preset it already shows while that still equals the dates
(so picking "2024" keeps "2024" even when "Last 12 months" covers the same days), otherwise the first
preset with exactly those dates, otherwise "Custom". Dash allows a component to be an input and an output
of the same callback, which is why the dates and the period are kept in step here and not in a second
callback (that would be a circular dependency).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components.data_status import NOTICES, data_notice
from components.state import QUERY_STORE, URL_ID, UrlState, engine, link_query, parse_query, query_from_controls
from metrics.engine import is_data_error
from metrics.filters import PRIME_CHOICES, Filters
from metrics.periods import CUSTOM, CUSTOM_LABEL, Period, find_period, matching_period, period_presets
from metrics.segments.labels import SCHEME_LABELS, SCHEME_TITLES
from metrics.selection import default_filters

DATES, PRIME, COUNTRIES, SCHEME, SEGMENT = ("filter-dates", "filter-prime", "filter-countries", "filter-scheme",
                                            "filter-segment")
PERIOD = "filter-period"
RESET, SEGMENT_BOX = "filter-reset", "filter-segment-box"
#: the filter state in words (printed above every page and drawn on chart images) and as a file-name stem
FILTER_LINE, FILTER_STEM = "filter-line", "filter-stem"
#: on a phone the bar folds behind one button that shows the filter state
FILTER_TOGGLE, FILTER_COLLAPSE = "filter-toggle", "filter-collapse"
NAV_LINK = "nav-link"


def filter_bar() -> html.Div:
    """The controls (their values are set by the sync callback from the URL); on a phone they fold behind
    one button showing the filter state."""
    try:
        eng = engine()
        lo, hi = eng.date_bounds()
        countries = eng.countries()
        default = default_filters(eng)
    except Exception as exc:  # no readable data: the shell still renders and the pages show the error
        if not is_data_error(exc):
            raise
        lo = hi = date.today()
        countries, default = [], Filters(lo, hi)
    presets = period_presets(lo, hi)
    card = dbc.Card(dbc.CardBody(dbc.Row([
        dbc.Col([
            dbc.Label("Date range", html_for=DATES, className="small fw-semibold mb-1"),
            dcc.DatePickerRange(
                id=DATES, min_date_allowed=lo.isoformat(), max_date_allowed=hi.isoformat(),
                start_date=default.start.isoformat(), end_date=hi.isoformat(),
                initial_visible_month=hi.isoformat(),
                display_format="YYYY-MM-DD", first_day_of_week=1, updatemode="bothdates",
                minimum_nights=0, persistence=False,
            ),
        ], xs=12, lg="auto"),
        dbc.Col([
            dbc.Label("Period", html_for=PERIOD, className="small fw-semibold mb-1"),
            dcc.Dropdown(id=PERIOD, options=_period_options(presets), value=_period_shown(presets, default, None),
                         clearable=False, searchable=False, className="filter-period"),
        ], xs=12, md="auto"),
        dbc.Col([
            dbc.Label("Customers", html_for=PRIME, className="small fw-semibold mb-1"),
            dbc.RadioItems(id=PRIME, options=[{"label": p, "value": p} for p in PRIME_CHOICES], value="All",
                           inline=True, className="pt-1"),
        ], xs=12, md="auto"),
        dbc.Col([
            dbc.Label("Countries", html_for=COUNTRIES, className="small fw-semibold mb-1"),
            dcc.Dropdown(id=COUNTRIES, options=[{"label": c, "value": c} for c in countries], value=[],
                         multi=True, placeholder="All countries", clearable=True),
        ], xs=12, md=True, className="filter-countries-col"),
        dbc.Col(html.Div([
            dbc.Label("Segment", html_for=SCHEME, className="small fw-semibold mb-1"),
            html.Div([
                dcc.Dropdown(id=SCHEME, options=[{"label": t, "value": s} for s, t in SCHEME_TITLES.items()],
                             value=None, placeholder="Scheme", clearable=True, className="segment-scheme"),
                dcc.Dropdown(id=SEGMENT, options=[], value=None, placeholder="All segments", clearable=True,
                             className="segment-label"),
            ], className="d-flex gap-2"),
        ], id=SEGMENT_BOX), xs=12, md=True),
        dbc.Col(dbc.Button("Reset", id=RESET, color="link", size="sm", n_clicks=0, className="mt-4"),
                xs="auto"),
    ], className="g-3 align-items-start")), className="filter-bar shadow-sm mb-2")
    toggle = dbc.Button("Filters", id=FILTER_TOGGLE, color="light", size="sm", n_clicks=0,
                        className="filter-toggle border text-truncate")
    return html.Div([toggle, dbc.Collapse(card, id=FILTER_COLLAPSE, is_open=False, className="filter-collapse")])


def _segment_options(scheme: str | None) -> list[dict[str, str]]:
    return [{"label": label, "value": label} for label in SCHEME_LABELS.get(scheme or "", ())]


def _presets() -> list[Period]:
    return period_presets(*engine().date_bounds())


def _period_options(presets: list[Period]) -> list[dict[str, Any]]:
    # "Custom" is listed so the dropdown can show it, but disabled: it is a state, not a range to pick
    return [{"label": p.label, "value": p.key} for p in presets] + [
        {"label": CUSTOM_LABEL, "value": CUSTOM, "disabled": True}]


def _period_shown(presets: list[Period], filters: Filters, current: Any) -> str:
    """The period to show for the filters' dates (see the module docstring)."""
    kept = find_period(presets, current)
    if kept is not None and (kept.start, kept.end) == (filters.start, filters.end):
        return kept.key
    return matching_period(presets, filters.start, filters.end) or CUSTOM


def _notices(state: UrlState) -> Any:
    if not state.notices:
        return data_notice()
    return dbc.Alert([html.Strong("Some link values were corrected: "), " ".join(state.notices)],
                     color="warning", dismissable=True, className="py-2 mb-2", id="filter-notice-alert")


@callback(
    Output(URL_ID, "search"), Output(QUERY_STORE, "data"),
    Output(DATES, "start_date"), Output(DATES, "end_date"), Output(PRIME, "value"), Output(COUNTRIES, "value"),
    Output(SCHEME, "value"), Output(SEGMENT, "value"), Output(SEGMENT, "options"), Output(NOTICES, "children"),
    Output(PERIOD, "value"),
    Input(URL_ID, "search"),
    Input(DATES, "start_date"), Input(DATES, "end_date"), Input(PRIME, "value"), Input(COUNTRIES, "value"),
    Input(SCHEME, "value"), Input(SEGMENT, "value"), Input(RESET, "n_clicks"), Input(PERIOD, "value"),
)
def sync_filters(search: str | None, start: str | None, end: str | None, prime: str | None,
                 countries: list[str] | None, scheme: str | None, segment: str | None, _reset: int | None,
                 period: str | None = None):
    """Keep URL, controls and the ``url-query`` store in step (see the module docstring)."""
    trigger = ctx.triggered_id
    current = parse_query(search)
    presets = _presets()
    if trigger in (None, URL_ID):
        state = current
        # rewrite the address only when something was corrected (a rewrite adds a history entry)
        new_search: Any = f"?{state.query}" if state.notices else no_update
        f = state.filters
        scheme_out = f.focus.scheme if f.focus else scheme
        return (new_search, state.query, f.start.isoformat(), f.end.isoformat(), f.prime, list(f.countries),
                scheme_out, f.focus.label if f.focus else None, _segment_options(scheme_out), _notices(state),
                _period_shown(presets, f, period))

    scheme_in, segment_in = scheme, segment
    start_in, end_in = start, end
    if trigger == RESET:
        state = parse_query(query_from_controls(None, None, None, None, None, None, current.page_params))
        scheme = None
    else:
        if trigger == SCHEME:
            segment = None  # a new scheme starts with "all segments"
        chosen = find_period(presets, period) if trigger == PERIOD else None
        if chosen is not None:  # a preset is just its two dates from here on
            start, end = chosen.start.isoformat(), chosen.end.isoformat()
        state = parse_query(query_from_controls(start, end, prime, countries, scheme, segment,
                                                current.page_params, current.filters.model))
    f = state.filters

    def changed(new: Any, old: Any) -> Any:
        return no_update if new == old else new

    new_search = no_update if (search or "").lstrip("?") == state.query else f"?{state.query}"
    return (new_search, state.query,
            changed(f.start.isoformat(), (start_in or "")[:10]), changed(f.end.isoformat(), (end_in or "")[:10]),
            changed(f.prime, prime), changed(list(f.countries), sorted(countries or [])),
            changed(scheme, scheme_in), changed(f.focus.label if f.focus else None, segment_in),
            _segment_options(scheme), _notices(state), changed(_period_shown(presets, f, period), period))


def print_header() -> html.Div:
    """The filter state in words: shown only when the page is printed, and read by chart images."""
    return html.Div([html.Div(id=FILTER_LINE, className="filter-line"), html.Span(id=FILTER_STEM, hidden=True)],
                    className="print-header")


@callback(Output(FILTER_LINE, "children"), Output(FILTER_STEM, "children"), Output(FILTER_TOGGLE, "children"),
          Input(QUERY_STORE, "data"))
def describe_state(query: str | None) -> tuple[str, str, str]:
    """The printed filter line, the file-name stem of chart images and the phone's filter button."""
    f = parse_query(query).filters
    return f"Filters: {f.summary()}", f.describe(), f"Filters ▾  {f.summary()}"


@callback(Output(FILTER_COLLAPSE, "is_open"), Input(FILTER_TOGGLE, "n_clicks"), State(FILTER_COLLAPSE, "is_open"),
          prevent_initial_call=True)
def toggle_filters(_clicks: int | None, is_open: bool | None) -> bool:
    """The phone's filter button opens and closes the bar (on wider screens it is always shown)."""
    return not is_open


@callback(Output(SEGMENT_BOX, "style"), Input(URL_ID, "pathname"))
def show_segment_filter(pathname: str | None) -> dict[str, str]:
    """The segment selector is shown on pages registered with ``segment_filter=True``."""
    path = "/" + (dash.strip_relative_path(pathname or "/") or "")
    for page in dash.page_registry.values():
        if page.get("path") == path:
            return {} if page.get("segment_filter") else {"display": "none"}
    return {"display": "none"}


@callback(Output({"type": NAV_LINK, "index": ALL}, "href"), Input(QUERY_STORE, "data"))
def carry_query(query: str | None) -> list[str]:
    """Navbar links keep the current filters (not page-only keys such as a customer id)."""
    suffix = link_query(query)
    return [dash.get_relative_path(out["id"]["index"]) + suffix for out in ctx.outputs_list]
