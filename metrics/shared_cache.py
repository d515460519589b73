"""A result cache on disk, shared by every process that serves the same data.

Under gunicorn each worker is a separate process with its own in-memory cache, so without this tier a
filter state computed by one worker is computed again by the next worker that gets a request for it,
and every restart starts cold. Results that are plain data (frames, dicts, lists, numbers, fitted
model parameters) are stored in one folder per *generation* (:func:`store_name`: the data's fingerprint,
the backend and the source code of ``metrics/``, subpackages included), so new data or new code never read
old results. Ibis expressions (materialised marts) are never stored: they only live in memory.

The cache never runs code from a file it did not write:

- the folder (and its root) must be owned by the server's user with no group or other write access, else it
  is refused with a logged warning and the server runs without sharing;
- every file is signed with an HMAC keyed by a secret that only that user can read (``<root>/.key``, mode
  0600); a file whose signature does not match is deleted unread, so a planted pickle is never loaded.

A per-key file lock makes concurrent workers compute a result once: the second one waits for the first and
then reads its file; the lock file is removed when the result is stored. The folder is capped in size; the
least recently used files go first. A full disk pauses writing for a while, a deleted folder is created
again, and left-over temporary and lock files are pruned: sharing recovers without a restart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import stat
import tempfile
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LOG = logging.getLogger("custintel.cache")
PACKAGE_DIR = Path(__file__).resolve().parent
#: How long a worker waits for another one computing the same result before computing it itself.
LOCK_WAIT_S = 300.0
#: Checks of the folder size happen every this many writes (a scan of the folder is not free).
PRUNE_EVERY = 32
#: After a failed write (disk full, read-only), writing pauses this long; reading goes on.
WRITE_PAUSE_S = 30.0
#: Temporary and lock files older than this are left-overs of a killed process.
STALE_S = 2 * LOCK_WAIT_S
#: First bytes of every result file: format name and version.
MAGIC = b"CIRES1"
_SIGNATURE_BYTES = hashlib.sha256().digest_size

_PLAIN = (str, int, float, bool, complex, bytes, date, datetime, type(None), np.generic, np.ndarray,
          pd.DataFrame, pd.Series, pd.Index, pd.Timestamp, pd.Timedelta)


class CacheFolderRefused(OSError):
    """The cache folder is not private to the server's user (owner, permissions or a symlink)."""


class Stored(Enum):
    """What :meth:`SharedStore.put` did."""

    STORED = "stored"
    NOT_PLAIN = "not plain data"  # never worth trying again for this kind of result
    FAILED = "failed"  # the disk refused (full, read-only, deleted): try again later


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/custintel`` (``~/.cache/custintel``): inside the user's home, where no other user
    can create it first. Without a writable home: ``<temp>/custintel-cache-<uid>`` (checked like any other)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    with contextlib.suppress(OSError):
        Path(base).mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.access(base, os.W_OK):
            return str(Path(base) / "custintel")
    return str(Path(tempfile.gettempdir()) / f"custintel-cache-{os.geteuid()}")


