"""Import your own transactions into the star schema of :mod:`metrics.schema` ("bring your own data").

Input: one transactions file (CSV, optionally gzip-compressed, or Parquet) with one row per order *or*
per order line, plus an optional customer file. Required columns: customer id, order date and amount (or
unit price, with an optional quantity). Optional: order id, quantity, unit price, discount, product,
category, country, Prime flag, returned / cancelled flags or a status text, channel, payment method,
promo flag. Column names are found automatically from common spellings or mapped explicitly
(``{"amount": "Total"}``; the CLI's ``--map amount=Total`` or a JSON/TOML mapping file).

How it works, in two passes so files larger than memory import in bounded memory:

1. *Parse and check each row* (streamed in chunks, with a progress bar): dates, numbers and yes/no
   flags in common formats are parsed; a row that cannot be used is **rejected** and one that can be
   fixed is **repaired**, each counted by reason with a few sample rows. Clean rows go to a staging
   Parquet folder.
2. *Build the tables* with Ibis on an embedded DuckDB over the staging folder: lines with the same order
   id become one order, duplicate and conflicting order ids are resolved, and the dimensions are derived
   (``dim_date`` over the data's range, ``dim_product`` from product/category or one "Unknown product",
   ``dim_customer`` from the customer file and/or the orders, an empty ``fact_engagement``).

The result is written to a temporary sibling of the output folder, checked against the data contract,
and swapped into place with a rename only if the share of rejected rows is within ``max_bad_share``.
A refused or failed import leaves the previous data folder untouched. A report (JSON and Markdown) is
written next to the output folder either way.

Defaults for what a file does not say are listed in :data:`DEFAULTS` (and in docs/own-data.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from metrics.schema import TABLES
from metrics.selection import valid_order

# ----- the fields an input file can provide -----------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field the importer understands: whether it is required and the header spellings it recognises."""

    description: str
    synonyms: tuple[str, ...] = ()
    required: bool = False


ORDER_FIELDS: dict[str, FieldSpec] = {
    "customer_id": FieldSpec(
        "customer identifier (any text or number)",
        (
            "customer_id",
            "customerid",
            "customer",
            "cust_id",
            "client_id",
            "clientid",
            "user_id",
            "userid",
            "customer_number",
            "customer_no",
            "buyer_id",
        ),
        True,
    ),
    "order_date": FieldSpec(
        "order date or timestamp",
        (
            "order_date",
            "orderdate",
            "order_ts",
            "date",
            "invoice_date",
            "invoicedate",
            "purchase_date",
            "transaction_date",
            "created_at",
            "timestamp",
            "order_time",
            "datetime",
        ),
        True,
    ),
    "amount": FieldSpec(
        "amount of the row (net of discount unless --amount-kind gross); may be omitted when unit_price is given",
        (
            "amount",
            "total",
            "order_total",
            "total_amount",
            "net_revenue",
            "revenue",
            "sales",
            "line_total",
            "net_amount",
            "amount_paid",
            "value",
            "order_value",
        ),
        True,
    ),
    "order_id": FieldSpec(
        "order identifier; rows sharing it are lines of one order",
        (
            "order_id",
            "orderid",
            "order_number",
            "order_no",
            "invoice",
            "invoice_no",
            "invoiceno",
            "invoice_id",
            "transaction_id",
        ),
    ),
    "quantity": FieldSpec("units in the row (default 1)", ("quantity", "qty", "units", "quantity_ordered")),
    "unit_price": FieldSpec(
        "price per unit (used when there is no amount column)",
        ("unit_price", "unitprice", "price", "price_each", "item_price"),
    ),
    "discount": FieldSpec("discount amount of the row (default 0)", ("discount", "discount_amount", "discount_value")),
    "product": FieldSpec(
        "product id (or name)",
        ("product_id", "productid", "product", "sku", "stockcode", "stock_code", "item_id", "article_id"),
    ),
    "product_name": FieldSpec(
        "product name", ("product_name", "productname", "description", "item_name", "item", "title")
    ),
    "category": FieldSpec("product category", ("category", "product_category", "categoryname")),
    "country": FieldSpec("customer's country", ("country", "customer_country", "country_name")),
    "prime": FieldSpec(
        "membership flag (yes/no, true/false, 1/0, Prime/Non-Prime)",
        ("prime", "is_prime", "prime_member", "member", "is_member", "membership"),
    ),
    "returned": FieldSpec("returned flag", ("returned", "is_returned", "return", "return_flag")),
    "cancelled": FieldSpec("cancelled flag", ("cancelled", "canceled", "is_cancelled", "is_canceled")),
    "status": FieldSpec(
        "order status text ('returned', 'refunded' and 'cancelled' are recognised)", ("status", "order_status")
    ),
    "channel": FieldSpec("sales channel", ("channel", "sales_channel", "order_channel")),
    "payment_method": FieldSpec("payment method", ("payment_method", "payment", "payment_type", "paymentmethod")),
    "promo": FieldSpec("promo code used (yes/no); default: discount > 0", ("promo", "promo_used", "coupon_used")),
}

CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "customer_id": ORDER_FIELDS["customer_id"],
    "name": FieldSpec("customer name", ("name", "customer_name", "full_name")),
    "gender": FieldSpec("gender (Female / Male / anything else = Other)", ("gender", "sex")),
    "age": FieldSpec("age in years", ("age",)),
    "birth_date": FieldSpec(
        "date of birth (used for the age when there is no age)", ("birth_date", "birthdate", "date_of_birth", "dob")
    ),
    "country": FieldSpec("country", ("country", "country_name")),
    "city": FieldSpec("city", ("city", "town")),
    "signup_date": FieldSpec(
        "sign-up / registration date",
        ("signup_date", "sign_up_date", "registration_date", "registered", "created_at", "join_date", "customer_since"),
    ),
    "prime": ORDER_FIELDS["prime"],
    "income": FieldSpec("annual income", ("income", "annual_income", "yearly_income")),
    "spending_score": FieldSpec("spending score 1-100", ("spending_score", "spendingscore")),
    "preferred_category": FieldSpec(
        "preferred category", ("preferred_category", "favourite_category", "favorite_category")
    ),
    "acquisition_channel": FieldSpec("acquisition channel", ("acquisition_channel", "source", "utm_source")),
}

#: What a column that the files do not provide becomes (also documented in docs/own-data.md).
DEFAULTS: dict[str, str] = {
    "order_id": "each row is its own order (order id = row number)",
    "quantity": "1 per row",
    "discount": "0",
    "product": "one product per category ('Unknown product (<category>)'), or one 'Unknown product'",
    "category / subcategory / brand": "'Unknown'",
    "country / city": "'Unknown' (country: the customer's latest order's country if the orders have one)",
    "prime": "no (customer file first, else the customer's latest order)",
    "returned / cancelled": "no",
    "channel / payment_method": "'Unknown'",
    "promo": "yes when the row has a discount",
    "name": "your original customer id",
    "gender": "'Other' (the contract's values are Female, Male, Other)",
    "age / age_group": "0 / 'Unknown'",
    "signup_date": "the customer's first order date (or the data's first date for people without orders)",
    "annual_income": "0",
    "spending_score": "the customer's revenue percentile, 1-100",
    "preferred_category": "the category of most of the customer's revenue, else 'Unknown'",
    "acquisition_channel": "'Unknown'",
    "fact_engagement": "empty (no web/email data)",
}

