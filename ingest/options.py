"""How to read the files (:class:`ImportOptions`) and the two ways an import stops (:class:`IngestError`,
:class:`ImportRefused`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.report import ImportReport


#: How cancellation lines are recognised (see :class:`ImportOptions`).
CANCELLATION_RULES = ("prefix", "negative", "none")


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

    Cancellation invoices: with ``cancellations="prefix"`` (default) a line whose order id starts with
    ``cancel_prefix`` followed by a digit (``C536379``) cancels earlier sales; with ``"negative"`` every
    line with a negative quantity or amount does; ``"none"`` treats such lines as bad rows. Cancellation
    lines are netted against the customer's sales (:mod:`ingest.netting`), never counted as orders.

    Plausibility: a row whose amount is above ``max_amount`` is rejected, and so is an order (or a
    cancellation line) above ``max_amount_factor`` times the median order amount.
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
    cancellations: str = "prefix"
    cancel_prefix: str = "C"
    max_amount: float = 1e9
    max_amount_factor: float = 1000.0
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
        if self.cancellations not in CANCELLATION_RULES:
            raise IngestError(
                f"cancellations must be one of {', '.join(CANCELLATION_RULES)}, got {self.cancellations!r}"
            )
        if self.cancellations == "prefix" and not self.cancel_prefix.strip():
            raise IngestError("the cancellation prefix must not be empty (use cancellations 'none' instead)")
        if not self.max_amount > 0 or not self.max_amount_factor > 1:
            raise IngestError(
                f"max amount must be above 0 and max amount factor above 1, got {self.max_amount} "
                f"and {self.max_amount_factor}"
            )
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise IngestError(f"delimiter must be one character, got {self.delimiter!r}")

    @property
    def today_date(self) -> date:
        return self.today or date.today()