def private_folder(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check the existing one: a real folder owned by this user with no
    group/other write access. Raises :class:`CacheFolderRefused` otherwise."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise CacheFolderRefused(f"cache folder {path} is not a folder (a symlink or a file)")
    if info.st_uid != os.geteuid():
        raise CacheFolderRefused(f"cache folder {path} belongs to user id {info.st_uid}, not to this server's "
                                 f"user ({os.geteuid()})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheFolderRefused(f"cache folder {path} is writable by other users (mode "
                                 f"{stat.S_IMODE(info.st_mode):o})")
    return path


def _secret(root: Path) -> bytes:
    """The signing key in ``<root>/.key``: created once (0600) and readable by this user alone."""
    path = root / ".key"
    if not path.exists():
        tmp = root / f".key-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # another process may have won the race: its key is the key
        tmp.unlink(missing_ok=True)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not stat.S_ISREG(info.st_mode):
            raise CacheFolderRefused(f"cache key {path} is not a private file of this server's user")
        key = handle.read()
    if len(key) < 32:
        raise CacheFolderRefused(f"cache key {path} is damaged")
    return key


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


def store_name(backend: str, generation: str) -> str:
    """The folder name of one generation's results: the data's fingerprint (see :mod:`metrics.generation`),
    the backend and the analytics code."""
    return hashlib.sha256(f"{backend}|{code_version()}|{generation}".encode()).hexdigest()[:24]


class SharedStore:
    """Signed results in ``<root>/<name>/``; safe for many processes and threads (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str], name: str, max_bytes: int) -> None:
        self.root = Path(root)
        self.folder = self.root / name
        self.max_bytes = max_bytes
        self.root.parent.mkdir(parents=True, exist_ok=True)
        private_folder(self.root)
        self._key = _secret(self.root)
        private_folder(self.folder)
        self._writes = 0
        self._paused_until = 0.0
        self.reads = 0
        self.writes = 0
        self.failed_writes = 0
        self.rejected = 0
        self._prune_other_generations()

    @classmethod
    def open(cls, root: str | os.PathLike[str], name: str, max_bytes: int) -> SharedStore | None:
        """The store, or None (logged) when its folder is refused or cannot be created: the server then
        runs without sharing, never on a folder another user could write."""
        try:
            return cls(root, name, max_bytes)
        except CacheFolderRefused as exc:
            LOG.warning("shared result cache off: %s; set CUSTINTEL_CACHE_DIR to a folder of your own", exc)
        except OSError as exc:
            LOG.warning("shared result cache off: %s", exc)
        return None

    # ----- keys -----------------------------------------------------------------------------------
    @staticmethod
    def key_name(key: Hashable) -> str:
        """A file name for a cache key (its repr is stable: filters, strings, numbers, tuples)."""
        return hashlib.sha256(repr(key).encode()).hexdigest()[:40]

    def _path(self, key: Hashable) -> Path:
        return self.folder / f"{self.key_name(key)}.pkl"

    def _sign(self, name: str, payload: bytes) -> bytes:
        # the file name is signed too, so a valid file copied under another key's name is refused
        return hmac.new(self._key, name.encode() + b"\0" + payload, hashlib.sha256).digest()

    # ----- reading and writing --------------------------------------------------------------------
    def get(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` when the key is stored, else ``(False, None)``. A file that is damaged or not
        signed with this store's key is deleted without being unpickled."""
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return False, None
        except OSError:
            return False, None
        head = len(MAGIC) + _SIGNATURE_BYTES
        signature, payload = blob[len(MAGIC):head], blob[head:]
        if not blob.startswith(MAGIC) or not hmac.compare_digest(signature, self._sign(path.name, payload)):
            self.rejected += 1
            path.unlink(missing_ok=True)
            return False, None
        try:
            value = pickle.loads(payload)
        except Exception:
            path.unlink(missing_ok=True)
            return False, None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently *used* goes first when the folder is full
        self.reads += 1
        return True, value

    def put(self, key: Hashable, value: Any) -> Stored:
        """Store a plain-data value atomically (a temporary file, then a rename)."""
        if not is_plain_data(value):
            return Stored.NOT_PLAIN
        if time.monotonic() < self._paused_until:
            return Stored.FAILED
        path = self._path(key)
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        blob = MAGIC + self._sign(path.name, payload) + payload
        for attempt in (1, 2):
            try:
                self._write(path, blob)
                break
            except FileNotFoundError:  # the folder was deleted: create it again, once
                if attempt == 2 or not self._recreate():
                    return self._failed()
            except OSError:  # full or read-only disk: the memory cache still works; try again later
                return self._failed()
        self.writes += 1
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            self.prune()
        return Stored.STORED

    def _write(self, path: Path, blob: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # never leave a half-written file behind
            raise

    def _failed(self) -> Stored:
        self.failed_writes += 1
        self._paused_until = time.monotonic() + WRITE_PAUSE_S
        return Stored.FAILED

    def _recreate(self) -> bool:
        try:
            private_folder(self.root)
            private_folder(self.folder)
            return True
        except OSError as exc:
            LOG.warning("shared result cache: cannot create %s again: %s", self.folder, exc)
            return False

    @contextmanager
    def computing(self, key: Hashable) -> Iterator[None]:
        """Hold the key's lock across processes while computing it (waits for another holder first).
        The lock file goes once the block is done: the result is stored by then, so a process that opens
        the path afresh finds the result before it needs the lock."""
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
                with contextlib.suppress(OSError):
                    lock_path.unlink()
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    # ----- size -----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.pkl"))

    def prune(self) -> int:
        """Delete least recently used results until the folder fits ``max_bytes``, and temporary and lock
        files left by killed processes; returns the results deleted."""
        entries = []
        now = time.time()
        try:
            paths = list(self.folder.iterdir())
        except OSError:
            return 0
        for path in paths:
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            if path.name.startswith(".tmp-") or path.suffix == ".lock":
                if now - info.st_mtime > STALE_S:
                    path.unlink(missing_ok=True)
            elif path.suffix == ".pkl":
                entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        deleted = 0
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            deleted += 1
        return deleted

    def _prune_other_generations(self, older_than_s: float = 86_400.0) -> None:
        """Drop folders of other data or code versions not used for a day (they can never be read again
        unless the very same files come back)."""
        now = time.time()
        for folder in self.root.iterdir():
            if folder == self.folder or not folder.is_dir() or folder.is_symlink():
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