REJECT_REASONS: dict[str, str] = {
    "malformed_row": "malformed CSV row (wrong number of fields)",
    "missing_customer_id": "missing customer id",
    "missing_date": "missing order date",
    "unparseable_date": "unparseable order date",
    "date_too_old": "order date before the minimum date",
    "future_date": "order date in the future",
    "missing_amount": "missing amount",
    "non_numeric_amount": "non-numeric or non-finite amount",
    "negative_amount": "negative amount",
    "bad_quantity": "zero or negative quantity",
    "duplicate_order_id": "duplicate order id (the first row was kept)",
    "conflicting_order_customer": "order id used by several customers",
    "duplicate_customer_id": "duplicate customer id (the first row was kept)",
}

REPAIR_REASONS: dict[str, str] = {
    "missing_order_id": "missing order id: row kept as an order of its own",
    "quantity_unreadable": "unreadable quantity set to 1",
    "quantity_fractional": "fractional quantity rounded to a whole number (at least 1)",
    "discount_unreadable": "unreadable discount set to 0",
    "discount_negative": "negative discount set to 0",
    "discount_above_amount": "discount above the amount capped at the amount",
    "flag_unreadable": "unreadable yes/no value treated as no",
    "text_truncated": "text longer than the limit truncated (country 60, other text 200 characters)",
    "order_lines_different_days": "order lines on different dates: the earliest was used",
    "partial_return_lines": "returned/cancelled lines of an otherwise kept order removed from its amounts",
    "signup_unreadable": "unreadable or future sign-up date replaced by the first order date",
    "age_invalid": "age outside 0-120 or unreadable: unknown",
    "income_invalid": "negative or unreadable income set to 0",
    "spending_score_invalid": "spending score outside 1-100 or unreadable: derived from revenue",
    "gender_unrecognised": "unrecognised gender recorded as Other",
}

NULL_TOKENS = ("", "nan", "null", "none", "n/a", "na", "-", "#n/a", "nat")
TRUE_TOKENS = (
    "1",
    "true",
    "t",
    "yes",
    "y",
    "x",
    "prime",
    "member",
    "returned",
    "cancelled",
    "canceled",
    "ja",
    "oui",
    "si",
    "sí",
    "1.0",
)
FALSE_TOKENS = ("0", "false", "f", "no", "n", "non-prime", "nonprime", "non prime", "not prime", "nein", "non", "0.0")
SAMPLES_PER_REASON = 5
MAX_TEXT = 200
MAX_COUNTRY = 60
#: Ids must stay exact in the browser, where numbers are doubles (integers exact below 2**53): plain numbers
#: below 10**15 are kept, every other key is hashed into [10**15, 2**53).
HASHED_ID_BASE = 10**15
HASHED_ID_SPAN = 2**53 - HASHED_ID_BASE
UNKNOWN = "Unknown"
UNKNOWN_PRODUCT = "Unknown product"
ROWS_PER_PART = 2_000_000


class IngestError(ValueError):
    """The input cannot be imported as given (unreadable file, bad mapping, missing required column)."""


