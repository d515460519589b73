"""Memoisation of metric results: one decorator, :func:`memoized`, and the engine's :class:`ResultCache`.

Every metric is a pure function of (data, filters, arguments), so its result is kept in an LRU cache owned
by the engine: moving between pages or back to an earlier filter state costs nothing.

- **Keys** are the function's qualified name and its bound arguments with defaults applied, so
  ``f(e, F)``, ``f(e, F, "loyalty")`` and ``f(e, F, scheme="loyalty")`` are one entry. A function that
  depends only on the scope's data (``scope_only=True``) is keyed by ``filters.data_scope``: every focus
  and every purchase-model choice share it (such a function takes a model as an explicit argument).
- **Relations**: a metric returning an Ibis table (a mart, scores) has it materialised once by the engine
  and kept in memory only (an expression is not data another process could read).
- **Plain results** (frames, dicts, numbers, fitted-model records) also go to the engine's
  :class:`~metrics.shared_cache.SharedStore` on disk, where other server processes and restarts find them.
- **Entries** (:class:`Entry`) record an estimate of their size in bytes and an optional ``release`` hook
  called when the entry is evicted or cleared, so a byte bound and dropping a relation's storage on
  eviction extend this cache rather than replace it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd

from metrics.shared_cache import Stored, is_plain_data

if TYPE_CHECKING:
    from metrics.shared_cache import SharedStore

P = ParamSpec("P")
R = TypeVar("R")


def key_kind(key: Hashable) -> Hashable:
    """What a key computes, without its arguments: its first element (a metric's qualified name)."""
    return key[0] if isinstance(key, tuple) and key else key


@dataclass
class Entry:
    """A cached value, its estimated size in bytes and what to call when it leaves the cache."""

    value: Any
    nbytes: int = 0
    release: Callable[[], None] | None = None


def estimated_bytes(value: Any) -> int:
    """A cheap estimate of a result's memory: frames by their columns, containers by their items."""
    if isinstance(value, pd.DataFrame | pd.Series):
        return int(value.memory_usage(index=True, deep=False).sum()) if isinstance(value, pd.DataFrame) \
            else int(value.memory_usage(index=True, deep=False))
    if isinstance(value, dict):
        return 64 + sum(estimated_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return 64 + sum(estimated_bytes(v) for v in value)
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else 64


class ResultCache:
    """LRU mapping with one lock per key, so concurrent requests compute a result once.

    With a shared store, a miss in memory first looks on disk and, when computing, holds the key's
    lock across processes. Kinds of result found not to be plain data (Ibis expressions) skip the disk
    from then on, so they never wait for another process that would not share its result anyway.
    """

    def __init__(self, max_entries: int = 2048, store: SharedStore | None = None,
                 max_bytes: int | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.store = store
        self._data: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._memory_only: set[Hashable] = set()
        self.hits = 0
        self.misses = 0
        self.shared_hits = 0
        #: how many times the cache was emptied (what is built from its results keys on it too)
        self.clears = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], R], *, shared: bool = True) -> R:
        """The cached value of ``key``, computing it once (``shared=False``: never on disk)."""
        return self.get_or_compute_entry(key, lambda: Entry(compute()), shared=shared).value

    def get_or_compute_entry(self, key: Hashable, compute: Callable[[], Entry], *, shared: bool = True) -> Entry:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have finished it meanwhile
                if key in self._data:
                    self.hits += 1
                    return self._data[key]
            entry = self._load_or_compute(key, compute, shared)
            if not entry.nbytes:
                entry.nbytes = estimated_bytes(entry.value)
            evicted = []
            with self._lock:
                self._data[key] = entry
                self._bytes += entry.nbytes
                self._data.move_to_end(key)
                while len(self._data) > 1 and (len(self._data) > self.max_entries or (
                        self.max_bytes is not None and self._bytes > self.max_bytes)):
                    evicted.append(self._data.popitem(last=False)[1])
                    self._bytes -= evicted[-1].nbytes
                self._key_locks.pop(key, None)
            for gone in evicted:
                _release(gone)
            return entry

    def _load_or_compute(self, key: Hashable, compute: Callable[[], Entry], shared: bool) -> Entry:
        store = self.store
        # Keys must be plain data too: their repr names the file, and an object's repr is its address.
        if store is None or not shared or key_kind(key) in self._memory_only or not is_plain_data(key):
            return self._count_miss(compute)
        found, value = store.get(key)
        if found:
            return self._count_shared_hit(value)
        with store.computing(key):
            found, value = store.get(key)  # the process we waited for has stored it
            if found:
                return self._count_shared_hit(value)
            entry = self._count_miss(compute)
            if store.put(key, entry.value) is Stored.NOT_PLAIN:  # a disk failure is retried later
                with self._lock:
                    self._memory_only.add(key_kind(key))
            return entry

    def _count_miss(self, compute: Callable[[], Entry]) -> Entry:
        entry = compute()
        with self._lock:
            self.misses += 1
        return entry

    def _count_shared_hit(self, value: Any) -> Entry:
        with self._lock:
            self.shared_hits += 1
        return Entry(value)

    def stats(self) -> dict[str, int]:
        """Counters for the health endpoint and benchmarks."""
        with self._lock:
            return {"entries": len(self._data), "hits": self.hits, "shared_hits": self.shared_hits,
                    "misses": self.misses}

    def nbytes(self) -> int:
        """Estimated bytes held in memory (the sum of the entries' estimates)."""
        with self._lock:
            return self._bytes

    def clear(self, *, shared: bool = False) -> None:
        """Forget the results in memory (and on disk too with ``shared=True``)."""
        with self._lock:
            gone = list(self._data.values())
            self._data.clear()
            self._bytes = 0
            self.clears += 1
        for entry in gone:
            _release(entry)
        if shared and self.store is not None:
            self.store.clear()


