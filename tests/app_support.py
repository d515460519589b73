"""The Dash app for tests that drive it without a browser (callbacks, the Flask test client)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


@contextlib.contextmanager
def app_over(data_dir: Path) -> Iterator[ModuleType]:
    """The ``app`` module with ``CUSTINTEL_DATA_DIR`` set to ``data_dir`` (the app's engine follows it);
    the variable is restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CUSTINTEL_DATA_DIR", str(data_dir))
        yield importlib.import_module("app")
