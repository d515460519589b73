"""The one entry point to the data: an Ibis connection over the Parquet star schema.

``Engine`` opens the backend chosen by settings (embedded DuckDB by default), exposes the five tables
as Ibis expressions, validates them against the contract, runs expressions to small pandas frames and
owns the per-filter result cache. Nothing here loads all orders into pandas.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import sqlglot as sg
import sqlglot.expressions as sge

from metrics.cache import Entry, ResultCache
from metrics.contract import ContractError, validate_tables
from metrics.generation import (
    DataFileError,
    DataNotFoundError,
    Snapshot,
    folder_fingerprint,
    is_data_error,
    table_location,
)
from metrics.schema import TABLES
from metrics.settings import Settings, load_settings
from metrics.shapes import QueryShapes
from metrics.shared_cache import SharedStore, default_cache_dir, store_name


def connect_backend(settings: Settings) -> ibis.BaseBackend:
    """A fresh Ibis connection for the configured backend."""
    if settings.backend == "duckdb":
        return ibis.duckdb.connect()
    from metrics.spark import connect_spark  # optional extra: imported only when asked for

    return connect_spark(settings)


def open_shared_store(settings: Settings, generation: str | None) -> SharedStore | None:
    """The on-disk result cache for this generation of the data, or None when it is off, the data cannot
    be fingerprinted (object stores) or the folder is refused (see :class:`SharedStore`)."""
    if settings.cache_dir.lower() == "off" or generation is None:
        return None
    return SharedStore.open(settings.cache_dir or default_cache_dir(), store_name(settings.backend, generation),
                            max_bytes=settings.cache_mb * 1024 * 1024)


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
        #: compiled SQL per query shape (DuckDB only: Spark compiles each query)
        self.shapes = QueryShapes(self.con) if self.backend_name == "duckdb" and self.settings.query_shapes \
            else None
        self.tables: dict[str, ir.Table] = {}
        # one generation of the data, read through open files: a swap of the folder never mixes in
        self.snapshot = Snapshot.open(self.settings.data_dir, TABLES, hold=self.backend_name == "duckdb")
        weakref.finalize(self, self.snapshot.close)
        #: names the data this engine serves (None for object stores)
        self.generation = self.snapshot.fingerprint
        for name, files in self.snapshot.locations.items():
            self.tables[name] = self.con.read_parquet(files if len(files) > 1 else files[0], table_name=name)
        self.loaded_at = time.time()
        # names of materialised tables and registered memtables whose last expression is gone: dropped
        # (under the query lock) before the next query, so memory follows the cache, not the uptime
        self._unused: deque[tuple[str, str]] = deque()
        self.cache = ResultCache(max_entries=self.settings.cache_size * 64,
                                 store=open_shared_store(self.settings, self.generation),
                                 max_bytes=self.settings.memory_mb * 1024 * 1024)
        if validate:
            try:
                validate_tables(self.tables, self.execute, today=today)
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # a damaged file past its footer
                text = self.snapshot.describe(str(exc))
                # the file named in the message tells the table (a table is a folder or a file of its name)
                table = next((n for n in TABLES if f"/{n}/" in text or f"/{n}.parquet" in text), "data")
                raise DataFileError(table, self.settings.data_dir, text[:300]) from exc

    def describe_error(self, exc: BaseException) -> str:
        """One line for a data error, naming the files rather than the engine's descriptors."""
        return self.snapshot.describe(f"{exc}").splitlines()[0][:400] if str(exc) else type(exc).__name__

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
            found = self.shapes.sql(expr) if self.shapes is not None else None
            if found is None:
                return self.con.execute(expr)
            return pandas_result(expr, self.con.con.sql(found[0], params=found[1]).to_arrow_table())

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        with self._lock:
            self._free_unused()
            found = self.shapes.sql(expr) if self.shapes is not None else None
            if found is None:
                return self.con.to_pyarrow(expr)
            return arrow_result(expr, self.con.con.sql(found[0], params=found[1]).to_arrow_table())

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
                table = self._create_temp_table(name, expr)
                rows, columns = self.con.con.execute(
                    "SELECT estimated_size, column_count FROM duckdb_tables() WHERE table_name = ?",
                    [name]).fetchall()[0]
            weakref.finalize(table.op(), self._unused.append, ("table", name))
            return Entry(table, nbytes=int(rows) * int(columns) * 8 + 1024)
        with self._lock:
            cached = expr.cache()
        return Entry(cached, release=getattr(cached, "release", None))

    def _create_temp_table(self, name: str, expr: ir.Table) -> ir.Table:
        """``CREATE TEMP TABLE name`` from ``expr`` (caller holds the lock), its SQL from the shapes."""
        found = self.shapes.sql(expr) if self.shapes is not None else None
        if found is None:
            return self.con.create_table(name, expr, temp=True)
        schema = expr.schema()
        if schema.null_fields:  # Ibis's own create_table says what is wrong
            return self.con.create_table(name, expr, temp=True)
        target = sg.table(name, catalog="temp", db="main", quoted=True)
        dialect = self.con.dialect
        columns_defs = sge.Schema(this=target, expressions=schema.to_sqlglot_column_defs(dialect))
        create = sge.Create(kind="TABLE", this=columns_defs,
                            properties=sge.Properties(expressions=[sge.TemporaryProperty()]))
        columns = ", ".join(sge.to_identifier(c, quoted=True).sql(dialect) for c in schema.names)
        self.con.con.execute(create.sql(dialect))
        self.con.con.execute(f"INSERT INTO {target.sql(dialect)} ({columns}) {found[0]}", found[1])
        return ops.DatabaseTable(name, schema=schema, source=self.con,
                                 namespace=ops.Namespace(catalog="temp", database="main")).to_expr()

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


