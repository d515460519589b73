"""The importer's guards: implausible amounts, how cancellations are netted (and when they cannot be),
hints that name the fix for the usual mistakes, one-line storage errors, and nothing left behind."""

from __future__ import annotations

import errno
import subprocess
import sys

import pandas as pd
import pytest

import ingest
from ingest import ImportRefused, IngestError, surrogate_ids
from service.cli import EXIT_FAILURE, EXIT_OK, main
from tests.test_ingest import GOOD_ROWS, HEADER, csv_text, folder_snapshot, run_import

#: 40 ordinary orders of 10.00 to 49.00.
ORDINARY = [f"n{i},c{i % 9},2024-03-{1 + i % 28:02d},{10 + i}.00,1" for i in range(40)]


def valid_sales(tables: dict[str, pd.DataFrame]) -> float:
    o = tables["fact_orders"]
    return float(o.net_revenue[~o.is_returned & ~o.is_cancelled].sum())


# ----- plausibility ------------------------------------------------------------------------------------


@pytest.mark.parametrize("huge", ["1e18", "1e30", "1000000000000000019884624838656"])
def test_an_absurd_amount_is_rejected_by_name_and_swallows_nothing(tmp_path, huge):
    report, tables = run_import(tmp_path, csv_text(HEADER, [*ORDINARY, f"big1,c1,2024-03-05,{huge},1"]),
                                max_bad_share=0.05)
    assert report.ok and dict(report.orders_file.rejected) == {"amount_above_cap": 1}
    sample = report.orders_file.samples["amount_above_cap"][0]
    assert sample["row"] == 41 and sample["order_id"] == "big1" and sample["amount"] == huge
    assert valid_sales(tables) == sum(10 + i for i in range(40))
    assert "amount above the absolute cap (--max-amount)" in report.summary()


def test_an_order_far_above_the_median_is_rejected_and_the_bound_is_configurable(tmp_path):
    rows = [*ORDINARY, "big1,c1,2024-03-05,2500000,1", "big1,c1,2024-03-05,500000,1"]  # one order, two lines
    report, tables = run_import(tmp_path, csv_text(HEADER, rows))
    assert dict(report.orders_file.rejected) == {"amount_implausible": 2}
    median = float(pd.Series([10.0 + i for i in range(40)] + [3e6]).median())  # the big order counts too
    assert any(f"({median:,.2f})" in n and f"above {1000 * median:,.2f}" in n for n in report.notes)
    assert valid_sales(tables) == sum(10 + i for i in range(40))
    report, tables = run_import(tmp_path, csv_text(HEADER, rows), out="loose", max_amount_factor=1e6)
    assert not report.orders_file.rejected and valid_sales(tables) == sum(10 + i for i in range(40)) + 3e6
    report, _ = run_import(tmp_path, csv_text(HEADER, rows), out="capped", max_amount=1e6, max_amount_factor=1e6)
    assert dict(report.orders_file.rejected) == {"amount_above_cap": 1}  # the 2.5 M line alone


# ----- netting cancellations -----------------------------------------------------------------------------

NETTING_HEADER = "InvoiceNo,CustomerID,InvoiceDate,StockCode,Quantity,UnitPrice"


