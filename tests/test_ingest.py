"""Importing your own data (ingest): every rejection and repair reason, format variants,
line-to-order aggregation, the customer file, mappings, the refuse threshold and the atomic swap."""

from __future__ import annotations

import calendar
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import ingest
from ingest import (
    HASHED_ID_BASE,
    ImportOptions,
    ImportRefused,
    IngestError,
    import_data,
    load_mapping_file,
    parse_flags,
    parse_numbers,
    resolve_mapping,
    surrogate_ids,
)
from metrics.engine import Engine
from metrics.measures.kpis import frequency_bands, kpis
from metrics.schema import TABLES
from metrics.selection import default_filters
from metrics.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 1, 1)
HEADER = "order_id,customer_id,order_date,amount,quantity"
GOOD_ROWS = ["o1,c1,2024-01-01,10.00,1", "o2,c1,2024-02-01,20.00,2", "o3,c2,2024-03-01,30.00,1",
             "o4,c3,2024-04-01,40.00,3"]


def csv_text(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / name) for name in TABLES}


def run_import(tmp_path: Path, text: str | None = None, *, source: Path | None = None,
               customers: str | None = None, order_map=None, customer_map=None, out: str = "data",
               **options) -> tuple[ingest.ImportReport, dict[str, pd.DataFrame]]:
    if source is None:
        source = tmp_path / "orders.csv"
        source.write_text(text or "", encoding="utf-8")
    customers_path = None
    if customers is not None:
        customers_path = tmp_path / "customers.csv"
        customers_path.write_text(customers, encoding="utf-8")
    opts = {"today": TODAY, "progress": False, "max_bad_share": 1.0, **options}
    report = import_data(source, tmp_path / out, customers_path=customers_path, order_map=order_map,
                         customer_map=customer_map, options=ImportOptions(**opts))
    return report, read_tables(tmp_path / out)


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----- rejected rows: one bad row among four good ones, per reason -------------------------------------

#: (reason, bad row). Each row has exactly one problem; the checks run in this order, first hit wins.
REJECT_CASES = [
    ("guest_line", "x01,,2024-01-05,5,1"),  # set aside, not rejected
    ("guest_line", "x02,NULL,2024-01-05,5,1"),
    ("missing_date", "x03,c4,,5,1"),
    ("unparseable_date", "x04,c4,2024-13-45,5,1"),
    ("unparseable_date", "x05,c4,yesterday,5,1"),
    ("date_too_old", "x06,c4,1989-12-31,5,1"),
    ("future_date", "x07,c4,2025-01-02,5,1"),
    ("missing_amount", "x08,c4,2024-01-05,,1"),
    ("non_numeric_amount", "x09,c4,2024-01-05,abc,1"),
    ("non_numeric_amount", "x10,c4,2024-01-05,inf,1"),
    ("non_numeric_amount", 'x11,c4,2024-01-05,"12,50",1'),  # a decimal comma in a decimal-point file
    ("negative_amount", "x12,c4,2024-01-05,-5,1"),
    ("negative_amount", "x13,c4,2024-01-05,(5.00),1"),
    ("bad_quantity", "x14,c4,2024-01-05,5,0"),
    ("bad_quantity", "x15,c4,2024-01-05,5,-2"),
    ("malformed_row", "x16,c4,2024-01-05,5,1,surplus"),
    ("conflicting_order_customer", "o1,c9,2024-01-01,99,1"),  # order o1 belongs to c1: both lines go
]


def test_each_rejection_reason_is_counted(tmp_path):
    rows = [*GOOD_ROWS, *(row for _, row in REJECT_CASES), "o5,c5,2025-01-01T23:59:59,1,1"]  # today is fine
    report, tables = run_import(tmp_path, csv_text(HEADER, rows))
    tally = report.orders_file
    assert tally.rows_read == len(rows)
    expected: dict[str, int] = {}
    for reason, _ in REJECT_CASES:
        expected[reason] = expected.get(reason, 0) + 1
    expected["conflicting_order_customer"] = 2
    assert dict(tally.set_aside) == {"guest_line": expected.pop("guest_line")}
    assert tally.set_aside_amount["guest_line"] == 10.0
    assert dict(tally.rejected) == expected
    assert len(tables["fact_orders"]) == 4  # o2, o3, o4, o5
    # every reason has samples naming the data row (header excluded, malformed rows not numbered)
    assert tally.samples["missing_date"][0] == {"row": 7, "customer_id": "c4", "order_date": ""}
    assert tally.samples["future_date"][0]["order_date"] == "2025-01-02"
    # the conflicting line is the 21st data row, but the malformed row before it is not counted
    assert {s["row"] for s in tally.samples["conflicting_order_customer"]} == {1, 20}
    assert "surplus" in tally.samples["malformed_row"][0]["text"]
    saved = json.loads((tmp_path / "data-import-report.json").read_text())
    assert saved["status"] == "imported"
    assert {k: v["rows"] for k, v in saved["orders_file"]["rejected"].items()} == expected
    text = (tmp_path / "data-import-report.md").read_text()
    assert "| 3 | non-numeric or non-finite amount |" in text


