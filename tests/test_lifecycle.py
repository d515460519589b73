"""Lifecycle by month: a brute-force customer × month pandas calculation, and one customer per label."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.segments.labels import LIFECYCLE_LABELS
from metrics.segments.lifecycle import lifecycle_by_month
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import data_engine, filter_cases, load_frames, ref_orders  # noqa: F401


def ref_lifecycle(frames: dict, filters: Filters) -> pd.DataFrame:
    """Every customer at every month of the range, labelled by the rules read literally."""
    history = ref_orders(frames, filters, whole_history=True)
    history = history.assign(mi=history.order_date.dt.year * 12 + history.order_date.dt.month - 1)
    rows = []
    start = filters.start.year * 12 + filters.start.month - 1
    end = filters.end.year * 12 + filters.end.month - 1
    for m in range(start, end + 1):
        upto = history[history.mi <= m]
        per = upto.groupby("customer_id").agg(first=("mi", "min"), last=("mi", "max"))
        per["trailing"] = upto[upto.mi >= m - 11].groupby("customer_id").size().reindex(per.index).fillna(0)
        label = np.select(
            [per["first"] == m, per["last"] <= m - 6, per["last"] <= m - 3, per["trailing"] >= 6],
            ["New", "Inactive", "At Risk", "VIP"], default="Regular")
        counts = pd.Series(label).value_counts()
        for segment in LIFECYCLE_LABELS:
            rows.append({"month": pd.Timestamp(m // 12, m % 12 + 1, 1), "segment": segment,
                         "customers": int(counts.get(segment, 0))})
    return pd.DataFrame(rows)


def test_matches_brute_force(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    cases = filter_cases(data_engine)
    for filters in (cases[0], cases[3], cases[4]):  # everything, one country, a Non-Prime quarter
        got = lifecycle_by_month(data_engine, filters)
        expected = ref_lifecycle(frames, filters)
        assert list(got.columns) == ["month", "segment", "customers"]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert set(got.segment) == set(LIFECYCLE_LABELS)


# ----- hand-made data: one customer per label in June 2024 ------------------------------------------------
@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    def orders_of(customer: int, *days: str, **extra) -> list[dict]:
        return [{"customer_id": customer, "date": d, "net_revenue": 10, **extra} for d in days]

    customers = [{"customer_id": i} for i in range(1, 10)]
    customers[1]["country"] = "France"  # customer 2
    customers[3]["is_prime"] = customers[5]["is_prime"] = True  # customers 4 and 6
    orders = [
        *orders_of(1, "2024-06-10"),  # New in June
        *orders_of(2, "2023-12-15"),  # Inactive in June (m − 6)
        *orders_of(3, "2024-03-05"),  # At Risk in June (m − 3)
        *orders_of(4, "2023-05-10", "2024-01-10", "2024-02-10", "2024-03-10", "2024-04-10", "2024-05-10",
                   "2024-06-10"),  # VIP in June: 6 orders in Jul 2023 – Jun 2024
        *orders_of(5, "2024-01-20", "2024-05-20"),  # Regular
        *orders_of(6, "2023-08-01", "2023-09-01", "2023-10-01", "2023-11-01", "2024-01-01",
                   "2024-04-01"),  # VIP two months after the last order
        *orders_of(7, "2023-06-15", "2023-09-15", "2023-10-15", "2023-11-15", "2023-12-15",
                   "2024-06-15"),  # Regular: the June 2023 order is 12 months back, outside the window
        *orders_of(8, "2024-06-10", is_returned=True),  # never a customer
        *orders_of(9, "2024-06-05", "2024-06-20"),  # New, even with two orders
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("lifecycle") / "data", customers, orders))


SPRING = Filters(date(2024, 4, 1), date(2024, 6, 30))


def counts(frame: pd.DataFrame, month: str) -> dict[str, int]:
    part = frame[frame.month == pd.Timestamp(month)]
    assert part.segment.tolist() == list(LIFECYCLE_LABELS)
    return dict(zip(part.segment, part.customers, strict=True))


def test_every_label_by_hand(hand):
    got = lifecycle_by_month(hand, SPRING)
    assert len(got) == 3 * len(LIFECYCLE_LABELS)
    # April: VIP 6; Regular 3, 4 (4's May 2023 order still in the window: 5 orders); At Risk 2, 5, 7
    assert counts(got, "2024-04-01") == {"New": 0, "VIP": 1, "Regular": 2, "At Risk": 3, "Inactive": 0}
    # May: 4 has 5 orders in Jun 2023 – May 2024
    assert counts(got, "2024-05-01") == {"New": 0, "VIP": 1, "Regular": 3, "At Risk": 2, "Inactive": 0}
    # June: New 1, 9; VIP 4, 6; Regular 5, 7; At Risk 3; Inactive 2
    assert counts(got, "2024-06-01") == {"New": 2, "VIP": 2, "Regular": 2, "At Risk": 1, "Inactive": 1}


def test_single_day_range_counts_orders_up_to_that_day(hand):
    got = lifecycle_by_month(hand, Filters(date(2024, 6, 1), date(2024, 6, 1)))
    # no June order yet: 1 and 9 have not ordered, 4 has 5 orders in the window, 7 last ordered in December
    assert counts(got, "2024-06-01") == {"New": 0, "VIP": 1, "Regular": 2, "At Risk": 1, "Inactive": 2}


def test_filters_change_the_result(hand):
    prime = lifecycle_by_month(hand, Filters(SPRING.start, SPRING.end, prime="Prime"))
    assert counts(prime, "2024-06-01") == {"New": 0, "VIP": 2, "Regular": 0, "At Risk": 0, "Inactive": 0}
    france = lifecycle_by_month(hand, Filters(SPRING.start, SPRING.end, countries=("France",)))
    assert counts(france, "2024-06-01") == {"New": 0, "VIP": 0, "Regular": 0, "At Risk": 0, "Inactive": 1}
    assert counts(france, "2024-04-01")["At Risk"] == 1


def test_empty_selection(hand):
    nobody = lifecycle_by_month(hand, Filters(SPRING.start, SPRING.end, countries=("Atlantis",)))
    assert len(nobody) == 15 and nobody.customers.sum() == 0
    before = lifecycle_by_month(hand, Filters(date(2020, 1, 1), date(2020, 2, 15)))
    assert len(before) == 10 and before.customers.sum() == 0
