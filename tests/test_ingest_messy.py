"""A messy invoice-line export as real shops produce it (the layout of the UCI "Online Retail" file):
invoice numbers, "C" cancellation invoices with negative quantities, blank customer ids, US timestamps
and float customer ids (12346.0). It imports on the first try with default options, the cancellations
are netted, and the totals equal a pandas calculation written here from the file itself."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest import ImportOptions, import_data
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.kpis import customer_kpis
from metrics.settings import Settings

TODAY = date(2025, 1, 1)
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def messy_lines(seed: int = 7, invoices: int = 1200) -> tuple[pd.DataFrame, set[str]]:
    """Invoice lines and the invoices that a cancellation reverses completely (by construction).

    About 10 % of the invoices have no customer id; about 6 % of the customers' invoices get a partial
    cancellation (one line, some of its units) a few days later and about 2 % a complete cancellation
    the same day. A partial cancellation leaves at least one unit of its line.
    """
    rng = np.random.default_rng(seed)
    products = [(f"{20000 + i}{'AB'[i % 2]}", f"PRODUCT {i}", round(float(rng.uniform(0.4, 15)), 2)) for i in range(40)]
    customers = 12346 + np.arange(300) * 7
    rows: list[list] = []
    reversed_invoices: set[str] = set()
    start = pd.Timestamp("2010-12-01 08:00")
    number = 536365
    for _ in range(invoices):
        # shop hours, so a cancellation half an hour later falls on the same day
        ts = start + pd.Timedelta(days=int(rng.integers(0, 370)), minutes=int(rng.integers(0, 600)))
        guest = rng.random() < 0.10
        customer = np.nan if guest else float(rng.choice(customers))
        invoice = str(number)
        number += 1
        picked = rng.choice(len(products), size=int(rng.integers(1, 6)), replace=False)
        lines = [[invoice, *products[p][:2], int(rng.integers(1, 13)), ts, products[p][2], customer, "United Kingdom"]
                 for p in picked]
        rows += lines
        if guest:
            continue
        draw = rng.random()
        if draw < 0.06 and max(ln[3] for ln in lines) > 1:  # some units of one line cancelled days later
            line = max(lines, key=lambda ln: ln[3])
            units = int(rng.integers(1, line[3]))
            when = ts + pd.Timedelta(days=int(rng.integers(1, 20)))
            rows.append([f"C{number}", line[1], line[2], -units, when, line[5], customer, "United Kingdom"])
            number += 1
        elif draw < 0.08:  # the whole invoice cancelled the same day
            when = ts + pd.Timedelta(minutes=30)
            rows += [[f"C{number}", ln[1], ln[2], -ln[3], when, ln[5], customer, "United Kingdom"] for ln in lines]
            reversed_invoices.add(invoice)
            number += 1
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("InvoiceDate", kind="stable").reset_index(drop=True)
    return frame, reversed_invoices


def us_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The frame as the export writes it: US timestamps without leading zeros, ids as floats (12346.0)."""
    out = frame.copy()
    ts = out.InvoiceDate
    out["InvoiceDate"] = (ts.dt.month.astype(str) + "/" + ts.dt.day.astype(str) + "/" + ts.dt.year.astype(str)
                          + " " + ts.dt.hour.astype(str) + ":" + ts.dt.strftime("%M"))
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("messy")
    frame, reversed_invoices = messy_lines()
    source = us_csv(frame, folder / "online_retail.csv")
    report = import_data(source, folder / "data", options=ImportOptions(progress=False, today=TODAY))
    return {"folder": folder, "frame": frame, "reversed": reversed_invoices, "source": source, "report": report}


def independent_totals(csv: Path) -> dict:
    """Totals computed from the file with pandas alone: customers' lines, sales lines minus cancellation lines."""
    raw = pd.read_csv(csv, dtype={"InvoiceNo": str})
    known = raw[raw.CustomerID.notna()].copy()
    known["amount"] = known.Quantity * known.UnitPrice
    cancel = known.InvoiceNo.str.startswith("C")
    sales = known[~cancel]
    per_customer = sales.groupby("CustomerID").amount.sum().sub(
        known[cancel].groupby("CustomerID").amount.sum().abs(), fill_value=0.0)
    return {
        "guest_lines": int(raw.CustomerID.isna().sum()),
        "guest_amount": float((raw.Quantity * raw.UnitPrice)[raw.CustomerID.isna()].sum()),
        "cancel_lines": int(cancel.sum()),
        "cancel_amount": float(known.amount[cancel].abs().sum()),
        "sales": float(sales.amount.sum() - known.amount[cancel].abs().sum()),
        "invoices": int(sales.InvoiceNo.nunique()),
        "customers": int(sales.CustomerID.nunique()),
        "per_customer": per_customer.rename(index=lambda i: int(i)),
    }