def test_duplicate_order_ids_with_order_grain(tmp_path):
    report, _ = run_import(tmp_path, csv_text(HEADER, [*GOOD_ROWS, "o1,c1,2024-01-01,99,1", "o1,c2,2024-01-01,9,1"]),
                           grain="order")
    assert dict(report.orders_file.rejected) == {"duplicate_order_id": 2}


def test_duplicate_order_id_keeps_the_first_row(tmp_path):
    _, tables = run_import(tmp_path, csv_text(HEADER, [*GOOD_ROWS, "o1,c1,2024-01-01,99,1"]), grain="order")
    orders = tables["fact_orders"]
    assert len(orders) == 4 and 99.0 not in orders.net_revenue.tolist()


def test_dayfirst_dates_without_the_flag_are_rejected_with_a_hint(tmp_path):
    report, _ = run_import(tmp_path, csv_text(HEADER, [*GOOD_ROWS, "o9,c4,13/01/2024,5,1"]))
    assert dict(report.orders_file.rejected) == {"unparseable_date": 1}
    assert any("--dayfirst" in note for note in report.notes)


# ----- repaired rows ----------------------------------------------------------------------------------


def test_quantity_repairs(tmp_path):
    report, tables = run_import(tmp_path, csv_text(HEADER, [
        "o1,c1,2024-01-01,10,abc", "o2,c1,2024-01-02,10,2.6", "o3,c1,2024-01-03,10,0.2", "o4,c1,2024-01-04,10,"]))
    assert dict(report.orders_file.repaired) == {"quantity_unreadable": 1, "quantity_fractional": 2}
    assert not report.orders_file.rejected
    orders = tables["fact_orders"].sort_values("order_ts")
    assert orders.quantity.tolist() == [1, 3, 1, 1]  # unreadable -> 1, 2.6 -> 3, 0.2 -> at least 1, blank -> 1
    assert orders.unit_price.tolist() == pytest.approx([10, 10 / 3, 10, 10])


def test_discount_repairs_and_net_gross_amounts(tmp_path):
    header = "customer_id,order_date,amount,discount"
    rows = ["c1,2024-01-01,100,10", "c1,2024-01-02,100,abc", "c1,2024-01-03,100,-5", "c1,2024-01-04,100,150"]
    report, tables = run_import(tmp_path, csv_text(header, rows), amount_kind="gross")
    assert dict(report.orders_file.repaired) == {"discount_unreadable": 1, "discount_negative": 1,
                                                 "discount_above_amount": 1}
    orders = tables["fact_orders"].sort_values("order_ts")
    assert orders.gross_amount.tolist() == [100, 100, 100, 100]
    assert orders.discount_amount.tolist() == [10, 0, 0, 100]
    assert orders.net_revenue.tolist() == [90, 100, 100, 0]
    assert orders.promo_used.tolist() == [True, False, False, True]  # no promo column: discount > 0

    _, net_tables = run_import(tmp_path, csv_text(header, ["c1,2024-01-01,90,10"]), out="net")
    net = net_tables["fact_orders"].iloc[0]  # default: the amount is what was paid
    assert (net.gross_amount, net.discount_amount, net.net_revenue) == (100, 10, 90)


def test_unreadable_flags_missing_order_ids_and_long_text(tmp_path):
    header = "order_id,customer_id,order_date,amount,prime,returned,country"
    long_country = "X" * 70
    rows = ["o1,c1,2024-01-01,10,yes,no,Germany", "o2,c2,2024-01-02,10,maybe,no,France",
            f",c3,2024-01-03,10,no,no,{long_country}", ",c3,2024-01-04,10,no,1,Spain"]
    report, tables = run_import(tmp_path, csv_text(header, rows))
    assert dict(report.orders_file.repaired) == {"flag_unreadable": 1, "missing_order_id": 2, "text_truncated": 1}
    orders = tables["fact_orders"]
    assert len(orders) == 4 and orders.order_id.is_unique  # rows without an id stay separate orders
    assert orders.is_returned.sum() == 1
    customers = tables["dim_customer"].set_index("name")
    assert customers.loc["c1", "is_prime"] and not customers.loc["c2", "is_prime"]
    assert customers.loc["c3", "country"] == "Spain"  # the latest order's country


