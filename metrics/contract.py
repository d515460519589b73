"""Validation of a loaded star schema against the data contract (DESIGN §2).

Checks, in order: every table present; every declared column present with the declared type; primary
keys unique and not null; foreign keys resolve; value ranges; dates not in the future and consistent.
The first failing check raises :class:`ContractError` whose message names the table, the column and a
few offending rows. The checks are Ibis expressions, so they run on any backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from metrics.schema import FOREIGN_KEYS, PRIMARY_KEYS, TABLES

SAMPLE_ROWS = 5


class ContractError(ValueError):
    """The data does not satisfy the contract. ``table`` and ``column`` say where."""

    def __init__(self, table: str, column: str | None, problem: str, sample: pd.DataFrame | None = None):
        self.table, self.column, self.problem = table, column, problem
        where = f"{table}.{column}" if column else table
        message = f"{where}: {problem}"
        if sample is not None and len(sample):
            rows = sample.head(SAMPLE_ROWS).to_dict(orient="records")
            message += f"; sample bad rows: {rows}"
        super().__init__(message)


def _same_kind(actual: dt.DataType, expected: dt.DataType) -> bool:
    if expected.is_timestamp():
        return actual.is_timestamp()
    return actual.copy(nullable=True) == expected.copy(nullable=True)


def check_schema(name: str, table: ir.Table) -> None:
    expected = ibis.Schema.from_pyarrow(TABLES[name])
    actual = table.schema()
    for column, dtype in expected.items():
        if column not in actual:
            raise ContractError(name, column, f"missing column (expected type {dtype})")
        if not _same_kind(actual[column], dtype):
            raise ContractError(name, column, f"wrong type {actual[column]} (expected {dtype})")


def _fail_if_any(name: str, column: str | None, problem: str, bad: ir.Table, execute) -> None:
    sample = execute(bad.limit(SAMPLE_ROWS))
    if len(sample):
        raise ContractError(name, column, problem, sample)


def validate_tables(tables: Mapping[str, ir.Table], execute, today: date | None = None) -> None:
    """Raise :class:`ContractError` on the first violation; ``execute`` runs an expression to pandas."""
    today = today or date.today()
    for name in TABLES:
        if name not in tables:
            raise ContractError(name, None, "table is missing")
        check_schema(name, tables[name])

    for name, key in PRIMARY_KEYS.items():
        t = tables[name]
        nulls = t.filter(ibis.or_(*[t[c].isnull() for c in key]))
        _fail_if_any(name, key[0], "key is null", nulls, execute)
        dupes = t.group_by(list(key)).agg(rows=t.count()).filter(lambda g: g.rows > 1)
        _fail_if_any(name, ", ".join(key), "duplicate key", dupes, execute)

    for (name, column), (ref_name, ref_column) in FOREIGN_KEYS.items():
        t, ref = tables[name], tables[ref_name]
        dangling = t.anti_join(ref, t[column] == ref[ref_column]).select(column).distinct()
        _fail_if_any(name, column, f"value not found in {ref_name}.{ref_column}", dangling, execute)

    o = tables["fact_orders"]
    for column, predicate, problem in (
        ("quantity", o.quantity < 1, "quantity below 1"),
        ("unit_price", o.unit_price < 0, "negative unit price"),
        ("gross_amount", o.gross_amount < 0, "negative gross amount"),
        ("discount_amount", (o.discount_amount < 0) | (o.discount_amount > o.gross_amount + 0.005),
         "discount negative or above the gross amount"),
        ("net_revenue", (o.net_revenue - (o.gross_amount - o.discount_amount)).abs() > 0.015,
         "net_revenue is not gross_amount - discount_amount"),
        ("order_ts", o.order_ts.date() > ibis.literal(today), f"order date in the future (after {today})"),
        ("date_key", o.date_key != (o.order_ts.year() * 10000 + o.order_ts.month() * 100 + o.order_ts.day()),
         "date_key does not match order_ts (yyyymmdd)"),
    ):
        _fail_if_any("fact_orders", column, problem,
                     o.filter(predicate).select("order_id", column), execute)

    c = tables["dim_customer"]
    for column, predicate, problem in (
        ("spending_score", (c.spending_score < 1) | (c.spending_score > 100), "spending score outside 1-100"),
        ("age", (c.age < 0) | (c.age > 120), "age outside 0-120"),
        ("annual_income", c.annual_income < 0, "negative annual income"),
        ("signup_date", c.signup_date > ibis.literal(today), f"signup date in the future (after {today})"),
    ):
        _fail_if_any("dim_customer", column, problem, c.filter(predicate).select("customer_id", column), execute)

    e = tables["fact_engagement"]
    for column, predicate, problem in (
        ("emails_opened", (e.emails_opened < 0) | (e.emails_opened > e.emails_sent),
         "emails opened negative or above emails sent"),
        ("cart_abandons", (e.cart_abandons < 0) | (e.cart_abandons > e.cart_adds),
         "cart abandons negative or above cart adds"),
        ("web_visits", e.web_visits < 0, "negative web visits"),
        ("month", e.month > ibis.literal(today), f"month in the future (after {today})"),
    ):
        keep = dict.fromkeys(["customer_id", "month", column])
        _fail_if_any("fact_engagement", column, problem, e.filter(predicate).select(*keep), execute)

    p = tables["dim_product"]
    _fail_if_any("dim_product", "list_price", "negative list price",
                 p.filter(p.list_price < 0).select("product_id", "list_price"), execute)
