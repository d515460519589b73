"""The data contract: one declared Arrow schema per table of the star schema.

Every writer (the generator, the importer) writes exactly these schemas and every reader validates
against them (see :mod:`metrics.contract`). Column order is part of the contract.
"""

from __future__ import annotations

import pyarrow as pa

FACT_ORDERS = pa.schema(
    [
        pa.field("order_id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("date_key", pa.int32(), nullable=False),  # yyyymmdd, joins dim_date
        pa.field("order_ts", pa.timestamp("us"), nullable=False),
        pa.field("quantity", pa.int32(), nullable=False),
        pa.field("unit_price", pa.float64(), nullable=False),
        pa.field("gross_amount", pa.float64(), nullable=False),  # quantity * unit_price
        pa.field("discount_amount", pa.float64(), nullable=False),
        pa.field("net_revenue", pa.float64(), nullable=False),  # gross - discount
        pa.field("payment_method", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("promo_used", pa.bool_(), nullable=False),
        pa.field("is_returned", pa.bool_(), nullable=False),
        pa.field("is_cancelled", pa.bool_(), nullable=False),  # cancelled the same day
    ]
)

FACT_ENGAGEMENT = pa.schema(
    [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("month", pa.date32(), nullable=False),  # first day of the month
        pa.field("web_visits", pa.int32(), nullable=False),
        pa.field("emails_sent", pa.int32(), nullable=False),
        pa.field("emails_opened", pa.int32(), nullable=False),
        pa.field("cart_adds", pa.int32(), nullable=False),
        pa.field("cart_abandons", pa.int32(), nullable=False),
    ]
)

DIM_CUSTOMER = pa.schema(
    [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("gender", pa.string(), nullable=False),  # Female, Male, Other
        pa.field("age", pa.int32(), nullable=False),
        pa.field("age_group", pa.string(), nullable=False),  # 18-24, 25-34, 35-44, 45-54, 55-64, 65+
        pa.field("country", pa.string(), nullable=False),
        pa.field("city", pa.string(), nullable=False),
        pa.field("signup_date", pa.date32(), nullable=False),
        pa.field("is_prime", pa.bool_(), nullable=False),
        pa.field("annual_income", pa.float64(), nullable=False),
        pa.field("spending_score", pa.int32(), nullable=False),  # 1-100
        pa.field("preferred_category", pa.string(), nullable=False),
        pa.field("acquisition_channel", pa.string(), nullable=False),
    ]
)

DIM_PRODUCT = pa.schema(
    [
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("product_name", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("subcategory", pa.string(), nullable=False),
        pa.field("brand", pa.string(), nullable=False),
        pa.field("list_price", pa.float64(), nullable=False),
    ]
)

DIM_DATE = pa.schema(
    [
        pa.field("date_key", pa.int32(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("year", pa.int32(), nullable=False),
        pa.field("quarter", pa.int32(), nullable=False),
        pa.field("month", pa.int32(), nullable=False),
        pa.field("month_name", pa.string(), nullable=False),
        pa.field("iso_week", pa.int32(), nullable=False),
        pa.field("day_of_week", pa.int32(), nullable=False),  # 0 = Monday ... 6 = Sunday
        pa.field("is_weekend", pa.bool_(), nullable=False),
    ]
)

#: table name -> schema; the Parquet layout is ``<data dir>/<name>/part-*.parquet`` or ``<name>.parquet``.
TABLES: dict[str, pa.Schema] = {
    "fact_orders": FACT_ORDERS,
    "fact_engagement": FACT_ENGAGEMENT,
    "dim_customer": DIM_CUSTOMER,
    "dim_product": DIM_PRODUCT,
    "dim_date": DIM_DATE,
}

#: table -> its primary key columns (unique).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "fact_orders": ("order_id",),
    "fact_engagement": ("customer_id", "month"),
    "dim_customer": ("customer_id",),
    "dim_product": ("product_id",),
    "dim_date": ("date_key",),
}

#: (table, column) -> (referenced table, column).
FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("fact_orders", "customer_id"): ("dim_customer", "customer_id"),
    ("fact_orders", "product_id"): ("dim_product", "product_id"),
    ("fact_orders", "date_key"): ("dim_date", "date_key"),
    ("fact_engagement", "customer_id"): ("dim_customer", "customer_id"),
}

GENDERS = ("Female", "Male", "Other")
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
CATEGORIES = ("Electronics", "Fashion", "Home & Kitchen", "Beauty", "Books", "Sports", "Grocery", "Toys")
CHANNELS = ("Web", "Mobile App", "Marketplace")
PAYMENT_METHODS = ("Credit Card", "Debit Card", "PayPal", "Gift Card", "Cash on Delivery")
ACQUISITION_CHANNELS = ("Organic Search", "Paid Search", "Social", "Email", "Referral", "Affiliate")


def age_group(age: int) -> str:
    """Age band used in dim_customer.age_group (18-24 ... 65+)."""
    for lower, label in ((65, "65+"), (55, "55-64"), (45, "45-54"), (35, "35-44"), (25, "25-34")):
        if age >= lower:
            return label
    return "18-24"