def pandas_result(expr: ir.Expr, table: Any) -> Any:
    """An Arrow result as Ibis's DuckDB backend returns it from ``execute`` (same conversions)."""
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    frame = pd.DataFrame({
        name: col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
        else col.to_pandas()
        for name, col in zip(table.column_names, table.columns, strict=True)})
    return expr.__pandas_result__(DuckDBPandasData.convert_table(frame, expr.as_table().schema()))


def arrow_result(expr: ir.Expr, table: Any) -> Any:
    """An Arrow result as Ibis's DuckDB backend returns it from ``to_pyarrow``."""
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)


def _date_from_key(key: int) -> date:
    return date(key // 10000, key // 100 % 100, key % 100)


#: How often (seconds) the data folder is compared with the engine's generation.
CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class DataProblem:
    """Data in the folder that could not be served: what failed, and for which generation of the folder."""

    fingerprint: str | None
    table: str | None
    message: str
    since: float
    error: BaseException | None = None


@dataclass
class _Current:
    engine: Engine | None = None
    checked_at: float = 0.0
    problem: DataProblem | None = None


_CURRENT = _Current()
_ENGINE_LOCK = threading.Lock()
#: the engine a request started with: every query of one request reads one generation
_PINNED: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("custintel_engine", default=None)


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the current settings (opened on first use).

    At most every :data:`CHECK_EVERY_S` the data folder is compared with the engine's generation; when an
    import has swapped it, a new engine is opened and served from then on (requests under way keep theirs,
    see :func:`pinned_engine`). New data that fails to open is recorded (:func:`data_problem`) and the
    previous generation stays in service; with no previous one the error is raised, once per folder state.
    """
    pinned = _PINNED.get()
    if pinned is not None and (settings is None or pinned.settings == settings):
        return pinned
    with _ENGINE_LOCK:
        wanted = settings or load_settings()
        current = _CURRENT.engine
        if current is not None and current.settings == wanted:
            if time.monotonic() - _CURRENT.checked_at >= CHECK_EVERY_S:
                _refresh(wanted, current)
            return _CURRENT.engine or current
        return _open_first(wanted)


def _open_first(settings: Settings) -> Engine:
    problem = _CURRENT.problem
    if problem is not None and problem.fingerprint is not None and \
            _fingerprint_or_none(settings) == problem.fingerprint:
        raise problem.error or DataNotFoundError(problem.message, table=problem.table)  # same folder: no retry
    try:
        engine = Engine(settings)
    except Exception as exc:
        if is_data_error(exc):
            _CURRENT.problem = _problem(settings, exc)
        raise
    _CURRENT.engine, _CURRENT.checked_at, _CURRENT.problem = engine, time.monotonic(), None
    return engine


def _refresh(settings: Settings, current: Engine) -> None:
    """Open the folder's new generation if it changed (caller holds the lock)."""
    _CURRENT.checked_at = time.monotonic()
    if current.generation is None:
        return  # object-store data is not fingerprinted
    try:
        now = folder_fingerprint(settings.data_dir, TABLES)
    except DataNotFoundError as exc:  # a table vanished: keep serving what is open
        _CURRENT.problem = DataProblem(None, exc.table, str(exc), time.time())
        return
    if now == current.generation:
        _CURRENT.problem = None
        return
    if _CURRENT.problem is not None and _CURRENT.problem.fingerprint == now:
        return  # this folder state was tried and refused already
    try:
        fresh = Engine(settings)
    except Exception as exc:
        if not is_data_error(exc):
            raise
        _CURRENT.problem = _problem(settings, exc, now)
        return
    _CURRENT.engine, _CURRENT.problem = fresh, None


def _fingerprint_or_none(settings: Settings) -> str | None:
    try:
        return folder_fingerprint(settings.data_dir, TABLES)
    except DataNotFoundError:
        return None


def _problem(settings: Settings, exc: BaseException, fingerprint: str | None = None) -> DataProblem:
    text = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
    return DataProblem(fingerprint or _fingerprint_or_none(settings), getattr(exc, "table", None), text, time.time(),
                       exc)


def describe_data_error(exc: BaseException) -> str:
    """One line for a data error, naming files rather than the engine's open descriptors."""
    engine = _PINNED.get() or _CURRENT.engine
    return engine.describe_error(exc) if engine is not None else (str(exc).splitlines() or [type(exc).__name__])[0]


def data_problem() -> DataProblem | None:
    """The data that could not be opened (the engine in service, if any, holds the previous generation)."""
    return _CURRENT.problem


@contextlib.contextmanager
def pinned_engine() -> Iterator[Engine | None]:
    """Within the block every :func:`get_engine` returns the engine it started with (None, and nothing
    pinned, when no engine can be opened): one request reads one generation of the data."""
    try:
        engine: Engine | None = get_engine()
    except Exception as exc:
        if not is_data_error(exc):
            raise
        engine = None
    token = _PINNED.set(engine)
    try:
        yield engine
    finally:
        _PINNED.reset(token)


def reset_engine() -> None:
    """Forget the engine in service and any recorded problem (tests; a process that changes data dirs)."""
    with _ENGINE_LOCK:
        _CURRENT.engine, _CURRENT.checked_at, _CURRENT.problem = None, 0.0, None


__all__ = [
    "ContractError",
    "DataFileError",
    "DataNotFoundError",
    "DataProblem",
    "Engine",
    "data_problem",
    "describe_data_error",
    "get_engine",
    "is_data_error",
    "pinned_engine",
    "reset_engine",
    "table_location",
]