def test_order_lines_are_aggregated_into_orders(tmp_path):
    header = "order_id,customer_id,order_date,amount,quantity,discount,product,category,returned"
    rows = [
        "A,c1,2024-01-05 10:00,30,1,0,P1,Books,no",
        "A,c1,2024-01-05 09:00,50,2,5,P2,Home,no",   # the largest line: the order's product
        "A,c1,2024-01-05 11:00,20,1,0,P3,Home,yes",  # a returned line of a kept order
        "B,c2,2024-01-06,15,1,0,P1,Books,yes",       # the whole order returned
        "C,c2,2024-01-07,5,1,0,P1,Books,no",
        "C,c2,2024-01-08,6,1,0,P1,Books,no",         # same order on another day
    ]
    report, tables = run_import(tmp_path, csv_text(header, rows))
    assert dict(report.orders_file.repaired) == {"partial_return_lines": 1, "order_lines_different_days": 2}
    orders = tables["fact_orders"].set_index("order_id")
    a, b, c = (orders.loc[surrogate_ids(pd.Series([k]))[0]] for k in "ABC")
    assert a.order_ts == pd.Timestamp("2024-01-05 09:00")
    assert (a.quantity, a.gross_amount, a.discount_amount, a.net_revenue) == (3, 85, 5, 80)
    assert a.unit_price == pytest.approx(85 / 3)
    assert a.product_id == surrogate_ids(pd.Series(["P2"]))[0]
    assert not a.is_returned and not a.is_cancelled
    assert b.is_returned and b.net_revenue == 15
    assert c.order_ts == pd.Timestamp("2024-01-07") and c.net_revenue == 11 and c.date_key == 20240107
    products = tables["dim_product"].set_index("product_name")
    assert products.loc["P2", "category"] == "Home" and products.loc["P2", "list_price"] == 27.5
    assert products.loc["P1", "category"] == "Books"
    customers = tables["dim_customer"].set_index("name")
    assert customers.loc["c1", "preferred_category"] == "Home"  # 55 of Home vs 30 of Books


def test_status_text_marks_returns_and_cancellations(tmp_path):
    header = "customer_id,order_date,amount,status"
    rows = ["c1,2024-01-01,10,Completed", "c1,2024-01-02,10,Refunded", "c1,2024-01-03,10,CANCELLED",
            "c1,2024-01-04,10,return requested"]
    _, tables = run_import(tmp_path, csv_text(header, rows))
    orders = tables["fact_orders"].sort_values("order_ts")
    assert orders.is_returned.tolist() == [False, True, False, True]
    assert orders.is_cancelled.tolist() == [False, False, True, False]


# ----- formats ------------------------------------------------------------------------------------------

EPOCH = calendar.timegm(datetime(2024, 3, 5, 14, 30).timetuple())
#: (text, dayfirst: True / False / None = either, expected)
DATE_CASES = [
    ("2024-03-05", None, datetime(2024, 3, 5)),
    ("2024-03-05T14:30:00", None, datetime(2024, 3, 5, 14, 30)),
    ("2024-03-05 14:30:00.250", None, datetime(2024, 3, 5, 14, 30, 0, 250_000)),
    ("2024-03-05T14:30:00+02:00", None, datetime(2024, 3, 5, 14, 30)),  # wall-clock time kept
    ("2024-03-05T14:30:00Z", None, datetime(2024, 3, 5, 14, 30)),
    ("2024-3-5", None, datetime(2024, 3, 5)),
    ("03/05/2024", False, datetime(2024, 3, 5)),
    ("3/5/2024 2:30 PM", False, datetime(2024, 3, 5, 14, 30)),
    ("05/03/2024", True, datetime(2024, 3, 5)),
    ("05/03/2024 14:30", True, datetime(2024, 3, 5, 14, 30)),
    ("5.3.2024", True, datetime(2024, 3, 5)),
    ("05/03/24", True, datetime(2024, 3, 5)),
    ("2024/03/05", None, datetime(2024, 3, 5)),
    ("5 Mar 2024", None, datetime(2024, 3, 5)),
    ("March 5, 2024", None, datetime(2024, 3, 5)),
    ("20240305", None, datetime(2024, 3, 5)),
    (str(EPOCH), None, datetime(2024, 3, 5, 14, 30)),
    (str(EPOCH * 1000), None, datetime(2024, 3, 5, 14, 30)),
]


@pytest.mark.parametrize("dayfirst", [False, True])
def test_date_formats(tmp_path, dayfirst):
    cases = [(text, expected) for text, first, expected in DATE_CASES if first in (None, dayfirst)]
    rows = [f'{i},c1,"{text}",5' for i, (text, _) in enumerate(cases, start=1)]
    report, tables = run_import(tmp_path, csv_text("order_id,customer_id,order_date,amount", rows),
                                dayfirst=dayfirst)
    assert not report.orders_file.rejected
    got = tables["fact_orders"].set_index("order_id").order_ts
    for i, (text, expected) in enumerate(cases, start=1):
        assert got[i] == pd.Timestamp(expected), text


