"""Pass 2 of an import: from the staging folder, Ibis on an embedded DuckDB builds the star schema
(lines with the same order id become one order, repeated and conflicting order ids are resolved,
``dim_date``, ``dim_product`` and ``dim_customer`` are derived, ``fact_engagement`` is left empty) and
writes each table as Parquet with the contract's schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.cleaning import CUSTOMERS_STAGING_SCHEMA
from ingest.netting import check_cancellation_share, net_cancellations, put_aside_cancellations, report_netting
from ingest.options import ImportOptions, IngestError
from ingest.report import SAMPLES_PER_REASON, FileTally, ImportReport
from metrics.schema import TABLES
from metrics.selection import valid_order

UNKNOWN = "Unknown"
UNKNOWN_PRODUCT = "Unknown product"
ROWS_PER_PART = 2_000_000


# ----- pass 2: orders and dimensions with Ibis on DuckDB --------------------------------------------------


def _build(staging: Path, out: Path, options: ImportOptions, report: ImportReport, has_customers_file: bool) -> None:
    import ibis

    tally = report.orders_file
    con = ibis.duckdb.connect(str(staging / "build.duckdb"), temp_directory=str(staging / "_spill"))
    try:
        staged = con.read_parquet(str(staging / "lines-*.parquet"), table_name="lines")
        lines, cancels = staged.filter(~staged.cancellation), staged.filter(staged.cancellation)
        check_cancellation_share(con, staged, options)
        lines, cancels = _reject_implausible(con, lines, cancels, options, report)
        cancels = con.create_table("cancellation_lines", cancels)
        put_aside_cancellations(con, tally, cancels)

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
        if tally.set_aside["cancellation_line"]:
            orders, netted = net_cancellations(con.create_table("orders_before_netting", orders), lines, cancels)
            orders = con.create_table("orders", orders)
            report_netting(con, report, netted)
        else:  # nothing to net: spare the joins
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


def _reject_implausible(con, lines, cancels, options: ImportOptions, report: ImportReport):
    """Reject orders (all their lines) and cancellation lines above ``max_amount_factor`` x the median order."""
    totals = lines.group_by("order_id").aggregate(total=lines.net.sum())
    median = con.execute(totals.total.median())
    if median is None or pd.isna(median) or median <= 0:
        return lines, cancels
    bound = float(median) * options.max_amount_factor
    big = totals.filter(totals.total > bound).select("order_id")
    too_big = lines.semi_join(big, "order_id")
    tally = report.orders_file
    before = tally.rejected["amount_implausible"]
    _reject_rows(con, tally, "amount_implausible", too_big.union(cancels.filter(cancels.net > bound)))
    if tally.rejected["amount_implausible"] == before:
        return lines, cancels  # nothing above the bound: no anti-join over every line
    report.notes.append(
        f"Orders and cancellation lines above {options.max_amount_factor:,g} x the median order "
        f"({float(median):,.2f}), i.e. above {bound:,.2f}, were rejected (--max-amount-factor)."
    )
    return lines.anti_join(big, "order_id"), cancels.filter(cancels.net <= bound)


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
