"""Compiled query shapes (metrics/shapes.py): one compilation per shape, values bound, the same answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.mart import customer_mart_expr
from metrics.settings import Settings, load_settings
from metrics.shapes import shape_of
from tests.app_support import app_over

A = Filters(date(2024, 1, 1), date(2024, 6, 30))
B = Filters(date(2023, 3, 15), date(2024, 2, 10))
NARROW = Filters(date(2023, 1, 1), date(2023, 12, 31), "Prime", ("Germany", "United Kingdom"))


def test_states_with_other_values_have_one_shape_and_bind_their_values(generated_engine: Engine):
    a = shape_of(customer_mart_expr(generated_engine, A).op())
    b = shape_of(customer_mart_expr(generated_engine, B).op())
    assert a.key == b.key
    bound = {lit.value for i, lit in enumerate(b.literals) if i not in b.constant}
    assert {20230315, 20240210} <= bound
    narrow = shape_of(customer_mart_expr(generated_engine, NARROW).op())
    assert narrow.key != a.key  # a Prime choice and countries are another query
    assert {"Germany", "United Kingdom", True} <= {lit.value for lit in narrow.literals}


def test_what_sql_needs_as_a_constant_stays_in_the_shape():
    t = ibis.table({"x": "float64", "d": "date"}, name="t")
    two, three = shape_of(t.mutate(y=t.x.round(2)).op()), shape_of(t.mutate(y=t.x.round(3)).op())
    assert two.key != three.key  # a rounding precision is not a bound value
    lo, hi = shape_of(t.filter(t.x.between(1.0, 2.0)).op()), shape_of(t.filter(t.x.between(5.0, 7.5)).op())
    assert lo.key == hi.key
    # equal values share a slot, so a shape with two equal bounds is not one with two different bounds
    same = shape_of(t.filter(t.x.between(3.0, 3.0)).op())
    assert same.key != lo.key


def test_a_shape_compiles_once_and_answers_as_ibis_does(generated_engine: Engine, generated_dir: Path):
    plain = Engine(Settings(data_dir=str(generated_dir), query_shapes=False, cache_dir="off"))
    shaped = Engine(Settings(data_dir=str(generated_dir), cache_dir="off"))
    assert plain.shapes is None and shaped.shapes is not None
    for filters in (A, B, NARROW):
        expect = plain.execute(customer_mart_expr(plain, filters)).sort_values("customer_id", ignore_index=True)
        got = shaped.execute(customer_mart_expr(shaped, filters)).sort_values("customer_id", ignore_index=True)
        pd.testing.assert_frame_equal(got, expect)
        stored = shaped.materialize(customer_mart_expr(shaped, filters))  # CREATE TEMP TABLE from a shape
        pd.testing.assert_frame_equal(shaped.execute(stored).sort_values("customer_id", ignore_index=True), expect)
    assert shaped.shapes.hits >= 2  # B reused A's shape (the scope's buyer facts aside)


def test_query_shapes_setting():
    assert load_settings({}).query_shapes is True
    assert load_settings({"CUSTINTEL_QUERY_SHAPES": "off"}).query_shapes is False
    with pytest.raises(ValueError, match="on or off"):
        load_settings({"CUSTINTEL_QUERY_SHAPES": "maybe"})


def test_every_page_answers_the_same_with_and_without_shapes(generated_dir: Path):
    """All page callbacks of two states whose queries reuse shapes compiled for a third: the answers are
    those of fresh compilation (floats to 1e-9 relative)."""
    from components.state import engine as app_engine
    from service.replay import InProcessClient, Recording, data_pages, first_difference, learn_site, page_callbacks

    focus = "start=2023-01-01&end=2023-12-31&prime=Prime&country=Germany&country=United+Kingdom" \
            "&scheme=loyalty&segment=At-Risk"
    with app_over(generated_dir) as app:
        client = InProcessClient(app.server)
        site = learn_site(client, list(data_pages()))
        eng = app_engine()
        shapes = eng.shapes
        assert shapes is not None

        def answers(states: list[str]) -> list:
            eng.cache.clear()  # results and rendered responses computed afresh
            recording = Recording(client)
            for query in states:
                for page in data_pages():
                    page_callbacks(recording, site, page, query)
            return recording.answers

        answers([A.to_query()])  # compiles the shapes
        hits = shapes.hits
        with_shapes = answers([B.to_query(), focus])
        assert shapes.hits - hits > 50
        eng.shapes = None
        try:
            without = answers([B.to_query(), focus])
        finally:
            eng.shapes = shapes
    assert [kind for kind, _ in with_shapes] == [kind for kind, _ in without]
    assert client.failures == []
    differences = [f"{kind}: {found}" for (kind, a), (_, b) in zip(with_shapes, without, strict=True)
                   if (found := first_difference(a, b))]
    assert differences == []
