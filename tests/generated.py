"""Shared test data for the descriptive metrics: a seeded random star schema built with tests/factory.py,
the generated dataset of conftest.py when ``generate_data.generate`` exists, and pandas re-implementations
of the filters so metric tests can compare against an independent calculation.

Import the fixture into a test module with ``from tests.generated import data_engine  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.kpis import customer_kpis
from metrics.settings import Settings
from tests.factory import write_dataset

COUNTRIES = ("Germany", "France", "Spain")
RANDOM_START, RANDOM_END = date(2022, 1, 1), date(2024, 6, 30)


def random_rows(seed: int = 0, n_customers: int = 90, n_orders: int = 600):
    """Customers (the last 15 are prospects who never order), orders with returns, cancellations and
    same-day repeats, and monthly engagement rows, all from one seeded RNG."""
    rng = np.random.default_rng(seed)
    genders = ("Female", "Male", "Other")
    categories = ("Books", "Electronics", "Fashion")
    customers = [
        {"customer_id": i, "name": f"Person {i}", "country": COUNTRIES[int(rng.integers(0, 3))],
         "is_prime": bool(rng.random() < 0.4), "gender": genders[int(rng.integers(0, 3))],
         "age": int(rng.integers(18, 80)), "annual_income": float(rng.integers(10, 150) * 1000),
         "spending_score": int(rng.integers(1, 101)), "preferred_category": categories[int(rng.integers(0, 3))],
         "acquisition_channel": ("Email", "Social")[int(rng.integers(0, 2))]}
        for i in range(1, n_customers + 1)
    ]
    buyers = n_customers - 15
    weights = rng.gamma(0.8, 1.0, buyers)
    weights /= weights.sum()
    span = (RANDOM_END - RANDOM_START).days
    orders = []
    for i in range(1, n_orders + 1):
        customer = int(rng.choice(buyers, p=weights)) + 1
        if orders and rng.random() < 0.08:  # a second order the same day by the same customer
            previous = orders[-1]
            customer, ts = previous["customer_id"], previous["order_ts"] + timedelta(minutes=int(rng.integers(1, 300)))
            ts = min(ts, datetime(ts.year, ts.month, ts.day, 23, 59))
        else:
            day = RANDOM_START + timedelta(days=int(rng.integers(0, span + 1)))
            ts = datetime(day.year, day.month, day.day, int(rng.integers(0, 24)), int(rng.integers(0, 60)))
        orders.append({"order_id": i, "customer_id": customer, "order_ts": ts,
                       "net_revenue": float(rng.integers(5, 300)), "is_returned": bool(rng.random() < 0.07),
                       "is_cancelled": bool(rng.random() < 0.04)})
    engagement = []
    months = pd.date_range(RANDOM_START, RANDOM_END, freq="MS")
    for c in range(1, n_customers + 1):
        for m in months[rng.random(len(months)) < 0.3]:
            adds = int(rng.integers(0, 4))
            sent = int(rng.integers(0, 6))
            engagement.append({"customer_id": c, "month": m.date(), "web_visits": int(rng.integers(0, 9)),
                               "emails_sent": sent, "emails_opened": int(rng.integers(0, sent + 1)),
                               "cart_adds": adds, "cart_abandons": int(rng.integers(0, adds + 1))})
    return customers, orders, engagement


_ENGINES: dict[str, Engine] = {}


def random_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The engine over :func:`random_rows` (written once per session, shared by every test module)."""
    if "random" not in _ENGINES:
        customers, orders, engagement = random_rows()
        folder = write_dataset(tmp_path_factory.mktemp("random") / "data", customers, orders, engagement)
        _ENGINES["random"] = Engine(Settings(data_dir=str(folder)))
    return _ENGINES["random"]


def _generator_available() -> bool:
    try:
        from generate_data import generate  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session", params=["random", "generated"])
