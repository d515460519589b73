"""Period presets: named date ranges the filter bar offers next to its date picker.

Every preset is anchored on the data, not on today's date: ``first`` and ``last`` are the first and last
order dates (``Engine.date_bounds()``), so "Last 30 days" means the 30 days up to the newest order and a
shared link shows the same numbers tomorrow. A preset is only a shortcut for a start and an end date: the
URL and the result cache see the two dates, never the preset's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from metrics.selection import default_range

#: Key of the "Custom" state: shown when the selected dates equal no preset (never a range of its own).
CUSTOM = "custom"
CUSTOM_LABEL = "Custom"


@dataclass(frozen=True)
class Period:
    """A named date range, both ends included (``key`` is stable, ``label`` is what users read)."""

    key: str
    label: str
    start: date
    end: date


def _trailing_days(first: date, last: date, days: int) -> tuple[date, date]:
    return max(first, last - timedelta(days=days - 1)), last


def period_presets(first: date, last: date) -> list[Period]:
    """The periods users can pick, for data whose orders run from ``first`` to ``last``, in menu order:

    - **Last 12 months**: the dashboard's default view (the same range as
      :func:`metrics.selection.default_filters`): the day after the same date one year before the last
      order date, to the last order date.
    - **Last 30 days** / **Last 90 days**: the 30 (90) days ending on the last order date, both ends
      counted (data ending 31 December 2024: 2 December / 3 October to 31 December).
    - **Year to date**: 1 January of the last order date's year to the last order date.
    - **Each calendar year** with orders, newest first: 1 January to 31 December. A year the data cover
      only in part (the first or the last year, usually) is cut to the data and labelled e.g.
      "2024 (partial)".
    - **All data**: first to last order date.

    Every range is cut to the data (so with only 20 days of data "Last 30 days" is those 20 days). Two
    presets can therefore cover the same dates (data ending 31 December: "Last 12 months" and that year);
    both are listed, and :func:`matching_period` names the one listed first.
    """
    if first > last:
        raise ValueError(f"first order date {first} is after the last {last}")
    presets = [
        Period("last-12-months", "Last 12 months", *default_range(first, last)),
        Period("last-30-days", "Last 30 days", *_trailing_days(first, last, 30)),
        Period("last-90-days", "Last 90 days", *_trailing_days(first, last, 90)),
        Period("year-to-date", "Year to date", max(first, date(last.year, 1, 1)), last),
    ]
    for year in range(last.year, first.year - 1, -1):
        start, end = max(first, date(year, 1, 1)), min(last, date(year, 12, 31))
        whole = (start, end) == (date(year, 1, 1), date(year, 12, 31))
        presets.append(Period(str(year), str(year) if whole else f"{year} (partial)", start, end))
    presets.append(Period("all-data", "All data", first, last))
    return presets


def matching_period(presets: list[Period], start: date, end: date) -> str | None:
    """The key of the preset whose range is exactly ``start`` to ``end``, or None (the "Custom" state).

    When several presets cover the same dates, the first in ``presets`` wins, so the answer depends only
    on the dates and the menu order.
    """
    return next((p.key for p in presets if (p.start, p.end) == (start, end)), None)


def find_period(presets: list[Period], key: object) -> Period | None:
    """The preset with this key, or None (unknown keys, "custom" and non-text values included)."""
    return next((p for p in presets if p.key == key), None) if isinstance(key, str) else None


__all__ = ["CUSTOM", "CUSTOM_LABEL", "Period", "find_period", "matching_period", "period_presets"]
