"""Fixtures and comparison helpers for the Spark parity tests.

The Spark application starts once per test session (session-scoped fixture) and is stopped at the end.
Tests that need it are skipped when pyspark or Java is missing (``pip install .[spark]``).

Use the fixtures in a test module with ``pytest_plugins = ["tests.spark_support"]``.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metrics.engine import Engine
from metrics.settings import Settings

#: Relative tolerance for money and other floating-point results (summation order differs by engine).
REL_TOL = 1e-9
#: Absolute tolerance for floats near zero (e.g. a delta of two equal sums): a billionth of a cent.
ABS_TOL = 1e-11


def spark_missing_reason() -> str | None:
    """Why the Spark tests cannot run here, or None when they can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install .[spark])"
    if shutil.which("java") is None:
        return "Java is not installed (Spark needs Java 17)"
    return None


def _generator_available() -> bool:
    try:
        from generate_data import generate  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def parity_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated 20k-order dataset of conftest.py; the seeded factory data until the generator exists."""
    if _generator_available():
        return request.getfixturevalue("generated_dir")
    from tests.factory import write_dataset
    from tests.generated import random_rows

    customers, orders, engagement = random_rows(seed=3, n_customers=400, n_orders=3000)
    return write_dataset(tmp_path_factory.mktemp("parity") / "data", customers, orders, engagement)


@pytest.fixture(scope="session")
def spark_settings() -> Settings:
    reason = spark_missing_reason()
    if reason:
        pytest.skip(reason)
    return Settings(backend="spark", spark_master="local[2]")


@pytest.fixture(scope="session")
def spark_app(spark_settings: Settings) -> Iterator[Settings]:
    """Starts the process's Spark application once and stops it after the last test of the session."""
    from metrics.spark import spark_session, stop_spark

    spark_session(spark_settings)
    yield spark_settings
    stop_spark()


@pytest.fixture(scope="session")
def spark_engine(spark_app: Settings, parity_dir: Path) -> Engine:
    """A Spark engine over the parity dataset. Contract validation is checked on Spark by its own test
    (on a tiny dataset): it is ~20 queries, and DuckDB validates the same folder anyway."""
    return spark_engine_for(parity_dir, spark_app, validate=False)


@pytest.fixture(scope="session")
def duckdb_twin(parity_dir: Path) -> Engine:
    """A DuckDB engine over the same folder: the reference for every parity comparison."""
    return Engine(Settings(data_dir=str(parity_dir)))


def spark_engine_for(folder: Path, settings: Settings, *, validate: bool = True) -> Engine:
    """Another Spark engine (own session, own views) on the running application."""
    return Engine(Settings(data_dir=str(folder), backend="spark", spark_master=settings.spark_master),
                  validate=validate)


# ----- comparing results ---------------------------------------------------------------------------------
def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Backend-neutral dtypes: datetimes (any unit, or date objects) -> datetime64[ns], text -> object,
    integers -> int64, booleans -> bool, other numbers -> float64; a plain RangeIndex."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        values = out[column]
        kind = values.dtype.kind
        if kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = pd.to_datetime(values).astype("datetime64[ns]")
        elif kind in "iu":
            out[column] = values.astype("int64")
        elif kind == "f":
            out[column] = values.astype("float64")
        elif kind == "b":
            out[column] = values.astype(bool)
        else:
            non_null = values.dropna()
            if len(non_null) and all(isinstance(v, date) for v in non_null):
                out[column] = pd.to_datetime(values).astype("datetime64[ns]")
            elif pd.api.types.is_integer_dtype(values.dtype):  # nullable Int64
                out[column] = values.astype("float64") if values.isna().any() else values.astype("int64")
            elif pd.api.types.is_bool_dtype(values.dtype):
                out[column] = values.astype(bool)
            elif pd.api.types.is_float_dtype(values.dtype):
                out[column] = values.astype("float64")
            else:
                out[column] = values.astype(object).where(values.notna(), None)
    return out


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def assert_same_value(name: str, left: Any, right: Any) -> None:
    """Scalars and dicts: exact for ints, text and dates; REL_TOL for floats."""
    if isinstance(left, dict):
        assert isinstance(right, dict), f"{name}: {type(right).__name__} instead of dict"
        assert list(left) == list(right), f"{name}: keys differ: {list(left)} vs {list(right)}"
        for key in left:
            assert_same_value(f"{name}[{key!r}]", left[key], right[key])
        return
    if isinstance(left, pd.DataFrame):
        assert_same_frame(name, left, right)
        return
    if isinstance(left, (datetime, date, pd.Timestamp)):
        assert pd.Timestamp(left) == pd.Timestamp(right), f"{name}: {left!r} != {right!r}"
        return
    assert _close(left, right), f"{name}: {left!r} (DuckDB) != {right!r} (Spark)"


def assert_same_frame(name: str, left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same columns in the same order, same rows in the same order, same values (floats to REL_TOL)."""
    assert isinstance(right, pd.DataFrame), f"{name}: Spark gave {type(right).__name__}"
    lhs, rhs = normalise(left), normalise(right)
    assert list(lhs.columns) == list(rhs.columns), f"{name}: columns {list(lhs.columns)} vs {list(rhs.columns)}"
    assert len(lhs) == len(rhs), f"{name}: {len(lhs)} rows (DuckDB) vs {len(rhs)} rows (Spark)"
    for column in lhs.columns:
        a, b = lhs[column], rhs[column]
        assert a.dtype == b.dtype, f"{name}.{column}: dtype {a.dtype} (DuckDB) vs {b.dtype} (Spark)"
        if a.dtype.kind == "f":
            both_nan = a.isna() & b.isna()
            close = np.isclose(a.to_numpy(), b.to_numpy(), rtol=REL_TOL, atol=ABS_TOL) | both_nan.to_numpy()
            bad = np.flatnonzero(~close)
        else:
            same = (a == b) | (a.isna() & b.isna())
            bad = np.flatnonzero(~same.to_numpy())
        if len(bad):
            rows = pd.DataFrame({"duckdb": a.iloc[bad[:5]].to_numpy(), "spark": b.iloc[bad[:5]].to_numpy()},
                                index=bad[:5])
            raise AssertionError(f"{name}.{column}: {len(bad)} of {len(a)} rows differ, e.g.\n{rows}")
