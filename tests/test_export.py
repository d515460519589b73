"""Exports for people (values as displayed, the grid's headers, a BOM, xlsx with typed cells) on a
hand-checkable frame."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from metrics.export import (
    BOM,
    SheetColumn,
    spreadsheet_frame,
    to_spreadsheet_csv,
    to_xlsx,
    unit_header,
)

FRAME = pd.DataFrame({
    "name": ["Jörn", "=cmd()", "Ann"],
    "customers": [3, 1, 0],
    "customer_share": [0.9999999998351535, 1.0405456059130087e-06, 0.5],
    "revenue": [380.65000000000003, 0.004, 12.3456],
    "change": [0.0123, -0.00004, None],
    "internal": [1, 2, 3],
})
COLUMNS = [
    SheetColumn("name", "Name"),
    SheetColumn("customers", "Customers", "int"),
    SheetColumn("customer_share", unit_header("Share of customers", "pct"), "pct"),
    SheetColumn("revenue", "Revenue", "money"),
    SheetColumn("change", unit_header("Δ prior", "pp"), "pp"),
]


def test_headers_say_the_unit_once():
    assert unit_header("Churn risk", "pct") == "Churn risk (%)"
    assert unit_header("% of sales", "pct") == "% of sales"
    assert unit_header("Δ prior", "pp") == "Δ prior (pp)"
    assert unit_header("Revenue", "money") == "Revenue"


def test_spreadsheet_frame_has_the_grid_columns_rounded_as_displayed():
    sheet = spreadsheet_frame(FRAME, COLUMNS)
    assert list(sheet.columns) == ["Name", "Customers", "Share of customers (%)", "Revenue", "Δ prior (pp)"]
    assert sheet["Share of customers (%)"].tolist() == [100.0, 0.0, 50.0]
    assert sheet["Revenue"].tolist() == [380.65, 0.0, 12.35]
    assert sheet["Customers"].tolist() == [3, 1, 0]
    assert sheet["Δ prior (pp)"].iloc[:2].tolist() == [1.2, 0.0]
    assert pd.isna(sheet["Δ prior (pp)"].iloc[2])


def test_csv_has_a_bom_no_float_noise_and_neutralised_formulas():
    text = to_spreadsheet_csv(spreadsheet_frame(FRAME, COLUMNS))
    assert text.startswith(BOM)
    lines = text.removeprefix(BOM).split("\r\n")
    assert lines[0] == "Name,Customers,Share of customers (%),Revenue,Δ prior (pp)"
    assert lines[1] == "Jörn,3,100.0,380.65,1.2"
    assert lines[2].startswith("'=cmd(),1,0.0,0.0,0.0")
    assert "e-0" not in text and "0000000" not in text
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"


def test_xlsx_has_typed_formatted_cells():
    sheet = spreadsheet_frame(FRAME, COLUMNS)
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(sheet, COLUMNS, sheet="segments")))
    ws = book["segments"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Name", "Customers", "Share of customers (%)", "Revenue", "Δ prior (pp)")
    assert rows[1] == ("Jörn", 3, 100.0, 380.65, 1.2)
    assert rows[2][0] == "'=cmd()"
    assert rows[3][4] is None
    assert ws.cell(row=2, column=4).number_format == "#,##0.00"
    assert ws.cell(row=2, column=2).number_format == "#,##0"
    assert ws.freeze_panes == "A2"


def test_xlsx_refuses_a_table_over_the_sheet_limit(monkeypatch):
    import metrics.export as export

    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ValueError, match="export CSV instead"):
        to_xlsx(spreadsheet_frame(FRAME, COLUMNS), COLUMNS)
