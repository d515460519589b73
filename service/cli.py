"""``custintel``: one command line for the project.

Subcommands (each has ``--help``)::

    custintel generate  [--orders N] [--data-dir DIR] ...     synthetic data (generate_data.py)
    custintel import    ORDERS.csv [--customers FILE] ...     your own transactions (ingest)
    custintel validate  [--data-dir DIR]                      check a data folder against the contract
    custintel export    TABLE [filters] [-o out.csv]          any metric table for a filter state
    custintel export    --list                                the tables export knows
    custintel serve     [--gunicorn --workers N --threads N]  run the dashboard
    custintel warm      [--period KEY ...] [--prime CHOICE ...]  precompute the common views

Exit codes: 0 success, 1 failure (invalid data, failed import, unknown table), 2 usage error (bad or
missing arguments), 3 import refused because too many rows were rejected. Errors go to stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from metrics.export import EXPORTS
from metrics.filters import MODEL_CHOICES
from metrics.settings import BACKENDS, PROJECT_ROOT, load_settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
PROG = "custintel"


class CliError(Exception):
    """A failure to report on stderr with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code


def _as_frame(value: Any) -> pd.DataFrame:
    """Metric results as a table: frames as they are, a dict or scalar as one row, a series as columns."""
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame().reset_index()
    if isinstance(value, dict):
        return pd.DataFrame([value])
    return pd.DataFrame({"value": [value]})


# ----- argument parsing --------------------------------------------------------------------------------


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (expected YYYY-MM-DD): {text!r}") from exc


