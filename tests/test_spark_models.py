"""Models that scale: the BG/NBD and Gamma-Gamma fits use rows grouped in the engine (Spark here), and
give the same parameters as fits on one row per customer pulled from DuckDB.

The grouped input is what runs on a cluster: a few thousand (x, t_x, T) rows with customer counts
instead of millions of customers on the driver. Skipped without pyspark/Java.
"""

from __future__ import annotations

import numpy as np
import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.models.bgnbd import BGNBDModel
from metrics.models.gamma_gamma import GammaGammaModel
from metrics.models.inputs import btyd_groups, history_triples, repeat_spend_expr, spend_inputs, unit_days

pytest_plugins = ["tests.spark_support"]  # fixtures: spark_engine, duckdb_twin
pytestmark = pytest.mark.spark

REL = 1e-6


def _filters(engine: Engine) -> Filters:
    lo, hi = engine.date_bounds()
    return Filters(lo, hi)


@pytest.mark.parametrize("time_unit", ["week", "day"])
def test_bgnbd_on_spark_groups_equals_per_customer_fit(time_unit: str, spark_engine: Engine,
                                                       duckdb_twin: Engine) -> None:
    filters = _filters(duckdb_twin)
    groups = btyd_groups(spark_engine, filters, time_unit)
    customers = duckdb_twin.execute(history_triples(duckdb_twin, filters).order_by("customer_id"))  # one row each
    days = unit_days(time_unit)
    assert int(groups.customers.sum()) == len(customers)
    assert len(groups) < len(customers)  # the grouping really collapses rows

    grouped = BGNBDModel().fit(groups.frequency, groups.recency, groups["T"], weights=groups.customers)
    single = BGNBDModel().fit(customers.frequency, customers.span_days / days, customers.tenure_days / days)
    assert grouped.converged and single.converged
    np.testing.assert_allclose(grouped.params.as_array(), single.params.as_array(), rtol=REL)
    assert grouped.log_likelihood == pytest.approx(single.log_likelihood, rel=REL)


def test_gamma_gamma_on_spark_groups_equals_per_customer_fit(spark_engine: Engine, duckdb_twin: Engine) -> None:
    filters = _filters(duckdb_twin)
    inputs = spend_inputs(spark_engine, filters)
    assert not inputs.sampled
    g = inputs.groups
    buyers = duckdb_twin.execute(repeat_spend_expr(duckdb_twin, filters).order_by("customer_id"))
    buyers = buyers[buyers.monetary_value > 0]
    assert int(g.customers.sum()) == len(buyers) == inputs.repeat_buyers

    grouped = GammaGammaModel().fit(g.frequency, g.monetary_value, weights=g.customers)
    single = GammaGammaModel().fit(buyers.frequency, buyers.monetary_value)
    assert grouped.converged and single.converged
    got = np.array([grouped.params.p, grouped.params.q, grouped.params.v])
    want = np.array([single.params.p, single.params.q, single.params.v])
    np.testing.assert_allclose(got, want, rtol=REL)
