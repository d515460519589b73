"""Customer-level views: one customer's profile, order history and monthly activity (the Customer page),
and a sample of customers' value vs loyalty (the Risk & revenue scatter).

Every number of a profile is the one the other pages use for that customer under the same filters:

- **attributes** come from dim_customer;
- **orders, revenue, first / last order, recency, AOV** come from the customer mart (valid orders in the
  range; AOV = revenue / orders; recency = days from the last valid order to the as-of date, the end of
  the range);
- **R, F, M scores and segment labels** come from the labelled mart (:func:`metrics.population.customer_mart`):
  quintiles *within the scope's customers*, so the same customer can score differently under another
  date range, Prime choice or countries (never under another segment focus);
- **churn risk / P(alive)** come from the BG/NBD model fitted on the range (:mod:`metrics.models.churn`), and
  **predicted CLV, expected purchases and the CLV class** from the CLV table (:mod:`metrics.models.clv`).

Customer ids are whole numbers from 1 to :data:`MAX_CUSTOMER_ID`. A profile never raises for a bad or
unknown id: its ``status`` says what was found.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio, safe_div
from metrics.grains import as_timestamps, period_starts
from metrics.measures.demographics import sample_key
from metrics.models.choice import fit_purchase_model
from metrics.models.churn import customer_churn
from metrics.models.clv import customer_clv
from metrics.models.inputs import fit_spend_model
from metrics.population import customer_mart, engagement_in_view, orders_in_view, people_in_view
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rules import check_scheme, segment_column
from metrics.selection import valid_order

#: Largest accepted customer id (12 digits): ids from a URL are checked against it before any query.
#: The largest integer a browser's JavaScript number holds exactly (ids travel through JSON to the grid);
#: ids of imported data reach 2**53 - 1 (see ingest.parsing.surrogate_ids).
MAX_CUSTOMER_ID = 2**53 - 1
_ID_TEXT = re.compile(r"^\s*\+?([0-9]{1,16})\s*$", re.ASCII)

#: ``status`` values of :func:`customer_profile`, from worst to best.
PROFILE_STATUSES = ("invalid", "not_found", "outside_filters", "no_orders", "ok")

ATTRIBUTE_KEYS = ("name", "gender", "age", "age_group", "country", "city", "signup_date", "is_prime",
                  "annual_income", "spending_score", "preferred_category", "acquisition_channel")
MART_KEYS = ("orders", "revenue", "aov", "first_order_date", "last_order_date", "first_order_ever", "is_new",
             "recency_days", "tenure_days", "order_days", "discount_share", "active_30d")
SCORE_KEYS = ("r_score", "f_score", "m_score", "fm_score", "rfm_cell")
SEGMENT_KEYS = tuple(segment_column(scheme) for scheme in SCHEME_LABELS)
CHURN_KEYS = ("p_alive", "churn_risk", "risk_band")
CLV_KEYS = ("expected_purchases_12m", "next_purchase_date", "expected_order_value", "predicted_clv",
            "predicted_clv_low", "predicted_clv_high", "last_12m_sales", "predicted_next_12m_sales", "clv_class")
PROFILE_KEYS = ("status", "message", "customer_id", *ATTRIBUTE_KEYS, *MART_KEYS, *SCORE_KEYS, *SEGMENT_KEYS,
                *CHURN_KEYS, "churn_message", *CLV_KEYS, "clv_message")


def parse_customer_id(value: object) -> int | None:
    """A customer id from user input (URL text, a number field): a whole number from 1 to
    :data:`MAX_CUSTOMER_ID`, else None. Accepts ``"42"``, ``42`` and ``42.0``; refuses ``"4.2"``,
    ``"-1"``, ``"0"``, ``"1e3"``, booleans and anything longer than 16 digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)) or not float(value).is_integer():
            return None
        number = int(value)
    elif isinstance(value, str):
        match = _ID_TEXT.match(value) if len(value) <= 40 else None
        if match is None:
            return None
        number = int(match.group(1))
    else:
        return None
    return number if 1 <= number <= MAX_CUSTOMER_ID else None


