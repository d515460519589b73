"""Bounded, thread-safe memoisation of metric results per filter state.

Every metric is a pure function of (data, filters, arguments), so its result is kept in a small LRU cache
owned by the engine: moving between pages or back to an earlier filter state costs nothing. When the
engine has a :class:`~metrics.shared_cache.SharedStore`, plain-data results also go to disk, where the
other server processes (gunicorn workers) and later restarts find them.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from metrics.shared_cache import is_plain_data

if TYPE_CHECKING:
    from metrics.shared_cache import SharedStore

P = ParamSpec("P")
R = TypeVar("R")


def key_kind(key: Hashable) -> Hashable:
    """What a key computes, without its arguments: its first element (a metric's qualified name)."""
    return key[0] if isinstance(key, tuple) and key else key


class ResultCache:
    """LRU mapping with one lock per key, so concurrent requests compute a result once.

    With a shared store, a miss in memory first looks on disk and, when computing, holds the key's
    lock across processes. Kinds of result found not to be plain data (Ibis expressions) skip the disk
    from then on, so they never wait for another process that would not share its result anyway.
    """

    def __init__(self, max_entries: int = 2048, store: SharedStore | None = None) -> None:
        self.max_entries = max_entries
        self.store = store
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._memory_only: set[Hashable] = set()
        self.hits = 0
        self.misses = 0
        self.shared_hits = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], R]) -> R:
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
            value = self._load_or_compute(key, compute)
            with self._lock:
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
                self._key_locks.pop(key, None)
            return value

    def _load_or_compute(self, key: Hashable, compute: Callable[[], R]) -> R:
        store = self.store
        # Keys must be plain data too: their repr names the file, and an object's repr is its address.
        if store is None or key_kind(key) in self._memory_only or not is_plain_data(key):
            return self._count_miss(compute)
        found, value = store.get(key)
        if found:
            return self._count_shared_hit(value)
        with store.computing(key):
            found, value = store.get(key)  # the process we waited for has stored it
            if found:
                return self._count_shared_hit(value)
            value = self._count_miss(compute)
            if not store.put(key, value):
                with self._lock:
                    self._memory_only.add(key_kind(key))
            return value

    def _count_miss(self, compute: Callable[[], R]) -> R:
        value = compute()
        with self._lock:
            self.misses += 1
        return value

    def _count_shared_hit(self, value: Any) -> Any:
        with self._lock:
            self.shared_hits += 1
        return value

    def stats(self) -> dict[str, int]:
        """Counters for the health endpoint and benchmarks."""
        with self._lock:
            return {"entries": len(self._data), "hits": self.hits, "shared_hits": self.shared_hits,
                    "misses": self.misses}

    def clear(self, *, shared: bool = False) -> None:
        """Forget the results in memory (and on disk too with ``shared=True``)."""
        with self._lock:
            self._data.clear()
        if shared and self.store is not None:
            self.store.clear()


def memoized(fn: Callable[P, R]) -> Callable[P, R]:
    """Memoise ``fn(engine, filters, *args, **kwargs)`` in ``engine.cache``.

    DataFrame, dict and list results are copied on the way out so callers cannot alter the cached value.
    """
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        engine = args[0]
        key = (name, args[1:], tuple(sorted(kwargs.items())))
        value = engine.cache.get_or_compute(key, lambda: fn(*args, **kwargs))  # type: ignore[attr-defined]
        if isinstance(value, dict | list) or hasattr(value, "columns"):
            return value.copy()  # type: ignore[union-attr]
        return value

    wrapper.uncached = fn  # type: ignore[attr-defined]
    return wrapper