def test_a_messy_export_imports_on_the_first_try_with_default_options(messy):
    report = messy["report"]
    expected = independent_totals(messy["source"])
    tally = report.orders_file
    assert report.ok and report.max_bad_share == 0.05  # the default limit
    assert not tally.rejected  # neither guests nor cancellations are bad rows
    assert tally.set_aside["guest_line"] == expected["guest_lines"] > 0
    assert tally.set_aside_amount["guest_line"] == pytest.approx(expected["guest_amount"])
    assert tally.set_aside["cancellation_line"] == expected["cancel_lines"] > 0
    assert report.cancellations["amount"] == pytest.approx(expected["cancel_amount"], abs=0.01)
    assert report.cancellations["not_netted"] == 0
    assert report.cancellations["orders_fully_reversed"] == len(messy["reversed"]) > 0


def test_full_range_sales_are_kept_lines_minus_cancellations(messy):
    expected = independent_totals(messy["source"])
    engine = Engine(Settings(data_dir=str(messy["folder"] / "data")))
    first, last = engine.date_bounds()
    k = customer_kpis(engine, Filters(first, last))
    assert k["revenue"] == pytest.approx(expected["sales"], rel=1e-9)
    # cancellations are not orders, and an invoice cancelled in full is no longer a sale
    assert k["orders"] == expected["invoices"] - len(messy["reversed"])
    orders = pd.read_parquet(messy["folder"] / "data" / "fact_orders")
    valid = orders[~orders.is_returned & ~orders.is_cancelled]
    per_customer = valid.groupby("customer_id").net_revenue.sum()
    merged = expected["per_customer"].to_frame("expected").join(per_customer.rename("imported"), how="left").fillna(0.0)
    assert np.allclose(merged.expected, merged.imported, atol=1e-6)
    # the cancelled-in-full invoices are flagged the way the contract flags a same-day cancellation
    reversed_ids = {int(i) for i in messy["reversed"]}
    assert set(orders.order_id[orders.is_cancelled]) == reversed_ids


def test_float_ids_keep_their_number_and_match_a_parquet_import(messy, tmp_path):
    frame = messy["frame"]
    csv_people = pd.read_parquet(messy["folder"] / "data" / "dim_customer")
    assert set(csv_people.customer_id) == {int(c) for c in frame.CustomerID.dropna().unique()}
    frame.to_parquet(tmp_path / "retail.parquet", index=False)  # typed: float ids (12346.0), timestamps
    report = import_data(tmp_path / "retail.parquet", tmp_path / "data",
                         options=ImportOptions(progress=False, today=TODAY))
    assert report.ok
    pq_people = pd.read_parquet(tmp_path / "data" / "dim_customer")
    assert sorted(pq_people.customer_id) == sorted(csv_people.customer_id)
    as_ints = frame.assign(CustomerID=frame.CustomerID.astype("Int64"))  # nullable integers in Parquet
    as_ints.to_parquet(tmp_path / "retail_int.parquet", index=False)
    import_data(tmp_path / "retail_int.parquet", tmp_path / "data_int", options=ImportOptions(progress=False,
                                                                                              today=TODAY))
    assert sorted(pd.read_parquet(tmp_path / "data_int" / "dim_customer").customer_id) == sorted(
        csv_people.customer_id)
    orders_csv = pd.read_parquet(messy["folder"] / "data" / "fact_orders").set_index("order_id").sort_index()
    orders_pq = pd.read_parquet(tmp_path / "data" / "fact_orders").set_index("order_id").sort_index()
    pd.testing.assert_series_equal(orders_csv.customer_id, orders_pq.customer_id)
    pd.testing.assert_series_equal(orders_csv.net_revenue, orders_pq.net_revenue)