def _share_arg(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a share: {text!r} (use 0.05 or 5%)") from exc
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share must be between 0 and 1 (or 0% and 100%), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port_arg(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port must be at most 65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Customer Intelligence: generate or import data, validate, export, serve.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage error, 3 import refused (too many bad rows).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def data_dir_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data folder (default: $CUSTINTEL_DATA_DIR or ./data)")

    g = sub.add_parser("generate", help="write a synthetic data set", description=(
        "Write a seeded synthetic star schema (same seed and arguments, same bytes)."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data_dir_arg(g)
    g.add_argument("--orders", type=int, default=100_000, help="exact number of orders")
    g.add_argument("--customers", type=int, default=None, help="people incl. ~15%% prospects (default orders/4)")
    g.add_argument("--start", type=_date_arg, default=date(2021, 1, 1), help="first order date")
    g.add_argument("--end", type=_date_arg, default=date(2024, 12, 31), help="last order date")
    g.add_argument("--seed", type=int, default=42, help="random seed")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    i = sub.add_parser("import", help="import your own transactions (CSV or Parquet)", description=(
        "Import a transactions file (one row per order or per order line) and optionally a customer file "
        "into the data folder. Rows that cannot be used are rejected, fixable ones repaired, each counted by "
        "reason in a report written next to the data folder. The previous data is replaced only when the "
        "import succeeds."), formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Fields (--map FIELD=COLUMN): " + ", ".join(_field_names("ORDER_FIELDS")) +
               "\nCustomer fields (--customer-map): " + ", ".join(_field_names("CUSTOMER_FIELDS")) +
               "\nExample: custintel import sales.csv --map amount=Total --map order_date='Invoice Date' "
               "--dayfirst --decimal ,")
    i.add_argument("orders_file", help="transactions file (.csv, .csv.gz, .parquet)")
    data_dir_arg(i)
    i.add_argument("--customers", dest="customers_file", help="optional customer file (.csv, .parquet)")
    i.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="which column holds a field of the orders file (repeatable)")
    i.add_argument("--customer-map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="which column holds a field of the customer file (repeatable)")
    i.add_argument("--mapping", metavar="FILE", help="JSON or TOML file: {orders: {...}, customers: {...}, "
                   "options: {dayfirst, decimal, delimiter, ..., max_amount_factor}} (the flags' names)")
    i.add_argument("--dayfirst", action="store_true", default=None, help="read 01/02/2024 as 1 February")
    i.add_argument("--decimal", choices=(".", ","), default=None, help="decimal mark of amounts (default .)")
    i.add_argument("--delimiter", default=None, help="CSV delimiter (default: detected among , ; tab |)")
    i.add_argument("--encoding", default=None, help="text encoding of CSV files (default utf-8)")
    i.add_argument("--grain", choices=("line", "order"), default=None,
                   help="line (default): rows with the same order id are lines of one order; "
                        "order: a repeated order id is a duplicate row")
    i.add_argument("--amount-kind", choices=("net", "gross"), default=None,
                   help="net (default): amount is what was paid, after discount; gross: before discount")
    i.add_argument("--max-bad-share", type=_share_arg, default=None,
                   help="refuse the import when more rows than this share are rejected (default 0.05 = 5%%); "
                        "guest lines and cancellation lines are not rejected rows")
    i.add_argument("--cancellations", choices=("prefix", "negative", "none"), default=None,
                   help="how cancellation lines are recognised: prefix (default): the order id starts with "
                        "--cancel-prefix and a digit (C536379); negative: a negative quantity or amount; "
                        "none: such lines are bad rows. Cancellations are netted against the customer's sales")
    i.add_argument("--cancel-prefix", default=None, help="order id prefix of cancellation invoices (default C)")
    i.add_argument("--max-amount", type=float, default=None,
                   help="reject rows whose amount is above this (default 1e9)")
    i.add_argument("--max-amount-factor", type=float, default=None,
                   help="reject orders and cancellations above this many times the median order (default 1000)")
    i.add_argument("--today", type=_date_arg, default=None, help=argparse.SUPPRESS)  # tests: fixed "today"
    i.add_argument("--report", help="report path without extension (default: <data-dir>-import-report)")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="check a data folder against the data contract",
                       description="Load the data folder and check schemas, keys, ranges and dates. Prints OK "
                                   "or the first problem (table, column, sample rows).")
    data_dir_arg(v)
    v.add_argument("--backend", choices=BACKENDS, default=None, help="query engine (default duckdb)")

    e = sub.add_parser("export", help="write a metric table for a filter state to CSV or Parquet",
                       description="Export any metric table for a filter state, machine-friendly: stable "
                                   "snake_case column names and full precision (the dashboard's Export CSV and "
                                   "Excel buttons write the grid's headers and values as displayed instead). "
                                   "CSV text cells that a spreadsheet would run as formulas are neutralised.",
                       epilog="Example: custintel export segment_summary --scheme loyalty --start 2024-01-01 "
                              "--end 2024-12-31 --prime Prime --country Germany -o out.csv")
    e.add_argument("table", nargs="?", help="table name (see --list)")
    e.add_argument("--list", action="store_true", help="list the tables and exit")
    data_dir_arg(e)
    e.add_argument("--backend", choices=BACKENDS, default=None, help="query engine (default duckdb)")
    e.add_argument("--start", type=_date_arg, help="first day (default: the start of the 12 months ending at "
                   "--end, not before the first order date)")
    e.add_argument("--end", type=_date_arg, help="last day, the as-of date (default: last order date)")
    e.add_argument("--prime", choices=("All", "Prime", "Non-Prime"), help="Prime choice (default All)")
    e.add_argument("--country", action="append", default=[], help="country (repeatable; default all)")
    e.add_argument("--segment", metavar="SCHEME=LABEL", help="only customers of one segment, "
                   "e.g. loyalty='Top Tier'")
    e.add_argument("--query", help="a dashboard link's query string (start=...&prime=...); flags override it")
    e.add_argument("--scheme", help="segmentation scheme of tables that take one (default loyalty)")
    e.add_argument("--grain", help="time grain of tables that take one (week, month, quarter, year)")
    e.add_argument("--dimension", help="dimension of tables that take one (e.g. gender, age_group)")
    e.add_argument("--measure", help="measure of tables that take one (orders, revenue)")
    e.add_argument("--metric", help="measure of the trend tables (revenue, orders, customers, aov, ...)")
    e.add_argument("--label", help="segment label of the audience table (e.g. 'At-Risk')")
    e.add_argument("--model", choices=MODEL_CHOICES, help="purchase model for churn and CLV (default: the one "
                   "the data's holdout test chose, see the model_fit table)")
    e.add_argument("--holdout-end", type=_date_arg, dest="holdout_end",
                   help="last day of the holdout of holdout_check (default: 6 months after --end)")
    e.add_argument("-o", "--output", help="output file .csv or .parquet (default: CSV on stdout)")

    s = sub.add_parser("serve", help="run the dashboard", description=(
        "Run the dashboard: Dash's development server by default, gunicorn with --gunicorn. Binds 127.0.0.1 "
        "unless --host says otherwise; set CUSTINTEL_AUTH=user:password to require a login."))
    data_dir_arg(s)
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=_port_arg, default=None, help="port (default 8050)")
    s.add_argument("--backend", choices=BACKENDS, default=None, help="query engine (default duckdb)")
    s.add_argument("--gunicorn", action="store_true", help="serve with gunicorn (production)")
    s.add_argument("--workers", type=_positive_int, default=2, help="gunicorn worker processes (default 2)")
    s.add_argument("--threads", type=_positive_int, default=4, help="threads per gunicorn worker (default 4)")
    s.add_argument("--timeout", type=_positive_int, default=120, help="gunicorn worker timeout, s (default 120)")
    s.add_argument("--warm", action="store_true",
                   help="also run `custintel warm` in the background (lower priority) as the server starts")

    w = sub.add_parser("warm", help="precompute the common views into the shared result cache", description=(
        "Open every dashboard page for each period preset of the filter bar and each Prime choice (all "
        "countries), as a browser would, so their results are in the shared on-disk cache that every "
        "server process reads. Run it after generating or importing data; a running server benefits at once."))
    data_dir_arg(w)
    w.add_argument("--backend", choices=BACKENDS, default=None, help="query engine (default duckdb)")
    w.add_argument("--period", action="append", default=None, metavar="KEY",
                   help="period preset key to warm (repeatable; default: all presets)")
    w.add_argument("--prime", action="append", default=None, choices=("All", "Prime", "Non-Prime"),
                   help="Prime choice to warm (repeatable; default: all three)")
    w.add_argument("--each-country", action="store_true",
                   help="also warm every single country (1 + countries times the states and the time)")
    w.add_argument("--nice", type=int, default=0, choices=range(20), metavar="0-19",
                   help="lower this process's CPU priority first, so a running server keeps the upper hand")
    w.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _field_names(which: str) -> list[str]:
    import ingest

    return list(getattr(ingest, which))


# ----- commands ------------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, **extra: Any):
    try:
        return load_settings(data_dir=getattr(args, "data_dir", None), backend=getattr(args, "backend", None),
                             **extra)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def cmd_generate(args: argparse.Namespace) -> int:
    from generate_data import generate

    settings = _settings(args)
    try:
        counts = generate(settings.data_dir, orders=args.orders, customers=args.customers, start=args.start,
                          end=args.end, seed=args.seed, progress=not args.no_progress)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    for name, rows in counts.items():
        print(f"{name:16s} {rows:>12,d} rows")
    print(f"written to {Path(settings.data_dir).resolve()}")
    return EXIT_OK


#: ImportOptions a mapping file's ``options`` may set, each also a ``custintel import`` flag.
IMPORT_OPTIONS = ("dayfirst", "decimal", "delimiter", "encoding", "grain", "amount_kind", "max_bad_share",
                  "cancellations", "cancel_prefix", "max_amount", "max_amount_factor")


def cmd_import(args: argparse.Namespace) -> int:
    import ingest

    settings = _settings(args)
    try:
        try:
            flag_orders, flag_customers = ingest.parse_map_args(args.map), ingest.parse_map_args(args.customer_map)
        except ingest.IngestError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        mapping_file = ingest.load_mapping_file(args.mapping) if args.mapping else {}
        order_map = {**mapping_file.get("orders", {}), **flag_orders}
        customer_map = {**mapping_file.get("customers", {}), **flag_customers}
        if customer_map and not args.customers_file:
            raise CliError("--customer-map needs --customers FILE", EXIT_USAGE)
        file_options = dict(mapping_file.get("options", {}))
        unknown = sorted(set(file_options) - set(IMPORT_OPTIONS))
        if unknown:
            raise CliError(f"unknown option(s) in {args.mapping}: {', '.join(unknown)}", EXIT_USAGE)
        for name in IMPORT_OPTIONS:
            value = getattr(args, name)
            if value is not None:
                file_options[name] = value
        if file_options.get("delimiter") in ("\\t", "tab"):
            file_options["delimiter"] = "\t"
        options = ingest.ImportOptions(**file_options, today=args.today, progress=not args.no_progress)
        report = ingest.import_data(args.orders_file, settings.data_dir, customers_path=args.customers_file,
                                    order_map=order_map, customer_map=customer_map, options=options,
                                    report_path=args.report)
    except ingest.ImportRefused as exc:
        print(exc.report.summary(), file=sys.stderr)
        raise CliError(f"import refused: {exc}", EXIT_REFUSED) from exc
    except ingest.IngestError as exc:
        raise CliError(f"import failed: {exc}", EXIT_FAILURE) from exc
    except TypeError as exc:  # a mapping-file option of the wrong type
        raise CliError(f"invalid import options: {exc}", EXIT_USAGE) from exc
    print(report.summary())
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


def _unreadable_part(data_dir: str) -> str:
    """The first Parquet file of a local data folder whose footer cannot be read, as "table: file ...: why"
    ("" when every file reads, or the folder is not local)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from metrics.schema import TABLES

    root = Path(data_dir)
    for table in TABLES:
        for part in sorted((root / table).glob("*.parquet")) if (root / table).is_dir() else ():
            try:
                pq.ParquetFile(part).close()
            except (pa.ArrowException, OSError) as exc:
                return f"{table}: file {part} is not readable Parquet ({_one_line(exc)})"
    return ""


def cmd_validate(args: argparse.Namespace) -> int:
    from metrics.contract import ContractError
    from metrics.engine import DataNotFoundError, Engine

    settings = _settings(args)
    try:
        engine = Engine(settings, validate=True)
        counts = {name: int(engine.execute(table.count())) for name, table in engine.tables.items()}
        lo, hi = engine.date_bounds()
    except DataNotFoundError as exc:
        raise CliError(str(exc)) from exc
    except ContractError as exc:
        raise CliError(f"INVALID {settings.data_dir}: {exc}") from exc
    except (ValueError, OSError, duckdb.Error) as exc:  # an unreadable file: name it, no traceback
        raise CliError(f"INVALID {settings.data_dir}: {_unreadable_part(settings.data_dir) or _one_line(exc)}") from exc
    print(f"OK {settings.data_dir}: " + ", ".join(f"{n} {c:,}" for n, c in counts.items())
          + f"; orders from {lo} to {hi}")
    return EXIT_OK


def _export_filters(args: argparse.Namespace, engine) -> Any:
    from metrics.filters import FilterError, Filters, SegmentFocus
    from metrics.selection import default_filters, default_range

    default = default_filters(engine)
    known = engine.countries()
    filters = default
    if args.query is not None:
        filters, notices = Filters.from_query(args.query, default, known, engine.date_bounds())
        for notice in notices:
            print(f"{PROG} export: note: {notice}", file=sys.stderr)
    unknown = [c for c in args.country if c not in known]
    if unknown:
        shown = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "")
        raise CliError(f"unknown country {', '.join(map(repr, unknown))}; known: {shown}", EXIT_USAGE)
    scheme = label = None
    if args.segment:
        scheme, sep, label = args.segment.partition("=")
        if not sep:
            raise CliError("--segment expects SCHEME=LABEL, e.g. loyalty='Top Tier'", EXIT_USAGE)
    start = args.start or filters.start
    if args.end and not args.start and not _query_sets(args.query, "start"):
        start = default_range(engine.date_bounds()[0], args.end)[0]
        print(f"{PROG} export: note: --start not given: {start} (the 12 months ending at --end, not before "
              f"the first order date {engine.date_bounds()[0]})", file=sys.stderr)
    try:
        focus = SegmentFocus.of(scheme.strip(), label.strip()) if args.segment else filters.focus
        return Filters(
            start=start, end=args.end or filters.end, prime=args.prime or filters.prime,
            countries=tuple(args.country) or filters.countries, focus=focus, model=args.model or filters.model)
    except FilterError as exc:
        raise CliError(f"invalid filter: {exc}", EXIT_USAGE) from exc


def _query_sets(query: str | None, key: str) -> bool:
    from urllib.parse import parse_qs

    return bool(query) and key in parse_qs(query.lstrip("?"))


#: Options of metric tables, each a ``custintel export`` flag of the same name (see ExportSpec.options).
EXPORT_OPTIONS = ("scheme", "grain", "dimension", "measure", "metric", "label", "holdout_end")


def _result_message(result: Any) -> str:
    """The fit warning or reason a metric result carries (``frame.attrs["message"]`` or a dict's
    ``message``), "" when there is none."""
    message = result.get("message") if isinstance(result, dict) else getattr(result, "attrs", {}).get("message")
    return message if isinstance(message, str) else ""


#: Words in a table's column names (or its ``key`` values) that mark figures from the purchase model.
_MODEL_WORDS = ("churn", "clv", "at_risk", "p_alive")


def _uses_model(target: str, frame: pd.DataFrame) -> bool:
    names = [str(c) for c in frame.columns]
    for column in ("key", "name"):  # tables of measures: one row per measure
        if column in frame.columns:
            names += [str(k) for k in frame[column]]
    return target.startswith("metrics.models.") or any(w in n.lower() for n in names for w in _MODEL_WORDS)


def _fit_warnings(target: str, result: Any, engine, filters) -> list[str]:
    """The fit warnings of a table with model figures (a model table, or the KPIs' at-risk rate): the
    result's own message, else (a result read back from the result cache has lost its ``attrs``, and
    KPI tables carry none) the purchase model's and, for CLV figures, the spend model's."""
    messages = [_result_message(result)]
    if not messages[0] and _uses_model(target, _as_frame(result)):
        from metrics.models.choice import fit_purchase_model
        from metrics.models.inputs import fit_spend_model

        purchase = fit_purchase_model(engine, filters)
        messages.append(purchase.message)
        if purchase.ok and "clv" in target + " ".join(map(str, _as_frame(result).columns)).lower():
            messages.append(fit_spend_model(engine, filters).message)
    return list(dict.fromkeys(m for m in messages if m))


def cmd_export(args: argparse.Namespace) -> int:
    if args.list:
        width = max(map(len, EXPORTS))
        for name, spec in EXPORTS.items():
            if spec.available():
                opts = f" [--{' --'.join(spec.options)}]" if spec.options else ""
                print(f"{name:<{width}}  {spec.description}{opts}")
        return EXIT_OK
    if not args.table:
        raise CliError("name a table to export (see `custintel export --list`)", EXIT_USAGE)
    spec = EXPORTS.get(args.table)
    if spec is None or not spec.available():
        raise CliError(f"unknown table {args.table!r}; see `custintel export --list`", EXIT_USAGE)
    extra = {name: getattr(args, name) for name in EXPORT_OPTIONS if getattr(args, name) is not None}
    not_taken = sorted(set(extra) - set(spec.options))
    if not_taken:
        raise CliError(f"{args.table} does not take --{', --'.join(not_taken)}", EXIT_USAGE)

    from metrics.contract import ContractError
    from metrics.engine import DataNotFoundError, get_engine
    from metrics.export import write_table

    settings = _settings(args)
    try:
        engine = get_engine(settings)  # one engine per data folder: repeated exports in a process share it
    except (DataNotFoundError, ContractError) as exc:
        raise CliError(str(exc)) from exc
    except (ValueError, OSError, duckdb.Error) as exc:  # an unreadable file: name it, no traceback
        raise CliError(_unreadable_part(settings.data_dir) or _one_line(exc)) from exc
    filters = _export_filters(args, engine)
    try:
        result = spec.load()(engine, filters, **extra)
    except duckdb.Error as exc:  # the data, not the arguments (a file that became unreadable)
        raise CliError(f"{args.table}: {_unreadable_part(settings.data_dir) or _one_line(exc)}") from exc
    except (ValueError, KeyError) as exc:  # e.g. an unknown scheme or grain
        raise CliError(f"{args.table}: {exc}", EXIT_USAGE) from exc
    for warning in _fit_warnings(spec.target, result, engine, filters):
        # a model fitted with a warning, or not at all: the table is still written
        print(f"{PROG} export: warning: {warning}", file=sys.stderr)
    frame = _as_frame(result)
    if args.output:
        try:
            path = write_table(frame, args.output)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        print(f"wrote {len(frame):,} rows to {path} ({filters.describe()})", file=sys.stderr)
    else:
        from metrics.export import to_safe_csv

        sys.stdout.write(to_safe_csv(frame))
    return EXIT_OK


def gunicorn_command(host: str, port: int, workers: int, threads: int, timeout: int) -> list[str]:
    """The gunicorn command line that serves ``app:server`` (no --preload: each worker opens its own DuckDB)."""
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
            "--bind", f"{host}:{port}", "--timeout", str(timeout), "--no-control-socket",
            "--chdir", str(PROJECT_ROOT), "app:server"]


def start_background_warm(data_dir: str, backend: str) -> subprocess.Popen:
    """``custintel warm`` as a separate, lower-priority process: the server answers meanwhile, and the
    views fill the shared cache one by one (a view a user opens first is computed once, by either)."""
    command = [sys.executable, "-m", "service.cli", "warm", "--data-dir", data_dir, "--backend", backend,
               "--nice", "10", "--quiet"]
    print(" ".join(command) + "  (in the background)", file=sys.stderr)
    return subprocess.Popen(command, cwd=PROJECT_ROOT, start_new_session=True)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, host=args.host, port=args.port)
    env = {"CUSTINTEL_DATA_DIR": settings.data_dir, "CUSTINTEL_BACKEND": settings.backend,
           "CUSTINTEL_HOST": settings.host, "CUSTINTEL_PORT": str(settings.port)}
    os.environ.update(env)
    from service.exposure import warn_if_exposed  # the warning python app.py and gunicorn print too

    warn_if_exposed([settings.host], settings.auth, f"{PROG} serve")
    if args.warm:
        start_background_warm(settings.data_dir, settings.backend)
    if args.gunicorn:
        command = gunicorn_command(settings.host, settings.port, args.workers, args.threads, args.timeout)
        print(" ".join(command), file=sys.stderr)
        os.execvpe(command[0], command, os.environ.copy())
        return EXIT_OK  # not reached: exec replaces this process
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    import app as dash_app  # reads the settings from the environment set above

    dash_app.app.run(host=settings.host, port=settings.port, debug=False)
    return EXIT_OK


def cmd_warm(args: argparse.Namespace) -> int:
    import time

    settings = _settings(args)
    if args.nice:
        os.nice(args.nice)
    if settings.cache_dir.lower() == "off":
        raise CliError("CUSTINTEL_CACHE_DIR=off: there is no shared cache to warm", EXIT_USAGE)
    os.environ.update({"CUSTINTEL_DATA_DIR": settings.data_dir, "CUSTINTEL_BACKEND": settings.backend})
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    started = time.perf_counter()
    import app as dash_app  # builds the app over the settings set above (generates data on a first run)
    from metrics.engine import get_engine
    from service.replay import data_pages
    from service.security import basic_auth_header
    from service.warm import common_states, warm

    engine = get_engine()
    if engine.cache.store is None:
        raise CliError("the shared result cache is not available for this data folder (object store?)")
    try:
        states = common_states(engine, args.period, tuple(args.prime or ("All", "Prime", "Non-Prime")),
                               each_country=args.each_country)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    report = warm(dash_app.server, states, headers=basic_auth_header(settings.auth) if settings.auth else None,
                  progress=progress)
    stats = engine.cache.stats()
    print(f"warmed {report.states} filter states x {len(data_pages())} pages ({report.requests} requests) in "
          f"{time.perf_counter() - started:.1f} s; computed {stats['misses']} results, "
          f"{stats['shared_hits']} were already cached; cache folder {engine.cache.store.folder}")
    if report.failures:
        for failure in report.failures[:10]:
            print(f"{PROG} warm: failed request: {failure}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": cmd_generate, "import": cmd_import, "validate": cmd_validate, "export": cmd_export,
    "serve": cmd_serve, "warm": cmd_warm,
}


def _clean_leftovers(args: argparse.Namespace) -> None:
    """Remove what a killed import or generation left next to the data folder (temporary folders of up
    to the data's size), before any command runs."""
    from ingest import clean_leftovers

    try:
        data_dir = load_settings(data_dir=getattr(args, "data_dir", None)).data_dir
    except ValueError:
        return  # the command itself reports bad settings
    if "://" not in data_dir:  # an object store has no local leftovers
        for path in clean_leftovers(data_dir):
            print(f"{PROG}: removed {path} (left by an interrupted import)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _clean_leftovers(args)
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