NUMBER_CASES = [
    ("1234.5", ".", 1234.5), ("1,234.50", ".", 1234.5), ("$1,234.50", ".", 1234.5), ("1'234.50", ".", 1234.5),
    ("12 USD", ".", 12.0), ("EUR 12.00", ".", 12.0), ("(12.00)", ".", -12.0), ("-3", ".", -3.0), (".5", ".", 0.5),
    ("1e3", ".", 1000.0), ("£7", ".", 7.0), ("€12,50", ",", 12.5), ("1.234,50", ",", 1234.5),
    ("1 234,50", ",", 1234.5), ("1\u202f234,50 €", ",", 1234.5), ("12,5", ",", 12.5), ("1.234", ",", 1234.0),
]
BAD_NUMBERS = [("12,50", "."), ("1.234,50", "."), ("abc", "."), ("inf", "."), ("1,23,456", "."), ("12.5", ","),
               ("12abc", "."), ("--3", ".")]


@pytest.mark.parametrize(("text", "decimal", "expected"), NUMBER_CASES, ids=[c[0] for c in NUMBER_CASES])
def test_number_formats(text, decimal, expected):
    values, bad = parse_numbers(pd.Series([text]), decimal)
    assert not bad.iloc[0]
    assert values.iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize(("text", "decimal"), BAD_NUMBERS, ids=[c[0] for c in BAD_NUMBERS])
def test_unreadable_numbers(text, decimal):
    values, bad = parse_numbers(pd.Series([text]), decimal)
    assert bad.iloc[0] and pd.isna(values.iloc[0])


def test_missing_numbers_are_not_unreadable():
    values, bad = parse_numbers(pd.Series(["", " ", "NaN", "n/a"]))
    assert values.isna().all() and not bad.any()
    typed, bad = parse_numbers(pd.Series([1.5, np.inf, None]))
    assert typed.iloc[0] == 1.5 and bad.tolist() == [False, True, False]


def test_flags():
    values, present, bad = parse_flags(pd.Series(["Yes", "no", "TRUE", "0", "Prime", "Non-Prime", "", "maybe"]))
    assert values.tolist() == [True, False, True, False, True, False, False, False]
    assert present.tolist() == [True] * 6 + [False, False]
    assert bad.tolist() == [False] * 7 + [True]


def test_semicolon_file_with_decimal_comma_in_windows_1252(tmp_path):
    text = "Kunde;Datum;Summe;Land\nK1;05.03.2024;1.234,50 €;Österreich\nK2;06.03.2024;12,5;Deutschland\n"
    source = tmp_path / "umsatz.csv"
    source.write_bytes(text.encode("cp1252"))
    report, tables = run_import(tmp_path, source=source, dayfirst=True, decimal=",", encoding="cp1252",
                                order_map={"customer_id": "Kunde", "order_date": "Datum", "amount": "Summe",
                                           "country": "Land"})
    assert not report.orders_file.rejected
    orders = tables["fact_orders"].sort_values("order_ts")
    assert orders.net_revenue.tolist() == [1234.5, 12.5]
    assert orders.order_ts.dt.day.tolist() == [5, 6]
    assert sorted(tables["dim_customer"].country) == ["Deutschland", "Österreich"]


def test_tab_separated_gzip_file(tmp_path):
    source = tmp_path / "orders.tsv.gz"
    with gzip.open(source, "wt", encoding="utf-8") as fh:
        fh.write("customer_id\torder_date\tamount\nc1\t2024-01-01\t10\nc2\t2024-01-02\t20\n")
    report, tables = run_import(tmp_path, source=source)
    assert report.orders_file.rows_read == 2 and tables["fact_orders"].net_revenue.sum() == 30


def test_utf8_bom_and_quoted_newlines(tmp_path):
    source = tmp_path / "orders.csv"
    source.write_bytes("\ufeffcustomer_id,order_date,amount,product_name\n"
                       'c1,2024-01-01,10,"Mug\nwith a line break"\n'.encode())
    report, tables = run_import(tmp_path, source=source)
    assert report.orders_file.mapping["customer_id"] == "customer_id"
    assert tables["dim_product"].product_name.tolist() == ["Mug\nwith a line break"]


