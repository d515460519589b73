"""Hints that name the fix for the usual mistakes: a file that is not CSV or Parquet, a wrong delimiter,
decimal commas without ``--decimal ,``, dates in the other day/month order, and a full disk or a
folder without write permission (one line instead of a traceback)."""

from __future__ import annotations

import errno
from collections import Counter
from pathlib import Path

from ingest.options import ImportOptions

_DELIMITERS = {",": ",", ";": ";", "\t": "tab", "|": "|"}

#: Magic numbers of files people export by mistake, with the fix.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook: save the sheet as CSV (or unzip it) and import that"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook: save the sheet as CSV and import that"),
    (b"\x1f\x8b", "gzip-compressed: name it .csv.gz so it is read as compressed CSV"),
    (b"%PDF", "a PDF document: export the data as CSV or Parquet instead"),
)


def binary_file_problem(path: Path, head: bytes, encoding: str) -> str | None:
    """Why the first bytes of ``path`` are not a text CSV (None when they look like text)."""
    if path.suffix.lower() == ".gz":
        return None  # compressed bytes: read as gzip
    for magic, fix in _MAGIC:
        if head.startswith(magic):
            return f"{path} is not a CSV or Parquet file: it is {fix}"
    wide = encoding.lower().replace("-", "").startswith(("utf16", "utf32"))  # text with zero bytes
    if b"\x00" in head[:4096] and not wide and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (f"{path} is not a CSV or Parquet file (it holds binary data); export the data as CSV "
                "(.csv, .csv.gz) or Parquet and import that")
    return None


def delimiter_hint(columns: list[str]) -> str:
    """When the header was read as one column that holds another delimiter, which ``--delimiter`` to pass."""
    if len(columns) != 1:
        return ""
    counts = {d: columns[0].count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if not counts[best]:
        return ""
    return (f" The header was read as a single column, but it holds {counts[best]} {_DELIMITERS[best]!r} "
            f"characters: the file seems to use {_DELIMITERS[best]!r} as delimiter; pass "
            f"--delimiter {_DELIMITERS[best]!r}.")


def value_hints(hints: Counter, options: ImportOptions) -> list[str]:
    """Notes on rejected values that another option would read (counted while cleaning)."""
    notes = []
    if hints["other_date_order"]:
        flag = "without --dayfirst" if options.dayfirst else "with --dayfirst"
        notes.append(f"{hints['other_date_order']:,} unreadable dates would be read {flag}.")
    if hints["comma_decimal"]:
        notes.append(f"{hints['comma_decimal']:,} unreadable amounts would be read with --decimal , "
                     "(a decimal comma, as in 12,50).")
    return notes


_STORAGE = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
}


def storage_problem(exc: BaseException, out: Path) -> str | None:
    """One line for a full disk or missing write permission while importing into ``out`` (else None).

    DuckDB reports a full disk as its own IOException, so its message is checked too."""
    reason = _STORAGE.get(getattr(exc, "errno", None) or -1)
    if reason is None and "No space left on device" in str(exc):
        reason = _STORAGE[errno.ENOSPC]
    elif reason is None and "Permission denied" in str(exc):
        reason = _STORAGE[errno.EACCES]
    if reason is None:
        return None
    where = getattr(exc, "filename", None) or out.parent
    space = reason in (_STORAGE[errno.ENOSPC], _STORAGE[errno.EDQUOT])
    fix = "free some space or import into another --data-dir" if space else "check the permissions of that path"
    return f"{reason} ({where}): {fix}; nothing was written and {out} is unchanged"

