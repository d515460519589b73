"""RFM scores and segmentation schemes: hand-checked ranks and ties, every label reachable, pandas parity."""

import itertools

import ibis
import numpy as np
import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.population import customer_mart, customer_segments
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.rules import SCHEMES
from metrics.segments.tables import segment_country_matrix, segment_summary, segment_summary_with_change
from tests.conftest import engine_for
from tests.factory import write_dataset

AS_OF = "2024-06-30"
RANGE = Filters("2024-01-01", AS_OF)


BASE_ROW = {"r_score": 3, "f_score": 3, "m_score": 3, "fm_score": 3, "recency_days": 10, "discount_share": 0.0,
            "is_prime": False, "annual_income": 50_000.0, "spending_score": 50}
CON = ibis.duckdb.connect()


def _labels(scheme: str, rows: list[dict]) -> list[str]:
    """The labels a scheme's rule gives customers with these mart columns and scores."""
    t = ibis.memtable(pd.DataFrame([{**BASE_ROW, **row} for row in rows]))
    return CON.execute(t.select(label=SCHEMES[scheme](t)))["label"].tolist()


def _label(scheme: str, **row) -> str:
    return _labels(scheme, [row])[0]


@pytest.mark.parametrize("scheme", ["loyalty", "rfm"])
def test_every_rfm_label_is_reachable(scheme):
    grid = [{"r_score": r, "f_score": f, "m_score": m, "fm_score": (f + m) // 2}
            for r, f, m in itertools.product(range(1, 6), repeat=3)]
    assert set(_labels(scheme, grid)) == set(SCHEME_LABELS[scheme])


@pytest.mark.parametrize("expected, scores", [
    ("Top Tier", (5, 1, 5)), ("Promising", (3, 1, 3)), ("Hibernating", (1, 2, 5)), ("At-Risk", (3, 5, 1)),
    ("At-Risk", (1, 5, 5)),
])
def test_loyalty_rules_by_hand(expected, scores):
    r, f, m = scores
    assert _label("loyalty", r_score=r, f_score=f, m_score=m, fm_score=(f + m) // 2) == expected


def test_behaviour_and_income_spending_labels_are_reachable():
    assert _label("behaviour", recency_days=181, discount_share=0.5) == "At-Risk / Dormant"
    assert _label("behaviour", recency_days=180, discount_share=0.2) == "Discount-Driven"
    assert _label("behaviour", recency_days=5, discount_share=0.19) == "High-Value Active"
    assert _label("prime", is_prime=True) == "Prime" and _label("prime") == "Non-Prime"


def _dataset(tmp_path, rows):
    """rows: (customer_id, [(date, revenue), ...], extra customer fields)."""
    customers = [{"customer_id": cid, **extra} for cid, _, extra in rows]
    orders = [{"customer_id": cid, "date": d, "net_revenue": rev} for cid, dated, _ in rows for d, rev in dated]
    return engine_for(write_dataset(tmp_path, customers, orders))


def test_rfm_scores_by_hand_with_ties(tmp_path):
    # Ten customers: recency ties between 1 & 2 and between 3 & 4, broken by customer_id (lower id ranks older).
    rows = [
        (1, [("2024-06-01", 10.0)], {}), (2, [("2024-06-01", 20.0)], {}),
        (3, [("2024-05-01", 30.0)], {}), (4, [("2024-05-01", 40.0)], {}),
        (5, [("2024-04-01", 50.0)], {}), (6, [("2024-03-01", 60.0)], {}),
        (7, [("2024-02-01", 70.0), ("2024-02-02", 5.0)], {}), (8, [("2024-01-10", 80.0)], {}),
        (9, [("2024-01-05", 90.0)], {}), (10, [("2024-01-02", 100.0)], {}),
    ]
    engine = _dataset(tmp_path, rows)
    scored = engine.execute(customer_mart(engine, RANGE)).set_index("customer_id").sort_index()
    # Recency order, oldest first: 10, 9, 8, 7, 6, 5, 3, 4, 1, 2 -> two per quintile.
    assert scored.r_score.to_dict() == {10: 1, 9: 1, 8: 2, 7: 2, 6: 3, 5: 3, 3: 4, 4: 4, 1: 5, 2: 5}
    # Frequency: everyone 1 order except customer 7; ties by id: 1..6, 8, 9, 10, then 7.
    assert scored.f_score.to_dict() == {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 8: 4, 9: 4, 10: 5, 7: 5}
    # Revenue 10..100 (customer 7 has 75): order 1,2,3,4,5,6,7,8,9,10.
    assert scored.m_score.to_dict() == {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 5, 10: 5}
    assert scored.loc[7, "rfm_cell"] == "254" and scored.loc[7, "fm_score"] == 4
    assert scored.loc[7, "segment_rfm"] == "At Risk"
    assert scored.loc[10, "segment_rfm"] == "Can't Lose Them"  # R 1, F 5, M 5
    # Customer 1: R 5, F 1, M 1 -> recent but low value -> At-Risk; customer 10: R 1, F 5, M 5 -> At-Risk too.
    assert scored.loc[1, "segment_loyalty"] == "At-Risk" and scored.loc[10, "segment_loyalty"] == "At-Risk"
    assert scored.loc[5, "segment_loyalty"] == "Promising"  # R 3, F 3, M 3
    assert scored.loc[3, "segment_rfm"] == "Potential Loyalist"  # R 4, FM (2+2)//2 = 2


def test_fewer_than_five_customers_take_the_first_scores(tmp_path):
    rows = [(1, [("2024-06-01", 10.0)], {}), (2, [("2024-05-01", 20.0)], {}), (3, [("2024-04-01", 30.0)], {})]
    engine = _dataset(tmp_path, rows)
    scored = engine.execute(customer_mart(engine, RANGE)).set_index("customer_id").sort_index()
    assert scored.r_score.tolist() == [3, 2, 1]  # most recent gets the highest score present
    assert scored.m_score.tolist() == [1, 2, 3]


def test_income_spending_split_at_medians(tmp_path):
    rows = [
        (1, [("2024-06-01", 10.0)], {"annual_income": 90_000.0, "spending_score": 90}),
        (2, [("2024-06-01", 10.0)], {"annual_income": 90_000.0, "spending_score": 10}),
        (3, [("2024-06-01", 10.0)], {"annual_income": 20_000.0, "spending_score": 90}),
        (4, [("2024-06-01", 10.0)], {"annual_income": 20_000.0, "spending_score": 10}),
    ]
    engine = _dataset(tmp_path, rows)
    labels = engine.execute(customer_segments(engine, RANGE, "income_spending")).set_index("customer_id").segment
    assert labels.to_dict() == {1: "VIP", 2: "Underperformers", 3: "Potential Growers", 4: "At Risk"}


def test_segment_summary_and_filter_by_segment(tmp_path):
    rows = [(1, [("2024-06-01", 10.0), ("2024-06-02", 30.0)], {"is_prime": True}),
            (2, [("2024-05-01", 20.0)], {}), (3, [("2023-05-01", 99.0)], {})]
    engine = _dataset(tmp_path, rows)
    prime = segment_summary(engine, RANGE, "prime").set_index("segment")
    assert prime.loc["Prime", ["customers", "orders", "revenue", "repeat_customers"]].tolist() == [1, 2, 40.0, 1]
    assert prime.loc["Prime", "aov"] == 20.0 and prime.loc["Non-Prime", "customer_share"] == 0.5
    only_prime = RANGE.with_focus("prime", "Prime")
    focused = segment_summary(engine, only_prime, "prime")
    assert focused.segment.tolist() == ["Prime"] and focused.customers.tolist() == [1]
    assert focused.customer_share.tolist() == [1.0]
    matrix = segment_country_matrix(engine, RANGE, "prime")
    assert matrix[["segment", "country", "customers", "revenue"]].values.tolist() == [
        ["Prime", "Germany", 1, 40.0], ["Non-Prime", "Germany", 1, 20.0]]


def test_empty_selection_has_every_label_with_zeros(tmp_path):
    engine = _dataset(tmp_path, [(1, [("2024-06-01", 10.0)], {})])
    empty = Filters("2024-01-01", AS_OF, countries=("Spain",))
    for scheme, labels in SCHEME_LABELS.items():
        summary = segment_summary(engine, empty, scheme)
        assert summary.segment.tolist() == list(labels) and summary.customers.sum() == 0
        assert summary.aov.eq(0).all()
    assert segment_country_matrix(engine, empty).empty
    assert list(segment_country_matrix(engine, empty).columns) == [
        "segment", "country", "customers", "orders", "revenue", "aov", "repeat_purchase_rate"]


def test_segment_sizes_with_change_by_hand(tmp_path):
    # June 2024 (30 days) vs the 30 days before it (2 - 31 May).
    rows = [(1, [("2024-06-01", 10.0), ("2024-06-02", 30.0)], {"is_prime": True}),
            (2, [("2024-05-10", 20.0)], {}),
            (3, [("2024-05-20", 5.0), ("2024-06-05", 7.0)], {}),
            (4, [("2024-05-01", 99.0)], {"is_prime": True})]  # 1 May: before the preceding range
    engine = _dataset(tmp_path, rows)
    june = Filters("2024-06-01", "2024-06-30")
    change = segment_summary_with_change(engine, june, "prime")
    assert list(change.columns) == ["segment", "customers", "customer_share", "previous_customers",
                                    "previous_customer_share", "delta", "delta_pct"]
    assert change.segment.tolist() == ["Prime", "Non-Prime"]
    prime, non_prime = change.iloc[0], change.iloc[1]
    assert (prime.customers, prime.previous_customers, prime.delta) == (1, 0, 1)
    assert prime.delta_pct is None  # no Prime customer before: no invented percentage
    assert (non_prime.customers, non_prime.previous_customers, non_prime.delta) == (1, 2, -1)
    assert non_prime.delta_pct == -0.5
    assert change.customer_share.tolist() == [0.5, 0.5] and change.previous_customer_share.tolist() == [0.0, 1.0]
    empty = segment_summary_with_change(engine, Filters("2024-06-01", "2024-06-30", countries=("Spain",)))
    assert empty.segment.tolist() == list(SCHEME_LABELS["loyalty"])
    assert empty.customers.sum() == empty.previous_customers.sum() == 0 and empty.delta_pct.isna().all()


def test_segment_sizes_with_change_on_generated_data(generated_engine, generated_dir):
    filters = Filters("2024-01-01", "2024-06-30", prime="Non-Prime")
    change = segment_summary_with_change(generated_engine, filters, "loyalty").set_index("segment")
    now = segment_summary(generated_engine, filters, "loyalty").set_index("segment")
    before = segment_summary(generated_engine, filters.previous(), "loyalty").set_index("segment")
    assert change.customers.tolist() == now.customers.tolist()
    assert change.previous_customers.tolist() == before.customers.tolist()
    assert change.delta_pct.astype(float).to_numpy() == pytest.approx(
        ((now.customers - before.customers) / before.customers).to_numpy())
    # the Prime split by pandas, independently of the engine
    orders = pd.read_parquet(generated_dir / "fact_orders")
    people = pd.read_parquet(generated_dir / "dim_customer")[["customer_id", "is_prime"]]
    valid = orders[~orders.is_returned & ~orders.is_cancelled].merge(people, on="customer_id")
    prime = segment_summary_with_change(generated_engine, Filters("2024-01-01", "2024-06-30"), "prime")

    def buyers(lo: int, hi: int) -> pd.Series:
        part = valid[valid.date_key.between(lo, hi)].drop_duplicates("customer_id")
        return part.is_prime.map({True: "Prime", False: "Non-Prime"}).value_counts()

    now_pd, before_pd = buyers(20240101, 20240630), buyers(20230703, 20231231)  # 182 days each
    assert prime.customers.tolist() == [now_pd["Prime"], now_pd["Non-Prime"]]
    assert prime.previous_customers.tolist() == [before_pd["Prime"], before_pd["Non-Prime"]]
    expected_pct = (now_pd - before_pd) / before_pd
    assert prime.delta_pct.tolist() == pytest.approx(expected_pct[["Prime", "Non-Prime"]].tolist())


# ----- independent pandas calculation on generated data -------------------------------------------------

def pandas_rfm(folder, start: str, end: str) -> pd.DataFrame:
    orders = pd.read_parquet(folder / "fact_orders")
    lo, hi = int(start.replace("-", "")), int(end.replace("-", ""))
    valid = orders[~orders.is_returned & ~orders.is_cancelled & orders.date_key.between(lo, hi)].copy()
    valid["day"] = valid.order_ts.dt.normalize()
    per = valid.groupby("customer_id").agg(orders=("order_id", "size"), revenue=("net_revenue", "sum"),
                                           last=("day", "max")).reset_index()
    per["recency_days"] = (pd.Timestamp(end) - per["last"]).dt.days

    def ntile(frame: pd.DataFrame, by: list[str], ascending: list[bool]) -> np.ndarray:
        order = frame.sort_values(by, ascending=ascending, kind="mergesort").index
        n = len(frame)
        ranks = np.empty(n, dtype=int)
        ranks[frame.index.get_indexer(order)] = np.arange(n)
        # SQL NTILE(5): the first n % 5 groups get one extra row.
        size, extra = divmod(n, 5)
        bounds = np.cumsum([size + (1 if i < extra else 0) for i in range(5)])
        return np.searchsorted(bounds, ranks, side="right") + 1

    per["r_score"] = ntile(per, ["recency_days", "customer_id"], [False, True])
    per["f_score"] = ntile(per, ["orders", "customer_id"], [True, True])
    per["m_score"] = ntile(per, ["revenue", "customer_id"], [True, True])
    return per.set_index("customer_id").sort_index()


def test_rfm_and_labels_match_pandas_on_generated_data(generated_engine, generated_dir):
    filters = Filters("2023-01-01", "2024-06-30")
    expected = pandas_rfm(generated_dir, "2023-01-01", "2024-06-30")
    got = generated_engine.execute(customer_mart(generated_engine, filters)).set_index("customer_id").sort_index()
    for column in ("r_score", "f_score", "m_score"):
        assert got[column].tolist() == expected[column].tolist(), column
    fm = (expected.f_score + expected.m_score) // 2
    top = (expected.r_score >= 4) & (expected.m_score >= 4)
    promising = ~top & (expected.r_score >= 3) & (expected.f_score <= 3) & (expected.m_score >= 3)
    hibernating = ~top & ~promising & (expected.r_score <= 2) & (expected.f_score <= 2)
    loyalty = np.select([top, promising, hibernating], ["Top Tier", "Promising", "Hibernating"], "At-Risk")
    assert got.segment_loyalty.tolist() == loyalty.tolist()
    from metrics.segments.rules import RFM_MAP
    rfm = [RFM_MAP[r][f - 1] for r, f in zip(expected.r_score, fm, strict=True)]
    assert got.segment_rfm.tolist() == rfm


def test_every_label_occurs_on_generated_data(generated_engine):
    filters = Filters("2021-01-01", "2024-12-31")
    for scheme, _labels in SCHEME_LABELS.items():
        summary = segment_summary(generated_engine, filters, scheme)
        assert (summary.customers > 0).all(), (scheme, summary[["segment", "customers"]].values.tolist())
        assert summary.customers.sum() == summary.customers.sum()
    totals = {s: segment_summary(generated_engine, filters, s).revenue.sum() for s in SCHEME_LABELS}
    assert len({round(v, 6) for v in totals.values()}) == 1  # every scheme partitions the same revenue
