"""The filter state lives in the URL query string; this module is the one place that reads it.

Every page callback takes the normalised query string from the ``url-query`` store (written by the
filter bar) and turns it into a :class:`~metrics.filters.Filters` with :func:`read_filters`. Invalid
values never raise: :meth:`Filters.from_query` replaces them with defaults and returns notices, which the
filter bar shows.

Besides the filter keys, a page may own a few keys of its own (:data:`PAGE_KEYS`, e.g. the customer id
of ``/customer?id=…``); they are kept when the filters are rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from dash.exceptions import PreventUpdate

from metrics.engine import Engine, get_engine
from metrics.filters import MAX_QUERY_LENGTH, Filters
from metrics.selection import default_filters

#: id of the dcc.Location that holds the filter state (refresh=False: filter changes don't reload pages).
URL_ID = "url"
#: id of the dcc.Location used to navigate to another page from a callback (customer links).
NAV_ID = "nav-location"
#: id of the store holding the normalised query string every page callback reads.
QUERY_STORE = "url-query"
#: Query keys owned by pages rather than by the filters; kept when the filters change.
PAGE_KEYS: tuple[str, ...] = ("id",)


def engine() -> Engine:
    """The process-wide data engine (from settings / ``CUSTINTEL_*`` environment variables)."""
    return get_engine()


@dataclass(frozen=True)
class UrlState:
    filters: Filters
    notices: tuple[str, ...]
    page_params: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        """The normalised query string (without '?'): filters first, then page keys."""
        extra = urlencode(self.page_params)
        base = self.filters.to_query()
        return f"{base}&{extra}" if extra else base

    def page_param(self, key: str) -> str | None:
        return next((value for name, value in self.page_params if name == key), None)


def parse_query(query: str | None, eng: Engine | None = None) -> UrlState:
    """Query string (with or without '?') -> filters, notices and page parameters. Never raises."""
    eng = eng or engine()
    query = (query if isinstance(query, str) else "").lstrip("?")  # a hostile client can send any JSON value
    filters, notices = Filters.from_query(query, default_filters(eng), eng.countries(), eng.date_bounds())
    page_params: list[tuple[str, str]] = []
    if len(query) <= MAX_QUERY_LENGTH:
        try:
            pairs = parse_qsl(query, max_num_fields=200)
        except ValueError:  # more fields than allowed: Filters.from_query already reset the filters
            pairs = []
        for key, value in pairs:
            if key in PAGE_KEYS and value and len(value) <= 40 and key not in dict(page_params):
                page_params.append((key, value))
    return UrlState(filters, tuple(notices), tuple(page_params))


def read_filters(query: str | None, *, use_segment: bool = True, eng: Engine | None = None) -> Filters:
    """The filters of a page callback. ``None`` (the filter bar has not run yet) stops the callback.

    Pages that compare all segments pass ``use_segment=False`` and see the scope without the focus.
    """
    if query is None:
        raise PreventUpdate
    filters = parse_query(query, eng).filters
    return filters if use_segment else filters.scope


def query_from_controls(start: str | None, end: str | None, prime: str | None, countries: list[str] | None,
                        scheme: str | None, segment: str | None,
                        page_params: tuple[tuple[str, str], ...] = (), model: str | None = None) -> str:
    """The query string the filter controls describe (read back with :func:`parse_query`); ``model`` is the
    purchase-model choice, set on the Risk page rather than in the filter bar, and kept as it is."""
    pairs: list[tuple[str, str]] = []
    if start:
        pairs.append(("start", str(start)[:10]))
    if end:
        pairs.append(("end", str(end)[:10]))
    if prime and prime != "All":
        pairs.append(("prime", prime))
    pairs.extend(("country", c) for c in countries or [])
    if scheme and segment:
        pairs += [("scheme", scheme), ("segment", segment)]
    if model:
        pairs.append(("model", model))
    pairs.extend(page_params)
    return urlencode(pairs)


def link_query(query: str | None) -> str:
    """The part of the query that travels to other pages (filters, without page keys), with '?'."""
    if not query or not isinstance(query, str):
        return ""
    try:
        pairs = parse_qsl(query.lstrip("?"), max_num_fields=200)
    except ValueError:  # more fields than allowed
        return ""
    kept = [(k, v) for k, v in pairs if k not in PAGE_KEYS]
    return f"?{urlencode(kept)}" if kept else ""