def _plain(value: Any) -> Any:
    """A value from a pandas row as plain Python: None for missing, date for dates, int/float/bool/str."""
    if value is None:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return None if pd.isna(value) else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _one_row(engine: Engine, expr: ir.Table) -> dict[str, Any] | None:
    frame = engine.execute(expr.limit(1))
    if frame.empty:
        return None
    return {key: _plain(value) for key, value in frame.iloc[0].items()}


def _id_literal(customer_id: int) -> ir.IntegerScalar:
    return ibis.literal(customer_id, type="int64")


@memoized
def customer_profile(engine: Engine, filters: Filters, customer_id: int) -> dict[str, Any]:
    """Everything the Customer page shows about one customer, as a dict with the keys of
    :data:`PROFILE_KEYS` (values are plain Python: str, int, float, bool, date, or None where a value does
    not apply).

    ``status`` says what was found: ``"invalid"`` (not a whole number from 1 to 999,999,999,999),
    ``"not_found"`` (no such customer in dim_customer), ``"outside_filters"`` (the Prime choice, countries
    or segment filter exclude them), ``"no_orders"`` (selected, but no valid order in the range: a
    prospect or a lapsed customer — attributes only) or ``"ok"``; ``message`` says it in words ("" for
    ok). Then:

    - the dim_customer attributes (name … acquisition_channel);
    - from the customer mart: ``orders``, ``revenue``, ``aov`` = revenue / orders, ``first_order_date``,
      ``last_order_date`` (in the range), ``first_order_ever``, ``is_new``, ``recency_days`` (as-of − last
      order), ``tenure_days``, ``order_days``, ``discount_share``, ``active_30d``;
    - ``r_score``, ``f_score``, ``m_score`` (1–5, quintiles among the selected customers), ``fm_score``,
      ``rfm_cell`` and every scheme's label ``segment_prime`` … ``segment_income_spending``;
    - ``p_alive``, ``churn_risk`` (= 1 − P(alive)), ``risk_band`` from the BG/NBD model fitted on the
      range (None without a model; ``churn_message`` says why);
    - ``expected_purchases_12m``, ``expected_order_value``, ``predicted_clv``, ``last_12m_sales``,
      ``predicted_next_12m_sales``, ``clv_class`` (None without a model; ``clv_message`` says why).
    """
    out: dict[str, Any] = dict.fromkeys(PROFILE_KEYS)
    cid = parse_customer_id(customer_id)
    out.update(status="invalid", message=f"Customer ids are whole numbers from 1 to {MAX_CUSTOMER_ID:,}.",
               churn_message="", clv_message="")
    if cid is None:
        return out
    out["customer_id"] = cid
    people = engine.customers
    selected = people_in_view(engine, filters).filter(lambda t: t.customer_id == _id_literal(cid))
    person = people.filter(people.customer_id == _id_literal(cid))
    person = person.select(*ATTRIBUTE_KEYS, in_selection=person.customer_id.isin(selected.customer_id))
    attributes = _one_row(engine, person)
    if attributes is None:
        out.update(status="not_found", message=f"There is no customer {cid} in the data.")
        return out
    in_selection = bool(attributes.pop("in_selection"))
    out.update(attributes)
    if not in_selection:
        out.update(status="outside_filters",
                   message=f"Customer {cid} is outside the selected filters (Prime choice, countries or segment).")
        return out

    mart = customer_mart(engine, filters)
    mart = mart.filter(mart.customer_id == _id_literal(cid))
    mine = orders_in_view(engine, filters)
    mine = mine.filter(mine.customer_id == _id_literal(cid))
    days = mine.aggregate(order_days=mine.order_date.nunique())  # not stored in the mart: one customer's
    row = _one_row(engine, mart.cross_join(days).select(
        *[key for key in MART_KEYS if key != "aov"], *SCORE_KEYS, *SEGMENT_KEYS))
    if row is None:
        out.update(status="no_orders",
                   message=f"Customer {cid} has no valid order between {filters.start} and {filters.end}.")
        return out
    out.update(row, status="ok", message="", aov=safe_div(row["revenue"], row["orders"]))

    fit = fit_purchase_model(engine, filters)
    out["churn_message"] = fit.message
    out["clv_message"] = fit.message if not fit.ok else fit_spend_model(engine, filters).message
    churn = customer_churn(engine, filters)
    churn = churn.filter(churn.customer_id == _id_literal(cid))
    clv = customer_clv(engine, filters)
    clv = clv.filter(clv.customer_id == _id_literal(cid)).select("customer_id", *CLV_KEYS)
    model = churn.left_join(clv, "customer_id").select(*CHURN_KEYS, *CLV_KEYS)
    scores = _one_row(engine, model)
    if scores is not None:
        out.update(scores)
    return out


