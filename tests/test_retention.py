"""Monthly retention and cohort retention: hand-made customers with answers worked out by hand, and a
brute-force pandas calculation on generated data."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.retention import cohort_retention, monthly_retention
from metrics.population import customer_segments
from tests.conftest import engine_for
from tests.factory import write_dataset
from tests.generated import data_engine, filter_cases, load_frames, ref_orders  # noqa: F401

MONTHLY_COLUMNS = ["month", "active_start", "retained", "retention"]
COHORT_COLUMNS = ["cohort", "months_since", "customers", "active", "retention"]


# ----- hand-made: monthly retention -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monthly_hand(tmp_path_factory):
    customers = [{"customer_id": i, "is_prime": i in (3, 4)} for i in range(1, 9)]
    orders = [
        {"customer_id": 1, "date": "2023-12-02", "net_revenue": 10},  # 89 days before 29 Feb: active then only
        {"customer_id": 2, "date": "2024-01-02", "net_revenue": 10},  # active 29 Feb and 31 Mar (89 days)
        {"customer_id": 3, "date": "2024-02-01", "net_revenue": 10},  # active Feb, Mar, Apr (30 Apr − 89 d)
        {"customer_id": 4, "date": "2024-04-10", "net_revenue": 10},  # active Apr and May
        {"customer_id": 5, "date": "2024-03-15", "net_revenue": 10, "is_returned": True},  # never active
        {"customer_id": 6, "date": "2024-01-15", "net_revenue": 10},  # active Feb, Mar; not Apr
        {"customer_id": 6, "date": "2024-05-20", "net_revenue": 10},  # ... and again at the end of May
        {"customer_id": 8, "date": "2024-02-20", "net_revenue": 10},  # active Feb, Mar, Apr; 15 May; not 31 May
    ]  # customer 7 is a prospect with no orders
    return engine_for(write_dataset(tmp_path_factory.mktemp("retention") / "data", customers, orders))


SPRING = Filters("2024-03-01", "2024-05-31")


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    return [(m.strftime("%Y-%m"), *rest) for m, *rest in frame.itertuples(index=False)]


def test_monthly_retention_by_hand(monthly_hand):
    got = monthly_retention(monthly_hand, SPRING)
    assert list(got.columns) == MONTHLY_COLUMNS
    # active at 29 Feb: 1, 2, 3, 6, 8; at 31 Mar: 2, 3, 6, 8; at 30 Apr: 3, 4, 8; at 31 May: 4, 6
    assert as_rows(got) == [("2024-03", 5, 4, 0.8), ("2024-04", 4, 2, 0.5), ("2024-05", 3, 1, pytest.approx(1 / 3))]


def test_the_as_of_month_ends_at_the_as_of_date(monthly_hand):
    got = monthly_retention(monthly_hand, Filters("2024-03-01", "2024-05-15"))
    # at 15 May (window 16 Feb - 15 May) 4 and 8 are active; 6's 20 May order is after the as-of date
    assert as_rows(got)[-1] == ("2024-05", 3, 2, pytest.approx(2 / 3))


def test_monthly_retention_with_filters_by_hand(monthly_hand):
    prime = monthly_retention(monthly_hand, Filters("2024-03-01", "2024-05-31", prime="Prime"))
    assert as_rows(prime) == [("2024-03", 1, 1, 1.0), ("2024-04", 1, 1, 1.0), ("2024-05", 2, 1, 0.5)]
    nobody = monthly_retention(monthly_hand, Filters("2024-03-01", "2024-05-31", countries=("Atlantis",)))
    assert as_rows(nobody) == [("2024-03", 0, 0, 0.0), ("2024-04", 0, 0, 0.0), ("2024-05", 0, 0, 0.0)]


def test_monthly_retention_by_segment_by_hand(monthly_hand):
    got = monthly_retention(monthly_hand, SPRING, scheme="prime")
    assert list(got.columns) == ["month", "segment", "active_start", "retained", "retention"]
    # labelled customers (a valid order in the range): 4 (Prime) and 6 (Non-Prime)
    assert as_rows(got) == [
        ("2024-03", "Prime", 0, 0, 0.0), ("2024-03", "Non-Prime", 1, 1, 1.0),
        ("2024-04", "Prime", 0, 0, 0.0), ("2024-04", "Non-Prime", 1, 0, 0.0),
        ("2024-05", "Prime", 1, 1, 1.0), ("2024-05", "Non-Prime", 0, 0, 0.0),
    ]


# ----- hand-made: cohorts ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cohort_hand(tmp_path_factory):
    customers = [{"customer_id": i} for i in range(11, 18)]
    orders = [
        {"customer_id": 11, "date": "2023-12-20", "net_revenue": 10},  # first order before the range
        {"customer_id": 11, "date": "2024-01-10", "net_revenue": 10},
        {"customer_id": 12, "date": "2024-01-05", "net_revenue": 10},  # January cohort, back in March
        {"customer_id": 12, "date": "2024-01-20", "net_revenue": 10},
        {"customer_id": 12, "date": "2024-03-02", "net_revenue": 10},
        {"customer_id": 13, "date": "2024-01-31", "net_revenue": 10},  # January cohort, back in February
        {"customer_id": 13, "date": "2024-02-01", "net_revenue": 10},
        {"customer_id": 14, "date": "2024-02-10", "net_revenue": 10, "is_returned": True},
        {"customer_id": 14, "date": "2024-02-15", "net_revenue": 10},  # February cohort (the valid order)
        {"customer_id": 15, "date": "2024-02-28", "net_revenue": 10, "is_cancelled": True},  # never a customer
        {"customer_id": 16, "date": "2024-03-31", "net_revenue": 10},  # March cohort, back on the as-of date
        {"customer_id": 16, "date": "2024-04-15", "net_revenue": 10},
        {"customer_id": 17, "date": "2024-04-16", "net_revenue": 10},  # after the as-of date
    ]
    return engine_for(write_dataset(tmp_path_factory.mktemp("cohorts") / "data", customers, orders))


def test_cohort_triangle_by_hand(cohort_hand):
    got = cohort_retention(cohort_hand, Filters("2024-01-01", "2024-04-15"))
    assert list(got.columns) == COHORT_COLUMNS
    assert as_rows(got) == [
        ("2024-01", 0, 2, 2, 1.0), ("2024-01", 1, 2, 1, 0.5), ("2024-01", 2, 2, 1, 0.5), ("2024-01", 3, 2, 0, 0.0),
        ("2024-02", 0, 1, 1, 1.0), ("2024-02", 1, 1, 0, 0.0), ("2024-02", 2, 1, 0, 0.0),
        ("2024-03", 0, 1, 1, 1.0), ("2024-03", 1, 1, 1, 1.0),
    ]


def test_cohorts_are_first_orders_ever_in_the_range(cohort_hand):
    got = cohort_retention(cohort_hand, Filters("2024-02-01", "2024-04-15"), max_months=1)
    # 13's first order (31 Jan) is before the range, so February holds only 14
    assert as_rows(got) == [("2024-02", 0, 1, 1, 1.0), ("2024-02", 1, 1, 0, 0.0),
                            ("2024-03", 0, 1, 1, 1.0), ("2024-03", 1, 1, 1, 1.0)]
    empty = cohort_retention(cohort_hand, Filters("2022-01-01", "2022-12-31"))
    assert empty.empty and list(empty.columns) == COHORT_COLUMNS


# ----- brute force on random and generated data -----------------------------------------------------------
def month_end(year: int, month: int, as_of: date) -> date:
    return min(date(year, month, calendar.monthrange(year, month)[1]), as_of)


def ref_monthly(frames: dict, filters: Filters, labels: pd.Series | None = None) -> pd.DataFrame:
    history = ref_orders(frames, filters, whole_history=True)
    if labels is not None:
        history = history[history.customer_id.isin(labels.index)]

    def active(day: date) -> set:
        e = pd.Timestamp(day)
        return set(history[(history.order_date <= e) & (history.order_date > e - pd.Timedelta(days=90))].customer_id)

    rows = []
    month = date(filters.start.year, filters.start.month, 1)
    while month <= filters.end:
        before = active(month - timedelta(days=1))
        now = active(month_end(month.year, month.month, filters.as_of))
        groups = {"All": before} if labels is None else {
            s: {c for c in before if labels[c] == s} for s in labels.unique()}
        for segment, base in groups.items():
            kept = len(base & now)
            rows.append({"month": pd.Timestamp(month), "segment": segment, "active_start": len(base),
                         "retained": kept, "retention": kept / len(base) if base else 0.0})
        month = (month + timedelta(days=32)).replace(day=1)
    return pd.DataFrame(rows)


def ref_cohorts(frames: dict, filters: Filters, max_months: int) -> pd.DataFrame:
    history = ref_orders(frames, filters, whole_history=True)
    history = history.assign(mi=history.order_date.dt.year * 12 + history.order_date.dt.month - 1)
    first = history.groupby("customer_id").agg(first=("order_date", "min"), cohort=("mi", "min"))
    first = first[first["first"] >= pd.Timestamp(filters.start)]
    end_mi = filters.end.year * 12 + filters.end.month - 1
    rows = []
    for cohort, members in first.groupby("cohort").groups.items():
        orders = history[history.customer_id.isin(members)]
        for k in range(min(max_months, end_mi - cohort) + 1):
            active = orders[orders.mi == cohort + k].customer_id.nunique()
            rows.append({"cohort": pd.Timestamp(cohort // 12, cohort % 12 + 1, 1), "months_since": k,
                         "customers": len(members), "active": active, "retention": active / len(members)})
    return pd.DataFrame(rows)


def test_monthly_retention_matches_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine):
        got = monthly_retention(data_engine, filters)
        expected = ref_monthly(frames, filters).drop(columns="segment")
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert got.retention.between(0, 1).all() and not got.isna().any().any()
    assert got.active_start.sum() > 0


def test_monthly_retention_by_segment_matches_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    filters = filter_cases(data_engine)[1]  # one year
    labels = data_engine.execute(customer_segments(data_engine, filters, "loyalty")).set_index("customer_id").segment
    got = monthly_retention(data_engine, filters, scheme="loyalty")
    expected = ref_monthly(frames, filters, labels)
    merged = got.merge(expected, on=["month", "segment"], how="left", suffixes=("", "_ref")).fillna(0)
    assert (merged.active_start == merged.active_start_ref).all() and (merged.retained == merged.retained_ref).all()
    assert np.allclose(merged.retention, merged.retention_ref) and got.retention.between(0, 1).all()


def test_cohorts_match_pandas(data_engine):  # noqa: F811
    frames = load_frames(data_engine)
    for filters in filter_cases(data_engine)[:3]:
        got = cohort_retention(data_engine, filters, max_months=12)
        expected = ref_cohorts(frames, filters, 12)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert (got[got.months_since == 0].retention == 1.0).all()
        assert got.retention.between(0, 1).all() and got.months_since.max() <= 12


def test_segment_filter_applies(data_engine):  # noqa: F811
    lo, hi = data_engine.date_bounds()
    everyone = Filters(lo, hi)
    top = everyone.with_focus("loyalty", "Top Tier")
    frames = load_frames(data_engine)
    members = set(data_engine.execute(customer_segments(data_engine, everyone, "loyalty")).query(
        "segment == 'Top Tier'").customer_id)
    frames = {**frames, "fact_orders": frames["fact_orders"][frames["fact_orders"].customer_id.isin(members)]}
    got = cohort_retention(data_engine, top, max_months=6)
    pd.testing.assert_frame_equal(got, ref_cohorts(frames, top, 6), check_dtype=False)
    assert monthly_retention(data_engine, top).active_start.sum() <= monthly_retention(
        data_engine, everyone).active_start.sum()
