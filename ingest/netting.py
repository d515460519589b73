"""Cancellation lines netted against the customer's sales (pass 2, Ibis on DuckDB).

A cancellation invoice (``C536379`` with negative quantities) is not an order: its amount comes off the
sales it reverses, so the data contract needs no new column. Where the amount goes:

1. to the customer's latest valid order at or before the cancellation that holds the same product
   (the sale it most likely reverses), at most that order's net revenue;
2. what is left (no such order, or more cancelled than that order's revenue) comes off the customer's
   other valid orders, newest first, each down to zero;
3. what is still left (the customer's cancellations exceed all their sales in the file) is not netted
   and is reported.

A netted order keeps its row: ``gross_amount`` and ``net_revenue`` fall by the netted amount (the
discount stays, so ``net = gross - discount`` holds), ``quantity`` falls by the units cancelled in step 1
(at least 1) and ``unit_price`` is recomputed. An order netted to zero keeps its original amounts and is
flagged as the contract flags a reversed order: ``is_cancelled`` when cancelled on its own day, else
``is_returned``; sales exclude it either way. So sales over the full range are the kept lines minus the
netted cancellation lines, and the order count does not include cancellations.
"""

from __future__ import annotations

from typing import Any

from ingest.options import ImportOptions, IngestError
from ingest.report import SAMPLES_PER_REASON, FileTally, ImportReport
from metrics.selection import valid_order

#: An order with less than this left after netting counts as fully reversed.
REVERSED_BELOW = 0.005


def net_cancellations(orders: Any, lines: Any, cancels: Any) -> tuple[Any, Any]:
    """``orders`` (contract columns) with ``cancels`` netted in, and a one-row summary expression
    (``netted``: the amount netted, ``reversed_orders``: orders netted to zero)."""
    import ibis

    source = orders.view()  # a distinct lineage: the netting is joined back onto ``orders`` below
    valid = source.filter(valid_order(source)).select("order_id", "customer_id", "order_ts", "net_revenue")
    sales = (
        lines.semi_join(valid, "order_id")
        .select(sale_order="order_id", sale_customer="customer_id", sale_product="product_id", sale_ts="order_ts")
        .distinct()
    )
    pairs = cancels.join(
        sales,
        [
            cancels.customer_id == sales.sale_customer,
            cancels.product_id == sales.sale_product,
            sales.sale_ts <= cancels.order_ts,
        ],
    )
    pairs = pairs.mutate(
        rn=ibis.row_number().over(group_by="row", order_by=[ibis.desc("sale_ts"), ibis.desc("sale_order")])
    )
    targets = pairs.filter(pairs.rn == 0).select(target_row="row", target="sale_order")
    cancels = cancels.left_join(targets, cancels.row == targets.target_row).select(cancels, "target")

    # step 1: the sale of the same product
    step1 = (
        cancels.filter(cancels.target.notnull())
        .group_by("target")
        .aggregate(amount1=cancels.net.sum(), units1=cancels.quantity.sum(), first_cancel=cancels.order_ts.min())
    )
    t = valid.left_join(step1, valid.order_id == step1.target).select(valid, "amount1", "units1", "first_cancel")
    netted1 = ibis.least(t.amount1.fill_null(0.0), t.net_revenue)
    t = t.mutate(netted1=netted1, overflow=t.amount1.fill_null(0.0) - netted1, remaining=t.net_revenue - netted1)

    # step 2: what is left, per customer, off the newest orders first
    unmatched = (
        cancels.filter(cancels.target.isnull())
        .group_by(unmatched_customer="customer_id")
        .aggregate(unmatched=cancels.net.sum())
    )
    overflow = t.group_by("customer_id").aggregate(overflow_sum=t.overflow.sum())
    pools = overflow.left_join(unmatched, overflow.customer_id == unmatched.unmatched_customer).select(
        pool_customer=overflow.customer_id, pool=overflow.overflow_sum + unmatched.unmatched.fill_null(0.0)
    )
    t = t.left_join(pools, t.customer_id == pools.pool_customer).select(t, "pool")
    newest_first = ibis.cumulative_window(
        group_by="customer_id", order_by=[ibis.desc("order_ts"), ibis.desc("order_id")]
    )
    before = t.remaining.sum().over(newest_first) - t.remaining
    extra = ibis.least(t.remaining, ibis.greatest(t.pool.fill_null(0.0) - before, 0.0))
    netting = t.select("units1", "first_cancel", netted_order="order_id", netted=t.netted1 + extra)

    o = orders.left_join(netting, orders.order_id == netting.netted_order).select(
        orders, "units1", "first_cancel", "netted"
    )
    netted = o.netted.fill_null(0.0)
    reversed_ = (netted > 0) & (o.net_revenue - netted < REVERSED_BELOW)
    same_day = o.first_cancel.notnull() & (o.first_cancel.date() == o.order_ts.date())
    partly = (netted > 0) & ~reversed_
    quantity = partly.ifelse(ibis.greatest(o.quantity - o.units1.fill_null(0), 1), o.quantity).cast("int32")
    gross = partly.ifelse(o.gross_amount - netted, o.gross_amount)
    out = o.select(
        order_id=o.order_id,
        customer_id=o.customer_id,
        product_id=o.product_id,
        date_key=o.date_key,
        order_ts=o.order_ts,
        quantity=quantity,
        unit_price=partly.ifelse(gross / quantity, o.unit_price),
        gross_amount=gross,
        discount_amount=o.discount_amount,
        net_revenue=partly.ifelse(o.net_revenue - netted, o.net_revenue),
        payment_method=o.payment_method,
        channel=o.channel,
        promo_used=o.promo_used,
        is_returned=o.is_returned | (reversed_ & ~same_day),
        is_cancelled=o.is_cancelled | (reversed_ & same_day),
    )
    summary = o.aggregate(netted=netted.sum(), reversed_orders=reversed_.cast("int64").sum())
    return out, summary


