"""Import your own transactions into the star schema of :mod:`metrics.schema` ("bring your own data").

Input: one transactions file (CSV, optionally gzip-compressed, or Parquet) with one row per order *or*
per order line, plus an optional customer file. Required columns: customer id, order date and amount (or
unit price, with an optional quantity). Optional: order id, quantity, unit price, discount, product,
category, country, Prime flag, returned / cancelled flags or a status text, channel, payment method,
promo flag. Column names are found automatically from common spellings or mapped explicitly
(``{"amount": "Total"}``; the CLI's ``--map amount=Total`` or a JSON/TOML mapping file).

How it works, in two passes so files larger than memory import in bounded memory:

1. *Parse and check each row* (streamed in chunks, with a progress bar): dates, numbers and yes/no
   flags in common formats are parsed; a row that cannot be used is **rejected** and one that can be
   fixed is **repaired**, each counted by reason with a few sample rows; guest lines (no customer id) are
   **set aside** and cancellation lines (``C`` invoices) flagged, neither counting as bad rows. Clean rows
   go to a staging Parquet folder.
2. *Build the tables* with Ibis on an embedded DuckDB over the staging folder: lines with the same order
   id become one order, duplicate and conflicting order ids are resolved, implausible amounts rejected,
   cancellation lines netted against the customer's sales (:mod:`ingest.netting`), and the dimensions are derived
   (``dim_date`` over the data's range, ``dim_product`` from product/category or one "Unknown product",
   ``dim_customer`` from the customer file and/or the orders, an empty ``fact_engagement``).

The result is written to a temporary sibling of the output folder, checked against the data contract,
and swapped into place with a rename only if the share of rejected rows is within ``max_bad_share``.
A refused or failed import leaves the previous data folder untouched. A report (JSON and Markdown) is
written next to the output folder either way.

Defaults for what a file does not say are listed in :data:`DEFAULTS` (and in docs/own-data.md).

Where things are:

- :mod:`ingest.fields`: the fields a file can provide, the defaults, the reject and repair reasons
- :mod:`ingest.options`: :class:`ImportOptions` and the errors (:class:`IngestError`, :class:`ImportRefused`)
- :mod:`ingest.reading`: column mapping (``--map``, mapping files, header spellings) and reading files in chunks
- :mod:`ingest.parsing`: numbers, dates, yes/no flags and the stable integer ids
- :mod:`ingest.cleaning`: pass 1, the per-row checks and repairs into the staging folder
- :mod:`ingest.build`: pass 2, the tables built with Ibis on DuckDB and written as Parquet
- :mod:`ingest.netting`: cancellation lines netted against the customer's sales (no contract change)
- :mod:`ingest.hints`: messages that name the fix (file type, delimiter, decimal mark, disk full, permissions)
- :mod:`ingest.report`: the report (counts by reason, samples, JSON and Markdown)
- :mod:`ingest.job`: :func:`import_data`, the lock and the atomic swap of the data folder, :func:`clean_leftovers`
"""

from __future__ import annotations

from ingest.fields import CUSTOMER_FIELDS, DEFAULTS, ORDER_FIELDS, REJECT_REASONS, REPAIR_REASONS, SET_ASIDE_REASONS
from ingest.job import atomic_output, clean_leftovers, import_data, replace_folder
from ingest.options import ImportOptions, ImportRefused, IngestError
from ingest.parsing import HASHED_ID_BASE, DateParser, parse_flags, parse_numbers, surrogate_ids
from ingest.reading import load_mapping_file, parse_map_args, resolve_mapping
from ingest.report import ImportReport, report_base

__all__ = [
    "CUSTOMER_FIELDS",
    "DEFAULTS",
    "HASHED_ID_BASE",
    "ORDER_FIELDS",
    "REJECT_REASONS",
    "REPAIR_REASONS",
    "SET_ASIDE_REASONS",
    "DateParser",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "IngestError",
    "atomic_output",
    "clean_leftovers",
    "import_data",
    "load_mapping_file",
    "parse_flags",
    "parse_map_args",
    "parse_numbers",
    "replace_folder",
    "report_base",
    "resolve_mapping",
    "surrogate_ids",
]