def test_typed_parquet_input(tmp_path):
    source = tmp_path / "orders.parquet"
    pd.DataFrame({
        "CustomerID": [17850, 17850, 13047],
        "InvoiceDate": pd.to_datetime(["2024-01-01 08:26", "2024-01-02 09:00", "2024-01-03 10:00"]),
        "Revenue": [15.3, 22.0, 7.5],
        "is_prime": [True, True, False],
        "Quantity": [6, 2, 1],
    }).to_parquet(source)
    report, tables = run_import(tmp_path, source=source, order_map={"amount": "Revenue"})
    assert not report.orders_file.rejected
    orders = tables["fact_orders"].sort_values("order_ts")
    assert orders.customer_id.tolist() == [17850, 17850, 13047]  # numeric ids are kept
    assert orders.quantity.tolist() == [6, 2, 1]
    assert orders.order_ts.iloc[0] == pd.Timestamp("2024-01-01 08:26")
    assert tables["dim_customer"].set_index("customer_id").loc[17850, "is_prime"]


def test_unit_price_and_quantity_instead_of_amount(tmp_path):
    # The layout of the UCI "Online Retail" file: no amount column, amount = quantity x unit price.
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    rows = ["536365,85123A,WHITE HANGING HEART,6,12/1/2023 8:26,2.55,17850,United Kingdom",
            "536365,71053,WHITE METAL LANTERN,6,12/1/2023 8:26,3.39,17850,United Kingdom",
            "C536379,D,Discount,-1,12/1/2023 9:41,27.50,14527,United Kingdom"]
    report, tables = run_import(tmp_path, csv_text(header, rows))
    assert report.orders_file.mapping["unit_price"] == "UnitPrice"
    assert report.orders_file.mapping["product"] == "StockCode"
    assert report.orders_file.mapping["product_name"] == "Description"
    # the cancellation invoice is not a bad row; its customer has no sale in the file to net it against
    assert not report.orders_file.rejected and dict(report.orders_file.set_aside) == {"cancellation_line": 1}
    assert report.cancellations["not_netted"] == 27.5 and len(tables["fact_orders"]) == 1
    order = tables["fact_orders"].iloc[0]
    assert order.order_id == 536365 and order.quantity == 12
    assert order.gross_amount == pytest.approx(6 * 2.55 + 6 * 3.39)
    assert sorted(tables["dim_product"].product_name) == ["WHITE HANGING HEART", "WHITE METAL LANTERN"]


# ----- ids, customers and defaults ----------------------------------------------------------------------


def test_surrogate_ids_are_stable_and_keep_plain_numbers():
    ids = surrogate_ids(pd.Series(["C-001", "123", "007", "C-001", "0", "999999999999999", "1000000000000000"]))
    assert ids[1] == 123 and ids[5] == 999_999_999_999_999
    assert ids[4] >= HASHED_ID_BASE  # 0 is not a valid customer id in the app: hashed like text
    assert ids[0] == ids[3] == 2309252002380343  # pinned: the same key gives the same id in every import
    assert ids[2] >= HASHED_ID_BASE and ids[0] >= HASHED_ID_BASE  # "007" is text, never 7
    assert ids[6] >= HASHED_ID_BASE and ids[6] != 10**15  # 16 digits: hashed
    assert ids.dtype == np.int64
    assert (ids < 2**53).all()  # exact as JavaScript numbers in the browser
    assert all(int(float(i)) == i for i in ids)


def test_an_id_collision_fails_the_import_and_keeps_the_previous_data(tmp_path, previous, monkeypatch):
    real = ingest.surrogate_ids

    def colliding(keys: pd.Series) -> np.ndarray:
        return real(keys.replace({"clash-b": "clash-a"}))

    monkeypatch.setattr(ingest.cleaning, "surrogate_ids", colliding)  # where pass 1 looks it up
    with pytest.raises(IngestError, match="same internal number"):
        run_import(tmp_path, csv_text(HEADER, ["o1,clash-a,2024-01-01,1,1", "o2,clash-b,2024-01-02,2,1"]))
    assert folder_snapshot(tmp_path / "data") == previous


def test_text_customer_ids_keep_the_original_as_name(tmp_path):
    _, tables = run_import(tmp_path, csv_text("customer_id,order_date,amount",
                                              ["C-001,2024-01-01,5", "C-002,2024-01-02,5", "C-001,2024-01-03,5"]))
    customers = tables["dim_customer"].set_index("name")
    assert sorted(customers.index) == ["C-001", "C-002"]
    assert customers.loc["C-001", "customer_id"] == surrogate_ids(pd.Series(["C-001"]))[0]
    row = customers.loc["C-002"]
    assert (row.gender, row.age, row.age_group, row.country, row.city) == ("Other", 0, "Unknown", "Unknown", "Unknown")
    assert (row.annual_income, row.acquisition_channel, row.preferred_category) == (0.0, "Unknown", "Unknown")
    assert row.signup_date == date(2024, 1, 2)
    assert len(tables["dim_product"]) == 1 and tables["dim_product"].product_name.iloc[0] == "Unknown product"
    assert tables["fact_engagement"].empty