ORDER_COLUMNS = {"customer_id": "int64", "order_id": "int64", "order_ts": "datetime64[ns]", "product_id": "int64",
                 "product_name": "str", "category": "str", "quantity": "int64", "unit_price": "float64",
                 "gross_amount": "float64", "discount_amount": "float64", "net_revenue": "float64",
                 "payment_method": "str", "channel": "str", "promo_used": "bool", "is_returned": "bool",
                 "is_cancelled": "bool", "is_valid": "bool"}


@memoized
def customer_orders(engine: Engine, filters: Filters, customer_id: int | None) -> pd.DataFrame:
    """One customer's orders in the range, returned and same-day-cancelled ones included and flagged:
    ``customer_id``, ``order_id``, ``order_ts``, ``product_id``, ``product_name`` and ``category`` (dim_product),
    ``quantity``, ``unit_price``, ``gross_amount``, ``discount_amount``, ``net_revenue``,
    ``payment_method``, ``channel``, ``promo_used``, ``is_returned``, ``is_cancelled`` and ``is_valid``
    (neither returned nor cancelled: the orders that count as sales). Sorted by time, then order_id.
    Empty (same columns) for an invalid or unknown id or a customer outside the filters."""
    cid = parse_customer_id(customer_id)
    if cid is None:
        return empty_frame(ORDER_COLUMNS)
    orders = orders_in_view(engine, filters, valid_only=False)
    mine = orders.filter(orders.customer_id == _id_literal(cid))
    products = engine.products.select("product_id", "product_name", "category")
    joined = mine.left_join(products, "product_id")
    joined = joined.mutate(is_valid=valid_order(joined))
    frame = engine.execute(joined.select(*ORDER_COLUMNS).order_by(["order_ts", "order_id"]))
    if frame.empty:
        return empty_frame(ORDER_COLUMNS)
    frame["order_ts"] = pd.to_datetime(frame["order_ts"]).astype("datetime64[ns]")
    return frame.astype(ORDER_COLUMNS).reset_index(drop=True)


ENGAGEMENT_COLUMNS = {"month": "datetime64[ns]", "orders": "int64", "revenue": "float64", "web_visits": "int64",
                      "emails_sent": "int64", "emails_opened": "int64", "open_rate": "float64",
                      "cart_adds": "int64", "cart_abandons": "int64"}


