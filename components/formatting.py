"""Number formatting for cards, hover text and tables (display only: values are never changed)."""

from __future__ import annotations

import math

CURRENCY = "$"

#: d3-format specifiers used by AG Grid value formatters and Plotly hover text, per value kind.
D3_FORMATS: dict[str, str] = {
    "int": ",d",
    "money": "$,.2f",
    "pct": ".1%",
    "float": ",.2f",
    "float1": ",.1f",
    "score": ".2f",
}


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def fmt_int(value: object) -> str:
    """``12,345`` (rounded to a whole number); an em dash for a missing value."""
    return "—" if _missing(value) else f"{round(float(value)):,}"  # type: ignore[arg-type]


def fmt_money(value: object, *, compact: bool = False) -> str:
    """``$12,345.68``; ``compact`` gives ``$12.3K`` / ``$4.56M`` for cards."""
    if _missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    number = abs(number)
    if compact:
        for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if number >= threshold:
                return f"{sign}{CURRENCY}{number / threshold:,.2f}{suffix}"
    return f"{sign}{CURRENCY}{number:,.2f}"


def fmt_pct(value: object, digits: int = 1) -> str:
    """A share 0–1 as ``12.3 %``."""
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f} %"  # type: ignore[arg-type]


def fmt_signed_pct(value: object, digits: int = 1) -> str:
    """A relative change as ``+12.3 %`` / ``-4.0 %``."""
    return "—" if _missing(value) else f"{float(value) * 100:+.{digits}f} %"  # type: ignore[arg-type]


def fmt_number(value: object, digits: int = 2) -> str:
    return "—" if _missing(value) else f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def format_value(value: object, fmt: str, *, compact: bool = False) -> str:
    """Format by kind: ``int``, ``money``, ``pct`` or anything else as a plain number."""
    if fmt == "int":
        return fmt_int(value)
    if fmt == "money":
        return fmt_money(value, compact=compact)
    if fmt == "pct":
        return fmt_pct(value)
    return fmt_number(value)