def test_customer_file_joins_repairs_and_prospects(tmp_path):
    orders = csv_text("customer_id,order_date,amount,country,prime", [
        "C1,2024-01-01,10,Germany,no", "C1,2024-02-01,20,Germany,no", "C2,2024-01-05,10,France,no",
        "C3,2024-01-07,5,Italy,yes"])
    customers = csv_text("customer_id,name,gender,age,country,city,signup_date,prime,income,spending_score", [
        "C1,Ann,F,34,Austria,Vienna,2023-01-10,yes,52000,",
        "C2,Bob,male,150,France,Paris,2030-01-01,no,-5,101",
        "C2,Dup,male,40,France,Paris,2023-01-01,no,1,50",
        "C5,Eve,robot,,Spain,,notadate,maybe,abc,",
        ",Nobody,F,30,Spain,Madrid,2023-01-01,no,1,50",
    ])
    report, tables = run_import(tmp_path, orders, customers=customers)
    tally = report.customers_file
    assert tally.rows_read == 5
    assert dict(tally.rejected) == {"missing_customer_id": 1, "duplicate_customer_id": 1}
    assert dict(tally.repaired) == {"gender_unrecognised": 1, "age_invalid": 1, "signup_unreadable": 2,
                                    "income_invalid": 2, "spending_score_invalid": 1, "flag_unreadable": 1}
    people = tables["dim_customer"].set_index("name")
    assert sorted(people.index) == ["Ann", "Bob", "C3", "Eve"]
    ann, bob, c3, eve = (people.loc[n] for n in ("Ann", "Bob", "C3", "Eve"))
    assert (ann.gender, ann.age, ann.age_group, ann.country, ann.city) == ("Female", 34, "25-34", "Austria", "Vienna")
    assert ann.is_prime and ann.signup_date == date(2023, 1, 10) and ann.annual_income == 52000
    assert (bob.gender, bob.age, bob.age_group) == ("Male", 0, "Unknown")
    assert bob.signup_date == date(2024, 1, 5)  # future sign-up -> first order date
    assert bob.annual_income == 0
    assert c3.country == "Italy" and c3.is_prime  # not in the customer file: from its orders
    assert eve.gender == "Other" and eve.signup_date == date(2024, 1, 1)  # prospect: the data's first date
    assert people.spending_score.between(1, 100).all()
    assert ann.spending_score == 100 and eve.spending_score == 1  # revenue percentile
    assert any("no valid order" in n for n in report.notes)
    assert any("not in the customer file" in n for n in report.notes)


def test_age_from_birth_date(tmp_path):
    customers = csv_text("customer_id,birth_date", ["c1,1990-06-01", "c2,2010-01-01", "c3,2010-01-02"])
    _, tables = run_import(tmp_path, csv_text("customer_id,order_date,amount", ["c1,2024-01-01,5"]),
                           customers=customers)
    ages = tables["dim_customer"].set_index("name").age
    assert ages.to_dict() == {"c1": 34, "c2": 15, "c3": 14}  # as of TODAY = 2025-01-01


def test_tables_have_the_exact_contract_schemas(tmp_path):
    run_import(tmp_path, csv_text(HEADER, GOOD_ROWS))
    for name, schema in TABLES.items():
        files = sorted((tmp_path / "data" / name).glob("*.parquet"))
        assert files, name
        for f in files:
            assert pq.read_schema(f).equals(schema, check_metadata=False), name
    dates = pd.read_parquet(tmp_path / "data" / "dim_date")
    assert dates.date_key.min() == 20240101 and dates.date_key.max() == 20240401 and len(dates) == 92
    assert not any(p.name.startswith("_") for p in (tmp_path / "data").iterdir())  # no staging left


def test_metrics_on_a_hand_made_import(tmp_path):
    header = "order_id,customer_id,order_date,amount,returned,prime"
    rows = ["1,A,2024-01-01,10,no,yes", "2,A,2024-01-10,30,no,yes", "3,B,2024-01-15,20,no,no",
            "4,B,2024-01-20,50,yes,no", "5,C,2024-01-31,40,no,no"]
    run_import(tmp_path, csv_text(header, rows))
    engine = Engine(Settings(data_dir=str(tmp_path / "data")), today=TODAY)
    filters = default_filters(engine)
    assert (filters.start, filters.end) == (date(2024, 1, 1), date(2024, 1, 31))
    k = kpis(engine, filters)
    assert k["customers"] == 3 and k["orders"] == 4 and k["revenue"] == 100
    assert k["aov"] == 25 and k["repeat_purchase_rate"] == pytest.approx(1 / 3)
    assert k["prime_share"] == pytest.approx(1 / 3)