@memoized
def customer_engagement(engine: Engine, filters: Filters, customer_id: int | None) -> pd.DataFrame:
    """One customer's month-by-month activity over every month the range touches: ``month`` (first day),
    ``orders`` and ``revenue`` (valid orders placed in the range that month), ``web_visits``,
    ``emails_sent``, ``emails_opened``, ``open_rate`` = opened / sent (0 without emails), ``cart_adds``
    and ``cart_abandons`` (fact_engagement, whole months). Zeros for quiet months; empty (same columns)
    when the customer has neither an order nor an engagement row in the range, or the id is invalid."""
    cid = parse_customer_id(customer_id)
    if cid is None:
        return empty_frame(ENGAGEMENT_COLUMNS)
    e = engagement_in_view(engine, filters)
    e = e.filter(e.customer_id == _id_literal(cid))
    activity = engine.execute(e.select("month", "web_visits", "emails_sent", "emails_opened", "cart_adds",
                                       "cart_abandons"))
    orders = orders_in_view(engine, filters)
    orders = orders.filter(orders.customer_id == _id_literal(cid))
    monthly = engine.execute(orders.group_by(month=orders.order_date.truncate("M")).aggregate(
        orders=orders.count(), revenue=orders.net_revenue.sum()))
    if activity.empty and monthly.empty:
        return empty_frame(ENGAGEMENT_COLUMNS)
    out = pd.DataFrame({"month": as_timestamps(period_starts(filters.start, filters.end, "month"))})
    for frame in (monthly, activity):
        frame = frame.copy()
        frame["month"] = as_timestamps(frame["month"]).to_numpy()
        out = out.merge(frame, on="month", how="left")
    counts = [c for c, dtype in ENGAGEMENT_COLUMNS.items() if dtype == "int64"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["open_rate"] = ratio(out.emails_opened, out.emails_sent)
    return out[list(ENGAGEMENT_COLUMNS)]


POINT_COLUMNS = {"customer_id": "int64", "orders": "int64", "revenue": "float64", "churn_risk": "float64",
                 "segment": "str"}


@memoized
def value_loyalty_points(engine: Engine, filters: Filters, scheme: str = "loyalty", sample: int = 5000,
                         seed: int = 0) -> pd.DataFrame:
    """One point per customer for the value-vs-loyalty scatter: ``customer_id``, ``orders`` (valid orders
    in the range: loyalty), ``revenue`` (their net revenue: value), ``churn_risk`` (1 − P(alive) from the
    range's BG/NBD model; NaN when no model could be fitted) and ``segment`` (the customer's label in
    ``scheme``, assigned on the scope's customers).

    With more than ``sample`` customers, a deterministic sample of ``sample`` of them is drawn in the
    engine, as in :func:`metrics.measures.demographics.income_spending_points`: customers ordered by the hash
    :func:`metrics.measures.demographics.sample_key` of (customer_id, seed), the first ones kept — the same filters
    and seed always give the same points, and no full customer list is pulled. Rows sorted by customer_id.
    """
    check_scheme(scheme)
    mart = customer_mart(engine, filters)
    points = mart.select("customer_id", "orders", "revenue", segment=mart[segment_column(scheme)])
    key = sample_key(points.customer_id, seed)
    chosen = points.order_by([key, points.customer_id]).limit(max(int(sample), 0))
    churn = customer_churn(engine, filters).select("customer_id", risk=lambda t: t.churn_risk)
    joined = chosen.left_join(churn, "customer_id")
    frame = engine.execute(joined.select("customer_id", "orders", "revenue", churn_risk=joined.risk,
                                         segment=joined.segment))
    if frame.empty:
        return empty_frame(POINT_COLUMNS)
    frame["churn_risk"] = pd.to_numeric(frame["churn_risk"], errors="coerce")
    return frame.astype(POINT_COLUMNS).sort_values("customer_id").reset_index(drop=True)


__all__ = ["MAX_CUSTOMER_ID", "PROFILE_KEYS", "PROFILE_STATUSES", "customer_engagement", "customer_orders",
           "customer_profile", "parse_customer_id", "value_loyalty_points"]


SEARCH_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "orders": "int64", "revenue": "float64"}


def customer_search(engine: Engine, filters: Filters, text: str = "", limit: int | None = 50) -> pd.DataFrame:
    """Customers of the scope who bought in the range, to open one on the Customer page: those whose id
    starts with ``text`` or whose name contains it (case-insensitive; every customer when ``text`` is
    empty), with the most revenue in the range first (ties by customer_id), at most ``limit`` rows (None:
    all).
    Columns ``customer_id``, ``name``, ``country``, ``orders``, ``revenue``; ``attrs["total_rows"]`` is
    how many match."""
    from metrics.mart import scope_mart, with_attributes

    mart = scope_mart(engine, filters.scope)
    t = with_attributes(engine, mart.select("customer_id", "country", "orders", "revenue"), "name")
    words = " ".join(str(text or "").split())[:80]
    if words:
        needle = ibis.literal(words.lower())
        t = t.filter(t.customer_id.cast("string").startswith(needle) | t.name.lower().contains(needle))
    order = [ibis.desc("revenue"), "customer_id"]
    shown = t.order_by(order).limit(None if limit is None else max(int(limit), 0))
    frame = engine.execute(shown.select(*SEARCH_COLUMNS))
    frame = frame.astype(SEARCH_COLUMNS) if not frame.empty else empty_frame(SEARCH_COLUMNS)
    capped = limit is not None and len(frame) >= int(limit)
    frame.attrs["total_rows"] = int(engine.execute(t.count())) if capped else len(frame)
    return frame.reset_index(drop=True)
