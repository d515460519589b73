"""Import throughput (rows/s) of ``custintel import`` on a 1 M-row transactions file. Not part of the test suite.

    python benchmarks/import_benchmark.py                     # 1 M rows, CSV and Parquet input
    python benchmarks/import_benchmark.py --rows 200000 --formats csv

The input is made from a generated data set (``--source``, generated when missing): one row per order with
the columns a shop export typically has (text customer ids such as ``C0001234``, ISO timestamps, amounts,
discount, product and category, country, Prime flag, returned / cancelled flags, channel, payment method),
plus a customer file. The benchmark times each phase of :func:`ingest.import_data` (parse and
check rows, build the tables, validate the contract) and writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from common import machine_info, write_result  # noqa: E402


def ensure_source(folder: Path, orders: int) -> None:
    from metrics.schema import TABLES

    if all((folder / name).is_dir() for name in TABLES):
        return
    from generate_data import generate

    generate(folder, orders=orders, seed=42, progress=True)


def text_ids(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """12 -> "C0000012": customer ids as shops often export them (text, so the importer hashes them)."""
    return pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(ids, pa.string()), 7, "0"), "")


def make_inputs(source: Path, rows: int, work: Path) -> dict[str, Path]:
    """A transactions CSV and Parquet file with ``rows`` rows, and a customer CSV."""
    orders = pq.read_table(source / "fact_orders").slice(0, rows)
    if orders.num_rows < rows:
        raise SystemExit(f"{source} has only {orders.num_rows:,} orders; use --source with more")
    products = pq.read_table(source / "dim_product", columns=["product_id", "product_name", "category"])
    people = pq.read_table(source / "dim_customer")
    flat = orders.join(products, "product_id").join(
        people.select(["customer_id", "country", "is_prime"]), "customer_id")
    customer_text = text_ids(flat["customer_id"])
    table = pa.table({
        "order_id": flat["order_id"],
        "customer": customer_text,
        "order_date": pc.strftime(flat["order_ts"], format="%Y-%m-%dT%H:%M:%S"),
        "total": flat["net_revenue"],
        "discount": flat["discount_amount"],
        "qty": flat["quantity"],
        "sku": flat["product_id"],
        "product_name": flat["product_name"],
        "category": flat["category"],
        "country": flat["country"],
        "prime": flat["is_prime"],
        "returned": flat["is_returned"],
        "cancelled": flat["is_cancelled"],
        "channel": flat["channel"],
        "payment_method": flat["payment_method"],
    })
    paths = {"csv": work / "orders.csv", "parquet": work / "orders.parquet", "customers": work / "customers.csv"}
    pacsv.write_csv(table, paths["csv"])
    pq.write_table(table, paths["parquet"])
    person_text = text_ids(people["customer_id"])
    pacsv.write_csv(people.drop(["customer_id"]).add_column(0, "customer_id", person_text), paths["customers"])
    return paths


def timed_import(orders: Path, customers: Path | None, out: Path) -> dict[str, float]:
    """Run one import, timing its phases by wrapping the phase functions :func:`ingest.import_data` calls."""
    import ingest
    from ingest import job

    phases: dict[str, float] = {}
    originals = {name: getattr(job, name) for name in ("_stage", "_build", "_check_contract")}

    def wrap(name):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started
        return timed

    for name in originals:
        setattr(job, name, wrap(name))
    try:
        started = time.perf_counter()
        report = ingest.import_data(orders, out, customers_path=customers,
                                    options=ingest.ImportOptions(progress=False))
        total = time.perf_counter() - started
    finally:
        for name, fn in originals.items():
            setattr(job, name, fn)
    return {"total_s": total, "parse_and_check_s": phases.get("_stage", 0.0), "build_s": phases.get("_build", 0.0),
            "contract_check_s": phases.get("_check_contract", 0.0), "rows_read": report.orders_file.rows_read,
            "rejected": report.orders_file.rows_rejected, "orders_written": report.tables["fact_orders"],
            "customers_written": report.tables["dim_customer"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--source", default=str(ROOT / "benchmarks" / "data-1m"), help="generated data to export")
    parser.add_argument("--formats", default="csv,parquet", help="input formats to time")
    parser.add_argument("--with-customers", action="store_true", help="also import the customer file")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    source = Path(args.source)
    ensure_source(source, max(args.rows, 1_000_000))
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    results = []
    try:
        started = time.perf_counter()
        inputs = make_inputs(source, args.rows, work)
        prepare = time.perf_counter() - started
        sizes = {k: p.stat().st_size for k, p in inputs.items()}
        for fmt in args.formats.split(","):
            for run in range(args.runs):
                timing = timed_import(inputs[fmt], inputs["customers"] if args.with_customers else None,
                                      work / f"data-{fmt}-{run}")
                timing.update(format=fmt, run=run, rows_per_s=round(timing["rows_read"] / timing["total_s"]))
                results.append(timing)
                print(f"{fmt:8s} run {run}: {timing['rows_read']:,} rows in {timing['total_s']:.1f} s = "
                      f"{timing['rows_per_s']:,} rows/s (parse+check {timing['parse_and_check_s']:.1f} s, "
                      f"build {timing['build_s']:.1f} s, contract {timing['contract_check_s']:.1f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {"rows": args.rows, "input_bytes": sizes, "prepare_inputs_s": round(prepare, 2),
               "with_customers": args.with_customers, "results": results,
               "machine": machine_info()}
    out = write_result("import", summary, args.out)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
