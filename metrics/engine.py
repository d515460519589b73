"""The one entry point to the data: an Ibis connection over the Parquet star schema.

``Engine`` opens the backend chosen by settings (embedded DuckDB by default), exposes the five tables
as Ibis expressions, validates them against the contract, runs expressions to small pandas frames and
owns the per-filter result cache. Nothing here loads all orders into pandas.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from metrics.cache import Entry, ResultCache
from metrics.contract import ContractError, validate_tables
from metrics.schema import TABLES
from metrics.settings import Settings, load_settings
from metrics.shared_cache import SharedStore, data_fingerprint, default_cache_dir


class DataNotFoundError(FileNotFoundError):
    """The data folder or one of its tables does not exist."""


def table_location(data_dir: str, name: str) -> str:
    """Parquet path (or glob) of a table: ``<dir>/<name>/*.parquet`` or ``<dir>/<name>.parquet``."""
    if "://" in data_dir:  # object store: always the folder layout
        return f"{data_dir.rstrip('/')}/{name}/*.parquet"
    folder = Path(data_dir) / name
    if folder.is_dir():
        return str(folder / "*.parquet")
    single = Path(data_dir) / f"{name}.parquet"
    if single.is_file():
        return str(single)
    raise DataNotFoundError(
        f"table {name} not found in {data_dir} (expected folder {folder} or file {single}); "
        "generate data with `custintel generate` or import your own with `custintel import`"
    )


def connect_backend(settings: Settings) -> ibis.BaseBackend:
    """A fresh Ibis connection for the configured backend."""
    if settings.backend == "duckdb":
        return ibis.duckdb.connect()
    from metrics.spark import connect_spark  # optional extra: imported only when asked for

    return connect_spark(settings)


def open_shared_store(settings: Settings, locations: dict[str, str]) -> SharedStore | None:
    """The on-disk result cache for these data, or None when it is off or the data cannot be
    fingerprinted (object stores). A folder that cannot be created only costs the sharing."""
    if settings.cache_dir.lower() == "off":
        return None
    fingerprint = data_fingerprint(settings, locations)
    if fingerprint is None:
        return None
    try:
        return SharedStore(settings.cache_dir or default_cache_dir(), fingerprint,
                           max_bytes=settings.cache_mb * 1024 * 1024)
    except OSError:
        return None


class Engine:
    """Ibis tables of the star schema plus execution and caching.

    Queries are serialised by a lock because one DuckDB connection must not run two queries at once
    from different threads; DuckDB parallelises each query over the cores itself.
    """

    def __init__(self, settings: Settings | None = None, *, validate: bool = True,
                 today: date | None = None) -> None:
        self.settings = settings or load_settings()
        self.backend_name = self.settings.backend
        self._lock = threading.RLock()
        self.con = connect_backend(self.settings)
        self.tables: dict[str, ir.Table] = {}
        locations = {name: table_location(self.settings.data_dir, name) for name in TABLES}
        for name, location in locations.items():
            self.tables[name] = self.con.read_parquet(location, table_name=name)
        self.loaded_at = time.time()
        # names of materialised tables and registered memtables whose last expression is gone: dropped
        # (under the query lock) before the next query, so memory follows the cache, not the uptime
        self._unused: deque[tuple[str, str]] = deque()
        self.cache = ResultCache(max_entries=self.settings.cache_size * 64,
                                 store=open_shared_store(self.settings, locations),
                                 max_bytes=self.settings.memory_mb * 1024 * 1024)
        if validate:
            validate_tables(self.tables, self.execute, today=today)

    # ----- tables ---------------------------------------------------------------------------------
    @property
    def orders(self) -> ir.Table:
        return self.tables["fact_orders"]

    @property
    def engagement(self) -> ir.Table:
        return self.tables["fact_engagement"]

    @property
    def customers(self) -> ir.Table:
        return self.tables["dim_customer"]

    @property
    def products(self) -> ir.Table:
        return self.tables["dim_product"]

    @property
    def dates(self) -> ir.Table:
        return self.tables["dim_date"]

    # ----- execution ------------------------------------------------------------------------------
    def execute(self, expr: ir.Expr) -> Any:
        """Run an expression: a table gives a pandas DataFrame, a scalar a Python value."""
        with self._lock:
            self._free_unused()
            return self.con.execute(expr)

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        with self._lock:
            self._free_unused()
            return self.con.to_pyarrow(expr)

    def memtable(self, data: Any) -> ir.Table:
        """``ibis.memtable(data)`` whose registration in DuckDB is dropped once no expression uses it
        (Ibis keeps every registered memtable until the process exits)."""
        table = ibis.memtable(data)
        if self.backend_name == "duckdb":
            weakref.finalize(table.op(), self._unused.append, ("memtable", table.op().name))
        return table

    def _free_unused(self) -> None:
        """Drop the tables and memtable registrations queued by their finalizers (caller holds the lock)."""
        while self._unused:
            kind, name = self._unused.popleft()
            try:
                if kind == "memtable":
                    self.con.con.unregister(name)
                else:
                    self.con.con.execute(f'DROP TABLE IF EXISTS "{name}"')
            except Exception:
                pass

    def materialize(self, expr: ir.Table) -> ir.Table:
        """Compute a table once and return an expression reading the stored result.

        Used for the customer mart, so every metric of a filter state reads it instead of re-scanning
        the orders. DuckDB keeps it as an in-memory Arrow table; Spark caches it on the cluster.
        """
        return self.materialize_entry(expr).value

    def materialize_entry(self, expr: ir.Table) -> Entry:
        """:meth:`materialize` as a cache entry: the stored table, its size in bytes where known and the
        hook that frees it when the entry leaves the cache (Spark's cached table).

        DuckDB stores it as a temporary table inside the engine (no round trip through Arrow; every query
        runs on the engine's one connection, under its lock), dropped once the entry has left the cache
        and no expression built on it is left (a finalizer on the table's node queues the drop, done
        before the next query), so a callback still using it never finds it gone."""
        if self.backend_name == "duckdb":
            name = f"ci_result_{uuid.uuid4().hex}"
            with self._lock:
                self._free_unused()
                table = self.con.create_table(name, expr, temp=True)
                rows, columns = self.con.con.execute(
                    "SELECT estimated_size, column_count FROM duckdb_tables() WHERE table_name = ?",
                    [name]).fetchall()[0]
            weakref.finalize(table.op(), self._unused.append, ("table", name))
            return Entry(table, nbytes=int(rows) * int(columns) * 8 + 1024)
        with self._lock:
            cached = expr.cache()
        return Entry(cached, release=getattr(cached, "release", None))

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The engine's own facts (date bounds, countries), cached like metric results."""
        return self.cache.get_or_compute(key, compute)

    # ----- facts about the data -------------------------------------------------------------------
    def date_bounds(self) -> tuple[date, date]:
        """First and last order dates in the data (the default filter range)."""

        def compute() -> tuple[date, date]:
            o = self.orders
            row = self.execute(o.aggregate(lo=o.date_key.min(), hi=o.date_key.max()))
            if row.empty or pd.isna(row.lo.iloc[0]):
                today = date.today()
                return today, today
            return _date_from_key(int(row.lo.iloc[0])), _date_from_key(int(row.hi.iloc[0]))

        return self.memo(("date_bounds",), compute)

    def countries(self) -> list[str]:
        """Countries present in dim_customer, sorted."""

        def compute() -> list[str]:
            c = self.customers
            frame = self.execute(c.select("country").distinct().order_by("country"))
            return [str(x) for x in frame["country"]]

        return list(self.memo(("countries",), compute))


def _date_from_key(key: int) -> date:
    return date(key // 10000, key // 100 % 100, key % 100)


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the current settings (opened on first use)."""
    global _ENGINE
    with _ENGINE_LOCK:
        wanted = settings or load_settings()
        if _ENGINE is None or _ENGINE.settings != wanted:
            _ENGINE = Engine(wanted)
        return _ENGINE


__all__ = ["ContractError", "DataNotFoundError", "Engine", "get_engine", "table_location"]
