"""Exportable metric tables: their registry (:data:`EXPORTS`) and CSV/Parquet output safe to open in a
spreadsheet.

Spreadsheet programs execute a cell that begins with ``=``, ``+``, ``-``, ``@``, tab, carriage return or
NUL as a formula ("CSV injection"). Text cells starting with one of those characters get a leading
apostrophe, which spreadsheets show as text. Numbers are left alone, so a real -12.5 stays a number.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made inert; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value.replace("\x00", "")
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells (and column names) cannot run as spreadsheet formulas."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series)):
            out[column] = series.map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def to_safe_csv(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` with formula-like text cells neutralised.

    Lines end with CRLF (RFC 4180): with a bare ``\\n`` terminator the csv writer leaves a cell containing a
    carriage return unquoted, and readers then split the row in two.
    """
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\r\n")


# ----- exports for people: the grid's columns, values as displayed, a BOM, and xlsx ------------------------

#: How a display format is written to a spreadsheet: the factor applied, the decimals kept, the header
#: suffix and the xlsx number format. Shares are written as numbers in percent ("% of sales (%)": 51.2).
SPREADSHEET_FORMATS: dict[str, tuple[float, int, str, str]] = {
    "int": (1, 0, "", "#,##0"),
    "money": (1, 2, "", "#,##0.00"),
    "pct": (100, 1, " (%)", "0.0"),
    "+.1%": (100, 1, " (%)", "+0.0;-0.0;0.0"),
    "pp": (100, 1, " (pp)", "+0.0;-0.0;0.0"),
    "float": (1, 2, "", "#,##0.00"),
    "float1": (1, 1, "", "#,##0.0"),
    "score": (1, 2, "", "0.00"),
}
#: Rows an xlsx sheet holds, its header row included.
XLSX_MAX_ROWS = 1_048_576
#: UTF-8 byte-order mark: spreadsheet programs read the file as UTF-8 ("Jörn", not "JÃ¶rn").
BOM = "\ufeff"


@dataclass(frozen=True)
class SheetColumn:
    """One column of an export for people: the frame's ``field``, the ``header`` the grid shows (with its
    unit, see :func:`unit_header`) and the display format of its values (a key of
    :data:`SPREADSHEET_FORMATS`, or None for text and dates)."""

    field: str
    header: str
    fmt: str | None = None


def unit_header(header: str, fmt: str | None) -> str:
    """A column header that says the unit a spreadsheet cell holds: "Churn risk (%)" for a share written
    in percent; a header that already names it ("% of sales") is kept."""
    suffix = SPREADSHEET_FORMATS[fmt][2] if fmt in SPREADSHEET_FORMATS else ""
    return header if not suffix or suffix.strip(" ()") in header else header + suffix


def spreadsheet_frame(frame: pd.DataFrame, columns: list[SheetColumn]) -> pd.DataFrame:
    """The grid's columns in the grid's order under the grid's headers, values rounded as displayed
    (money to cents, shares in percent to one decimal, counts as integers); columns the frame lacks are
    left out."""
    out = {}
    for col in columns:
        if col.field not in frame.columns:
            continue
        series = frame[col.field]
        spec = SPREADSHEET_FORMATS.get(col.fmt or "")
        if spec is not None and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            factor, decimals, _, _ = spec
            values = pd.to_numeric(series, errors="coerce").astype("float64") * factor
            values = values.round(decimals)
            series = values.astype("Int64") if decimals == 0 else values.where(values != 0, 0.0)  # no "-0.0"
        elif pd.api.types.is_datetime64_any_dtype(series):
            series = series.dt.strftime("%Y-%m-%d").where(series.notna(), None)
        out[col.header] = series.reset_index(drop=True)
    return pd.DataFrame(out)


def to_spreadsheet_csv(frame: pd.DataFrame) -> str:
    """CSV for a spreadsheet: :func:`to_safe_csv` with a UTF-8 byte-order mark in front."""
    return BOM + to_safe_csv(frame)


