"""Data tables (AG Grid) with sorting, filtering and a server-side "Export CSV" button.

A page registers each table once with :func:`register_table`: an id, a file-name stem and the function
that returns the table's frame for a filter state. The page's callback fills the grid with
:func:`table_update`, which also stores the filter query and parameters it used; the shared export
callback below rebuilds *the same frame* from them and sends it through ``dcc.Download`` as
spreadsheet-safe CSV (:func:`metrics.export.to_safe_csv`). No page writes export code.

Clicking a ``customer_id`` cell of any table opens that customer's profile (``/customer?id=…``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import ALL, MATCH, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import BadRequest

from components.formatting import D3_FORMATS, fmt_int
from components.state import NAV_ID, QUERY_STORE, link_query, read_filters
from metrics.export import SheetColumn, export_filename, spreadsheet_frame, to_spreadsheet_csv, to_xlsx, unit_header
from metrics.filters import Filters
from metrics.measures.registry import MEASURES, SEGMENT_DETAIL_MEASURES

GRID, EXPORT, DOWNLOAD, PARAMS, CAPTION = "data-table", "table-export", "table-download", "table-params", \
    "table-caption"
EXPORT_XLSX, EXPORT_NOTICE = "table-export-xlsx", "table-export-notice"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Rows sent to the browser at most; the CSV export always has every row.
DEFAULT_MAX_ROWS = 2000
#: Longest text an export parameter may hold (the customer search stores at most 80 characters).
MAX_PARAM_TEXT = 200
LOG = logging.getLogger(__name__)


def grid_id(table_id: str) -> dict[str, str]:
    return {"type": GRID, "index": table_id}


def _id(kind: str, table_id: str) -> dict[str, str]:
    return {"type": kind, "index": table_id}


class GridColumn(dict):
    """An AG Grid column definition (sent to the browser as the dict it is) that also remembers its display
    format, so an export writes each value as the grid shows it."""

    fmt: str | None = None


Columns = list[dict[str, Any]] | Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class TableSource:
    """Where a table's rows come from: ``frame(filters, **params)`` returns the whole table (the export);
    ``preview(filters, limit, **params)``, where given, returns ``{"rows": first rows, "total": count}``
    for a long table, so the grid never pulls the whole list. ``columns`` are the grid's columns (or a
    function of the table's parameters returning them): the export writes those, under those headers.
    ``top`` names a list ranked and capped for the grid ("top 500 of 503"); its export has every row."""

    table_id: str
    stem: str
    frame: Callable[..., pd.DataFrame]
    use_segment: bool = True
    max_rows: int = DEFAULT_MAX_ROWS
    preview: Callable[..., dict[str, Any]] | None = None
    columns: Columns | None = None
    top: bool = False

    def grid_columns(self, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        return self.columns(**params) if callable(self.columns) else self.columns


_TABLES: dict[str, TableSource] = {}


def register_table(table_id: str, frame: Callable[..., pd.DataFrame], *, stem: str, use_segment: bool = True,
                   max_rows: int = DEFAULT_MAX_ROWS,
                   preview: Callable[..., dict[str, Any]] | None = None, columns: Columns | None = None,
                   top: bool = False) -> TableSource:
    """Declare a table (at import time of its page); the id must be unique across the app."""
    source = TableSource(table_id, stem, frame, use_segment, max_rows, preview, columns, top)
    existing = _TABLES.get(table_id)
    if existing is not None and existing.stem != stem:
        raise ValueError(f"table id {table_id!r} is already registered for {existing.stem!r}")
    _TABLES[table_id] = source
    return source


def table_source(table_id: str) -> TableSource:
    return _TABLES[table_id]


def column(field: str, header: str | None = None, fmt: str | None = None, *, link: bool = False,
           width: int | None = None, pinned: bool = False, tooltip: str | None = None) -> GridColumn:
    """An AG Grid column: numbers are right-aligned, formatted with d3-format and filtered numerically."""
    # the header names the unit an export writes ("Churn risk (%)"), so grid and spreadsheet agree
    col = GridColumn(field=field, headerName=unit_header(header or field.replace("_", " ").capitalize(), fmt))
    col.fmt = fmt
    if fmt == "pp":  # a difference of shares, shown in percentage points
        col["valueFormatter"] = {
            "function": "params.value == null ? '' : d3.format('+.1f')(params.value * 100) + ' pp'"}
    elif fmt is not None:
        spec = D3_FORMATS.get(fmt, fmt)
        col["valueFormatter"] = {
            "function": f"params.value == null ? '' : d3.format('{spec}')(params.value)"}
    if fmt is not None:
        col["type"] = "rightAligned"
        col["filter"] = "agNumberColumnFilter"
    if link:
        col["cellClass"] = "customer-link"
        col["headerTooltip"] = "Click an id to open the customer's profile"
    if width:
        col["minWidth"] = width
    if pinned:
        col["pinned"] = "left"
    if tooltip:
        col["headerTooltip"] = tooltip
    return col


#: Grid format of each measure display format of :mod:`metrics.measures.registry`.
MEASURE_FORMATS = {"int": "int", "money": "money", "pct": "pct", "days": "float1", "float": "float"}


def measure_column(name: str, header: str | None = None, **options: Any) -> dict[str, Any]:
    """A grid column for a registry measure: its label as header (unless given), its display format and
    its definition as the header tooltip."""
    m = MEASURES[name]
    return column(name, header or m.label, MEASURE_FORMATS[m.fmt], tooltip=m.definition, **options)


def segment_details_columns(label: str = "Segment", width: int = 150) -> list[dict[str, Any]]:
    """The grid columns of :func:`metrics.segments.tables.segment_details`: per measure a column group with its
    value, its share of the total (additive measures) and its change against the preceding period
    (relative, or in percentage points for rates)."""
    groups: list[dict[str, Any]] = [column("segment", label, pinned=True, width=width)]
    for name in SEGMENT_DETAIL_MEASURES:
        m = MEASURES[name]
        children = [measure_column(name, "Value", width=110)]
        if m.additive:
            children.append(column(f"{name}_share", "Share", "pct", width=90, tooltip="Share of the total"))
        children.append(column(f"{name}_change", "Δ prior", "pp" if m.fmt == "pct" else "+.1%", width=95,
                               tooltip="Change against the preceding period of equal length"
                                       + (" in percentage points" if m.fmt == "pct" else "")))
        groups.append({"headerName": m.label, "headerTooltip": m.definition, "children": children})
    return groups


def segment_summary_columns(label: str = "Segment", width: int = 150) -> list[dict[str, Any]]:
    """The grid columns of :func:`metrics.segments.tables.segment_summary`; ``label`` and ``width`` are the
    pinned segment column's header and width (e.g. "Tier" where the segments are loyalty tiers)."""
    return [
        column("segment", label, pinned=True, width=width),
        measure_column("customers"),
        column("customer_share", "% of customers", "pct"),
        measure_column("orders"),
        measure_column("revenue"),
        column("revenue_share", "% of sales", "pct"),
        measure_column("aov"),
        measure_column("ltv"),
        measure_column("repeat_purchase_rate"),
        measure_column("avg_recency_days"),
    ]


