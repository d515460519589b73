"""One generation of the data per request, and data errors shown as a message instead of a 500.

Each request runs on the engine in service when it starts (:func:`metrics.engine.pinned_engine`): a data
swap during the request cannot mix old and new results; the next request gets the new generation.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from metrics.engine import pinned_engine

_MARK = "custintel.generations"


def install_generation_pin(server: Flask) -> None:
    """Pin the engine for the length of each request (install before anything that reads data)."""
    if server.extensions.get(_MARK):
        return
    server.extensions[_MARK] = True

    @server.before_request
    def pin() -> None:
        block = pinned_engine()
        block.__enter__()
        g.custintel_generation = block

    @server.teardown_request
    def unpin(_exc: BaseException | None) -> Any:
        block = g.pop("custintel_generation", None)
        if block is not None:
            block.__exit__(None, None, None)
