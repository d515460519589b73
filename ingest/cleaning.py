"""Pass 1 of an import: every chunk of a file is parsed and checked row by row; unusable rows are
rejected and fixable ones repaired (each counted by reason), and the clean rows are written to a
staging Parquet folder for pass 2 (:mod:`ingest.build`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.options import ImportOptions
from ingest.parsing import DateParser, _numeric_key_text, _text, key_text, parse_flags, parse_numbers, surrogate_ids
from ingest.reading import _Source
from ingest.report import SAMPLES_PER_REASON, FileTally

MAX_TEXT = 200
MAX_COUNTRY = 60

# ----- pass 1: per-row parsing and checks -------------------------------------------------------------

LINES_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("order_key", pa.string()),
        ("order_id", pa.int64()),
        ("customer_key", pa.string()),
        ("customer_id", pa.int64()),
        ("order_ts", pa.timestamp("us")),
        ("net", pa.float64()),
        ("gross", pa.float64()),
        ("discount", pa.float64()),
        ("quantity", pa.int64()),
        ("product_name", pa.string()),
        ("product_id", pa.int64()),
        ("category", pa.string()),
        ("country", pa.string()),
        ("prime", pa.bool_()),
        ("returned", pa.bool_()),
        ("cancelled", pa.bool_()),
        ("promo", pa.bool_()),
        ("channel", pa.string()),
        ("payment_method", pa.string()),
        ("cancellation", pa.bool_()),  # a cancellation line, netted in pass 2 (amounts and quantity positive)
    ]
)

CUSTOMERS_STAGING_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("customer_key", pa.string()),
        ("customer_id", pa.int64()),
        ("name", pa.string()),
        ("gender", pa.string()),
        ("age", pa.int32()),
        ("country", pa.string()),
        ("city", pa.string()),
        ("signup_date", pa.date32()),
        ("prime", pa.bool_()),
        ("income", pa.float64()),
        ("spending_score", pa.int32()),
        ("preferred_category", pa.string()),
        ("acquisition_channel", pa.string()),
    ]
)

GENDER_WORDS = {
    "female": "Female",
    "f": "Female",
    "woman": "Female",
    "w": "Female",
    "weiblich": "Female",
    "femme": "Female",
    "mujer": "Female",
    "male": "Male",
    "m": "Male",
    "man": "Male",
    "männlich": "Male",
    "homme": "Male",
    "hombre": "Male",
    "other": "Other",
    "diverse": "Other",
    "divers": "Other",
    "d": "Other",
    "x": "Other",
    "non-binary": "Other",
    "nonbinary": "Other",
    "non binary": "Other",
}


class _Chunk:
    """One chunk being cleaned: rows are rejected at most once (the first reason found wins)."""

    def __init__(self, frame: pd.DataFrame, mapping: dict[str, str], first_row: int, tally: FileTally) -> None:
        self.frame, self.mapping, self.tally = frame, mapping, tally
        self.rows = pd.Series(np.arange(first_row, first_row + len(frame), dtype=np.int64), index=frame.index)
        self.alive = pd.Series(True, index=frame.index)

    def col(self, name: str) -> pd.Series | None:
        source = self.mapping.get(name)
        return None if source is None else self.frame[source]

    def _samples(self, mask: pd.Series, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        picked = mask[mask].index[:SAMPLES_PER_REASON]
        out = []
        for i in picked:
            sample: dict[str, Any] = {"row": int(self.rows[i])}
            for f in fields:
                column = self.mapping.get(f)
                if column is not None:
                    sample[column] = str(self.frame.at[i, column])[:80]
            out.append(sample)
        return out

    def reject(self, reason: str, mask: pd.Series, fields: tuple[str, ...]) -> None:
        mask = mask.fillna(False).astype(bool) & self.alive
        if mask.any():
            self.tally.reject(reason, int(mask.sum()), self._samples(mask, fields))
            self.alive &= ~mask

    def repair(self, reason: str, mask: pd.Series, fields: tuple[str, ...]) -> None:
        mask = mask.fillna(False).astype(bool) & self.alive
        if mask.any():
            self.tally.repair(reason, int(mask.sum()), self._samples(mask, fields))

    def put_aside(self, reason: str, mask: pd.Series, amount: pd.Series, fields: tuple[str, ...]) -> None:
        """Take rows out of the orders without rejecting them (they do not count as bad rows)."""
        mask = mask.fillna(False).astype(bool) & self.alive
        if mask.any():
            total = float(amount[mask].abs().sum())
            self.tally.put_aside(reason, int(mask.sum()), total, self._samples(mask, fields))
            self.alive &= ~mask

    def text(self, name: str, limit: int = MAX_TEXT, *, key: bool = False) -> pd.Series:
        """Text of a field (``key``: an id, read by :func:`key_text`), cut at ``limit`` characters."""
        values = self.col(name)
        if values is None:
            return pd.Series(None, index=self.frame.index, dtype="str")
        s = key_text(values) if key else _text(_numeric_key_text(values))
        long = s.str.len() > limit
        self.repair("text_truncated", long, (name,))
        return s.str.slice(0, limit)

    def flag(self, name: str) -> tuple[pd.Series, pd.Series]:
        values = self.col(name)
        if values is None:
            false = pd.Series(False, index=self.frame.index)
            return false, false
        out, present, bad = parse_flags(values)
        self.repair("flag_unreadable", bad, (name,))
        return out, present


def cancellation_lines(
    order_key: pd.Series, quantity: pd.Series, amount: pd.Series, options: ImportOptions
) -> pd.Series:
    """Which lines cancel earlier sales, by the rule of ``options.cancellations`` (see ImportOptions)."""
    if options.cancellations == "prefix":
        marked = order_key.str.match(re.escape(options.cancel_prefix) + r"\d")
    elif options.cancellations == "negative":
        marked = (quantity < 0) | (amount < 0)
    else:
        marked = pd.Series(False, index=order_key.index)
    return marked.fillna(False).astype(bool)


def _clean_orders(chunk: _Chunk, options: ImportOptions, dates: DateParser, hints: Counter) -> pa.Table:
    today = options.today_date
    customer_key = chunk.text("customer_id", key=True)
    order_key = chunk.text("order_id", key=True)

    if "quantity" in chunk.mapping:
        quantity, bad_quantity = parse_numbers(chunk.col("quantity"), options.decimal)
    else:
        quantity = pd.Series(1.0, index=chunk.frame.index)
        bad_quantity = pd.Series(False, index=chunk.frame.index)

    if "amount" in chunk.mapping:
        amount, bad_amount = parse_numbers(chunk.col("amount"), options.decimal)
        kind = options.amount_kind
        fields: tuple[str, ...] = ("amount",)
    else:  # amount = quantity x unit price, before any discount
        price, bad_price = parse_numbers(chunk.col("unit_price"), options.decimal)
        amount = price * quantity.fillna(1.0)
        bad_amount = bad_price | (bad_quantity & price.notna())
        kind = "gross"
        fields = ("unit_price", "quantity")
    if bad_amount.any() and options.decimal == ".":
        comma, _ = parse_numbers(chunk.col(fields[0])[bad_amount & chunk.alive], ",")
        hints["comma_decimal"] += int(comma.notna().sum())

    # A line without a customer id is a guest purchase: left out, but not a bad row.
    chunk.put_aside("guest_line", customer_key.isna(), amount.fillna(0.0), ("order_id", "customer_id", *fields))

    ts, bad_date = dates(chunk.col("order_date"))
    if bad_date.any():
        hints["other_date_order"] += dates.would_parse_other_order(chunk.col("order_date")[bad_date & chunk.alive])
    chunk.reject("missing_date", ts.isna() & ~bad_date, ("customer_id", "order_date"))
    chunk.reject("unparseable_date", bad_date, ("order_date",))
    chunk.reject("date_too_old", ts < pd.Timestamp(options.min_date), ("order_date",))
    chunk.reject("future_date", ts >= pd.Timestamp(today) + pd.Timedelta(days=1), ("order_date",))

    # Cancellation lines carry negative quantities or amounts: kept as positive amounts, flagged, and
    # netted against the customer's sales in pass 2.
    cancel = cancellation_lines(order_key, quantity, amount, options)
    quantity = quantity.abs().where(cancel, quantity)
    amount = amount.abs().where(cancel, amount)
    chunk.reject("bad_quantity", quantity <= 0, ("quantity",))  # before the amount: -1 x price is a return
    chunk.reject("missing_amount", amount.isna() & ~bad_amount, fields)
    chunk.reject("non_numeric_amount", bad_amount, fields)
    chunk.reject("negative_amount", amount < 0, fields)
    chunk.reject("amount_above_cap", amount > options.max_amount, ("order_id", "customer_id", *fields))

    chunk.repair("quantity_unreadable", bad_quantity, ("quantity",))
    quantity = quantity.fillna(1.0)
    fractional = quantity % 1 != 0
    chunk.repair("quantity_fractional", fractional, ("quantity",))
    quantity = quantity.round().clip(lower=1, upper=2**31 - 1)

    if "discount" in chunk.mapping:
        discount, bad_discount = parse_numbers(chunk.col("discount"), options.decimal)
        chunk.repair("discount_unreadable", bad_discount & ~cancel, ("discount",))
        chunk.repair("discount_negative", (discount < 0) & ~cancel, ("discount",))
        discount = discount.fillna(0.0).clip(lower=0.0).where(~cancel, 0.0)
    else:
        discount = pd.Series(0.0, index=chunk.frame.index)
    amount = amount.fillna(0.0)
    if kind == "net":
        net, gross = amount, amount + discount
    else:
        over = discount > amount
        chunk.repair("discount_above_amount", over, ("amount", "discount"))
        discount = discount.where(~over, amount)
        gross, net = amount, amount - discount

    keep = chunk.alive
    rows = chunk.rows[keep]
    if "order_id" in chunk.mapping:
        missing = order_key.isna()
        chunk.repair("missing_order_id", missing, ("order_id", "customer_id"))
        keys = order_key.where(~missing, "\x00row " + chunk.rows.astype("str"))[keep]
        order_ids = surrogate_ids(keys) if len(keys) else np.empty(0, np.int64)
        order_key_out = order_key[keep]
    else:
        order_ids = rows.to_numpy()
        order_key_out = pd.Series(None, index=rows.index, dtype="str")

    product_name = chunk.text("product_name")
    product = chunk.text("product", key=True).fillna(product_name)
    product_name = product_name.fillna(product)
    category = chunk.text("category")
    product_keys = product.where(product.notna(), ("\x00category " + category).where(category.notna(), "\x00unknown"))
    country = chunk.text("country", MAX_COUNTRY)
    prime, prime_present = chunk.flag("prime")
    returned, _ = chunk.flag("returned")
    cancelled, _ = chunk.flag("cancelled")
    if "status" in chunk.mapping:
        status = _text(chunk.col("status")).fillna("").str.lower()
        returned |= status.str.contains("return") | status.str.contains("refund")
        cancelled |= status.str.contains("cancel")
    promo, promo_present = chunk.flag("promo")
    promo = promo.where(promo_present, discount > 0)

    keep_keys = customer_key[keep]
    return pa.table(
        {
            "row": pa.array(rows.to_numpy(), pa.int64()),
            "order_key": pa.array(order_key_out, pa.string(), from_pandas=True),
            "order_id": pa.array(order_ids, pa.int64()),
            "customer_key": pa.array(keep_keys, pa.string(), from_pandas=True),
            "customer_id": pa.array(surrogate_ids(keep_keys) if len(keep_keys) else np.empty(0, np.int64), pa.int64()),
            "order_ts": pa.array(ts[keep].to_numpy(dtype="datetime64[us]"), pa.timestamp("us")),
            "net": pa.array(net[keep].to_numpy(dtype="float64"), pa.float64()),
            "gross": pa.array(gross[keep].to_numpy(dtype="float64"), pa.float64()),
            "discount": pa.array(discount[keep].to_numpy(dtype="float64"), pa.float64()),
            "quantity": pa.array(quantity[keep].to_numpy(dtype="int64"), pa.int64()),
            "product_name": pa.array(product_name[keep], pa.string(), from_pandas=True),
            "product_id": pa.array(
                surrogate_ids(product_keys[keep]) if keep.any() else np.empty(0, np.int64), pa.int64()
            ),
            "category": pa.array(category[keep], pa.string(), from_pandas=True),
            "country": pa.array(country[keep], pa.string(), from_pandas=True),
            "prime": pa.array(prime[keep].where(prime_present[keep]), pa.bool_(), from_pandas=True),
            "returned": pa.array(returned[keep].to_numpy(dtype=bool), pa.bool_()),
            "cancelled": pa.array(cancelled[keep].to_numpy(dtype=bool), pa.bool_()),
            "promo": pa.array(promo[keep].to_numpy(dtype=bool), pa.bool_()),
            "channel": pa.array(chunk.text("channel")[keep], pa.string(), from_pandas=True),
            "payment_method": pa.array(chunk.text("payment_method")[keep], pa.string(), from_pandas=True),
            "cancellation": pa.array(cancel[keep].to_numpy(dtype=bool), pa.bool_()),
        },
        schema=LINES_SCHEMA,
    )


def _clean_customers(chunk: _Chunk, options: ImportOptions, dates: DateParser) -> pa.Table:
    today = options.today_date
    key = chunk.text("customer_id", key=True)
    chunk.reject("missing_customer_id", key.isna(), ("customer_id", "name"))
    index = chunk.frame.index

    gender_text = chunk.text("gender")
    gender = gender_text.str.lower().map(GENDER_WORDS)
    chunk.repair("gender_unrecognised", gender_text.notna() & gender.isna(), ("gender",))
    gender = gender.fillna("Other")

    if "age" in chunk.mapping:
        age, bad_age = parse_numbers(chunk.col("age"))
    else:
        age, bad_age = pd.Series(np.nan, index=index), pd.Series(False, index=index)
    if "birth_date" in chunk.mapping:
        born, _ = dates(chunk.col("birth_date"))
        before_birthday = (born.dt.month * 100 + born.dt.day) > (today.month * 100 + today.day)
        from_birth = today.year - born.dt.year - before_birthday.astype("int64")
        age = age.where(age.notna() | bad_age, from_birth)
    invalid_age = bad_age | (age < 0) | (age > 120)
    chunk.repair("age_invalid", invalid_age, ("age",))
    age = age.mask(invalid_age).round()

    signup, bad_signup = (
        dates(chunk.col("signup_date"))
        if "signup_date" in chunk.mapping
        else (pd.Series(pd.NaT, index=index, dtype="datetime64[us]"), pd.Series(False, index=index))
    )
    future = signup >= pd.Timestamp(today) + pd.Timedelta(days=1)
    chunk.repair("signup_unreadable", bad_signup | future, ("signup_date",))
    signup = signup.mask(future)

    if "income" in chunk.mapping:
        income, bad_income = parse_numbers(chunk.col("income"), options.decimal)
        invalid_income = bad_income | (income < 0)
        chunk.repair("income_invalid", invalid_income, ("income",))
        income = income.mask(invalid_income)
    else:
        income = pd.Series(np.nan, index=index)
    if "spending_score" in chunk.mapping:
        score, bad_score = parse_numbers(chunk.col("spending_score"))
        invalid_score = bad_score | (score < 1) | (score > 100)
        chunk.repair("spending_score_invalid", invalid_score, ("spending_score",))
        score = score.mask(invalid_score).round()
    else:
        score = pd.Series(np.nan, index=index)
    prime, prime_present = chunk.flag("prime")
    country = chunk.text("country", MAX_COUNTRY)

    keep = chunk.alive
    keys = key[keep]

    def ints(s: pd.Series) -> pa.Array:
        return pa.array(s[keep].astype("Float64").astype("Int32"), pa.int32(), from_pandas=True)

    return pa.table(
        {
            "row": pa.array(chunk.rows[keep].to_numpy(), pa.int64()),
            "customer_key": pa.array(keys, pa.string(), from_pandas=True),
            "customer_id": pa.array(surrogate_ids(keys) if len(keys) else np.empty(0, np.int64), pa.int64()),
            "name": pa.array(chunk.text("name")[keep], pa.string(), from_pandas=True),
            "gender": pa.array(gender[keep], pa.string(), from_pandas=True),
            "age": ints(age),
            "country": pa.array(country[keep], pa.string(), from_pandas=True),
            "city": pa.array(chunk.text("city")[keep], pa.string(), from_pandas=True),
            "signup_date": pa.array(signup[keep].dt.date, pa.date32(), from_pandas=True),
            "prime": pa.array(prime[keep].where(prime_present[keep]), pa.bool_(), from_pandas=True),
            "income": pa.array(income[keep], pa.float64(), from_pandas=True),
            "spending_score": ints(score),
            "preferred_category": pa.array(chunk.text("preferred_category")[keep], pa.string(), from_pandas=True),
            "acquisition_channel": pa.array(chunk.text("acquisition_channel")[keep], pa.string(), from_pandas=True),
        },
        schema=CUSTOMERS_STAGING_SCHEMA,
    )


def _stage(
    source: _Source,
    mapping: dict[str, str],
    tally: FileTally,
    folder: Path,
    prefix: str,
    clean: Callable[[_Chunk], pa.Table],
) -> int:
    """Clean every chunk into ``folder/<prefix>-NNNNN.parquet``; returns the rows staged."""
    folder.mkdir(parents=True, exist_ok=True)
    staged, part, well_formed = 0, 0, 0
    for frame in source.chunks:
        if frame.empty:
            continue
        tally.rows_read += len(frame)
        table = clean(_Chunk(frame.reset_index(drop=True), mapping, well_formed + 1, tally))
        well_formed += len(frame)
        if table.num_rows:
            pq.write_table(table, folder / f"{prefix}-{part:05d}.parquet")
            part += 1
            staged += table.num_rows
    if part == 0:  # an empty staging table keeps pass 2 simple
        schema = LINES_SCHEMA if prefix == "lines" else CUSTOMERS_STAGING_SCHEMA
        pq.write_table(schema.empty_table(), folder / f"{prefix}-00000.parquet")
    return staged
