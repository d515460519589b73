"""The paths that keep pages fast at scale return what the direct definitions give.

- the stored mart is narrow (measures and scores), labels are computed for the schemes asked;
- repeat revenue picks the first order by (timestamp, order_id), ties included;
- the shared customer-month table gives the models' whole histories and the monthly views;
- the audience grid's preview is the head of the audience and its count;
- a repeated callback request is answered from the rendered responses, a new cache generation is not.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.mart import ATTRIBUTE_COLUMNS, stored_mart
from metrics.models.inputs import history_triples, repeat_spend
from metrics.population import customer_mart, customer_months, labelled_mart
from metrics.segments.tables import audience, audience_preview
from tests.app_support import app_over
from tests.conftest import engine_for
from tests.factory import write_dataset

CUSTOMERS = [{"customer_id": 1, "country": "Germany"}, {"customer_id": 2, "country": "France"}]
ORDERS = [
    # customer 1: two orders at the same instant (order_id breaks the tie), then a later day
    {"customer_id": 1, "order_ts": pd.Timestamp("2024-01-05 10:00"), "net_revenue": 10.0, "order_id": 11},
    {"customer_id": 1, "order_ts": pd.Timestamp("2024-01-05 10:00"), "net_revenue": 7.0, "order_id": 12},
    {"customer_id": 1, "order_ts": pd.Timestamp("2024-03-02 09:00"), "net_revenue": 5.5, "order_id": 13},
    # customer 2: one order before the range, two in it on one day
    {"customer_id": 2, "order_ts": pd.Timestamp("2023-11-20 12:00"), "net_revenue": 20.0, "order_id": 21},
    {"customer_id": 2, "order_ts": pd.Timestamp("2024-02-10 08:00"), "net_revenue": 3.0, "order_id": 22},
    {"customer_id": 2, "order_ts": pd.Timestamp("2024-02-10 18:00"), "net_revenue": 4.0, "order_id": 23},
]
RANGE = Filters("2024-01-01", "2024-03-31")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    return engine_for(write_dataset(tmp_path_factory.mktemp("scale"), CUSTOMERS, ORDERS))


def test_the_stored_mart_holds_measures_and_scores_only(engine):
    stored = stored_mart(engine, RANGE)
    assert not set(ATTRIBUTE_COLUMNS) & set(stored.columns)
    assert not [c for c in stored.columns if c.startswith("segment_")]
    assert {"r_score", "f_score", "m_score", "revenue", "repeat_revenue", "country", "is_prime"} <= set(stored.columns)
    only_loyalty = labelled_mart(engine, RANGE, ("loyalty",))
    assert [c for c in only_loyalty.columns if c.startswith("segment_")] == ["segment_loyalty"]


def test_repeat_revenue_follows_timestamp_then_order_id(engine):
    mart = engine.execute(customer_mart(engine, RANGE).order_by("customer_id")).set_index("customer_id")
    # customer 1: the first order is id 11 (10.00) by the tie-break, so 7.00 + 5.50 repeat
    assert mart.loc[1, "repeat_revenue"] == pytest.approx(12.5)
    assert mart.loc[2, "repeat_revenue"] == pytest.approx(4.0)  # the range's first order is 08:00


def test_whole_histories_and_months_come_from_one_table(engine):
    triples = engine.execute(history_triples(engine, RANGE)).set_index("customer_id")
    assert triples.loc[1, ["frequency", "span_days", "tenure_days"]].tolist() == [1, 57, 86]
    assert triples.loc[2, ["frequency", "span_days", "tenure_days"]].tolist() == [1, 82, 132]
    spend = engine.execute(repeat_spend(engine, RANGE)).set_index("customer_id")
    # Gamma-Gamma sees purchase days: customer 1's repeat day is 2 March (5.50), customer 2's 10 February (7.00)
    assert spend.monetary_value.to_dict() == {1: pytest.approx(5.5), 2: pytest.approx(7.0)}
    months = engine.execute(customer_months(engine, RANGE).order_by(["customer_id", "mi"]))
    assert months[["customer_id", "orders", "days"]].values.tolist() == [[1, 2, 1], [1, 1, 1], [2, 1, 1], [2, 2, 1]]
    assert months.repeat_revenue.tolist() == pytest.approx([7.0, 0.0, 0.0, 4.0])


def test_the_audience_preview_is_the_head_and_the_count(generated_engine):
    lo, hi = generated_engine.date_bounds()
    filters = Filters(lo, hi)
    whole = audience(generated_engine, filters, "loyalty", "At-Risk")
    part = audience_preview(generated_engine, filters, "loyalty", "At-Risk", 25)
    assert part["total"] == len(whole) > 25
    pd.testing.assert_frame_equal(part["rows"], whole.head(25))


def test_a_repeated_callback_is_answered_from_the_rendered_responses(generated_dir: Path):
    from service.replay import InProcessClient, data_pages, filter_request, learn_site, page_callbacks
    from service.responses import response_cache

    with app_over(generated_dir) as app:
        from components.state import engine as app_engine

        client = InProcessClient(app.server)
        site = learn_site(client, list(data_pages()))
        query = filter_request(client, site, "", None, "url.search")
        eng = app_engine()
        cache = response_cache(app.server)
        assert cache is not None
        def looked_up() -> int:  # results computed or read from the disk cache
            return eng.cache.misses + eng.cache.shared_hits

        page_callbacks(client, site, "/", query)
        before, hits = looked_up(), cache.hits
        page_callbacks(client, site, "/", query)  # the same requests again: nothing recomputed
        assert cache.hits > hits and looked_up() == before
        eng.cache.clear()  # a new generation of results: the responses are rebuilt
        hits = cache.hits
        page_callbacks(client, site, "/", query)
        assert cache.hits == hits and looked_up() > before
