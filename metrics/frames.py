"""Small helpers shared by metric functions for shaping their pandas results."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def safe_div(numerator: float | None, denominator: float | None) -> float:
    """numerator / denominator, or 0.0 when either is missing or the denominator is 0."""
    if numerator is None or denominator is None:
        return 0.0
    num, den = float(numerator), float(denominator)
    if den == 0 or math.isnan(num) or math.isnan(den):
        return 0.0
    return num / den


def ratio(numerator: pd.Series, denominator: pd.Series | float) -> pd.Series:
    """Element-wise numerator / denominator with 0 where the denominator is 0 or missing."""
    num = pd.to_numeric(numerator, errors="coerce").astype("float64").to_numpy()
    if isinstance(denominator, pd.Series):
        den = pd.to_numeric(denominator, errors="coerce").astype("float64").to_numpy()
    else:
        den = np.full(len(num), float(denominator))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((den != 0) & ~np.isnan(den), num / np.where(den == 0, 1, den), 0.0)
    return pd.Series(np.nan_to_num(out, nan=0.0), index=numerator.index)


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """A zero-row frame with the given column -> dtype mapping (the shape of an empty selection)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def scalar(value: object) -> float:
    """A SQL aggregate result as float: NULL (an empty selection) becomes 0."""
    if value is None:
        return 0.0
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(out) else out


def relative_change(value: float | None, previous: float | None) -> float | None:
    """(value − previous) / previous: the period-over-period change of DESIGN §3 as a fraction.

    None when there is nothing to compare with — the previous value is 0 or missing (no prior data: a
    percentage would be invented) or the value itself is missing."""
    if value is None or previous is None:
        return None
    now, before = float(value), float(previous)
    if before == 0 or math.isnan(before) or math.isnan(now):
        return None
    return (now - before) / before
