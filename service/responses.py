"""Rendered callback responses, kept per request: a warm revisit of a page is a lookup, not a rebuild.

Every data callback is a pure function of its request (the filter query, the page's own controls, which
input changed) and of the data, so the JSON Dash sends back for a request body is the same each time the
body is sent again for the same data. Metric results are cached already (:mod:`metrics.cache`); what a
revisit still paid was building the Plotly figures and grids and serialising them (0.1–0.5 s a page).
This cache keeps the serialised response instead:

- **key**: the data generation (the engine in use: a new engine, e.g. after an import, starts afresh),
  the URL path and a SHA-256 of the request body;
- **kept**: successful JSON answers of ``/_dash-update-component`` up to :data:`MAX_ITEM_BYTES` each
  (an export download is rebuilt each time), least recently used first out, bounded in bytes;
- **never kept**: errors, "no update" answers (204) and anything else the server sends.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, Response, g, request

#: Largest response body kept (bytes); larger ones (CSV downloads, very long grids) are rebuilt.
MAX_ITEM_BYTES = 2 * 1024 * 1024
_MARK = "custintel.responses"


class ResponseCache:
    """A byte-bounded LRU of response bodies."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._data.get(key)
            if body is not None:
                self._data.move_to_end(key)
                self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > min(MAX_ITEM_BYTES, self.max_bytes):
            return
        with self._lock:
            if key in self._data:
                return
            self._data[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, gone = self._data.popitem(last=False)
                self._bytes -= len(gone)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def nbytes(self) -> int:
        with self._lock:
            return self._bytes


def install_response_cache(server: Flask, generation: Callable[[], Hashable | None], max_bytes: int) -> ResponseCache:
    """Serve repeated callback requests from a :class:`ResponseCache` of ``max_bytes`` (0 turns it off).
    ``generation()`` names the data in use (None: none, keep nothing); install after authentication,
    which must run first."""
    existing = server.extensions.get(_MARK)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    cache = ResponseCache(max_bytes)
    server.extensions[_MARK] = cache

    @server.before_request
    def answer_from_cache() -> Response | None:
        if max_bytes <= 0 or request.method != "POST" or not request.path.endswith("/_dash-update-component"):
            return None
        current = generation()
        if current is None:  # no data in service: answer afresh every time
            return None
        key = (current, request.path, hashlib.sha256(request.get_data(cache=True)).hexdigest())
        body = cache.get(key)
        if body is not None:
            return Response(body, 200, mimetype="application/json")
        g.response_key = key
        return None

    @server.after_request
    def keep_response(response: Response) -> Response:
        key = g.pop("response_key", None)
        if (key is not None and response.status_code == 200 and response.mimetype == "application/json"
                and not response.direct_passthrough):
            cache.put(key, response.get_data())
        return response

    return cache


def response_cache(server: Flask) -> ResponseCache | None:
    """The server's response cache, if installed (benchmarks empty it for a cold measurement)."""
    return server.extensions.get(_MARK)  # type: ignore[no-any-return]
