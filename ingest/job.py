"""The import job: :func:`import_data` runs the phases in order inside :func:`atomic_output`, which
holds the lock on the data folder, builds into a temporary sibling and swaps it into place only on
success (a refused, failed or killed import leaves the previous data untouched)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import secrets
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

from ingest.build import _build
from ingest.cleaning import _clean_customers, _clean_orders, _stage
from ingest.fields import CUSTOMER_FIELDS, DEFAULTS, ORDER_FIELDS
from ingest.hints import storage_problem, value_hints
from ingest.options import ImportOptions, ImportRefused, IngestError
from ingest.parsing import DateParser
from ingest.reading import _read_chunks, resolve_mapping
from ingest.report import FileTally, ImportReport, report_base

# ----- atomic replacement of the output folder -------------------------------------------------------

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False when unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), _RENAME_EXCHANGE)
    return result == 0


def replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` (which may not exist); the old content is deleted afterwards.

    With an existing target the two folders are exchanged atomically where the OS allows it (Linux),
    else by two renames; either way readers never see a half-written folder.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old data
        return
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(target: Path) -> list[Path]:
    """Remove temporary folders left by killed imports into ``target`` (their process is gone)."""
    removed = []
    for candidate in target.parent.glob(f".{target.name}.import-*"):
        match = re.fullmatch(rf"\.{re.escape(target.name)}\.import-(\d+)-[0-9a-f]+", candidate.name)
        if match and candidate.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    for candidate in target.parent.glob(f".{target.name}.old-*"):
        if candidate.is_dir():
            if target.exists():
                shutil.rmtree(candidate, ignore_errors=True)
            else:  # killed between the two renames of the fallback swap: restore the old data
                os.rename(candidate, target)
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def _folder_lock(target: Path) -> Iterator[None]:
    """An exclusive lock on the folder that holds ``target`` (no lock file is created, so none is left
    behind); raises BlockingIOError when another process holds it."""
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def clean_leftovers(target: str | Path) -> list[Path]:
    """Remove what killed imports into ``target`` left behind (temporary folders of dead processes, lock
    files of earlier versions); does nothing while an import into that folder is running. Every command
    of the CLI calls it on its data folder first."""
    target = Path(target).resolve()
    if not target.parent.is_dir():
        return []
    try:
        with _folder_lock(target):
            removed = clean_stale_temporaries(target)
            old_lock = target.parent / f".{target.name}.lock"
            if old_lock.is_file():
                old_lock.unlink()
                removed.append(old_lock)
            return removed
    except BlockingIOError:
        return []
    except OSError:  # a read-only or vanished parent: nothing to clean that we could clean
        return []


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``target``; on success swap it into place, on error delete it.

    Holds an exclusive lock on the parent folder so two imports/generations into it cannot interleave.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_folder_lock(target))
        except BlockingIOError as exc:
            raise IngestError(f"another import or generation into {target.parent} is running") from exc
        clean_stale_temporaries(target)
        temp = target.parent / f".{target.name}.import-{os.getpid()}-{secrets.token_hex(4)}"
        temp.mkdir()
        try:
            yield temp
            replace_folder(temp, target)
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)


# ----- the import ----------------------------------------------------------------------------------------


def _finish_tables(out: Path) -> None:
    """Remove the staging area from a built folder."""
    shutil.rmtree(out / "_staging", ignore_errors=True)


def _check_contract(folder: Path, today: date) -> None:
    from metrics.engine import Engine
    from metrics.settings import Settings

    engine = Engine(Settings(data_dir=str(folder)), validate=True, today=today)
    engine.con.disconnect()


def import_data(
    orders_path: str | Path,
    out_dir: str | Path,
    *,
    customers_path: str | Path | None = None,
    order_map: Mapping[str, str] | None = None,
    customer_map: Mapping[str, str] | None = None,
    options: ImportOptions | None = None,
    report_path: str | Path | None = None,
) -> ImportReport:
    """Import a transactions file (and optionally a customer file) into ``out_dir``.

    Returns the report of a successful import. Raises :class:`ImportRefused` (with ``.report``) when
    the share of rejected rows exceeds ``options.max_bad_share`` or nothing usable is left, and
    :class:`IngestError` for unusable input (missing file or required column, bad mapping). In every
    case ``out_dir`` is either fully replaced or left exactly as it was, and the report is written to
    ``report_path`` (default :func:`report_base`) as ``.json`` and ``.md``.
    """
    options = options or ImportOptions()
    started = time.perf_counter()
    orders_path = Path(orders_path)
    out = Path(out_dir).resolve()
    report = ImportReport(output=str(out), orders_file=FileTally(str(orders_path)), max_bad_share=options.max_bad_share)
    if customers_path is not None:
        report.customers_file = FileTally(str(customers_path))
    base = Path(report_path) if report_path else report_base(out)
    hints: Counter = Counter()
    try:
        with atomic_output(out) as temp:
            staging = temp / "_staging"
            source = _read_chunks(orders_path, options, report.orders_file, "orders")
            mapping = resolve_mapping(source.columns, order_map, ORDER_FIELDS, "orders")
            report.orders_file.mapping = mapping
            dates = DateParser(options.dayfirst)
            _stage(
                source,
                mapping,
                report.orders_file,
                staging,
                "lines",
                lambda chunk: _clean_orders(chunk, options, dates, hints),
            )
            if customers_path is not None:
                assert report.customers_file is not None
                csource = _read_chunks(Path(customers_path), options, report.customers_file, "customers")
                cmapping = resolve_mapping(csource.columns, customer_map, CUSTOMER_FIELDS, "customers")
                report.customers_file.mapping = cmapping
                _stage(
                    csource,
                    cmapping,
                    report.customers_file,
                    staging,
                    "customers",
                    lambda chunk: _clean_customers(chunk, options, dates),
                )
            report.defaults_used = _defaults_used(mapping, report.customers_file)
            fixes = value_hints(hints, options)
            report.notes.extend(fixes)
            _build(staging, temp, options, report, customers_path is not None)
            _finish_tables(temp)
            _refuse_if_bad(report, fixes)
            _check_contract(temp, options.today_date)
            report.status = "imported"
            report.message = f"Imported into {out}."
    except ImportRefused as exc:
        report.status, report.message = "refused", str(exc)
        raise
    except IngestError as exc:
        report.status, report.message = "failed", str(exc)
        raise
    except Exception as exc:
        problem = storage_problem(exc, out)
        if problem is None:
            report.status, report.message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        report.status, report.message = "failed", problem
        raise IngestError(problem) from exc
    finally:
        report.seconds = time.perf_counter() - started
        with contextlib.suppress(OSError):
            report.write(base)
    return report


def _refuse_if_bad(report: ImportReport, fixes: list[str]) -> None:
    for tally in (report.orders_file, report.customers_file):
        if tally is None:
            continue
        if tally.rows_read == 0:
            raise ImportRefused(f"{tally.path} has no data rows; nothing was written.", report)
        if tally.bad_share > report.max_bad_share:
            raise ImportRefused(
                f"{tally.rows_rejected:,} of {tally.rows_read:,} rows of {tally.path} were rejected "
                f"({tally.bad_share:.2%}), above the limit of {report.max_bad_share:.1%}; nothing was "
                "written and the previous data is unchanged. Fix the file or raise --max-bad-share."
                + "".join(f" Hint: {fix}" for fix in fixes),
                report,
            )
    if not report.tables.get("fact_orders"):
        raise ImportRefused(
            "no valid orders are left after the checks; nothing was written." + "".join(f" Hint: {f}" for f in fixes),
            report,
        )


def _defaults_used(mapping: Mapping[str, str], customers: FileTally | None) -> list[str]:
    given = set(mapping) | (set(customers.mapping) if customers else set())
    out = []
    for name, text in DEFAULTS.items():
        fields = {f.strip() for f in name.replace("/", " ").split()}
        if name == "fact_engagement" or not fields & given:
            out.append(f"{name}: {text}")
    return out