def test_a_cancellation_nets_the_sale_of_its_product_first_then_the_newest_orders(tmp_path):
    rows = ["1001,c1,2024-01-01 10:00,P1,2,5.00",    # 10.00 of P1
            "1002,c1,2024-02-01 10:00,P2,4,5.00",    # 20.00 of P2
            "C1003,c1,2024-03-01 10:00,P1,-3,5.00",  # 15.00: 10 off order 1001 (reversed), 5 off 1002
            "C1004,c2,2024-03-02 10:00,P1,-1,7.00"]  # c2 bought nothing: not netted
    report, tables = run_import(tmp_path, csv_text(NETTING_HEADER, rows))
    assert not report.orders_file.rejected and dict(report.orders_file.set_aside) == {"cancellation_line": 2}
    assert report.cancellations == {"lines": 2, "amount": 22.0, "netted": 15.0, "not_netted": 7.0,
                                    "orders_fully_reversed": 1}
    orders = tables["fact_orders"].set_index("order_id")
    assert sorted(orders.index) == [1001, 1002]  # cancellations are not orders
    first, second = orders.loc[1001], orders.loc[1002]
    assert first.is_returned and not first.is_cancelled and first.net_revenue == 10  # reversed a month later
    assert (second.gross_amount, second.net_revenue, second.quantity) == (15, 15, 4)
    assert second.unit_price == pytest.approx(15 / 4) and not second.is_returned
    assert valid_sales(tables) == 30 - 15
    assert list(tables["dim_customer"].name) == ["c1"]
    assert any("7.00" in n and "not netted" in n for n in report.notes)


def test_a_partial_cancellation_on_the_same_day_keeps_the_order(tmp_path):
    rows = ["2001,c1,2024-01-01 10:00,P1,3,2.00", "2001,c1,2024-01-01 10:00,P2,1,4.00",
            "C2002,c1,2024-01-01 11:00,P1,-2,2.00"]
    report, tables = run_import(tmp_path, csv_text(NETTING_HEADER, rows))
    order = tables["fact_orders"].iloc[0]
    assert (order.quantity, order.gross_amount, order.net_revenue) == (2, 6.0, 6.0)
    assert not order.is_cancelled and report.cancellations["orders_fully_reversed"] == 0


def test_negative_lines_as_cancellations_or_as_bad_rows(tmp_path):
    rows = ["3001,c1,2024-01-01,P1,3,2.00", "3002,c1,2024-01-05,P1,-1,2.00"]
    report, tables = run_import(tmp_path, csv_text(NETTING_HEADER, rows))  # default rule: the "C" prefix
    assert dict(report.orders_file.rejected) == {"bad_quantity": 1}
    report, tables = run_import(tmp_path, csv_text(NETTING_HEADER, rows), out="neg", cancellations="negative")
    assert not report.orders_file.rejected and valid_sales(tables) == 4.0
    report, tables = run_import(tmp_path, csv_text(NETTING_HEADER, ["C1,c1,2024-01-01,P1,1,2.00",
                                                                    "C1,c1,2024-01-01,P2,1,2.00"]),
                                out="none", cancellations="none")
    assert report.ok and len(tables["fact_orders"]) == 1  # "C1" is an ordinary order id here


def test_order_ids_that_all_start_with_the_prefix_name_the_flag(tmp_path):
    rows = [f"C{i},c{i},2024-01-0{i},5,1" for i in range(1, 5)]
    with pytest.raises(IngestError, match="--cancellations none"):
        run_import(tmp_path, csv_text(HEADER, rows))


# ----- ids ---------------------------------------------------------------------------------------------


def test_one_id_rule_for_text_floats_and_integers(tmp_path):
    rows = ["o1,12346.0,2024-01-01,5,1", "o2,12346,2024-01-02,5,1", "o3,007,2024-01-03,5,1", "o4,7,2024-01-04,5,1"]
    _, tables = run_import(tmp_path, csv_text(HEADER, rows))
    people = tables["dim_customer"].set_index("name").customer_id
    assert len(people) == 3 and people["12346"] == 12346 and people["7"] == 7
    assert people["007"] == surrogate_ids(pd.Series(["007"]))[0] != 7  # text with a leading zero: hashed
    frame = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": [12346.0, 7.0],
                          "order_date": pd.to_datetime(["2024-01-01", "2024-01-04"]), "amount": [5.0, 5.0]})
    frame.to_parquet(tmp_path / "orders.parquet")
    _, typed = run_import(tmp_path, source=tmp_path / "orders.parquet", out="typed")
    assert sorted(typed["dim_customer"].customer_id) == [7, 12346]


# ----- messages that name the fix ------------------------------------------------------------------------


