"""How to read the files (:class:`ImportOptions`) and the two ways an import stops (:class:`IngestError`,
:class:`ImportRefused`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.report import ImportReport


class IngestError(ValueError):
    """The input cannot be imported as given (unreadable file, bad mapping, missing required column)."""


class ImportRefused(IngestError):
    """Too many rows were rejected (or none were left): nothing was written. ``report`` says why."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ImportOptions:
    """How to read the files.

    ``dayfirst`` reads ``01/02/2024`` as 1 February (default: 2 January). ``decimal`` is the decimal
    mark of amounts (``","`` reads ``1.234,50`` and ``€12,50``). ``grain="line"`` aggregates rows that
    share an order id into one order; ``grain="order"`` treats a repeated order id as a duplicate row.
    ``amount_kind="net"`` means the amount is what was paid (gross = amount + discount); ``"gross"``
    means it is before the discount. ``max_bad_share`` is the largest share of rejected rows that is
    repaired-and-warned rather than refused. ``today`` (default: the current date) decides what is a
    future date.
    """

    dayfirst: bool = False
    decimal: str = "."
    delimiter: str | None = None
    encoding: str = "utf-8"
    grain: str = "line"
    amount_kind: str = "net"
    max_bad_share: float = 0.05
    today: date | None = None
    min_date: date = date(1990, 1, 1)
    block_size: int = 8 << 20
    progress: bool = True

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise IngestError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if self.grain not in ("line", "order"):
            raise IngestError(f"grain must be 'line' or 'order', got {self.grain!r}")
        if self.amount_kind not in ("net", "gross"):
            raise IngestError(f"amount kind must be 'net' or 'gross', got {self.amount_kind!r}")
        if not 0 <= self.max_bad_share <= 1:
            raise IngestError(f"max bad share must be between 0 and 1, got {self.max_bad_share}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise IngestError(f"delimiter must be one character, got {self.delimiter!r}")

    @property
    def today_date(self) -> date:
        return self.today or date.today()