def check_cancellation_share(con: Any, staged: Any, options: ImportOptions) -> None:
    """Order ids that all start with the cancellation prefix are the file's normal ids, not cancellations."""
    if options.cancellations != "prefix":
        return
    counts = con.execute(staged.aggregate(n=staged.count(), c=staged.cancellation.cast("int64").sum()))
    n, c = int(counts.n.iloc[0]), int(counts.c.fillna(0).iloc[0])
    if n and c > n / 2:
        raise IngestError(
            f"{c:,} of {n:,} lines have an order id starting with {options.cancel_prefix!r} and a digit, read as "
            "cancellation invoices; if that prefix is part of your normal order ids, import with "
            "--cancellations none (or name another --cancel-prefix)"
        )


def put_aside_cancellations(con: Any, tally: FileTally, cancels: Any) -> None:
    """Count the cancellation lines as set aside (with their amount and a few samples)."""
    stats = con.execute(cancels.aggregate(n=cancels.count(), amount=cancels.net.sum()))
    count = int(stats.n.iloc[0])
    if count:
        sample = con.execute(
            cancels.order_by("row").select("row", "order_key", "customer_key", "net").limit(SAMPLES_PER_REASON)
        )
        tally.put_aside(
            "cancellation_line",
            count,
            float(stats.amount.iloc[0]),
            [
                {"row": int(r["row"]), "order_id": r["order_key"], "customer_id": r["customer_key"],
                 "amount": round(float(r["net"]), 2)}
                for r in sample.to_dict("records")
            ],
        )


def report_netting(con: Any, report: ImportReport, summary: Any) -> None:
    """``report.cancellations`` and the notes from the summary of :func:`net_cancellations`."""
    total = report.orders_file.set_aside_amount["cancellation_line"]
    if not total:
        return
    row = con.execute(summary)
    done = float(row.netted.fillna(0).iloc[0])
    report.cancellations = {
        "lines": report.orders_file.set_aside["cancellation_line"],
        "amount": round(total, 2),
        "netted": round(done, 2),
        "not_netted": round(max(total - done, 0.0), 2),
        "orders_fully_reversed": int(row.reversed_orders.fillna(0).iloc[0]),
    }
    report.notes.append(
        f"{report.cancellations['lines']:,} cancellation lines ({total:,.2f}): {done:,.2f} netted against the "
        f"customers' sales, {report.cancellations['orders_fully_reversed']:,} orders reversed in full."
    )
    if total - done > 0.005:
        report.notes.append(
            f"{total - done:,.2f} of cancellations exceeded their customer's sales in the file and were not "
            "netted (the sales they reverse are not in the file)."
        )