def test_a_refused_import_says_nothing_was_written(tmp_path):
    rows = [*GOOD_ROWS, "x1,c1,someday,5,1"]
    with pytest.raises(ImportRefused, match="nothing was written") as caught:
        run_import(tmp_path, csv_text(HEADER, rows), max_bad_share=0.05)
    summary = caught.value.report.summary()
    assert "Nothing written" in summary and "Wrote" not in summary
    assert "Nothing written" in (tmp_path / "data-import-report.md").read_text()


@pytest.mark.parametrize(("content", "needle"), [
    (b"\x00\x01\x02binary\x00stuff" * 50, "binary data"),
    (b"PK\x03\x04" + b"\x00" * 100, "Excel"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 100, ".csv.gz"),
])
def test_a_file_that_is_not_csv_or_parquet_says_what_it_is(tmp_path, content, needle):
    (tmp_path / "orders.csv").write_bytes(content)
    with pytest.raises(IngestError, match="not a CSV or Parquet file") as caught:
        run_import(tmp_path, source=tmp_path / "orders.csv")
    assert needle in str(caught.value) and "lacks required" not in str(caught.value)


def test_a_wrong_delimiter_names_the_right_one(tmp_path):
    text = "order_id;customer_id;order_date;amount\no1;c1;2024-01-01;5\n"
    with pytest.raises(IngestError, match="pass --delimiter ';'"):
        run_import(tmp_path, text, delimiter=",")


def test_decimal_commas_without_the_flag_name_the_flag(tmp_path):
    text = "order_id;customer_id;order_date;amount\n" + "".join(f"o{i};c{i};2024-01-0{i};1.23{i},50\n"
                                                                 for i in range(1, 8))
    with pytest.raises(ImportRefused, match="7 unreadable amounts would be read with --decimal ,"):
        run_import(tmp_path, text, max_bad_share=0.05)
    report, tables = run_import(tmp_path, text, decimal=",")
    assert report.ok and valid_sales(tables) == pytest.approx(sum(1230 + i + 0.5 for i in range(1, 8)))


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "no space left on the device"),
                                             (errno.EACCES, "permission denied")])
def test_a_full_disk_or_a_missing_permission_is_one_clear_line(tmp_path, monkeypatch, capsys, code, words):
    run_import(tmp_path, csv_text(HEADER, GOOD_ROWS))
    previous = folder_snapshot(tmp_path / "data")

    def failing_write(*args, **kwargs):
        raise OSError(code, "simulated", str(tmp_path / "data" / "part-00000.parquet"))

    monkeypatch.setattr(ingest.cleaning.pq, "write_table", failing_write)
    (tmp_path / "new.csv").write_text(csv_text(HEADER, GOOD_ROWS))
    exit_code = main(["import", str(tmp_path / "new.csv"), "--data-dir", str(tmp_path / "data"), "--no-progress",
                      "--today", "2025-01-01"])
    err = capsys.readouterr().err
    assert exit_code == EXIT_FAILURE and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and words in err and "nothing was written" in err
    assert folder_snapshot(tmp_path / "data") == previous


# ----- nothing left behind -------------------------------------------------------------------------------


def test_no_lock_file_is_left_and_any_command_removes_a_killed_imports_leftovers(tmp_path, capsys):
    run_import(tmp_path, csv_text(HEADER, GOOD_ROWS))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "data-import-report.json",
                                                          "data-import-report.md", "orders.csv"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".data.import-{int(dead.stdout)}-0badc0de"
    (stale / "_staging").mkdir(parents=True)
    (stale / "_staging" / "lines-00000.parquet").write_bytes(b"x" * 1000)
    (tmp_path / ".data.lock").write_text("")  # left by an earlier version
    assert main(["validate", "--data-dir", str(tmp_path / "data")]) == EXIT_OK
    err = capsys.readouterr().err
    assert not stale.exists() and not (tmp_path / ".data.lock").exists()
    assert "removed" in err and stale.name in err
