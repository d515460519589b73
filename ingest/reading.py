"""Reading the input: which column holds which field (explicit ``--map`` entries, a mapping file, or
recognised header spellings) and the file itself, streamed in chunks (CSV, gzip-compressed CSV or
Parquet) with a progress bar."""

from __future__ import annotations

import io
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.fields import FieldSpec
from ingest.hints import binary_file_problem, delimiter_hint
from ingest.options import ImportOptions, IngestError
from ingest.report import FileTally

# ----- column mapping -------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def parse_map_args(items: list[str] | None) -> dict[str, str]:
    """``["amount=Total", "order_date=Invoice Date"]`` → ``{"amount": "Total", ...}``."""
    mapping: dict[str, str] = {}
    for item in items or []:
        field_name, sep, column = item.partition("=")
        if not sep or not field_name.strip() or not column.strip():
            raise IngestError(f"--map expects FIELD=COLUMN, got {item!r}")
        mapping[field_name.strip()] = column.strip()
    return mapping


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML mapping file: ``{"orders": {...}, "customers": {...}, "options": {...}}``.

    A flat ``{"amount": "Total"}`` is read as the orders mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except FileNotFoundError as exc:
        raise IngestError(f"mapping file not found: {path}") from exc
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise IngestError(f"mapping file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(f"mapping file {path} must hold an object/table")
    if not {"orders", "customers", "options"} & set(data):
        data = {"orders": data}
    for key in ("orders", "customers", "options"):
        if not isinstance(data.get(key, {}), dict):
            raise IngestError(f"mapping file {path}: '{key}' must be an object/table")
    for key in ("orders", "customers"):
        for k, v in data.get(key, {}).items():
            if not isinstance(v, str):
                raise IngestError(f"mapping file {path}: {key}.{k} must be a column name (text)")
    return data


def resolve_mapping(
    columns: list[str], explicit: Mapping[str, str] | None, fields: Mapping[str, FieldSpec], what: str
) -> dict[str, str]:
    """Field → source column: explicit entries first, then recognised header spellings."""
    explicit = dict(explicit or {})
    unknown = sorted(set(explicit) - set(fields))
    if unknown:
        raise IngestError(
            f"unknown {what} field(s) in the mapping: {', '.join(unknown)}; known fields: {', '.join(fields)}"
        )
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    mapping: dict[str, str] = {}
    for name, source in explicit.items():
        if source in columns:
            mapping[name] = source
        elif _norm(source) in by_norm:
            mapping[name] = by_norm[_norm(source)]
        else:
            raise IngestError(
                f"{what} file has no column {source!r} (mapped to {name}); "
                f"its columns are: {', '.join(map(repr, columns))}"
            )
    taken = set(mapping.values())
    for name, spec in fields.items():
        if name in mapping:
            continue
        for synonym in spec.synonyms:
            column = by_norm.get(_norm(synonym))
            if column is not None and column not in taken:
                mapping[name] = column
                taken.add(column)
                break
    missing = [
        n
        for n, s in fields.items()
        if s.required and n not in mapping and not (n == "amount" and "unit_price" in mapping)
    ]
    if missing:
        hints = "; ".join(f"{n} ({fields[n].description})" for n in missing)
        raise IngestError(
            f"{what} file lacks required column(s): {hints}. Its columns are: "
            f"{', '.join(map(repr, columns))}. Map them with --map FIELD=COLUMN." + delimiter_hint(columns)
        )
    return mapping

# ----- reading files in chunks -------------------------------------------------------------------------


class _ProgressFile(io.RawIOBase):
    """A read-only file that advances a progress bar by the bytes read."""

    def __init__(self, raw, bar) -> None:
        self._raw, self._bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n and self._bar is not None:
            self._bar.update(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _progress_bar(total: int | None, unit: str, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)


def _is_parquet(path: Path) -> bool:
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _sniff_csv(path: Path, options: ImportOptions) -> tuple[list[str], str]:
    """Header names and delimiter (sniffed among , ; tab | unless given)."""
    import csv

    compression = "gzip" if path.suffix.lower() == ".gz" else None
    try:
        with path.open("rb") as fh:
            problem = binary_file_problem(path, fh.read(4096), options.encoding)
        if problem:
            raise IngestError(problem)
        with pa.input_stream(str(path), compression=compression) as stream:
            head = stream.read(256 * 1024).decode(options.encoding, errors="replace")
    except (OSError, LookupError) as exc:
        raise IngestError(f"cannot read {path}: {exc}") from exc
    head = head.lstrip("\ufeff")
    if not head.strip():
        raise IngestError(f"{path} is empty")
    delimiter = options.delimiter
    if delimiter is None:
        sample = "\n".join(head.splitlines()[:50])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    header = next(csv.reader(io.StringIO(head), delimiter=delimiter))
    header = [h.strip() for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise IngestError(f"{path} has duplicate column names: {', '.join(map(repr, dupes))}")
    return header, delimiter


@dataclass
class _Source:
    columns: list[str]
    chunks: Iterator[pd.DataFrame]


def _read_chunks(path: Path, options: ImportOptions, tally: FileTally, desc: str) -> _Source:
    """Chunks of the file as pandas frames (CSV cells as text; Parquet columns keep their types)."""
    if not path.exists():
        raise IngestError(f"file not found: {path}")
    if _is_parquet(path):
        try:
            dataset = pq.ParquetFile(str(path)) if path.is_file() else None
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(f"{path} is not a readable Parquet file: {exc}") from exc
        if dataset is None:
            import pyarrow.dataset as ds

            data = ds.dataset(str(path), format="parquet")
            columns, total, batches = data.schema.names, data.count_rows(), data.to_batches(batch_size=200_000)
        else:
            columns, total = dataset.schema_arrow.names, dataset.metadata.num_rows
            batches = dataset.iter_batches(batch_size=200_000)

        def parquet_chunks() -> Iterator[pd.DataFrame]:
            bar = _progress_bar(total, "rows", desc, options.progress)
            try:
                for batch in batches:
                    frame = batch.to_pandas()
                    if bar is not None:
                        bar.update(len(frame))
                    yield frame
            finally:
                if bar is not None:
                    bar.close()

        return _Source(list(columns), parquet_chunks())

    header, delimiter = _sniff_csv(path, options)

    def on_invalid(row) -> str:
        text = (row.text or "")[:120]
        tally.rows_read += 1
        tally.reject("malformed_row", 1, [{"row": row.number, "text": text}])
        return "skip"

    def csv_chunks() -> Iterator[pd.DataFrame]:
        gz = path.suffix.lower() == ".gz"
        bar = _progress_bar(None if gz else path.stat().st_size, "rows" if gz else "B", desc, options.progress)
        raw = pa.input_stream(str(path), compression="gzip") if gz else _ProgressFile(path.open("rb"), bar)
        try:
            reader = pacsv.open_csv(
                raw,
                read_options=pacsv.ReadOptions(
                    column_names=header, skip_rows=1, block_size=options.block_size, encoding=options.encoding
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                frame = batch.to_pandas()
                if gz and bar is not None:
                    bar.update(len(frame))
                yield frame
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise IngestError(f"cannot parse {path} as CSV ({exc}); check --delimiter and --encoding") from exc
        finally:
            raw.close()
            if bar is not None:
                bar.close()

    return _Source(header, csv_chunks())

