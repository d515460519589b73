"""What one cold filter state costs each page: the app's real callbacks, replayed in-process.

    python benchmarks/page_costs.py                       # 1 M orders, 4 random states, 2 repeats
    python benchmarks/page_costs.py --data-dir benchmarks/data-100k --orders 100000

For each state (a random date range of 30 days to 2 years, a Prime choice, sometimes a country) the
in-memory cache is emptied (but for the data's purchase-model choice, made once per data) and the shared
cache is off, then every page is opened as a browser would
(``service.replay``: the filter bar's callback, then each data callback of the page) and every request
is timed. Pages are opened one after another, so later pages reuse what earlier ones computed for the
state (the customer mart, the model fits), as they would for a user moving between pages. This is the
CPU one user's cold state costs the server on an idle machine — the number that decides how many users
exploring new filter states a server can take (see docs/deployment.md, "Capacity").

Prints the median per callback and per page and writes JSON to ``benchmarks/results/page-costs-<time>.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import ensure_data, machine_info, write_result  # noqa: E402


def random_states(lo: date, hi: date, countries: list[str], count: int, seed: int) -> list[Any]:
    from metrics.filters import Filters

    rng = random.Random(seed)
    states = []
    for _ in range(count):
        span = rng.choice([30, 90, 180, 365, 730])
        end = hi - timedelta(days=rng.randrange(0, max(1, (hi - lo).days - span)))
        start = max(lo, end - timedelta(days=span - 1))
        picked = (rng.choice(countries),) if countries and rng.random() < 0.3 else ()
        states.append(Filters(start, end, rng.choice(["All", "Prime", "Non-Prime"]), picked))
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT / "benchmarks" / "data-1m"))
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to generate if data is missing")
    parser.add_argument("--states", type=int, default=4, help="random cold filter states per repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    data_dir = ensure_data(Path(args.data_dir).resolve(), args.orders)
    os.environ["CUSTINTEL_DATA_DIR"] = str(data_dir)
    os.environ["CUSTINTEL_CACHE_DIR"] = "off"  # every state must be computed, not read
    os.environ.pop("CUSTINTEL_AUTH", None)
    import app
    from components.state import engine
    from service.replay import InProcessClient, data_pages, filter_request, learn_site, page_callbacks

    try:
        from metrics.models.choice import model_choice
    except ImportError:  # a version without the model family (for before/after runs)
        model_choice = None
    eng = engine()
    client = InProcessClient(app.server)
    site = learn_site(client, list(data_pages()))
    lo, hi = eng.date_bounds()
    per_page: dict[str, list[float]] = defaultdict(list)
    per_state: list[float] = []
    client.times.clear()
    for repeat in range(args.repeats):
        for state in random_states(lo, hi, eng.countries(), args.states, args.seed + repeat):
            eng.cache.clear()
            if model_choice is not None:  # once per data (and shared on disk), not per state
                model_choice(eng)
            query = filter_request(client, site, state.to_query(), None, "url.search")
            total = 0.0
            for page in data_pages():
                started = time.perf_counter()
                page_callbacks(client, site, page, query)
                elapsed = time.perf_counter() - started
                per_page[page].append(elapsed)
                total += elapsed
            per_state.append(total)
            print(f"{state.start}..{state.end} {state.prime} {','.join(state.countries) or 'all countries'}: "
                  f"{total:.2f} s", file=sys.stderr, flush=True)

    if client.failures:
        raise SystemExit(f"failed requests: {client.failures[:5]}")
    callbacks = {k.split(":", 1)[1]: statistics.median(v) for k, v in client.times.items() if k.startswith("page_cb:")}
    result = {
        "data": {"dir": str(data_dir), "orders": int(eng.execute(eng.orders.count())), "from": lo.isoformat(),
                 "to": hi.isoformat()},
        "config": {"states": args.states, "repeats": args.repeats, "seed": args.seed},
        "machine": machine_info(),
        "page_median_s": {page: round(statistics.median(v), 4) for page, v in per_page.items()},
        "page_max_s": {page: round(max(v), 4) for page, v in per_page.items()},
        "all_pages_per_state_median_s": round(statistics.median(per_state), 4),
        "callback_median_s": {k: round(v, 4) for k, v in sorted(callbacks.items(), key=lambda kv: -kv[1])},
    }
    print(f"{'page':<16}{'median s':>10}{'max s':>8}")
    for page in data_pages():
        print(f"{page:<16}{result['page_median_s'][page]:>10.3f}{result['page_max_s'][page]:>8.3f}")
    print(f"{'all five pages':<16}{result['all_pages_per_state_median_s']:>10.3f}")
    print("slowest callbacks (median s):")
    for name, seconds in list(result["callback_median_s"].items())[:8]:
        print(f"  {name:<44}{seconds:>7.3f}")
    out = write_result("page-costs", result, args.out)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