def test_round_trip_of_generated_data_gives_the_same_kpis(tmp_path, generated_dir, generated_engine):
    o = pd.read_parquet(generated_dir / "fact_orders")
    c = pd.read_parquet(generated_dir / "dim_customer")
    p = pd.read_parquet(generated_dir / "dim_product")
    flat = o.merge(p[["product_id", "category"]], on="product_id").merge(
        c[["customer_id", "country", "is_prime"]], on="customer_id")
    flat[["order_id", "customer_id", "order_ts", "net_revenue", "discount_amount", "quantity", "product_id",
          "category", "is_returned", "is_cancelled", "channel", "payment_method", "promo_used"]].to_csv(
        tmp_path / "flat.csv", index=False)
    c.to_csv(tmp_path / "people.csv", index=False)
    report = import_data(tmp_path / "flat.csv", tmp_path / "data", customers_path=tmp_path / "people.csv",
                         options=ImportOptions(progress=False))
    assert report.ok and report.orders_file.rows_rejected == 0 and not report.orders_file.repaired
    imported = Engine(Settings(data_dir=str(tmp_path / "data")))
    f_orig, f_new = default_filters(generated_engine), default_filters(imported)
    assert f_orig == f_new
    assert kpis(imported, f_new) == pytest.approx(kpis(generated_engine, f_orig))
    pd.testing.assert_frame_equal(frequency_bands(imported, f_new), frequency_bands(generated_engine, f_orig))
    people = pd.read_parquet(tmp_path / "data" / "dim_customer").set_index("customer_id").sort_index()
    original = c.set_index("customer_id").sort_index()
    for column in ("name", "gender", "age", "age_group", "country", "city", "is_prime", "spending_score"):
        assert (people[column] == original[column]).all(), column


# ----- mappings ------------------------------------------------------------------------------------------


def test_resolve_mapping_errors_are_clear():
    fields = ingest.ORDER_FIELDS
    with pytest.raises(IngestError, match=r"unknown orders field.*revenue_total"):
        resolve_mapping(["a"], {"revenue_total": "a"}, fields, "orders")
    with pytest.raises(IngestError, match="no column 'Total'"):
        resolve_mapping(["customer_id", "date", "amount"], {"amount": "Total"}, fields, "orders")
    with pytest.raises(IngestError, match=r"lacks required column.*amount"):
        resolve_mapping(["customer_id", "date"], None, fields, "orders")
    mapping = resolve_mapping(["Customer ID", "Order Date", " TOTAL "], {"amount": "total"}, fields, "orders")
    assert mapping == {"customer_id": "Customer ID", "order_date": "Order Date", "amount": " TOTAL "}


def test_mapping_files_json_and_toml(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"orders": {"amount": "Total"}, "options": {"dayfirst": True}}))
    (tmp_path / "m.toml").write_text('[orders]\namount = "Total"\n[customers]\nname = "Full name"\n')
    (tmp_path / "flat.json").write_text(json.dumps({"amount": "Total"}))
    (tmp_path / "bad.json").write_text("{not json")
    assert load_mapping_file(tmp_path / "m.json") == {"orders": {"amount": "Total"}, "options": {"dayfirst": True}}
    assert load_mapping_file(tmp_path / "m.toml")["customers"] == {"name": "Full name"}
    assert load_mapping_file(tmp_path / "flat.json") == {"orders": {"amount": "Total"}}
    with pytest.raises(IngestError, match="not valid"):
        load_mapping_file(tmp_path / "bad.json")
    with pytest.raises(IngestError, match="not found"):
        load_mapping_file(tmp_path / "missing.json")


def test_unusable_input_fails_before_touching_anything(tmp_path):
    with pytest.raises(IngestError, match="not found"):
        run_import(tmp_path, source=tmp_path / "nope.csv")
    with pytest.raises(IngestError, match="empty"):
        run_import(tmp_path, "")
    with pytest.raises(IngestError, match="duplicate column"):
        run_import(tmp_path, "customer_id,amount,amount,order_date\nc,1,2,2024-01-01\n")
    assert not (tmp_path / "data").exists()
    assert not list(tmp_path.glob(".data.import-*"))


# ----- the threshold and the atomic swap -----------------------------------------------------------------


@pytest.fixture()
def previous(tmp_path) -> dict[str, bytes]:
    """A data folder from an earlier import; returns its bytes for comparison."""
    run_import(tmp_path, csv_text(HEADER, GOOD_ROWS))
    return folder_snapshot(tmp_path / "data")


