"""What an input file can say and what the import does about it: the fields it understands (with the
header spellings it recognises), the defaults for what a file does not provide, and the reasons a row
is rejected or repaired (the report's vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass

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
    "returned / cancelled": "no (cancellation invoices are recognised by their order id prefix, default 'C')",
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
    "amount_above_cap": "amount above the absolute cap (--max-amount)",
    "amount_implausible": "order or cancellation amount above --max-amount-factor times the median order",
    "duplicate_order_id": "duplicate order id (the first row was kept)",
    "conflicting_order_customer": "order id used by several customers",
    "duplicate_customer_id": "duplicate customer id (the first row was kept)",
}

#: Rows that are neither rejected nor orders: reported with their count and amount, and not counted
#: toward ``max_bad_share``.
SET_ASIDE_REASONS: dict[str, str] = {
    "guest_line": "line without a customer id (a guest purchase): left out of customer analytics",
    "cancellation_line": "cancellation line: netted against the customer's sales, not an order",
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
