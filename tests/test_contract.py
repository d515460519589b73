"""Malformed data is refused with a message naming the table and the column."""

from datetime import date, timedelta

import pandas as pd
import pytest

from metrics.contract import ContractError
from metrics.engine import DataNotFoundError
from tests.conftest import engine_for
from tests.factory import customers_frame, orders_frame, write_dataset

CUSTOMERS = [{"customer_id": 1}, {"customer_id": 2}]
ORDERS = [
    {"customer_id": 1, "date": "2024-01-05", "net_revenue": 10.0},
    {"customer_id": 2, "date": "2024-01-06", "net_revenue": 20.0},
]


def test_valid_dataset_loads(tmp_path):
    engine = engine_for(write_dataset(tmp_path, CUSTOMERS, ORDERS))
    assert engine.date_bounds() == (date(2024, 1, 5), date(2024, 1, 6))


def _broken(tmp_path, table, frame):
    write_dataset(tmp_path, CUSTOMERS, ORDERS, tables={table: frame})
    with pytest.raises(ContractError) as info:
        engine_for(tmp_path)
    return info.value


def test_missing_column(tmp_path):
    error = _broken(tmp_path, "dim_customer", customers_frame(CUSTOMERS).drop(columns=["country"]))
    assert (error.table, error.column) == ("dim_customer", "country")
    assert "missing column" in str(error) and "dim_customer.country" in str(error)


def test_wrong_type(tmp_path):
    orders = orders_frame(ORDERS)
    orders["net_revenue"] = orders["net_revenue"].map(lambda v: f"{v:.2f}")  # text instead of a number
    error = _broken(tmp_path, "fact_orders", orders)
    assert (error.table, error.column) == ("fact_orders", "net_revenue")
    assert "wrong type" in str(error)


def test_duplicate_key(tmp_path):
    orders = orders_frame(ORDERS)
    orders["order_id"] = 7
    error = _broken(tmp_path, "fact_orders", orders)
    assert error.table == "fact_orders" and error.column == "order_id"
    assert "duplicate key" in str(error) and "'order_id': 7" in str(error)


def test_dangling_customer_id(tmp_path):
    orders = orders_frame([*ORDERS, {"customer_id": 99, "date": "2024-01-07", "net_revenue": 5.0}])
    error = _broken(tmp_path, "fact_orders", orders)
    assert (error.table, error.column) == ("fact_orders", "customer_id")
    assert "not found in dim_customer.customer_id" in str(error) and "99" in str(error)


def test_future_dates(tmp_path):
    tomorrow = date.today() + timedelta(days=1)
    orders = orders_frame([*ORDERS, {"customer_id": 1, "date": tomorrow, "net_revenue": 5.0}])
    write_dataset(tmp_path, CUSTOMERS, [], tables={"fact_orders": orders},
                  dates=(date(2020, 1, 1), tomorrow + timedelta(days=1)))
    with pytest.raises(ContractError, match=r"fact_orders.order_ts: order date in the future"):
        engine_for(tmp_path)


def test_value_out_of_range(tmp_path):
    customers = customers_frame(CUSTOMERS)
    customers.loc[0, "spending_score"] = 101
    error = _broken(tmp_path, "dim_customer", customers)
    assert error.column == "spending_score" and "outside 1-100" in str(error)


def test_net_revenue_must_match_gross_minus_discount(tmp_path):
    orders = orders_frame(ORDERS)
    orders.loc[1, "net_revenue"] = 999.0
    error = _broken(tmp_path, "fact_orders", orders)
    assert error.column == "net_revenue" and "'order_id': 2" in str(error)


def test_missing_table(tmp_path):
    write_dataset(tmp_path, CUSTOMERS, ORDERS)
    for f in (tmp_path / "dim_product").iterdir():
        f.unlink()
    (tmp_path / "dim_product").rmdir()
    with pytest.raises(DataNotFoundError, match="dim_product"):
        engine_for(tmp_path)


def test_single_file_layout_is_accepted(tmp_path):
    write_dataset(tmp_path, CUSTOMERS, ORDERS)
    folder = tmp_path / "dim_date"
    frame = pd.read_parquet(folder)
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    frame.to_parquet(tmp_path / "dim_date.parquet")
    assert engine_for(tmp_path).date_bounds()[0] == date(2024, 1, 5)
