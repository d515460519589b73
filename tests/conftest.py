"""Shared fixtures: one generated dataset per test session, and engines over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.engine import Engine
from metrics.settings import Settings

GENERATED_ORDERS = 20_000
GENERATED_SEED = 7


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated star schema (20k orders, 2021–2024) shared by every test of the session."""
    from generate_data import generate

    out = tmp_path_factory.mktemp("generated") / "data"
    generate(out, orders=GENERATED_ORDERS, seed=GENERATED_SEED, progress=False)
    return out


@pytest.fixture(scope="session")
def generated_engine(generated_dir: Path) -> Engine:
    return Engine(Settings(data_dir=str(generated_dir)))


def engine_for(folder: Path) -> Engine:
    """A DuckDB engine over a small hand-made dataset."""
    return Engine(Settings(data_dir=str(folder)))