def data_table(table_id: str, columns: list[dict[str, Any]], *, height: int = 380,
               page_size: int = 15) -> html.Div:
    """Grid + caption + "Export CSV" button + the download and parameter stores of one table."""
    if table_id not in _TABLES:
        raise KeyError(f"register the table {table_id!r} with register_table() before laying it out")
    return html.Div([
        html.Div([
            html.Small(id=_id(CAPTION, table_id), className="text-muted table-caption"),
            html.Div([
                html.Small(id=_id(EXPORT_NOTICE, table_id), className="text-danger me-2 export-notice"),
                dbc.Button("Export CSV", id=_id(EXPORT, table_id), size="sm", color="secondary", outline=True,
                           className="export-button", n_clicks=0,
                           title="The table as shown, for a spreadsheet (UTF-8 CSV, every row)"),
                dbc.Button("Excel", id=_id(EXPORT_XLSX, table_id), size="sm", color="secondary", outline=True,
                           className="export-button ms-1", n_clicks=0,
                           title="The table as shown, as an .xlsx workbook with numeric cells"),
            ], className="d-flex align-items-center"),
        ], className="d-flex justify-content-between align-items-center mb-1"),
        dag.AgGrid(
            id=grid_id(table_id),
            columnDefs=columns,
            rowData=[],
            # headers wrap instead of being cut ("% of custo…"); columns fit their content
            defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90,
                           "wrapHeaderText": True, "autoHeaderHeight": True},
            dashGridOptions={"pagination": True, "paginationPageSize": page_size,
                             "paginationPageSizeSelector": [15, 25, 50, 200], "enableCellTextSelection": True,
                             "tooltipShowDelay": 300, "animateRows": False,
                             "localeText": {"noRowsToShow": "No rows match these filters"}},
            columnSize="responsiveSizeToFit",
            style={"height": f"{height}px", "width": "100%"},
        ),
        dcc.Download(id=_id(DOWNLOAD, table_id)),
        dcc.Store(id=_id(PARAMS, table_id)),
    ], className="data-table")


