"""CSV/Parquet export of metric tables, safe to open in a spreadsheet.

Spreadsheet programs execute a cell that begins with ``=``, ``+``, ``-``, ``@``, tab, carriage return or
NUL as a formula ("CSV injection"). Text cells starting with one of those characters get a leading
apostrophe, which spreadsheets show as text. Numbers are left alone, so a real -12.5 stays a number.
"""

from __future__ import annotations

import re
from pathlib import Path

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