class ImportRefused(IngestError):
    """Too many rows were rejected (or none were left): nothing was written. ``report`` says why."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ImportOptions:
    """How to read the files.

    ``dayfirst`` reads ``01/02/2024`` as 1 February (default: 2 January). ``decimal`` is the decimal
    mark of amounts (``","`` reads ``1.234,50`` and ``€12,50``). ``grain="line"`` aggregates rows that
    share an order id into one order; ``grain="order"`` treats a repeated order id as a duplicate row.
    ``amount_kind="net"`` means the amount is what was paid (gross = amount + discount); ``"gross"``
    means it is before the discount. ``max_bad_share`` is the largest share of rejected rows that is
    repaired-and-warned rather than refused. ``today`` (default: the current date) decides what is a
    future date.
    """

    dayfirst: bool = False
    decimal: str = "."
    delimiter: str | None = None
    encoding: str = "utf-8"
    grain: str = "line"
    amount_kind: str = "net"
    max_bad_share: float = 0.05
    today: date | None = None
    min_date: date = date(1990, 1, 1)
    block_size: int = 8 << 20
    progress: bool = True

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise IngestError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if self.grain not in ("line", "order"):
            raise IngestError(f"grain must be 'line' or 'order', got {self.grain!r}")
        if self.amount_kind not in ("net", "gross"):
            raise IngestError(f"amount kind must be 'net' or 'gross', got {self.amount_kind!r}")
        if not 0 <= self.max_bad_share <= 1:
            raise IngestError(f"max bad share must be between 0 and 1, got {self.max_bad_share}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise IngestError(f"delimiter must be one character, got {self.delimiter!r}")

    @property
    def today_date(self) -> date:
        return self.today or date.today()


# ----- the report ---------------------------------------------------------------------------------------


@dataclass
class FileTally:
    """Counts for one input file: rows read, rejected and repaired by reason, with sample rows."""

    path: str
    rows_read: int = 0
    rejected: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def bad_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def reject(self, reason: str, count: int, samples: list[dict[str, Any]] = ()) -> None:
        if count:
            self.rejected[reason] += count
            self._sample(reason, samples)

    def repair(self, reason: str, count: int, samples: list[dict[str, Any]] = ()) -> None:
        if count:
            self.repaired[reason] += count
            self._sample(reason, samples)

    def _sample(self, reason: str, samples) -> None:
        kept = self.samples.setdefault(reason, [])
        for sample in samples:
            if len(kept) >= SAMPLES_PER_REASON:
                break
            kept.append(sample)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "column_mapping": self.mapping,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "bad_share": round(self.bad_share, 6),
            "rejected": {
                k: {"rows": v, "reason": REJECT_REASONS[k], "samples": self.samples.get(k, [])}
                for k, v in sorted(self.rejected.items())
            },
            "repaired": {
                k: {"rows": v, "reason": REPAIR_REASONS[k], "samples": self.samples.get(k, [])}
                for k, v in sorted(self.repaired.items())
            },
        }


@dataclass
class ImportReport:
    """What an import read, rejected, repaired and wrote; ``status`` is imported, refused or failed."""

    output: str
    orders_file: FileTally
    customers_file: FileTally | None = None
    status: str = "running"
    message: str = ""
    max_bad_share: float = 0.05
    tables: dict[str, int] = field(default_factory=dict)
    date_range: tuple[str, str] | None = None
    defaults_used: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    report_paths: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "imported"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "output": self.output,
            "max_bad_share": self.max_bad_share,
            "seconds": round(self.seconds, 3),
            "orders_file": self.orders_file.to_dict(),
            "customers_file": self.customers_file.to_dict() if self.customers_file else None,
            "tables": self.tables,
            "date_range": list(self.date_range) if self.date_range else None,
            "defaults_used": self.defaults_used,
            "notes": self.notes,
        }

    def to_text(self) -> str:
        """A readable Markdown summary (the same facts as the JSON)."""
        lines = [f"# Import report: {self.status}", ""]
        if self.message:
            lines += [self.message, ""]
        lines += [
            f"- output folder: `{self.output}`",
            f"- time: {self.seconds:.1f} s",
            f"- refuse above: {self.max_bad_share:.1%} rejected rows",
        ]
        if self.date_range:
            lines.append(f"- order dates: {self.date_range[0]} to {self.date_range[1]}")
        for name, rows in self.tables.items():
            lines.append(f"- {name}: {rows:,} rows")
        for title, tally in (("Orders file", self.orders_file), ("Customer file", self.customers_file)):
            if tally is None:
                continue
            lines += [
                "",
                f"## {title}: `{tally.path}`",
                "",
                f"{tally.rows_read:,} rows read, {tally.rows_rejected:,} rejected "
                f"({tally.bad_share:.2%}), {sum(tally.repaired.values()):,} repairs.",
                "",
                "Columns used: " + ", ".join(f"{k} ← `{v}`" for k, v in tally.mapping.items()),
                "",
                "Row numbers count data rows (1 = the first row after the header), not counting "
                "malformed rows, which are shown by their text.",
                "",
            ]
            for kind, counts, texts in (
                ("Rejected", tally.rejected, REJECT_REASONS),
                ("Repaired", tally.repaired, REPAIR_REASONS),
            ):
                if not counts:
                    continue
                lines += [f"| {kind} rows | reason | examples |", "|---:|---|---|"]
                for key, count in sorted(counts.items(), key=lambda kv: -kv[1]):
                    examples = "; ".join(_sample_text(s) for s in tally.samples.get(key, [])[:3])
                    lines.append(f"| {count:,} | {texts[key]} | {examples.replace('|', '/')} |")
                lines.append("")
        if self.defaults_used:
            lines += ["## Defaults used for columns the files did not have", ""]
            lines += [f"- {d}" for d in self.defaults_used]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """A few lines for the terminal."""
        o = self.orders_file
        parts = [
            f"Import {self.status}: {o.rows_read:,} rows read, {o.rows_rejected:,} rejected "
            f"({o.bad_share:.2%}; limit {self.max_bad_share:.1%}), {sum(o.repaired.values()):,} repairs."
        ]
        if self.customers_file:
            c = self.customers_file
            parts.append(f"Customer file: {c.rows_read:,} rows, {c.rows_rejected:,} rejected.")
        for key, count in sorted(o.rejected.items(), key=lambda kv: -kv[1]):
            parts.append(f"  rejected {count:,}: {REJECT_REASONS[key]}")
        for key, count in sorted(o.repaired.items(), key=lambda kv: -kv[1]):
            parts.append(f"  repaired {count:,}: {REPAIR_REASONS[key]}")
        if self.tables:
            parts.append("Wrote " + ", ".join(f"{k} {v:,}" for k, v in self.tables.items()) + ".")
        if self.message and not self.ok:
            parts.append(self.message)
        parts.extend(f"Note: {n}" for n in self.notes)
        if self.report_paths:
            parts.append("Report: " + ", ".join(self.report_paths))
        return "\n".join(parts)

    def write(self, base: Path) -> list[Path]:
        """Write ``<base>.json`` and ``<base>.md``; returns the paths."""
        base.parent.mkdir(parents=True, exist_ok=True)
        json_path, md_path = base.with_name(base.name + ".json"), base.with_name(base.name + ".md")
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=str), encoding="utf-8")
        md_path.write_text(self.to_text(), encoding="utf-8")
        self.report_paths = [str(json_path), str(md_path)]
        return [json_path, md_path]


def _sample_text(sample: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sample.items())


def report_base(out_dir: str | Path) -> Path:
    """Where the report of an import into ``out_dir`` goes: ``<parent>/<name>-import-report.{json,md}``."""
    out = Path(out_dir).resolve()
    return out.parent / f"{out.name}-import-report"


# ----- column mapping -------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def parse_map_args(items: list[str] | None) -> dict[str, str]:
    """``["amount=Total", "order_date=Invoice Date"]`` → ``{"amount": "Total", ...}``."""
    mapping: dict[str, str] = {}
    for item in items or []:
        field_name, sep, column = item.partition("=")
        if not sep or not field_name.strip() or not column.strip():
            raise IngestError(f"--map expects FIELD=COLUMN, got {item!r}")
        mapping[field_name.strip()] = column.strip()
    return mapping


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML mapping file: ``{"orders": {...}, "customers": {...}, "options": {...}}``.

    A flat ``{"amount": "Total"}`` is read as the orders mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except FileNotFoundError as exc:
        raise IngestError(f"mapping file not found: {path}") from exc
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise IngestError(f"mapping file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(f"mapping file {path} must hold an object/table")
    if not {"orders", "customers", "options"} & set(data):
        data = {"orders": data}
    for key in ("orders", "customers", "options"):
        if not isinstance(data.get(key, {}), dict):
            raise IngestError(f"mapping file {path}: '{key}' must be an object/table")
    for key in ("orders", "customers"):
        for k, v in data.get(key, {}).items():
            if not isinstance(v, str):
                raise IngestError(f"mapping file {path}: {key}.{k} must be a column name (text)")
    return data


def resolve_mapping(
    columns: list[str], explicit: Mapping[str, str] | None, fields: Mapping[str, FieldSpec], what: str
) -> dict[str, str]:
    """Field → source column: explicit entries first, then recognised header spellings."""
    explicit = dict(explicit or {})
    unknown = sorted(set(explicit) - set(fields))
    if unknown:
        raise IngestError(
            f"unknown {what} field(s) in the mapping: {', '.join(unknown)}; known fields: {', '.join(fields)}"
        )
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    mapping: dict[str, str] = {}
    for name, source in explicit.items():
        if source in columns:
            mapping[name] = source
        elif _norm(source) in by_norm:
            mapping[name] = by_norm[_norm(source)]
        else:
            raise IngestError(
                f"{what} file has no column {source!r} (mapped to {name}); "
                f"its columns are: {', '.join(map(repr, columns))}"
            )
    taken = set(mapping.values())
    for name, spec in fields.items():
        if name in mapping:
            continue
        for synonym in spec.synonyms:
            column = by_norm.get(_norm(synonym))
            if column is not None and column not in taken:
                mapping[name] = column
                taken.add(column)
                break
    missing = [
        n
        for n, s in fields.items()
        if s.required and n not in mapping and not (n == "amount" and "unit_price" in mapping)
    ]
    if missing:
        hints = "; ".join(f"{n} ({fields[n].description})" for n in missing)
        raise IngestError(
            f"{what} file lacks required column(s): {hints}. Its columns are: "
            f"{', '.join(map(repr, columns))}. Map them with --map FIELD=COLUMN."
        )
    return mapping


# ----- value parsing (vectorised; every function returns values plus a mask of unreadable ones) ----------


def _text(values: pd.Series) -> pd.Series:
    """Stripped text with NULL_TOKENS as missing (NaN)."""
    s = values.astype("str").str.strip()
    return s.mask(s.str.lower().isin(NULL_TOKENS))


_CURRENCY = r"[\s\u00a0\u202f$€£¥₹₽₩₺₪฿₫₴₦₱]"
_NUMBER_DOT = r"[+-]?(?:\d+|\d{1,3}(?:[,']\d{3})+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+(?:[eE][+-]?\d+)?"
_NUMBER_COMMA = r"[+-]?(?:\d+|\d{1,3}(?:[.']\d{3})+)(?:,\d*)?|[+-]?,\d+"


def parse_numbers(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Numbers such as ``1234.5``, ``"1,234.50"``, ``"€12,50"`` (decimal ``,``), ``"(12.00)"``, ``"12 USD"``.

    Returns (float values, NaN where missing or unreadable; mask of present-but-unreadable cells).
    A thousands separator must group digits by three, so ``"12,50"`` is not read as 1250 with the
    default decimal point: it is unreadable (use ``decimal=","``). Infinite values are unreadable.
    """
    if pd.api.types.is_bool_dtype(values):
        values = values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        out = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = pd.Series(np.isinf(out.to_numpy()), index=values.index)
        return out.mask(bad), bad
    text = _text(values)
    present = text.notna()
    s = text.fillna("").str.replace(_CURRENCY, "", regex=True)
    s = s.str.replace(r"^[A-Z]{3}|[A-Z]{3}$", "", regex=True)
    negative = s.str.startswith("(") & s.str.endswith(")")
    s = s.mask(negative, s.str.slice(1, -1))
    if decimal == ".":
        ok = s.str.fullmatch(_NUMBER_DOT)
        s = s.str.replace(r"[,']", "", regex=True)
    else:
        ok = s.str.fullmatch(_NUMBER_COMMA)
        s = s.str.replace(r"[.']", "", regex=True).str.replace(",", ".", regex=False)
    ok = ok.fillna(False).astype(bool) & present
    out = pd.to_numeric(s.where(ok), errors="coerce").astype("float64")
    out = out.mask(negative, -out)
    bad = present & (out.isna() | np.isinf(out.fillna(0.0)))
    return out.mask(bad), bad


