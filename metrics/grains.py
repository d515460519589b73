"""Calendar grains (week, month, quarter, year) and month arithmetic shared by every time series.

Periods start on a Monday, the 1st of a month, of a quarter, of a year. The first and last period of a
range can be partial: a range starting on a Wednesday still shows its first week as the week starting on
the Monday before, counting only the days of the range (:func:`partial_periods` says which).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis.expr.types as ir
import numpy as np
import pandas as pd

#: grain -> Ibis truncate unit.
GRAINS: dict[str, str] = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; choose from {', '.join(GRAINS)}")


def period_start(day: date, grain: str) -> date:
    """First day of the period of ``grain`` containing ``day`` (weeks start on Monday)."""
    check_grain(grain)
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def next_period_start(day: date, grain: str) -> date:
    """First day of the period after the one of ``grain`` containing ``day``."""
    first = period_start(day, grain)
    if grain == "week":
        return first + timedelta(days=7)
    index = month_index(first) + {"month": 1, "quarter": 3, "year": 12}[grain]
    return month_from_index(index)


def period_starts(start: date, end: date, grain: str) -> pd.DatetimeIndex:
    """Start of every period of ``grain`` that the range ``start``..``end`` touches."""
    freq = {"week": "7D", "month": "MS", "quarter": "QS", "year": "YS"}[grain]
    return pd.date_range(period_start(start, grain), period_start(end, grain), freq=freq)


def partial_periods(start: date, end: date, grain: str) -> np.ndarray:
    """Per period of :func:`period_starts`: True when the range ``start``..``end`` covers only part of it
    (a first period beginning before ``start``, a last one ending after ``end``)."""
    starts = period_starts(start, end, grain)
    out = np.zeros(len(starts), dtype=bool)
    if len(starts):
        out[0] = starts[0].date() < start
        out[-1] = out[-1] or next_period_start(end, grain) - timedelta(days=1) > end
    return out


def month_index(day: date) -> int:
    """Months since year 0: year * 12 + month - 1 (consecutive months differ by 1)."""
    return day.year * 12 + day.month - 1


def month_from_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_index_expr(day: ir.DateValue) -> ir.IntegerValue:
    """:func:`month_index` as an Ibis expression (portable: no month deltas)."""
    return day.year().cast("int64") * 12 + day.month().cast("int64") - 1


def as_timestamps(values: pd.Series | pd.Index) -> pd.Series:
    """Dates/timestamps of any unit as ``datetime64[ns]`` (Ibis, DuckDB and Parquet differ)."""
    return pd.Series(pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[ns]"))