def capped(frame: pd.DataFrame) -> dict[str, Any]:
    """The preview of a ranked list whose function reports its length in ``attrs["total_rows"]``."""
    return {"rows": frame, "total": int(frame.attrs.get("total_rows", len(frame)))}


def table_outputs(table_id: str) -> list[Output]:
    """The three outputs :func:`table_update` fills: rows, the export state and the caption."""
    return [Output(grid_id(table_id), "rowData"), Output(_id(PARAMS, table_id), "data"),
            Output(_id(CAPTION, table_id), "children")]


def table_frame(table_id: str, query: str | None, params: dict[str, Any] | None = None
                ) -> tuple[pd.DataFrame, Filters]:
    """The whole frame of a table for a filter query and parameters (what the grid and CSV show)."""
    source = _TABLES[table_id]
    filters = read_filters(query, use_segment=source.use_segment)
    return source.frame(filters, **(params or {})), filters


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values become null, dates ISO text."""
    out = frame.copy()
    for name in out.columns:
        series = out[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[name] = series.dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    rows = out.to_dict("records")
    for row in rows:
        for key, value in row.items():
            if isinstance(value, (datetime, date)):
                row[key] = value.isoformat()[:10]
            elif isinstance(value, np.generic):
                row[key] = value.item()
    return rows


def table_update(table_id: str, query: str | None, **params: Any) -> tuple[list[dict], dict, str]:
    """Values for :func:`table_outputs`: the grid rows, the export state, and a caption."""
    source = _TABLES[table_id]
    if source.preview is not None:
        filters = read_filters(query, use_segment=source.use_segment)
        part = source.preview(filters, source.max_rows, **params)
        shown, total = part["rows"], int(part["total"])
    else:
        frame, filters = table_frame(table_id, query, params)
        shown, total = frame.head(source.max_rows), len(frame)
    caption = f"{fmt_int(total)} row" + ("" if total == 1 else "s")
    if total > len(shown):
        caption = (f"Top {fmt_int(len(shown))} of {fmt_int(total)}; the export has all"
                   if source.top else f"Showing the first {fmt_int(len(shown))} of {fmt_int(total)} rows; "
                                      "the export has all")
    state = {"query": filters.to_query(), "params": params}
    return records(shown), state, caption


def sheet_columns(columns: list[dict[str, Any]] | None) -> list[SheetColumn] | None:
    """The export columns of grid columns: leaves in grid order, a group's header in front of its
    children's ("Total Sales · Share"), each with its display format."""
    if columns is None:
        return None
    out: list[SheetColumn] = []
    for col in columns:
        if "children" in col:
            out += [SheetColumn(c.field, f"{col.get('headerName', '')} · {c.header}", c.fmt)
                    for c in sheet_columns(col["children"]) or []]
        elif "field" in col:
            out.append(SheetColumn(col["field"], col.get("headerName") or col["field"], getattr(col, "fmt", None)))
    return out


def export_stem(source: TableSource, params: dict[str, Any]) -> str:
    """The table's file-name stem with its parameters (scheme, tier, dimension ...) in it."""
    values = [str(v) for v in params.values() if v not in (None, "")]
    return "_".join([source.stem, *values])


def _keyword_parameters(frame: Callable[..., pd.DataFrame]) -> dict[str, Any] | None:
    """Name -> default of the parameters a table function takes after the filters (None: any name)."""
    parameters = list(inspect.signature(frame).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default) for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def _fits(value: Any, default: Any) -> bool:
    """Whether ``value`` is a JSON scalar of the kind ``default`` is (any scalar where the default is None)."""
    if value is None:
        return default is None
    if isinstance(value, str):
        return len(value) <= MAX_PARAM_TEXT and (default is None or isinstance(default, str))
    if isinstance(value, bool):
        return default is None or isinstance(default, bool)
    if isinstance(value, int):
        return default is None or (isinstance(default, (int, float)) and not isinstance(default, bool))
    if isinstance(value, float):
        return default is None or isinstance(default, float)
    return False  # a list or an object