def ten_rows_one_bad() -> str:
    rows = [f"n{i},c{i},2024-05-{i + 1:02d},{i + 1},1" for i in range(9)] + ["n9,c9,not a date,1,1"]
    return csv_text(HEADER, rows)


def test_too_many_bad_rows_refuse_and_keep_the_previous_data(tmp_path, previous):
    with pytest.raises(ImportRefused, match=r"1 of 10 rows.*10\.00%.*5\.0%") as caught:
        run_import(tmp_path, ten_rows_one_bad(), max_bad_share=0.05)
    assert caught.value.report.status == "refused"
    assert folder_snapshot(tmp_path / "data") == previous
    assert not list(tmp_path.glob(".data.import-*"))
    saved = json.loads((tmp_path / "data-import-report.json").read_text())
    assert saved["status"] == "refused" and saved["orders_file"]["rejected"]["unparseable_date"]["rows"] == 1
    assert "refused" in (tmp_path / "data-import-report.md").read_text()

    report, tables = run_import(tmp_path, ten_rows_one_bad(), max_bad_share=0.10)  # at the limit: imported
    assert report.ok and len(tables["fact_orders"]) == 9


def test_no_valid_rows_refuse(tmp_path, previous):
    with pytest.raises(ImportRefused, match="no valid orders"):
        run_import(tmp_path, csv_text(HEADER, ["o1,c1,2024-01-01,-1,1"]))
    assert folder_snapshot(tmp_path / "data") == previous
    with pytest.raises(ImportRefused, match="no data rows"):
        run_import(tmp_path, HEADER + "\n")
    assert folder_snapshot(tmp_path / "data") == previous


def test_a_late_failure_leaves_the_previous_data_untouched(tmp_path, previous, monkeypatch):
    def broken_check(folder, today):
        assert (folder / "fact_orders").is_dir()  # everything was written ... then the last step fails
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest.job, "_check_contract", broken_check)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_import(tmp_path, csv_text(HEADER, [*GOOD_ROWS, "o5,c5,2024-06-01,5,1"]))
    assert folder_snapshot(tmp_path / "data") == previous
    assert not list(tmp_path.glob(".data.import-*"))
    assert json.loads((tmp_path / "data-import-report.json").read_text())["status"] == "failed"


def test_a_successful_import_replaces_the_whole_folder(tmp_path, previous):
    (tmp_path / "data" / "stray.txt").write_text("old")
    report, tables = run_import(tmp_path, csv_text(HEADER, ["z1,c1,2024-07-01,7,1"]))
    assert report.ok and len(tables["fact_orders"]) == 1
    assert not (tmp_path / "data" / "stray.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".data.") and p.is_dir()]


KILL_SCRIPT = """
import sys, time, pathlib
from datetime import date
import ingest
real_build = ingest.job._build
def slow_build(*args, **kwargs):
    real_build(*args, **kwargs)              # the new tables are written into the temporary folder ...
    pathlib.Path(sys.argv[3]).write_text("built")
    time.sleep(120)                          # ... and the process is killed before the swap
ingest.job._build = slow_build
ingest.import_data(sys.argv[1], sys.argv[2],
                   options=ingest.ImportOptions(progress=False, today=date(2025, 1, 1), max_bad_share=1.0))
"""


def test_an_import_killed_half_way_leaves_the_previous_data(tmp_path, previous):
    source = tmp_path / "new.csv"
    source.write_text(csv_text(HEADER, ["k1,c1,2024-08-01,1,1"]))
    marker = tmp_path / "built.marker"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(source), str(tmp_path / "data"), str(marker)],
                            cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the import never reached the build step"
            time.sleep(0.05)
        stale = list(tmp_path.glob(".data.import-*"))
        assert len(stale) == 1 and (stale[0] / "fact_orders").is_dir()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert folder_snapshot(tmp_path / "data") == previous
    # The next import removes the dead process's temporary folder and succeeds.
    report, tables = run_import(tmp_path, csv_text(HEADER, ["k2,c1,2024-09-01,2,1"]))
    assert report.ok and tables["fact_orders"].net_revenue.tolist() == [2.0]
    assert not list(tmp_path.glob(".data.import-*"))


def test_a_concurrent_import_into_the_same_folder_is_refused(tmp_path):
    with ingest.atomic_output(tmp_path / "data"), pytest.raises(IngestError, match="another import"):
        run_import(tmp_path, csv_text(HEADER, GOOD_ROWS))


def test_options_are_checked():
    with pytest.raises(IngestError):
        ImportOptions(decimal=";")
    with pytest.raises(IngestError):
        ImportOptions(grain="basket")
    with pytest.raises(IngestError):
        ImportOptions(max_bad_share=1.5)