def to_xlsx(frame: pd.DataFrame, columns: list[SheetColumn], sheet: str = "table") -> bytes:
    """An .xlsx workbook of a :func:`spreadsheet_frame`: typed cells (numbers as numbers, with the grid's
    number format), a bold frozen header row, columns sized to their content. Text cells are neutralised
    as in the CSV. Raises ValueError over a sheet's row limit (:data:`XLSX_MAX_ROWS`)."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if len(frame) + 1 > XLSX_MAX_ROWS:
        raise ValueError(f"{len(frame):,} rows do not fit in a sheet ({XLSX_MAX_ROWS - 1:,} at most): "
                         "export CSV instead")
    safe = neutralise_frame(frame)
    formats = {c.header: SPREADSHEET_FORMATS[c.fmt][3] for c in columns if c.fmt in SPREADSHEET_FORMATS}
    book = Workbook(write_only=True)
    ws = book.create_sheet(_UNSAFE_FILENAME.sub(" ", sheet)[:31] or "table")
    ws.freeze_panes = "A2"
    for i, name in enumerate(safe.columns, start=1):
        width = max([len(str(name))] + [len(str(v)) for v in safe[name].head(200)])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    bold = Font(bold=True)
    header = []
    for name in safe.columns:
        cell = WriteOnlyCell(ws, value=str(name))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    number_format = [formats.get(str(name)) for name in safe.columns]
    for row in safe.itertuples(index=False, name=None):
        cells = []
        for value, fmt in zip(row, number_format, strict=True):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                value = None
            elif hasattr(value, "item"):  # numpy scalars
                value = value.item()
            cell = WriteOnlyCell(ws, value=value)
            if fmt is not None and value is not None:
                cell.number_format = fmt
            cells.append(cell)
        ws.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_filename(stem: str, filter_description: str, extension: str = "csv") -> str:
    """File name carrying the table and the filter state, e.g. ``segments_2024-01-01_2024-12-31_All.csv``."""
    name = _UNSAFE_FILENAME.sub("-", f"{stem}_{filter_description}").strip("-")[:180]
    return f"{name}.{extension}"


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a metric table to ``.csv`` (neutralised) or ``.parquet`` (typed), chosen by the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() == ".csv":
        path.write_text(to_safe_csv(frame), encoding="utf-8")
    else:
        raise ValueError(f"unsupported export format {path.suffix!r}: use .csv or .parquet")
    return path


# ----- the registry of exportable tables ---------------------------------------------------------------

@dataclass(frozen=True)
class ExportSpec:
    """A metric table that can be exported: ``target`` is ``"module:function"`` of
    ``(engine, filters, **opts)``.

    ``options`` are the options the function takes (``scheme``, ``grain``, ``dimension``, ``measure``,
    ``metric``, ``label``), passed as keyword arguments of the same name (``custintel export`` flags).
    """

    target: str
    description: str
    options: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        module_name, _, attribute = self.target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)

    def available(self) -> bool:
        try:
            self.load()
        except (ImportError, AttributeError):
            return False
        return True


#: Every exportable table, by name: ``custintel export`` writes them, the glossary lists them and the warm-up
#: precomputes them. Add an entry here when a metric should be exportable; entries whose module is missing
#: are listed as unavailable rather than breaking the CLI.
EXPORTS: dict[str, ExportSpec] = {
    "kpi_summary": ExportSpec("metrics.measures.kpis:kpi_summary",
                              "KPI cards: value, previous period and change for every headline KPI"),
    "kpis": ExportSpec("metrics.measures.kpis:kpis", "headline KPIs of the filter state as one row"),
    "frequency_bands": ExportSpec("metrics.measures.kpis:frequency_bands",
                                  "customers and revenue by order-count band (1, 2-3, 4-5, 6+)"),
    "segment_summary": ExportSpec("metrics.segments.tables:segment_summary",
                                  "one row per segment of a scheme: customers, revenue, AOV, repeat rate ...",
                                  ("scheme",)),
    "segment_country_matrix": ExportSpec("metrics.segments.tables:segment_country_matrix",
                                         "segment x country: customers, revenue, AOV, repeat rate", ("scheme",)),
    "new_repeat_summary": ExportSpec("metrics.measures.repeat:new_repeat_summary",
                                     "new, potential and repeat customers / orders / sales"),
    "period_sales": ExportSpec("metrics.measures.trends:period_sales",
                               "sales, orders, customers and AOV per period", ("grain",)),
    "monthly_active_customers": ExportSpec("metrics.measures.activity:monthly_active_customers",
                                           "monthly active customers (30 d) by segment", ("scheme",)),
    "activity_heatmap_year_month": ExportSpec("metrics.measures.activity:activity_heatmap_year_month",
                                              "orders or revenue by year x month", ("measure",)),
    "activity_heatmap_weekday_hour": ExportSpec("metrics.measures.activity:activity_heatmap_weekday_hour",
                                                "orders or revenue by weekday x hour", ("measure",)),
    "engagement_by_segment": ExportSpec("metrics.measures.engagement:engagement_by_segment",
                                        "email open rate and web visits by month and segment", ("scheme",)),
    "prospects_summary": ExportSpec("metrics.measures.engagement:prospects_summary",
                                    "people who signed up but never bought"),
    "cart_abandoners": ExportSpec("metrics.measures.engagement:cart_abandoners", "prospects who abandoned carts"),
    "lifecycle_by_month": ExportSpec("metrics.segments.lifecycle:lifecycle_by_month",
                                     "lifecycle segment sizes at each month end"),
    "demographics": ExportSpec("metrics.measures.demographics:demographics",
                               "customers and revenue by gender, age group, ...", ("dimension",)),
    "customer_kpis": ExportSpec("metrics.measures.kpis:customer_kpis", "customer KPIs of the filter state as one row"),
    "segment_summary_with_change": ExportSpec("metrics.segments.tables:segment_summary_with_change",
                                              "segment summary with the change versus the previous period",
                                              ("scheme",)),
    "new_repeat_summary_with_change": ExportSpec("metrics.measures.repeat:new_repeat_summary_with_change",
                                                 "new / potential / repeat panels with the change versus the "
                                                 "previous period"),
    "trend": ExportSpec("metrics.measures.trends:trend", "one measure per period (revenue, orders, aov, "
                        "repeat_purchase_rate ...)", ("metric", "grain")),
    "trend_by_segment": ExportSpec("metrics.measures.trends:trend_by_segment",
                                   "one measure per period and segment", ("metric", "grain", "scheme")),
    "measures": ExportSpec("metrics.measures.registry:all_measures", "every measure of the registry for the range"),
    "segment_details": ExportSpec("metrics.segments.tables:segment_details",
                                  "per segment: sales, orders, repeat measures, share of total and change",
                                  ("scheme",)),
    "audience": ExportSpec("metrics.segments.tables:audience", "the customers of one segment label (an audience list)",
                           ("scheme", "label")),
    "churn_bands": ExportSpec("metrics.models.churn:churn_bands", "customers and revenue by churn-risk band"),
    "churn_by_segment": ExportSpec("metrics.models.churn:churn_by_segment", "churn risk and revenue by segment",
                                   ("scheme",)),
    "customer_action_table": ExportSpec("metrics.models.churn:customer_action_table",
                                        "high-risk, high-value customers to act on (recency, revenue, CLV)"),
    "clv_summary": ExportSpec("metrics.models.clv:clv_summary", "predictive CLV: growing / maintaining / declining"),
    "clv_by_segment": ExportSpec("metrics.models.clv:clv_by_segment", "predictive CLV by segment", ("scheme",)),
    "model_fit": ExportSpec("metrics.models.choice:model_fit",
                            "the purchase-model choice: each model's parameters, log-likelihood and holdout "
                            "prediction, and which one the holdout test chose"),
    "holdout_check": ExportSpec("metrics.models.choice:holdout_check",
                                "every purchase model fitted up to --end, predicting the 6 months after it "
                                "(or to --holdout-end): predicted vs actual purchases", ("holdout_end",)),
    "holdout_tracking": ExportSpec("metrics.models.choice:holdout_tracking",
                                   "the model choice's tracking chart: cumulative repeat purchases, actual vs "
                                   "predicted per model, over calibration and holdout"),
    "conditional_expectations": ExportSpec("metrics.models.choice:conditional_expectations",
                                           "holdout purchases per customer by calibration frequency, actual vs "
                                           "predicted per model"),
    "p_alive_matrix": ExportSpec("metrics.models.churn:p_alive_matrix",
                                 "P(alive) by repeat purchases x weeks since the last purchase"),
    "fitted_vs_actual": ExportSpec("metrics.models.churn:fitted_vs_actual",
                                   "repeat purchases in the range week by week, actual vs the model"),
    "segment_clv": ExportSpec("metrics.models.clv:segment_clv",
                              "predictive CLV per segment with its 80 % interval", ("scheme",)),
    "monthly_retention": ExportSpec("metrics.measures.retention:monthly_retention",
                                    "monthly retention of active customers", ("scheme",)),
    "cohort_retention": ExportSpec("metrics.measures.retention:cohort_retention",
                                   "cohort retention by month of first order"),
}
