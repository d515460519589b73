"""A segment focus narrows every view to the scope's customers holding the label; it never re-scores them.

For every scheme and label on generated data: every by-segment table of the focused scheme lists that
label only, and its rows are the scope's own rows for that label (same customers, same numbers); tables of
another scheme and the KPIs count the same customers; audience lists of other labels are empty.
"""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.filters import Filters
from metrics.measures.activity import monthly_active_customers
from metrics.measures.engagement import NO_ORDERS_LABEL, engagement_by_segment, prospects_summary
from metrics.measures.kpis import customer_kpis
from metrics.measures.retention import monthly_retention
from metrics.measures.trends import trend_by_segment
from metrics.models.churn import at_risk_rate, churn_by_segment, customer_action_table
from metrics.models.clv import clv_by_segment
from metrics.population import customer_mart_frame
from metrics.segments.labels import SCHEME_LABELS
from metrics.segments.tables import audience, segment_country_matrix, segment_summary, segment_summary_with_change

FOCUSES = [(scheme, label) for scheme, labels in SCHEME_LABELS.items() for label in labels]

#: The by-segment tables of a scheme, each as (engine, filters, scheme) -> frame with a ``segment`` column.
BY_SEGMENT = {
    "segment_summary": segment_summary,
    "segment_country_matrix": segment_country_matrix,
    "churn_by_segment": churn_by_segment,
    "clv_by_segment": clv_by_segment,
    "monthly_retention": monthly_retention,
    "engagement_by_segment": engagement_by_segment,
    "monthly_active_customers": monthly_active_customers,
}
#: Per-period views label each period at its own end (tests/test_seed_views.py follows a focus through them);
#: with a focus they count the focus's customers.
PER_PERIOD = {
    "trend_by_segment[customers]": lambda e, f, s: trend_by_segment(e, f, "customers", "month", s),
    "trend_by_segment[revenue]": lambda e, f, s: trend_by_segment(e, f, "revenue", "quarter", s),
}


@pytest.fixture(scope="module")
def scope(generated_engine) -> Filters:
    """The year 2024: a range with a previous period inside the data."""
    return Filters("2024-01-01", "2024-12-31")


#: Shares of the view's total: 100 % of a focused view, by design not the scope's share.
VIEW_SHARES = ["customer_share", "revenue_share"]


def _rows(frame: pd.DataFrame, label: str, name: str) -> pd.DataFrame:
    rows = frame[frame.segment == label].reset_index(drop=True)
    return rows.drop(columns=VIEW_SHARES) if name == "segment_summary" else rows


@pytest.mark.parametrize("scheme, label", FOCUSES)
def test_focus_lists_only_its_label_with_the_scope_count(generated_engine, scope, scheme, label):
    engine = generated_engine
    focus = scope.with_focus(scheme, label)
    expected = int(segment_summary(engine, scope, scheme).set_index("segment").customers[label])

    summary = segment_summary(engine, focus, scheme)
    assert summary.segment.tolist() == [label]
    assert summary.customers.tolist() == [expected]
    assert summary.customer_share.tolist() == ([1.0] if expected else [0.0])
    assert customer_kpis(engine, focus)["customers"] == expected
    assert len(customer_mart_frame(engine, focus)) == expected
    for other in SCHEME_LABELS:  # a table of another scheme counts the same customers
        assert segment_summary(engine, focus, other).customers.sum() == expected

    for name, table in BY_SEGMENT.items():
        got, everyone = table(engine, focus, scheme), table(engine, scope, scheme)
        assert set(got.segment) <= {label}, name
        assert NO_ORDERS_LABEL not in set(got.segment), name
        pd.testing.assert_frame_equal(_rows(got, label, name), _rows(everyone, label, name), check_dtype=False,
                                      obj=name)

    for name, table in PER_PERIOD.items():  # the last period ends at the scope's end: the scope's own labels
        got = table(engine, focus, scheme)
        last = got[got.period == got.period.max()]
        assert set(last[last.value != 0].segment) <= {label}, name

    members = audience(engine, focus, scheme, label)
    assert len(members) == expected
    assert set(members.customer_id) == set(audience(engine, scope, scheme, label).customer_id)
    for other in SCHEME_LABELS[scheme]:
        if other != label:
            assert audience(engine, focus, scheme, other).empty


def test_focus_scores_come_from_the_scope_model(generated_engine, scope):
    """Churn risk and the action list are the scope's: a focus keeps its customers' rows unchanged."""
    engine = generated_engine
    focus = scope.with_focus("loyalty", "At-Risk")
    everyone = customer_action_table(engine, scope, limit=10**6)
    got = customer_action_table(engine, focus, limit=10**6)
    assert not got.empty and set(got.segment) == {"At-Risk"}
    pd.testing.assert_frame_equal(got, everyone[everyone.segment == "At-Risk"].reset_index(drop=True))
    at_risk = churn_by_segment(engine, scope, "loyalty").set_index("segment").loc["At-Risk"]
    assert at_risk_rate(engine, focus) == pytest.approx(at_risk.at_risk_share)


def test_previous_period_of_a_focus_is_the_label_in_the_previous_scope(generated_engine, scope):
    engine = generated_engine
    got = segment_summary_with_change(engine, scope.with_focus("loyalty", "Top Tier"), "loyalty")
    before = segment_summary(engine, scope.previous(), "loyalty").set_index("segment")
    assert got.segment.tolist() == ["Top Tier"]
    assert got.previous_customers.tolist() == [before.customers["Top Tier"]]


def test_a_focus_leaves_no_prospects(generated_engine, scope):
    people = prospects_summary(generated_engine, scope.with_focus("loyalty", "Top Tier")).set_index("group")
    assert people.people["Prospects"] == 0
    assert people.people["Buyers"] == segment_summary(generated_engine, scope, "loyalty").set_index(
        "segment").customers["Top Tier"]


def test_selection_and_the_mart_see_only_the_scope(generated_engine, scope):
    """The mart of a focused state is the scope's own (one object), and so are the fitted models."""
    from metrics.mart import stored_mart
    from metrics.models.choice import fit_purchase_model
    from metrics.population import labelled_mart

    focus = scope.with_focus("rfm", "Champions")
    assert stored_mart(generated_engine, focus) is stored_mart(generated_engine, scope)
    assert labelled_mart(generated_engine, focus).equals(labelled_mart(generated_engine, scope))
    assert fit_purchase_model(generated_engine, focus) is fit_purchase_model(generated_engine, scope)
