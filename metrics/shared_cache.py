"""A result cache on disk, shared by every process that serves the same data.

Under gunicorn each worker is a separate process with its own in-memory cache, so without this tier a
filter state computed by one worker is computed again by the next worker that gets a request for it,
and every restart starts cold. Results that are plain data (frames, dicts, lists, numbers, fitted
model parameters) are pickled into one folder per *fingerprint* — the data files (path, size,
modification time), the backend and the source code of ``metrics/`` (subpackages included) — so new data
or new code never read old results. Ibis expressions (materialised marts) are never stored: they only live in memory.

A per-key file lock makes concurrent workers compute a result once: the second one waits for the
first and then reads its file. The folder is capped in size; the least recently used files go first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metrics.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
#: How long a worker waits for another one computing the same result before computing it itself.
LOCK_WAIT_S = 300.0
#: Checks of the folder size happen every this many writes (a scan of the folder is not free).
PRUNE_EVERY = 32

_PLAIN = (str, int, float, bool, complex, bytes, date, datetime, type(None), np.generic, np.ndarray,
          pd.DataFrame, pd.Series, pd.Index, pd.Timestamp, pd.Timedelta)


def default_cache_dir() -> str:
    """``<system temp folder>/custintel-cache-<user id>``: private to the user running the server."""
    return str(Path(tempfile.gettempdir()) / f"custintel-cache-{os.getuid()}")


def is_plain_data(value: Any, depth: int = 0) -> bool:
    """True for values made only of numbers, text, dates, arrays, frames and containers/dataclasses of
    those: the results worth sharing. Expressions, connections and anything else are kept in memory."""
    if depth > 6:
        return False
    if isinstance(value, _PLAIN) or getattr(type(value), "plain_data", False) is True:
        return True  # (result classes declare ``plain_data = True`` when all they hold pickles safely)
    if isinstance(value, list | tuple | set | frozenset):
        return all(is_plain_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(is_plain_data(k, depth + 1) and is_plain_data(v, depth + 1) for k, v in value.items())
    if is_dataclass(value) and not isinstance(value, type):
        return all(is_plain_data(getattr(value, f.name), depth + 1) for f in fields(value))
    return False


def code_version() -> str:
    """Hash of every source file of the analytics package ``metrics/``, its subpackages included: a new
    release never reads results of the old one, wherever in the package the code moved."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def data_fingerprint(settings: Settings, table_paths: dict[str, str]) -> str | None:
    """Identity of the data an engine reads: backend plus, per table, every Parquet file's path, size and
    modification time. ``None`` for object-store data, whose files cannot be listed cheaply here."""
    digest = hashlib.sha256(f"{settings.backend}|{code_version()}".encode())
    for name in sorted(table_paths):
        location = table_paths[name]
        if "://" in location:
            return None
        folder = Path(location).parent if "*" in location else None
        files = sorted(folder.glob("*.parquet")) if folder is not None else [Path(location)]
        for path in files:
            stat = path.stat()
            digest.update(f"{name}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


class SharedStore:
    """Pickled results in ``<root>/<fingerprint>/``; safe for many processes and threads."""

    def __init__(self, root: str | os.PathLike[str], fingerprint: str, max_bytes: int) -> None:
        self.root = Path(root)
        self.folder = self.root / fingerprint
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # results are business data: the server's user only
        self._writes = 0
        self.reads = 0
        self.writes = 0
        self._prune_other_fingerprints()

    # ----- keys -----------------------------------------------------------------------------------
    @staticmethod
    def key_name(key: Hashable) -> str:
        """A file name for a cache key (its repr is stable: filters, strings, numbers, tuples)."""
        return hashlib.sha256(repr(key).encode()).hexdigest()[:40]

    def _path(self, key: Hashable) -> Path:
        return self.folder / f"{self.key_name(key)}.pkl"

    # ----- reading and writing --------------------------------------------------------------------
    def get(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` when the key is stored, else ``(False, None)``. Unreadable files are dropped."""
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                value = pickle.load(handle)  # our own files, in a folder only the server's user can write
        except FileNotFoundError:
            return False, None
        except Exception:  # a damaged or foreign file: forget it and compute again
            path.unlink(missing_ok=True)
            return False, None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently *used* goes first when the folder is full
        self.reads += 1
        return True, value

    def put(self, key: Hashable, value: Any) -> bool:
        """Store a plain-data value atomically (write a temporary file, then rename). False if skipped."""
        if not is_plain_data(value):
            return False
        path = self._path(key)
        try:
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".tmp-", delete=False) as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
                tmp = handle.name
            os.replace(tmp, path)
        except OSError:  # a full or read-only disk must not break the page: the memory cache still works
            return False
        self.writes += 1
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            self.prune()
        return True

    @contextmanager
    def computing(self, key: Hashable) -> Iterator[None]:
        """Hold the key's lock across processes while computing it (waits for another holder first)."""
        lock_path = self.folder / f"{self.key_name(key)}.lock"
        try:
            handle = open(lock_path, "a+b")  # noqa: SIM115 - held open across the yield below
        except OSError:
            yield
            return
        deadline = time.monotonic() + LOCK_WAIT_S
        pause = 0.002
        locked = False
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        break  # give up waiting: computing twice is better than hanging
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
            yield
        finally:
            if locked:
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    # ----- size -----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.pkl"))

    def prune(self) -> int:
        """Delete least recently used results until the folder fits ``max_bytes``; returns files deleted."""
        entries = []
        for path in self.folder.glob("*.pkl"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        deleted = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            deleted += 1
        return deleted

    def _prune_other_fingerprints(self, older_than_s: float = 86_400.0) -> None:
        """Drop folders of other data or code versions not used for a day (they can never be read again
        unless the very same files come back)."""
        now = time.time()
        for folder in self.root.iterdir():
            if folder == self.folder or not folder.is_dir():
                continue
            try:
                if now - folder.stat().st_mtime < older_than_s:
                    continue
                for path in folder.iterdir():
                    path.unlink(missing_ok=True)
                folder.rmdir()
            except OSError:
                continue

    def clear(self) -> None:
        for path in self.folder.glob("*.pkl"):
            path.unlink(missing_ok=True)