def _release(entry: Entry) -> None:
    if entry.release is not None:
        entry.release()


def _normalise(value: Any, scope_only: bool) -> Any:
    if scope_only and hasattr(value, "data_scope") and hasattr(value, "focus"):
        return value.data_scope  # a Filters: the result depends on neither the focus nor the model choice
    return value


@overload
def memoized(fn: Callable[P, R], *, scope_only: bool = False) -> Callable[P, R]: ...


@overload
def memoized(fn: None = None, *, scope_only: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def memoized(fn: Callable[P, R] | None = None, *, scope_only: bool = False) -> Any:
    """Memoise a metric ``fn(engine, filters, ...)`` in ``engine.cache`` (see the module docstring).

    Use as ``@memoized`` or ``@memoized(scope_only=True)`` for results that depend only on the scope.
    An Ibis table result is materialised by the engine and kept in memory only; DataFrame, dict and list
    results are copied on the way out so callers cannot alter the cached value. ``fn.uncached`` is the
    plain function.
    """
    if fn is None:
        return functools.partial(memoized, scope_only=scope_only)
    name = f"{fn.__module__}.{fn.__qualname__}"
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for argument, value in list(bound.arguments.items())[1:]:
            bound.arguments[argument] = _normalise(value, scope_only)
        engine, *rest = bound.arguments.values()
        key = (name, tuple(rest))

        def compute() -> Entry:
            value = fn(*bound.args, **bound.kwargs)  # a scope-only metric sees the scope only
            if isinstance(value, ir.Table) and not isinstance(value.op(), ops.InMemoryTable):
                return engine.materialize_entry(value)  # an in-memory table (a literal result) is kept as is
            return Entry(value)

        entry = engine.cache.get_or_compute_entry(key, compute)
        value = entry.value
        if isinstance(value, dict | list | pd.DataFrame):
            return value.copy()  # type: ignore[return-value]
        return value  # type: ignore[no-any-return]

    wrapper.uncached = fn  # type: ignore[attr-defined]
    return wrapper
