"""Email and web engagement by month and segment, and the prospects who browse without buying.

Definitions used throughout:

- **engagement rows**: ``fact_engagement`` rows (customer × month) of the selected customers for every
  month the date range touches (a range ending mid-month includes that month's whole row; the table has
  no finer grain).
- **active engagement**: a month in which the customer visited the web site, opened an email or added
  something to a cart (``web_visits + emails_opened + cart_adds > 0``). Emails *sent* are our action, not
  the customer's, so they do not count.
- **buyer**: a selected customer with at least one valid order ever up to the as-of date (history before
  the range counts). **prospect**: a selected customer with none.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import memoized
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.frames import empty_frame, ratio
from metrics.grains import as_timestamps, month_from_index, month_index, period_starts
from metrics.population import customer_segments, engagement_in_view, people_in_view, shown_labels
from metrics.segments.rules import check_scheme
from metrics.selection import buyer_ids, scope_engagement

#: Segment given to customers with engagement rows but no valid order in the range (they are not in the
#: customer mart, so no scheme labels them): prospects and lapsed buyers.
NO_ORDERS_LABEL = "No orders in range"

#: The recent cart abandoners are those of the last this many calendar months of the range.
RECENT_MONTHS = 3

ENGAGEMENT_MEASURES = ("emails_sent", "emails_opened", "web_visits", "cart_adds", "cart_abandons")


def is_active_engagement(e: ir.Table) -> ir.BooleanValue:
    """A month with a web visit, an opened email or a cart add."""
    return (e.web_visits + e.emails_opened + e.cart_adds) > 0


def prospects(engine: Engine, filters: Filters) -> ir.Table:
    """dim_customer rows of the selected customers with no valid order ever up to the as-of date."""
    return people_in_view(engine, filters).anti_join(buyer_ids(engine, filters), "customer_id")


def engaged_prospects(engine: Engine, filters: Filters) -> ir.Table:
    """``customer_id`` of the prospects with active engagement in a month the range touches."""
    e = engagement_in_view(engine, filters)
    active = e.filter(is_active_engagement(e)).select("customer_id").distinct()
    return active.semi_join(prospects(engine, filters).select("customer_id"), "customer_id")


def _months(filters: Filters) -> pd.DataFrame:
    return pd.DataFrame({"month": as_timestamps(period_starts(filters.start, filters.end, "month"))})


@memoized
def engagement_by_segment(engine: Engine, filters: Filters, scheme: str = "loyalty") -> pd.DataFrame:
    """Per month the range touches and per segment of ``scheme``: ``customers`` (customers with an
    engagement row that month), ``emails_sent``, ``emails_opened``, ``open_rate`` = opened / sent,
    ``web_visits``, ``visits_per_customer`` = web visits / customers, ``cart_adds``, ``cart_abandons``.

    A customer's segment is the one of the whole selected range. Customers with engagement but no valid
    order in the range have no segment and are grouped as ``"No orders in range"`` (the last label).
    Every month × label is present, zeros where nobody engaged; ratios are 0 when their denominator is 0.
    """
    check_scheme(scheme)
    e = engagement_in_view(engine, filters)
    labels = customer_segments(engine, filters, scheme)
    joined = e.left_join(labels, e.customer_id == labels.customer_id).select(
        e.month,
        e.customer_id,
        *[e[m] for m in ENGAGEMENT_MEASURES],
        segment=labels.segment.fill_null(ibis.literal(NO_ORDERS_LABEL)),
    )
    # One engagement row per customer and month (the table's primary key, checked by the data contract),
    # so counting rows counts distinct customers, without the costly distinct (a third of the query).
    grouped = joined.group_by("month", "segment").aggregate(
        customers=joined.count(), **{m: joined[m].sum() for m in ENGAGEMENT_MEASURES}
    )
    frame = engine.execute(grouped)
    frame["month"] = as_timestamps(frame["month"]).to_numpy()
    no_orders = () if filters.focus is not None else (NO_ORDERS_LABEL,)  # a focus holds only labelled buyers
    segments = pd.DataFrame({"segment": pd.Series([*shown_labels(filters, scheme), *no_orders], dtype="str")})
    out = _months(filters).merge(segments, how="cross").merge(frame, on=["month", "segment"], how="left")
    counts = ["customers", *ENGAGEMENT_MEASURES]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["open_rate"] = ratio(out.emails_opened, out.emails_sent)
    out["visits_per_customer"] = ratio(out.web_visits, out.customers)
    return out[
        [
            "month",
            "segment",
            "customers",
            "emails_sent",
            "emails_opened",
            "open_rate",
            "web_visits",
            "visits_per_customer",
            "cart_adds",
            "cart_abandons",
        ]
    ]


@memoized
def _customer_engagement(engine: Engine, filters: Filters) -> ir.Table:
    """Per selected customer with engagement rows in the range: totals and the last active month
    (materialised once per state: the prospects summary and the cart-abandoner list both read it)."""
    e = engagement_in_view(engine, filters)
    return e.group_by("customer_id").aggregate(
        cart_abandons=e.cart_abandons.sum(),
        web_visits=e.web_visits.sum(),
        active_months=is_active_engagement(e).cast("int64").sum(),
        last_active_month=e.month.max(where=is_active_engagement(e)),
    )


@memoized
def prospects_summary(engine: Engine, filters: Filters) -> pd.DataFrame:
    """Prospects versus buyers among the selected customers. Rows ``group`` = "Prospects" (no valid order
    ever up to the as-of date) and "Buyers" (at least one valid order ever up to the as-of date).

    A prospect counts when they signed up by the as-of date or have engagement rows in the range
    (engagement is monthly, so a range ending on the 2nd includes the month's row of someone who signed up
    on the 4th; they are then counted, as they are in :func:`cart_abandoners`).

    Columns ``people``, ``engaged`` (active engagement in the range), ``with_cart_abandon`` (≥ 1 cart
    abandon in the range), ``cart_abandons``, ``web_visits`` (sums over the range) and ``abandon_share`` =
    with_cart_abandon / people. Both rows always present."""
    buyers = buyer_ids(engine, filters)
    persons = people_in_view(engine, filters)
    persons = persons.mutate(is_buyer=persons.customer_id.isin(buyers.customer_id))
    per_customer = _customer_engagement(engine, filters)
    joined = persons.left_join(per_customer, persons.customer_id == per_customer.customer_id).select(
        persons.is_buyer,
        counted=persons.is_buyer | (persons.signup_date <= ibis.literal(filters.as_of))
        | per_customer.customer_id.notnull(),
        cart_abandons=per_customer.cart_abandons.fill_null(0),
        web_visits=per_customer.web_visits.fill_null(0),
        engaged=per_customer.active_months.fill_null(0) > 0,
    )
    joined = joined.filter(joined.counted)
    grouped = joined.group_by("is_buyer").aggregate(
        people=joined.count(),
        engaged=joined.engaged.cast("int64").sum(),
        with_cart_abandon=(joined.cart_abandons > 0).cast("int64").sum(),
        cart_abandons=joined.cart_abandons.sum(),
        web_visits=joined.web_visits.sum(),
    )
    frame = engine.execute(grouped)
    frame["group"] = frame["is_buyer"].map({True: "Buyers", False: "Prospects"})
    out = pd.DataFrame({"group": ["Prospects", "Buyers"]}).merge(frame, on="group", how="left")
    counts = ["people", "engaged", "with_cart_abandon", "cart_abandons", "web_visits"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["abandon_share"] = ratio(out.with_cart_abandon, out.people)
    return out[["group", *counts, "abandon_share"]]


@memoized
def cart_abandoners(engine: Engine, filters: Filters, limit: int | None = 100) -> pd.DataFrame:
    """The prospects (no valid order ever up to the as-of date) with the most cart abandons in the range:
    an audience list for a win-over campaign. Columns ``customer_id``, ``name``, ``country``,
    ``cart_abandons``, ``web_visits``, ``last_active_month`` (last month of the range with active
    engagement, empty if none). Only prospects with ≥ 1 abandon; ordered by abandons, then web visits
    (both descending), then customer_id; at most ``limit`` rows (None: all). ``attrs["total_rows"]`` is how
    many prospects qualify."""
    columns = {
        "customer_id": "int64",
        "name": "str",
        "country": "str",
        "cart_abandons": "int64",
        "web_visits": "int64",
        "last_active_month": "datetime64[ns]",
    }
    per_customer = _customer_engagement(engine, filters)
    prospect_rows = prospects(engine, filters)
    joined = per_customer.filter(per_customer.cart_abandons > 0).inner_join(
        prospect_rows.select("customer_id", "name", "country"), "customer_id"
    )
    ranked = joined.order_by([ibis.desc("cart_abandons"), ibis.desc("web_visits"), "customer_id"])
    frame = engine.execute(ranked.select(*columns).limit(None if limit is None else max(int(limit), 0)))
    total = len(frame) if limit is None or len(frame) < int(limit) else int(engine.execute(joined.count()))
    if frame.empty:
        frame = empty_frame(columns)
    else:
        frame["last_active_month"] = pd.to_datetime(frame["last_active_month"]).astype("datetime64[ns]")
        frame = frame.astype({"customer_id": "int64", "cart_abandons": "int64", "web_visits": "int64"})
    frame.attrs["total_rows"] = total
    return frame


def recent_months_start(filters: Filters, months: int = RECENT_MONTHS) -> date:
    """The first day of the first of the ``months`` calendar months ending with the range's last month (the
    as-of month); it may lie before the range start."""
    return month_from_index(month_index(filters.end) - months + 1)


RECENT_ABANDONER_COLUMNS = {"customer_id": "int64", "name": "str", "country": "str", "status": "str",
                            "cart_abandons": "int64", "cart_adds": "int64", "web_visits": "int64",
                            "last_abandon_month": "datetime64[ns]"}


@memoized
def recent_cart_abandoners(engine: Engine, filters: Filters, limit: int | None = 100,
                           months: int = RECENT_MONTHS) -> pd.DataFrame:
    """Everyone in view — buyers and prospects, or the focus's customers — who abandoned a cart in the last
    ``months`` calendar months of the range (from :func:`recent_months_start`: the three months ending with the
    as-of month, whose whole engagement row counts since the table is monthly): an audience for a
    cart-recovery campaign. Columns ``customer_id``, ``name``, ``country``, ``status`` ("Buyer": a valid
    order on or before the as-of date, else "Prospect"), ``cart_abandons``, ``cart_adds`` and
    ``web_visits`` (sums over those months) and ``last_abandon_month``. Only people with ≥ 1 abandon;
    ordered by abandons, then web visits (both descending), then customer_id; at most ``limit`` rows
    (None: all); ``attrs["total_rows"]`` is how many qualify."""
    window = Filters(recent_months_start(filters, months), filters.end, filters.prime, filters.countries)
    e = scope_engagement(engine, window)
    e = e.semi_join(people_in_view(engine, filters).select("customer_id"), "customer_id")
    per = e.group_by("customer_id").aggregate(
        cart_abandons=e.cart_abandons.sum(), cart_adds=e.cart_adds.sum(), web_visits=e.web_visits.sum(),
        last_abandon_month=e.month.max(where=e.cart_abandons > 0))
    per = per.filter(per.cart_abandons > 0)
    people = people_in_view(engine, filters).select("customer_id", "name", "country")
    joined = per.inner_join(people, "customer_id")
    joined = joined.mutate(status=ibis.ifelse(joined.customer_id.isin(buyer_ids(engine, filters).customer_id),
                                              "Buyer", "Prospect"))
    ranked = joined.order_by([ibis.desc("cart_abandons"), ibis.desc("web_visits"), "customer_id"])
    shown = ranked.select(*RECENT_ABANDONER_COLUMNS).limit(None if limit is None else max(int(limit), 0))
    frame = engine.execute(shown)
    total = len(frame) if limit is None or len(frame) < int(limit) else int(engine.execute(joined.count()))
    if frame.empty:
        frame = empty_frame(RECENT_ABANDONER_COLUMNS)
    else:
        frame["last_abandon_month"] = pd.to_datetime(frame["last_abandon_month"]).astype("datetime64[ns]")
        frame = frame.astype(RECENT_ABANDONER_COLUMNS).reset_index(drop=True)
    frame.attrs["total_rows"] = total
    return frame