def export_params(source: TableSource, params: Any) -> dict[str, Any]:
    """The parameters of an export request checked against what the table's function accepts: its
    parameter names, each value a JSON scalar of its default's type (text at most :data:`MAX_PARAM_TEXT`
    long). The stored table state comes back from the browser, so anything else is a 400, not a call."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise BadRequest("the table's export parameters are not an object")
    accepted = _keyword_parameters(source.frame)
    for name, value in params.items():
        if accepted is not None and name not in accepted:
            raise BadRequest(f"table {source.table_id!r} takes no parameter {str(name)[:40]!r}")
        if not _fits(value, None if accepted is None else accepted[name]):
            raise BadRequest(f"parameter {str(name)[:40]!r} of table {source.table_id!r} has a value it cannot take")
    return params


def _requested_frame(source: TableSource, query: str, params: dict[str, Any]) -> tuple[pd.DataFrame, Filters]:
    """The export's frame. A ValueError from the table's function for values the request chose (other than
    its defaults: "unknown segment scheme 'x'") is the function refusing them: a 400. With its defaults it is a
    fault of the code and stays one."""
    try:
        return table_frame(source.table_id, query, params)
    except ValueError as exc:
        defaults = _keyword_parameters(source.frame) or {}
        if all(name in defaults and value == defaults[name] for name, value in params.items()):
            raise
        LOG.warning("refused an export of %s: %s", source.table_id, exc)
        raise BadRequest(f"table {source.table_id!r} does not accept these parameters") from exc


def export_file(table_id: str, query: str, params: dict[str, Any], kind: str) -> dict[str, Any]:
    """The ``dcc.Download`` data of a table as a spreadsheet: the grid's columns and headers, values as
    displayed; ``kind`` is "csv" or "xlsx". Raises ValueError when a table is too long for a sheet, and
    BadRequest for parameters the table does not take (:func:`export_params`)."""
    source = _TABLES[table_id]
    params = export_params(source, params)
    frame, filters = _requested_frame(source, query, params)
    columns = sheet_columns(source.grid_columns(params))
    sheet = spreadsheet_frame(frame, columns) if columns else frame
    name = export_filename(export_stem(source, params), filters.describe(), kind)
    if kind == "xlsx":
        data = to_xlsx(sheet, columns or [], sheet=source.stem)
        return dcc.send_bytes(data, name, type=XLSX_MIME)
    return dcc.send_string(to_spreadsheet_csv(sheet), name, type="text/csv")


@callback(
    Output({"type": DOWNLOAD, "index": MATCH}, "data"),
    Output({"type": EXPORT_NOTICE, "index": MATCH}, "children"),
    Input({"type": EXPORT, "index": MATCH}, "n_clicks"),
    Input({"type": EXPORT_XLSX, "index": MATCH}, "n_clicks"),
    State({"type": PARAMS, "index": MATCH}, "data"),
    prevent_initial_call=True,
)
def export_table(n_csv: int | None, n_xlsx: int | None, state: dict | None) -> tuple[Any, str]:
    """Rebuild the frame the grid shows and send it as CSV or xlsx named after the table, its parameters
    and the filters."""
    trigger = ctx.triggered_id
    if not (n_csv or n_xlsx) or state is None or not isinstance(trigger, dict):
        raise PreventUpdate  # nothing to export yet (the grid has not been filled)
    table_id = str(trigger.get("index"))
    if table_id not in _TABLES:
        raise PreventUpdate
    query = state.get("query") if isinstance(state, dict) else None
    if not isinstance(state, dict) or not isinstance(query, (str, type(None))):
        raise BadRequest("the table's export state is not the one its grid stored")
    kind = "xlsx" if trigger.get("type") == EXPORT_XLSX else "csv"
    try:
        return export_file(table_id, query or "", state.get("params"), kind), ""
    except ValueError as exc:
        if kind != "xlsx":
            raise
        return no_update, str(exc)  # over a sheet's row limit: the message says so and offers CSV


@callback(
    Output(NAV_ID, "href"),
    Input({"type": GRID, "index": ALL}, "cellClicked"),
    State(QUERY_STORE, "data"),
    prevent_initial_call=True,
)
def open_customer(_clicks: list, query: str | None) -> str:
    """A click on a customer id cell opens ``/customer?id=…`` with the current filters."""
    clicked = ctx.triggered[0].get("value") if ctx.triggered else None
    if not isinstance(clicked, dict) or clicked.get("colId") != "customer_id":
        raise PreventUpdate
    try:
        customer_id = int(clicked.get("value"))
    except (TypeError, ValueError) as exc:
        raise PreventUpdate from exc
    filters_part = link_query(query).lstrip("?")
    suffix = f"&{filters_part}" if filters_part else ""
    return dash.get_relative_path(f"/customer?id={customer_id}{suffix}")
