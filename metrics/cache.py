"""Bounded, thread-safe memoisation of metric results per filter state.

Every metric is a pure function of (data, filters, arguments), so its result is kept in a small LRU cache
owned by the engine: moving between pages or back to an earlier filter state costs nothing.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ResultCache:
    """LRU mapping with one lock per key, so concurrent requests compute a result once."""

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

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
            value = compute()
            with self._lock:
                self.misses += 1
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
                self._key_locks.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def memoized(fn: Callable[P, R]) -> Callable[P, R]:
    """Memoise ``fn(engine, filters, *args, **kwargs)`` in ``engine.cache``.

    DataFrame, dict and list results are copied on the way out so callers cannot alter the cached value.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        engine = args[0]
        key = (fn.__module__, fn.__qualname__, args[1:], tuple(sorted(kwargs.items())))
        value = engine.cache.get_or_compute(key, lambda: fn(*args, **kwargs))  # type: ignore[attr-defined]
        if isinstance(value, dict | list) or hasattr(value, "columns"):
            return value.copy()  # type: ignore[union-attr]
        return value

    wrapper.uncached = fn  # type: ignore[attr-defined]
    return wrapper
