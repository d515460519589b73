"""Checks shared by the purchase-model tests (BG/NBD, MBG/NBD, Pareto/NBD)."""

from __future__ import annotations

import math

import numpy as np

#: Frequency bands (repeat purchases) a holdout prediction must be unbiased in, each on its own.
FREQUENCY_BANDS = ((0, 0), (1, 1), (2, 4), (5, 10_000))


def assert_unbiased_holdout(x: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> None:
    """The per-customer holdout predictions match the actual holdout purchases within 4 standard errors
    of the mean residual, over all customers and in each frequency band (0, 1, 2-4, 5+)."""
    resid = actual - predicted
    assert abs(resid.mean()) < 4 * resid.std() / math.sqrt(resid.size)
    for lo, hi in FREQUENCY_BANDS:
        r_b = resid[(x >= lo) & (x <= hi)]
        assert abs(r_b.mean()) < 4 * r_b.std() / math.sqrt(r_b.size) + 1e-12, (lo, hi)
