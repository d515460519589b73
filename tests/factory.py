"""Build tiny, hand-checkable star schemas for tests: give the orders and customers that matter,
every other column gets a plain default, and the dimensions are derived."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from metrics.schema import TABLES, age_group

CUSTOMER_DEFAULTS: dict[str, Any] = {
    "name": "Test Person", "gender": "Female", "age": 35, "country": "Germany", "city": "Berlin",
    "signup_date": date(2020, 1, 1), "is_prime": False, "annual_income": 50_000.0, "spending_score": 50,
    "preferred_category": "Books", "acquisition_channel": "Email",
}
ORDER_DEFAULTS: dict[str, Any] = {
    "product_id": 1, "quantity": 1, "discount_amount": 0.0, "payment_method": "Credit Card",
    "channel": "Web", "promo_used": False, "is_returned": False, "is_cancelled": False,
}


def customers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame([{**CUSTOMER_DEFAULTS, **row} for row in rows])
    if "age_group" not in frame:
        frame["age_group"] = [age_group(int(a)) for a in frame["age"]]
    return frame


def orders_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows need customer_id, a date or order_ts, and net_revenue (or unit_price)."""
    out = []
    for i, row in enumerate(rows, start=1):
        row = {**ORDER_DEFAULTS, **row}
        ts = row.pop("date", None)
        ts = row.get("order_ts", ts)
        if isinstance(ts, str):
            ts = datetime.fromisoformat(ts)
        if isinstance(ts, date) and not isinstance(ts, datetime):
            ts = datetime(ts.year, ts.month, ts.day, 12)
        row["order_ts"] = ts
        row.setdefault("order_id", i)
        discount = float(row["discount_amount"])
        if "net_revenue" in row and "unit_price" not in row:
            row["unit_price"] = (float(row["net_revenue"]) + discount) / row["quantity"]
        row["gross_amount"] = round(row["quantity"] * float(row["unit_price"]), 2)
        row["net_revenue"] = round(row["gross_amount"] - discount, 2)
        row["date_key"] = ts.year * 10000 + ts.month * 100 + ts.day
        out.append(row)
    return pd.DataFrame(out)


def dates_frame(start: date, end: date) -> pd.DataFrame:
    days = pd.date_range(start, end, freq="D")
    return pd.DataFrame({
        "date_key": (days.year * 10000 + days.month * 100 + days.day).astype("int32"),
        "date": days.date, "year": days.year.astype("int32"), "quarter": days.quarter.astype("int32"),
        "month": days.month.astype("int32"), "month_name": days.strftime("%B"),
        "iso_week": days.isocalendar().week.astype("int32").to_numpy(),
        "day_of_week": days.day_of_week.astype("int32"), "is_weekend": days.day_of_week >= 5,
    })


def write_dataset(folder: Path, customers: list[dict[str, Any]], orders: list[dict[str, Any]],
                  engagement: list[dict[str, Any]] | None = None,
                  dates: tuple[date, date] = (date(2020, 1, 1), date(2024, 12, 31)),
                  tables: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write a valid star schema to ``folder``; ``tables`` overrides whole frames (to break rules)."""
    frames = {
        "dim_customer": customers_frame(customers),
        "fact_orders": orders_frame(orders) if orders else pd.DataFrame(columns=TABLES["fact_orders"].names),
        "dim_product": pd.DataFrame({"product_id": [1, 2], "product_name": ["Book", "Lamp"],
                                     "category": ["Books", "Home & Kitchen"], "subcategory": ["Novels", "Lighting"],
                                     "brand": ["Acme", "Lumo"], "list_price": [10.0, 40.0]}),
        "dim_date": dates_frame(*dates),
        "fact_engagement": pd.DataFrame(engagement or [], columns=TABLES["fact_engagement"].names),
    }
    frames.update(tables or {})
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        (folder / name).mkdir(exist_ok=True)
        pq.write_table(_as_arrow(frame, TABLES[name]), folder / name / "part-00000.parquet")
    return folder


def _as_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Columns in contract order and type where they fit; a deliberately broken column keeps its own."""
    names = [c for c in schema.names if c in frame.columns] + [c for c in frame.columns if c not in schema.names]
    arrays, fields = [], []
    for column in names:
        values = frame[column]
        target = schema.field(column).type if column in schema.names else None
        array = pa.array(values, from_pandas=True)
        text_now = pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        text_wanted = target is not None and pa.types.is_string(target)
        if target is not None and (text_now == text_wanted or len(array) == array.null_count):
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                array = array.cast(target)
        arrays.append(array)
        fields.append(pa.field(column, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def day(s: str) -> date:
    return date.fromisoformat(s)


def days_before(d: date, n: int) -> date:
    return d - timedelta(days=n)