def data_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the random factory dataset, then over the generated one of conftest.py (skipped
    until ``generate_data.generate`` exists)."""
    if request.param == "generated":
        if not _generator_available():
            pytest.skip("generate_data.generate is not available yet")
        return request.getfixturevalue("generated_engine")
    return random_engine(tmp_path_factory)


# ----- independent pandas versions of the data and the filters ------------------------------------------
def load_frames(engine: Engine) -> dict[str, pd.DataFrame]:
    """The five tables of an engine's data folder read with pandas (not through Ibis)."""
    folder = Path(engine.settings.data_dir)
    frames = {}
    for name in ("fact_orders", "fact_engagement", "dim_customer"):
        frame = pd.read_parquet(folder / name)
        for column in frame.columns:
            if str(frame[column].dtype).startswith("datetime64") or column in ("month", "signup_date"):
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        frames[name] = frame
    orders = frames["fact_orders"]
    orders["order_date"] = orders["order_ts"].dt.normalize()
    return frames


def ref_customers(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    c = frames["dim_customer"]
    if filters.prime != "All":
        c = c[c.is_prime == (filters.prime == "Prime")]
    if filters.countries:
        c = c[c.country.isin(filters.countries)]
    return c


def ref_orders(frames: dict[str, pd.DataFrame], filters: Filters, valid_only: bool = True,
               whole_history: bool = False) -> pd.DataFrame:
    o = frames["fact_orders"]
    end = pd.Timestamp(filters.end)
    keep = o.order_date <= end
    if not whole_history:
        keep &= o.order_date >= pd.Timestamp(filters.start)
    if valid_only:
        keep &= ~o.is_returned & ~o.is_cancelled
    customers = ref_customers(frames, filters)[["customer_id", "is_prime", "country"]]
    return o[keep].merge(customers, on="customer_id")


def ref_engagement(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    e = frames["fact_engagement"]
    first = pd.Timestamp(filters.start.year, filters.start.month, 1)
    e = e[(e.month >= first) & (e.month <= pd.Timestamp(filters.end))]
    return e[e.customer_id.isin(ref_customers(frames, filters).customer_id)]


def filter_cases(engine: Engine) -> list[Filters]:
    """A few filter states over an engine's data: everything, a year, Prime only, one country, a quarter
    of Non-Prime customers of two countries."""
    lo, hi = engine.date_bounds()
    countries = engine.countries()
    mid = lo + (hi - lo) / 2
    cases = [Filters(lo, hi), Filters(mid - timedelta(days=365), mid), Filters(lo, hi, prime="Prime"),
             Filters(lo, hi, countries=(countries[0],))]
    cases.append(Filters(mid, mid + timedelta(days=91), prime="Non-Prime", countries=tuple(countries[:2])))
    return cases


def rows_under_segment_filter(by_segment: Callable[[Engine, Filters], pd.DataFrame], engine: Engine, value: str,
                              label: str = "Top Tier") -> tuple[Filters, pd.DataFrame, pd.DataFrame]:
    """A by-segment metric under a filter on one loyalty tier: asserts every other tier's ``value`` is 0 and
    returns that filter, and the tier's rows with it and without it (index reset) for the caller to compare."""
    base = filter_cases(engine)[1]
    only = base.with_focus("loyalty", label)
    got = by_segment(engine, only)
    assert got[got.segment != label][value].sum() == 0
    unfiltered = by_segment(engine, base)
    return (only, got[got.segment == label].reset_index(drop=True),
            unfiltered[unfiltered.segment == label].reset_index(drop=True))


def first_empty_day(engine: Engine) -> Filters:
    """A one-day, one-country Prime selection with no valid orders (the earliest such day in the first 120)."""
    lo, _hi = engine.date_bounds()
    for offset in range(120):
        day = lo + timedelta(days=offset)
        for country in engine.countries():
            candidate = Filters(day, day, "Prime", (country,))
            if customer_kpis(engine, candidate)["orders"] == 0:
                return candidate
    pytest.skip("no empty one-day selection in the data")