_TZ_SUFFIX = r"(\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
_TZ_SUFFIX_TEST = _TZ_SUFFIX.replace("(", "(?:", 1)  # the same without the capturing group
_DATE_FORMATS_DMY = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%y")
_DATE_FORMATS_MDY = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m-%d-%y")
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
_OTHER_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y %H:%M",
    "%b %d %Y",
    "%d-%b-%Y %H:%M:%S",
    "%a, %d %b %Y %H:%M:%S",
)


def _drop_offsets(text: pd.Series) -> pd.Series:
    """Remove time-zone offsets after a time. Only rows that have one go through the (slower, Python)
    back-reference replace."""
    has_offset = text.str.contains(_TZ_SUFFIX_TEST, regex=True).fillna(False).astype(bool)
    if not has_offset.any():
        return text
    text = text.copy()
    text[has_offset] = text[has_offset].str.replace(_TZ_SUFFIX, r"\1", regex=True)
    return text


class DateParser:
    """Parses date/time text in many formats; remembers which formats hit, so later chunks try them first.

    ISO 8601 (with or without time, ``T`` or space, fractions), then numeric dates in the order chosen
    by ``dayfirst`` only (``13/01/2024`` is unreadable without ``dayfirst``: a file cannot mix the two
    orders, and guessing per row would silently misread every day up to 12), named months,
    ``yyyymmdd`` and Unix epoch seconds/milliseconds. A time-zone offset is dropped: the wall-clock
    time as written is kept.
    """

    def __init__(self, dayfirst: bool = False) -> None:
        first, second = (_DATE_FORMATS_DMY, _DATE_FORMATS_MDY) if dayfirst else (_DATE_FORMATS_MDY, _DATE_FORMATS_DMY)
        numeric = [f + t for f in first for t in _TIME_SUFFIXES]
        self.formats: list[str] = ["ISO8601", *numeric, *_OTHER_FORMATS]
        self.other_order = [f + t for f in second for t in _TIME_SUFFIXES]
        self.hits: Counter = Counter()

    def __call__(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(datetime64[us] values, NaT where missing or unreadable; mask of present-but-unreadable)."""
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(values):
            out = values.astype("datetime64[us]")
            return out, pd.Series(False, index=values.index)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return self._from_numbers(pd.to_numeric(values, errors="coerce"))
        if values.dtype == object and len(values) and values.map(lambda v: isinstance(v, (date, datetime))).any():
            values = values.map(lambda v: v.isoformat() if isinstance(v, (date, datetime)) else v)
        text = _text(values)
        present = text.notna()
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        todo = present.copy()
        if todo.any():
            s = _drop_offsets(text[todo])
            digits = s.str.fullmatch(r"\d{10}|\d{13}").fillna(False).astype(bool)
            if digits.any():
                parsed, _ = self._from_numbers(pd.to_numeric(s[digits], errors="coerce"))
                out.loc[parsed.index] = parsed
            remaining = s[~digits]
            for fmt in sorted(self.formats, key=lambda f: -self.hits[f]):
                if remaining.empty:
                    break
                parsed = pd.to_datetime(remaining, format=fmt, errors="coerce")
                hit = parsed.notna()
                if hit.any():
                    self.hits[fmt] += int(hit.sum())
                    out.loc[parsed.index[hit]] = parsed[hit].astype("datetime64[us]")
                    remaining = remaining[~hit]
        bad = present & out.isna()
        return out, bad

    @staticmethod
    def _from_numbers(numbers: pd.Series) -> tuple[pd.Series, pd.Series]:
        """yyyymmdd integers, else Unix epoch seconds (< 1e11) or milliseconds."""
        out = pd.Series(pd.NaT, index=numbers.index, dtype="datetime64[us]")
        n = numbers.astype("float64")
        ymd = n.between(19000101, 21001231) & (n % 1 == 0)
        if ymd.any():
            out.loc[ymd] = pd.to_datetime(n[ymd].astype("int64").astype(str), format="%Y%m%d", errors="coerce").astype(
                "datetime64[us]"
            )
        secs = ~ymd & n.notna() & (n.abs() < 1e11)
        millis = ~ymd & n.notna() & (n.abs() >= 1e11) & (n.abs() < 1e14)
        with np.errstate(invalid="ignore"):
            if secs.any():
                out.loc[secs] = pd.to_datetime(n[secs] * 1e6, unit="us", errors="coerce")
            if millis.any():
                out.loc[millis] = pd.to_datetime(n[millis] * 1e3, unit="us", errors="coerce")
        return out, numbers.notna() & out.isna()

    def would_parse_other_order(self, values: pd.Series) -> int:
        """How many of these (unreadable) values the other day/month order would read."""
        s = _drop_offsets(_text(values).dropna())
        count = 0
        for fmt in self.other_order:
            if s.empty:
                break
            hit = pd.to_datetime(s, format=fmt, errors="coerce").notna()
            count += int(hit.sum())
            s = s[~hit]
        return count


def parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """yes/no values → (bool values with missing as False, mask present, mask unreadable)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        present = numbers.notna()
        return (numbers.fillna(0) != 0).astype(bool), present, pd.Series(False, index=values.index)
    text = _text(values)
    present = text.notna()
    lower = text.fillna("").str.lower()
    true = lower.isin(TRUE_TOKENS)
    false = lower.isin(FALSE_TOKENS)
    bad = present & ~true & ~false
    return true.astype(bool), present & ~bad, bad


def surrogate_ids(keys: pd.Series) -> np.ndarray:
    """Stable int64 ids for customer/order/product keys (``keys`` has no missing values).

    A plain positive number of at most 15 digits without leading zeros is kept as it is (so
    ``"12345"`` and ``12345`` both give 12345). Anything else (``"C-001"``, ``"007"``, ``"0"``, a 16-digit
    number) gets 10**15 + (its 64-bit BLAKE2b hash modulo 2**53 - 10**15), a range no kept number
    reaches and below 2**53, so ids survive the browser's JavaScript numbers exactly. The same key gives
    the same id in every import; the import checks that no two keys met the same id.
    """
    codes, uniques = pd.factorize(keys, sort=False)
    uniq = pd.Series(uniques).astype("str")
    plain = uniq.str.fullmatch(r"[1-9]\d{0,14}").fillna(False).astype(bool).to_numpy()
    ids = np.empty(len(uniq), dtype=np.int64)
    if plain.any():
        ids[plain] = uniq[plain].astype("int64").to_numpy()
    texts = uniq.to_numpy(dtype=object)
    for i in np.flatnonzero(~plain):
        digest = hashlib.blake2b(texts[i].encode("utf-8"), digest_size=8).digest()
        ids[i] = HASHED_ID_BASE + int.from_bytes(digest, "big") % HASHED_ID_SPAN
    return ids[codes]


def _numeric_key_text(values: pd.Series) -> pd.Series:
    """Keys as text; whole floats (1234.0 from a spreadsheet) become '1234'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & (values % 1 == 0) & (values.abs() < 1e18)
        out = values.astype("str")
        out = out.mask(whole, values[whole].astype("int64").astype("str") if whole.any() else out)
        return out.mask(values.isna())
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str")
    return values


# ----- reading files in chunks -------------------------------------------------------------------------


class _ProgressFile(io.RawIOBase):
    """A read-only file that advances a progress bar by the bytes read."""

    def __init__(self, raw, bar) -> None:
        self._raw, self._bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n and self._bar is not None:
            self._bar.update(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _progress_bar(total: int | None, unit: str, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)


def _is_parquet(path: Path) -> bool:
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _sniff_csv(path: Path, options: ImportOptions) -> tuple[list[str], str]:
    """Header names and delimiter (sniffed among , ; tab | unless given)."""
    import csv

    compression = "gzip" if path.suffix.lower() == ".gz" else None
    try:
        with pa.input_stream(str(path), compression=compression) as stream:
            head = stream.read(256 * 1024).decode(options.encoding, errors="replace")
    except (OSError, LookupError) as exc:
        raise IngestError(f"cannot read {path}: {exc}") from exc
    head = head.lstrip("\ufeff")
    if not head.strip():
        raise IngestError(f"{path} is empty")
    delimiter = options.delimiter
    if delimiter is None:
        sample = "\n".join(head.splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    header = next(csv.reader(io.StringIO(head), delimiter=delimiter))
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise IngestError(f"{path} has duplicate column names: {', '.join(map(repr, dupes))}")
    return header, delimiter


@dataclass
class _Source:
    columns: list[str]
    chunks: Iterator[pd.DataFrame]


def _read_chunks(path: Path, options: ImportOptions, tally: FileTally, desc: str) -> _Source:
    """Chunks of the file as pandas frames (CSV cells as text; Parquet columns keep their types)."""
    if not path.exists():
        raise IngestError(f"file not found: {path}")
    if _is_parquet(path):
        try:
            dataset = pq.ParquetFile(str(path)) if path.is_file() else None
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(f"{path} is not a readable Parquet file: {exc}") from exc
        if dataset is None:
            import pyarrow.dataset as ds

            data = ds.dataset(str(path), format="parquet")
            columns, total, batches = data.schema.names, data.count_rows(), data.to_batches(batch_size=200_000)
        else:
            columns, total = dataset.schema_arrow.names, dataset.metadata.num_rows
            batches = dataset.iter_batches(batch_size=200_000)

        def parquet_chunks() -> Iterator[pd.DataFrame]:
            bar = _progress_bar(total, "rows", desc, options.progress)
            try:
                for batch in batches:
                    frame = batch.to_pandas()
                    if bar is not None:
                        bar.update(len(frame))
                    yield frame
            finally:
                if bar is not None:
                    bar.close()

        return _Source(list(columns), parquet_chunks())

    header, delimiter = _sniff_csv(path, options)

    def on_invalid(row) -> str:
        text = (row.text or "")[:120]
        tally.rows_read += 1
        tally.reject("malformed_row", 1, [{"row": row.number, "text": text}])
        return "skip"

    def csv_chunks() -> Iterator[pd.DataFrame]:
        gz = path.suffix.lower() == ".gz"
        bar = _progress_bar(None if gz else path.stat().st_size, "rows" if gz else "B", desc, options.progress)
        raw = pa.input_stream(str(path), compression="gzip") if gz else _ProgressFile(path.open("rb"), bar)
        try:
            reader = pacsv.open_csv(
                raw,
                read_options=pacsv.ReadOptions(
                    column_names=header, skip_rows=1, block_size=options.block_size, encoding=options.encoding
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                frame = batch.to_pandas()
                if gz and bar is not None:
                    bar.update(len(frame))
                yield frame
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise IngestError(f"cannot parse {path} as CSV ({exc}); check --delimiter and --encoding") from exc
        finally:
            raw.close()
            if bar is not None:
                bar.close()

    return _Source(header, csv_chunks())


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

    def text(self, name: str, limit: int = MAX_TEXT) -> pd.Series:
        values = self.col(name)
        if values is None:
            return pd.Series(None, index=self.frame.index, dtype="str")
        s = _text(_numeric_key_text(values))
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


def _clean_orders(chunk: _Chunk, options: ImportOptions, dates: DateParser, hints: Counter) -> pa.Table:
    today = options.today_date
    customer_key = chunk.text("customer_id")
    chunk.reject("missing_customer_id", customer_key.isna(), ("customer_id", "order_date", "amount"))

    ts, bad_date = dates(chunk.col("order_date"))
    if bad_date.any():
        hints["other_date_order"] += dates.would_parse_other_order(chunk.col("order_date")[bad_date & chunk.alive])
    chunk.reject("missing_date", ts.isna() & ~bad_date, ("customer_id", "order_date"))
    chunk.reject("unparseable_date", bad_date, ("order_date",))
    chunk.reject("date_too_old", ts < pd.Timestamp(options.min_date), ("order_date",))
    chunk.reject("future_date", ts >= pd.Timestamp(today) + pd.Timedelta(days=1), ("order_date",))

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
    chunk.reject("bad_quantity", quantity <= 0, ("quantity",))  # before the amount: -1 x price is a return
    chunk.reject("missing_amount", amount.isna() & ~bad_amount, fields)
    chunk.reject("non_numeric_amount", bad_amount, fields)
    chunk.reject("negative_amount", amount < 0, fields)

    chunk.repair("quantity_unreadable", bad_quantity, ("quantity",))
    quantity = quantity.fillna(1.0)
    fractional = quantity % 1 != 0
    chunk.repair("quantity_fractional", fractional, ("quantity",))
    quantity = quantity.round().clip(lower=1, upper=2**31 - 1)

    if "discount" in chunk.mapping:
        discount, bad_discount = parse_numbers(chunk.col("discount"), options.decimal)
        chunk.repair("discount_unreadable", bad_discount, ("discount",))
        chunk.repair("discount_negative", discount < 0, ("discount",))
        discount = discount.fillna(0.0).clip(lower=0.0)
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
        order_key = chunk.text("order_id")
        missing = order_key.isna()
        chunk.repair("missing_order_id", missing, ("order_id", "customer_id"))
        keys = order_key.where(~missing, "\x00row " + chunk.rows.astype("str"))[keep]
        order_ids = surrogate_ids(keys) if len(keys) else np.empty(0, np.int64)
        order_key_out = order_key[keep]
    else:
        order_ids = rows.to_numpy()
        order_key_out = pd.Series(None, index=rows.index, dtype="str")

    product_name = chunk.text("product_name")
    product = chunk.text("product").fillna(product_name)
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
        },
        schema=LINES_SCHEMA,
    )


def _clean_customers(chunk: _Chunk, options: ImportOptions, dates: DateParser) -> pa.Table:
    today = options.today_date
    key = chunk.text("customer_id")
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


# ----- pass 2: orders and dimensions with Ibis on DuckDB --------------------------------------------------


def _build(staging: Path, out: Path, options: ImportOptions, report: ImportReport, has_customers_file: bool) -> None:
    import ibis

    tally = report.orders_file
    con = ibis.duckdb.connect(str(staging / "build.duckdb"), temp_directory=str(staging / "_spill"))
    try:
        lines = con.read_parquet(str(staging / "lines-*.parquet"), table_name="lines")

        # -- cross-row checks: repeated order ids ------------------------------------------------
        if options.grain == "order":
            ranked = lines.mutate(rn=ibis.row_number().over(group_by="order_id", order_by="row"))
            dupes = ranked.filter(ranked.rn > 0)
            _reject_rows(con, tally, "duplicate_order_id", dupes)
            lines = ranked.filter(ranked.rn == 0).drop("rn")
        else:
            per_order = lines.group_by("order_id").aggregate(
                customers=lines.customer_id.nunique(),
                first_day=lines.order_ts.date().min(),
                last_day=lines.order_ts.date().max(),
            )
            conflicts = per_order.filter(per_order.customers > 1).select("order_id")
            _reject_rows(con, tally, "conflicting_order_customer", lines.semi_join(conflicts, "order_id"))
            lines = lines.anti_join(conflicts, "order_id")
            spread = per_order.filter(per_order.first_day != per_order.last_day).select("order_id")
            _repair_rows(con, tally, "order_lines_different_days", lines.semi_join(spread, "order_id"))
        lines = con.create_table("kept_lines", lines)
        _check_collisions(con, lines.select("customer_id", "customer_key"), "customer_id", "customer_key", "customer")
        _check_collisions(con, lines.select("order_id", "order_key"), "order_id", "order_key", "order")

        # -- orders: one row per order id ---------------------------------------------------------
        flagged = lines.returned | lines.cancelled
        per_order = lines.group_by("order_id").aggregate(
            n_lines=lines.count(),
            n_cancelled=lines.cancelled.cast("int64").sum(),
            n_flagged=flagged.cast("int64").sum(),
            net_all=lines.net.sum(),
            gross_all=lines.gross.sum(),
            discount_all=lines.discount.sum(),
            quantity_all=lines.quantity.sum(),
            net_kept=lines.net.sum(where=~flagged),
            gross_kept=lines.gross.sum(where=~flagged),
            discount_kept=lines.discount.sum(where=~flagged),
            quantity_kept=lines.quantity.sum(where=~flagged),
            customer_id=lines.customer_id.min(),
            order_ts=lines.order_ts.min(),
            promo=lines.promo.any(),
            channel=lines.channel.min(),
            payment_method=lines.payment_method.min(),
        )
        partial = per_order.filter((per_order.n_flagged > 0) & (per_order.n_flagged < per_order.n_lines))
        _repair_rows(
            con,
            tally,
            "partial_return_lines",
            lines.filter(lines.returned | lines.cancelled).semi_join(partial.select("order_id"), "order_id"),
        )
        product_sales = lines.group_by(["order_id", "product_id"]).aggregate(gross=lines.gross.sum())
        product_sales = product_sales.mutate(
            rn=ibis.row_number().over(group_by="order_id", order_by=[ibis.desc("gross"), "product_id"])
        )
        main_product = product_sales.filter(product_sales.rn == 0).select("order_id", "product_id")

        all_flagged = per_order.n_flagged == per_order.n_lines
        is_cancelled = per_order.n_cancelled == per_order.n_lines
        quantity = all_flagged.ifelse(per_order.quantity_all, per_order.quantity_kept)
        gross = all_flagged.ifelse(per_order.gross_all, per_order.gross_kept)
        discount = all_flagged.ifelse(per_order.discount_all, per_order.discount_kept)
        orders = per_order.inner_join(main_product, "order_id").select(
            order_id=per_order.order_id,
            customer_id=per_order.customer_id,
            product_id=main_product.product_id,
            date_key=(
                per_order.order_ts.year() * 10000 + per_order.order_ts.month() * 100 + per_order.order_ts.day()
            ).cast("int32"),
            order_ts=per_order.order_ts,
            quantity=ibis.least(quantity, 2**31 - 1).cast("int32"),
            unit_price=gross / quantity,
            gross_amount=gross,
            discount_amount=discount,
            net_revenue=gross - discount,
            payment_method=per_order.payment_method.fill_null(UNKNOWN),
            channel=per_order.channel.fill_null(UNKNOWN),
            promo_used=per_order.promo,
            is_returned=all_flagged & ~is_cancelled,
            is_cancelled=is_cancelled,
        )
        orders = con.create_table("orders", orders)
        n_orders = con.execute(orders.count())
        if n_orders == 0:
            return
        _write(con, orders.order_by(["order_ts", "order_id"]), out / "fact_orders", "fact_orders")

        bounds = con.execute(orders.aggregate(lo=orders.order_ts.min(), hi=orders.order_ts.max()))
        first_day, last_day = bounds.lo.iloc[0].date(), bounds.hi.iloc[0].date()
        report.date_range = (first_day.isoformat(), last_day.isoformat())
        _write_arrow(_dim_date(first_day, last_day), out / "dim_date", "dim_date")

        # -- products ----------------------------------------------------------------------------
        cats = (
            lines.filter(lines.category.notnull())
            .group_by(["product_id", "category"])
            .aggregate(gross=lines.gross.sum())
        )
        cats = cats.mutate(rn=ibis.row_number().over(group_by="product_id", order_by=[ibis.desc("gross"), "category"]))
        top_category = cats.filter(cats.rn == 0).select("product_id", top_category="category")
        products = lines.group_by("product_id").aggregate(
            product_name=lines.product_name.min(),
            any_category=lines.category.min(),
            list_price=(lines.gross / lines.quantity).mean(),
        )
        products = products.left_join(top_category, "product_id")
        category = products.top_category.fill_null(products.any_category).fill_null(UNKNOWN)
        products = products.select(
            product_id=products.product_id,
            product_name=products.product_name.fill_null(
                products.any_category.isnull().ifelse(UNKNOWN_PRODUCT, UNKNOWN_PRODUCT + " (" + category + ")")
            ),
            category=category,
            subcategory=ibis.literal(UNKNOWN),
            brand=ibis.literal(UNKNOWN),
            list_price=products.list_price.round(2).fill_null(0.0),
        )
        _write(con, products.order_by("product_id"), out / "dim_product", "dim_product")

        # -- customers ---------------------------------------------------------------------------
        report.tables["dim_customer"] = _build_customers(
            con, lines, orders, staging, out, options, report, has_customers_file, first_day
        )
        report.tables["fact_orders"] = int(n_orders)
        report.tables["dim_product"] = int(con.execute(products.count()))
        report.tables["dim_date"] = (last_day - first_day).days + 1
        _write_arrow(TABLES["fact_engagement"].empty_table(), out / "fact_engagement", "fact_engagement")
        report.tables["fact_engagement"] = 0
    finally:
        con.disconnect()


def _build_customers(
    con,
    lines,
    orders,
    staging: Path,
    out: Path,
    options: ImportOptions,
    report: ImportReport,
    has_customers_file: bool,
    first_day: date,
) -> int:
    import ibis

    valid = orders.filter(valid_order(orders))
    buyers = orders.group_by("customer_id").aggregate(first_ts=orders.order_ts.min())
    revenue = valid.group_by("customer_id").aggregate(revenue=valid.net_revenue.sum())
    keys = lines.group_by("customer_id").aggregate(order_customer_key=lines.customer_key.min())

    def latest(column: str) -> ibis.Table:
        t = lines.filter(lines[column].notnull())
        t = t.mutate(
            rn=ibis.row_number().over(
                group_by="customer_id", order_by=[ibis.desc("order_ts"), ibis.desc("order_id"), ibis.desc("row")]
            )
        )
        return t.filter(t.rn == 0).select("customer_id", **{f"order_{column}": t[column]})

    valid_lines = lines.semi_join(valid.select("order_id"), "order_id").filter(
        lines.category.notnull() & ~lines.returned & ~lines.cancelled
    )
    cat_sales = valid_lines.group_by(["customer_id", "category"]).aggregate(gross=valid_lines.gross.sum())
    cat_sales = cat_sales.mutate(
        rn=ibis.row_number().over(group_by="customer_id", order_by=[ibis.desc("gross"), "category"])
    )
    preferred = cat_sales.filter(cat_sales.rn == 0).select("customer_id", order_category="category")

    tally = report.customers_file
    if has_customers_file and tally is not None:
        people = con.read_parquet(str(staging / "customers-*.parquet"), table_name="customer_rows")
        people = people.mutate(rn=ibis.row_number().over(group_by="customer_id", order_by="row"))
        _reject_rows(con, tally, "duplicate_customer_id", people.filter(people.rn > 0), key="customer_key")
        people = people.filter(people.rn == 0).drop("rn", "row")
        _check_collisions(con, people.select("customer_id", "customer_key").union(
            lines.select("customer_id", "customer_key")), "customer_id", "customer_key", "customer")
        ids = people.select("customer_id").union(buyers.select("customer_id"), distinct=True)
        n_file_only = con.execute(people.anti_join(buyers, "customer_id").count())
        n_orders_only = con.execute(buyers.anti_join(people, "customer_id").count())
        if n_file_only:
            report.notes.append(
                f"{n_file_only:,} customers of the customer file have no valid order (kept as prospects)."
            )
        if n_orders_only:
            report.notes.append(
                f"{n_orders_only:,} customers in the orders are not in the customer file "
                "(defaults used for their details)."
            )
    else:
        people = ibis.memtable(CUSTOMERS_STAGING_SCHEMA.empty_table()).drop("row")
        ids = buyers.select("customer_id")

    t = ids
    for other in (people, buyers, revenue, keys, latest("country"), latest("prime"), preferred):
        t = t.left_join(other, "customer_id")
    revenue_value = t.revenue.fill_null(0.0)
    derived_score = (ibis.percent_rank().over(order_by=revenue_value) * 99).floor().cast("int32") + 1
    age = t.age.fill_null(0)
    age_group = ibis.cases(
        (t.age.isnull(), UNKNOWN),
        (t.age >= 65, "65+"),
        (t.age >= 55, "55-64"),
        (t.age >= 45, "45-54"),
        (t.age >= 35, "35-44"),
        (t.age >= 25, "25-34"),
        else_="18-24",
    )
    signup = t.signup_date.fill_null(t.first_ts.date()).fill_null(ibis.literal(first_day))
    customers = t.select(
        customer_id=t.customer_id,
        name=t.name.fill_null(t.customer_key).fill_null(t.order_customer_key).fill_null(UNKNOWN),
        gender=t.gender.fill_null("Other"),
        age=age.cast("int32"),
        age_group=age_group,
        country=t.country.fill_null(t.order_country).fill_null(UNKNOWN),
        city=t.city.fill_null(UNKNOWN),
        signup_date=signup,
        is_prime=t.prime.fill_null(t.order_prime).fill_null(False),
        annual_income=t.income.fill_null(0.0).cast("float64"),
        spending_score=t.spending_score.fill_null(derived_score).cast("int32"),
        preferred_category=t.preferred_category.fill_null(t.order_category).fill_null(UNKNOWN),
        acquisition_channel=t.acquisition_channel.fill_null(UNKNOWN),
    )
    customers = con.create_table("customers", customers)
    _write(con, customers.order_by("customer_id"), out / "dim_customer", "dim_customer")
    return int(con.execute(customers.count()))


def _check_collisions(con, pairs, id_column: str, key_column: str, what: str) -> None:
    """Fail if two different original ids were given the same number (a hash collision: about one chance
    in 10 000 for a million text ids). Nothing is written then, and the previous data stays."""
    known = pairs.filter(pairs[key_column].notnull())
    keys = known.group_by(id_column).aggregate(keys=known[key_column].nunique())
    clashes = con.execute(keys.filter(keys["keys"] > 1).limit(3))
    if len(clashes):
        raise IngestError(f"two different {what} ids were given the same internal number "
                          f"({', '.join(map(str, clashes[id_column]))}); rename one of them (e.g. add a prefix) "
                          "and import again")


def _reject_rows(con, tally: FileTally, reason: str, rows, key: str = "order_key") -> None:
    count = int(con.execute(rows.count()))
    if count:
        columns = list(dict.fromkeys(["row", key, "customer_key"]))
        sample = con.execute(rows.order_by("row").select(*columns).limit(SAMPLES_PER_REASON))
        tally.reject(
            reason,
            count,
            [
                {k: (None if pd.isna(v) else (int(v) if k == "row" else str(v))) for k, v in r.items()}
                for r in sample.to_dict("records")
            ],
        )


def _repair_rows(con, tally: FileTally, reason: str, rows) -> None:
    count = int(con.execute(rows.count()))
    if count:
        sample = con.execute(rows.order_by("row").select("row", "order_key", "order_ts").limit(SAMPLES_PER_REASON))
        tally.repair(
            reason,
            count,
            [{k: str(v) if k != "row" else int(v) for k, v in r.items()} for r in sample.to_dict("records")],
        )


def _write(con, expr, folder: Path, table: str) -> None:
    """Stream an Ibis table expression into ``folder/part-NNNNN.parquet`` with the contract schema."""
    schema = TABLES[table]
    folder.mkdir(parents=True, exist_ok=True)
    writer, part, rows_in_part = None, 0, 0
    try:
        # Ibis 12's to_pyarrow_batches calls a cursor method DuckDB 2.0 no longer has: stream directly.
        sql = con.compile(expr.select(*schema.names))
        for batch in con.con.sql(sql).to_arrow_reader(500_000):
            if batch.num_rows == 0:
                continue
            data = _conform(pa.Table.from_batches([batch]), schema, table)
            if writer is None or rows_in_part >= ROWS_PER_PART:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(folder / f"part-{part:05d}.parquet", schema)
                part, rows_in_part = part + 1, 0
            writer.write_table(data, row_group_size=250_000)
            rows_in_part += data.num_rows
    finally:
        if writer is not None:
            writer.close()
    if part == 0:
        pq.write_table(schema.empty_table(), folder / "part-00000.parquet")


def _write_arrow(data: pa.Table, folder: Path, table: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(_conform(data, TABLES[table], table), folder / "part-00000.parquet")


def _conform(data: pa.Table, schema: pa.Schema, table: str) -> pa.Table:
    for name in schema.names:
        if data.column(name).null_count:
            raise IngestError(f"internal error: {table}.{name} has missing values after defaults")
    data = data.select(schema.names)
    return pa.Table.from_arrays(
        [data.column(n).cast(f.type) for n, f in zip(schema.names, schema, strict=True)], schema=schema
    )


def _dim_date(first: date, last: date) -> pa.Table:
    days = pd.date_range(first, last, freq="D")
    return pa.table(
        {
            "date_key": pa.array(days.year * 10000 + days.month * 100 + days.day, pa.int32()),
            "date": pa.array(days.date, pa.date32()),
            "year": pa.array(days.year, pa.int32()),
            "quarter": pa.array(days.quarter, pa.int32()),
            "month": pa.array(days.month, pa.int32()),
            "month_name": pa.array(days.strftime("%B"), pa.string()),
            "iso_week": pa.array(days.isocalendar().week.to_numpy(), pa.int32()),
            "day_of_week": pa.array(days.day_of_week, pa.int32()),
            "is_weekend": pa.array(days.day_of_week >= 5, pa.bool_()),
        }
    )


# ----- atomic replacement of the output folder -------------------------------------------------------

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False when unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), _RENAME_EXCHANGE)
    return result == 0


def replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` (which may not exist); the old content is deleted afterwards.

    With an existing target the two folders are exchanged atomically where the OS allows it (Linux),
    else by two renames; either way readers never see a half-written folder.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old data
        return
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(target: Path) -> list[Path]:
    """Remove temporary folders left by killed imports into ``target`` (their process is gone)."""
    removed = []
    for candidate in target.parent.glob(f".{target.name}.import-*"):
        match = re.fullmatch(rf"\.{re.escape(target.name)}\.import-(\d+)-[0-9a-f]+", candidate.name)
        if match and candidate.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    for candidate in target.parent.glob(f".{target.name}.old-*"):
        if candidate.is_dir():
            if target.exists():
                shutil.rmtree(candidate, ignore_errors=True)
            else:  # killed between the two renames of the fallback swap: restore the old data
                os.rename(candidate, target)
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``target``; on success swap it into place, on error delete it.

    Holds an exclusive lock so two imports/generations into the same folder cannot interleave.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestError(f"another import or generation into {target} is running") from exc
        clean_stale_temporaries(target)
        temp = target.parent / f".{target.name}.import-{os.getpid()}-{secrets.token_hex(4)}"
        temp.mkdir()
        try:
            yield temp
            replace_folder(temp, target)
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)


# ----- the import ----------------------------------------------------------------------------------------


def _finish_tables(out: Path) -> None:
    """Remove the staging area from a built folder."""
    shutil.rmtree(out / "_staging", ignore_errors=True)


def _check_contract(folder: Path, today: date) -> None:
    from metrics.engine import Engine
    from metrics.settings import Settings

    engine = Engine(Settings(data_dir=str(folder)), validate=True, today=today)
    engine.con.disconnect()


def import_data(
    orders_path: str | Path,
    out_dir: str | Path,
    *,
    customers_path: str | Path | None = None,
    order_map: Mapping[str, str] | None = None,
    customer_map: Mapping[str, str] | None = None,
    options: ImportOptions | None = None,
    report_path: str | Path | None = None,
) -> ImportReport:
    """Import a transactions file (and optionally a customer file) into ``out_dir``.

    Returns the report of a successful import. Raises :class:`ImportRefused` (with ``.report``) when
    the share of rejected rows exceeds ``options.max_bad_share`` or nothing usable is left, and
    :class:`IngestError` for unusable input (missing file or required column, bad mapping). In every
    case ``out_dir`` is either fully replaced or left exactly as it was, and the report is written to
    ``report_path`` (default :func:`report_base`) as ``.json`` and ``.md``.
    """
    options = options or ImportOptions()
    started = time.perf_counter()
    orders_path = Path(orders_path)
    out = Path(out_dir).resolve()
    report = ImportReport(output=str(out), orders_file=FileTally(str(orders_path)), max_bad_share=options.max_bad_share)
    if customers_path is not None:
        report.customers_file = FileTally(str(customers_path))
    base = Path(report_path) if report_path else report_base(out)
    hints: Counter = Counter()
    try:
        with atomic_output(out) as temp:
            staging = temp / "_staging"
            source = _read_chunks(orders_path, options, report.orders_file, "orders")
            mapping = resolve_mapping(source.columns, order_map, ORDER_FIELDS, "orders")
            report.orders_file.mapping = mapping
            dates = DateParser(options.dayfirst)
            _stage(
                source,
                mapping,
                report.orders_file,
                staging,
                "lines",
                lambda chunk: _clean_orders(chunk, options, dates, hints),
            )
            if customers_path is not None:
                assert report.customers_file is not None
                csource = _read_chunks(Path(customers_path), options, report.customers_file, "customers")
                cmapping = resolve_mapping(csource.columns, customer_map, CUSTOMER_FIELDS, "customers")
                report.customers_file.mapping = cmapping
                _stage(
                    csource,
                    cmapping,
                    report.customers_file,
                    staging,
                    "customers",
                    lambda chunk: _clean_customers(chunk, options, dates),
                )
            report.defaults_used = _defaults_used(mapping, report.customers_file)
            if hints["other_date_order"]:
                flag = "without --dayfirst" if options.dayfirst else "with --dayfirst"
                report.notes.append(f"{hints['other_date_order']:,} unreadable dates would be read {flag}.")
            _build(staging, temp, options, report, customers_path is not None)
            _finish_tables(temp)
            _refuse_if_bad(report)
            _check_contract(temp, options.today_date)
            report.status = "imported"
            report.message = f"Imported into {out}."
    except ImportRefused as exc:
        report.status, report.message = "refused", str(exc)
        raise
    except IngestError as exc:
        report.status, report.message = "failed", str(exc)
        raise
    except Exception as exc:
        report.status, report.message = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report.seconds = time.perf_counter() - started
        with contextlib.suppress(OSError):
            report.write(base)
    return report


def _refuse_if_bad(report: ImportReport) -> None:
    for tally in (report.orders_file, report.customers_file):
        if tally is None:
            continue
        if tally.rows_read == 0:
            raise ImportRefused(f"{tally.path} has no data rows; nothing was imported.", report)
        if tally.bad_share > report.max_bad_share:
            raise ImportRefused(
                f"{tally.rows_rejected:,} of {tally.rows_read:,} rows of {tally.path} were rejected "
                f"({tally.bad_share:.2%}), above the limit of {report.max_bad_share:.1%}; nothing was "
                "imported and the previous data is unchanged. Fix the file or raise --max-bad-share.",
                report,
            )
    if not report.tables.get("fact_orders"):
        raise ImportRefused("no valid orders are left after the checks; nothing was imported.", report)


def _defaults_used(mapping: Mapping[str, str], customers: FileTally | None) -> list[str]:
    given = set(mapping) | (set(customers.mapping) if customers else set())
    out = []
    for name, text in DEFAULTS.items():
        fields = {f.strip() for f in name.replace("/", " ").split()}
        if name == "fact_engagement" or not fields & given:
            out.append(f"{name}: {text}")
    return out


__all__ = [
    "CUSTOMER_FIELDS",
    "DEFAULTS",
    "ORDER_FIELDS",
    "REJECT_REASONS",
    "REPAIR_REASONS",
    "DateParser",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "IngestError",
    "atomic_output",
    "import_data",
    "load_mapping_file",
    "parse_flags",
    "parse_map_args",
    "parse_numbers",
    "replace_folder",
    "report_base",
    "resolve_mapping",
    "surrogate_ids",
]
