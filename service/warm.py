"""Fill the result cache with the filter states people open most, before they open them.

A state is computed by replaying, in-process, the requests a browser sends when it opens each page with
that state in the URL (see :mod:`service.replay`), so exactly the metrics the pages ask for are
cached and nothing else. With the shared on-disk cache (``metrics.shared_cache``) the results serve every
server process and survive restarts, so ``custintel warm`` after a data refresh makes the common views
instant for the first visitors too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from metrics.engine import Engine
from metrics.filters import PRIME_CHOICES, Filters
from metrics.periods import period_presets
from service.replay import InProcessClient, data_pages, filter_request, learn_site, page_callbacks


def common_states(engine: Engine, periods: list[str] | None = None,
                  prime: tuple[str, ...] = PRIME_CHOICES, each_country: bool = False) -> list[Filters]:
    """Every period preset of the filter bar (or the named ones) × each Prime choice, all countries; with
    ``each_country`` also every single country (a marketer's usual view), 1 + countries times as many."""
    lo, hi = engine.date_bounds()
    presets = period_presets(lo, hi)
    if periods is not None:
        unknown = sorted(set(periods) - {p.key for p in presets})
        if unknown:
            known = ", ".join(p.key for p in presets)
            raise ValueError(f"unknown period(s) {', '.join(unknown)}; known: {known}")
        presets = [p for p in presets if p.key in periods]
    country_sets: list[tuple[str, ...]] = [()]
    if each_country:
        country_sets += [(country,) for country in engine.countries()]
    states: list[Filters] = []
    for countries in country_sets:
        for preset in presets:
            for choice in prime:
                state = Filters(preset.start, preset.end, choice, countries)
                if state not in states:  # two presets can cover the same range
                    states.append(state)
    return states


@dataclass
class WarmReport:
    states: int = 0
    requests: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def warm(server: Flask, states: list[Filters], pages: tuple[str, ...] | None = None,
         headers: dict[str, str] | None = None,
         progress: Callable[[str], None] | None = None) -> WarmReport:
    """Open every page with every state, as a browser would; returns counts, time and failed requests."""
    pages = data_pages() if pages is None else pages
    client = InProcessClient(server, headers)
    started = time.perf_counter()
    site = learn_site(client, list(pages))
    report = WarmReport()
    for number, state in enumerate(states, start=1):
        state_started = time.perf_counter()
        query = filter_request(client, site, state.to_query(), None, "url.search")
        for page in pages:
            page_callbacks(client, site, page, query)
        report.states += 1
        if progress is not None:
            progress(f"state {number}/{len(states)} {state.start}..{state.end} {state.prime}: "
                     f"{time.perf_counter() - state_started:.1f} s")
    report.requests = client.sent
    report.seconds = time.perf_counter() - started
    report.failures = client.failures
    return report
