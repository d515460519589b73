"""One generation of the data: the exact Parquet files an engine reads, held open for its whole life.

An import swaps the data folder while the server runs. An engine that resolved ``<table>/*.parquet`` again
on every query would mix generations: results computed once per engine from the old files (each
customer's first order, the whole-history month table) next to queries reading the new ones — a state first
asked after a swap showed 0 orders. So an engine opens every file of every table once (a :class:`Snapshot`)
and reads them through those open descriptors: what it serves is one generation, and requests still
running when an import deletes the old files finish on them (an open file stays readable after it is
unlinked). The snapshot's :attr:`~Snapshot.fingerprint` names the generation; :func:`folder_fingerprint`
names what the folder holds now (a ``stat`` per file), and the engine's owner opens a new engine when the
two differ.

A file that is not readable Parquet fails the snapshot with a :class:`DataFileError` naming the table and
the file, before any query runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from metrics.contract import ContractError

#: Where this process can reopen one of its open files by number (Linux). Without it, files are read by path.
FD_DIR = Path("/proc/self/fd")
#: How often the folder is re-listed when a swap happened while the files were being opened.
OPEN_ATTEMPTS = 5


class DataNotFoundError(FileNotFoundError):
    """The data folder or one of its tables does not exist."""

    def __init__(self, message: str, table: str | None = None) -> None:
        super().__init__(message)
        self.table = table


class DataFileError(ValueError):
    """A data file cannot be read as Parquet (truncated, not Parquet, unreadable)."""

    def __init__(self, table: str, path: str, problem: str) -> None:
        self.table, self.path, self.problem = table, path, problem
        super().__init__(f"{table}: file {path} {problem}")


def is_data_error(exc: BaseException) -> bool:
    """True for errors that come from the data rather than from the code: missing or unreadable files,
    contract violations, and the query engine's read errors. Pages show these as a message."""
    return isinstance(exc, DataNotFoundError | DataFileError | ContractError | duckdb.IOException
                      | duckdb.InvalidInputException)


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
        "generate data with `custintel generate` or import your own with `custintel import`", table=name)


def table_files(data_dir: str, name: str) -> list[Path]:
    """The Parquet files of a local table, sorted; a table folder without any is an error."""
    location = table_location(data_dir, name)
    if "*" not in location:
        return [Path(location)]
    files = sorted(Path(location).parent.glob("*.parquet"))
    if not files:
        raise DataNotFoundError(f"table {name}: folder {Path(location).parent} holds no .parquet file", table=name)
    return files


def _file_id(name: str, path: Path, stat: os.stat_result) -> str:
    return f"{name}|{path}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}\n"


def _digest(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest()[:24]


def folder_fingerprint(data_dir: str, names: Iterable[str]) -> str | None:
    """What the data folder holds now: path, size, modification time and inode of every file (a ``stat``
    each, no reading). ``None`` for object-store data. Raises :class:`DataNotFoundError` for a missing table."""
    if "://" in data_dir:
        return None
    lines = []
    for name in sorted(names):
        for path in table_files(data_dir, name):
            try:
                lines.append(_file_id(name, path, path.stat()))
            except FileNotFoundError:  # deleted between listing and stat: a swap is under way
                lines.append(f"{name}|{path}|gone\n")
    return _digest(lines)


@dataclass
class Snapshot:
    """The files of one generation: where the backend reads each table, and the descriptors held open."""

    locations: dict[str, list[str]]
    fingerprint: str | None
    _fds: dict[str, str]  # "/proc/self/fd/N" -> the file's path, for messages

    @classmethod
    def open(cls, data_dir: str, names: Iterable[str], *, hold: bool = True) -> Snapshot:
        """Open every file of every table (``hold``: read them through the open descriptors; off for a
        backend in another process, such as Spark's JVM, which reads by path). Each file's Parquet footer
        is read, so a truncated or foreign file fails here, naming it."""
        names = sorted(names)
        if "://" in data_dir:
            return cls({n: [table_location(data_dir, n)] for n in names}, None, {})
        hold = hold and FD_DIR.is_dir()
        for _ in range(OPEN_ATTEMPTS):
            snapshot = cls._open_once(data_dir, names, hold)
            if snapshot.fingerprint == folder_fingerprint(data_dir, names):
                return snapshot
            snapshot.close()  # the folder was swapped while we opened it: open the new one
        raise DataNotFoundError(f"the data in {data_dir} kept changing while it was being opened; try again")

    @classmethod
    def _open_once(cls, data_dir: str, names: list[str], hold: bool) -> Snapshot:
        locations: dict[str, list[str]] = {}
        fds: dict[str, str] = {}
        lines: list[str] = []
        snapshot = cls(locations, None, fds)
        try:
            for name in names:
                locations[name] = []
                for path in table_files(data_dir, name):
                    try:
                        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                    except FileNotFoundError:
                        lines.append(f"{name}|{path}|gone\n")  # a swap is under way: the caller retries
                        continue
                    except OSError as exc:
                        raise DataFileError(name, str(path), f"cannot be opened ({exc.strerror})") from exc
                    where = str(FD_DIR / str(fd))
                    fds[where] = str(path)
                    _check_parquet(name, str(path), where)
                    lines.append(_file_id(name, path, os.fstat(fd)))
                    locations[name].append(where if hold else str(path))
        except BaseException:
            snapshot.close()
            raise
        if not hold:
            snapshot.close()  # the descriptors only served the footer check and the fingerprint
        snapshot.fingerprint = _digest(lines)
        return snapshot

    def describe(self, text: str) -> str:
        """``text`` (an error message) with descriptor paths replaced by the files they stand for."""
        return re.sub(r"/proc/self/fd/\d+", lambda m: self._fds.get(m.group(0), m.group(0)), text)

    def close(self) -> None:
        """Close the descriptors (the engine is gone; an import's deleted files are freed now)."""
        for where in list(self._fds):
            with contextlib.suppress(OSError, ValueError):
                os.close(int(where.rsplit("/", 1)[1]))
        self._fds.clear()


def _check_parquet(table: str, path: str, where: str) -> None:
    """Read the file's footer: the cheapest check that it is whole, readable Parquet."""
    import pyarrow.parquet as pq  # pyarrow comes with the query engine's Arrow support

    try:
        with open(where, "rb") as handle:
            pq.ParquetFile(handle).metadata  # noqa: B018 - reading the footer is the check
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise DataFileError(table, path, f"is not readable Parquet ({type(exc).__name__}: {exc})"[:300]) from exc
